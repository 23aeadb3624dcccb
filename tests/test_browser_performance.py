"""The performance app in a real Voilà server on the demo book, driven by Debian's Chromium through Playwright.

The tests run in order on one page, as a stakeholder would: the default report of the first
mandate, another mandate against a model benchmark over a chosen period (its figures checked
against ``ws.reports.portfolio_returns`` run in this process on the same workspace file), two
refused periods, the downloads (built when "Prepare downloads" is pressed, dropped when the answer
changes), and a screenshot.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest
from helpers import app_screenshot, choose, page_clean, page_table, served_app, type_into

from toolkit.reporting import consistency
from toolkit.reporting.formatting import bps, percent
from toolkit.testing.browser import CELL_ERROR
from toolkit.workspace import Workspace

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

ARTIFACTS = Path(__file__).parent / "artifacts"
SCREENSHOTS = Path(__file__).parents[1] / "apps" / "screenshots"
HEADLINE = ".tk-perf-headline"


def _clean(page) -> None:
    page_clean(page, CELL_ERROR)


def _table(page, css: str) -> dict[str, dict[str, str]]:
    return page_table(page, css)


def _headline(page, text: str) -> None:
    page.locator(HEADLINE, has_text=text).wait_for(timeout=30_000)


def _choose(page, css: str, label: str, headline: str) -> None:
    choose(page, css, label, HEADLINE, headline)


def _date(page, css: str, value: str) -> None:
    type_into(page, css, value)


def _download(page, css: str) -> Path:
    with page.expect_download() as download:
        page.locator(css).click()
    return Path(download.value.path())


def _prepare(page) -> None:
    """Press "Prepare downloads" and wait for the three links."""
    page.locator(".tk-perf-prepare:not([disabled])").click()
    page.locator(".tk-download-html").wait_for(timeout=60_000)
    assert page.locator(".tk-perf-downloads a").count() == 3


def _screenshot(page, name: str) -> Path:
    app_screenshot(page, ".tk-perf-app", ARTIFACTS / name)
    return ARTIFACTS / name


@pytest.fixture(scope="module")
def app(book_path: Path, tmp_path_factory: pytest.TempPathFactory):
    ARTIFACTS.mkdir(exist_ok=True)
    with served_app(book_path, tmp_path_factory.mktemp("browser"), "performance.ipynb",
                    ".tk-po003 .main-svg") as served:
        yield served


def _portfolio(ws: Workspace, name: str) -> str:
    (account,) = [a for a in ws.accounts.list(type="PORTFOLIO") if a.name == name]
    return account.id


def test_default_report_shows_real_tables_and_chart(app) -> None:
    page, ws, _ = app
    growth = _portfolio(ws, "Growth mandate")
    master = ws.reports.master(growth)
    answer = ws.reports.portfolio_returns({"portfolioId": growth, "startDate": "2012-01-04",
                                           "endDate": "2022-12-28", "includeBenchmark": True}).to_dict()
    assert master.performance_measurement_start_date.isoformat() == "2012-01-04"  # the book's first return
    _headline(page, "Growth mandate · 2012-01-04 to 2022-12-28 · against S&P 500 (SPX)")
    assert page.locator(".tk-perf-start input").input_value() == "2012-01-04"
    assert page.locator(".tk-perf-end input").input_value() == "2022-12-28"
    assert page.locator(".tk-perf-start input").get_attribute("placeholder") == "YYYY-MM-DD"  # ISO, any locale
    net = answer["years"][-1]["netIndex"] / answer["indexStart"] - 1
    assert percent(net) in page.locator(HEADLINE).inner_text()
    bm = answer["years"][-1]["bmIndex"] / answer["bmIndexStart"] - 1
    relative = page.locator(HEADLINE).inner_text().split("Relative")[-1].strip()
    assert relative == bps(net - bm) and re.fullmatch(r"\d{1,3}(,\d{3})+ bp", relative)  # "35,298 bp"
    helps = page.locator(".tk-report-help").all_inner_texts()  # each report code in plain words
    assert [h.split(" ")[0] for h in helps if h.startswith("PO003")] == ["PO003"]
    assert any(h.startswith("Performance overview: the return of each month") for h in helps)
    assert any(h.startswith("Rolling performance: the returns over the last 1, 3, 5 and 10 years") for h in helps)
    why = page.locator(".tk-po005-why").inner_text()  # the rolling table is as of the last month-end
    assert why.startswith("As of 2022-11-30, the last month-end on or before 2022-12-28")
    po001 = _table(page, ".tk-po001")
    assert list(po001)[:2] == ["2012-01", "2012-02"] and list(po001)[-2:] == ["2022-12", "YTD"]
    assert po001["2012-01"]["net"] == percent(answer["months"][0]["netReturn"])  # Jan 2012 from the 4th
    po005 = _table(page, ".tk-po005")
    assert list(po005) == ["1Y", "3Y p.a.", "5Y p.a.", "10Y p.a.", "ITD p.a."]
    assert all(cell.endswith(" bp") for cell in (row["relative"] for row in po005.values()))
    assert page.locator(".tk-po003 .scatterlayer .trace").count() >= 2
    legend = page.locator(".tk-po003 .legendtext").all_text_contents()
    assert legend == ["Growth mandate gross", "Growth mandate net", "Benchmark: S&P 500 (SPX)"]
    _clean(page)


def test_another_portfolio_benchmark_and_period_update_everything(app) -> None:
    page, ws, _ = app
    income = _portfolio(ws, "Income mandate")
    _choose(page, ".tk-perf-portfolio", "Income mandate", "Income mandate · 2010-01-05 to 2022-12-28")
    _choose(page, ".tk-perf-benchmark", "Model: Defensive Dividend", "against the model Defensive Dividend")
    page.locator(".tk-perf-frequency select").select_option("yearly")
    page.locator(".tk-perf-busy .tk-spinner").wait_for(timeout=10_000)  # the busy indicator while updating
    page.locator(".tk-perf-busy .tk-spinner").wait_for(state="detached", timeout=30_000)
    page.locator(".tk-po001 td", has_text=re.compile(r"^2021$")).wait_for(timeout=30_000)
    _date(page, ".tk-perf-start", "2015-03-16")
    _headline(page, "2015-03-16 to 2022-12-28")
    _date(page, ".tk-perf-end", "2020-06-30")
    _headline(page, "Income mandate · 2015-03-16 to 2020-06-30 · against the model Defensive Dividend")
    assert page.locator(".tk-perf-period select").input_value() == "Custom"
    model = next(a.id for a in ws.allocations.list() if a.name == "Defensive Dividend")
    answer = ws.reports.portfolio_returns({"portfolioId": income, "startDate": "2015-03-16", "endDate": "2020-06-30",
                                           "includeBenchmark": True, "customBenchmarkId": model}).to_dict()
    po001 = _table(page, ".tk-po001")
    assert list(po001) == ["2015", "2016", "2017", "2018", "2019", "2020", "YTD"]
    years = {str(y["year"]): y for y in answer["years"]}
    for label in ("2015", "2018", "2020"):  # the first and last years are incomplete
        assert po001[label]["net"] == percent(years[label]["netReturn"])
        assert po001[label]["benchmark"] == percent(years[label]["bmReturn"])
        assert po001[label]["relative"] == bps(years[label]["netReturn"] - years[label]["bmReturn"])
    assert po001["YTD"]["gross"] == percent(years["2020"]["grossReturn"])  # YTD to 30 June: the 2020 part
    legend = page.locator(".tk-po003 .legendtext").all_text_contents()
    assert legend == ["Income mandate gross", "Income mandate net", "Benchmark: the model Defensive Dividend"]
    assert "as of 2020-06-30" in page.locator(".tk-po005").evaluate("e => e.parentElement.innerText")
    assert page.locator(".tk-po005-why").count() == 0  # a month-end end: nothing to explain
    _clean(page)


def test_invalid_periods_show_a_message_not_a_traceback(app) -> None:
    page, _, _ = app
    message = page.locator(".tk-perf-message .tk-error")
    _date(page, ".tk-perf-start", "2009-06-01")
    message.wait_for(timeout=30_000)
    text = message.inner_text()
    assert "startDate" in text and "performanceMeasurementStartDate 2010-01-05" in text
    assert page.locator(".tk-po001 table").count() == 0  # nothing stale is left on show
    assert page.locator(".tk-po005 table").count() == 0 and page.locator(".tk-po005-why").count() == 0
    titles = page.locator(".tk-perf-app h3").all_inner_texts()
    assert "PO001 · Performance overview" in titles and not any("as of" in t for t in titles)
    assert "Nothing to download" in page.locator(".tk-perf-downloads").inner_text()
    assert page.locator(".tk-perf-prepare").is_disabled()  # nothing to prepare either
    _clean(page)
    _date(page, ".tk-perf-start", "2016-01-04")
    _headline(page, "2016-01-04 to 2020-06-30")
    _date(page, ".tk-perf-end", "2015-12-31")
    message.wait_for(timeout=30_000)
    assert "2016-01-04 is after endDate 2015-12-31" in message.inner_text()
    _clean(page)
    _choose(page, ".tk-perf-period", "3Y", "2019-12-29 to 2022-12-28")
    message.wait_for(state="detached")
    _clean(page)


def test_downloads_are_the_answer_as_json_and_csv(app) -> None:
    page, ws, _ = app
    _headline(page, "Income mandate · 2019-12-29 to 2022-12-28")
    assert page.locator(".tk-perf-downloads a").count() == 0  # no file is built or sent until asked for
    assert "Prepare downloads" in page.locator(".tk-perf-downloads").inner_text()
    _prepare(page)
    answer = json.loads(_download(page, ".tk-download-json").read_text())
    assert consistency.check(answer) == []
    assert (answer["portfolioId"], answer["startDate"], answer["endDate"]) == (
        _portfolio(ws, "Income mandate"), "2019-12-29", "2022-12-28")
    assert answer["days"][0]["date"] == "2019-12-30" and answer["days"][-1]["date"] == "2022-12-28"
    with _download(page, ".tk-download-csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["month", "startDate", "date", "complete", "grossReturn", "grossIndex", "netReturn",
                       "netIndex", "bmReturn", "bmIndex"]
    assert len(rows) == 1 + len(answer["months"]) and rows[1][:3] == ["2019-12", "2019-12-29", "2019-12-31"]
    page.locator(".tk-perf-csv-rows button", has_text="days").click()
    page.locator(".tk-download-csv", has_text="days").wait_for(timeout=30_000)
    with _download(page, ".tk-download-csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["date", "grossReturn", "grossIndex", "netReturn", "netIndex", "bmReturn", "bmIndex"]
    assert len(rows) == 1 + len(answer["days"])
    assert float(rows[-1][3]) == pytest.approx(answer["days"][-1]["netReturn"], rel=1e-15)
    report = _download(page, ".tk-download-html").read_text()
    assert "PO001 Performance overview" in report and "PO005 Rolling performance" in report
    assert "cdn." not in report.split("<body>")[0]  # an offline page: plotly.js is inlined
    _clean(page)


def test_downloads_are_dropped_when_the_answer_changes(app) -> None:
    page, ws, _ = app
    _headline(page, "Income mandate · 2019-12-29 to 2022-12-28")
    assert page.locator(".tk-download-json").count() == 1  # prepared by the test before
    _choose(page, ".tk-perf-period", "1Y", "Income mandate · 2021-12-29 to 2022-12-28")
    page.locator(".tk-download-json").wait_for(state="detached", timeout=30_000)  # not the old answer's files
    assert page.locator(".tk-perf-prepare").is_enabled()
    _prepare(page)
    answer = json.loads(_download(page, ".tk-download-json").read_text())
    assert (answer["portfolioId"], answer["startDate"], answer["endDate"]) == (
        _portfolio(ws, "Income mandate"), "2021-12-29", "2022-12-28")
    _choose(page, ".tk-perf-period", "3Y", "Income mandate · 2019-12-29 to 2022-12-28")  # as the next test expects
    _clean(page)


def test_screenshot_and_nothing_loaded_from_outside(app) -> None:
    page, _, outside = app
    _choose(page, ".tk-perf-portfolio", "Growth mandate", "Growth mandate · 2019-12-29 to 2022-12-28")
    _choose(page, ".tk-perf-period", "Since inception", "Growth mandate · 2012-01-04 to 2022-12-28")
    _choose(page, ".tk-perf-benchmark", "Own benchmark (master data)", "against S&P 500 (SPX)")
    page.locator(".tk-perf-frequency select").select_option("quarterly")
    page.locator(".tk-po001 td", has_text="2022Q4").wait_for(timeout=30_000)
    page.wait_for_function("() => document.querySelectorAll('.tk-po003 .scatterlayer .trace').length === 3")
    _clean(page)
    shot = _screenshot(page, "performance.png")
    assert shot.stat().st_size > 20_000
    SCREENSHOTS.mkdir(exist_ok=True)
    shutil.copy(shot, SCREENSHOTS / "performance.png")
    assert outside == []
