"""Holdings over time derived from the ledger: positions, cash, value and NAV as xarray."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from toolkit.errors import NotFoundError, ValidationError
from toolkit.workspace import Workspace

AAPL, MSFT = "US0378331005", "US5949181045"


@pytest.fixture
def book(ws: Workspace) -> tuple[Workspace, list[str]]:
    allocation = ws.allocations.create({"allocation": [
        {"instrument_id": AAPL, "instrument_id_type": "ISIN", "weight": "0.5"},
        {"instrument_id": MSFT, "instrument_id_type": "ISIN", "weight": "0.5"}]})
    accounts = []
    for cash in ("1000.00", "5000.00"):
        account = ws.accounts.create({"type": "PORTFOLIO", "currency": "USD"}).id
        ws.accounts.deposit(account, {"amount": cash, "currency": "USD", "value_date": "2022-01-01"})
        ws.configurations.create({"account_id": account, "allocation_id": allocation.id})
        ws.orders.place(account, {"cash_amount": "500.00", "currency": "USD", "side": "BUY",
                                  "execution_date": "2022-01-04"})
        accounts.append(account)
    ws.orders.place(accounts[1], {"cash_amount": "1000.00", "currency": "USD", "side": "BUY",
                                  "execution_date": "2022-06-01"})
    return ws, accounts


def test_positions_and_cash_follow_the_ledger(book) -> None:
    ws, accounts = book
    cube = ws.accounts.holdings(start="2022-01-03", end="2022-12-28")
    assert cube["positions"].dims == ("portfolio", "instrument", "time")
    assert sorted(cube["symbol"].values) == ["AAPL", "MSFT"]
    first = cube.sel(time="2022-01-03")  # the deposit (a Saturday's value date) counts from the next trading day
    assert list(first["cash"].values) == [1000.0, 5000.0] and float(first["positions"].sum()) == 0.0
    for account in accounts:  # the last day holds exactly what the fills add up to
        held = ws.orders.positions(account)
        last = cube["positions"].sel(portfolio=account).isel(time=-1)
        for iid, qty in held.items():
            assert last.sel(instrument=iid).item() == pytest.approx(float(qty), abs=1e-12)
        assert cube["cash"].sel(portfolio=account).isel(time=-1).item() == float(ws.accounts.get(account).cash)
    june = cube["positions"].sel(portfolio=accounts[1])
    assert (june.sel(time="2022-06-01") > june.sel(time="2022-05-31")).all()


def test_nav_is_value_plus_cash_at_the_real_closes(book) -> None:
    ws, accounts = book
    cube = ws.accounts.holdings(accounts[:1])
    closes = ws.history.prices([AAPL, MSFT], start="2022-01-04")["close"]
    day = "2022-03-01"
    qty = cube["positions"].sel(time=day)
    expected = float((qty * closes.sel(time=day)).sum()) + float(cube["cash"].sel(time=day).item())
    assert cube["nav"].sel(time=day).item() == pytest.approx(expected)
    # no fees: buying at the close leaves the NAV unchanged on the day of the order (to a cent)
    assert cube["nav"].sel(time="2022-01-04").item() == pytest.approx(1000.0, abs=0.01)
    assert np.isfinite(cube["nav"].values).all()


def test_accounts_without_holdings_and_bad_value_dates(ws: Workspace) -> None:
    account = ws.accounts.create({"type": "PORTFOLIO", "currency": "USD"}).id
    with pytest.raises(ValidationError) as err:
        ws.accounts.deposit(account, {"amount": "1.00", "currency": "USD", "value_date": "2022-02-30"})
    assert err.value.paths == ["value_date"]
    ws.accounts.deposit(account, {"amount": "1.00", "currency": "USD"})
    with pytest.raises(NotFoundError, match="hold no instruments"):
        ws.accounts.holdings([account])
    assert Decimal(ws.accounts.ledger(account)["amount"][0]) == Decimal("1.00")


def test_external_flows_per_day_exclude_trades_and_fees(book) -> None:
    ws, accounts = book
    ws.accounts.deposit(accounts[0], {"amount": "250.00", "currency": "USD", "value_date": "2022-03-05"})  # Saturday
    ws.accounts.withdraw(accounts[0], {"amount": "100.25", "currency": "USD", "value_date": "2022-03-07"})
    # (not back-dated: account 1 traded on 2022-06-01, and a value date before its last trade is refused)
    ws.accounts.deposit(accounts[1], {"amount": "10.00", "currency": "USD", "value_date": "2022-06-02"})
    cube = ws.accounts.holdings(start="2022-01-03", end="2022-12-28")
    flows = cube["flows"].to_pandas().T
    # the January deposits (dated before the first day) count on the first day; the Saturday deposit on Monday
    assert flows.loc["2022-01-03"].tolist() == [1000.0, 5000.0]
    assert flows.loc["2022-03-07"].tolist() == [250.0 - 100.25, 0.0]
    assert flows.loc["2022-06-02"].tolist() == [0.0, 10.0]
    assert float(flows.to_numpy().sum()) == pytest.approx(1000 + 5000 + 250 - 100.25 + 10)  # no BUY, no FEE


def test_reading_holdings_leaves_no_transaction_open_so_the_next_write_is_saved(book_copy: Workspace) -> None:
    # the book's temporary id table is written on every read; Python's sqlite3 wraps such a write
    # in an implicit transaction, which a later ws.transaction() would join and never commit
    import sqlite3

    account = book_copy.accounts.list(type="PORTFOLIO")[0].id
    book_copy.accounts.holdings([account])
    assert not book_copy.db.conn.in_transaction
    book_copy.accounts.deposit(account, {"amount": "10.00", "currency": "USD"})
    with sqlite3.connect(book_copy.path) as other:  # another kernel sees it at once
        (count,) = other.execute("SELECT count(*) FROM cash_ledger WHERE account_id = ? AND amount = '10.00'",
                                 (account,)).fetchone()
    assert count >= 1


def test_holdings_up_to_a_day_before_the_first_booking_hold_nothing(book) -> None:
    """An end before the first booking is an empty window, not a 'start after end' error (attribution over a
    year before a portfolio held anything reports that, naming the day)."""
    ws, accounts = book
    cube = ws.accounts.holdings(accounts, end="2021-12-30")
    assert float(abs(cube["positions"]).sum()) == 0.0 and float(abs(cube["cash"]).sum()) == 0.0


@pytest.mark.parametrize(("start", "end", "path"), [(None, "garbage", "end"), (None, "March 31 2021", "end"),
                                                     (None, "20210331", "end"), ("31/03/2021", None, "start")])
def test_a_window_that_is_no_iso_date_is_refused_by_name(book, start, end, path) -> None:
    """Found while checking the strict readers: an ``end`` that was no date reached ``pd.Timestamp`` before
    any check, so "garbage" raised pandas' DateParseError and "March 31 2021" was read as a date."""
    ws, accounts = book
    with pytest.raises(ValidationError) as refused:
        ws.accounts.holdings(accounts, start=start, end=end)
    assert refused.value.paths == [path]


