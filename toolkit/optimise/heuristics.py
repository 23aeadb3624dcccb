"""Closed-form weights: equal, volatility weighted and ATR weighted (with Wilder's ATR).

The risk platform's document defines its "Volatility" and "ATR" portfolio rules (rule ids 17 and
19) as weights *proportional* to each instrument's volatility or ATR: "an instrument with a higher
volatility will also have a higher weight". That is what these functions give; the textbook
inverse-volatility portfolio is its reciprocal (``1/w`` normalised).

riskfolio-lib has none of these as a model; they are a line of numpy each. Under a constraint
set the rules project them onto it (:func:`toolkit.optimise.models.project`).
"""

from __future__ import annotations

from typing import cast

import numpy as np
import xarray as xr

from toolkit.errors import DataError, Problems
from toolkit.optimise.inputs import check_frame, labels_of
from toolkit.schema import INSTRUMENT, TIME, validate_market


def equal_weights(n: int) -> np.ndarray:
    """``w_i = 1/N`` (the 1/N rule; DeMiguel, Garlappi & Uppal 2009), exactly."""
    return np.full(n, 1.0 / n)


def volatility_weights(sigma: np.ndarray) -> np.ndarray:
    """``w_i = sigma_i / sum_j sigma_j``: weights proportional to volatility, as the risk platform's
    rule 17 ("Portfolio - Volatility") defines them."""
    return sigma / sigma.sum()


def wilder_atr(ohlc: xr.Dataset, period: int = 14) -> xr.DataArray:
    """Wilder's (1978) average true range over ``(instrument, time)``, NaN before its seed.

    ``TR_t = max(H_t - L_t, |H_t - C_{t-1}|, |L_t - C_{t-1}|)``, and ``TR_1 = H_1 - L_1`` on the
    first bar (no previous close). Seeding as in StockCharts' ChartSchool worked example: the first
    ATR, on bar ``period``, is the mean of the first ``period`` true ranges; then Wilder's smoothing
    ``ATR_t = ((period - 1) ATR_{t-1} + TR_t) / period`` (an exponential average with
    ``alpha = 1 / period``, run as one linear filter over every instrument at once). Bars where
    an instrument lacks high, low or close must be dropped first (see :func:`atr_weights`).
    """
    from scipy.signal import lfilter  # scipy.signal takes a second to import: only when asked

    high, low, close = (ohlc[v].transpose(INSTRUMENT, TIME).values.astype(float) for v in ("high", "low", "close"))
    previous = np.concatenate([np.full((close.shape[0], 1), np.nan), close[:, :-1]], axis=1)
    tr = np.fmax(high - low, np.fmax(np.abs(high - previous), np.abs(low - previous)))
    atr = np.full_like(tr, np.nan)
    if tr.shape[1] >= period:
        seed = tr[:, :period].mean(axis=1)
        atr[:, period - 1] = seed
        if tr.shape[1] > period:
            keep = (period - 1) / period
            atr[:, period:], _ = lfilter([1.0 / period], [1.0, -keep], tr[:, period:], axis=1,
                                         zi=(keep * seed)[:, None])
    return xr.DataArray(atr, dims=(INSTRUMENT, TIME), coords={INSTRUMENT: ohlc[INSTRUMENT], TIME: ohlc[TIME]},
                        name="atr")


def complete_bars(ohlc: object, period: int) -> xr.Dataset:
    """Check ``ohlc`` (high, low, close over instrument and time) and keep the bars on which every
    instrument has all three; refuse fewer than ``period`` such bars."""
    check_frame(ohlc, "ohlc", (INSTRUMENT, TIME), kind=xr.Dataset)
    ohlc = cast(xr.Dataset, ohlc)  # check_frame refused anything else
    problems = Problems()
    for name in ("high", "low", "close"):
        if name not in ohlc.data_vars:
            problems.add(f"ohlc.{name}", "is missing; ATR weighted needs high, low and close prices")
    problems.raise_if_any("optimisation request")
    validate_market(ohlc[["high", "low", "close"]])
    bars = ohlc[["high", "low", "close"]].transpose(INSTRUMENT, TIME)
    whole = bars.to_array().notnull().all(("variable", INSTRUMENT))
    bars = bars.isel({TIME: np.flatnonzero(whole.values)})
    upside_down = (bars["high"] < bars["low"]).any(TIME).values
    labels = labels_of(ohlc)
    if upside_down.any():
        raise DataError(f"ohlc has a high below the low for {', '.join(labels[i] for i in np.flatnonzero(upside_down))}"
                        f"; fix the prices first.")
    if bars.sizes[TIME] < period:
        raise DataError(f"ohlc has too little history: {bars.sizes[TIME]} bars on which every instrument has high, "
                        f"low and close; ATR weighted with period {period} needs at least {period}.")
    return bars


def atr_weights(bars: xr.Dataset, period: int) -> np.ndarray:
    """``w_i = (ATR_i / C_i) / sum_j (ATR_j / C_j)`` at the last bar: weights proportional to the
    ATR, as the risk platform's rule 19 ("Portfolio - ATR") defines them.

    The ATR is taken as a fraction of the last close, ``ATR_i / C_i``, so that the weights do not
    depend on the price level of a share (a split changes nothing; the ATR in price units would
    give a $500 share ten times the weight of a $50 share of the same range in percent). It is the
    true-range counterpart of :func:`volatility_weights`.
    """
    atr = wilder_atr(bars, period).isel({TIME: -1}).values
    close = bars["close"].isel({TIME: -1}).values.astype(float)
    flat = np.flatnonzero(~(atr > 0))
    if flat.size:
        labels = labels_of(bars)
        raise DataError(f"the ATR of {', '.join(labels[i] for i in flat)} is 0 (no price range over the last "
                        f"{period} bars); ATR weighted needs prices that move.")
    ratio = atr / close
    return ratio / ratio.sum()
