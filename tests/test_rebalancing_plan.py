"""The rebalancing decision as a pure function (toolkit.trading.rebalancing.plan): each account's
cancellation reason in the brokerage seed's words, or its trades, without a database.

The book: six requested accounts, two instruments at 100.00 and 50.00, targets 50/50.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

from toolkit.trading.engine import QTY_SCALE, WEIGHT_SCALE
from toolkit.trading.orders import FeeSchedule
from toolkit.trading.rebalancing import plan

PRICES = np.array([100.0, 50.0])
HALF = WEIGHT_SCALE // 2
NO_FEES = FeeSchedule(bps=Decimal("0"), minimum=Decimal("0"))


def _accounts(rows: list[tuple[str, str | None, str | None, str | None]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["account_id", "type", "status", "allocation_id"])


def _shares(*n: float) -> np.ndarray:
    return np.array([int(x * QTY_SCALE) for x in n], np.int64)


def test_each_account_gets_the_seed_reason_or_its_trades():
    ids = ("missing", "trading", "closed", "unconfigured", "balanced", "drifted", "empty")
    accounts = _accounts([
        ("trading", "TRADING", "ACTIVE", None),
        ("closed", "PORTFOLIO", "CLOSED", "m"),
        ("unconfigured", "PORTFOLIO", "ACTIVE", None),
        ("balanced", "PORTFOLIO", "ACTIVE", "m"),
        ("drifted", "PORTFOLIO", "ACTIVE", "m"),
        ("empty", "PORTFOLIO", "ACTIVE", "m"),
    ])
    qty = np.stack([_shares(0, 0), _shares(0, 0), _shares(1, 0), _shares(0, 0),
                    _shares(5, 10),  # 500 + 500: on target
                    _shares(9, 2),   # 900 + 100: 40 points off
                    _shares(0, 0)])
    cash = np.array([0, 0, 0, 0, 0, 0, 0], np.int64)
    target = np.full((7, 2), HALF, np.int64)
    reasons, ok, trades = plan(accounts, ids, qty, cash, PRICES, target, drift=Decimal("0.02"),
                               drift_type="ABSOLUTE", fees=NO_FEES)
    assert reasons.tolist() == ["ACCOUNT_NOT_FOUND", "INVALID_ACCOUNT_TYPE", "INVALID_ACCOUNT_STATUS",
                                "CONFIGURATION_IS_MISSING", "PORTFOLIO_IS_BALANCED", None, "ACCOUNT_IS_EMPTY"]
    assert ok.tolist() == [False, False, False, False, True, True, True]
    drifted = 1  # the second of the valued accounts
    # 900 + 100 -> 500 + 500: sell 4 of the first (400.00), buy 8 of the second (400.00)
    assert trades["sell_cents"][drifted].tolist() == [40_000, 0]
    assert trades["buy_cents"][drifted].tolist() == [0, 40_000]


def test_cash_below_zero_is_an_empty_account_when_the_holdings_do_not_cover_it():
    """(Negative cash with a positive NAV is refused by the engine, as before: not a decision here.)"""
    accounts = _accounts([("a", "PORTFOLIO", "ACTIVE", "m"), ("b", "PORTFOLIO", "ACTIVE", "m")])
    qty = np.stack([_shares(1, 0), _shares(1, 0)])  # 100.00 of holdings each
    cash = np.array([-20_000, 0], np.int64)  # -200.00: a NAV of -100.00 (written outside the toolkit)
    reasons, ok, _ = plan(accounts, ("a", "b"), qty, cash, PRICES, np.full((2, 2), HALF, np.int64),
                          drift=Decimal("0"), drift_type="ABSOLUTE", fees=NO_FEES)
    assert reasons.iloc[0] == "ACCOUNT_IS_EMPTY"
    assert ok.tolist() == [False, True]


def test_trades_below_the_minimum_order_leave_the_account_balanced():
    accounts = _accounts([("a", "PORTFOLIO", "ACTIVE", "m")])
    qty = np.stack([_shares(5, 9.9)])  # 500 + 495: 0.25 points off, under the 10.00 minimum to fix
    fees = FeeSchedule(bps=Decimal("0"), minimum=Decimal("0"), min_order=Decimal("10.00"))
    reasons, ok, _ = plan(accounts, ("a",), qty, np.array([0], np.int64), PRICES, np.full((1, 2), HALF, np.int64),
                          drift=Decimal("0"), drift_type="ABSOLUTE", fees=fees)
    assert reasons.tolist() == ["PORTFOLIO_IS_BALANCED"]


def test_nothing_valued_when_every_account_is_cancelled_early():
    reasons, ok, trades = plan(_accounts([]), ("x", "y"), np.zeros((2, 2), np.int64), np.zeros(2, np.int64),
                               PRICES, np.full((2, 2), HALF, np.int64), drift=Decimal("0"), drift_type="RELATIVE",
                               fees=NO_FEES)
    assert reasons.tolist() == ["ACCOUNT_NOT_FOUND", "ACCOUNT_NOT_FOUND"]
    assert not ok.any() and trades == {}
