"""SuperTrend (the risk platform's rule 7) and the trend bias of rule 9, over a whole universe.

Both take bars over ``(instrument, time)`` with any extra dimensions, kept; a dask-backed input
stays lazy (one task per chunk of instruments). Missing bars (a NaN in a price used) are skipped
and NaN in the result, as in :mod:`toolkit.signals.volatility`.

**SuperTrend** (Olivier Seban; the definition of TradingView's Pine Script ``ta.supertrend``, which
stockstats' ``supertrend`` also follows), with factor ``f``, period ``n`` and an ATR by ``method``:

- basic bands ``(high + low)/2 ± f ATR_t``;
- final upper band ``U_t = basic_upper_t`` if ``basic_upper_t < U_{t-1}`` or ``close_{t-1} > U_{t-1}``,
  else ``U_{t-1}`` (it only falls while the price stays under it); the final lower band ``L_t``
  symmetrically (it only rises while the price stays above it);
- direction: up (+1) when ``close_t > U_t``, down (-1) when ``close_t < L_t``, else the previous
  direction; the SuperTrend line is ``L_t`` in an up trend and ``U_t`` in a down trend.

Seeding: the first bar with an ATR (bar ``n``, see :func:`toolkit.signals.volatility.atr`) takes the
basic bands as final bands and starts from "down" (Pine starts down; stockstats starts at 0,
which it plots as down), so a series is up on that bar only if its close is already above the
upper band. The band recursion depends on its own past (a running extreme that resets when the
close crosses it), so it is not a linear filter: it steps through time in numpy, every instrument
and extra dimension at once (one vector operation per bar, never a loop over instruments).
stockstats' ATR is ``ewm(alpha=1/n, adjust=True)`` from the first bar, so its SuperTrend equals the
"Smoothed" one once the ATR seeds have decayed.

**Trend bias** (rule 9, "computes the time the selected instrument spent going up versus down"):
over the last ``lookback`` close-to-close changes of a series (consecutive quoted bars), the share
that went up, the share that went down (unchanged closes count in neither), and the bias
``up - down`` in -1..1: positive is an upward bias.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from toolkit.errors import Problems
from toolkit.signals import bars as b
from toolkit.signals.momentum import closes
from toolkit.signals.volatility import ohlc, packed_atr, valid_bars

#: the document's SuperTrend defaults (rule 7: "Direction - Follow The Supertrend (3, 10, SMA)")
FACTOR, PERIOD, METHOD = 3.0, 10, "SMA"
#: the default trend-bias lookback, the document's backtest default of 200 candles (rule 8)
LOOKBACK = 200


def bands(high: np.ndarray, low: np.ndarray, close: np.ndarray, atr: np.ndarray,
          factor: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """SuperTrend of rows whose ATR starts on one bar for all (``(..., time)``): line, upper, lower,
    direction (+1 up, -1 down), NaN where the ATR is NaN."""
    shape = close.shape
    steps = shape[-1]
    defined = np.isfinite(atr).any(axis=tuple(range(atr.ndim - 1))) if atr.ndim > 1 else np.isfinite(atr)
    first = int(np.argmax(defined)) if defined.any() else steps
    middle = (high + low) / 2.0
    # time-major, rows flattened: each step reads and writes contiguous vectors
    basic_upper = np.ascontiguousarray((middle + factor * atr).reshape(-1, steps).T)
    basic_lower = np.ascontiguousarray((middle - factor * atr).reshape(-1, steps).T)
    c = np.ascontiguousarray(close.reshape(-1, steps).T)
    upper = np.full(basic_upper.shape, np.nan)
    lower = np.full(basic_lower.shape, np.nan)
    up = np.zeros(basic_upper.shape, dtype=bool)
    if first < steps:
        upper[first] = basic_upper[first]
        lower[first] = basic_lower[first]
        up[first] = c[first] > upper[first]
    crossed = np.empty(c.shape[1], dtype=bool)
    held = np.empty(c.shape[1], dtype=bool)
    for t in range(first + 1, steps):
        u, lo = upper[t], lower[t]
        np.minimum(basic_upper[t], upper[t - 1], out=u)
        np.greater(c[t - 1], upper[t - 1], out=crossed)
        np.copyto(u, basic_upper[t], where=crossed)
        np.maximum(basic_lower[t], lower[t - 1], out=lo)
        np.less(c[t - 1], lower[t - 1], out=crossed)
        np.copyto(lo, basic_lower[t], where=crossed)
        np.less(c[t], lo, out=held)
        np.logical_not(held, out=held)
        np.logical_and(held, up[t - 1], out=up[t])
        np.logical_or(up[t], c[t] > u, out=up[t])
    upper_out = upper.T.reshape(shape)
    lower_out = lower.T.reshape(shape)
    direction = np.where(up.T.reshape(shape), 1.0, -1.0)
    missing = ~np.isfinite(atr)
    direction[missing] = np.nan
    upper_out[missing] = np.nan
    lower_out[missing] = np.nan
    line = np.where(direction > 0, lower_out, upper_out)
    return line, upper_out, lower_out, direction


def _supertrend_kernel(high: np.ndarray, low: np.ndarray, close: np.ndarray, factor: float, period: int,
                       method: str) -> tuple[np.ndarray, ...]:
    valid = valid_bars(high, low, close)
    order = b.compact(valid)
    h, lo, c = b.pack(high, order), b.pack(low, order), b.pack(close, order)
    average = packed_atr(h, lo, c, period, method)
    outs = (*bands(h, lo, c, average, factor), average)
    return tuple(b.spread(o, order, valid) for o in outs)


def supertrend(bars: xr.Dataset, factor: float = FACTOR, period: int = PERIOD, method: str = METHOD) -> xr.Dataset:
    """SuperTrend line, final bands and direction (see the module for the definition and seeding).

    Parameters
    ----------
    bars : xr.Dataset
        OHLCV bars with ``high``, ``low``, ``close`` over ``(instrument, time)`` and any extra
        dimensions; ``time`` sorted and unique; at least ``period + 1`` candles.
    factor : float
        The document's ``ATRFactor``, at least 1. Default 3.
    period : int
        The ATR period (the document's ``Period``), 2 to 500. Default 10.
    method : str
        The ATR's average, the document's ``Method``: ``"SMA"`` (default), ``"EMA"`` or
        ``"Smoothed"`` (Wilder's).

    Returns
    -------
    xr.Dataset
        Over ``bars``' dimensions: ``supertrend`` (the line), ``upper`` and ``lower`` (the final
        bands), ``direction`` (+1 up, -1 down) and the ``atr`` used; NaN before bar ``period`` of
        each series and on missing bars.
    """
    problems = Problems()
    b.read_parameters({"factor": (factor, 7, "ATRFactor"), "period": (period, 7, "Period")}, problems)
    problems.raise_if_any("indicator parameters")
    method = b.method(method)
    high, low, close = ohlc(bars, period + 1, f"a SuperTrend of period {period}")
    outs = b.apply(_supertrend_kernel, high, low, close, outputs=5, factor=float(factor), period=period,
                   method=method)
    names = ("supertrend", "upper", "lower", "direction", "atr")
    return xr.Dataset({name: out.rename(name) for name, out in zip(names, outs, strict=True)})


def _bias_kernel(close: np.ndarray, lookback: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    valid = np.isfinite(close)
    order = b.compact(valid)
    c = b.pack(close, order)
    change = c[..., 1:] - c[..., :-1]
    ups = np.cumsum(change > 0, axis=-1)
    downs = np.cumsum(change < 0, axis=-1)
    steps = close.shape[-1]
    up = np.full(close.shape, np.nan)
    down = np.full(close.shape, np.nan)
    if steps > lookback:
        # the window ending on bar t holds the changes t - lookback + 1 .. t (change k is bar k - 1 to k)
        up[..., lookback] = ups[..., lookback - 1]
        down[..., lookback] = downs[..., lookback - 1]
        up[..., lookback + 1:] = ups[..., lookback:] - ups[..., :-lookback]
        down[..., lookback + 1:] = downs[..., lookback:] - downs[..., :-lookback]
        # a window reaching past a row's last quoted bar is not a window
        beyond = np.arange(steps) >= valid.sum(axis=-1, keepdims=True)
        up[beyond] = np.nan
        down[beyond] = np.nan
    up /= lookback
    down /= lookback
    return tuple(b.spread(o, order, valid) for o in (up, down, up - down))  # type: ignore[return-value]


def trend_bias(data: xr.Dataset | xr.DataArray, lookback: int = LOOKBACK) -> xr.Dataset:
    """Time spent going up versus down over the last ``lookback`` changes, at every bar.

    Parameters
    ----------
    data : xr.Dataset or xr.DataArray
        OHLCV bars (``close`` is read) or closes over ``(instrument, time)`` and any extra
        dimensions; at least ``lookback + 1`` candles.
    lookback : int
        Number of close-to-close changes counted, 7 to 500 (the document's lookback range).
        Default 200.

    Returns
    -------
    xr.Dataset
        Over the closes' dimensions: ``up`` and ``down`` (shares of the ``lookback`` changes that
        rose and fell, 0..1) and ``bias`` = ``up - down``; NaN until a series has ``lookback``
        changes and on missing bars.
    """
    b.read_parameters({"lookback": (lookback, 8, "Period")})
    close = closes(data, lookback + 1, f"a trend bias over {lookback} changes")
    outs = b.apply(_bias_kernel, close, outputs=3, lookback=lookback)
    return xr.Dataset({name: out.rename(name) for name, out in zip(("up", "down", "bias"), outs, strict=True)})
