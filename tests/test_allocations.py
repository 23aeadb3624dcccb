"""Allocations (model portfolios): the seed's payloads, versions, list filters, events, bad input."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest
from helpers import dump

from toolkit.errors import NotFoundError, ValidationError
from toolkit.workspace import Workspace

AAPL, MSFT, JPM, SPX = "US0378331005", "US5949181045", "US46625H1005", "US78378X1072"


def item(key: str, weight: str, kind: str = "ISIN") -> dict:
    return {"instrument_id": key, "instrument_id_type": kind, "weight": weight}


def balanced() -> dict:
    return {"name": "Balanced US equity", "allocation": [item(AAPL, "0.40"), item(MSFT, "0.35"), item(JPM, "0.25")]}


def test_create_answers_in_the_seed_shape(ws: Workspace) -> None:
    created = ws.allocations.create(balanced())
    body = created.to_dict()
    assert body["name"] == "Balanced US equity" and body["version"] == 1
    assert [(a["symbol"], a["weight"]) for a in body["allocation"]] == [("AAPL", "0.40"), ("MSFT", "0.35"),
                                                                        ("JPM", "0.25")]
    # the seed's identifier type of the workspace's instrument UUIDs (brokerage document, line 146)
    assert all(a["instrument_id_type"] == "UPVEST" for a in body["allocation"])
    assert body["allocation_id"] == created.id and "id" not in body  # the seed's key (line 39)
    assert ws.allocations.get(created.id) == created
    weights = created.to_xarray()
    assert weights.dims == ("instrument",) and float(weights.sum()) == pytest.approx(1.0)
    assert list(weights["symbol"].values) == ["AAPL", "MSFT", "JPM"]


def test_uuid_and_isin_name_the_same_series(ws: Workspace) -> None:
    first = ws.allocations.create(balanced())
    by_uuid = {"allocation": [item(i.instrument_id, format(i.weight, "f"), "UUID") for i in first.items]}
    second = ws.allocations.create(by_uuid)
    assert [i.instrument_id for i in second.items] == [i.instrument_id for i in first.items]
    assert second.name is None  # a name is optional


def test_replace_keeps_every_version_readable_as_of_its_date(ws: Workspace) -> None:
    first = ws.allocations.create(balanced())
    second = ws.allocations.replace(first.id, {"name": "All Apple", "allocation": [item(AAPL, "1")]})
    assert second.version == 2 and second.created_at == first.created_at
    assert [i.symbol for i in second.items] == ["AAPL"]
    assert ws.allocations.get(first.id) == second
    assert ws.allocations.get(first.id, as_of=first.valid_from).items == first.items
    assert ws.allocations.get(first.id, as_of=second.valid_from).version == 2
    with pytest.raises(NotFoundError, match="did not exist yet"):
        ws.allocations.get(first.id, as_of="2000-01-01")


def test_events_are_written_with_each_change(ws: Workspace) -> None:
    first = ws.allocations.create(balanced())
    ws.allocations.replace(first.id, {"allocation": [item(MSFT, "1")]})
    events = ws.events.list(resource_id=first.id)
    assert list(events["type"]) == ["PORTFOLIO_ALLOCATION.CREATED", "PORTFOLIO_ALLOCATION.UPDATED"]


def test_list_filters_by_instrument_date_and_limit(ws: Workspace) -> None:
    a = ws.allocations.create(balanced())
    b = ws.allocations.create({"allocation": [item(MSFT, "1")]})
    c = ws.allocations.create({"allocation": [item(JPM, "0.5"), item(AAPL, "0.5")]})
    ids = lambda found: [x.id for x in found]  # noqa: E731
    assert ids(ws.allocations.list()) == [c.id, b.id, a.id]  # newest first
    assert ids(ws.allocations.list(instrument_ids=[MSFT])) == [b.id, a.id]
    assert ids(ws.allocations.list(instrument_ids=[a.items[2].instrument_id])) == [c.id, a.id]  # JPM by UUID
    today = a.created_at[:10]
    assert ids(ws.allocations.list(start_date=today, end_date=today)) == [c.id, b.id, a.id]  # inclusive
    assert ws.allocations.list(end_date="2000-01-01") == []
    assert ids(ws.allocations.list(limit=1)) == [c.id]
    ws.allocations.replace(a.id, {"allocation": [item(AAPL, "1")]})
    assert ids(ws.allocations.list(instrument_ids=[MSFT])) == [b.id]  # the current version counts
    table = ws.allocations.table(instrument_ids=[AAPL])
    assert set(table["allocation_id"]) == {a.id, c.id} and set(table["symbol"]) == {"AAPL", "JPM"}


@pytest.mark.parametrize("limit", [0, 1001, "10", True, 2.5])
def test_list_limit_is_1_to_1000(ws: Workspace, limit: object) -> None:
    with pytest.raises(ValidationError) as err:
        ws.allocations.list(limit=limit)  # type: ignore[arg-type]  # refused
    assert err.value.paths == ["limit"]


def test_list_rejects_malformed_filters_naming_each(ws: Workspace) -> None:
    with pytest.raises(ValidationError) as err:
        ws.allocations.list(instrument_ids=[AAPL, "not-an-id"], start_date="2024-13-01", end_date="soon")
    assert err.value.paths == ["instrument_ids[1]", "start_date", "end_date"]


BAD = {
    "weights sum to 0.999": ({"allocation": [item(AAPL, "0.5"), item(MSFT, "0.499")]},
                             {"allocation": "weights sum to 0.999"}),
    "weights sum above 1": ({"allocation": [item(AAPL, "0.5"), item(MSFT, "0.6")]},
                            {"allocation": "sum to 1.1"}),
    "negative weight": ({"allocation": [item(AAPL, "1.5"), item(MSFT, "-0.5")]},
                        {"allocation[0].weight": "not in (0, 1]", "allocation[1].weight": "greater than 0"}),
    "zero weight": ({"allocation": [item(AAPL, "1"), item(MSFT, "0")]}, {"allocation[1].weight": "greater than 0"}),
    "duplicate ISIN": ({"allocation": [item(AAPL, "0.5"), item(AAPL, "0.5")]},
                       {"allocation[1].instrument_id": "lists US0378331005 again"}),
    "unknown instrument": ({"allocation": [item("DE0007164600", "1")]},
                           {"allocation[0].instrument_id": "no tradable instrument with ISIN DE0007164600"}),
    "index is not tradable": ({"allocation": [item(SPX, "1")]}, {"allocation[0].instrument_id": "no tradable"}),
    "invalid ISIN": ({"allocation": [item("US0378331006", "1")]}, {"allocation[0].instrument_id": "not a valid ISIN"}),
    "invalid UUID": ({"allocation": [item("1234", "1", "UUID")]}, {"allocation[0].instrument_id": "not a UUID"}),
    "unknown UUID": ({"allocation": [item("00000000-0000-0000-0000-000000000000", "1", "UUID")]},
                     {"allocation[0].instrument_id": "no instrument with id"}),
    "unknown id type": ({"allocation": [item(AAPL, "1", "CUSIP")]},
                        {"allocation[0].instrument_id_type": "not one of ISIN, UPVEST"}),
    "malformed weight": ({"allocation": [item(AAPL, "0,5"), item(MSFT, "0.5")]},
                         {"allocation[0].weight": "not a decimal number"}),
    "weight as a float": ({"allocation": [{"instrument_id": AAPL, "instrument_id_type": "ISIN", "weight": 1.0}]},
                          {"allocation[0].weight": "expected a decimal string"}),
    "too many decimals": ({"allocation": [item(AAPL, "0.123456789"), item(MSFT, "0.876543211")]},
                          {"allocation[0].weight": "more than 8 decimals", "allocation[1].weight": "more than 8"}),
    "no instruments": ({"name": "Empty", "allocation": []}, {"allocation": "at least one instrument"}),
    "no allocation field": ({"name": "Nothing"}, {"allocation": "at least one instrument"}),
    "injection in the name": ({"name": "x'); DROP TABLE allocations;--", "allocation": [item(AAPL, "1")]},
                              {"name": "letters, digits"}),
    "markup in the name": ({"name": "<script>alert(1)</script>", "allocation": [item(AAPL, "1")]},
                           {"name": "letters, digits"}),
    "name not a string": ({"name": 7, "allocation": [item(AAPL, "1")]}, {"name": "expected a string"}),
    "unknown field": ({"allocation": [item(AAPL, "1")], "currency": "USD"}, {"currency": "unknown field"}),
    "record not an object": ({"allocation": [item(AAPL, "1"), "MSFT"]}, {"allocation[1]": "expected an object"}),
}


@pytest.mark.parametrize("payload, expected", BAD.values(), ids=BAD.keys())
def test_bad_allocation_is_refused_whole_and_changes_nothing(ws: Workspace, payload: dict,
                                                             expected: dict[str, str]) -> None:
    existing = ws.allocations.create(balanced())
    before = dump(ws)
    for attempt in (lambda: ws.allocations.create(payload), lambda: ws.allocations.replace(existing.id, payload)):
        with pytest.raises(ValidationError) as err:
            attempt()
        messages = {p.path: p.message for p in err.value.problems}
        assert set(messages) == set(expected), messages
        for path, fragment in expected.items():
            assert fragment in messages[path]
        assert "Nothing was saved" in str(err.value)
    assert dump(ws) == before


def test_every_violation_is_listed_at_once(ws: Workspace) -> None:
    with pytest.raises(ValidationError) as err:
        ws.allocations.create({"name": "a;b", "allocation": [item(AAPL, "0.5"), item(AAPL, "0.499"),
                                                            item("XX", "0.002", "CUSIP")]})
    assert err.value.paths == ["name", "allocation[1].instrument_id", "allocation[2].instrument_id_type",
                               "allocation"]


def test_payload_not_an_object(ws: Workspace) -> None:
    with pytest.raises(ValidationError) as err:
        ws.allocations.create([item(AAPL, "1")])
    assert "expected a JSON object" in str(err.value)


def test_replace_of_an_unknown_allocation_changes_nothing(ws: Workspace) -> None:
    before = dump(ws)
    with pytest.raises(NotFoundError, match="No allocation"):
        ws.allocations.replace("00000000-0000-0000-0000-000000000000", balanced())
    assert dump(ws) == before


def test_a_failed_event_write_rolls_the_allocation_back(ws: Workspace, monkeypatch) -> None:
    from toolkit.store.events import EventRepository

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    before = dump(ws)
    monkeypatch.setattr(EventRepository, "record", broken)
    with pytest.raises(RuntimeError):
        ws.allocations.create(balanced())
    assert dump(ws) == before


def test_weights_are_kept_as_exact_decimal_strings(ws: Workspace) -> None:
    thirds = {"allocation": [item(AAPL, "0.33333333"), item(MSFT, "0.33333333"), item(JPM, "0.33333334")]}
    created = ws.allocations.create(thirds)
    assert sum(i.weight for i in created.items) == Decimal(1)
    with sqlite3.connect(ws.path) as conn:
        stored = [r[0] for r in conn.execute("SELECT weight FROM allocation_weights ORDER BY position")]
    assert stored == ["0.33333333", "0.33333333", "0.33333334"]


def test_an_unnamed_allocation_is_none_everywhere_it_is_answered(ws: Workspace) -> None:
    """Issue 18: ``list()`` answered NaN for an unnamed allocation beside named ones (invalid JSON)."""
    import json

    named = ws.allocations.create(balanced())
    unnamed = ws.allocations.create({"allocation": [item(MSFT, "1")]})
    assert ws.allocations.get(unnamed.id).name is None
    listed = {a.id: a for a in ws.allocations.list()}
    assert listed[unnamed.id].name is None and listed[named.id].name == "Balanced US equity"
    text = json.dumps([a.to_dict() for a in ws.allocations.list()], allow_nan=False)
    assert '"name": null' in text
    table = ws.allocations.table()
    assert table.loc[table["allocation_id"] == unnamed.id, "name"].tolist() == [None]
    assert json.loads(table.to_json(orient="records"))[0]["name"] is None


def test_list_takes_date_objects_and_iso_texts_alike(ws: Workspace) -> None:
    import datetime as dt

    created = ws.allocations.create(balanced())
    day = dt.date.fromisoformat(created.created_at[:10])
    assert [a.id for a in ws.allocations.list(start_date=day, end_date=day)] == [created.id]
    assert [a.id for a in ws.allocations.list(start_date=day.isoformat())] == [created.id]
    assert ws.allocations.list(start_date=day + dt.timedelta(days=1)) == []
    assert ws.allocations.list(end_date=day - dt.timedelta(days=1)) == []


@pytest.mark.parametrize("bad", [20220101, "2022/01/01", 2022.0, ["2022-01-01"], "20220101"])
def test_list_refuses_other_dates_by_name(ws: Workspace, bad: object) -> None:
    import datetime as dt

    import pandas as pd

    for value in (bad, dt.datetime(2022, 1, 1), pd.Timestamp("2022-01-01")):
        with pytest.raises(ValidationError) as err:
            ws.allocations.list(start_date=value, end_date=value)  # type: ignore[arg-type]  # refused
        assert err.value.paths == ["start_date", "end_date"]


def _series(ws: Workspace, symbol: str, source: str) -> str:
    table = ws.instruments.table()
    return table.query("symbol == @symbol and source == @source")["instrument_id"].iloc[0]


def test_a_series_that_ended_years_ago_is_refused_naming_its_last_date_and_the_current_one(ws: Workspace) -> None:
    """Issue 18: AAPL from bokeh (to 2013) was accepted and filled at 2013 prices."""
    old_aapl, old_msft, ibm = _series(ws, "AAPL", "bokeh"), _series(ws, "MSFT", "pmdarima"), _series(ws, "IBM", "bokeh")
    current = _series(ws, "AAPL", "skfolio")
    before = dump(ws)
    with pytest.raises(ValidationError) as err:
        ws.allocations.create({"allocation": [item(old_aapl, "0.4", "UUID"), item(old_msft, "0.3", "UUID"),
                                              item(ibm, "0.3", "UUID")]})
    assert err.value.paths == [f"allocation[{i}].instrument_id" for i in range(3)]
    text = str(err.value)
    assert "only until 2013-03-01" in text and "only until 2017-11-10" in text and "2022-12-28" in text
    assert f"use the current series of ISIN {AAPL}: {current}" in text
    assert "no series of ISIN US4592001014 has current prices" in text
    assert dump(ws) == before
    with pytest.raises(ValidationError, match="only until 2013-03-01") as err:
        ws.allocations.create({"allocation": [item("US4592001014", "1")]})  # IBM ships from bokeh only
    assert err.value.paths == ["allocation[0].instrument_id"]
    first = ws.allocations.create(balanced())
    with pytest.raises(ValidationError, match="only until 2013-03-01"):
        ws.allocations.replace(first.id, {"allocation": [item(old_aapl, "1", "UUID")]})
    assert ws.allocations.get(first.id).version == 1


def test_an_isin_names_the_series_with_the_latest_prices(ws: Workspace) -> None:
    created = ws.allocations.create({"allocation": [item(AAPL, "0.5"), item(MSFT, "0.5")]})
    assert [i.instrument_id for i in created.items] == [_series(ws, "AAPL", "skfolio"), _series(ws, "MSFT", "skfolio")]
    assert ws.instruments.resolve(["MSFT", MSFT]) == [_series(ws, "MSFT", "skfolio")]


def test_staleness_is_judged_at_the_market_clock(ws: Workspace) -> None:
    old_aapl = _series(ws, "AAPL", "bokeh")  # to 2013-03-01
    ws.clock = "2013-03-05"
    assert ws.allocations.create({"allocation": [item(old_aapl, "1", "UUID")]}).items[0].instrument_id == old_aapl
    ws.clock = "2013-03-12"  # eleven days after its last close
    with pytest.raises(ValidationError, match="only until 2013-03-01, more than 10 days before the market date "
                                              "2013-03-12") as err:
        ws.allocations.create({"allocation": [item(old_aapl, "1", "UUID")]})
    assert err.value.paths == ["allocation[0].instrument_id"]
