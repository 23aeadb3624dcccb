"""The event_deliveries table: one row per attempt to hand an event to a subscriber; the
event_subscribers table: where each subscriber (by name) starts.

An (event, subscriber) pair is *finished* once it has a ``DELIVERED`` or ``FAILED`` row; a
``RETRYING`` row alone means a later attempt is due. A subscriber is offered the events after its
``start_after`` id only (0: every stored event). Writes go inside the caller's ``write()``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import cast

import pandas as pd
import sqlite_utils

from toolkit.store.repositories import _frame

STATUSES = ("DELIVERED", "RETRYING", "FAILED")
#: statuses after which an event is never offered to that subscriber again
FINISHED = ("DELIVERED", "FAILED")
_COLUMNS = "id, event_id, subscriber, attempt, status, http_status, error, at"


def _type_filter(patterns: Sequence[str]) -> tuple[str, list]:
    """SQL for event-type patterns: ``*`` is every type, ``A.*`` a prefix, anything else exact.

    Prefixes are compared with ``substr`` rather than ``LIKE``, which is case-insensitive and
    treats ``_`` (common in type names) as a wildcard.
    """
    if not patterns or "*" in patterns:
        return "", []
    clauses, params = [], []
    for pattern in patterns:
        if pattern.endswith(".*"):
            prefix = pattern[:-1]
            clauses.append("substr(e.type, 1, ?) = ?")
            params += [len(prefix), prefix]
        else:
            clauses.append("e.type = ?")
            params.append(pattern)
    return f" AND ({' OR '.join(clauses)})", params


def workspace_file(db: sqlite_utils.Database) -> str | None:
    """The file of ``db``'s main database, or None for an in-memory one (another connection to
    it, e.g. a delivery worker's, opens this file)."""
    for _, name, file in db.conn.execute("PRAGMA database_list").fetchall():
        if name == "main":
            return file or None
    return None


class DeliveryRepository:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def register(self, subscriber: str, replay: bool, stamp: str) -> tuple[int, bool]:
        """Where ``subscriber`` starts: ``(start_after, new)``.

        A new name starts after the last stored event (0 with ``replay``); a known name keeps its
        starting point (it resumes where it stopped), which ``replay`` moves back to 0. The
        starting point of a new name is read in the same statement that records it, so an event
        committed meanwhile is either before it or offered to the subscriber.
        """
        row = self.db.conn.execute("SELECT start_after FROM event_subscribers WHERE name = ?",
                                   (subscriber,)).fetchone()
        if row is None:
            self.db.conn.execute(
                "INSERT INTO event_subscribers (name, start_after, created_at)"
                " SELECT ?, CASE WHEN ? THEN 0 ELSE COALESCE(MAX(id), 0) END, ? FROM events",
                (subscriber, bool(replay), stamp))
        elif replay and row[0]:
            self.db.conn.execute("UPDATE event_subscribers SET start_after = 0 WHERE name = ?", (subscriber,))
        else:
            return int(row[0]), False
        start = self.db.conn.execute("SELECT start_after FROM event_subscribers WHERE name = ?",
                                     (subscriber,)).fetchone()[0]
        return int(start), row is None

    def record(self, event_id: int, subscriber: str, attempt: int, status: str, http_status: int | None,
               error: str | None, stamp: str) -> int:
        """Log one attempt; returns the row id."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
        cursor = self.db.conn.execute(
            "INSERT INTO event_deliveries (event_id, subscriber, attempt, status, http_status, error, at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (int(event_id), subscriber, int(attempt), status, http_status, error, stamp))
        return cast(int, cursor.lastrowid)  # an INSERT sets it (the stubs allow None)

    def log(self, event_id: int | None = None, subscriber: str | None = None) -> pd.DataFrame:
        """Every attempt, oldest first, optionally for one event and/or one subscriber."""
        sql = f"SELECT {_COLUMNS} FROM event_deliveries WHERE 1 = 1"
        params: list[int | str] = []
        if event_id is not None:
            sql += " AND event_id = ?"
            params.append(int(event_id))
        if subscriber is not None:
            sql += " AND subscriber = ?"
            params.append(subscriber)
        return _frame(self.db, sql + " ORDER BY id", params)

    def delivered(self, subscriber: str) -> set[int]:
        """Ids of the events finished (``DELIVERED`` or ``FAILED``) for ``subscriber``."""
        cursor = self.db.conn.execute(
            "SELECT DISTINCT event_id FROM event_deliveries WHERE subscriber = ? AND status IN (?, ?)",
            (subscriber, *FINISHED))
        return {int(row[0]) for row in cursor.fetchall()}

    def pending(self, subscriber: str, patterns: Sequence[str] = (), after: int = 0,
                limit: int = 500) -> list[dict]:
        """Events after id ``after`` whose type matches ``patterns`` and that are not finished for
        ``subscriber``, in id order, as dicts with the payload decoded."""
        where, params = _type_filter(patterns)
        cursor = self.db.conn.execute(
            "SELECT e.id, e.type, e.resource_id, e.payload, e.created_at FROM events e"
            f" WHERE e.id > ?{where} AND NOT EXISTS (SELECT 1 FROM event_deliveries d"
            "  WHERE d.event_id = e.id AND d.subscriber = ? AND d.status IN (?, ?))"
            " ORDER BY e.id LIMIT ?",
            (int(after), *params, subscriber, *FINISHED, int(limit)))
        return [{"id": int(id_), "type": type_, "resource_id": resource_id, "payload": json.loads(payload),
                 "created_at": created_at}
                for id_, type_, resource_id, payload, created_at in cursor.fetchall()]
