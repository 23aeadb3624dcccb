"""Rebalancing backtests, vectorised over portfolios and strategies.

Conventions (every one of them is the convention of ``bt`` 1.4, whose source was read to match it;
``tests/test_backtest.py`` checks the NAVs against ``bt`` to 1e-9):

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
  band together rebalance when either says so (``bt.algos.Or``).
- **Costs** are paid from the portfolio: each trade costs ``max(cost_bps / 1e4 * |traded value|,
  min_cost)`` (no cost when nothing is traded), and after the rebalance the weights are exactly the
  targets and no cash is left: the post-trade NAV ``V'`` solves ``V' = V - sum_i cost_i(|w*_i V' - h_i|)``
  (a contraction, solved by fixed-point iteration to 1e-12 relative). ``bt`` handles commissions
  differently (it leaves the cost as negative cash); the cost case is tested against a hand-worked one.
- **Units** are fractional (``bt``'s ``integer_positions=False``); whole units are not implemented yet.
- **Turnover** on a day is the traded value (buys plus sells) divided by the NAV before trading: the
  initial investment has turnover 1 less the costs' share of the capital.

Work: a Python loop runs over rebalance events, each step an array operation across every
(portfolio, strategy) run at once; between events, drift-band breaches are searched in a window of days
that doubles while no breach is found, so the loop is O(rebalances + log(days)). Never a loop over
portfolios, instruments or days. The prices are read into memory (a path-dependent simulation needs
them); the weights and results may have any number of extra dimensions.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
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
#: how far the target weights of one portfolio may sum away from 1
WEIGHT_SUM_TOLERANCE = 1e-9


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
    """

    frequency: str | None = None
    day: str = "first"
    band: float | None = None
    band_kind: str = "relative"
    band_scope: str = "line"

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
             capital: float = 1_000_000.0, cost_bps: float = 0.0, min_cost: float = 0.0) -> xr.Dataset:
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

    Returns
    -------
    xr.Dataset
        ``nav`` (``(strategy?, *extra, time)``, after the day's trades and costs), ``weights``
        and ``units`` (``(strategy?, *extra, instrument, time)``, end of day), ``turnover``, ``traded``
        (value bought plus sold), ``costs`` and ``rebalanced`` (``(strategy?, *extra, time)``).

    Raises
    ------
    ValidationError
        A bad policy, weights that do not sum to 1 or name unknown instruments, an end before the
        start, or a bad capital or cost; each problem names its field.
    DataError
        No prices in the period, or missing or non-positive prices.
    """
    policies, names = _policies(policy)
    closes = prices["close"] if isinstance(prices, xr.Dataset) else prices
    problems = [p for path, pol in policies for p in pol.problems(path)]
    problems += _check_numbers(capital, cost_bps, min_cost)
    first, last = _period(start, end, problems)
    problems += _check_weights(weights, closes)
    if problems:
        raise ValidationError(problems, "backtest")
    instruments = weights[INSTRUMENT].values
    closes = closes.sel({INSTRUMENT: instruments}).sel({TIME: slice(first, last)}).transpose(TIME, INSTRUMENT)
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
    target = np.asarray(weights.transpose(*extra, INSTRUMENT).values, dtype=float).reshape(-1, len(instruments))
    out = _run(price, target, [pol for _, pol in policies], times, capital, cost_bps / 1e4, min_cost)
    return _dataset(out, weights, extra, names, closes)


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


def _check_weights(weights: xr.DataArray, closes: xr.DataArray) -> list[Problem]:
    if not isinstance(weights, xr.DataArray) or INSTRUMENT not in weights.dims:
        return [Problem("weights", f"give the target weights as a DataArray with an {INSTRUMENT!r} dimension")]
    if not isinstance(closes, xr.DataArray) or set(closes.dims) != {INSTRUMENT, TIME}:
        return [Problem("prices", f"give closes over ({INSTRUMENT}, {TIME})")]
    found = []
    unknown = sorted(set(weights[INSTRUMENT].values.tolist()) - set(closes[INSTRUMENT].values.tolist()))
    if unknown:
        found.append(Problem("weights.instrument", f"no prices for {', '.join(map(str, unknown))}"))
    values = np.asarray(weights.values, dtype=float)
    if not np.isfinite(values).all():
        found.append(Problem("weights", "every weight must be a finite number"))
        return found
    extra = [d for d in weights.dims if d != INSTRUMENT]
    sums = weights.sum(INSTRUMENT)
    off = np.abs(np.asarray(sums.values) - 1) > WEIGHT_SUM_TOLERANCE
    for idx in np.argwhere(np.atleast_1d(off))[:10] if extra else ([()] if off else []):
        where = ", ".join(f"{d}={sums[d].values[i]}" for d, i in zip(extra, idx, strict=True))
        total = float(np.asarray(sums.values)[tuple(idx)])
        found.append(Problem(f"weights[{where}]" if where else "weights",
                             f"the weights sum to {total:.12g}, not 1"))
    return found


def _band_breach(w: np.ndarray, target: np.ndarray, band: np.ndarray, kind: np.ndarray,
                 scope: np.ndarray) -> np.ndarray:
    """Whether drifted weights ``w`` ``(run, day, instrument)`` are out of band (``(run, day)``)."""
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


def _post_trade_value(held: np.ndarray, value: np.ndarray, target: np.ndarray, bps: float,
                      minimum: float) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``V' = V - cost(V')`` for each run; return ``V'`` and the traded value (both ``(run,)``)."""
    after = value.copy()
    if bps > 0 or minimum > 0:
        for _ in range(200):
            trade = np.abs(target * after[:, None] - held)
            traded = trade > 1e-12 * value[:, None]
            cost = np.where(traded, np.maximum(bps * trade, minimum), 0.0).sum(-1)
            new = value - cost
            done = np.abs(new - after) <= 1e-12 * np.abs(value)
            after = new
            if done.all():
                break
    return after, np.abs(target * after[:, None] - held).sum(-1)


def _run(price: np.ndarray, target: np.ndarray, policies: list[Policy], times: pd.DatetimeIndex,
         capital: float, bps: float, minimum: float) -> dict[str, np.ndarray]:
    """The simulation on plain arrays: runs are (strategy, book) pairs, strategy-major."""
    n_time, n_inst = price.shape
    n_book, n_strat = target.shape[0], len(policies)
    runs = n_book * n_strat
    strat_of = np.repeat(np.arange(n_strat), n_book)
    tgt = np.tile(target, (n_strat, 1))
    calendar = np.stack([p.calendar(times) for p in policies])
    # next_cal[s, t]: the first calendar day >= t (n_time if none)
    marked = np.where(calendar, np.arange(n_time), n_time)
    next_cal = np.concatenate([np.minimum.accumulate(marked[:, ::-1], axis=1)[:, ::-1],
                               np.full((n_strat, 1), n_time)], axis=1)
    has_band = np.array([p.band is not None for p in policies])[strat_of]
    band = np.array([p.band if p.band is not None else np.inf for p in policies])[strat_of]
    kind = np.array([BAND_KINDS.index(p.band_kind) for p in policies])[strat_of]
    scope = np.array([BAND_SCOPES.index(p.band_scope) for p in policies])[strat_of]

    ev_run: list[np.ndarray] = []
    ev_day: list[np.ndarray] = []
    ev_units: list[np.ndarray] = []
    ev_cost: list[np.ndarray] = []
    ev_traded: list[np.ndarray] = []
    ev_before: list[np.ndarray] = []
    units = np.zeros((runs, n_inst))

    def trade(which: np.ndarray, day: np.ndarray) -> None:
        px = price[day]
        held = units[which] * px
        before = np.where(day == 0, capital, held.sum(-1))
        after, traded = _post_trade_value(held, before, tgt[which], bps, minimum)
        units[which] = tgt[which] * after[:, None] / px
        for store, value in ((ev_run, which), (ev_day, day), (ev_units, units[which].copy()),
                             (ev_cost, before - after), (ev_traded, traded), (ev_before, before)):
            store.append(value)

    trade(np.arange(runs), np.zeros(runs, dtype=int))
    scan = np.ones(runs, dtype=int)
    width = np.full(runs, 32)
    while True:
        act = np.flatnonzero(scan < n_time)
        if act.size == 0:
            break
        first = scan[act]
        cal = next_cal[strat_of[act], first]
        end = np.where(has_band[act], np.minimum(cal, first + width[act]), cal)
        breach = np.full(act.size, n_time)
        look = has_band[act] & (end > first)
        if look.any():
            rows = act[look]
            span = int((end[look] - first[look]).max())
            days = first[look][:, None] + np.arange(span)
            valid = days < end[look][:, None]
            held = units[rows][:, None, :] * price[np.minimum(days, n_time - 1)]
            w = held / held.sum(-1, keepdims=True)
            out = _band_breach(w, tgt[rows], band[rows], kind[rows], scope[rows]) & valid
            breach[look] = np.where(out.any(1), first[look] + out.argmax(1), n_time)
        event = np.minimum(breach, np.where(end == cal, cal, n_time))
        hit = event < n_time
        if hit.any():
            trade(act[hit], event[hit])
            scan[act[hit]] = event[hit] + 1
            width[act[hit]] = 32
        miss = act[~hit]
        scan[miss] = np.where(end[~hit] >= cal[~hit], n_time, end[~hit])
        width[miss] *= 2

    run_ids, day_ids = np.concatenate(ev_run), np.concatenate(ev_day)
    marker = np.full((runs, n_time), -1)
    marker[run_ids, day_ids] = np.arange(run_ids.size)
    latest = np.maximum.accumulate(marker, axis=1)
    held_units = np.concatenate(ev_units)[latest]  # (run, time, instrument)
    values = held_units * price[None]
    nav = values.sum(-1)
    per_day = {}
    for name, parts in (("costs", ev_cost), ("traded", ev_traded), ("before", ev_before)):
        table = np.zeros((runs, n_time))
        table[run_ids, day_ids] = np.concatenate(parts)
        per_day[name] = table
    rebalanced = np.zeros((runs, n_time), dtype=bool)
    rebalanced[run_ids, day_ids] = True
    with np.errstate(divide="ignore", invalid="ignore"):
        turnover = np.where(rebalanced, per_day["traded"] / per_day["before"], 0.0)
    shape = (n_strat, n_book)
    return {"nav": nav.reshape(*shape, n_time), "units": held_units.reshape(*shape, n_time, n_inst),
            "weights": (values / nav[..., None]).reshape(*shape, n_time, n_inst),
            "turnover": turnover.reshape(*shape, n_time), "traded": per_day["traded"].reshape(*shape, n_time),
            "costs": per_day["costs"].reshape(*shape, n_time), "rebalanced": rebalanced.reshape(*shape, n_time)}


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
        ds[name] = ds[name].transpose(*head, INSTRUMENT, TIME)
    return ds
