"""The apps as a visitor meets them, in Debian's Chromium: time to controls, each change, five visitors.

    python benchmarks/app_load.py [--quick] [--apps performance,risk]

On a copy of the demo workspace with its book, each of the Performance, Risk, Attribution and
Market pages is served by ``python -m toolkit serve`` (the README's server) with a preheated kernel
for that app, and measured:

* **navigation to controls answering**: from the navigation's start (the browser's
  ``performance.timeOrigin``) to the page showing the kernel's first answer (the headline, or for
  Market the search box of the live kernel), read in the page itself;
* **each change**: a control changed as a visitor would (a period, a grouping, a benchmark, an
  instrument; on Attribution followed by its Update button), from the change to the page showing
  the new answer with no spinner left; ipywidgets is given 1.5 s to settle between changes (not
  counted).

Each figure is the median over the loads, after one warm-up load. Then **five visitors** open the
Performance page at the same moment (five browser contexts, each its own kernel), once with the
pool ``voila.json`` gives every app and once with a pool of five for that app: the time to
controls of each visitor, read in each page.

``--apps`` measures only the pages named (no five visitors) and writes its rows to a scratch file
unless ``--results`` is given: ``results/app_load.json`` holds full runs only.

Rows carry the figure measured before this change as ``peer`` (the issue 22 figures, or this
benchmark's previous results), or the goal where there was none; ``ratio`` is ours / that.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
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
GOAL_OPEN, GOAL_CHANGE = 2.5, 0.3
SETTLE_MS = 1500
VISITORS = 5

#: records, in each page, when the ready element first shows the kernel's answer (ms from navigation)
READY_SCRIPT = """
(() => {
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

#: true when the watched element's text (``textContent``: charts are SVG) differs from ``before`` and no spinner is left
CHANGED = """([css, before, busy]) => {
  const el = document.querySelector(css);
  const spinning = busy && document.querySelector(busy + ' .tk-spinner');
  return el !== null && el.textContent !== before && !spinning;
}"""


@dataclass
class Step:
    """One change: ``act(page)`` changes a control; done when ``watch`` shows new text."""

    name: str
    act: Callable
    watch: str


@dataclass
class App:
    notebook: str
    ready: str
    busy: str | None
    steps: list[Step] = field(default_factory=list)


def _select(css: str, label: str | None = None, starts: str | None = None, update: str | None = None) -> Callable:
    def act(page) -> None:
        choice = label
        if starts is not None:
            choice = next(t for t in page.locator(f"{css} select option").all_inner_texts() if t.startswith(starts))
        page.locator(f"{css} select").select_option(label=choice)
        if update is not None:
            page.wait_for_timeout(200)  # (the change reaches the kernel: the stale note; not counted)
            page.locator(update).first.click()
    return act


def _type(css: str, text: str) -> Callable:
    return lambda page: page.locator(css).fill(text)


ATTR_UPDATE = "button.tk-attr-update"
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
        Step("period last 3 years + Update", _select(".tk-attr-period", "Last 3 years", update=ATTR_UPDATE),
             ".tk-attr-headline"),
        Step("group by asset class + Update", _select(".tk-attr-grouping", "Asset class", update=ATTR_UPDATE),
             ".tk-attr-table"),
        Step("another model + Update", _select(".tk-attr-model", "Brinson-Hood-Beebower", update=ATTR_UPDATE),
             ".tk-attr-headline"),
    ]),
    "market": App("market.ipynb", ".tk-search input", None, [
        Step("search to match listed", _type(".tk-search input", "exxon"), ".tk-results select"),
        Step("select to chart redrawn", _select(".tk-results", starts="XOM"), ".tk-chart .legend"),
    ]),
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
    page.wait_for_timeout(SETTLE_MS)
    before = page.evaluate("css => { const el = document.querySelector(css); return el ? el.textContent : ''; }",
                           step.watch)
    start = time.perf_counter()
    step.act(page)
    page.wait_for_function(CHANGED, arg=[step.watch, before, app.busy], timeout=120_000, polling="raf")
    return time.perf_counter() - start


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
        with voila_server(workspace=path, args=_pool_args(app.notebook, 1)) as server:
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
        before_open = BEFORE_MARKET["navigation to controls answering"] if name == "market" else BEFORE[name][0]
        rows.append(_row(f"{name}: navigation to controls answering", size, opened,
                         "before (issue 22 / previous run)", before_open, GOAL_OPEN, extra))
        for step, seconds in changes.items():
            previous = BEFORE_MARKET.get(step) if name == "market" else BEFORE[name][1]
            peer = "before (previous run)" if name == "market" else "before (issue 22, fastest change)"
            rows.append(_row(f"{name}: {step}", size, seconds, peer, previous, GOAL_CHANGE, extra))
    return rows


