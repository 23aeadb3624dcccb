"""The events table: every create, update and state change, written in the same transaction."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import cast

import pandas as pd
import sqlite_utils

from toolkit.store.repositories import _frame


class EventRepository:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def record(self, type_: str, resource_id: str, payload: dict, stamp: str) -> int:
        cursor = self.db.conn.execute(
            "INSERT INTO events (type, resource_id, payload, created_at) VALUES (?, ?, ?, ?)",
            (type_, resource_id, json.dumps(payload, default=str), stamp))
        return cast(int, cursor.lastrowid)  # an INSERT sets it (the stubs allow None)

    def record_many(self, rows: Iterable[tuple]) -> None:
        """Many events at once: ``(type, resource_id, payload JSON text, created_at)``."""
        self.db.conn.executemany("INSERT INTO events (type, resource_id, payload, created_at) VALUES (?, ?, ?, ?)",
                                 rows)

    def list(self, resource_id: str | None = None, type_: str | None = None, after: int = 0,
             limit: int = 1000) -> pd.DataFrame:
        sql = "SELECT id, type, resource_id, payload, created_at FROM events WHERE id > ?"
        params: list = [after]
        if resource_id:
            sql += " AND resource_id = ?"
            params.append(resource_id)
        if type_:
            sql += " AND type = ?"
            params.append(type_)
        return _frame(self.db, sql + " ORDER BY id LIMIT ?", [*params, limit])
