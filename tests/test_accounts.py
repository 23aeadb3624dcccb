"""Accounts, cash ledger and configurations: happy paths, unhappy paths, nothing half-written."""

from __future__ import annotations

from decimal import Decimal

import pytest
from helpers import dump

from toolkit.errors import ConflictError, NotFoundError, ValidationError
from toolkit.workspace import Workspace

USD = {"type": "PORTFOLIO", "currency": "USD", "name": "Jane Doe ISA"}


def allocation(ws: Workspace, isin: str = "US0378331005") -> str:
    body = {"allocation": [{"instrument_id": isin, "instrument_id_type": "ISIN", "weight": "1"}]}
    return ws.allocations.create(body).id


def test_account_with_deposits_and_withdrawals_to_the_cent(ws: Workspace) -> None:
    account = ws.accounts.create(USD)
    assert account.to_dict()["cash"] == "0.00" and account.status == "ACTIVE"
    ws.accounts.deposit(account.id, {"amount": "10000.00", "currency": "USD"})
    ws.accounts.deposit(account.id, {"amount": "0.10", "currency": "USD"})
    after = ws.accounts.withdraw(account.id, {"amount": "0.20", "currency": "USD"})
    assert after.cash == Decimal("9999.90")
    assert list(ws.accounts.ledger(account.id)["amount"]) == ["10000.00", "0.10", "-0.20"]
    types = list(ws.events.list(resource_id=account.id)["type"])
    assert types == ["ACCOUNT.CREATED", "ACCOUNT.DEPOSIT_BOOKED", "ACCOUNT.DEPOSIT_BOOKED",
                     "ACCOUNT.WITHDRAWAL_BOOKED"]


BAD_ACCOUNTS = {
    "unknown type": ({"type": "SAVINGS", "currency": "USD"}, ["type"]),
    "unknown currency": ({"type": "PORTFOLIO", "currency": "USX"}, ["currency"]),
    "unknown status": ({"type": "PORTFOLIO", "currency": "USD", "status": "OPEN"}, ["status"]),
    "injection in the name": ({"type": "PORTFOLIO", "currency": "USD", "name": "a'; DELETE FROM accounts;--"},
                              ["name"]),
    "unknown field": ({"type": "PORTFOLIO", "currency": "USD", "iban": "x"}, ["iban"]),
    "all at once": ({"type": None, "currency": 840, "name": ""}, ["type", "currency", "name"]),
}


@pytest.mark.parametrize("payload, paths", BAD_ACCOUNTS.values(), ids=BAD_ACCOUNTS.keys())
def test_bad_account_is_refused(ws: Workspace, payload: dict, paths: list[str]) -> None:
    before = dump(ws)
    with pytest.raises(ValidationError) as err:
        ws.accounts.create(payload)
    assert sorted(err.value.paths) == sorted(paths)
    assert dump(ws) == before


BAD_MONEY = {
    "malformed amount": ({"amount": "1,000.00", "currency": "USD"}, ["amount"]),
    "amount as a number": ({"amount": 1000, "currency": "USD"}, ["amount"]),
    "fractions of a cent": ({"amount": "10.001", "currency": "USD"}, ["amount"]),
    "negative amount": ({"amount": "-5.00", "currency": "USD"}, ["amount"]),
    "zero amount": ({"amount": "0", "currency": "USD"}, ["amount"]),
    "not a number": ({"amount": "NaN", "currency": "USD"}, ["amount"]),
    "huge amount": ({"amount": "1e30", "currency": "USD"}, ["amount"]),
    "wrong currency": ({"amount": "10.00", "currency": "EUR"}, ["currency"]),
    "currency in lower case": ({"amount": "10.00", "currency": "usd"}, ["currency"]),
    "both wrong": ({"amount": "ten", "currency": "EURO"}, ["amount", "currency"]),
}


@pytest.mark.parametrize("payload, paths", BAD_MONEY.values(), ids=BAD_MONEY.keys())
def test_bad_cash_movement_is_refused(ws: Workspace, payload: dict, paths: list[str]) -> None:
    account = ws.accounts.create(USD)
    ws.accounts.deposit(account.id, {"amount": "100.00", "currency": "USD"})
    before = dump(ws)
    for move in (ws.accounts.deposit, ws.accounts.withdraw):
        with pytest.raises(ValidationError) as err:
            move(account.id, payload)
        assert err.value.paths == paths
    assert dump(ws) == before


