"""The apps' server refuses strangers (toolkit.server): a Host/Origin allow-list against DNS
rebinding, a token whenever it binds off loopback, and kernels that end with their page."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from toolkit.server import (
    _WAITING,
    LOCAL_HOSTS,
    POOL_NICE,
    _wait_before,
    allowed_entry,
    allowed_hosts,
    host_allowed,
    is_loopback,
    origin_allowed,
    refusal,
    renice,
    split_host,
)
from toolkit.testing.browser import chromium, free_port, open_page, voila_server

ROOT = Path(__file__).resolve().parents[1]
EVIL = "evil.example"
APP = "/voila/render/market.ipynb"
#: the market app is the only one preheated, refilled 1 s after a page takes its kernel; a kernel idle
#: this long (and unconnected) is culled
CULL = ["--MappingKernelManager.cull_idle_timeout=8", "--MappingKernelManager.cull_interval=1",
        "--VoilaKernelManager.fill_delay=1",
        "--VoilaKernelManager.preheat_denylist=['allocations','attribution','optimise','performance','risk']"]


# --------------------------------------------------------------------------- the allow-list rules

@pytest.mark.parametrize(("host", "allowed"), [
    ("127.0.0.1", True), ("127.0.0.1:8866", True), ("localhost:1", True), ("LOCALHOST:8866", True),
    ("localhost.:8866", True), ("[::1]:8866", True), ("[::1]", True), ("[0:0:0:0:0:0:0:1]:80", True),
    (f"{EVIL}:8866", False), (EVIL, False), ("localhost.evil.com", False), ("127.0.0.1.evil.com:8866", False),
    ("evil.localhost", False), ("127.0.0.2", False), ("::1", False), ("[::1", False), ("", False), (None, False),
    ("localhost:8866:1", False), ("user@localhost", False), ("localhost/x", False), ("localhost..", False),
    ("[::ffff:127.0.0.1]", False), ("127.1", False), ("0x7f000001", False), ("localhost:", False),
])
def test_host_header_allowed_only_for_local_names(host, allowed) -> None:
    assert host_allowed(host) is allowed


def test_split_host_normalises_case_dot_brackets_and_port() -> None:
    assert split_host("LocalHost.:8866") == ("localhost", 8866)
    assert split_host("[0::1]") == ("::1", None)
    assert split_host("[::g]") is None and split_host(" localhost") is None


@pytest.mark.parametrize(("origin", "host", "allowed"), [
    (None, "127.0.0.1:8866", True),
    ("http://127.0.0.1:8866", "127.0.0.1:8866", True),
    ("http://localhost:8866", "127.0.0.1:8866", True),  # another name of this machine, same server
    ("HTTP://[::1]:8866", "localhost:8866", True),
    ("http://localhost", "localhost:80", True), ("https://localhost", "localhost:443", True),
    ("http://localhost:3000", "localhost:8866", False),  # another local web app
    (f"http://{EVIL}:8866", f"{EVIL}:8866", False),  # the rebinding shape
    (f"http://{EVIL}:8866", "127.0.0.1:8866", False),
    ("http://localhost.evil.com:8866", "127.0.0.1:8866", False),
    ("http://127.0.0.1.evil.com:8866", "127.0.0.1:8866", False),
    ("null", "127.0.0.1:8866", False), ("", "127.0.0.1:8866", False),
    ("file://", "127.0.0.1:8866", False), ("ws://127.0.0.1:8866", "127.0.0.1:8866", False),
    ("http://127.0.0.1:8866/path", "127.0.0.1:8866", False), ("http://127.0.0.1:8866", None, False),
])
def test_origin_must_be_a_page_of_this_server(origin, host, allowed) -> None:
    assert origin_allowed(origin, host) is allowed


def test_refusal_names_the_header_and_checks_both_origin_headers() -> None:
    assert refusal({"Host": "127.0.0.1:1"}) is None
    assert "Host" in (refusal({"Host": f"{EVIL}:1", "Origin": f"http://{EVIL}:1"}) or "")
    assert "Sec-WebSocket-Origin" in (refusal({"Host": "127.0.0.1:1", "Sec-WebSocket-Origin": "null"}) or "")


def test_allowed_hosts_from_options_environment_and_bind() -> None:
    env = {"TOOLKIT_ALLOWED_HOSTS": "Apps.Example.COM., 10.0.0.5 [fe80::1]"}
    hosts = allowed_hosts(["Dash.lan"], env=env)
    assert hosts == LOCAL_HOSTS | {"apps.example.com", "10.0.0.5", "fe80::1", "dash.lan"}
    assert host_allowed("APPS.example.com:8866", hosts) and host_allowed("[fe80::1]:8866", hosts)
    assert allowed_hosts(env={}) == LOCAL_HOSTS
    assert allowed_hosts(env={}, bind="192.168.1.7") == LOCAL_HOSTS | {"192.168.1.7"}
    assert socket.gethostname().lower() in allowed_hosts(env={}, bind="0.0.0.0")
    assert allowed_entry("::1") == "::1"
    with pytest.raises(ValueError, match="without scheme or port"):
        allowed_entry("evil.example:80")


@pytest.mark.parametrize(("ip", "loopback"), [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                              ("127.0.0.2", True), ("0.0.0.0", False), ("", False),
                                              ("::", False), ("192.168.1.7", False), ("myhost", False)])
def test_loopback_binds(ip, loopback) -> None:
    assert is_loopback(ip) is loopback


def test_voila_json_culls_a_kernel_soon_after_its_page_goes() -> None:
    culling = json.loads((ROOT / "voila.json").read_text())["MappingKernelManager"]
    assert culling["cull_idle_timeout"] <= 300 and culling["cull_interval"] <= 60
    assert culling["cull_connected"] is False  # an open page keeps its kernel


def test_voila_json_pools_five_performance_kernels_and_delays_refills() -> None:
    pools = json.loads((ROOT / "voila.json").read_text())["VoilaKernelManager"]
    assert pools["kernel_pools_config"]["performance.ipynb"]["pool_size"] >= 5  # five visitors at once
    assert pools["fill_delay"] >= 10  # refills stay off the pages being opened


def test_a_refill_waiting_out_its_delay_starts_when_a_page_asks() -> None:
    async def scenario() -> tuple[str, float]:
        async def start() -> str:
            return "started"

        task = asyncio.get_running_loop().create_task(_wait_before(60, start()))
        await asyncio.sleep(0.05)
        begun = time.monotonic()
        _WAITING[task].set()  # what the pool does when a page takes this refill
        return await asyncio.wait_for(task, 5), time.monotonic() - begun

    result, waited = asyncio.run(scenario())
    assert result == "started" and waited < 1 and not _WAITING


def test_pool_kernels_start_one_per_place_and_a_page_skips_the_queue() -> None:
    async def scenario() -> bool:
        limiter, started = asyncio.Semaphore(1), []
        ran = {name: asyncio.Event() for name in "abc"}  # each kernel's notebook has run

        async def start(name: str) -> dict:
            started.append(name)
            return {"task": asyncio.ensure_future(ran[name].wait())}

        loop = asyncio.get_running_loop()
        tasks = {name: loop.create_task(_wait_before(0, start(name), limiter)) for name in "abc"}
        await asyncio.sleep(0.05)
        assert started == ["a"]  # b and c wait for a's run
        _WAITING[tasks["c"]].set()  # a page takes c
        await asyncio.sleep(0.05)
        assert started == ["a", "c"]
        ran["a"].set()  # b's turn
        await asyncio.sleep(0.05)
        assert started == ["a", "c", "b"]
        ran["b"].set()
        ran["c"].set()
        await asyncio.gather(*tasks.values())
        await asyncio.sleep(0)
        return limiter.locked()

    assert asyncio.run(scenario()) is False


def test_a_stopping_server_starts_no_waiting_pool_kernel() -> None:
    async def scenario() -> list[str]:
        limiter, stopping, started = asyncio.Semaphore(1), asyncio.Event(), []

        async def start() -> dict:
            started.append("kernel")
            return {"task": asyncio.ensure_future(asyncio.sleep(0))}

        task = asyncio.get_running_loop().create_task(_wait_before(60, start(), limiter, stopping))
        await asyncio.sleep(0.05)
        stopping.set()  # what the pool's shutdown_all does
        _WAITING[task].set()
        with pytest.raises(RuntimeError, match="stopping"):
            await task
        assert not limiter.locked()
        return started

    assert asyncio.run(scenario()) == []


def test_renice_sets_every_thread_and_reports_a_gone_process() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import threading, time; "
                              "threading.Thread(target=time.sleep, args=(30,)).start(); time.sleep(30)"])
    try:
        time.sleep(0.5)
        assert renice(child.pid, POOL_NICE)
        import psutil

        threads = [t.id for t in psutil.Process(child.pid).threads()]
        assert len(threads) == 2 and {os.getpriority(os.PRIO_PROCESS, t) for t in threads} == {POOL_NICE}
    finally:
        child.kill()
        child.wait()
    assert not renice(child.pid, POOL_NICE)


# --------------------------------------------------------------------------- a real server

def _get(url: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict, str]:
    """GET ``path`` of the server at ``url`` with these headers (``Host`` among them if given)."""
    conn = http.client.HTTPConnection(url.removeprefix("http://"), timeout=120)
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    return response.status, dict(response.getheaders()), response.read().decode()


def _websocket(url: str, path: str, headers: dict[str, str]) -> int:
    """The status of a websocket upgrade to ``path`` with these headers (101 when it opens)."""
    from tornado.httpclient import HTTPClientError, HTTPRequest
    from tornado.websocket import websocket_connect

    async def attempt() -> int:
        try:
            connection = await websocket_connect(HTTPRequest(url.replace("http", "ws", 1) + path, headers=headers))
        except HTTPClientError as error:
            return error.code
        connection.close()
        return 101

    return asyncio.run(attempt())


def _at_rest(server) -> int:
    """Wait until the preheated pool is full again and the server idle; the pages served so far."""
    served = "".join(server.log).count("Using pre-heated kernel")
    server.ready(served + 1)
    return served


def _kernel_id(html: str) -> str:
    found = re.search(r'"kernelId": "([0-9a-f-]{36})"', html)
    assert found, html[:500]
    return found[1]


@pytest.fixture(scope="module")
def server(demo_path: Path, tmp_path_factory: pytest.TempPathFactory):
    """The apps' server on 127.0.0.1, the market app preheated (refilled after 1 s), idle kernels culled
    after 8 s."""
    path = tmp_path_factory.mktemp("server") / "ws.db"
    shutil.copy(demo_path, path)
    with voila_server(workspace=path, args=CULL) as server:
        server.ready(1)
        yield server


@pytest.mark.browser
def test_foreign_host_gets_no_page_and_no_kernel(server) -> None:
    port, served = server.url.rsplit(":", 1)[1], _at_rest(server)
    kernels = server.kernel_ids()
    for host in (f"{EVIL}:{port}", f"localhost.evil.com:{port}", f"127.0.0.1.evil.com:{port}"):
        status, _, body = _get(server.url, APP, {"Host": host, "Origin": f"http://{host}"})
        assert status == 403 and "kernelId" not in body
    status, _, _ = _get(server.url, APP, {"Host": f"127.0.0.1:{port}", "Origin": f"http://{EVIL}:{port}"})
    assert status == 403
    assert server.kernel_ids() == kernels and _at_rest(server) == served
    assert "Refused GET /voila/render/market.ipynb: Host" in "".join(server.log)


@pytest.mark.browser
def test_chromium_through_a_rebound_name_gets_no_page(server) -> None:
    port, served = server.url.rsplit(":", 1)[1], _at_rest(server)
    kernels = server.kernel_ids()
    with chromium(resolve=[EVIL]) as browser:
        page = browser.new_page()
        response = page.goto(f"http://{EVIL}:{port}{APP}")
        assert response is not None and response.status == 403
        page.wait_for_timeout(1000)
        assert page.locator("[class*='tk-']").count() == 0 and "kernelId" not in page.content()
    assert server.kernel_ids() == kernels and _at_rest(server) == served


@pytest.mark.browser
def test_foreign_origin_cannot_open_a_kernel_websocket(server) -> None:
    port, _ = server.url.rsplit(":", 1)[1], _at_rest(server)
    status, _, html = _get(server.url, APP)  # a normal request to 127.0.0.1 still serves the page
    assert status == 200 and "tk-" in html
    channels = f"/api/kernels/{_kernel_id(html)}/channels"
    assert _websocket(server.url, channels, {"Host": f"{EVIL}:{port}", "Origin": f"http://{EVIL}:{port}"}) == 403
    assert _websocket(server.url, channels, {"Origin": f"http://{EVIL}:{port}"}) == 403
    assert _websocket(server.url, channels, {"Origin": "null"}) == 403
    assert _websocket(server.url, channels, {"Origin": f"http://localhost:{free_port()}"}) == 403
    assert _websocket(server.url, channels, {"Origin": f"http://127.0.0.1:{port}"}) == 101


@pytest.mark.browser
def test_pool_kernel_survives_culling_and_a_page_that_goes_takes_its_kernel(server) -> None:
    """A pool kernel idle for longer than the cull timeout still serves a working page; when the
    page goes away, its kernel is shut down at once (not after the cull timeout)."""
    _at_rest(server)
    time.sleep(10)  # longer than the 8 s cull timeout
    with chromium() as browser:
        page = open_page(browser, server.url + APP)
        page.wait_for_selector(".tk-chart .main-svg", timeout=90_000)
        kernel = page.evaluate("() => JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId")
        page.locator(".tk-search input").fill("international business")  # the kernel answers
        page.locator(".tk-results select option", has_text="IBM").wait_for(timeout=30_000)
        time.sleep(10)  # an open page keeps its idle kernel
        assert kernel in server.kernel_ids()
        # a last interaction, so that the kernel is not yet idle for the cull timeout when the page goes:
        # what ends it must then be the page's shutdown request (else culling and the request race)
        page.locator(".tk-search input").fill("microsoft")
        page.locator(".tk-results select option", has_text="MSFT").first.wait_for(timeout=30_000)
        page.goto("about:blank")
        deadline = time.monotonic() + 6  # well inside the 8 s cull timeout: the page's shutdown request
        while kernel in server.kernel_ids() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert kernel not in server.kernel_ids(), "".join(server.log[-20:])
    assert "Kernel shutdown: " + kernel in "".join(server.log)
    assert "Culling 'idle' kernel 'python3' (" + kernel not in "".join(server.log)


@pytest.mark.browser
def test_kernels_come_back_to_the_pool_size_within_the_cull_interval_after_pages_go(server) -> None:
    """Two visitors at once take two pool kernels; once they go (one leaving the page, one whose
    browser context is closed as a crashed tab would be), their kernels end and the pool refills,
    so the server runs just its pool again within the cull timeout and interval."""
    _at_rest(server)
    pooled = server.kernel_ids()
    config = "() => JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId"
    with chromium() as browser:
        leaving = open_page(browser, server.url + APP)
        context = browser.new_context()
        crashing = context.new_page()
        crashing.goto(server.url + APP)
        for page in (leaving, crashing):
            page.wait_for_selector(".tk-search input", timeout=90_000)
        visiting = {leaving.evaluate(config), crashing.evaluate(config)}
        assert len(visiting) == 2 and visiting <= server.kernel_ids()
        leaving.goto("about:blank")
        context.close()
    deadline = time.monotonic() + 8 + 1 + 30  # the cull timeout and interval of CULL, and a refill
    while time.monotonic() < deadline and (visiting & server.kernel_ids() or len(server.kernel_ids()) != len(pooled)):
        time.sleep(0.5)
    assert not visiting & server.kernel_ids(), "".join(server.log[-20:])
    assert len(server.kernel_ids()) == len(pooled), "".join(server.log[-20:])


def _kernel_process(server, kernel_id: str):
    import psutil

    return next(p for p in psutil.Process(server.process.pid).children(recursive=True)
                if f"kernel-{kernel_id}.json" in " ".join(p.cmdline()))


@pytest.mark.browser
def test_pool_kernels_start_niced_and_a_page_beyond_the_pool_does_not_wait_out_the_refill_delay(
        demo_path: Path, tmp_path: Path) -> None:
    """A preheated kernel starts and runs its app at POOL_NICE; the one a page takes gets the
    server's niceness back (as root here); a second page, finding only a refill waiting out a
    300 s ``fill_delay``, has it started at once."""
    path = tmp_path / "ws.db"
    shutil.copy(demo_path, path)
    with voila_server(workspace=path, args=["--VoilaKernelManager.fill_delay=300"], apps=("market.ipynb",)) as server:
        server.ready(1)
        (pooled,) = server.kernel_ids()
        kernel = _kernel_process(server, pooled)
        assert kernel.nice() == POOL_NICE
        status, _, html = _get(server.url, APP)
        assert status == 200 and _kernel_id(html) == pooled
        if os.geteuid() == 0:  # lowering a niceness needs privilege
            assert kernel.nice() == os.getpriority(os.PRIO_PROCESS, 0)
        begun = time.monotonic()
        status, _, html = _get(server.url, APP)  # (times out after 120 s)
        assert status == 200 and _kernel_id(html) != pooled and time.monotonic() - begun < 120
        assert "".join(server.log).count("Using pre-heated kernel") == 2


# --------------------------------------------------------------------------- off loopback

@pytest.fixture(scope="module")
def open_server(demo_path: Path):
    """The apps' server bound on every interface (no preheated kernels)."""
    with voila_server(workspace=demo_path, preheat=False, host="0.0.0.0") as server:
        yield server


