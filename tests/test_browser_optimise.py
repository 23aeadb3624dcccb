"""The optimisation app in a real Voilà server on the demo book, driven by Debian's Chromium through Playwright.

In order on one page: Risk Parity for the Growth mandate (the orders checked against
``ws.strategies.optimise`` run in this process on the same file), a constraint set that cannot be
met (a message naming the constraint, nothing written), a screenshot, then confirming and placing
the trades (written through the trading engine).
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from helpers import app_screenshot, page_clean, served_app, type_into

from toolkit.testing.browser import CELL_ERROR

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

ARTIFACTS = Path(__file__).parent / "artifacts"
SCREENSHOTS = Path(__file__).parents[1] / "apps" / "screenshots"
HEADLINE = ".tk-opt-headline"


@pytest.fixture(scope="module")
def app(book_path: Path, tmp_path_factory: pytest.TempPathFactory):
    ARTIFACTS.mkdir(exist_ok=True)
    with served_app(book_path, tmp_path_factory.mktemp("browser"), "optimise.ipynb", ".tk-opt-run") as served:
        yield served


def _optimise(page, headline: str) -> None:
    page.locator(".tk-opt-run").click()
    page.locator(f"{HEADLINE}", has_text=headline).wait_for(timeout=120_000)  # the first run imports riskfolio
    page.locator(".tk-opt-run:not([disabled])").wait_for(timeout=30_000)


def _rows(page) -> list[dict[str, str]]:
    heads = page.locator(".tk-opt-orders thead th").all_inner_texts()
    rows = page.locator(".tk-opt-orders tbody tr").all()
    return [dict(zip(heads, row.locator("td").all_inner_texts())) for row in rows]


def test_risk_parity_orders_are_the_facade_answer(app) -> None:
    page, ws, _ = app
    _optimise(page, "Growth mandate · Risk Parity")
    growth = next(a.id for a in ws.accounts.list(type="PORTFOLIO") if a.name == "Growth mandate")
    answer = ws.strategies.optimise({"portfolio_id": growth, "rule_name": "Risk Parity",
                                     "constraints": {"max_weight": 0.3},
                                     "parameters": {"Size Rebalance Trigger": 5, "Include Stop/Limit": False}})
    rows = _rows(page)
    assert [(r["instrument"], r["direction"], r["notional"]) for r in rows] == [
        (o.instrument, o.direction, f"{Decimal(o.notional):,.2f}") for o in answer.orders.itertuples()]
    assert all(len(r["size"].partition(".")[2]) <= 4 for r in rows)  # share quantities rounded for display
    assert len(rows) > 0
    assert "There is a 5.0% chance that the portfolio will lose more than" in page.locator(HEADLINE).inner_text()
    assert page.locator(".tk-opt-weights .bars .point").count() == 2 * len(answer.components())
    assert page.locator(".tk-opt-place button, button.tk-opt-place").first.is_disabled()  # not before confirming
    page_clean(page, CELL_ERROR)


def test_an_impossible_constraint_set_is_named(app) -> None:
    page, ws, _ = app
    type_into(page, ".tk-opt-max-weight", "5")
    page.locator(".tk-opt-run").click()
    message = page.locator(".tk-opt-message .tk-error")
    message.wait_for(timeout=60_000)
    assert "Max weight %" in message.inner_text() and "fully invested portfolio is impossible" in \
        message.inner_text()
    assert re.search(r"sum to \d+(\.\d+)?%, below 100%", message.inner_text())  # in %, as typed, not fractions
    assert page.locator(".tk-opt-orders table").count() == 0
    type_into(page, ".tk-opt-max-weight", "30")
    _optimise(page, "Growth mandate · Risk Parity")
    page_clean(page, CELL_ERROR)
    app_screenshot(page, ".tk-opt-app", ARTIFACTS / "optimise.png")
    SCREENSHOTS.mkdir(exist_ok=True)
    shutil.copy(ARTIFACTS / "optimise.png", SCREENSHOTS / "optimise.png")


def test_confirming_places_the_trades_through_the_engine(app) -> None:
    page, ws, outside = app
    before = sqlite3.connect(ws.path).execute("SELECT count(*) FROM rebalancings").fetchone()[0]
    page.locator(".tk-opt-confirm input").check()
    place = page.locator("button.tk-opt-place")
    place.wait_for(timeout=10_000)
    page.wait_for_function("() => !document.querySelector('button.tk-opt-place').disabled", timeout=10_000)
    place.click()
    ok = page.locator(".tk-opt-message .tk-ok")
    ok.wait_for(timeout=60_000)
    assert "EXECUTED" in ok.inner_text()
    after = sqlite3.connect(ws.path).execute("SELECT count(*) FROM rebalancings").fetchone()[0]
    assert after == before + 1
    page_clean(page, CELL_ERROR)
    assert outside == []


def test_a_saved_strategy_runs_over_the_book_with_a_progress_bar(app) -> None:
    page, ws, outside = app
    type_into(page, ".tk-opt-strategy-name", "Parity, 30% cap")
    page.locator("button.tk-opt-save").click()
    page.locator(".tk-opt-message .tk-ok", has_text="Strategy 'Parity, 30% cap' saved.").wait_for(timeout=30_000)
    page.locator(".tk-opt-strategies select").select_option(label="Parity, 30% cap · not run yet")
    page.locator("button.tk-opt-run-strategy").click()
    page.locator(".tk-opt-runs", has_text="Complete").wait_for(timeout=120_000)
    assert page.locator(".tk-opt-progress").inner_text().strip().startswith("100%")
    rows = page.locator(".tk-opt-runs tbody tr").all()
    assert len(rows) == len(ws.accounts.list(type="PORTFOLIO", status="ACTIVE"))  # every mandate but the CLOSED one
    stored = sqlite3.connect(ws.path).execute("SELECT status, percentage_complete FROM strategy_runs").fetchall()
    assert stored == [("Complete", 100.0)]
    page.locator(".tk-opt-strategies select option", has_text="Parity, 30% cap · last run complete").wait_for(
        state="attached")
    type_into(page, ".tk-opt-strategy-name", "Parity, second")  # a strategy not run: its bar is empty
    page.locator("button.tk-opt-save").click()
    page.locator(".tk-opt-message .tk-ok", has_text="Strategy 'Parity, second' saved.").wait_for(timeout=30_000)
    page.locator(".tk-opt-progress", has_text="0%").wait_for(timeout=30_000)
    assert page.locator(".tk-opt-strategies select option:checked").inner_text().replace("\xa0", " ") == \
        "Parity, second · not run yet"
    page_clean(page, CELL_ERROR)
    assert outside == []


def test_atr_weighted_runs_on_the_real_candles_portfolio(app) -> None:
    page, ws, outside = app
    page.locator(".tk-opt-portfolio select").select_option(label="Tech, real OHLCV (AAPL, MSFT, GOOGL to 2017-11-10)")
    page.locator(".tk-opt-rule select").select_option(label="ATR weighted")
    type_into(page, ".tk-opt-max-weight", "100")
    _optimise(page, "Tech, real OHLCV (AAPL, MSFT, GOOGL to 2017-11-10) · ATR weighted")
    ids = [ws.instruments.by_code(c, a) for c, a in (("AAPL_XNGS", 14), ("MSFT_XNGS", 13), ("GOOGL_XNGS", 15))]
    answer = ws.strategies.optimise({"weights": dict(zip(ids, ("0.3333", "0.3333", "0.3334"))),
                                     "capital": "100000.00", "rule_name": "ATR weighted", "end_date": "2017-11-10",
                                     "constraints": {"max_weight": 1.0},
                                     "parameters": {"Size Rebalance Trigger": 5, "Include Stop/Limit": False}})
    rows = _rows(page)
    assert [(r["instrument"], r["direction"], r["notional"]) for r in rows] == [
        (o.instrument, o.direction, f"{Decimal(o.notional):,.2f}") for o in answer.orders.itertuples()]
    assert all(len(r["size"].partition(".")[2]) <= 4 for r in rows)  # share quantities rounded for display
    page.locator(".tk-opt-confirm input").check()
    assert page.locator("button.tk-opt-place").is_disabled()  # a preview: no account to place it in
    page_clean(page, CELL_ERROR)
    assert outside == []
