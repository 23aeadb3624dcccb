"""The performance-reporting interface's contracts (``performance-reporting-interface.txt``):
the PortfolioReturns and InstrumentReturns queries, their responses, and the portfolio master data
the document refers to (``PortfolioMasterData.performanceMeasurementStartDate``, line 171).

A query is what an integrator sends to ``GET /portfolio/returns`` or ``GET /instrument/returns``:
a dict (the query's parameters, values as a query string writes them, or as JSON values) or the
query string's text (``"portfolioId=E0002&startDate=2011-04-01&endDate=2019-03-31"``, optionally
led by the path and ``?``, as in the document's example calls, lines 153 and 269). JSON text
(``{...}``) is read as JSON. :func:`read_query` reads either and raises one
:class:`~toolkit.errors.ValidationError` naming every problem by parameter
(``instrumentIds[2]``).

Decisions where the document is vague, taken as its most demanding integrator would:

- **Flags** (``includeDailyReturns``, ``includeBenchmark``; default false, lines 130-143) are JSON
  booleans or, as a query string writes them, the texts ``"true"`` / ``"false"`` (lower case, as
  OpenAPI serialises a boolean); ``"yes"``, ``"1"``, ``"True"`` are refused.
- **instrumentIds** is a ``string[]`` (line 257) that the example writes comma-separated
  (``FTSEEUR,SWIIT,SF0003M``, line 269): a JSON list, a comma-separated text, or the parameter
  repeated in a query string; at least one id, at most :data:`MOST_INSTRUMENTS`, none repeated,
  none empty (``"A,,B"`` is refused at ``instrumentIds[1]``).
- **Ids** (``portfolioId``, ``customBenchmarkId``, instrument ids) are the data source's ids as
  the document writes them (``E0002``, ``FTSEEUR``): 1 to 64 printable characters without spaces,
  commas or markup. ``portfolioId`` is not a workspace UUID: it is the reference a portfolio's
  master data carry (:class:`PortfolioMasterData`); the façade resolves it.
- **The period**: ``startDate`` and ``endDate`` are ISO dates (BOD and EOD, line 41),
  ``startDate <= endDate``, neither in the future (line 64: "a period reaching into the future ...
  no valid response"); the checks that need the data (measurement start, latest data) are the
  façade's.
- ``customBenchmarkId`` (line 145) measures the portfolio "against another benchmark": it needs
  ``includeBenchmark`` true, else the request is refused at ``customBenchmarkId`` (a benchmark
  asked for and silently not delivered would pass unnoticed).

The document shows no response (its "Schema" and "Example" headings are empty); the response
models are the toolkit's: monthly and yearly buckets (calendar ultimo, line 58), optional daily
entries, index values from ``indexStart`` (100 at BOD of ``startDate``), gross / net / benchmark
return types (lines 43-50); every rule is in :mod:`toolkit.reporting.returns`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, ClassVar, TypeVar
from urllib.parse import parse_qsl, urlsplit

import pydantic
from pydantic import BeforeValidator, Field, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from toolkit.contracts.base import Contract, DecimalValue, IsoDate, payload_of, problems_of
from toolkit.errors import Problem, Problems, ValidationError
from toolkit.validation import date_or_none, not_future, shown

#: the most instruments one InstrumentReturns query may name
MOST_INSTRUMENTS = 1000
#: the longest id the interface takes
LONGEST_ID = 64
#: the index value at BOD of ``startDate`` in every response
INDEX_START = 100.0


# --- field types ------------------------------------------------------------------------------

def id_problem(value: object) -> str | None:
    """Why ``value`` is not an id of the interface (None if it is one)."""
    if not isinstance(value, str):
        return f"expected an id as a string, got {type(value).__name__}"
    if not value:
        return "is empty; give an id such as \"E0002\""
    if len(value) > LONGEST_ID:
        return f"is {len(value)} characters long; an id has at most {LONGEST_ID}"
    if any(c.isspace() for c in value) or "," in value:
        return f"{shown(value)} holds a space or a comma; an id has neither"
    if not value.isprintable() or "<" in value or ">" in value:
        return f"{shown(value)} holds control characters or markup (< >)"
    return None


def _id(value: object) -> str:
    message = id_problem(value)
    if message:
        raise PydanticCustomError("toolkit", "{message}", {"message": message})
    return value  # type: ignore[return-value]


def _flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise PydanticCustomError("toolkit", "{message}", {"message": f"{shown(value)} is not true or false"})


def _ids(value: object) -> list[Any] | tuple[Any, ...]:
    """A comma-separated text (or a list of them, a repeated query parameter) as a list of ids."""
    if isinstance(value, str):
        return value.split(",") if value else []
    if isinstance(value, list | tuple):
        if all(isinstance(v, str) for v in value) and any("," in v for v in value):
            return [part for v in value for part in v.split(",")]
        return value
    raise PydanticCustomError("toolkit", "{message}", {"message": f"expected a list of instrument ids or their "
                                                                  f"comma-separated text, got {type(value).__name__}"})


def _finite(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PydanticCustomError("toolkit", "{message}", {"message": f"{shown(value)} is not a finite number"})
    return float(value)


#: an id as the data source writes it (``E0002``, ``FTSEEUR``, ``AAPL_XNGS``)
SourceId = Annotated[str, BeforeValidator(_id)]
#: a JSON boolean, or ``"true"`` / ``"false"`` as a query string writes it
QueryFlag = Annotated[bool, BeforeValidator(_flag)]
#: a finite JSON number (a return as a fraction, an index value)
Figure = Annotated[float, BeforeValidator(_finite)]


def _location(path: str) -> tuple[int | str, ...]:
    """A problem's path as a pydantic location: ``instrumentIds[2]`` -> ``("instrumentIds", 2)``."""
    return tuple(int(part) if part.isdigit() else part for part in path.replace("[", ".").replace("]", "").split("."))


