"""The contract of ``Workspace.history.upload(payload)``: bad input is refused whole, good input is stored.

Every refused upload must raise :class:`toolkit.errors.ValidationError` whose ``problems`` name
the offending field by its path, whose message is one readable line, and it must leave the
workspace exactly as it was (row counts and a checksum of the price table).
"""

from __future__ import annotations

import copy
import re
import sqlite3
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from toolkit.errors import NotFoundError, ValidationError
from toolkit.store import repositories

SAP = "DE0007164600"  # SAP SE, Xetra, EUR
APPLE = "US0378331005"
MICROSOFT = "US5949181045"

# --------------------------------------------------------------------------- helpers


def snapshot(ws) -> dict:
    """Row counts of the market tables and checksums of their contents."""
    conn = ws.db.conn
    prices = conn.execute("SELECT count(*), total(close), total(open), total(volume) FROM prices").fetchone()
    uploads = conn.execute("SELECT count(*), max(id) FROM history_uploads").fetchone()
    instruments = conn.execute("SELECT count(*), group_concat(instrument_id) FROM "
                               "(SELECT instrument_id FROM instruments ORDER BY 1)").fetchone()
    return {"prices": prices[0], "sum_close": prices[1], "sum_open": prices[2], "sum_volume": prices[3],
            "history_uploads": uploads[0], "last_upload": uploads[1],
            "instruments": instruments[0], "instrument_ids": instruments[1]}


def valid_payload() -> dict:
    """A valid daily upload for a security the demo workspace does not hold (SAP on Xetra)."""
    return {
        "isin": SAP, "currency": "EUR", "timeframe": 1, "symbol": "SAP", "name": "SAP SE", "mic": "XETR",
        "history": [
            {"timestamp": "2024-12-18", "open": 236.05, "high": 238.40, "low": 234.10, "close": 235.70,
             "volume": 1_402_311},
            {"timestamp": "2024-12-19", "open": 233.00, "high": 236.55, "low": 231.35, "close": 232.25,
             "volume": 1_873_004},
            {"timestamp": "2024-12-20", "open": 230.10, "high": 235.90, "low": 229.60, "close": 235.30,
             "volume": 3_560_118},
            {"timestamp": "2024-12-23", "open": 235.60, "high": 237.85, "low": 234.95, "close": 236.95,
             "volume": 794_552},
        ],
    }


def refuse(ws, payload: object) -> ValidationError:
    """Upload ``payload``, expect a ValidationError, and check that nothing changed."""
    before = snapshot(ws)
    with pytest.raises(ValidationError) as info:
        ws.history.upload(payload)
    assert snapshot(ws) == before, "a refused upload changed the database"
    assert not ws.db.conn.in_transaction
    err = info.value
    assert_readable(err)
    return err


def assert_readable(err: ValidationError) -> None:
    """One line of plain language that names every problem shown, ending with a full stop."""
    message = str(err)
    assert err.problems, "a ValidationError without problems tells the user nothing"
    assert "\n" not in message
    assert message[0].isupper() and message.endswith(".")
    assert message.startswith("The history upload has ")
    for problem in err.problems[: ValidationError.shown]:
        assert problem.message and problem.message in message
        assert problem.path in message
    for noise in ("Traceback", "dtype", "Series(", "Index(", "array(", "KeyError", "<class"):
        assert noise not in message


def with_record(payload: dict, row: int, **changes) -> dict:
    payload = copy.deepcopy(payload)
    payload["history"][row].update(changes)
    return payload


def without_key(payload: dict, row: int, key: str) -> dict:
    payload = copy.deepcopy(payload)
    del payload["history"][row][key]
    return payload


def with_field(payload: dict, **changes) -> dict:
    payload = copy.deepcopy(payload)
    payload.update(changes)
    return payload


def closes_only(values: list) -> dict:
    """A payload with only timestamp and close, so a bad close is the only problem."""
    payload = valid_payload()
    payload["history"] = [{"timestamp": r["timestamp"], "close": v} for r, v in zip(payload["history"], values)]
    return payload


def table_row(ws, instrument_id: str) -> pd.Series:
    table = ws.instruments.table()
    return table.set_index("instrument_id").loc[instrument_id]


def series_of(ws, symbol: str, source: str) -> str:
    table = ws.instruments.table()
    rows = table[(table["symbol"] == symbol) & (table["source"] == source)]
    assert len(rows) == 1
    return rows["instrument_id"].iloc[0]


# --------------------------------------------------------------------------- refused payloads

BASE = valid_payload()

