"""The performance-reporting interface's contract models (toolkit/contracts/performance.py): the
document's three example calls accepted verbatim (as the query's parameters and as the call's text),
every refusal named by parameter, the master data rules, and the response models on answers of the
reporting builders (their ``to_dict()`` is the answer itself)."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from contract_examples import fixtures

from toolkit.contracts.base import read
from toolkit.contracts.performance import (
    InstrumentReturnsQuery,
    InstrumentReturnsResponse,
    PortfolioMasterData,
    PortfolioReturnsQuery,
    PortfolioReturnsResponse,
    read_query,
)
from toolkit.errors import ValidationError
from toolkit.reporting.returns import PerformanceMaster, instrument_returns, portfolio_returns

EXAMPLES = {name: f for name, f in fixtures().items() if name.startswith("performance-")}
MODELS: dict[str, type[PortfolioReturnsQuery | InstrumentReturnsQuery]] = {
    "/portfolio/returns": PortfolioReturnsQuery, "/instrument/returns": InstrumentReturnsQuery}
TOMORROW = (date.today() + timedelta(days=2)).isoformat()


def refused(model: type, request: object) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        read_query(model, request)
    return info.value


# ------------------------------------------------------------------------ the document's examples


def test_the_document_has_three_example_calls() -> None:
    assert sorted(EXAMPLES) == ["performance-01-portfolio-returns.json", "performance-02-portfolio-returns-again.json",
                                "performance-03-instrument-returns.json"]


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_example_call_is_accepted_as_parameters_and_as_text(name: str) -> None:
    fixture = EXAMPLES[name]
    model = MODELS[fixture["path"]]
    from_dict = read_query(model, fixture["query"])
    assert read_query(model, fixture["verbatim"]) == from_dict  # "/portfolio/returns?portfolioId=..."
    assert read_query(model, fixture["verbatim"].split("?", 1)[1]) == from_dict  # the query string alone
    assert read_query(model, json.dumps(fixture["query"])) == from_dict  # JSON text
    assert read_query(model, from_dict) is from_dict
    assert from_dict.start_date.isoformat() == fixture["query"]["startDate"]
    assert from_dict.end_date.isoformat() == fixture["query"]["endDate"]
    assert from_dict.include_daily_returns is False  # the default, line 130


def test_portfolio_example_reads_the_source_id_as_written() -> None:
    query = read_query(PortfolioReturnsQuery, EXAMPLES["performance-01-portfolio-returns.json"]["query"])
    assert (query.portfolio_id, query.include_benchmark, query.custom_benchmark_id) == ("E0002", False, None)
    assert query.to_dict() == {"portfolioId": "E0002", "startDate": "2011-04-01", "endDate": "2019-03-31",
                               "includeDailyReturns": False, "includeBenchmark": False, "customBenchmarkId": None}


def test_instrument_example_splits_the_comma_separated_ids_in_order() -> None:
    query = read_query(InstrumentReturnsQuery, EXAMPLES["performance-03-instrument-returns.json"]["query"])
    assert query.instrument_ids == ("FTSEEUR", "SWIIT", "SF0003M")
    assert query.to_dict()["instrumentIds"] == ["FTSEEUR", "SWIIT", "SF0003M"]


# ------------------------------------------------------------------------ other forms that are accepted


def test_flags_are_json_booleans_or_the_query_texts_true_and_false() -> None:
    text = "portfolioId=E0002&startDate=2011-04-01&endDate=2019-03-31&includeDailyReturns=true" \
           "&includeBenchmark=true&customBenchmarkId=SPX"
    query = read_query(PortfolioReturnsQuery, text)
    assert (query.include_daily_returns, query.include_benchmark, query.custom_benchmark_id) == (True, True, "SPX")
    same = read_query(PortfolioReturnsQuery, {"portfolioId": "E0002", "startDate": "2011-04-01",
                                              "endDate": "2019-03-31", "includeDailyReturns": True,
                                              "includeBenchmark": True, "customBenchmarkId": "SPX"})
    assert same == query
    assert read_query(PortfolioReturnsQuery, text.replace("=true", "=false").replace("&customBenchmarkId=SPX", "")
                      ).include_benchmark is False


@pytest.mark.parametrize("ids", [["AAPL_XNGS", "MSFT"], "AAPL_XNGS,MSFT", ("AAPL_XNGS", "MSFT")])
def test_instrument_ids_as_a_list_or_comma_separated(ids: object) -> None:
    query = read_query(InstrumentReturnsQuery, {"instrumentIds": ids, "startDate": "2019-01-01",
                                                "endDate": "2019-03-31"})
    assert query.instrument_ids == ("AAPL_XNGS", "MSFT")


def test_a_repeated_instrument_ids_parameter_adds_to_the_list() -> None:
    query = read_query(InstrumentReturnsQuery, "instrumentIds=FTSEEUR&instrumentIds=SWIIT,SF0003M"
                                               "&startDate=2019-01-01&endDate=2019-03-31")
    assert query.instrument_ids == ("FTSEEUR", "SWIIT", "SF0003M")


def test_a_percent_encoded_query_is_decoded() -> None:
    query = read_query(InstrumentReturnsQuery, "instrumentIds=BRK.B%2CSPX&startDate=2019-01-01&endDate=2019-03-31")
    assert query.instrument_ids == ("BRK.B", "SPX")


# ------------------------------------------------------------------------ refusals, by parameter

BASE = {"portfolioId": "E0002", "startDate": "2011-04-01", "endDate": "2019-03-31"}


@pytest.mark.parametrize(("change", "paths"), [
    ({"portfolioId": None}, ["portfolioId"]),
    ({"portfolioId": ""}, ["portfolioId"]),
    ({"portfolioId": "E 0002"}, ["portfolioId"]),
    ({"portfolioId": "E0002,E0003"}, ["portfolioId"]),
    ({"portfolioId": "x" * 65}, ["portfolioId"]),
    ({"portfolioId": "<b>E0002</b>"}, ["portfolioId"]),
    ({"portfolioId": 2}, ["portfolioId"]),
    ({"startDate": "2011-04-31"}, ["startDate"]),  # no 31 April
    ({"startDate": "01.04.2011"}, ["startDate"]),
    ({"endDate": "20190331"}, ["endDate"]),
    ({"endDate": TOMORROW}, ["endDate"]),  # a period reaching into the future (line 64)
    ({"startDate": "2019-04-01"}, ["startDate"]),  # after endDate
    ({"includeDailyReturns": "yes"}, ["includeDailyReturns"]),
    ({"includeDailyReturns": "True"}, ["includeDailyReturns"]),
    ({"includeBenchmark": 1}, ["includeBenchmark"]),
    ({"customBenchmarkId": "SPX"}, ["customBenchmarkId"]),  # without includeBenchmark
    ({"customBenchmarkId": "SPX", "includeBenchmark": "false"}, ["customBenchmarkId"]),
    ({"customBenchmarkId": "", "includeBenchmark": True}, ["customBenchmarkId"]),
    ({"portfolioid": "E0002"}, ["portfolioid"]),  # names are case-sensitive: an unknown parameter
])
def test_bad_portfolio_queries_name_the_parameter(change: dict, paths: list[str]) -> None:
    request = {k: v for k, v in (BASE | change).items() if v is not None}
    error = refused(PortfolioReturnsQuery, request)
    assert error.paths == paths, error
    assert "PortfolioReturns request" in str(error)


def test_every_problem_of_a_query_is_named_in_one_answer() -> None:
    error = refused(PortfolioReturnsQuery, {"startDate": "2019-13-01", "endDate": TOMORROW,
                                            "includeBenchmark": "yes", "customBenchmarkId": "SPX", "extra": "1"})
    assert sorted(error.paths) == ["customBenchmarkId", "endDate", "extra", "includeBenchmark", "portfolioId",
                                   "startDate"]


@pytest.mark.parametrize(("ids", "paths"), [
    ("", ["instrumentIds"]),
    ([], ["instrumentIds"]),
    (7, ["instrumentIds"]),
    ({"FTSEEUR": 1}, ["instrumentIds"]),
    ("FTSEEUR,,SF0003M", ["instrumentIds[1]"]),
    ("FTSEEUR,SWIIT,FTSEEUR", ["instrumentIds[2]"]),
    (["FTSEEUR", 3], ["instrumentIds[1]"]),
    ("FTSEEUR, SWIIT", ["instrumentIds[1]"]),  # a space is not part of an id
    (",".join(f"I{n}" for n in range(1001)), ["instrumentIds"]),
])
def test_bad_instrument_ids_are_named_by_position(ids: object, paths: list[str]) -> None:
    error = refused(InstrumentReturnsQuery, {"instrumentIds": ids, "startDate": "2019-01-01", "endDate": "2019-03-31"})
    assert error.paths == paths, error


def test_an_instrument_query_needs_its_period() -> None:
    error = refused(InstrumentReturnsQuery, {"instrumentIds": "FTSEEUR"})
    assert error.paths == ["startDate", "endDate"]
    assert all("is required" in p.message for p in error.problems)


@pytest.mark.parametrize(("text", "paths"), [
    ("/instrument/returns?portfolioId=E0002&startDate=2011-04-01&endDate=2019-03-31", [""]),  # another endpoint
    ("portfolioId=E0002&portfolioId=E0003&startDate=2011-04-01&endDate=2019-03-31", ["portfolioId"]),
    ("portfolioId=E0002&startDate", [""]),  # not name=value
    ("{\"portfolioId\": \"E0002\",", [""]),  # broken JSON
])
def test_bad_query_texts_are_refused(text: str, paths: list[str]) -> None:
    assert refused(PortfolioReturnsQuery, text).paths == paths


def test_a_query_that_is_not_an_object_is_refused() -> None:
    assert refused(PortfolioReturnsQuery, ["E0002"]).paths == [""]
    assert refused(InstrumentReturnsQuery, 42).paths == [""]


# ------------------------------------------------------------------------ master data

MASTER = {"portfolioId": "E0002", "performanceMeasurementStartDate": "2010-01-05",
          "dailyPerformanceStartDate": "2012-01-01", "benchmarkId": "SPX", "annualFee": "0.0050"}


def test_master_data_are_read() -> None:
    master = PortfolioMasterData.model_validate(MASTER)
    assert (master.portfolio_id, master.daily_performance_start_date, master.annual_fee) == \
        ("E0002", date(2012, 1, 1), Decimal("0.0050"))
    assert PortfolioMasterData.model_validate({k: MASTER[k] for k in list(MASTER)[1:3]}).annual_fee == 0
    # daily data since inception: the measurement start itself, not a 1st
    PortfolioMasterData.model_validate(MASTER | {"dailyPerformanceStartDate": "2010-01-05"})


@pytest.mark.parametrize(("change", "paths"), [
    ({"dailyPerformanceStartDate": "2012-01-15"}, ["dailyPerformanceStartDate"]),  # not the 1st of a month
    ({"dailyPerformanceStartDate": "2010-01-01"}, ["dailyPerformanceStartDate"]),  # before the measurement start
    ({"performanceMeasurementStartDate": TOMORROW, "dailyPerformanceStartDate": TOMORROW},
     ["performanceMeasurementStartDate", "dailyPerformanceStartDate"]),
    ({"annualFee": "1.5"}, ["annualFee"]),
    ({"annualFee": "-0.01"}, ["annualFee"]),
    ({"annualFee": "0,5"}, ["annualFee"]),
    ({"portfolioId": "E 2"}, ["portfolioId"]),
    ({"benchmark": "SPX"}, ["benchmark"]),
])
def test_bad_master_data_name_the_field(change: dict, paths: list[str]) -> None:
    with pytest.raises(ValidationError) as info:
        read(PortfolioMasterData, MASTER | change, "performance master data")
    assert info.value.paths == paths, info.value


# ------------------------------------------------------------------------ responses


DAYS = pd.bdate_range("2021-01-04", "2021-12-31")


def _returns(seed: int, *shape: int) -> np.ndarray:
    """Daily returns from a seeded generator (about 1 % a day)."""
    return np.random.default_rng(seed).normal(0.0004, 0.01, (*shape, len(DAYS)))


def _portfolio_answer(daily: bool, benchmark: bool) -> dict:
    gross, bench = _returns(1, 2)
    data = xr.Dataset({"gross": ("time", gross), "net": ("time", gross - 0.00002), "benchmark": ("time", bench)},
                      coords={"time": DAYS})
    master = PerformanceMaster(date(2021, 1, 4), date(2021, 4, 1), "E0002", "SPX")
    return portfolio_returns(data, master, {"portfolioId": "E0002", "startDate": "2021-03-15", "endDate": "2021-06-10",
                                            "includeDailyReturns": daily, "includeBenchmark": benchmark})


@pytest.mark.parametrize(("daily", "benchmark"), [(False, False), (True, True), (True, False)])
def test_a_portfolio_answer_is_a_response_whose_dict_is_the_answer(daily: bool, benchmark: bool) -> None:
    answer = _portfolio_answer(daily, benchmark)
    response = PortfolioReturnsResponse.model_validate(answer)
    assert response.to_dict() == answer
    assert json.dumps(response.to_dict()) == json.dumps(answer)  # the same keys in the same order
    assert ("days" in answer, "bmIndexStart" in answer) == (daily, benchmark)
    months = response.to_xarray("months")
    assert months.sizes["time"] == 4 and "grossIndex" in months and ("bmReturn" in months) == benchmark
    assert response.to_pandas("years").index.name == "time"


def test_an_instrument_answer_is_a_response_with_a_cube() -> None:
    returns = xr.DataArray(_returns(2, 2), dims=("instrument", "time"), coords={"instrument": ["AAPL", "MTUM"],
                                                                                  "time": DAYS})
    answer = instrument_returns(returns, {"instrumentIds": "AAPL,MTUM", "startDate": "2021-01-04",
                                                     "endDate": "2021-03-31", "includeDailyReturns": "true"})
    response = InstrumentReturnsResponse.model_validate(answer)
    assert json.dumps(response.to_dict()) == json.dumps(answer)
    cube = response.to_xarray("days")
    assert isinstance(cube, xr.Dataset) and cube["return"].dims == ("instrument", "time")
    assert list(cube["instrument"].values) == ["AAPL", "MTUM"]
    assert math.isclose(float(cube["index"].sel(instrument="AAPL").isel(time=-1)),
                        answer["instruments"][0]["days"][-1]["index"])


@pytest.mark.parametrize(("edit", "path"), [
    (lambda a: a["months"][0].update(grossReturn=float("nan")), "months[0].grossReturn"),
    (lambda a: a["months"][1].update(month="2021-13"), "months[1].month"),
    (lambda a: a["years"][0].update(date="2021-02-30"), "years[0].date"),
    (lambda a: a["months"][0].update(bmindex=1.0), "months[0].bmindex"),
    (lambda a: a.pop("indexStart"), "indexStart"),
])
def test_a_malformed_answer_is_refused_by_path(edit, path: str) -> None:
    answer = _portfolio_answer(False, False)
    edit(answer)
    with pytest.raises(ValidationError) as info:
        read(PortfolioReturnsResponse, answer, "PortfolioReturns response")
    assert info.value.paths == [path]


def test_a_table_of_another_list_is_refused() -> None:
    response = PortfolioReturnsResponse.model_validate(_portfolio_answer(False, False))
    with pytest.raises(ValidationError) as info:
        response.to_pandas("weeks")
    assert info.value.paths == ["frequency"]
