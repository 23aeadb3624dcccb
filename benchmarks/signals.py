"""Every indicator of toolkit.signals for a universe of daily bars in one call, against a loop over instruments.

    python benchmarks/signals.py [--quick] [--results PATH]

Workload: 500 instruments (--quick: 50) x 2,520 daily bars (10 years). The bars are real and
tiled: instrument ``i`` takes the last 2,520 bars of one of six real OHLCV series of data/ (bokeh
AAPL, IBM, MSFT; pmdarima MSFT; arch S&P 500 and NASDAQ), in turn, times a seeded random walk
``exp(cumsum(N(0, 0.5%)))`` (numpy ``default_rng(19)``) that scales the four prices of a bar by the
same factor, so every bar keeps its real shape (high >= open, close >= low) while no two instruments
are equal. All share one calendar of 2,520 business days (the series' own dates differ).

Ours is one call on the whole ``xr.Dataset`` (numpy-backed, in memory), answering a DataArray or
Dataset over ``(instrument, time)``: the public function, its checks and ``xr.apply_ufunc`` around the
compiled numba kernels of ``toolkit.signals.kernels`` (one walk along time per series; support and
resistance stay numpy). The kernels are compiled once per machine (``cache=True``) and every time here is
warm. The first calls are measured apart, each in a fresh process on 5 instruments x 300 bars: once with
an empty numba cache (the compile, paid once per machine) and once with the cache written (what every
later process pays); each indicator's row carries them as ``first_call_compile_s`` and
``first_call_cached_s``, in the order below (a kernel compiled for one indicator is not compiled again for
the next), and a last row sums them. The peer is the loop one writes instead over the same bars (one
numpy row per instrument, taken out of the dataset before timing), its results stacked to an
``(instrument, time)`` array:

- true range, ATR (Wilder 14; SMA 10 and EMA 10 of the true range) and RSI 14: TA-Lib
  (``TRANGE``, ``ATR``, ``SMA``/``EMA`` of ``TRANGE``, ``RSI``); they must agree to 1e-9 relative
  from the first value (the same seeding);
- SuperTrend (3, 10, Smoothed): stockstats' ``supertrend`` (its own Python loop over bars), timed on
  a sample of instruments and scaled; it must agree after 400 bars (stockstats' ATR seed differs);
- support and resistance (minor 2, major 10 bars each side): ``scipy.signal.argrelextrema`` per
  instrument and pandas to shift each swing to its confirmation bar and forward fill; equal;
- trend bias (200 changes): TA-Lib ``SUM`` of the up and down indicators; equal to 1e-12;
- rule 4's reversal probability (RSI 14, 5 bars ahead, +/- 2.5): TA-Lib ``RSI`` and numpy masks per
  instrument; equal counts;
- for context, after the sum: the ``ta`` package's ``AverageTrueRange`` and ``RSIIndicator`` (pandas,
  with a Python loop over bars in its ATR), timed on the sample and scaled; equal after 400 bars.

The tactical rules (after the indicators): 10,000 candidate orders (--quick: 1,000) on the same bars,
numpy ``default_rng(19)``: a random instrument and direction each; half at market, half with an entry
within about 1 % of the last close; a third with a stop 1-8 % away, a third with a limit 1-15 % away; the
size left to the rules; funds 100,000. Ours is ``toolkit.signals.tactical.evaluate`` on the whole book in
one call, each rule alone (the document's defaults) and then rules 1-11 together. The peer is the
order-by-order loop one writes instead, ``toolkit.testing.tactical.judge_one`` (TA-Lib, scipy
``argrelextrema``, Python loops for the SuperTrend and rule 8's replay), timed on a sample of 100 orders
(--quick: 10) and scaled; on that sample the filled entry, stop, limit and size must agree to 1e-12 and
every verdict must be the same. The goal: the whole rule set under 1 s.

Times are the fastest of 5 alternating runs (ours, peer, ours, ...) after a warm-up of each, the
run least disturbed by the rest of a shared machine (--quick: 2); the TA-Lib-peered indicators (true
range, ATR, RSI, trend bias, reversal probability), milliseconds a run, take the fastest of 25
(--quick: 2), as one time slice lost to another process is as long as such a run. The goal: at least
as fast as the TA-Lib loop (ratio <= 1) on every indicator.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from common import arguments, report, row

from toolkit import signals
from toolkit.schema import INSTRUMENT, TIME

DATA = Path(__file__).resolve().parents[1] / "data"
DAYS = 2520
PRICES = ("open", "high", "low", "close")
WASHOUT = 400
GOAL = 1.0
#: the tactical rules' goal: the whole rule set on the book in one call, in seconds
RULES_GOAL = 1.0
FUNDS = 100_000.0


def real_series() -> list[pd.DataFrame]:
    """The last DAYS bars of the six real OHLCV series of data/."""
    out = []
    bokeh = pd.read_csv(DATA / "bokeh_stocks_ohlcv.csv")
    for symbol in ("AAPL", "IBM", "MSFT"):
        out.append(bokeh[bokeh["symbol"] == symbol])
    for name in ("msft_ohlcv", "sp500_ohlcv", "nasdaq_ohlcv"):
        out.append(pd.read_csv(DATA / f"{name}.csv"))
    return [f[[*PRICES, "volume"]].iloc[-DAYS:].reset_index(drop=True) for f in out]


def universe(count: int) -> xr.Dataset:
    """``count`` instruments of real bars, tiled, each scaled bar by bar by its own seeded random walk."""
    sources = real_series()
    walk = np.exp(np.cumsum(np.random.default_rng(19).normal(0.0, 0.005, (count, DAYS)), axis=1))
    data = {}
    for name in (*PRICES, "volume"):
        base = np.stack([sources[i % len(sources)][name].to_numpy(float) for i in range(count)])
        data[name] = ((INSTRUMENT, TIME), base * walk if name in PRICES else base)
    times = pd.bdate_range(end="2012-12-31", periods=DAYS)
    return xr.Dataset(data, coords={INSTRUMENT: [f"i{i:03d}" for i in range(count)], TIME: times})


#: the indicators in the order of the table, as calls on bars (the first-call measure runs them in this order)
INDICATORS: dict[str, Callable[[xr.Dataset], Any]] = {
    "true range": lambda d: signals.true_range(d),
    "ATR 14 Smoothed (Wilder)": lambda d: signals.atr(d, 14, "Smoothed"),
    "ATR 10 SMA": lambda d: signals.atr(d, 10, "SMA"),
    "ATR 10 EMA": lambda d: signals.atr(d, 10, "EMA"),
    "RSI 14 (Wilder)": lambda d: signals.rsi(d, 14),
    "SuperTrend (3, 10, Smoothed)": lambda d: signals.supertrend(d, 3, 10, "Smoothed"),
    "support and resistance (minor 2, major 10)": lambda d: signals.support_resistance(d, 2, 10),
    "trend bias (200)": lambda d: signals.trend_bias(d, 200),
    "reversal probability (RSI 14, 5 bars)": lambda d: signals.reversal_probability(d),
}


def first_calls() -> dict[str, float]:
    """Seconds of each indicator's first call in this process, in table order, on 5 instruments x 300 bars."""
    small = universe(5).isel({TIME: slice(-300, None)})
    out = {}
    for name, call in INDICATORS.items():
        start = time.perf_counter()
        call(small)
        out[name] = time.perf_counter() - start
    return out


