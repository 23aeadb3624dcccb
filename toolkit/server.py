"""The apps' web server: Voilà, refusing strangers.

``python -m toolkit serve`` runs ``AppServer`` (:func:`main`), Voilà's standalone app with three
safety rules:

* **Host and Origin allow-list.** A request whose ``Host`` header names a host outside the
  allow-list is answered 403 before it reaches any handler: no page, no kernel, no websocket.
  This stops DNS rebinding (a page of ``evil.example`` whose name the attacker re-points at
  127.0.0.1 talks to this server with ``Host: evil.example``). The allow-list is ``127.0.0.1``,
  ``localhost`` and ``[::1]`` (any port), plus the names given with ``--allow-host NAME`` or in
  the environment variable ``TOOLKIT_ALLOWED_HOSTS`` (comma or space separated), plus, on a
  non-loopback bind, the bound address (or, when binding every interface, this machine's host
  name, the one Voilà prints). An ``Origin`` header, when a request carries one (websocket
  upgrades, POSTs, scripts' requests), must name an allowed host on the port of the ``Host``
  header, i.e. a page of this server: a page of another local web app cannot drive a kernel.
* **A token off loopback.** When the server binds anything but a loopback address, every page,
  API call and kernel websocket needs Voilà's token (``?token=...`` once, then a cookie); the
  server generates one and prints the URL with it, unless ``--token=...`` gives one. It refuses
  to start on such a bind without authentication.
* **Kernels end with their page.** A page that is left asks Voilà to shut its kernel down at
  once (which needs the ``_xsrf`` cookie the page handler here sets); a kernel whose page went
  without asking (a crashed tab) is culled after ``cull_idle_timeout`` seconds with no page
  connected, checked every ``cull_interval`` seconds (60 and 10: ``MappingKernelManager`` in
  ``voila.json``). Voilà never culls the kernels waiting in its preheated pool, and one handed
  to a page counts as active then (:func:`pooled`), so a page never gets a
  kernel culled under it.
* **A preheated pool per app.** Each app keeps ``pool_size`` kernels (``kernel_pools_config`` in
  ``voila.json``: five for Performance, two each for Risk, Attribution and Market, one for the
  other pages) that have already run its notebook, so that visitors arriving together each get a
  page whose HTML is ready at once; each preheated kernel holds about 330 MB of the demo
  workspace, so the pools hold about 5 GB at rest (15 kernels; benchmarks/app_load.py).
  A kernel handed out is replaced ``fill_delay`` seconds later
  (30 s), and the replacement starts and runs its notebook at niceness 19, behind the pages'
  kernels; a page that finds only replacements still waiting has one started at once
  (:func:`pooled`). So the server runs the pools' kernels plus one per open page, and returns to
  the pools' size when the pages go. Another size for one app is, for example,
  ``--VoilaKernelManager.kernel_pools_config='{"default": {"pool_size": 1},
  "performance.ipynb": {"pool_size": 8}}'`` on ``python -m toolkit serve`` (the whole mapping:
  the option replaces ``voila.json``'s).

Why not jupyter_server's own check (``allow_remote_access`` / ``local_hostnames``)? Voilà's
standalone app sets ``allow_remote_access=True``, which turns ``JupyterHandler.check_host``
off; turning it back on through ``Voila.tornado_settings`` covers only the handlers derived from
``JupyterHandler`` (not the static files nor Voilà's ``/voila/query`` websocket), can allow a
non-loopback IP address only by switching the whole check off, and checks the ``Origin`` only
against the ``Host`` (equal for a rebound page). So the check is done here, once, in front of
the router (:func:`guard`), with the rules as the pure functions below.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import os
import re
import shutil
import socket
import weakref
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

#: the hosts always allowed in the ``Host`` header (IPv6 without brackets)
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
#: the environment variable of extra allowed hosts, comma or space separated
ENV_ALLOWED_HOSTS = "TOOLKIT_ALLOWED_HOSTS"
#: binds on every interface
WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::"})
DEFAULT_PORTS = {"http": 80, "https": 443}

# a Host header or an Origin's authority: a bracketed IPv6 address or a name, then maybe a port
_AUTHORITY = re.compile(r"(?:\[(?P<ipv6>[0-9A-Fa-f:.]+)\]|(?P<name>[^\s:/@\[\]]+))(?::(?P<port>\d{1,5}))?")
_ORIGIN = re.compile(r"(?P<scheme>https?)://(?P<authority>[^/?#]+)", re.IGNORECASE)


def split_host(value: str | None) -> tuple[str, int | None] | None:
    """``(host, port)`` of a ``Host`` header (``name``, ``name:port``, ``[v6]:port``): the name in
    lower case without one trailing dot, an IPv6 address without brackets in its short form;
    ``None`` when the value is absent or not of that form."""
    match = _AUTHORITY.fullmatch(value or "")
    if match is None:
        return None
    port = int(match["port"]) if match["port"] else None
    if match["ipv6"] is not None:
        try:
            return ipaddress.IPv6Address(match["ipv6"]).compressed, port
        except ValueError:
            return None
    name = match["name"].lower()
    name = name[:-1] if name.endswith(".") else name
    return (name, port) if name else None


def host_allowed(host_header: str | None, allowed: Iterable[str] = LOCAL_HOSTS) -> bool:
    """True when the ``Host`` header names an allowed host (any port)."""
    host = split_host(host_header)
    return host is not None and host[0] in allowed


def origin_allowed(origin: str | None, host_header: str | None,
                   allowed: Iterable[str] = LOCAL_HOSTS) -> bool:
    """True when a request's ``Origin`` is absent or is a page of this server: http(s), an allowed
    host, and the port of the ``Host`` header (default ports filled in). ``null`` is refused."""
    if origin is None:
        return True
    match = _ORIGIN.fullmatch(origin.strip())
    if match is None:
        return False
    source, target = split_host(match["authority"]), split_host(host_header)
    if source is None or target is None:
        return False
    default = DEFAULT_PORTS[match["scheme"].lower()]
    return source[0] in allowed and (source[1] or default) == (target[1] or default)


def refusal(headers: Mapping[str, str], allowed: Iterable[str] = LOCAL_HOSTS) -> str | None:
    """Why a request with these headers is refused, or ``None`` when it may go on."""
    host = headers.get("Host")
    if not host_allowed(host, allowed):
        return f"Host {host!r} is not an allowed host"
    for name in ("Origin", "Sec-WebSocket-Origin"):
        if not origin_allowed(headers.get(name), host, allowed):
            return f"{name} {headers.get(name)!r} is not a page of this server (Host {host!r})"
    return None


def allowed_entry(value: str) -> str:
    """An allow-list entry as :func:`split_host` spells hosts: ``Name.`` -> ``name``,
    ``[::1]`` or ``::1`` -> ``::1``; a port or anything else raises ``ValueError``."""
    text = value.strip()
    try:
        return ipaddress.IPv6Address(text).compressed
    except ValueError:
        host = split_host(text)
    if host is None or host[1] is not None:
        raise ValueError(f"allowed host {value!r}: give a host name or address, without scheme or port")
    return host[0]


def is_loopback(ip: str) -> bool:
    """True when binding ``ip`` serves this machine only (``localhost`` or a loopback address)."""
    text = ip.strip().strip("[]").lower()
    if text in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False


def bind_hosts(ip: str) -> set[str]:
    """The hosts a non-loopback bind adds to the allow-list: the bound address or name, or for a
    bind on every interface this machine's host name (the one Voilà prints in its URL)."""
    if is_loopback(ip):
        return set()
    return {allowed_entry(socket.gethostname() if ip.strip() in WILDCARD_BINDS else ip)}