#: (id, payload, the exact set of problem paths)
BAD_PAYLOADS = [
    # order of the timestamps
    ("unsorted timestamps", with_record(BASE, 2, timestamp="2024-12-17"), {"history[2].timestamp"}),
    ("duplicate timestamps", with_record(BASE, 2, timestamp="2024-12-19"), {"history[2].timestamp"}),
    # NaN and missing values
    ("NaN open", with_record(BASE, 1, open=float("nan")), {"history[1].open"}),
    ("NaN close", with_record(BASE, 3, close=float("nan")), {"history[3].close"}),
    ("numpy NaN high", with_record(BASE, 0, high=np.nan), {"history[0].high"}),
    ("None close", with_record(BASE, 1, close=None), {"history[1].close"}),
    ("close key missing on one record", without_key(BASE, 2, "close"), {"history[2].close"}),
    ("open key missing on one record", without_key(BASE, 1, "open"), {"history[1].open"}),
    # non-positive prices
    ("zero close", closes_only([235.7, 0, 235.3, 236.95]), {"history[1].close"}),
    ("negative close", closes_only([235.7, 232.25, -235.3, 236.95]), {"history[2].close"}),
    ("zero low", with_record(BASE, 1, low=0), {"history[1].low"}),
    ("negative low", with_record(BASE, 3, low=-1.5), {"history[3].low"}),
    ("zero open", with_record(BASE, 0, open=0.0), {"history[0].open", "history[0].low"}),
    # bar consistency
    ("high below open", with_record(BASE, 1, high=232.50), {"history[1].high"}),  # open 233.00
    ("high below close", with_record(BASE, 2, high=235.00), {"history[2].high"}),  # close 235.30
    ("low above open", with_record(BASE, 2, low=231.00), {"history[2].low"}),  # open 230.10
    ("low above close", with_record(BASE, 1, low=232.60), {"history[1].low"}),  # close 232.25
    # volume
    ("negative volume", with_record(BASE, 3, volume=-100), {"history[3].volume"}),
    ("negative float volume", with_record(BASE, 0, volume=-0.5), {"history[0].volume"}),
    # timeframe
    ("timeframe 7", with_field(BASE, timeframe=7), {"timeframe"}),
    ("timeframe -1", with_field(BASE, timeframe=-1), {"timeframe"}),
    ("timeframe '1'", with_field(BASE, timeframe="1"), {"timeframe"}),
    ("timeframe True", with_field(BASE, timeframe=True), {"timeframe"}),
    ("timeframe missing", {k: v for k, v in BASE.items() if k != "timeframe"}, {"timeframe"}),
    # ISIN
    ("ISIN bad check digit", with_field(BASE, isin="DE0007164601"), {"isin"}),
    ("ISIN too short", with_field(BASE, isin="DE000716460"), {"isin"}),
    ("ISIN too long", with_field(BASE, isin="DE00071646000"), {"isin"}),
    ("ISIN not a string", with_field(BASE, isin=7164600), {"isin"}),
    ("ISIN missing", {k: v for k, v in BASE.items() if k != "isin"}, {"isin"}),
    # currency
    ("currency XXZ", with_field(BASE, currency="XXZ"), {"currency"}),
    ("currency usd1", with_field(BASE, currency="usd1"), {"currency"}),
    ("currency 12", with_field(BASE, currency=12), {"currency"}),
    ("currency missing", {k: v for k, v in BASE.items() if k != "currency"}, {"currency"}),
    # the history list itself
    ("empty history", with_field(BASE, history=[]), {"history"}),
    ("history is an object", with_field(BASE, history={"timestamp": "2024-12-18", "close": 1.0}), {"history"}),
    ("history is a string", with_field(BASE, history="2024-12-18,235.7"), {"history"}),
    ("history missing", {k: v for k, v in BASE.items() if k != "history"}, {"history"}),
    # wrong types inside records
    ("string price among numbers", with_record(BASE, 1, close="12.5"), {"history[1].close"}),
    ("bool volume among numbers", with_record(BASE, 2, volume=True), {"history[2].volume"}),
    # timestamps
    # a daily bar may carry a time of day (the risk platform's PUT /history example does): it names its
    # day, so a second bar on the same day duplicates it
    ("two daily bars on one day", with_record(BASE, 2, timestamp="2024-12-19T15:30:00"),
     {"history[2].timestamp"}),
    ("unparseable timestamp", with_record(BASE, 1, timestamp="19th of December"), {"history[1].timestamp"}),
    ("impossible date", with_record(BASE, 1, timestamp="2024-13-45"), {"history[1].timestamp"}),
    ("numeric timestamp", with_record(BASE, 1, timestamp=20241219), {"history[1].timestamp"}),
    ("timestamp None", with_record(BASE, 2, timestamp=None), {"history[2].timestamp"}),
    # identity fields
    ("symbol not a string", with_field(BASE, symbol=42), {"symbol"}),
    ("malformed MIC", with_field(BASE, mic="XE"), {"mic"}),
]


@pytest.mark.parametrize("payload, paths", [pytest.param(p, s, id=i) for i, p, s in BAD_PAYLOADS])
def test_bad_payload_is_refused_naming_the_field(ws, payload, paths):
    err = refuse(ws, payload)
    assert set(err.paths) == paths, err.problems


