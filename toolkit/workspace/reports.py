"""``ws.reports``: the performance-reporting interface of the façade, on the workspace's book.

The daily returns of every portfolio (PORTFOLIO account) come from its holdings cube
(:meth:`toolkit.workspace.Accounts.holdings`) in one vectorised pass:

- **gross**: the daily time-weighted return of the NAV (holdings at the close plus cash) with the
  external flows (deposits, withdrawals) at the end of their value date,
  :func:`toolkit.analytics.returns.time_weighted` (``timing="end"``): a deposit is invested at
  that day's close, so it earns nothing that day. Transaction fees are paid from the cash, so
  gross is after transaction fees and before the portfolio-level fee;
- **net**: gross after the portfolio's ``annualFee`` accrued daily on calendar days,
  :func:`toolkit.analytics.returns.net_of_fees` (365-day year);
- **benchmark**: the daily return of an index or instrument (its close, converted to the
  portfolio's currency at the ECB rate when it is quoted in another one), or of an allocation
  used as the custom benchmark, rebalanced daily to its current weights:
  ``r_b = sum_i w_i r_i``.

Master data (``portfolioId``, ``performanceMeasurementStartDate``, ``dailyPerformanceStartDate``,
``benchmarkId``, ``annualFee``) are stored per portfolio with :meth:`Reports.set_master`; the
interface's queries name a portfolio by that ``portfolioId`` (the data source's id, ``E0002``) or
by its account id. Answers are the contract models of :mod:`toolkit.contracts.performance`
(``.to_dict()`` is the JSON, ``.to_pandas()`` / ``.to_xarray()`` the tables). Without a row, the
measurement starts on the first day with a return (the day after the first funding) and daily
data start there too, with no benchmark and no fee. The responses keep the rules of
:mod:`toolkit.reporting.consistency` (its tests check every one over random periods); they are
not checked again on each answer, which is the toolkit's own (``consistency.validate`` checks a
response from elsewhere).

**Remembered between interactions.** The holdings cube with its time-weighted returns, and each
benchmark's daily series, are computed once per workspace connection and data version
(:func:`toolkit.store.cache.memo`): an app's next question is answered from memory until a write
reaches the workspace (a trade, an upload, new master data), which drops them. The cube and the
TWR are built once per question too, also for a portfolio without master data (its first return
is read from the same cube).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import TypeAlias

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import xarray as xr

from toolkit.analytics.returns import close_returns, net_of_fees, time_weighted
from toolkit.contracts.base import read
from toolkit.contracts.performance import (
    InstrumentReturnsResponse,
    PortfolioMasterData,
    PortfolioReturnsResponse,
    id_problem,
)
from toolkit.errors import ConflictError, NotFoundError, Problem, Problems, ValidationError
from toolkit.reporting import reports
from toolkit.reporting import returns as interface
from toolkit.reporting.returns import PerformanceMaster, instrument_query, portfolio_query
from toolkit.schema import INSTRUMENT, PORTFOLIO, TIME
from toolkit.store.accounts import AccountRepository
from toolkit.store.allocations import AllocationRepository
from toolkit.store.cache import memo
from toolkit.store.performance import PerformanceRepository
from toolkit.store.repositories import now
from toolkit.validation import read_choice, read_id, read_period
from toolkit.workspace.accounts import Accounts
from toolkit.workspace.context import Context
from toolkit.workspace.history import History
from toolkit.workspace.instruments import Instruments

Report: TypeAlias = pd.DataFrame | go.Figure


class Reports:
    """PortfolioReturns, InstrumentReturns and the PO001 / PO003 / PO005 / MA001 / MA003 / MA004
    reports of the workspace's portfolios and instruments (see the module docstring)."""

    def __init__(self, ctx: Context, *, instruments: Instruments, history: History, accounts: Accounts) -> None:
        self._ctx = ctx
        self._instruments = instruments
        self._history = history
        self._accounts = accounts

    # ------------------------------------------------------------------ master data

    def set_master(self, portfolio_id: str, payload: object) -> PerformanceMaster:
        """Store (replace) a portfolio's master data (:class:`~toolkit.contracts.performance.PortfolioMasterData`):
        ``{"portfolioId": "E0002", "performanceMeasurementStartDate": "2012-01-04",
        "dailyPerformanceStartDate": "2020-01-01", "benchmarkId": <instrument or allocation id, symbol or
        ISIN>, "annualFee": "0.0075"}`` (all but the two dates optional).

        ``portfolioId`` is the id the performance interface's queries name the portfolio by (the data
        source's id, performance-reporting-interface.txt line 112), unique in the workspace; without
        it the portfolio is named by its account id. ``portfolio_id`` is the account's id (or its
        current ``portfolioId``). A ``portfolioId`` another portfolio carries is a ``ConflictError``.
        """
        problems = Problems()
        account = self._portfolio(portfolio_id)
        data = None
        try:
            data = read(PortfolioMasterData, payload, "performance master data")
        except ValidationError as error:
            problems.items.extend(error.problems)
        if data is not None and data.portfolio_id is not None and read_id(data.portfolio_id, "", Problems()):
            problems.add("portfolioId", f"{data.portfolio_id!r} is a UUID, which names accounts; give the data "
                                        "source's id, such as \"E0002\"")
        if data is not None and data.benchmark_id is not None and not problems:
            try:
                self._benchmark_key(data.benchmark_id)
            except NotFoundError as error:
                problems.add("benchmarkId", str(error))
        problems.raise_if_any("performance master data")
        assert data is not None  # read, or its problems were refused just above
        store = PerformanceRepository(self._ctx.db)
        with self._ctx.transaction():
            owner = store.owner(data.portfolio_id) if data.portfolio_id is not None else None
            if owner not in (None, account):
                raise ConflictError(f"portfolioId {data.portfolio_id!r} already names portfolio {owner}; give this "
                                    "portfolio another id")
            store.save_master(account, data.performance_measurement_start_date.isoformat(),
                              data.daily_performance_start_date.isoformat(), data.benchmark_id,
                              format(data.annual_fee, "f"), now(precise=True), data.portfolio_id)
        return self.master(account)

    def master(self, portfolio_id: str) -> PerformanceMaster:
        """The stored master data (their ``portfolio_id`` is the interface's ``portfolioId``, else the
        account id), or the derived ones (first return, no benchmark) without a row."""
        account = self._portfolio(portfolio_id)
        row = self._stored([account]).get(account)
        if row is not None:
            return PerformanceMaster(date.fromisoformat(row[0]), date.fromisoformat(row[1]), row[4] or account,
                                     row[2])
        first = self._first_returns([account])[account]
        return PerformanceMaster(first, first, account, None)

    # ------------------------------------------------------------------ the daily returns

    def daily(self, portfolio_ids: Sequence[str] | None = None, benchmark_id: str | None = None) -> xr.Dataset:
        """Daily ``gross``, ``net`` and ``benchmark`` returns over ``(portfolio, time)``, with the ``nav``
        and ``flows`` they come from, for the PORTFOLIO accounts (all of them by default).

        Returns before a portfolio's measurement start are NaN. ``benchmark_id`` (an instrument or an
        allocation, by id, symbol or ISIN) replaces every portfolio's own benchmark; without either,
        ``benchmark`` is NaN for that portfolio.
        """
        ids = self._ids(portfolio_ids)
        cube = self._gross(ids)
        gross = cube["gross"]
        stored = self._stored(ids)
        starts = pd.to_datetime([stored[p][0] if p in stored else pd.NaT for p in ids])
        fees = xr.DataArray([float(stored[p][3]) if p in stored else 0.0 for p in ids], dims=PORTFOLIO,
                            coords={PORTFOLIO: ids})
        measured = gross[TIME] >= xr.DataArray(starts, dims=PORTFOLIO, coords={PORTFOLIO: ids}).fillna(
            np.datetime64("1900-01-01"))
        gross = gross.where(measured)
        keys = [benchmark_id if benchmark_id is not None else stored.get(p, (None,) * 3)[2] for p in ids]
        bench = self._benchmarks(keys, ids, gross.indexes[TIME])
        return xr.Dataset({"gross": gross, "net": net_of_fees(gross, fees), "benchmark": bench,
                           "nav": cube["nav"], "flows": cube["flows"]})

    # ------------------------------------------------------------------ the interface

    def portfolio_returns(self, query: object) -> PortfolioReturnsResponse:
        """Answer a PortfolioReturns query (``GET /portfolio/returns``, performance-reporting-interface.txt
        lines 108-153): the query's parameters as a dict (strings as a query string writes them, or
        JSON values), JSON text, or the query string itself (``"portfolioId=E0002&startDate=..."``).

        ``portfolioId`` is the portfolio's id in its master data (``E0002``) or its account id; an
        unknown one is a ``NotFoundError``. The answer echoes the id as asked.
        """
        request = portfolio_query(query)
        account = self._portfolio(request.portfolio_id)
        master = replace(self.master(account), portfolio_id=request.portfolio_id)

        def answer() -> PortfolioReturnsResponse:
            daily = self._one(account, request.custom_benchmark_id, master)
            return PortfolioReturnsResponse.model_validate(interface.portfolio_returns(daily, master, request))

        return memo(self._ctx.db).get(("reports.portfolio_returns", account, master, request.model_dump_json()),
                                      answer)

    def instrument_returns(self, query: object) -> InstrumentReturnsResponse:
        """Answer an InstrumentReturns query (``GET /instrument/returns``, lines 225-269): ``instrumentIds``
        (a list or comma-separated; instrument ids, ``SYMBOL_MIC`` codes, symbols or ISINs),
        ``startDate``, ``endDate``, ``includeDailyReturns``; returns in each instrument's own currency,
        one block per id in the order asked, under the id as asked.

        An id the workspace does not know refuses the whole query (the document wants a valid file or
        none): a ``ValidationError`` names each such ``instrumentIds[i]``.
        """
        request = instrument_query(query)
        problems = Problems()
        ids = []
        for n, key in enumerate(request.instrument_ids):
            try:
                ids.append(self._instruments.resolve([key])[0])
            except (NotFoundError, ValidationError) as error:
                problems.add(f"instrumentIds[{n}]", str(error).rstrip("."))
        problems.raise_if_any("InstrumentReturns request")
        daily = self._instrument_daily(ids).assign_coords({INSTRUMENT: list(request.instrument_ids)})
        answer = interface.instrument_returns(daily, request)
        return InstrumentReturnsResponse.model_validate(answer)

    # ------------------------------------------------------------------ reports

    def portfolio_report(self, portfolio_id: str, start: str | None = None, end: str | None = None,
                         benchmark_id: str | None = None, frequency: str = "monthly") -> dict[str, Report]:
        """PO001 (overview by ``frequency`` with YTD), PO003 (cumulated chart against the benchmark)
        and PO005 (rolling 1/3/5/10 years and since inception) of one portfolio.

        As for the PortfolioReturns interface, a ``start`` before the measurement start or an
        ``end`` past the portfolio's latest return is refused (naming ``start`` or ``end``): the
        reports would otherwise show a YTD or a trailing period of nothing."""
        start, end = _period(start, end, "portfolio report", frequency=frequency)
        account = self._portfolio(portfolio_id)
        master = self.master(account)
        daily = self._one(account, benchmark_id, master)
        _within(start, end, master.performance_measurement_start_date, daily["gross"], "portfolio report")

        # each part remembered on what it depends on: another period keeps PO005 (its end is the same),
        # another frequency keeps PO003 and PO005
        key, remembered = ("reports.portfolio_report", account, master, benchmark_id), memo(self._ctx.db)
        return {"PO001": remembered.get((*key, "PO001", start, end, frequency),
                                        lambda: reports.performance_overview(daily, frequency, start, end)),
                "PO003": remembered.get((*key, "PO003", start, end),
                                        lambda: reports.cumulative_chart(daily, start, end)),
                "PO005": remembered.get((*key, "PO005", end), lambda: reports.rolling_performance(
                    daily, end, inception=master.performance_measurement_start_date))}

    def instrument_report(self, instrument_ids: Sequence[str], start: str | None = None,
                          end: str | None = None) -> dict[str, Report]:
        """MA001 (to-date and trailing returns), MA003 (calendar years) and MA004 (cumulated chart);
        an ``end`` past the latest return of every instrument is refused."""
        start, end = _period(start, end, "instrument report")
        ids = self._instruments.resolve(list(instrument_ids))
        daily = self._instrument_daily(ids)
        _within(None, end, None, daily, "instrument report")
        symbols = self._instruments.table().set_index("instrument_id").loc[ids, "symbol"].tolist()
        daily = daily.assign_coords({INSTRUMENT: symbols})
        return {"MA001": reports.instrument_table(daily, end),
                "MA003": reports.calendar_year_returns(daily, start, end),
                "MA004": reports.instrument_chart(daily, start, end)}

    @staticmethod
    def to_html(parts: dict[str, Report], title: str) -> str:
        """The reports as one static, offline HTML page (:func:`toolkit.reporting.reports.to_html`)."""
        return reports.to_html(parts, title)

    # ------------------------------------------------------------------ internals

    def _portfolio(self, portfolio_id: object) -> str:
        """The account id of a reported portfolio named by its ``portfolioId`` (master data) or account id."""
        if not isinstance(portfolio_id, str) or id_problem(portfolio_id):
            raise ValidationError([Problem("portfolioId", id_problem(portfolio_id) or "expected an id")], "portfolio")
        found = PerformanceRepository(self._ctx.db).owner(portfolio_id)
        if found is None:
            found = read_id(portfolio_id, "portfolioId", Problems())
        if found is None or AccountRepository(self._ctx.db).column([found], "type").get(found) != "PORTFOLIO":
            raise NotFoundError(f"No reported portfolio has the id {portfolio_id!r}: name it by the portfolioId of "
                                "its master data (reports.set_master) or by its PORTFOLIO account's id.")
        return found

    def _ids(self, portfolio_ids: Sequence[str] | None) -> list[str]:
        if portfolio_ids is None:
            return PerformanceRepository(self._ctx.db).reported()
        return [self._portfolio(p) for p in portfolio_ids]

    def _stored(self, ids: list[str]) -> dict[str, tuple]:
        return PerformanceRepository(self._ctx.db).masters(ids)

    def _gross(self, ids: list[str]) -> xr.Dataset:
        """The holdings cube's ``nav`` and ``flows`` with the daily time-weighted ``gross`` return,
        ``(portfolio, time)``: built once per data version and list of portfolios."""
        def build() -> xr.Dataset:
            cube = self._accounts.holdings(ids)
            gross = time_weighted(cube["nav"], cube["flows"], timing="end")
            return xr.Dataset({"gross": gross, "nav": cube["nav"], "flows": cube["flows"]})

        return memo(self._ctx.db).get(("reports.gross", tuple(ids)), build)

    def _first_returns(self, ids: list[str]) -> dict[str, date]:
        gross = self._gross(ids)["gross"]
        first = gross[TIME].where(gross.notnull()).min(TIME, skipna=True)  # (datetimes skip NaT only when told)
        return {p: pd.Timestamp(first.sel({PORTFOLIO: p}).values).date() for p in ids}

    def _one(self, portfolio_id: str, benchmark_id: str | None, master: PerformanceMaster) -> xr.Dataset:
        """One portfolio's daily returns from its measurement start, the benchmark dropped when absent
        (remembered per data version)."""
        return memo(self._ctx.db).get(("reports.one", portfolio_id, benchmark_id, master),
                                      lambda: self._read_one(portfolio_id, benchmark_id, master))

    def _read_one(self, portfolio_id: str, benchmark_id: str | None, master: PerformanceMaster) -> xr.Dataset:
        daily = self.daily([portfolio_id], benchmark_id).sel({PORTFOLIO: portfolio_id})
        daily = daily.sel({TIME: slice(pd.Timestamp(master.performance_measurement_start_date), None)})
        if bool(daily["benchmark"].isnull().all()):
            daily = daily.drop_vars("benchmark")
        return daily[[v for v in ("gross", "net", "benchmark") if v in daily]]

    def _instrument_daily(self, ids: list[str]) -> xr.DataArray:
        return close_returns(self._history.closes(ids))

    def _benchmark_key(self, key: str) -> tuple[str, str]:
        """``("allocation", id)`` or ``("instrument", id)`` for a benchmark named by id, symbol or ISIN."""
        if isinstance(key, str) and AllocationRepository(self._ctx.db).exists(key):
            return "allocation", key
        if not isinstance(key, str) or not key:
            raise NotFoundError(f"{key!r} names no instrument or allocation to benchmark against.")
        return "instrument", self._instruments.resolve([key])[0]

    def _benchmarks(self, keys: list[str | None], ids: list[str], days: pd.DatetimeIndex) -> xr.DataArray:
        """The daily benchmark return of each portfolio (NaN where it has none), one computation per
        distinct benchmark, picked per portfolio with one vectorised selection."""
        named = sorted({k for k in keys if k is not None})
        columns = [xr.DataArray(np.full(len(days), np.nan), dims=TIME, coords={TIME: days})]
        currency = AccountRepository(self._ctx.db).column(ids, "currency")
        for key in named:  # a handful of benchmarks, each a vectorised series
            wanted = {currency[p] for p, k in zip(ids, keys) if k == key}
            if len(wanted) > 1:
                raise ValidationError([Problem("benchmarkId", f"{key!r} benchmarks portfolios in more than one "
                                                              "currency; give each currency its own benchmark")],
                                      "benchmark")
            columns.append(self._benchmark(key, str(wanted.pop()), days))
        table = xr.concat(columns, "benchmark", join="outer")
        pick = xr.DataArray([0 if k is None else named.index(k) + 1 for k in keys], dims=PORTFOLIO,
                            coords={PORTFOLIO: ids})
        return table.isel(benchmark=pick).drop_vars("benchmark", errors="ignore")

    def _benchmark(self, key: str, currency: str, days: pd.DatetimeIndex) -> xr.DataArray:
        """The daily return of benchmark ``key`` in ``currency`` on ``days`` (remembered per data version)."""
        return memo(self._ctx.db).get(("reports.benchmark", key, currency, days.values.tobytes()),
                                      lambda: self._benchmark_series(key, currency, days))

    def _benchmark_series(self, key: str, currency: str, days: pd.DatetimeIndex) -> xr.DataArray:
        kind, found = self._benchmark_key(key)
        if kind == "allocation":
            items = AllocationRepository(self._ctx.db).get([found])[0].items
            ids = [i.instrument_id for i in items]
            weights = xr.DataArray([float(Decimal(i.weight)) for i in items], dims=INSTRUMENT, coords={INSTRUMENT: ids})
        else:
            ids, weights = [found], xr.DataArray([1.0], dims=INSTRUMENT, coords={INSTRUMENT: [found]})
        closes = self._history.closes(ids)
        quoted = set(closes["currency"].values.tolist()) if "currency" in closes.coords else {currency}
        # the close on each of the portfolio's days (the last one on or before it, within each history),
        # so that the move of a day the benchmark trades and the portfolio does not (a holiday of one of
        # the markets) counts in the next return instead of being dropped
        close = closes.reindex({TIME: closes.indexes[TIME].union(days)}).ffill(TIME)
        last = closes[TIME].where(closes.notnull()).max(TIME, skipna=True)
        close = close.where(close[TIME] <= last).sel({TIME: days})
        daily = close_returns(close, to=currency if quoted != {currency} else None,
                              rates=self._history.rates if quoted != {currency} else None)
        return (daily * weights).sum(INSTRUMENT, min_count=len(ids))


