"""The risk platform's portfolio backtest in the façade (``ws.backtests``; ``risk-platform-api.txt``
lines 1378-1434, PUT and GET /portfolio/backtest). The portfolio is a PORTFOLIO account of the book (its
id) or a portfolio uploaded with PUT /portfolio (its ``client_reference``).

    ws.backtests.start({"client_reference": account_id, "strategy_id": 100,
                        "start_date": "2020-01-01", "end_date": "2020-12-31"})   # PUT: answers Started
    ws.backtests.get({"client_reference": account_id, "strategy_id": 100}, wait=True).to_dict()  # GET

**The edge.** :meth:`Backtests.start` reads the request (:class:`~toolkit.contracts.risk.backtest.BacktestRequest`)
and refuses, before any job is queued, each problem by its field: an unknown ``client_reference`` (neither a
PORTFOLIO account nor an uploaded portfolio, or one holding nothing or a Short position), an unknown
``strategy_id``, a strategy without rules or whose portfolio rule needs more than closes (ATR weighted, Min
Tracking Error), an ``end_date`` before ``start_date`` (:class:`~toolkit.errors.ValidationError`), a period
without prices for every holding, or without a month of closes before it for the first optimisation
(:class:`~toolkit.errors.DataError`). A period reaching past the price history is run to its last close (the
answer's ``startDate`` and ``endDate`` say which days were run).

**The job.** The accepted request is recorded in the ``backtests`` table (``Started``) with its *spec*, a
plain JSON dict of everything the run needs but the prices; :func:`run` (a module-level function of the
workspace file's path and the job id: picklable, so a ``distributed.Client`` can take it) reads the prices
through its own connection, computes (:func:`compute`, pure) and ends the job ``Completed`` with the
document's answer, or ``Failed`` with the reason (:func:`_end`, the one place a job's state changes).
Both survive the kernel: a new Workspace on the file answers the stored result.

**What a run does** (conventions, the document names none; the engine's are
:mod:`toolkit.backtest.simulation`'s):

- capital: the account's NAV at the last close (an uploaded portfolio's equity); the starting weights its
  holdings' value weights (its open positions'), cash aside: the book is fully invested over the period;
- with a portfolio rule: monthly, on the first trading day (and on the first day of the period), the rule
  re-optimises on the previous :data:`LOOKBACK_DAYS` daily returns (:func:`reoptimised`, the engine's
  ``reoptimise``: closes up to that day, never after) and the book is traded to its weights at that day's
  close; without one the starting weights are bought and held;
- costs: the workspace's fee schedule (``orders.fees``: bps and minimum per trade), paid from the book;
- stops and limits: when the strategy lists rule 3 or 5 or its portfolio rule has Include Stop/Limit, on
  each rebalance day rule 3's ATR stop and rule 5's limit (the nearest resistance) are set for each holding
  by :func:`toolkit.signals.tactical.evaluate` on real candles up to that day (the candles
  ``ws.rules.candles`` chooses), and hold until the next rebalance; a line whose close crosses one is sold
  at that close and its money kept in cash until the next rebalance. Without candles (closes only) or a
  rule, a position has ``stop`` 0 and ``limit`` the largest double, as the document's example;
- a position is a lot (:func:`toolkit.backtest.positions`: bought at a close, closed first in first out by
  later sells); those still held on the last day are marked at its close with ``closed`` false;
- ``pnLSerie``, ``yearlyReturn`` (compound annual growth over 365.25-day years), ``nprofitToTotalRatio``,
  ``avgProfitLossRatio`` ("N/A" without a losing position), ``averageTradeDuration`` and ``lowestPnL`` are
  :func:`toolkit.backtest.trade_statistics`', written as the document writes them;
- ``portfolioId`` is the portfolio's row number in the workspace (the document's ids are whole numbers).
"""

from __future__ import annotations

