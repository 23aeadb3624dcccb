"""The demo book's Tech tactical mandate (:mod:`toolkit.workspace.book`): real candles only, ATR weighted at
every quarterly rebalancing, every order judged by the tactical rules with its stop and limit kept, and a
closed account at the end of its prices; ``ws.tactics`` on placed orders."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from toolkit.errors import ConflictError, DataError
from toolkit.optimise.heuristics import atr_weights, complete_bars
from toolkit.signals import atr
from toolkit.trading.engine import values_cents
from toolkit.workspace import Workspace
from toolkit.workspace.book import ATR_DAYS, TACTICAL_RULES, TECH, TECH_END, TECH_MODEL

NAME = "Tech tactical mandate"


def tech(ws: Workspace) -> str:
    return next(a.id for a in ws.accounts.list(type="PORTFOLIO") if a.name == NAME)


def orders_of(path: Path, account: str) -> pd.DataFrame:
    """The account's filled orders straight from the table, with their number of child orders (37-byte legs)."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT id, side, execution_date, length(legs) / 37 FROM portfolio_orders WHERE "
                            "account_id = ? AND state IN ('FILLED', 'SETTLED') ORDER BY rowid", (account,)).fetchall()
    return pd.DataFrame(rows, columns=["id", "side", "execution_date", "children"])


def test_the_tech_mandate_trades_the_real_candle_series_only(book_ws: Workspace) -> None:
    table = book_ws.instruments.table().set_index("instrument_id")
    listed = book_ws.tactics.list([tech(book_ws)])
    sources = {(table.at[i, "symbol"], table.at[i, "source"]) for i in listed["instrument_id"]}
    assert sources == set(TECH.items())


def test_the_model_follows_the_atr_at_each_rebalancing(book_ws: Workspace, book_path: Path) -> None:
    account = tech(book_ws)
    model = next(a for a in book_ws.allocations.list() if a.name == TECH_MODEL)
    assert model.version == 32  # the start, then every quarter from 2010-04-01 to 2017-10-02
    ids = [next(str(i) for i, r in book_ws.instruments.table().set_index("instrument_id").iterrows()
                if (r["symbol"], r["source"]) == pair) for pair in TECH.items()]
    candles = book_ws.history.prices(ids)
    days = ["2010-01-04", *[d.strftime("%Y-%m-%d") for d in pd.date_range("2010-04-01", "2017-10-01", freq="QS")]]
    held = book_ws.accounts.holdings([account]).isel(portfolio=0)
    closes = held["close"].indexes["time"]
    for day in days:
        day = closes[closes.searchsorted(pd.Timestamp(day))].strftime("%Y-%m-%d")  # the first trading day
        window = candles.sel(time=slice((pd.Timestamp(day) - pd.Timedelta(days=ATR_DAYS)).strftime("%Y-%m-%d"), day))
        expected = atr_weights(complete_bars(window, 14), 14)  # Wilder's ATR 14 / the last close, normalised
        weights = {i.instrument_id: float(i.weight) for i in book_ws.allocations.get(model.id, as_of=day).items}
        assert np.allclose([weights[i] for i in ids], expected, atol=1e-4), day
        # after the day's bookings the mandate holds the ATR weights within the 2% drift band (and its cash)
        at = held.sel(time=day)
        actual = (at["value"] / at["nav"]).sel(instrument=ids).values
        assert np.abs(actual - expected).max() < 0.02 + float(at["cash"] / at["nav"]) + 1e-9, day


