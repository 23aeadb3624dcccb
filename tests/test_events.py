"""Event subscribers: signed webhooks to a real local HTTP server, retries, callbacks, the delivery log;
webhooks off the write path (a worker thread), where a new subscriber starts, and where webhooks may go."""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer

import pandas as pd
import pytest

from toolkit.errors import ConflictError, NotFoundError, ValidationError
from toolkit.store.db import write
from toolkit.workspace import Workspace
from toolkit.workspace.dispatch import SIGNATURE_HEADER, Dispatcher, verify_signature

SECRET = b"s3cret-shared-with-the-receiver"
ALLOCATION = {"name": "All Apple",
              "allocation": [{"instrument_id": "US0378331005", "instrument_id_type": "ISIN", "weight": "1"}]}
MAX_REQUESTS = 20
ACCOUNT = {"type": "PORTFOLIO", "currency": "USD", "name": "Jane Doe ISA"}
ORDER = {"cash_amount": "100.00", "currency": "USD", "side": "BUY"}
#: seconds a write may take with a webhook subscribed (it takes well under 0.5 s; it took the
#: receiver's timeout, retries and backoff when webhooks were sent in the writer's thread)
QUICK = 2.0


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1: answers ``statuses`` in turn (the last one repeats), each after
    ``delay`` seconds (cut short when the test ends); ``arrived`` is set by the first request."""

    statuses: list[int]
    delay: float = 0.0
    requests: list[dict] = field(default_factory=list)
    url: str = ""
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def answer(self) -> int:
        return self.statuses[min(len(self.requests) - 1, len(self.statuses) - 1)]


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


class _QuietServer(HTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that gave up (timeout) is not a test failure


@pytest.fixture
def receiver() -> Iterator:
    """Start receivers; each serves at most MAX_REQUESTS requests and is shut down after the test."""
    started: list[tuple[HTTPServer, threading.Thread, threading.Event, Receiver]] = []

    def start(statuses: list[int] | None = None, delay: float = 0.0) -> Receiver:
        state = Receiver(statuses or [200], delay)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                state.requests.append({"path": self.path, "headers": self.headers, "body": body})
                state.arrived.set()
                state.release.wait(state.delay)
                self.send_response(state.answer())
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        server = _QuietServer(("127.0.0.1", 0), Handler)
        server.timeout = 0.05
        stop = threading.Event()

        def serve() -> None:  # a bounded server: at most MAX_REQUESTS, and it stops when told
            while not stop.is_set() and len(state.requests) < MAX_REQUESTS:
                server.handle_request()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        started.append((server, thread, stop, state))
        state.url = f"http://127.0.0.1:{server.server_address[1]}"
        return state

    yield start
    for server, thread, stop, state in started:
        state.release.set()
        stop.set()
        thread.join(5)
        server.server_close()


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Host names the test resolves itself, each to its addresses (none: the name does not resolve);
    every other name is resolved as usual."""
    names: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):  # noqa: A002 - socket's names
        if host not in names:
            return real(host, port, family, type, proto, flags)
        if not names[host]:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, port, 0, 0)) if ":" in a
                else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in names[host]]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


def stored(ws: Workspace, event_id: int) -> dict:
    """The event as the events table holds it, in the shape of a delivery."""
    row = ws.events.list(after=event_id - 1, limit=1).iloc[0]
    return {"id": int(row["id"]), "type": row["type"], "resource_id": row["resource_id"],
            "payload": json.loads(row["payload"]), "created_at": row["created_at"]}


def attempts(dispatcher: Dispatcher, subscriber: str) -> list[tuple]:
    log = dispatcher.log(subscriber=subscriber)
    return [(int(r.event_id), int(r.attempt), r.status, None if pd.isna(r.http_status) else int(r.http_status))
            for r in log.itertuples()]


def funded_account(ws: Workspace) -> str:
    """An allocation, an account with cash and its configuration; returns the account id."""
    allocation = ws.allocations.create(ALLOCATION)
    account = ws.accounts.create(ACCOUNT)
    ws.accounts.deposit(account.id, {"amount": "1000.00", "currency": "USD"})
    ws.configurations.create({"account_id": account.id, "allocation_id": allocation.id})
    return account.id


def order_events(ws: Workspace) -> None:
    """An allocation, an account with cash, its configuration and one filled order."""
    ws.orders.place(funded_account(ws), ORDER)