def test_back_dating_is_refused_naming_the_date_and_the_last_booking(book) -> None:
    """Issue 18: an order, a rebalancing or a cash movement dated before the account's books as they
    stand is refused, and nothing is written."""
    from helpers import dump

    ws, accounts = book  # account 1: deposit 2022-01-01, buys 2022-01-04 and 2022-06-01
    before = dump(ws)
    buy = {"cash_amount": "100.00", "currency": "USD", "side": "BUY", "execution_date": "2022-05-31"}
    for attempt in (lambda: ws.orders.place(accounts[1], buy), lambda: ws.orders.preview(accounts[1], buy),
                    lambda: ws.orders.smart(accounts[1], buy)):
        with pytest.raises(ValidationError, match="2022-05-31 is before .* last booking on 2022-06-01") as err:
            attempt()
        assert err.value.paths == ["execution_date"]
    for payload in ({"account_ids": accounts, "execution_date": "2022-03-01"},
                    {"account_ids": accounts, "execution_date": "2022-03-01", "preview": True}):
        with pytest.raises(ValidationError, match="before the last booking of 1 account.*latest on 2022-06-01") as err:
            ws.rebalancings.execute(payload)
        assert err.value.paths == ["execution_date"]
    for move in (ws.accounts.deposit, ws.accounts.withdraw):
        with pytest.raises(ValidationError, match="2022-05-31 is before the account's last trade on 2022-06-01") as err:
            move(accounts[1], {"amount": "1.00", "currency": "USD", "value_date": "2022-05-31"})
        assert err.value.paths == ["value_date"]
    assert dump(ws) == before
    # on the day of the last booking or later, all of it is accepted
    ws.accounts.deposit(accounts[1], {"amount": "1.00", "currency": "USD", "value_date": "2022-06-01"})
    ws.orders.place(accounts[1], {**buy, "execution_date": "2022-06-01"})
    # its trade: Jan
    ws.accounts.deposit(accounts[0], {"amount": "1.00", "currency": "USD", "value_date": "2022-03-01"})
    assert ws.rebalancings.execute({"account_ids": accounts, "execution_date": "2022-06-02"})["executions"]


