"""Accounts, their cash ledger, and configurations (account → allocation): the domain objects; the
requests are read by :mod:`toolkit.contracts.brokerage` (``AccountOpening``, ``CashMovement``,
``PortfolioConfigurationRequest``/``Update``), ``ACCOUNT_TYPES``, ``STATUSES`` and ``CENT`` come from there.

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

from toolkit.contracts.brokerage import ACCOUNT_TYPES, CENT, STATUSES, PortfolioConfigurationResponse  # noqa: F401
from toolkit.errors import Problems
from toolkit.validation import read_date

#: statuses an account never leaves: a closed account is not reopened (its history stays as it
#: was closed); a customer who comes back gets a new account
FINAL_STATUSES = ("CLOSED",)


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

    @property
    def configuration_id(self) -> str:
        return self.id

    def to_dict(self) -> dict:
        """The seed's answer (brokerage document, line 66: "the response returns the account_id"):
        :class:`~toolkit.contracts.brokerage.PortfolioConfigurationResponse`."""
        return PortfolioConfigurationResponse(account_id=self.account_id, allocation_id=self.allocation_id,
                                              configuration_id=self.id, created_at=self.created_at,
                                              updated_at=self.updated_at).to_dict()


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
