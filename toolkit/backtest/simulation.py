"""Rebalancing backtests, vectorised over portfolios and strategies.

Conventions (those of ``bt`` 1.4, whose source was read to match it, where ``bt`` has the feature;
``tests/test_backtest.py`` checks the NAVs against ``bt`` and ``vectorbt`` 1.2 to 1e-9):

- **Fill price**: every trade fills at that day's close. The decision to rebalance on a day uses the
  weights at that day's close, before trading (the drifted weights of the units held since the last
  rebalance).
- **Day 0**: the capital is invested at the close of the first day of the period, whatever the policy.
- **Calendar days**: ``day="first"`` rebalances on the first trading day of each month, quarter or year
  (a day whose period differs from the previous trading day's, as ``bt.algos.RunMonthly``);
  ``day="last"`` on the last trading day of each period (a day whose period differs from the next
  trading day's, as ``RunMonthly(run_on_end_of_period=True)``). Trading days are the times of the
  price array. As in ``bt`` (``run_on_last_date=False``), the last day of the period is never a
  calendar rebalance day.
- **Drift bands**: ``band_kind="relative", band_scope="line"`` is ``bt.algos.RunIfOutOfBounds``:
  rebalance when any line's ``|w - w*| / |w*|`` exceeds ``band`` (strictly), and a line with a zero
  target is out of its band as soon as its weight is not zero. ``"absolute", "line"``: any
  ``|w - w*| > band``. Whole book (``band_scope="book"``): ``"absolute"`` compares the one-way turnover
  a rebalance needs, ``sum |w - w*| / 2``, with ``band``; ``"relative"`` compares the relative L1
  distance ``sum |w - w*| / sum |w*|`` (twice the former when the targets sum to 1). A calendar and a
  band together rebalance when either says so (``bt.algos.Or``). Weights are of the NAV, cash
  included; a line closed by a stop counts with a target of 0 until the next rebalance.
- **Cooldown** (``Policy.cooldown = k``): after a rebalance on trading day ``d`` the next one is on day
  ``d + k`` at the earliest: a calendar day inside the cooldown is skipped, a band breach inside it
  waits (it rebalances on the first day after the cooldown on which it still holds). Stops and flows
  are not rebalances and ignore the cooldown.
- **Costs** are paid from the portfolio: each trade costs ``max(cost_bps / 1e4 * |traded value|,
  min_cost)`` (no cost when nothing is traded), and after a fractional rebalance the weights are
  exactly the targets and no cash is left: the post-trade NAV ``V'`` solves
  ``V' = V - sum_i cost_i(|w*_i V' - h_i|)`` (a contraction, solved by fixed-point iteration to 1e-12
  relative). ``bt`` handles commissions differently (it leaves the cost as negative cash); the cost case
  is tested against a hand-worked one.
- **Units**: ``units="fractional"`` (``bt``'s ``integer_positions=False``) or ``"whole"``: each line is
  rounded to a whole number of units next to its fractional target ``u* = w* V' / p``: first down,
  ``floor(u*)``, which never overdraws, then lines get one more unit in the order of their remainders
  ``u* - floor(u*)`` (largest first) while the cash left pays for the unit and an upper bound of its
  cost (``p (1 + cost_bps/1e4)``, plus ``min_cost`` if the line was not traded). The cash left over is a
  line of the NAV (``cash``), never negative.
- **Cash flows** (``flows``, deposits positive, withdrawals negative, over ``(time[, portfolio])``) arrive
  at that day's close, after the stops and before the rebalance decision. On a rebalance day the flow
  goes into the cash the rebalance invests. On another day it is traded pro rata to the target weights
  (a line closed by a stop keeps its share in cash): line ``i`` trades ``w*_i F'`` where the net flow
  ``F'`` solves ``F' = F - sum_i cost_i(|w*_i F'|)``, so the cash moves by exactly ``F`` less what the
  trades cost. With whole units a deposit buys ``floor`` and a withdrawal sells ``ceil`` (at most the
  position) of the units. ``twr_nav`` is the flow-adjusted (time-weighted) NAV, ``capital`` compounded at
  the daily returns ``r_t = (nav_t - flow_t) / nav_{t-1} - 1`` (``nav_{-1} = capital``): performance
  unpolluted by the flows, equal to ``nav`` when there are none.
- **Stops and limits** (price levels over ``(instrument[, portfolio][, time])``, NaN for none; a level
  with a time dimension holds from its date until the next one): a long position whose close is at or
  below its stop, or at or above its limit, is sold whole at that day's close, paying the usual costs,
  and its money stays in cash until the next rebalance, which re-arms the line unless that day's close is
  itself beyond a level (then the line's target share stays in cash). The fill is the close of the day
  the level is crossed, not the level itself: the engine sees only closes, so it cannot know whether the
  level traded intraday or the price gapped through it (a fill at the level would flatter every gap), and
  a close fill is what an end-of-day order placed on that close would get.
- **Re-optimisation** (``reoptimise(date, history)``): the portfolio rule is called on day 0 and on each
  calendar rebalance day, with the closes of the weights' instruments up to and including that day (also
  before ``start``), and its weights become the targets from that rebalance on (band rebalances use the
  latest targets). One call per distinct calendar rebalance date: an O(rebalances) Python loop over the
  user's callable, which is where its cost is.
- **Order math** (``order_math(units, cash, price, target) -> (units, cash)``, arrays ``(run,
  instrument)``, ``(run,)``, ``(run, instrument)``, ``(run, instrument)``): when given, every rebalance is
  the caller's exact order math (the workspace passes the trading engine's), and its costs are whatever
  value it does not return (``V - sum(units p) - cash``); its rounding replaces ``units``' at rebalances, and
  stops and flows still use ``cost_bps``/``min_cost`` and ``units``.
- **Turnover** on a day is the traded value (buys plus sells: rebalances, stops and flows) divided by the
  value before trading (holdings at the close, cash and the day's flow): the initial investment has
  turnover 1 less the costs' share of the capital.

Work: without hooks, a compiled day loop (:mod:`toolkit.backtest.kernel`, numba) walks each run's days, runs
spread over threads; path dependence makes a run's days sequential, and the loop is O(runs x days x
instruments) with no Python per day. With a hook (``reoptimise``, ``order_math``), or ``engine="events"``, a
Python loop runs over events (rebalances, stops, flows), each step an array operation across every
(portfolio, strategy) run at once; between events, band breaches, level crossings and flows are searched in
a window of days that doubles while nothing is found, so that loop is O(events + log(days)), never a loop
over portfolios or instruments. Both loops give the same results to 1e-12 (tests/test_backtest.py). The
prices are read into memory (a path-dependent simulation needs them); the weights and results may have any
number of extra dimensions, and ``lines=False`` leaves out the per-instrument arrays of a large batch.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from toolkit.errors import DataError, Problem, ValidationError
from toolkit.schema import INSTRUMENT, TIME

#: the dimension of the policies when several run at once
STRATEGY = "strategy"
FREQUENCIES = ("monthly", "quarterly", "yearly")
DAYS = ("first", "last")
BAND_KINDS = ("relative", "absolute")
BAND_SCOPES = ("line", "book")
UNITS = ("fractional", "whole")
#: how far the target weights of one portfolio may sum away from 1
WEIGHT_SUM_TOLERANCE = 1e-9
#: elements (runs x days x instruments) of one block of the search between events
_SCAN_BLOCK = 4_000_000

#: ``reoptimise(date, history)``: the target weights (instrument[, extra]) for a rebalance on ``date``
Reoptimise = Callable[[pd.Timestamp, xr.DataArray], xr.DataArray]
#: ``order_math(units, cash, price, target)`` -> ``(units, cash)`` after the rebalance's orders and fees
OrderMath = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Policy:
    """A rebalancing policy: a calendar, a drift band, both, or neither (buy and hold).

    Parameters
    ----------
    frequency : {"monthly", "quarterly", "yearly"} or None
        The calendar; None rebalances on no calendar day.
    day : {"first", "last"}
        Rebalance on the first or the last trading day of each period.
    band : float or None
        The drift tolerance as a fraction (0.05 is 5%); None for no band.
    band_kind : {"relative", "absolute"}
        How a deviation is measured (see the module's conventions).
    band_scope : {"line", "book"}
        Any line out of its band, or the whole book's distance from its targets.
    cooldown : int
        The minimum number of trading days between two rebalances (0 or 1: none).
    """

    frequency: str | None = None
    day: str = "first"
    band: float | None = None
    band_kind: str = "relative"
    band_scope: str = "line"
    cooldown: int = 0

    def problems(self, path: str) -> list[Problem]:
        """Every problem of this policy, named by field path under ``path``."""
        found = []
        if self.frequency is not None and self.frequency not in FREQUENCIES:
            found.append(Problem(f"{path}.frequency",
                                 f"unknown frequency {self.frequency!r}; use one of {', '.join(FREQUENCIES)} or None"))
        if self.day not in DAYS:
            found.append(Problem(f"{path}.day", f"unknown day {self.day!r}; use 'first' or 'last'"))
        if self.band is not None and not (isinstance(self.band, int | float) and np.isfinite(self.band)
                                          and self.band > 0):
            found.append(Problem(f"{path}.band", f"the band must be a positive fraction, not {self.band!r}"))
        if self.band_kind not in BAND_KINDS:
            found.append(Problem(f"{path}.band_kind",
                                 f"unknown band kind {self.band_kind!r}; use 'relative' or 'absolute'"))
        if self.band_scope not in BAND_SCOPES:
            found.append(Problem(f"{path}.band_scope", f"unknown band scope {self.band_scope!r}; use 'line' or 'book'"))
        if isinstance(self.cooldown, bool) or not isinstance(self.cooldown, int | np.integer) or self.cooldown < 0:
            found.append(Problem(f"{path}.cooldown",
                                 f"the cooldown is a whole number of trading days >= 0, not {self.cooldown!r}"))
        return found

    def calendar(self, times: pd.DatetimeIndex) -> np.ndarray:
        """The calendar rebalance days among ``times`` (bool, shape ``(time,)``); day 0 always."""
        mask = np.zeros(len(times), dtype=bool)
        mask[0] = True
        if self.frequency is None or len(times) < 3:
            return mask
        per_year = {"monthly": 12, "quarterly": 4, "yearly": 1}[self.frequency]
        key = np.asarray(times.year) * per_year + (np.asarray(times.month) - 1) * per_year // 12
        change = key[1:] != key[:-1]  # change[i]: period of day i+1 differs from day i's
        if self.day == "first":
            mask[1:-1] = change[:-1]
        else:
            mask[1:-1] = change[1:]
        return mask


def simulate(prices: xr.DataArray | xr.Dataset, weights: xr.DataArray,
             policy: Policy | Mapping[str, Policy], *, start: Any = None, end: Any = None,
             capital: float = 1_000_000.0, cost_bps: float = 0.0, min_cost: float = 0.0,
             units: str = "fractional", flows: xr.DataArray | None = None, stop: xr.DataArray | None = None,
             limit: xr.DataArray | None = None, reoptimise: Reoptimise | None = None,
             order_math: OrderMath | None = None, lines: bool = True, engine: str = "auto") -> xr.Dataset:
    """Backtest target weights under one or several rebalancing policies.

    Parameters
    ----------
    prices : xr.DataArray or xr.Dataset
        Closes over ``(instrument, time)`` (a Dataset's ``close`` variable), positive and complete over
        the period for every instrument the weights name.
    weights : xr.DataArray
        Target weights over ``(instrument,)`` plus any extra dimensions (e.g. ``portfolio``); each
        portfolio's weights sum to 1 (fully invested, no cash line).
    policy : Policy or mapping of name to Policy
        One policy, or several run at once along a ``strategy`` dimension labelled by the names.
    start, end : date-like, optional
        The period (inclusive); defaults to the whole price history.
    capital : float
        The money invested at the first close, in the prices' currency.
    cost_bps : float
        Cost of a trade in basis points of its traded value.
    min_cost : float
        Minimum cost of a trade, in the prices' currency.
    units : {"fractional", "whole"}
        Fractional units, or whole units with the leftover in cash (see the module's conventions).
    flows : xr.DataArray, optional
        Deposits (+) and withdrawals (-) over ``(time[, *extra])``, on trading days of the period.
    stop, limit : xr.DataArray, optional
        Stop and limit price levels over ``(instrument[, *extra][, time])``; NaN for none.
    reoptimise : callable, optional
        ``reoptimise(date, history) -> weights``: the portfolio rule, called on day 0 and each calendar
        rebalance day with the closes ``(instrument, time)`` up to that day; returns weights shaped as
        ``weights``.
    order_math : callable, optional
        ``order_math(units, cash, price, target) -> (units, cash)`` on arrays ``(run, instrument)`` and
        ``(run,)``: the exact order math of every rebalance (its fees are its own).
    lines : bool
        Whether to return ``units`` and ``weights`` (``(..., instrument, time)``, the memory of the
        result); False keeps only the per-run series.
    engine : {"auto", "compiled", "events"}
        The compiled day loop (``"auto"`` when there is no hook) or the Python event loop (needed by the
        hooks; the compiled loop agrees with it to 1e-12).

    Returns
    -------
    xr.Dataset
        ``nav``, ``cash``, ``twr_nav`` and ``flow`` (``(strategy?, *extra, time)``, after the day's trades
        and costs), ``weights`` and ``units`` (``(strategy?, *extra, instrument, time)``, end of day),
        ``turnover``, ``traded`` (value bought plus sold), ``costs`` and ``rebalanced``
        (``(strategy?, *extra, time)``); ``close`` (``(instrument, time)``, the closes of the period);
        ``stop`` and ``limit`` (the levels in force, ``(*extra?,
        instrument, time?)``) when given. Attributes ``capital``, ``cost_bps``, ``min_cost``, ``units``
        and ``order_math`` record the run.

    Raises
    ------
    ValidationError
        A bad policy, weights that do not sum to 1 or name unknown instruments, an end before the
        start, a bad capital, cost, units, flows or levels; each problem names its field.
    DataError
        No prices in the period, missing or non-positive prices, withdrawals beyond the NAV, or a
        re-optimisation that returns unusable weights.
    """
    policies, names = _policies(policy)
    closes = prices["close"] if isinstance(prices, xr.Dataset) else prices
    problems = [p for path, pol in policies for p in pol.problems(path)]
    problems += _check_numbers(capital, cost_bps, min_cost)
    if engine not in ("auto", "compiled", "events"):
        problems.append(Problem("engine", f"unknown engine {engine!r}; use 'auto', 'compiled' or 'events'"))
    elif engine == "compiled" and (reoptimise is not None or order_math is not None):
        problems.append(Problem("engine", "the compiled engine cannot call reoptimise or order_math; use 'auto'"))
    if units not in UNITS:
        problems.append(Problem("units", f"unknown units {units!r}; use 'fractional' or 'whole'"))
    first, last = _period(start, end, problems)
    problems += _check_weights(weights, closes)
    if problems:
        raise ValidationError(problems, "backtest")
    instruments = weights[INSTRUMENT].values
    history = closes.sel({INSTRUMENT: instruments}).transpose(INSTRUMENT, TIME)
    closes = history.sel({TIME: slice(first, last)}).transpose(TIME, INSTRUMENT)
    if closes.sizes[TIME] == 0:
        raise DataError(f"No prices between start={first} and end={last}: choose a period the prices cover.")
    price = np.asarray(closes.values, dtype=float)
    bad = ~np.isfinite(price) | (price <= 0)
    if bad.any():
        t, i = np.argwhere(bad)[0]
        raise DataError(f"prices[instrument={instruments[i]}, time={closes[TIME].values[t]}] is "
                        f"{price[t, i]}: every close in the period must be a positive number.")
    times = pd.DatetimeIndex(closes[TIME].values)
    extra = [d for d in weights.dims if d != INSTRUMENT]
    template = weights.isel({INSTRUMENT: 0}, drop=True)
    levels = {name: _levels(value, name, template, extra, instruments, times, problems)
              for name, value in (("stop", stop), ("limit", limit)) if value is not None}
    flow = _flows(flows, template, extra, times, problems) if flows is not None else None
    if problems:
        raise ValidationError(problems, "backtest")
    target = np.asarray(weights.transpose(*extra, INSTRUMENT).values, dtype=float).reshape(-1, len(instruments))
    market = _Market(price=price, times=times, stop=_lines(levels.get("stop"), extra, -np.inf),
                     limit=_lines(levels.get("limit"), extra, np.inf),
                     flows=None if flow is None else np.asarray(flow.values, dtype=float).reshape(-1, len(times)),
                     history=history, weights=weights, extra=extra)
    state = _Engine(market, target, [pol for _, pol in policies], capital, cost_bps / 1e4, min_cost,
                    units == "whole", reoptimise, order_math)
    hooks = reoptimise is not None or order_math is not None
    arrays = state.run(lines) if engine == "events" or hooks else state.compiled(lines)
    ds = _dataset(arrays, weights, extra, names, closes)
    ds["close"] = xr.DataArray(price.T, dims=(INSTRUMENT, TIME))  # small: (instrument, time)
    for name, value in levels.items():
        if value is not None:
            ds[name] = value.drop_vars([c for c in value.coords if c not in value.dims])
    ds.attrs.update(capital=float(capital), cost_bps=float(cost_bps), min_cost=float(min_cost), units=units,
                    order_math=int(order_math is not None))
    return ds


def _policies(policy: Policy | Mapping[str, Policy]) -> tuple[list[tuple[str, Policy]], list[str] | None]:
    if isinstance(policy, Policy):
        return [("policy", policy)], None
    if not isinstance(policy, Mapping) or not policy:
        raise ValidationError([Problem("policy", "give a Policy or a non-empty mapping of names to Policy")],
                              "backtest")
    bad = [Problem(f"policy[{k}]", "not a Policy") for k, v in policy.items() if not isinstance(v, Policy)]
    if bad:
        raise ValidationError(bad, "backtest")
    return [(f"policy[{k}]", v) for k, v in policy.items()], [str(k) for k in policy]


def _check_numbers(capital: float, cost_bps: float, min_cost: float) -> list[Problem]:
    found = []
    for name, value, positive in (("capital", capital, True), ("cost_bps", cost_bps, False),
                                  ("min_cost", min_cost, False)):
        ok = isinstance(value, int | float) and np.isfinite(value) and (value > 0 if positive else value >= 0)
        if not ok:
            found.append(Problem(name, f"must be a {'positive' if positive else 'non-negative'} number, not {value!r}"))
    if not found and cost_bps >= 1e4:
        found.append(Problem("cost_bps", "a cost of 100% or more of the traded value leaves nothing to invest"))
    return found


def _period(start: Any, end: Any, problems: list[Problem]) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    read: dict[str, pd.Timestamp | None] = {}
    for name, value in (("start", start), ("end", end)):
        try:
            read[name] = None if value is None else pd.Timestamp(value)
        except (ValueError, TypeError):
            problems.append(Problem(name, f"{value!r} is not a date; use YYYY-MM-DD"))
            read[name] = None
    first, last = read["start"], read["end"]
    if first is not None and last is not None and last < first:
        problems.append(Problem("end", f"the end {last.date()} is before the start {first.date()}"))
    return first, last


def _check_weights(weights: xr.DataArray, closes: xr.DataArray, path: str = "weights") -> list[Problem]:
    if not isinstance(weights, xr.DataArray) or INSTRUMENT not in weights.dims:
        return [Problem(path, f"give the target weights as a DataArray with an {INSTRUMENT!r} dimension")]
    if not isinstance(closes, xr.DataArray) or set(closes.dims) != {INSTRUMENT, TIME}:
        return [Problem("prices", f"give closes over ({INSTRUMENT}, {TIME})")]
    found = []
    unknown = sorted(set(weights[INSTRUMENT].values.tolist()) - set(closes[INSTRUMENT].values.tolist()))
    if unknown:
        found.append(Problem(f"{path}.instrument", f"no prices for {', '.join(map(str, unknown))}"))
    values = np.asarray(weights.values, dtype=float)
    if not np.isfinite(values).all():
        found.append(Problem(path, "every weight must be a finite number"))
        return found
    extra = [d for d in weights.dims if d != INSTRUMENT]
    sums = weights.sum(INSTRUMENT)
    off = np.abs(np.asarray(sums.values) - 1) > WEIGHT_SUM_TOLERANCE
    for idx in np.argwhere(np.atleast_1d(off))[:10] if extra else ([()] if off else []):
        where = ", ".join(f"{d}={sums[d].values[i]}" for d, i in zip(extra, idx, strict=True))
        total = float(np.asarray(sums.values)[tuple(idx)])
        found.append(Problem(f"{path}[{where}]" if where else path, f"the weights sum to {total:.12g}, not 1"))
    return found


def _levels(levels: Any, name: str, template: xr.DataArray, extra: list[Hashable], instruments: np.ndarray,
            times: pd.DatetimeIndex, problems: list[Problem]) -> xr.DataArray | None:
    """Stop or limit levels aligned to ``(*extra, instrument[, time])`` (NaN where none), or None if bad."""
    if not isinstance(levels, xr.DataArray) or INSTRUMENT not in levels.dims:
        problems.append(Problem(name, f"give the levels as a DataArray over ({INSTRUMENT}[, portfolio][, {TIME}])"))
        return None
    stray = [d for d in levels.dims if d not in (INSTRUMENT, TIME, *extra)]
    if stray:
        problems.append(Problem(name, f"unknown dimensions {', '.join(map(str, stray))}; the weights have "
                                      f"{', '.join(map(str, extra)) or 'none'}"))
        return None
    unknown = sorted(set(levels[INSTRUMENT].values.tolist()) - set(instruments.tolist()))
    if unknown:
        problems.append(Problem(f"{name}.instrument", f"not in the weights: {', '.join(map(str, unknown))}"))
        return None
    values = np.asarray(levels.values, dtype=float)
    if (values[np.isfinite(values)] < 0).any() or np.isneginf(values).any():
        problems.append(Problem(name, "a level is a price >= 0 (NaN for none)"))
        return None
    aligned = levels.astype(float).reindex({INSTRUMENT: instruments})
    if TIME in levels.dims:
        aligned = aligned.sortby(TIME).reindex({TIME: times}, method="ffill")
    aligned = xr.broadcast(aligned, template)[0]
    return aligned.transpose(*extra, INSTRUMENT, *([TIME] if TIME in levels.dims else []))


def _lines(levels: xr.DataArray | None, extra: list[Hashable], none: float) -> np.ndarray | None:
    """Levels as ``(book, time or 1, instrument)`` with ``none`` where NaN."""
    if levels is None:
        return None
    has_time = TIME in levels.dims
    array = np.asarray(levels.transpose(*extra, *([TIME] if has_time else []), INSTRUMENT).values, dtype=float)
    array = array.reshape(-1, levels.sizes[TIME] if has_time else 1, levels.sizes[INSTRUMENT])
    return np.where(np.isnan(array), none, array)


def _flows(flows: Any, template: xr.DataArray, extra: list[Hashable], times: pd.DatetimeIndex,
           problems: list[Problem]) -> xr.DataArray | None:
    """Flows aligned to ``(*extra, time)`` (0 on days without one), or None if bad."""
    if not isinstance(flows, xr.DataArray) or TIME not in flows.dims:
        problems.append(Problem("flows", f"give the flows as a DataArray over ({TIME}[, portfolio])"))
        return None
    stray = [d for d in flows.dims if d not in (TIME, *extra)]
    if stray:
        problems.append(Problem("flows", f"unknown dimensions {', '.join(map(str, stray))}"))
        return None
    values = np.asarray(flows.values, dtype=float)
    if not np.isfinite(values).all():
        problems.append(Problem("flows", "every flow must be a finite number (0 for none)"))
        return None
    stamps = pd.DatetimeIndex(flows[TIME].values)
    moving = (flows != 0).any([d for d in flows.dims if d != TIME]).values if flows.ndim > 1 else values != 0
    off = stamps[moving & ~stamps.isin(times)]
    if len(off):
        problems.append(Problem("flows.time", f"{off[0].date()} is not a trading day of the period; "
                                              "date each flow on a trading day"))
        return None
    aligned = flows.astype(float).reindex({TIME: times}, fill_value=0.0)
    return xr.broadcast(aligned, template)[0].transpose(*extra, TIME)


@dataclass(frozen=True)
class _Market:
    """What the engine reads: closes ``(time, instrument)``, levels ``(book, time|1, instrument)``, flows
    ``(book, time)``, and what a re-optimisation needs."""

    price: np.ndarray
    times: pd.DatetimeIndex
    stop: np.ndarray | None
    limit: np.ndarray | None
    flows: np.ndarray | None
    history: xr.DataArray
    weights: xr.DataArray
    extra: list[Hashable]


def _band_breach(w: np.ndarray, target: np.ndarray, band: np.ndarray, kind: np.ndarray,
                 scope: np.ndarray) -> np.ndarray:
    """Whether weights ``w`` ``(run, day, instrument)`` are out of band around ``target`` ``(run,
    instrument)`` (result ``(run, day)``)."""
    dev = np.abs(w - target[:, None, :])
    tgt = np.abs(target)[:, None, :]
    band = band[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        rel_line = np.where(tgt == 0, w != 0, dev / tgt > band[..., None]).any(-1)
    abs_line = (dev > band[..., None]).any(-1)
    book_rel = dev.sum(-1) / tgt.sum(-1) > band
    book_abs = dev.sum(-1) / 2 > band
    line = np.where(kind[:, None] == 0, rel_line, abs_line)
    book = np.where(kind[:, None] == 0, book_rel, book_abs)
    return np.where(scope[:, None] == 0, line, book)


def _solve(fixed: Callable[[np.ndarray], np.ndarray], start: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """The fixed point ``x = fixed(x)`` of a contraction, by iteration to 1e-12 of ``scale``."""
    x = start.copy()
    for _ in range(200):
        new = fixed(x)
        done = np.abs(new - x) <= 1e-12 * np.abs(scale)
        x = new
        if done.all():
            break
    return x


def _line_costs(trade: np.ndarray, bps: float, minimum: float, scale: np.ndarray) -> np.ndarray:
    """Cost of each trade of value ``|trade|``: ``max(bps |trade|, minimum)``, 0 below 1e-12 of ``scale``."""
    size = np.abs(trade)
    return np.where(size > 1e-12 * scale[:, None], np.maximum(bps * size, minimum), 0.0)


class _Engine:
    """The state of every run (strategy-major: run ``s * books + b``) and the event loop."""

    def __init__(self, market: _Market, target: np.ndarray, policies: list[Policy], capital: float, bps: float,
                 minimum: float, whole: bool, reoptimise: Reoptimise | None, order_math: OrderMath | None) -> None:
        self.m = market
        self.n_time, self.n_inst = market.price.shape
        self.n_book, self.n_strat = target.shape[0], len(policies)
        runs = self.n_book * self.n_strat
        self.strat_of = np.repeat(np.arange(self.n_strat), self.n_book)
        self.book_of = np.tile(np.arange(self.n_book), self.n_strat)
        self.capital, self.bps, self.minimum, self.whole = capital, bps, minimum, whole
        self.reoptimise, self.order_math = reoptimise, order_math
        self.calendar = np.stack([p.calendar(market.times) for p in policies])
        marked = np.where(self.calendar, np.arange(self.n_time), self.n_time)
        # next_cal[s, t]: the first calendar day >= t (n_time if none)
        self.next_cal = np.concatenate([np.minimum.accumulate(marked[:, ::-1], axis=1)[:, ::-1],
                                        np.full((self.n_strat, 2), self.n_time)], axis=1)
        self.has_band = np.array([p.band is not None for p in policies])[self.strat_of]
        self.band = np.array([p.band if p.band is not None else np.inf for p in policies])[self.strat_of]
        self.kind = np.array([BAND_KINDS.index(p.band_kind) for p in policies])[self.strat_of]
        self.scope = np.array([BAND_SCOPES.index(p.band_scope) for p in policies])[self.strat_of]
        self.cooldown = np.array([max(p.cooldown, 1) for p in policies])[self.strat_of]
        self.levels = market.stop is not None or market.limit is not None
        moving = (market.flows != 0).any(1)[self.book_of] if market.flows is not None else np.zeros(runs, bool)
        self.watch = self.has_band | self.levels | moving
        self.units = np.zeros((runs, self.n_inst))
        self.cash = np.full(runs, float(capital))
        self.tgt = np.tile(target, (self.n_strat, 1))
        self.out = np.zeros((runs, self.n_inst), dtype=bool)  # lines closed by a stop until the next rebalance
        self.ready = np.zeros(runs, dtype=int)  # first day a rebalance may happen (the cooldown)
        self.events: dict[str, list[np.ndarray]] = {k: [] for k in ("run", "day", "units", "cash", "costs",
                                                                   "traded", "before", "rebalanced")}
        self._targets: dict[int, np.ndarray] = {}

    # ------------------------------------------------------------------ market lookups
    def _level(self, which: str, rows: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Levels for ``rows`` on ``days`` (same leading shape), ``(..., instrument)``."""
        table = getattr(self.m, which)
        none = -np.inf if which == "stop" else np.inf
        if table is None:
            return np.full((*days.shape, self.n_inst), none)
        books = self.book_of[rows].reshape(rows.shape + (1,) * (days.ndim - rows.ndim))
        return table[books, days if table.shape[1] > 1 else 0]

    def _crossed(self, rows: np.ndarray, days: np.ndarray, px: np.ndarray, held: np.ndarray) -> np.ndarray:
        """Held lines whose close is at or beyond a level, ``(..., instrument)``."""
        beyond = (px <= self._level("stop", rows, days)) | (px >= self._level("limit", rows, days))
        return beyond & (held > 0)

    # ------------------------------------------------------------------ the loop
    def run(self, lines: bool) -> dict[str, np.ndarray]:
        runs = self.units.shape[0]
        self._step(np.arange(runs), np.zeros(runs, dtype=int), np.ones(runs, dtype=bool))
        scan = np.ones(runs, dtype=int)
        width = np.full(runs, 32)
        while True:
            act = np.flatnonzero(scan < self.n_time)
            if act.size == 0:
                break
            first = scan[act]
            cal = self.next_cal[self.strat_of[act], np.minimum(np.maximum(first, self.ready[act]), self.n_time)]
            end = np.where(self.watch[act], np.minimum(cal, first + width[act]), cal)
            found = np.full(act.size, self.n_time)
            look = self.watch[act] & (end > first)
            if look.any():
                found[look] = self._search(act[look], first[look], end[look])
            event = np.minimum(found, np.where(end == cal, cal, self.n_time))
            hit = event < self.n_time
            if hit.any():
                self._step(act[hit], event[hit], event[hit] == cal[hit])
                scan[act[hit]] = event[hit] + 1
                width[act[hit]] = 32
            miss = act[~hit]
            scan[miss] = np.where(end[~hit] >= cal[~hit], self.n_time, end[~hit])
            width[miss] *= 2
        return self._series(lines)

    def _search(self, rows: np.ndarray, first: np.ndarray, end: np.ndarray) -> np.ndarray:
        """The first day in ``[first, end)`` with a band breach (after the cooldown), a level crossed or a
        flow, for each of ``rows`` (``n_time`` if none)."""
        out = np.full(rows.size, self.n_time)
        span = int((end - first).max())
        block = max(1, _SCAN_BLOCK // max(1, span * self.n_inst))
        for lo in range(0, rows.size, block):
            r, f, e = rows[lo:lo + block], first[lo:lo + block], end[lo:lo + block]
            days = f[:, None] + np.arange(span)
            hit = days < e[:, None]
            days = np.minimum(days, self.n_time - 1)
            px = self.m.price[days]
            held = self.units[r][:, None, :] * px
            cond = np.zeros(hit.shape, dtype=bool)
            band = self.has_band[r]
            if band.any():
                nav = held.sum(-1) + self.cash[r][:, None]
                w = held / nav[..., None]
                target = np.where(self.out[r], 0.0, self.tgt[r])
                cond |= (_band_breach(w, target, self.band[r], self.kind[r], self.scope[r])
                         & band[:, None] & (days >= self.ready[r][:, None]))
            if self.levels:
                cond |= self._crossed(r, days, px, np.broadcast_to(self.units[r][:, None, :], px.shape)).any(-1)
            if self.m.flows is not None:
                cond |= self.m.flows[self.book_of[r][:, None], days] != 0
            cond &= hit
            out[lo:lo + block] = np.where(cond.any(1), f + cond.argmax(1), self.n_time)
        return out

    def _step(self, rows: np.ndarray, day: np.ndarray, calendar: np.ndarray) -> None:
        """Everything that happens on ``day`` to each of ``rows``: stops, flows, then a rebalance if the
        calendar or the band says so."""
        px = self.m.price[day]
        flow = self.m.flows[self.book_of[rows], day] if self.m.flows is not None else np.zeros(rows.size)
        before = (self.units[rows] * px).sum(-1) + self.cash[rows] + flow
        costs = np.zeros(rows.size)
        traded = np.zeros(rows.size)
        if self.levels:
            crossed = self._crossed(rows, day, px, self.units[rows])
            proceeds = np.where(crossed, self.units[rows] * px, 0.0)
            fee = _line_costs(proceeds, self.bps, self.minimum, before).sum(-1)
            self.cash[rows] += proceeds.sum(-1) - fee
            self.units[rows] = np.where(crossed, 0.0, self.units[rows])
            self.out[rows] |= crossed
            costs += fee
            traded += proceeds.sum(-1)
        if self.reoptimise is not None and calendar.any():
            for d in np.unique(day[calendar]):
                chosen = rows[calendar & (day == d)]
                self.tgt[chosen] = self._reoptimised(int(d))[self.book_of[chosen]]
        # a flow on a rebalance day is cash the rebalance invests; on another day it is traded pro rata
        rebalance = calendar.copy()
        fund = ~rebalance & (flow != 0)
        self.cash[rows[~fund]] += flow[~fund]
        if fund.any():
            fee, value = self._flow(rows[fund], px[fund], flow[fund], before[fund])
            costs[fund] += fee
            traded[fund] += value
        band = ~rebalance & self.has_band[rows] & (day >= self.ready[rows])
        if band.any():
            r = rows[band]
            held = self.units[r] * px[band]
            w = held / (held.sum(-1) + self.cash[r])[:, None]
            target = np.where(self.out[r], 0.0, self.tgt[r])
            rebalance[band] = _band_breach(w[:, None, :], target, self.band[r], self.kind[r], self.scope[r])[:, 0]
        if rebalance.any():
            fee, value = self._rebalance(rows[rebalance], day[rebalance], px[rebalance])
            costs[rebalance] += fee
            traded[rebalance] += value
            self.ready[rows[rebalance]] = day[rebalance] + self.cooldown[rows[rebalance]]
        nav = (self.units[rows] * px).sum(-1) + self.cash[rows]
        if (nav <= 0).any():
            i = int(np.argmax(nav <= 0))
            raise DataError(f"On {self.m.times[day[i]].date()} the NAV of run {rows[i]} falls to {nav[i]:.2f}: "
                            "the flows withdraw more than the portfolio holds.")
        for key, value in (("run", rows), ("day", day), ("units", self.units[rows].copy()),
                           ("cash", self.cash[rows].copy()), ("costs", costs), ("traded", traded),
                           ("before", before), ("rebalanced", rebalance)):
            self.events[key].append(value)

    def _reoptimised(self, day: int) -> np.ndarray:
        """The portfolio rule's targets on ``day`` as ``(book, instrument)`` (one call per date)."""
        if day not in self._targets:
            assert self.reoptimise is not None
            when = self.m.times[day]
            answer = self.reoptimise(when, self.m.history.sel({TIME: slice(None, when)}))
            path = f"reoptimise({when.date()})"
            if isinstance(answer, xr.DataArray) and INSTRUMENT in answer.dims:
                answer = answer.reindex({INSTRUMENT: self.m.weights[INSTRUMENT].values}, fill_value=0.0)
                if set(answer.dims) != set(self.m.weights.dims):
                    raise DataError(f"{path} returned dimensions {answer.dims}; the weights have {self.m.weights.dims}")
            problems = _check_weights(answer, self.m.history, path)
            if problems:
                raise DataError(f"The portfolio rule returned unusable weights: {'; '.join(map(str, problems))}.")
            aligned = answer.transpose(*self.m.extra, INSTRUMENT)
            self._targets[day] = np.asarray(aligned.values, dtype=float).reshape(-1, self.n_inst)
        return self._targets[day]

    def _flow(self, rows: np.ndarray, px: np.ndarray, flow: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray,
                                                                                                    np.ndarray]:
        """Trade each flow pro rata to the live targets; return its costs and traded value."""
        target = np.where(self.out[rows], 0.0, self.tgt[rows])
        live = np.abs(target) > 0
        bps, minimum = self.bps, self.minimum

        def net(x: np.ndarray) -> np.ndarray:
            return flow - np.where(live, np.maximum(bps * np.abs(target * x[:, None]), minimum), 0.0).sum(-1)

        amount = _solve(net, flow, scale) if (bps > 0 or minimum > 0) else flow
        amount = np.where(np.sign(amount) == np.sign(flow), amount, 0.0)  # a flow its costs would eat stays cash
        change = target * amount[:, None] / px
        if self.whole:
            change = np.where(change > 0, np.floor(change), -np.minimum(np.ceil(-change), self.units[rows]))
        value = change * px
        fee = _line_costs(value, bps, minimum, scale).sum(-1)
        self.units[rows] += change
        self.cash[rows] += flow - value.sum(-1) - fee
        return fee, np.abs(value).sum(-1)

    def _rebalance(self, rows: np.ndarray, day: np.ndarray, px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Bring ``rows`` to their targets at the close ``px``; return the costs and the traded value."""
        units = self.units[rows]
        held = units * px
        value = held.sum(-1) + self.cash[rows]
        blocked = (px <= self._level("stop", rows, day)) | (px >= self._level("limit", rows, day))
        target = np.where(blocked, 0.0, self.tgt[rows])
        self.out[rows] = blocked
        if self.order_math is not None:
            new, cash = self.order_math(units.copy(), self.cash[rows].copy(), px.copy(), target.copy())
            new, cash = np.asarray(new, dtype=float), np.asarray(cash, dtype=float)
            fee = value - (new * px).sum(-1) - cash
        else:
            bps, minimum = self.bps, self.minimum
            after = value
            if bps > 0 or minimum > 0:
                after = _solve(lambda v: value - _line_costs(target * v[:, None] - held, bps, minimum, value).sum(-1),
                               value, value)
            new = target * after[:, None] / px
            if self.whole:
                new = self._whole(new, units, px, value)
                fee = _line_costs((new - units) * px, bps, minimum, value).sum(-1)
                cash = value - fee - (new * px).sum(-1)
            else:
                fee = value - after
                cash = after * (1 - target.sum(-1))
        self.units[rows] = new
        self.cash[rows] = cash
        return fee, (np.abs(new - units) * px).sum(-1)

    def _whole(self, ideal: np.ndarray, units: np.ndarray, px: np.ndarray, value: np.ndarray) -> np.ndarray:
        """Whole units next to ``ideal``: floor, then one more unit by largest remainder while cash lasts."""
        base = np.floor(ideal)
        fee = _line_costs((base - units) * px, self.bps, self.minimum, value).sum(-1)
        left = value - fee - (base * px).sum(-1)
        rest = ideal - base
        order = np.argsort(-rest, axis=1, kind="stable")
        price = np.take_along_axis(px, order, 1)
        untraded = np.take_along_axis(base == units, order, 1)
        extra = price * (1 + self.bps) + np.where(untraded, self.minimum, 0.0)
        wanted = np.take_along_axis(rest, order, 1) > 0
        take = np.cumprod(wanted & (np.cumsum(extra, 1) <= left[:, None]), axis=1).astype(bool)
        add = np.zeros_like(base)
        np.put_along_axis(add, order, take.astype(float), 1)
        return base + add

    # ------------------------------------------------------------------ results
    def _series(self, lines: bool) -> dict[str, np.ndarray]:
        ev = {k: np.concatenate(v) for k, v in self.events.items()}
        runs, n_time = self.units.shape[0], self.n_time
        marker = np.full((runs, n_time), -1)
        marker[ev["run"], ev["day"]] = np.arange(ev["run"].size)
        latest = np.maximum.accumulate(marker, axis=1)
        held_units = ev["units"][latest]  # (run, time, instrument)
        cash = ev["cash"][latest]
        nav = np.einsum("rti,ti->rt", held_units, self.m.price) + cash
        per_day = {}
        for name in ("costs", "traded", "before"):
            table = np.zeros((runs, n_time))
            table[ev["run"], ev["day"]] = ev[name]
            per_day[name] = table
        rebalanced = np.zeros((runs, n_time), dtype=bool)
        rebalanced[ev["run"], ev["day"]] = ev["rebalanced"]
        return _finish(self, nav, cash, (held_units, None) if lines else None, per_day["costs"], per_day["traded"],
                       per_day["before"], rebalanced)

    def compiled(self, lines: bool) -> dict[str, np.ndarray]:
        """The same simulation through the compiled day loop (:mod:`toolkit.backtest.kernel`)."""
        from toolkit.backtest import kernel

        runs, n_time, n_inst = self.units.shape[0], self.n_time, self.n_inst
        units = np.empty((runs, n_time, n_inst) if lines else (1, 1, n_inst))
        weights = np.empty_like(units)
        cash, nav, costs, traded, before = (np.empty((runs, n_time)) for _ in range(5))
        rebalanced = np.zeros((runs, n_time), dtype=bool)
        none = np.zeros((1, 1, n_inst))
        stop = self.m.stop if self.m.stop is not None else none - np.inf
        limit = self.m.limit if self.m.limit is not None else none + np.inf
        flows = self.m.flows if self.m.flows is not None else np.zeros((1, 1))
        failed = kernel.run(np.ascontiguousarray(self.m.price), self.calendar, self.strat_of, self.book_of,
                            np.ascontiguousarray(self.tgt), self.has_band, self.band, self.kind, self.scope,
                            self.cooldown, np.ascontiguousarray(stop), np.ascontiguousarray(limit), self.levels,
                            np.ascontiguousarray(flows), self.m.flows is not None, float(self.capital), self.bps,
                            float(self.minimum), self.whole, units, weights, lines, cash, nav, costs, traded,
                            before, rebalanced)
        if (failed >= 0).any():
            r = int(np.argmax(failed >= 0))
            raise DataError(f"On {self.m.times[failed[r]].date()} the NAV of run {r} falls to "
                            f"{nav[r, failed[r]]:.2f}: the flows withdraw more than the portfolio holds.")
        return _finish(self, nav, cash, (units, weights) if lines else None, costs, traded, before, rebalanced)


def _finish(engine: _Engine, nav: np.ndarray, cash: np.ndarray, lines: tuple[np.ndarray, np.ndarray | None] | None,
            costs: np.ndarray, traded: np.ndarray, before: np.ndarray,
            rebalanced: np.ndarray) -> dict[str, np.ndarray]:
    """The result arrays, ``(strategy, book, time[, instrument])``, from the per-run day arrays."""
    runs, n_time = nav.shape
    with np.errstate(divide="ignore", invalid="ignore"):
        turnover = np.where(traded > 0, traded / before, 0.0)
    flows = engine.m.flows
    flow = flows[engine.book_of] if flows is not None else np.zeros((runs, n_time))
    previous = np.concatenate([np.full((runs, 1), engine.capital), nav[:, :-1]], axis=1)
    twr = engine.capital * np.cumprod((nav - flow) / previous, axis=1)
    shape = (engine.n_strat, engine.n_book)
    series = {"nav": nav, "cash": cash, "twr_nav": twr, "flow": flow, "turnover": turnover, "traded": traded,
              "costs": costs, "rebalanced": rebalanced}
    out: dict[str, np.ndarray] = {k: v.reshape(*shape, n_time) for k, v in series.items()}
    if lines is not None:
        units, weights = lines
        if weights is None:
            weights = units * engine.m.price[None]
            weights /= nav[..., None]
        out["units"] = units.reshape(*shape, n_time, engine.n_inst)
        out["weights"] = weights.reshape(*shape, n_time, engine.n_inst)
    return out


def _dataset(out: dict[str, np.ndarray], weights: xr.DataArray, extra: list[Hashable], names: list[str] | None,
             closes: xr.DataArray) -> xr.Dataset:
    sizes = [weights.sizes[d] for d in extra]
    coords: dict[Hashable, Any] = {TIME: closes[TIME].values, INSTRUMENT: weights[INSTRUMENT].values}
    for d in extra:
        if d in weights.coords:
            coords[d] = weights[d].values
    if names is not None:
        coords[STRATEGY] = names
    head = ([STRATEGY] if names is not None else []) + extra
    variables = {}
    for name, array in out.items():
        dims = [*head, TIME] + ([INSTRUMENT] if array.ndim == 4 else [])
        shaped = array.reshape(len(names or [0]), *sizes, *array.shape[2:])
        if names is None:
            shaped = shaped[0]
        variables[name] = xr.DataArray(shaped, dims=dims)
    ds = xr.Dataset(variables, coords=coords)
    for name in ("weights", "units"):
        if name in ds:
            ds[name] = ds[name].transpose(*head, INSTRUMENT, TIME)
    return ds
