"""Event subscribers: signed webhooks to a real local HTTP server, retries, callbacks, the delivery log."""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer

import pandas as pd
import pytest

from toolkit.errors import ConflictError, NotFoundError, ValidationError
from toolkit.store.db import write
from toolkit.trading.events import SIGNATURE_HEADER, Dispatcher, verify_signature
from toolkit.workspace import Workspace

SECRET = b"s3cret-shared-with-the-receiver"
ALLOCATION = {"name": "All Apple",
              "allocation": [{"instrument_id": "US0378331005", "instrument_id_type": "ISIN", "weight": "1"}]}
MAX_REQUESTS = 20
ACCOUNT = {"type": "PORTFOLIO", "currency": "USD", "name": "Jane Doe ISA"}


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1: answers ``statuses`` in turn (the last one repeats)."""

    statuses: list[int]
    delay: float = 0.0
    requests: list[dict] = field(default_factory=list)
    url: str = ""

    def answer(self) -> int:
        return self.statuses[min(len(self.requests) - 1, len(self.statuses) - 1)]


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def receiver() -> Iterator:
    """Start receivers; each serves at most MAX_REQUESTS requests and is shut down after the test."""
    started: list[tuple[HTTPServer, threading.Thread, threading.Event]] = []

    def start(statuses: list[int] | None = None, delay: float = 0.0) -> Receiver:
        state = Receiver(statuses or [200], delay)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                state.requests.append({"path": self.path, "headers": self.headers, "body": body})
                time.sleep(state.delay)
                self.send_response(state.answer())
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        server = HTTPServer(("127.0.0.1", 0), Handler)
        server.timeout = 0.05
        server.handle_error = lambda *args: None  # a client that gave up (timeout) is not a test failure
        stop = threading.Event()

        def serve() -> None:  # a bounded server: at most MAX_REQUESTS, and it stops when told
            while not stop.is_set() and len(state.requests) < MAX_REQUESTS:
                server.handle_request()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        started.append((server, thread, stop))
        state.url = f"http://127.0.0.1:{server.server_address[1]}"
        return state

    yield start
    for server, thread, stop in started:
        stop.set()
        thread.join(5)
        server.server_close()



def stored(ws: Workspace, event_id: int) -> dict:
    """The event as the events table holds it, in the shape of a delivery."""
    row = ws.events.list(after=event_id - 1, limit=1).iloc[0]
    return {"id": int(row["id"]), "type": row["type"], "resource_id": row["resource_id"],
            "payload": json.loads(row["payload"]), "created_at": row["created_at"]}


def attempts(dispatcher: Dispatcher, subscriber: str) -> list[tuple]:
    log = dispatcher.log(subscriber=subscriber)
    return [(int(r.event_id), int(r.attempt), r.status, None if pd.isna(r.http_status) else int(r.http_status))
            for r in log.itertuples()]


def order_events(ws: Workspace) -> None:
    """An allocation, an account with cash, its configuration and one filled order."""
    allocation = ws.allocations.create(ALLOCATION)
    account = ws.accounts.create(ACCOUNT)
    ws.accounts.deposit(account.id, {"amount": "1000.00", "currency": "USD"})
    ws.configurations.create({"account_id": account.id, "allocation_id": allocation.id})
    ws.orders.place(account.id, {"cash_amount": "100.00", "currency": "USD", "side": "BUY"})


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
def test_bad_subscriptions_name_every_field(ws: Workspace, change: dict, paths: list[str]) -> None:
    dispatcher = Dispatcher(ws.db)
    dispatcher.subscribe_callback("taken", lambda e: None)
    arguments = {"name": "hook", "url": "https://example.org/hook", "secret": SECRET, **change}
    with pytest.raises(ValidationError) as error:
        dispatcher.subscribe_webhook(**arguments)
    assert error.value.paths == paths
    assert [s.name for s in dispatcher.subscriptions] == ["taken"]


def test_a_callback_must_be_callable(ws: Workspace) -> None:
    with pytest.raises(ValidationError) as error:
        Dispatcher(ws.db).subscribe_callback("audit", "not a function", types=["ACCOUNT.*"])
    assert error.value.paths == ["callback"]


def test_the_workspace_delivers_events_after_each_committed_write(ws) -> None:
    """Subscribers on the façade get every create, update and state change once it is committed."""
    seen = []
    ws.events.subscribe_callback("audit", seen.append, types=("PORTFOLIO_ALLOCATION.*", "ACCOUNT.*"))
    allocation = ws.allocations.create({"allocation": [
        {"instrument_id": "US0378331005", "instrument_id_type": "ISIN", "weight": "1"}]})
    account = ws.accounts.create({"type": "PORTFOLIO", "currency": "USD"})
    assert [e["type"] for e in seen] == ["PORTFOLIO_ALLOCATION.CREATED", "ACCOUNT.CREATED"]
    assert seen[0]["resource_id"] == allocation.id and seen[1]["resource_id"] == account.id
    log = ws.events.deliveries(subscriber="audit")
    assert list(log["status"]) == ["DELIVERED", "DELIVERED"]
