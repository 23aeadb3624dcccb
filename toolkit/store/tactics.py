"""Reads and writes of the tactical rules' verdicts on placed orders (``order_tactics``, m023).
Parameterised SQL only; writes inside ``write()`` (the façade's ``ws.transaction()``).

One row per child order judged (``portfolio_order_id``, ``position``: the child's place in its order):
``instrument_id``, ``direction`` (``Long``/``Short``), the entry ``level`` and ``size`` as judged, the
``stop`` and ``limit`` the rules set (NULL: none found), the order's verdict ``validated`` and the
document's ``tactical_analysis`` item as JSON text. Numbers are decimal text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

import pandas as pd
import sqlite_utils

from toolkit.store.repositories import _frame

#: the columns of a row after ``portfolio_order_id`` and ``position``
COLUMNS = ("instrument_id", "direction", "level", "size", "stop", "limit", "validated", "tactical_analysis")
_NAMES = ", ".join(f'"{c}"' for c in COLUMNS)


class OrderTacticsRepository:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def judged(self, order_ids: Sequence[str]) -> list[str]:
        """The ids of ``order_ids`` that have verdicts already."""
        rows = self.db.conn.execute("SELECT DISTINCT portfolio_order_id FROM order_tactics WHERE portfolio_order_id "
                                    "IN (SELECT value FROM json_each(?))", (_json(order_ids),)).fetchall()
        return [r[0] for r in rows]

    def save(self, order_id: str, rows: Iterable[Sequence]) -> None:
        """The verdicts of one order's child orders: ``(position, *COLUMNS)`` tuples."""
        self.db.conn.executemany(
            f"INSERT INTO order_tactics (portfolio_order_id, position, {_NAMES}) "
            f"VALUES ({', '.join('?' * (len(COLUMNS) + 2))})", [(order_id, *row) for row in rows])

    def rows(self, account_ids: Sequence[str] | None = None, order_ids: Sequence[str] | None = None) -> pd.DataFrame:
        """The verdicts with their order's ``account_id``, ``side`` and ``execution_date``, by execution date,
        order and position; only those of ``account_ids`` / ``order_ids`` when given."""
        where, params = [], []
        for column, values in (("o.account_id", account_ids), ("t.portfolio_order_id", order_ids)):
            if values is not None:
                where.append(f"{column} IN (SELECT value FROM json_each(?))")
                params.append(_json(values))
        sql = (f"SELECT t.portfolio_order_id, o.account_id, o.side, o.execution_date, t.position, "
               f"{', '.join('t.' + n for n in _NAMES.split(', '))} FROM order_tactics t "
               "JOIN portfolio_orders o ON o.id = t.portfolio_order_id"
               + (f" WHERE {' AND '.join(where)}" if where else "")
               + " ORDER BY o.execution_date, o.rowid, t.position")
        return _frame(self.db, sql, params)


def _json(values: Sequence[str]) -> str:
    return json.dumps(list(values))
