from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from toolkit.errors import Problems
from toolkit.store.events import EventRepository
from toolkit.validation import read_int, shown
from toolkit.workspace.context import Context

#: the most events one ``events.list`` answers
MAX_EVENTS = 1_000_000


class Events:
    """The events written by every create, update and state change, and their subscribers: Python
    callbacks or HTTP webhooks signed with HMAC-SHA256 (see :mod:`toolkit.trading.events`)."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._repo = EventRepository(ctx.db)

    def list(self, resource_id: str | None = None, type: str | None = None, after: int = 0,
             limit: int = 1000) -> pd.DataFrame:
        """Stored events with an id above ``after``, oldest first, at most ``limit`` (1 to 1,000,000),
        optionally of one resource and one exact type."""
        problems = Problems()
        for path, value in (("resource_id", resource_id), ("type", type)):
            if value is not None and (not isinstance(value, str) or not 0 < len(value) <= 200):
                problems.add(path, f"{shown(value)} is not a text of 1 to 200 characters")
        read_int(after, "after", problems, low=0, high=2**63 - 1)  # (SQLite's integers)
        read_int(limit, "limit", problems, low=1, high=MAX_EVENTS)
        problems.raise_if_any("events request")
        return self._repo.list(resource_id, type, after, limit)

    def subscribe_callback(self, name: str, callback, types: Sequence[str] = (), replay: bool = False):
        """Call ``callback(event)`` after each committed write, in the writing thread; a new ``name``
        starts from now unless ``replay=True`` (see :meth:`Dispatcher.subscribe_callback`)."""
        return self._ctx.dispatcher.subscribe_callback(name, callback, types, replay)

    def subscribe_webhook(self, name: str, url: str, secret: str | bytes, types: Sequence[str] = (),
                          retries: int = 3, backoff: float = 0.5, timeout: float = 5.0, replay: bool = False,
                          allow_private: bool = False):
        """POST each event to ``url`` from a background worker, signed with ``secret``; a new ``name``
        starts from now unless ``replay=True``; private addresses need ``allow_private=True`` (see
        :meth:`Dispatcher.subscribe_webhook`)."""
        return self._ctx.dispatcher.subscribe_webhook(name, url, secret, types, retries, backoff, timeout, replay,
                                                     allow_private)

    def unsubscribe(self, name: str) -> None:
        self._ctx.dispatcher.unsubscribe(name)

    def dispatch(self) -> int:
        """Deliver what is not delivered yet now, webhooks included, in this thread, and wait (writes
        do not need it: callbacks run after each commit and webhooks go from the worker)."""
        return self._ctx.dispatcher.dispatch()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until the webhook worker has sent every event committed so far (at most ``timeout``
        seconds); True when it has."""
        return self._ctx.dispatcher.flush(timeout)

    def deliveries(self, event_id: int | None = None, subscriber: str | None = None) -> pd.DataFrame:
        """The delivery log: every attempt with its status, HTTP status and error (of one event id
        and one subscriber name when given)."""
        problems = Problems()
        if event_id is not None:
            read_int(event_id, "event_id", problems, low=1)
        if subscriber is not None and not isinstance(subscriber, str):
            problems.add("subscriber", f"{shown(subscriber)} is not a subscriber name")
        problems.raise_if_any("deliveries request")
        return self._ctx.dispatcher.log(event_id, subscriber)
