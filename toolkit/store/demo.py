"""Build a workspace file from the shipped data in ``data/`` (the demo workspace)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from toolkit.market import sources
from toolkit.market.history import parse_history
from toolkit.schema import Timeframe
from toolkit.store.db import connect, lock_files, write
from toolkit.store.migrations import migrate
from toolkit.store.repositories import (
    FxRepository,
    InstrumentRepository,
    PriceRepository,
)

DEFAULT_PATH = sources.DATA / "demo.db"


def build(path: str | Path = DEFAULT_PATH, data: Path = sources.DATA, progress=None,
          populate: Callable[[Path], None] | None = None) -> Path:
    """Create the workspace at ``path`` from ``data/``: migrations, instruments, daily bars, ECB rates,
    then ``populate(path_being_built)`` if given (the workspace floor runs the demo book there).

    Every shipped series goes through the same validation as a user's upload.

    The file is built beside its target and renamed into place, so a reader never sees a
    half-built workspace, and an existing file is replaced only once the new one is whole.
    ``progress`` is an optional callable ``(done, total, label)``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".db", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o644)
    try:
        db = connect(tmp)
        migrate(db)
        table = sources.instruments(data)
        total = len(table) + 1
        with write(db):
            InstrumentRepository(db).insert(table)
            prices = PriceRepository(db)
            for done, (iid, frame) in enumerate(sources.series(data), start=1):
                _upload(prices, table.loc[iid], Timeframe.DAY, frame)
                if progress:
                    progress(done, total, table.loc[iid, "symbol"])
            for iid, timeframe, frame in sources.intraday(data):
                _upload(prices, table.loc[iid], timeframe, frame)
            FxRepository(db).insert(sources.fx_rates(data))
        if progress:
            progress(total, total, "ECB rates")
        if populate:
            populate(Path(tmp))
        db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.close()
        os.replace(tmp, path)
    finally:
        for leftover in (tmp, *lock_files(tmp)):
            if os.path.exists(leftover):
                os.remove(leftover)
    return path


def _upload(prices: PriceRepository, row: pd.Series, timeframe: Timeframe, frame: pd.DataFrame) -> None:
    """One shipped series of one timeframe, through the same validation as a user's upload."""
    upload = parse_history({"isin": row["isin"], "currency": row["currency"], "timeframe": int(timeframe),
                            "history": frame.rename(columns={"time": "timestamp"}).to_dict("records")})
    prices.upsert(str(row.name), timeframe, upload.frame)


def has_book(path: Path) -> bool:
    """True when the demo workspace already holds the demo book (built before the book existed: rebuild)."""
    import sqlite3

    with sqlite3.connect(path) as conn:
        try:
            return all(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] > 0
                       for table in ("performance_master", "indexes"))
        except sqlite3.OperationalError:
            return False
