"""Reads and writes of allocations and their versions. Parameterised SQL only; writes inside ``write()``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal

import sqlite_utils

from toolkit.store.repositories import _frame, unknown_ids
from toolkit.trading.allocations import Allocation, AllocationItem, AllocationRequest


class AllocationRepository:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def foreign_currency(self, allocation_ids: list[str], currency: str) -> str:
        """The current instruments of the allocations not quoted in ``currency``, as ``"SAP (EUR), …"``
        ("" when there are none)."""
        rows = self.db.conn.execute(
            "SELECT DISTINCT i.symbol, i.currency FROM allocation_weights w "
            "JOIN allocations a ON a.id = w.allocation_id AND a.version = w.version "
            "JOIN instruments i ON i.instrument_id = w.instrument_id "
            "WHERE a.id IN (SELECT value FROM json_each(?)) AND i.currency != ? ORDER BY i.symbol",
            [json.dumps(list(allocation_ids)), currency]).fetchall()
        return ", ".join(f"{symbol} ({quoted})" for symbol, quoted in rows)

    def configured_currencies(self, allocation_id: str) -> list[str]:
        """The currencies of the accounts configured to track the allocation."""
        return [r[0] for r in self.db.conn.execute(
            "SELECT DISTINCT a.currency FROM configurations c JOIN accounts a ON a.id = c.account_id "
            "WHERE c.allocation_id = ?", (allocation_id,))]

    def insert(self, allocation_id: str, request: AllocationRequest, stamp: str, valid_from: str) -> None:
        """A new allocation: created at ``stamp`` (wall clock, audit), its version 1 valid from ``valid_from``."""
        self.db.conn.execute("INSERT INTO allocations (id, created_at, version) VALUES (?, ?, 1)",
                             (allocation_id, stamp))
        self._add_version(allocation_id, 1, request, valid_from)

    def add_version(self, allocation_id: str, request: AllocationRequest, valid_from: str) -> int:
        version = self.db.conn.execute("SELECT version FROM allocations WHERE id = ?",
                                       (allocation_id,)).fetchone()[0] + 1
        self.db.conn.execute("UPDATE allocations SET version = ? WHERE id = ?", (version, allocation_id))
        self._add_version(allocation_id, version, request, valid_from)
        return version

    def _add_version(self, allocation_id: str, version: int, request: AllocationRequest, valid_from: str) -> None:
        self.db.conn.execute(
            "INSERT INTO allocation_versions (allocation_id, version, name, valid_from) VALUES (?, ?, ?, ?)",
            (allocation_id, version, request.name, valid_from))
        self.db.conn.executemany(
            "INSERT INTO allocation_weights (allocation_id, version, position, instrument_id, weight) "
            "VALUES (?, ?, ?, ?, ?)",
            [(allocation_id, version, i, item.instrument_id, format(item.weight, "f"))
             for i, item in enumerate(request.items)])

    def exists(self, allocation_id: str) -> bool:
        return self.db.conn.execute("SELECT 1 FROM allocations WHERE id = ?", (allocation_id,)).fetchone() is not None

    def unknown(self, ids: Sequence[str]) -> list[str]:
        """The ids among ``ids`` that name no allocation, in their order."""
        return unknown_ids(self.db, "allocations", ids)

    def get(self, ids: Sequence[str], as_of: str | None = None) -> list[Allocation]:
        """The version of each allocation valid at ``as_of`` (ISO timestamp; the latest when None)."""
        if not ids:
            return []
        marks = ", ".join("?" * len(ids))
        versions = _frame(self.db, f"""
            SELECT a.id, a.created_at, v.version, v.name, v.valid_from,
                   (SELECT max(valid_from) FROM allocation_versions WHERE allocation_id = a.id) AS updated_at
            FROM allocations a JOIN allocation_versions v ON v.allocation_id = a.id
            WHERE a.id IN ({marks}) AND v.version = (
                SELECT max(version) FROM allocation_versions
                WHERE allocation_id = a.id AND valid_from <= ?)""", [*ids, as_of or "9999"])
        weights = _frame(self.db, f"""
            SELECT w.allocation_id, w.version, w.instrument_id, w.weight, i.isin, i.symbol
            FROM allocation_weights w JOIN instruments i USING (instrument_id)
            WHERE w.allocation_id IN ({marks}) ORDER BY w.allocation_id, w.version, w.position""", list(ids))
        grouped = {key: rows for key, rows in weights.groupby(["allocation_id", "version"], sort=False)}
        found = {}
        for row in versions.itertuples(index=False):
            rows = grouped[(row.id, row.version)]
            items = tuple(AllocationItem(r.instrument_id, r.isin, r.symbol, Decimal(r.weight))
                          for r in rows.itertuples(index=False))
            name = row.name if isinstance(row.name, str) else None  # an unnamed one: None, never NaN
            found[row.id] = Allocation(row.id, name, items, int(row.version), row.valid_from,
                                       row.created_at, row.updated_at)
        return [found[i] for i in ids if i in found]

    def search(self, instrument_ids: Sequence[str] | None, start: str | None, end: str | None,
               limit: int) -> list[str]:
        """Ids of allocations created in [start, end] (dates, inclusive) whose current version holds
        any of ``instrument_ids``; newest first."""
        sql = ["SELECT a.id FROM allocations a WHERE substr(a.created_at, 1, 10) BETWEEN ? AND ?"]
        params: list = [start or "0000-01-01", end or "9999-12-31"]
        if instrument_ids:
            marks = ", ".join("?" * len(instrument_ids))
            sql.append(f"AND EXISTS (SELECT 1 FROM allocation_weights w WHERE w.allocation_id = a.id "
                       f"AND w.version = a.version AND w.instrument_id IN ({marks}))")
            params += list(instrument_ids)
        sql.append("ORDER BY a.created_at DESC, a.id LIMIT ?")
        params.append(limit)
        return [r[0] for r in self.db.conn.execute(" ".join(sql), params).fetchall()]
