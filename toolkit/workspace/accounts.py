from __future__ import annotations

import builtins
import uuid
from collections.abc import Sequence

import pandas as pd
import xarray as xr

from toolkit.contracts.brokerage import AccountOpening, CashMovement, parse
from toolkit.errors import (
    ConflictError,
    NotFoundError,
    Problem,
    Problems,
    ValidationError,
)
from toolkit.market.history import read_moment
from toolkit.store.accounts import AccountRepository
from toolkit.store.events import EventRepository
from toolkit.store.orders import BookRepository
from toolkit.store.repositories import now
from toolkit.trading.accounts import (
    ACCOUNT_TYPES,
    STATUSES,
    Account,
    status_change,
)
from toolkit.trading.holdings import holdings as trading_holdings
from toolkit.validation import texts
from toolkit.workspace.allocations import Allocations
from toolkit.workspace.context import Context
from toolkit.workspace.history import History

#: the ledger kinds that move money into or out of a portfolio (the others are trades and fees)
EXTERNAL_FLOWS = ("DEPOSIT", "WITHDRAWAL")


class Accounts:
    """PORTFOLIO and TRADING accounts with a status and a cash ledger (deposits, withdrawals)."""

    def __init__(self, ctx: Context, *, history: History) -> None:
        self._ctx = ctx
        self._history = history
        self._repo = AccountRepository(ctx.db)
        self._events = EventRepository(ctx.db)

    def create(self, request: object) -> Account:
        """Open an account (the brokerage document's prerequisite, line 47): ``{"type": "PORTFOLIO",
        "currency": "USD", "name": ...}`` (a dict, JSON text or
        :class:`~toolkit.contracts.brokerage.AccountOpening`; ``status`` ACTIVE by default)."""
        request = parse(AccountOpening, request, "account")
        account_id, stamp = str(uuid.uuid4()), now(precise=True)
        with self._ctx.transaction():
            self._repo.insert(account_id, request, stamp)
            account = self.get(account_id)
            self._events.record("ACCOUNT.CREATED", account_id, account.to_dict(), stamp)
        return account

    def list(self, type: str | None = None, status: str | None = None, limit: int = 100) -> list[Account]:
        """Accounts, oldest first, filtered by ``type`` (PORTFOLIO, TRADING) and ``status``; at most
        ``limit`` (100 by default, 1,000 at most, as for allocations)."""
        problems = Problems()
        if type is not None and type not in ACCOUNT_TYPES:
            problems.add("type", f"{type!r} is not one of {', '.join(ACCOUNT_TYPES)}")
        if status is not None and status not in STATUSES:
            problems.add("status", f"{status!r} is not one of {', '.join(STATUSES)}")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= Allocations.MAX_LIMIT:
            problems.add("limit", f"{limit!r} is not a whole number from 1 to {Allocations.MAX_LIMIT:,}")
        problems.raise_if_any("account list")
        return self._repo.list(type, status, limit)

    def get(self, account_id: object) -> Account:
        """The account ``account_id`` names; anything else (an unknown id, a non-text) is a ``NotFoundError``."""
        account = self._repo.get(account_id) if isinstance(account_id, str) else None
        if account is None:
            raise NotFoundError(f"No account with id {account_id!r}.")
        return account

    def deposit(self, account_id: str, payload: dict) -> Account:
        """Book a deposit (``{"amount": "1000.00", "currency": "USD"}``) on an ACTIVE account, valued
        at its ``value_date``, by default the market clock (:attr:`Workspace.clock`: the latest close,
        unless set). A value date before the account's last trade is refused (``value_date``): the
        trades after it were decided without that cash."""
        return self._move(account_id, payload, "DEPOSIT", "deposit")

    def withdraw(self, account_id: str, payload: dict) -> Account:
        """Book a withdrawal; the cash balance may not go below zero, and its ``value_date`` (by default
        the market clock) may not be before the account's last trade."""
        return self._move(account_id, payload, "WITHDRAWAL", "withdrawal")

    def _move(self, account_id: str, payload: dict, kind: str, what: str) -> Account:
        stamp = now(precise=True)
        with self._ctx.transaction():
            account = self.get(account_id)
            movement = parse(CashMovement, payload, what, currency=account.currency)
            amount = movement.amount  # the market clock by default, not the wall clock
            value_date = self._ctx.clock if movement.value_date is None else movement.value_date.isoformat()
            last = self._repo.last_bookings([account_id], trades_only=True).get(account_id)
            if last is not None and value_date < last:
                raise ValidationError([Problem("value_date", f"{value_date} is before the account's last trade on "
                                               f"{last}; cash moves in date order: give {last} or later")], what)
            if account.status != "ACTIVE":
                raise ConflictError(f"Account {account_id} is {account.status}; only ACTIVE accounts move cash.")
            if kind == "WITHDRAWAL" and amount > account.cash:
                raise ConflictError(f"A withdrawal of {amount} {account.currency} would overdraw account "
                                    f"{account_id} (cash {account.cash}).")
            self._repo.book(account_id, kind, amount if kind == "DEPOSIT" else -amount, stamp, value_date)
            self._events.record(f"ACCOUNT.{kind}_BOOKED", account_id,
                                {"amount": format(amount, "f"), "currency": account.currency}, stamp)
            return self.get(account_id)

    def set_status(self, account_id: str, status: str) -> Account:
        if status not in STATUSES:
            raise ValidationError([Problem("status", f"{status!r} is not one of {', '.join(STATUSES)}")],
                                  "status change")
        stamp = now(precise=True)
        with self._ctx.transaction():
            before = self.get(account_id)
            refusal = status_change(account_id, before.status, status)
            if refusal:
                raise ConflictError(refusal)
            self._repo.set_status(account_id, status)
            self._events.record("ACCOUNT.STATUS_CHANGED", account_id,
                                {"from": before.status, "to": status}, stamp)
            return self.get(account_id)

    def _known(self, ids: builtins.list[str]) -> builtins.list[str]:
        """``ids`` if each names an account, else a ``NotFoundError`` naming those that do not."""
        unknown = self._repo.unknown(ids)
        if unknown:
            raise NotFoundError(f"No account with id {', '.join(map(repr, unknown))}.")
        return ids

    def ledger(self, account_id: str) -> pd.DataFrame:
        self.get(account_id)
        return self._repo.ledger(account_id)

    def holdings(self, account_ids: Sequence[str] | None = None, start: str | None = None,
                 end: str | None = None) -> xr.Dataset:
        """Holdings over time: ``positions (portfolio, instrument, time)`` in shares, ``cash (portfolio,
        time)``, the external ``flows (portfolio, time)`` (deposits and withdrawals), the daily ``close
        (instrument, time)``, ``value = positions * close`` and
        ``nav = sum(value) + cash``, on the trading days of the held instruments (see
        :mod:`toolkit.trading.holdings`). All accounts when ``account_ids`` is None."""
        problems = Problems()
        last_moment = None if end is None else read_moment(end, "end", problems, end=True)
        if start is not None:
            read_moment(start, "start", problems)
        problems.raise_if_any("holdings request")  # (read before any comparison: "garbage" is no date)
        book = BookRepository(self._ctx.db)
        ids = self._known(texts(account_ids, "account_ids", "holdings request")) if account_ids is not None \
            else self._repo.ids()
        fills = book.holdings(ids, dated=True)
        cash = book.cash(ids, dated=True)
        flows = book.cash(ids, dated=True, kinds=EXTERNAL_FLOWS)
        instruments = sorted(set(fills["instrument_id"]))
        first = min([*fills["executed_on"], *cash["value_date"]], default=None)
        if not instruments:
            raise NotFoundError("These accounts hold no instruments yet; place an order first.")
        since = start or first
        if start is None and last_moment is not None and pd.Timestamp(first) > last_moment:
            since = end  # nothing booked by the end: an empty window, which the callers report
        close = self._history.prices(instruments, start=since, end=end)["close"]
        cube = trading_holdings(fills, cash, ids, instruments, close.indexes["time"], flows)
        value = cube["positions"] * close.fillna(0.0)
        return cube.assign(close=close, value=value, nav=value.sum("instrument") + cube["cash"])