import functools
import time as clock
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from toolkit.analytics.returns import simple_returns
from toolkit.backtest import Policy, TradeStatistics, positions, simulate, trade_statistics
from toolkit.contracts.base import payload_of, read
from toolkit.contracts.risk import backtest as B
from toolkit.contracts.risk import strategy as S
from toolkit.errors import DataError, NotFoundError, Problem, ValidationError
from toolkit.market import history as market_history
from toolkit.optimise import optimise
from toolkit.optimise.rules import RULES as PORTFOLIO_RULES
from toolkit.optimise.rules import from_strategy
from toolkit.schema import INSTRUMENT, TIME, Timeframe
from toolkit.signals.tactical import ORDER, evaluate, read_rules
from toolkit.store import connect
from toolkit.store.accounts import AccountRepository
from toolkit.store.backtests import BacktestRepository
from toolkit.store.repositories import InstrumentRepository, PriceRepository, now
from toolkit.store.strategies import StrategyRepository
from toolkit.workspace.accounts import Accounts
from toolkit.workspace.analytics import Analytics
from toolkit.workspace.context import Context
from toolkit.workspace.history import History
from toolkit.workspace.instruments import Instruments
from toolkit.workspace.jobs import Jobs
from toolkit.workspace.orders import Orders
from toolkit.workspace.portfolios import Portfolios
from toolkit.workspace.rules import Rules

WHAT = "backtest request"
#: daily returns the portfolio rule re-optimises on (about a year), and the fewest it accepts
LOOKBACK_DAYS, MIN_LOOKBACK = 252, 20
#: calendar days before the start read at the edge, to check the first optimisation has returns to read
LOOKBACK_MARGIN = 60
#: the rebalance calendar of a strategy with a portfolio rule
FREQUENCY = "monthly"
#: the metadata of an instrument a position shows
META = ("name", "instrument_code", "currency")


@dataclass(frozen=True)
class Backtest:
    """GET /portfolio/backtest's answer: :meth:`to_dict` is the document's shape; :meth:`to_pandas` the
    positions, :meth:`to_xarray` the NAV and pnL over ``time``."""

    answer: B.BacktestResult
    capital: float | None = None
    #: how far the job is, 0 to 1 (the rebalance dates done over the period's; 1 once it ended)
    progress: float = 0.0

    @property
    def status(self) -> str:
        return self.answer.status

    def to_dict(self) -> dict:
        return self.answer.to_dict()

    def to_pandas(self) -> pd.DataFrame:
        """The positions, one row each, in the document's field names."""
        columns = list(B.BacktestPosition.model_fields)
        return pd.DataFrame([p.to_dict() for p in self.answer.positions], columns=columns)

    def to_xarray(self) -> xr.Dataset:
        """``pnl`` and ``nav`` (the capital plus the pnL) over ``time``."""
        times = pd.DatetimeIndex([pd.Timestamp(p.date).tz_localize(None) for p in self.answer.pnLSerie])
        pnl = np.array([p.value for p in self.answer.pnLSerie], dtype=float)
        data = {"pnl": (TIME, pnl)}
        if self.capital is not None:
            data["nav"] = (TIME, pnl + self.capital)
        return xr.Dataset(data, coords={TIME: times})


