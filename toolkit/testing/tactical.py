"""An order-by-order reference of the tactical rules, for the tests and the benchmark (never the library).

What a user would write without :func:`toolkit.signals.tactical.evaluate`: one order at a time, on one
instrument's quoted bars (numpy rows), with TA-Lib's ``ATR``, ``TRANGE``, ``SMA`` and ``RSI``, scipy's
``argrelextrema`` for the swing points, and plain Python loops for the SuperTrend recursion and rule 8's
replay. It follows the definitions of :mod:`toolkit.signals.tactical`'s docstring, written again from
them, so that the vectorised code is checked against code that shares none of its steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.signal import argrelextrema


def swings(x: np.ndarray, k: int, compare: np.ufunc, lookback: int = 200) -> np.ndarray:
    """The swing values of window ``k`` (``np.greater``: highs, ``np.less``: lows) among the last
    ``lookback`` bars, each with a full window of ``k`` bars on both sides."""
    (where,) = argrelextrema(x, compare, order=k)
    n = len(x)
    where = where[(where >= max(k, n - lookback)) & (where < n - k)]
    return x[where]


def reversal_counts(c: np.ndarray, horizon: int = 5, width: float = 2.5) -> tuple[float, int, float]:
    """(the last RSI 14, the past events within ``width`` of it, the share that reversed ``horizon`` bars on)."""
    import talib

    rsi = talib.RSI(c, 14)
    level = rsi[-1]
    events = reversals = 0
    for t in range(len(c) - horizon):
        if np.isnan(rsi[t]) or rsi[t] == 50 or abs(rsi[t] - level) > width:
            continue
        events += 1
        reversals += np.sign(rsi[t] - 50) * (c[t + horizon] - c[t]) < 0
    return level, events, reversals / events if events else np.nan


def supertrend_loop(h: np.ndarray, lo: np.ndarray, c: np.ndarray, factor: float, period: int) -> tuple[float, int]:
    """Pine's SuperTrend with an SMA ATR, bar by bar: the last line value and direction (+1 up, -1 down)."""
    import talib

    atr = talib.SMA(talib.TRANGE(h, lo, c), period)
    mid = (h + lo) / 2
    up_band, low_band = mid + factor * atr, mid - factor * atr
    upper, lower = up_band[period], low_band[period]
    direction = 1 if c[period] > upper else -1
    for t in range(period + 1, len(c)):
        upper = up_band[t] if up_band[t] < upper or c[t - 1] > upper else upper
        lower = low_band[t] if low_band[t] > lower or c[t - 1] < lower else lower
        direction = 1 if c[t] > upper else -1 if c[t] < lower else direction
    return (lower if direction > 0 else upper), direction


def replay_loop(h: np.ndarray, lo: np.ndarray, c: np.ndarray, n: int, long: bool, s: float,
                r: float) -> tuple[float, float, int]:
    """Each of the last ``n`` candles' close as an entry, walked bar by bar to its stop (``s`` below for a
    Long) or its limit (``r`` above): (share of wins, mean candles held, trades closed); a tie is a loss."""
    h, lo, c = h[-(n + 1):], lo[-(n + 1):], c[-(n + 1):]
    wins = closed = held = 0
    for t in range(n):
        e = c[t]
        for k in range(t + 1, n + 1):
            if long:
                lose, win = lo[k] <= e * (1 - s), h[k] >= e * (1 + r)
            else:
                lose, win = h[k] >= e * (1 + s), lo[k] <= e * (1 - r)
            if lose or win:
                closed += 1
                held += k - t
                wins += win and not lose
                break
    return (wins / closed, held / closed, closed) if closed else (np.nan, np.nan, 0)


