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

Every order and start bar in one compiled call (:func:`toolkit.signals.kernels.replay`): per order, the
start walks back from the window's end while a monotonic stack keeps the bars after it that no earlier
bar dominates, so the first bar whose high reaches a level is found by a binary search of that stack
(the lows alike): ``N log N`` steps an order, whatever its stop and limit.
"""

from __future__ import annotations

import numpy as np

from toolkit.signals import kernels


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
    trades, successes, held = kernels.replay(high, low, close, rows, direction, stop_distance, limit_distance)
    with np.errstate(invalid="ignore", divide="ignore"):
        probability = np.where(trades > 0, successes / trades, np.nan)
        duration = np.where(trades > 0, held / trades, np.nan)
    return {"trades": trades, "successes": successes, "probability": probability, "duration": duration}
