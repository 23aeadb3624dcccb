"""What a façade resource is given of its workspace: never the whole :class:`Workspace`, only the
connection, its write transactions, the market clock, event dispatch and the file's path.

Each resource of :mod:`toolkit.workspace` takes a :class:`Context` and the few sibling resources it
calls (``Orders(ctx, accounts=...)``); nothing below the workspace floor imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from toolkit.store import write
from toolkit.workspace.dispatch import Dispatcher


class Context:
    """The connection ``db`` of the workspace file at ``path``, :meth:`transaction`, the market
    clock (:attr:`clock`, read afresh on each use) and the event :attr:`dispatcher`."""

    def __init__(self, db: sqlite_utils.Database, path: Path, clock: Callable[[], str],
                 dispatcher: Dispatcher) -> None:
        self.db = db
        self.path = path
        self.dispatcher = dispatcher
        self._clock = clock

    @property
    def clock(self) -> str:
        """The market clock: the business date a write without a date of its own takes (see
        ``Workspace.clock``)."""
        return self._clock()

    @contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """One ``BEGIN IMMEDIATE`` write transaction; once the outermost one commits, the callback
        subscribers get the new events in this thread and the webhook worker is woken (no HTTP
        request runs here), never while the write lock is held."""
        outer = not self.db.conn.in_transaction
        with write(self.db):
            yield self.db
        if outer:
            self.dispatcher.after_commit()
