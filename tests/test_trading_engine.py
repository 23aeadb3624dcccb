"""The order engine (``toolkit.trading.engine``): exact splits, quantities, rebalancing, water-filling.

References are independent of the engine: cases worked by hand (in the comments), Python's
``fractions``/``decimal`` (exact rationals), the per-account ``decimal.Decimal`` loop of
benchmarks/rebalance.py, and scipy's SLSQP solver on the water-filling quadratic program.

Tolerance proved for :func:`rebalance` (drift 0), checked by ``test_rebalance_properties``. Write
``V`` for values before, ``V'`` after, ``T = split_cents(NAV, w)``, ``x = qty*price`` for the exact
value (``|x - V| <= 1/2``) and ``d = price*1e-8`` cents for the value of one quantity unit.
A buy of ``b = T - V`` cents adds ``floor(b/d)`` units, so ``x' in (x + b - d, x + b]``, i.e.
``(T - 1/2 - d, T + 1/2]``; a partial sell of ``s = V - T`` removes ``floor(s/d)``, so
``x' in [T - 1/2, T + 1/2 + d)``; rounding ``x'`` to the cent adds at most 1/2; a whole sale
leaves 0 = T. Hence, with no minimum order, ``|V'_i - T_i| <= 1 + d_i`` cents. Cash moves by
the exact order amounts, so ``|NAV' - NAV| <= sum over traded instruments of (1 + d_j)``, and the
weight error is ``|V'_i/NAV' - w_i| <= (|V'_i - T_i| + 1 + w_i*|NAV' - NAV|) / NAV'``
(``|T_i - w_i*NAV| < 1``). With a minimum order ``m``: a dropped trade leaves ``|V - T| < m``;
dropped sells (each < m) leave buys short of cash by less than ``(n-1)*m``, and the largest-
remainder scaling cuts each buy by at most that plus a cent; a scaled buy dropped below ``m``
was less than ``n*m + 1``. Hence ``|V'_i - T_i| < n*m + 2 + d_i``.
"""

from __future__ import annotations

import importlib.util
import sys
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from toolkit.errors import DataError, ValidationError
from toolkit.schema import INSTRUMENT, PORTFOLIO
from toolkit.trading import engine
from toolkit.trading.engine import (
    QTY_SCALE,
    WEIGHT_SCALE,
    fees,
    quantities,
    rebalance,
    rebalance_book,
    split_cents,
    values_cents,
    water_fill,
    weights_to_units,
)

