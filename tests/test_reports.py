"""``ws.reports`` on the demo book: daily returns from the ledger, the interface, its errors, the reports."""

from __future__ import annotations

import re
import sqlite3
import struct
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import dump
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit.errors import ConflictError, NotFoundError, ToolkitError, ValidationError
from toolkit.reporting import consistency
from toolkit.workspace import Workspace
from toolkit.workspace.book import TECH_END

DATA = Path(__file__).resolve().parents[1] / "data"
SPX = pd.read_csv(DATA / "sp500_index.csv", index_col="time", parse_dates=True)["SP500"]
STOCKS = pd.read_csv(DATA / "sp500_stocks.csv", index_col="time", parse_dates=True)


def mandates(ws: Workspace) -> dict[str, str]:
    return {a.name: a.id for a in ws.accounts.list(type="PORTFOLIO") if a.name}


def nav_from_tables(path: Path, account: str, day: str) -> Decimal:
    """The NAV at the close of ``day`` straight from the tables: fills x close + the cash ledger.
    The fills are the child orders of the FILLED and SETTLED orders, unpacked here with ``struct``
    from the layout :mod:`toolkit.store.legs` documents (37-byte records ``<iBqqdq``: instrument
    key, sell, cents, quantity units, price, fee)."""
    with sqlite3.connect(path) as conn:
        held: dict[str, Decimal] = {}
        keys = dict(conn.execute("SELECT key, instrument_id FROM instrument_keys"))
        for (blob,) in conn.execute("SELECT legs FROM portfolio_orders WHERE account_id = ? AND execution_date <= ? "
                                    "AND state IN ('FILLED', 'SETTLED')", (account, day)):
            for key, sell, _, qty, _, _ in struct.iter_unpack("<iBqqdq", blob):
                held[keys[key]] = held.get(keys[key], Decimal(0)) + Decimal(-qty if sell else qty).scaleb(-10)
        cash = sum((Decimal(a) for (a,) in conn.execute(
            "SELECT amount FROM cash_ledger WHERE account_id = ? AND value_date <= ?", (account, day))), Decimal(0))
        closes = dict(conn.execute(f"SELECT instrument_id, close FROM prices WHERE timeframe = 1 AND time = ? "
                                   f"AND instrument_id IN ({', '.join('?' * len(held))})", [day, *held]))
    return cash + sum(q * Decimal(repr(closes[i])) for i, q in held.items())


def test_the_demo_book_has_five_mandates_with_master_data(book_ws: Workspace) -> None:
    names = mandates(book_ws)
    assert sorted(names) == ["Factor mandate", "Growth mandate", "Income mandate", "Switching mandate",
                             "Tech tactical mandate"]
    master = book_ws.reports.master(names["Growth mandate"])
    assert (str(master.performance_measurement_start_date), str(master.daily_performance_start_date)) == (
        "2012-01-04", "2014-01-01")


def test_gross_links_to_the_nav_ratio_between_two_days_without_flows(book_ws: Workspace, book_path: Path) -> None:
    # the switching mandate has no flow after its funding: its linked gross return over any period
    # is the ratio of its NAVs, computed here from the raw tables in Decimal
    account = mandates(book_ws)["Switching mandate"]
    answer = book_ws.reports.portfolio_returns({"portfolioId": account, "startDate": "2017-03-01",
                                                "endDate": "2021-06-30"}).to_dict()
    ratio = nav_from_tables(book_path, account, "2021-06-30") / nav_from_tables(book_path, account, "2017-02-28")
    linked = np.prod([1 + y["grossReturn"] for y in answer["years"]]) - 1
    assert linked == pytest.approx(float(ratio) - 1, abs=1e-9)
    assert answer["years"][-1]["grossIndex"] == pytest.approx(100 * float(ratio), rel=1e-9)