def test_the_readme_trading_flow_follows_the_market_clock(ws: Workspace) -> None:
    """Issue 18: the README's snippet deposited at today's date while the prices end on 2022-12-28,
    so the new account showed cash -10,000 and a NAV of about 0. Dates without a value follow the
    market clock, by default the latest close; audit stamps stay on the wall clock."""
    from toolkit.validation import today

    assert ws.clock == "2022-12-28"
    alloc = ws.allocations.create({"name": "Core", "allocation": [
        {"instrument_id": AAPL, "instrument_id_type": "ISIN", "weight": "0.6"},
        {"instrument_id": MSFT, "instrument_id_type": "ISIN", "weight": "0.4"}]})
    assert alloc.valid_from.startswith("2022-12-28T") and alloc.created_at.startswith(today().isoformat())
    acct = ws.accounts.create({"type": "PORTFOLIO", "currency": "USD"})
    ws.accounts.deposit(acct.id, {"amount": "10000.00", "currency": "USD"})
    ws.configurations.create({"account_id": acct.id, "allocation_id": alloc.id})
    order = ws.orders.place(acct.id, {"cash_amount": "5000.00", "currency": "USD", "side": "BUY",
                                      "idempotency_key": "first"})
    assert order.execution_date == "2022-12-28" and order.created_at.startswith(today().isoformat())
    run = ws.rebalancings.execute({"account_ids": [acct.id], "drift": {"threshold": "0.02", "type": "ABSOLUTE"}})
    assert run["executions"][0]["status"] == "EXECUTED"
    ledger = ws.accounts.ledger(acct.id)
    assert set(ledger["value_date"]) == {"2022-12-28"}
    assert all(b.startswith(today().isoformat()) for b in ledger["booked_at"])
    cube = ws.accounts.holdings([acct.id])
    last = cube.isel(time=-1).sel(portfolio=acct.id)
    assert str(last["time"].values)[:10] == "2022-12-28"
    assert 0 <= float(last["cash"]) < 10_000 and float(last["nav"]) == pytest.approx(10_000, abs=0.01)


def test_the_clock_can_be_set_and_reset(ws: Workspace) -> None:
    import datetime as dt

    allocation = ws.allocations.create({"allocation": [
        {"instrument_id": AAPL, "instrument_id_type": "ISIN", "weight": "1"}]})
    ws.clock = dt.date(2022, 6, 1)
    assert ws.clock == "2022-06-01"
    account = ws.accounts.create({"type": "PORTFOLIO", "currency": "USD"}).id
    ws.configurations.create({"account_id": account, "allocation_id": allocation.id})
    ws.accounts.deposit(account, {"amount": "1000.00", "currency": "USD"})
    order = ws.orders.place(account, {"cash_amount": "500.00", "currency": "USD", "side": "BUY"})
    assert order.execution_date == "2022-06-01"
    assert order.children["price"].iloc[0] == pytest.approx(
        ws.history.prices([AAPL], start="2022-06-01", end="2022-06-01")["close"].item())
    replaced = ws.allocations.replace(allocation.id, {"allocation": [
        {"instrument_id": MSFT, "instrument_id_type": "ISIN", "weight": "1"}]})
    assert replaced.valid_from.startswith("2022-06-01T")
    assert ws.allocations.get(allocation.id, as_of="2022-06-01").version == 2
    assert ws.allocations.get(allocation.id, as_of="2022-12-28").version == 2
    ws.clock = "2022-06-04"  # a Saturday: nothing closes, and the order says so
    with pytest.raises(ValidationError, match="no close on 2022-06-04") as err:
        ws.orders.place(account, {"cash_amount": "100.00", "currency": "USD", "side": "BUY"})
    assert err.value.paths == ["execution_date"]
    ws.clock = None
    assert ws.clock == "2022-12-28"
    assert ws.rebalancings.execute({"account_ids": [account]})["executions"][0]["status"] == "EXECUTED"
    for bad in ("2022/06/01", 20220601, dt.datetime(2022, 6, 1), "2999-01-01"):
        with pytest.raises(ValidationError) as err:
            ws.clock = bad
        assert err.value.paths == ["clock"]
    assert ws.clock == "2022-12-28"
