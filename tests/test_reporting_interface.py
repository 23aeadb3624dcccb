"""PortfolioReturns / InstrumentReturns: request validation, period rules, and figures checked
against independent computations (pandas, empyrical-reloaded, chain-linking by hand of Bacon's
published monthly returns).

The inputs are real: an equal-weight, daily rebalanced portfolio of four S&P 500 stocks from
data/sp500_stocks.csv (gross), the same less a 1 % a year fee (net), and the S&P 500 index from
data/sp500_index.csv (benchmark); instruments are stocks and factor ETFs (data/factor_etfs.csv,
which start in 2014).
"""

from __future__ import annotations

import json
import math
from datetime import date
from functools import cache
from pathlib import Path

import empyrical
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from toolkit.analytics.returns import net_of_fees
from toolkit.contracts.performance import InstrumentReturnsQuery, PortfolioReturnsQuery
from toolkit.errors import DataError, ValidationError
from toolkit.reporting.returns import (
    PerformanceMaster,
    instrument_query,
    instrument_returns,
    portfolio_query,
    portfolio_returns,
)

DATA = Path(__file__).resolve().parents[1] / "data"
STOCKS = ["AAPL", "JNJ", "KO", "XOM"]
MASTER = PerformanceMaster(date(1990, 1, 3), date(2010, 1, 1), "EQ4", "SP500")


def _csv(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / name, index_col="time", parse_dates=True)


@cache
def daily_frame() -> pd.DataFrame:
    """gross, net, benchmark daily returns as a pandas frame (the independent side's input)."""
    stocks = _csv("sp500_stocks.csv")[STOCKS].pct_change().iloc[1:]
    gross = stocks.mean(axis=1)
    net = net_of_fees(xr.DataArray(gross.values, dims="time", coords={"time": gross.index}), 0.01)
    bm = _csv("sp500_index.csv")["SP500"].pct_change().iloc[1:]
    return pd.DataFrame({"gross": gross, "net": net.values, "benchmark": bm}).rename_axis("time")


@cache
def portfolio_daily() -> xr.Dataset:
    """The portfolio's daily returns as the interface takes them: variables over ``time``."""
    return xr.Dataset.from_dataframe(daily_frame())


@cache
def instrument_frame() -> pd.DataFrame:
    """Daily returns of three stocks and two factor ETFs (NaN before the ETFs' first return)."""
    stocks = _csv("sp500_stocks.csv")[["AAPL", "MSFT", "PG"]]
    etfs = _csv("factor_etfs.csv")[["MTUM", "USMV"]].reindex(stocks.index)
    prices = pd.concat([stocks, etfs], axis=1)
    return prices.pct_change(fill_method=None).iloc[1:]


@cache
def instrument_daily() -> xr.DataArray:
    frame = instrument_frame()
    return xr.DataArray(frame.values.T, dims=("instrument", "time"),
                        coords={"instrument": list(frame.columns), "time": frame.index})


def request(start: str, end: str, daily: bool = False, benchmark: bool = False, **more) -> dict:
    return {"portfolioId": "EQ4", "startDate": start, "endDate": end, "includeDailyReturns": daily,
            "includeBenchmark": benchmark, **more}


def paths(info: pytest.ExceptionInfo) -> list[str]:
    return info.value.paths


def linked(x: pd.Series) -> float:
    return float(np.prod(1 + x.to_numpy()) - 1)


# --------------------------------------------------------------------------- requests


def test_a_valid_request_is_parsed_and_round_trips() -> None:
    payload = request("2021-03-15", "2022-06-10", True, True, customBenchmarkId="MSCI-World")
    parsed = portfolio_query(payload)
    assert parsed == PortfolioReturnsQuery.model_validate({
        "portfolioId": "EQ4", "startDate": date(2021, 3, 15), "endDate": date(2022, 6, 10), "includeDailyReturns": True,
        "includeBenchmark": True, "customBenchmarkId": "MSCI-World"})
    assert parsed.to_dict() == payload
    minimal = portfolio_query({"portfolioId": "EQ4", "startDate": "2021-01-01", "endDate": "2021-01-01"})
    assert (minimal.include_daily_returns, minimal.include_benchmark, minimal.custom_benchmark_id) == \
        (False, False, None)
    ids = instrument_query({"instrumentIds": ["AAPL", "MTUM"], "startDate": "2021-01-04", "endDate": "2021-02-01"})
    assert ids == InstrumentReturnsQuery.model_validate({"instrumentIds": ("AAPL", "MTUM"),
                                                         "startDate": date(2021, 1, 4), "endDate": date(2021, 2, 1)})
    assert instrument_query("instrumentIds=AAPL,MTUM&startDate=2021-01-04&endDate=2021-02-01") == ids


