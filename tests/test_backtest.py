"""toolkit.backtest: NAVs against bt (bt 1.4's source read for its conventions) and vectorbt 1.2, a hand-worked
cost case, drift bands on hand-computed paths, the compiled and event loops against each other, and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from toolkit.backtest import STRATEGY, Policy, simulate
from toolkit.errors import DataError, ValidationError
from toolkit.market import sources
from toolkit.schema import INSTRUMENT, PORTFOLIO, TIME

bt = pytest.importorskip("bt")

SYMBOLS = ("AAPL", "JNJ", "JPM", "KO", "MSFT", "PG", "XOM")
START, END = "2015-01-01", "2020-12-31"
CAPITAL = 1e6


@pytest.fixture(scope="module")
def closes() -> pd.DataFrame:
    """Real closes of seven of the shipped S&P 500 stocks, 2015-2020, one column per symbol."""
    table = sources.instruments()
    wanted = table[(table["file"] == "sp500_stocks.csv") & table["symbol"].isin(SYMBOLS)]
    ids = dict(zip(wanted.index, wanted["symbol"], strict=True))
    frames = {ids[iid]: frame.set_index(TIME)["close"] for iid, frame in sources.series() if iid in ids}
    wide = pd.DataFrame(frames)[list(SYMBOLS)]
    wide.index = pd.to_datetime(wide.index)
    return wide.loc[START:END]


def as_prices(wide: pd.DataFrame) -> xr.DataArray:
    return xr.DataArray(wide.T.values, dims=(INSTRUMENT, TIME),
                        coords={INSTRUMENT: list(wide.columns), TIME: wide.index.values})


BOOKS = {"tilted": dict(zip(SYMBOLS, (0.1, 0.15, 0.2, 0.1, 0.2, 0.15, 0.1), strict=True)),
         "equal": dict.fromkeys(SYMBOLS, 1 / len(SYMBOLS))}


def bt_values(wide: pd.DataFrame, weights: dict[str, float], run: list) -> np.ndarray:
    """bt's strategy value series (fractional units, no costs), without its virtual first row."""
    algos = [bt.algos.SelectAll(), bt.algos.WeighSpecified(**weights), *run, bt.algos.Rebalance()]
    test = bt.Backtest(bt.Strategy("s", algos), wide, integer_positions=False, initial_capital=CAPITAL,
                       progress_bar=False)
    return bt.run(test).backtests["s"].strategy.values.to_numpy()[1:]


