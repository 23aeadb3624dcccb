"""The allocations app in a real Voilà server, driven by Debian's Chromium through Playwright.

The tests run in order on one page, as a stakeholder would: a refused allocation, a valid one,
a funded account that tracks it, an order previewed then placed, a rebalancing previewed then
executed, a new version of the allocation. After each step the database says what was (and was
not) saved.
"""

from __future__ import annotations

import shutil
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from toolkit.testing.browser import CELL_ERROR, chromium, open_page, voila_server

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

ARTIFACTS = Path(__file__).parent / "artifacts"
#: the editor's choices name each series' first and last daily close
AAPL = "AAPL · Apple Inc. (skfolio, US0378331005) · 1990-01-02 to 2022-12-28"
MSFT = "MSFT · Microsoft Corporation (skfolio, US5949181045) · 1990-01-02 to 2022-12-28"


def _money(text: str) -> Decimal:
    """An amount as the page shows it, thousands grouped (``"1,500.00"``)."""
    assert text == f"{Decimal(text.replace(',', '')):,.2f}", text
    return Decimal(text.replace(",", ""))


def _count(path: Path, table: str, where: str = "") -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"SELECT count(*) FROM {table} {where}").fetchone()[0]  # noqa: S608 - test's own names


def _clean(page) -> None:
    """No cell failed and no callback hit an unexpected error."""
    content = page.content()
    assert CELL_ERROR not in content and "Unexpected error" not in content


def _fill_rows(page, rows: list[tuple[str, str]]) -> None:
    for n, (label, weight) in enumerate(rows):
        row = page.locator(".tk-row").nth(n)
        row.locator("select").select_option(label=label)
        row.locator("input").fill(weight)


def _create_refused(page, rows: list[tuple[str, str]], tries: int = 3) -> str:
    """Press Create on a form that must be refused, and return the error's text.

    ipywidgets re-renders a select for about a second after its options change, and a choice
    made inside that window is dropped by the page (see ``_select`` in test_browser_market.py).
    The editor's selects keep their options, so this should not happen; if it does, the error
    names ``.instrument_id``, and as a refused request saves nothing the test chooses again, like
    a user (the app redraws its message on each try; the old one is marked to tell them apart).
    """
    error = page.locator(".tk-editor-message .tk-error:not([data-seen])")
    for _ in range(tries):
        _fill_rows(page, rows)
        page.locator(".tk-create").click()
        error.wait_for(timeout=30_000)
        text = error.inner_text()
        if ".instrument_id" not in text:
            return text
        error.evaluate("e => e.dataset.seen = '1'")
    raise AssertionError(f"the instruments chosen did not reach the kernel: {text}")


def _screenshot(page, name: str) -> Path:
    """The whole app: Voilà's page scrolls inside its own container, so the window grows to fit it."""
    height = page.locator(".tk-allocations-app").evaluate("e => e.getBoundingClientRect().height")
    page.set_viewport_size({"width": 1360, "height": int(height) + 120})
    target = ARTIFACTS / name
    page.screenshot(path=str(target), full_page=True)
    page.set_viewport_size({"width": 1360, "height": 1000})
    return target


def _table(page, css: str) -> list[dict[str, str]]:
    heads = page.locator(f"{css} thead th").all_inner_texts()
    return [dict(zip(heads, row.locator("td").all_inner_texts())) for row in page.locator(f"{css} tbody tr").all()]


