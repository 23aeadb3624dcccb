"""The risk platform's data endpoints (``risk-platform-api.txt`` lines 1-188): the user (GET /user),
the pricing data providers (GET /api), the history cache (GET and PUT /history), instrument search
(GET /history/instrument) and coverage (POST /history/coverage).

**PUT /history** (lines 70-105)::

    {"instrument": {"instrument_code": "AAPL_XNGS", "asset_type": "Common Stock", "currency": "USD",
                    "name": "Apple Inc", "identifiers": {"symbol": "AAPL", "isin": "US0378331005",
                                                         "figi": "BBG000B9Y5X2"},
                    "exchange": {"mic_code": "XNGS"}, "classification": {...}, "margin_data": {...}},
     "timeframe_id": 1,
     "history": [{"datetime": "2023-10-27T11:20:17Z", "open": 100, "high": 120.1, "low": 99.2,
                  "close": 111.1, "volume": 231654}]}

Decisions where the document is vague, as its most demanding user would take them:

- ``close`` is required on every bar; ``open``, ``high``, ``low`` and ``volume`` are optional, but a
  column given on one bar is given on every bar. Prices are JSON numbers > 0, finite; volume >= 0
  (text, even ``"12.5"``, is refused: the document's example sends numbers). Bars are sorted by
  ``datetime``, without duplicates; ``high`` is not below the open or the close, ``low`` not above;
  a bar later than now (UTC) has not happened and is refused.
- A daily or weekly bar names its day: the example's daily bar carries a time of day
  (``2023-10-27T11:20:17Z``), so the time is accepted and the bar is stored under its UTC date; two
  bars on one day are duplicates.
- The instrument is the equity/generic object (``instrument_equity``, ``instrument_generic``); the
  fixed-income and derivative objects' own fields (coupons, underlyings) are not modelled and are
  refused as unknown fields. ``instrument_code`` and ``currency`` are required; where the code is
  ``SYMBOL_MIC``, ``exchange.mic_code`` and ``identifiers.symbol``, if given, must agree with it.

Every problem is named by its field path in one :class:`toolkit.errors.ValidationError`
(``instrument.identifiers.isin``, ``history[3].high``); bar problems of one kind are named for the
first five rows, then counted in one more problem.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
import pydantic
from pydantic import BeforeValidator, Field

from toolkit.contracts.base import (
    Contract,
    IsoDate,
    Name,
    payload_of,
    problems_of,
    strict,
)
from toolkit.contracts.codes import Currency
from toolkit.contracts.risk.common import (
    SEPARATOR,
    AssetClass,
    Classification,
    Exchange,
    FeeData,
    Identifiers,
    InstrumentCode,
    Isin,
    MarginData,
    Mic,
    Moment,
    QueryApiId,
    QueryTimeframeId,
    Symbol,
    TimeframeId,
    read_moment,
    read_query_int,
    rfc3339,
)
from toolkit.errors import Problem, Problems, ValidationError
from toolkit.schema import OHLCV, TIME, Timeframe
from toolkit.validation import YEARS, shown

#: the fields of a bar (line 97-104)
BAR_FIELDS = ("datetime", *OHLCV)
#: how many row problems of one kind are named before the rest are counted
MAX_ROWS = 5
WHAT = "history upload"
#: the most matches one instrument search answers
MAX_MATCHES = 1000
#: a search's ``limit``: 1 to :data:`MAX_MATCHES`, from a query string or a body
QueryLimit = Annotated[int, BeforeValidator(strict(read_query_int, low=1, high=MAX_MATCHES))]


# =========================================================================== GET /user, GET /api


class Subscription(Contract):
    """One subscription of GET /user (lines 7-12). In the toolkit: one data provider of the workspace,
    its history's first and last day as the period, and no credits (nothing is metered)."""

    paidCredits: int
    period_start: IsoDate | None
    period_end: IsoDate | None
    product_name: str
    apiid: int
    instruments: int
    n_records: int


class UserStatus(Contract):
    """GET /user (lines 1-16), as a workspace answers it: ``name`` is the workspace's, ``userid`` the
    User Feed's ``apiid`` (the seed's example has both 91), ``email`` and ``organisation`` are empty
    (a workspace has no account), the credits are 0 (a local workspace meters nothing), and the
    subscriptions are its data providers. Added: ``path``, ``instruments``, ``price_records``."""

    name: str
    userid: int
    email: str
    organisation: str
    credits_consumed: int
    subscriptions: list[Subscription]
    credits_remaining: int
    credits_total: int
    path: str
    instruments: int
    price_records: int


