"""Event subscribers: Python callbacks and signed HTTP webhooks, with a delivery log.

A :class:`Dispatcher` hands every event of the ``events`` table that a subscriber has not yet
finished (delivered, or failed for good) to that subscriber, in event id order, and logs each
attempt in ``event_deliveries``. Call :meth:`Dispatcher.dispatch` after a write has committed:
the HTTP calls and callbacks run outside any transaction, and each log row is its own short
``BEGIN IMMEDIATE`` write.

Webhook request: ``POST <url>`` with the JSON body
``{"id", "type", "resource_id", "payload", "created_at"}`` (UTF-8) and the headers
``Content-Type: application/json``, ``X-Toolkit-Event: <type>``, ``X-Toolkit-Delivery: <event id>``
and ``X-Toolkit-Signature: sha256=<hex>``, where ``<hex>`` is the HMAC-SHA256 of the exact body
bytes keyed with the subscriber's secret (a str secret is UTF-8 encoded). Receivers check it with
:func:`verify_signature` on the raw body before parsing it. A 2xx answer is ``DELIVERED``;
anything else (another status, a redirect, a connection error, a timeout) is retried after
``backoff * 2**(attempt - 1)`` seconds, ``retries`` times, each failed attempt logged
``RETRYING`` and the last one ``FAILED``. A callback that raises is logged ``FAILED`` at once.

Subscriptions live in memory; the delivery log is in the workspace, so a subscriber that is
registered again under the same name resumes where it stopped, and a new one receives the
events already stored.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from heapq import merge

import pandas as pd
import sqlite_utils

from toolkit.errors import ConflictError, NotFoundError, Problems
from toolkit.store.db import write
from toolkit.store.deliveries import DeliveryRepository
from toolkit.store.repositories import now

SIGNATURE_HEADER = "X-Toolkit-Signature"
_SCHEME = "sha256="
#: ``*``, an exact type (``PORTFOLIO_ORDER.FILLED``) or every type under a prefix (``PORTFOLIO_ORDER.*``)
_PATTERN = re.compile(r"^(\*|[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*(\.\*)?)$")
#: characters of an error kept in the delivery log
_MAX_ERROR = 500
#: events read per query while dispatching
_PAGE = 500


def sign(body: bytes, secret: bytes | str) -> str:
    """The ``X-Toolkit-Signature`` value of ``body``: ``sha256=`` and the hex HMAC-SHA256."""
    return _SCHEME + hmac.new(_key(secret), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, header: str | None, secret: bytes | str) -> bool:
    """True when ``header`` is the signature of the raw ``body`` with ``secret`` (constant time)."""
    if not header or not secret:
        return False
    return hmac.compare_digest(sign(body, secret).encode(), header.strip().encode("utf-8", "replace"))


def _key(secret: bytes | str) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)


@dataclass(frozen=True)
class Subscription:
    """A subscriber: a ``callback(event)`` or a webhook ``url`` signed with ``secret``.

    ``types`` are event-type patterns (``PORTFOLIO_ORDER.*``, ``PORTFOLIO_ORDER.FILLED``, ``*``);
    empty means every type.
    """

    name: str
    types: tuple[str, ...] = ()
    callback: Callable[[dict], object] | None = None
    url: str | None = None
    secret: bytes | None = field(default=None, repr=False)
    retries: int = 3
    backoff: float = 0.5
    timeout: float = 5.0

    def matches(self, type_: str) -> bool:
        return not self.types or any(
            p == "*" or p == type_ or (p.endswith(".*") and type_.startswith(p[:-1])) for p in self.types)

    @property
    def attempts(self) -> int:
        """How many times one event is tried: once for a callback, ``retries + 1`` for a webhook."""
        return 1 if self.callback is not None else self.retries + 1


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a delivery: it surfaces as an HTTPError and is retried."""

    def redirect_request(self, *args, **kwargs) -> None:
        return None


