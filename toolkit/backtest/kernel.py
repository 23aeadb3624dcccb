"""The compiled time loop of :func:`toolkit.backtest.simulate` (numba), for runs without Python hooks.

The same rules as the event engine in :mod:`toolkit.backtest.simulation` (its docstring states them),
written as one pass over the days of each run: a run's days depend on each other (path dependence),
runs do not, so runs are spread over threads (``prange``) and each walks its days in order. The
tests run every case through both engines and compare them to 1e-12.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, inline="always")
def _cost(size: float, bps: float, minimum: float, scale: float) -> float:
    """``max(bps |size|, minimum)``, 0 for a trade below 1e-12 of ``scale``."""
    size = abs(size)
    if size > 1e-12 * abs(scale):
        return max(bps * size, minimum)
    return 0.0


@numba.njit(cache=True, inline="always")
def _value(units: np.ndarray, px: np.ndarray) -> float:
    """``sum(units * px)`` without a temporary array."""
    total = 0.0
    for i in range(units.size):
        total += units[i] * px[i]
    return total


@numba.njit(cache=True, inline="always")
def _beyond(price: float, stop: np.ndarray, limit: np.ndarray, b: int, t: int, i: int) -> bool:
    """Whether ``price`` is at or below the stop or at or above the limit of line ``i`` of book ``b`` on day
    ``t`` (level arrays ``(book or 1, time or 1, instrument)``)."""
    low = stop[b if stop.shape[0] > 1 else 0, t if stop.shape[1] > 1 else 0, i]
    high = limit[b if limit.shape[0] > 1 else 0, t if limit.shape[1] > 1 else 0, i]
    return price <= low or price >= high


@numba.njit(cache=True)
def _breach(units: np.ndarray, px: np.ndarray, nav: float, target: np.ndarray, band: float, kind: int,
            scope: int) -> bool:
    """Whether the weights ``units * px / nav`` are out of the band around ``target`` (kind 0 relative,
    scope 0 per line)."""
    dev_sum = 0.0
    tgt_sum = 0.0
    line = False
    for i in range(units.size):
        w = units[i] * px[i] / nav
        dev = abs(w - target[i])
        tgt = abs(target[i])
        dev_sum += dev
        tgt_sum += tgt
        if kind == 0:
            if tgt == 0.0:
                if w != 0.0:
                    line = True
            elif dev / tgt > band:
                line = True
        elif dev > band:
            line = True
        if line and scope == 0:
            return True
    if scope == 0:
        return line
    if kind == 0:
        return dev_sum / tgt_sum > band
    return dev_sum / 2 > band


@numba.njit(cache=True)
def _rebalance(units: np.ndarray, cash: float, px: np.ndarray, target: np.ndarray, bps: float, minimum: float,
               whole: bool) -> tuple[float, float, float]:
    """Bring ``units`` (in place) to ``target``; return the new cash, the costs and the traded value."""
    n = units.size
    held = units * px
    value = held.sum() + cash
    after = value
    if bps > 0 or minimum > 0:
        for _ in range(200):
            fee = 0.0
            for i in range(n):
                fee += _cost(target[i] * after - held[i], bps, minimum, value)
            new = value - fee
            done = abs(new - after) <= 1e-12 * abs(value)
            after = new
            if done:
                break
    ideal = target * after / px
    if whole:
        base = np.floor(ideal)
        fee = 0.0
        for i in range(n):
            fee += _cost((base[i] - units[i]) * px[i], bps, minimum, value)
        left = value - fee - (base * px).sum()
        rest = ideal - base
        order = np.argsort(-rest, kind="mergesort")
        spent = 0.0
        for k in range(n):
            i = order[k]
            if rest[i] <= 0:
                break
            spent += px[i] * (1 + bps) + (minimum if base[i] == units[i] else 0.0)
            if spent > left:
                break
            base[i] += 1
        fee = 0.0
        traded = 0.0
        for i in range(n):
            fee += _cost((base[i] - units[i]) * px[i], bps, minimum, value)
            traded += abs(base[i] - units[i]) * px[i]
        new_cash = value - fee - (base * px).sum()
        units[:] = base
        return new_cash, fee, traded
    traded = 0.0
    for i in range(n):
        traded += abs(ideal[i] - units[i]) * px[i]
    units[:] = ideal
    return after * (1 - target.sum()), value - after, traded


@numba.njit(cache=True)
def _flow(units: np.ndarray, px: np.ndarray, target: np.ndarray, flow: float, bps: float, minimum: float,
          whole: bool, scale: float) -> tuple[float, float, float]:
    """Trade ``flow`` pro rata to ``target`` (units in place); return the cash change, costs and traded value."""
    n = units.size
    amount = flow
    if bps > 0 or minimum > 0:
        for _ in range(200):
            fee = 0.0
            for i in range(n):
                if target[i] != 0.0:
                    fee += max(bps * abs(target[i] * amount), minimum)
            new = flow - fee
            done = abs(new - amount) <= 1e-12 * abs(scale)
            amount = new
            if done:
                break
    if np.sign(amount) != np.sign(flow):
        amount = 0.0
    fee = 0.0
    spent = 0.0
    traded = 0.0
    for i in range(n):
        change = target[i] * amount / px[i]
        if whole:
            change = np.floor(change) if change > 0 else -min(np.ceil(-change), units[i])
        value = change * px[i]
        fee += _cost(value, bps, minimum, scale)
        spent += value
        traded += abs(value)
        units[i] += change
    return flow - spent - fee, fee, traded


@numba.njit(cache=True, parallel=True)
def run(price: np.ndarray, calendar: np.ndarray, strat_of: np.ndarray, book_of: np.ndarray, target: np.ndarray,
        has_band: np.ndarray, band: np.ndarray, kind: np.ndarray, scope: np.ndarray, cooldown: np.ndarray,
        stop: np.ndarray, limit: np.ndarray, levels: bool, flows: np.ndarray, has_flows: bool, capital: float,
        bps: float, minimum: float, whole: bool, units_out: np.ndarray, weights_out: np.ndarray, lines: bool,
        cash_out: np.ndarray,
        nav_out: np.ndarray, costs_out: np.ndarray, traded_out: np.ndarray, before_out: np.ndarray,
        rebalanced_out: np.ndarray) -> np.ndarray:
    """Simulate every run over every day; fill the ``*_out`` arrays (``(run, time[, instrument])``).

    Returns, per run, the first day whose NAV is not positive (-1 if none).
    """
    runs = target.shape[0]
    n_time, n_inst = price.shape
    failed = np.full(runs, -1)
    for r in numba.prange(runs):
        b = book_of[r]
        s = strat_of[r]
        units = np.zeros(n_inst)
        out = np.zeros(n_inst, dtype=np.bool_)
        live = target[r].copy()  # the targets, 0 for a line closed by a stop
        cash = capital
        ready = 0
        for t in range(n_time):
            px = price[t]
            flow = flows[b, t] if has_flows else 0.0
            value = _value(units, px) + cash
            before = value + flow
            costs = 0.0
            traded = 0.0
            quiet = flow == 0.0
            if levels:
                for i in range(n_inst):
                    if units[i] > 0 and _beyond(px[i], stop, limit, b, t, i):
                        proceeds = units[i] * px[i]
                        fee = _cost(proceeds, bps, minimum, before)
                        cash += proceeds - fee
                        costs += fee
                        traded += proceeds
                        units[i] = 0.0
                        out[i] = True
                        live[i] = 0.0
                        quiet = False
            rebalance = calendar[s, t] and t >= ready
            if rebalance:
                cash += flow
            elif flow != 0.0:
                change, fee, amount = _flow(units, px, live, flow, bps, minimum, whole, before)
                cash += change
                costs += fee
                traded += amount
            nav = value if quiet else _value(units, px) + cash
            if not rebalance and has_band[r] and t >= ready:
                rebalance = _breach(units, px, nav, live, band[r], kind[r], scope[r])
            if rebalance:
                for i in range(n_inst):
                    out[i] = levels and _beyond(px[i], stop, limit, b, t, i)
                    live[i] = 0.0 if out[i] else target[r, i]
                cash, fee, amount = _rebalance(units, cash, px, live, bps, minimum, whole)
                costs += fee
                traded += amount
                ready = t + cooldown[r]
                nav = _value(units, px) + cash
            if nav <= 0 and failed[r] < 0:
                failed[r] = t
            if lines:
                for i in range(n_inst):
                    units_out[r, t, i] = units[i]
                    weights_out[r, t, i] = units[i] * px[i] / nav
            cash_out[r, t] = cash
            nav_out[r, t] = nav
            costs_out[r, t] = costs
            traded_out[r, t] = traded
            before_out[r, t] = before
            rebalanced_out[r, t] = rebalance
    return failed