def test_no_overdraft_and_no_cash_on_inactive_accounts(ws: Workspace) -> None:
    account = ws.accounts.create(USD)
    ws.accounts.deposit(account.id, {"amount": "100.00", "currency": "USD"})
    before = dump(ws)
    with pytest.raises(ConflictError, match="overdraw"):
        ws.accounts.withdraw(account.id, {"amount": "100.01", "currency": "USD"})
    assert dump(ws) == before
    ws.accounts.set_status(account.id, "SUSPENDED")
    before = dump(ws)
    with pytest.raises(ConflictError, match="SUSPENDED"):
        ws.accounts.deposit(account.id, {"amount": "1.00", "currency": "USD"})
    assert dump(ws) == before
    with pytest.raises(ValidationError):
        ws.accounts.set_status(account.id, "FROZEN")
    with pytest.raises(NotFoundError):
        ws.accounts.deposit("00000000-0000-0000-0000-000000000000", {"amount": "1.00", "currency": "USD"})
    assert dump(ws) == before


def test_configuration_links_a_portfolio_account_and_switches_only_the_target(ws: Workspace) -> None:
    first, second = allocation(ws), allocation(ws, "US5949181045")
    accounts = [ws.accounts.create(USD) for _ in range(3)]
    for account in accounts:  # many accounts may share one allocation
        ws.configurations.create({"account_id": account.id, "allocation_id": first})
    switched = ws.configurations.switch(accounts[0].id, second)
    assert switched.allocation_id == second and switched.updated_at > switched.created_at
    assert ws.configurations.get(accounts[1].id).allocation_id == first
    assert ws.accounts.ledger(accounts[0].id).empty  # no trades until the next rebalancing
    types = list(ws.events.list()["type"])
    assert types.count("CONFIGURATION.CREATED") == 3 and types.count("CONFIGURATION.UPDATED") == 1


def test_bad_configurations_are_refused(ws: Workspace) -> None:
    alloc = allocation(ws)
    portfolio = ws.accounts.create(USD)
    trading = ws.accounts.create({"type": "TRADING", "currency": "USD"})
    ws.configurations.create({"account_id": portfolio.id, "allocation_id": alloc})
    before = dump(ws)
    unknown = "00000000-0000-0000-0000-000000000000"
    cases = [({"account_id": trading.id, "allocation_id": alloc}, ["account_id"], "PORTFOLIO accounts"),
             ({"account_id": unknown, "allocation_id": alloc}, ["account_id"], "no account"),
             ({"account_id": portfolio.id, "allocation_id": unknown}, ["allocation_id"], "no allocation"),
             ({"account_id": "x", "allocation_id": 3}, ["account_id", "allocation_id"], "not a UUID"),
             ({"account_id": portfolio.id}, ["allocation_id"], "allocation_id: is required")]
    for payload, paths, fragment in cases:
        with pytest.raises(ValidationError) as err:
            ws.configurations.create(payload)
        assert err.value.paths == paths and fragment in str(err.value)
    with pytest.raises(ConflictError, match="already has a configuration"):
        ws.configurations.create({"account_id": portfolio.id, "allocation_id": alloc})
    with pytest.raises(NotFoundError, match="no configuration to switch"):
        other = ws.accounts.create(USD)
        before = dump(ws)
        ws.configurations.switch(other.id, alloc)
    assert dump(ws) == before


def test_list_accounts_with_filters_and_balances(ws: Workspace) -> None:
    first = ws.accounts.create(USD).id
    ws.accounts.deposit(first, {"amount": "100.10", "currency": "USD"})
    ws.accounts.deposit(first, {"amount": "0.20", "currency": "USD"})
    trading = ws.accounts.create({"type": "TRADING", "currency": "USD"}).id
    closed = ws.accounts.create(USD).id
    ws.accounts.set_status(closed, "CLOSED")
    listed = ws.accounts.list()
    assert [a.id for a in listed] == [first, trading, closed]
    assert listed[0].cash == Decimal("100.30") and listed[1].cash == Decimal("0.00")
    assert [a.id for a in ws.accounts.list(type="PORTFOLIO", status="ACTIVE")] == [first]
    assert [a.id for a in ws.accounts.list(limit=2)] == [first, trading]


@pytest.mark.parametrize("kw, paths", [({"type": "SAVINGS"}, ["type"]), ({"status": "active"}, ["status"]),
                                       ({"limit": 0}, ["limit"]), ({"limit": 1001}, ["limit"]),
                                       ({"limit": "10"}, ["limit"]),
                                       ({"type": "x", "status": "y", "limit": True}, ["type", "status", "limit"])])
def test_bad_account_list_filters_are_named(ws: Workspace, kw: dict, paths: list[str]) -> None:
    with pytest.raises(ValidationError) as caught:
        ws.accounts.list(**kw)
    assert caught.value.paths == paths
