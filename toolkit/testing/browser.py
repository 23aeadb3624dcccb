"""A real Voilà server and a real Chromium, for the browser tests and the app benchmarks.

    with voila_server(workspace=path) as url, chromium() as browser:
        page = open_app(browser, url, "market")

The server is ``python -m toolkit serve`` (the README's command) on a free port of
127.0.0.1 (or another bind, ``host=``); the browser is Debian's ``/usr/bin/chromium`` driven by
Playwright, resolving no host but 127.0.0.1 (and the names given to ``chromium(resolve=...)``,
which it sends there), so a page that needs the internet shows it.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Playwright is imported only when a browser starts: the module imports without it
    from playwright.sync_api import Browser, Page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: every host but this machine fails to resolve: a page that needs the internet shows it
RESOLVER_RULES = "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
#: shown by Voilà when a cell raises
CELL_ERROR = "There was an error when executing cell"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class VoilaServer:
    """A running ``python -m toolkit serve``; ``log`` holds what it printed."""

    def __init__(self, url: str, process: subprocess.Popen) -> None:
        self.url, self.process = url, process
        self.log: list[str] = []
        self.pool_fills = 0  # how often Voilà said its preheated kernel pool is full
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout or ():
            self.log.append(line)
            if "is filled with" in line:
                self.pool_fills += 1

    @property
    def token(self) -> str | None:
        """The token the server printed in its URL (it makes one when it binds off loopback)."""
        found = re.search(r"[?&]token=(\w+)", "".join(self.log))
        return found and found[1]

    def kernel_ids(self) -> set[str]:
        """The ids of the kernels running under the server, read from their processes."""
        import psutil

        found = set()
        for child in psutil.Process(self.process.pid).children(recursive=True):
            try:
                found.update(re.findall(r"kernel-([0-9a-f-]{36})\.json", " ".join(child.cmdline())))
            except psutil.Error:  # ended meanwhile
                continue
        return found

    def wait_pool(self, fills: int = 1, timeout: float = 120) -> None:
        """Wait until Voilà has filled its preheated kernel pool ``fills`` times in all."""
        deadline = time.monotonic() + timeout
        while self.pool_fills < fills:
            if time.monotonic() > deadline:
                raise TimeoutError("Voilà did not preheat a kernel in time:\n" + "".join(self.log[-30:]))
            time.sleep(0.1)

    def wait_idle(self, quiet: float = 1.0, timeout: float = 120) -> None:
        """Wait until the server and its kernels have used almost no CPU for ``quiet`` seconds.

        Voilà reports a pool as filled when the kernel starts, before it has run the notebook;
        a page that takes the kernel earlier waits for the rest of the run. This waits for the
        run to end, as a visitor who comes a little later would find it.
        """
        import psutil

        root = psutil.Process(self.process.pid)
        deadline, calm_since = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            procs = [root, *root.children(recursive=True)]
            for p in procs:
                p.cpu_percent(interval=None)  # the first reading only starts the measurement
            time.sleep(0.25)
            busy = sum(p.cpu_percent(interval=None) for p in procs if p.is_running())
            if busy < 5:
                calm_since = calm_since or time.monotonic()
                if time.monotonic() - calm_since >= quiet:
                    return
            else:
                calm_since = None
        raise TimeoutError("Voilà's kernels did not come to rest in time")

    def ready(self, fills: int) -> None:
        """A preheated kernel that has run the app, as the next visitor gets it."""
        self.wait_pool(fills)
        self.wait_idle()

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
                 port: int | None = None, host: str = "127.0.0.1",
                 args: Sequence[str] = (), apps: Sequence[str] = (),
                 wait_for_pool: bool = True) -> Iterator[VoilaServer]:
    """Start the apps' server on 127.0.0.1 (optionally on another workspace file, another bind
    ``host``, with more options ``args`` of ``python -m toolkit serve``) and stop it after.
    The server's ``url`` is on 127.0.0.1 whatever the bind. With ``apps`` (notebook names such as
    ``"market.ipynb"``), only those apps get a preheated kernel, as ``voila.json`` gives each app;
    the others start theirs when a page asks (a test of one app need not start a kernel per app).
    The server is handed over once it answers and, unless ``wait_for_pool`` is false, a first pool
    has its kernels started."""
    port = port or free_port()
    env = dict(os.environ)
    if workspace:
        env["TOOLKIT_WORKSPACE"] = str(workspace)
    cmd = [sys.executable, "-m", "toolkit", "serve", f"--port={port}", f"--host={host}", *args]
    if not preheat:
        cmd.append("--VoilaConfiguration.preheat_kernel=False")
    elif apps:
        pools = {"default": {"pool_size": 0}, **{app: {"pool_size": 1} for app in apps}}
        cmd.append(f"--VoilaKernelManager.kernel_pools_config={json.dumps(pools)}")
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    server = VoilaServer(f"http://127.0.0.1:{port}", process)
    try:
        server.wait_http()
        if preheat and wait_for_pool:
            server.wait_pool(1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def chromium(resolve: Sequence[str] = ()) -> Iterator[Browser]:
    """Debian's Chromium under Playwright (headless); the host names in ``resolve`` lead to 127.0.0.1."""
    from playwright.sync_api import sync_playwright

    rules = ", ".join([*(f"MAP {name} 127.0.0.1" for name in resolve), RESOLVER_RULES])
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=[*CHROMIUM_ARGS, f"--host-resolver-rules={rules}"])
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser: Browser, url: str, outside: list[str] | None = None) -> Page:
    """A new page at ``url``; requests to any host but 127.0.0.1 fail (see :data:`RESOLVER_RULES`)
    and are recorded in ``outside``."""
    page = browser.new_page(viewport={"width": 1360, "height": 1000})
    if outside is not None:
        local = ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")
        page.on("request", lambda request: None if request.url.startswith(local)
                else outside.append(request.url))
    page.goto(url)
    return page