class Provider(Contract):
    """One pricing data provider of GET /api (lines 106-115): ``apiid`` and ``api_name``; added: the
    ``sources`` (packages) its series come from, how many ``instruments`` it has, and their daily
    history's first and last day."""

    apiid: int
    api_name: str
    sources: list[str] = Field(default_factory=list)
    instruments: int = 0
    history_start: IsoDate | None = None
    history_end: IsoDate | None = None


# =========================================================================== the instrument object


class ClassificationInfo(Contract):
    """``classification`` as answered: a text the workspace does not know is ``""`` (as the document
    writes an empty ``description``)."""

    sector: str
    industry: str
    primary_country: str


class IdentifiersInfo(Contract):
    """``identifiers`` as answered (``""`` for a FIGI the workspace does not know)."""

    symbol: str
    isin: str
    figi: str


class InstrumentInfo(Contract):
    """The instrument object of the answers (lines 23-49, 122-150, 172-200), with the seed's keys;
    added: ``instrument_id`` (the workspace's id of the series), ``source``, ``tradable``, and the
    daily history's ``history_start``, ``history_end`` and ``n_records``. ``primary_country`` is the
    country's name and ``exchange.country_iso`` its ISO 3166 alpha-2 code, as the document's GET /history
    and GET /history/instrument examples write them (its coverage example writes ``USA`` for both)."""

    classification: ClassificationInfo
    name: str
    print_name: str
    currency: str
    margin_data: MarginData
    fee_data: FeeData
    exchange: Exchange | None
    apiid: int | None
    identifiers: IdentifiersInfo
    asset_type: str
    asset_class: str
    instrument_code: str
    instrument_id: str
    source: str
    tradable: bool
    history_start: str | None = None
    history_end: str | None = None
    n_records: int = 0


class InstrumentUpload(Contract):
    """The ``instrument`` of PUT /history (lines 79-97): see the module docstring."""

    instrument_code: InstrumentCode
    currency: Currency
    name: Name | None = None
    print_name: Name | None = None
    asset_type: Name | None = None
    asset_class: AssetClass | None = None
    identifiers: Identifiers | None = None
    exchange: Exchange | None = None
    classification: Classification | None = None
    margin_data: MarginData | None = None
    fee_data: FeeData | None = None

    def problems(self, path: str = "instrument") -> list[Problem]:
        """Where the code is ``SYMBOL_MIC``: ``exchange.mic_code`` and ``identifiers.symbol``, when given,
        agree with it."""
        symbol, mic = split_code(self.instrument_code)
        found = []
        if mic and self.exchange is not None and self.exchange.mic_code != mic:
            found.append(Problem(f"{path}.exchange.mic_code", f"{self.exchange.mic_code!r} is not the MIC of the "
                                                              f"instrument_code {self.instrument_code!r} ({mic})"))
        given = self.identifiers.symbol if self.identifiers else None
        if mic and given is not None and given != symbol:
            found.append(Problem(f"{path}.identifiers.symbol", f"{given!r} is not the symbol of the "
                                                               f"instrument_code {self.instrument_code!r} ({symbol})"))
        return found

    @property
    def symbol(self) -> str:
        """The symbol: ``identifiers.symbol``, else the code's symbol part, else the code."""
        return (self.identifiers.symbol if self.identifiers and self.identifiers.symbol else
                split_code(self.instrument_code)[0])

    @property
    def mic(self) -> str | None:
        return self.exchange.mic_code if self.exchange else split_code(self.instrument_code)[1]

    @property
    def isin(self) -> str | None:
        return self.identifiers.isin if self.identifiers else None


def split_code(code: str) -> tuple[str, str | None]:
    """``AAPL_XNGS`` -> ``("AAPL", "XNGS")``; a code whose tail after the last ``_`` is not a MIC
    (``IBM.US``) -> ``(code, None)``."""
    head, sep, tail = code.rpartition(SEPARATOR)
    if sep and head and re.fullmatch(r"[A-Z0-9]{4}", tail):
        return head, tail
    return code, None


# =========================================================================== PUT /history


