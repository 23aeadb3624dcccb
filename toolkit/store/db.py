"""The SQLite connection: WAL, foreign keys, a busy timeout, and ``BEGIN IMMEDIATE`` writes that
queue in turn on the workspace's writer lock."""

from __future__ import annotations

import atexit
import os
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import sqlite_utils

from toolkit.errors import ConflictError
from toolkit.store import cache

#: seconds a writer waits for another writer before "database is locked"
BUSY_TIMEOUT = 30
#: the most page cache a connection keeps, in KiB (SQLite's default is 2 MiB): the pages a book
#: run writes stay in memory until its commit instead of spilling to the WAL and being re-read
CACHE_KIB = 262_144


try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: writers fall back on SQLite's busy timeout alone
    fcntl = None  # type: ignore[assignment]  # the module, or None off POSIX (mypy checks for POSIX)

#: every Store not closed yet: closed at interpreter exit, so that a kernel or script that ends
#: without ``close()`` leaves every committed write in the database file itself, not only in its WAL
_OPEN: weakref.WeakSet[Store] = weakref.WeakSet()


class BusyError(ConflictError):
    """Another writer has held the workspace longer than the busy timeout; nothing was written."""

    def __init__(self, path: str | Path, waited: float) -> None:
        super().__init__(f"The workspace {path} is busy: another writer has held it for more than {waited:g} s "
                         f"(a stopped or hung process holding {path}.lock?). Nothing was saved; try again, or "
                         "end that process.")
        self.path = str(path)


class Store(sqlite_utils.Database):
    """A workspace connection with its writer lock: ``<file>.lock``, taken with ``flock(LOCK_EX)``
    around every write transaction.

    Why: SQLite's busy handler polls, so a process that writes in a loop can take the write lock
    again before a waiting process polls, and starve it past the busy timeout ("database is
    locked"; measured: waits of 5 s with 2 processes placing orders). ``flock`` waiters sleep in
    the kernel and are woken as the lock is released, so writers take turns. A process that dies
    releases its lock at once. Writers from outside the toolkit still queue on the busy timeout.
    """

    def __init__(self, conn: sqlite3.Connection, path: str | Path, timeout: float = BUSY_TIMEOUT) -> None:
        super().__init__(conn)
        self.path = str(path)
        self.timeout = timeout
        self.closed = False
        self.writer_lock: TextIO | None = None
        self.checkpointer = None if self.path == ":memory:" else Checkpointer(path)
        if fcntl is not None and self.path != ":memory:":
            try:
                self.writer_lock = open(f"{path}.lock", "a")
            except OSError:  # a read-only folder: the busy timeout alone
                self.writer_lock = None
        _OPEN.add(self)

    def lock(self) -> TextIO | None:
        """Queue on the writer lock for at most :attr:`timeout` seconds, then :class:`BusyError`.
        Returns the open file that holds the lock (give it to :meth:`unlock`)."""
        if self.writer_lock is None:
            return None
        try:
            fcntl.flock(self.writer_lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return self.writer_lock
        except BlockingIOError:
            return self._wait_for_lock(self.writer_lock)

    def unlock(self, holder: TextIO | None) -> None:
        if holder is None:
            return
        fcntl.flock(holder, fcntl.LOCK_UN)
        if holder is not self.writer_lock:
            holder.close()

    def _wait_for_lock(self, lock: TextIO) -> TextIO:
        """Wait in the kernel's queue (``flock`` waiters sleep and are woken in turn, unlike SQLite's
        polling busy handler), on a thread, at most :attr:`timeout` seconds. ``flock`` itself has no
        timeout, so the thread waits on a descriptor of its own (a lock belongs to its open file);
        if the wait is given up, the thread closes that file, releasing the lock, once it gets it."""
        handle = open(lock.name, "a")
        got, state = threading.Event(), threading.Lock()
        abandoned: list[bool] = []

        def wait() -> None:
            fcntl.flock(handle, fcntl.LOCK_EX)
            with state:
                if abandoned:
                    handle.close()
                else:
                    got.set()

        threading.Thread(target=wait, name=f"writer lock {self.path}", daemon=True).start()
        if got.wait(self.timeout):
            return handle
        with state:
            if got.is_set():
                return handle
            abandoned.append(True)
        raise BusyError(self.path, self.timeout)

    def close(self) -> None:
        """Copy the WAL back (its checkpointer's last checkpoint), close the connection (the last one
        to close removes the WAL), release the lock file. Safe to call twice."""
        if self.closed:
            return
        self.closed = True
        _OPEN.discard(self)
        cache.forget(self)  # its memo's watcher connection first: the last connection removes the WAL
        if self.checkpointer is not None:
            self.checkpointer.stop()
        super().close()
        if self.writer_lock is not None:
            self.writer_lock.close()


@atexit.register
def _close_all() -> None:
    for store in list(_OPEN):
        try:
            store.close()
        except Exception:  # noqa: BLE001 - exiting: a file already gone has nothing to save
            pass


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


def backup(db: sqlite_utils.Database, target: str | Path) -> Path:
    """Copy the open workspace ``db`` to ``target`` through SQLite's online backup API: a consistent
    snapshot with every committed write, WAL included, even while other connections write
    (copying the ``.db`` file alone can miss what is still in the ``-wal``, or pair it with a
    stale one). ``target`` is replaced; it is a single file in rollback-journal mode until opened."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    leftovers: tuple[str | Path, ...] = (target, *lock_files(target))
    for leftover in leftovers:
        if os.path.exists(leftover) and not str(leftover).endswith(".lock"):
            os.remove(leftover)
    out = sqlite3.connect(str(target))
    try:
        db.conn.backup(out)
        out.execute("PRAGMA journal_mode = DELETE")
    finally:
        out.close()
    return target


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
    store = db if isinstance(db, Store) else None
    holder = store.lock() if store is not None else None
    try:
        try:
            db.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:  # a writer outside the toolkit held it past the busy timeout
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            raise BusyError(getattr(db, "path", "?"), BUSY_TIMEOUT) from exc
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
        if store is not None:
            store.unlock(holder)
