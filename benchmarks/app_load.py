"""Market app: page load to interactive, and one interaction, in Debian's Chromium.

    python benchmarks/app_load.py [--quick]

"Interactive" is the moment the controls of the live kernel are on the page and answer; the
chart (plotly.js, loaded on first use) is timed to its first draw too. Ours is the Voilà server as
the README starts it (a preheated kernel per page); the peer is the same app on a plain Voilà that
runs the notebook on each request.
The interactions are a search (until the match is listed) and a selection (until the chart
shows the new series). Each figure is the median over the loads, after one warm-up load.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

import psutil
from common import arguments, machine, report

from toolkit.store import demo
from toolkit.testing.browser import chromium, open_page, voila_server

APP = "/voila/render/market.ipynb"


def _rss_mb(pid: int) -> float:
    proc = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20


def _load(browser, server) -> tuple[float, float, float, float, float]:
    """Seconds from navigation to the controls answering, from the page's load event to the same
    moment, from navigation to the chart drawn, for a search to list its match, and for a
    selection to redraw the chart."""
    start = time.perf_counter()
    page = open_page(browser, server.url + APP)
    page.wait_for_selector(".tk-search input", timeout=120_000)
    controls = time.perf_counter() - start
    # the browser's own clock: from the page's load event to now, when the controls answer
    after_load = page.evaluate("(performance.timeOrigin + performance.now()"
                               " - performance.timing.loadEventEnd) / 1000")
    page.wait_for_selector(".tk-chart .main-svg", timeout=120_000)
    chart = time.perf_counter() - start
    start = time.perf_counter()
    page.locator(".tk-search input").fill("exxon")
    option = page.locator(".tk-results select option", has_text="XOM")
    option.wait_for()
    search = time.perf_counter() - start
    label = option.inner_text()
    page.wait_for_timeout(1500)  # let ipywidgets finish re-rendering the list (not counted)
    start = time.perf_counter()
    page.locator(".tk-results select").select_option(label=label)
    page.locator(".tk-chart .legendtext", has_text="XOM").wait_for(timeout=30_000)
    select = time.perf_counter() - start
    page.close()
    return controls, after_load, chart, search, select


def run(runs: int) -> list[dict]:
    tmp = Path(tempfile.mkdtemp())
    path = demo.build(tmp / "bench.db")
    timings: dict[bool, list[tuple[float, ...]]] = {}
    rss: dict[bool, float] = {}
    with chromium() as browser:
        for preheat in (True, False):
            with voila_server(workspace=path, preheat=preheat) as server:
                timings[preheat] = []
                for i in range(runs + 1):  # the first load warms the browser cache and is not counted
                    if preheat:
                        server.ready(i + 1)  # a fresh preheated kernel that has run the app
                    else:
                        server.wait_idle()
                    result = _load(browser, server)
                    if i:
                        timings[preheat].append(result)
                rss[preheat] = _rss_mb(server.process.pid)
    shutil.rmtree(tmp, ignore_errors=True)
    rows = []
    names = ("navigation to controls answering", "load event to controls answering", "navigation to chart drawn",
             "search to match listed", "select to chart redrawn")
    for index, name in enumerate(names):
        ours = statistics.median(t[index] for t in timings[True])
        peer = statistics.median(t[index] for t in timings[False])
        rows.append({"name": name, "size": f"{runs} loads, 33 series", "ours_s": round(ours, 3),
                     "peer": "Voilà without preheated kernels", "peer_s": round(peer, 3),
                     "ratio": round(ours / peer, 3), "peak_rss_mb": round(rss[True], 1), "machine": machine()})
    return rows


def main() -> None:
    args = arguments(__doc__, "app_load", "1 counted load each instead of 5 (smoke run)")
    report(run(1 if args.quick else 5), args.results)


if __name__ == "__main__":
    main()