class Backtests:
    """``ws.backtests``: the document's PUT (:meth:`start`) and GET (:meth:`get`) as a background job
    (module docstring)."""

    def __init__(self, ctx: Context, *, instruments: Instruments, history: History, accounts: Accounts,
                 orders: Orders, rules: Rules, jobs: Jobs | None = None, portfolios: Portfolios | None = None,
                 analytics: Analytics | None = None) -> None:
        self._ctx = ctx
        self._orders = orders
        self._portfolios, self._analytics = portfolios, analytics
        self._instruments, self._history, self._accounts, self._rules = instruments, history, accounts, rules
        self._repo = BacktestRepository(ctx.db)
        self._jobs = jobs or Jobs()  # the dask client the jobs are submitted to (toolkit.workspace.jobs)

    def start(self, request: object) -> Backtest:
        """PUT /portfolio/backtest: check the request (module docstring), queue the job and start it in
        the background; answers ``Started`` (poll with :meth:`get`)."""
        spec = self._spec(request)
        job_id = spec["job_id"]
        self._repo.queue(job_id, spec["client_reference"], spec["strategy_id"], spec["start"], spec["end"], spec,
                         now(precise=True))
        where, path = self._jobs.address or "in-process", str(self._ctx.path)
        try:  # run() computes on a dask worker and ends the job itself; a lost task ends it Failed (_lost)
            future = self._jobs.client.submit(run, path, job_id, pure=False, key=f"backtest-{job_id}")
        except Exception as exc:
            _end(self._repo, job_id, error=f"{type(exc).__name__}: {exc}")
            raise
        future.add_done_callback(functools.partial(_lost, path, job_id, where))
        self._jobs.running[job_id] = [future]
        return self.get({"client_reference": spec["client_reference"], "strategy_id": spec["strategy_id"]})

    put = start

    def get(self, query: object, wait: bool | float = False) -> Backtest:
        """GET /portfolio/backtest: the last job of this ``client_reference`` and ``strategy_id``:
        ``Completed`` with the results, ``Started`` while it runs, ``Not Queued`` when none was started
        or the run failed (then ``error`` says why). ``wait`` (True, or seconds) waits for the end."""
        q = read(B.BacktestQuery, query, "backtest query")
        job = self._repo.latest(q.client_reference, q.strategy_id)
        if wait and job is not None and job["status"] == "Started":
            limit = None if wait is True else float(wait)
            began = clock.monotonic()
            while job is not None and job["status"] == "Started" and (limit is None
                                                                    or clock.monotonic() - began < limit):
                clock.sleep(0.05)
                job = self._repo.get(job["job_id"])
        number = self._repo.number(q.client_reference) or 0
        return answer(job, q.client_reference, q.strategy_id, number)

    def jobs(self) -> pd.DataFrame:
        """Every backtest job, latest first: id, portfolio, strategy, period, status, error and times."""
        return pd.DataFrame(self._repo.jobs())

    # ------------------------------------------------------------------ the edge

    def _spec(self, request: object) -> dict:
        payload = payload_of(request, WHAT)
        if isinstance(payload, Mapping) and isinstance(payload.get("start_date"), str) \
                and isinstance(payload.get("end_date"), str) and payload["end_date"] < payload["start_date"]:
            raise ValidationError([Problem("end_date", f"{payload['end_date']} is before start_date "
                                                       f"{payload['start_date']}; give an end on or after the "
                                                       "start")], WHAT)
        q = read(B.BacktestRequest, payload, WHAT)
        if q.end_date < q.start_date:
            raise ValidationError([Problem("end_date", f"{q.end_date} is before start_date {q.start_date}; give "
                                                       "an end on or after the start")], WHAT)
        found = StrategyRepository(self._ctx.db).load(q.strategy_id)
        if not found:
            raise ValidationError([Problem("strategy_id", f"no strategy {q.strategy_id}; see strategies.list() "
                                                          "(GET /strategy)")], WHAT)
        strategy = found[0]
        if not strategy.rules:
            raise ValidationError([Problem("strategy_id", f"strategy {q.strategy_id} ({strategy.name}) has no "
                                                          "rules: give it a portfolio or tactical rule first")], WHAT)
        rules = [read(S.StrategyRule, r, "strategy") for r in strategy.rules]
        portfolio = next((r for r in rules if r.rule.portfolio), None)
        stop_limit = any(r.rule_id in (3, 5) for r in rules)
        if portfolio is not None:
            name, params = from_strategy(portfolio)
            needs = [i for i in PORTFOLIO_RULES[name].inputs if i in ("ohlc", "benchmark")]
            if needs:
                raise ValidationError([Problem("strategy_id", f"strategy {q.strategy_id}'s rule {name} needs "
                                                              f"{' and '.join(needs)}; a backtest re-optimises on "
                                                              "closes: choose another portfolio rule")], WHAT)
            stop_limit = stop_limit or bool(params.include_stop_limit)
        value, capital, currency = self._holdings(q.client_reference)
        ids = [str(i) for i in value.index]
        start, end = self._period(ids, q.start_date.isoformat(), q.end_date.isoformat(), portfolio is not None)
        table = self._instruments.table().set_index("instrument_id")
        meta = {i: {"name": str(table.loc[i, "name"]), "instrument_code": _code(table, i),
                    "currency": str(table.loc[i, "currency"])} for i in ids}
        candles: dict[str, str | None] = {}
        if stop_limit:
            _, chosen, _ = self._rules.candles(ids, int(Timeframe.DAY), end)
            candles = dict(chosen)
        return {"job_id": str(uuid.uuid4()), "client_reference": q.client_reference, "strategy_id": q.strategy_id,
                "start": start, "end": end, "asked": [q.start_date.isoformat(), q.end_date.isoformat()],
                "capital": capital, "currency": currency, "instruments": ids,
                "weights": (value / value.sum()).tolist(), "meta": meta, "rules": strategy.rules,
                "stop_limit": stop_limit, "candles": candles, "frequency": FREQUENCY if portfolio else None,
                "cost_bps": float(self._orders.fees.bps), "min_cost": float(self._orders.fees.minimum)}

    def _holdings(self, reference: str) -> tuple[pd.Series, float, str]:
        """The value (or weight) of each instrument the portfolio holds (positive), its capital and currency:
        a PORTFOLIO account's holdings at the last close and its NAV, or an uploaded portfolio's (PUT
        /portfolio) open positions' value weights and its equity. Long positions only."""
        def refuse(message: str) -> ValidationError:
            return ValidationError([Problem("client_reference", message)], WHAT)

        account = AccountRepository(self._ctx.db).get(reference)
        if account is not None and account.type == "PORTFOLIO":
            try:
                cube = self._accounts.holdings([reference]).isel(portfolio=0, drop=True).isel({TIME: -1})
            except NotFoundError:
                raise refuse(f"account {reference} holds no instruments yet") from None
            value = cube["value"].to_series()
            capital, currency = float(cube["nav"]), account.currency
        elif self._portfolios is not None and self._analytics is not None and self._portfolios.exists(reference):
            weights = self._analytics.weights(reference).isel(portfolio=0, drop=True)
            value = pd.Series(np.asarray(weights.values, dtype=float),
                              index=[str(i) for i in weights["instrument_id"].values])
            if (value < 0).any():
                raise refuse(f"portfolio {reference!r} holds Short positions; backtests are long only")
            status = self._portfolios.capital(reference)
            capital, currency = float(status.equity), status.currency
        else:
            raise refuse(f"{reference!r} is neither a PORTFOLIO account of the book nor a portfolio uploaded with "
                         "PUT /portfolio; see accounts.list(type='PORTFOLIO') and portfolios.list()")
        value = value[value > 0]
        if value.empty:
            raise refuse(f"{reference} holds no instruments yet")
        if not capital > 0:
            raise refuse(f"{reference} is worth {capital:g}; a backtest needs a positive capital")
        return value, capital, currency

    def _period(self, ids: list[str], start: str, end: str, optimised: bool) -> tuple[str, str]:
        """The trading days run: the request's period within the days every holding has a close."""
        since = (pd.Timestamp(start) - pd.Timedelta(days=LOOKBACK_MARGIN)).date().isoformat()
        prices = self._history.prices(ids, start=since, end=end)["close"]
        quoted = prices.notnull().all(INSTRUMENT)
        days = pd.DatetimeIndex(prices[TIME].values[quoted.values])
        inside = days[(days >= pd.Timestamp(start)) & (days <= pd.Timestamp(end))]
        if len(inside) < 2:
            table = self._instruments.table().set_index("instrument_id").loc[ids]
            first, last = table["history_start"].max(), table["history_end"].min()
            held = f"{str(first)[:10]} to {str(last)[:10]}" if first <= last else "no common day"
            raise DataError(f"start_date, end_date: the holdings have closes on {len(inside)} common day(s) between "
                            f"{start} and {end}; choose a period within their common history ({held})")
        if optimised and (days < inside[0]).sum() < MIN_LOOKBACK + 1:
            raise DataError(f"start_date: the portfolio rule needs {MIN_LOOKBACK} daily returns before "
                            f"{inside[0].date()} to optimise on; choose a later start")
        return str(inside[0].date()), str(inside[-1].date())