def allowed_hosts(extra: Iterable[str] = (), env: Mapping[str, str] | None = None,
                  bind: str = "127.0.0.1") -> frozenset[str]:
    """The allow-list: :data:`LOCAL_HOSTS`, ``extra``, the hosts of ``TOOLKIT_ALLOWED_HOSTS`` in
    ``env`` (default ``os.environ``) and those of a non-loopback ``bind`` (:func:`bind_hosts`)."""
    env = os.environ if env is None else env
    listed = [*extra, *re.split(r"[\s,]+", env.get(ENV_ALLOWED_HOSTS, ""))]
    return frozenset({*LOCAL_HOSTS, *bind_hosts(bind), *(allowed_entry(v) for v in listed if v.strip())})


# --------------------------------------------------------------------------- the wiring

def guard(app, allowed: Iterable[str], log) -> None:
    """Make the tornado application ``app`` answer 403 to every request :func:`refusal` refuses,
    before its routes are looked at (pages, APIs, websockets and static files alike)."""
    from tornado.web import ErrorHandler

    allowed, route = frozenset(allowed), app.find_handler

    def find_handler(request, **kwargs):
        reason = refusal(request.headers, allowed)
        if reason is None:
            return route(request, **kwargs)
        log.warning("Refused %s %s: %s; allowed hosts: %s (add one with --allow-host NAME)",
                    request.method, request.path, reason, ", ".join(sorted(allowed)))
        return app.get_handler_delegate(request, ErrorHandler, {"status_code": 403})

    app.find_handler = find_handler  # tornado's routing delegate calls app.find_handler(request)


