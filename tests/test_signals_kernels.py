"""The compiled kernels of toolkit.signals against the NumPy path they replaced (issue 19), on real bars.

The NumPy path is kept here, as it was in the library, as the kernels' executable reference: each
series' quoted bars packed first (``toolkit.signals.bars.compact``), whole-array passes, the recursions
in ``scipy.signal.lfilter`` and the SMA in ``scipy.ndimage.uniform_filter1d``, the SuperTrend bands one
vector step per bar, the results spread back. The bars are the real OHLCV series of data/ on the union
of their calendars (leading NaN where a series starts later, trailing NaN where it ends earlier) with
extra holes punched in; the kernels must agree to 1e-12 relative, NaN where the reference is NaN.
"""

from __future__ import annotations

from collections.abc import Callable

import dask
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy.ndimage import uniform_filter1d
from scipy.signal import lfilter

from toolkit import signals
from toolkit.schema import INSTRUMENT, TIME
from toolkit.signals import bars as b
from toolkit.signals import kernels

# ------------------------------------------------------------------ the NumPy path, on packed rows


def average(x: np.ndarray, n: int, method: str) -> np.ndarray:
    """SMA (running mean) or EMA / Smoothed (``lfilter``, mean-seeded) of values starting on bar 1."""
    first = n  # start 1 + n - 1
    if x.shape[-1] <= first:
        return np.full(x.shape, np.nan)
    if method == "SMA":
        out = np.empty(x.shape)
        uniform_filter1d(x[..., 1:], n, axis=-1, output=out[..., 1:], mode="nearest", origin=(n - 1) // 2)
    else:
        alpha = kernels.alpha(n, method)
        u = x.copy()
        u[..., first] = x[..., 1:first + 1].mean(axis=-1) / alpha
        u[..., :first] = 0.0
        out = lfilter([alpha], [1.0, alpha - 1.0], u, axis=-1)
    out[..., :first] = np.nan
    return out


def packed_true_range(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    out = np.empty(high.shape)
    out[..., 0] = np.nan
    out[..., 1:] = np.maximum(high[..., 1:], close[..., :-1]) - np.minimum(low[..., 1:], close[..., :-1])
    return out


def packed_rsi(close: np.ndarray, period: int) -> np.ndarray:
    change = np.full(close.shape, np.nan)
    change[..., 1:] = close[..., 1:] - close[..., :-1]
    up = np.maximum(change, 0.0)
    gains, losses = average(up, period, "Smoothed"), average(up - change, period, "Smoothed")
    total = losses + gains
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total == 0, 50.0, gains / total * 100.0)


def packed_bands(high: np.ndarray, low: np.ndarray, close: np.ndarray, atr: np.ndarray,
                 factor: float) -> list[np.ndarray]:
    """The ratchet one vector step per bar for all rows (their ATR starts on one bar), then the latch."""
    steps = close.shape[-1]
    defined = np.isfinite(atr).any(axis=0)
    first = int(np.argmax(defined)) if defined.any() else steps
    middle, width = (high + low) / 2.0, factor * atr
    basic = np.stack([middle + width, width - middle])  # (2, rows, time): U and -L
    signed = np.stack([close, -close])
    state = np.full(basic.shape, np.nan)
    if first < steps:
        state[..., first] = basic[..., first]
    for t in range(first + 1, steps):
        state[..., t] = np.where(signed[..., t - 1] > state[..., t - 1], basic[..., t],
                                 np.minimum(basic[..., t], state[..., t - 1]))
    upper, lower = state[0], -state[1]
    with np.errstate(invalid="ignore"):
        event = np.where(close > upper, 1.0, np.where(close < lower, -1.0, 0.0))
    event[..., :first] = 0.0
    if first < steps:
        event[..., first] = np.where(close[..., first] > upper[..., first], 1.0, -1.0)
    index = np.maximum.accumulate(np.where(event != 0.0, np.arange(steps), 0), axis=-1)
    direction = np.take_along_axis(event, index, axis=-1)
    missing = ~np.isfinite(atr)
    for out in (direction, upper, lower):
        out[missing] = np.nan
    return [np.where(direction > 0, lower, upper), upper, lower, direction]


def on_packed(valid: np.ndarray, rows: Callable[..., list[np.ndarray]], *arrays: np.ndarray) -> list[np.ndarray]:
    """``rows`` on the quoted bars packed first, its results spread back (NaN at the missing bars)."""
    order = b.compact(valid)
    return [b.spread(o, order, valid) for o in rows(*(b.pack(a, order) for a in arrays))]


def numpy_path(name: str, high: np.ndarray, low: np.ndarray, close: np.ndarray, **kw) -> list[np.ndarray]:
    """The NumPy path's answer of indicator ``name`` on rows ``(series, time)``."""
    quoted = np.isfinite(high) & np.isfinite(low) & np.isfinite(close)
    ohlc = (high, low, close)
    if name == "true_range":
        return on_packed(quoted, lambda *p: [packed_true_range(*p)], *ohlc)
    if name == "atr":
        return on_packed(quoted, lambda *p: [average(packed_true_range(*p), kw["period"], kw["method"])], *ohlc)
    if name == "supertrend":
        def rows(*p: np.ndarray) -> list[np.ndarray]:
            atr = average(packed_true_range(*p), kw["period"], kw["method"])
            return [*packed_bands(*p, atr, kw["factor"]), atr]
        return on_packed(quoted, rows, *ohlc)
    if name == "rsi":
        return on_packed(np.isfinite(close), lambda c: [packed_rsi(c, kw["period"])], close)
    if name == "trend_bias":
        def shares(c: np.ndarray) -> list[np.ndarray]:
            out = []
            for moved in (c[..., 1:] > c[..., :-1], c[..., 1:] < c[..., :-1]):
                share = np.full(c.shape, np.nan)
                uniform_filter1d(moved.astype(float), kw["lookback"], axis=-1, output=share[..., 1:],
                                 mode="nearest", origin=(kw["lookback"] - 1) // 2)
                share[..., :kw["lookback"]] = np.nan
                share[~np.isfinite(c)] = np.nan
                out.append(share)
            return [out[0], out[1], out[0] - out[1]]
        return on_packed(np.isfinite(close), shares, close)
    raise AssertionError(name)


def numpy_reversal(close: np.ndarray, period: int, horizon: int, width: float, lookback: int) -> list[np.ndarray]:
    """Rule 4's statistic at each series' current RSI, by whole-array masks on the packed closes."""
    valid = np.isfinite(close)
    packed = b.pack(close, b.compact(valid))
    strength = packed_rsi(packed, period)
    last = valid.sum(axis=-1) - 1
    level = np.where(last >= 0, np.take_along_axis(strength, np.maximum(last, 0)[:, None], axis=-1)[:, 0], np.nan)
    later = np.full(close.shape, np.nan)
    later[..., :close.shape[-1] - horizon] = packed[..., horizon:]
    window = np.arange(close.shape[-1]) >= (last - lookback + 1)[:, None] if lookback else True
    direction = np.sign(strength - 50.0)
    with np.errstate(invalid="ignore"):
        event = (np.abs(strength - level[:, None]) <= width) & (direction != 0) & np.isfinite(later) & window
        turned = event & (direction * (later - packed) < 0)
    events, reversals = event.sum(axis=-1).astype(float), turned.sum(axis=-1).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return [level, events, reversals, np.where(events > 0, reversals / events, np.nan)]


# ------------------------------------------------------------------ the bars


@pytest.fixture(scope="module")
def bars() -> xr.Dataset:
    """The six real series of data/ on the union of their calendars, with holes: single bars, a run of
    five, a high or a low alone, a close alone."""
    from test_signals import load_bars

    gapped = load_bars().copy(deep=True)
    steps = gapped.sizes[TIME]
    rng = np.random.default_rng(19)
    for k, var in enumerate(("high", "low", "close")):
        values = gapped[var].values  # a view: the holes go into the dataset
        for row in range(values.shape[0]):
            values[row, rng.choice(steps, 12, replace=False)] = np.nan
        values[k, 4000:4005] = np.nan
    assert int(gapped["close"].isnull().sum()) > int(load_bars()["close"].isnull().sum())
    return gapped


def rows_of(bars: xr.Dataset) -> tuple[np.ndarray, ...]:
    return tuple(np.ascontiguousarray(bars[k].transpose(INSTRUMENT, TIME).values) for k in ("high", "low", "close"))


def agree(ours: np.ndarray, theirs: np.ndarray, what: str) -> None:
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs), err_msg=f"{what}: NaN differ")
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0, err_msg=what)