def _refuse(title: str, problems: Iterable[Problem], data: object) -> None:
    """Raise ``problems`` as pydantic errors at their paths (cross-field rules of a model)."""
    errors = [InitErrorDetails(type=PydanticCustomError("toolkit", "{message}", {"message": p.message}),
                               loc=_location(p.path), input=data) for p in problems]
    if errors:
        raise pydantic.ValidationError.from_exception_data(title, errors)


class _Query(Contract):
    """A GET query of the interface: field rules, then the period rules on the raw values (so that a
    bad date and a bad flag are reported in one answer)."""

    #: the document's path of the query (its example calls)
    path: ClassVar[str] = ""
    #: parameters that may repeat in a query string
    lists: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="wrap")
    @classmethod
    def _rules(cls, data: Any, handler: Any) -> Any:
        found: list[Problem] = []
        model = None
        try:
            model = handler(data)
        except pydantic.ValidationError as error:
            found = problems_of(error)
        if isinstance(data, dict):
            taken = {p.path for p in found}
            found += [p for p in cls._cross(data) if p.path not in taken]
        if found:
            _refuse(cls.__name__, found, data)
        return model

    @classmethod
    def _cross(cls, data: dict) -> list[Problem]:
        """The period rules: ISO dates in order, none in the future."""
        problems = Problems()
        start, end = (date_or_none(data.get(key)) for key in ("startDate", "endDate"))
        not_future(start, "startDate", problems)
        not_future(end, "endDate", problems)
        if start and end and start > end:
            problems.add("startDate", f"{start} is after endDate {end}; the period runs from startDate (BOD) "
                                      "to endDate (EOD)")
        return problems.items


class PortfolioReturnsQuery(_Query):
    """``GET /portfolio/returns`` (performance-reporting-interface.txt, lines 108-153): the returns of
    one portfolio (or consolidation) for a period.

    ``portfolioId`` is the portfolio's id in the data source (``E0002``): the reference its master
    data carry, or the workspace's id of the portfolio account. ``customBenchmarkId`` needs
    ``includeBenchmark`` true.
    """

    path: ClassVar[str] = "/portfolio/returns"

    portfolio_id: SourceId = Field(alias="portfolioId")
    start_date: IsoDate = Field(alias="startDate")
    end_date: IsoDate = Field(alias="endDate")
    include_daily_returns: QueryFlag = Field(False, alias="includeDailyReturns")
    include_benchmark: QueryFlag = Field(False, alias="includeBenchmark")
    custom_benchmark_id: SourceId | None = Field(None, alias="customBenchmarkId")

    @classmethod
    def _cross(cls, data: dict) -> list[Problem]:
        found = super()._cross(data)
        if data.get("customBenchmarkId") is not None and data.get("includeBenchmark") not in (True, "true"):
            found.append(Problem("customBenchmarkId", "is given but includeBenchmark is not true; set "
                                                      "includeBenchmark to true or drop customBenchmarkId"))
        return found


