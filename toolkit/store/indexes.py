"""Reads and writes of the attribution indexes (benchmark portfolios with constituent weights).

An index is one row of ``indexes`` (name, weighting method, currency and the payload as sent,
verbatim JSON) and its constituents in payload order: ``shares`` for a cap-weighted index,
``weight`` for a fixed-weight one, neither for an equally weighted one (decimal text, never a
float). Parameterised SQL only; writes inside ``write()``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd
import sqlite_utils

from toolkit.store.repositories import _frame


def symbol_of(name: str) -> str:
    """The symbol an index gets from its name when none is given: its ASCII letters and digits in upper
    case, at most 20 ("S&P 20 cap-weighted" is ``SP20CAPWEIGHTED``); ``INDEX`` for a name without any."""
    return "".join(c for c in name.upper() if c.isascii() and c.isalnum())[:20] or "INDEX"


class IndexRepository:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def name_taken(self, name: str) -> bool:
        return self.db.conn.execute("SELECT 1 FROM indexes WHERE name = ?", (name,)).fetchone() is not None

    def symbol_taken(self, symbol: str) -> bool:
        return self.db.conn.execute("SELECT 1 FROM indexes WHERE symbol = ?", (symbol,)).fetchone() is not None

    def insert(self, index_id: str, name: str, symbol: str, method: str, currency: str, description: str | None,
               payload: str, constituents: Iterable[tuple[str, str | None, str | None]], stamp: str) -> None:
        """One index (``symbol``: what GET /index lists and ``index_symbol`` names) and its
        ``(instrument_id, shares, weight)`` constituents."""
        self.db.conn.execute(
            "INSERT INTO indexes (id, name, symbol, method, currency, description, payload, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (index_id, name, symbol, method, currency, description, payload, stamp))
        self.db.conn.executemany(
            "INSERT INTO index_constituents (index_id, position, instrument_id, shares, weight) "
            "VALUES (?, ?, ?, ?, ?)", [(index_id, n, *row) for n, row in enumerate(constituents)])

    def indexes(self, ids: Sequence[str] | None = None) -> pd.DataFrame:
        """``id, name, symbol, method, currency, description, payload, created_at, constituents`` (their count)."""
        where = "" if ids is None else f" WHERE i.id IN ({', '.join('?' * len(ids))})"
        return _frame(self.db, "SELECT i.id, i.name, i.symbol, i.method, i.currency, i.description, i.payload, "
                               "i.created_at, "
                               "(SELECT count(*) FROM index_constituents c WHERE c.index_id = i.id) AS constituents "
                               f"FROM indexes i{where} ORDER BY i.created_at, i.name", list(ids or []))

    def constituents(self, index_id: str) -> pd.DataFrame:
        """``instrument_id, shares, weight`` of one index, in payload order."""
        return _frame(self.db, "SELECT instrument_id, shares, weight FROM index_constituents WHERE index_id = ? "
                               "ORDER BY position", (index_id,))