def test_webhook_delivery_is_signed_and_carries_the_stored_event(ws: Workspace, receiver) -> None:
    server = receiver()
    dispatcher = Dispatcher(ws.db)
    dispatcher.subscribe_webhook("crm", server.url + "/hooks", SECRET.decode())  # a str secret is UTF-8
    created = ws.allocations.create(ALLOCATION)
    assert dispatcher.dispatch() == 1
    [request] = server.requests
    body, headers = request["body"], request["headers"]
    assert request["path"] == "/hooks"
    assert verify_signature(body, headers[SIGNATURE_HEADER], SECRET)
    assert not verify_signature(body, headers[SIGNATURE_HEADER], b"another secret")
    assert not verify_signature(body.replace(b"All Apple", b"All Pears"), headers[SIGNATURE_HEADER], SECRET)
    assert not verify_signature(body, None, SECRET) and not verify_signature(body, "sha1=00", SECRET)
    event = json.loads(body)
    assert event == stored(ws, event["id"])
    assert event["type"] == "PORTFOLIO_ALLOCATION.CREATED" and event["resource_id"] == created.id
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Toolkit-Event"] == "PORTFOLIO_ALLOCATION.CREATED"
    assert headers["X-Toolkit-Delivery"] == str(event["id"])
    assert attempts(dispatcher, "crm") == [(event["id"], 1, "DELIVERED", 200)]
    assert dispatcher.deliveries.delivered("crm") == {event["id"]}


def test_type_patterns_pick_the_events_of_each_subscriber(ws: Workspace, receiver) -> None:
    server = receiver()
    dispatcher = Dispatcher(ws.db)
    dispatcher.subscribe_webhook("allocations", server.url + "/allocations", SECRET, types=["PORTFOLIO_ALLOCATION.*"])
    dispatcher.subscribe_webhook("orders", server.url + "/orders", SECRET, types=("PORTFOLIO_ORDER.*",))
    filled: list[dict] = []
    dispatcher.subscribe_callback("fills", filled.append, types="PORTFOLIO_ORDER.FILLED")
    everything: list[dict] = []
    dispatcher.subscribe_callback("audit", everything.append)
    order_events(ws)
    n_events = len(ws.events.list())
    assert dispatcher.dispatch() == 1 + 3 + 1 + n_events
    received = [(r["path"], json.loads(r["body"])["type"]) for r in server.requests]
    assert received == [("/allocations", "PORTFOLIO_ALLOCATION.CREATED"), ("/orders", "PORTFOLIO_ORDER.NEW"),
                        ("/orders", "PORTFOLIO_ORDER.PROCESSING"), ("/orders", "PORTFOLIO_ORDER.FILLED")]
    assert [e["type"] for e in filled] == ["PORTFOLIO_ORDER.FILLED"]
    assert [e["type"] for e in everything] == list(ws.events.list()["type"])
    assert dispatcher.dispatch() == 0 and len(server.requests) == 4  # nothing new the second time


def test_a_server_error_is_retried_with_exponential_backoff(ws: Workspace, receiver) -> None:
    server = receiver([500, 500, 200])
    waits: list[float] = []
    dispatcher = Dispatcher(ws.db, sleep=waits.append)
    dispatcher.subscribe_webhook("flaky", server.url, SECRET, retries=3, backoff=0.25)
    ws.allocations.create(ALLOCATION)
    assert dispatcher.dispatch() == 1
    event = json.loads(server.requests[0]["body"])["id"]
    assert attempts(dispatcher, "flaky") == [(event, 1, "RETRYING", 500), (event, 2, "RETRYING", 500),
                                             (event, 3, "DELIVERED", 200)]
    assert list(dispatcher.log(event_id=event)["error"])[:2] == ["HTTP 500 Internal Server Error"] * 2
    assert waits == [0.25, 0.5]
    assert len({r["body"] for r in server.requests}) == 1  # every attempt sends the same signed body


