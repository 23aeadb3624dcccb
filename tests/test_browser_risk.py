"""The risk app in a real Voilà server on the demo book, driven by Debian's Chromium through Playwright.

The tests run in order on one page, as a stakeholder would: the default dashboard of Apple over
five years against the S&P 500 (its figures checked against ``ws.analytics`` run in this process
on the same workspace file), a short window that drops the month horizon, a benchmark without
data in the window (a message, not a traceback), a mandate's contributions to risk, a model
portfolio, and a screenshot.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import app_screenshot, choose, page_clean, page_table, served_app

from toolkit.reporting import risk_views
from toolkit.reporting.formatting import percent
from toolkit.testing.browser import CELL_ERROR

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

ARTIFACTS = Path(__file__).parent / "artifacts"
SCREENSHOTS = Path(__file__).parents[1] / "apps" / "screenshots"
HEADLINE = ".tk-risk-headline"
AAPL = "26ea6c48-c8c7-54d4-9cf2-0e441127696d"  # the skfolio AAPL, 1990-2022 (bokeh's ends in 2013)


def _choose(page, css: str, label: str, headline: str) -> None:
    choose(page, css, label, HEADLINE, headline)


def _idle(page) -> None:
    """Wait for the page's update to finish (the spinner comes and goes)."""
    page.locator(".tk-risk-update:not([disabled])").wait_for(timeout=60_000)
    page.locator(".tk-risk-busy .tk-spinner").wait_for(state="detached", timeout=60_000)


@pytest.fixture(scope="module")
def app(book_path: Path, tmp_path_factory: pytest.TempPathFactory):
    ARTIFACTS.mkdir(exist_ok=True)
    with served_app(book_path, tmp_path_factory.mktemp("browser"), "risk.ipynb",
                    ".tk-exposure-chart .main-svg") as served:
        yield served


def test_default_dashboard_is_the_facade_answer(app) -> None:
    page, ws, _ = app
    page.locator(HEADLINE, has_text="AAPL · Apple Inc. · 2018-01-02 to 2022-12-28").wait_for(timeout=30_000)
    ours = ws.analytics.instrument(AAPL, start="2017-12-29", end="2022-12-28")
    cube = ours.risk.isel(instrument=0)
    table = page_table(page, ".tk-risk-table")
    assert list(table) == ["day", "week", "month"]
    expected = risk_views.risk_table(cube)
    for horizon in ("day", "week", "month"):
        for column in ("VaR 90%", "VaR 95%", "VaR 97.5%", "CVaR 95%", "Annualised volatility"):
            assert table[horizon][column] == percent(expected.loc[horizon, column]), (horizon, column)
        assert table[horizon]["Observations"] == f"{int(expected.loc[horizon, 'Observations']):,}"
    clipped = page.locator(".tk-risk-table").evaluate("e => e.scrollWidth - e.clientWidth")
    assert clipped <= 0 and page.locator(".tk-risk-table th", has_text="Observations").is_visible()  # not cut off
    headline = page.locator(HEADLINE).inner_text()
    assert f"1-day VaR 95% {percent(float(cube['var'].sel(horizon='day', level=0.95)))}" in headline
    sentences = page.locator(".tk-risk-commentary li").all_inner_texts()
    assert str(cube["var_commentary"].sel(horizon="week", level=0.95).item()) in sentences
    assert any(s.startswith("There is a 5% chance that the instrument will lose more than") for s in sentences)
    against = ws.analytics.benchmark(AAPL, "SPX", start="2017-12-29", end="2022-12-28").row("AAPL")
    bench = page_table(page, ".tk-risk-benchmark")
    assert bench["Benchmark SPX: beta"]["value"] == f"{against['beta']:.2f}"
    assert bench["Tracking error (annual)"]["value"] == percent(against["trackingError"])
    assert page.locator(".tk-exposure-chart .bars path").count() == ours.exposures.sizes["factor"]
    assert page.locator(".tk-risk-chart .bars path").count() == 18  # VaR and CVaR x 3 levels x 3 horizons
    assert page.locator(".tk-contribution-chart").is_hidden()
    page_clean(page, CELL_ERROR)


