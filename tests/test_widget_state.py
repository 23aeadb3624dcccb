"""The apps' state after a stakeholder's actions, without a browser (issue 22's list): valid choices
only, plain words next to the report codes, nothing stale after an error, advice that can work."""

from __future__ import annotations

import ipywidgets
import pandas as pd
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


def test_optimise_shows_each_strategy_with_its_own_status_and_errors_in_percent(book_copy: Workspace) -> None:
    from toolkit.widgets.optimise import OptimiseApp

    app = OptimiseApp(book_copy)
    app.max_weight.value = 5.0  # 5% of each of a handful of stocks cannot be fully invested
    app.optimise()
    assert "Max weight %" in app.message.value and "constraints.max_weight" not in app.message.value
    assert "below 100%" in app.message.value and app.orders.value == "" and app.headline.value == ""
    app.strategy_name.value = "Parity"
    app.save_strategy()
    labels = dict(app.strategies.options)
    assert app.strategies.label == "Parity · not run yet" and "(NotRun)" not in " ".join(labels)
    assert app.progress.value == 0 and app.progress.description == "0%"


def test_attribution_offers_no_period_before_the_portfolio_held_anything(book_ws: Workspace) -> None:
    from toolkit.widgets.attribution import AttributionApp, first_days

    starts = first_days(book_ws)
    app = AttributionApp.__new__(AttributionApp)  # the period logic alone: no attribution is run
    app.ws, app._starts, app._last = book_ws, starts, pd.Timestamp("2022-12-28")
    growth = next(a.id for a in book_ws.accounts.list(type="PORTFOLIO") if a.name == "Growth mandate")
    factor_etfs = next(a.id for a in book_ws.allocations.list() if a.name == "Factor ETFs")
    assert starts[growth] == pd.Timestamp("2012-01-04") and starts[factor_etfs] == pd.Timestamp("2014-01-02")
    app.portfolio = ipywidgets.Dropdown(options=[growth], value=growth)
    app.benchmark = ipywidgets.Dropdown(options=["index", factor_etfs], value="index")
    assert app._periods()[-1] == "2013" and "Last 10 years" in app._periods()
    app.benchmark.value = factor_etfs
    assert app._periods()[-1] == "2015" and "Last 10 years" not in app._periods()


def test_partial_years_follow_the_exchange_calendar() -> None:
    """A year is covered in part when the run starts after its first NYSE session or ends before its last."""
    import pandas as pd

    from toolkit.widgets.backtest import partial_years

    def days(start: str, end: str) -> pd.DatetimeIndex:
        return pd.bdate_range(start, end)

    assert partial_years(days("2021-01-04", "2022-12-30")) == {2021: False, 2022: False}  # 2021-01-04: first session
    assert partial_years(days("2021-01-05", "2022-12-28")) == {2021: True, 2022: True}
    assert partial_years(days("2020-01-02", "2020-12-31")) == {2020: False}
    assert partial_years(days("2020-01-02", "2020-06-30")) == {2020: True}