class Dispatcher:
    """Delivers the workspace's events to its subscribers; ``sleep`` waits between retries."""

    def __init__(self, db: sqlite_utils.Database, sleep: Callable[[float], object] = time.sleep) -> None:
        self.db = db
        self.sleep = sleep
        self.deliveries = DeliveryRepository(db)
        self._subscriptions: dict[str, Subscription] = {}
        self._opener = urllib.request.build_opener(_NoRedirect)
        self._running = threading.Lock()

    @property
    def subscriptions(self) -> list[Subscription]:
        return list(self._subscriptions.values())

    def subscribe_callback(self, name: str, callback: Callable[[dict], object],
                           types: Sequence[str] | str = ()) -> Subscription:
        """Call ``callback(event)`` with each matching event (a dict shaped like the webhook body)."""
        problems = Problems()
        patterns = self._check_common(name, types, problems)
        if not callable(callback):
            problems.add("callback", "must be a function taking the event dict")
        problems.raise_if_any("subscription")
        return self._add(Subscription(name, patterns, callback=callback))

    def subscribe_webhook(self, name: str, url: str, secret: bytes | str, types: Sequence[str] | str = (),
                          retries: int = 3, backoff: float = 0.5, timeout: float = 5.0) -> Subscription:
        """POST each matching event to ``url``, signed with ``secret`` (see the module docstring)."""
        problems = Problems()
        patterns = self._check_common(name, types, problems)
        parts = urllib.parse.urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            problems.add("url", f"{url!r} is not an http:// or https:// URL with a host")
        if not isinstance(secret, (bytes, bytearray, str)) or not secret:
            problems.add("secret", "must be a non-empty str or bytes shared with the receiver")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            problems.add("retries", f"must be a whole number >= 0, not {retries!r}")
        for path, value in (("backoff", backoff), ("timeout", timeout)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                problems.add(path, f"must be a number of seconds >= 0, not {value!r}")
        if timeout == 0:
            problems.add("timeout", "must be more than 0 seconds")
        problems.raise_if_any("subscription")
        return self._add(Subscription(name, patterns, url=url, secret=_key(secret), retries=retries,
                                      backoff=float(backoff), timeout=float(timeout)))

    def unsubscribe(self, name: str) -> None:
        """Stop delivering to ``name``; its delivery log stays."""
        if self._subscriptions.pop(name, None) is None:
            raise NotFoundError(f"No subscriber is named {name!r}; subscribers: {sorted(self._subscriptions)}.")

    def dispatch(self) -> int:
        """Deliver every unfinished event to every matching subscriber, in event id order.

        Returns the number of (event, subscriber) deliveries attempted; retries of one delivery
        count once. Refuses to run inside an open transaction, which it would hold across the
        HTTP calls. A call made while a dispatch is running (a callback that writes, another
        thread) returns 0 at once: the running dispatch reads new events as it goes.
        """
        if self.db.conn.in_transaction:
            raise ConflictError("Dispatch events after the write has committed, not inside its transaction.")
        if not self._running.acquire(blocking=False):
            return 0
        try:
            order = {name: i for i, name in enumerate(self._subscriptions)}
            streams = [self._pending(s) for s in self._subscriptions.values()]
            count = 0
            for _, _, event, subscription in merge(*streams, key=lambda item: (item[0], order[item[1]])):
                self._deliver(subscription, event)
                count += 1
            return count
        finally:
            self._running.release()

    def log(self, event_id: int | None = None, subscriber: str | None = None) -> pd.DataFrame:
        """The delivery attempts (``id, event_id, subscriber, attempt, status, http_status, error, at``)."""
        return self.deliveries.log(event_id, subscriber)

    # -- internals -------------------------------------------------------------------------

    def _check_common(self, name: str, types: Sequence[str] | str, problems: Problems) -> tuple[str, ...]:
        if not isinstance(name, str) or not name.strip():
            problems.add("name", "must be a non-empty string")
        elif name in self._subscriptions:
            problems.add("name", f"{name!r} is already subscribed; unsubscribe it first or pick another name")
        if isinstance(types, str):
            types = (types,)
        if not isinstance(types, (list, tuple)):
            problems.add("types", "must be a list of event-type patterns")
            return ()
        for i, pattern in enumerate(types):
            if not isinstance(pattern, str) or not _PATTERN.match(pattern):
                problems.add(f"types[{i}]", f"{pattern!r} is not an event type or a pattern like 'PORTFOLIO_ORDER.*'")
        return tuple(types)

    def _add(self, subscription: Subscription) -> Subscription:
        self._subscriptions[subscription.name] = subscription
        return subscription

    def _pending(self, subscription: Subscription) -> Iterator[tuple[int, str, dict, Subscription]]:
        """The subscriber's unfinished events, read a page at a time (no cursor stays open)."""
        after = 0
        while page := self.deliveries.pending(subscription.name, subscription.types, after, _PAGE):
            for event in page:
                yield event["id"], subscription.name, event, subscription
            after = page[-1]["id"]

    def _deliver(self, subscription: Subscription, event: dict) -> None:
        body = json.dumps(event, separators=(",", ":"), default=str).encode("utf-8")
        for attempt in range(1, subscription.attempts + 1):
            if subscription.callback is not None:
                http_status, error = self._call(subscription, body)
            else:
                http_status, error = self._post(subscription, event, body)
            last = attempt == subscription.attempts
            status = "DELIVERED" if error is None else "FAILED" if last else "RETRYING"
            with write(self.db):
                self.deliveries.record(event["id"], subscription.name, attempt, status, http_status, error,
                                       now(precise=True))
            if status != "RETRYING":
                return
            self.sleep(subscription.backoff * 2 ** (attempt - 1))

    @staticmethod
    def _call(subscription: Subscription, body: bytes) -> tuple[None, str | None]:
        try:
            subscription.callback(json.loads(body))  # a fresh copy: a callback cannot alter the next one's event
        except Exception as exc:  # noqa: BLE001 - a subscriber's bug must not stop dispatch
            return None, _text(exc)
        return None, None

    def _post(self, subscription: Subscription, event: dict, body: bytes) -> tuple[int | None, str | None]:
        request = urllib.request.Request(subscription.url, data=body, method="POST", headers={
            "Content-Type": "application/json", "X-Toolkit-Event": event["type"],
            "X-Toolkit-Delivery": str(event["id"]), SIGNATURE_HEADER: sign(body, subscription.secret)})
        try:
            with self._opener.open(request, timeout=subscription.timeout) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            exc.close()
            return exc.code, f"HTTP {exc.code} {exc.reason}"
        except urllib.error.URLError as exc:
            return None, _text(exc.reason) if isinstance(exc.reason, BaseException) else str(exc.reason)
        except (OSError, http.client.HTTPException) as exc:  # timeouts while reading, dropped connections
            return None, _text(exc)
        return status, None if 200 <= status < 300 else f"HTTP {status}"


def _text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:_MAX_ERROR]
