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


#: the columns of a rebalancing strategy (migration m020)
STRATEGY_FIELDS = ("account_id", "frequency", "band", "band_kind", "band_scope", "cooldown_days", "created_at")


class AutomationRepository:
    """Automated rebalancing: the ``rebalancing_strategies`` attached to configured accounts, and the
    ``rebalancing_automated_runs`` (one row per account and day :meth:`Rebalancings.run_due` looked at it)."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def save(self, row: dict) -> None:
        """Attach (or replace) an account's strategy; inside the caller's transaction."""
        self.db.conn.execute(
            f"INSERT OR REPLACE INTO rebalancing_strategies ({', '.join(STRATEGY_FIELDS)}) "
            f"VALUES ({', '.join('?' * len(STRATEGY_FIELDS))})", [row[k] for k in STRATEGY_FIELDS])

    def remove(self, account_id: str) -> bool:
        return self.db.conn.execute("DELETE FROM rebalancing_strategies WHERE account_id = ?",
                                    (account_id,)).rowcount == 1

    def strategies(self) -> list[dict]:
        """Every attached strategy with its account's configured ``allocation_id``."""
        rows = self.db.conn.execute(f"SELECT {', '.join('s.' + f for f in STRATEGY_FIELDS)}, c.allocation_id "
                                    "FROM rebalancing_strategies s LEFT JOIN configurations c "
                                    "ON c.account_id = s.account_id ORDER BY s.account_id").fetchall()
        return [dict(zip((*STRATEGY_FIELDS, "allocation_id"), r)) for r in rows]

    def looked_at(self, as_of: str) -> set[str]:
        """The accounts :meth:`record` holds a row of for ``as_of``."""
        return {r[0] for r in self.db.conn.execute("SELECT account_id FROM rebalancing_automated_runs "
                                                   "WHERE as_of = ?", (as_of,))}

    def last_rebalanced(self) -> dict[str, str]:
        """Each account's last day an automated rebalancing ran for it."""
        return dict(self.db.conn.execute("SELECT account_id, max(as_of) FROM rebalancing_automated_runs "
                                         "WHERE rebalancing_id IS NOT NULL GROUP BY account_id").fetchall())

    def record(self, as_of: str, reasons: dict[str, str], rebalancing_id: str | None, rebalanced: set[str],
               stamp: str) -> None:
        """One row per account looked at on ``as_of``: why (not) due, and the run that rebalanced it."""
        self.db.conn.executemany(
            "INSERT INTO rebalancing_automated_runs (account_id, as_of, reason, rebalancing_id, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [(a, as_of, r, rebalancing_id if a in rebalanced else None, stamp) for a, r in reasons.items()])

    def runs(self) -> pd.DataFrame:
        cursor = self.db.conn.execute("SELECT account_id, as_of, reason, rebalancing_id, created_at FROM "
                                      "rebalancing_automated_runs ORDER BY as_of, account_id")
        return pd.DataFrame(cursor.fetchall(), columns=["account_id", "as_of", "reason", "rebalancing_id",
                                                        "created_at"])
