"""What a webhook receiver costs a write: ``ws.orders.place`` with a receiver that answers, one that is
down, and one that hangs, against delivery on the write path.

    python benchmarks/webhooks.py [--quick] [--results PATH]

Workload: BUY orders of 100.00 USD (0.6 AAPL / 0.4 MSFT, real closes of 2022-12-28) placed one after
the other into a copy of the demo workspace, with one webhook subscriber (every event type; an order
writes 3 events). The receivers are local HTTP servers on 127.0.0.1: one answers 200 at once, one is
a closed port (connection refused), one accepts and never answers. Each subscription has
``timeout=0.5`` s, ``retries=1`` and ``backoff=0.25`` s, so a failed delivery costs the write path
0.25 s (down) or 1.25 s (hanging) per event.

Ours: the toolkit as it is: a write commits, wakes the webhook worker and returns
(``Dispatcher.after_commit``); the worker delivers in the background. The peer is delivery on the write
path, what the toolkit did before issue 17 and what a simple integration does: the same order, then
``ws.events.dispatch()`` (deliver and wait) before the call returns. Both place the same number of
orders and must leave the same cash; we report the median seconds per order and the ratio.
"""

from __future__ import annotations

import http.server
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

from common import arguments, report, row

from toolkit.store import demo
from toolkit.workspace import Workspace

ORDER = {"cash_amount": "100.00", "currency": "USD", "side": "BUY"}


class _Answer(http.server.BaseHTTPRequestHandler):
    hang = False

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        if self.hang:
            time.sleep(3600)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def _server(hang: bool) -> http.server.ThreadingHTTPServer:
    handler = type("Handler", (_Answer,), {"hang": hang})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run(path: Path, url: str, n: int, on_write_path: bool) -> tuple[float, str]:
    """Median seconds per ``orders.place`` over ``n`` orders, and the cash left."""
    with Workspace.open(path) as ws:
        allocation = ws.allocations.create({"allocation": [
            {"instrument_id": "US0378331005", "instrument_id_type": "ISIN", "weight": "0.6"},
            {"instrument_id": "US5949181045", "instrument_id_type": "ISIN", "weight": "0.4"}]})
        account = ws.accounts.create({"type": "PORTFOLIO", "currency": "USD"}).id
        ws.accounts.deposit(account, {"amount": "100000.00", "currency": "USD"})
        ws.configurations.create({"account_id": account, "allocation_id": allocation.id})
        ws.events.subscribe_webhook("receiver", url, "secret", retries=1, backoff=0.25, timeout=0.5)
        times = []
        for _ in range(n):
            start = time.perf_counter()
            ws.orders.place(account, ORDER)
            if on_write_path:
                ws.events.dispatch()
            times.append(time.perf_counter() - start)
        return statistics.median(times), str(ws.accounts.get(account).cash)


def main() -> None:
    args = arguments(__doc__, "webhooks", "3 orders per receiver instead of 10")
    n = 3 if args.quick else 10
    servers = {"answers": _server(False), "hangs": _server(True)}
    urls = {"answers": f"http://127.0.0.1:{servers['answers'].server_port}/hook",
            "is down": f"http://127.0.0.1:{_closed_port()}/hook",
            "hangs": f"http://127.0.0.1:{servers['hangs'].server_port}/hook"}
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        source = demo.DEFAULT_PATH if demo.DEFAULT_PATH.exists() else demo.build(Path(folder) / "demo.db")
        for receiver, url in urls.items():
            timings = {}
            for on_write_path in (False, True):
                copy = Path(folder) / f"{receiver}-{on_write_path}.db"
                with Workspace.open(source) as ws:
                    ws.backup(copy)
                timings[on_write_path] = _run(copy, url, n, on_write_path)
            (ours, cash), (peer, peer_cash) = timings[False], timings[True]
            assert cash == peer_cash, (receiver, cash, peer_cash)
            rows.append(row(f"orders.place, receiver {receiver}",
                            f"{n} BUY orders, 3 events each, timeout 0.5 s, 1 retry", ours,
                            "delivery on the write path (dispatch() after each order)", peer))
    for server in servers.values():
        server.shutdown()
    report(rows, args.results)


if __name__ == "__main__":
    main()
