"""Support and resistance levels, minor and major, from swing highs and lows (rules 5 and 10).

The risk platform names minor and major support and resistance levels without a formula. The
toolkit takes **fractal swing points** (Bill Williams, *Trading Chaos*, 1995, ch. 8: a "fractal" up
is a bar whose high is above the highs of the two bars before it and the two bars after it; a
fractal down, a low below the lows of the two bars on each side), generalised to ``k`` bars on each
side, the swing high / swing low of Dow-theory chart reading:

- a **swing high** of window ``k`` on bar ``t``: ``high_t > high_s`` for every ``s`` with
  ``0 < |s - t| <= k`` (strictly, so a flat top of two equal highs is no swing); a **swing low**
  alike with the lows, ``low_t < low_s``. The first and last ``k`` bars of a series cannot be
  swing points (their window is incomplete); it is the same test as ``scipy.signal.argrelextrema``
  with ``np.greater`` / ``np.less`` and ``order=k``, minus the edges.
- **minor** levels use ``k = 2`` (Williams' five-bar fractal), **major** levels ``k = 10`` (a swing
  that dominates a month of trading days either side). Both are parameters.
- A swing point on bar ``t`` is only *known* on bar ``t + k``: :func:`support_resistance` reports
  on each bar the levels known by then (no look-ahead), and :func:`nearest_levels` the closest
  resistance above and support below a price among the swing points confirmed within a lookback.

Missing bars (a NaN in ``high``, ``low`` or ``close``) are skipped: the ``k`` neighbours are the
quoted bars around ``t``.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from toolkit.errors import Problems
from toolkit.schema import TIME
from toolkit.signals import bars as b
from toolkit.signals.volatility import ohlc, valid_bars

#: the window (bars on each side) of the minor and major swing points
MINOR, MAJOR = 2, 10


def _trailing(x: np.ndarray, k: int, fill: float, pick: np.ufunc) -> np.ndarray:
    """``pick`` (np.maximum or np.minimum) of ``x[t - k + 1 .. t]`` on each bar, ``fill`` before the row.

    Doubling windows (1, 2, 4, ... up to the largest power of two ``w <= k``), then two overlapping
    windows of ``w`` cover ``k``: ``log2(k) + 1`` vector passes, whatever ``k``.
    """
    steps = x.shape[-1]
    m = np.concatenate([np.full(x.shape[:-1] + (k - 1,), fill), x], axis=-1)  # m[j] = x[j - k + 1]
    w = 1
    while 2 * w <= k:
        doubled = m.copy()
        pick(m[..., w:], m[..., :-w], out=doubled[..., w:])
        m, w = doubled, 2 * w
    # bar t's window is m positions t .. t + k - 1: the w ending at t + k - 1 and the w ending at t + w - 1
    return pick(m[..., k - 1:k - 1 + steps], m[..., w - 1:w - 1 + steps])


def _extreme_neighbours(x: np.ndarray, k: int, fill: float, pick: np.ufunc) -> np.ndarray:
    """``pick`` of the ``k`` values before and the ``k`` after each bar; ``fill`` where the window leaves the row."""
    trailing = _trailing(x, k, fill, pick)
    out = np.full(x.shape, fill)
    out[..., 1:] = trailing[..., :-1]  # before: x[t - k .. t - 1]
    after = np.full(x.shape, fill)
    after[..., :x.shape[-1] - k] = trailing[..., k:]  # after: x[t + 1 .. t + k]
    return pick(out, after, out=out)


def packed_swings(high: np.ndarray, low: np.ndarray, k: int, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Swing highs and lows of packed rows (``count`` quoted bars first): the high (low) on a swing
    bar, NaN elsewhere."""
    steps = high.shape[-1]
    quoted = np.arange(steps) < count[..., None]
    h = np.where(quoted, high, np.inf)  # bars past a row's end never make or break a swing
    lo = np.where(quoted, low, -np.inf)
    top = quoted & (h > _extreme_neighbours(h, k, np.inf, np.maximum))
    bottom = quoted & (lo < _extreme_neighbours(lo, k, -np.inf, np.minimum))
    return np.where(top, high, np.nan), np.where(bottom, low, np.nan)