@pytest.mark.parametrize(("change", "path"), [
    ({"startDate": "2021-02-30"}, "startDate"),  # no such day
    ({"startDate": "2021/03/01"}, "startDate"),
    ({"endDate": "2021-3-1"}, "endDate"),
    ({"endDate": 20210301}, "endDate"),
    ({"endDate": "20210301"}, "endDate"),  # ISO basic format is refused too: YYYY-MM-DD only
    ({"startDate": None}, "startDate"),
    ({"startDate": "2022-07-01"}, "startDate"),  # after endDate
    ({"portfolioId": ""}, "portfolioId"),
    ({"portfolioId": 7}, "portfolioId"),
    ({"includeDailyReturns": "yes"}, "includeDailyReturns"),
    ({"includeBenchmark": 1}, "includeBenchmark"),
    ({"customBenchmarkId": "SP500", "includeBenchmark": False}, "customBenchmarkId"),
    ({"customBenchmarkId": ""}, "customBenchmarkId"),
    ({"benchmark": True}, "benchmark"),  # unknown field
])
def test_bad_portfolio_requests_name_the_field(change: dict, path: str) -> None:
    payload = {k: v for k, v in (request("2021-03-15", "2022-06-10") | change).items()
               if v is not None or k != "startDate"}
    with pytest.raises(ValidationError) as info:
        portfolio_query(payload)
    assert path in paths(info)
    assert "PortfolioReturns request" in str(info.value) and path in str(info.value)


def test_custom_benchmark_without_include_benchmark_is_refused_even_when_the_flag_is_absent() -> None:
    with pytest.raises(ValidationError) as info:
        portfolio_query({"portfolioId": "EQ4", "startDate": "2021-01-04", "endDate": "2021-02-01",
                                 "customBenchmarkId": "SP500"})
    assert paths(info) == ["customBenchmarkId"]


def test_every_problem_of_a_request_is_reported_at_once() -> None:
    with pytest.raises(ValidationError) as info:
        portfolio_query({"startDate": "2021-13-01", "endDate": "x", "includeDailyReturns": None, "extra": 1})
    assert set(paths(info)) == {"extra", "portfolioId", "startDate", "endDate", "includeDailyReturns"}
    with pytest.raises(ValidationError):
        portfolio_query(["not", "an", "object"])


@pytest.mark.parametrize(("ids", "path"), [
    ([], "instrumentIds"),
    ("", "instrumentIds"),
    (7, "instrumentIds"),
    ("AAPL,,MSFT", "instrumentIds[1]"),
    (["AAPL", 3, "MSFT"], "instrumentIds[1]"),
    (["AAPL", "MSFT", "AAPL"], "instrumentIds[2]"),
    (["AAPL", ""], "instrumentIds[1]"),
])
def test_bad_instrument_ids_are_named_by_position(ids: object, path: str) -> None:
    with pytest.raises(ValidationError) as info:
        instrument_query({"instrumentIds": ids, "startDate": "2021-01-04", "endDate": "2021-02-01"})
    assert paths(info) == [path]


def test_master_data_rules() -> None:
    assert PerformanceMaster.from_dict({"portfolioId": "EQ4", "performanceMeasurementStartDate": "1990-01-03",
                                        "dailyPerformanceStartDate": "2010-01-01", "benchmarkId": "SP500"}) == MASTER
    assert MASTER.to_dict()["dailyPerformanceStartDate"] == "2010-01-01"
    PerformanceMaster(date(2015, 3, 17), date(2015, 3, 17))  # daily data since inception
    with pytest.raises(ValidationError) as info:
        PerformanceMaster(date(2015, 3, 17), date(2015, 4, 15))  # not the 1st of a month
    assert paths(info) == ["dailyPerformanceStartDate"]
    with pytest.raises(ValidationError) as info:
        PerformanceMaster(date(2015, 3, 17), date(2015, 3, 1))  # before the measurement start
    assert paths(info) == ["dailyPerformanceStartDate"]
    with pytest.raises(ValidationError) as info:
        PerformanceMaster.from_dict({"performanceMeasurementStartDate": "2015-02-29", "dailyPerformanceStartDate":
                                     "2015-03-01", "portfolioId": 5, "bench": "x"})
    assert set(paths(info)) == {"performanceMeasurementStartDate", "portfolioId", "bench"}


