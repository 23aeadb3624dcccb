"""The apps' state after a stakeholder's actions, without a browser (issue 22's list): valid choices
only, plain words next to the report codes, nothing stale after an error, advice that can work."""

from __future__ import annotations

import pytest

from toolkit.errors import DataError
from toolkit.widgets.allocations import AllocationsApp
from toolkit.widgets.performance import PerformanceApp, rolling_note
from toolkit.workspace import Workspace


def test_allocations_offer_the_demo_mandates_by_name_and_current_series_with_their_dates(book_ws: Workspace) -> None:
    app = AllocationsApp(book_ws)
    names = [label.split(" · ")[0] for label, key in app.account.options if key]
    assert {"Growth mandate", "Income mandate", "Factor mandate", "Switching mandate"} <= set(names)
    labels = [label for label, key in app._choices if key]
    assert labels and all(" to 2022-12-28" in label for label in labels)  # only current series, with dates
    assert "MSFT (pmdarima, last close 2017-11-10)" in app._held_back
    app.account.value = next(key for label, key in app.account.options if label.startswith("Growth mandate"))
    info = app.account_info.value
    assert "Growth mandate" in info and "tk-cash" in info
    quantities = [cell for cell in info.split("<td>")[1:] if cell[0].isdigit()]
    assert quantities and all(len(q.split("</td>")[0].partition(".")[2]) <= 4 for q in quantities)


def test_an_unnamed_account_is_refused_and_a_refused_filter_leaves_nothing_stale(book_copy: Workspace) -> None:
    app = AllocationsApp(book_copy)
    before = len(book_copy.accounts.list(type="PORTFOLIO"))
    app._on_account_create()
    assert "give the account a name" in app.account_message.value
    assert len(book_copy.accounts.list(type="PORTFOLIO")) == before
    app.account_name.value, app.deposit.value = "Retirement", "25,000.00"
    app._on_account_create()
    assert "Retirement" in app.account_message.value and "25,000.00 USD" in app.account_message.value
    assert app.select.options
    app.filter_start.value = "2020-13-01"  # not a date: the façade names the field
    assert "start_date" in app.list_message.value
    assert app.table.value == "" and app.select.options == () and app.select.value is None


def test_performance_says_what_the_codes_mean_and_why_the_rolling_table_is_a_month_end(book_ws: Workspace) -> None:
    app = PerformanceApp(book_ws)
    assert app.start.value == app.start.text and len(app.start.value) == 10  # ISO text, any browser locale
    assert "Performance overview: the return of each month" in app.po001_title.value
    assert "Rolling performance: the returns over the last" in app.po005_title.value
    assert "PO003 · Cumulated performance: what 100 invested" in app.po003_note.value
    end = app.end.value
    assert f"the last month-end on or before {end}" in app.po005_note.value
    app.start.value = "2001-01-01"  # before the mandate's first return: refused
    assert "tk-error" in app.message.value
    assert app.po005_note.value == app.po001.value == app.po005.value == app.headline.value == ""
    assert "as of" not in app.po001_title.value + app.po005_title.value


def test_rolling_note_only_when_the_table_ends_before_the_period() -> None:
    assert rolling_note("PO005 Rolling performance as of 2020-06-30", "2020-06-30") == ""
    assert "last month-end on or before 2022-12-28" in rolling_note("PO005 … as of 2022-11-30", "2022-12-28")


def test_advice_for_the_whole_history_does_not_ask_for_a_wider_window(demo_ws: Workspace) -> None:
    table = demo_ws.instruments.table()
    old = table[(table["symbol"] == "IBM")]["instrument_id"].iloc[0]  # 2000-2013
    new = table[(table["symbol"] == "MTUM")]["instrument_id"].iloc[0]  # 2014-2022
    with pytest.raises(DataError) as whole:
        demo_ws.analytics.portfolio({old: 0.5, new: 0.5}, with_factors=False)
    assert "widen the window" not in str(whole.value) and "overlapping histories" in str(whole.value)
    with pytest.raises(DataError) as part:
        demo_ws.analytics.portfolio({old: 0.5, new: 0.5}, start="2012-01-01", end="2016-12-31", with_factors=False)
    assert "widen the window" in str(part.value)