def _code(table: pd.DataFrame, iid: str) -> str:
    code = table.loc[iid, "code"] if "code" in table.columns else None
    if isinstance(code, str) and code:
        return code
    mic = table.loc[iid, "mic"]
    return f"{table.loc[iid, 'symbol']}_{mic}" if isinstance(mic, str) and mic else str(table.loc[iid, "symbol"])


# =========================================================================== the job


def run(path: str, job_id: str) -> None:
    """Run the job ``job_id`` of the workspace file at ``path`` on a connection of its own: read its spec
    and prices, :func:`compute`, and end it ``Completed`` or ``Failed`` (:func:`_end`). A plain function of
    plain arguments, so any executor (a thread, a ``distributed.Client``) can run it."""
    db = connect(path)
    try:
        repo = BacktestRepository(db)
        job = repo.get(job_id)
        if job is None or job["status"] != "Started":
            return
        try:
            spec = job["spec"]
            closes, bars = load(db, spec)
            result = compute(closes, bars, spec, progress=_noting(repo, job_id))
        except Exception as exc:  # noqa: BLE001 - the job's state says why it failed
            _end(repo, job_id, error=f"{type(exc).__name__}: {exc}")
        else:
            _end(repo, job_id, result=result)
    finally:
        db.close()


def _noting(repo: BacktestRepository, job_id: str, every: float = 0.5) -> Callable[[float], None]:
    """A progress callback that notes a job's fraction done in its row, at most once per ``every`` seconds."""
    last = [float("-inf")]

    def note(fraction: float) -> None:
        if clock.monotonic() - last[0] >= every:
            last[0] = clock.monotonic()
            repo.advance(job_id, fraction)

    return note


