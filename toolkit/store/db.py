"""The SQLite connection: WAL, foreign keys, a busy timeout, and ``BEGIN IMMEDIATE`` writes that
queue in turn on the workspace's writer lock."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

#: seconds a writer waits for another writer before "database is locked"
BUSY_TIMEOUT = 30
#: the most page cache a connection keeps, in KiB (SQLite's default is 2 MiB): the pages a book
#: run writes stay in memory until its commit instead of spilling to the WAL and being re-read
CACHE_KIB = 262_144


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
        self.checkpointer = None if str(path) == ":memory:" else Checkpointer(path)
        if fcntl is not None and str(path) != ":memory:":
            try:
                self.writer_lock = open(f"{path}.lock", "a")
            except OSError:  # a read-only folder: the busy timeout alone
                self.writer_lock = None

    def close(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.stop()
        super().close()
        if self.writer_lock is not None:
            self.writer_lock.close()


class Checkpointer:
    """Copies the WAL back into the database file after commits, in a background thread, so that
    no writer waits for it (SQLite's automatic checkpoint runs inside the ``COMMIT`` that crosses
    1,000 pages: about 0.6 s of a 100,000-account rebalancing). The SQLite documentation suggests
    this: disable the automatic checkpoints and run them from a separate thread
    (https://www.sqlite.org/wal.html#automatic_checkpoint).

    ``PRAGMA wal_checkpoint(PASSIVE)`` on its own connection: it never blocks readers or writers,
    and copies what no reader still needs; a checkpoint cut short (process exit) is safe, the WAL
    stays valid. Connections of other programs keep SQLite's automatic checkpoints."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._due = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def request(self) -> None:
        """Checkpoint soon (the thread starts on the first request)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"checkpoint {self.path}", daemon=True)
            self._thread.start()
        self._due.set()

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, check_same_thread=False)
        try:
            while True:
                self._due.wait()
                self._due.clear()
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                if self._stopping:
                    return
        except sqlite3.Error:  # the file went away (a deleted temporary workspace): nothing to copy
            return
        finally:
            conn.close()

    def stop(self) -> None:
        """Checkpoint once more, then end the thread."""
        if self._thread is not None:
            self._stopping = True
            self._due.set()
            self._thread.join()
            self._thread = None


def connect(path: str | Path) -> Store:
    """Open a workspace file with WAL journaling, ``foreign_keys=ON``, a 30 s busy timeout, a page
    cache of up to :data:`CACHE_KIB`, checkpoints by its :class:`Checkpointer` and its writer lock
    (:class:`Store`)."""
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT * 1000}")
    conn.execute("PRAGMA foreign_keys = ON")
    if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    conn.execute("PRAGMA wal_autocheckpoint = 0")  # the Checkpointer copies the WAL back, off the write path
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
            checkpointer = getattr(db, "checkpointer", None)
            if checkpointer is not None:
                checkpointer.request()
    finally:
        if lock is not None:
            fcntl.flock(lock, fcntl.LOCK_UN)
