"""The backtest app in a real Voilà server on the demo book, driven by Debian's Chromium through Playwright
(every request off 127.0.0.1 blocked).

In order on one page: an end before the start, refused with its field named and nothing queued; a run
followed by the progress bar to the job's answer, whose statistics and positions are the façade's own
stored result (read by the test through its own connection to the same file), with the chart and yearly
table drawn; a screenshot.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import app_screenshot, page_clean, served_app, type_into

from toolkit.testing.browser import CELL_ERROR
from toolkit.widgets.components import amount

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

ARTIFACTS = Path(__file__).parent / "artifacts"
SCREENSHOTS = Path(__file__).parents[1] / "apps" / "screenshots"


@pytest.fixture(scope="module")
def app(book_path: Path, tmp_path_factory: pytest.TempPathFactory):
    ARTIFACTS.mkdir(exist_ok=True)
    with served_app(book_path, tmp_path_factory.mktemp("browser"), "backtest.ipynb", ".tk-bt-run") as served:
        yield served


def _choice(page, css: str) -> str:
    return page.locator(f"{css} select").evaluate("s => s.options[s.selectedIndex].text")


def test_an_end_before_the_start_is_refused_by_name_and_nothing_is_queued(app) -> None:
    page, ws, outside = app
    type_into(page, ".tk-bt-start", "2022-06-01")
    type_into(page, ".tk-bt-end", "2021-06-01")
    page.locator(".tk-bt-run").click()
    error = page.locator(".tk-bt-message .tk-error")
    error.wait_for(timeout=30_000)
    assert "end_date" in error.inner_text()
    assert ws.backtests.jobs().empty
    page_clean(page, CELL_ERROR)
    assert outside == []


def test_a_run_shows_the_jobs_stored_answer(app) -> None:
    page, ws, outside = app
    type_into(page, ".tk-bt-start", "2021-01-04")
    type_into(page, ".tk-bt-end", "2022-12-28")
    page.locator(".tk-bt-run").click()
    page.locator(".tk-bt-stats [data-stat='pnL']").wait_for(timeout=120_000)
    jobs = ws.backtests.jobs()
    assert len(jobs) == 1 and jobs.iloc[0]["status"] == "Completed"
    job = jobs.iloc[0]
    answer = ws.backtests.get({"client_reference": job["client_reference"],
                               "strategy_id": int(job["strategy_id"])}).to_dict()
    shown = {el.get_attribute("data-stat"): el.inner_text() for el in page.locator(".tk-bt-stats [data-stat]").all()}
    assert shown["pnL"] == amount(answer["pnL"]) and shown["yearlyReturn"] == answer["yearlyReturn"]
    assert shown["averageTradeDuration"] == answer["averageTradeDuration"]
    assert _choice(page, ".tk-bt-portfolio").endswith("mandate")
    rows = page.locator(".tk-bt-positions tbody tr")
    assert rows.count() == min(len(answer["positions"]), 200)
    years = page.locator(".tk-bt-years tbody tr").all_inner_texts()
    # the data end on 2022-12-28, before 2022's last NYSE session (12-30): that year is marked as part of one
    assert [y.split("\t")[0] for y in years] == ["2021", "2022 (part)"]
    page.locator(".tk-bt-chart .js-plotly-plot").wait_for(timeout=60_000)
    legend = page.locator(".tk-bt-chart .legendtext").evaluate_all("els => els.map(e => e.textContent)")
    assert "Portfolio NAV" in legend and any("SPX" in t for t in legend)
    assert page.locator(".tk-bt-progress").evaluate("e => getComputedStyle(e).visibility") == "hidden"
    page_clean(page, CELL_ERROR)
    assert outside == []
    app_screenshot(page, ".tk-bt-app", ARTIFACTS / "backtest.png")
    SCREENSHOTS.mkdir(exist_ok=True)
    shutil.copy(ARTIFACTS / "backtest.png", SCREENSHOTS / "backtest.png")
