"""Event subscribers: Python callbacks and signed HTTP webhooks, with a delivery log.

A :class:`Dispatcher` hands every event of the ``events`` table that a subscriber has not yet
finished (delivered, or failed for good) to that subscriber, in event id order, and logs each
attempt in ``event_deliveries``, each log row its own short ``BEGIN IMMEDIATE`` write.

Off the write path. Once a write has committed, ``Workspace.transaction()`` calls
:meth:`Dispatcher.after_commit`, which runs the callback subscribers at once in the caller's
thread (outside any transaction) and only *wakes* the webhook worker: a daemon thread per
dispatcher, with its own connection to the workspace file, that reads the outbox (the events
not finished for each webhook subscriber), POSTs, retries and logs. No HTTP request runs in the
writer's thread, so a write returns in the same time whether a receiver is up, down or hanging.
:meth:`Dispatcher.flush` waits until the worker has delivered what was committed before the
call (tests use it instead of sleeping); :meth:`Dispatcher.dispatch` delivers everything now,
callbacks and webhooks, in the calling thread, and waits (an explicit "deliver now");
:meth:`Dispatcher.close` stops the worker at once, aborting a request in flight (that attempt
is not logged: the event is sent again from its first attempt when the subscriber next runs).

Webhook request: ``POST <url>`` with the JSON body
``{"id", "type", "resource_id", "payload", "created_at"}`` (UTF-8) and the headers
``Content-Type: application/json``, ``X-Toolkit-Event: <type>``, ``X-Toolkit-Delivery: <event id>``
and ``X-Toolkit-Signature: sha256=<hex>``, where ``<hex>`` is the HMAC-SHA256 of the exact body
bytes keyed with the subscriber's secret (a str secret is UTF-8 encoded). Receivers check it with
:func:`verify_signature` on the raw body before parsing it, and use ``X-Toolkit-Delivery`` to
drop a repeat (delivery is at least once). A 2xx answer is ``DELIVERED``; anything else
(another status, a redirect, a connection error, a timeout) is retried after
``backoff * 2**(attempt - 1)`` seconds, ``retries`` times, each failed attempt logged
``RETRYING`` and the last one ``FAILED``. A callback that raises is logged ``FAILED`` at once.

Where webhooks may go. The host of a webhook URL is resolved when it is subscribed and again
before every attempt, and every address it resolves to is checked: public addresses and
loopback (127.0.0.0/8, ::1: a receiver on this machine, run by the user who subscribes it) are
allowed; private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local (169.254/16, fe80::/10),
shared (100.64/10), unspecified (0.0.0.0, ::), multicast and reserved addresses are refused
unless the subscription passes ``allow_private=True`` (a receiver on the user's own network).
Cloud metadata services (``metadata.google.internal``, ``instance-data``, 169.254.169.254,
fd00:ec2::254, ...) are refused always. A refused or unresolvable URL is a ``ValidationError`` on
``url`` at subscription; an address that has become forbidden since (DNS rebinding) fails the
attempt (``FAILED``, no request sent). The request goes to the address just checked (never to a
second lookup of the name) and not through an HTTP proxy of the environment.

Subscriptions live in memory; the delivery log and each subscriber's starting point are in the
workspace (``event_subscribers``). A new subscriber starts from now: it is offered the events
stored after it subscribed, unless it asks for ``replay=True`` (every stored event; a webhook's
backlog goes at once, in the worker, a callback's at the next committed write or ``dispatch()``).
A subscriber registered again under the same name resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import re
import socket
import sqlite3
import ssl
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from heapq import merge

import pandas as pd
import sqlite_utils

from toolkit.errors import ConflictError, NotFoundError, Problems
from toolkit.store.db import connect, write
from toolkit.store.deliveries import DeliveryRepository, workspace_file
from toolkit.store.repositories import now
from toolkit.validation import shown

SIGNATURE_HEADER = "X-Toolkit-Signature"
_SCHEME = "sha256="
#: ``*``, an exact type (``PORTFOLIO_ORDER.FILLED``) or every type under a prefix (``PORTFOLIO_ORDER.*``)
_PATTERN = re.compile(r"^(\*|[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*(\.\*)?)$")
#: characters of an error kept in the delivery log
_MAX_ERROR = 500
#: the bounds of a subscription: name and URL lengths, the secret's, retries, backoff and timeout (s)
MAX_NAME, MAX_URL, MAX_SECRET, MAX_RETRIES, MAX_BACKOFF, MAX_TIMEOUT = 200, 2000, 1024, 100, 3600.0, 300.0
#: events read per query while dispatching
_PAGE = 500
#: host names of cloud metadata services (they hand out the machine's credentials): never a receiver
METADATA_NAMES = frozenset({"metadata", "metadata.google.internal", "metadata.goog", "instance-data",
                            "instance-data.ec2.internal"})
#: addresses of cloud metadata services (AWS and most clouds, AWS ECS, AWS IPv6, Alibaba)
METADATA_ADDRESSES = frozenset(map(ipaddress.ip_address, ("169.254.169.254", "169.254.170.2", "fd00:ec2::254",
                                                          "100.100.100.200")))

log = logging.getLogger(__name__)


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


class RefusedAddress(Exception):
    """A webhook host that resolves to an address webhooks may not go to, or (``unresolved``) to none."""

    def __init__(self, message: str, unresolved: bool = False) -> None:
        super().__init__(message)
        self.unresolved = unresolved


def address_class(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why webhooks may not go to ``address`` without ``allow_private`` (``"a private address"``,
    ``"a link-local address"``, ...), or None for a public or loopback address."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata service"
    if ip.is_loopback:
        return None
    for what, flag in (("the unspecified address", ip.is_unspecified), ("a link-local address", ip.is_link_local),
                       ("a multicast address", ip.is_multicast), ("a reserved address", ip.is_reserved),
                       ("a private address", ip.is_private)):
        if flag:
            return what
    return None if ip.is_global else "not a public address"


def webhook_addresses(host: str, port: int, allow_private: bool = False) -> list[tuple[int, tuple]]:
    """The addresses a webhook to ``host:port`` may connect to, as ``(family, sockaddr)``.

    Raises :class:`RefusedAddress` when ``host`` is a cloud metadata service, does not resolve,
    or resolves to any address that :func:`address_class` refuses (allowed with
    ``allow_private``, except a metadata service).
    """
    name = host.lower().rstrip(".")
    if name in METADATA_NAMES:
        raise RefusedAddress(f"{host!r} is a cloud metadata service, never a webhook receiver")
    try:
        found = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise RefusedAddress(f"{host!r} does not resolve to an address ({exc}); check the host name",
                             unresolved=True) from None
    addresses: list[tuple[int, tuple]] = []
    for family, _, _, _, sockaddr in found:
        refusal = address_class(str(sockaddr[0]).split("%")[0])  # an IPv4 or IPv6 address (SOCK_STREAM)
        if refusal is not None and (refusal == "a cloud metadata service" or not allow_private):
            shown = host if sockaddr[0] == name else f"{host!r} (which resolves to {sockaddr[0]})"
            hint = "" if refusal == "a cloud metadata service" else (
                "; webhooks go to public or loopback addresses, or pass allow_private=True for a receiver "
                "on your own network")
            raise RefusedAddress(f"{shown} is {refusal}{hint}")
        if (family, sockaddr) not in addresses:
            addresses.append((family, sockaddr))
    if not addresses:
        raise RefusedAddress(f"{host!r} does not resolve to an address; check the host name", unresolved=True)
    return addresses


@dataclass(frozen=True)
class Subscription:
    """A subscriber: a ``callback(event)`` or a webhook ``url`` signed with ``secret``.

    ``types`` are event-type patterns (``PORTFOLIO_ORDER.*``, ``PORTFOLIO_ORDER.FILLED``, ``*``);
    empty means every type. ``start_after`` is the last event id before the subscriber starts
    (0: every stored event).
    """

    name: str
    types: tuple[str, ...] = ()
    callback: Callable[[dict], object] | None = None
    url: str | None = None
    secret: bytes | None = field(default=None, repr=False)
    retries: int = 3
    backoff: float = 0.5
    timeout: float = 5.0
    start_after: int = 0
    allow_private: bool = False

    def matches(self, type_: str) -> bool:
        return not self.types or any(
            p == "*" or p == type_ or (p.endswith(".*") and type_.startswith(p[:-1])) for p in self.types)

    @property
    def attempts(self) -> int:
        """How many times one event is tried: once for a callback, ``retries + 1`` for a webhook."""
        return 1 if self.callback is not None else self.retries + 1


class _Connection(http.client.HTTPConnection):
    """One request to addresses already checked: no second lookup of the name (DNS rebinding), no
    proxy; TLS (with ``tls``) is verified against the URL's host name."""

    def __init__(self, host: str, port: int, addresses: list[tuple[int, tuple]], timeout: float,
                 tls: ssl.SSLContext | None) -> None:
        super().__init__(host, port, timeout=timeout)
        self.addresses = addresses
        self.tls = tls

    def connect(self) -> None:
        error: OSError | None = None
        for family, sockaddr in self.addresses:
            self.sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                self.sock.settimeout(self.timeout)
                self.sock.connect(sockaddr)
                break
            except OSError as exc:
                self.sock.close()
                self.sock, error = None, exc
        if self.sock is None:
            raise error or OSError("no address to connect to")
        if self.tls is not None:
            self.sock = self.tls.wrap_socket(self.sock, server_hostname=self.host)

    def abort(self) -> None:
        """Cut the request short from another thread: its blocking read or write returns at once."""
        sock = self.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:  # not connected yet, or already closed
                pass