@pytest.mark.parametrize("payload", [
    pytest.param([valid_payload()], id="list"),
    pytest.param("[{\"isin\": \"DE0007164600\"}]", id="JSON text of a list"),
    pytest.param(None, id="None"),
    pytest.param(42, id="number"),
])
def test_payload_that_is_not_an_object_is_refused(ws, payload):
    err = refuse(ws, payload)
    assert len(err.problems) == 1
    assert err.problems[0].path == ""
    assert "object" in err.problems[0].message


def test_record_that_is_not_an_object_is_named_by_its_index(ws):
    payload = valid_payload()
    payload["history"][1] = ["2024-12-19", 233.0, 236.55, 231.35, 232.25, 1873004]
    payload["history"][3] = "2024-12-23,236.95"
    err = refuse(ws, payload)
    # the record itself is the culprit: its path is history[i], not history[i]. or history[i].something
    assert err.paths == ["history[1]", "history[3]"]


@pytest.mark.parametrize("name", ["adj_close", "Close", "price"])
def test_unknown_field_in_a_record_is_refused(ws, name):
    payload = with_record(valid_payload(), 1, **{name: 232.25})
    err = refuse(ws, payload)
    assert len(err.problems) == 1
    path = err.problems[0].path
    # the field is named; if the path carries a record index, it is the record that has it
    assert re.fullmatch(rf"history\[1?\]\.{name}", path), path


def test_close_column_absent_from_every_record_is_refused(ws):
    payload = valid_payload()
    for record in payload["history"]:
        del record["close"]
    err = refuse(ws, payload)
    assert len(err.problems) == 1 and err.problems[0].path.endswith(".close")
    assert err.problems[0].path.startswith("history[")


@pytest.mark.parametrize("bad", [float("inf"), float("-inf")])
def test_infinite_price_is_refused(ws, bad):
    # a price must be a finite positive number; inf would be stored and poison every return
    err = refuse(ws, closes_only([235.7, bad, 235.3, 236.95]))
    assert err.paths == ["history[1].close"]


# Wrong types in a column where *every* record has the wrong type (a client that sends all
# numbers as strings, a one-record upload): the same contract as a single bad cell.

def test_string_prices_on_every_record_are_refused(ws):
    payload = valid_payload()
    for record in payload["history"]:
        record["close"] = str(record["close"])  # "235.7", ...
    err = refuse(ws, payload)
    assert set(err.paths) == {f"history[{i}].close" for i in range(4)}


def test_string_price_in_a_one_record_upload_is_refused(ws):
    payload = valid_payload()
    payload["history"] = [{"timestamp": "2024-12-18", "close": "12.5"}]
    err = refuse(ws, payload)
    assert err.paths == ["history[0].close"]


def test_non_numeric_text_price_on_every_record_is_refused(ws):
    # without a type check, "n/a" is coerced to NaN, passes validation and then breaks
    # the NOT NULL constraint of prices.close with a bare sqlite3 error
    payload = valid_payload()
    payload["history"] = [{"timestamp": "2024-12-18", "close": "n/a"},
                          {"timestamp": "2024-12-19", "close": "n/a"}]
    err = refuse(ws, payload)
    assert set(err.paths) == {"history[0].close", "history[1].close"}


def test_bool_volume_on_every_record_is_refused(ws):
    payload = valid_payload()
    for record in payload["history"]:
        record["volume"] = True
    err = refuse(ws, payload)
    assert set(err.paths) == {f"history[{i}].volume" for i in range(4)}


def test_bool_volume_in_a_one_record_upload_is_refused(ws):
    payload = valid_payload()
    payload["history"] = [{"timestamp": "2024-12-18", "close": 235.7, "volume": False}]
    err = refuse(ws, payload)
    assert err.paths == ["history[0].volume"]


def test_several_problems_are_all_reported_in_one_error(ws):
    payload = valid_payload()
    payload.update(isin="DE0007164601", currency="XXZ", timeframe=9)
    payload["history"][1]["high"] = 200.0  # below open and close
    payload["history"][2]["volume"] = -3
    payload["history"][3]["timestamp"] = "2024-12-19"  # earlier than the row before
    err = refuse(ws, payload)
    assert set(err.paths) == {"isin", "currency", "timeframe", "history[1].high", "history[2].volume",
                              "history[3].timestamp"}
    assert str(err).startswith("The history upload has 6 problems: ")


def test_many_bad_rows_are_summarised_but_every_problem_is_kept(ws):
    payload = valid_payload()
    payload["history"] = [{"timestamp": f"2024-11-{d:02d}", "close": -1.0} for d in range(1, 21)]
    payload["currency"] = "EURO"
    err = refuse(ws, payload)
    assert "currency" in err.paths
    row_paths = [p for p in err.paths if p.startswith("history")]
    # the first rows are named one by one, the rest in one summary problem that counts them
    assert row_paths[:5] == [f"history[{i}].close" for i in range(5)]
    assert len(row_paths) == 6 and row_paths[5].startswith("history[5")
    assert "15 more rows" in err.problems[err.paths.index(row_paths[5])].message
    assert len(str(err)) < 1000


