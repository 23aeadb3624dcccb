"""Reads and writes of rebalancing runs and their executions. Parameterised SQL only; writes inside
``write()``.

An EXECUTED execution keeps no copy of its trades: they are its portfolio order's child orders,
read back by :meth:`RebalancingRepository.trades`. Previews and cancellations keep theirs (a JSON
list) on the execution row.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import numpy as np
import pandas as pd
import sqlite_utils

from toolkit.store import legs
from toolkit.store.repositories import SequentialIds


class RebalancingRepository:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def insert(self, run_id: str, request: str, preview: bool, stamp: str, executions: Iterable[tuple]) -> None:
        """A run and its executions ``(id, account_id, status, cancellation_reason, portfolio_order_id,
        trades)``; ``trades`` (a list) is stored unless the execution is EXECUTED (then it is None)."""
        self.db.conn.execute("INSERT INTO rebalancings (id, request, preview, created_at) VALUES (?, ?, ?, ?)",
                             (run_id, request, int(preview), stamp))
        self.db.conn.executemany(
            "INSERT INTO rebalancing_executions (id, rebalancing_id, account_id, status, cancellation_reason, "
            "portfolio_order_id, trades) VALUES (?, ?, ?, ?, ?, ?, ?)",
            ((eid, run_id, account, status, reason, order, None if trades is None else json.dumps(trades))
             for eid, account, status, reason, order, trades in executions))

    def insert_placed(self, run_id: str, ids: SequentialIds, positions: np.ndarray, first: int) -> None:
        """The EXECUTED executions of a run, written in SQL from their orders: the ``k``-th order
        of the run (``rowid`` ``first + k``, :meth:`toolkit.store.orders.OrderRepository.insert_filled`)
        belongs to the execution at ``positions[k]``, whose id is ``ids[positions[k]]``."""
        execution_id, params = ids.sql("j.value")
        self.db.conn.execute(
            "INSERT INTO rebalancing_executions (id, rebalancing_id, account_id, status, cancellation_reason, "
            f"portfolio_order_id, trades) SELECT {execution_id}, ?, o.account_id, 'EXECUTED', NULL, o.id, NULL "
            "FROM json_each(?) j CROSS JOIN portfolio_orders o ON o.rowid = ? + j.key",
            [*params, run_id, json.dumps(np.asarray(positions, np.int64).tolist()), first])

    def run(self, run_id: str) -> dict | None:
        row = self.db.conn.execute("SELECT id, preview, created_at FROM rebalancings WHERE id = ?",
                                   (run_id,)).fetchone()
        return None if row is None else {"id": row[0], "preview": bool(row[1]), "created_at": row[2]}

    def executions(self, run_id: str) -> list[tuple]:
        """The run's executions in the order they were answered: ``(id, account_id, status,
        cancellation_reason, portfolio_order_id, trades)``, trades as stored (JSON or None)."""
        return self.db.conn.execute(
            "SELECT id, account_id, status, cancellation_reason, portfolio_order_id, trades "
            "FROM rebalancing_executions WHERE rebalancing_id = ? ORDER BY id", (run_id,)).fetchall()

    def trades(self, run_id: str) -> pd.DataFrame:
        """The child orders of the run's EXECUTED executions, execution by execution, in order."""
        rows = self.db.conn.execute(
            "SELECT e.id, o.legs FROM rebalancing_executions e JOIN portfolio_orders o ON o.id = e.portfolio_order_id "
            "WHERE e.rebalancing_id = ? AND e.status = 'EXECUTED' ORDER BY e.id", (run_id,)).fetchall()
        executions, blobs = zip(*rows) if rows else ((), ())
        table, counts = legs.decode(blobs)
        shown = legs.shown(self.db, table).drop(columns="fee")
        return shown.assign(execution_id=np.repeat(np.array(executions, dtype=object), counts))