class HistoryUpload(Contract):
    """PUT /history's body: ``instrument``, ``timeframe_id`` and ``history``, the bars checked by
    :func:`check_bars` (read it with :func:`read_upload`, which gives them as a frame)."""

    instrument: InstrumentUpload
    timeframe_id: TimeframeId
    history: Any = None


def read_upload(request: object, *, now: datetime | None = None) -> tuple[HistoryUpload, pd.DataFrame]:
    """PUT /history's body (a dict or JSON text) as its model and its bars as a frame indexed by
    ``time`` (naive UTC); one :class:`ValidationError` names every problem. ``now`` (default: the
    current time) is the latest time a bar may carry."""
    payload = payload_of(request, WHAT)
    if not isinstance(payload, dict):
        raise ValidationError([Problem("", f"expected a JSON object, got {type(payload).__name__}")], WHAT)
    problems = Problems()
    model = None
    try:
        model = HistoryUpload.model_validate(payload)
        problems.items.extend(model.instrument.problems())
    except pydantic.ValidationError as exc:
        problems.items.extend(problems_of(exc))
    timeframe = model.timeframe_id if model else _timeframe_or_none(payload.get("timeframe_id"))
    frame = check_bars(payload.get("history"), timeframe, now or datetime.now(UTC), problems)
    problems.items.sort(key=row_order)
    problems.raise_if_any(WHAT)
    assert model is not None  # every problem of the model was raised above
    return model, frame


def _timeframe_or_none(value: object) -> Timeframe | None:
    return Timeframe(value) if isinstance(value, int) and not isinstance(value, bool) and value in set(Timeframe) \
        else None


def row_order(problem: Problem) -> tuple[int, int]:
    """Payload fields first, then row problems in row order."""
    match = re.match(r"history\[(\d+)", problem.path)
    return (1, int(match.group(1))) if match else (0, 0)


def check_bars(records: object, timeframe: Timeframe | None, now: datetime, problems: Problems,
               time_key: str = "datetime") -> pd.DataFrame:
    """The bars (a list of objects with ``time_key`` and OHLCV) as a frame indexed by ``time`` (naive
    UTC; a daily or weekly bar at its UTC date), every problem noted at ``history[i].field``
    (vectorised: a million bars are checked in about a second)."""
    if not isinstance(records, list):
        problems.add("history", f"expected a list of bars, got {type(records).__name__}")
        return pd.DataFrame()
    if not records:
        problems.add("history", "is empty; send at least one bar")
        return pd.DataFrame()
    bad = [i for i, r in enumerate(records) if not isinstance(r, dict)]
    if bad:
        _report(problems, np.array(bad), "", f"expected an object with {time_key} and prices")
        return pd.DataFrame()
    fields = (time_key, *OHLCV)
    _check_fields(records, fields, problems)
    raw = pd.DataFrame.from_records(records, columns=[c for c in fields if any(c in r for r in records)])
    for name in (time_key, "close"):
        if name not in raw:
            problems.add(f"history[].{name}", "is required on every bar")
    if time_key not in raw or "close" not in raw:
        return pd.DataFrame()
    frame = pd.DataFrame(index=raw.index)
    frame[TIME] = _check_times(raw[time_key], time_key, timeframe, now, problems)
    for name in (f for f in OHLCV if f in raw):
        frame[name] = _check_numbers(raw[name], name, problems)
    _check_order(frame[TIME], time_key, problems)
    _check_bars(frame, problems)
    return frame.set_index(TIME)


def _report(problems: Problems, rows: np.ndarray, field: str, message: str,
            messages: Sequence[str] | None = None) -> None:
    """Name each bad row (with its own message from ``messages`` if given) up to :data:`MAX_ROWS`,
    then one problem that counts the rest."""
    suffix = f".{field}" if field else ""
    for k, row in enumerate(rows[:MAX_ROWS]):
        problems.add(f"history[{row}]{suffix}", messages[k] if messages is not None else message)
    if len(rows) > MAX_ROWS:
        problems.add(f"history[{rows[MAX_ROWS]}:]{suffix}", f"{len(rows) - MAX_ROWS} more rows: {message}")