def five_visitors(browser, path: Path, pool: int | None) -> dict:
    """Five visitors open Performance together: each one's time to controls (s)."""
    app = APPS["performance"]
    args = _pool_args(app.notebook, pool) if pool is not None else []
    print(f"{VISITORS} visitors on performance, pool {pool or 'of voila.json'}", flush=True)
    with voila_server(workspace=path, args=args) as server:
        server.ready(1)
        opened = [_open(browser, server.url + "/voila/render/" + app.notebook, app.ready) for _ in range(VISITORS)]
        times = [_ready_s(page) for _, page in opened]
        rss, kernels = _kernels_mb(server)
        for context, _ in opened:
            context.close()
    return {"times": times, "rss": rss, "kernels": kernels}


def _then_update(app, control: str, value: str) -> None:
    getattr(app, control).value = value
    app.refresh()


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
    "attribution": [("period last 3 years + Update", lambda a: _then_update(a, "period", "Last 3 years")),
                    ("group by asset class + Update", lambda a: _then_update(a, "grouping", "Asset class")),
                    ("another model + Update", lambda a: _then_update(a, "model", "Brinson-Hood-Beebower"))],
    "market": [("search to match listed", lambda a: setattr(a.search, "value", "exxon")),
               ("select to chart redrawn", lambda a: setattr(a.results, "value", (next(
                   v for label, v in a.results.options if label.startswith("XOM")),)))],
}


def kernel_side(path: Path, only: list[str] | None = None) -> list[dict]:
    """Each change's time in the kernel (the widgets' callbacks, no browser), on a fresh app built on
    a warm workspace connection: what a page's kernel spends before its answer travels."""
    from toolkit.widgets.attribution import AttributionApp
    from toolkit.widgets.market import MarketExplorer
    from toolkit.widgets.performance import PerformanceApp
    from toolkit.widgets.risk import RiskApp

    classes = {"performance": PerformanceApp, "risk": RiskApp, "attribution": AttributionApp,
               "market": MarketExplorer}
    rows = []
    with Workspace.open(path) as ws:
        for name, steps in KERNEL_STEPS.items():
            if only is not None and name not in only:
                continue
            classes[name](ws)  # warms the connection's memo, as the preheated kernel has
            times: dict[str, list[float]] = {step: [] for step, _ in steps}
            for _ in range(3):
                app = classes[name](ws)
                for step, change in steps:
                    start = time.perf_counter()
                    change(app)
                    times[step].append(time.perf_counter() - start)
            for step, _ in steps:
                rows.append(_row(f"{name}: {step} (in the kernel)", "3 runs, demo book",
                                 statistics.median(times[step]), "goal (issue 22)", None, GOAL_CHANGE,
                                 {"machine": machine()}))
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
        default_pool = json.loads((ROOT / "voila.json").read_text())["VoilaKernelManager"][
            "kernel_pools_config"]["default"]["pool_size"]
        rows = kernel_side(path, only)
        with chromium() as browser:
            rows += one_visitor(browser, path, runs, only)
            pools = ((None, f"voila.json's pool of {default_pool}"), (VISITORS, f"a pool of {VISITORS}"))
            for pool, label in () if only is not None else pools:
                crowd = five_visitors(browser, path, pool)
                extra = {"each_s": [round(t, 3) for t in crowd["times"]], "peak_rss_mb": round(crowd["rss"], 1),
                         "kernels": crowd["kernels"], "machine": machine()}
                size = f"{VISITORS} visitors at once, {label}"
                rows.append(_row("performance, 5 visitors: slowest to controls", size, max(crowd["times"]),
                                 "before: the second of two visitors (issue 22)", BEFORE_SECOND_VISITOR,
                                 GOAL_OPEN, extra))
                rows.append(_row("performance, 5 visitors: median to controls", size,
                                 statistics.median(crowd["times"]), "goal (issue 22)", None, GOAL_OPEN, extra))
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


def main() -> None:
    only = _only()
    args = arguments(__doc__, "app_load", "1 counted visit per page instead of 3 (smoke run)")
    report(run(1 if args.quick else 3, only), args.results)


if __name__ == "__main__":
    main()