def test_a_server_that_keeps_failing_ends_failed_and_is_not_retried_again(ws: Workspace, receiver) -> None:
    server = receiver([500])
    waits: list[float] = []
    dispatcher = Dispatcher(ws.db, sleep=waits.append)
    dispatcher.subscribe_webhook("down", server.url, SECRET, retries=2, backoff=1)
    ws.allocations.create(ALLOCATION)
    assert dispatcher.dispatch() == 1
    assert [a[1:] for a in attempts(dispatcher, "down")] == [(1, "RETRYING", 500), (2, "RETRYING", 500),
                                                            (3, "FAILED", 500)]
    assert waits == [1, 2] and len(server.requests) == 3
    assert dispatcher.dispatch() == 0 and len(server.requests) == 3
    ws.allocations.create(ALLOCATION)  # a new event is tried again from its first attempt
    assert dispatcher.dispatch() == 1 and len(server.requests) == 6


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_refused_connection_and_a_timeout_are_logged_with_their_error(ws: Workspace, receiver) -> None:
    slow = receiver([200], delay=0.5)
    waits: list[float] = []
    dispatcher = Dispatcher(ws.db, sleep=waits.append)
    dispatcher.subscribe_webhook("closed", f"http://127.0.0.1:{free_port()}/hooks", SECRET, retries=1)
    dispatcher.subscribe_webhook("slow", slow.url, SECRET, retries=0, timeout=0.2)
    ws.allocations.create(ALLOCATION)
    assert dispatcher.dispatch() == 2
    closed = dispatcher.log(subscriber="closed")
    assert list(closed["status"]) == ["RETRYING", "FAILED"] and waits == [0.5]
    assert closed["http_status"].isna().all()
    assert all("refused" in error.lower() for error in closed["error"])
    [timed_out] = dispatcher.log(subscriber="slow").itertuples()
    assert timed_out.status == "FAILED" and "timed out" in timed_out.error.lower()


def test_callbacks_get_events_in_order_and_a_raising_one_does_not_stop_the_others(ws: Workspace,
                                                                                     receiver) -> None:
    server = receiver()
    seen: list[int] = []
    locked: list[bool] = []

    def record(event: dict) -> None:
        seen.append(event["id"])
        with sqlite3.connect(ws.path, timeout=0) as other:  # no transaction is held while a subscriber runs
            other.execute("BEGIN IMMEDIATE")
            other.rollback()
        locked.append(ws.db.conn.in_transaction)

    def broken(event: dict) -> None:
        raise RuntimeError(f"cannot handle {event['type']}")

    dispatcher = Dispatcher(ws.db)
    dispatcher.subscribe_callback("broken", broken)
    dispatcher.subscribe_callback("record", record)
    dispatcher.subscribe_webhook("hook", server.url, SECRET)
    for _ in range(3):
        ws.allocations.create(ALLOCATION)
    ids = [int(i) for i in ws.events.list()["id"]]
    assert dispatcher.dispatch() == 9
    assert seen == ids and locked == [False] * 3
    assert [json.loads(r["body"])["id"] for r in server.requests] == ids
    failed = dispatcher.log(subscriber="broken")
    assert list(failed["status"]) == ["FAILED"] * 3 and list(failed["attempt"]) == [1] * 3
    assert failed["error"][0] == "RuntimeError: cannot handle PORTFOLIO_ALLOCATION.CREATED"
    assert dispatcher.deliveries.delivered("broken") == set(ids)
    assert list(dispatcher.log(event_id=ids[0])["subscriber"]) == ["broken", "record", "hook"]  # id order
    assert dispatcher.dispatch() == 0 and len(seen) == 3


def test_a_subscriber_registered_again_resumes_where_it_stopped(ws: Workspace) -> None:
    got: list[int] = []
    first = Dispatcher(ws.db)
    first.subscribe_callback("audit", lambda e: got.append(e["id"]))
    ws.allocations.create(ALLOCATION)
    assert first.dispatch() == 1
    first.unsubscribe("audit")
    assert first.dispatch() == 0
    with pytest.raises(NotFoundError, match="audit"):
        first.unsubscribe("audit")
    ws.allocations.create(ALLOCATION)
    later = Dispatcher(ws.db)  # e.g. another kernel: the log is in the workspace
    later.subscribe_callback("audit", lambda e: got.append(e["id"]))
    assert later.dispatch() == 1
    assert got == [int(i) for i in ws.events.list()["id"]]


def test_dispatch_refuses_to_run_inside_a_transaction(ws: Workspace) -> None:
    dispatcher = Dispatcher(ws.db)
    dispatcher.subscribe_callback("audit", lambda e: None)
    with write(ws.db), pytest.raises(ConflictError, match="committed"):
        dispatcher.dispatch()