def _check_fields(records: list[dict], fields: tuple[str, ...], problems: Problems) -> None:
    """Name every field outside ``fields`` at the first rows that carry it."""
    allowed = set(fields)
    unknown: dict[str, list[int]] = {}
    for i, record in enumerate(records):
        for key in record.keys() - allowed:
            unknown.setdefault(str(key), []).append(i)
    for key in sorted(unknown):
        _report(problems, np.array(unknown[key]), key, f"unknown field; bars carry {', '.join(fields)}")


def _check_times(column: pd.Series, key: str, timeframe: Timeframe | None, now: datetime,
                 problems: Problems) -> pd.Series:
    missing = column.isna()
    _report(problems, np.flatnonzero(missing), key, "is missing")
    scratch, stamps, bad = Problems(), [], []
    for row, (absent, value) in enumerate(zip(missing, column)):
        stamp = None if absent else read_moment(value, "", scratch)
        if not absent and stamp is None:
            bad.append(row)
        stamps.append(None if stamp is None else stamp.replace(tzinfo=None))
    rule = f"an ISO 8601 date or time in the years {YEARS[0]}-{YEARS[1]}, such as \"2024-01-02\" or " \
           "\"2024-01-02T15:30:00Z\""
    _report(problems, np.array(bad), key, f"is not {rule}",
            [f"{shown(v)} is not {rule}" for v in column.iloc[bad[:MAX_ROWS]]])
    times = pd.Series(pd.to_datetime(stamps), index=column.index)
    limit = pd.Timestamp(now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now)
    _report(problems, np.flatnonzero(times > limit), key,
            f"is in the future (after {limit:%Y-%m-%dT%H:%M:%S}Z, UTC); upload a bar once it has happened")
    if timeframe in (Timeframe.DAY, Timeframe.WEEK):
        times = times.dt.normalize()
    return times


def _check_numbers(column: pd.Series, name: str, problems: Problems) -> pd.Series:
    missing = column.isna()
    if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        numbers = column.map(_json_number)
        wrong = numbers.isna() & ~missing
        rows = np.flatnonzero(wrong)
        _report(problems, rows, name, "expected a number",
                [f"expected a number, got {shown(v)}" for v in column.iloc[rows[:MAX_ROWS]]])
        column = numbers
    _report(problems, np.flatnonzero(missing), name, "is missing or NaN")
    values = column.astype("float64")
    infinite = np.isinf(values)
    _report(problems, np.flatnonzero(infinite), name, "is not a finite number")
    if name == "volume":
        _report(problems, np.flatnonzero((values < 0) & ~infinite), name, "is negative; volume must be >= 0")
    else:
        _report(problems, np.flatnonzero((values <= 0) & ~infinite), name, "is not positive; prices must be > 0")
    return values