@pytest.mark.browser
def test_off_loopback_every_page_and_websocket_needs_the_token(open_server) -> None:
    server, token = open_server, open_server.token
    assert token and len(token) >= 32, "".join(server.log)
    for path in ("/", APP, "/voila/tree"):
        status, headers, body = _get(server.url, path)
        assert status in (302, 403) and "kernelId" not in body
        assert status == 403 or headers["Location"].startswith("/login")
    kernel = "/api/kernels/00000000-0000-0000-0000-000000000000"
    assert _websocket(server.url, kernel + "/channels", {}) == 403
    assert server.kernel_ids() == set()
    # with the token: served, at this machine's name too (a bind on every interface allows it)
    assert _get(server.url, f"/voila/tree?token={token}")[0] == 200
    assert _get(server.url, f"/voila/tree?token={token}", {"Host": socket.gethostname()})[0] == 200
    assert _websocket(server.url, f"{kernel}/channels?token={token}", {}) == 404  # past the door, no such kernel
    assert _get(server.url, f"/voila/tree?token={token}", {"Host": EVIL})[0] == 403
    assert _get(server.url, "/voila/static/voila.js")[0] == 200  # static files stay public


@pytest.mark.browser
def test_off_loopback_without_a_token_the_server_refuses_to_start() -> None:
    cmd = [sys.executable, "-m", "toolkit", "serve", f"--port={free_port()}", "--host=0.0.0.0", "--token=",
           "--VoilaConfiguration.preheat_kernel=False"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "Refusing to serve on '0.0.0.0' without a token" in done.stdout + done.stderr
