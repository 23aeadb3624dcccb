"""Reference cases of toolkit.signals on the real bars of data/: TA-Lib, stockstats, scipy and worked examples.

Each peer runs on the same series (one instrument at a time, its missing bars dropped), never through
the toolkit. ATR (SMA, EMA and Wilder's smoothing), true range and RSI use TA-Lib's seeding, so they agree
with TA-Lib from the first value on, to 1e-9 relative (the washout is zero bars). ``ta`` and stockstats seed
otherwise; they agree once the seed weight ``(1 - 1/n)^k`` is below 1e-12 (the bars of WASHOUT).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from toolkit import signals
from toolkit.schema import INSTRUMENT, TIME
from toolkit.signals.trend import bands

DATA = Path(__file__).resolve().parents[1] / "data"
#: bars after which a seed weight (1 - 1/14)^k is below 1e-12: k = ln(1e-12) / ln(13/14) = 373
WASHOUT = 400
talib = pytest.importorskip("talib")


def load_bars() -> xr.Dataset:
    """The OHLCV files of data/ as one dataset: 4 bokeh stocks (GOOG starts in 2004: leading NaN), the
    pmdarima MSFT history from 1986, the arch S&P 500 index; times are the union, NaN where unquoted."""
    frames = []
    bokeh = pd.read_csv(DATA / "bokeh_stocks_ohlcv.csv", parse_dates=["time"])
    frames.append(bokeh.assign(symbol="bokeh:" + bokeh["symbol"]))
    for name in ("msft_ohlcv", "sp500_ohlcv"):
        frame = pd.read_csv(DATA / f"{name}.csv", parse_dates=["time"])
        frames.append(frame.assign(symbol=name))
    table = pd.concat(frames)[["symbol", "time", "open", "high", "low", "close", "volume"]]
    return table.set_index(["symbol", "time"]).to_xarray().rename(symbol=INSTRUMENT)


@pytest.fixture(scope="module")
def bars() -> xr.Dataset:
    return load_bars()


def series(bars: xr.Dataset, instrument: str) -> pd.DataFrame:
    """One instrument's quoted bars (time x OHLCV), for the peers."""
    frame = bars.sel({INSTRUMENT: instrument}).to_dataframe()[["open", "high", "low", "close", "volume"]]
    return frame.dropna(subset=["high", "low", "close"])


def ours_on(result: xr.DataArray, instrument: str, frame: pd.DataFrame) -> np.ndarray:
    return result.sel({INSTRUMENT: instrument}).sel({TIME: frame.index}).values


def agree(ours: np.ndarray, theirs: np.ndarray, rtol: float = 1e-9, start: int = 0) -> None:
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs), err_msg="warm-up NaN differ")
    np.testing.assert_allclose(ours[start:], theirs[start:], rtol=rtol, atol=0)


# ---------------------------------------------------------------- TA-Lib: true range, ATR, RSI

@pytest.mark.parametrize(("method", "period"), [("Smoothed", 14), ("SMA", 10), ("EMA", 14), ("Smoothed", 40),
                                                 ("SMA", 40), ("EMA", 5)])
def test_atr_equals_talib_from_the_first_value(bars: xr.Dataset, method: str, period: int) -> None:
    ours = signals.atr(bars, period, method)
    for name in bars[INSTRUMENT].values:
        f = series(bars, name)
        h, lo, c = (f[k].to_numpy() for k in ("high", "low", "close"))
        tr = talib.TRANGE(h, lo, c)
        theirs = {"Smoothed": talib.ATR(h, lo, c, period), "SMA": talib.SMA(tr, period),
                  "EMA": talib.EMA(tr, period)}[method]
        agree(ours_on(ours, name, f), theirs)


def test_true_range_equals_talib(bars: xr.Dataset) -> None:
    ours = signals.true_range(bars)
    for name in bars[INSTRUMENT].values:
        f = series(bars, name)
        agree(ours_on(ours, name, f), talib.TRANGE(f["high"].to_numpy(), f["low"].to_numpy(), f["close"].to_numpy()))


