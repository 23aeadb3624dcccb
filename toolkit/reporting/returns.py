"""The performance-reporting interface: PortfolioReturns and InstrumentReturns.

Two requests, named as the seed names them (performance-reporting-interface.txt, lines 108-269),
read by the contract models :class:`~toolkit.contracts.performance.PortfolioReturnsQuery` and
:class:`~toolkit.contracts.performance.InstrumentReturnsQuery` (a dict, JSON, or the query string)::

    PortfolioReturns   {"portfolioId": "E0002", "startDate": "2021-03-15", "endDate": "2022-06-10",
                        "includeDailyReturns": true, "includeBenchmark": true,
                        "customBenchmarkId": "SP500"}                      # the last three optional
    InstrumentReturns  {"instrumentIds": "AAPL,MSFT", "startDate": "2021-03-15",
                        "endDate": "2022-06-10", "includeDailyReturns": "false"}

Period semantics (every rule below is what :mod:`toolkit.reporting.consistency` checks):

- ``startDate`` is taken at the beginning of the day (BOD), ``endDate`` at the end of the day
  (EOD); both are ISO calendar dates ``YYYY-MM-DD``, ``startDate <= endDate``. The period holds
  the daily returns of the trading days ``startDate <= t <= endDate``; a daily return is the
  change from the EOD of the trading day before ``t`` to the EOD of ``t``. A start on a weekend
  or holiday is BOD of that day, which equals EOD of the trading day before it.
- ``startDate`` must not precede the portfolio's ``performanceMeasurementStartDate`` and
  ``endDate`` must not reach past the latest data (``as_of``, by default the last date with a
  gross and a net return: a closed account's returns end at its close), nor ``startDate`` come
  after it: such a request is refused with a ``ValidationError``, never half-answered.
- ``indexStart`` is the index at BOD of ``startDate`` (100.0; ``bmIndexStart`` likewise for the
  benchmark). An entry's index is the index at EOD of the entry's ``date``:
  ``index[i] = index[i-1] * (1 + return[i])``, ``index[-1] = indexStart``.
- ``years`` and ``months`` list every calendar year / month the period touches, consecutive and
  in chronological order. An entry runs from ``startDate`` (BOD) to ``date`` (EOD): a complete
  month runs from its 1st to its calendar ultimo (the last calendar day, also when it is a
  weekend) and has ``"complete": true``. An incomplete month is the first month of a period that
  starts after its 1st (its ``startDate`` is the period's ``startDate``) or the last month of a
  period that ends before its ultimo (its ``date`` is the period's ``endDate``); its return
  links only the days inside the period and ``complete`` is false. Years follow the same rules
  with 1 January and 31 December. A month part without a trading day returns 0.0.
- Returns are simple returns as fractions (0.0123 = 1.23 %), geometrically linked:
  ``1 + R = prod(1 + r_t)``; float64, not rounded.
- ``days`` (only with ``includeDailyReturns``) lists every trading day from
  ``max(startDate, dailyPerformanceStartDate)`` to ``endDate`` and none before it; each day
  carries both gross and net (and the benchmark when included). ``dailyPerformanceStartDate`` is
  the first day of a calendar month (daily data exist for whole months from that month on) or
  the ``performanceMeasurementStartDate`` itself (daily data since inception).
- With ``includeBenchmark``, ``bmIndexStart``, ``benchmarkId`` and every entry's ``bmReturn`` and
  ``bmIndex`` are present; without it none of them is. ``customBenchmarkId`` replaces the
  portfolio's default benchmark (the caller supplies that benchmark's returns as ``benchmark``)
  and is refused without ``includeBenchmark``.

PortfolioReturns response (JSON-serialisable: str, bool, int, float)::

    {"portfolioId": "P1", "startDate": "2021-03-15", "endDate": "2022-06-10",
     "performanceMeasurementStartDate": "2010-01-04", "dailyPerformanceStartDate": "2015-01-01",
     "benchmarkId": "SP500", "indexStart": 100.0, "bmIndexStart": 100.0,
     "years":  [{"year": 2021, "startDate": "2021-03-15", "date": "2021-12-31", "complete": false,
                 "grossReturn": …, "grossIndex": …, "netReturn": …, "netIndex": …,
                 "bmReturn": …, "bmIndex": …}, …],
     "months": [{"month": "2021-03", "startDate": "2021-03-15", "date": "2021-03-31",
                 "complete": false, "grossReturn": …, …}, …],
     "days":   [{"date": "2021-03-15", "grossReturn": …, "grossIndex": …, "netReturn": …,
                 "netIndex": …, "bmReturn": …, "bmIndex": …}, …]}

InstrumentReturns response: the same period rules, one block per requested instrument in the
order requested, with ``return`` / ``index`` instead of the gross/net/benchmark keys::

    {"startDate": …, "endDate": …,
     "instruments": [{"instrumentId": "AAPL", "performanceMeasurementStartDate": …,
                      "dailyPerformanceStartDate": …, "indexStart": 100.0,
                      "years": [{"year", "startDate", "date", "complete", "return", "index"}],
                      "months": [{"month", …}], "days": [{"date", "return", "index"}]}]}

An instrument's ``performanceMeasurementStartDate`` is, unless master data say otherwise, the
first date with a return in the data, and its daily performance starts there too.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd
import xarray as xr

from toolkit.analytics.returns import cumulate, index_values
from toolkit.contracts.base import read
from toolkit.contracts.performance import (
    INDEX_START,
    InstrumentReturnsQuery,
    PortfolioMasterData,
    PortfolioReturnsQuery,
    check_master_dates,
    read_query,
)
from toolkit.errors import DataError, Problems
from toolkit.schema import FIELD, INSTRUMENT, TIME

#: return type -> (return key, index key, key of the index at BOD of ``startDate``)
PORTFOLIO_SERIES = {"gross": ("grossReturn", "grossIndex", "indexStart"),
                    "net": ("netReturn", "netIndex", "indexStart"),
                    "benchmark": ("bmReturn", "bmIndex", "bmIndexStart")}
INSTRUMENT_SERIES = {"instrument": ("return", "index", "indexStart")}


@dataclass(frozen=True)
class PerformanceMaster:
    """Master data of one portfolio (or instrument) for performance reporting: the domain side of
    :class:`toolkit.contracts.performance.PortfolioMasterData` (whose rules it keeps).

    ``performance_measurement_start_date``: the first day performance is measured (BOD); no
    request may start before it. ``daily_performance_start_date``: daily returns are reported from
    this day on; it is the first day of a calendar month, or the measurement start itself.
    ``portfolio_id``: the id the queries name the portfolio by (the data source's, ``E0002``).
    """

    performance_measurement_start_date: date
    daily_performance_start_date: date
    portfolio_id: str | None = None
    benchmark_id: str | None = None

    def __post_init__(self) -> None:
        problems = Problems()
        check_master_dates(self.performance_measurement_start_date, self.daily_performance_start_date, problems)
        problems.raise_if_any("performance master data")

    @classmethod
    def from_dict(cls, payload: object) -> PerformanceMaster:
        """Master data from the seed's camelCase dict (:class:`PortfolioMasterData`); a
        ``ValidationError`` names every bad field."""
        data = read(PortfolioMasterData, payload, "performance master data")
        return cls(data.performance_measurement_start_date, data.daily_performance_start_date, data.portfolio_id,
                   data.benchmark_id)

    def to_dict(self) -> dict:
        return {"portfolioId": self.portfolio_id,
                "performanceMeasurementStartDate": self.performance_measurement_start_date.isoformat(),
                "dailyPerformanceStartDate": self.daily_performance_start_date.isoformat(),
                "benchmarkId": self.benchmark_id}


def portfolio_query(request: object) -> PortfolioReturnsQuery:
    """A PortfolioReturns query (a dict, JSON or query-string text) validated
    (:class:`toolkit.contracts.performance.PortfolioReturnsQuery`); ``ValidationError`` otherwise."""
    return read_query(PortfolioReturnsQuery, request)


def instrument_query(request: object) -> InstrumentReturnsQuery:
    """An InstrumentReturns query validated (:class:`toolkit.contracts.performance.InstrumentReturnsQuery`)."""
    return read_query(InstrumentReturnsQuery, request)


# --- the builders -----------------------------------------------------------------------------

def _check_window(start: date, end: date, inception: date | None, latest: date | None, problems: Problems,
                  path: str | None = None, what: str = "the portfolio") -> None:
    """Refuse a period that starts before the measurement start or ends past the latest data."""
    if inception is not None and start < inception:
        problems.add(path or "startDate", f"{start} is before {what}'s performanceMeasurementStartDate "
                     f"{inception}; start on or after it")
    if latest is None:
        problems.add(path or "endDate", f"{what} has no returns to report")
        return
    if start > latest:
        problems.add(path or "startDate", f"{start} is after the latest data of {what} ({latest}); "
                     "start on or before it")
    if end > latest:
        problems.add(path or "endDate", f"{end} reaches past the latest data of {what} ({latest}); "
                     "end on or before it")


def _as_date(value: object) -> date | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    stamp = pd.Timestamp(value)
    return None if stamp is pd.NaT else stamp.date()


def _period_returns(period: xr.DataArray, freq: str, labels: pd.DatetimeIndex) -> xr.DataArray:
    """Linked returns of every calendar period in ``labels`` (ultimos); 0.0 for a part without a trading day."""
    if period.sizes[TIME] == 0:
        return period.reindex({TIME: labels}, fill_value=0.0)
    return cumulate(period, freq).reindex({TIME: labels}).fillna(0.0)


def _cumulated(returns: xr.DataArray, start: date, end: date, daily_from: date | None) -> _Tables:
    """Everything a response reports, for every return type / instrument at once, in one pass.

    ``returns (X, time)``: the monthly and yearly returns of the period (incomplete first and
    last periods included) and their indices, the daily returns and indices from ``daily_from``
    on (indices always count from BOD of ``start``), and the NaN count that refuses the data.
    """
    others = [d for d in returns.dims if d != TIME]
    if len(others) != 1:
        raise DataError(f"The daily returns must run over {TIME!r} only (one portfolio, or instruments); "
                        f"they have the dimensions {tuple(map(str, returns.dims))}.")
    (dim,) = others
    times = returns.indexes[TIME]
    if not times.is_unique or not times.is_monotonic_increasing:
        raise DataError("The daily returns' time index is unsorted or repeats a day; sort and deduplicate it.")
    upper = pd.Timestamp(end + timedelta(days=1)) - pd.Timedelta(1)
    period = returns.sel({TIME: slice(pd.Timestamp(start), upper)})
    months = pd.period_range(start, end, freq="M").to_timestamp(how="end").normalize()
    years = pd.period_range(start, end, freq="Y").to_timestamp(how="end").normalize()
    monthly = _period_returns(period, "ME", months)
    yearly = _period_returns(period, "YE", years)
    out = {"months_return": monthly, "months_index": index_values(monthly, INDEX_START),
           "years_return": yearly, "years_index": index_values(yearly, INDEX_START),
           "missing": period.isnull().sum(TIME)}
    if period.sizes[TIME]:
        out["first_missing"] = period[TIME].where(period.isnull()).min(TIME, skipna=True)
    if daily_from is not None:
        days = np.flatnonzero(period.indexes[TIME] >= pd.Timestamp(daily_from))
        out["days_return"] = period.isel({TIME: days})
        out["days_index"] = index_values(period, INDEX_START).isel({TIME: days})
    data = {name: value.rename({TIME: name.split("_")[0]}) if TIME in value.dims else value
            for name, value in out.items()}
    computed = xr.Dataset(data).compute()
    _refuse_missing(computed, dim)
    tables = _Tables(list(computed[dim].values))
    for name in ("years", "months", "days"):
        if f"{name}_return" not in computed:
            continue
        stamps = pd.DatetimeIndex(computed[name].values)
        tables.labels[name] = ([{"date": d} for d in stamps.strftime("%Y-%m-%d")] if name == "days"
                               else _period_labels(name[:-1], stamps, start, end))
        tables.values[name] = (computed[f"{name}_return"].transpose(dim, name).values,
                               computed[f"{name}_index"].transpose(dim, name).values)
    return tables


def _refuse_missing(computed: xr.Dataset, dim: Hashable) -> None:
    """A NaN return inside the period is bad data: name the series and its first missing day."""
    missing = computed["missing"].values > 0
    if missing.any():
        bad = computed[dim].values[missing].tolist()
        first = pd.Timestamp(computed["first_missing"].min(skipna=True).values).date()
        raise DataError(f"The daily returns of {', '.join(map(str, bad))} are missing (NaN) inside the period, "
                        f"first on {first}; every trading day of the period needs a return.")


def _period_labels(unit: str, stamps: pd.DatetimeIndex, start: date, end: date) -> list[dict]:
    """The label, startDate, date and complete flag of each year or month entry."""
    rows = []
    for stamp in stamps:  # formatting the response, one row per entry
        period = stamp.to_period("M" if unit == "month" else "Y")
        first, last = period.start_time.date(), stamp.date()
        label = str(period) if unit == "month" else period.year
        rows.append({unit: label, "startDate": max(start, first).isoformat(), "date": min(end, last).isoformat(),
                     "complete": first >= start and last <= end})
    return rows


@dataclass
class _Tables:
    """The computed response of every return type / instrument (``keys``, in order on the arrays):
    per list (``years``, ``months``, ``days``) the entry labels and the (returns, indices) arrays."""

    keys: list
    labels: dict[str, list[dict]] = field(default_factory=dict)
    values: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rows = {key: row for row, key in enumerate(self.keys)}

    def block(self, series: Mapping[object, tuple[str, str, str]], daily_from: str | None = None) -> dict:
        """The JSON lists of the series in ``series`` (key -> JSON keys), days from ``daily_from`` on."""
        out = {}
        for name, labels in self.labels.items():
            returns, index = self.values[name]
            columns = {}
            for key, (ret, idx, _) in series.items():
                row = self.rows[key]
                columns[ret], columns[idx] = returns[row].tolist(), index[row].tolist()
            skip = 0 if name != "days" or daily_from is None else sum(d["date"] < daily_from for d in labels)
            out[name] = [{**label, **{key: values[j] for key, values in columns.items()}}
                         for j, label in enumerate(labels) if j >= skip]
        return out


def portfolio_returns(daily: xr.Dataset, master: PerformanceMaster, request: object,
                      as_of: date | str | None = None) -> dict:
    """Answer a PortfolioReturns request for one portfolio (shape and rules: module docstring).

    ``daily``: the portfolio's daily simple returns over ``time`` (trading days, from the
    performance measurement start), as variables ``gross``, ``net`` and, for the benchmark,
    ``benchmark`` (the custom benchmark's returns when ``customBenchmarkId`` is asked). ``as_of``:
    the last day the data are complete (default: the last date of ``daily``). All return types
    are cumulated at once (:func:`toolkit.analytics.returns.cumulate`, ``index_values``).
    Raises ``ValidationError`` for a bad request (fields by path), ``DataError`` for a NaN
    return inside the period.
    """
    req = portfolio_query(request)
    problems = Problems()
    if master.portfolio_id is not None and master.portfolio_id != req.portfolio_id:
        problems.add("portfolioId", f"is {req.portfolio_id!r} but the master data are of {master.portfolio_id!r}")
    if TIME not in daily.dims:
        raise DataError(f"The daily returns need a {TIME!r} dimension; they have {tuple(map(str, daily.dims))}.")
    for name in ("gross", "net"):
        if name not in daily:
            raise DataError(f"The daily returns need a {name!r} variable; they have "
                            f"{sorted(map(str, daily.data_vars))}.")
    benchmark_id = req.custom_benchmark_id or master.benchmark_id
    if req.include_benchmark and "benchmark" not in daily:
        problems.add("includeBenchmark", f"portfolio {req.portfolio_id!r} has no benchmark returns; "
                     "set includeBenchmark to false")
    elif req.include_benchmark and benchmark_id is None:
        problems.add("includeBenchmark", f"portfolio {req.portfolio_id!r} has no benchmark; name one with "
                     "customBenchmarkId")
    if as_of is not None:
        latest = _as_date(as_of)
    else:
        # the last day with a gross and a net return: a closed account's days after its close have none
        valid = daily["gross"].notnull() & daily["net"].notnull()
        latest = _as_date(daily[TIME].where(valid).max(skipna=True).values) if daily.sizes[TIME] else None
    _check_window(req.start_date, req.end_date, master.performance_measurement_start_date, latest, problems)
    problems.raise_if_any("PortfolioReturns request")
    names = ["gross", "net", *(["benchmark"] if req.include_benchmark else [])]
    daily_from = max(req.start_date, master.daily_performance_start_date) if req.include_daily_returns else None
    tables = _cumulated(daily[names].to_dataarray(FIELD), req.start_date, req.end_date, daily_from)
    response = {"portfolioId": req.portfolio_id, "startDate": req.start_date.isoformat(),
                "endDate": req.end_date.isoformat(),
                "performanceMeasurementStartDate": master.performance_measurement_start_date.isoformat(),
                "dailyPerformanceStartDate": master.daily_performance_start_date.isoformat(),
                "indexStart": INDEX_START}
    if req.include_benchmark:
        response |= {"benchmarkId": benchmark_id, "bmIndexStart": INDEX_START}
    return response | tables.block({name: PORTFOLIO_SERIES[name] for name in names})


def instrument_returns(daily: xr.DataArray, request: object, masters: Mapping[str, PerformanceMaster] | None = None,
                       as_of: date | str | None = None) -> dict:
    """Answer an InstrumentReturns request: one block per instrument, in the order requested.

    ``daily (instrument, time)``: daily simple returns, NaN before an instrument's first return.
    An instrument's measurement start is ``masters[id]`` if given, else its first non-NaN date
    (daily data from then on); its latest data is ``as_of`` if given, else its last non-NaN date.
    An unknown id, or a period outside an instrument's data, is refused at ``instrumentIds[i]``.
    Every instrument is cumulated in the same call, along ``time``.
    """
    req = instrument_query(request)
    masters = masters or {}
    problems = Problems()
    known = set(daily.indexes[INSTRUMENT])
    for i, iid in enumerate(req.instrument_ids):
        if iid not in known:
            problems.add(f"instrumentIds[{i}]", f"{iid!r} is not an instrument of these returns")
    problems.raise_if_any("InstrumentReturns request")
    asked = daily.sel({INSTRUMENT: list(req.instrument_ids)})
    stamps = asked[TIME].where(asked.notnull())
    bounds = xr.Dataset({"first": stamps.min(TIME, skipna=True), "last": stamps.max(TIME, skipna=True)}).compute()
    inceptions: dict[str, date] = {}
    dailies: dict[str, date] = {}
    for i, iid in enumerate(req.instrument_ids):  # checks of the request, one per instrument named
        master = masters.get(iid)
        inception = master.performance_measurement_start_date if master else _as_date(bounds["first"].values[i])
        end = _as_date(as_of) if as_of is not None else _as_date(bounds["last"].values[i])
        if inception is None:
            problems.add(f"instrumentIds[{i}]", f"{iid!r} has no returns in these data")
            continue
        inceptions[iid] = inception
        dailies[iid] = master.daily_performance_start_date if master else inception
        _check_window(req.start_date, req.end_date, inception, end, problems, f"instrumentIds[{i}]",
                      f"instrument {iid!r}")
    problems.raise_if_any("InstrumentReturns request")
    tables = _cumulated(asked, req.start_date, req.end_date, req.start_date if req.include_daily_returns else None)
    blocks = []
    for iid in req.instrument_ids:  # formatting: one JSON block per instrument
        block = {"instrumentId": iid, "performanceMeasurementStartDate": inceptions[iid].isoformat(),
                 "dailyPerformanceStartDate": dailies[iid].isoformat(), "indexStart": INDEX_START}
        since = max(req.start_date, dailies[iid]).isoformat()
        blocks.append(block | tables.block({iid: INSTRUMENT_SERIES["instrument"]}, since))
    return {"startDate": req.start_date.isoformat(), "endDate": req.end_date.isoformat(), "instruments": blocks}