CASES = [("true_range", {}, lambda d: signals.true_range(d)),
         *[("atr", {"period": n, "method": m}, lambda d, n=n, m=m: signals.atr(d, n, m))
           for m, n in (("SMA", 10), ("SMA", 40), ("EMA", 10), ("Smoothed", 14), ("Smoothed", 40))],
         ("rsi", {"period": 14}, lambda d: signals.rsi(d, 14)),
         ("rsi", {"period": 2}, lambda d: signals.rsi(d, 2)),
         *[("supertrend", {"factor": 3.0, "period": 10, "method": m}, lambda d, m=m: signals.supertrend(d, 3, 10, m))
           for m in ("SMA", "EMA", "Smoothed")],
         ("trend_bias", {"lookback": 200}, lambda d: signals.trend_bias(d, 200)),
         ("trend_bias", {"lookback": 7}, lambda d: signals.trend_bias(d, 7))]


@pytest.mark.parametrize(("name", "kw", "call"), CASES, ids=[f"{c[0]}-{'-'.join(map(str, c[1].values()))}"
                                                            for c in CASES])
def test_kernels_equal_the_numpy_path_on_real_bars_with_gaps(bars: xr.Dataset, name: str, kw: dict,
                                                             call: Callable) -> None:
    out = call(bars)
    ours = [out] if isinstance(out, xr.DataArray) else list(out.data_vars.values())
    theirs = numpy_path(name, *rows_of(bars), **kw)
    assert len(ours) == len(theirs)
    for mine, reference in zip(ours, theirs, strict=True):
        agree(mine.transpose(INSTRUMENT, TIME).values, reference, f"{name} {kw} {mine.name}")
    assert bool(np.isnan(ours[0].values).any() & np.isfinite(ours[0].values).any())