#: the niceness of a pool kernel while it starts and runs its notebook, before a page takes it
POOL_NICE = 19
#: the refills still waiting out ``fill_delay``: their task -> the event that starts them at once
_WAITING: weakref.WeakKeyDictionary[asyncio.Task, asyncio.Event] = weakref.WeakKeyDictionary()


async def _wait_before(delay: float, aw, limiter: asyncio.Semaphore | None = None,
                       stopping: asyncio.Event | None = None):
    """Voilà's refill delay (``voila_kernel_manager.wait_before``: wait ``delay`` s, then start the
    pool kernel ``aw``), cut short when a page asks for this kernel (:func:`pooled` sets its event in
    :data:`_WAITING`); then, unless a page asked for it, a turn among the pool kernels that start
    and run their notebook at most ``limiter``'s value at once (the turn ends with that run). When
    ``stopping`` is set (the server stops), a kernel not yet started is not started: RuntimeError."""
    task, wake = asyncio.current_task(), asyncio.Event()
    if task is not None:
        _WAITING[task] = wake
    holding = False
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), delay)
        if limiter is not None and not wake.is_set():
            holding = await _turn(limiter, wake)
    finally:
        if task is not None:
            _WAITING.pop(task, None)
    if stopping is not None and stopping.is_set():
        if limiter is not None and holding:
            limiter.release()
        aw.close()
        raise RuntimeError("the apps' server is stopping")  # Voilà's shutdown_all passes over it
    try:
        content = await aw
    except BaseException:
        if limiter is not None and holding:
            limiter.release()
        raise
    if limiter is not None and holding:
        content["task"].add_done_callback(lambda _: limiter.release())  # the notebook has run (or failed)
    return content


