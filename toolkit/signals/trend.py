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
close crosses it), so it is not a linear filter: it is one compiled walk along time per series,
the ATR and the bands together (:mod:`toolkit.signals.kernels`).
stockstats' ATR is ``ewm(alpha=1/n, adjust=True)`` from the first bar, so its SuperTrend equals the
"Smoothed" one once the ATR seeds have decayed. pandas-ta's ``supertrend`` is another recursion: it
compares the close with the previous bar's bands and ratchets only the band of the current direction
(its ATR is TA-Lib's when installed), so its line and flips can differ from Pine's after a reversal.

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
from toolkit.signals import kernels
from toolkit.signals.momentum import closes
from toolkit.signals.volatility import ohlc

#: the document's SuperTrend defaults (rule 7: "Direction - Follow The Supertrend (3, 10, SMA)")
FACTOR, PERIOD, METHOD = 3.0, 10, "SMA"
#: the default trend-bias lookback, the document's backtest default of 200 candles (rule 8)
LOOKBACK = 200


def bands(high: np.ndarray, low: np.ndarray, close: np.ndarray, atr: np.ndarray,
          factor: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """SuperTrend of rows ``(..., time)`` from a given ATR: line, upper, lower, direction (+1 up, -1 down),
    NaN where the ATR is NaN.

    Each row starts on its first bar with an ATR (the basic bands are the final bands there) and skips the
    bars without one. Both final bands are one ratchet: the state ``(U, -L)`` falls to the basic band
    ``(bu, -bl)`` when that is lower, and resets to it when the previous close crossed it
    (``(c, -c) > (U, -L)``); the direction is then a latch (up when the close is above ``U``, down when
    below ``L``). One compiled walk per row (:func:`toolkit.signals.kernels.bands`).
    """
    line, upper, lower, direction = kernels.bands(high, low, close, atr, factor)
    return line, upper, lower, direction


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
    outs = b.apply(kernels.supertrend, high, low, close, outputs=5, factor=float(factor), period=period,
                   method=method)
    names = ("supertrend", "upper", "lower", "direction", "atr")
    return xr.Dataset({name: out.rename(name) for name, out in zip(names, outs, strict=True)})


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
    outs = b.apply(kernels.trend_bias, close, outputs=3, lookback=lookback)
    return xr.Dataset({name: out.rename(name) for name, out in zip(("up", "down", "bias"), outs, strict=True)})
