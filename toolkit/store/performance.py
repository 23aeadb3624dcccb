"""The performance master data of reported portfolios, and which portfolios have anything to report
(parameterised SQL)."""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlite_utils

from toolkit.store.db import write


class PerformanceRepository:
    """The ``performance_master`` table, and the PORTFOLIO accounts with filled orders."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def save_master(self, portfolio_id: str, measurement_start: str, daily_start: str, benchmark_id: str | None,
                    annual_fee: str, stamp: str, reference: str | None = None) -> None:
        """Insert or replace one portfolio's master data (``reference``: its id in the performance
        interface, unique; the caller checks :meth:`owner` first)."""
        with write(self.db):
            self.db.conn.execute(
                "INSERT INTO performance_master (portfolio_id, performance_measurement_start_date, "
                "daily_performance_start_date, benchmark_id, annual_fee, updated_at, reference) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (portfolio_id) DO UPDATE SET performance_measurement_start_date = "
                "excluded.performance_measurement_start_date, daily_performance_start_date = "
                "excluded.daily_performance_start_date, benchmark_id = excluded.benchmark_id, "
                "annual_fee = excluded.annual_fee, updated_at = excluded.updated_at, reference = excluded.reference",
                (portfolio_id, measurement_start, daily_start, benchmark_id, annual_fee, stamp, reference))

    def owner(self, reference: str) -> str | None:
        """The account whose master data carry ``reference`` (the interface's ``portfolioId``), if any."""
        row = self.db.conn.execute("SELECT portfolio_id FROM performance_master WHERE reference = ?",
                                   (reference,)).fetchone()
        return row[0] if row else None

    def masters(self, ids: Sequence[str]) -> dict[str, tuple]:
        """``portfolio_id -> (measurement start, daily start, benchmark_id, annual_fee, reference)`` of those
        stored."""
        rows = self.db.conn.execute(
            "SELECT portfolio_id, performance_measurement_start_date, daily_performance_start_date, benchmark_id, "
            "annual_fee, reference FROM performance_master WHERE portfolio_id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(ids)),)).fetchall()
        return {r[0]: r[1:] for r in rows}

    def reported(self) -> list[str]:
        """The PORTFOLIO accounts with at least one filled or settled order, oldest first."""
        return [r[0] for r in self.db.conn.execute(
            "SELECT DISTINCT o.account_id FROM portfolio_orders o JOIN accounts a ON a.id = o.account_id "
            "WHERE o.state IN ('FILLED', 'SETTLED') AND length(o.legs) > 0 AND a.type = 'PORTFOLIO' "
            "ORDER BY a.created_at, a.id")]