async def _turn(limiter: asyncio.Semaphore, wake: asyncio.Event) -> bool:
    """Wait for a place in ``limiter`` or for ``wake``, whichever comes first; True when holding a place."""
    acquire, woken = asyncio.ensure_future(limiter.acquire()), asyncio.ensure_future(wake.wait())
    try:
        await asyncio.wait({acquire, woken}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        woken.cancel()
        if not acquire.done():
            acquire.cancel()
    return acquire.done() and not acquire.cancelled()


def renice(pid: int, niceness: int) -> bool:
    """Set the niceness of every thread of process ``pid``; False when the system refuses (lowering
    a niceness needs privilege) or the process is gone."""
    import psutil

    try:
        threads = [t.id for t in psutil.Process(pid).threads()]
        for tid in threads:  # Linux keeps a niceness per thread
            os.setpriority(os.PRIO_PROCESS, tid, niceness)
    except (OSError, psutil.Error):
        return False
    return True


def pooled(base: type, nice: int = POOL_NICE) -> type:
    """Voilà's kernel manager class ``base`` with this server's pool policy (``base`` unchanged when
    it keeps no preheated pool).

    * **A page never waits out the refill delay.** Voilà counts a refill still waiting its
      ``fill_delay`` as a pool kernel and hands it to a page that finds no kernel ready, which then
      waits for the delay and the whole start: with a pool of two and five visitors at once, the
      last three waited 13-22 s. Here a page that takes such a refill starts it at once.
    * **Pool kernels start one per CPU at a time**, each after the last has run its notebook, so
      that the first are ready soon when a server starts (15 kernels starting together on 2 cores
      were all ready only after about 25 s); a page that takes a kernel still queued starts it at
      once.
    * **Refills run behind the pages.** A pool kernel starts and runs its notebook at niceness
      ``nice`` (19, the lowest priority: at 10 a refill running beside a page's first change still
      slowed it by about 50 ms on 2 cores), so that it takes the CPU only when the kernels serving
      pages leave it; when a page takes it, it gets the server's niceness back (which needs
      privilege, as root or with ``CAP_SYS_NICE``; otherwise it stays at ``nice``, as do all the
      pages' kernels then).
    * **A kernel handed out counts as active**, so the culler never ends it before the page's
      websocket connects: a kernel that waited in the pool longer than ``cull_idle_timeout``
      is an idle kernel with no connection until then.
    """
    if not hasattr(base, "get_rendered_notebook"):
        return base
    import voila.voila_kernel_manager as pool_module

    # read by fill_if_needed each time it schedules a pool kernel: at most one starting per CPU
    stopping = asyncio.Event()
    pool_module.wait_before = functools.partial(_wait_before, limiter=asyncio.Semaphore(os.cpu_count() or 1),
                                                stopping=stopping)
    own = os.getpriority(os.PRIO_PROCESS, 0)

    class PooledKernelManager(base):
        _kept_nice = False

        async def shutdown_all(self, *args, **kwargs):
            stopping.set()  # pool kernels still waiting are not started
            for wake in list(_WAITING.values()):
                wake.set()
            return await super().shutdown_all(*args, **kwargs)

        def _pid(self, kernel_id: str) -> int | None:
            return getattr(getattr(self.get_kernel(kernel_id), "provisioner", None), "pid", None)

        async def _initialize(self, notebook_path: str, kernel_id: str | None = None, **kwargs):
            content = await super()._initialize(notebook_path, kernel_id, **kwargs)
            pid = self._pid(content["kernel_id"])
            if kernel_id is None and pid is not None:  # a new pool kernel (not a restart)
                renice(pid, max(nice, own))
            return content

        async def get_rendered_notebook(self, notebook_name: str, *args, **kwargs):
            first = (self._pools.get(notebook_name) or [None])[0]
            wake = _WAITING.get(first) if isinstance(first, asyncio.Task) else None
            if wake is not None:  # the page would get a refill still waiting out its delay
                wake.set()
            task, rendered, kernel_id = await super().get_rendered_notebook(notebook_name, *args, **kwargs)
            self.get_kernel(kernel_id).last_activity = datetime.now(UTC)
            pid = self._pid(kernel_id)
            if pid is not None and not renice(pid, own) and not self._kept_nice:
                self._kept_nice = True
                self.log.info("Pool kernels keep niceness %s when a page takes them (lowering it "
                              "needs privilege)", nice)
            return task, rendered, kernel_id

    return PooledKernelManager


def _app_server_class():
    """:class:`AppServer`, built on first use so that importing this module does not import Voilà."""
    from traitlets import List, Unicode
    from voila.app import Voila
    from voila.tornado.handler import TornadoVoilaHandler

    class PageHandler(TornadoVoilaHandler):
        """Voilà's page, setting the ``_xsrf`` cookie. When a page closes, its script posts that
        cookie to ``/voila/api/shutdown/KERNEL``; Voilà's page never sets it, so the post is refused
        (403 "'_xsrf' argument missing", voila-dashboards/voila#1458) and the kernel lives on."""

        async def get(self, path=None):
            self.xsrf_token  # noqa: B018 - reading it sets the cookie
            return await super().get(path)

    class AppServer(Voila):
        """Voilà with the Host/Origin allow-list and a token on every non-loopback bind."""

        allow_hosts = List(Unicode(), config=True,
                           help="Host names or addresses allowed besides 127.0.0.1, localhost and [::1].")

        def initialize(self, argv=None) -> None:
            super().initialize(argv)
            try:
                self.allowed = allowed_hosts(self.allow_hosts, bind=self.ip)
            except ValueError as error:
                self.log.critical("%s", error)
                self.exit(2)

        def init_settings(self) -> dict:
            loopback = is_loopback(self.ip)
            if not loopback and self.token is None:
                self.auto_token = True  # Voilà generates one and prints the URL with it
            import voila.app as voila_app

            factory = voila_app.voila_kernel_manager_factory  # Voilà makes its kernel manager class here
            voila_app.voila_kernel_manager_factory = lambda *args, **kwargs: pooled(factory(*args, **kwargs))
            try:
                settings = super().init_settings()
            finally:
                voila_app.voila_kernel_manager_factory = factory
            if not loopback and not self.identity_provider.auth_enabled:
                self.log.critical("Refusing to serve on %r without a token: every computer that reaches "
                                  "this address could run code here. Drop --token= (one is generated) "
                                  "or give --token=SECRET.", self.ip)
                shutil.rmtree(self.connection_dir, ignore_errors=True)  # made by Voilà's start()
                self.exit(2)
            return settings

        def init_handlers(self) -> list:
            return [(rule[0], PageHandler, *rule[2:]) if rule[1] is TornadoVoilaHandler else rule
                    for rule in super().init_handlers()]

        def listen(self) -> None:
            guard(self.app, self.allowed, self.log)
            self.log.info("Allowed hosts: %s", ", ".join(sorted(self.allowed)))
            super().listen()

    return AppServer


def main(argv: list[str] | None = None, allow_hosts: Iterable[str] = ()) -> None:
    """Run the apps' server with Voilà's command line ``argv`` and extra allowed hosts."""
    _app_server_class().launch_instance(argv=argv, allow_hosts=list(allow_hosts))

