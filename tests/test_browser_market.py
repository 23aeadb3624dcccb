"""The market app in a real Voilà server, driven by Debian's Chromium through Playwright."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from toolkit.testing.browser import CELL_ERROR, chromium, open_page, voila_server
from toolkit.workspace import Workspace

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

ARTIFACTS = Path(__file__).parent / "artifacts"
BAD_CSV = """Date,Open,High,Low,Close,Volume
2024-01-02,187.15,188.44,183.89,185.64,82488700
2024-01-03,184.22,183.00,182.00,184.25,58414500
2024-01-04,182.15,183.09,180.88,181.91,-71983600
"""


def _counts(path: Path) -> tuple:
    with sqlite3.connect(path) as conn:
        return tuple(conn.execute(sql).fetchone()[0] for sql in (
            "SELECT count(*) FROM prices", "SELECT total(close) FROM prices",
            "SELECT count(*) FROM instruments", "SELECT count(*) FROM history_uploads"))


def _legend(page) -> list[str]:
    return page.locator(".tk-chart .legendtext").all_text_contents()


def _select(page, labels: list[str], legend: list[str], tries: int = 3) -> None:
    """Select series as a user does, and wait for the chart to show them.

    ipywidgets re-renders a select for about a second after its options change, and a
    selection made inside that window is dropped by the page (not by the toolkit); like a
    user, the test selects again if the chart did not follow.
    """
    for _ in range(tries):
        values = [page.locator(".tk-results select option", has_text=label).first.get_attribute("value")
                  for label in labels]  # by value: a label's text may not survive the page's whitespace rules
        page.locator(".tk-results select").select_option(value=values)
        try:
            page.wait_for_function("want => [...document.querySelectorAll('.tk-chart .legendtext')]"
                                   ".map(e => e.textContent).join('|') === want", arg="|".join(legend),
                                   timeout=10_000)
            return
        except Exception:  # noqa: BLE001 - retried, then reported below
            continue
    raise AssertionError(f"chart legend is {_legend(page)}, expected {legend}")


@pytest.fixture(scope="module")
def app(demo_path: Path, tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("browser") / "ws.db"
    shutil.copy(demo_path, path)
    with voila_server(workspace=path, apps=("market.ipynb",)) as server, chromium() as browser:
        outside: list[str] = []
        page = open_page(browser, server.url + "/voila/render/market.ipynb", outside)
        page.wait_for_selector(".tk-chart .main-svg", timeout=90_000)
        page.wait_for_selector(".tk-status-table table")
        yield page, path, outside


def test_page_shows_real_data_and_loads_nothing_from_outside(app) -> None:
    page, path, outside = app
    with Workspace.open(path) as ws:  # the count of the file the server serves, as the page reads it
        records = ws.status()["price_records"]
    assert _legend(page) == ["AAPL (skfolio)", "MSFT (skfolio)"]
    table = page.locator(".tk-status-table").inner_text()
    assert "8,313" in table and "1990-01-02" in table and "2022-12-28" in table
    assert records > 200_000 and f"{records:,} price records" in page.locator(".tk-summary").inner_text()
    assert CELL_ERROR not in page.content()
    assert outside == []
    # every series' name is shown whole: the list is as wide as its longest label
    clipped = page.locator(".tk-results select").evaluate("e => e.scrollWidth - e.clientWidth")
    assert clipped <= 0


def test_search_and_select_change_chart_and_table(app) -> None:
    page, _, _ = app
    before = (_legend(page), page.locator(".tk-status-table").inner_text())
    page.locator(".tk-search input").fill("international business")
    option = page.locator(".tk-results select option", has_text="IBM · International Business Machines")
    option.wait_for()
    # the earlier selection (AAPL, MSFT) is kept beside the search results
    page.wait_for_function("() => document.querySelector('.tk-results select').selectedOptions.length === 2")
    _select(page, [option.inner_text()], ["IBM (bokeh)"])
    page.locator(".tk-status-table", has_text="3,270").wait_for()
    after = (_legend(page), page.locator(".tk-status-table").inner_text())
    assert after != before
    assert "2000-03-01" in after[1] and "2013-03-01" in after[1]
    page.locator(".tk-horizon button", has_text="month").click()
    page.locator(".tk-chart .gtitle", has_text="monthly").wait_for()
    assert CELL_ERROR not in page.content()


def test_bad_csv_upload_shows_readable_errors_and_saves_nothing(app) -> None:
    page, path, _ = app
    before = _counts(path)
    csv = ARTIFACTS / "bad_history.csv"
    csv.parent.mkdir(exist_ok=True)
    csv.write_text(BAD_CSV)
    page.locator(".tk-upload-isin input").fill("US0378331005")
    with page.expect_file_chooser() as chooser:  # the widget opens the browser's file dialog
        page.locator(".tk-upload-file").click()
    chooser.value.set_files(str(csv))
    page.locator(".tk-upload-file", has_text="(1)").wait_for()
    page.locator(".tk-upload-button").click()
    error = page.locator(".tk-upload-message .tk-error")
    error.wait_for(timeout=30_000)
    text = error.inner_text()
    assert "nothing was saved" in text
    assert "history[1].high" in text and "below the open or the close" in text
    assert "history[2].volume" in text and "negative" in text
    assert _counts(path) == before
    assert CELL_ERROR not in page.content()
    page.screenshot(path=str(ARTIFACTS / "market_upload_error.png"), full_page=True)


def test_screenshot_of_the_app(app) -> None:
    page, _, _ = app
    page.locator(".tk-search input").fill("")
    labels = [page.locator(".tk-results select option", has_text=s).first.inner_text()
              for s in ("AAPL · Apple", "MSFT · Microsoft", "JPM · JPMorgan", "XOM · Exxon")]
    _select(page, labels, ["AAPL (skfolio)", "JPM (skfolio)", "MSFT (skfolio)", "XOM (skfolio)"])
    page.screenshot(path=str(ARTIFACTS / "market.png"), full_page=True)
    assert (ARTIFACTS / "market.png").stat().st_size > 20_000