def compile_times() -> tuple[dict[str, float], dict[str, float]]:
    """:func:`first_calls` in a fresh process with an empty numba cache (compiling), then in another one with
    that cache (loading): ``NUMBA_CACHE_DIR`` is a new temporary folder, so the repository's cache is untouched."""
    code = f"import json, sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import signals; " \
           "print(json.dumps(signals.first_calls()))"
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "NUMBA_CACHE_DIR": folder}
        runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
                for _ in range(2)]
    cold, cached = (json.loads(run.stdout.strip().splitlines()[-1]) for run in runs)
    return cold, cached


def fastest(ours: Callable, peer: Callable, runs: int) -> tuple[Any, float, Any, float]:
    """(our result, our fastest time, the peer's result, its fastest time) over alternating runs."""
    ours_out, peer_out = ours(), peer()  # warm-up: imports, caches
    ours_t, peer_t = [], []
    for _ in range(runs):
        start = time.perf_counter()
        ours_out = ours()
        ours_t.append(time.perf_counter() - start)
        start = time.perf_counter()
        peer_out = peer()
        peer_t.append(time.perf_counter() - start)
    return ours_out, min(ours_t), peer_out, min(peer_t)


def stack(rows: list[np.ndarray]) -> np.ndarray:
    return np.stack(rows)


# ------------------------------------------------------------------ peers: loops over instruments