S = WEIGHT_SCALE
SHARE = QTY_SCALE
#: the settings every property test here starts from (each sets its own max_examples)
HYPOTHESIS = settings(deadline=None, database=None, derandomize=True,
                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _load_benchmark():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "rebalance.py"
    if str(path.parent) not in sys.path:  # the script imports its sibling benchmarks/common.py
        sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location("benchmark_rebalance", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCH = _load_benchmark()


def hamilton(amount: int, weights: list[int]) -> list[int]:
    """Largest remainder on exact fractions (the benchmark's Decimal loop uses the same helper)."""
    sign = -1 if amount < 0 else 1
    parts = BENCH._hamilton(abs(amount), [Fraction(abs(amount) * w, S) for w in weights])
    return [sign * p for p in parts]


@st.composite
def weight_rows(draw, n: int | None = None) -> list[int]:
    """Weight units >= 0 summing to WEIGHT_SCALE (cut points of [0, S]; zeros included)."""
    n = n or draw(st.integers(1, 8))
    cuts = sorted(draw(st.lists(st.integers(0, S), min_size=n - 1, max_size=n - 1)))
    return [b - a for a, b in zip([0, *cuts], [*cuts, S])]


def random_book(rng: np.random.Generator, portfolios: int, n: int, *, dust: bool = True):
    """Holdings, cash, prices and targets with zeros, stray positions and prices across magnitudes."""
    tick = 10.0 ** rng.integers(0, 5, n)  # quoted to 0 to 4 decimals
    prices = np.maximum(np.round(10 ** rng.uniform(-2, 5, n) * tick), 1) / tick
    raw = rng.integers(0, 10, (portfolios, n)) * (rng.random((portfolios, n)) < 0.75)
    raw[np.arange(portfolios), rng.integers(0, n, portfolios)] += 1
    targets = raw * S // raw.sum(axis=1, keepdims=True)
    targets[:, 0] += S - targets.sum(axis=1)
    size = 10 ** rng.uniform(2, 8, (portfolios, 1))
    values = size * rng.uniform(0, 1, (portfolios, n)) * (rng.random((portfolios, n)) < 0.8)
    holdings = np.floor(values / 100 / prices * SHARE).astype(np.int64)
    if dust:
        holdings[rng.random((portfolios, n)) < 0.05] = 1  # a position worth less than half a cent
    cash = rng.integers(0, 10**6, portfolios) * (rng.random(portfolios) < 0.8)
    return holdings, cash, prices, targets


# =========================================================================== weights


def test_weights_to_units_is_exact():
    assert weights_to_units(["0.25", "0.75"]).tolist() == [25_000_000, 75_000_000]
    assert weights_to_units([Decimal("0.33333333"), "0.66666667", 0]).tolist() == [33_333_333, 66_666_667, 0]
    # a float is read through its shortest repr: 0.1 is "0.1", not 0.1000000000000000055...
    assert weights_to_units([0.1, 0.9]).tolist() == [10_000_000, 90_000_000]
    # trailing zeros beyond 8 decimals do not change the value
    assert weights_to_units(["0.500000000", " 1 "]).tolist() == [50_000_000, 100_000_000]
    units = weights_to_units([["0.5", "0.5"], ["1", "0"]])
    assert units.shape == (2, 2) and units.dtype == np.int64


@pytest.mark.parametrize("bad, words", [("0.123456789", "more than 8 decimals"), ("-0.1", ">= 0"),
                                        ("NaN", ">= 0"), ("abc", "not a decimal"), (True, "expected a decimal"),
                                        (1e-9, "more than 8 decimals")])
def test_weights_to_units_refuses(bad, words):
    with pytest.raises(ValueError, match=words) as caught:
        weights_to_units(["0.5", bad])
    assert caught.value.paths == ["weights[1]"]


# =========================================================================== split_cents


def test_split_reference_cases():
    # 100.00 over 0.33333334/0.33333333/0.33333333: quotas 3333.3334, 3333.3333, 3333.3333 cents;
    # floors sum to 9999, the leftover cent goes to the largest remainder (.3334): 33.34, 33.33, 33.33
    third = weights_to_units(["0.33333334", "0.33333333", "0.33333333"])
    assert split_cents(10_000, third).tolist() == [3334, 3333, 3333]
    # the same weights in another order: the cent follows the largest remainder, not the position
    assert split_cents(10_000, third[::-1]).tolist() == [3333, 3333, 3334]
    # 0.03 over four quarters: quotas 0.75 each, floors 0, three leftover cents on equal
    # remainders go to the lower indices
    assert split_cents(3, weights_to_units(["0.25"] * 4)).tolist() == [1, 1, 1, 0]
    # 9e16 cents: quota 3.00000006e16 + .0 exactly, 2.99999997e16 twice; no int64 overflow
    assert split_cents(9 * 10**16, third).tolist() == [30000000600000000, 29999999700000000, 29999999700000000]
    # a negative amount is split as minus the split of its magnitude
    assert split_cents(-10_000, third).tolist() == [-3334, -3333, -3333]
    # a weight of 0 never gets a cent, even when every other remainder is 0
    assert split_cents(7, weights_to_units(["0", "1"])).tolist() == [0, 7]


def test_split_broadcasts_amounts_over_rows():
    weights = weights_to_units([["0.5", "0.5"], ["0.1", "0.9"]])
    assert split_cents(np.array([101, 101]), weights).tolist() == [[51, 50], [10, 91]]
    assert split_cents(np.array([3, 5]), weights[1]).tolist() == [[0, 3], [1, 4]]


@settings(HYPOTHESIS, max_examples=200)
@given(st.integers(-9 * 10**16, 9 * 10**16), weight_rows())
def test_split_equals_exact_hamilton_and_adds_up(amount, weights):
    parts = split_cents(amount, np.array(weights))
    assert parts.dtype == np.int64
    assert int(parts.sum()) == amount
    assert parts.tolist() == hamilton(amount, weights)


@settings(HYPOTHESIS, max_examples=25)
@given(st.integers(0, 2**32 - 1), st.integers(1, 40), st.integers(1, 12))
def test_split_adds_up_for_every_row_of_a_book(seed, rows, n):
    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 1000, (rows, n)) * (rng.random((rows, n)) < 0.7)
    raw[:, -1] += 1
    weights = raw * S // raw.sum(axis=1, keepdims=True)
    weights[:, -1] += S - weights.sum(axis=1)
    amounts = rng.integers(-9 * 10**16, 9 * 10**16, rows)
    parts = split_cents(amounts, weights)
    np.testing.assert_array_equal(parts.sum(axis=1), amounts)
    assert parts.tolist() == [hamilton(int(a), w.tolist()) for a, w in zip(amounts, weights)]


# =========================================================================== exact kernels


@settings(HYPOTHESIS, max_examples=300)
@given(st.integers(0, 2**62), st.integers(0, 2**62), st.integers(1, 2**60))
def test_muldiv_is_exact_on_both_paths(x, y, d):
    if x * y // d >= 2**63:
        return
    expected = divmod(x * y, d)
    assert tuple(map(int, engine._muldiv(np.int64(x), np.int64(y), np.int64(d)))) == expected
    digits = engine._muldiv_digits(*(np.asarray(v, dtype=np.int64) for v in (x, y, d)))
    assert tuple(map(int, digits)) == expected


# =========================================================================== quantities and values


def test_quantity_and_value_reference_cases():
    # 100.00 at 3.00 buys 33.33333333333... shares: 333_333_333_333 units down, ...334 up
    assert quantities(10_000, 3.0).tolist() == 333_333_333_333
    assert quantities(10_000, 3.0, "up").tolist() == 333_333_333_334
    assert quantities(10_000, 3.0, "nearest").tolist() == 333_333_333_333
    # 1 share at 131.477 is 13147.7 cents -> 13148; ties go to the even cent
    assert values_cents(SHARE, 131.477).tolist() == 13_148
    assert values_cents(np.array([SHARE // 2, 3 * SHARE // 2, 5 * SHARE // 2]), 0.01).tolist() == [0, 2, 2]
    # the price is read to 8 decimals: 0.1 + 0.2 (0.30000000000000004) is 0.3
    assert values_cents(10 * SHARE, 0.1 + 0.2).tolist() == 300
    # the quantity bought for 3333.33 at 0.30 is worth exactly 3333.33
    assert values_cents(quantities(333_333, 0.3), 0.3).tolist() == 333_333


@settings(HYPOTHESIS, max_examples=300)
@given(st.integers(0, 10**12), st.decimals(Decimal("0.00000001"), Decimal(9_000_000), places=8))
def test_quantities_down_never_spend_more_and_are_the_largest_such(amount, price):
    exact_price = Fraction(price)
    assume(amount / exact_price < 9 * 10**10)  # under 9e8 shares, the int64 range of units
    units = int(quantities(amount, float(price)))
    # units of 1e-10 share at price per share, in cents: units * price / 10**8
    assert Fraction(units) * exact_price / 10**8 <= amount < Fraction(units + 1) * exact_price / 10**8
    assert int(values_cents(units, float(price))) <= amount


@settings(HYPOTHESIS, max_examples=300)
@given(st.integers(0, 2**63 - 1), st.decimals(Decimal("0.00000001"), Decimal(9_000_000), places=8))
def test_values_equal_decimal_half_even(units, price):
    expected = (Decimal(units) * price / 10**8).quantize(Decimal(1), ROUND_HALF_EVEN)
    assert int(values_cents(units, float(price))) == int(expected)


@pytest.mark.parametrize("price", [-1.0, 0.0, np.nan, np.inf, 1e7, 1e-9])
def test_bad_prices_are_refused(price):
    with pytest.raises(DataError, match="price"):
        values_cents([SHARE], [price])
    with pytest.raises(ValueError, match="price"):
        rebalance([SHARE, 0], 0, [10.0, price], weights_to_units(["0.5", "0.5"]))


# =========================================================================== rebalance: by hand

PRICES = np.array([10.0, 20.0, 50.0])
MODEL = weights_to_units(["0.5", "0.3", "0.2"])


def orders(out: dict) -> dict:
    return {key: np.asarray(value).tolist() for key, value in out.items()}


def test_rebalance_by_hand():
    # AAA 20 sh @ 10 = 200.00, BBB 10 sh @ 20 = 200.00, CCC none @ 50, cash 100.00: NAV 500.00;
    # targets 250.00 / 150.00 / 100.00 -> sell BBB 50.00 (2.5 sh), buy AAA 50.00 (5 sh) and
    # CCC 100.00 (2 sh), funded by cash 100.00 + proceeds 50.00; no cash left
    out = rebalance(np.array([20, 10, 0]) * SHARE, 10_000, PRICES, MODEL)
    assert orders(out) == {"sell_cents": [0, 5000, 0], "buy_cents": [5000, 0, 10000],
                           "sell_qty": [0, 25 * SHARE // 10, 0], "buy_qty": [5 * SHARE, 0, 2 * SHARE],
                           "fee_cents": [0, 0, 0], "balanced": False, "nav_cents": 50_000, "cash_after_cents": 0}


HELD = np.array([15, 9, 1]) * SHARE  # 150.00 / 180.00 / 50.00 and cash 120.00: NAV 500.00


@pytest.mark.parametrize("minimum, sells, buys, cash_after", [
    # no minimum: targets 250 / 150 / 100 -> sell BBB 30.00, buy AAA 100.00 and CCC 50.00
    (0, [0, 3000, 0], [10_000, 0, 5000], 0),
    # minimum 40.00: the 30.00 sell is not done, so 150.00 of buys meet 120.00 of cash; scaled by
    # largest remainder in proportion 100:50 -> 80.00 and 40.00, both still >= 40.00
    (4000, [0, 0, 0], [8000, 0, 4000], 0),
    # minimum 45.00: the same scaling, then the 40.00 buy is below the minimum and is dropped
    (4500, [0, 0, 0], [8000, 0, 0], 4000),
    # minimum 150.00: every order is below it
    (15_000, [0, 0, 0], [0, 0, 0], 12_000),
])
def test_rebalance_minimum_order_and_scaling_by_hand(minimum, sells, buys, cash_after):
    out = rebalance(HELD, 12_000, PRICES, MODEL, min_order_cents=minimum)
    assert orders(out)["sell_cents"] == sells and orders(out)["buy_cents"] == buys
    assert int(out["cash_after_cents"]) == cash_after
    np.testing.assert_array_equal(out["buy_qty"], np.array(buys) * SHARE // (PRICES * 100).astype(int))


@pytest.mark.parametrize("drift, mode, balanced", [
    # weights now .30/.36/.10 against .5/.3/.2: absolute gaps .20/.06/.10, relative .4/.2/.5;
    # a gap equal to the band is inside it
    ("0.2", "absolute", True), ("0.19999999", "absolute", False),
    ("0.5", "relative", True), ("0.49999999", "relative", False), (0.6, "relative", True),
])
def test_drift_band_is_exact_at_its_edge(drift, mode, balanced):
    out = rebalance(HELD, 12_000, PRICES, MODEL, drift=drift, drift_mode=mode)
    assert bool(out["balanced"]) is balanced
    assert bool(out["buy_cents"].sum() == 0) is balanced and int(out["cash_after_cents"]) == (12_000 if balanced else 0)


def test_a_zero_target_sells_the_whole_position_exactly():
    # 10/3 share at 3.00 is worth 9.9999999999 -> 10.00; its target is 0: all 3_333_333_333 units
    # go, for 10.00, and the 10.00 buys the other instrument
    out = rebalance(np.array([SHARE * 10 // 3, 0]), 0, [3.0, 1.0], weights_to_units(["0", "1"]))
    assert orders(out)["sell_qty"] == [SHARE * 10 // 3, 0] and orders(out)["sell_cents"] == [1000, 0]
    assert orders(out)["buy_cents"] == [0, 1000] and orders(out)["buy_qty"] == [0, 10 * SHARE]


def test_an_empty_account_and_a_cash_only_account():
    out = rebalance(np.zeros((2, 2), dtype=np.int64), np.array([0, 1001]), [1.0, 3.0], weights_to_units(["0.5", "0.5"]))
    assert orders(out)["balanced"] == [True, False]
    # 10.01 split 5.01 / 5.00; 5.00 at 3.00 buys 1.6666666666 share
    assert orders(out)["buy_cents"] == [[0, 0], [501, 500]]
    assert orders(out)["buy_qty"] == [[0, 0], [501 * SHARE // 100, 16_666_666_666]]


# =========================================================================== rebalance: properties


@settings(HYPOTHESIS, max_examples=60)
@given(st.integers(0, 2**32 - 1), st.integers(1, 8), st.integers(1, 8), st.sampled_from([0, 0, 1, 500, 10_000]))
def test_rebalance_properties(seed, portfolios, n, minimum):
    holdings, cash, prices, targets = random_book(np.random.default_rng(seed), portfolios, n)
    out = rebalance(holdings, cash, prices, targets, min_order_cents=minimum)
    sell, buy = out["sell_cents"], out["buy_cents"]
    assert (out["sell_qty"] <= holdings).all()  # never sells more than held
    assert ((sell == 0) | (buy == 0)).all()
    np.testing.assert_array_equal(out["cash_after_cents"], cash + sell.sum(axis=1) - buy.sum(axis=1))
    assert (out["cash_after_cents"] >= 0).all()  # never overdrawn
    assert (((sell == 0) | (sell >= minimum)) & ((buy == 0) | (buy >= minimum))).all()

    after = holdings - out["sell_qty"] + out["buy_qty"]
    value = values_cents(after, prices)
    target = split_cents(out["nav_cents"], targets)
    step = prices * 1e-8  # the value in cents of one quantity unit
    n_ = holdings.shape[1]
    if minimum == 0:
        assert (np.abs(value - target) <= 1 + step + 1e-9).all()
        nav_after = out["cash_after_cents"] + value.sum(axis=1)
        traded = (sell > 0) | (buy > 0) | (out["sell_qty"] > 0)
        moved = (traded * (1 + step)).sum(axis=1)
        assert (np.abs(nav_after - out["nav_cents"]) <= moved + 1e-9).all()
        live = nav_after > 0
        bound = (np.abs(value - target) + 1 + targets / S * moved[:, None]) / np.where(live, nav_after, 1)[:, None]
        error = np.abs(value / np.where(live, nav_after, 1)[:, None] - targets / S)
        assert (error[live] <= bound[live] + 1e-12).all()
    else:
        assert (np.abs(value - target) < n_ * minimum + 2 + step).all()


def test_rebalance_with_fees_by_hand():
    # the book of test_rebalance_by_hand with 10 bps and a 1.00 minimum fee: sell BBB 50.00 (fee 1.00),
    # so 100.00 + 50.00 - 1.00 = 149.00 is available; two wanted buys reserve 2 x 1.01, and the
    # budget is floor(146.98 / 1.001) = 146.83 cents, split 50:100 by largest remainder ->
    # AAA 48.94 and CCC 97.89; each fee is the 1.00 minimum (10 bps of 97.89 is 0.10)
    out = rebalance(np.array([20, 10, 0]) * SHARE, 10_000, PRICES, MODEL, fee_rate=1000, fee_min_cents=100)
    got = orders(out)
    assert got["sell_cents"] == [0, 5000, 0]
    assert got["buy_cents"] == [4894, 0, 9789]
    assert got["fee_cents"] == [100, 100, 100]
    assert got["cash_after_cents"] == 10_000 + 5000 - 4894 - 9789 - 300 == 17


def test_fees_round_half_up_with_a_minimum_and_without_overflow():
    # 10 bps of 12.345 cents... 12,345 cents * 1000 / 1e6 = 12.345 -> 12; 5,000 cents -> 5.0 -> 5
    assert fees([12_345, 5_000, 15_000, 0], 1000, 0).tolist() == [12, 5, 15, 0]
    assert fees([12_345, 0], 1000, 100).tolist() == [100, 0]
    assert fees([50], 100_000, 0).tolist() == [5]  # 10% of 0.50 is exactly 0.05
    assert fees([25], 20_000, 0).tolist() == [1]  # 2% of 0.25 = 0.5 cent, half-up -> 1
    big = 9 * 10**16  # cents * rate passes 2**63; the quotient is exact
    assert fees([big], 10_000, 0).tolist() == [big // 100]


@settings(HYPOTHESIS, max_examples=60)
@given(st.integers(0, 2**32 - 1), st.integers(1, 6), st.integers(1, 6), st.sampled_from([0, 1, 250, 5000]),
       st.sampled_from([0, 100, 1000, 25_000]))
def test_rebalance_with_fees_never_overdraws_and_charges_each_trade(seed, portfolios, n, fee_min, rate):
    holdings, cash, prices, targets = random_book(np.random.default_rng(seed), portfolios, n)
    out = rebalance(holdings, cash, prices, targets, fee_rate=rate, fee_min_cents=fee_min)
    sell, buy, fee = out["sell_cents"], out["buy_cents"], out["fee_cents"]
    np.testing.assert_array_equal(fee, fees(sell + buy, rate, fee_min))  # one fee per trade done
    np.testing.assert_array_equal(out["cash_after_cents"],
                                  cash + sell.sum(axis=1) - buy.sum(axis=1) - fee.sum(axis=1))
    assert (out["cash_after_cents"] >= 0).all()  # fees never overdraw
    assert (out["sell_qty"] <= holdings).all()
    assert ((sell == 0) | (sell > fee_min)).all()  # no sell is eaten by its fee
    free = rebalance(holdings, cash, prices, targets)
    assert (buy.sum(axis=1) <= free["buy_cents"].sum(axis=1)).all()  # fees only ever shrink the buys
    np.testing.assert_array_equal(sell[sell > fee_min], free["sell_cents"][sell > fee_min])


@settings(HYPOTHESIS, max_examples=20)
@given(st.integers(0, 2**32 - 1), st.sampled_from([("0", "absolute", 0), ("0.05", "absolute", 2500),
                                                   ("0.25", "relative", 100)]))
def test_vectorised_book_equals_a_loop_over_portfolios(seed, case):
    drift, mode, minimum = case
    holdings, cash, prices, targets = random_book(np.random.default_rng(seed), 24, 5)
    kw = dict(drift=drift, drift_mode=mode, min_order_cents=minimum)
    book = rebalance(holdings, cash, prices, targets, **kw)
    for p in range(len(cash)):
        one = rebalance(holdings[p], cash[p], prices, targets[p], **kw)
        for key, value in one.items():
            np.testing.assert_array_equal(book[key][p], value, err_msg=f"{key} of portfolio {p}")
    cube = rebalance(holdings.reshape(4, 6, 5), cash.reshape(4, 6), prices, targets.reshape(4, 6, 5), **kw)
    for key, value in cube.items():
        np.testing.assert_array_equal(value.reshape(book[key].shape), book[key])


@pytest.mark.parametrize("kw", [{}, {"drift": "0.02", "min_order_cents": 1000},
                                {"drift": "0.1", "drift_mode": "relative", "min_order_cents": 250}])
def test_rebalance_equals_the_decimal_loop(kw):
    prices = BENCH.last_close().to_numpy(dtype=np.float64)
    holdings, cash, targets = BENCH.book(300, prices, seed=7)
    ours = rebalance(holdings, cash, prices, targets, **kw)
    theirs = BENCH.peer(holdings, cash, prices, targets, **kw)
    for key in BENCH.KEYS:
        np.testing.assert_array_equal(ours[key], theirs[key], err_msg=key)


def test_rebalance_book_keeps_labels_and_runs_on_dask():
    holdings, cash, prices, targets = random_book(np.random.default_rng(3), 6, 3)
    names, accounts = ["AAA", "BBB", "CCC"], [f"acct-{i}" for i in range(6)]
    coords = {PORTFOLIO: accounts, INSTRUMENT: names}
    args = (xr.DataArray(holdings, coords, (PORTFOLIO, INSTRUMENT)),
            xr.DataArray(cash, {PORTFOLIO: accounts}, (PORTFOLIO,)),
            xr.DataArray(prices, {INSTRUMENT: names}, (INSTRUMENT,)),
            xr.DataArray(targets, coords, (PORTFOLIO, INSTRUMENT)))
    ds = rebalance_book(*args, min_order_cents=100)
    plain = rebalance(holdings, cash, prices, targets, min_order_cents=100)
    assert ds["buy_cents"].dims == (PORTFOLIO, INSTRUMENT) and ds["nav_cents"].dims == (PORTFOLIO,)
    assert ds[INSTRUMENT].values.tolist() == names and ds[PORTFOLIO].values.tolist() == accounts
    for key, value in plain.items():
        np.testing.assert_array_equal(ds[key].values, value)
    lazy = rebalance_book(args[0].copy(data=da.from_array(holdings, chunks=(2, 3))), args[1].chunk({PORTFOLIO: 2}),
                          args[2], args[3].chunk({PORTFOLIO: 2}), min_order_cents=100)
    assert lazy["buy_cents"].chunks is not None
    xr.testing.assert_identical(lazy.compute(), ds)
    with pytest.raises(ValueError, match="same instruments"):
        rebalance_book(args[0], args[1], args[2].assign_coords({INSTRUMENT: ["AAA", "BBB", "XXX"]}), args[3])


# =========================================================================== unhappy paths


def test_weights_must_sum_to_one_and_be_whole_positive_units():
    with pytest.raises(ValidationError, match=r"weights sum to 0.99999999, not 1") as caught:
        split_cents(100, weights_to_units(["0.5", "0.49999999"]))
    assert caught.value.paths == ["weight_units"]
    with pytest.raises(ValueError, match=r"target_units\[1\]: the weights sum to 1.1, not 1") as caught:
        rebalance(np.zeros((2, 2), dtype=np.int64), [0, 0], [1.0, 2.0], [[S // 2, S // 2], [S, S // 10]])
    with pytest.raises(ValueError, match="negative; a weight must be >= 0"):
        split_cents(100, [S + 1, -1])
    with pytest.raises(ValueError, match="above 1"):
        split_cents(100, [2**62, 2**62, 2**62, 2**62 - S])
    with pytest.raises(ValueError, match="integer weight units"):
        split_cents(100, [0.5, 0.5])


@pytest.mark.parametrize("call, words", [
    (lambda: rebalance([-1, 0], 0, [1.0, 1.0], [S, 0]), "qty_units: entry \\[0\\] is negative"),
    (lambda: rebalance([1, 0], -5, [1.0, 1.0], [S, 0]), "cash_cents: entry \\[\\] is negative"),
    (lambda: rebalance([1, 0], 10.5, [1.0, 1.0], [S, 0]), "integer array of whole cents"),
    (lambda: rebalance([1, 0], 0, [1.0, 1.0], [S, 0], drift="-0.1"), "drift: -0.1 is not a finite number >= 0"),
    (lambda: rebalance([1, 0], 0, [1.0, 1.0], [S, 0], drift="0.000000001"), "drift: .*more than 8 decimals"),
    (lambda: rebalance([1, 0], 0, [1.0, 1.0], [S, 0], drift_mode="percent"),  # type: ignore[arg-type]  # refused
     "not one of absolute, relative"),
    (lambda: quantities(100, 1.0, rounding="half"), "not one of down, up, nearest"),  # type: ignore[arg-type]
    (lambda: quantities(10**16, 1e-8), "beyond int64 quantity units"),
    (lambda: split_cents(10**17, [S]), "beyond 9e\\+16 cents"),
    (lambda: water_fill([1, 0], 1.5, [1.0, 1.0], [S, 0]), "integer array of whole cents"),
])
def test_bad_inputs_say_what_is_wrong(call, words):
    with pytest.raises(ValueError, match=words):
        call()


# =========================================================================== water_fill

FLAT = np.array([10.0, 10.0, 10.0])
WATER = np.array([4, 4, 2]) * SHARE  # 40.00 / 40.00 / 20.00 against targets .5/.3/.2


@pytest.mark.parametrize("flow, buys, sells", [
    # inflow 20.00: value after 120.00, targets 60/36/24, deviations V - t = -20/+4/-4. Bought
    # instruments end at t + c: (60 + c - 40) + (24 + c - 20) = 20 -> c = -2; CCC at 22 > 20 is
    # bought, BBB at 34 < 40 is not: buy 18.00 AAA and 2.00 CCC (not only AAA)
    (2000, [1800, 0, 200], [0, 0, 0]),
    # inflow 10.00: targets 55/33/22, deviations -15/+7/-2; AAA alone: 55 + c - 40 = 10 -> c = -5,
    # and CCC's 22 - 5 = 17 < 20: only AAA is bought
    (1000, [1000, 0, 0], [0, 0, 0]),
    # outflow 20.00: targets 40/24/16 = exactly reachable by selling 16.00 BBB and 4.00 CCC
    (-2000, [0, 0, 0], [0, 1600, 400]),
    # outflow of everything: sell all, exactly
    (-10_000, [0, 0, 0], [4000, 4000, 2000]),
])
def test_water_fill_by_hand(flow, buys, sells):
    out = water_fill(WATER, flow, FLAT, MODEL)
    assert orders(out)["buy_cents"] == buys and orders(out)["sell_cents"] == sells
    assert int(out["unplaced_cents"]) == 0
    if flow == -10_000:
        np.testing.assert_array_equal(out["sell_qty"], WATER)


# The published case of "WealthTech Cookbook: Rebalancing, part 2" (Financial Advisor magazine,
# fa-mag.com, 2019): a 50/30/20 model of corporate bonds, local and international equity has
# drifted to $57,500 / $36,000 / $16,500 (52/33/15% of $110,000), and $5,000 comes in, for
# $115,000. Targets are $57,500 / $34,500 / $23,000, so the article's order list is: sell $1,500
# of local equity and buy $6,500 of international equity (65 packages at $100).
COOKBOOK_HELD = np.array([575, 360, 165]) * SHARE  # $100 a share
COOKBOOK_MODEL = weights_to_units(["0.5", "0.3", "0.2"])


def test_rebalance_reproduces_the_published_cookbook_order_list():
    out = rebalance(COOKBOOK_HELD, 500_000, [100.0, 100.0, 100.0], COOKBOOK_MODEL)
    assert orders(out)["sell_cents"] == [0, 150_000, 0] and orders(out)["buy_cents"] == [0, 0, 650_000]
    assert orders(out)["sell_qty"] == [0, 15 * SHARE, 0] and orders(out)["buy_qty"] == [0, 0, 65 * SHARE]
    assert orders(out)["cash_after_cents"] == 0


def test_smart_order_on_the_published_cookbook_inflow_never_sells():
    # the same $5,000 as a smart order (no sale on an inflow): international is the only
    # under-weight holding and needs $6,500, more than the inflow, so all $5,000 go there
    out = water_fill(COOKBOOK_HELD, 500_000, [100.0, 100.0, 100.0], COOKBOOK_MODEL)
    assert orders(out)["buy_cents"] == [0, 0, 500_000] and orders(out)["sell_cents"] == [0, 0, 0]
    assert orders(out)["buy_qty"] == [0, 0, 50 * SHARE]
    # with $11,000 instead ($121,000 after: targets 60,500 / 36,300 / 24,200) local equity is under
    # target too: water-filling ends bonds, local and international at one common deviation c:
    # (60,500 + c - 57,500) + (36,300 + c - 36,000) + (24,200 + c - 16,500) = 11,000 -> c = 0
    out = water_fill(COOKBOOK_HELD, 1_100_000, [100.0, 100.0, 100.0], COOKBOOK_MODEL)
    assert orders(out)["buy_cents"] == [300_000, 30_000, 770_000]


def test_water_fill_minimum_order_and_unplaced_flow():
    # minimum 5.00: the 2.00 CCC buy of the 20.00 inflow is dropped, the QP is solved again with
    # CCC fixed: all 20.00 to AAA
    assert orders(water_fill(WATER, 2000, FLAT, MODEL, min_order_cents=500))["buy_cents"] == [2000, 0, 0]
    # an inflow below the minimum cannot be placed
    out = water_fill(WATER, 300, FLAT, MODEL, min_order_cents=500)
    assert orders(out)["buy_cents"] == [0, 0, 0] and int(out["unplaced_cents"]) == 300
    # an outflow beyond the holdings sells everything and reports the rest
    out = water_fill(WATER, -12_345, FLAT, MODEL)
    assert orders(out)["sell_cents"] == [4000, 4000, 2000] and int(out["unplaced_cents"]) == -2345


def slsqp(values: np.ndarray, flow: int, weights: np.ndarray) -> np.ndarray:
    """scipy's SLSQP on min sum (v - w*N)^2, sum v = N, v >= V (inflow) or 0 <= v <= V (outflow),
    solved in units of N (so the variables are of order 1) and returned in cents."""
    after = values.sum() + flow
    target, start = weights / S, values / after
    bounds = [(v, None) if flow > 0 else (0, v) for v in start]
    result = minimize(lambda u: ((u - target) ** 2).sum(), start * (1 if flow > 0 else 1 + flow / after),
                      jac=lambda u: 2 * (u - target), bounds=bounds,
                      constraints=[{"type": "eq", "fun": lambda u: u.sum() - 1, "jac": lambda u: np.ones_like(u)}],
                      method="SLSQP", options={"ftol": 1e-12, "maxiter": 1000})
    assert result.success, result.message
    return result.x * after


@pytest.mark.parametrize("seed", range(30))
def test_water_fill_matches_slsqp_within_a_cent(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 7))
    values = rng.integers(0, 100_000, n) * (rng.random(n) < 0.9)
    values[0] += 1
    raw = rng.integers(0, 100, n) * (rng.random(n) < 0.8)
    raw[-1] += 1
    weights = raw * S // raw.sum()
    weights[-1] += S - weights.sum()
    flow = int(values.sum() * rng.uniform(0.02, 0.6)) * (1 if seed % 2 else -1)
    out = water_fill(values * SHARE // 100, flow, np.ones(n), weights)  # at 1.00 a share, 1e8 units a cent
    final = values + out["buy_cents"] - out["sell_cents"]
    assert int(final.sum()) == values.sum() + flow
    np.testing.assert_allclose(final, slsqp(values.astype(float), flow, weights), atol=1.0 + 1e-6, rtol=0)


@settings(HYPOTHESIS, max_examples=60)
@given(st.integers(0, 2**32 - 1), st.integers(1, 6), st.integers(1, 7), st.sampled_from([0, 0, 100, 5000]))
def test_water_fill_properties_and_loop_equality(seed, portfolios, n, minimum):
    rng = np.random.default_rng(seed)
    holdings, _, prices, targets = random_book(rng, portfolios, n)
    value = values_cents(holdings, prices)
    flow = (rng.uniform(-1.2, 1, portfolios) * (value.sum(axis=1) + 10**5)).astype(np.int64)
    out = water_fill(holdings, flow, prices, targets, min_order_cents=minimum)
    buy, sell = out["buy_cents"], out["sell_cents"]
    np.testing.assert_array_equal(buy.sum(axis=1) - sell.sum(axis=1) + out["unplaced_cents"], flow)
    assert (buy[flow <= 0] == 0).all() and (sell[flow >= 0] == 0).all()  # inflows buy, outflows sell
    assert (out["sell_qty"] <= holdings).all() and (sell <= value).all()
    assert (((buy == 0) | (buy >= minimum)) & ((sell == 0) | (sell >= minimum))).all()
    if minimum == 0:  # everything placeable is placed
        np.testing.assert_array_equal(out["unplaced_cents"], np.minimum(flow + value.sum(axis=1), 0))
    for p in range(portfolios):
        one = water_fill(holdings[p], flow[p], prices, targets[p], min_order_cents=minimum)
        for key, array in one.items():
            np.testing.assert_array_equal(out[key][p], array, err_msg=f"{key} of portfolio {p}")


@pytest.mark.parametrize("kw", [{}, {"drift": "0.02", "min_order_cents": 1000, "fee_rate": 500, "fee_min_cents": 100}])
def test_a_book_in_blocks_gives_what_each_part_gives_alone(kw):
    """A book of more than two blocks (engine.BLOCK portfolios each, the last one partial): the
    rows around each block boundary, and the tail, rebalanced on their own give the same orders."""
    n_rows = 2 * engine.BLOCK + 123
    holdings, cash, prices, targets = random_book(np.random.default_rng(17), n_rows, 7)
    book = rebalance(holdings, cash, prices, targets, **kw)
    for rows in (slice(0, 4), slice(engine.BLOCK - 3, engine.BLOCK + 3), slice(2 * engine.BLOCK - 2, n_rows)):
        alone = rebalance(holdings[rows], cash[rows], prices, targets[rows], **kw)
        for key, values in alone.items():
            np.testing.assert_array_equal(book[key][rows], values, err_msg=key)


def test_a_bad_portfolio_in_a_later_block_is_still_refused():
    holdings, cash, prices, targets = random_book(np.random.default_rng(3), engine.BLOCK + 10, 4)
    cash[-1] = engine.MAX_AMOUNT
    with pytest.raises(ValidationError, match="NAV beyond"):
        rebalance(holdings, cash, prices, targets)
