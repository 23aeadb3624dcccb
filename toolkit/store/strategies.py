"""Strategies, their runs and each run's results (parameterised SQL; writes in ``BEGIN IMMEDIATE``)."""

from __future__ import annotations

import json

import pandas as pd
import sqlite_utils

from toolkit.errors import NotFoundError
from toolkit.optimise.strategy import Strategy
from toolkit.store.db import write

RUN_FIELDS = ("run_id", "strategy_id", "status", "percentage_complete", "started_at", "finished_at", "error")


class StrategyRepository:
    """The ``strategies``, ``strategy_runs`` and ``strategy_results`` tables."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def name_taken(self, name: str) -> bool:
        return self.db.conn.execute("SELECT 1 FROM strategies WHERE name = ?", (name,)).fetchone() is not None

    def save(self, strategy_id: str, name: str, rules: list[dict], stamp: str) -> None:
        with write(self.db):
            self.db.conn.execute("INSERT INTO strategies (id, name, rules, created_at) VALUES (?, ?, ?, ?)",
                                 (strategy_id, name, json.dumps(rules), stamp))

    def load(self, strategy_id: str | None = None) -> list[Strategy]:
        """Every strategy (or the one with this id or name) with its latest run's status."""
        where, params = ("WHERE s.id = ? OR s.name = ?", (strategy_id, strategy_id)) if strategy_id else ("", ())
        rows = self.db.conn.execute(
            "SELECT s.id, s.name, s.rules, s.created_at, r.status, r.percentage_complete, r.id FROM strategies s "
            "LEFT JOIN strategy_runs r ON r.id = (SELECT id FROM strategy_runs WHERE strategy_id = s.id "
            f"ORDER BY started_at DESC, rowid DESC LIMIT 1) {where} ORDER BY s.created_at, s.name", params).fetchall()
        return [Strategy(r[0], r[1], json.loads(r[2]), r[3], r[4] or "NotRun", float(r[5] or 0.0), r[6])
                for r in rows]

    def start(self, run_id: str, strategy_id: str, stamp: str) -> None:
        with write(self.db):
            self.db.conn.execute("INSERT INTO strategy_runs (id, strategy_id, status, percentage_complete, "
                                 "started_at) VALUES (?, ?, 'Running', 0, ?)", (run_id, strategy_id, stamp))

    def record(self, run_id: str, account_id: str, rule_name: str, result: str | None, error: str | None,
               percentage: float) -> None:
        with write(self.db):
            self.db.conn.execute("INSERT INTO strategy_results (run_id, account_id, rule_name, result, error) "
                                 "VALUES (?, ?, ?, ?, ?)", (run_id, account_id, rule_name, result, error))
            self.db.conn.execute("UPDATE strategy_runs SET percentage_complete = ? WHERE id = ?",
                                 (percentage, run_id))

    def finish(self, run_id: str, status: str, stamp: str, error: str | None = None) -> None:
        with write(self.db):
            self.db.conn.execute("UPDATE strategy_runs SET status = ?, finished_at = ?, error = ?, "
                                 "percentage_complete = CASE WHEN ? = 'Complete' THEN 100 ELSE "
                                 "percentage_complete END WHERE id = ?", (status, stamp, error, status, run_id))

    def status(self, run_id: str) -> dict:
        row = self.db.conn.execute(f"SELECT id, {', '.join(RUN_FIELDS[1:])} FROM strategy_runs WHERE id = ?",
                                   (run_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"No strategy run {run_id!r}.")
        return dict(zip(RUN_FIELDS, row))

    def results(self, run_id: str) -> pd.DataFrame:
        cursor = self.db.conn.execute("SELECT account_id, rule_name, result, error FROM strategy_results "
                                      "WHERE run_id = ? ORDER BY rowid", (run_id,))
        return pd.DataFrame(cursor.fetchall(), columns=["account_id", "rule_name", "result", "error"])