def test_every_order_carries_the_rules_stop_limit_and_analysis(book_ws: Workspace, book_path: Path) -> None:
    account = tech(book_ws)
    placed = orders_of(book_path, account)
    listed = book_ws.tactics.list([account])
    # the funding buy, 94 monthly savings, 28 rebalancings (3 quarters within the drift band) and the 2 closing sales
    assert len(placed) == listed["portfolio_order_id"].nunique() == 125 and len(listed) == 207
    assert placed["side"].value_counts().to_dict() == {"BUY": 95, "REBALANCE": 28, "SELL": 2}
    assert listed.groupby("portfolio_order_id").size().reindex(placed["id"]).tolist() == placed["children"].tolist()
    candles = book_ws.history.prices(list(listed["instrument_id"].unique()), end=TECH_END)
    for order_id, rows in listed.groupby("portfolio_order_id", sort=False):
        items = book_ws.tactics.analysis(order_id)
        assert len(items) == len(rows)
        day = rows["execution_date"].iloc[0]  # the candles known that day: rule 3's defaults, 1 x Wilder's ATR 40
        band = atr(candles.sel(time=slice(None, day)), 40).ffill("time").isel(time=-1)
        for row, item in zip(rows.itertuples(), items):
            sign = 1 if row.direction == "Long" else -1
            assert [r["rule_id"] for r in item["results"]] == list(TACTICAL_RULES)
            assert {r["validated"] for r in item["results"]} <= {"PASS", "FAIL"}
            assert item["order"]["stop"] == pytest.approx(row.stop, abs=1e-4)
            # rule 3: the stop one ATR below a buy's entry (above a sale's), the entry its fill price
            assert row.stop == pytest.approx(row.level - sign * float(band.sel(instrument=row.instrument_id)),
                                             abs=2e-4)
            rule5 = next(r for r in item["results"] if r["rule_id"] == 5)
            if np.isfinite(row.limit):  # rule 5: at the nearest resistance above a buy (support below a sale)
                assert sign * (row.limit - row.level) > 0
                assert item["order"]["limit"] == pytest.approx(row.limit, abs=1e-4)
            else:  # none in the lookback: the rule says so and passes (nothing to be close to)
                assert rule5["validated"] == "PASS" and item["order"]["limit"] is None
    assert listed["stop"].notna().all()
    assert listed["limit"].notna().mean() > 0.9


def test_the_mandate_ends_flat_with_its_cash_withdrawn_and_closed(book_ws: Workspace) -> None:
    account = tech(book_ws)
    closed = book_ws.accounts.get(account)
    assert closed.status == "CLOSED" and closed.cash == Decimal("0.00")
    assert book_ws.orders.positions(account) == {}
    ledger = book_ws.accounts.ledger(account)
    assert ledger["value_date"].max() == TECH_END
    assert ledger.iloc[-1]["kind"] == "WITHDRAWAL" and Decimal(ledger.iloc[-1]["amount"]) < -1_000_000
    held = book_ws.accounts.holdings([account]).isel(portfolio=0)
    after = held.sel(time=slice("2017-11-11", None))
    assert after.sizes["time"] > 1000  # the book runs on to the last close; this account holds nothing
    assert float(np.abs(after["positions"]).max()) == 0.0 and float(np.abs(after["value"]).max()) == 0.0
    assert float(held["nav"].sel(time=TECH_END)) == 0.0 and float(held["nav"].sel(time="2017-11-09")) > 1e6


def test_a_sale_of_the_whole_worth_sells_every_share(book_copy: Workspace) -> None:
    account = next(a.id for a in book_copy.accounts.list(type="PORTFOLIO") if a.name == "Growth mandate")
    day = "2022-12-28"
    held = book_copy.orders.positions(account)
    closes = book_copy.history.prices(list(held), start=day, end=day)["close"].isel(time=-1)
    units = np.array([int(q.scaleb(10)) for q in held.values()], dtype=np.int64)
    worth = Decimal(int(values_cents(units, closes.sel(instrument=list(held)).values).sum())).scaleb(-2)
    book_copy.accounts.deposit(account, {"amount": "20000000.00", "currency": "USD", "value_date": day})  # 90% rule
    sale = book_copy.orders.place(account, {"cash_amount": format(worth, "f"), "currency": "USD", "side": "SELL",
                                            "execution_date": day})
    assert Decimal(sale.cash_amount) == worth
    assert book_copy.orders.positions(account) == {}  # no dust of rounded-down quantities


def test_judging_refuses_twice_and_closes_only_writing_nothing(book_copy: Workspace) -> None:
    account = tech(book_copy)
    first = book_copy.tactics.list([account])["portfolio_order_id"].iloc[0]
    before = len(book_copy.tactics.list())
    with pytest.raises(ConflictError, match="judged already"):
        book_copy.tactics.judge(first)
    growth = next(a.id for a in book_copy.accounts.list(type="PORTFOLIO") if a.name == "Growth mandate")
    book_copy.accounts.deposit(growth, {"amount": "1000.00", "currency": "USD", "value_date": "2022-12-28"})
    order = book_copy.orders.smart(growth, {"cash_amount": "990.00", "currency": "USD", "side": "BUY",
                                            "execution_date": "2022-12-28"})
    with pytest.raises(DataError, match=r"_XNYS|_XNGS"):  # skfolio's closes: no highs and lows
        book_copy.tactics.judge(order.id)
    assert len(book_copy.tactics.list()) == before
