"""Reads and writes of the risk platform's uploaded portfolios. Parameterised SQL only; writes
inside ``write()`` (the façade's ``ws.transaction()``).

A portfolio is one row of ``risk_portfolios`` keyed by its ``client_reference`` (``id``): its capital
(``capital`` is the funds; ``available``, ``equity``), currency and the payload as uploaded, verbatim
JSON; with its positions and wishlist rows in upload order (``position``), each naming its instrument
by ``instrument_code`` and ``apiid`` (m017). Numbers that were sent are stored as decimal text, never
through a float; times as RFC 3339 text (``2024-01-03T15:43:45Z``).

:meth:`RiskPortfolioRepository.positions` also answers the columns analytics reads: ``quantity``
(the size, negative for a ``Short``), ``open_date`` / ``close_date`` (the UTC day of the open / close)
and ``open_level`` / ``close_level``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

import pandas as pd
import sqlite_utils

from toolkit.store.repositories import _frame

#: the columns of a position row, in table order after ``portfolio_id`` and ``position``
POSITION_COLUMNS = ("instrument_code", "apiid", "direction", "size", "level", "date_open", "close", "date_close",
                    "limit", "stop")
#: the columns of a wish, after ``portfolio_id`` and ``position``
WISH_COLUMNS = ("instrument_code", "apiid", "direction")
_POSITIONS = ", ".join(f'"{c}"' for c in POSITION_COLUMNS)


class RiskPortfolioRepository:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def exists(self, portfolio_id: str) -> bool:
        return self.db.conn.execute("SELECT 1 FROM risk_portfolios WHERE id = ?",
                                    (portfolio_id,)).fetchone() is not None

    def save(self, portfolio_id: str, name: str | None, capital: Sequence[str | None], currency: str, payload: str,
             positions: Iterable[Sequence], wishlist: Iterable[Sequence], stamp: str) -> None:
        """Insert a portfolio, or replace every part of an existing one (its ``created_at`` kept).
        ``capital`` is ``(funds, available, equity)``; ``positions`` are tuples in
        :data:`POSITION_COLUMNS` order, ``wishlist`` in :data:`WISH_COLUMNS` order."""
        funds, available, equity = capital
        self.db.conn.execute(
            "INSERT INTO risk_portfolios (id, name, capital, available, equity, currency, payload, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name, "
            "capital = excluded.capital, available = excluded.available, equity = excluded.equity, "
            "currency = excluded.currency, payload = excluded.payload, updated_at = excluded.updated_at",
            (portfolio_id, name, funds, available, equity, currency, payload, stamp, stamp))
        self._clear([portfolio_id])
        self.db.conn.executemany(
            f"INSERT INTO risk_portfolio_positions (portfolio_id, position, {_POSITIONS}) "
            f"VALUES ({', '.join('?' * (len(POSITION_COLUMNS) + 2))})",
            [(portfolio_id, n, *row) for n, row in enumerate(positions)])
        self.db.conn.executemany(
            f"INSERT INTO risk_portfolio_wishlist (portfolio_id, position, {', '.join(WISH_COLUMNS)}) "
            f"VALUES ({', '.join('?' * (len(WISH_COLUMNS) + 2))})",
            [(portfolio_id, n, *row) for n, row in enumerate(wishlist)])

    def delete(self, ids: Sequence[str] | None) -> list[str]:
        """Delete the portfolios ``ids`` (every one when None) with their positions and wishlists; the
        ids deleted, oldest first."""
        gone = list(self.portfolios(ids)["id"])
        self._clear(gone)
        self.db.conn.execute("DELETE FROM risk_portfolios WHERE id IN (SELECT value FROM json_each(?))",
                             (_json(gone),))
        return gone

    def _clear(self, ids: Sequence[str]) -> None:
        for table in ("risk_portfolio_positions", "risk_portfolio_wishlist"):
            self.db.conn.execute(f"DELETE FROM {table} WHERE portfolio_id IN (SELECT value FROM json_each(?))",
                                 (_json(ids),))

    def portfolios(self, ids: Sequence[str] | None = None) -> pd.DataFrame:
        """``id, name, capital, available, equity, currency, payload, created_at, updated_at`` of ``ids``
        (all when None), oldest first."""
        where, params = self._where("id", ids)
        return _frame(self.db, f"SELECT id, name, capital, available, equity, currency, payload, created_at, "
                               f"updated_at FROM risk_portfolios{where} ORDER BY created_at, id", params)

    def positions(self, ids: Sequence[str]) -> pd.DataFrame:
        """The positions of the portfolios, in upload order, with the columns analytics reads (the
        module docstring)."""
        where, params = self._where("portfolio_id", ids)
        return _frame(self.db, f"""
            SELECT portfolio_id, position, {_POSITIONS}, isin, currency,
                   CASE direction WHEN 'Short' THEN '-' || size ELSE size END AS quantity,
                   substr(date_open, 1, 10) AS open_date, level AS open_level,
                   substr(date_close, 1, 10) AS close_date, close AS close_level
            FROM risk_portfolio_positions{where} ORDER BY portfolio_id, position""", params)

    def wishlist(self, ids: Sequence[str]) -> pd.DataFrame:
        where, params = self._where("portfolio_id", ids)
        return _frame(self.db, f"SELECT portfolio_id, position, {', '.join(WISH_COLUMNS)}, isin, currency "
                               f"FROM risk_portfolio_wishlist{where} ORDER BY portfolio_id, position", params)

    @staticmethod
    def _where(column: str, ids: Sequence[str] | None) -> tuple[str, list]:
        if ids is None:
            return "", []
        return f" WHERE {column} IN (SELECT value FROM json_each(?))", [_json(ids)]


def _json(ids: Sequence[str]) -> str:
    return json.dumps(list(ids))