def _period(start: object, end: object, what: str, **choices: str) -> tuple[str | None, str | None]:
    """A report's optional ``start`` and ``end`` as ISO dates (strictly, none in the future), and its
    choices (``frequency``); one ``ValidationError`` names every bad one."""
    problems = Problems()
    first, last = read_period(start, end, problems, past=True)
    if "frequency" in choices:
        read_choice(choices["frequency"], "frequency", problems, tuple(reports.FREQUENCIES))
    problems.raise_if_any(what)
    return (None if first is None else first.isoformat()), (None if last is None else last.isoformat())


def _within(start: str | None, end: str | None, inception: date | None, returns: xr.DataArray, what: str) -> None:
    """Refuse a report's ``start`` before ``inception`` and an ``end`` after the last day on which
    ``returns`` (over ``time``, and any other dimension) has a number."""
    problems = Problems()
    if start is not None and inception is not None and date.fromisoformat(start) < inception:
        problems.add("start", f"{start} is before the performance measurement start {inception}; start on or after it")
    if end is not None:
        days = returns[TIME].where(returns.notnull()).max(skipna=True)
        latest = None if days.isnull() else pd.Timestamp(days.values).date()
        if latest is None or date.fromisoformat(end) > latest:
            problems.add("end", f"{end} is past the latest return ({latest or 'none yet'}); end on or before it")
    problems.raise_if_any(what)
