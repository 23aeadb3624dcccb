"""Rule 8's statistic: an order's stop and limit replayed from each of the last N candles.

The risk platform's "Backtest Over 200 Candles" (``risk-platform-api.txt``, rule 8) "performs a
statistical analysis of the order based on the last n candles and taking into account the chosen
risk management strategy. Provides an indication of probability of success and duration of the
trade." It gives no formula; the toolkit's definition, a bracket-order replay (the "triple barrier"
labelling of López de Prado, *Advances in Financial Machine Learning*, 2018, ch. 3.4, without its
time barrier):

- the **window** is a series' last ``N + 1`` quoted bars, numbered ``0..N``; a **trade** starts at
  the close of each bar ``t = 0..N - 1`` (``N`` trades), with the order's stop and limit at the
  same *relative* distances from that close as from the order's entry: ``s = |entry - stop| /
  entry`` and ``r = |limit - entry| / entry`` (the strategy's stop and limit, after the defaults of
  rules 3 and 5);
- a Long trade **succeeds** on the first later bar ``k`` (``t < k <= N``) whose high reaches
  ``close_t (1 + r)`` and **fails** on the first whose low reaches ``close_t (1 - s)`` (a Short: low
  to ``close_t (1 - r)``, high to ``close_t (1 + s)``); when both happen on the same bar the trade
  fails (the order of the prices within a bar is unknown: the cautious reading). A trade that
  reaches neither by bar ``N`` is **open** and left out;
- **probability of success** = successes / closed trades; **expected duration** = the mean of
  ``k - t`` over the closed trades, in candles of the order's timeframe. No stop (``s`` infinite)
  means a trade can only succeed, no limit (``r`` infinite) that it can only fail.

Vectorised over orders and start bars at once: the first bar at which the highs reach a level is
found by binary lifting over a sparse table of running maxima (``ceil(log2(N + 1))`` vector steps,
each one gather over every (order, start) pair), the lows alike with minima; no loop over orders,
instruments or bars.
"""

from __future__ import annotations

import numpy as np


def _tables(x: np.ndarray, levels: int, pick: np.ufunc, fill: float) -> list[np.ndarray]:
    """``tables[j][..., p] = pick(x[..., p : p + 2**j])``, padded with ``fill`` past the end, each row
    ``x.shape[-1] + 2**levels`` wide so that any lookup ``p + 1 <= x.shape[-1] + 2**(levels - 1)`` stays inside."""
    width = x.shape[-1] + 2 ** levels
    base = np.full(x.shape[:-1] + (width,), fill)
    base[..., :x.shape[-1]] = x
    tables = [base]
    for j in range(1, levels):
        half = 2 ** (j - 1)
        previous = tables[-1]
        table = previous.copy()
        pick(previous[..., :-half], previous[..., half:], out=table[..., :-half])
        tables.append(table)
    return tables


def first_reach(x: np.ndarray, rows: np.ndarray, starts: np.ndarray, level: np.ndarray, *,
                above: bool) -> np.ndarray:
    """The first bar after each start at which a series reaches a level.

    Parameters
    ----------
    x : np.ndarray
        ``(series, bars)``: the highs (``above=True``) or lows (``above=False``) of each window.
    rows : np.ndarray
        ``(orders,)`` int: the series of each order.
    starts : np.ndarray
        ``(starts,)`` int: the start bars, ``0 <= t < bars``.
    level : np.ndarray
        ``(orders, starts)``: the level to reach (NaN or infinite: never reached).
    above : bool
        True: the first ``k > t`` with ``x[k] >= level``; False: with ``x[k] <= level``.

    Returns
    -------
    np.ndarray
        ``(orders, starts)`` int: that bar ``k``, or ``bars`` (one past the window) where none does.
    """
    steps = x.shape[-1]
    levels = max(1, int(np.ceil(np.log2(steps + 1))))
    sign = 1.0 if above else -1.0
    # as maxima either way: the lows negated, so "reaches" is always "max of the span >= level"
    tables = [t.ravel() for t in _tables(sign * x, levels, np.maximum, -np.inf)]
    width = tables[0].size // x.shape[0]
    target = sign * level
    target[np.isnan(target)] = np.inf  # never reached
    kind = np.int32 if tables[0].size < 2 ** 31 - 2 ** levels else np.int64
    base = (rows.astype(kind) * width).astype(kind)[:, None]  # each order's row start in the flat tables
    # per pair, the flat index of the next bar to look at: one past the last bar known to fall short (the start)
    index = base + (starts.astype(kind) + 1)[None, :]
    span = np.empty(target.shape)
    short = np.empty(target.shape, dtype=bool)
    for j in reversed(range(levels)):
        np.take(tables[j], index, out=span)  # max of x[pos + 1 .. pos + 2**j]
        np.less(span, target, out=short)
        np.add(index, 2 ** j, out=index, where=short)
    first = index - base
    return np.minimum(first, steps)


def replay(high: np.ndarray, low: np.ndarray, close: np.ndarray, rows: np.ndarray, direction: np.ndarray,
           stop_distance: np.ndarray, limit_distance: np.ndarray) -> dict[str, np.ndarray]:
    """Every order's bracket replayed from each start bar of its series' window (see the module).

    Parameters
    ----------
    high, low, close : np.ndarray
        ``(series, N + 1)``: each series' last ``N + 1`` quoted bars.
    rows : np.ndarray
        ``(orders,)`` int: each order's series.
    direction : np.ndarray
        ``(orders,)``: +1 Long, -1 Short.
    stop_distance, limit_distance : np.ndarray
        ``(orders,)``: ``s`` and ``r``, fractions of the entry (``inf``: no stop, no limit).

    Returns
    -------
    dict of np.ndarray
        Each ``(orders,)``: ``trades`` (closed), ``successes``, ``probability`` (NaN without a closed
        trade) and ``duration`` (mean candles to close, NaN without one).
    """
    steps = close.shape[-1]
    starts = np.arange(steps - 1)
    entry = close[rows][:, :-1]  # (orders, starts)
    long = (direction > 0)[:, None]
    up = entry * np.where(long, 1.0 + limit_distance[:, None], 1.0 + stop_distance[:, None])
    down = entry * np.where(long, 1.0 - stop_distance[:, None], 1.0 - limit_distance[:, None])
    down = np.where(down > 0, down, np.nan)  # a distance of 100 % or more: never reached
    rises = first_reach(high, rows, starts, up, above=True)
    falls = first_reach(low, rows, starts, down, above=False)
    win_bar, loss_bar = np.where(long, rises, falls), np.where(long, falls, rises)
    success = win_bar < loss_bar  # a tie (both on one bar) is a failure
    end = np.minimum(win_bar, loss_bar)
    closed = end < steps
    trades = closed.sum(axis=-1).astype(float)
    successes = (success & closed).sum(axis=-1).astype(float)
    held = np.where(closed, end - starts[None, :], 0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        probability = np.where(trades > 0, successes / trades, np.nan)
        duration = np.where(trades > 0, held / trades, np.nan)
    return {"trades": trades, "successes": successes, "probability": probability, "duration": duration}
