"""Backtest jobs (the risk platform's PUT/GET /portfolio/backtest): parameterised SQL, every write in
``BEGIN IMMEDIATE``.

A job's state moves once: ``Started`` when it is queued, then ``Completed`` (with its result) or
``Failed`` (with the reason), by :meth:`BacktestRepository.finish` alone; a job already ended is
never changed again.
"""

from __future__ import annotations

import json

import sqlite_utils

from toolkit.store.db import write

FIELDS = ("job_id", "client_reference", "strategy_id", "start_date", "end_date", "spec", "status", "result", "error",
          "started_at", "finished_at", "progress")
ENDED = ("Completed", "Failed")


class BacktestRepository:
    """The ``backtests`` table (migration m019)."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def queue(self, job_id: str, client_reference: str, strategy_id: int, start: str, end: str, spec: dict,
              stamp: str) -> None:
        """A new job in state ``Started``."""
        with write(self.db):
            self.db.conn.execute(
                "INSERT INTO backtests (id, client_reference, strategy_id, start_date, end_date, spec, status, "
                "started_at) VALUES (?, ?, ?, ?, ?, ?, 'Started', ?)",
                (job_id, client_reference, strategy_id, start, end, json.dumps(spec), stamp))

    def finish(self, job_id: str, status: str, stamp: str, result: dict | None = None,
               error: str | None = None) -> bool:
        """End a ``Started`` job as ``Completed`` (with ``result``) or ``Failed`` (with ``error``);
        False when the job is not (or no longer) ``Started``."""
        if status not in ENDED:
            raise ValueError(f"a job ends Completed or Failed, not {status!r}")
        with write(self.db):
            cursor = self.db.conn.execute(
                "UPDATE backtests SET status = ?, result = ?, error = ?, finished_at = ? "
                "WHERE id = ? AND status = 'Started'",
                (status, None if result is None else json.dumps(result), error, stamp, job_id))
        return cursor.rowcount == 1

    def advance(self, job_id: str, fraction: float) -> None:
        """Note how far a ``Started`` job is (``fraction`` from 0 to 1; an ended job is left as it is)."""
        with write(self.db):
            self.db.conn.execute("UPDATE backtests SET progress = ? WHERE id = ? AND status = 'Started'",
                                 (min(max(float(fraction), 0.0), 1.0), job_id))

    def get(self, job_id: str) -> dict | None:
        row = self.db.conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM backtests WHERE id = ?", (job_id,)).fetchone()
        return _job(row)

    def latest(self, client_reference: str, strategy_id: int) -> dict | None:
        """The last job queued for this portfolio and strategy."""
        row = self.db.conn.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM backtests WHERE client_reference = ? AND strategy_id = ? "
            "ORDER BY started_at DESC, rowid DESC LIMIT 1", (client_reference, strategy_id)).fetchone()
        return _job(row)

    def number(self, reference: str) -> int | None:
        """The row number in the workspace (the whole number GET's ``portfolioId`` shows) of a PORTFOLIO
        account, else of an uploaded portfolio."""
        row = self.db.conn.execute("SELECT rowid FROM accounts WHERE id = ? AND type = 'PORTFOLIO' UNION ALL "
                                   "SELECT rowid FROM risk_portfolios WHERE id = ? LIMIT 1",
                                   (reference, reference)).fetchone()
        return None if row is None else int(row[0])

    def jobs(self) -> list[dict]:
        """Every job, latest first, without its spec and result."""
        rows = self.db.conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM backtests "
                                    "ORDER BY started_at DESC, rowid DESC").fetchall()
        return [{k: v for k, v in (_job(r) or {}).items() if k not in ("spec", "result")} for r in rows]


_COLUMNS = ("id", "client_reference", "strategy_id", "start_date", "end_date", "spec", "status", "result", "error",
            "started_at", "finished_at", "progress")


def _job(row: tuple | None) -> dict | None:
    if row is None:
        return None
    job = dict(zip(FIELDS, row))
    job["spec"] = json.loads(job["spec"])
    job["result"] = None if job["result"] is None else json.loads(job["result"])
    return job
