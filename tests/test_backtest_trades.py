"""toolkit.backtest positions and trade statistics on a hand-worked case, and the engine's whole units,
cooldown, flows, stops and limits, re-optimisation and order-math hook on small hand-computed paths."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from toolkit.backtest import Policy, positions, simulate, trade_statistics
from toolkit.errors import DataError, ValidationError
from toolkit.schema import INSTRUMENT, PORTFOLIO, TIME


def market(a: list[float], b: list[float], start: str = "2024-01-30") -> xr.DataArray:
    times = pd.bdate_range(start, periods=len(a))
    return xr.DataArray(np.array([a, b], dtype=float), dims=(INSTRUMENT, TIME),
                        coords={INSTRUMENT: ["A", "B"], TIME: times})


HALF = xr.DataArray([0.5, 0.5], dims=INSTRUMENT, coords={INSTRUMENT: ["A", "B"]})
#: every case runs through the compiled day loop and the Python event loop
ENGINES = pytest.mark.parametrize("engine", ["compiled", "events"])


@ENGINES
def test_whole_units_positions_and_statistics_hand_worked(engine):
    """1000 at 50/50 in whole units, a cost of 1 per trade (min_cost=1, no bps), monthly on the first day.

    Days Tue 30 Jan, Wed 31 Jan, Thu 1 Feb (rebalance), Fri 2 Feb; A 10, 12, 15, 15; B 20, 20, 18, 17.
    - Day 0: V = 1000, two trades, so V' = 998 and the fractional units are A 499/10 = 49.9, B 499/20 = 24.95.
      Floor: A 49, B 24, fees 2, cash left 1000 - 2 - 490 - 480 = 28. Remainders: B .95 first: one more B
      costs 20 (<= 28, B already trades so no extra fee); then A costs 10 more (30 > 28): no.
      Units A 49, B 25; cash 1000 - 2 - 490 - 500 = 8; NAV 998.
    - Day 1: A 12: NAV 49*12 + 25*20 + 8 = 1096.
    - Day 2: A 15, B 18: V = 735 + 450 + 8 = 1193; V' = 1191, fractional A 595.5/15 = 39.7, B 595.5/18 = 33.08.
      Floor A 39 (sell 10), B 33 (buy 8), fees 2, cash 1193 - 2 - 585 - 594 = 12; A's extra unit costs 15 > 12.
      NAV 585 + 594 + 12 = 1191.
    - Day 3: B 17: NAV 585 + 33*17 + 12 = 1158.
    FIFO lots: A bought 49 @10 (fee 1), 10 sold @15 on day 2 (fee 1): closed 10 @10->15, costs 10/49 + 1,
    P&L 50 - 1.2041 = 48.7959; open 39 @10 valued at 15, costs 39/49, P&L 195 - 0.7959 = 194.2041.
    B: 25 @20 (fee 1) open at 17: -75 - 1 = -76; 8 @18 (fee 1) open at 17: -8 - 1 = -9. Sum 158 = 1158 - 1000.
    Statistics: P&L series -2, 96, 191, 158; lowest -2; costs 4; profitable 2 of 4; mean win 121.5 over
    mean loss 42.5 = 2.8588; durations 2, 3, 3, 1 days: mean 2.25 days; CAGR 1.158 ** (365.25 / 3) - 1.
    """
    out = simulate(market([10, 12, 15, 15], [20, 20, 18, 17]), HALF, Policy("monthly"), capital=1000,
                   min_cost=1, units="whole", engine=engine)
    np.testing.assert_allclose(out.nav.values, [998, 1096, 1191, 1158], rtol=1e-12)
    np.testing.assert_allclose(out.cash.values, [8, 8, 12, 12], rtol=1e-12)
    np.testing.assert_array_equal(out.units.values, [[49, 49, 39, 39], [25, 25, 33, 33]])
    table = positions(out)
    assert table.columns.tolist() == ["instrument", "open_date", "open_price", "close_date", "close_price", "units",
                                      "stop", "limit", "costs", "pnl", "closed"]
    assert table.instrument.tolist() == ["A", "A", "B", "B"]
    assert table.closed.tolist() == [True, False, False, False]
    np.testing.assert_allclose(table.units, [10, 39, 25, 8])
    np.testing.assert_allclose(table.open_price, [10, 10, 20, 18])
    np.testing.assert_allclose(table.close_price, [15, 15, 17, 17])
    np.testing.assert_allclose(table.costs, [10 / 49 + 1, 39 / 49, 1, 1], rtol=1e-12)
    np.testing.assert_allclose(table.pnl, [50 - 10 / 49 - 1, 195 - 39 / 49, -76, -9], rtol=1e-12)
    assert (table.stop == 0).all() and (table.limit == sys.float_info.max).all()
    stats = trade_statistics(out, table)
    np.testing.assert_allclose(stats.pnl_series.values, [-2, 96, 191, 158], rtol=1e-12)
    assert stats.lowest_pnl == pytest.approx(-2) and stats.pnl == pytest.approx(158)
    assert stats.pnl == pytest.approx(table.pnl.sum(), rel=1e-12)
    assert stats.costs == pytest.approx(4)
    assert stats.profitable_ratio == 0.5
    assert stats.profit_loss_ratio == pytest.approx(121.5 / 42.5, rel=1e-12)
    assert stats.average_duration == pd.Timedelta(days=2.25)
    assert stats.yearly_return == pytest.approx(1.158 ** (365.25 / 3) - 1, rel=1e-9)


@ENGINES
def test_cooldown_delays_a_band_and_skips_a_calendar_day(engine):
    """A 10 -> 12 and flat, B flat at 20: A's weight 0.6/1.1 is 9.1% off its target on day 1 (band 5%).

    Without a cooldown the band rebalances on day 1; with cooldown=3 it waits for day 3 (still out). Monthly
    with cooldown=5 skips 1 Feb (day 2 < 0 + 5)."""
    prices = market([10, 12, 12, 12, 12], [20, 20, 20, 20, 20])
    policies = {"band": Policy(band=0.05), "band_cool": Policy(band=0.05, cooldown=3),
                "monthly": Policy("monthly"), "monthly_cool": Policy("monthly", cooldown=5)}
    out = simulate(prices, HALF, policies, capital=1, engine=engine)
    np.testing.assert_array_equal(out.rebalanced.values, [[1, 1, 0, 0, 0], [1, 0, 0, 1, 0], [1, 0, 1, 0, 0],
                                                          [1, 0, 0, 0, 0]])
    np.testing.assert_allclose(out.units.sel(strategy="band_cool", instrument="A").values,
                               [0.05, 0.05, 0.05, 0.55 / 12, 0.55 / 12], rtol=1e-12)
    np.testing.assert_allclose(out.nav.values[:, -1], 1.1, rtol=1e-12)


@ENGINES
def test_flows_are_traded_pro_rata_and_the_twr_ignores_them(engine):
    """1000 at 50/50, held, 10 bps; A 10, 20, 20, B 10 flat; +300 on day 1, -500 on day 2.

    - Day 0: V' = 1000 / 1.001; NAV0 = V'.
    - Day 1: holdings 1.5 V'. The deposit trades w_i F' with F' = 300 - 0.001 F' = 300 / 1.001 (the cost
      0.001 F' is the rest of the 300): NAV1 = 1.5 V' + 300 / 1.001.
    - Day 2: the withdrawal sells |F'| with F' = -500 + 0.001 |F'|, |F'| = 500 / 0.999, of which 500 is paid
      out and the rest is cost: NAV2 = NAV1 - 500 / 0.999.
    Time-weighted returns: r0 = NAV0/1000 - 1, r1 = (NAV1 - 300)/NAV0 - 1, r2 = (NAV2 + 500)/NAV1 - 1.
    """
    prices = market([10, 20, 20], [10, 10, 10])
    flows = xr.DataArray([0.0, 300, -500], dims=TIME, coords={TIME: prices[TIME].values})
    out = simulate(prices, HALF, Policy(), capital=1000, cost_bps=10, flows=flows, engine=engine)
    v0 = 1000 / 1.001
    nav = np.array([v0, 1.5 * v0 + 300 / 1.001, 1.5 * v0 + 300 / 1.001 - 500 / 0.999])
    np.testing.assert_allclose(out.nav.values, nav, rtol=1e-12)
    np.testing.assert_allclose(out.cash.values, 0, atol=1e-9)
    np.testing.assert_allclose(out.costs.values, [1000 - v0, 300 - 300 / 1.001, 500 / 0.999 - 500], rtol=1e-9)
    growth = np.array([nav[0] / 1000, (nav[1] - 300) / nav[0], (nav[2] + 500) / nav[1]])
    np.testing.assert_allclose(out.twr_nav.values, 1000 * np.cumprod(growth), rtol=1e-12)
    stats = trade_statistics(out)
    np.testing.assert_allclose(stats.pnl_series.values, nav - 1000 - np.array([0, 300, -200]), atol=1e-9)
    assert stats.pnl == pytest.approx(positions(out).pnl.sum(), rel=1e-12)


@ENGINES
def test_flows_per_portfolio_and_on_a_rebalance_day(engine):
    """A deposit on a rebalance day is invested by the rebalance; each portfolio gets its own flows."""
    prices = market([10, 10, 10, 12], [20, 20, 20, 20])  # 1 Feb is day 2
    books = xr.DataArray([[0.5, 0.5], [0.2, 0.8]], dims=(PORTFOLIO, INSTRUMENT),
                         coords={PORTFOLIO: ["p1", "p2"], INSTRUMENT: ["A", "B"]})
    flows = xr.DataArray([[0, 0, 100, 0], [0, 0, 0, 0]], dims=(PORTFOLIO, TIME),
                         coords={PORTFOLIO: ["p1", "p2"], TIME: prices[TIME].values})
    out = simulate(prices, books, Policy("monthly"), capital=100, flows=flows, engine=engine)
    np.testing.assert_allclose(out.nav.sel(portfolio="p1").values, [100, 100, 200, 220], rtol=1e-12)
    np.testing.assert_allclose(out.twr_nav.sel(portfolio="p1").values, [100, 100, 100, 110], rtol=1e-12)
    np.testing.assert_allclose(out.nav.sel(portfolio="p2").values, [100, 100, 100, 104], rtol=1e-12)
    assert out.rebalanced.sel(portfolio="p1").values.tolist() == [True, False, True, False]


@ENGINES
def test_stops_exit_at_the_close_and_wait_for_the_rebalance(engine):
    """100 at 50/50, monthly (1 Feb is day 3); A 10, 9.5, 8.9, 8, 12; B flat at 10; A's stop at 9.

    - Day 2: A closes at 8.9 <= 9: its 5 units are sold at 8.9 (not at 9): cash 44.5, NAV 94.5.
    - Day 3 (rebalance): p1's stop is still 9 and A closes at 8 <= 9, so A's half stays in cash: B is cut to
      47.25 (4.725 units), cash 47.25, NAV 94.5 then and on day 4. p2's stop moved to 5 on day 3: A is bought
      back, 47.25 / 8 = 5.90625 units, and is worth 70.875 on day 4: NAV 118.125.
    """
    prices = market([10, 9.5, 8.9, 8, 12], [10, 10, 10, 10, 10], start="2024-01-29")
    books = xr.DataArray([[0.5, 0.5], [0.5, 0.5]], dims=(PORTFOLIO, INSTRUMENT),
                         coords={PORTFOLIO: ["p1", "p2"], INSTRUMENT: ["A", "B"]})
    stop = xr.DataArray([[[9.0, 9.0], [np.nan, np.nan]], [[9.0, 5.0], [np.nan, np.nan]]],
                        dims=(PORTFOLIO, INSTRUMENT, TIME),
                        coords={PORTFOLIO: ["p1", "p2"], INSTRUMENT: ["A", "B"],
                                TIME: prices[TIME].values[[0, 3]]})
    out = simulate(prices, books, Policy("monthly"), capital=100, stop=stop, engine=engine)
    np.testing.assert_allclose(out.nav.sel(portfolio="p1").values, [100, 97.5, 94.5, 94.5, 94.5], rtol=1e-12)
    np.testing.assert_allclose(out.cash.sel(portfolio="p1").values, [0, 0, 44.5, 47.25, 47.25], atol=1e-12)
    np.testing.assert_allclose(out.nav.sel(portfolio="p2").values, [100, 97.5, 94.5, 94.5, 118.125], rtol=1e-12)
    np.testing.assert_allclose(out.units.sel(portfolio="p2", instrument="A").values, [5, 5, 0, 5.90625, 5.90625])
    table = positions(out)
    first = table[(table.portfolio == "p1") & (table.instrument == "A")].iloc[0]
    assert first.closed and first.close_price == 8.9 and first.stop == 9.0 and first.units == 5
    assert first.pnl == pytest.approx(5 * (8.9 - 10))
    reopened = table[(table.portfolio == "p2") & (table.instrument == "A")].iloc[-1]
    assert not reopened.closed and reopened.stop == 5.0 and reopened.pnl == pytest.approx(5.90625 * 4)


@ENGINES
def test_a_limit_takes_profit_at_the_close(engine):
    prices = market([10, 11, 12], [10, 10, 10])
    limit = xr.DataArray([10.5], dims=INSTRUMENT, coords={INSTRUMENT: ["A"]})
    out = simulate(prices, HALF, Policy(), capital=100, limit=limit, cost_bps=100, engine=engine)
    v0 = 100 / 1.01
    sold = v0 / 20 * 11
    np.testing.assert_allclose(out.cash.values, [0, sold * 0.99, sold * 0.99], atol=1e-12)
    np.testing.assert_allclose(out.nav.values, [v0, v0 / 2 + 0.99 * sold, v0 / 2 + 0.99 * sold], rtol=1e-12)
    assert positions(out).limit.tolist() == [10.5, sys.float_info.max]


def test_reoptimise_is_called_on_calendar_days_with_history():
    """The rule answers all-B from February on; it sees closes up to its day, also before the start."""
    prices = market([10, 10, 12, 12, 12, 12], [20, 20, 20, 20, 25, 30], start="2024-01-26")  # Fri..Fri
    seen: list[tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp]] = []

    def rule(when: pd.Timestamp, history: xr.DataArray) -> xr.DataArray:
        times = pd.DatetimeIndex(history[TIME].values)
        seen.append((when, times[0], times[-1]))
        share = [0.0, 1.0] if when.month == 2 else [0.5, 0.5]
        return xr.DataArray(share, dims=INSTRUMENT, coords={INSTRUMENT: ["A", "B"]})

    out = simulate(prices, HALF, Policy("monthly"), start="2024-01-29", capital=100, reoptimise=rule)
    days = prices[TIME].values
    assert seen == [(pd.Timestamp(days[1]), pd.Timestamp(days[0]), pd.Timestamp(days[1])),
                    (pd.Timestamp(days[4]), pd.Timestamp(days[0]), pd.Timestamp(days[4]))]
    # 29 Jan: 5 A, 2.5 B; 1 Feb (A 12, B 25): NAV 60 + 62.5 = 122.5, all in B: 4.9 units, worth 147 at 30
    np.testing.assert_allclose(out.units.sel(instrument="A").values, [5, 5, 5, 0, 0])
    np.testing.assert_allclose(out.nav.values, [100, 110, 110, 122.5, 147], rtol=1e-12)
    with pytest.raises(DataError, match="unusable weights"):
        simulate(prices, HALF, Policy("monthly"), reoptimise=lambda when, history: HALF * 2)


def test_order_math_hook_decides_the_units_and_the_fees():
    """A stand-in order math: whole units rounded down and a fee of 2 per order, paid from cash."""
    calls: list[int] = []

    def stand_in(units: np.ndarray, cash: np.ndarray, price: np.ndarray,
                 target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        calls.append(len(cash))
        value = (units * price).sum(-1) + cash
        new = np.floor(target * (value - 4)[:, None] / price)
        fee = 2.0 * (new != units).sum(-1)
        return new, value - fee - (new * price).sum(-1)

    prices = market([10, 12, 15, 15], [20, 20, 18, 17])
    out = simulate(prices, HALF, Policy("monthly"), capital=1000, reoptimise=None, order_math=stand_in)
    # day 0: floor(498 / 10) = 49 A, floor(498 / 20) = 24 B, fees 4, cash 1000 - 4 - 490 - 480 = 26
    # day 2: V = 49*15 + 24*18 + 26 = 1193, floor(594.5/15) = 39 A, floor(594.5/18) = 33 B, cash 1193-4-585-594
    assert calls == [1, 1]
    np.testing.assert_allclose(out.cash.values, [26, 26, 10, 10])
    np.testing.assert_allclose(out.costs.values, [4, 0, 4, 0])
    np.testing.assert_allclose(out.nav.values, [996, 1094, 1189, 585 + 33 * 17 + 10])


def test_bad_new_input_is_named():
    prices = market([10, 11, 12], [20, 20, 20])
    days = prices[TIME].values
    with pytest.raises(ValidationError) as error:
        simulate(prices, HALF, Policy(cooldown=-1), units="half")
    assert error.value.paths == ["policy.cooldown", "units"]
    off_day = xr.DataArray([10.0], dims=TIME, coords={TIME: [pd.Timestamp("2024-02-03")]})
    unknown = xr.DataArray([5.0], dims=INSTRUMENT, coords={INSTRUMENT: ["C"]})
    with pytest.raises(ValidationError) as error:
        simulate(prices, HALF, Policy(), flows=off_day, stop=unknown, limit=HALF.expand_dims(book=[1]))
    assert error.value.paths == ["stop.instrument", "limit", "flows.time"]
    drain = xr.DataArray([0.0, -5000, 0], dims=TIME, coords={TIME: days})
    for engine in ("compiled", "events"):
        with pytest.raises(DataError, match="withdraw more"):
            simulate(prices, HALF, Policy(), capital=1000, flows=drain, engine=engine)
    with pytest.raises(ValidationError, match="select one run"):
        trade_statistics(simulate(prices, HALF, {"a": Policy(), "b": Policy("monthly")}))


def test_positions_need_the_lines():
    out = simulate(market([10, 11, 12], [20, 20, 20]), HALF, Policy(), lines=False)
    assert "units" not in out and "weights" not in out and out.nav.shape == (3,)
    with pytest.raises(ValidationError) as error:
        positions(out)
    assert error.value.paths == ["result.units"]


def test_reoptimise_per_portfolio_and_strategy():
    """The rule answers per portfolio; a band-only strategy has no calendar day after day 0, so it keeps the
    rule's day-0 answer while the monthly one takes February's."""
    prices = market([10, 10, 12, 12], [20, 20, 20, 25])  # Tue 30 Jan .. Fri 2 Feb: 1 Feb is day 2
    books = xr.DataArray([[0.5, 0.5], [0.5, 0.5]], dims=(PORTFOLIO, INSTRUMENT),
                         coords={PORTFOLIO: ["p1", "p2"], INSTRUMENT: ["A", "B"]})
    days: list[pd.Timestamp] = []

    def rule(when: pd.Timestamp, history: xr.DataArray) -> xr.DataArray:
        days.append(when)
        late = when.month == 2
        return xr.DataArray([[1.0, 0.0], [0.0, 1.0]] if late else [[0.5, 0.5], [0.25, 0.75]],
                            dims=(PORTFOLIO, INSTRUMENT), coords={PORTFOLIO: ["p1", "p2"], INSTRUMENT: ["A", "B"]})

    out = simulate(prices, books, {"monthly": Policy("monthly"), "band": Policy(band=0.5)}, capital=100,
                   reoptimise=rule)
    assert days == [prices[TIME].to_index()[0], prices[TIME].to_index()[2]]  # one call per date
    units = out.units.sel(instrument="A")
    np.testing.assert_allclose(units.sel(strategy="monthly").values, [[5, 5, 110 / 12, 110 / 12], [2.5, 2.5, 0, 0]])
    np.testing.assert_allclose(units.sel(strategy="band").values, [[5, 5, 5, 5], [2.5, 2.5, 2.5, 2.5]])