# --------------------------------------------------------------------------- refusals that need the data


@pytest.mark.parametrize(("payload", "master", "path"), [
    (request("1990-01-02", "1990-06-30"), MASTER, "startDate"),  # before performanceMeasurementStartDate
    (request("2022-01-03", "2022-12-29"), MASTER, "endDate"),  # the data end on 2022-12-28
    (request("2022-01-03", "2022-12-01", benchmark=True), PerformanceMaster(date(1990, 1, 3), date(1990, 1, 3),
                                                                            "EQ4"), "includeBenchmark"),
    (request("2022-01-03", "2022-12-01"), PerformanceMaster(date(1990, 1, 3), date(1990, 1, 3), "OTHER"),
     "portfolioId"),
])
def test_requests_outside_the_data_are_refused(payload: dict, master: PerformanceMaster, path: str) -> None:
    with pytest.raises(ValidationError) as info:
        portfolio_returns(portfolio_daily(), master, payload)
    assert paths(info) == [path]


def test_a_benchmark_request_without_benchmark_returns_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        portfolio_returns(portfolio_daily()[["gross", "net"]], MASTER, request("2022-01-03", "2022-02-01",
                                                                                 benchmark=True))
    assert paths(info) == ["includeBenchmark"]


def test_as_of_lets_a_period_end_on_the_weekend_after_the_last_data_day() -> None:
    data = portfolio_daily().sel(time=slice(None, "2022-12-23"))  # a Friday
    with pytest.raises(ValidationError):
        portfolio_returns(data, MASTER, request("2022-01-01", "2022-12-25"))
    response = portfolio_returns(data, MASTER, request("2022-01-01", "2022-12-25"), as_of="2022-12-25")
    assert response["months"][-1]["date"] == "2022-12-25" and not response["months"][-1]["complete"]


def test_a_missing_return_inside_the_period_is_a_data_error_naming_the_day() -> None:
    data = portfolio_daily().copy(deep=True)
    data["net"].loc["2021-06-15"] = np.nan
    with pytest.raises(DataError, match="net.*2021-06-15"):
        portfolio_returns(data, MASTER, request("2021-06-01", "2021-06-30"))
    portfolio_returns(data, MASTER, request("2021-07-01", "2021-07-31"))  # outside the period it does not matter


def test_returns_that_end_before_the_data_end_the_portfolio_there() -> None:
    """A closed account: no gross or net return after its close, while its days go on (its instruments
    still trade). A period past the close names endDate (and startDate, when it starts after the close)
    with the last return's date, instead of a NaN "inside the period"."""
    data = portfolio_daily().copy(deep=True)
    for name in ("gross", "net"):
        data[name].loc["2021-07-01":] = np.nan
    with pytest.raises(ValidationError, match="latest data of the portfolio \\(2021-06-30\\)") as info:
        portfolio_returns(data, MASTER, request("2021-06-01", "2021-12-31"))
    assert paths(info) == ["endDate"]
    with pytest.raises(ValidationError) as info:
        portfolio_returns(data, MASTER, request("2022-01-03", "2022-06-30"))
    assert paths(info) == ["startDate", "endDate"]
    assert portfolio_returns(data, MASTER, request("2021-06-01", "2021-06-30"))["endDate"] == "2021-06-30"


def test_instrument_requests_outside_an_instruments_data_are_refused_by_position() -> None:
    data = instrument_daily()
    base = {"startDate": "2013-06-03", "endDate": "2014-06-30"}
    with pytest.raises(ValidationError) as info:  # MTUM starts on 2014-01-03; XYZ does not exist
        instrument_returns(data, {"instrumentIds": ["AAPL", "MTUM", "XYZ"], **base})
    assert paths(info) == ["instrumentIds[2]"]
    with pytest.raises(ValidationError) as info:
        instrument_returns(data, {"instrumentIds": ["AAPL", "MTUM"], **base})
    assert paths(info) == ["instrumentIds[1]"] and "2014-01-03" in str(info.value)
    with pytest.raises(ValidationError) as info:
        instrument_returns(data, {"instrumentIds": ["USMV"], "startDate": "2022-01-03", "endDate": "2023-01-31"})
    assert paths(info) == ["instrumentIds[0]"] and "2022-12-28" in str(info.value)


# --------------------------------------------------------------------------- figures against independent computations


