"""The attribution app in a real Voilà server on the demo book, driven by Debian's Chromium through Playwright.

The tests run in order on one page, as a stakeholder would: the default attribution of the first
mandate against the cap-weighted index over the last year of data (its table checked against
``ws.attribution.run`` in this process on the same file), another grouping, a drill-down from a
sector to its stocks, another portfolio as the benchmark, a period before the mandate held anything
(a message, not a traceback), and a screenshot.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from helpers import app_screenshot, choose, page_clean, page_table, served_app

from toolkit.reporting.formatting import bps, percent
from toolkit.testing.browser import CELL_ERROR

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

ARTIFACTS = Path(__file__).parent / "artifacts"
SCREENSHOTS = Path(__file__).parents[1] / "apps" / "screenshots"
HEADLINE = ".tk-attr-headline"
UPDATE = ".tk-attr-update button, button.tk-attr-update"


def _update(page) -> None:
    """Press Update (a choice is attributed only then) once it is enabled again."""
    button = page.locator(UPDATE).first
    page.wait_for_function("el => !el.disabled", arg=button.element_handle(), timeout=60_000)
    button.click()


def _choose(page, css: str, label: str, headline: str) -> None:
    """Choose ``label``, press Update and wait until the headline says ``headline``."""
    choose(page, css, label, HEADLINE, headline, then=_update)


@pytest.fixture(scope="module")
def app(book_path: Path, tmp_path_factory: pytest.TempPathFactory):
    ARTIFACTS.mkdir(exist_ok=True)
    with served_app(book_path, tmp_path_factory.mktemp("browser"), "attribution.ipynb",
                    ".tk-attr-waterfall .main-svg") as served:
        yield served


def _account(ws, name: str) -> str:
    return next(a.id for a in ws.accounts.list(type="PORTFOLIO") if a.name == name)


def test_default_attribution_is_the_facade_answer(app) -> None:
    page, ws, _ = app
    page.locator(HEADLINE, has_text="Account: Growth mandate against Index: S&P 20 cap-weighted · 2022-01-01 to "
                                    "2022-12-31").wait_for(timeout=60_000)
    index = next(i.id for i in ws.attribution.indexes() if i.name == "S&P 20 cap-weighted")
    report = ws.attribution.run({"portfolio_id": _account(ws, "Growth mandate"), "benchmark": {"index_id": index},
                                 "start_date": "2022-01-01", "end_date": "2022-12-31",
                                 "dimensions": ["sector", "instrument"]})
    totals = report.totals()
    assert f"Active {bps(totals['active_return'])}" in page.locator(HEADLINE).inner_text()
    expected = report.effects_table("sector")
    table = page_table(page, ".tk-attr-table")
    assert set(table) == set(expected.index)
    for sector, row in expected.iterrows():
        for effect in ("allocation", "selection", "interaction", "total"):
            assert table[sector][effect] == bps(row[effect], 1), (sector, effect)
        assert table[sector]["portfolio weight"] == percent(row["portfolio_weight"])
    steps = page.locator(".tk-attr-waterfall .waterfalllayer .point").count()
    assert steps == 5  # benchmark, allocation, selection, interaction, portfolio
    labels = page.locator(".tk-attr-waterfall .waterfalllayer text").all_text_contents()
    assert labels[0] == percent(totals["benchmark_return"]) and labels[-1] == percent(totals["portfolio_return"])
    assert all(label.endswith(" bp") and label != "-0 bp" for label in labels[1:-1])  # the effects, in bp
    title = page.locator(".tk-attr-waterfall .gtitle").text_content() or ""
    assert title.startswith(f"Active {bps(totals['active_return'])}")  # the headline's active return, reconciled
    assert page.locator(".tk-attr-effects .bars .point").count() >= len(expected)
    risk = page_table(page, ".tk-attr-risk")
    assert set(risk) == set(report.risk["sector"]["segment"].values)
    page_clean(page, CELL_ERROR)


def test_drill_down_from_a_sector_to_its_stocks(app) -> None:
    page, ws, _ = app
    page.locator(".tk-attr-drill select").select_option(label="Energy")
    page.locator(".tk-attr-instruments td", has_text="XOM").wait_for(timeout=30_000)
    stocks = set(page_table(page, ".tk-attr-instruments"))
    assert stocks == {"XOM", "CVX", "RRC"}  # the index's energy stocks; the mandate holds XOM
    page_clean(page, CELL_ERROR)


def test_another_grouping_and_another_portfolio_as_benchmark(app) -> None:
    page, _, _ = app
    before = page.locator(HEADLINE).inner_text()
    page.locator(".tk-attr-grouping select").select_option(label="Asset class")
    page.locator(".tk-attr-busy", has_text="press Update").wait_for(timeout=30_000)
    assert page.locator(HEADLINE).inner_text() == before  # a dropdown change alone recomputes nothing
    _update(page)
    page.locator(".tk-attr-table td", has_text=re.compile(r"^Equity$")).wait_for(timeout=60_000)
    assert set(page_table(page, ".tk-attr-table")) == {"Equity", "Cash"}  # the mandate's cash: a group of its own
    page.locator(".tk-attr-grouping select").select_option(label="Sector")
    _choose(page, ".tk-attr-benchmark", "Model: US Large Caps", "against Model: US Large Caps")
    _choose(page, ".tk-attr-model", "Brinson-Hood-Beebower", "Brinson-Hood-Beebower, monthly periods")
    _choose(page, ".tk-attr-period", "Last 3 years", "2019-12-29 to 2022-12-28")
    page_clean(page, CELL_ERROR)


def test_only_periods_after_the_first_holding_are_offered(app) -> None:
    page, _, _ = app

    def periods() -> list[str]:
        return [o.replace("\xa0", " ") for o in page.locator(".tk-attr-period select option").all_inner_texts()]

    # the Growth mandate's first return is on 2012-01-04: 2012 and earlier cannot be attributed, so not offered
    assert "2013" in periods() and "Last 10 years" in periods()
    assert "2012" not in periods() and "2011" not in periods()
    page.locator(".tk-attr-benchmark select").select_option(label="Model: Factor ETFs")  # its ETFs start in 2014
    page.wait_for_function("() => ![...document.querySelectorAll('.tk-attr-period option')]"
                           ".some(o => o.textContent === '2014')", timeout=30_000)
    assert "2015" in periods() and "Last 10 years" not in periods()
    assert page.locator(".tk-attr-period select").input_value() == "Last 3 years"  # a choice still valid is kept
    page_clean(page, CELL_ERROR)


def test_screenshot_and_nothing_loaded_from_outside(app) -> None:
    page, _, outside = app
    _choose(page, ".tk-attr-period", "2022", "2022-01-01 to 2022-12-31")
    _choose(page, ".tk-attr-benchmark", "Index: S&P 20 cap-weighted", "against Index: S&P 20 cap-weighted")
    _choose(page, ".tk-attr-model", "Brinson-Fachler", "Brinson-Fachler, monthly periods linked by Carino")
    page.locator(".tk-attr-drill select").select_option(label="Information Technology")
    page.locator(".tk-attr-instruments td", has_text="MSFT").wait_for(timeout=30_000)
    page.locator(".tk-attr-waterfall .main-svg").first.wait_for(timeout=30_000)
    page_clean(page, CELL_ERROR)
    app_screenshot(page, ".tk-attr-app", ARTIFACTS / "attribution.png")
    assert (ARTIFACTS / "attribution.png").stat().st_size > 20_000
    SCREENSHOTS.mkdir(exist_ok=True)
    shutil.copy(ARTIFACTS / "attribution.png", SCREENSHOTS / "attribution.png")
    assert outside == []