BAD_SUBSCRIPTIONS = {
    "ftp url": ({"url": "ftp://example.org/hook"}, ["url"]),
    "url without host": ({"url": "http:///hook"}, ["url"]),
    "url not a string": ({"url": None}, ["url"]),
    "empty secret": ({"secret": b""}, ["secret"]),
    "secret not text": ({"secret": 42}, ["secret"]),
    "type not a string": ({"types": [7]}, ["types[0]"]),
    "bad pattern": ({"types": ["PORTFOLIO_ORDER.FILLED", "ORDER.*.x; DROP"]}, ["types[1]"]),
    "empty name": ({"name": " "}, ["name"]),
    "taken name": ({"name": "taken"}, ["name"]),
    "negative retries": ({"retries": -1}, ["retries"]),
    "zero timeout": ({"timeout": 0}, ["timeout"]),
    "everything at once": ({"name": "", "url": "file:///etc/passwd", "secret": "", "types": [None]},
                           ["name", "types[0]", "url", "secret"]),
}


@pytest.mark.parametrize("change, paths", BAD_SUBSCRIPTIONS.values(), ids=BAD_SUBSCRIPTIONS.keys())
def test_bad_subscriptions_name_every_field(ws: Workspace, dns: dict, change: dict, paths: list[str]) -> None:
    dns["example.org"] = ["93.184.215.14"]  # a public address: the URL itself is fine
    dispatcher = Dispatcher(ws.db)
    dispatcher.subscribe_callback("taken", lambda e: None)
    arguments = {"name": "hook", "url": "https://example.org/hook", "secret": SECRET, **change}
    with pytest.raises(ValidationError) as error:
        dispatcher.subscribe_webhook(**arguments)
    assert error.value.paths == paths
    assert [s.name for s in dispatcher.subscriptions] == ["taken"]


def test_a_callback_must_be_callable(ws: Workspace) -> None:
    with pytest.raises(ValidationError) as error:
        Dispatcher(ws.db).subscribe_callback("audit", "not a function",  # type: ignore[arg-type]  # refused
                                             types=["ACCOUNT.*"])
    assert error.value.paths == ["callback"]


def test_the_workspace_delivers_events_after_each_committed_write(ws) -> None:
    """Subscribers on the façade get every create, update and state change once it is committed."""
    seen: list[dict] = []
    ws.events.subscribe_callback("audit", seen.append, types=("PORTFOLIO_ALLOCATION.*", "ACCOUNT.*"))
    allocation = ws.allocations.create({"allocation": [
        {"instrument_id": "US0378331005", "instrument_id_type": "ISIN", "weight": "1"}]})
    account = ws.accounts.create({"type": "PORTFOLIO", "currency": "USD"})
    assert [e["type"] for e in seen] == ["PORTFOLIO_ALLOCATION.CREATED", "ACCOUNT.CREATED"]
    assert seen[0]["resource_id"] == allocation.id and seen[1]["resource_id"] == account.id
    log = ws.events.deliveries(subscriber="audit")
    assert list(log["status"]) == ["DELIVERED", "DELIVERED"]


# -- webhooks off the write path --------------------------------------------------------------


def timed(call, *args) -> float:
    start = time.monotonic()
    call(*args)
    return time.monotonic() - start


def test_a_hanging_receiver_does_not_hold_up_writes_and_close_cuts_it_short(ws: Workspace, receiver) -> None:
    hanging = receiver([200], delay=30)
    account_id = funded_account(ws)
    ws.events.subscribe_webhook("hangs", hanging.url, SECRET, retries=0, timeout=3)
    assert timed(ws.orders.place, account_id, ORDER) < QUICK
    assert timed(ws.allocations.create, ALLOCATION) < QUICK
    assert hanging.arrived.wait(5)  # the worker is waiting on the receiver
    assert not ws.events.flush(0.1)
    assert timed(ws.dispatcher.close) < 1  # not the subscription's 3 s timeout
    assert timed(ws.dispatcher.close) < 1  # closing twice is fine
    assert len(hanging.requests) == 1
    assert ws.events.deliveries(subscriber="hangs").empty  # the attempt cut short is not an answer: not logged


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Whether ``check()`` becomes true within ``timeout`` seconds (for a state the worker is in
    between two rounds, which flush() cannot wait for)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_a_down_receiver_does_not_slow_writes_and_close_ends_the_backoff(ws: Workspace) -> None:
    account_id = funded_account(ws)
    ws.events.subscribe_webhook("down", f"http://127.0.0.1:{free_port()}/hooks", SECRET, retries=1, backoff=2)
    assert timed(ws.orders.place, account_id, ORDER) < QUICK
    assert eventually(lambda: len(ws.events.deliveries(subscriber="down")) > 0)
    assert timed(ws.dispatcher.close) < 1  # not the 2 s of backoff still to go
    log = ws.events.deliveries(subscriber="down")
    assert list(log["status"]) == ["RETRYING"] and "refused" in log["error"][0].lower()