def test_time_weighted_return_neutralises_the_monthly_savings(book_ws: Workspace, book_path: Path) -> None:
    # the growth mandate saves 10,000 a month: month by month, (NAV_end - flows) / NAV_start - 1
    # with the flow at the end of its day equals the linked daily gross returns of that month
    account = mandates(book_ws)["Growth mandate"]
    answer = book_ws.reports.portfolio_returns({"portfolioId": account, "startDate": "2019-01-01",
                                                "endDate": "2019-12-31"}).to_dict()
    with sqlite3.connect(book_path) as conn:
        flows = dict(conn.execute("SELECT value_date, sum(CAST(amount AS REAL)) FROM cash_ledger WHERE account_id = ? "
                                  "AND kind IN ('DEPOSIT', 'WITHDRAWAL') GROUP BY value_date", (account,)))
    days = STOCKS.loc["2018-12-31":"2019-12-31"].index.strftime("%Y-%m-%d")
    nav = {d: float(nav_from_tables(book_path, account, d)) for d in days}
    daily = pd.Series({d: (nav[d] - flows.get(d, 0.0)) / nav[p] - 1 for p, d in zip(days[:-1], days[1:])})
    daily.index = pd.to_datetime(daily.index)
    monthly = (1 + daily).groupby(daily.index.to_period("M")).prod() - 1
    assert [m["grossReturn"] for m in answer["months"]] == pytest.approx(monthly.tolist(), abs=1e-12)


def test_benchmark_and_net_returns(book_ws: Workspace) -> None:
    account = mandates(book_ws)["Growth mandate"]
    answer = book_ws.reports.portfolio_returns({"portfolioId": account, "startDate": "2020-01-01",
                                                "endDate": "2021-12-31", "includeBenchmark": True}).to_dict()
    # S&P 500 price index: 3,230.78 -> 3,756.07 -> 4,766.18 (+16.26 %, +26.89 %)
    expected = [SPX["2020-12-31"] / SPX["2019-12-31"] - 1, SPX["2021-12-31"] / SPX["2020-12-31"] - 1]
    assert [y["bmReturn"] for y in answer["years"]] == pytest.approx(expected, abs=1e-12)
    assert [round(y["bmReturn"], 4) for y in answer["years"]] == [0.1626, 0.2689]
    for year, days in zip(answer["years"], (366, 365)):  # 0.75 % a year accrued on calendar days
        assert (1 + year["netReturn"]) / (1 + year["grossReturn"]) == pytest.approx(0.9925 ** (days / 365), rel=1e-9)


def test_a_custom_benchmark_allocation(book_ws: Workspace) -> None:
    names = mandates(book_ws)
    models = {a.name: a.id for a in book_ws.allocations.list()}
    answer = book_ws.reports.portfolio_returns({"portfolioId": names["Income mandate"], "startDate": "2021-01-01",
                                                "endDate": "2021-12-31", "includeBenchmark": True,
                                                "customBenchmarkId": models["Defensive Dividend"]}).to_dict()
    weights = {"KO": 0.2, "PEP": 0.2, "PG": 0.15, "JNJ": 0.15, "WMT": 0.15, "MRK": 0.15}
    daily = STOCKS[list(weights)].pct_change().loc["2021-01-01":"2021-12-31"] @ pd.Series(weights)
    assert answer["benchmarkId"] == models["Defensive Dividend"]
    assert answer["years"][0]["bmReturn"] == pytest.approx(float(np.prod(1 + daily) - 1), abs=1e-12)
    # the mandate tracks that model (rebalanced quarterly, net of savings): close to it, not equal
    assert abs(answer["years"][0]["grossReturn"] - answer["years"][0]["bmReturn"]) < 0.02


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 4), st.integers(0, 4500), st.integers(1, 2000), st.booleans(), st.booleans())
def test_every_answer_keeps_the_consistency_rules(book_ws: Workspace, which: int, offset: int, length: int,
                                                  daily: bool, bench: bool) -> None:
    account = sorted(mandates(book_ws).values())[which]
    master = book_ws.reports.master(account)
    start = pd.Timestamp(master.performance_measurement_start_date) + pd.Timedelta(days=offset)
    # the last close, or the last day of a mandate that closed (the Tech tactical mandate, on 2017-11-10)
    last = "2022-12-28" if book_ws.accounts.get(account).status != "CLOSED" else TECH_END
    end = min(start + pd.Timedelta(days=length), pd.Timestamp(last))
    if start > end:
        return
    request = {"portfolioId": account, "startDate": start.strftime("%Y-%m-%d"), "endDate": end.strftime("%Y-%m-%d"),
               "includeDailyReturns": daily, "includeBenchmark": bench}
    answer = book_ws.reports.portfolio_returns(request).to_dict()
    assert consistency.check(answer, master, request) == []
    # a day entry for every close of the shipped prices inside the daily part of the period, and no
    # other: a period of a weekend or a holiday has months and years (0 %) but no day
    first = max(start, pd.Timestamp(master.daily_performance_start_date))
    closes = STOCKS.index[(STOCKS.index >= first) & (STOCKS.index <= end)] if daily else STOCKS.index[:0]
    days = [pd.Timestamp(d["date"]) for d in answer.get("days", [])]
    assert days == list(closes)


