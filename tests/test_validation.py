"""The strict readers of toolkit.validation, and the lenient inputs of issue 17 (items 7 and 8) refused
across the façade with the field named and nothing written."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from helpers import dump
from hypothesis import given
from hypothesis import strategies as st

from toolkit.errors import ConflictError, Problems, ValidationError
from toolkit.validation import (
    date_or_none,
    decimal_or_none,
    one,
    read_choice,
    read_date,
    read_decimal,
    read_flag,
    read_id,
    read_int,
    read_period,
    read_timestamp,
)
from toolkit.workspace import Workspace

AAPL, MSFT = "US0378331005", "US5949181045"


def _problems(reader, value, **options) -> list[str]:
    problems = Problems()
    reader(value, "field", problems, **options)
    return [str(p) for p in problems.items]


@pytest.mark.parametrize("text", ["1_000.00", "0.6_0", "١٠٠.٠٠", "１２", "1e3", "1E-2", " 7", "7 ", "+", "-", ".",
                                  "NaN", "Infinity", "-inf", "0x10", "1,000.00", "", "1.2.3", "٣"])
def test_decimal_strings_are_ascii_digits_only(text: str) -> None:
    """``Decimal()`` takes all of these (but the last few); a brokerage books none of them."""
    assert decimal_or_none(text) is None
    assert _problems(read_decimal, text)[0].startswith("field: ")


@pytest.mark.parametrize("text, value", [("1000.00", "1000.00"), ("-0.5", "-0.5"), (".25", "0.25"), ("7.", "7"),
                                         ("+3", "3"), ("0", "0"), ("000123.4500", "123.45")])
def test_plain_decimal_strings_read_exactly(text: str, value: str) -> None:
    assert decimal_or_none(text) == Decimal(value)


@given(st.decimals(allow_nan=False, allow_infinity=False, places=6, min_value=-10**12, max_value=10**12))
def test_every_plain_decimal_text_reads_back_to_its_value(number: Decimal) -> None:
    assert decimal_or_none(format(number, "f")) == number


@given(st.text(max_size=12))
def test_whatever_is_accepted_is_plain_ascii_and_equals_python_s_reading(text: str) -> None:
    number = decimal_or_none(text)
    if number is not None:
        assert text.isascii() and "_" not in text and not any(c in text for c in "eE ")
        assert number == Decimal(text)


def test_numbers_only_where_asked_for_and_never_bools() -> None:
    assert decimal_or_none(5) is None and decimal_or_none(5, numbers=True) == 5
    assert decimal_or_none(0.1, numbers=True) == Decimal("0.1")
    assert decimal_or_none(True, numbers=True) is None
    assert decimal_or_none(float("nan"), numbers=True) is None and decimal_or_none(float("inf"), numbers=True) is None
    assert _problems(read_decimal, "0", positive=True) == ["field: 0 must be greater than 0"]
    assert _problems(read_decimal, "1.001", places=2) == ["field: 1.001 has more than 2 decimals"]
    assert _problems(read_decimal, "1.10", places=1) == []


@pytest.mark.parametrize("text", ["2022-13-01", "2022-02-30", "garbage", "20220301", "March 1 2022", "2022-3-1",
                                  "9999-12-31", "0001-01-01", "2022-03-01T00:00", "٢٠٢٢-٠٣-٠١", " 2022-03-01", ""])
def test_dates_are_iso_calendar_days_in_range(text: str) -> None:
    assert date_or_none(text) is None
    assert "is not a date" in _problems(read_date, text)[0]


def test_dates_and_timestamps_that_read() -> None:
    assert date_or_none("2022-02-28") == date(2022, 2, 28) and date_or_none(date(2020, 1, 1)) == date(2020, 1, 1)
    assert date_or_none(datetime(2020, 1, 1)) is None  # a datetime is not a calendar date
    problems = Problems()
    assert read_timestamp("2022-03-31T15:30:00Z", "t", problems) == datetime(2022, 3, 31, 15, 30, tzinfo=UTC)
    assert read_timestamp("2022-03-31", "t", problems) == datetime(2022, 3, 31)
    assert read_timestamp("2022-03-31 09:15", "t", problems) == datetime(2022, 3, 31, 9, 15)
    assert not problems
    for bad in ("2022-03-31T25:00", "9999-12-31T00:00:00", "yesterday", "2022-03-31T10:00:00+5"):
        assert "is not a timestamp" in _problems(read_timestamp, bad)[0]


def test_ids_flags_ints_choices_and_periods() -> None:
    assert one(read_id, "6F1C4F36-0000-4000-8000-000000000001", "id") == "6f1c4f36-0000-4000-8000-000000000001"
    assert _problems(read_id, "not-a-uuid") == ["field: 'not-a-uuid' is not a UUID"]
    assert _problems(read_flag, "true") == ["field: 'true' is not true or false"]
    assert _problems(read_int, "5; DROP", low=1) == ["field: '5; DROP' is not a whole number"]
    assert _problems(read_int, True) == ["field: True is not a whole number"]
    assert _problems(read_int, -1, low=1, high=10) == ["field: -1 is out of range; expected 1 to 10"]
    assert _problems(read_choice, ["x"], choices={"a": 1}) == ["field: ['x'] is not one of a"]
    problems = Problems()
    assert read_period("2022-02-01", "2021-01-01", problems) == (date(2022, 2, 1), date(2021, 1, 1))
    assert problems.items[0].path == "end"
    with pytest.raises(ValidationError) as err:
        one(read_date, "2022-13-45", "start")
    assert err.value.paths == ["start"]


# --------------------------------------------------------------------------- across the façade

def _account(ws: Workspace, **deposit) -> str:
    allocation = ws.allocations.create({"allocation": [
        {"instrument_id": AAPL, "instrument_id_type": "ISIN", "weight": "0.6"},
        {"instrument_id": MSFT, "instrument_id_type": "ISIN", "weight": "0.4"}]})
    account = ws.accounts.create({"type": "PORTFOLIO", "currency": "USD"}).id
    ws.accounts.deposit(account, {"amount": "10000.00", "currency": "USD", **deposit})
    ws.configurations.create({"account_id": account, "allocation_id": allocation.id})
    return account


def test_lenient_numbers_are_refused_by_the_facade_and_write_nothing(ws: Workspace) -> None:
    """Issue 17, item 7: the weight "0.6_0" and the amounts "1_000.00" and "١٠٠.٠٠" were accepted and written."""
    account = _account(ws)
    before = dump(ws)
    attempts = [
        (lambda: ws.allocations.create({"allocation": [
            {"instrument_id": AAPL, "instrument_id_type": "ISIN", "weight": "0.6_0"},
            {"instrument_id": MSFT, "instrument_id_type": "ISIN", "weight": "0.4"}]}), "allocation[0].weight"),
        (lambda: ws.orders.place(account, {"cash_amount": "1_000.00", "currency": "USD", "side": "BUY"}),
         "cash_amount"),
        (lambda: ws.orders.place(account, {"cash_amount": "١٠٠.٠٠", "currency": "USD", "side": "BUY"}), "cash_amount"),
        (lambda: ws.accounts.deposit(account, {"amount": "1e3", "currency": "USD"}), "amount"),
        (lambda: ws.accounts.withdraw(account, {"amount": "Infinity", "currency": "USD"}), "amount"),
        (lambda: ws.rebalancings.execute({"account_ids": [account], "drift": {"threshold": "0.0_2"}}),
         "drift.threshold"),
    ]
    for attempt, path in attempts:
        with pytest.raises(ValidationError) as err:
            attempt()
        assert path in err.value.paths, (path, str(err.value))
    assert dump(ws) == before


def test_raw_exceptions_and_silent_answers_become_named_errors(book_copy: Workspace) -> None:
    """Issue 17, item 8: pandas' DateParseError, a current version for a bad as_of, an empty run for unknown
    allocations, and an idempotency key reused with another execution date."""
    ws = book_copy
    growth = ws.accounts.list(type="PORTFOLIO")[0].id
    cases = [
        (lambda: ws.reports.portfolio_report(growth, start="2022-13-01"), "start"),
        (lambda: ws.reports.portfolio_report(growth, start="garbage"), "start"),
        (lambda: ws.reports.portfolio_report(growth, start="2022-06-01", end="2022-01-31"), "end"),
        (lambda: ws.reports.instrument_report(["AAPL"], start="2022-02-30"), "start"),
        (lambda: ws.allocations.get(ws.allocations.list()[0].id, as_of="not-a-date"), "as_of"),
        (lambda: ws.rebalancings.execute({"allocation_ids": ["6f1c4f36-0000-4000-8000-000000000001"]}),
         "allocation_ids[0]"),
    ]
    before = dump(ws)
    for attempt, path in cases:
        with pytest.raises(ValidationError) as err:
            attempt()
        assert err.value.paths == [path], str(err.value)
    assert dump(ws) == before


def test_an_idempotency_key_reused_with_another_execution_date_is_a_conflict(ws: Workspace) -> None:
    account = _account(ws, value_date="2022-12-27")  # not after the order: back-dating is refused
    order = {"cash_amount": "100.00", "currency": "USD", "side": "BUY", "idempotency_key": "k-1",
             "execution_date": "2022-12-27"}
    first = ws.orders.place(account, order)
    assert ws.orders.place(account, order).id == first.id  # the same request again: the same order
    assert ws.orders.place(account, {k: v for k, v in order.items() if k != "execution_date"}).id == first.id
    before = dump(ws)
    with pytest.raises(ConflictError, match="different order"):
        ws.orders.place(account, {**order, "execution_date": "2022-12-28"})
    assert dump(ws) == before


@pytest.mark.parametrize("kwargs, path", [({"limit": "5; DROP"}, "limit"), ({"limit": -1}, "limit"),
                                          ({"limit": 0}, "limit"), ({"limit": 10**9}, "limit"),
                                          ({"after": "0 OR 1=1"}, "after"), ({"type": 5}, "type"),
                                          ({"resource_id": ["x"]}, "resource_id")])
def test_events_list_refuses_what_it_cannot_answer(demo_ws: Workspace, kwargs: dict, path: str) -> None:
    """Issue 17, item 8: ``limit="5; DROP"`` raised sqlite3.IntegrityError and ``limit=-1`` answered everything."""
    with pytest.raises(ValidationError) as err:
        demo_ws.events.list(**kwargs)
    assert err.value.paths == [path]
