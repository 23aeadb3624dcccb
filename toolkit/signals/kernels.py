"""Compiled single-pass kernels of the indicators: numba, one walk along time per series.

Each kernel takes NumPy arrays ``(..., time)`` (the caller, :func:`toolkit.signals.bars.apply`, hands
them over through ``xr.apply_ufunc(..., dask="parallelized")``, one block of instruments at a time),
views them as rows ``(series, time)`` and walks each row once, in numba-compiled code cached on disk
(``cache=True``: the compile, seconds a kernel (``benchmarks/signals.py`` measures it), is paid once per
machine; later processes load it). The row loop keeps every series' running state (previous close,
running sums, the smoothed averages, the SuperTrend bands) in registers, where the NumPy formulation
needed several passes over the whole array and packed each row's quoted bars first. Rule 8's bracket
replay (:func:`replay`) is here too: per order, a monotonic stack instead of a sparse table gathered
over every (order, start) pair.

**Missing bars.** A bar is quoted when every price the indicator reads is finite; the others are
skipped, not filled: their result is NaN and the state is carried across them, so the next true range
or change is taken from the last quoted close. A series thus gives what TA-Lib gives on that series
with its missing bars dropped, and a series listed later (leading NaN) starts its own warm-up.

**Seeding** (TA-Lib's convention, ``ta_SMA.c``, ``ta_EMA.c``, ``ta_ATR.c``, ``ta_RSI.c``; TA-Lib 0.6),
for an average of period ``n`` over a series of values whose first is the ``start``-th quoted bar
(``start = 1`` for true ranges and changes, which need a previous close):

- **SMA** ``n``: the mean of the last ``n`` values, first on quoted bar ``start + n - 1``; kept as a
  running sum (add the new value, drop the one ``n`` back, as TA-Lib's running total), so its rounding
  is of the order of ``eps * max|x|`` per value added.
- **EMA** ``n``: ``y_t = alpha x_t + (1 - alpha) y_{t-1}`` with ``alpha = 2 / (n + 1)``, seeded on quoted
  bar ``start + n - 1`` with the SMA of the first ``n`` values.
- **Smoothed** (Wilder's smoothing, also called RMA or SMMA) ``n``: the same recursion with
  ``alpha = 1 / n``, seeded the same way (Wilder 1978, *New Concepts in Technical Trading Systems*,
  p. 23: the first average true range is the mean of the first ``n`` true ranges).

The seed's weight in ``y_t`` decays as ``(1 - alpha)^(t - start - n + 1)``: for Wilder's ``n = 14``
below 1e-12 after 373 bars, for an EMA of 14 after 207. The formulas of each indicator are in the
docstrings of :mod:`~toolkit.signals.volatility`, :mod:`~toolkit.signals.momentum` and
:mod:`~toolkit.signals.trend`; the kernels agree with the NumPy path they replaced to 1e-12 (tests).
"""

from __future__ import annotations

import math

import numba
import numpy as np

#: the code of each averaging method inside the kernels
METHOD_CODES = {"SMA": 0, "EMA": 1, "Smoothed": 2}
_SMA = METHOD_CODES["SMA"]


def alpha(period: int, method: str) -> float:
    """The recursion weight of ``method`` (EMA ``2 / (n + 1)``, Smoothed ``1 / n``; unused by SMA)."""
    return 2.0 / (period + 1.0) if method == "EMA" else 1.0 / period


# ------------------------------------------------------------------------------------------ compiled rows
# Each ``_x_packed`` walks one series' quoted bars, contiguous and all finite (so its loops have no branch on
# missing data, and the warm-up and the steady state are separate loops); each ``_x_rows`` runs it on every
# row of a block: on the row itself when every bar is quoted, else on the quoted bars gathered into scratch,
# whose results are then put back at their bars (NaN at the others).