class InstrumentReturnsQuery(_Query):
    """``GET /instrument/returns`` (performance-reporting-interface.txt, lines 225-269): the returns of
    instruments for a period, one block each, in the order asked.

    ``instrumentIds``: a list, or the comma-separated text of the example call
    (``FTSEEUR,SWIIT,SF0003M``); each id once. ``startDate`` and ``endDate`` carry no asterisk in
    the document but a period without them is no period: both are required.
    """

    path: ClassVar[str] = "/instrument/returns"
    lists: ClassVar[frozenset[str]] = frozenset({"instrumentIds"})

    instrument_ids: Annotated[tuple[SourceId, ...], BeforeValidator(_ids)] = Field(alias="instrumentIds")
    start_date: IsoDate = Field(alias="startDate")
    end_date: IsoDate = Field(alias="endDate")
    include_daily_returns: QueryFlag = Field(False, alias="includeDailyReturns")

    @classmethod
    def _cross(cls, data: dict) -> list[Problem]:
        found = super()._cross(data)
        ids = data.get("instrumentIds")
        ids = _ids(ids) if isinstance(ids, str | list | tuple) else None
        if ids is not None and not ids:
            found.append(Problem("instrumentIds", "is empty; name at least one instrument"))
        elif ids is not None and len(ids) > MOST_INSTRUMENTS:
            found.append(Problem("instrumentIds", f"names {len(ids)} instruments; ask for at most "
                                                  f"{MOST_INSTRUMENTS} in one query"))
        elif ids is not None:
            first: dict[str, int] = {}
            for i, iid in enumerate(ids):
                if isinstance(iid, str) and iid in first:
                    found.append(Problem(f"instrumentIds[{i}]", f"{iid!r} repeats instrumentIds[{first[iid]}]"))
                if isinstance(iid, str):
                    first.setdefault(iid, i)
        return found


def query_of(text: str, model: type[_Query], what: str = "query") -> dict[str, object]:
    """A query string's parameters (``a=1&b=2``, optionally led by the path and ``?``) as a dict of
    strings; a parameter given twice is a list where the model takes a list, a problem otherwise."""
    problems = Problems()
    split = urlsplit(text.strip())
    path, query = (split.path, split.query) if "?" in text else ("", text.strip())
    if path and model.path and path.rstrip("/") != model.path:
        problems.add("", f"{path!r} is not the path of this query; it is {model.path}")
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
    except ValueError as exc:
        problems.add("", f"not a query string ({exc}); write it as name=value&name=value")
        pairs = []
    out: dict[str, object] = {}
    for key, value in pairs:
        if key not in out:
            out[key] = value
        elif key in model.lists:
            given = out[key]
            out[key] = [*(given if isinstance(given, list) else [given]), value]
        else:
            problems.add(key, f"is given more than once ({shown(out[key])}, {shown(value)}); give it once")
    problems.raise_if_any(what)
    return out


Q = TypeVar("Q", bound=_Query)


def read_query(model: type[Q], request: object, what: str | None = None) -> Q:
    """``request`` as ``model``: a model, a dict, JSON text or a query string; one
    :class:`ValidationError` names every problem by parameter."""
    what = what or f"{model.__name__.removesuffix('Query')} request"
    if isinstance(request, model):
        return request
    if isinstance(request, bytes | bytearray) or (isinstance(request, str) and request.lstrip().startswith("{")):
        request = payload_of(request, what)
    elif isinstance(request, str):
        request = query_of(request, model, what)
    if not isinstance(request, dict):
        raise ValidationError([Problem("", f"expected the query's parameters (an object or a query string), "
                                           f"got {type(request).__name__}")], what)
    try:
        return model.model_validate(request)
    except pydantic.ValidationError as exc:
        raise ValidationError(problems_of(exc), what) from None


# --- master data ------------------------------------------------------------------------------