def test_validation_error_to_dict_carries_every_problem(ws):
    payload = with_field(valid_payload(), currency="XXZ", timeframe=7)
    err = refuse(ws, payload)
    body = err.to_dict()
    assert body["error"] == "VALIDATION_ERROR"
    assert {p["path"] for p in body["problems"]} == {"currency", "timeframe"}
    assert body["message"] == str(err)


# --------------------------------------------------------------------------- accepted payloads


def test_valid_upload_creates_a_new_instrument(ws):
    before = snapshot(ws)
    assert ws.instruments.search(isin=SAP).empty
    stamp = datetime.now(UTC).replace(microsecond=0)

    result = ws.history.upload(valid_payload())

    assert result["timeframe"] == 1
    assert result["n_records_uploaded"] == 4
    assert result["n_records"] == 4
    after = snapshot(ws)
    assert after["instruments"] == before["instruments"] + 1
    assert after["prices"] == before["prices"] + 4
    assert after["history_uploads"] == before["history_uploads"] + 1

    instrument = ws.instruments.get(result["instrument_id"])
    assert (instrument.isin, instrument.currency, instrument.symbol, instrument.name, instrument.mic) == \
           (SAP, "EUR", "SAP", "SAP SE", "XETR")
    assert instrument.source == "upload"
    assert instrument.country == "DE"

    # the stored bars are the uploaded numbers, exactly
    ds = ws.history.prices([result["instrument_id"]])
    frame = pd.DataFrame(valid_payload()["history"])
    np.testing.assert_array_equal(ds["time"].values, pd.to_datetime(frame["timestamp"]).values)
    for name in ("open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(ds[name].isel(instrument=0).values, frame[name].to_numpy(dtype=float))

    # last bar Mon 2024-12-23; Xetra is closed on 24, 25 and 26 December
    assert result["fill_from"] == "2024-12-27"
    updated = datetime.fromisoformat(result["last_updated"])
    assert updated.tzinfo is not None and updated >= stamp - timedelta(seconds=1)

    # the new series is now covered and found by search
    answer = ws.instruments.coverage([{"isin": SAP, "currency": "EUR"}]).to_dict()[0]
    assert answer["coverage_status"] == "OK"
    assert (answer["history_start"], answer["history_end"]) == ("2024-12-18", "2024-12-23")
    assert ws.instruments.search("sap").iloc[0]["instrument_id"] == result["instrument_id"]


def test_second_upload_with_overlapping_timestamps_replaces_those_bars(ws):
    first = ws.history.upload(valid_payload())
    iid = first["instrument_id"]
    before = snapshot(ws)

    second = valid_payload()
    second["history"] = [
        {"timestamp": "2024-12-20", "open": 230.0, "high": 236.0, "low": 229.5, "close": 235.5, "volume": 3_600_000},
        {"timestamp": "2024-12-23", "open": 235.5, "high": 238.0, "low": 234.0, "close": 237.0, "volume": 800_000},
        {"timestamp": "2024-12-27", "open": 237.0, "high": 239.0, "low": 236.0, "close": 238.5, "volume": 650_000},
        {"timestamp": "2024-12-30", "open": 238.5, "high": 240.0, "low": 237.1, "close": 239.0, "volume": 700_000},
    ]
    result = ws.history.upload(second)

    assert result["instrument_id"] == iid
    assert result["n_records_uploaded"] == 4
    assert result["n_records"] == 6  # union of 18, 19, 20, 23 and 20, 23, 27, 30 December
    after = snapshot(ws)
    assert after["instruments"] == before["instruments"]
    assert after["prices"] == before["prices"] + 2
    assert after["history_uploads"] == before["history_uploads"] + 1

    close = ws.history.prices([iid])["close"].isel(instrument=0).to_series()
    expected = pd.Series([235.70, 232.25, 235.5, 237.0, 238.5, 239.0],
                         index=pd.to_datetime(["2024-12-18", "2024-12-19", "2024-12-20", "2024-12-23",
                                               "2024-12-27", "2024-12-30"]))
    np.testing.assert_array_equal(close.index.values, expected.index.values)
    np.testing.assert_array_equal(close.to_numpy(), expected.to_numpy())

    status = ws.history.status(iid, 1)
    assert len(status) == 1
    row = status.iloc[0]
    assert row["n_records"] == 6
    assert (row["history_start"], row["history_end"]) == ("2024-12-18", "2024-12-30")
    assert row["last_updated"] == result["last_updated"]
    datetime.fromisoformat(row["last_updated"])
    # Xetra is closed on 31 December and 1 January
    assert row["fill_from"] == result["fill_from"] == "2025-01-02"


@pytest.mark.parametrize("mic, expected", [
    ("XETR", "2024-11-28"),  # Xetra trades on US Thanksgiving
    ("XNYS", "2024-11-29"),  # NYSE is closed on Thursday 28 November 2024
    (None, "2024-11-29"),    # no MIC: the toolkit falls back to the NYSE calendar
    ("ZZZZ", "2024-11-29"),  # a MIC without a published calendar: NYSE too
])
def test_fill_from_is_the_next_session_on_the_exchange_calendar(ws, mic, expected):
    payload = valid_payload()
    if mic is None:
        del payload["mic"]
    else:
        payload["mic"] = mic
    payload["history"] = [{"timestamp": "2024-11-26", "close": 226.1}, {"timestamp": "2024-11-27", "close": 227.0}]
    result = ws.history.upload(payload)
    assert result["fill_from"] == expected
    assert ws.history.status(result["instrument_id"]).iloc[0]["fill_from"] == expected


def test_weekly_and_intraday_status_steps(ws):
    weekly = valid_payload()
    weekly.update(timeframe=0, history=[{"timestamp": "2024-12-13", "close": 230.0},
                                        {"timestamp": "2024-12-20", "close": 235.3}])
    assert ws.history.upload(weekly)["fill_from"] == "2024-12-27"
    hourly = valid_payload()
    hourly.update(timeframe=3, history=[{"timestamp": "2024-12-20T09:00:00", "close": 231.0},
                                        {"timestamp": "2024-12-20T10:00:00", "close": 232.0}])
    result = ws.history.upload(hourly)
    assert result["fill_from"] == "2024-12-20T11:00:00"
    status = ws.history.status("SAP")
    assert sorted(status["timeframe"]) == [0, 3]


def test_upload_to_existing_isin_and_currency_appends_to_the_longest_series(ws):
    skfolio = series_of(ws, "AAPL", "skfolio")  # 1990-2022, the longest Apple series
    bokeh = series_of(ws, "AAPL", "bokeh")      # 2000-2013
    n_skfolio = table_row(ws, skfolio)["n_records"]
    n_bokeh = table_row(ws, bokeh)["n_records"]
    before = snapshot(ws)

    result = ws.history.upload({"isin": APPLE, "currency": "USD", "timeframe": 1, "history": [
        {"timestamp": "2022-12-29", "close": 126.0}, {"timestamp": "2022-12-30", "close": 129.9}]})

    assert result["instrument_id"] == skfolio
    assert result["n_records"] == n_skfolio + 2
    assert table_row(ws, skfolio)["n_records"] == n_skfolio + 2
    assert table_row(ws, skfolio)["history_end"] == "2022-12-30"
    assert table_row(ws, bokeh)["n_records"] == n_bokeh
    after = snapshot(ws)
    assert after["instruments"] == before["instruments"]
    assert after["prices"] == before["prices"] + 2
    assert result["fill_from"] == "2023-01-03"  # NYSE/Nasdaq closed on 2 January 2023


def test_upload_by_isin_appends_to_the_series_whose_history_ends_latest(ws):
    """Issue 18: an ISIN names the same series everywhere (allocations, resolve, uploads): the one
    with the latest data, then the longest. Once bokeh's shorter AAPL series is the one carried
    forward (its bars extended past skfolio's), an upload by ISIN extends it."""
    skfolio, bokeh = series_of(ws, "AAPL", "skfolio"), series_of(ws, "AAPL", "bokeh")
    ws.history.upload({"instrument_id": bokeh, "isin": APPLE, "currency": "USD", "timeframe": 1,
                       "history": [{"timestamp": "2023-01-03", "close": 125.07}]})
    assert ws.instruments.resolve(APPLE) == [bokeh]
    result = ws.history.upload({"isin": APPLE, "currency": "USD", "timeframe": 1,
                                "history": [{"timestamp": "2023-01-04", "close": 126.36}]})
    assert result["instrument_id"] == bokeh
    assert table_row(ws, skfolio)["history_end"] == "2022-12-28"


def test_upload_with_instrument_id_writes_to_that_series(ws):
    bokeh = series_of(ws, "AAPL", "bokeh")
    n_bokeh = table_row(ws, bokeh)["n_records"]
    result = ws.history.upload({"isin": APPLE, "currency": "USD", "timeframe": 1, "instrument_id": bokeh,
                                "history": [{"timestamp": "2013-03-04", "close": 430.0}]})
    assert result["instrument_id"] == bokeh
    assert result["n_records"] == n_bokeh + 1


@pytest.mark.parametrize("isin, currency", [(MICROSOFT, "USD"), (APPLE, "EUR")],
                         ids=["another ISIN", "another currency"])
def test_instrument_id_that_names_another_series_is_refused(ws, isin, currency):
    bokeh_apple = series_of(ws, "AAPL", "bokeh")
    payload = {"isin": isin, "currency": currency, "timeframe": 1, "instrument_id": bokeh_apple,
               "history": [{"timestamp": "2013-03-04", "close": 28.0}]}
    err = refuse(ws, payload)
    assert err.paths == ["instrument_id"]


def test_unknown_instrument_id_raises_not_found(ws):
    before = snapshot(ws)
    missing = "00000000-0000-5000-8000-000000000000"
    payload = {"isin": APPLE, "currency": "USD", "timeframe": 1, "instrument_id": missing,
               "history": [{"timestamp": "2023-01-03", "close": 125.07}]}
    with pytest.raises(NotFoundError) as info:
        ws.history.upload(payload)
    assert missing in str(info.value)
    assert snapshot(ws) == before


def test_same_isin_in_a_second_currency_becomes_a_second_series(ws):
    # one share, two listings: SAP on Xetra in EUR and on SIX in CHF carry the same ISIN
    eur = ws.history.upload(valid_payload())
    chf = valid_payload()
    chf.update(currency="CHF", mic="XSWX", history=[{"timestamp": "2024-12-20", "close": 220.0},
                                                    {"timestamp": "2024-12-23", "close": 221.5}])
    before = snapshot(ws)
    result = ws.history.upload(chf)
    assert result["instrument_id"] != eur["instrument_id"]
    assert snapshot(ws)["instruments"] == before["instruments"] + 1
    answers = ws.instruments.coverage([{"isin": SAP, "currency": "EUR"}, {"isin": SAP, "currency": "CHF"}]).to_dict()
    assert [a["coverage_status"] for a in answers] == ["OK", "OK"]


# --------------------------------------------------------------------------- atomic writes


def test_failure_after_the_prices_insert_rolls_back_everything(ws, monkeypatch):
    original = repositories.PriceRepository.upsert
    calls = []

    def upsert_then_fail(self, *args, **kwargs):
        original(self, *args, **kwargs)
        # the bars and the history_uploads row are written inside this transaction...
        calls.append(self.db.conn.execute("SELECT count(*) FROM instruments WHERE isin = ?", [SAP]).fetchone()[0])
        raise RuntimeError("disk full")

    monkeypatch.setattr(repositories.PriceRepository, "upsert", upsert_then_fail)
    before = snapshot(ws)
    with pytest.raises(RuntimeError, match="disk full"):
        ws.history.upload(valid_payload())
    assert calls == [1]  # the new instrument row existed when the failure came
    assert snapshot(ws) == before  # ... and is gone with the bars
    assert ws.instruments.search(isin=SAP).empty
    assert not ws.db.conn.in_transaction

    monkeypatch.undo()
    assert ws.history.upload(valid_payload())["n_records"] == 4


def test_failure_of_the_history_uploads_insert_rolls_back_the_prices(ws):
    # a database-level failure of the last statement of the upload (after the bars are in)
    ws.db.conn.execute("CREATE TEMP TRIGGER refuse_upload BEFORE INSERT ON history_uploads "
                       "BEGIN SELECT RAISE(ABORT, 'history_uploads is read-only'); END")
    before = snapshot(ws)
    with pytest.raises(sqlite3.DatabaseError, match="read-only"):
        ws.history.upload(valid_payload())
    assert snapshot(ws) == before
    assert ws.instruments.search(isin=SAP).empty
    # existing series too: nothing of the bars survives
    with pytest.raises(sqlite3.DatabaseError):
        ws.history.upload({"isin": APPLE, "currency": "USD", "timeframe": 1,
                           "history": [{"timestamp": "2022-12-29", "close": 126.0}]})
    assert snapshot(ws) == before
    assert not ws.db.conn.in_transaction
    ws.db.conn.execute("DROP TRIGGER refuse_upload")
    assert ws.history.upload(valid_payload())["n_records"] == 4


def test_refused_upload_changes_nothing_on_disk(ws):
    """A second connection (another kernel) sees the same file before and after a refused upload."""
    other = sqlite3.connect(str(ws.path))
    try:
        count = other.execute("SELECT count(*), total(close) FROM prices").fetchone()
        with pytest.raises(ValidationError):
            ws.history.upload(with_record(valid_payload(), 2, high=1.0))
        assert other.execute("SELECT count(*), total(close) FROM prices").fetchone() == count
    finally:
        other.close()


# --------------------------------------------------------------------------- issue 17: what got in before
# Each payload below was stored before these checks: an unknown field, a bar dated 9999 (coverage said
# COVERED while prices() returned nothing), a bar in the future (it became the default execution date of
# orders), a 10 MB name or markup in name and symbol, identifiers in a form other than their standard
# one, timestamps pandas guesses at, and numbers Python reads but no data feed writes.

NOW = datetime.now(UTC)
TOMORROW = (NOW + timedelta(days=1)).date().isoformat()

STRICT_PAYLOADS = [
    # fields
    ("unknown top-level field", with_field(BASE, comment="from the vendor"), {"comment"}),
    # (a body with the seed's timeframe_id or instrument is read as the seed's PUT /history body:
    # tests/contracts/test_risk_data_models.py and the seed-format tests at the end of this file)
    # dates bounded to the years 1900-2199
    ("year 9999", with_record(BASE, 3, timestamp="9999-12-31"), {"history[3].timestamp"}),
    ("year 1899", with_record(BASE, 0, timestamp="1899-12-29"), {"history[0].timestamp"}),
    ("year 2200 intraday", with_field(with_record(BASE, 3, timestamp="2200-01-01T10:00:00"), timeframe=3),
     {"history[3].timestamp"}),
    # bars that have not happened yet
    ("bar in 2030", with_record(BASE, 3, timestamp="2030-01-02"), {"history[3].timestamp"}),
    ("bar tomorrow", with_record(BASE, 3, timestamp=TOMORROW), {"history[3].timestamp"}),
    ("hourly bar two hours ahead",
     with_field(with_record(BASE, 3, timestamp=(NOW + timedelta(hours=2)).isoformat(timespec="seconds")),
                timeframe=3), {"history[3].timestamp"}),
    # timestamps: ISO 8601 as toolkit.validation.read_timestamp reads it, nothing pandas guesses
    ("words", with_record(BASE, 1, timestamp="March 1 2022"), {"history[1].timestamp"}),
    ("basic ISO date", with_record(BASE, 1, timestamp="20241219"), {"history[1].timestamp"}),
    ("year and month", with_record(BASE, 0, timestamp="2024-12"), {"history[0].timestamp"}),
    ("offset without a colon", with_field(with_record(BASE, 1, timestamp="2024-12-19T10:00:00+0000"), timeframe=3),
     {"history[1].timestamp"}),
    ("leading space", with_record(BASE, 1, timestamp=" 2024-12-19"), {"history[1].timestamp"}),
    # name and symbol
    ("10 MB name", with_field(BASE, name="x" * 10_000_000), {"name"}),
    ("markup in name", with_field(BASE, name="<script>alert(1)</script>"), {"name"}),
    ("control character in name", with_field(BASE, name="SAP\x00SE"), {"name"}),
    ("newline in name", with_field(BASE, name="SAP\nSE"), {"name"}),
    ("blank name", with_field(BASE, name="   "), {"name"}),
    ("name of 201 characters", with_field(BASE, name="S" * 201), {"name"}),
    ("markup in symbol", with_field(BASE, symbol="<b>SAP</b>"), {"symbol"}),
    ("symbol of 21 characters", with_field(BASE, symbol="S" * 21), {"symbol"}),
    ("space in symbol", with_field(BASE, symbol="SAP SE"), {"symbol"}),
    ("empty symbol", with_field(BASE, symbol=""), {"symbol"}),
    # identifiers in their standard form only
    ("lower-case ISIN", with_field(BASE, isin="de0007164600"), {"isin"}),
    ("ISIN with spaces", with_field(BASE, isin="DE 000716 4600"), {"isin"}),
    ("lower-case currency", with_field(BASE, currency="eur"), {"currency"}),
    ("currency with spaces", with_field(BASE, currency=" EUR "), {"currency"}),
    ("lower-case MIC", with_field(BASE, mic="xetr"), {"mic"}),
    ("MIC with a newline", with_field(BASE, mic="XETR\n"), {"mic"}),
    ("instrument_id not a UUID", with_field(BASE, instrument_id="SAP"), {"instrument_id"}),
    # numbers: JSON numbers only, and finite as a float
    ("Python int beyond float", with_record(BASE, 1, volume=10**400), {"history[1].volume"}),
    ("underscored digits as text", with_record(BASE, 1, volume="1_000"), {"history[1].volume"}),
    ("Arabic-Indic digits as text", with_record(BASE, 2, close="١٠٠"), {"history[2].close"}),
]


@pytest.mark.parametrize("payload, paths", [pytest.param(p, s, id=i) for i, p, s in STRICT_PAYLOADS])
def test_lenient_reading_is_gone(ws, payload, paths):
    err = refuse(ws, payload)
    assert set(err.paths) == paths, err.problems


def test_bar_in_9999_is_refused_and_coverage_stays_as_it_was(ws):
    before = ws.instruments.coverage([{"isin": SAP, "currency": "EUR"}]).to_dict()
    status = ws.history.status()
    err = refuse(ws, with_record(valid_payload(), 3, timestamp="9999-12-31"))
    assert "9999-12-31" in err.problems[0].message
    assert ws.instruments.coverage([{"isin": SAP, "currency": "EUR"}]).to_dict() == before
    pd.testing.assert_frame_equal(ws.history.status(), status)


def test_future_bar_is_refused_saying_so_and_the_series_stays_as_it_was(ws):
    apple = series_of(ws, "AAPL", "skfolio")
    status = ws.history.status(apple)
    payload = {"isin": APPLE, "currency": "USD", "timeframe": 1,
               "history": [{"timestamp": "2022-12-30", "close": 129.93}, {"timestamp": "2030-01-02", "close": 150.0}]}
    err = refuse(ws, payload)
    assert err.paths == ["history[1].timestamp"]
    assert "future" in err.problems[0].message
    pd.testing.assert_frame_equal(ws.history.status(apple), status)


def test_bars_up_to_now_are_accepted(ws):
    payload = valid_payload()
    payload["history"] = [{"timestamp": "2024-12-18", "close": 235.7},
                          {"timestamp": NOW.date().isoformat(), "close": 236.0}]
    assert ws.history.upload(payload)["n_records"] == 2
    hourly = valid_payload()
    hourly.update(timeframe=3, history=[{"timestamp": (NOW - timedelta(hours=2)).isoformat(timespec="seconds"),
                                         "close": 236.5}])
    assert ws.history.upload(hourly)["n_records"] == 1


def test_parse_history_takes_the_clock_it_is_given():
    from toolkit.market.history import parse_history

    payload = valid_payload()  # last bar 2024-12-23
    assert len(parse_history(payload, now=datetime(2024, 12, 23, tzinfo=UTC)).frame) == 4
    with pytest.raises(ValidationError) as info:
        parse_history(payload, now=datetime(2024, 12, 20, 12, tzinfo=UTC))
    assert info.value.paths == ["history[3].timestamp"]


def test_timestamps_with_an_offset_are_stored_in_utc(ws):
    payload = valid_payload()
    payload.update(timeframe=3, history=[{"timestamp": "2024-12-20T10:00:00+01:00", "close": 231.0},
                                         {"timestamp": "2024-12-20T10:00:00Z", "close": 232.0},
                                         {"timestamp": "2024-12-20 11:00", "close": 233.0}])
    result = ws.history.upload(payload)
    ds = ws.history.prices([result["instrument_id"]], timeframe=3)
    assert [str(t)[:19] for t in ds["time"].values] == ["2024-12-20T09:00:00", "2024-12-20T10:00:00",
                                                        "2024-12-20T11:00:00"]
    # an end date includes that whole day's intraday bars; a start time cuts the ones before it
    day = ws.history.prices([result["instrument_id"]], start="2024-12-20", end="2024-12-20", timeframe=3)
    assert day.sizes["time"] == 3
    later = ws.history.prices([result["instrument_id"]], start="2024-12-20T10:00:00Z", timeframe=3)
    assert later.sizes["time"] == 2


def test_name_and_symbol_within_the_rules_are_stored(ws):
    payload = with_field(valid_payload(), name="Société Générale S.A. (Paris) — \"A\" shares!",
                         symbol="GLE.PA-1_A", mic="XPAR")
    instrument = ws.instruments.get(ws.history.upload(payload)["instrument_id"])
    assert (instrument.name, instrument.symbol) == (payload["name"], "GLE.PA-1_A")


def test_unknown_field_in_a_record_is_named_by_its_row(ws):
    payload = with_record(valid_payload(), 2, price=232.25)
    err = refuse(ws, payload)
    assert err.paths == ["history[2].price"]


def test_unknown_fields_on_many_records_are_summarised(ws):
    payload = valid_payload()
    payload["history"] = [{"timestamp": f"2024-11-{d:02d}", "close": 1.0, "adj": 1.0} for d in range(1, 21)]
    err = refuse(ws, payload)
    assert err.paths[:5] == [f"history[{i}].adj" for i in range(5)]
    assert len(err.paths) == 6 and "15 more rows" in err.problems[5].message


@pytest.mark.parametrize("cell", ["1_000", "١٠٠", "1e3", " 236.95", "Infinity", "0x10"])
def test_csv_numbers_are_read_strictly(ws, cell):
    from toolkit.market.history import read_csv_history

    text = ("Date,Open,High,Low,Close,Volume\n"
            "2024-12-18,236.05,238.40,234.10,235.70,1402311\n"
            f"2024-12-19,233.00,236.55,231.35,{cell},1873004\n")
    payload = {"isin": SAP, "currency": "EUR", "timeframe": 1, "history": read_csv_history(text)}
    err = refuse(ws, payload)
    assert "history[1].close" in err.paths, err.problems


def test_csv_upload_is_stored_number_for_number(ws):
    from toolkit.market.history import read_csv_history

    text = ("Date,Open,High,Low,Close,Adj Close,Volume\n"
            "2024-12-18,236.05,238.40,234.10,235.70,235.70,1402311\n"
            "2024-12-19,233.00,236.55,231.35,232.25,232.25,\n")
    records = read_csv_history(text.encode())
    assert records[0] == {"timestamp": "2024-12-18", "open": 236.05, "high": 238.40, "low": 234.10,
                          "close": 235.70, "volume": 1402311.0}
    assert records[1]["volume"] is None