def judge_one(h: np.ndarray, lo: np.ndarray, c: np.ndarray, order: Mapping[str, Any],
              rules: Mapping[int, Mapping[str, Any]]) -> dict[str, Any]:
    """Every rule of ``rules`` (``{rule_id: {key: value}}``, all keys given) on one order.

    ``order`` has ``direction`` (+1/-1), ``level``, ``stop``, ``limit``, ``size`` (NaN: none), ``funds``
    and ``timeframe``; ``h, lo, c`` are its instrument's quoted bars. Returns the filled ``level, stop,
    limit, size`` and ``passed``: ``{rule_id: bool}``.
    """
    import talib

    d = order["direction"]
    long = d > 0
    entry = c[-1] if np.isnan(order["level"]) else order["level"]
    stop, limit, size, funds = order["stop"], order["limit"], order["size"], order["funds"]
    atr14 = talib.ATR(h, lo, c, 14)[-1] if 1 in rules or 5 in rules else np.nan
    passed: dict[int, bool] = {}
    if 3 in rules:
        atr_n = talib.ATR(h, lo, c, int(rules[3]["Period"]))[-1]
        if np.isnan(stop):
            stop = entry - d * rules[3]["ATRFactor"] * atr_n
        passed[3] = bool(d * (entry - stop) > 0 and d * (entry - stop) >= rules[3]["ATRFactor"] * atr_n * (1 - 1e-12))
    ahead = behind = np.nan
    if 5 in rules or 10 in rules:
        tops, bottoms = swings(h, 2, np.greater), swings(lo, 2, np.less)
        above, below = tops[tops > entry], bottoms[bottoms < entry]
        ahead = (above.min() if above.size else np.nan) if long else (below.max() if below.size else np.nan)
        behind = (below.max() if below.size else np.nan) if long else (above.min() if above.size else np.nan)
    if 5 in rules and np.isnan(limit):
        limit = ahead
    unit = abs(entry - stop) if not np.isnan(stop) else (entry if long else np.inf)
    if np.isnan(size) and (2 in rules or 13 in rules):
        sizes = []
        if 2 in rules:
            sizes.append(np.floor(rules[2]["Percentage"] / 100 * funds / unit) if np.isfinite(unit) else np.nan)
        if 13 in rules:
            sizes.append(np.floor(rules[13]["Percentage"] / 100 * funds / entry))
        size = np.nanmin(sizes) if not np.isnan(sizes).all() else np.nan
    risk, reward = d * (entry - stop), d * (limit - entry)
    if 1 in rules:
        passed[1] = bool(abs(entry - c[-1]) <= atr14)
    if 2 in rules:
        passed[2] = bool(size * unit <= rules[2]["Percentage"] / 100 * funds * (1 + 1e-12))
    if 4 in rules:
        rsi = talib.RSI(c, 14)[-1]
        high = max(rules[4]["RSIUpLimit"], rules[4]["RSIDownLimit"])
        low = min(rules[4]["RSIUpLimit"], rules[4]["RSIDownLimit"])
        passed[4] = bool(rsi <= high) if long else bool(rsi >= low)
    if 5 in rules:
        passed[5] = True if np.isnan(ahead) else bool(reward > 0 and abs(limit - ahead) <= atr14)
    if 6 in rules:
        ratio = reward / risk if risk > 0 and reward > 0 else np.nan
        passed[6] = bool(ratio >= rules[6]["RewardRatio"] * (1 - 1e-12))
    if 7 in rules:
        _, direction = supertrend_loop(h, lo, c, rules[7]["ATRFactor"], int(rules[7]["Period"]))
        passed[7] = direction == d
    if 8 in rules:
        s = risk / entry if risk > 0 else np.inf
        r = reward / entry if reward > 0 else np.inf
        chance, _, closed = replay_loop(h, lo, c, int(rules[8]["Period"]), long, s, r)
        gain = chance * r if np.isfinite(r) else (np.inf if chance > 0 else 0.0)
        loss = 0.0 if chance >= 1 else (1 - chance) * s
        passed[8] = bool(closed > 0 and gain >= loss)
    if 9 in rules:
        change = np.diff(c)[-200:]
        passed[9] = bool(long or (change > 0).mean() - (change < 0).mean() <= 0)
    if 10 in rules:
        passed[10] = bool(not np.isnan(stop) and (np.isnan(behind) or d * (behind - stop) > 0))
    if 11 in rules:
        passed[11] = bool(order["timeframe"] <= rules[11]["Timeframe"])
    if 13 in rules:
        passed[13] = bool(size * entry <= rules[13]["Percentage"] / 100 * funds * (1 + 1e-12))
    return {"level": entry, "stop": stop, "limit": limit, "size": size, "passed": passed}


__all__ = ["judge_one", "replay_loop", "reversal_counts", "supertrend_loop", "swings"]
