"""The SQLite connection: WAL, foreign keys, a busy timeout, and ``BEGIN IMMEDIATE`` writes."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

#: seconds a writer waits for another writer before "database is locked"
BUSY_TIMEOUT = 30


def connect(path: str | Path) -> sqlite_utils.Database:
    """Open a workspace file with WAL journaling, ``foreign_keys=ON`` and a 30 s busy timeout."""
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT * 1000}")
    conn.execute("PRAGMA foreign_keys = ON")
    if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    return sqlite_utils.Database(conn)


@contextmanager
def write(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One write transaction, taken with ``BEGIN IMMEDIATE``: all of it is saved, or none.

    ``IMMEDIATE`` takes the write lock up front, so two kernels writing at once queue on the
    busy timeout instead of failing with "database is locked" at commit. Nested calls join
    the outer transaction (sqlite-utils writes inside use savepoints).
    """
    if db.conn.in_transaction:
        yield db
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.conn.rollback()
        raise
    else:
        db.conn.commit()