class Dispatcher:
    """Delivers the workspace's events to its subscribers (see the module docstring).

    ``sleep(seconds)`` waits between retries; by default the wait ends early when the dispatcher
    is closed.
    """

    def __init__(self, db: sqlite_utils.Database, sleep: Callable[[float], object] | None = None) -> None:
        self.db = db
        self.sleep = sleep
        self.deliveries = DeliveryRepository(db)
        self._subscriptions: dict[str, Subscription] = {}
        self._file = workspace_file(db)
        self._calling = threading.Lock()      # deliveries in a caller's thread, one at a time (a callback that writes)
        self._delivering = threading.Lock()   # webhook deliveries: the worker's or dispatch()'s, one at a time
        self._dispatcher_thread: int | None = None
        self._request: _Connection | None = None
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._rounds = threading.Condition()
        self._asked = self._done = 0          # rounds asked of the worker, and the last one it finished
        self._worker: threading.Thread | None = None

    @property
    def subscriptions(self) -> list[Subscription]:
        return list(self._subscriptions.values())

    def subscribe_callback(self, name: str, callback: Callable[[dict], object],
                           types: Sequence[str] | str = (), replay: bool = False) -> Subscription:
        """Call ``callback(event)`` with each matching event (a dict shaped like the webhook body),
        in the thread that committed the write.

        A new ``name`` starts with the events stored from now on; ``replay=True`` offers it every
        stored event (at the next committed write or :meth:`dispatch`). A known ``name`` resumes.
        """
        problems = Problems()
        patterns = self._check_common(name, types, replay, problems)
        if not callable(callback):
            problems.add("callback", "must be a function taking the event dict")
        problems.raise_if_any("subscription")
        return self._add(Subscription(name, patterns, callback=callback), replay)

    def subscribe_webhook(self, name: str, url: str, secret: bytes | str, types: Sequence[str] | str = (),
                          retries: int = 3, backoff: float = 0.5, timeout: float = 5.0, replay: bool = False,
                          allow_private: bool = False) -> Subscription:
        """POST each matching event to ``url``, signed with ``secret``, from the webhook worker (see
        the module docstring).

        ``timeout`` bounds each attempt in seconds. A new ``name`` starts with the events stored from
        now on; ``replay=True`` sends it every stored event, at once, in the worker. A known ``name``
        resumes where it stopped. The URL's host must resolve to public or loopback addresses only;
        ``allow_private=True`` also allows private, link-local, shared, unspecified, multicast and
        reserved ones (a receiver on your own network), never a cloud metadata service.
        """
        problems = Problems()
        patterns = self._check_common(name, types, replay, problems)
        if not isinstance(allow_private, bool):
            problems.add("allow_private", f"must be True or False, not {allow_private!r}")
        self._check_url(url, allow_private is True, problems)
        if not isinstance(secret, (bytes, bytearray, str)) or not secret or len(secret) > MAX_SECRET:
            problems.add("secret", f"must be a non-empty str or bytes of at most {MAX_SECRET} characters shared with "
                                   "the receiver")
        if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= MAX_RETRIES:
            problems.add("retries", f"must be a whole number from 0 to {MAX_RETRIES}, not {retries!r}")
        for path, value, most in (("backoff", backoff, MAX_BACKOFF), ("timeout", timeout, MAX_TIMEOUT)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= most:
                problems.add(path, f"must be a number of seconds from 0 to {most:g}, not {value!r}")
        if timeout == 0:
            problems.add("timeout", "must be more than 0 seconds")
        problems.raise_if_any("subscription")
        return self._add(Subscription(name, patterns, url=url, secret=_key(secret), retries=retries,
                                      backoff=float(backoff), timeout=float(timeout),
                                      allow_private=allow_private), replay)

    def unsubscribe(self, name: str) -> None:
        """Stop delivering to ``name``; its delivery log and starting point stay (it can resume)."""
        if self._subscriptions.pop(name, None) is None:
            raise NotFoundError(f"No subscriber is named {name!r}; subscribers: {sorted(self._subscriptions)}.")

    def after_commit(self) -> int:
        """What a write calls once it has committed: wake the webhook worker, and run the callback
        subscribers on the new events in this thread. Returns the callback deliveries made.

        No HTTP request runs here. A call made while callbacks are running (a callback that writes)
        returns 0 at once: the running loop reads new events as it goes. So does a call made while
        a transaction is open on this connection (another thread's): the callbacks would hold it;
        they get the events after the next commit.
        """
        self.wake()
        callbacks = [s for s in self.subscriptions if s.callback is not None]
        if not callbacks or self.db.conn.in_transaction or not self._calling.acquire(blocking=False):
            return 0
        try:
            return self._deliver_all(self.db, self.deliveries, callbacks)
        finally:
            self._calling.release()

    def dispatch(self) -> int:
        """Deliver now, in this thread, every unfinished event to every matching subscriber
        (callbacks and webhooks) in event id order, and wait for it: an explicit "deliver now".

        Writes do not need it (they call :meth:`after_commit`); use it to deliver a backlog at a
        moment of your choice, or in tests. Waits for a webhook round of the worker to end first.
        Returns the number of (event, subscriber) deliveries attempted; retries of one delivery
        count once. Refuses to run inside an open transaction, which it would hold across the
        HTTP calls. A call made while a dispatch is running (a callback that writes) returns 0.
        """
        self._refuse_in_transaction()
        if not self._calling.acquire(blocking=False):
            return 0
        try:
            with self._delivering:
                self._dispatcher_thread = threading.get_ident()
                try:
                    return self._deliver_all(self.db, self.deliveries, self.subscriptions)
                finally:
                    self._dispatcher_thread = None
        finally:
            self._calling.release()

    def wake(self) -> None:
        """Ask the webhook worker to deliver what is pending (it starts on the first call). Does
        nothing without webhook subscribers, once closed, or for an in-memory database."""
        if self._closed.is_set() or self._file is None or all(s.url is None for s in self.subscriptions):
            return
        with self._rounds:
            self._asked += 1
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, args=(self._file,), name=f"webhooks {self._file}",
                                                daemon=True)
                self._worker.start()
        self._wake.set()

    def flush(self, timeout: float | None = None) -> bool:
        """Wake the webhook worker and wait until it has delivered (or failed for good) every event
        committed before this call, at most ``timeout`` seconds (None: no limit). True when it has;
        False on timeout or once closed. A hanging receiver holds it up to that subscription's
        ``timeout`` per attempt."""
        if self._dispatcher_thread == threading.get_ident():
            raise ConflictError("flush() called by a subscriber during dispatch() would wait for itself.")
        self.wake()
        with self._rounds:
            if self._worker is None:
                return True
            target = self._asked
            self._rounds.wait_for(lambda: self._done >= target or self._closed.is_set(), timeout)
            return self._done >= target

    def close(self) -> None:
        """Stop the webhook worker and close its connection; safe to call twice.

        Returns at once even while a receiver hangs: the request in flight is cut short and not
        logged (it is sent again when the subscriber next runs). A connection still being set up
        ends within its subscription's ``timeout``; the worker is a daemon thread.
        """
        self._closed.set()
        self._wake.set()
        request = self._request
        if request is not None:
            request.abort()
        worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(max((s.timeout for s in self.subscriptions if s.url), default=0) + 1)
        with self._rounds:
            self._rounds.notify_all()

    def log(self, event_id: int | None = None, subscriber: str | None = None) -> pd.DataFrame:
        """The delivery attempts (``id, event_id, subscriber, attempt, status, http_status, error, at``)."""
        return self.deliveries.log(event_id, subscriber)

    # -- internals -------------------------------------------------------------------------

    def _refuse_in_transaction(self) -> None:
        if self.db.conn.in_transaction:
            raise ConflictError("Dispatch events after the write has committed, not inside its transaction.")

    def _check_common(self, name: str, types: Sequence[str] | str, replay: bool,
                      problems: Problems) -> tuple[str, ...]:
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME or not name.isprintable():
            problems.add("name", f"must be a non-empty string of at most {MAX_NAME} printable characters")
        elif name in self._subscriptions:
            problems.add("name", f"{name!r} is already subscribed; unsubscribe it first or pick another name")
        if not isinstance(replay, bool):
            problems.add("replay", f"must be True or False, not {replay!r}")
        if isinstance(types, str):
            types = (types,)
        if not isinstance(types, (list, tuple)):
            problems.add("types", "must be a list of event-type patterns")
            return ()
        for i, pattern in enumerate(types):
            if not isinstance(pattern, str) or not _PATTERN.match(pattern):
                problems.add(f"types[{i}]", f"{pattern!r} is not an event type or a pattern like 'PORTFOLIO_ORDER.*'")
        return tuple(types)

    @staticmethod
    def _check_url(url: str, allow_private: bool, problems: Problems) -> None:
        if not isinstance(url, str) or len(url) > MAX_URL or not url.isascii() or not url.isprintable() or " " in url:
            # (urlsplit drops tabs and line breaks silently; the URL stored would still carry them)
            problems.add("url", f"{shown(url)} is not a URL of at most {MAX_URL} ASCII characters without spaces "
                                "or control characters")
            return
        parts = urllib.parse.urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            problems.add("url", f"{url!r} is not an http:// or https:// URL with a host")
            return
        try:
            port = _port(parts)
        except ValueError:
            problems.add("url", f"{url!r} has an invalid port")
            return
        try:
            webhook_addresses(parts.hostname, port, allow_private)
        except RefusedAddress as exc:
            problems.add("url", str(exc))

    def _add(self, subscription: Subscription, replay: bool) -> Subscription:
        with write(self.db):
            start_after, new = self.deliveries.register(subscription.name, replay, now(precise=True))
        subscription = replace(subscription, start_after=start_after)
        self._subscriptions[subscription.name] = subscription
        if subscription.url is not None and (replay or not new):
            self.wake()  # a backlog: the worker sends it now
        return subscription

    def _work(self, file: str) -> None:
        """The webhook worker: a round of deliveries each time it is woken, on its own connection to
        the workspace ``file``."""
        db = connect(file)
        repo = DeliveryRepository(db)
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                if self._closed.is_set():
                    return
                with self._rounds:
                    round_ = self._asked
                try:
                    with self._delivering:
                        self._deliver_all(db, repo, [s for s in self.subscriptions if s.url is not None])
                except sqlite3.ProgrammingError:  # its connection was closed under it (interpreter exit)
                    return
                except Exception:  # noqa: BLE001 - the worker outlives one bad round; the next wake retries
                    log.exception("Webhook deliveries of %s stopped for this round", self._file)
                with self._rounds:
                    self._done = round_
                    self._rounds.notify_all()
        finally:
            db.close()
            with self._rounds:
                self._rounds.notify_all()

    def _deliver_all(self, db: sqlite_utils.Database, repo: DeliveryRepository,
                     subscriptions: list[Subscription]) -> int:
        """Deliver the unfinished events of ``subscriptions`` in event id order (then subscriber
        order); stops when closed."""
        order = {s.name: i for i, s in enumerate(subscriptions)}
        streams = [self._pending(repo, s) for s in subscriptions]
        count = 0
        for _, _, event, subscription in merge(*streams, key=lambda item: (item[0], order[item[1]])):
            if self._closed.is_set():
                break
            if self._subscriptions.get(subscription.name) is subscription:  # not unsubscribed meanwhile
                self._deliver(db, repo, subscription, event)
                count += 1
        return count

    @staticmethod
    def _pending(repo: DeliveryRepository,
                 subscription: Subscription) -> Iterator[tuple[int, str, dict, Subscription]]:
        """The subscriber's unfinished events, read a page at a time (no cursor stays open)."""
        after = subscription.start_after
        while page := repo.pending(subscription.name, subscription.types, after, _PAGE):
            for event in page:
                yield event["id"], subscription.name, event, subscription
            after = page[-1]["id"]

    def _deliver(self, db: sqlite_utils.Database, repo: DeliveryRepository, subscription: Subscription,
                 event: dict) -> None:
        body = json.dumps(event, separators=(",", ":"), default=str).encode("utf-8")
        for attempt in range(1, subscription.attempts + 1):
            if subscription.callback is not None:
                http_status, error, final = *self._call(subscription.callback, body), True
            else:
                http_status, error, final = self._post(subscription, event, body)
                if error is not None and self._closed.is_set():
                    return  # cut short by close(): not an answer of the receiver
            status = "DELIVERED" if error is None else "FAILED" if final or attempt == subscription.attempts \
                else "RETRYING"
            with write(db):
                repo.record(event["id"], subscription.name, attempt, status, http_status, error, now(precise=True))
            if status != "RETRYING":
                return
            self._pause(subscription.backoff * 2 ** (attempt - 1))
            if self._closed.is_set():
                return

    def _pause(self, seconds: float) -> None:
        if self.sleep is not None:
            self.sleep(seconds)
        else:
            self._closed.wait(seconds)

    @staticmethod
    def _call(callback: Callable[[dict], object], body: bytes) -> tuple[None, str | None]:
        try:
            callback(json.loads(body))  # a fresh copy: a callback cannot alter the next one's event
        except Exception as exc:  # noqa: BLE001 - a subscriber's bug must not stop dispatch
            return None, _text(exc)
        return None, None

    def _post(self, subscription: Subscription, event: dict,
              body: bytes) -> tuple[int | None, str | None, bool]:
        """One attempt: ``(http_status, error or None, final)``; ``final`` when retrying cannot help
        (the host now resolves to a forbidden address: nothing is sent)."""
        url, secret = subscription.url, subscription.secret
        assert url is not None and secret is not None  # a webhook subscription (subscribe_webhook) has both
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
        assert host is not None  # a URL without a host is refused at subscription
        try:
            addresses = webhook_addresses(host, _port(parts), subscription.allow_private)
        except RefusedAddress as exc:  # a name that no longer resolves may again: retried
            return None, f"Not sent: {exc}"[:_MAX_ERROR], not exc.unresolved
        tls = ssl.create_default_context() if parts.scheme.lower() == "https" else None
        request = _Connection(host, _port(parts), addresses, subscription.timeout, tls)
        target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
        self._request = request
        try:
            if self._closed.is_set():
                return None, "closed", False
            request.request("POST", target, body, headers={
                "Content-Type": "application/json", "X-Toolkit-Event": event["type"],
                "X-Toolkit-Delivery": str(event["id"]), SIGNATURE_HEADER: sign(body, secret)})
            response = request.getresponse()
            status, reason = response.status, response.reason
        except (OSError, http.client.HTTPException) as exc:  # refused, timed out, dropped, bad TLS
            return None, _text(exc), False
        finally:
            self._request = None
            request.close()
        return status, None if 200 <= status < 300 else f"HTTP {status} {reason}".strip()[:_MAX_ERROR], False


def _port(parts: urllib.parse.SplitResult) -> int:
    """The URL's port (its scheme's default when none); ValueError when it is not a valid one."""
    return parts.port or (443 if parts.scheme.lower() == "https" else 80)


def _text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:_MAX_ERROR]