@pytest.mark.parametrize("period", [14, 2, 30])
def test_rsi_equals_talib_from_the_first_value(bars: xr.Dataset, period: int) -> None:
    ours = signals.rsi(bars, period)
    for name in bars[INSTRUMENT].values:
        f = series(bars, name)
        close = f["close"].to_numpy()
        theirs = talib.RSI(close, period)
        # a flat window (no gain, no loss) is 50 here and 0 in TA-Lib (the early MSFT series has some)
        mine = ours_on(ours, name, f)
        flat = (theirs == 0.0) & (mine == 50.0)
        assert not flat.any() or name == "msft_ohlcv"
        agree(np.where(flat, 0.0, mine), theirs, rtol=1e-9)


def test_the_ta_package_seeds_otherwise_and_agrees_after_the_washout(bars: xr.Dataset) -> None:
    ta = pytest.importorskip("ta")
    name = "bokeh:IBM"
    f = series(bars, name)
    atr = ta.volatility.AverageTrueRange(f["high"], f["low"], f["close"], 14).average_true_range().to_numpy()
    rsi = ta.momentum.RSIIndicator(f["close"], 14).rsi().to_numpy()
    ours_atr = ours_on(signals.atr(bars, 14), name, f)
    ours_rsi = ours_on(signals.rsi(bars, 14), name, f)
    assert abs(ours_atr[14] - atr[14]) > 1e-6  # different seeds: visibly different at first
    np.testing.assert_allclose(ours_atr[WASHOUT:], atr[WASHOUT:], rtol=1e-9)
    np.testing.assert_allclose(ours_rsi[WASHOUT:], rsi[WASHOUT:], rtol=1e-9)


# ---------------------------------------------------------------- SuperTrend: stockstats

def stockstats_supertrend(frame: pd.DataFrame, factor: float, period: int) -> pd.DataFrame:
    stockstats = pytest.importorskip("stockstats")
    stockstats.set_dft_window("supertrend", period)
    table = stockstats.StockDataFrame.retype(frame.copy())
    table.SUPERTREND_MUL = factor
    return pd.DataFrame({"line": table["supertrend"], "upper": table["supertrend_ub"],
                         "lower": table["supertrend_lb"], "atr": table[f"atr_{period}"]})


@pytest.mark.parametrize(("factor", "period"), [(3.0, 10), (1.5, 7)])
def test_supertrend_recursion_equals_stockstats_on_its_own_atr(bars: xr.Dataset, factor: float,
                                                               period: int) -> None:
    for name in ("bokeh:AAPL", "sp500_ohlcv"):
        f = series(bars, name)
        theirs = stockstats_supertrend(f, factor, period)
        atr = theirs["atr"].to_numpy().copy()
        atr[0] = np.nan  # stockstats' own start (its bar 0 has no previous band), ours starts a bar later
        high, low, close = (f[k].to_numpy() for k in ("high", "low", "close"))
        line, upper, lower, direction = bands(high, low, close, atr, factor)
        np.testing.assert_allclose(line[1:], theirs["line"].to_numpy()[1:], rtol=1e-12)
        np.testing.assert_allclose(upper[1:], theirs["upper"].to_numpy()[1:], rtol=1e-12)
        np.testing.assert_allclose(lower[1:], theirs["lower"].to_numpy()[1:], rtol=1e-12)
        assert set(np.unique(direction[1:])) <= {-1.0, 1.0}


def test_supertrend_smoothed_equals_stockstats_after_the_washout(bars: xr.Dataset) -> None:
    ours = signals.supertrend(bars, 3, 10, "Smoothed")
    for name in bars[INSTRUMENT].values:
        f = series(bars, name)
        theirs = stockstats_supertrend(f, 3.0, 10)
        for mine, col in (("supertrend", "line"), ("upper", "upper"), ("lower", "lower")):
            np.testing.assert_allclose(ours_on(ours[mine], name, f)[WASHOUT:], theirs[col].to_numpy()[WASHOUT:],
                                       rtol=1e-9, err_msg=f"{name} {mine}")
        up = ours_on(ours["direction"], name, f)[WASHOUT:] > 0
        np.testing.assert_array_equal(up, theirs["line"].to_numpy()[WASHOUT:] == theirs["lower"].to_numpy()[WASHOUT:])


