"""Consistency rules of a PortfolioReturns / InstrumentReturns response, for any response dict.

``check(response, master=None, request=None)`` lists every violation as a
:class:`~toolkit.errors.Problem` whose path says where it is (``months[3].date``,
``instruments[1].days[4].return``); ``validate`` raises them as one ``ValidationError``. It
reads plain JSON (ours or a third party's); with ``master`` and ``request`` it also checks the
response against them, without them against what the response itself states.

The rules (the shape and semantics are those of :mod:`toolkit.reporting.returns`):

==================  =====================================================================
kind                violation
==================  =====================================================================
structure           not an object, a required key missing, a list that is not a list,
                    an unknown key (a misspelt ``bmindex`` is not silently ignored)
number              a return or index that is not a finite JSON number, a return <= -100 %,
                    an index <= 0
date                a date that is not an ISO calendar date ``YYYY-MM-DD``, a bad label
period              ``startDate`` after ``endDate``; the response's period differs from the
                    request; an entry outside the period; the first/last entry not in the
                    period's first/last year or month; an entry's ``startDate`` that is not
                    its first day within the period
inception           ``startDate`` before ``performanceMeasurementStartDate``
gap                 a missing year or month between two entries
order               entries not in strictly chronological order (also duplicates)
ultimo              a month's ``date`` that is not its calendar ultimo (31 Dec for a year),
                    except the period's last entry, which ends at ``endDate``
complete            ``complete`` that does not say whether the entry spans its whole month/year
benchmark           with the benchmark included: ``bmIndexStart``, ``benchmarkId``, or an
                    entry's ``bmReturn`` / ``bmIndex`` missing; without it: any of them present
daily               ``days`` missing although requested or present although not; a day
                    before ``max(startDate, dailyPerformanceStartDate)`` or after ``endDate``;
                    a day without both gross and net (return and index); a month of the daily
                    range without its days
index               ``index[i] != index[i-1] * (1 + return[i])`` (``index[-1]`` is
                    ``indexStart``; the days start from the index at EOD of the day before
                    the daily start)
linking             a year's return that is not its months linked, a month's return that is
                    not its days linked (``1 + R = prod(1 + r)``)
==================  =====================================================================

Numbers are compared with ``|a - b| <= rtol * max(1, |b|)`` (``rtol=1e-6``: an index of 100
to 1e-4, a return to 1e-6; enough for figures rounded to 8 decimals, returns, and 6, indices;
figures rounded to 4 decimals of percent need ``rtol=1e-4``).
Linking is only checked where the entries it links are all there, so a gap is reported once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, cast

from toolkit.contracts.performance import InstrumentReturnsQuery, PortfolioReturnsQuery, check_master_dates
from toolkit.errors import Problem, Problems, ValidationError
from toolkit.reporting.returns import (
    INSTRUMENT_SERIES,
    PORTFOLIO_SERIES,
    PerformanceMaster,
    instrument_query,
    portfolio_query,
)
from toolkit.validation import date_or_none

PORTFOLIO_KEYS = ("portfolioId", "startDate", "endDate", "performanceMeasurementStartDate",
                  "dailyPerformanceStartDate", "benchmarkId", "indexStart", "bmIndexStart", "years", "months",
                  "days")
INSTRUMENTS_KEYS = ("startDate", "endDate", "instruments")
BLOCK_KEYS = ("instrumentId", "performanceMeasurementStartDate", "dailyPerformanceStartDate", "indexStart",
              "years", "months", "days")
_MONTH = re.compile(r"(\d{4})-(\d{2})")

Series = dict[str, tuple[str, str, str]]


def read_date(value: object) -> date | None:
    """An ISO calendar date ``YYYY-MM-DD`` as a response writes it (a string); None otherwise."""
    return date_or_none(value) if isinstance(value, str) else None


@dataclass(frozen=True)
class _Unit:
    """A calendar unit of the period lists: years are numbered by year, months by 12 * year + month - 1."""

    name: str  # the list: "years" / "months"
    label: str  # the entry's label key: "year" / "month"
    parse: Callable[[object], int | None]
    of: Callable[[date], int]
    first: Callable[[int], date]
    last: Callable[[int], date]
    show: Callable[[int], str]


def _parse_year(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 9999 else None


def _parse_month(value: object) -> int | None:
    match = _MONTH.fullmatch(value) if isinstance(value, str) else None
    if not match or not 1 <= int(match.group(2)) <= 12:
        return None
    return int(match.group(1)) * 12 + int(match.group(2)) - 1


def _month_last(k: int) -> date:
    year, month = divmod(k + 1, 12)
    return date(year, month + 1, 1) - timedelta(days=1)


YEARS = _Unit("years", "year", _parse_year, lambda d: d.year, lambda k: date(k, 1, 1), lambda k: date(k, 12, 31),
              str)
MONTHS = _Unit("months", "month", _parse_month, lambda d: d.year * 12 + d.month - 1,
               lambda k: date(k // 12, k % 12 + 1, 1), _month_last, lambda k: f"{k // 12:04d}-{k % 12 + 1:02d}")


@dataclass
class _Block:
    """One block of returns (a portfolio response, or one instrument of an instruments response)."""

    body: dict
    prefix: str
    series: Series  # the return types that must be there
    absent: Series  # the return types that must not be there
    start: date | None
    end: date | None
    daily_start: date | None
    want_days: bool | None  # None: not known, check days if present
    #: parsed entries per list: (position, unit number or day, startDate, date, {series: (return, index)})
    rows: dict[str, list] = field(default_factory=dict)


def check(response: object, master: PerformanceMaster | Mapping[Any, Any] | None = None, request: object = None,
          rtol: float = 1e-6) -> list[Problem]:
    """Every violation of the consistency rules in ``response`` (a PortfolioReturns or an
    InstrumentReturns response dict), each with its path; an empty list if it is consistent.

    ``master``: a :class:`PerformanceMaster` (or its dict) for a portfolio response, a mapping
    instrument id -> master for an instruments response. ``request``: the request (parsed or the
    seed's dict); an invalid one raises its own ``ValidationError``.
    """
    problems = Problems()
    if not isinstance(response, dict):
        problems.add("", f"expected a JSON object, got {type(response).__name__}")
        return problems.items
    instruments = "instruments" in response or isinstance(request, InstrumentReturnsQuery) or (
        isinstance(request, dict | str) and "instrumentIds" in request)
    if instruments:
        masters = master or {}
        if not isinstance(masters, Mapping):
            raise TypeError(f"an InstrumentReturns response is checked against a mapping instrument id -> master, "
                            f"got {type(master).__name__}")
        _check_instruments(response, masters, instrument_query(request) if request is not None else None,
                           problems, rtol)
    else:
        req = portfolio_query(request) if request is not None else None
        if isinstance(master, Mapping):
            master = PerformanceMaster.from_dict(dict(master))
        _check_portfolio(response, master, req, problems, rtol)
    return problems.items


def validate(response: object, master: PerformanceMaster | Mapping[Any, Any] | None = None, request: object = None,
             rtol: float = 1e-6) -> dict:
    """``response`` itself if it keeps every rule; otherwise a ``ValidationError`` naming each violation."""
    problems = check(response, master, request, rtol)
    if problems:
        what = "InstrumentReturns response" if isinstance(response, dict) and "instruments" in response \
            else "PortfolioReturns response"
        raise ValidationError(problems, what)
    return cast(dict, response)  # check() refuses anything but a dict


# --- the two response kinds -------------------------------------------------------------------

def _check_portfolio(response: dict, master: PerformanceMaster | None, req: PortfolioReturnsQuery | None,
                     problems: Problems, rtol: float) -> None:
    _known_keys(response, PORTFOLIO_KEYS, "", problems)
    if not isinstance(response.get("portfolioId"), str):
        problems.add("portfolioId", "is required: the portfolio's id as a string")
    elif req and response["portfolioId"] != req.portfolio_id:
        problems.add("portfolioId", f"is {response['portfolioId']!r} but the request asked for {req.portfolio_id!r}")
    start, end = _response_period(response, req, "", problems)
    bm_keys = ("bmIndexStart", "benchmarkId")
    if req is not None:
        with_bm = req.include_benchmark
    else:
        with_bm = any(k in response for k in bm_keys) or any(
            isinstance(e, dict) and ("bmReturn" in e or "bmIndex" in e)
            for name in ("years", "months", "days") if isinstance(response.get(name), list) for e in response[name])
    series = {k: v for k, v in PORTFOLIO_SERIES.items() if with_bm or k != "benchmark"}
    absent = {} if with_bm else {"benchmark": PORTFOLIO_SERIES["benchmark"]}
    if with_bm and not isinstance(response.get("benchmarkId"), str):
        problems.add("benchmarkId", "is required when the benchmark is included: the benchmark's id")
    elif with_bm and req and req.custom_benchmark_id and response["benchmarkId"] != req.custom_benchmark_id:
        problems.add("benchmarkId", f"is {response['benchmarkId']!r} but the request asked for the custom "
                     f"benchmark {req.custom_benchmark_id!r}")
    if not with_bm and "benchmarkId" in response:
        problems.add("benchmarkId", "is present although the benchmark is not included")
    daily_start = _master_dates(response, master, start, "", problems)
    want_days = req.include_daily_returns if req else None
    _check_block(_Block(response, "", series, absent, start, end, daily_start, want_days), problems, rtol)


def _check_instruments(response: dict, masters: Mapping, req: InstrumentReturnsQuery | None,
                       problems: Problems, rtol: float) -> None:
    _known_keys(response, INSTRUMENTS_KEYS, "", problems)
    start, end = _response_period(response, req, "", problems)
    blocks = response.get("instruments")
    if not isinstance(blocks, list):
        problems.add("instruments", "is required: a list with one block per instrument")
        return
    if req and len(blocks) != len(req.instrument_ids):
        problems.add("instruments", f"has {len(blocks)} blocks for {len(req.instrument_ids)} requested instruments")
    seen: dict[str, int] = {}
    for i, block in enumerate(blocks):
        prefix = f"instruments[{i}]."
        if not isinstance(block, dict):
            problems.add(prefix[:-1], "expected an object")
            continue
        _known_keys(block, BLOCK_KEYS, prefix, problems)
        iid = block.get("instrumentId")
        if not isinstance(iid, str):
            problems.add(f"{prefix}instrumentId", "is required: the instrument's id as a string")
        elif iid in seen:
            problems.add(f"{prefix}instrumentId", f"{iid!r} repeats instruments[{seen[iid]}]")
        elif req and i < len(req.instrument_ids) and iid != req.instrument_ids[i]:
            problems.add(f"{prefix}instrumentId", f"is {iid!r} but the request's instrumentIds[{i}] is "
                         f"{req.instrument_ids[i]!r} (blocks follow the request's order)")
        if isinstance(iid, str):
            seen.setdefault(iid, i)
        master = masters.get(iid) if isinstance(iid, str) else None
        if isinstance(master, dict):
            master = PerformanceMaster.from_dict(master)
        daily_start = _master_dates(block, master, start, prefix, problems)
        want_days = req.include_daily_returns if req else None
        _check_block(_Block(block, prefix, INSTRUMENT_SERIES, {}, start, end, daily_start, want_days), problems, rtol)


def _known_keys(body: dict, keys: tuple[str, ...], prefix: str, problems: Problems) -> None:
    for key in sorted(set(body) - set(keys)):
        problems.add(f"{prefix}{key}", f"unknown key; expected only {', '.join(keys)}")


def _response_period(body: dict, req, prefix: str, problems: Problems) -> tuple[date | None, date | None]:
    """The response's ``startDate`` / ``endDate``, checked for form, order and against the request."""
    dates = []
    for key, asked in (("startDate", req and req.start_date), ("endDate", req and req.end_date)):
        value = read_date(body.get(key))
        if value is None:
            problems.add(f"{prefix}{key}", f"{body.get(key)!r} is not an ISO date YYYY-MM-DD (required)")
        elif asked and value != asked:
            problems.add(f"{prefix}{key}", f"is {value} but the request asked for {asked}")
        dates.append(value)
    start, end = dates
    if start and end and start > end:
        problems.add(f"{prefix}startDate", f"{start} is after endDate {end}; the entries are not checked "
                     "against this period")
        return None, None
    return start, end


def _master_dates(body: dict, master: PerformanceMaster | None, start: date | None, prefix: str,
                  problems: Problems) -> date | None:
    """Check the master dates (given, or as the response states them); the first day of daily data."""
    stated = {}
    for key, attr in (("performanceMeasurementStartDate", "performance_measurement_start_date"),
                      ("dailyPerformanceStartDate", "daily_performance_start_date")):
        if key in body:
            stated[key] = read_date(body[key])
            if stated[key] is None:
                problems.add(f"{prefix}{key}", f"{body[key]!r} is not an ISO date YYYY-MM-DD")
        if master is not None:
            known = getattr(master, attr)
            if stated.get(key) and stated[key] != known:
                problems.add(f"{prefix}{key}", f"is {stated[key]} but the master data say {known}")
            stated[key] = known
    inception, daily = stated.get("performanceMeasurementStartDate"), stated.get("dailyPerformanceStartDate")
    if inception and daily and master is None:
        check_master_dates(inception, daily, problems, prefix)
    if inception and start and start < inception:
        where = f"{prefix}performanceMeasurementStartDate" if prefix else "startDate"
        problems.add(where, f"the period's startDate {start} is before performanceMeasurementStartDate {inception}")
    if start is None:
        return None
    return max(start, daily) if daily else start


# --- one block --------------------------------------------------------------------------------

def _number(entry: dict, key: str, path: str, problems: Problems, what: str) -> float | None:
    value = entry.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        problems.add(path, f"{value!r} is not a finite number" if key in entry else f"is missing; {what}")
        return None
    return float(value)


def _values(entry: dict, path: str, block: _Block, problems: Problems, what: str) -> dict:
    """The (return, index) of each series of an entry; None where it is missing or invalid."""
    out = {}
    for name, (ret, idx, _) in block.series.items():
        r = _number(entry, ret, f"{path}.{ret}", problems, what)
        x = _number(entry, idx, f"{path}.{idx}", problems, what)
        if r is not None and r <= -1:
            problems.add(f"{path}.{ret}", f"{r} is a loss of 100 % or more; a simple return is > -1")
            r = None
        if x is not None and x <= 0:
            problems.add(f"{path}.{idx}", f"{x} is not positive; an index is > 0")
            x = None
        out[name] = (r, x)
    for ret, idx, _ in block.absent.values():
        for key in (ret, idx):
            if key in entry:
                problems.add(f"{path}.{key}", "is present although the benchmark is not included")
    return out


def _entries(block: _Block, name: str, problems: Problems) -> list | None:
    value = block.body.get(name)
    if not isinstance(value, list):
        problems.add(f"{block.prefix}{name}", "is required: a list of entries" if value is None
                     else f"expected a list, got {type(value).__name__}")
        return None
    bad = [i for i, e in enumerate(value) if not isinstance(e, dict)]
    for i in bad:
        problems.add(f"{block.prefix}{name}[{i}]", "expected an object")
    return [(i, e) for i, e in enumerate(value) if isinstance(e, dict)]


def _check_block(block: _Block, problems: Problems, rtol: float) -> None:
    starts = {}
    for name, (_, _, key) in block.series.items():
        value = _number(block.body, key, f"{block.prefix}{key}", problems,
                        "the index at BOD of startDate is required" + (" with the benchmark" if name == "benchmark"
                                                                       else ""))
        if value is not None and value <= 0:
            problems.add(f"{block.prefix}{key}", f"{value} is not positive; an index is > 0")
            value = None
        starts[name] = value
    for _, _, key in block.absent.values():
        if key in block.body:
            problems.add(f"{block.prefix}{key}", "is present although the benchmark is not included")
    for unit in (YEARS, MONTHS):
        entries = _entries(block, unit.name, problems)
        if entries is not None:
            block.rows[unit.name] = _check_periods(block, unit, entries, problems)
            _check_chain(block, unit.name, block.rows[unit.name], starts, problems, rtol)
    if block.start and block.end:
        start, end = block.start, block.end
        _link(block, "years", "months", lambda k: range(max(k * 12, MONTHS.of(start)),
                                                        min(k * 12 + 11, MONTHS.of(end)) + 1), problems, rtol)
    _check_days(block, starts, problems, rtol)


def _check_periods(block: _Block, unit: _Unit, entries: list, problems: Problems) -> list:
    """Labels, dates, gaps, order and ``complete`` of the years or months; their parsed rows."""
    rows, previous = [], None
    keys = {unit.label, "startDate", "date", "complete", *(k for s in block.series.values() for k in s[:2]),
            *(k for s in block.absent.values() for k in s[:2])}
    for i, entry in entries:
        path = f"{block.prefix}{unit.name}[{i}]"
        _known_keys(entry, tuple(sorted(keys)), f"{path}.", problems)
        k = unit.parse(entry.get(unit.label))
        if k is None:
            form = "a year such as 2021" if unit is YEARS else "a month \"YYYY-MM\""
            problems.add(f"{path}.{unit.label}", f"{entry.get(unit.label)!r} is not {form}")
        first, last = (read_date(entry.get(key)) for key in ("startDate", "date"))
        for key, value in (("startDate", first), ("date", last)):
            if value is None:
                problems.add(f"{path}.{key}", f"{entry.get(key)!r} is not an ISO date YYYY-MM-DD")
        if k is not None and previous is not None:
            if k <= previous:
                problems.add(f"{path}.{unit.label}", f"{unit.show(k)} is not after the entry before "
                             f"({unit.show(previous)}); entries are in chronological order without repeats")
            elif k > previous + 1:
                problems.add(f"{path}.{unit.label}", f"{unit.show(k)} follows {unit.show(previous)}: "
                             f"{unit.show(previous + 1)} is missing")
        if k is not None and block.start and block.end:
            _check_bounds(block, block.start, block.end, unit, k, first, last, entry, path, problems)
        previous = k if k is not None else previous
        rows.append((i, k, first, last, _values(entry, path, block, problems, f"every {unit.label} carries it")))
    if block.start and block.end:
        span = f"{unit.show(unit.of(block.start))} to {unit.show(unit.of(block.end))}"
        valid = [(i, k) for i, k, *_ in rows if k is not None]
        if not entries:
            problems.add(f"{block.prefix}{unit.name}", f"is empty; the period covers {span}")
        elif valid and valid[0][1] != unit.of(block.start):
            problems.add(f"{block.prefix}{unit.name}[{valid[0][0]}].{unit.label}",
                         f"is {unit.show(valid[0][1])} but the period starts in {unit.show(unit.of(block.start))}")
        elif valid and valid[-1][1] != unit.of(block.end):
            problems.add(f"{block.prefix}{unit.name}[{valid[-1][0]}].{unit.label}",
                         f"is {unit.show(valid[-1][1])} but the period ends in {unit.show(unit.of(block.end))}")
    return rows


def _check_bounds(block: _Block, start: date, end: date, unit: _Unit, k: int, first: date | None, last: date | None,
                  entry: dict, path: str, problems: Problems) -> None:
    """An entry's startDate, date and complete flag against its label and the period (``start`` to ``end``,
    the block's)."""
    if not unit.of(start) <= k <= unit.of(end):
        problems.add(f"{path}.{unit.label}", f"{unit.show(k)} lies outside the period {start} to {end}")
        return
    want_first, want_last = max(start, unit.first(k)), min(end, unit.last(k))
    if last is not None and last != want_last:
        if not unit.first(k) <= last <= unit.last(k):
            problems.add(f"{path}.date", f"{last} is not in {unit.label} {unit.show(k)}")
        elif want_last == unit.last(k):
            problems.add(f"{path}.date", f"{last} is not the calendar ultimo {want_last} of {unit.show(k)}; "
                         "values are valid for the ultimo")
        else:
            problems.add(f"{path}.date", f"is {last} but the period (and this incomplete {unit.label}) "
                         f"ends at endDate {end}")
    if first is not None and first != want_first:
        problems.add(f"{path}.startDate", f"is {first} but the {unit.label} starts within the period on {want_first}")
    complete = want_first == unit.first(k) and want_last == unit.last(k)
    if entry.get("complete") is not complete:
        problems.add(f"{path}.complete", f"is {entry.get('complete')!r} but the entry "
                     f"{'spans' if complete else 'does not span'} the whole {unit.label}: expected {complete}")


def _close(a: float, b: float, rtol: float) -> bool:
    return abs(a - b) <= rtol * max(1.0, abs(b))


def _check_chain(block: _Block, name: str, rows: list, starts: dict, problems: Problems, rtol: float,
                 first_index: dict | None = None) -> None:
    """``index[i] == index[i-1] * (1 + return[i])`` for every series along one list."""
    for series, (ret, idx, _) in block.series.items():
        before = (first_index or starts)[series]
        for i, _k, _first, _last, values in rows:
            r, x = values[series]
            if before is not None and r is not None and x is not None and not _close(x, before * (1 + r), rtol):
                problems.add(f"{block.prefix}{name}[{i}].{idx}", f"is {x} but the index before ({before}) "
                             f"x (1 + {ret} {r}) is {before * (1 + r)}")
            before = x


def _link(block: _Block, outer: str, inner: str, members: Callable[[int], range], problems: Problems,
          rtol: float) -> None:
    """Each ``outer`` return equals its ``inner`` entries linked, where all of them are there."""
    if outer not in block.rows or inner not in block.rows or not (block.start and block.end):
        return
    for i, k, _first, _last, values in block.rows[outer]:
        if k is None:
            continue
        wanted = list(members(k))
        found = [row for row in block.rows[inner] if row[1] in wanted]
        if [row[1] for row in found] != wanted:
            continue
        _compare_linked(block, f"{outer}[{i}]", values, [row[4] for row in found], inner, problems, rtol)


def _compare_linked(block: _Block, path: str, values: dict, parts: list[dict], what: str, problems: Problems,
                    rtol: float) -> None:
    """An entry's return of each series against ``prod(1 + part) - 1`` of its parts' returns."""
    for series, (ret, _, _) in block.series.items():
        returns = [part[series][0] for part in parts]
        r = values[series][0]
        if r is None or None in returns:
            continue
        linked = math.prod(1 + p for p in returns) - 1
        if not _close(r, linked, rtol):
            problems.add(f"{block.prefix}{path}.{ret}", f"is {r} but its {what} linked give {linked}")


def _check_days(block: _Block, starts: dict, problems: Problems, rtol: float) -> None:
    path = f"{block.prefix}days"
    if "days" not in block.body:
        if block.want_days:
            problems.add(path, "is missing although includeDailyReturns is true")
        return
    if block.want_days is False:
        problems.add(path, "is present although includeDailyReturns is false")
    entries = _entries(block, "days", problems)
    if entries is None:
        return
    rows, previous, ordered = [], None, True
    keys = tuple(sorted({"date", *(k for s in block.series.values() for k in s[:2]),
                         *(k for s in block.absent.values() for k in s[:2])}))
    for i, entry in entries:
        here = f"{path}[{i}]"
        _known_keys(entry, keys, f"{here}.", problems)
        day = read_date(entry.get("date"))
        if day is None:
            problems.add(f"{here}.date", f"{entry.get('date')!r} is not an ISO date YYYY-MM-DD")
        elif previous is not None and day <= previous:
            problems.add(f"{here}.date", f"{day} is not after the day before ({previous}); days are in "
                         "chronological order without repeats")
            ordered = False
        elif block.daily_start and day < block.daily_start:
            problems.add(f"{here}.date", f"{day} is before the daily data start {block.daily_start} "
                         "(the later of startDate and dailyPerformanceStartDate)")
        elif block.end and day > block.end:
            problems.add(f"{here}.date", f"{day} is after endDate {block.end}")
        previous = day or previous
        what = "every day carries both gross and net" if "gross" in block.series else "every day carries it"
        rows.append((i, day, None, day, _values(entry, here, block, problems, what)))
    if not ordered or block.daily_start is None:
        return
    _check_chain(block, "days", rows, starts, problems, rtol, _index_before_days(block, block.daily_start, starts))
    _link_days(block, rows, problems, rtol)


def _index_before_days(block: _Block, daily_start: date, starts: dict) -> dict:
    """The index at EOD of the day before the daily start: ``indexStart`` or a month's index."""
    if daily_start == block.start:
        return starts
    eve = daily_start - timedelta(days=1)
    for _i, _k, _first, last, values in block.rows.get("months", []):
        if last == eve:
            return {series: values[series][1] for series in block.series}
    return {series: None for series in block.series}


def _link_days(block: _Block, days: list, problems: Problems, rtol: float) -> None:
    """Each month of the daily range equals its days linked; a month without days is a gap."""
    for i, k, first, last, values in block.rows.get("months", []):
        if k is None or first is None or last is None or first < block.daily_start:
            continue
        inside = [row[4] for row in days if row[1] is not None and first <= row[1] <= last]
        if not inside and any(values[s][0] for s in block.series):
            problems.add(f"{block.prefix}days", f"has no entry in {MONTHS.show(k)} although daily data are "
                         f"reported from {block.daily_start} on")
            continue
        _compare_linked(block, f"months[{i}]", values, inside, "days", problems, rtol)