def test_a_short_window_keeps_only_the_horizons_it_can_measure(app) -> None:
    page, _, _ = app
    _choose(page, ".tk-risk-period", "1Y", "AAPL · Apple Inc. · 2021-12-30 to 2022-12-28")
    assert list(page_table(page, ".tk-risk-table")) == ["day", "week"]  # 12 months < 40 for a 97.5% tail
    page_clean(page, CELL_ERROR)


def test_a_benchmark_without_data_in_the_window_is_a_message(app) -> None:
    page, _, _ = app
    page.locator(".tk-risk-benchmark-choice select").select_option(label="COMP · NASDAQ Composite Index")
    message = page.locator(".tk-risk-message .tk-error")
    message.wait_for(timeout=30_000)
    assert "No prices between 2021-12-29 and 2022-12-28 for COMP" in message.inner_text()
    assert page.locator(".tk-risk-table table").count() == 0  # nothing stale is left on show
    page_clean(page, CELL_ERROR)
    _choose(page, ".tk-risk-period", "Full history", "AAPL · Apple Inc. · 1990-01-03 to 2022-12-28")
    message.wait_for(state="detached")
    assert page_table(page, ".tk-risk-benchmark")["Benchmark COMP: beta"]["value"]  # on the dates both have
    page_clean(page, CELL_ERROR)


def test_a_mandate_shows_its_contributions_to_risk(app) -> None:
    page, ws, _ = app
    _choose(page, ".tk-risk-period", "5Y", "2018-01-02 to 2022-12-28")
    page.locator(".tk-risk-benchmark-choice select").select_option(label="SPX · S&P 500 Index (skfolio)")
    _idle(page)
    page.locator(".tk-risk-subject button", has_text="Portfolio").click()
    page.locator(HEADLINE, has_text="Account: Growth mandate · 2018-01-02 to 2022-12-28").wait_for(timeout=60_000)
    page.locator(".tk-contribution-chart .main-svg").first.wait_for(timeout=30_000)
    growth = next(a.id for a in ws.accounts.list(type="PORTFOLIO") if a.name == "Growth mandate")
    ours = ws.analytics.portfolio(growth, start="2017-12-29", end="2022-12-28", benchmark="SPX")
    expected = ours.contributions_table(growth)
    shown = page_table(page, ".tk-components")
    assert set(shown) == set(expected.index)
    for symbol, row in expected.iterrows():
        assert shown[symbol]["Weight"] == percent(row["weight"])
        assert shown[symbol]["% of volatility"] == percent(row["volatility_percent"])
        assert shown[symbol]["% of CVaR"] == percent(row["cvar_percent"])
    assert expected["volatility_percent"].sum() == pytest.approx(1.0, abs=1e-12)  # Euler: they add up
    div = ours.diversification.sel(portfolio=growth)
    assert f"Diversification ratio {float(div['ratio']):.2f} ({div['rating'].item()})" in \
        page.locator(HEADLINE).inner_text()
    assert page.locator(".tk-contribution-chart .bars path").count() == 2 * len(expected)
    page_clean(page, CELL_ERROR)


def test_a_model_portfolio_and_the_screenshot(app) -> None:
    page, _, outside = app
    _choose(page, ".tk-risk-portfolio", "Model: Factor ETFs", "Model: Factor ETFs · 2018-01-02 to 2022-12-28")
    page.locator(".tk-components td", has_text="MTUM").wait_for(timeout=30_000)
    _choose(page, ".tk-risk-portfolio", "Account: Growth mandate", "Account: Growth mandate · 2018-01-02")
    page.locator(".tk-contribution-chart .main-svg").first.wait_for(timeout=30_000)
    page_clean(page, CELL_ERROR)
    app_screenshot(page, ".tk-risk-app", ARTIFACTS / "risk.png")
    assert (ARTIFACTS / "risk.png").stat().st_size > 20_000
    SCREENSHOTS.mkdir(exist_ok=True)
    shutil.copy(ARTIFACTS / "risk.png", SCREENSHOTS / "risk.png")
    assert outside == []
