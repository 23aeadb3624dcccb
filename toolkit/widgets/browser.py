"""A real Voilà server and a real Chromium, for the browser tests and the app benchmarks.

    with voila_server(workspace=path) as url, chromium() as browser:
        page = open_app(browser, url, "market")

The server is ``python -m toolkit serve`` (the README's command) on a free port of
127.0.0.1; the browser is Debian's ``/usr/bin/chromium`` driven by Playwright, with every
request that is not to 127.0.0.1 blocked, so a page that needs the internet shows it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: shown by Voilà when a cell raises
CELL_ERROR = "There was an error when executing cell"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class VoilaServer:
    """A running ``python -m toolkit serve``; ``log`` holds what it printed."""

    def __init__(self, url: str, process: subprocess.Popen) -> None:
        self.url, self.process, self.log = url, process, []
        self.pool_fills = 0  # how often Voilà said its preheated kernel pool is full
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.log.append(line)
            if "is filled with" in line:
                self.pool_fills += 1

    def wait_pool(self, fills: int = 1, timeout: float = 120) -> None:
        """Wait until Voilà has filled its preheated kernel pool ``fills`` times in all."""
        deadline = time.monotonic() + timeout
        while self.pool_fills < fills:
            if time.monotonic() > deadline:
                raise TimeoutError("Voilà did not preheat a kernel in time:\n" + "".join(self.log[-30:]))
            time.sleep(0.1)

    def wait_http(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("Voilà exited:\n" + "".join(self.log[-30:]))
            try:
                urllib.request.urlopen(self.url + "/voila/static/voila.js", timeout=2)  # noqa: S310
                return
            except OSError:
                time.sleep(0.3)
        raise TimeoutError("Voilà did not answer in time:\n" + "".join(self.log[-30:]))


@contextmanager
def voila_server(workspace: str | Path | None = None, preheat: bool = True,
                 port: int | None = None) -> Iterator[VoilaServer]:
    """Start the apps' server on 127.0.0.1 (optionally on another workspace file) and stop it after."""
    port = port or free_port()
    env = dict(os.environ)
    if workspace:
        env["TOOLKIT_WORKSPACE"] = str(workspace)
    cmd = [sys.executable, "-m", "toolkit", "serve", f"--port={port}"]
    if not preheat:
        cmd.append("--VoilaConfiguration.preheat_kernel=False")
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    server = VoilaServer(f"http://127.0.0.1:{port}", process)
    try:
        server.wait_http()
        if preheat:
            server.wait_pool(1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def chromium() -> Iterator[object]:
    """Debian's Chromium under Playwright (headless)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser: object, url: str, blocked: list[str] | None = None) -> object:
    """A new page that refuses every request not to 127.0.0.1 (recorded in ``blocked``)."""
    page = browser.new_page(viewport={"width": 1360, "height": 1000})
    blocked = blocked if blocked is not None else []

    def route(request_route) -> None:
        if request_route.request.url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")):
            request_route.continue_()
        else:
            blocked.append(request_route.request.url)
            request_route.abort()

    page.route("**/*", route)
    page.goto(url)
    return page
