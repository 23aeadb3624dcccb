"""Answers remembered until the workspace's data change: the data version and the memo of a connection.

The apps ask the same questions on every interaction (the instrument table, a portfolio's daily
returns, an index's price history): they are read and computed once, then served from memory
until a write reaches the workspace file.

**The data version** of a workspace connection (:meth:`Memo.version`) is SQLite's
``PRAGMA data_version`` read on a small watcher connection of the memo's own to the same file:
it changes whenever *any* connection commits to the file: this one (a trade, an upload), another
kernel, the ``toolkit`` command line, the webhook worker. A write to a connection's temporary
tables (the store fills one with ids for its joins) is no commit to the file and changes nothing;
``total_changes`` would count it, so it is not used. A database with no file (``:memory:``) has
no watcher: there the version is the connection's ``total_changes``, which only changes too often.

A memo (:func:`memo`, one per connection) drops everything it holds when the version differs from
the one its answers were computed at. Inside an open transaction of its connection nothing is
remembered nor served (:meth:`Memo.get` computes afresh): what it reads there may be rolled back.
"""

from __future__ import annotations

import copy
import sqlite3
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

import sqlite_utils

T = TypeVar("T")

#: answers a memo holds at most; the least recently used goes first (an app's session asks many
#: periods and portfolios between two writes: the memory stays bounded)
MAX_ANSWERS = 64
#: the memo of each open workspace connection (dropped with it)
_MEMOS: weakref.WeakKeyDictionary[sqlite_utils.Database, Memo] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


class Memo:
    """Answers of one connection by key, valid for one data version (see the module docstring).

    It holds the :data:`MAX_ANSWERS` answers used last. :meth:`get` returns a copy of the
    remembered answer (``copy(deep=True)`` for pandas and xarray objects, ``copy.deepcopy``
    otherwise), so that a caller changing its answer in place cannot change the next caller's.
    ``hits`` and ``misses`` count the answers served and computed."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn  # (not the Database: the memo must not keep the Database it is keyed on alive)
        self._lock = threading.RLock()
        self._version: int | None = None
        self._answers: OrderedDict[Hashable, object] = OrderedDict()
        self.hits = self.misses = 0
        files = [row[2] for row in conn.execute("PRAGMA database_list") if row[1] == "main"]
        self._watcher = sqlite3.connect(files[0], check_same_thread=False, isolation_level=None) \
            if files and files[0] else None

    def version(self) -> int:
        """The data version: it changes with every commit to the file, by any connection."""
        with self._lock:
            if self._watcher is None:
                return self._conn.total_changes
            return int(self._watcher.execute("PRAGMA data_version").fetchone()[0])

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The answer for ``key`` at the current data version, computed with ``compute()`` when it is
        not remembered (or inside a transaction, where nothing is remembered)."""
        if self._conn.in_transaction:
            return compute()
        with self._lock:
            version = self.version()
            if version != self._version:
                self._answers.clear()
                self._version = version
            if key in self._answers:
                self.hits += 1
                self._answers.move_to_end(key)
                return _copy(self._answers[key])  # type: ignore[return-value]
        self.misses += 1
        answer = compute()
        with self._lock:
            if self.version() == version and not self._conn.in_transaction:  # nothing was written meanwhile
                self._answers[key] = _copy(answer)
                while len(self._answers) > MAX_ANSWERS:
                    self._answers.popitem(last=False)
        return answer

    def clear(self) -> None:
        """Forget every answer."""
        with self._lock:
            self._answers.clear()
            self._version = None

    def close(self) -> None:
        with self._lock:
            if self._watcher is not None:
                self._watcher.close()
                self._watcher = None

    def __del__(self) -> None:
        watcher = getattr(self, "_watcher", None)
        if watcher is not None:
            watcher.close()


def _copy(answer: object) -> object:
    deep = getattr(answer, "copy", None)
    if callable(deep) and type(answer).__module__.split(".")[0] in ("pandas", "xarray"):
        return deep(deep=True)
    return copy.deepcopy(answer)


def forget(db: sqlite_utils.Database) -> None:
    """Drop ``db``'s memo and close its watcher connection (when the workspace closes: the last
    connection to close removes the WAL, so the watcher must not outlive it)."""
    with _LOCK:
        found = _MEMOS.pop(db, None)
    if found is not None:
        found.close()


def memo(db: sqlite_utils.Database) -> Memo:
    """The memo of ``db``'s connection (every façade resource on that connection shares it)."""
    with _LOCK:
        found = _MEMOS.get(db)
        if found is None:
            found = _MEMOS[db] = Memo(db.conn)
        return found
