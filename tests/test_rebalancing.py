"""Rebalancing executions: trades from the engine, the seed's cancellation reasons, preview, drift."""

from __future__ import annotations

from decimal import Decimal
from typing import cast

import pandas as pd
import pytest
from helpers import dump

from toolkit.errors import ConflictError, NotFoundError, ValidationError
from toolkit.workspace import Workspace

AAPL, MSFT, JPM = "US0378331005", "US5949181045", "US46625H1005"


def allocation(ws: Workspace, *weights: tuple[str, str]) -> str:
    return ws.allocations.create({"allocation": [
        {"instrument_id": isin, "instrument_id_type": "ISIN", "weight": w} for w, isin in weights]}).id


def funded(ws: Workspace, allocation_id: str, cash: str = "10000.00", invest: str | None = "10000.00") -> str:
    account = ws.accounts.create({"type": "PORTFOLIO", "currency": "USD"}).id
    ws.accounts.deposit(account, {"amount": cash, "currency": "USD"})
    ws.configurations.create({"account_id": account, "allocation_id": allocation_id})
    if invest:
        ws.orders.place(account, {"cash_amount": invest, "currency": "USD", "side": "BUY"})
    return account


def weights(ws: Workspace, account: str) -> dict[str, float]:
    prices = cast(pd.Series, ws.history.prices(start="2022-12-28")["close"].isel(time=-1).to_pandas())  # 1-D
    held = ws.orders.positions(account)
    values = {iid: float(q) * prices[iid] for iid, q in held.items()}
    nav = sum(values.values()) + float(ws.accounts.get(account).cash)
    return {ws.instruments.get(iid).symbol: v / nav for iid, v in values.items()}


def test_switch_then_rebalance_trades_net_differences_sells_first(ws: Workspace) -> None:
    mix = allocation(ws, ("0.5", AAPL), ("0.3", MSFT), ("0.2", JPM))
    account = funded(ws, mix)
    ws.configurations.switch(account, allocation(ws, ("0.6", MSFT), ("0.4", JPM)))
    run = ws.rebalancings.execute({"account_ids": [account], "drift": {"threshold": "0.02", "type": "ABSOLUTE"}})
    (execution,) = run["executions"]
    assert execution["status"] == "EXECUTED" and execution["cancellation_reason"] is None
    sides = [(t["side"], ws.instruments.get(t["instrument_id"]).symbol) for t in execution["trades"]]
    assert sides[0] == ("SELL", "AAPL") and sorted(sides[1:]) == [("BUY", "JPM"), ("BUY", "MSFT")]
    after = weights(ws, account)
    assert "AAPL" not in after  # the whole position was sold
    assert after["MSFT"] == pytest.approx(0.6, abs=1e-4) and after["JPM"] == pytest.approx(0.4, abs=1e-4)
    assert ws.accounts.get(account).cash >= 0
    order = ws.orders.get(execution["portfolio_order_id"])
    assert order.side == "REBALANCE" and order.state == "FILLED"


def test_balanced_portfolios_and_every_cancellation_reason(ws: Workspace) -> None:
    mix = allocation(ws, ("0.5", AAPL), ("0.5", MSFT))
    balanced = funded(ws, mix)
    suspended = funded(ws, mix)
    ws.accounts.set_status(suspended, "SUSPENDED")
    trading = ws.accounts.create({"type": "TRADING", "currency": "USD"}).id
    unconfigured = ws.accounts.create({"type": "PORTFOLIO", "currency": "USD"}).id
    empty = funded(ws, mix, cash="1.00", invest=None)
    ws.accounts.withdraw(empty, {"amount": "1.00", "currency": "USD"})
    missing = "00000000-0000-0000-0000-000000000000"
    run = ws.rebalancings.execute({"account_ids": [balanced, suspended, trading, unconfigured, empty, missing],
                                   "drift": {"threshold": "0.01", "type": "RELATIVE"}})
    reasons = [e["cancellation_reason"] for e in run["executions"]]
    assert reasons == ["PORTFOLIO_IS_BALANCED", "INVALID_ACCOUNT_STATUS", "INVALID_ACCOUNT_TYPE",
                       "CONFIGURATION_IS_MISSING", "ACCOUNT_IS_EMPTY", "ACCOUNT_NOT_FOUND"]
    assert all(e["status"] == "CANCELLED" and e["trades"] == [] for e in run["executions"])