def test_supertrend_line_is_the_band_on_the_side_of_the_trend(bars: xr.Dataset) -> None:
    st = signals.supertrend(bars)  # the document's defaults: 3, 10, SMA
    up = st["direction"] > 0
    line = st["supertrend"]
    assert bool(((line == st["lower"]) | ~up).all())
    assert bool(((line == st["upper"]) | up | st["direction"].isnull()).all())
    close = bars["close"]
    # an up trend never closes below its line, a down trend never above it
    assert not bool(((close < line) & up).any()) and not bool(((close > line) & (st["direction"] < 0)).any())
    np.testing.assert_allclose(st["atr"].values, signals.atr(bars, 10, "SMA").values, rtol=1e-15)


# ---------------------------------------------------------------- support and resistance: worked example, scipy

def frame_bars(high: Sequence[float], low: Sequence[float]) -> xr.Dataset:
    h, lo = np.array([high]), np.array([low])
    return xr.Dataset({"high": ((INSTRUMENT, TIME), h), "low": ((INSTRUMENT, TIME), lo),
                       "close": ((INSTRUMENT, TIME), (h + lo) / 2)},
                      coords={INSTRUMENT: ["X"], TIME: pd.date_range("2024-01-01", periods=h.shape[1])})


def test_williams_fractals_worked_example() -> None:
    # bars 0..10; a fractal up is a high above the two highs before and the two after
    high = [10, 11, 13, 12, 11, 12, 12, 11, 14, 13, 12]
    low = [9, 10, 12, 9, 8, 10, 11, 10, 12, 11, 11]
    swings = signals.swing_points(frame_bars(high, low), 2)
    # bar 2 (13 > 10, 11 and 12, 11) is a fractal up; the flat top of bars 5-6 (12, 12) is none; bar 8 (14)
    # is one; bar 4 (low 8 < 12, 9 and 10, 11) is a fractal down; bars 0-1 and 9-10 lack two neighbours
    np.testing.assert_array_equal(np.flatnonzero(swings["swing_high"].values[0] > 0), [2, 8])
    np.testing.assert_array_equal(np.flatnonzero(swings["swing_low"].values[0] > 0), [4])
    assert swings["swing_high"].values[0, 2] == 13 and swings["swing_low"].values[0, 4] == 8
    known = signals.support_resistance(frame_bars(high, low), minor=2, major=3)
    # the fractal of bar 2 is known from bar 4, the one of bar 8 would be from bar 10: not a swing (no bars after)
    np.testing.assert_array_equal(known["minor_resistance"].values[0], [np.nan] * 4 + [13] * 6 + [14])
    np.testing.assert_array_equal(known["minor_support"].values[0], [np.nan] * 6 + [8] * 5)
    near = signals.nearest_levels(frame_bars(high, low), 12.5, minor=2, major=3)
    assert float(near["minor_resistance"][0]) == 13 and float(near["minor_support"][0]) == 8


@pytest.mark.parametrize("window", [2, 10])
def test_swing_points_equal_scipy_argrelextrema(bars: xr.Dataset, window: int) -> None:
    from scipy.signal import argrelextrema

    swings = signals.swing_points(bars, window)
    for name in bars[INSTRUMENT].values:
        f = series(bars, name)
        n = len(f)
        for column, compare, mine in (("high", np.greater, "swing_high"), ("low", np.less, "swing_low")):
            (theirs,) = argrelextrema(f[column].to_numpy(), compare, order=window)
            theirs = theirs[(theirs >= window) & (theirs < n - window)]
            np.testing.assert_array_equal(np.flatnonzero(np.isfinite(ours_on(swings[mine], name, f))), theirs)