class PortfolioMasterData(Contract):
    """A reported portfolio's master data (the document's ``PortfolioMasterData``, lines 171 and 173).

    ``performanceMeasurementStartDate``: the first day performance is measured (BOD); no query may
    start before it. ``dailyPerformanceStartDate``: daily returns are reported from this day on, for
    whole months (line 173: "all and only the months buckets beginning with the month of ...
    dailyPerformanceStartDate"), so it is the first day of a month, or the measurement start itself.
    Neither may be in the future. The toolkit adds ``portfolioId`` (the data source's id the queries
    name, unique in a workspace), ``benchmarkId`` (the default benchmark) and ``annualFee`` (the
    portfolio-level fee that makes net out of gross, line 47; a yearly rate, 0.0075 = 0.75 %).
    """

    portfolio_id: SourceId | None = Field(None, alias="portfolioId")
    performance_measurement_start_date: IsoDate = Field(alias="performanceMeasurementStartDate")
    daily_performance_start_date: IsoDate = Field(alias="dailyPerformanceStartDate")
    benchmark_id: SourceId | None = Field(None, alias="benchmarkId")
    annual_fee: DecimalValue = Field(Decimal("0"), alias="annualFee")

    @model_validator(mode="after")
    def _dates(self) -> PortfolioMasterData:
        problems = Problems()
        check_master_dates(self.performance_measurement_start_date, self.daily_performance_start_date, problems)
        for path, day in (("performanceMeasurementStartDate", self.performance_measurement_start_date),
                          ("dailyPerformanceStartDate", self.daily_performance_start_date)):
            not_future(day, path, problems)
        if not 0 <= self.annual_fee < 1:
            problems.add("annualFee", f"{self.annual_fee} is not a yearly rate from 0 up to 1 (0.0075 is 0.75 % "
                                      "a year)")
        _refuse(type(self).__name__, problems.items, self.model_dump(by_alias=True))
        return self


def check_master_dates(inception: date, daily: date, problems: Problems, prefix: str = "") -> None:
    """``dailyPerformanceStartDate`` is not before the measurement start and is the first day of a
    month or the measurement start itself (line 173)."""
    if daily < inception:
        problems.add(f"{prefix}dailyPerformanceStartDate",
                     f"{daily} is before performanceMeasurementStartDate {inception}")
    elif daily != inception and daily.day != 1:
        problems.add(f"{prefix}dailyPerformanceStartDate",
                     f"{daily} is neither the first day of a month nor performanceMeasurementStartDate")


# --- responses --------------------------------------------------------------------------------

class _Answer(Contract):
    """A response: optional parts the query did not ask for (benchmark, days) are left out, not null."""

    def to_dict(self) -> dict:
        """The response's JSON shape (absent parts left out)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class _Year(_Answer):
    year: int = Field(ge=1900, le=2199)


class _Month(_Answer):
    month: str = Field(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")


class _Span(_Answer):
    """A year or month entry's span: the part of the calendar period inside the requested period, from
    ``startDate`` (BOD) to ``date`` (EOD: the calendar ultimo, or ``endDate`` in the last one)."""

    start_date: IsoDate = Field(alias="startDate")
    end: IsoDate = Field(alias="date")
    complete: bool


class _Day(_Answer):
    end: IsoDate = Field(alias="date")


class _PortfolioFigures(_Answer):
    """Gross and net (always) and benchmark (with ``includeBenchmark``) return and index values."""

    gross_return: Figure = Field(alias="grossReturn")
    gross_index: Figure = Field(alias="grossIndex")
    net_return: Figure = Field(alias="netReturn")
    net_index: Figure = Field(alias="netIndex")
    bm_return: Figure | None = Field(None, alias="bmReturn")
    bm_index: Figure | None = Field(None, alias="bmIndex")


class _InstrumentFigures(_Answer):
    return_: Figure = Field(alias="return")
    index: Figure


# pydantic orders a model's fields from its last base to its first: label, span, then the figures


class PortfolioYear(_PortfolioFigures, _Span, _Year):
    """One year of a PortfolioReturns response."""


class PortfolioMonth(_PortfolioFigures, _Span, _Month):
    """One month of a PortfolioReturns response."""


class PortfolioDay(_PortfolioFigures, _Day):
    """One trading day of a PortfolioReturns response (``includeDailyReturns``)."""


class InstrumentYear(_InstrumentFigures, _Span, _Year):
    """One year of an instrument's block."""


class InstrumentMonth(_InstrumentFigures, _Span, _Month):
    """One month of an instrument's block."""


class InstrumentDay(_InstrumentFigures, _Day):
    """One trading day of an instrument's block (``includeDailyReturns``)."""


#: the lists of a response, finest last
LISTS = ("years", "months", "days")


def _frame(entries: list[_Answer], exclude: set[str]) -> Any:
    """Entries as a pandas table indexed by their ``date`` (EOD), in the response's keys."""
    import pandas as pd

    rows = [e.to_dict() for e in entries]
    frame = pd.DataFrame([{k: v for k, v in r.items() if k not in exclude} for r in rows])
    if frame.empty:
        return frame
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame.pop("date")), name="time")
    return frame