def test_a_period_without_a_trading_day_has_a_month_of_zero_and_no_day(book_ws: Workspace) -> None:
    # Saturday 2021-02-13 to Presidents' Day 2021-02-15: the months and years arrays have no gaps,
    # the days array may (the reporting document), and no day is made up
    master = book_ws.reports.master(mandates(book_ws)["Factor mandate"])
    request = {"portfolioId": master.portfolio_id, "startDate": "2021-02-13", "endDate": "2021-02-15",
               "includeDailyReturns": True, "includeBenchmark": True}
    answer = book_ws.reports.portfolio_returns(request).to_dict()
    assert consistency.check(answer, master, request) == []
    assert answer["days"] == []
    month = answer["months"][0]
    assert (month["startDate"], month["date"], month["grossReturn"], month["netReturn"], month["bmReturn"]) == \
        ("2021-02-13", "2021-02-15", 0.0, 0.0, 0.0)


def test_invalid_periods_get_a_clear_error(book_ws: Workspace) -> None:
    account = mandates(book_ws)["Factor mandate"]
    cases = {("2014-06-02", "2015-06-30"): "startDate", ("2020-01-01", "2023-01-31"): "endDate",
             ("2021-05-01", "2021-04-30"): "startDate", ("2021-02-30", "2021-04-30"): "startDate"}
    for (start, end), path in cases.items():
        with pytest.raises(ValidationError) as caught:
            book_ws.reports.portfolio_returns({"portfolioId": account, "startDate": start, "endDate": end})
        assert path in caught.value.paths, (start, end, caught.value.paths)
    with pytest.raises(NotFoundError):
        book_ws.reports.portfolio_returns({"portfolioId": "00000000-0000-0000-0000-000000000000",
                                           "startDate": "2021-01-01", "endDate": "2021-02-01"})
    with pytest.raises(ValidationError) as caught:
        book_ws.reports.portfolio_returns({"portfolioId": account, "startDate": "2021-01-01",
                                           "endDate": "2021-02-01", "customBenchmarkId": "SPX"})
    assert "customBenchmarkId" in caught.value.paths


def test_instrument_returns_in_local_currency(book_ws: Workspace) -> None:
    answer = book_ws.reports.instrument_returns({"instrumentIds": ["US0378331005", "MSFT"],
                                                 "startDate": "2020-01-01", "endDate": "2020-12-31"}).to_dict()
    (aapl, msft) = answer["instruments"]
    assert aapl["years"][0]["return"] == pytest.approx(STOCKS["AAPL"]["2020-12-31"] / STOCKS["AAPL"]["2019-12-31"] - 1,
                                                       abs=1e-12)
    assert len(aapl["months"]) == 12 and msft["instrumentId"] == "MSFT"
    with pytest.raises(ValidationError) as caught:
        book_ws.reports.instrument_returns({"instrumentIds": ["AAPL", "NOPE"], "startDate": "2020-01-01",
                                            "endDate": "2020-12-31"})
    assert caught.value.paths == ["instrumentIds[1]"]


BAD_MASTER = {
    "daily before the start": ({"performanceMeasurementStartDate": "2015-01-05",
                                "dailyPerformanceStartDate": "2014-01-01"}, ["dailyPerformanceStartDate"]),
    "fee above 1": ({"performanceMeasurementStartDate": "2015-01-05", "dailyPerformanceStartDate": "2016-01-01",
                     "annualFee": "1.5"}, ["annualFee"]),
    "unknown benchmark": ({"performanceMeasurementStartDate": "2015-01-05",
                           "dailyPerformanceStartDate": "2016-01-01", "benchmarkId": "NOPE"}, ["benchmarkId"]),
    "unknown field and bad date": ({"performanceMeasurementStartDate": "2015-13-01",
                                    "dailyPerformanceStartDate": "2016-01-01", "fee": "0.01"},
                                   ["fee", "performanceMeasurementStartDate"]),
    "injection in the benchmark": ({"performanceMeasurementStartDate": "2015-01-05",
                                    "dailyPerformanceStartDate": "2016-01-01",
                                    "benchmarkId": "x'); DROP TABLE accounts; --"}, ["benchmarkId"]),
}