def _end(repo: BacktestRepository, job_id: str, result: dict | None = None, error: str | None = None) -> None:
    """The one place a job's state changes after it was queued: ``Completed`` with its result, or
    ``Failed`` with the reason."""
    if error is None:
        repo.finish(job_id, "Completed", now(precise=True), result=result)
    else:
        repo.finish(job_id, "Failed", now(precise=True), error=error)


def _lost(path: str, job_id: str, where: str, future: Any) -> None:
    """A job whose dask task did not end normally (the scheduler or its worker lost, the task cancelled)
    ends ``Failed`` saying so; one that ran is left as :func:`run` ended it."""
    if future.status == "finished":
        return
    db = connect(path)
    try:
        _end(BacktestRepository(db), job_id, error=f"The dask cluster ({where}) lost the backtest's task "
                                                   f"({future.status}); run it again once the scheduler is back.")
    finally:
        db.close()


def load(db: Any, spec: Mapping) -> tuple[xr.DataArray, xr.Dataset | None]:
    """The daily closes of the spec's instruments (from the first day the optimiser may read to the end),
    and the candles its stops and limits are judged on (None without stops and limits)."""
    ids = list(spec["instruments"])
    first = None if spec["frequency"] is None else pd.Timestamp(spec["start"]) - pd.DateOffset(years=2)
    table = InstrumentRepository(db).table().set_index("instrument_id")
    columns = [c for c in ("symbol", "name", "isin", "mic", "currency", "asset_class", "sector", "country")
               if c in table.columns]

    def read_bars(keys: list[str], since: pd.Timestamp | None) -> xr.Dataset:
        long = PriceRepository(db).read(keys, Timeframe.DAY, since, pd.Timestamp(spec["end"]) + pd.Timedelta(days=1))
        return market_history.to_dataset(long, table.loc[keys, columns])

    closes = read_bars(ids, first)["close"]
    series = sorted({s for s in (spec.get("candles") or {}).values() if s})
    bars = read_bars(series, None) if spec["stop_limit"] and series else None
    return closes, bars


