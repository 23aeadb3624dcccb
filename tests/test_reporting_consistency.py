"""The consistency validator: every response we build passes it (hypothesis, over random periods),
and it names each kind of violation, by path, in hand-made bad responses."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_reporting_interface import instrument_daily, portfolio_daily, request

from toolkit.errors import ValidationError
from toolkit.reporting.consistency import check, validate
from toolkit.reporting.returns import PerformanceMaster, instrument_returns, portfolio_returns

FIRST, LAST = date(1990, 1, 3), date(2022, 12, 28)
PAYLOAD = request("2021-01-15", "2021-04-20", daily=True, benchmark=True)
DAILY_MASTER = PerformanceMaster(date(1990, 1, 3), date(2021, 1, 1), "EQ4", "SP500")


def good() -> dict:
    """A consistent response: mid-month start and end, daily data and the benchmark."""
    return copy.deepcopy(_GOOD)


_GOOD = portfolio_returns(portfolio_daily(), DAILY_MASTER, PAYLOAD)
_LONG = portfolio_returns(portfolio_daily(), DAILY_MASTER, request("2018-06-11", "2021-02-03"))
_INSTRUMENTS_PAYLOAD = {"instrumentIds": ["MTUM", "AAPL"], "startDate": "2020-11-20", "endDate": "2021-01-10",
                        "includeDailyReturns": True}
_INSTRUMENTS = instrument_returns(instrument_daily(), _INSTRUMENTS_PAYLOAD)


def paths_of(response: dict, master: object = DAILY_MASTER, req: object = PAYLOAD) -> list[str]:
    return [p.path for p in check(response, master, req)]


@st.composite
def periods(draw: st.DrawFn) -> tuple[date, date]:
    start = draw(st.dates(min_value=FIRST, max_value=LAST))
    length = draw(st.integers(min_value=0, max_value=900))
    return start, min(LAST, start + timedelta(days=length))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(period=periods(), daily=st.booleans(), benchmark=st.booleans(),
       daily_start=st.sampled_from([date(1990, 1, 3), date(2005, 7, 1), date(2019, 2, 1)]))
def test_every_response_we_build_is_consistent(period: tuple[date, date], daily: bool, benchmark: bool,
                                               daily_start: date) -> None:
    start, end = period
    master = PerformanceMaster(FIRST, daily_start, "EQ4", "SP500")
    payload = request(start.isoformat(), end.isoformat(), daily, benchmark)
    response = portfolio_returns(portfolio_daily(), master, payload)
    assert check(response, master, payload) == []
    plain = json.loads(json.dumps(response))
    assert check(plain) == []  # a third party's copy, checked against what it states alone


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(period=periods(), daily=st.booleans(),
       ids=st.lists(st.sampled_from(["AAPL", "MSFT", "PG", "MTUM", "USMV"]), min_size=1, max_size=3, unique=True))
def test_every_instrument_response_we_build_is_consistent(period: tuple[date, date], daily: bool,
                                                          ids: list[str]) -> None:
    start, end = period
    if any(i in ("MTUM", "USMV") for i in ids):
        start, end = max(start, date(2014, 1, 3)), max(end, date(2014, 1, 3))
    payload = {"instrumentIds": ids, "startDate": start.isoformat(), "endDate": end.isoformat(),
               "includeDailyReturns": daily}
    response = instrument_returns(instrument_daily(), payload)
    assert check(response, request=payload) == []
    assert check(json.loads(json.dumps(response))) == []


def test_the_good_responses_are_consistent() -> None:
    assert paths_of(good()) == [] and validate(good(), DAILY_MASTER, PAYLOAD) == good()
    assert check(_LONG) == [] and check(_INSTRUMENTS, request=_INSTRUMENTS_PAYLOAD) == []


def rounded(returns: int, index: int) -> dict:
    """The good response as a third party might send it: returns and indices rounded."""
    response = good()
    for name in ("years", "months", "days"):
        for entry in response[name]:
            for key, value in entry.items():
                if key.endswith("Return"):
                    entry[key] = round(value, returns)
                elif key.endswith("Index"):
                    entry[key] = round(value, index)
    return response


def test_a_third_partys_rounded_figures_pass_within_the_tolerance() -> None:
    assert check(rounded(8, 6)) == []
    coarse = rounded(6, 4)  # 4 decimals of percent, indices to 1e-4
    assert check(coarse) != [] and check(coarse, rtol=1e-4) == []
    assert check(json.loads(json.dumps(good()).replace('"grossIndex": 10', '"grossIndex": 11'))) != []


def _set(path: list, value: object) -> Callable[[dict], None]:
    def change(response: dict) -> None:
        target = response
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


def _delete(path: list) -> Callable[[dict], None]:
    def change(response: dict) -> None:
        target = response
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return change


def _scale(path: list, factor: float) -> Callable[[dict], None]:
    def change(response: dict) -> None:
        target = response
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] *= factor
    return change


def _swap_days(response: dict) -> None:
    days = response["days"]
    days[3], days[4] = days[4], days[3]


def _drop_february_days(response: dict) -> None:
    response["days"] = [d for d in response["days"] if not d["date"].startswith("2021-02")]


def _strip_benchmark(response: dict) -> None:
    for key in ("bmIndexStart", "benchmarkId"):
        del response[key]
    for name in ("years", "months", "days"):
        for entry in response[name]:
            if name != "months" or entry["month"] != "2021-02":
                del entry["bmReturn"], entry["bmIndex"]


# kind, change, path expected, master, request (None: DAILY_MASTER / PAYLOAD)
VIOLATIONS = [
    ("structure: a required list missing", _delete(["months"]), "months", None, None),
    ("structure: an unknown key", _set(["months", 1, "bmindex"], 101.0), "months[1].bmindex", None, None),
    ("number: a return as text", _set(["months", 2, "grossReturn"], "0.01"), "months[2].grossReturn", None, None),
    ("number: NaN", _set(["days", 6, "netIndex"], float("nan")), "days[6].netIndex", None, None),
    ("number: a negative index", _set(["years", 0, "bmIndex"], -3.0), "years[0].bmIndex", None, None),
    ("date: no such day", _set(["months", 1, "date"], "2021-02-30"), "months[1].date", None, None),
    ("date: a bad month label", _set(["months", 1, "month"], "2021-2"), "months[1].month", None, None),
    ("period: not the requested start", _set(["startDate"], "2021-01-14"), "startDate", None, None),
    ("period: an entry's start", _set(["months", 0, "startDate"], "2021-01-01"), "months[0].startDate", None, None),
    ("period: the last entry's end", _set(["months", 3, "date"], "2021-04-30"), "months[3].date", None, None),
    ("period: endDate before startDate", _set(["endDate"], "2021-01-10"), "startDate", None, {}),
    ("inception: before the measurement start", lambda r: None, "startDate",
     PerformanceMaster(date(2021, 2, 1), date(2021, 2, 1), "EQ4", "SP500"), None),
    ("gap: a missing month", _delete(["months", 2]), "months[2].month", None, None),
    ("order: two days swapped", _swap_days, "days[4].date", None, None),
    ("order: a repeated month", _set(["months", 2, "month"], "2021-02"), "months[2].month", None, None),
    ("ultimo: a month ending on its last trading day", _set(["months", 1, "date"], "2021-02-26"),
     "months[1].date", None, None),
    ("complete: a wrong flag", _set(["months", 1, "complete"], False), "months[1].complete", None, None),
    ("complete: not a boolean", _set(["years", 0, "complete"], "false"), "years[0].complete", None, None),
    ("benchmark: bmIndexStart missing", _delete(["bmIndexStart"]), "bmIndexStart", None, None),
    ("benchmark: an entry's bmIndex missing", _delete(["months", 0, "bmIndex"]), "months[0].bmIndex", None, None),
    ("benchmark: values without the benchmark", _strip_benchmark, "months[1].bmReturn", None,
     request("2021-01-15", "2021-04-20", daily=True)),
    ("daily: a day without its net return", _delete(["days", 5, "netReturn"]), "days[5].netReturn", None, None),
    ("daily: days before dailyPerformanceStartDate", lambda r: None, "days[0].date",
     PerformanceMaster(date(1990, 1, 3), date(2021, 2, 1), "EQ4", "SP500"), None),
    ("daily: a month of the daily range without days", _drop_february_days, "days", None, None),
    ("daily: days although not requested", lambda r: None, "days", None,
     request("2021-01-15", "2021-04-20", benchmark=True)),
    ("daily: days missing although requested", _delete(["days"]), "days", None, None),
    ("daily: a day after endDate", _set(["days", -1, "date"], "2021-04-21"), f"days[{len(_GOOD['days']) - 1}].date",
     None, None),
    ("index: broken chain", _scale(["months", 2, "grossIndex"], 1.01), "months[2].grossIndex", None, None),
    ("index: a day's index", _scale(["days", 10, "bmIndex"], 1.0001), "days[10].bmIndex", None, None),
    ("linking: a year that is not its months", _scale(["years", 0, "netReturn"], 1.1), "years[0].netReturn",
     None, None),
    ("linking: a month that is not its days", _scale(["days", 20, "grossReturn"], 1.5), "months[1].grossReturn",
     None, None),
    ("request: another portfolio", _set(["portfolioId"], "EQ5"), "portfolioId", None, None),
    ("request: another custom benchmark", lambda r: None, "benchmarkId", None,
     request("2021-01-15", "2021-04-20", daily=True, benchmark=True, customBenchmarkId="MSCI-World")),
]


@pytest.mark.parametrize(("change", "path", "master", "req"), [v[1:] for v in VIOLATIONS],
                         ids=[v[0] for v in VIOLATIONS])
def test_each_kind_of_violation_is_named_by_its_path(change: Callable[[dict], None], path: str,
                                                     master: PerformanceMaster | None, req: dict | None) -> None:
    response = good()
    change(response)
    master = master or DAILY_MASTER
    req = PAYLOAD if req is None else (req or None)
    assert path in paths_of(response, master, req)
    with pytest.raises(ValidationError) as info:
        validate(response, master, req)
    assert path in info.value.paths and "PortfolioReturns response" in str(info.value)


def test_gaps_and_order_in_years_are_named() -> None:
    missing = copy.deepcopy(_LONG)
    del missing["years"][1]
    assert "years[1].year" in paths_of(missing, None, None)
    shuffled = copy.deepcopy(_LONG)
    shuffled["years"][1], shuffled["years"][2] = shuffled["years"][2], shuffled["years"][1]
    assert "years[2].year" in paths_of(shuffled, None, None)
    wrong_end = copy.deepcopy(_LONG)
    wrong_end["years"][0]["date"] = "2018-12-28"  # the last trading day, not 31 December
    assert "years[0].date" in paths_of(wrong_end, None, None)


def test_instrument_responses_are_checked_block_by_block() -> None:
    def instruments_paths(change: Callable[[dict], None], req: dict | None = _INSTRUMENTS_PAYLOAD) -> list[str]:
        response = copy.deepcopy(_INSTRUMENTS)
        change(response)
        return [p.path for p in check(response, request=req)]

    assert "instruments[1].instrumentId" in instruments_paths(_set(["instruments", 1, "instrumentId"], "MSFT"))
    assert "instruments[1].months[0].index" in instruments_paths(_scale(["instruments", 1, "months", 0, "index"], 2))
    assert "instruments[0].days[3].return" in instruments_paths(_delete(["instruments", 0, "days", 3, "return"]))
    assert "instruments[0].days[0].grossReturn" in instruments_paths(_set(["instruments", 0, "days", 0,
                                                                           "grossReturn"], 0.0))
    assert "instruments" in instruments_paths(_delete(["instruments", 1]))
    assert "instruments[1].years" in instruments_paths(_delete(["instruments", 1, "years"]), None)
    late = {"MTUM": PerformanceMaster(date(2020, 12, 1), date(2020, 12, 1))}
    assert "instruments[0].performanceMeasurementStartDate" in [p.path for p in check(_INSTRUMENTS, late)]


def test_every_problem_is_reported_not_only_the_first() -> None:
    response = good()
    response["months"][1]["date"] = "2021-02-27"
    response["days"][5]["grossReturn"] = None
    del response["bmIndexStart"]
    found = paths_of(response)
    assert {"months[1].date", "days[5].grossReturn", "bmIndexStart"} <= set(found)
    assert check([1, 2, 3])[0].path == "" and check({}) != []