def test_preview_computes_trades_and_places_nothing(ws: Workspace) -> None:
    account = funded(ws, allocation(ws, ("1", AAPL)), invest="5000.00")
    before = (ws.orders.positions(account), ws.accounts.get(account).cash)
    run = ws.rebalancings.execute({"account_ids": [account], "preview": True})
    (execution,) = run["executions"]
    assert execution["status"] == "PREVIEW" and execution["portfolio_order_id"] is None
    assert [t["side"] for t in execution["trades"]] == ["BUY"]
    assert Decimal(execution["trades"][0]["amount"]) == Decimal("5000.00")  # the idle cash goes to AAPL
    assert (ws.orders.positions(account), ws.accounts.get(account).cash) == before


def test_by_allocation_rebalances_every_configured_account(ws: Workspace) -> None:
    mix = allocation(ws, ("0.5", AAPL), ("0.5", MSFT))
    accounts = [funded(ws, mix, cash=c, invest="100.00") for c in ("1000.00", "2000.00", "300.00")]
    other = funded(ws, allocation(ws, ("1", JPM)), invest="50.00")
    run = ws.rebalancings.execute({"allocation_ids": [mix]})
    assert sorted(e["account_id"] for e in run["executions"]) == sorted(accounts)
    for account in accounts:
        assert weights(ws, account) == pytest.approx({"AAPL": 0.5, "MSFT": 0.5}, abs=1e-3)
    assert ws.accounts.get(other).cash == Decimal("9950.00")  # an account of another allocation is untouched


BAD = {
    "neither list": ({"drift": {"threshold": "0.02"}}, ["accounts"]),  # the seed's list (brokerage line 191)
    "both lists": ({"account_ids": ["00000000-0000-0000-0000-000000000000"],
                    "allocation_ids": ["00000000-0000-0000-0000-000000000000"]}, ["account_ids"]),
    "not a UUID": ({"account_ids": ["acc-1"]}, ["account_ids[0]"]),
    "empty list": ({"account_ids": []}, ["account_ids"]),
    "drift above 1": ({"account_ids": ["00000000-0000-0000-0000-000000000000"],
                       "drift": {"threshold": "1.5", "type": "ABSOLUTE"}}, ["drift.threshold"]),
    "drift type": ({"account_ids": ["00000000-0000-0000-0000-000000000000"],
                    "drift": {"threshold": "0.1", "type": "PERCENT"}}, ["drift.type"]),
    "preview not a bool": ({"account_ids": ["00000000-0000-0000-0000-000000000000"], "preview": "yes"}, ["preview"]),
    "bad date": ({"account_ids": ["00000000-0000-0000-0000-000000000000"], "execution_date": "2022-02-30"},
                 ["execution_date"]),
}


@pytest.mark.parametrize("payload, paths", BAD.values(), ids=BAD.keys())
def test_bad_rebalancing_request_changes_nothing(ws: Workspace, payload: dict, paths: list[str]) -> None:
    before = dump(ws)
    with pytest.raises(ValidationError) as err:
        ws.rebalancings.execute(payload)
    assert err.value.paths == paths
    assert dump(ws) == before


def test_a_run_mixing_balanced_and_unbalanced_accounts_trades_the_unbalanced(ws: Workspace) -> None:
    mix = allocation(ws, ("0.5", AAPL), ("0.5", MSFT))
    invested, fresh = funded(ws, mix), funded(ws, mix, invest=None)
    run = ws.rebalancings.execute({"account_ids": [invested, fresh],
                                   "drift": {"threshold": "0.02", "type": "ABSOLUTE"}})
    assert [(e["status"], e["cancellation_reason"]) for e in run["executions"]] == [
        ("CANCELLED", "PORTFOLIO_IS_BALANCED"), ("EXECUTED", None)]
    assert ws.accounts.get(fresh).cash < Decimal("1.00")