@pytest.mark.parametrize("lookback", [None, 250])
def test_nearest_levels_equal_scipy_swings_around_the_last_close(bars: xr.Dataset, lookback: int | None) -> None:
    """Series end on different days (bokeh in 2013, the indices in 2018): the lookback counts each one's bars."""
    from scipy.signal import argrelextrema

    near = signals.nearest_levels(bars, lookback=lookback, minor=2, major=10)
    for name in bars[INSTRUMENT].values:
        f = series(bars, name)
        n, price = len(f), f["close"].iloc[-1]
        row = near.sel({INSTRUMENT: name})
        assert float(row["price"]) == price
        for label, k in (("minor", 2), ("major", 10)):
            for kind, column, compare in (("resistance", "high", np.greater), ("support", "low", np.less)):
                (where,) = argrelextrema(f[column].to_numpy(), compare, order=k)
                where = where[(where >= k) & (where < n - k) & (where >= (0 if lookback is None else n - lookback))]
                values = f[column].to_numpy()[where]
                side = values[values > price] if kind == "resistance" else values[values < price]
                expected = (side.min() if kind == "resistance" else side.max()) if side.size else np.nan
                np.testing.assert_equal(float(row[f"{label}_{kind}"]), expected, err_msg=f"{name} {label} {kind}")


def test_levels_known_on_a_bar_are_the_last_confirmed_swings(bars: xr.Dataset) -> None:
    levels = signals.support_resistance(bars, minor=2, major=10)
    swings = signals.swing_points(bars, 10)
    f = series(bars, "bokeh:MSFT")
    expected = ours_on(swings["swing_high"], "bokeh:MSFT", f)
    expected = pd.Series(expected).shift(10).ffill().to_numpy()
    np.testing.assert_array_equal(ours_on(levels["major_resistance"], "bokeh:MSFT", f), expected)


# ---------------------------------------------------------------- trend bias and the reversal statistic

def test_trend_bias_counts_the_up_and_down_days(bars: xr.Dataset) -> None:
    bias = signals.trend_bias(bars, 200)
    for name in bars[INSTRUMENT].values:
        f = series(bars, name)
        change = f["close"].diff()
        up = (change > 0).astype(float).rolling(200).sum().shift(0) / 200
        down = (change < 0).astype(float).rolling(200).sum() / 200
        up[:200] = np.nan  # the first window needs 200 changes, so 201 bars
        down[:200] = np.nan
        agree(ours_on(bias["up"], name, f), up.to_numpy(), rtol=1e-12)
        agree(ours_on(bias["bias"], name, f), (up - down).to_numpy(), rtol=1e-12)


def test_trend_bias_worked_example() -> None:
    close = [10, 11, 12, 11, 11, 12, 13, 12, 13, 14]  # 9 changes: 6 up, 2 down, 1 unchanged
    ds = frame_bars(close, close).assign(close=lambda d: d["high"])
    bias = signals.trend_bias(ds, 9).isel({INSTRUMENT: 0, TIME: -1})
    assert float(bias["up"]) == pytest.approx(6 / 9) and float(bias["down"]) == pytest.approx(2 / 9)
    assert float(bias["bias"]) == pytest.approx(4 / 9)


def reversal_loop(close: np.ndarray, rsi: np.ndarray, level: float, horizon: int, width: float) -> tuple[int, int]:
    """The statistic's definition read literally, one bar at a time."""
    events = reversals = 0
    for t in range(len(close) - horizon):
        if np.isnan(rsi[t]) or rsi[t] == 50 or abs(rsi[t] - level) > width:
            continue
        events += 1
        pointing = 1 if rsi[t] > 50 else -1
        reversals += pointing * (close[t + horizon] - close[t]) < 0
    return events, reversals


@pytest.mark.parametrize(("horizon", "width", "level"), [(5, 2.5, None), (1, 5.0, 70.0), (10, 1.0, 30.0)])
def test_reversal_probability_follows_its_definition(bars: xr.Dataset, horizon: int, width: float,
                                                     level: float | None) -> None:
    stat = signals.reversal_probability(bars, level, horizon=horizon, width=width)
    for name in bars[INSTRUMENT].values:
        f = series(bars, name)
        close = f["close"].to_numpy()
        rsi = talib.RSI(close, 14)
        examined = rsi[-1] if level is None else level
        events, reversals = reversal_loop(close, rsi, examined, horizon, width)
        row = stat.sel({INSTRUMENT: name})
        assert float(row["rsi"]) == pytest.approx(examined, rel=1e-9)
        assert (int(row["events"]), int(row["reversals"])) == (events, reversals)
        assert float(row["probability"]) == pytest.approx(reversals / events)