@pytest.fixture(scope="module")
def app(demo_path: Path, tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("browser") / "ws.db"
    shutil.copy(demo_path, path)
    ARTIFACTS.mkdir(exist_ok=True)
    with voila_server(workspace=path, apps=("allocations.ipynb",)) as server, chromium() as browser:
        # asked while the preheated kernel still runs the app, as the other apps' tests do (tests/helpers.py):
        # a render asked of a pool kernel already at rest stalled in Voilà 0.5.13 here until the culler ended it
        outside: list[str] = []
        page = open_page(browser, server.url + "/voila/render/allocations.ipynb", outside)
        page.wait_for_selector(".tk-allocations-app .tk-create", timeout=90_000)
        page.locator(".tk-allocations-table", has_text="No allocations yet").wait_for()
        yield page, path, outside


def test_invalid_allocation_names_each_field_and_saves_nothing(app) -> None:
    page, path, _ = app
    page.locator(".tk-alloc-name input").fill("<Growth>")
    text = _create_refused(page, [(AAPL, "0.5"), (MSFT, "0.499")])
    assert "2 problem(s) found in the allocation; nothing was saved." in text
    assert "name may hold letters, digits" in text
    assert "allocation weights sum to 0.999; they must sum to exactly 1" in text
    for table in ("allocations", "allocation_versions", "allocation_weights", "events"):
        assert _count(path, table) == 0, table
    _clean(page)
    _screenshot(page, "allocations_error.png")


def test_valid_allocation_is_listed_charted_and_filtered(app) -> None:
    page, path, _ = app
    page.locator(".tk-add-row").click()
    page.locator(".tk-row-path", has_text="[2]").wait_for()
    page.locator(".tk-row-remove").nth(2).click()
    page.locator(".tk-row-path", has_text="[2]").wait_for(state="detached")
    assert page.locator(".tk-row-path").all_inner_texts() == ["[0]", "[1]"]
    page.locator(".tk-alloc-name input").fill("Growth 60/40")
    _fill_rows(page, [(AAPL, "0.6"), (MSFT, "0.4")])
    page.locator(".tk-create").click()
    page.locator(".tk-editor-message .tk-ok", has_text="Created Growth 60/40").wait_for(timeout=30_000)
    assert _count(path, "allocations") == 1 and _count(path, "allocation_weights") == 2
    page.locator(".tk-allocations-table td", has_text="Growth 60/40").wait_for()
    (row,) = _table(page, ".tk-allocations-table")
    assert row["name"] == "Growth 60/40" and row["version"] == "1" and row["weights"] == "AAPL 0.6 · MSFT 0.4"
    page.wait_for_selector(".tk-weights-chart .main-svg", timeout=60_000)
    assert page.locator(".tk-weights-chart .xtick").all_text_contents() == ["AAPL", "MSFT"]
    options = page.locator(".tk-allocation-select option").all_inner_texts()
    assert [o.replace("\xa0", " ")[:17] for o in options] == ["Growth 60/40 · v1"]
    search = page.locator(".tk-filter-instrument input")
    search.fill("US46625H1005")  # JPM: not held
    search.press("Enter")
    page.locator(".tk-allocations-table", has_text="No allocations match.").wait_for()
    search.fill("US0378331005")  # AAPL
    search.press("Enter")
    page.locator(".tk-allocations-table", has_text="Growth 60/40").wait_for()
    search.fill("not-an-isin")
    search.press("Enter")
    page.locator(".tk-list-message .tk-error", has_text="instrument_ids[0]").wait_for()
    search.fill("")
    search.press("Enter")
    page.locator(".tk-allocations-table", has_text="Growth 60/40").wait_for()
    page.locator(".tk-allocation-select option:checked", has_text="Growth 60/40").wait_for()
    _clean(page)


def test_series_that_ended_long_ago_are_not_offered_and_the_page_says_so(app) -> None:
    page, _, _ = app
    options = [o.replace("\xa0", " ") for o in page.locator(".tk-row").first.locator("select option").all_inner_texts()]
    assert len(options) > 20 and all(" to 20" in o for o in options[1:])  # every choice shows its dates
    assert not any("bokeh" in o or "pmdarima" in o for o in options)  # their histories end in 2013 and 2017
    note = page.locator(".tk-held-back").inner_text()
    assert "Not offered:" in note and "MSFT (pmdarima, last close 2017-11-10)" in note
    assert page.locator(".tk-filter-start input").get_attribute("placeholder") == "YYYY-MM-DD"
    _clean(page)


def test_account_with_a_deposit_tracks_the_allocation(app) -> None:
    page, path, _ = app
    deposit = page.locator(".tk-account-deposit input")
    assert deposit.input_value() == "10,000.00"
    page.locator(".tk-account-create").click()  # no name: refused, nothing saved
    page.locator(".tk-account-message .tk-error", has_text="give the account a name").wait_for(timeout=30_000)
    assert _count(path, "accounts") == 0
    page.locator(".tk-account-name input").fill("Retirement")
    deposit.fill("12.345")
    page.locator(".tk-account-create").click()
    error = page.locator(".tk-account-message .tk-error", has_text="amount 12.345")  # not the message before
    error.wait_for(timeout=30_000)
    assert "amount 12.345 has fractions of a cent" in error.inner_text()
    assert _count(path, "accounts") == 0  # the account and its deposit are saved together or not at all
    deposit.fill("10,000.00")  # typed with its thousands separator
    page.locator(".tk-account-create").click()
    page.locator(".tk-account-message .tk-ok", has_text="with 10,000.00 USD").wait_for(timeout=30_000)
    page.locator(".tk-account-info .tk-cash", has_text="10,000.00 USD").wait_for()
    assert page.locator(".tk-account-select select option:checked").inner_text().replace("\xa0", " ").startswith(
        "Retirement · USD")
    page.locator(".tk-assign").click()
    page.locator(".tk-account-info", has_text="tracks Growth 60/40 v1").wait_for(timeout=30_000)
    assert _count(path, "accounts", "WHERE type = 'PORTFOLIO'") == 1 and _count(path, "configurations") == 1
    _clean(page)


def test_order_preview_splits_to_the_cent_then_place_fills(app) -> None:
    page, path, _ = app
    page.locator(".tk-order-amount input").fill("2500.00")
    page.locator(".tk-order-preview").click()
    page.locator(".tk-order-message .tk-ok", has_text="adding up to 2,500.00").wait_for(timeout=30_000)
    *children, total = _table(page, ".tk-order-table")
    assert [c["symbol"] for c in children] == ["AAPL", "MSFT"]
    assert [c["amount"] for c in children] == ["1,500.00", "1,000.00"]
    assert sum(_money(c["amount"]) for c in children) == _money(total["amount"]) == Decimal("2500.00")
    assert all(Decimal(c["quantity"]) > 0 for c in children)
    assert all(-Decimal(c["quantity"]).as_tuple().exponent <= 4 for c in children)  # rounded for display
    assert _count(path, "portfolio_orders") == 0  # a preview writes nothing
    page.locator(".tk-order-place").click()
    page.locator(".tk-order-message .tk-ok", has_text="is FILLED").wait_for(timeout=30_000)
    page.locator(".tk-order-table th", has_text="side").wait_for()
    placed = _table(page, ".tk-order-table")
    assert [(c["symbol"], c["side"], c["amount"]) for c in placed] == [("AAPL", "BUY", "1,500.00"),
                                                                       ("MSFT", "BUY", "1,000.00")]
    assert [(c["quantity"]) for c in placed] == [c["quantity"] for c in children]  # as previewed
    assert _count(path, "portfolio_orders", "WHERE state = 'FILLED'") == 1
    page.locator(".tk-account-info .tk-cash", has_text="7,500.00 USD").wait_for()
    page.locator(".tk-order-place").click()  # the same form again places nothing new
    page.locator(".tk-order-message .tk-ok", has_text="placed already").wait_for(timeout=30_000)
    assert _count(path, "portfolio_orders") == 1
    _clean(page)


def test_rebalancing_preview_then_execute(app) -> None:
    page, path, _ = app
    page.locator(".tk-rebalance-preview").click()
    page.locator(".tk-rebalance-message .tk-ok", has_text="nothing was traded").wait_for(timeout=30_000)
    preview = _table(page, ".tk-rebalance-table")
    assert [(t["status"], t["symbol"], t["side"]) for t in preview] == [("PREVIEW", "AAPL", "BUY"),
                                                                        ("PREVIEW", "MSFT", "BUY")]
    assert sum(_money(t["amount"]) for t in preview) <= Decimal("7500.00")
    assert _count(path, "portfolio_orders") == 1
    page.locator(".tk-rebalance-execute").click()
    page.locator(".tk-rebalance-table", has_text="EXECUTED").wait_for(timeout=30_000)
    executed = _table(page, ".tk-rebalance-table")
    assert [(t["symbol"], t["amount"]) for t in executed] == [(t["symbol"], t["amount"]) for t in preview]
    assert _count(path, "portfolio_orders", "WHERE side = 'REBALANCE' AND state = 'FILLED'") == 1
    page.locator(".tk-account-info .tk-cash", has_text="7,500.00 USD").wait_for(state="detached")
    _clean(page)
    assert _screenshot(page, "allocations.png").stat().st_size > 20_000


def test_replace_loads_edits_and_saves_a_new_version(app) -> None:
    page, path, _ = app
    page.locator(".tk-load").click()
    page.locator(".tk-editor-message .tk-ok", has_text="Loaded version 1").wait_for(timeout=30_000)
    weights = page.locator(".tk-row-weight input")
    assert [weights.nth(n).input_value() for n in range(2)] == ["0.6", "0.4"]
    weights.nth(0).fill("0.7")
    weights.nth(1).fill("0.3")
    page.locator(".tk-replace").click()
    page.locator(".tk-editor-message .tk-ok", has_text="now version 2").wait_for(timeout=30_000)
    page.locator(".tk-allocations-table td", has_text="AAPL 0.7 · MSFT 0.3").wait_for()
    assert _count(path, "allocations") == 1 and _count(path, "allocation_versions") == 2
    page.wait_for_function("() => [...document.querySelectorAll('.tk-weights-chart .gtitle')]"
                           ".some(e => e.textContent.includes('version 2'))")
    _clean(page)


def test_no_cell_error_and_nothing_loaded_from_outside(app) -> None:
    page, _, outside = app
    _clean(page)
    assert outside == []