def test_trades_all_below_the_minimum_order_place_no_empty_order(ws: Workspace) -> None:
    from toolkit.trading.orders import FeeSchedule

    ws.orders.fees = FeeSchedule(min_order=Decimal("25.00"))
    account = funded(ws, allocation(ws, ("0.5", AAPL), ("0.5", MSFT)), cash="100.00", invest="100.00")
    ws.accounts.deposit(account, {"amount": "10.00", "currency": "USD"})  # 5.00 per instrument: below 25.00
    (execution,) = ws.rebalancings.execute({"account_ids": [account]})["executions"]
    assert (execution["status"], execution["cancellation_reason"]) == ("CANCELLED", "PORTFOLIO_IS_BALANCED")
    assert execution["portfolio_order_id"] is None


def test_rebalancing_trades_pay_their_fees_and_never_overdraw(ws: Workspace) -> None:
    from toolkit.trading.orders import FeeSchedule

    account = funded(ws, allocation(ws, ("0.5", AAPL), ("0.3", MSFT), ("0.2", JPM)))
    ws.configurations.switch(account, allocation(ws, ("0.6", MSFT), ("0.4", JPM)))
    ws.orders.fees = FeeSchedule(bps=Decimal("10"), minimum=Decimal("1.00"))
    cash = ws.accounts.get(account).cash
    (execution,) = ws.rebalancings.execute({"account_ids": [account]})["executions"]
    children = ws.orders.get(execution["portfolio_order_id"]).children
    amounts, charged = children["amount"].map(Decimal), children["fee"].map(Decimal)
    # 10 bps of each trade, half-up to the cent, at least 1.00 (e.g. 10 bps of 5,000.00 is 5.00)
    expected = [max(Decimal("1.00"), (a * Decimal("0.001")).quantize(Decimal("0.01"), "ROUND_HALF_UP"))
                for a in amounts]
    assert charged.tolist() == expected and sum(expected) > Decimal("5.00")
    signed = sum(a if side == "SELL" else -a for a, side in zip(amounts, children["side"]))
    after = ws.accounts.get(account).cash
    assert after == cash + signed - sum(expected) and after >= 0
    ledger = ws.accounts.ledger(account)
    assert ledger["kind"].tolist()[-2:] == ["REBALANCE", "FEE"]
    assert Decimal(ledger["amount"].iloc[-1]) == -sum(expected)


def test_a_book_run_writes_each_order_like_a_single_order(ws: Workspace) -> None:
    mix = allocation(ws, ("0.4", AAPL), ("0.35", MSFT), ("0.25", JPM))
    book = [funded(ws, mix, cash=f"{1000 + 37 * n}.{n:02d}", invest=f"{500 + 11 * n}.00") for n in range(12)]
    ws.configurations.switch(book[0], allocation(ws, ("1", JPM)))
    before = {a: (ws.orders.positions(a), ws.accounts.get(a).cash) for a in book}
    first_event = int(ws.events.list()["id"].max())
    run = ws.rebalancings.execute({"account_ids": book})
    assert [e["status"] for e in run["executions"]] == ["EXECUTED"] * len(book)
    for execution in run["executions"]:
        account, order = execution["account_id"], ws.orders.get(execution["portfolio_order_id"])
        assert (order.account_id, order.side, order.state) == (account, "REBALANCE", "FILLED")
        steps = order.transitions
        assert list(zip(steps["from_state"].fillna("-"), steps["to_state"])) == [
            ("-", "NEW"), ("NEW", "PROCESSING"), ("PROCESSING", "FILLED")]
        kids = order.children
        assert [{"instrument_id": k.instrument_id, "side": k.side, "amount": k.amount, "quantity": k.quantity,
                 "price": k.price} for k in kids.itertuples()] == execution["trades"]
        assert Decimal(order.cash_amount) == sum(kids["amount"].map(Decimal))
        held, cash = before[account]
        for kid in kids.itertuples():  # the fills move the positions by exactly the child quantities
            held[kid.instrument_id] = held.get(kid.instrument_id, Decimal(0)) + (
                Decimal(kid.quantity) if kid.side == "BUY" else -Decimal(kid.quantity))
        assert ws.orders.positions(account) == {k: q for k, q in held.items() if q}
        moved = sum(Decimal(k.amount) * (1 if k.side == "SELL" else -1) for k in kids.itertuples())
        assert ws.accounts.get(account).cash == cash + moved >= 0
        booked = ws.accounts.ledger(account).iloc[-1]  # written in SQL from the order: its text, account, reference
        assert (booked["kind"], booked["amount"], booked["reference"]) == ("REBALANCE", f"{moved:.2f}", order.id)
    events = ws.events.list(after=first_event)
    assert len(events) == 3 * len(book)
    assert sorted(set(events["type"])) == ["PORTFOLIO_ORDER.FILLED", "PORTFOLIO_ORDER.NEW",
                                           "PORTFOLIO_ORDER.PROCESSING"]


