"""The SQLite connection: WAL, foreign keys, a busy timeout, and ``BEGIN IMMEDIATE`` writes that
queue in turn on the workspace's writer lock."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

#: seconds a writer waits for another writer before "database is locked"
BUSY_TIMEOUT = 30


try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: writers fall back on SQLite's busy timeout alone
    fcntl = None


class Store(sqlite_utils.Database):
    """A workspace connection with its writer lock: ``<file>.lock``, taken with ``flock(LOCK_EX)``
    around every write transaction.

    Why: SQLite's busy handler polls, so a process that writes in a loop can take the write lock
    again before a waiting process polls, and starve it past the busy timeout ("database is
    locked"; measured: waits of 5 s with 2 processes placing orders). ``flock`` waiters sleep in
    the kernel and are woken as the lock is released, so writers take turns. A process that dies
    releases its lock at once. Writers from outside the toolkit still queue on the busy timeout.
    """

    def __init__(self, conn: sqlite3.Connection, path: str | Path) -> None:
        super().__init__(conn)
        self.writer_lock = None
        if fcntl is not None and str(path) != ":memory:":
            try:
                self.writer_lock = open(f"{path}.lock", "a")
            except OSError:  # a read-only folder: the busy timeout alone
                self.writer_lock = None

    def close(self) -> None:
        super().close()
        if self.writer_lock is not None:
            self.writer_lock.close()


def connect(path: str | Path) -> Store:
    """Open a workspace file with WAL journaling, ``foreign_keys=ON``, a 30 s busy timeout and its
    writer lock (:class:`Store`)."""
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT * 1000}")
    conn.execute("PRAGMA foreign_keys = ON")
    if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    return Store(conn, path)


def lock_files(path: str | Path) -> tuple[str, ...]:
    """The files SQLite and the writer lock keep beside a workspace file."""
    return f"{path}-wal", f"{path}-shm", f"{path}.lock"


@contextmanager
def write(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One write transaction, taken with ``BEGIN IMMEDIATE``: all of it is saved, or none.

    Writers first queue on the workspace's writer lock (:class:`Store`), then ``IMMEDIATE``
    takes SQLite's write lock up front, so two kernels writing at once take turns instead of
    failing with "database is locked" at commit. Nested calls join the outer transaction
    (sqlite-utils writes inside use savepoints).
    """
    if db.conn.in_transaction:
        yield db
        return
    lock = getattr(db, "writer_lock", None)
    if lock is not None:
        fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.conn.rollback()
            raise
        else:
            db.conn.commit()
    finally:
        if lock is not None:
            fcntl.flock(lock, fcntl.LOCK_UN)
