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

    def name_taken(self, name: str, other_than: int | None = None) -> bool:
        """Whether a strategy other than ``other_than`` (a ``strategy_id``) is called ``name``."""
        return self.db.conn.execute("SELECT 1 FROM strategies WHERE name = ? AND strategy_id IS NOT ?",
                                    (name, other_than)).fetchone() is not None

    def exists(self, strategy_id: int) -> bool:
        return self.db.conn.execute("SELECT 1 FROM strategies WHERE strategy_id = ?",
                                    (strategy_id,)).fetchone() is not None

    def save(self, key: str, name: str, rules: list[dict], stamp: str) -> int:
        """A new strategy (``key`` its internal id); returns its ``strategy_id``, the next whole number
        from 100 (the risk platform's ids are whole numbers: line 1049)."""
        with write(self.db):
            number = self.db.conn.execute("SELECT COALESCE(MAX(strategy_id), 99) + 1 FROM strategies").fetchone()[0]
            self.db.conn.execute("INSERT INTO strategies (id, strategy_id, name, rules, created_at) "
                                 "VALUES (?, ?, ?, ?, ?)", (key, number, name, json.dumps(rules), stamp))
        return number

    def replace(self, strategy_id: int, name: str, rules: list[dict]) -> None:
        """The stored strategy ``strategy_id`` gets this name and these rules."""
        with write(self.db):
            self.db.conn.execute("UPDATE strategies SET name = ?, rules = ?, original = NULL WHERE strategy_id = ?",
                                 (name, json.dumps(rules), strategy_id))

    def load(self, strategy_id: int | None = None) -> list[Strategy]:
        """Every strategy (or the one numbered ``strategy_id``) with its latest run's status."""
        where, params = ("WHERE s.strategy_id = ?", (strategy_id,)) if strategy_id is not None else ("", ())
        rows = self.db.conn.execute(
            "SELECT s.id, s.strategy_id, s.name, s.rules, s.created_at, r.status, r.percentage_complete, r.id, "
            "COALESCE(r.finished_at, r.started_at) FROM strategies s "
            "LEFT JOIN strategy_runs r ON r.id = (SELECT id FROM strategy_runs WHERE strategy_id = s.id "
            f"ORDER BY started_at DESC, rowid DESC LIMIT 1) {where} ORDER BY s.strategy_id", params).fetchall()
        return [Strategy(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5] or "NotRun", float(r[6] or 0.0), r[7], r[8])
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
        """A run's ``run_id``, ``strategy_id`` (the strategy's number), ``status``, ``percentage_complete``,
        ``started_at``, ``finished_at`` and ``error``."""
        row = self.db.conn.execute("SELECT r.id, s.strategy_id, r.status, r.percentage_complete, r.started_at, "
                                   "r.finished_at, r.error FROM strategy_runs r JOIN strategies s "
                                   "ON s.id = r.strategy_id WHERE r.id = ?", (run_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"No strategy run {run_id!r}.")
        return dict(zip(RUN_FIELDS, row))

    def results(self, run_id: str) -> pd.DataFrame:
        cursor = self.db.conn.execute("SELECT account_id, rule_name, result, error FROM strategy_results "
                                      "WHERE run_id = ? ORDER BY rowid", (run_id,))
        return pd.DataFrame(cursor.fetchall(), columns=["account_id", "rule_name", "result", "error"])