@pytest.mark.parametrize(("horizon", "lookback"), [(5, 0), (1, 250)])
def test_reversal_kernel_equals_the_numpy_masks(bars: xr.Dataset, horizon: int, lookback: int) -> None:
    stat = signals.reversal_probability(bars, horizon=horizon, lookback=lookback or None)
    theirs = numpy_reversal(rows_of(bars)[2], 14, horizon, 2.5, lookback)
    for var, reference in zip(("rsi", "events", "reversals", "probability"), theirs, strict=True):
        np.testing.assert_allclose(stat[var].values, reference, rtol=1e-12, atol=0, err_msg=var)
    assert (stat["events"] > 0).all()


def test_bands_of_a_row_start_on_its_own_first_atr() -> None:
    """Rows whose ATR starts on different bars (the NumPy path needed one start for all rows)."""
    from test_signals import load_bars

    one = load_bars().isel({INSTRUMENT: 0}).dropna(TIME)
    h, lo, c = (one[k].values for k in ("high", "low", "close"))
    atr = kernels.atr(h, lo, c, 10, "EMA")
    late = atr.copy()
    late[:300] = np.nan
    ours = kernels.bands(np.stack([h, h]), np.stack([lo, lo]), np.stack([c, c]), np.stack([atr, late]), 3.0)
    for row, a in enumerate((atr, late)):
        for mine, reference in zip(ours, packed_bands(h[None], lo[None], c[None], a[None], 3.0), strict=True):
            agree(mine[row], reference[0], f"row {row}")


def test_a_dask_cube_stays_lazy_keeps_its_dimensions_and_equals_the_numpy_path(bars: xr.Dataset) -> None:
    """A scenario dimension, dims in an unusual order, chunks along time and instruments: the call builds a
    graph only (a compute would raise), the answer has the input's dimensions and the plain numbers."""
    cube = xr.concat([bars, bars * 2], dim=pd.Index(["base", "double"], name="scenario"))
    cube = cube.transpose(TIME, "scenario", INSTRUMENT).chunk({TIME: 2000, INSTRUMENT: 4})

    def forbid(*args, **kwargs):
        raise AssertionError("the dask graph was computed inside the library call")

    with dask.config.set(scheduler=forbid):
        atr = signals.atr(cube, 14, "EMA")
        st = signals.supertrend(cube, 3, 10, "Smoothed")
    for out in (atr, st["supertrend"]):
        assert out.chunks is not None and out.dims == (TIME, "scenario", INSTRUMENT)
    ours = atr.sel(scenario="double").transpose(INSTRUMENT, TIME).values
    (theirs,) = numpy_path("atr", *(2 * r for r in rows_of(bars)), period=14, method="EMA")
    agree(ours, theirs, "dask ATR")
    line = st["supertrend"].sel(scenario="base").transpose(INSTRUMENT, TIME).values
    agree(line, numpy_path("supertrend", *rows_of(bars), factor=3.0, period=10, method="Smoothed")[0], "dask line")


