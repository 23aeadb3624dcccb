"""Reads and writes of accounts, their cash ledger and configurations (decimal strings for money)."""

from __future__ import annotations

import builtins
import json
from collections.abc import Sequence
from decimal import Decimal

import numpy as np
import sqlite_utils

from toolkit.contracts.brokerage import AccountOpening
from toolkit.store.repositories import _frame, decimal_text_sql, unknown_ids
from toolkit.trading.accounts import Account, Configuration


class AccountRepository:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def insert(self, account_id: str, request: AccountOpening, stamp: str) -> None:
        self.db.conn.execute(
            "INSERT INTO accounts (id, type, status, currency, name, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (account_id, request.type, request.status, request.currency, request.name, stamp))

    def unknown(self, ids: Sequence[str]) -> list[str]:
        """The ids among ``ids`` that name no account, in their order."""
        return unknown_ids(self.db, "accounts", ids)

    def get(self, account_id: str) -> Account | None:
        row = self.db.conn.execute(
            "SELECT id, type, status, currency, name, created_at FROM accounts WHERE id = ?",
            (account_id,)).fetchone()
        return _account(row, self.cash(account_id)) if row else None

    def list(self, type_: str | None, status: str | None, limit: int) -> list[Account]:
        """Accounts oldest first, optionally of one type and status, with their balances (one query each)."""
        rows = self.db.conn.execute(
            "SELECT id, type, status, currency, name, created_at FROM accounts WHERE (? IS NULL OR type = ?) "
            "AND (? IS NULL OR status = ?) ORDER BY created_at, id LIMIT ?",
            (type_, type_, status, status, limit)).fetchall()
        cash = {r[0]: Decimal("0.00") for r in rows}
        marks = ", ".join("?" * len(rows))
        for account_id, amount in self.db.conn.execute(
                f"SELECT account_id, amount FROM cash_ledger WHERE account_id IN ({marks})", list(cash)):
            cash[account_id] += Decimal(amount)
        return [_account(row, cash[row[0]]) for row in rows]

    def ids(self, type_: str | None = None, among: Sequence[str] | None = None,
            open_only: bool = False) -> builtins.list[str]:
        """Account ids, oldest first, of one ``type_`` (all when None), among ``among`` when given (in
        its order); without the CLOSED ones when ``open_only``."""
        kind = ("" if type_ is None else "type = ? AND ") + ("status != 'CLOSED' AND " if open_only else "")
        params = [] if type_ is None else [type_]
        if among is None:
            return [r[0] for r in self.db.conn.execute(
                f"SELECT id FROM accounts WHERE {kind}1 ORDER BY created_at, id", params)]
        found = {r[0] for r in self.db.conn.execute(
            f"SELECT id FROM accounts WHERE {kind}id IN (SELECT value FROM json_each(?))",
            [*params, json.dumps(list(among))])}
        return [i for i in among if i in found]

    def column(self, ids: Sequence[str], name: str) -> dict[str, object]:
        """``id -> value`` of one column (``type``, ``name`` or ``currency``) of the accounts among ``ids``."""
        if name not in ("type", "name", "currency"):
            raise ValueError(f"not an account column: {name!r}")
        return dict(self.db.conn.execute(f"SELECT id, {name} FROM accounts WHERE id IN "
                                         "(SELECT value FROM json_each(?))", (json.dumps(list(ids)),)).fetchall())

    def set_status(self, account_id: str, status: str) -> None:
        self.db.conn.execute("UPDATE accounts SET status = ? WHERE id = ?", (status, account_id))

    def cash(self, account_id: str) -> Decimal:
        """The balance: the exact sum of the ledger's decimal strings."""
        amounts = self.db.conn.execute("SELECT amount FROM cash_ledger WHERE account_id = ?", (account_id,))
        return sum((Decimal(a) for (a,) in amounts), Decimal("0.00"))

    def book(self, account_id: str, kind: str, amount: Decimal, stamp: str, value_date: str,
             reference: str | None = None) -> None:
        """Book a signed cash movement (positive in, negative out) with the date it takes effect."""
        self.db.conn.execute(
            "INSERT INTO cash_ledger (account_id, kind, amount, reference, value_date, booked_at) "
            "VALUES (?, ?, ?, ?, ?, ?)", (account_id, kind, format(amount, "f"), reference, value_date, stamp))

    def book_orders(self, first: int, kinds: dict[str, tuple[np.ndarray, bool]], value_date: str,
                    stamp: str) -> None:
        """The bookings of a book run's orders, written in SQL from the orders (``rowid`` ``first``,
        ``first + 1``, …): per ``kind``, in that order, the ``cents`` of each order (a booking on
        the order's account that references it), zero amounts left out unless ``keep_zero``
        (``kinds``: ``{kind: (cents, keep_zero)}``)."""
        for kind, (cents, keep_zero) in kinds.items():
            self.db.conn.execute(
                "INSERT INTO cash_ledger (account_id, kind, amount, reference, value_date, booked_at) "
                f"SELECT o.account_id, ?, {decimal_text_sql('j.value', 2)}, o.id, ?, ? FROM json_each(?) j "
                "CROSS JOIN portfolio_orders o ON o.rowid = ? + j.key WHERE ? OR j.value != 0",
                (kind, value_date, stamp, json.dumps(np.asarray(cents, np.int64).tolist()), first, keep_zero))

    def last_bookings(self, account_ids: builtins.list[str], trades_only: bool = False) -> dict[str, str]:
        """The latest value date booked on each of ``account_ids`` that has one (ISO dates): of any
        booking (fills, fees, cash movements), or with ``trades_only`` of the trades and their fees
        (every kind but DEPOSIT and WITHDRAWAL)."""
        rows = self.db.conn.execute(
            "SELECT account_id, max(value_date) FROM cash_ledger WHERE account_id IN "
            "(SELECT value FROM json_each(?)) AND (NOT ? OR kind NOT IN ('DEPOSIT', 'WITHDRAWAL')) "
            "GROUP BY account_id", (json.dumps(list(account_ids)), trades_only)).fetchall()
        return dict(rows)

    def booked_after(self, account_ids: builtins.list[str], day: str) -> dict[str, str]:
        """The accounts among ``account_ids`` with a booking valued after ``day``, with their latest
        value date. One scan of the ledger answers the usual case, nothing booked after ``day`` at all
        (12 ms for 300,000 rows, against 0.4 s for the latest date of each of 100,000 accounts)."""
        if self.db.conn.execute("SELECT 1 FROM cash_ledger WHERE value_date > ? LIMIT 1", (day,)).fetchone() is None:
            return {}
        return {a: d for a, d in self.last_bookings(account_ids).items() if d > day}

    def ledger(self, account_id: str):
        return _frame(self.db, "SELECT id, kind, amount, reference, value_date, booked_at FROM cash_ledger "
                               "WHERE account_id = ? ORDER BY id", [account_id])


class ConfigurationRepository:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def upsert(self, config_id: str, account_id: str, allocation_id: str, stamp: str) -> None:
        self.db.conn.execute(
            "INSERT INTO configurations (id, account_id, allocation_id, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (account_id) DO UPDATE SET "
            "allocation_id = excluded.allocation_id, updated_at = excluded.updated_at",
            (config_id, account_id, allocation_id, stamp, stamp))

    def for_account(self, account_id: str) -> Configuration | None:
        row = self.db.conn.execute(
            "SELECT id, account_id, allocation_id, created_at, updated_at FROM configurations "
            "WHERE account_id = ?", (account_id,)).fetchone()
        return Configuration(*row) if row else None


def _account(row: tuple, cash: Decimal) -> Account:
    """An account from its row (``id, type, status, currency, name, created_at``) and its balance."""
    account_id, type_, status, currency, name, created_at = row
    return Account(account_id, type_, status, currency, name, created_at, cash)
