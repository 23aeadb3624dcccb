"""Helpers shared by the tests."""

from __future__ import annotations

import sqlite3

from toolkit.workspace import Workspace

#: the bulk market tables are compared by count and checksum, every other table row by row
BULK = {"prices": "total(close) + total(volume)", "fx_rates": "total(rate)"}


def dump(ws: Workspace) -> list[str]:
    """The database's schema and rows (bulk tables summarised): equal dumps mean nothing changed."""
    with sqlite3.connect(ws.path) as conn:
        lines = [r[0] or "" for r in conn.execute("SELECT sql FROM sqlite_master ORDER BY name")]
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        for table in tables:
            if table in BULK:
                lines.append(f"{table}: {conn.execute(f'SELECT count(*), {BULK[table]} FROM {table}').fetchone()}")
            else:
                lines += [f"{table}: {row!r}" for row in conn.execute(f'SELECT * FROM "{table}" ORDER BY 1, 2')]
    return lines