# the policy and the equivalent bt algos (run after WeighSpecified: bt clears target.temp on each run)
CASES = {
    "monthly": (Policy("monthly"), lambda: [bt.algos.RunMonthly()]),
    "monthly_last": (Policy("monthly", day="last"), lambda: [bt.algos.RunMonthly(run_on_end_of_period=True)]),
    "quarterly": (Policy("quarterly"), lambda: [bt.algos.RunQuarterly()]),
    "yearly": (Policy("yearly"), lambda: [bt.algos.RunYearly()]),
    "band5": (Policy(band=0.05), lambda: [bt.algos.RunIfOutOfBounds(0.05)]),
    "quarterly_or_band20": (Policy("quarterly", band=0.2),
                            lambda: [bt.algos.Or([bt.algos.RunQuarterly(), bt.algos.RunIfOutOfBounds(0.2)])]),
    "hold": (Policy(), lambda: [bt.algos.RunOnce()]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_nav_agrees_with_bt(closes, case):
    policy, algos = CASES[case]
    weights = BOOKS["tilted"]
    target = xr.DataArray(list(weights.values()), dims=INSTRUMENT, coords={INSTRUMENT: list(weights)})
    ours = simulate(as_prices(closes), target, policy, capital=CAPITAL)
    reference = bt_values(closes, weights, algos())
    assert ours.nav.dims == (TIME,)
    np.testing.assert_allclose(ours.nav.values / CAPITAL, reference / CAPITAL, rtol=0, atol=1e-9)
    assert ours.rebalanced.values[0] and ours.turnover.values[0] == pytest.approx(1.0)
    assert (ours.costs == 0).all()


def test_portfolios_and_strategies_in_one_call_agree_with_bt(closes):
    """Two books x three policies in one call; each NAV is bt's for that book and policy."""
    target = xr.DataArray([list(w.values()) for w in BOOKS.values()], dims=(PORTFOLIO, INSTRUMENT),
                          coords={PORTFOLIO: list(BOOKS), INSTRUMENT: list(SYMBOLS)})
    chosen = ("monthly", "band5", "hold")
    ours = simulate(as_prices(closes), target, {name: CASES[name][0] for name in chosen}, capital=CAPITAL)
    assert ours.nav.dims == (STRATEGY, PORTFOLIO, TIME)
    assert ours.weights.dims == (STRATEGY, PORTFOLIO, INSTRUMENT, TIME)
    for name in chosen:
        for book, weights in BOOKS.items():
            reference = bt_values(closes, weights, CASES[name][1]())
            got = ours.nav.sel({STRATEGY: name, PORTFOLIO: book}).values
            np.testing.assert_allclose(got / CAPITAL, reference / CAPITAL, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.weights.sum(INSTRUMENT), 1.0, atol=1e-12)


def test_an_absolute_band_on_equal_weights_is_bt_relative_band_scaled(closes):
    """With equal targets 1/n, |w - 1/n| > a is |w - 1/n| / (1/n) > a n: bt's RunIfOutOfBounds(a n)."""
    n = len(SYMBOLS)
    target = xr.DataArray(np.full(n, 1 / n), dims=INSTRUMENT, coords={INSTRUMENT: list(SYMBOLS)})
    ours = simulate(as_prices(closes), target, Policy(band=0.01, band_kind="absolute"), capital=CAPITAL)
    reference = bt_values(closes, BOOKS["equal"], [bt.algos.RunIfOutOfBounds(0.01 * n)])
    np.testing.assert_allclose(ours.nav.values / CAPITAL, reference / CAPITAL, rtol=0, atol=1e-9)


def small_market(a: list[float], b: list[float], start: str = "2024-01-30") -> xr.DataArray:
    times = pd.bdate_range(start, periods=len(a))
    return xr.DataArray(np.array([a, b]), dims=(INSTRUMENT, TIME), coords={INSTRUMENT: ["A", "B"], TIME: times})


HALF = xr.DataArray([0.5, 0.5], dims=INSTRUMENT, coords={INSTRUMENT: ["A", "B"]})


def test_costs_hand_worked():
    """1000 in A and B at 50/50, 100 bps with a minimum of 3 per trade, monthly on the first trading day.

    Days: Tue 30 Jan, Wed 31 Jan, Thu 1 Feb (first of the month: rebalance), Fri 2 Feb.
    - Day 0: both lines bought for V'/2 each, 1% of ~495 is ~4.95 > 3, so V' = 1000 - 0.01 V': V' = 1000/1.01.
    - Day 1: no trade; A 10 -> 12: NAV = V'/2 * 1.2 + V'/2 = 1.1 V'.
    - Day 2: A at 15: held 1.5 V'/2 and V'/2, V = 1.25 V' = 1250/1.01. Selling A and buying B trade about
      125 each, 1% of which is ~1.25 < 3: two minimum costs, 6. After: V2 = 1250/1.01 - 6. The traded value is
      (held A - V2/2) + (V2/2 - held B) = 0.25 V', a turnover of 0.25/1.25 = 0.2 (day 0's is V'/1000).
    - Day 3: B 20 -> 22: NAV = V2/2 + V2/2 * 1.1 = 1.05 V2.
    """
    prices = small_market([10, 12, 15, 15], [20, 20, 20, 22])
    out = simulate(prices, HALF, Policy("monthly"), capital=1000, cost_bps=100, min_cost=3)
    v0 = 1000 / 1.01
    v2 = 1250 / 1.01 - 6
    np.testing.assert_allclose(out.nav.values, [v0, 1.1 * v0, v2, 1.05 * v2], rtol=1e-12)
    np.testing.assert_allclose(out.costs.values, [1000 - v0, 0, 6, 0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out.turnover.values, [v0 / 1000, 0, 0.2, 0], rtol=1e-12)
    np.testing.assert_allclose(out.traded.values, [v0, 0, 0.25 * v0, 0], rtol=1e-12)
    assert out.rebalanced.values.tolist() == [True, False, True, False]
    np.testing.assert_allclose(out.units.sel(instrument="A").values, [v0 / 20] * 2 + [v2 / 30] * 2, rtol=1e-12)


def test_book_and_line_bands_hand_worked():
    """A 10 -> 11 -> 12.5, B flat: A's weight is 0.55/1.05 = 0.5238 on day 1 and 0.625/1.125 = 0.5556 on day 2.

    One-way book drift (absolute): 0.0238 then 0.0556; relative L1 distance: twice that, 0.0476 then 0.1111.
    """
    prices = small_market([10, 11, 12.5, 12.5], [20, 20, 20, 20], start="2024-03-04")
    cases = {Policy(band=0.05, band_kind="absolute", band_scope="book"): [True, False, True, False],
             Policy(band=0.06, band_kind="absolute", band_scope="book"): [True, False, False, False],
             Policy(band=0.1, band_kind="relative", band_scope="book"): [True, False, True, False],
             Policy(band=0.12, band_kind="relative", band_scope="book"): [True, False, False, False],
             Policy(band=0.05, band_kind="absolute"): [True, False, True, False],
             Policy(band=0.1, band_kind="relative"): [True, False, True, False],
             Policy(band=0.12, band_kind="relative"): [True, False, False, False]}
    out = simulate(prices, HALF, {str(i): policy for i, policy in enumerate(cases)}, capital=1)
    np.testing.assert_array_equal(out.rebalanced.values, np.array(list(cases.values())))
    after = 1.125 / 1  # NAV on day 2 (no costs): 0.5 * 1.25 + 0.5
    np.testing.assert_allclose(out.nav.values[0], [1, 1.05, after, after])


def test_bad_input_is_named():
    prices = small_market([10, 11, 12, 13], [20, 20, 20, 20])
    with pytest.raises(ValidationError) as error:
        simulate(prices, HALF, Policy("monthly"), start="2024-02-02", end="2024-01-01")
    assert error.value.paths == ["end"]
    with pytest.raises(DataError, match="start=2025-01-01"):
        simulate(prices, HALF, Policy("monthly"), start="2025-01-01", end="2025-12-31")
    skewed = xr.DataArray([[0.5, 0.5], [0.6, 0.5]], dims=(PORTFOLIO, INSTRUMENT),
                          coords={PORTFOLIO: ["p1", "p2"], INSTRUMENT: ["A", "B"]})
    with pytest.raises(ValidationError) as error:
        simulate(prices, skewed, Policy())
    assert error.value.paths == ["weights[portfolio=p2]"]
    with pytest.raises(ValidationError) as error:
        simulate(prices, HALF, {"a": Policy("weekly"), "b": Policy(band=-1, band_scope="desk")})
    assert error.value.paths == ["policy[a].frequency", "policy[b].band", "policy[b].band_scope"]
    unknown = xr.DataArray([0.5, 0.5], dims=INSTRUMENT, coords={INSTRUMENT: ["A", "C"]})
    with pytest.raises(ValidationError) as error:
        simulate(prices, unknown, Policy(), cost_bps=-1)
    assert error.value.paths == ["cost_bps", "weights.instrument"]
    with pytest.raises(DataError, match=r"prices\[instrument=A"):
        simulate(prices.where(prices[TIME] != prices[TIME][1]), HALF, Policy())


vbt = pytest.importorskip("vectorbt")


@pytest.mark.parametrize("case", ["monthly", "quarterly", "band5"])
def test_nav_agrees_with_vectorbt(closes, case):
    """vectorbt 1.2's from_orders with target percents on our rebalance days, one group with cash sharing and
    call_seq="auto" (sells first, so every buy is funded): the same NAV to 1e-9. The calendar days are
    computed here by pandas (first trading day of each period, never the last day); a band's days are ours,
    which bt confirms above (vectorbt has no band; benchmarks/backtest.py drives one through from_order_func)."""
    policy = CASES[case][0]
    weights = np.array(list(BOOKS["tilted"].values()))
    target = xr.DataArray(weights, dims=INSTRUMENT, coords={INSTRUMENT: list(SYMBOLS)})
    ours = simulate(as_prices(closes), target, policy, capital=CAPITAL)
    if policy.band is None:
        months = {"monthly": 1, "quarterly": 3}[policy.frequency or "monthly"]
        key = closes.index.year.to_numpy() * (12 // months) + (closes.index.month.to_numpy() - 1) // months
        days = np.r_[True, key[1:] != key[:-1]]
        days[-1] = False
        np.testing.assert_array_equal(days, ours.rebalanced.values)
    else:
        days = ours.rebalanced.values
    size = np.where(days[:, None], weights[None, :], np.nan)
    pf = vbt.Portfolio.from_orders(closes, size=size, size_type="targetpercent", group_by=True, cash_sharing=True,
                                   call_seq="auto", init_cash=CAPITAL, freq="1D")
    np.testing.assert_allclose(ours.nav.values / CAPITAL, pf.value().to_numpy() / CAPITAL, rtol=0, atol=1e-9)


def test_the_compiled_and_event_loops_agree(closes):
    """Three random books x four policies on seven stocks over six years, with costs, whole units, flows, stops
    and limits: the compiled day loop and the Python event loop give the same runs to 1e-12 of the capital."""
    rng = np.random.default_rng(7)
    book = xr.DataArray(rng.dirichlet(np.ones(len(SYMBOLS)), size=3), dims=(PORTFOLIO, INSTRUMENT),
                        coords={PORTFOLIO: ["a", "b", "c"], INSTRUMENT: list(SYMBOLS)})
    prices = as_prices(closes)
    policies = {"monthly": Policy("monthly"), "band": Policy(band=0.05, cooldown=3),
                "book": Policy("quarterly", band=0.1, band_kind="absolute", band_scope="book"), "hold": Policy()}
    amounts = rng.choice([0.0, 5e4, -3e4], p=[0.98, 0.01, 0.01], size=(3, closes.shape[0]))
    flows = xr.DataArray(amounts, dims=(PORTFOLIO, TIME), coords={PORTFOLIO: ["a", "b", "c"], TIME: closes.index})
    first = prices.isel({TIME: 0}, drop=True)
    cases = [dict(cost_bps=10, min_cost=5),
             dict(units="whole", cost_bps=5, min_cost=1, flows=flows, stop=first * 0.8, limit=first * 2)]
    for options in cases:
        runs = [simulate(prices, book, policies, capital=CAPITAL, engine=engine, **options)
                for engine in ("compiled", "events")]
        np.testing.assert_array_equal(runs[0].rebalanced, runs[1].rebalanced)
        for name in ("nav", "cash", "costs", "traded", "twr_nav"):
            np.testing.assert_allclose(runs[0][name] / CAPITAL, runs[1][name] / CAPITAL, rtol=0, atol=1e-12)
        np.testing.assert_allclose(runs[0].weights, runs[1].weights, rtol=0, atol=1e-12)