@pytest.mark.parametrize("payload, paths", BAD_MASTER.values(), ids=BAD_MASTER.keys())
def test_bad_master_data_is_refused_and_changes_nothing(book_copy: Workspace, payload: dict, paths: list) -> None:
    account = mandates(book_copy)["Factor mandate"]
    before = dump(book_copy)
    with pytest.raises(ValidationError) as caught:
        book_copy.reports.set_master(account, payload)
    assert sorted(caught.value.paths) == sorted(paths)
    assert dump(book_copy) == before


def test_master_data_can_be_replaced(book_copy: Workspace) -> None:
    account = mandates(book_copy)["Factor mandate"]
    master = book_copy.reports.set_master(account, {"performanceMeasurementStartDate": "2016-01-04",
                                                    "dailyPerformanceStartDate": "2016-01-04", "benchmarkId": "QUAL",
                                                    "annualFee": "0.01"})
    assert master.benchmark_id == "QUAL"
    answer = book_copy.reports.portfolio_returns({"portfolioId": account, "startDate": "2016-01-04",
                                                  "endDate": "2016-12-31", "includeBenchmark": True}).to_dict()
    assert answer["years"][0]["startDate"] == "2016-01-04" and answer["benchmarkId"] == "QUAL"


def test_reports_of_a_portfolio_and_of_instruments(book_ws: Workspace) -> None:
    account = mandates(book_ws)["Growth mandate"]
    parts = book_ws.reports.portfolio_report(account, start="2022-01-01", end="2022-12-28", frequency="quarterly")
    assert set(parts) == {"PO001", "PO003", "PO005"}
    answer = book_ws.reports.portfolio_returns({"portfolioId": account, "startDate": "2022-01-01",
                                                "endDate": "2022-12-28", "includeBenchmark": True}).to_dict()
    overview = parts["PO001"]
    assert isinstance(overview, pd.DataFrame)
    assert overview.loc["YTD", "gross"] == pytest.approx(answer["years"][0]["grossReturn"], abs=1e-12)
    assert overview.loc["YTD", "benchmark"] == pytest.approx(answer["years"][0]["bmReturn"], abs=1e-12)
    # (workspace.reports.Report, a DataFrame or a plotly Figure, is no type alias mypy can read)
    assert len(parts["PO003"].data) >= 2  # type: ignore[attr-defined]
    instruments = book_ws.reports.instrument_report(["AAPL", "MSFT", "SPX"], start="2018-01-01", end="2022-12-28")
    table = instruments["MA003"]
    assert isinstance(table, pd.DataFrame) and list(table.index) == ["AAPL", "MSFT", "SPX"]
    html = book_ws.reports.to_html({**parts, **instruments}, "Growth mandate")
    assert "PO001" in html and "MA004" in html
    assert not re.search(r"<(script|link)[^>]+(src|href)=[\"']?https?:", html)  # nothing from the network


def test_a_report_period_without_a_trading_day_is_refused(book_ws: Workspace) -> None:
    account = mandates(book_ws)["Growth mandate"]
    with pytest.raises(ValidationError, match="holds no trading day") as caught:
        book_ws.reports.portfolio_report(account, start="2018-01-01", end="2018-01-01")
    assert caught.value.paths == ["startDate"]