@numba.njit(cache=True, nogil=True)
def _finite(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> bool:  # pragma: no cover - compiled
    """Whether rows ``a, b, c`` are finite everywhere: no exponent of all ones (NaN, inf), OR-ed over the row
    without a branch (integer operations, which the compiler vectorises; the usual row has no NaN)."""
    exponent = np.int64(0x7FF0000000000000)
    wa, wb, wc = a.view(np.int64), b.view(np.int64), c.view(np.int64)
    bad = False
    for t in range(wa.shape[0]):
        bad |= ((wa[t] & exponent) == exponent) | ((wb[t] & exponent) == exponent) | ((wc[t] & exponent) == exponent)
    return not bad


@numba.njit(cache=True, nogil=True)
def _positions(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray,
               where: np.ndarray) -> int:  # pragma: no cover - compiled
    """Write the positions of the bars where ``a, b, c, d`` (one row each) are all finite into ``where``;
    return their count."""
    count = 0
    for t in range(a.shape[0]):
        if math.isfinite(a[t]) and math.isfinite(b[t]) and math.isfinite(c[t]) and math.isfinite(d[t]):
            where[count] = t
            count += 1
    return count


@numba.njit(cache=True, nogil=True)
def _gather(x: np.ndarray, where: np.ndarray, count: int, out: np.ndarray) -> None:  # pragma: no cover - compiled
    for j in range(count):
        out[j] = x[where[j]]


@numba.njit(cache=True, nogil=True)
def _pack_bars(high: np.ndarray, low: np.ndarray, close: np.ndarray, where: np.ndarray,
               packed: np.ndarray) -> int:  # pragma: no cover - compiled
    """Gather one row's quoted bars (high, low and close finite) into ``packed[0:3]``; return their count."""
    count = _positions(high, low, close, close, where)
    _gather(high, where, count, packed[0])
    _gather(low, where, count, packed[1])
    _gather(close, where, count, packed[2])
    return count


@numba.njit(cache=True, nogil=True)
def _scratch(steps: int, rows: int) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Room for one row's positions of quoted bars and ``rows`` packed rows of values."""
    return np.empty(steps, dtype=np.int64), np.empty((rows, steps))


@numba.njit(cache=True, nogil=True)
def _scatter(y: np.ndarray, where: np.ndarray, count: int, out: np.ndarray) -> None:  # pragma: no cover - compiled
    out[:] = np.nan
    for j in range(count):
        out[where[j]] = y[j]


@numba.njit(cache=True, nogil=True)
def _tr(high: np.ndarray, low: np.ndarray, close: np.ndarray, j: int) -> float:  # pragma: no cover - compiled
    """The true range of bar ``j >= 1``: ``max(high, c') - min(low, c')``, ``c'`` the previous close."""
    return max(high[j], close[j - 1]) - min(low[j], close[j - 1])


@numba.njit(cache=True, nogil=True)
def _true_range_packed(high: np.ndarray, low: np.ndarray, close: np.ndarray,
                       out: np.ndarray) -> None:  # pragma: no cover - compiled
    """The true range of every bar; NaN on the first."""
    if high.shape[0] > 0:
        out[0] = np.nan
    for j in range(1, high.shape[0]):
        out[j] = _tr(high, low, close, j)


@numba.njit(cache=True, nogil=True)
def _atr_packed(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int, method: int, weight: float,
                out: np.ndarray, recursion: bool = True) -> bool:  # pragma: no cover - compiled
    """The ``method`` average of the true ranges, NaN before bar ``period`` (see the module for the seeding).

    Without ``recursion``, an EMA or Smoothed average stops at its seed (bar ``period``), for
    :func:`_smooth` or :func:`_smooth4` to continue; returns whether there is a seed to continue from."""
    steps = high.shape[0]
    out[:min(period, steps)] = np.nan
    if steps <= period:
        return False
    total = 0.0
    for j in range(1, period + 1):
        total += _tr(high, low, close, j)
    out[period] = total / period
    if method == _SMA:  # a running sum: the true range ``period`` back leaves it
        for j in range(period + 1, steps):
            total += _tr(high, low, close, j) - _tr(high, low, close, j - period)
            out[j] = total / period
        return False
    if recursion:
        _smooth(high, low, close, period, weight, out)
    return True


@numba.njit(cache=True, nogil=True)
def _smooth(high: np.ndarray, low: np.ndarray, close: np.ndarray, start: int, weight: float,
            out: np.ndarray) -> None:  # pragma: no cover - compiled
    """``out[j] = weight TR_j + (1 - weight) out[j - 1]`` after ``out[start]``, the seed."""
    keep = 1.0 - weight
    value = out[start]
    for j in range(start + 1, high.shape[0]):
        value = weight * _tr(high, low, close, j) + keep * value
        out[j] = value


@numba.njit(cache=True, nogil=True)
def _smooth4(high: np.ndarray, low: np.ndarray, close: np.ndarray, rows: np.ndarray, start: int, weight: float,
             out: np.ndarray) -> None:  # pragma: no cover - compiled
    """:func:`_smooth` on four rows at once (every bar quoted): each step waits for the one before it (a
    multiply and an add), so four independent recursions in flight take about the time of one."""
    keep = 1.0 - weight
    h0, h1, h2, h3 = high[rows[0]], high[rows[1]], high[rows[2]], high[rows[3]]
    l0, l1, l2, l3 = low[rows[0]], low[rows[1]], low[rows[2]], low[rows[3]]
    c0, c1, c2, c3 = close[rows[0]], close[rows[1]], close[rows[2]], close[rows[3]]
    o0, o1, o2, o3 = out[rows[0]], out[rows[1]], out[rows[2]], out[rows[3]]
    v0, v1, v2, v3 = o0[start], o1[start], o2[start], o3[start]
    for j in range(start + 1, high.shape[1]):
        v0 = weight * _tr(h0, l0, c0, j) + keep * v0
        v1 = weight * _tr(h1, l1, c1, j) + keep * v1
        v2 = weight * _tr(h2, l2, c2, j) + keep * v2
        v3 = weight * _tr(h3, l3, c3, j) + keep * v3
        o0[j], o1[j], o2[j], o3[j] = v0, v1, v2, v3


@numba.njit(cache=True, nogil=True)
def _rsi_packed(close: np.ndarray, period: int, out: np.ndarray) -> None:  # pragma: no cover - compiled
    """Wilder's RSI: gains and losses smoothed with ``1 / period``, mean-seeded; a flat window is 50."""
    steps = close.shape[0]
    out[:min(period, steps)] = np.nan
    if steps <= period:
        return
    gains = losses = 0.0
    for j in range(1, period + 1):
        change = close[j] - close[j - 1]
        up = max(change, 0.0)
        gains += up
        losses += up - change  # max(-change, 0)
    gains /= period
    losses /= period
    total = losses + gains
    out[period] = 50.0 if total == 0.0 else gains / total * 100.0  # TA-Lib answers 0 on a flat window
    weight = 1.0 / period
    keep = 1.0 - weight
    for j in range(period + 1, steps):
        change = close[j] - close[j - 1]
        up = max(change, 0.0)
        gains = weight * up + keep * gains
        losses = weight * (up - change) + keep * losses
        total = losses + gains
        out[j] = 50.0 if total == 0.0 else gains / total * 100.0


@numba.njit(cache=True, nogil=True)
def _bands_packed(high: np.ndarray, low: np.ndarray, close: np.ndarray, atr: np.ndarray, factor: float,
                  line: np.ndarray, upper: np.ndarray, lower: np.ndarray,
                  direction: np.ndarray) -> None:  # pragma: no cover - compiled
    """SuperTrend from an ATR defined on every bar (see :mod:`toolkit.signals.trend`). The state is the final
    upper band ``U`` and the negated lower band ``-L``: each falls to its basic band when that is lower (a
    ``min``, not a branch: whether the basic band falls is a coin toss) and resets to it when the previous
    close crossed it (rare: a branch)."""
    top = bottom = 0.0
    heading = -1.0
    for j in range(high.shape[0]):
        middle = (high[j] + low[j]) / 2.0
        width = factor * atr[j]
        basic_top, basic_bottom = middle + width, width - middle
        if j == 0:
            top, bottom = basic_top, basic_bottom
            heading = 1.0 if close[0] > top else -1.0
        else:
            crossed_top, crossed_bottom = close[j - 1] > top, -close[j - 1] > bottom
            top, bottom = min(basic_top, top), min(basic_bottom, bottom)
            if crossed_top:
                top = basic_top
            if crossed_bottom:
                bottom = basic_bottom
            if close[j] > top:
                heading = 1.0
            elif close[j] < -bottom:
                heading = -1.0
        upper[j] = top
        lower[j] = -bottom
        direction[j] = heading
        line[j] = -bottom if heading > 0 else top


@numba.njit(cache=True, nogil=True)
def _bias_packed(close: np.ndarray, lookback: int, up: np.ndarray, down: np.ndarray,
                 bias: np.ndarray) -> None:  # pragma: no cover - compiled
    """Shares of the last ``lookback`` changes that rose and fell, and their difference, from bar ``lookback``.
    The counts add the newest change and drop the one ``lookback`` back, without a branch (a close rises or
    falls at random)."""
    steps = close.shape[0]
    head = min(lookback, steps)
    up[:head] = np.nan
    down[:head] = np.nan
    bias[:head] = np.nan
    if steps <= lookback:
        return
    rising = falling = 0
    for j in range(1, lookback + 1):
        rising += int(close[j] > close[j - 1])
        falling += int(close[j] < close[j - 1])
    for j in range(lookback, steps):
        if j > lookback:
            k = j - lookback
            rising += int(close[j] > close[j - 1]) - int(close[k] > close[k - 1])
            falling += int(close[j] < close[j - 1]) - int(close[k] < close[k - 1])
        share_up, share_down = rising / lookback, falling / lookback
        up[j], down[j], bias[j] = share_up, share_down, share_up - share_down


@numba.njit(cache=True, nogil=True)
def _true_range_rows(high: np.ndarray, low: np.ndarray, close: np.ndarray,
                     out: np.ndarray) -> None:  # pragma: no cover - compiled
    where, packed = _scratch(high.shape[1], 4)
    for i in range(high.shape[0]):
        if _finite(high[i], low[i], close[i]):
            _true_range_packed(high[i], low[i], close[i], out[i])
            continue
        count = _pack_bars(high[i], low[i], close[i], where, packed)
        _true_range_packed(packed[0, :count], packed[1, :count], packed[2, :count], packed[3, :count])
        _scatter(packed[3], where, count, out[i])


@numba.njit(cache=True, nogil=True)
def _atr_rows(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int, method: int, weight: float,
              out: np.ndarray) -> None:  # pragma: no cover - compiled
    """The ATR of every row; the recursions of fully quoted rows run four rows at a time (:func:`_smooth4`)."""
    where, packed = _scratch(high.shape[1], 4)
    waiting = np.empty(4, dtype=np.int64)  # fully quoted rows seeded, their recursion not yet run
    count = 0
    for i in range(high.shape[0]):
        if _finite(high[i], low[i], close[i]):
            if _atr_packed(high[i], low[i], close[i], period, method, weight, out[i], False):
                waiting[count] = i
                count += 1
                if count == 4:
                    _smooth4(high, low, close, waiting, period, weight, out)
                    count = 0
            continue
        quoted = _pack_bars(high[i], low[i], close[i], where, packed)
        _atr_packed(packed[0, :quoted], packed[1, :quoted], packed[2, :quoted], period, method, weight,
                    packed[3, :quoted])
        _scatter(packed[3], where, quoted, out[i])
    for k in range(count):
        i = waiting[k]
        _smooth(high[i], low[i], close[i], period, weight, out[i])


@numba.njit(cache=True, nogil=True)
def _rsi_rows(close: np.ndarray, period: int, out: np.ndarray) -> None:  # pragma: no cover - compiled
    where, packed = _scratch(close.shape[1], 2)
    for i in range(close.shape[0]):
        if _finite(close[i], close[i], close[i]):
            _rsi_packed(close[i], period, out[i])
            continue
        count = _positions(close[i], close[i], close[i], close[i], where)
        _gather(close[i], where, count, packed[0])
        _rsi_packed(packed[0, :count], period, packed[1, :count])
        _scatter(packed[1], where, count, out[i])


@numba.njit(cache=True, nogil=True)
def _bands_rows(high: np.ndarray, low: np.ndarray, close: np.ndarray, atr: np.ndarray, factor: float,
                line: np.ndarray, upper: np.ndarray, lower: np.ndarray,
                direction: np.ndarray) -> None:  # pragma: no cover - compiled
    """The bands of each row from its bars with an ATR (and high, low and close), NaN elsewhere."""
    where, packed = _scratch(high.shape[1], 8)
    for i in range(high.shape[0]):
        outs = (line[i], upper[i], lower[i], direction[i])
        if _finite(high[i], low[i], close[i]) and _finite(atr[i], atr[i], atr[i]):
            _bands_packed(high[i], low[i], close[i], atr[i], factor, *outs)
            continue
        count = _positions(high[i], low[i], close[i], atr[i], where)
        _gather(high[i], where, count, packed[0])
        _gather(low[i], where, count, packed[1])
        _gather(close[i], where, count, packed[2])
        _gather(atr[i], where, count, packed[3])
        _bands_packed(packed[0, :count], packed[1, :count], packed[2, :count], packed[3, :count], factor,
                      packed[4, :count], packed[5, :count], packed[6, :count], packed[7, :count])
        for k, out in enumerate(outs):
            _scatter(packed[4 + k], where, count, out)


@numba.njit(cache=True, nogil=True)
def _supertrend_packed(high: np.ndarray, low: np.ndarray, close: np.ndarray, factor: float, period: int,
                       method: int, weight: float, line: np.ndarray, upper: np.ndarray, lower: np.ndarray,
                       direction: np.ndarray, atr: np.ndarray) -> None:  # pragma: no cover - compiled
    """The ATR, then the bands from bar ``period`` on (NaN before)."""
    _atr_packed(high, low, close, period, method, weight, atr)
    head = min(period, high.shape[0])
    line[:head] = upper[:head] = lower[:head] = direction[:head] = np.nan
    _bands_packed(high[head:], low[head:], close[head:], atr[head:], factor, line[head:], upper[head:],
                  lower[head:], direction[head:])


@numba.njit(cache=True, nogil=True)
def _supertrend_rows(high: np.ndarray, low: np.ndarray, close: np.ndarray, factor: float, period: int,
                     method: int, weight: float, line: np.ndarray, upper: np.ndarray, lower: np.ndarray,
                     direction: np.ndarray, atr: np.ndarray) -> None:  # pragma: no cover - compiled
    """The ATR and the bands in one walk of each row's quoted bars."""
    where, packed = _scratch(high.shape[1], 8)
    for i in range(high.shape[0]):
        if _finite(high[i], low[i], close[i]):
            _supertrend_packed(high[i], low[i], close[i], factor, period, method, weight, line[i], upper[i],
                               lower[i], direction[i], atr[i])
            continue
        count = _pack_bars(high[i], low[i], close[i], where, packed)
        _supertrend_packed(packed[0, :count], packed[1, :count], packed[2, :count], factor, period, method, weight,
                           packed[3, :count], packed[4, :count], packed[5, :count], packed[6, :count],
                           packed[7, :count])
        for k, out in enumerate((line[i], upper[i], lower[i], direction[i], atr[i])):
            _scatter(packed[3 + k], where, count, out)


@numba.njit(cache=True, nogil=True)
def _bias_rows(close: np.ndarray, lookback: int, up: np.ndarray, down: np.ndarray,
               bias: np.ndarray) -> None:  # pragma: no cover - compiled
    where, packed = _scratch(close.shape[1], 4)
    for i in range(close.shape[0]):
        if _finite(close[i], close[i], close[i]):
            _bias_packed(close[i], lookback, up[i], down[i], bias[i])
            continue
        count = _positions(close[i], close[i], close[i], close[i], where)
        _gather(close[i], where, count, packed[0])
        _bias_packed(packed[0, :count], lookback, packed[1, :count], packed[2, :count], packed[3, :count])
        for k, out in enumerate((up[i], down[i], bias[i])):
            _scatter(packed[1 + k], where, count, out)


@numba.njit(cache=True, nogil=True)
def _reversal_rows(close: np.ndarray, level: np.ndarray, period: int, horizon: int, width: float, lookback: int,
                   examined: np.ndarray, events: np.ndarray, reversals: np.ndarray,
                   probability: np.ndarray) -> None:  # pragma: no cover - compiled
    """Rule 4's statistic per row (see :func:`toolkit.signals.momentum.reversal_probability`), on the quoted
    closes; the event and reversal tests are counted without a branch."""
    steps = close.shape[1]
    where = np.empty(steps, dtype=np.int64)
    packed = np.empty(steps)
    strength = np.empty(steps)
    for i in range(close.shape[0]):
        count = _positions(close[i], close[i], close[i], close[i], where)
        _gather(close[i], where, count, packed)
        c = packed[:count]
        _rsi_packed(c, period, strength[:count])
        wanted = level[i]
        if not math.isfinite(wanted):  # the series' current RSI
            wanted = strength[count - 1] if count > 0 else np.nan
        first = max(count - lookback, 0) if lookback > 0 else 0
        hits = turns = 0
        for j in range(first, count - horizon):
            r = strength[j]
            event = (abs(r - wanted) <= width) & (r != 50.0)  # a NaN RSI or level is never an event
            moved = c[j + horizon] - c[j]
            turned = event & (((r > 50.0) & (moved < 0.0)) | ((r < 50.0) & (moved > 0.0)))
            hits += int(event)
            turns += int(turned)
        examined[i] = wanted
        events[i] = hits
        reversals[i] = turns
        probability[i] = turns / hits if hits > 0 else np.nan


@numba.njit(cache=True, nogil=True)
def _first_on_stack(x: np.ndarray, stack: np.ndarray, size: int, level: float, sign: float,
                    none: int) -> int:  # pragma: no cover - compiled
    """The nearest bar on ``stack`` (its top, ``stack[size - 1]``, the nearest) with ``sign x >= sign level``;
    ``none`` if there is none. Going down the stack the bars are later and ``sign x`` larger: a binary
    search for how many reach."""
    lo, hi = 0, size  # stack[:lo] reach, stack[hi:] do not
    while lo < hi:
        mid = (lo + hi) // 2
        if sign * x[stack[mid]] >= sign * level:
            lo = mid + 1
        else:
            hi = mid
    return stack[lo - 1] if lo > 0 else none


@numba.njit(cache=True, nogil=True)
def _replay_rows(high: np.ndarray, low: np.ndarray, close: np.ndarray, rows: np.ndarray, direction: np.ndarray,
                 stop_distance: np.ndarray, limit_distance: np.ndarray, trades: np.ndarray, successes: np.ndarray,
                 held: np.ndarray) -> None:  # pragma: no cover - compiled
    """Rule 8's bracket replay (see :mod:`toolkit.signals.brackets`) of every order, from each start bar.

    The first bar after a start ``t`` whose high reaches a level is the nearest reaching bar among the bars
    after ``t`` not dominated by an earlier, at-least-as-high one: a monotonic stack of those, updated as
    ``t`` walks back (each bar pushed and popped once), searched in ``log`` steps; the lows alike. So an
    order costs ``N log N``, whatever its stop and limit."""
    steps = high.shape[1]
    tops = np.empty(steps, dtype=np.int64)
    bottoms = np.empty(steps, dtype=np.int64)
    for o in range(rows.shape[0]):
        h, lo, c = high[rows[o]], low[rows[o]], close[rows[o]]
        long = direction[o] > 0
        rise = limit_distance[o] if long else stop_distance[o]
        fall = stop_distance[o] if long else limit_distance[o]
        n_tops = n_bottoms = 0
        count = wins = spent = 0
        for t in range(steps - 2, -1, -1):
            k = t + 1  # the bar that joins the ones after the start
            while n_tops > 0 and h[tops[n_tops - 1]] <= h[k]:
                n_tops -= 1
            tops[n_tops] = k
            n_tops += 1
            while n_bottoms > 0 and lo[bottoms[n_bottoms - 1]] >= lo[k]:
                n_bottoms -= 1
            bottoms[n_bottoms] = k
            n_bottoms += 1
            up, down = c[t] * (1.0 + rise), c[t] * (1.0 - fall)
            rises = _first_on_stack(h, tops, n_tops, up, 1.0, steps)
            falls = _first_on_stack(lo, bottoms, n_bottoms, down, -1.0, steps) if down > 0 else steps
            win, loss = (rises, falls) if long else (falls, rises)
            end = min(win, loss)
            if end < steps:
                count += 1
                wins += win < loss  # a tie (both on one bar) is a failure
                spent += end - t
        trades[o], successes[o], held[o] = count, wins, spent


# ------------------------------------------------------------------------------ NumPy (..., time) wrappers


def _rows(*arrays: np.ndarray) -> list[np.ndarray]:
    """Each array as C-contiguous, writeable float64 rows ``(series, time)``: a view when it already is one,
    else a copy (numba compiles a kernel again for each layout and for read-only arrays, such as pandas'
    copy-on-write views; one signature each keeps the compile to once per machine)."""
    steps = arrays[0].shape[-1]
    out = []
    for a in arrays:
        rows = np.ascontiguousarray(a, dtype=np.float64).reshape(-1, steps)
        out.append(rows if rows.flags.writeable else rows.copy())
    return out


def _outputs(like: np.ndarray, count: int) -> list[np.ndarray]:
    return [np.empty(like.shape) for _ in range(count)]


def true_range(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """Wilder's true range of every quoted bar of arrays ``(..., time)``; NaN on each series' first quoted bar."""
    h, lo, c = _rows(high, low, close)
    (out,) = _outputs(h, 1)
    _true_range_rows(h, lo, c, out)
    return out.reshape(high.shape)


def atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int, method: str) -> np.ndarray:
    """The ``method`` (SMA, EMA, Smoothed) average true range of period ``period`` of arrays ``(..., time)``."""
    h, lo, c = _rows(high, low, close)
    (out,) = _outputs(h, 1)
    _atr_rows(h, lo, c, period, METHOD_CODES[method], alpha(period, method), out)
    return out.reshape(high.shape)


def rsi(close: np.ndarray, period: int) -> np.ndarray:
    """Wilder's RSI of period ``period`` of closes ``(..., time)``."""
    (c,) = _rows(close)
    (out,) = _outputs(c, 1)
    _rsi_rows(c, period, out)
    return out.reshape(close.shape)


def bands(high: np.ndarray, low: np.ndarray, close: np.ndarray, atr: np.ndarray,
          factor: float) -> tuple[np.ndarray, ...]:
    """SuperTrend ``line, upper, lower, direction`` of arrays ``(..., time)`` from a given ATR."""
    h, lo, c, a = _rows(high, low, close, atr)
    outs = _outputs(h, 4)
    _bands_rows(h, lo, c, a, float(factor), *outs)
    return tuple(o.reshape(high.shape) for o in outs)


def supertrend(high: np.ndarray, low: np.ndarray, close: np.ndarray, factor: float, period: int,
               method: str) -> tuple[np.ndarray, ...]:
    """SuperTrend ``line, upper, lower, direction, atr`` of arrays ``(..., time)``, the ATR computed in the
    same walk."""
    h, lo, c = _rows(high, low, close)
    outs = _outputs(h, 5)
    _supertrend_rows(h, lo, c, float(factor), period, METHOD_CODES[method], alpha(period, method), *outs)
    return tuple(o.reshape(high.shape) for o in outs)


def trend_bias(close: np.ndarray, lookback: int) -> tuple[np.ndarray, ...]:
    """``up, down, bias`` over the last ``lookback`` changes of closes ``(..., time)``."""
    (c,) = _rows(close)
    outs = _outputs(c, 3)
    _bias_rows(c, lookback, *outs)
    return tuple(o.reshape(close.shape) for o in outs)


def reversal(close: np.ndarray, level: np.ndarray, period: int, horizon: int, width: float,
             lookback: int) -> tuple[np.ndarray, ...]:
    """Rule 4's ``rsi`` (the level examined), ``events``, ``reversals``, ``probability`` of closes ``(..., time)``
    at ``level`` ``(...)`` (NaN: the series' current RSI), each ``(...)``."""
    (c,) = _rows(close)
    wanted = np.ascontiguousarray(np.broadcast_to(level, close.shape[:-1]), dtype=np.float64).reshape(-1)
    outs = [np.empty(c.shape[0]) for _ in range(4)]
    _reversal_rows(c, wanted, period, horizon, float(width), lookback, *outs)
    return tuple(o.reshape(close.shape[:-1]) for o in outs)


def replay(high: np.ndarray, low: np.ndarray, close: np.ndarray, rows: np.ndarray, direction: np.ndarray,
           stop_distance: np.ndarray, limit_distance: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rule 8's ``trades`` (closed), ``successes`` and candles ``held`` in all, each ``(orders,)``, of windows
    ``(series, N + 1)`` (see :func:`toolkit.signals.brackets.replay`)."""
    h, lo, c = _rows(high, low, close)
    outs = [np.empty(rows.shape[0]) for _ in range(3)]
    orders = [np.ascontiguousarray(x, dtype=np.float64) for x in (direction, stop_distance, limit_distance)]
    _replay_rows(h, lo, c, np.ascontiguousarray(rows, dtype=np.int64), *orders, *outs)
    return outs[0], outs[1], outs[2]