def talib_loops(h: np.ndarray, lo: np.ndarray, c: np.ndarray) -> dict[str, Callable[[], np.ndarray]]:
    import talib

    n = range(len(c))
    return {
        "true range": lambda: stack([talib.TRANGE(h[i], lo[i], c[i]) for i in n]),
        "ATR 14 Smoothed (Wilder)": lambda: stack([talib.ATR(h[i], lo[i], c[i], 14) for i in n]),
        "ATR 10 SMA": lambda: stack([talib.SMA(talib.TRANGE(h[i], lo[i], c[i]), 10) for i in n]),
        "ATR 10 EMA": lambda: stack([talib.EMA(talib.TRANGE(h[i], lo[i], c[i]), 10) for i in n]),
        "RSI 14 (Wilder)": lambda: stack([talib.RSI(c[i], 14) for i in n]),
    }


def stockstats_supertrend(bars: xr.Dataset, sample: int) -> tuple[np.ndarray, float]:
    """stockstats' SuperTrend (3, 10) line of the first ``sample`` instruments, and its time."""
    import stockstats

    stockstats.set_dft_window("supertrend", 10)
    frames = [bars.isel({INSTRUMENT: i}).to_dataframe()[[*PRICES, "volume"]] for i in range(sample)]

    def loop() -> np.ndarray:
        out = []
        for frame in frames:
            table = stockstats.StockDataFrame.retype(frame.copy())
            table.SUPERTREND_MUL = 3
            out.append(table["supertrend"].to_numpy())
        return stack(out)

    loop()  # warm-up
    start = time.perf_counter()
    line = loop()
    return line, time.perf_counter() - start


def ta_loops(bars: xr.Dataset, sample: int) -> dict[str, tuple[np.ndarray, float]]:
    """The ``ta`` package's ATR 14 and RSI 14 of the first ``sample`` instruments, and their times."""
    from ta.momentum import RSIIndicator
    from ta.volatility import AverageTrueRange

    frames = [bars.isel({INSTRUMENT: i}).to_dataframe()[list(PRICES)] for i in range(sample)]
    calls = {
        "ATR 14 Smoothed (Wilder)":
            lambda f: AverageTrueRange(f["high"], f["low"], f["close"], 14).average_true_range(),
        "RSI 14 (Wilder)": lambda f: RSIIndicator(f["close"], 14).rsi(),
    }
    out = {}
    for name, call in calls.items():
        call(frames[0])  # warm-up
        start = time.perf_counter()
        values = stack([call(f).to_numpy() for f in frames])
        out[name] = (values, time.perf_counter() - start)
    return out


def scipy_levels(h: np.ndarray, lo: np.ndarray) -> dict[str, np.ndarray]:
    """Last confirmed swing high/low per bar (minor 2, major 10): argrelextrema, shifted and forward filled."""
    from scipy.signal import argrelextrema

    out: dict[str, list[np.ndarray]] = {}
    steps = h.shape[1]
    for i in range(len(h)):
        for name, k in (("minor", 2), ("major", 10)):
            for kind, x, compare in (("resistance", h[i], np.greater), ("support", lo[i], np.less)):
                (where,) = argrelextrema(x, compare, order=k)
                where = where[(where >= k) & (where < steps - k)]
                level = pd.Series(np.nan, index=range(steps))
                level.iloc[where + k] = x[where]
                out.setdefault(f"{name}_{kind}", []).append(level.ffill().to_numpy())
    return {key: stack(value) for key, value in out.items()}


def talib_bias(c: np.ndarray, lookback: int) -> np.ndarray:
    import talib

    rows = []
    for i in range(len(c)):
        change = np.diff(c[i], prepend=np.nan)
        up = talib.SUM((change > 0).astype(float), lookback)
        down = talib.SUM((change < 0).astype(float), lookback)
        bias = (up - down) / lookback
        bias[:lookback] = np.nan
        rows.append(bias)
    return stack(rows)


def talib_reversal(c: np.ndarray, horizon: int = 5, width: float = 2.5) -> np.ndarray:
    import talib

    rows = []
    for i in range(len(c)):
        rsi = talib.RSI(c[i], 14)
        level = rsi[-1]
        later = np.full(len(rsi), np.nan)
        later[:-horizon] = c[i][horizon:]
        pointing = np.sign(rsi - 50)
        with np.errstate(invalid="ignore"):
            event = (np.abs(rsi - level) <= width) & (pointing != 0) & np.isfinite(later)
            reversal = event & (pointing * (later - c[i]) < 0)
        rows.append([event.sum(), reversal.sum()])
    return np.array(rows, dtype=float)