def test_the_worker_retries_and_logs_every_attempt(ws: Workspace, receiver) -> None:
    flaky = receiver([500, 200])
    waits: list[float] = []
    ws.dispatcher.sleep = waits.append
    ws.events.subscribe_webhook("down", f"http://127.0.0.1:{free_port()}/hooks", SECRET, retries=2)
    ws.events.subscribe_webhook("flaky", flaky.url, SECRET)
    created = ws.allocations.create(ALLOCATION)
    assert ws.events.flush(10)
    [event] = [int(i) for i in ws.events.list(resource_id=created.id)["id"]]
    assert attempts(ws.dispatcher, "down") == [(event, 1, "RETRYING", None), (event, 2, "RETRYING", None),
                                               (event, 3, "FAILED", None)]
    assert attempts(ws.dispatcher, "flaky") == [(event, 1, "RETRYING", 500), (event, 2, "DELIVERED", 200)]
    assert waits == [0.5, 1.0, 0.5]
    assert ws.events.flush(1) and len(flaky.requests) == 2  # finished: not sent again


def test_a_new_subscriber_starts_from_now_unless_it_asks_for_a_replay(ws: Workspace, receiver) -> None:
    server = receiver()
    for _ in range(2):
        ws.allocations.create(ALLOCATION)
    old = [int(i) for i in ws.events.list()["id"]]
    assert len(old) == 2
    new: list[dict] = []
    everything: list[dict] = []
    ws.events.subscribe_callback("new", new.append)
    ws.events.subscribe_callback("everything", everything.append, replay=True)
    ws.events.subscribe_webhook("hook-new", server.url + "/new", SECRET)
    ws.events.subscribe_webhook("hook-everything", server.url + "/everything", SECRET, replay=True)
    assert ws.events.flush(5)  # a webhook's replay goes at once, from the worker
    sent = lambda: [(r["path"], json.loads(r["body"])["id"]) for r in server.requests]  # noqa: E731
    assert sent() == [("/everything", old[0]), ("/everything", old[1])]
    assert new == [] and everything == []  # a callback's backlog goes with the next write
    ws.allocations.create(ALLOCATION)
    [latest] = [int(i) for i in ws.events.list(after=old[-1])["id"]]
    assert ws.events.flush(5)
    assert [e["id"] for e in new] == [latest]
    assert [e["id"] for e in everything] == [*old, latest]
    assert sent()[2:] == [("/new", latest), ("/everything", latest)]
    assert set(ws.events.deliveries(subscriber="hook-new")["event_id"]) == {latest}


def test_a_webhook_registered_again_resumes_with_what_it_missed(ws: Workspace, receiver) -> None:
    server = receiver()
    ws.allocations.create(ALLOCATION)
    ws.events.subscribe_webhook("crm", server.url, SECRET)
    ws.allocations.create(ALLOCATION)
    assert ws.events.flush(5)
    ws.events.unsubscribe("crm")
    ws.allocations.create(ALLOCATION)  # missed while unsubscribed
    again = Workspace.open(ws.path)  # another kernel
    try:
        again.events.subscribe_webhook("crm", server.url, SECRET)
        assert again.events.flush(5)
    finally:
        again.close()
    assert [json.loads(r["body"])["id"] for r in server.requests] == [int(i) for i in ws.events.list()["id"]][1:]


FORBIDDEN = {
    "metadata address": "http://169.254.169.254/latest/meta-data/",
    "link-local": "http://169.254.10.1/hook",
    "link-local IPv6": "http://[fe80::1]/hook",
    "AWS metadata IPv6": "http://[fd00:ec2::254]/hook",
    "private 10/8": "http://10.0.0.1/hook",
    "private 172.16/12": "http://172.16.5.4:8080/hook",
    "private 192.168/16": "https://192.168.1.10/hook",
    "unique local IPv6": "http://[fc00::1]/hook",
    "private as IPv4-mapped IPv6": "http://[::ffff:10.0.0.1]/hook",
    "shared (carrier-grade NAT)": "http://100.64.0.1/hook",
    "unspecified": "http://0.0.0.0:8080/hook",
    "unspecified IPv6": "http://[::]/hook",
    "multicast": "http://224.0.0.1/hook",
    "reserved": "http://240.0.0.1/hook",
    "GCP metadata name": "http://metadata.google.internal/computeMetadata/v1/",
    "metadata name": "http://metadata/computeMetadata/v1/",
    "AWS metadata name": "http://instance-data/latest/meta-data/",
    "metadata name, any case, trailing dot": "http://Metadata.Google.Internal./",
}