# ------------------------------------------------------------------ rule 8's replay against the sparse-table path


def numpy_first_reach(x: np.ndarray, rows: np.ndarray, level: np.ndarray, above: bool) -> np.ndarray:
    """The NumPy path's first bar ``k > t`` at which ``x`` reaches ``level[:, t]``: binary lifting over a
    sparse table of running maxima (the lows negated), one gather over every (order, start) pair a step."""
    steps = x.shape[-1]
    levels = max(1, int(np.ceil(np.log2(steps + 1))))
    sign = 1.0 if above else -1.0
    tables = [np.full((x.shape[0], steps + 2 ** levels), -np.inf)]
    tables[0][:, :steps] = sign * x
    for j in range(1, levels):
        half, table = 2 ** (j - 1), tables[-1].copy()
        np.maximum(tables[-1][:, :-half], tables[-1][:, half:], out=table[:, :-half])
        tables.append(table)
    target = np.where(np.isnan(level), np.inf, sign * level)
    index = np.broadcast_to(np.arange(1, steps), level.shape).copy()  # one past the last bar known short
    for j in reversed(range(levels)):
        short = tables[j][rows[:, None], index] < target
        index[short] += 2 ** j
    return np.minimum(index, steps)


def numpy_replay(high: np.ndarray, low: np.ndarray, close: np.ndarray, rows: np.ndarray, direction: np.ndarray,
                 stop: np.ndarray, limit: np.ndarray) -> list[np.ndarray]:
    starts = np.arange(close.shape[-1] - 1)
    entry, long = close[rows][:, :-1], (direction > 0)[:, None]
    up = entry * np.where(long, 1.0 + limit[:, None], 1.0 + stop[:, None])
    down = entry * np.where(long, 1.0 - stop[:, None], 1.0 - limit[:, None])
    rises = numpy_first_reach(high, rows, up, above=True)
    falls = numpy_first_reach(low, rows, np.where(down > 0, down, np.nan), above=False)
    win, loss = np.where(long, rises, falls), np.where(long, falls, rises)
    end = np.minimum(win, loss)
    closed = end < close.shape[-1]
    return [closed.sum(axis=-1).astype(float), ((win < loss) & closed).sum(axis=-1).astype(float),
            np.where(closed, end - starts, 0).sum(axis=-1).astype(float)]


@pytest.mark.parametrize("n", [200, 7])
def test_replay_kernel_equals_the_sparse_table_path(n: int) -> None:
    """2,000 orders on the last n + 1 bars of the real series: Long and Short, stops and limits from 0.5 % to
    30 %, some without a stop or a limit (inf), some beyond 100 % (never reached)."""
    from test_signals import load_bars

    quoted = [load_bars().isel({INSTRUMENT: i}).dropna(TIME) for i in range(6)]
    high, low, close = (np.stack([q[k].values[-(n + 1):] for q in quoted]) for k in ("high", "low", "close"))
    rng = np.random.default_rng(8)
    count = 2000
    rows = rng.integers(0, 6, count)
    direction = rng.choice([1.0, -1.0], count)
    stop, limit = (np.where(rng.random(count) < 0.1, np.inf, rng.uniform(0.005, 0.3, count)) for _ in range(2))
    limit[:20] = 1.5
    ours = kernels.replay(high, low, close, rows, direction, stop, limit)
    theirs = numpy_replay(high, low, close, rows, direction, stop, limit)
    for what, mine, reference in zip(("trades", "successes", "held"), ours, theirs, strict=True):
        np.testing.assert_array_equal(mine, reference, err_msg=what)
    assert 0 < ours[1].sum() < ours[0].sum()