def candidate_orders(bars: xr.Dataset, count: int) -> xr.Dataset:
    """``count`` seeded candidate orders over ``order`` (see the module)."""
    rng = np.random.default_rng(19)
    pick = rng.integers(0, bars.sizes[INSTRUMENT], count)
    last = bars["close"].values[pick, -1]
    sign = rng.choice([1.0, -1.0], count)
    level = np.where(rng.random(count) < 0.5, np.nan, last * (1 + rng.normal(0.0, 0.01, count)))
    entry = np.where(np.isnan(level), last, level)
    stop = np.where(rng.random(count) < 1 / 3, entry * (1 - sign * rng.uniform(0.01, 0.08, count)), np.nan)
    limit = np.where(rng.random(count) < 1 / 3, entry * (1 + sign * rng.uniform(0.01, 0.15, count)), np.nan)
    variables = {"instrument": bars[INSTRUMENT].values[pick], "direction": sign, "level": level, "stop": stop,
                 "limit": limit}
    return xr.Dataset({k: ("order", v) for k, v in variables.items()}).assign(funds=FUNDS)


def rule_rows(bars: xr.Dataset, prices: tuple[np.ndarray, ...], orders: xr.Dataset, sample: int, runs: int,
              size: str) -> list[dict]:
    """Each tactical rule alone, then rules 1-11 in one call, against the order-by-order loop on a sample."""
    from toolkit.contracts.risk.rules import RULES
    from toolkit.signals.tactical import DEFAULT_RULES, evaluate, read_rules
    from toolkit.testing.tactical import judge_one

    h, lo, c = prices
    count = orders.sizes["order"]
    where = bars.indexes[INSTRUMENT].get_indexer(orders["instrument"].values[:sample])
    columns = {k: orders[k].values[:sample] for k in ("direction", "level", "stop", "limit")}
    books = [{**{k: v[j] for k, v in columns.items()}, "size": np.nan, "funds": FUNDS, "timeframe": 1}
             for j in range(sample)]
    label = size + f"; {count:,} orders (peer timed on {sample} and scaled x{count / sample:g})"
    peer = f"order-by-order loop, TA-Lib + scipy + Python ({sample} orders, scaled)"
    out = []
    for rule_ids in [[r] for r in DEFAULT_RULES] + [list(DEFAULT_RULES)]:
        settings = read_rules(rule_ids)

        def loop(settings: dict = settings) -> list[dict]:
            return [judge_one(h[i], lo[i], c[i], order, settings) for i, order in zip(where, books, strict=True)]

        ours, ours_s, theirs, peer_s = fastest(lambda ids=rule_ids: evaluate(orders, bars, ids), loop, runs)
        for j, answer in enumerate(theirs):
            for key in ("level", "stop", "limit", "size"):
                np.testing.assert_allclose(ours[key].values[j], answer[key], rtol=1e-12, err_msg=f"{rule_ids} {key}")
            assert dict(zip(settings, ours["passed"].values[j].tolist(), strict=True)) == answer["passed"], rule_ids
        name = f"rule {rule_ids[0]}: {RULES[rule_ids[0]].name}" if len(rule_ids) == 1 else \
            "rules 1-11 in one call (the whole rule set)"
        out.append(row(name, label, ours_s, peer, peer_s * count / sample))
    return out


# ------------------------------------------------------------------ the rows


