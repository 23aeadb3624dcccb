"""True range and average true range (ATR) of OHLC bars, for a whole universe in one call.

Both take an OHLCV ``xr.Dataset`` over ``(instrument, time)`` (extra dimensions are kept; only
``high``, ``low`` and ``close`` are read) and answer a ``DataArray`` of the same shape; a
dask-backed input stays lazy (one task per chunk of instruments). A bar with a NaN in ``high``,
``low`` or ``close`` is missing: its result is NaN and the next bar's true range uses the last
quoted close (the series continues across the gap as if the bar had not existed).

Conventions and how the peers differ:

- **True range** (Wilder 1978): ``max(high - low, |high - close_prev|, |low - close_prev|)``
  (computed as ``max(high, close_prev) - min(low, close_prev)``, the same for ``high >= low``); the
  first bar of a series has no previous close and its true range is NaN, as TA-Lib's ``TRANGE``
  and pandas-ta's ``true_range``; the ``ta`` package takes ``high - low`` there.
- **ATR** of period ``n`` is the ``method`` average of the true ranges (the risk platform's
  SuperTrend ``Method``: SMA, EMA or Smoothed = Wilder's), first defined on bar ``n`` (0-based), the
  ``n + 1``-th candle: Smoothed and EMA are seeded with the mean of the first ``n`` true ranges
  (bars 1..n), as TA-Lib's ``ATR`` and ``EMA(TRANGE)``; Smoothed uses ``alpha = 1/n``, EMA
  ``alpha = 2/(n + 1)`` (see :mod:`toolkit.signals.kernels`). So the toolkit equals TA-Lib from
  the first value. ``ta``'s ``AverageTrueRange`` seeds one bar earlier with the mean of bars
  0..n-1 (its first true range being ``high - low``). pandas-ta's ``atr`` calls TA-Lib when it is
  installed (its ``talib=True`` default), else its ``rma``, pandas' ``ewm(alpha=1/n,
  min_periods=n)`` with pandas' default ``adjust=True`` weights from the first true range;
  stockstats' ``atr`` is ``ewm(alpha=1/n, adjust=True)`` from bar 0. The recursions are the same,
  so all agree once the seed has decayed (``(1 - 1/n)^k``: for ``n = 14``, to 1e-12 relative
  after about 370 bars).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from toolkit.signals import bars as b
from toolkit.signals import kernels

#: the document's default ATR period of the stop rule (rule 3 Lookback Period is 40; Wilder's own is 14)
PERIOD = 14


def valid_bars(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray | None:
    """The bars whose high, low and close are all quoted; None when all are."""
    return b.valid_values(high, low, close)


def ohlc(bars: xr.Dataset, needed: int, what: str) -> list[xr.DataArray]:
    """``high, low, close`` of ``bars``, aligned, with at least ``needed`` candles."""
    arrays = [b.variable(bars, name) for name in ("high", "low", "close")]  # one dataset: shared coordinates
    b.enough(arrays[2], "close", needed, what)
    return arrays


def true_range(bars: xr.Dataset) -> xr.DataArray:
    """Wilder's true range of every bar.

    Parameters
    ----------
    bars : xr.Dataset
        OHLCV bars with ``high``, ``low``, ``close`` over ``(instrument, time)`` and any extra
        dimensions; ``time`` sorted and unique.

    Returns
    -------
    xr.DataArray
        ``(instrument, time, ...)`` as ``bars.close``: ``max(high - low, |high - close_prev|,
        |low - close_prev|)``, NaN on each series' first quoted bar and on missing bars.
    """
    high, low, close = ohlc(bars, 2, "the true range")
    (out,) = b.apply(kernels.true_range, high, low, close)
    return out.rename("true_range")


def atr(bars: xr.Dataset, period: int = PERIOD, method: str = "Smoothed") -> xr.DataArray:
    """Average true range: the ``method`` average of the true ranges over ``period`` bars.

    Parameters
    ----------
    bars : xr.Dataset
        OHLCV bars with ``high``, ``low``, ``close`` over ``(instrument, time)`` and any extra
        dimensions; ``time`` sorted and unique; at least ``period + 1`` candles.
    period : int
        The lookback in candles, 2 to 500 (the document's ``Period``). Default 14 (Wilder's).
    method : str
        ``"SMA"``, ``"EMA"`` or ``"Smoothed"`` (Wilder's; ``"Wilder"`` is read as Smoothed), the
        document's SuperTrend ``Method``. Default Smoothed, Wilder's own ATR and TA-Lib's ``ATR``.

    Returns
    -------
    xr.DataArray
        ``(instrument, time, ...)`` as ``bars.close``, in price units; NaN before a series' bar
        ``period`` (0-based, counting its quoted bars) and on missing bars. Seeding as the module says:
        the first value is the mean of the first ``period`` true ranges (TA-Lib's convention).

    Raises
    ------
    ValidationError
        ``period`` outside 2..500 or not whole, ``method`` not one of the three.
    DataError
        A price variable missing, unsorted or repeated times, or fewer than ``period + 1`` candles.
    """
    b.read_parameters({"period": (period, 7, "Period")})
    method = b.method(method)
    high, low, close = ohlc(bars, period + 1, f"an ATR of period {period}")
    (out,) = b.apply(kernels.atr, high, low, close, period=period, method=method)
    return out.rename("atr")