def compute(closes: xr.DataArray, bars: xr.Dataset | None, spec: Mapping,
            progress: Callable[[float], None] | None = None) -> dict:
    """The backtest of ``spec`` (see the module docstring) on ``closes`` ``(instrument, time)`` (with the
    history before the period the portfolio rule reads) and the candles ``bars`` ``(instrument, time)`` of
    its stops and limits: the document's answer without its status and ids (``positions``, ``pnLSerie``,
    ``pnL``, ``costs``, ``lowestPnL`` and the statistics), with ``startDate`` and ``endDate``. Pure: one
    :func:`toolkit.backtest.simulate` call (the rule as its ``reoptimise``, the tactical levels as its
    ``stop`` and ``limit``), then :func:`~toolkit.backtest.positions` and
    :func:`~toolkit.backtest.trade_statistics`. ``progress`` is told the fraction of the rebalance dates
    re-optimised so far (the run's time goes to the rule's solver)."""
    ids = list(spec["instruments"])
    closes = closes.sel({INSTRUMENT: ids}).ffill(TIME).dropna(TIME, how="any")
    times = pd.DatetimeIndex(closes.sel({TIME: slice(spec["start"], spec["end"])})[TIME].values)
    if len(times) < 2:
        raise DataError(f"no common closes between {spec['start']} and {spec['end']}")
    rules = [read(S.StrategyRule, r, "strategy") for r in spec["rules"]]
    portfolio = next((r for r in rules if r.rule.portfolio), None)
    policy = Policy(frequency=spec["frequency"])
    weights = xr.DataArray(np.asarray(spec["weights"], dtype=float), dims=INSTRUMENT, coords={INSTRUMENT: ids})
    days = times[policy.calendar(times)]
    stop, limit = _levels(_tactical(rules, spec["stop_limit"]), bars, spec, ids,
                          closes.sel({TIME: days}), float(spec["capital"]))
    rule = None if portfolio is None else _counted(partial(reoptimised, spec["rules"], ids), len(days), progress)
    ds = simulate(closes, weights, policy, start=times[0], end=times[-1], capital=float(spec["capital"]),
                  cost_bps=float(spec["cost_bps"]), min_cost=float(spec["min_cost"]), stop=stop, limit=limit,
                  reoptimise=rule)
    table = positions(ds)
    stats = trade_statistics(ds, table)
    found = []
    for row in table.itertuples(index=False):
        info = spec["meta"][str(row.instrument)]
        found.append({"instrumentName": info["name"], "instrumentCode": info["instrument_code"],
                      "openDate": str(pd.Timestamp(row.open_date).date()),
                      "closeDate": str(pd.Timestamp(row.close_date).date()),
                      "openPrice": float(row.open_price), "closePrice": float(row.close_price),
                      "stop": float(row.stop), "limit": float(row.limit), "costs": float(row.costs),
                      "pnL": float(row.pnl), "currencyCode": info["currency"], "closed": bool(row.closed)})
    serie = stats.pnl_series
    return {"positions": found, **_shown(stats), "costs": float(stats.costs), "lowestPnL": float(stats.lowest_pnl),
            "pnLSerie": [{"date": f"{pd.Timestamp(t).date()}T00:00:00Z", "value": float(v)}
                         for t, v in zip(serie.index, serie.to_numpy())],
            "pnL": float(stats.pnl), "startDate": str(times[0].date()), "endDate": str(times[-1].date())}


def _counted(rule: Callable[[pd.Timestamp, xr.DataArray], xr.DataArray], total: int,
             progress: Callable[[float], None] | None) -> Callable[[pd.Timestamp, xr.DataArray], xr.DataArray]:
    """``rule`` telling ``progress`` after each call the share of the ``total`` rebalance dates done."""
    if progress is None:
        return rule
    done = [0]

    def counted(day: pd.Timestamp, history: xr.DataArray) -> xr.DataArray:
        weights = rule(day, history)
        done[0] += 1
        progress(min(done[0] / max(total, 1), 1.0))
        return weights

    return counted


def reoptimised(rules: list[dict], ids: list[str], day: pd.Timestamp, history: xr.DataArray) -> xr.DataArray:
    """The strategy's portfolio rule on the :data:`LOOKBACK_DAYS` daily returns of ``history`` (the closes up to
    ``day``): the engine's ``reoptimise``. Weights over ``ids``, 0 where the rule holds nothing."""
    rule = next(r for r in (read(S.StrategyRule, r, "strategy") for r in rules) if r.rule.portfolio)
    name, params = from_strategy(rule)
    returns = simple_returns(history.sel({INSTRUMENT: ids})).isel({TIME: slice(1, None)})
    sample = returns.isel({TIME: slice(-LOOKBACK_DAYS, None)}).dropna(TIME, how="any")
    if sample.sizes[TIME] < MIN_LOOKBACK:
        raise DataError(f"{sample.sizes[TIME]} daily returns up to {pd.Timestamp(day).date()} to optimise on; "
                        f"{MIN_LOOKBACK} needed")
    weights = optimise(name, sample, parameters=params).reindex({INSTRUMENT: ids}, fill_value=0.0)
    target = np.clip(np.asarray(weights.values, dtype=float), 0.0, None)
    return xr.DataArray(target / target.sum(), dims=INSTRUMENT, coords={INSTRUMENT: ids})


def _tactical(rules: list[S.StrategyRule], stop_limit: bool) -> dict[int, dict[str, Any]]:
    """The tactical rules that set stops and limits: rule 3 (stop) and 5 (limit), the strategy's
    parameters where it lists them, else the document's defaults; none without stops and limits."""
    if not stop_limit:
        return {}
    listed = read_rules([r for r in rules if r.rule_id in (3, 5)])
    return {rule_id: listed.get(rule_id, values) for rule_id, values in read_rules([3, 5]).items()}