def main() -> None:
    args = arguments(__doc__, "signals", "50 instruments (stockstats on 5), 1,000 orders (peer on 10), 2 runs each")
    count, sample, runs = (50, 5, 2) if args.quick else (500, 20, 5)
    short_runs = 2 if args.quick else 25  # the TA-Lib-peered indicators: milliseconds a run
    order_count, order_sample = (1_000, 10) if args.quick else (10_000, 100)
    bars = universe(count)
    h, lo, c = (np.ascontiguousarray(bars[k].values) for k in ("high", "low", "close"))
    size = f"{count:,} instruments x {DAYS:,} daily bars (real bars tiled, seeded walk)"
    rows = []
    ours_total = peer_total = 0.0

    def add(name: str, ours_s: float, peer: str, peer_s: float, note: str = "") -> None:
        nonlocal ours_total, peer_total
        ours_total += ours_s
        peer_total += peer_s
        rows.append(row(name, size + note, ours_s, peer, peer_s))

    cold, cached = compile_times()
    ours_calls = {name: (lambda call=call: call(bars)) for name, call in INDICATORS.items()}
    for name, peer in talib_loops(h, lo, c).items():
        ours, ours_s, theirs, peer_s = fastest(ours_calls[name], peer, short_runs)
        np.testing.assert_allclose(ours.values, theirs, rtol=1e-9, err_msg=name)
        add(name, ours_s, "TA-Lib loop over instruments", peer_s)

    ta_rows = []
    for name, (theirs, peer_sample_s) in ta_loops(bars, sample).items():
        ours = ours_calls[name]()
        np.testing.assert_allclose(ours.values[:sample, WASHOUT:], theirs[:, WASHOUT:], rtol=1e-9, err_msg=f"ta {name}")
        ours_s = next(r["ours_s"] for r in rows if r["name"] == name)
        ta_rows.append(row(f"{name} vs the ta package", size + f"; ta timed on {sample} and scaled x{count / sample:g}",
                           ours_s, f"ta loop ({sample} instruments, scaled)", peer_sample_s * count / sample))

    ours, ours_s, _, _ = fastest(ours_calls["SuperTrend (3, 10, Smoothed)"], lambda: None, runs)
    line, peer_sample_s = stockstats_supertrend(bars, sample)
    np.testing.assert_allclose(ours["supertrend"].values[:sample, WASHOUT:], line[:, WASHOUT:], rtol=1e-9,
                               err_msg="SuperTrend vs stockstats")
    add("SuperTrend (3, 10, Smoothed)", ours_s, f"stockstats loop ({sample} instruments, scaled)",
        peer_sample_s * count / sample, f"; stockstats timed on {sample} and scaled x{count / sample:g}")

    ours, ours_s, theirs, peer_s = fastest(ours_calls["support and resistance (minor 2, major 10)"],
                                           lambda: scipy_levels(h, lo), runs)
    for key, value in theirs.items():
        np.testing.assert_array_equal(ours[key].values, value, err_msg=key)
    add("support and resistance (minor 2, major 10)", ours_s, "scipy argrelextrema + pandas ffill loop", peer_s)

    ours, ours_s, theirs, peer_s = fastest(ours_calls["trend bias (200)"], lambda: talib_bias(c, 200), short_runs)
    np.testing.assert_allclose(ours["bias"].values, theirs, rtol=1e-12, atol=1e-15, err_msg="trend bias")
    add("trend bias (200)", ours_s, "TA-Lib SUM loop over instruments", peer_s)

    ours, ours_s, theirs, peer_s = fastest(ours_calls["reversal probability (RSI 14, 5 bars)"],
                                           lambda: talib_reversal(c), short_runs)
    np.testing.assert_array_equal(np.stack([ours["events"].values, ours["reversals"].values], axis=1), theirs)
    add("reversal probability (RSI 14, 5 bars)", ours_s, "TA-Lib RSI + numpy loop over instruments", peer_s)

    for r in rows:
        r["first_call_compile_s"], r["first_call_cached_s"] = round(cold[r["name"]], 3), round(cached[r["name"]], 4)
    rows.append(row("every indicator above", size, ours_total, "the peers above, summed", peer_total))
    compiled = row("first calls of every indicator, compiling (empty numba cache)", "5 instruments x 300 bars",
                   sum(cold.values()), "the same first calls with the numba cache written", sum(cached.values()))
    rows += ta_rows  # context: the pure-pandas peer of ATR and RSI (not in the sum)
    rows += rule_rows(bars, (h, lo, c), candidate_orders(bars, order_count), order_sample, runs, size)
    rows.append(compiled)
    print("ATR, true range and RSI agree with TA-Lib to 1e-9 from the first value, SuperTrend with stockstats "
          f"after {WASHOUT} bars, levels with scipy argrelextrema, trend bias and reversal counts with the loops")
    report(rows, args.results)
    if not args.quick:
        missed = [r["name"] for r in rows if r["ratio"] > GOAL and "vs the ta package" not in r["name"]
                  and not r["name"].startswith(("rule", "first calls"))]
        print(f"goal: at least as fast as the peer loop on every indicator: "
              f"{'met' if not missed else 'MISSED on ' + ', '.join(missed)}; peak RSS {rows[-2]['peak_rss_mb']:.0f} MB")
        whole = next(r["ours_s"] for r in rows if r["name"].startswith("rules 1-11"))
        print(f"goal: the whole rule set on {order_count:,} orders under {RULES_GOAL:g} s: "
              f"{'met' if whole < RULES_GOAL else 'MISSED'} ({whole:.3f} s)")
    print(f"first calls (numba kernels): {compiled['ours_s']:.2f} s compiling into an empty cache, once per "
          f"machine; {compiled['peer_s']:.2f} s in a later process loading the cache")


if __name__ == "__main__":
    main()
