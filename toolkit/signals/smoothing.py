"""The moving averages of the indicators, as numpy kernels over the last axis of packed series.

A kernel takes an array ``(..., time)`` whose every row holds its valid values from index ``start``
on (the same ``start`` for all rows, see :func:`toolkit.signals.bars.compact`; trailing NaN, the
rows' missing bars packed at the end, are allowed and give NaN), and returns the average at every
index, NaN before the first full window. Each recursion runs inside ``scipy.signal.lfilter``,
vectorised across rows: no Python loop over series or days.

Seeding (TA-Lib's convention, ``ta_SMA.c``, ``ta_EMA.c``, ``ta_ATR.c``, ``ta_RSI.c``; TA-Lib 0.6):

- **SMA** ``n``: the mean of the last ``n`` values; first at ``start + n - 1``.
- **EMA** ``n``: ``y_t = y_{t-1} + alpha (x_t - y_{t-1})`` with ``alpha = 2 / (n + 1)``, seeded at
  ``start + n - 1`` with the SMA of the first ``n`` values.
- **Smoothed** (Wilder's smoothing, also called RMA or SMMA) ``n``: the same recursion with
  ``alpha = 1 / n``, seeded the same way (Wilder 1978, *New Concepts in Technical Trading
  Systems*, p. 23: the first average true range is the mean of the first ``n`` true ranges).

The seed's weight in ``y_t`` decays as ``(1 - alpha)^(t - start - n + 1)``: for Wilder's ``n = 14``
below 1e-12 after 373 bars, for an EMA of 14 after 207.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter1d
from scipy.signal import lfilter

#: alpha of each recursive method, given the period
ALPHA = {"EMA": lambda n: 2.0 / (n + 1.0), "Smoothed": lambda n: 1.0 / n}


def sma(x: np.ndarray, n: int, start: int = 0) -> np.ndarray:
    """Rolling mean of ``n`` values over the last axis; NaN before ``start + n - 1``.

    ``scipy.ndimage.uniform_filter1d`` (a running sum in C, as TA-Lib's SMA keeps its running total), its
    centred window moved to end on each bar (``origin = (n - 1) // 2``); the rounding error is of the order
    of ``eps * max|x|`` per bar added.
    """
    out = np.empty(x.shape)
    if x.shape[-1] < start + n:
        out.fill(np.nan)
        return out
    uniform_filter1d(x[..., start:], n, axis=-1, output=out[..., start:], mode="nearest", origin=(n - 1) // 2)
    out[..., :start + n - 1] = np.nan
    return out


def ewm(x: np.ndarray, n: int, alpha: float, start: int = 0, *, overwrite: bool = False) -> np.ndarray:
    """``y_t = (1 - alpha) y_{t-1} + alpha x_t``, seeded at ``start + n - 1`` with the mean of the first
    ``n`` values (TA-Lib's EMA and Wilder seeding); NaN before. ``overwrite`` lets it reuse ``x``.

    One ``lfilter`` over the whole row: the values before the seed are zeroed and the seed enters as
    ``seed / alpha`` on its bar, so the filter's state is the seed there and the recursion after it.
    """
    first = start + n - 1
    if x.shape[-1] <= first:
        return np.full(x.shape, np.nan)
    seed = x[..., start:first + 1].mean(axis=-1)
    u = x if overwrite else x.copy()
    u[..., :first] = 0.0
    u[..., first] = seed / alpha
    y = lfilter([alpha], [1.0, alpha - 1.0], u, axis=-1)
    y[..., :first] = np.nan
    return y


def average(x: np.ndarray, n: int, method: str, start: int = 0, *, overwrite: bool = False) -> np.ndarray:
    """The ``method`` average (SMA, EMA or Smoothed) of period ``n``; see the module for the seeding."""
    if method == "SMA":
        return sma(x, n, start)
    return ewm(x, n, ALPHA[method](n), start, overwrite=overwrite)