def test_a_benchmark_in_another_currency_keeps_the_moves_of_every_day(ws: Workspace) -> None:
    """A USD portfolio against a EUR series that also trades on US holidays: the benchmark's return from
    the close before startDate to endDate is its price ratio in USD at the ECB rates (read here from the
    shipped file). Before: a TypeError (``history.rates`` called), and the daily returns of days the
    portfolio does not trade (MLK day, Good Friday, ...) dropped."""
    allocation = ws.allocations.create({"allocation": [
        {"instrument_id": "US0378331005", "instrument_id_type": "ISIN", "weight": "1"}]}).id
    account = ws.accounts.create({"type": "PORTFOLIO", "currency": "USD"}).id
    ws.accounts.deposit(account, {"amount": "10000.00", "currency": "USD", "value_date": "2022-01-03"})
    ws.configurations.create({"account_id": account, "allocation_id": allocation})
    ws.orders.place(account, {"cash_amount": "5000.00", "currency": "USD", "side": "BUY",
                              "execution_date": "2022-01-04"})
    days = pd.bdate_range("2022-01-03", "2022-12-28")  # every weekday, US holidays included
    closes = pd.Series(100.0 + np.arange(len(days)), index=days)
    ws.history.upload({"isin": "DE0007164600", "currency": "EUR", "timeframe": 1, "symbol": "SAP",
                       "history": [{"timestamp": f"{d:%Y-%m-%d}", "close": c} for d, c in closes.items()]})
    answer = ws.reports.portfolio_returns({"portfolioId": account, "startDate": "2022-02-01", "endDate": "2022-11-30",
                                           "includeBenchmark": True, "customBenchmarkId": "SAP"}).to_dict()
    usd = pd.read_csv(DATA / "ecb_fx.csv", index_col="time", parse_dates=True)["USD"]  # USD per EUR
    first, last = pd.Timestamp("2022-01-31"), pd.Timestamp("2022-11-30")
    expected = closes[last] * usd[last] / (closes[first] * usd[first]) - 1
    assert answer["years"][0]["bmReturn"] == pytest.approx(expected, rel=1e-12)


# --------------------------------------------------------------------------- the seed's identifiers and queries

SEED_CALL = "/portfolio/returns?portfolioId=E0002&startDate=2011-04-01&endDate=2019-03-31"  # line 153


def test_the_demo_mandates_carry_the_interfaces_ids(book_ws: Workspace) -> None:
    names = mandates(book_ws)
    ids = {name: book_ws.reports.master(account).portfolio_id for name, account in names.items()}
    assert ids == {"Growth mandate": "E0001", "Income mandate": "E0002", "Factor mandate": "E0003",
                   "Switching mandate": "E0004", "Tech tactical mandate": "E0005"}
    assert book_ws.reports.master("E0002") == book_ws.reports.master(names["Income mandate"])


def test_the_documents_example_call_is_answered_verbatim(book_ws: Workspace) -> None:
    answer = book_ws.reports.portfolio_returns(SEED_CALL)
    as_params = book_ws.reports.portfolio_returns({"portfolioId": "E0002", "startDate": "2011-04-01",
                                                   "endDate": "2019-03-31"})
    assert answer == as_params
    data = answer.to_dict()
    assert data["portfolioId"] == "E0002" and (data["startDate"], data["endDate"]) == ("2011-04-01", "2019-03-31")
    assert [y["year"] for y in data["years"]] == list(range(2011, 2020))
    assert len(data["months"]) == 96 and data["months"][0]["month"] == "2011-04" and data["months"][-1]["complete"]
    assert "days" not in data and "bmIndexStart" not in data  # both default to false (lines 130, 138)
    assert consistency.check(data, book_ws.reports.master("E0002"), SEED_CALL) == []
    # the same figures as asked by the account's id; only the id echoed differs
    by_account = book_ws.reports.portfolio_returns({"portfolioId": mandates(book_ws)["Income mandate"],
                                                    "startDate": "2011-04-01", "endDate": "2019-03-31"}).to_dict()
    assert {**by_account, "portfolioId": "E0002"} == data


def test_a_query_string_with_flags_gives_the_daily_and_benchmark_cube(book_ws: Workspace) -> None:
    answer = book_ws.reports.portfolio_returns(f"{SEED_CALL}&includeDailyReturns=true&includeBenchmark=true")
    days = answer.to_xarray("days")
    assert set(days.data_vars) == {"grossReturn", "grossIndex", "netReturn", "netIndex", "bmReturn", "bmIndex"}
    assert str(days.indexes["time"][0].date()) == "2012-01-03"  # dailyPerformanceStartDate 2012-01-01 (a Sunday)
    assert answer.benchmark_id == "SPX" and answer.to_pandas("years").index[-1] == pd.Timestamp("2019-03-31")


@pytest.mark.parametrize(("query", "error", "paths"), [
    ({"portfolioId": "E9999", "startDate": "2011-04-01", "endDate": "2019-03-31"}, NotFoundError, None),
    ({"portfolioId": "E0002", "startDate": "2009-04-01", "endDate": "2019-03-31"}, ValidationError, ["startDate"]),
    ("portfolioId=E0002&startDate=2011-04-01&endDate=2019-03-31&includeBenchmark=yes", ValidationError,
     ["includeBenchmark"]),
    ("portfolioId=E0002&startDate=2011-04-01", ValidationError, ["endDate"]),
])
def test_bad_seed_queries_are_refused(book_ws: Workspace, query: object, error: type[ToolkitError],
                                      paths: list | None) -> None:
    with pytest.raises(error) as caught:
        book_ws.reports.portfolio_returns(query)
    if paths is not None:
        assert isinstance(caught.value, ValidationError) and caught.value.paths == paths
    else:
        assert "E9999" in str(caught.value) and "set_master" in str(caught.value)