def _json_number(value: object) -> float:
    """A JSON number (or a NumPy one) as a float: NaN for anything else (text, bools); an integer
    too large for a float is infinite."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        return np.nan
    try:
        return float(value)
    except OverflowError:
        return np.inf if value > 0 else -np.inf


def _check_order(times: pd.Series, key: str, problems: Problems) -> None:
    previous = times.shift()
    _report(problems, np.flatnonzero(times == previous), key,
            "duplicates the time (for daily and weekly bars: the day) of the row before")
    _report(problems, np.flatnonzero(times < previous), key, "is earlier than the row before; sort the bars by time")


def _check_bars(frame: pd.DataFrame, problems: Problems) -> None:
    ends = [frame[c] for c in ("open", "close") if c in frame]
    if "high" in frame:
        _report(problems, np.flatnonzero(pd.concat(ends, axis=1).gt(frame["high"], axis=0).any(axis=1)),
                "high", "is below the open or the close")
    if "low" in frame:
        _report(problems, np.flatnonzero(pd.concat(ends, axis=1).lt(frame["low"], axis=0).any(axis=1)),
                "low", "is above the open or the close")


# =========================================================================== GET /history


class HistoryQuery(Contract):
    """GET /history's query (lines 19-22): ``instrument_code`` (required), ``timeframeid``,
    ``start_date`` (RFC 3339), ``currency`` (convert the bars to it). Added: ``apiid`` (which
    provider's series; by default the User Feed's if the user uploaded one, else the current shipped
    series of that code) and ``end_date``."""

    instrument_code: InstrumentCode
    timeframeid: QueryTimeframeId | None = None
    start_date: Moment | None = None
    end_date: Moment | None = None
    currency: Currency | None = None
    apiid: QueryApiId | None = None

    def problems(self) -> list[Problem]:
        """``end_date`` is not before ``start_date``."""
        if self.start_date and self.end_date and self.end_date < self.start_date:
            return [Problem("end_date", f"is before start_date {rfc3339(self.start_date)}; the period must run "
                                        "forwards")]
        return []


class Bar(Contract):
    """One bar of a history (lines 97-104), as answered."""

    datetime: Moment
    open: float | None = None
    high: float | None = None
    low: float | None = None
    close: float
    volume: float | None = None


class TimeframeStatus(Contract):
    """One timeframe of ``historyStatus`` (lines 50-68): ``last_updated`` is the last upload's time or
    ``"N/A"``; ``fill_from`` the time of the latest bar (where the next upload starts: it may
    replace that bar), or, without bars, when the instrument was registered. Added: ``history_start``."""

    timeframeid: int
    timeframe_name: str
    last_updated: str
    n_records: int
    fill_from: str
    history_start: str | None = None


class HistoryStatus(Contract):
    """GET /history's answer (lines 23-69); added: ``history``, the bars when ``timeframeid`` was given
    (in ``currency`` when given), and ``n_records_uploaded`` when it answers a PUT /history."""

    instrument: InstrumentInfo
    historyStatus: list[TimeframeStatus]
    history: list[Bar] | None = None
    currency: str | None = None
    n_records_uploaded: int | None = None


# =========================================================================== GET /history/instrument


class InstrumentQuery(Contract):
    """GET /history/instrument's query (lines 117-121): every filter optional, all given ones apply.
    ``mic_code`` matches a listing's MIC or its operating MIC (``XNAS`` finds the Nasdaq Global
    Select listings, ``XNGS``). Added: ``apiid`` and ``limit`` (1 to 1,000, default 50)."""

    searchstring: Name | None = None
    symbol: Symbol | None = None
    mic_code: Mic | None = None
    isin: Isin | None = None
    currency: Currency | None = None
    apiid: QueryApiId | None = None
    limit: QueryLimit = 50


# =========================================================================== POST /history/coverage


class CoverageQuery(Contract):
    """POST /history/coverage's query (lines 154-157): ``method`` is ``ISIN_CURRENCY`` (required),
    ``format_input`` and ``format_output`` ``JSON`` (default) or ``CSV``."""

    method: Literal["ISIN_CURRENCY"]
    format_input: Literal["JSON", "CSV"] = "JSON"
    format_output: Literal["JSON", "CSV"] = "JSON"


class CoverageItem(Contract):
    """One ``{isin, currency}`` pair of the body (lines 159-165)."""

    isin: Isin
    currency: Currency


class CoverageAnswer(Contract):
    """One answer (lines 166-188): ``coverage_status`` ``OK`` (covered) or, added to the seed's one
    word, ``NOT_COVERED`` (no series of that ISIN) and ``CURRENCY_NOT_COVERED`` (the ISIN is covered
    in another currency); ``input`` echoes the pair; the history's first and last day and the best
    matching ``instrument`` (its current series: the latest history, then the longest)."""

    coverage_status: str
    input: CoverageItem
    history_start: IsoDate | None = None
    history_end: IsoDate | None = None
    instrument: InstrumentInfo | None = None


def read_pairs(request: object, what: str = "coverage request") -> list[CoverageItem]:
    """POST /history/coverage's JSON body (a list of ``{isin, currency}``, or JSON text of it), every
    problem at ``[i].isin`` / ``[i].currency``."""
    payload = payload_of(request, what)
    if not isinstance(payload, list) or not payload:
        raise ValidationError([Problem("", "expected a non-empty JSON array of {isin, currency} objects, got "
                                           f"{type(payload).__name__ if payload != [] else 'an empty array'}")], what)
    problems = Problems()
    items = []
    for n, item in enumerate(payload):
        if not isinstance(item, dict):
            problems.add(f"[{n}]", f"expected an object with isin and currency, got {type(item).__name__}")
            continue
        try:
            items.append(CoverageItem.model_validate(item))
        except pydantic.ValidationError as exc:
            problems.items.extend(problems_of(exc, f"[{n}]"))
    problems.raise_if_any(what)
    return items


def day_of(value: object) -> date | None:
    """An ISO date text (or the date part of a timestamp) as a date; None stays None."""
    return None if value is None else date.fromisoformat(str(value)[:10])