def _pick(name: str) -> str:
    if name not in LISTS:
        raise ValidationError([Problem("frequency", f"{shown(name)} is not one of {', '.join(LISTS)}")], "table")
    return name


class PortfolioReturnsResponse(_Answer):
    """The answer to a PortfolioReturns query (the toolkit's shape: the document shows none).

    ``indexStart`` (and ``bmIndexStart`` with the benchmark) is 100 at BOD of ``startDate``; each
    entry's index is at EOD of its ``date``. Returns are simple returns as fractions, linked
    geometrically. ``days`` only with ``includeDailyReturns``; ``benchmarkId``, ``bmIndexStart``,
    ``bmReturn`` and ``bmIndex`` only with ``includeBenchmark``.
    """

    portfolio_id: SourceId = Field(alias="portfolioId")
    start_date: IsoDate = Field(alias="startDate")
    end_date: IsoDate = Field(alias="endDate")
    performance_measurement_start_date: IsoDate = Field(alias="performanceMeasurementStartDate")
    daily_performance_start_date: IsoDate = Field(alias="dailyPerformanceStartDate")
    index_start: Figure = Field(alias="indexStart")
    benchmark_id: SourceId | None = Field(None, alias="benchmarkId")
    bm_index_start: Figure | None = Field(None, alias="bmIndexStart")
    years: list[PortfolioYear]
    months: list[PortfolioMonth]
    days: list[PortfolioDay] | None = None

    def to_pandas(self, frequency: str = "months") -> Any:
        """One list (``years``, ``months`` or ``days``) as a ``pandas.DataFrame`` indexed by ``time``
        (the entry's EOD date), with the response's keys as columns."""
        return _frame(getattr(self, _pick(frequency)) or [], set())

    def to_xarray(self, frequency: str = "months") -> Any:
        """One list as an ``xr.Dataset`` over ``time``: ``grossReturn``, ``grossIndex``, ``netReturn``,
        ``netIndex`` (and ``bmReturn``, ``bmIndex``), with ``portfolioId`` in its attributes."""
        import xarray as xr

        frame = self.to_pandas(frequency).drop(columns=["year", "month", "startDate", "complete"], errors="ignore")
        data = xr.Dataset.from_dataframe(frame)
        data.attrs = {"portfolioId": self.portfolio_id, "startDate": self.start_date.isoformat(),
                      "endDate": self.end_date.isoformat(), **({"benchmarkId": self.benchmark_id}
                                                               if self.benchmark_id else {})}
        return data


class InstrumentBlock(_Answer):
    """One instrument of an InstrumentReturns response, under the id the query named it by."""

    instrument_id: SourceId = Field(alias="instrumentId")
    performance_measurement_start_date: IsoDate = Field(alias="performanceMeasurementStartDate")
    daily_performance_start_date: IsoDate = Field(alias="dailyPerformanceStartDate")
    index_start: Figure = Field(alias="indexStart")
    years: list[InstrumentYear]
    months: list[InstrumentMonth]
    days: list[InstrumentDay] | None = None


class InstrumentReturnsResponse(_Answer):
    """The answer to an InstrumentReturns query: one block per instrument, in the order asked."""

    start_date: IsoDate = Field(alias="startDate")
    end_date: IsoDate = Field(alias="endDate")
    instruments: list[InstrumentBlock]

    def to_pandas(self, frequency: str = "months", figure: str = "return") -> Any:
        """One list as a table of ``figure`` (``return`` or ``index``): rows ``time``, a column per
        instrument."""
        import pandas as pd

        if figure not in ("return", "index"):
            raise ValidationError([Problem("figure", f"{shown(figure)} is not one of return, index")], "table")
        columns = {b.instrument_id: _frame(getattr(b, _pick(frequency)) or [], set()).get(figure)
                   for b in self.instruments}
        return pd.DataFrame({k: v for k, v in columns.items() if v is not None}).rename_axis("time")

    def to_xarray(self, frequency: str = "months") -> Any:
        """One list as an ``xr.Dataset`` over ``(instrument, time)`` with ``return`` and ``index``."""
        import xarray as xr

        parts = {figure: xr.DataArray(self.to_pandas(frequency, figure), dims=("time", "instrument")).transpose()
                 for figure in ("return", "index")}
        return xr.Dataset(parts, attrs={"startDate": self.start_date.isoformat(),
                                        "endDate": self.end_date.isoformat()})
