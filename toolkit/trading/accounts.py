"""Accounts, their cash ledger, and configurations (account → allocation): the seed's payloads.

Account request::  {"type": "PORTFOLIO", "currency": "USD", "name": "Jane Doe ISA"}   # name optional
Cash movement::    {"amount": "10000.00", "currency": "USD"}      # a decimal string, to the cent
Configuration::    {"account_id": "<uuid>", "allocation_id": "<uuid>"}

Amounts that are booked are exact: ``Decimal`` here, decimal strings in the database, cash to the
cent. A configuration links one PORTFOLIO account to one allocation; many accounts may share an
allocation, and switching it changes only the target (the trades wait for the next rebalancing).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal

from toolkit.errors import Problems
from toolkit.market.instruments import check_currency
from toolkit.validation import not_future, read_date, read_decimal
from toolkit.trading.allocations import _check_name

ACCOUNT_TYPES = ("PORTFOLIO", "TRADING")
#: the statuses a broker uses; only ACTIVE accounts trade
STATUSES = ("ACTIVE", "PENDING", "SUSPENDED", "BLOCKED", "CLOSED")
#: statuses an account never leaves: a closed account is not reopened (its history stays as it
#: was closed); a customer who comes back gets a new account
FINAL_STATUSES = ("CLOSED",)
CENT = Decimal("0.01")
#: the largest single cash movement accepted (a guard against typos and overflow)
MAX_AMOUNT = Decimal("1000000000000")


@dataclass(frozen=True)
class Account:
    id: str
    type: str
    status: str
    currency: str
    name: str | None
    created_at: str
    cash: Decimal = Decimal("0.00")

    def to_dict(self) -> dict:
        body = asdict(self)
        body["cash"] = format(self.cash, "f")
        return body


@dataclass(frozen=True)
class Configuration:
    id: str
    account_id: str
    allocation_id: str
    created_at: str
    updated_at: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class AccountRequest:
    type: str
    currency: str
    name: str | None
    status: str


def parse_account(payload: object) -> AccountRequest:
    problems = Problems()
    problems.require_object(payload, ("type", "currency", "name", "status"), "account")
    kind = payload.get("type")
    if kind not in ACCOUNT_TYPES:
        problems.add("type", f"{kind!r} is not one of {', '.join(ACCOUNT_TYPES)}")
    status = payload.get("status", "ACTIVE")
    if status not in STATUSES:
        problems.add("status", f"{status!r} is not one of {', '.join(STATUSES)}")
    currency = check_currency(payload.get("currency"), "currency", problems)
    name = _check_name(payload.get("name"), problems)
    problems.raise_if_any("account")
    return AccountRequest(kind, currency, name, status)


def parse_money(payload: object, what: str, currency: str) -> tuple[Decimal, str | None]:
    """Validate ``{"amount": "123.45", "currency": ..., "value_date": "2020-01-02"}``: a positive
    decimal string to the cent, in the account's currency, and an optional ISO value date, not
    later than today (UTC): cash is booked once it has moved, so a forward-dated movement waits
    for its day (a future value date would put cash in the books before any price can value it)."""
    problems = Problems()
    problems.require_object(payload, ("amount", "currency", "value_date"), what)
    amount = check_amount(payload.get("amount"), "amount", problems)
    code = check_currency(payload.get("currency"), "currency", problems)
    if code and code != currency:
        problems.add("currency", f"{code} is not the account's currency {currency}")
    value_date = payload.get("value_date")
    if value_date is not None:
        day = not_future(read_date(value_date, "value_date", problems), "value_date", problems)
        value_date = None if day is None else day.isoformat()
    problems.raise_if_any(what)
    return amount, value_date


def status_change(account_id: str, before: str, after: str) -> str | None:
    """Why ``account_id`` may not go from status ``before`` to ``after`` (None when it may)."""
    if before in FINAL_STATUSES and after != before:
        return (f"Account {account_id} is {before}; a {before} account never becomes {after} again. "
                "Open a new account instead.")
    return None


def iso_date(value: object, path: str, problems: Problems) -> str | None:
    """An ISO date field of a payload (:func:`toolkit.validation.read_date`), as its text."""
    day = read_date(value, path, problems)
    return None if day is None else day.isoformat()


def check_amount(value: object, path: str, problems: Problems) -> Decimal | None:
    """A positive amount given as a decimal string with at most two decimals."""
    amount = read_decimal(value, path, problems, "1000.00")
    if amount is None:
        return None
    if amount <= 0:
        problems.add(path, f"{value} is not a positive amount")
    elif amount > MAX_AMOUNT:
        problems.add(path, f"{value} is above the limit of {MAX_AMOUNT}")
    elif amount != amount.quantize(CENT):
        problems.add(path, f"{value} has fractions of a cent; amounts are booked to the cent")
    else:
        return amount.quantize(CENT)
    return None


