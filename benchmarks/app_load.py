"""The apps as a visitor meets them, in Debian's Chromium: time to controls, each change, five visitors.

    python benchmarks/app_load.py [--quick] [--apps performance,risk] [--five-only [full,filling]]

On a copy of the demo workspace with its book, each of the Performance, Risk, Attribution, Market
and Optimise pages is served by ``python -m toolkit serve`` (the README's server) with a preheated
kernel for that app, and measured (the goals of issue 22: 2.5 s to controls, 0.3 s a change, 2 s an
optimisation):

* **navigation to controls answering**: from the navigation's start (the browser's
  ``performance.timeOrigin``) to the page showing the kernel's first answer (the headline, or for
  Market the search box of the live kernel), read in the page itself;
* **each change**: a control changed as a visitor would (a period, a grouping, a benchmark, an
  instrument; on Attribution followed by its Update button), from the change reaching the page (its
  input, change or click event) to the page showing the new answer with no spinner left and its
  charts drawn, both on the page's clock; ipywidgets is given 1.5 s to settle between changes (not
  counted).

Each figure is the median over the loads, after one warm-up load. Then **five visitors** open the
Performance page at the same moment (five browser contexts, each its own kernel), with the pool
``voila.json`` gives that app and with a pool of five, each meeting the server in two states:
**pool full** (up a while: every app's pool filled and at rest, as a server that has been running
is met) and **pool filling** (just started: the visitors come as soon as it answers, the pool
kernels still starting and running their notebooks). Each row holds every visitor's time to
controls (``each_s``), when each page's HTML had arrived (``html_s``: the server's part; the rest
is the browser's scripts and the widgets' messages), and the CPU seconds of that window used by the
test's own browser (``browser_cpu_s``: Chromium and Playwright, on the same 2 cores as the
server, where real visitors bring their own), the Voilà server, its kernels and other work on the
machine, with the 1-minute load average before.

``--apps`` measures only the pages named (no five visitors), and ``--five-only [full,filling]``
only the five visitors; both write their rows to a scratch file (``app_load_<apps>.json``,
``app_load_five.json`` in the temporary directory) unless ``--results`` is given:
``results/app_load.json`` holds full runs only.

Rows carry the figure measured before this change as ``peer`` (the issue 22 figures, or this
benchmark's previous results), or the goal where there was none; ``ratio`` is ours / that.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from common import arguments, machine, report

from toolkit.testing.browser import chromium, voila_server
from toolkit.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]
#: issue 22's figures before this work: page -> (open -> controls, fastest change) in seconds
BEFORE = {"performance": (3.9, 5.3), "risk": (4.2, 3.8), "attribution": (3.8, 3.6)}
#: this benchmark's previous results for the Market page (results/app_load.json before issue 22)
BEFORE_MARKET = {"navigation to controls answering": 3.566, "search to match listed": 0.041,
                 "select to chart redrawn": 0.971}
#: the second of two visitors opening Performance together waited this long (issue 22)
BEFORE_SECOND_VISITOR = 13.5
GOAL_OPEN, GOAL_CHANGE, GOAL_OPTIMISE = 2.5, 0.3, 2.0
SETTLE_MS = 1500
VISITORS = 5

#: records, in each page, when the ready element first shows the kernel's answer (ms from navigation),
#: and when the visitor's act reached the page (the first input, change or click event once armed)
READY_SCRIPT = """
(() => {
  for (const kind of ['input', 'change', 'click']) {
    document.addEventListener(kind, () => {
      if (window.__tkArmed) { window.__tkArmed = false; window.__tkActed = performance.now(); }
    }, true);
  }
  const css = %s;
  const tick = setInterval(() => {
    const el = document.querySelector(css);
    if (el && (el.tagName === 'INPUT' || el.textContent.trim().length > 0)) {
      window.__tkReady = performance.now();
      clearInterval(tick);
    }
  }, 10);
})();
"""

#: true when the watched element's text (``textContent``: charts are SVG) differs from ``before``, no spinner
#: is left and no chart is still drawing a figure it received (``data-tk-drawing``: components.Chart); the
#: page's clock then is kept as ``__tkDone``
CHANGED = """([css, before, busy]) => {
  const el = document.querySelector(css);
  const spinning = busy && document.querySelector(busy + ' .tk-spinner');
  const drawing = document.querySelector('.tk-chart-host[data-tk-drawing]');
  const done = el !== null && el.textContent !== before && !spinning && !drawing;
  if (done) window.__tkDone = performance.now();
  return done;
}"""


@dataclass
class Step:
    """One change: ``act(page)`` changes a control (after ``prepare(page)``, not counted); done when
    ``watch`` shows new text."""

    name: str
    act: Callable
    watch: str
    prepare: Callable | None = None


@dataclass
class App:
    notebook: str
    ready: str
    busy: str | None
    steps: list[Step] = field(default_factory=list)
    goal: float = GOAL_CHANGE  # each change's


def _select(css: str, label: str | None = None, starts: str | None = None) -> Callable:
    def act(page) -> None:
        choice = label
        if starts is not None:
            choice = next(t for t in page.locator(f"{css} select option").all_inner_texts() if t.startswith(starts))
        page.locator(f"{css} select").select_option(label=choice)
    return act


def _click(css: str) -> Callable:
    return lambda page: page.locator(css).first.click()


def _type(css: str, text: str) -> Callable:
    return lambda page: page.locator(css).fill(text)


ATTR_UPDATE, OPT_RUN = "button.tk-attr-update", "button.tk-opt-run"
APPS = {
    "performance": App("performance.ipynb", ".tk-perf-headline", ".tk-perf-busy", [
        Step("period 5Y", _select(".tk-perf-period", "5Y"), ".tk-perf-headline"),
        Step("overview by quarter", _select(".tk-perf-frequency", "quarterly"), ".tk-po001"),
        Step("benchmark: none", _select(".tk-perf-benchmark", "None"), ".tk-perf-headline"),
        Step("another portfolio", _select(".tk-perf-portfolio", "Income mandate"), ".tk-perf-headline"),
    ]),
    "risk": App("risk.ipynb", ".tk-risk-headline", ".tk-risk-busy", [
        Step("window 3Y", _select(".tk-risk-period", "3Y"), ".tk-risk-headline"),
        Step("another instrument", _select(".tk-risk-instrument", starts="MSFT"), ".tk-risk-headline"),
        Step("window 10Y", _select(".tk-risk-period", "10Y"), ".tk-risk-headline"),
    ]),
    "attribution": App("attribution.ipynb", ".tk-attr-headline", ".tk-attr-busy", [
        Step("period last 3 years + Update", _click(ATTR_UPDATE), ".tk-attr-headline",
             _select(".tk-attr-period", "Last 3 years")),
        Step("group by asset class + Update", _click(ATTR_UPDATE), ".tk-attr-table",
             _select(".tk-attr-grouping", "Asset class")),
        Step("another model + Update", _click(ATTR_UPDATE), ".tk-attr-headline",
             _select(".tk-attr-model", "Brinson-Hood-Beebower")),
    ]),
    "market": App("market.ipynb", ".tk-search input", None, [
        Step("search to match listed", _type(".tk-search input", "exxon"), ".tk-results select"),
        Step("select to chart redrawn", _select(".tk-results", starts="XOM"), ".tk-chart .legend"),
    ]),
    "optimise": App("optimise.ipynb", ".tk-opt-portfolio select", ".tk-opt-busy", [
        Step("Optimise (Risk Parity)", _click(OPT_RUN), ".tk-opt-headline"),
        Step("rule Max Sharpe + Optimise", _click(OPT_RUN), ".tk-opt-headline",
             _select(".tk-opt-rule", "Max Sharpe")),
        Step("another portfolio + Optimise", _click(OPT_RUN), ".tk-opt-headline",
             _select(".tk-opt-portfolio", "Income mandate")),
    ], GOAL_OPTIMISE),
}


def _open(browser, url: str, ready: str):
    """A fresh visitor (browser context) navigating to ``url``; the page records its ready time."""
    context = browser.new_context(viewport={"width": 1360, "height": 1000})
    context.add_init_script(READY_SCRIPT % json.dumps(ready))
    page = context.new_page()
    page.goto(url, wait_until="commit", timeout=180_000)
    return context, page


def _ready_s(page) -> float:
    page.wait_for_function("() => window.__tkReady !== undefined", timeout=180_000, polling=50)
    return page.evaluate("window.__tkReady") / 1000


def _change(page, app: App, step: Step) -> float:
    """Seconds from the act reaching the page (its input, change or click event) to the page showing
    the new answer, both read on the page's clock: Playwright's own round trips, which a visitor's
    hand does not make, are left out (they added 10-40 ms, the most on a control's first use)."""
    page.wait_for_timeout(SETTLE_MS)
    if step.prepare is not None:  # the choice before the Update button: it reaches the kernel (the stale note)
        step.prepare(page)
        page.wait_for_timeout(200)
    before = page.evaluate("css => { const el = document.querySelector(css); return el ? el.textContent : ''; }",
                           step.watch)
    page.evaluate("() => { window.__tkArmed = true; window.__tkActed = undefined; }")
    step.act(page)
    page.wait_for_function(CHANGED, arg=[step.watch, before, app.busy], timeout=120_000, polling="raf")
    seconds = page.evaluate("() => (window.__tkDone - window.__tkActed) / 1000")
    if not isinstance(seconds, (int, float)) or not seconds >= 0:  # NaN when no event reached the page
        raise RuntimeError(f"{app.notebook}: {step.name!r} raised no input, change or click event on the page "
                           "to time it from")
    return float(seconds)


def _visit(browser, server, app: App) -> tuple[float, list[float]]:
    context, page = _open(browser, server.url + "/voila/render/" + app.notebook, app.ready)
    try:
        opened = _ready_s(page)
        print(f"  {app.notebook}: controls after {opened:.2f} s", flush=True)
        if app.busy:  # the first answer is complete
            page.wait_for_function(CHANGED, arg=[app.ready, "", app.busy], timeout=120_000)
        return opened, [_change(page, app, step) for step in app.steps]
    finally:
        context.close()


def _pool_args(notebook: str, size: int) -> list[str]:
    pools = {"default": {"pool_size": 0}, notebook: {"pool_size": size}}
    return [f"--VoilaKernelManager.kernel_pools_config={json.dumps(pools)}"]


#: one visitor at a time waits for the refill before the next visit (server.ready): no need to wait out
#: voila.json's fill_delay, which keeps refills off the pages of visitors arriving together
QUICK_REFILL = "--VoilaKernelManager.fill_delay=1"


def _kernels_mb(server) -> tuple[float, int]:
    """RSS of the server and its kernels (MiB), and how many kernels run."""
    root = psutil.Process(server.process.pid)
    procs = [root, *root.children(recursive=True)]
    return sum(p.memory_info().rss for p in procs) / 2**20, len(server.kernel_ids())


def one_visitor(browser, path: Path, runs: int, only: list[str] | None = None) -> list[dict]:
    rows = []
    for name, app in APPS.items():
        if only is not None and name not in only:
            continue
        print(f"{name}: one visitor", flush=True)
        with voila_server(workspace=path, args=[*_pool_args(app.notebook, 1), QUICK_REFILL]) as server:
            visits = []
            for i in range(runs + 1):  # the first visit warms the browser's cache and is not counted
                server.ready(i + 1)  # a fresh preheated kernel that has run the app
                result = _visit(browser, server, app)
                if i:
                    visits.append(result)
            rss, kernels = _kernels_mb(server)
        opened = statistics.median(v[0] for v in visits)
        changes = {s.name: statistics.median(v[1][n] for v in visits) for n, s in enumerate(app.steps)}
        size = f"{runs} visits, demo book"
        extra = {"peak_rss_mb": round(rss, 1), "kernels": kernels, "machine": machine()}
        before_open = BEFORE_MARKET["navigation to controls answering"] if name == "market" else \
            BEFORE.get(name, (None, None))[0]  # (no figure before for Optimise: its goal is the peer)
        rows.append(_row(f"{name}: navigation to controls answering", size, opened,
                         "before (issue 22 / previous run)", before_open, GOAL_OPEN, extra))
        for step, seconds in changes.items():
            previous = BEFORE_MARKET.get(step) if name == "market" else BEFORE.get(name, (None, None))[1]
            peer = "before (previous run)" if name == "market" else "before (issue 22, fastest change)"
            rows.append(_row(f"{name}: {step}", size, seconds, peer, previous, app.goal, extra))
    return rows


class CpuSplit:
    """CPU seconds (user + system) used from :meth:`start` to :meth:`stop` by the test's browser
    (Chromium and Playwright's driver: every process under this one but the server), the Voilà
    server process, its kernels, and the whole machine (the rest is other work on it); processes
    are sampled every 0.1 s, so those that start in the window (kernels, page renderers) count."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.kind: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_until_stopped, daemon=True)

    def _sample(self) -> None:
        server = {self.server_pid, *(p.pid for p in psutil.Process(self.server_pid).children(recursive=True))}
        for proc in psutil.Process().children(recursive=True):
            try:
                times = proc.cpu_times()
            except psutil.Error:  # ended meanwhile
                continue
            kind = "server" if proc.pid == self.server_pid else "kernels" if proc.pid in server else "browser"
            self.kind.setdefault(proc.pid, kind)
            self.last[proc.pid] = times.user + times.system

    def _sample_until_stopped(self) -> None:
        while not self._stop.wait(0.1):
            self._sample()

    @staticmethod
    def _machine() -> float:
        t = psutil.cpu_times()
        return t.user + t.nice + t.system + getattr(t, "irq", 0) + getattr(t, "softirq", 0)

    def start(self) -> None:
        self._sample()
        self.first = dict(self.last)  # a process running now counts from now, one started later from its start
        self._started, self._machine0 = time.monotonic(), self._machine()
        self._thread.start()

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        self._sample()
        split = {"browser": 0.0, "server": 0.0, "kernels": 0.0}
        for pid, seconds in self.last.items():
            split[self.kind[pid]] += seconds - self.first.get(pid, 0.0)
        machine_s = self._machine() - self._machine0
        return {"window_s": round(time.monotonic() - self._started, 2),
                **{f"{k}_cpu_s": round(v, 2) for k, v in split.items()},
                "other_cpu_s": round(max(machine_s - sum(split.values()), 0.0), 2),
                "machine_cpu_s": round(machine_s, 2)}


def _pools(args: list[str]) -> int:
    """How many apps get a preheated pool, from ``voila.json`` and ``args`` (:func:`_pool_args`)."""
    config = json.loads((ROOT / "voila.json").read_text())["VoilaKernelManager"]["kernel_pools_config"]
    for arg in args:
        if arg.startswith("--VoilaKernelManager.kernel_pools_config="):
            config = json.loads(arg.split("=", 1)[1])
    default = config.get("default", {}).get("pool_size", 0)
    return sum(config.get(nb.name, {}).get("pool_size", default) > 0 for nb in (ROOT / "apps").glob("*.ipynb"))


#: the server as the five visitors find it: up a while (every pool full, at rest), or just started
STATES = {"full": "pool full (server up a while)", "filling": "pool filling (server just started)"}
#: when the page's HTML (the preheated kernel's rendered notebook) had all arrived, s from navigation
HTML_DONE = "() => performance.getEntriesByType('navigation')[0].responseEnd / 1000"


def five_visitors(browser, path: Path, pool: int | None, state: str = "full") -> dict:
    """Five visitors open Performance together: each one's time to controls (s), when the HTML had
    arrived (the server's part), and the CPU split of that window (:class:`CpuSplit`).

    ``state`` "full": the server has been up a while, so every app's pool is full and at rest;
    "filling": the visitors come as soon as the server answers, the pools' kernels still starting
    and running their notebooks."""
    app = APPS["performance"]
    args = _pool_args(app.notebook, pool) if pool is not None else []
    print(f"{VISITORS} visitors on performance, pool {pool or 'of voila.json'}, {STATES[state]}", flush=True)
    with voila_server(workspace=path, args=args, wait_for_pool=state == "full") as server:
        if state == "full":
            server.wait_pool(_pools(args), timeout=600)
            server.wait_idle(quiet=3, timeout=600)
        load = os.getloadavg()[0]
        cpu = CpuSplit(server.process.pid)
        cpu.start()
        opened = [_open(browser, server.url + "/voila/render/" + app.notebook, app.ready) for _ in range(VISITORS)]
        times = [_ready_s(page) for _, page in opened]
        split = cpu.stop()
        html = [page.evaluate(HTML_DONE) for _, page in opened]
        rss, kernels = _kernels_mb(server)
        for context, _ in opened:
            context.close()
    print(f"  to controls {[round(t, 2) for t in times]} s, HTML {[round(t, 2) for t in html]} s, {split}, "
          f"load {load:.1f}", flush=True)
    return {"times": times, "html": html, "cpu": split, "load": load, "rss": rss, "kernels": kernels}


def five_rows(browser, path: Path, states: list[str]) -> list[dict]:
    """The five visitors with ``voila.json``'s pool and with a pool of five, in each state."""
    pool_json = json.loads((ROOT / "voila.json").read_text())["VoilaKernelManager"]["kernel_pools_config"]
    default_pool = pool_json.get(APPS["performance"].notebook, pool_json["default"])["pool_size"]
    rows = []
    for pool, label in ((None, f"voila.json's pool of {default_pool}"), (VISITORS, f"a pool of {VISITORS}")):
        for state in states:
            crowd = five_visitors(browser, path, pool, state)
            extra = {"each_s": [round(t, 3) for t in crowd["times"]], "html_s": [round(t, 3) for t in crowd["html"]],
                     **crowd["cpu"], "load_1min": round(crowd["load"], 2), "peak_rss_mb": round(crowd["rss"], 1),
                     "kernels": crowd["kernels"], "machine": machine()}
            size = f"{VISITORS} visitors at once, {label}, {STATES[state]}"
            rows.append(_row("performance, 5 visitors: slowest to controls", size, max(crowd["times"]),
                             "before: the second of two visitors (issue 22)", BEFORE_SECOND_VISITOR, GOAL_OPEN, extra))
            rows.append(_row("performance, 5 visitors: median to controls", size, statistics.median(crowd["times"]),
                             "goal (issue 22)", None, GOAL_OPEN, extra))
    return rows


def _then(app, control: str, value: str, act: Callable) -> None:
    getattr(app, control).value = value
    act()


#: the same changes made in the kernel's Python (no browser): page -> [(step, change)]; a change is a
#: function of the app object (the attribution changes end with its Update)
KERNEL_STEPS: dict[str, list[tuple[str, Callable]]] = {
    "performance": [("period 5Y", lambda a: setattr(a.period, "value", "5Y")),
                    ("overview by quarter", lambda a: setattr(a.frequency, "value", "quarterly")),
                    ("benchmark: none", lambda a: setattr(a.benchmark, "value", "__none__")),
                    ("another portfolio", lambda a: setattr(a.portfolio, "value", a.portfolio.options[1][1]))],
    "risk": [("window 3Y", lambda a: setattr(a.period, "value", "3Y")),
             ("another instrument", lambda a: setattr(a.instrument, "value", next(
                 v for label, v in a.instrument.options if label.startswith("MSFT")))),
             ("window 10Y", lambda a: setattr(a.period, "value", "10Y"))],
    "attribution": [("period last 3 years + Update", lambda a: _then(a, "period", "Last 3 years", a.refresh)),
                    ("group by asset class + Update", lambda a: _then(a, "grouping", "Asset class", a.refresh)),
                    ("another model + Update", lambda a: _then(a, "model", "Brinson-Hood-Beebower", a.refresh))],
    "optimise": [("Optimise (Risk Parity)", lambda a: a.optimise()),
                 ("rule Max Sharpe + Optimise", lambda a: _then(a, "rule", "Max Sharpe", a.optimise)),
                 ("another portfolio + Optimise", lambda a: _then(a, "portfolio", a.portfolio.options[1][1],
                                                                  a.optimise))],
    "market": [("search to match listed", lambda a: setattr(a.search, "value", "exxon")),
               ("select to chart redrawn", lambda a: setattr(a.results, "value", (next(
                   v for label, v in a.results.options if label.startswith("XOM")),)))],
}


def kernel_side(path: Path, only: list[str] | None = None) -> list[dict]:
    """Each change's time in the kernel (the widgets' callbacks, no browser), on a fresh app built on
    a warm workspace connection, its charts counted as shown (the figure's JSON is made): what a
    page's kernel spends before its answer travels. The median of 3 runs; ``first_run_s`` is the
    first, when the workspace has not yet remembered that change's answers (as in a page's fresh
    kernel, which has answered only the page's first request)."""
    from toolkit.widgets.attribution import AttributionApp
    from toolkit.widgets.components import Chart
    from toolkit.widgets.market import MarketExplorer
    from toolkit.widgets.optimise import OptimiseApp
    from toolkit.widgets.performance import PerformanceApp
    from toolkit.widgets.risk import RiskApp

    classes = {"performance": PerformanceApp, "risk": RiskApp, "attribution": AttributionApp,
               "market": MarketExplorer, "optimise": OptimiseApp}
    rows = []
    with Workspace.open(path) as ws:
        for name, steps in KERNEL_STEPS.items():
            if only is not None and name not in only:
                continue
            classes[name](ws)  # warms the connection's memo, as the preheated kernel has
            times: dict[str, list[float]] = {step: [] for step, _ in steps}
            for _ in range(3):
                app = classes[name](ws)
                for chart in [c for c in vars(app).values() if isinstance(c, Chart)]:
                    chart._view_count = 1
                for step, change in steps:
                    start = time.perf_counter()
                    change(app)
                    times[step].append(time.perf_counter() - start)
            for step, _ in steps:
                rows.append(_row(f"{name}: {step} (in the kernel)", "3 runs, demo book",
                                 statistics.median(times[step]), "goal (issue 22)", None, APPS[name].goal,
                                 {"first_run_s": round(times[step][0], 3), "machine": machine()}))
    return rows


def _row(name: str, size: str, ours: float, peer: str, peer_s: float | None, goal: float, extra: dict) -> dict:
    if peer_s is None:
        peer, peer_s = "goal (issue 22)", goal
    return {"name": name, "size": size, "ours_s": round(ours, 3), "peer": peer, "peer_s": peer_s,
            "ratio": round(ours / peer_s, 3), "goal_s": goal, "meets_goal": ours <= goal, **extra}


def run(runs: int, only: list[str] | None = None) -> list[dict]:
    tmp = Path(tempfile.mkdtemp())
    try:
        demo = Workspace.demo(copy=True)
        path = Path(shutil.copy(demo.path, tmp / "bench.db"))
        demo.close()
        rows = kernel_side(path, only)
        with chromium() as browser:
            rows += one_visitor(browser, path, runs, only)
            if only is None:
                rows += five_rows(browser, path, list(STATES))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def _only() -> list[str] | None:
    """``--apps a,b`` (taken off the command line before the common arguments are read)."""
    if "--apps" not in sys.argv:
        return None
    at = sys.argv.index("--apps")
    names = sys.argv[at + 1].split(",") if at + 1 < len(sys.argv) else []
    del sys.argv[at:at + 2]
    unknown = sorted(set(names) - set(APPS))
    if not names or unknown:
        raise SystemExit(f"--apps takes names among {', '.join(APPS)} (got {', '.join(unknown) or 'none'})")
    if "--results" not in sys.argv:  # a partial run never replaces the full results
        sys.argv += ["--results", str(Path(tempfile.gettempdir()) / f"app_load_{'_'.join(names)}.json")]
    return names


def _five_only() -> list[str] | None:
    """``--five-only [full,filling]``: only the five visitors, in the states named (default both),
    written to a scratch file unless ``--results`` is given."""
    if "--five-only" not in sys.argv:
        return None
    at = sys.argv.index("--five-only")
    given = sys.argv[at + 1] if at + 1 < len(sys.argv) and not sys.argv[at + 1].startswith("-") else None
    del sys.argv[at:at + (2 if given else 1)]
    states = given.split(",") if given else list(STATES)
    if set(states) - set(STATES):
        raise SystemExit(f"--five-only takes states among {', '.join(STATES)} (got {given})")
    if "--results" not in sys.argv:
        sys.argv += ["--results", str(Path(tempfile.gettempdir()) / "app_load_five.json")]
    return states


def run_five(states: list[str]) -> list[dict]:
    tmp = Path(tempfile.mkdtemp())
    try:
        demo = Workspace.demo(copy=True)
        path = Path(shutil.copy(demo.path, tmp / "bench.db"))
        demo.close()
        with chromium() as browser:
            return five_rows(browser, path, states)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    only, five = _only(), _five_only()
    args = arguments(__doc__, "app_load", "1 counted visit per page instead of 3 (smoke run)")
    report(run_five(five) if five is not None else run(1 if args.quick else 3, only), args.results)


if __name__ == "__main__":
    main()