def _levels(tactical: Mapping[int, Mapping[str, Any]], bars: xr.Dataset | None, spec: Mapping, ids: list[str],
            closes: xr.DataArray, funds: float) -> tuple[xr.DataArray | None, xr.DataArray | None]:
    """The stop and limit levels ``(instrument, time)`` set on each rebalance day (the times of ``closes``),
    NaN for none: the tactical rules on each instrument's candles up to that day, a market order at that
    close; an instrument without candles, or with too few that day, has none. None without rules. A Python
    loop over rebalance days, each one :func:`toolkit.signals.tactical.evaluate` call over the instruments."""
    series = spec.get("candles") or {}
    rows = [n for n, i in enumerate(ids) if series.get(i)]
    if not tactical or bars is None or not rows:
        return None, None
    days = pd.DatetimeIndex(closes[TIME].values)
    stop, limit = np.full((len(ids), len(days)), np.nan), np.full((len(ids), len(days)), np.nan)
    price = np.asarray(closes.transpose(INSTRUMENT, TIME).values, dtype=float)
    for k, day in enumerate(days):
        book = xr.Dataset({
            "instrument": ((ORDER,), np.array([series[ids[n]] for n in rows], dtype=object)),
            "direction": ((ORDER,), np.array(["Long"] * len(rows), dtype=object)),
            "level": ((ORDER,), price[rows, k]),
            "size": ((ORDER,), np.ones(len(rows))),
            "funds": ((ORDER,), np.full(len(rows), funds)),
            "timeframe": ((ORDER,), np.full(len(rows), int(Timeframe.DAY))),
        }, coords={ORDER: rows})
        try:
            judged = evaluate(book, bars.sel({TIME: slice(None, day)}), tactical)
        except DataError:  # too few candles up to that day: no stop or limit
            continue
        stop[rows, k] = np.asarray(judged["stop"].values, dtype=float)
        limit[rows, k] = np.asarray(judged["limit"].values, dtype=float)
    coords = {INSTRUMENT: ids, TIME: days}
    return (xr.DataArray(stop, dims=(INSTRUMENT, TIME), coords=coords),
            xr.DataArray(limit, dims=(INSTRUMENT, TIME), coords=coords))


def _shown(stats: TradeStatistics) -> dict[str, str]:
    """The statistics as the document writes them: percentages with two decimals, the duration in days,
    hours and minutes ("N/A" for a ratio without losing positions)."""
    minutes = int(round(stats.average_duration.total_seconds() / 60))
    ratio = stats.profit_loss_ratio
    return {"yearlyReturn": f"{100 * stats.yearly_return:.2f}%",
            "nprofitToTotalRatio": f"{100 * stats.profitable_ratio:.2f}%",
            "avgProfitLossRatio": f"{100 * ratio:.2f}%" if np.isfinite(ratio) else "N/A",
            "averageTradeDuration": f"{minutes // 1440}d {minutes % 1440 // 60}h {minutes % 60}m"}


def answer(job: dict | None, client_reference: str, strategy_id: int, number: int) -> Backtest:
    """GET's answer for a job (None: none was started)."""
    empty = {"positions": [], "yearlyReturn": "0.00%", "costs": 0.0, "lowestPnL": 0.0, "pnLSerie": [],
             "nprofitToTotalRatio": "0.00%", "avgProfitLossRatio": "N/A", "averageTradeDuration": "0d 0h 0m",
             "pnL": 0.0}
    ids = {"portfolioId": number, "strategyId": strategy_id, "clientReference": client_reference}
    if job is None:
        return Backtest(B.BacktestResult(**empty, **ids, status=B.NOT_QUEUED))
    extra = {"jobId": job["job_id"], "startDate": job["start_date"], "endDate": job["end_date"]}
    if job["status"] == "Completed":
        result = dict(job["result"])
        return Backtest(B.BacktestResult(**{**result, **ids, **extra, "status": B.COMPLETED}),
                        capital=float(job["spec"]["capital"]), progress=1.0)
    if job["status"] == "Failed":
        return Backtest(B.BacktestResult(**empty, **ids, **extra, status=B.NOT_QUEUED, error=job["error"]),
                        progress=1.0)
    return Backtest(B.BacktestResult(**empty, **ids, **extra, status=B.STARTED), progress=float(job["progress"]))

