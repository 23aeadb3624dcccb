"""Reads and writes of the risk platform's uploaded portfolios. Parameterised SQL only; writes
inside ``write()`` (the façade's ``ws.transaction()``).

A portfolio is one row of ``risk_portfolios`` (capital, currency and the payload as uploaded,
verbatim JSON) with its positions and wishlist rows in upload order (``position``). Numbers that
were sent are stored as decimal text, never through a float.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd
import sqlite_utils

from toolkit.store.repositories import _frame

#: the columns of a position row, in table order after ``portfolio_id`` and ``position``
POSITION_COLUMNS = ("isin", "currency", "quantity", "open_date", "open_level", "close_date", "close_level")


class RiskPortfolioRepository:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def exists(self, portfolio_id: str) -> bool:
        return self.db.conn.execute("SELECT 1 FROM risk_portfolios WHERE id = ?",
                                    (portfolio_id,)).fetchone() is not None

    def save(self, portfolio_id: str, name: str | None, capital: str, currency: str, payload: str,
             positions: Iterable[Sequence], wishlist: Iterable[Sequence], stamp: str) -> None:
        """Insert a portfolio, or replace every part of an existing one (its ``created_at`` kept).
        ``positions`` are tuples in :data:`POSITION_COLUMNS` order, ``wishlist`` ``(isin, currency)``."""
        self.db.conn.execute(
            "INSERT INTO risk_portfolios (id, name, capital, currency, payload, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name, "
            "capital = excluded.capital, currency = excluded.currency, payload = excluded.payload, "
            "updated_at = excluded.updated_at",
            (portfolio_id, name, capital, currency, payload, stamp, stamp))
        for table in ("risk_portfolio_positions", "risk_portfolio_wishlist"):
            self.db.conn.execute(f"DELETE FROM {table} WHERE portfolio_id = ?", (portfolio_id,))
        self.db.conn.executemany(
            f"INSERT INTO risk_portfolio_positions (portfolio_id, position, {', '.join(POSITION_COLUMNS)}) "
            f"VALUES ({', '.join('?' * (len(POSITION_COLUMNS) + 2))})",
            [(portfolio_id, n, *row) for n, row in enumerate(positions)])
        self.db.conn.executemany(
            "INSERT INTO risk_portfolio_wishlist (portfolio_id, position, isin, currency) VALUES (?, ?, ?, ?)",
            [(portfolio_id, n, *row) for n, row in enumerate(wishlist)])

    def portfolios(self, ids: Sequence[str] | None = None) -> pd.DataFrame:
        """``id, name, capital, currency, payload, created_at, updated_at`` of ``ids`` (all when None),
        oldest first."""
        where, params = self._where("id", ids)
        return _frame(self.db, f"SELECT id, name, capital, currency, payload, created_at, updated_at "
                               f"FROM risk_portfolios{where} ORDER BY created_at, id", params)

    def positions(self, ids: Sequence[str]) -> pd.DataFrame:
        """The positions of the portfolios, in upload order."""
        where, params = self._where("portfolio_id", ids)
        return _frame(self.db, f"SELECT portfolio_id, position, {', '.join(POSITION_COLUMNS)} "
                               f"FROM risk_portfolio_positions{where} ORDER BY portfolio_id, position", params)

    def wishlist(self, ids: Sequence[str]) -> pd.DataFrame:
        where, params = self._where("portfolio_id", ids)
        return _frame(self.db, f"SELECT portfolio_id, position, isin, currency FROM risk_portfolio_wishlist{where} "
                               "ORDER BY portfolio_id, position", params)

    @staticmethod
    def _where(column: str, ids: Sequence[str] | None) -> tuple[str, list]:
        if ids is None:
            return "", []
        return f" WHERE {column} IN ({', '.join('?' * len(ids))})", list(ids)
