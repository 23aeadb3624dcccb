"""Portfolio orders: splits to the cent, states, fills at real closes, fees, idempotency, bad input."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from helpers import dump

from toolkit.errors import ConflictError, NotFoundError, ValidationError
from toolkit.trading.orders import FeeSchedule
from toolkit.workspace import Workspace

AAPL, MSFT, JPM = "US0378331005", "US5949181045", "US46625H1005"
#: the closes on 2022-12-28, read from the shipped file (skfolio's data), not from the workspace
CLOSE = pd.read_csv(Path(__file__).resolve().parents[1] / "data" / "sp500_stocks.csv",
                    index_col="time").loc["2022-12-28"]


def book(ws: Workspace, cash: str = "10000.00", weights=(("0.5", AAPL), ("0.3", MSFT), ("0.2", JPM))) -> str:
    allocation = ws.allocations.create({"allocation": [
        {"instrument_id": isin, "instrument_id_type": "ISIN", "weight": w} for w, isin in weights]})
    account = ws.accounts.create({"type": "PORTFOLIO", "currency": "USD"})
    ws.accounts.deposit(account.id, {"amount": cash, "currency": "USD"})
    ws.configurations.create({"account_id": account.id, "allocation_id": allocation.id})
    return account.id


def buy(amount: str, **extra) -> dict:
    return {"cash_amount": amount, "currency": "USD", "side": "BUY", **extra}


def test_buy_splits_by_target_weight_to_the_cent_and_fills_at_the_close(ws: Workspace) -> None:
    account = book(ws)
    order = ws.orders.place(account, buy("1000.01"))
    children = order.children
    assert list(children["symbol"]) == ["AAPL", "MSFT", "JPM"]
    # 1000.01 * (0.5, 0.3, 0.2) = 500.005, 300.003, 200.002: floors 500.00, 300.00, 200.00 and the
    # leftover cent to the largest remainder (AAPL's .5 cent)
    assert list(children["amount"]) == ["500.01", "300.00", "200.00"]
    assert sum(Decimal(a) for a in children["amount"]) == Decimal("1000.01")
    assert order.execution_date == "2022-12-28"
    assert list(children["price"]) == [CLOSE["AAPL"], CLOSE["MSFT"], CLOSE["JPM"]]
    assert all(len(q.split(".")[1]) == 10 for q in children["quantity"])
    assert order.state == "FILLED"
    assert list(order.transitions["to_state"]) == ["NEW", "PROCESSING", "FILLED"]
    assert ws.accounts.get(account).cash == Decimal("8999.99")
    held = ws.orders.positions(account)
    assert sum(Decimal(q) for q in children["quantity"]) == sum(held.values())


def test_quantity_is_the_amount_over_the_close_truncated(ws: Workspace) -> None:
    account = book(ws, weights=(("1", AAPL),))
    order = ws.orders.place(account, buy("500.01"))
    expected = (Decimal("500.01") / Decimal(str(CLOSE["AAPL"]))).quantize(Decimal("1e-10"), rounding="ROUND_DOWN")
    assert Decimal(order.children["quantity"][0]) == expected


def test_fees_and_minimum_order(ws: Workspace) -> None:
    account = book(ws, weights=(("0.995", AAPL), ("0.005", MSFT)))
    ws.orders.fees = FeeSchedule(bps=Decimal("10"), minimum=Decimal("1.00"), min_order=Decimal("10.00"))
    order = ws.orders.place(account, buy("1000.00"))
    # MSFT's 5.00 is below the 10.00 minimum order: not placed; AAPL pays max(1.00, 995.00 * 10 bps = 0.995 -> 1.00)
    assert list(order.children["symbol"]) == ["AAPL"]
    assert list(order.children["fee"]) == ["1.00"]
    assert ws.accounts.get(account).cash == Decimal("10000.00") - Decimal("995.00") - Decimal("1.00")


def test_sell_goes_by_current_weights_and_is_capped_at_90_percent_of_nav(ws: Workspace) -> None:
    account = book(ws, cash="10000.00")
    ws.orders.place(account, buy("10000.00"))
    before = dump(ws)
    with pytest.raises(ValidationError) as err:
        ws.orders.place(account, {"cash_amount": "9500.00", "currency": "USD", "side": "SELL"})
    assert err.value.paths == ["cash_amount"] and "90% of the NAV" in str(err.value)
    assert dump(ws) == before
    sell = ws.orders.place(account, {"cash_amount": "1000.00", "currency": "USD", "side": "SELL"})
    amounts = [Decimal(a) for a in sell.children["amount"]]
    assert sum(amounts) == Decimal("1000.00")
    assert [round(a / 1000, 2) for a in amounts] == [Decimal("0.50"), Decimal("0.30"), Decimal("0.20")]
    held = ws.orders.positions(account)
    assert all(q > 0 for q in held.values())
    assert ws.accounts.get(account).cash == Decimal("1000.00")


def test_idempotency_key_never_places_twice(ws: Workspace) -> None:
    account = book(ws)
    first = ws.orders.place(account, buy("100.00", idempotency_key="client-42"))
    again = ws.orders.place(account, buy("100.00", idempotency_key="client-42"))
    assert again.id == first.id
    assert ws.accounts.get(account).cash == Decimal("9900.00")
    with pytest.raises(ConflictError, match="different order"):
        ws.orders.place(account, buy("200.00", idempotency_key="client-42"))


def test_states_new_cancel_settle(ws: Workspace) -> None:
    account = book(ws)
    pending = ws.orders.place(account, buy("100.00"), execute=False)
    assert pending.id and pending.state == "NEW" and ws.accounts.get(account).cash == Decimal("10000.00")
    cancelled = ws.orders.cancel(pending.id)
    assert list(cancelled.transitions["to_state"]) == ["NEW", "CANCELLED"]
    with pytest.raises(ConflictError, match="cannot become PROCESSING"):
        ws.orders.execute(pending.id)
    filled = ws.orders.place(account, buy("100.00"))
    assert filled.id
    settled = ws.orders.settle(filled.id)
    assert list(settled.transitions["to_state"]) == ["NEW", "PROCESSING", "FILLED", "SETTLED"]
    with pytest.raises(ConflictError):
        ws.orders.cancel(filled.id)
    types = list(ws.events.list(resource_id=filled.id)["type"])
    assert types == ["PORTFOLIO_ORDER.NEW", "PORTFOLIO_ORDER.PROCESSING", "PORTFOLIO_ORDER.FILLED",
                     "PORTFOLIO_ORDER.SETTLED"]


BAD_ORDERS = {
    "malformed amount": (buy("1.000,00"), ["cash_amount"]),
    "fractions of a cent": (buy("10.005"), ["cash_amount"]),
    "negative amount": (buy("-10.00"), ["cash_amount"]),
    "wrong currency": ({"cash_amount": "10.00", "currency": "EUR", "side": "BUY"}, ["currency"]),
    "unknown side": ({"cash_amount": "10.00", "currency": "USD", "side": "HOLD"}, ["side"]),
    "bad execution date": (buy("10.00", execution_date="28/12/2022"), ["execution_date"]),
    "no price that day": (buy("10.00", execution_date="2022-12-25"), ["execution_date"]),
    "unknown field": (buy("10.00", limit_price="1"), ["limit_price"]),
    "bad idempotency key": (buy("10.00", idempotency_key=""), ["idempotency_key"]),
}


@pytest.mark.parametrize("payload, paths", BAD_ORDERS.values(), ids=BAD_ORDERS.keys())
def test_bad_order_is_refused_and_changes_nothing(ws: Workspace, payload: dict, paths: list[str]) -> None:
    account = book(ws)
    before = dump(ws)
    with pytest.raises(ValidationError) as err:
        ws.orders.place(account, payload)
    assert err.value.paths == paths
    assert dump(ws) == before


def test_orders_refused_by_the_account_state_change_nothing(ws: Workspace) -> None:
    account = book(ws, cash="100.00")
    trading = ws.accounts.create({"type": "TRADING", "currency": "USD"})
    unconfigured = ws.accounts.create({"type": "PORTFOLIO", "currency": "USD"})
    before = dump(ws)
    with pytest.raises(ConflictError, match="overdraw"):
        ws.orders.place(account, buy("100.01"))
    with pytest.raises(ConflictError, match="TRADING"):
        ws.orders.place(trading.id, buy("10.00"))
    with pytest.raises(ConflictError, match="no configuration"):
        ws.orders.place(unconfigured.id, buy("10.00"))
    with pytest.raises(ConflictError, match="nothing to sell"):
        ws.orders.place(account, {"cash_amount": "10.00", "currency": "USD", "side": "SELL"})
    with pytest.raises(NotFoundError):
        ws.orders.place("00000000-0000-0000-0000-000000000000", buy("10.00"))
    assert dump(ws) == before
    ws.accounts.set_status(account, "SUSPENDED")
    before = dump(ws)
    with pytest.raises(ConflictError, match="SUSPENDED"):
        ws.orders.place(account, buy("10.00"))
    assert dump(ws) == before


def test_smart_orders_only_buy_on_inflows_and_only_sell_on_outflows(ws: Workspace) -> None:
    """Held 1,000 in AAPL, target 50/50 AAPL/MSFT. An inflow of 500 is best spent on MSFT alone
    (value after 1,500: targets 750/750, MSFT is 750 under, AAPL 250 over; water-filling raises the
    most under-weight first and never sells). An outflow of 300 is raised from AAPL alone."""
    account = book(ws, weights=(("1", AAPL),))
    ws.orders.place(account, buy("1000.00"))
    allocation = ws.configurations.get(account).allocation_id
    ws.allocations.replace(allocation, {"allocation": [
        {"instrument_id": AAPL, "instrument_id_type": "ISIN", "weight": "0.5"},
        {"instrument_id": MSFT, "instrument_id_type": "ISIN", "weight": "0.5"}]})
    inflow = ws.orders.smart(account, buy("500.00"))
    assert [(c.symbol, c.side, c.amount) for c in inflow.children.itertuples()] == [("MSFT", "BUY", "500.00")]
    outflow = ws.orders.smart(account, {"cash_amount": "300.00", "currency": "USD", "side": "SELL"})
    assert [(c.symbol, c.side) for c in outflow.children.itertuples()] == [("AAPL", "SELL")]
    assert sum(Decimal(a) for a in outflow.children["amount"]) == Decimal("300.00")
    assert ws.accounts.get(account).cash == Decimal("10000.00") - 1000 - 500 + 300


def test_an_account_in_another_currency_cannot_buy_usd_stocks_unconverted(ws: Workspace) -> None:
    allocation = ws.allocations.create({"allocation": [{"instrument_id": AAPL, "instrument_id_type": "ISIN",
                                                        "weight": "1"}]})
    account = ws.accounts.create({"type": "PORTFOLIO", "currency": "EUR"}).id
    ws.accounts.deposit(account, {"amount": "1000.00", "currency": "EUR"})
    before = dump(ws)
    with pytest.raises(ValidationError, match=r"allocation_id: holds AAPL \(USD\), but account .* is in EUR"):
        ws.configurations.create({"account_id": account, "allocation_id": allocation.id})
    assert dump(ws) == before
    # a configuration written before that check existed: the order still refuses
    with ws.transaction():
        ws.db.conn.execute("INSERT INTO configurations (id, account_id, allocation_id, created_at, updated_at) "
                           "VALUES (?, ?, ?, '2022-01-01', '2022-01-01')", (str(uuid.uuid4()), account, allocation.id))
    before = dump(ws)
    with pytest.raises(ConflictError, match="AAPL trade in USD"):
        ws.orders.place(account, {"cash_amount": "100.00", "currency": "EUR", "side": "BUY"})
    with pytest.raises(ConflictError, match=r"1 account\(s\) target instruments in another currency"):
        ws.rebalancings.execute({"account_ids": [account]})
    assert dump(ws) == before


@pytest.mark.parametrize("payload, smart", [(buy("2500.00"), False), (buy("2500.00"), True),
                                            ({"cash_amount": "1500.00", "currency": "USD", "side": "SELL"}, False)])
def test_preview_is_the_order_that_would_be_placed_and_writes_nothing(ws: Workspace, payload: dict,
                                                                       smart: bool) -> None:
    account = book(ws)
    ws.orders.place(account, buy("4000.00"))
    ws.orders.fees = FeeSchedule(bps=Decimal("5"), minimum=Decimal("0.50"))
    before = dump(ws)
    preview = ws.orders.preview(account, payload, smart=smart)
    assert dump(ws) == before
    assert (preview.id, preview.state, len(preview.transitions)) == (None, "PREVIEW", 0)
    placed = ws.orders.smart(account, payload) if smart else ws.orders.place(account, payload)
    columns = ["instrument_id", "symbol", "side", "amount", "quantity", "price", "fee"]
    pd.testing.assert_frame_equal(preview.children[columns], placed.children[columns])
    assert (preview.side, preview.cash_amount, preview.execution_date) == (placed.side, placed.cash_amount,
                                                                           placed.execution_date)


def test_preview_refuses_what_place_refuses(ws: Workspace) -> None:
    account = book(ws, cash="100.00")
    before = dump(ws)
    with pytest.raises(ConflictError, match="would overdraw"):
        ws.orders.preview(account, buy("150.00"))
    with pytest.raises(ValidationError) as caught:
        ws.orders.preview(account, {"cash_amount": "1O0", "currency": "EUR", "side": "HOLD"})
    assert caught.value.paths == ["cash_amount", "currency", "side"]
    with pytest.raises(NotFoundError):
        ws.orders.preview("00000000-0000-0000-0000-000000000000", buy("1.00"))
    assert dump(ws) == before


def test_a_sell_above_the_holdings_value_is_refused_and_pays_nothing(ws: Workspace) -> None:
    """Issue 17: the 90% limit was checked against the NAV with its cash, and the quantities were then
    capped at what is held without recomputing the cents: 80,000.00 paid for 50,000 of shares."""
    account = book(ws, cash="100000.00", weights=(("0.6", AAPL), ("0.4", MSFT)))
    ws.orders.place(account, buy("50000.00"))
    before = dump(ws)
    sell = {"cash_amount": "80000.00", "currency": "USD", "side": "SELL"}
    for attempt in (lambda: ws.orders.place(account, sell), lambda: ws.orders.preview(account, sell)):
        with pytest.raises(ValidationError) as err:
            attempt()
        assert err.value.paths == ["cash_amount"] and "holdings" in str(err.value)
    assert dump(ws) == before
    assert ws.accounts.get(account).cash == Decimal("50000.00")


def test_a_sell_of_every_holding_pays_their_value_to_the_cent(ws: Workspace) -> None:
    """Selling the whole value of the holdings pays at most what the shares are worth at the close."""
    account = book(ws, cash="100000.00", weights=(("0.6", AAPL), ("0.4", MSFT)))
    bought = ws.orders.place(account, buy("50000.00")).children
    worth = sum(((Decimal(q) * Decimal(str(CLOSE[s]))).quantize(Decimal("0.01"), rounding="ROUND_DOWN")
                 for s, q in zip(bought["symbol"], bought["quantity"])), Decimal(0))
    sell = ws.orders.place(account, {"cash_amount": format(worth, "f"), "currency": "USD", "side": "SELL"})
    for child in sell.children.itertuples():
        value = Decimal(child.quantity) * Decimal(str(child.price))
        assert Decimal(child.amount) - value < Decimal("0.01")   # the cents are what the shares sold are worth
    assert ws.accounts.get(account).cash <= Decimal("100000.00")


def test_a_new_order_is_not_filled_behind_a_later_booking(ws: Workspace) -> None:
    """Issue 18 (no back-dating): a NEW order dated before a booking made after it was placed."""
    ws.clock = "2022-12-27"
    account = book(ws)  # its deposit is valued at the market clock
    pending = ws.orders.place(account, buy("100.00"), execute=False)
    early = ws.orders.place(account, buy("100.00"), execute=False)
    assert pending.id and early.id and early.execution_date == "2022-12-27"
    ws.orders.execute(pending.id)
    assert ws.orders.get(pending.id).state == "FILLED"  # on the day of the last booking: fine
    ws.clock = None
    ws.accounts.deposit(account, {"amount": "1.00", "currency": "USD"})  # valued 2022-12-28
    before = dump(ws)
    with pytest.raises(ConflictError, match="dated 2022-12-27, before account .* last booking on 2022-12-28"):
        ws.orders.execute(early.id)
    assert dump(ws) == before
    assert ws.orders.cancel(early.id).state == "CANCELLED"
