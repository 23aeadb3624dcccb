"""Properties of toolkit.signals on random bars (hypothesis): ranges, invariances, equivariances."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit import signals
from toolkit.schema import INSTRUMENT, TIME


@st.composite
def random_bars(draw: st.DrawFn) -> xr.Dataset:
    """2-4 instruments x 40-120 bars of a seeded random walk, with highs above and lows below open and close."""
    seed = draw(st.integers(0, 2**32 - 1))
    count, steps = draw(st.integers(2, 4)), draw(st.integers(40, 120))
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, (count, steps)), axis=1))
    open_ = np.concatenate([close[:, :1], close[:, :-1]], axis=1) * np.exp(rng.normal(0, 0.005, (count, steps)))
    top = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.01, (count, steps))))
    bottom = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.01, (count, steps))))
    dims = (INSTRUMENT, TIME)
    return xr.Dataset({"open": (dims, open_), "high": (dims, top), "low": (dims, bottom), "close": (dims, close)},
                      coords={INSTRUMENT: [f"x{i}" for i in range(count)],
                              TIME: pd.date_range("2020-01-01", periods=steps)})


@settings(max_examples=30, deadline=None)
@given(random_bars(), st.floats(0.01, 1000.0))
def test_price_indicators_scale_with_the_prices(bars: xr.Dataset, scale: float) -> None:
    scaled = bars * scale
    for method in ("SMA", "EMA", "Smoothed"):
        xr.testing.assert_allclose(signals.atr(scaled, 10, method), signals.atr(bars, 10, method) * scale, rtol=1e-9)
    ours, theirs = signals.supertrend(scaled), signals.supertrend(bars)
    xr.testing.assert_allclose(ours["supertrend"], theirs["supertrend"] * scale, rtol=1e-9)
    xr.testing.assert_equal(ours["direction"], theirs["direction"])
    # ratios of prices: RSI and the trend bias do not move
    xr.testing.assert_allclose(signals.rsi(scaled), signals.rsi(bars), rtol=1e-9)
    xr.testing.assert_equal(signals.trend_bias(scaled, 20), signals.trend_bias(bars, 20))


@settings(max_examples=30, deadline=None)
@given(random_bars())
def test_ranges_and_orderings(bars: xr.Dataset) -> None:
    rsi = signals.rsi(bars, 14)
    assert bool(((rsi >= 0) & (rsi <= 100) | rsi.isnull()).all())
    tr = signals.true_range(bars)
    assert bool((tr >= bars["high"] - bars["low"] - 1e-12).where(tr.notnull(), True).all())
    st_ = signals.supertrend(bars, 2.0, 7, "EMA")
    assert set(np.unique(st_["direction"].values[np.isfinite(st_["direction"].values)])) <= {-1.0, 1.0}
    assert bool((st_["upper"] > st_["lower"]).where(st_["upper"].notnull(), True).all())
    bias = signals.trend_bias(bars, 10)
    assert bool(((bias["up"] + bias["down"] <= 1 + 1e-12) | bias["up"].isnull()).all())
    levels = signals.nearest_levels(bars, minor=2, major=5)
    assert bool(((levels["minor_resistance"] > levels["price"]) | levels["minor_resistance"].isnull()).all())
    assert bool(((levels["major_support"] < levels["price"]) | levels["major_support"].isnull()).all())
    stat = signals.reversal_probability(bars, horizon=3, width=5.0)
    assert bool(((stat["reversals"] <= stat["events"]) & (stat["events"] >= 0)).all())


@settings(max_examples=20, deadline=None)
@given(random_bars())
def test_each_instrument_is_computed_alone(bars: xr.Dataset) -> None:
    """Reordering the instruments (and dropping one) leaves each series' answer as it was."""
    order = list(bars[INSTRUMENT].values[::-1])
    for call in (lambda d: signals.atr(d, 5), signals.rsi, lambda d: signals.supertrend(d, 3, 5)["supertrend"],
                 lambda d: signals.support_resistance(d, 1, 3)["major_resistance"]):
        whole = call(bars)
        xr.testing.assert_allclose(call(bars.sel({INSTRUMENT: order})).sel({INSTRUMENT: whole[INSTRUMENT]}), whole)
        xr.testing.assert_allclose(call(bars.isel({INSTRUMENT: [0]})), whole.isel({INSTRUMENT: [0]}))