@pytest.mark.parametrize("url", FORBIDDEN.values(), ids=FORBIDDEN.keys())
def test_webhooks_to_private_and_metadata_addresses_are_refused(ws: Workspace, url: str) -> None:
    with pytest.raises(ValidationError) as error:
        ws.events.subscribe_webhook("hook", url, SECRET)
    assert error.value.paths == ["url"]
    assert "allow_private" in str(error.value) or "metadata" in str(error.value)
    assert ws.dispatcher.subscriptions == []
    ws.events.subscribe_callback("hook", print)  # nothing of the refused one was kept: the name is free


def test_a_name_is_checked_by_every_address_it_resolves_to(ws: Workspace, dns: dict) -> None:
    dns.update({"intranet.example": ["192.168.0.5"], "mixed.example": ["93.184.215.14", "10.0.0.7"],
                "nowhere.example": [], "public.example": ["2606:2800:21f:cb07:6820:80da:af6b:8b2c"]})
    refused = {}
    for host in ("intranet.example", "mixed.example", "nowhere.example"):
        with pytest.raises(ValidationError) as error:
            ws.events.subscribe_webhook(host, f"https://{host}/hook", SECRET)
        assert error.value.paths == ["url"]
        refused[host] = error.value.problems[0].message
    assert "192.168.0.5" in refused["intranet.example"] and "private" in refused["intranet.example"]
    assert "10.0.0.7" in refused["mixed.example"]
    assert "does not resolve" in refused["nowhere.example"]
    ws.events.subscribe_webhook("public", "https://public.example/hook", SECRET)
    assert [s.name for s in ws.dispatcher.subscriptions] == ["public"]


def test_allow_private_admits_a_receiver_on_your_network_but_never_a_metadata_service(ws: Workspace,
                                                                                       dns: dict) -> None:
    dns["receiver.lan"] = ["10.1.2.3"]
    ws.events.subscribe_webhook("lan", "http://receiver.lan:8080/hook", SECRET, allow_private=True)
    ws.events.subscribe_webhook("link", "http://[fe80::1]/hook", SECRET, allow_private=True)
    for name, url in (("aws", "http://169.254.169.254/"), ("gcp", "http://metadata.google.internal/")):
        with pytest.raises(ValidationError, match="metadata") as error:
            ws.events.subscribe_webhook(name, url, SECRET, allow_private=True)
        assert error.value.paths == ["url"]
    with pytest.raises(ValidationError) as error:
        ws.events.subscribe_webhook("flag", "http://receiver.lan/", SECRET,
                                    allow_private="yes")  # type: ignore[arg-type]  # refused
    assert error.value.paths == ["allow_private", "url"]  # only True allows the private address
    ws.events.subscribe_webhook("here", "http://localhost:8080/hook", SECRET)  # loopback: no flag needed
    assert [s.name for s in ws.dispatcher.subscriptions] == ["lan", "link", "here"]


def test_a_name_that_turns_private_after_subscribing_is_not_sent_to(ws: Workspace, receiver, dns: dict) -> None:
    server = receiver()
    port = server.url.rsplit(":", 1)[1]
    dns["hooks.example"] = ["127.0.0.1"]
    ws.events.subscribe_webhook("crm", f"http://hooks.example:{port}/hooks", SECRET)
    ws.allocations.create(ALLOCATION)
    assert ws.events.flush(5)
    assert server.requests[0]["headers"]["Host"] == f"hooks.example:{port}"  # sent to the name's checked address
    dns["hooks.example"] = ["10.0.0.1"]  # DNS rebinding
    created = ws.allocations.create(ALLOCATION)
    assert ws.events.flush(5)
    [event] = [int(i) for i in ws.events.list(resource_id=created.id)["id"]]
    [attempt] = ws.events.deliveries(event_id=event).itertuples()
    assert (attempt.attempt, attempt.status) == (1, "FAILED") and pd.isna(attempt.http_status)
    assert "10.0.0.1" in attempt.error and "private" in attempt.error and attempt.error.startswith("Not sent")
    assert len(server.requests) == 1