def test_months_years_and_days_agree_with_pandas_and_empyrical() -> None:
    start, end = "2009-11-18", "2011-02-09"  # both inside a month; daily data from 2010-01-01
    response = portfolio_returns(portfolio_daily(), MASTER, request(start, end, daily=True, benchmark=True))
    frame = daily_frame().loc[start:end]
    keys = {"gross": ("grossReturn", "grossIndex"), "net": ("netReturn", "netIndex"),
            "benchmark": ("bmReturn", "bmIndex")}
    monthly = frame.resample("ME").apply(linked)  # pandas, independent of toolkit.analytics
    yearly = pd.DataFrame({c: empyrical.aggregate_returns(frame[c], "yearly") for c in frame})
    index = 100 * (1 + frame).cumprod()
    assert [m["month"] for m in response["months"]] == [f"{t:%Y-%m}" for t in monthly.index]
    assert [y["year"] for y in response["years"]] == list(yearly.index)
    for column, (ret, idx) in keys.items():
        np.testing.assert_allclose([m[ret] for m in response["months"]], monthly[column], rtol=0, atol=1e-13)
        np.testing.assert_allclose([y[ret] for y in response["years"]], yearly[column], rtol=0, atol=1e-13)
        month_ends = index[column].groupby(index.index.to_period("M")).last()
        np.testing.assert_allclose([m[idx] for m in response["months"]], month_ends, rtol=1e-12)
        days = index[column].loc["2010-01-01":]
        assert [d["date"] for d in response["days"]] == [f"{t:%Y-%m-%d}" for t in days.index]
        np.testing.assert_allclose([d[idx] for d in response["days"]], days, rtol=1e-12)
        np.testing.assert_allclose([d[ret] for d in response["days"]], frame[column].loc["2010-01-01":], atol=1e-15)
    first, last = response["months"][0], response["months"][-1]
    assert (first["startDate"], first["date"], first["complete"]) == (start, "2009-11-30", False)
    assert (last["startDate"], last["date"], last["complete"]) == ("2011-02-01", end, False)
    assert response["months"][1]["complete"]
    assert response["years"][1]["startDate"] == "2010-01-01" and response["years"][1]["date"] == "2010-12-31"
    assert (response["indexStart"], response["bmIndexStart"], response["benchmarkId"]) == (100.0, 100.0, "SP500")
    assert json.loads(json.dumps(response)) == response  # plain JSON: str, bool, int, float


def test_months_are_valid_for_the_calendar_ultimo_even_after_a_weekend() -> None:
    response = portfolio_returns(portfolio_daily(), MASTER, request("2021-01-01", "2021-12-31"))
    # 2021-01-31 and 2021-10-31 are Sundays, 2021-07-31 a Saturday: the last trading days are the 29th/30th
    assert [m["date"] for m in response["months"]][::3] == ["2021-01-31", "2021-04-30", "2021-07-31", "2021-10-31"]
    assert all(m["complete"] for m in response["months"]) and response["years"][0]["complete"]
    assert "days" not in response and "bmIndexStart" not in response and "benchmarkId" not in response


def test_bacon_published_monthly_returns_link_to_the_hand_computed_years() -> None:
    """Bacon (2008), Practical Portfolio Performance Measurement and Attribution, 2nd ed.: the
    24 monthly returns (%) of the example portfolio and benchmark used through ch. 4 (as shipped
    by R's PerformanceAnalytics, ``portfolio_bacon``, dated on month ends: 2000-02-28, not the
    leap-year ultimo). Each is fed as one return on its date; the years link by hand
    (``math.prod``) to 28.1273 % / -4.9300 % (portfolio) and 27.3584 % / -1.8607 % (benchmark)."""
    portfolio = [0.3, 2.6, 1.1, -1.0, 1.5, 2.5, 1.6, 6.7, -1.4, 4.0, -0.5, 8.1,
                 4.0, -3.7, -6.1, 1.7, -4.9, -2.2, 7.0, 5.8, -6.5, 2.4, -0.5, -0.9]
    benchmark = [0.2, 2.5, 1.8, -1.1, 1.4, 1.8, 1.4, 6.5, -1.5, 4.2, -0.6, 8.3,
                 3.9, -3.8, -6.2, 1.5, -4.8, 2.1, 6.0, 5.6, -6.7, 1.9, -0.3, 0.0]
    dates = pd.date_range("2000-01-31", periods=24, freq="ME")
    dates = dates.where(dates != pd.Timestamp("2000-02-29"), pd.Timestamp("2000-02-28"))
    gross = np.array(portfolio) / 100
    daily = xr.Dataset({"gross": ("time", gross), "net": ("time", gross),
                        "benchmark": ("time", np.array(benchmark) / 100)}, coords={"time": dates})
    master = PerformanceMaster(date(2000, 1, 1), date(2000, 1, 1), "BACON", "BENCH")
    response = portfolio_returns(daily, master, {"portfolioId": "BACON", "startDate": "2000-01-01",
                                                 "endDate": "2001-12-31", "includeBenchmark": True})
    years = {y["year"]: (y["grossReturn"], y["bmReturn"]) for y in response["years"]}
    assert years[2000] == pytest.approx((0.281273, 0.273584), abs=5e-7)
    assert years[2001] == pytest.approx((-0.049300, -0.018607), abs=5e-7)
    assert years[2000][0] == pytest.approx(math.prod(1 + r / 100 for r in portfolio[:12]) - 1, abs=1e-14)
    february = response["months"][1]
    assert february["date"] == "2000-02-29" and february["grossReturn"] == pytest.approx(0.026, abs=1e-15)
    assert response["years"][-1]["grossIndex"] == pytest.approx(121.8106, abs=5e-5)
    assert response["years"][-1]["bmIndex"] == pytest.approx(124.9887, abs=5e-5)


