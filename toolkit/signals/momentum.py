"""Wilder's RSI and the overextension statistic of the risk platform's rule 4, over a whole universe.

Both read closes: an OHLCV ``xr.Dataset`` (its ``close``) or a ``DataArray`` of closes over
``(instrument, time)`` with any extra dimensions, kept; a dask-backed input stays lazy. A NaN close
is a missing bar: skipped (the next change is taken from the last quoted close), NaN in the result.

**RSI** (Wilder 1978, *New Concepts in Technical Trading Systems*, ch. 6) of period ``n``: with the
close-to-close changes ``d_t``, gains ``max(d_t, 0)`` and losses ``max(-d_t, 0)`` are each averaged
with Wilder's smoothing (``alpha = 1/n``), seeded with the plain mean of the first ``n`` gains and
losses (changes 1..n), so the first RSI is on bar ``n`` (0-based), as TA-Lib's ``RSI``; then
``RSI = 100 G / (G + L)`` (= ``100 - 100 / (1 + G/L)``). A flat window (``G = L = 0``) gives 50;
TA-Lib gives 0 there. The ``ta`` package's ``RSIIndicator`` runs pandas'
``ewm(alpha=1/n, adjust=False)`` from the first change without the mean seed (reporting from bar
``n`` on); pandas-ta's ``rsi`` calls TA-Lib when it is installed (``talib=True``), else its ``rma``,
``ewm(alpha=1/n, min_periods=n)`` with pandas' ``adjust=True`` weights. All agree once the seed has
decayed, ``(1 - 1/n)^k``: for ``n = 14`` to 1e-12 after about 370 bars.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from toolkit.errors import Problems
from toolkit.schema import TIME
from toolkit.signals import bars as b
from toolkit.signals import kernels

#: Wilder's RSI period
PERIOD = 14


def closes(data: xr.Dataset | xr.DataArray, needed: int, what: str) -> xr.DataArray:
    """The closes of ``data`` with at least ``needed`` candles."""
    close = b.variable(data, "close")
    b.enough(close, "close", needed, what)
    return close


def rsi(data: xr.Dataset | xr.DataArray, period: int = PERIOD) -> xr.DataArray:
    """Wilder's relative strength index, 0 to 100.

    Parameters
    ----------
    data : xr.Dataset or xr.DataArray
        OHLCV bars (``close`` is read) or closes, over ``(instrument, time)`` and any extra
        dimensions; ``time`` sorted and unique; at least ``period + 1`` candles.
    period : int
        Wilder's ``n``, 2 to 500. Default 14.

    Returns
    -------
    xr.DataArray
        ``(instrument, time, ...)`` as the closes; NaN before a series' bar ``period`` (counting its
        quoted bars) and on missing bars. Seeding: the mean of the first ``period`` gains and losses,
        as TA-Lib (see the module for ``ta`` and pandas-ta).
    """
    b.read_parameters({"period": (period, 3, "Period")})
    close = closes(data, period + 1, f"an RSI of period {period}")
    (out,) = b.apply(kernels.rsi, close, period=period)
    return out.rename("rsi")


def reversal_probability(data: xr.Dataset | xr.DataArray, level: float | xr.DataArray | None = None, *,
                         period: int = PERIOD, horizon: int = 5, width: float = 2.5,
                         lookback: int | None = None) -> xr.Dataset:
    """Rule 4's overextension statistic: from history, the chance that price reverses at an RSI level.

    Definition (the document's "Out of 348 such past events, a RSI level at 37.07 has a 47% chance of
    reversal"; it gives no formula, this is the toolkit's): on each series' quoted bars ``t`` with a
    Wilder RSI ``R_t`` (period ``period``), the RSI *points* up when ``R_t > 50`` and down when
    ``R_t < 50`` (the smoothed gains outweigh the losses, or the reverse). A past bar is an *event*
    when ``|R_t - level| <= width`` and the close ``horizon`` quoted bars later is known; the event
    is a *reversal* when that later close moved against where the RSI pointed:
    ``sign(R_t - 50) (close_{t+horizon} - close_t) < 0``. The probability is reversals / events.
    ``level`` defaults to each series' current (last) RSI, so the statistic answers "how often did
    price turn from here"; the current bar is never an event (its future is unknown).

    Parameters
    ----------
    data : xr.Dataset or xr.DataArray
        OHLCV bars (``close`` is read) or closes over ``(instrument, time)`` and any extra
        dimensions; at least ``period + horizon + 1`` candles.
    level : float or xr.DataArray, optional
        The RSI level examined, 0 to 100: a number, or an array over the non-time dimensions (NaN:
        that series' current RSI). Default: each series' current RSI.
    period : int
        RSI period, 2 to 500. Default 14.
    horizon : int
        Bars ahead at which the reversal is judged, 1 to 500. Default 5 (a trading week).
    width : float
        Half-width of the RSI bin, above 0 and at most 50. Default 2.5 RSI points.
    lookback : int, optional
        Only the last ``lookback`` quoted bars of each series count (2 to 100,000); default all.

    Returns
    -------
    xr.Dataset
        Over the closes' dimensions without ``time``: ``rsi`` (the level examined), ``events`` and
        ``reversals`` (counts) and ``probability`` (their ratio, NaN without events).
    """
    problems = Problems()
    b.read_parameters({"period": (period, 3, "Period")}, problems)
    b.number(horizon, "horizon", problems, 1, 500, whole=True)
    b.number(width, "width", problems, 0, 50, above_low=True)
    if lookback is not None:
        b.number(lookback, "lookback", problems, 2, 100_000, whole=True)
    if level is not None and not isinstance(level, xr.DataArray):
        b.number(level, "level", problems, 0, 100)
    problems.raise_if_any("indicator parameters")
    close = closes(data, period + horizon + 1, f"the reversal statistic (RSI {period}, {horizon} bars ahead)")
    levels = xr.full_like(close.isel({TIME: -1}, drop=True), np.nan, dtype=float)
    if level is not None:
        levels = (levels.fillna(0) + level).where(lambda v: np.isfinite(v)) if isinstance(level, xr.DataArray) \
            else levels.fillna(float(level))
    outs = xr.apply_ufunc(kernels.reversal, b.core(close), levels,
                          kwargs={"period": period, "horizon": horizon, "width": float(width),
                                  "lookback": lookback or 0},
                          input_core_dims=[[TIME], []], output_core_dims=[[], [], [], []], dask="parallelized",
                          output_dtypes=[float] * 4)
    names = ("rsi", "events", "reversals", "probability")
    return xr.Dataset(dict(zip(names, outs, strict=True)))