def test_a_book_run_refuses_when_its_orders_cannot_get_consecutive_row_ids(ws: Workspace) -> None:
    """The events, bookings and executions of a run are written in SQL from its orders by ``rowid``;
    once SQLite hands out random row ids (the largest, 2**63 - 1, is taken) the run must stop, not
    write them for the wrong orders."""
    mix = allocation(ws, ("0.5", AAPL), ("0.5", MSFT))
    book = [funded(ws, mix, invest=None) for _ in range(3)]
    with ws.transaction():
        ws.db.conn.execute("INSERT INTO portfolio_orders (rowid, id, account_id, side, cash_amount, currency, state, "
                           "execution_date, created_at) VALUES (9223372036854775807, 'last', ?, 'BUY', '0.00', "
                           "'USD', 'CANCELLED', '2022-12-28', 'x')", (book[0],))
    before = dump(ws)
    with pytest.raises(ConflictError, match="did not get consecutive row ids"):
        ws.rebalancings.execute({"account_ids": book})
    assert dump(ws) == before


def test_an_allocation_cannot_move_its_accounts_into_another_currency(ws: Workspace) -> None:
    sap_isin = "DE0007164600"  # SAP on Xetra, in EUR, uploaded for the demo's last week (the risk platform's upload)
    days = ("2022-12-22", "2022-12-23", "2022-12-27", "2022-12-28")
    ws.history.upload({"instrument": {"instrument_code": "SAP_XETR", "currency": "EUR", "name": "SAP SE",
                                      "identifiers": {"symbol": "SAP", "isin": sap_isin},
                                      "exchange": {"mic_code": "XETR"}},
                       "timeframe_id": 1,
                       "history": [{"datetime": day, "open": 100.0, "high": 101.0, "low": 99.0, "close": 100.5,
                                    "volume": 1000} for day in days]})
    sap = ws.instruments.resolve([sap_isin])[0]
    mix = allocation(ws, ("1", AAPL))
    funded(ws, mix, invest=None)
    before = dump(ws)
    with pytest.raises(ConflictError, match=r"configured for USD accounts; the new version holds SAP \(EUR\)"):
        ws.allocations.replace(mix, {"allocation": [
            {"instrument_id": AAPL, "instrument_id_type": "ISIN", "weight": "0.5"},
            {"instrument_id": sap, "instrument_id_type": "UPVEST", "weight": "0.5"}]})
    assert dump(ws) == before