def test_instrument_blocks_agree_with_pandas_per_instrument() -> None:
    ids = ["MTUM", "AAPL", "PG"]
    response = instrument_returns(instrument_daily(), {"instrumentIds": ids, "startDate": "2014-01-03",
                                                       "endDate": "2015-03-17", "includeDailyReturns": True})
    frame = instrument_frame().loc["2014-01-03":"2015-03-17"]
    assert [b["instrumentId"] for b in response["instruments"]] == ids
    for block in response["instruments"]:
        column = frame[block["instrumentId"]]
        np.testing.assert_allclose([m["return"] for m in block["months"]],
                                   column.resample("ME").apply(linked), atol=1e-13)
        np.testing.assert_allclose([y["return"] for y in block["years"]],
                                   empyrical.aggregate_returns(column, "yearly"), atol=1e-13)
        np.testing.assert_allclose([d["index"] for d in block["days"]],
                                   100 * (1 + empyrical.cum_returns(column)), rtol=1e-12)
        assert set(block["days"][0]) == {"date", "return", "index"}
    assert response["instruments"][0]["performanceMeasurementStartDate"] == "2014-01-03"  # its first return
    assert response["instruments"][1]["performanceMeasurementStartDate"] == "1990-01-03"


def test_instrument_master_data_start_the_daily_data() -> None:
    masters = {"AAPL": PerformanceMaster(date(1990, 1, 3), date(2021, 2, 1))}
    response = instrument_returns(instrument_daily(), {"instrumentIds": ["AAPL", "PG"], "startDate": "2021-01-15",
                                                       "endDate": "2021-03-05", "includeDailyReturns": True}, masters)
    aapl, pg = response["instruments"]
    assert aapl["days"][0]["date"] == "2021-02-01" and pg["days"][0]["date"] == "2021-01-15"
    assert aapl["dailyPerformanceStartDate"] == "2021-02-01"


def test_a_period_without_a_trading_day_returns_zero_and_keeps_the_index() -> None:
    response = portfolio_returns(portfolio_daily(), MASTER, request("2021-05-29", "2021-05-31", daily=True))
    (month,) = response["months"]  # Saturday to Memorial Day: no trading day
    assert month["grossReturn"] == 0.0 and month["grossIndex"] == 100.0 and response["days"] == []


def test_dask_backed_returns_give_the_same_response() -> None:
    payload = request("2019-12-10", "2021-01-20", daily=True, benchmark=True)
    eager = portfolio_returns(portfolio_daily(), MASTER, payload)
    lazy = portfolio_returns(portfolio_daily().chunk({"time": 500}), MASTER, payload)
    assert lazy == eager
    ids = {"instrumentIds": ["USMV", "MSFT"], "startDate": "2016-02-01", "endDate": "2016-05-31"}
    assert instrument_returns(instrument_daily().chunk({"time": 1000}), ids) == \
        instrument_returns(instrument_daily(), ids)


def test_unsorted_or_repeated_days_are_a_data_error() -> None:
    shuffled = portfolio_daily().isel(time=[2, 1, 0, 3])
    with pytest.raises(DataError, match="unsorted"):
        portfolio_returns(shuffled, MASTER, request("1990-01-03", "1990-01-08"))
