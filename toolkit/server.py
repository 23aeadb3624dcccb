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
  to a page counts as active then (:func:`mark_handed_out_active`), so a page never gets a
  kernel culled under it.
* **A preheated pool per app.** Each app keeps ``pool_size`` kernels (2, ``kernel_pools_config``
  in ``voila.json``) that have already run its notebook, so that visitors arriving together
  each get a page that answers at once; a kernel handed out is replaced ``fill_delay`` seconds
  later (5 s, so that the refill does not compete with the page being opened). So the server
  runs the pools' kernels plus one per open page, and returns to the pools' size when the pages
  go. A larger pool for one app (say five visitors at once on Performance) is
  ``--VoilaKernelManager.kernel_pools_config='{"default": {"pool_size": 2},
  "performance.ipynb": {"pool_size": 5}}'`` on ``python -m toolkit serve``; each preheated
  kernel holds about 400 MB (the demo workspace, measured by benchmarks/app_load.py).

Why not jupyter_server's own check (``allow_remote_access`` / ``local_hostnames``)? Voilà's
standalone app sets ``allow_remote_access=True``, which turns ``JupyterHandler.check_host``
off; turning it back on through ``Voila.tornado_settings`` covers only the handlers derived from
``JupyterHandler`` (not the static files nor Voilà's ``/voila/query`` websocket), can allow a
non-loopback IP address only by switching the whole check off, and checks the ``Origin`` only
against the ``Host`` (equal for a rebound page). So the check is done here, once, in front of
the router (:func:`guard`), with the rules as the pure functions below.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import socket
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


def mark_handed_out_active(manager) -> None:
    """Make Voilà's preheated pool hand out kernels as freshly active.

    A pool kernel is spared by the culler while it waits in the pool, but once a page takes it,
    it is an idle kernel with no connection until the page's websocket opens a moment later; a
    kernel that waited in the pool longer than ``cull_idle_timeout`` could be culled in that
    moment, and the visitor gets a page without a kernel. Handing it out counts as activity.
    """
    hand_out = getattr(manager, "get_rendered_notebook", None)
    if hand_out is None:  # no preheated pool
        return

    async def get_rendered_notebook(*args, **kwargs):
        task, rendered, kernel_id = await hand_out(*args, **kwargs)
        manager.get_kernel(kernel_id).last_activity = datetime.now(UTC)
        return task, rendered, kernel_id

    manager.get_rendered_notebook = get_rendered_notebook


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
            settings = super().init_settings()
            if not loopback and not self.identity_provider.auth_enabled:
                self.log.critical("Refusing to serve on %r without a token: every computer that reaches "
                                  "this address could run code here. Drop --token= (one is generated) "
                                  "or give --token=SECRET.", self.ip)
                shutil.rmtree(self.connection_dir, ignore_errors=True)  # made by Voilà's start()
                self.exit(2)
            mark_handed_out_active(self.kernel_manager)
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

