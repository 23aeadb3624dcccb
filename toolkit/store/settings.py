"""The workspace's settings that outlive a kernel (``settings``, m025): JSON values by key
(parameterised SQL; writes in ``BEGIN IMMEDIATE``)."""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from toolkit.store.db import write


class SettingsRepository:
    """The ``settings`` table: one JSON value per key."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def get(self, key: str) -> Any | None:
        """The value stored under ``key``, or None when none is."""
        row = self.db.conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, key: str, value: Any) -> None:
        """Store ``value`` (JSON-serialisable) under ``key``, replacing what was there."""
        with write(self.db):
            self.db.conn.execute("INSERT INTO settings (key, value) VALUES (?, ?) "
                                 "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, json.dumps(value)))
