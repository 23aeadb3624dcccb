"""toolkit.backtest positions and trade statistics on a hand-worked case, and the engine's whole units,
cooldown, flows, stops and limits, re-optimisation and order-math hook on small hand-computed paths."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from toolkit.backtest import Policy, positions, simulate, trade_statistics
from toolkit.schema import INSTRUMENT, TIME


def market(a: list[float], b: list[float], start: str = "2024-01-30") -> xr.DataArray:
    times = pd.bdate_range(start, periods=len(a))
    return xr.DataArray(np.array([a, b], dtype=float), dims=(INSTRUMENT, TIME),
                        coords={INSTRUMENT: ["A", "B"], TIME: times})


HALF = xr.DataArray([0.5, 0.5], dims=INSTRUMENT, coords={INSTRUMENT: ["A", "B"]})


def test_whole_units_positions_and_statistics_hand_worked():
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
                   min_cost=1, units="whole")
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