def _known(swing: np.ndarray, k: int) -> np.ndarray:
    """The last swing level known on each bar: the swing of bar ``t`` from bar ``t + k`` on (forward filled)."""
    shifted = np.full(swing.shape, np.nan)
    shifted[..., k:] = swing[..., :swing.shape[-1] - k]
    index = np.where(np.isfinite(shifted), np.arange(swing.shape[-1]), 0)
    np.maximum.accumulate(index, axis=-1, out=index)
    return np.take_along_axis(shifted, index, axis=-1)  # index 0 where none is known yet: shifted[0] is NaN


def _swing_kernel(high: np.ndarray, low: np.ndarray, close: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    valid = valid_bars(high, low, close)
    order = b.compact(valid)
    outs = packed_swings(b.pack(high, order), b.pack(low, order), k, b.counts(valid, high.shape))
    return b.spread(outs[0], order, valid), b.spread(outs[1], order, valid)


def _levels_kernel(high: np.ndarray, low: np.ndarray, close: np.ndarray, minor: int,
                   major: int) -> tuple[np.ndarray, ...]:
    valid = valid_bars(high, low, close)
    order = b.compact(valid)
    h, lo, count = b.pack(high, order), b.pack(low, order), b.counts(valid, high.shape)
    outs = []
    for k in (minor, major):
        top, bottom = packed_swings(h, lo, k, count)
        outs += [_known(bottom, k), _known(top, k)]
    return tuple(b.spread(o, order, valid) for o in outs)


def _windows(minor: int, major: int, problems: Problems) -> None:
    b.number(minor, "minor", problems, 1, 250, whole=True)
    b.number(major, "major", problems, 1, 250, whole=True)
    if not problems and major <= minor:
        problems.add("major", f"{major} must be larger than minor ({minor}): a major swing spans more bars")


def swing_points(bars: xr.Dataset, window: int = MINOR) -> xr.Dataset:
    """Swing highs and lows of ``window`` bars on each side, on the bar where they happened.

    Parameters
    ----------
    bars : xr.Dataset
        OHLCV bars with ``high``, ``low``, ``close`` over ``(instrument, time)`` and any extra
        dimensions; at least ``2 window + 1`` candles.
    window : int
        Bars on each side, 1 to 250. Default 2 (Williams' fractal).

    Returns
    -------
    xr.Dataset
        Over ``bars``' dimensions: ``swing_high`` (the high on a swing-high bar, NaN elsewhere) and
        ``swing_low``. Placed on the swing bar itself, so known only ``window`` bars later.
    """
    problems = Problems()
    b.number(window, "window", problems, 1, 250, whole=True)
    problems.raise_if_any("indicator parameters")
    high, low, close = ohlc(bars, 2 * window + 1, f"swing points of {window} bars each side")
    top, bottom = b.apply(_swing_kernel, high, low, close, outputs=2, k=window)
    return xr.Dataset({"swing_high": top.rename("swing_high"), "swing_low": bottom.rename("swing_low")})


def support_resistance(bars: xr.Dataset, minor: int = MINOR, major: int = MAJOR) -> xr.Dataset:
    """The last minor and major support and resistance known on every bar.

    Parameters
    ----------
    bars : xr.Dataset
        OHLCV bars with ``high``, ``low``, ``close`` over ``(instrument, time)`` and any extra
        dimensions; at least ``2 major + 1`` candles.
    minor, major : int
        Swing windows (bars on each side) of the minor and major levels; defaults 2 and 10.

    Returns
    -------
    xr.Dataset
        Over ``bars``' dimensions: ``minor_support``, ``minor_resistance``, ``major_support``,
        ``major_resistance``: the low of the last swing low and the high of the last swing high
        confirmed by that bar (a swing on bar ``t`` counts from bar ``t + window``), NaN before the
        first one and on missing bars.
    """
    problems = Problems()
    _windows(minor, major, problems)
    problems.raise_if_any("indicator parameters")
    high, low, close = ohlc(bars, 2 * major + 1, f"major levels of {major} bars each side")
    outs = b.apply(_levels_kernel, high, low, close, outputs=4, minor=minor, major=major)
    names = ("minor_support", "minor_resistance", "major_support", "major_resistance")
    return xr.Dataset({name: out.rename(name) for name, out in zip(names, outs, strict=True)})


def _nearest_kernel(high: np.ndarray, low: np.ndarray, close: np.ndarray, price: np.ndarray, minor: int, major: int,
                    lookback: int) -> tuple[np.ndarray, ...]:
    valid = valid_bars(high, low, close)
    order = b.compact(valid)
    h, lo, c = b.pack(high, order), b.pack(low, order), b.pack(close, order)
    count = b.counts(valid, high.shape)
    last = np.take_along_axis(c, np.maximum(count - 1, 0)[..., None], axis=-1)[..., 0]
    reference = np.where(np.isnan(price), np.where(count > 0, last, np.nan), price)
    recent = np.arange(high.shape[-1]) >= (count - lookback)[..., None] if lookback > 0 else True
    outs = [reference]
    for k in (minor, major):
        top, bottom = packed_swings(h, lo, k, count)
        with np.errstate(invalid="ignore"):
            above = np.where(recent & (top > reference[..., None]), top, np.inf).min(axis=-1)
            below = np.where(recent & (bottom < reference[..., None]), bottom, -np.inf).max(axis=-1)
        outs += [np.where(np.isfinite(above), above, np.nan), np.where(np.isfinite(below), below, np.nan)]
    return tuple(outs)


def nearest_levels(bars: xr.Dataset, price: float | xr.DataArray | None = None, *, lookback: int | None = None,
                   minor: int = MINOR, major: int = MAJOR) -> xr.Dataset:
    """The closest minor and major resistance above and support below a price, from recent swings.

    Parameters
    ----------
    bars : xr.Dataset
        OHLCV bars over ``(instrument, time)`` and any extra dimensions; at least ``2 major + 1``
        candles.
    price : float or xr.DataArray, optional
        The reference price, e.g. an order's entry level: a number or an array over the bars'
        dimensions other than ``time`` (NaN: that series' last close). Default: each series' last
        quoted close.
    lookback : int, optional
        Only swing points among each series' last ``lookback`` quoted bars count (2 to 100,000);
        default all.
    minor, major : int
        Swing windows of the minor and major levels; defaults 2 and 10.

    Returns
    -------
    xr.Dataset
        Over the bars' dimensions without ``time``: ``price``, and ``minor_resistance``,
        ``major_resistance`` (the lowest swing high above the price), ``minor_support``,
        ``major_support`` (the highest swing low below it); NaN where there is none. Only swings
        confirmed by a series' last quoted bar count (a swing needs ``window`` bars after it).
    """
    problems = Problems()
    _windows(minor, major, problems)
    if lookback is not None:
        b.number(lookback, "lookback", problems, 2, 100_000, whole=True)
    if price is not None and not isinstance(price, xr.DataArray):
        b.number(price, "price", problems, 0, None, above_low=True)
    problems.raise_if_any("indicator parameters")
    high, low, close = ohlc(bars, 2 * major + 1, f"major levels of {major} bars each side")
    prices = xr.full_like(close.isel({TIME: -1}, drop=True), np.nan, dtype=float)
    if price is not None:
        prices = prices.fillna(0.0) + price
    outs = xr.apply_ufunc(_nearest_kernel, b.core(high), b.core(low), b.core(close), prices,
                          kwargs={"minor": minor, "major": major, "lookback": lookback or 0},
                          input_core_dims=[[TIME], [TIME], [TIME], []], output_core_dims=[[]] * 5,
                          dask="parallelized", output_dtypes=[float] * 5)
    names = ("price", "minor_resistance", "minor_support", "major_resistance", "major_support")
    return xr.Dataset(dict(zip(names, outs, strict=True)))