def test_a_past_run_reads_back_as_it_was_answered(ws: Workspace) -> None:
    """EXECUTED trades come back from the orders' child orders (no copy is kept on the execution),
    previews and cancellations from the run itself."""
    mix = allocation(ws, ("0.5", AAPL), ("0.3", MSFT), ("0.2", JPM))
    moved, also_moved, balanced = funded(ws, mix), funded(ws, mix), funded(ws, mix)
    target = allocation(ws, ("0.6", MSFT), ("0.4", JPM))
    ws.configurations.switch(moved, target)
    ws.configurations.switch(also_moved, target)
    preview = ws.rebalancings.execute({"account_ids": [moved], "preview": True})
    run = ws.rebalancings.execute({"account_ids": [moved, balanced, also_moved, "00000000-0000-0000-0000-000000000000"],
                                   "drift": {"threshold": "0.02", "type": "ABSOLUTE"}})
    assert [e["status"] for e in run["executions"]] == ["EXECUTED", "CANCELLED", "EXECUTED", "CANCELLED"]
    assert ws.rebalancings.get(run["id"]) == run
    assert ws.rebalancings.get(preview["id"]) == preview
    assert preview["executions"][0]["trades"] == run["executions"][0]["trades"]
    stored = ws.db.conn.execute("SELECT status, trades IS NULL FROM rebalancing_executions "
                                "WHERE rebalancing_id = ? ORDER BY id", (run["id"],)).fetchall()
    assert stored == [("EXECUTED", 1), ("CANCELLED", 0), ("EXECUTED", 1), ("CANCELLED", 0)]


def test_an_unknown_run_is_not_found(ws: Workspace) -> None:
    with pytest.raises(NotFoundError, match="No rebalancing with id 'nope'"):
        ws.rebalancings.get("nope")


def test_the_answer_s_executions_are_built_when_read_and_behave_as_a_list() -> None:
    """``Executions``: items in request order, built from the trade table on access; indexing,
    negative indexes, slices, iteration and equality as the list of dicts; the store's rows carry
    trades only for executions that are not EXECUTED."""
    import numpy as np

    from toolkit.trading.rebalancing import Executions

    table = {"owner": np.array([0, 0, 1]), "position": np.array([0, 1, 0]), "instrument": np.array([1, 0, 0]),
             "sell": np.array([True, False, False]), "cents": np.array([1250, 99, 1]),
             "qty": np.array([25_000_000_000, 1, 10]), "fee": np.array([0, 0, 0])}
    answer = Executions(["a", "b", "c"], [None, "ACCOUNT_IS_EMPTY", None], "EXECUTED", np.array([0, 2]), table,
                        ["I0", "I1"], np.array([10.0, 0.5]), ["o-a", "o-c"])
    first = {"account_id": "a", "status": "EXECUTED", "cancellation_reason": None, "portfolio_order_id": "o-a",
             "trades": [{"instrument_id": "I1", "side": "SELL", "amount": "12.50", "quantity": "2.5000000000",
                         "price": 0.5},
                        {"instrument_id": "I0", "side": "BUY", "amount": "0.99", "quantity": "0.0000000001",
                         "price": 10.0}]}
    second: dict[str, object] = {"account_id": "b", "status": "CANCELLED",
                                 "cancellation_reason": "ACCOUNT_IS_EMPTY", "portfolio_order_id": None, "trades": []}
    third = {"account_id": "c", "status": "EXECUTED", "cancellation_reason": None, "portfolio_order_id": "o-c",
             "trades": [{"instrument_id": "I0", "side": "BUY", "amount": "0.01", "quantity": "0.0000000010",
                         "price": 10.0}]}
    assert len(answer) == 3 and answer[0] == first and answer[-1] == third and answer[1:] == [second, third]
    assert list(answer) == [first, second, third] and answer == [first, second, third]
    assert answer != [first, second] and answer != [first, third, second]
    with pytest.raises(IndexError):
        answer[3]
    with pytest.raises(IndexError):
        answer[-4]
    assert [row[-1] for row in answer.rows(["e1", "e2", "e3"])] == [None, [], None]
    assert [row[:2] for row in answer.rows(["e1", "e2", "e3"], placed=False)] == [("e2", "b")]
    assert answer.placed.tolist() == [0, 2]
    assert repr(answer).startswith("[{'account_id': 'a'")