def test_instrument_ids_comma_separated_and_unknown_ones_named(book_ws: Workspace) -> None:
    answer = book_ws.reports.instrument_returns("/instrument/returns?startDate=2019-01-01&endDate=2019-03-31"
                                                "&instrumentIds=AAPL,US5949181045,SPX")
    assert [b.instrument_id for b in answer.instruments] == ["AAPL", "US5949181045", "SPX"]
    table = answer.to_pandas("months")
    assert list(table.columns) == ["AAPL", "US5949181045", "SPX"] and len(table) == 3
    assert table["SPX"].iloc[0] == pytest.approx(SPX["2019-01-31"] / SPX["2018-12-31"] - 1, abs=1e-12)
    # the document's own ids name instruments of its data source, which the workspace does not hold
    with pytest.raises(ValidationError) as caught:
        book_ws.reports.instrument_returns({"startDate": "2019-01-01", "endDate": "2019-03-31",
                                            "instrumentIds": "FTSEEUR,SWIIT,SF0003M"})
    assert caught.value.paths == ["instrumentIds[0]", "instrumentIds[1]", "instrumentIds[2]"]
    assert "'FTSEEUR'" in str(caught.value)


def test_a_portfolio_id_is_set_renamed_and_unique(book_copy: Workspace) -> None:
    names = mandates(book_copy)
    factor = names["Factor mandate"]
    base = {"performanceMeasurementStartDate": "2015-01-05", "dailyPerformanceStartDate": "2017-01-01"}
    before = dump(book_copy)
    with pytest.raises(ConflictError, match="E0002"):
        book_copy.reports.set_master(factor, {**base, "portfolioId": "E0002"})  # the Income mandate's
    for bad in ("E 3", names["Growth mandate"], "", "x" * 65):
        with pytest.raises(ValidationError) as caught:
            book_copy.reports.set_master(factor, {**base, "portfolioId": bad})
        assert caught.value.paths == ["portfolioId"], bad
    assert dump(book_copy) == before
    assert book_copy.reports.set_master("E0003", {**base, "portfolioId": "FACTOR-1"}).portfolio_id == "FACTOR-1"
    assert book_copy.reports.portfolio_returns({"portfolioId": "FACTOR-1", "startDate": "2016-01-04",
                                                "endDate": "2016-12-31"}).portfolio_id == "FACTOR-1"
    with pytest.raises(NotFoundError):
        book_copy.reports.master("E0003")
    # without a portfolioId the portfolio is named by its account id (master data are replaced whole)
    assert book_copy.reports.set_master(factor, base).portfolio_id == factor
    assert set(book_copy.reports.portfolio_report("E0001", start="2022-01-01", end="2022-12-28")) == \
        {"PO001", "PO003", "PO005"}


def test_the_closed_mandates_periods_after_its_close_name_the_close(book_ws: Workspace) -> None:
    """The Tech tactical mandate is CLOSED (sold out on 2017-11-10); a PortfolioReturns period past its
    close is refused naming endDate (and startDate after it) with the close, not as a NaN inside it."""
    pid = mandates(book_ws)["Tech tactical mandate"]
    assert book_ws.accounts.get(pid).status == "CLOSED"
    with pytest.raises(ValidationError, match=r"latest data of the portfolio \(2017-11-10\)") as info:
        book_ws.reports.portfolio_returns({"portfolioId": pid, "startDate": "2017-01-03", "endDate": "2018-06-29"})
    assert [p.path for p in info.value.problems] == ["endDate"]
    with pytest.raises(ValidationError) as info:
        book_ws.reports.portfolio_returns({"portfolioId": pid, "startDate": "2019-01-02", "endDate": "2019-12-31"})
    assert [p.path for p in info.value.problems] == ["startDate", "endDate"]
    answer = book_ws.reports.portfolio_returns({"portfolioId": pid, "startDate": "2017-01-03",
                                                "endDate": "2017-11-10"}).to_dict()
    assert answer["endDate"] == "2017-11-10"
