"""The risk platform's data endpoints in the façade, on a private copy of the demo workspace: PUT and
GET /history (``ws.history.upload`` / ``get``), GET /api and GET /user (``ws.api``), GET
/history/instrument (``ws.instruments.find``) and the instrument codes (``by_code``, ``resolve``), and
migration m017 (existing uploaded portfolios keep everything under the new identifiers)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from helpers import dump

from toolkit.contracts.risk.history import HistoryStatus
from toolkit.errors import NotFoundError, ValidationError
from toolkit.store.db import connect
from toolkit.store.migrations import MIGRATIONS, migrate
from toolkit.workspace import Workspace

EXAMPLES = Path(__file__).resolve().parent / "contracts" / "examples"
UPLOAD = json.loads((EXAMPLES / "risk-04-history-upload.json").read_text())["body"]


def sap(*bars: tuple[str, float], code: str = "SAP_XETR", currency: str = "EUR") -> dict:
    return {"instrument": {"instrument_code": code, "currency": currency, "name": "SAP SE",
                           "identifiers": {"symbol": "SAP", "isin": "DE0007164600"}},
            "timeframe_id": 1, "history": [{"datetime": d, "close": c} for d, c in bars]}


# =========================================================================== PUT /history


def test_the_seed_upload_goes_to_the_user_feed_never_to_a_shipped_series(ws: Workspace) -> None:
    shipped = ws.instruments.by_code("AAPL_XNGS", 8)
    before = ws.history.get({"instrument_code": "AAPL_XNGS", "apiid": "8"}).to_dict()
    status = ws.history.upload(UPLOAD)
    assert isinstance(status, HistoryStatus)  # the seed's body: the seed's answer
    answer = status.to_dict()
    assert answer["instrument"]["apiid"] == 91 and answer["instrument"]["source"] == "upload"
    assert answer["instrument"]["instrument_code"] == "AAPL_XNGS" and answer["n_records_uploaded"] == 1
    day = next(s for s in answer["historyStatus"] if s["timeframeid"] == 1)
    assert (day["timeframe_name"], day["n_records"], day["history_start"]) == ("Day", 1, "2023-10-27T00:00:00Z")
    assert day["fill_from"] == "2023-10-30T00:00:00Z"  # the next Nasdaq session after Friday 2023-10-27
    assert [s["timeframeid"] for s in answer["historyStatus"]] == [4, 3, 2, 1, 0]
    others = [s for s in answer["historyStatus"] if s["timeframeid"] != 1]
    assert all(s["last_updated"] == "N/A" and s["n_records"] == 0 for s in others)
    assert ws.history.get({"instrument_code": "AAPL_XNGS", "apiid": "8"}).to_dict() == before
    assert ws.instruments.by_code("AAPL_XNGS", 8) == shipped != ws.instruments.by_code("AAPL_XNGS", 91)
    # GET /history without apiid answers the user's own series first (the document: user inputted data)
    assert ws.history.get({"instrument_code": "AAPL_XNGS"}).instrument.apiid == 91


def test_a_second_upload_adds_bars_and_replaces_those_at_the_same_time(ws: Workspace) -> None:
    first = ws.history.upload(sap(("2024-12-18", 235.7), ("2024-12-19", 232.25)))
    again = ws.history.upload(json.dumps(sap(("2024-12-19", 232.5), ("2024-12-20", 235.3))))
    assert isinstance(first, HistoryStatus) and isinstance(again, HistoryStatus)
    assert first.instrument.instrument_id == again.instrument.instrument_id
    bars = ws.history.get({"instrument_code": "SAP_XETR", "timeframeid": "1"}).to_dict()["history"]
    assert [(b["datetime"], b["close"]) for b in bars] == [("2024-12-18T00:00:00Z", 235.7),
                                                           ("2024-12-19T00:00:00Z", 232.5),
                                                           ("2024-12-20T00:00:00Z", 235.3)]
    registered = ws.instruments.get(first.instrument.instrument_id)
    assert (registered.symbol, registered.mic, registered.isin, registered.country) == ("SAP", "XETR", "DE0007164600",
                                                                                        "DE")


def test_a_code_that_is_not_symbol_mic_is_kept_as_given(ws: Workspace) -> None:
    body = sap(("2024-12-18", 235.7), code="SAP.DE")
    answer = ws.history.upload(body)
    assert isinstance(answer, HistoryStatus)
    assert answer.instrument.instrument_code == "SAP.DE" and answer.instrument.identifiers.symbol == "SAP"
    assert ws.instruments.by_code("SAP.DE", 91) == answer.instrument.instrument_id
    assert ws.instruments.resolve("SAP.DE") == [answer.instrument.instrument_id]


def test_refused_uploads_change_nothing(ws: Workspace) -> None:
    ws.history.upload(sap(("2024-12-18", 235.7)))
    before = dump(ws)
    other = sqlite3.connect(str(ws.path))
    try:
        count = other.execute("SELECT count(*) FROM prices").fetchone()
        for body, paths in ((sap(("2024-12-19", 1.0), currency="USD"), ["instrument.currency"]),
                            ({**UPLOAD, "timeframe_id": 7}, ["timeframe_id"]),
                            ({**UPLOAD, "instrument": {**UPLOAD["instrument"], "instrument_code": "AAPL_XNAS"}},
                             ["instrument.exchange.mic_code"])):
            with pytest.raises(ValidationError) as refused:
                ws.history.upload(body)
            assert refused.value.paths == paths
            assert dump(ws) == before and other.execute("SELECT count(*) FROM prices").fetchone() == count
    finally:
        other.close()


# =========================================================================== GET /history


def test_get_answers_bars_in_a_currency_from_a_start(ws: Workspace) -> None:
    usd = ws.history.get({"instrument_code": "KO_XNYS", "apiid": "8", "timeframeid": "1",
                          "start_date": "2022-12-20T00:00:00Z"})
    chf = ws.history.get({"instrument_code": "KO_XNYS", "apiid": "8", "timeframeid": "1",
                          "start_date": "2022-12-20T00:00:00Z", "currency": "CHF"})
    assert usd.history is not None and chf.history is not None
    assert [b.datetime.date().isoformat() for b in usd.history][:2] == ["2022-12-20", "2022-12-21"]
    assert usd.currency == "USD" and chf.currency == "CHF" and len(usd.history) == len(chf.history) == 6
    rates = ws.history.rates.sel(time="2022-12-20")
    assert chf.history[0].close == pytest.approx(usd.history[0].close * float(rates.sel(currency="CHF") /
                                                                            rates.sel(currency="USD")), rel=1e-12)
    status = ws.history.get("KO_XNYS")
    exchange = status.instrument.exchange
    assert status.history is None and exchange is not None and exchange.mic_code == "XNYS"


@pytest.mark.parametrize("query, error, where", [
    ({"instrument_code": "AAPL_XNAS"}, NotFoundError, "AAPL_XNGS"),  # the code as written; the near one named
    ({"instrument_code": "KO_XNYS", "apiid": "91"}, NotFoundError, "apiid 8"),
    ({"instrument_code": "KO_XNYS", "apiid": "77"}, NotFoundError, "providers are"),
    ({"instrument_code": "KO_XNYS", "timeframeid": "9"}, ValidationError, "timeframeid"),
    ({"instrument_code": "KO_XNYS", "currency": "XXZ"}, ValidationError, "currency"),
    ({"instrument_code": "KO_XNYS", "timeframeid": "1", "currency": "ARS"}, ValidationError, "currency"),
    ({"instrument_code": "KO_XNYS", "start_date": "2020-01-02", "end_date": "2019-01-02"}, ValidationError,
     "end_date"),
])
def test_bad_history_queries_are_named(demo_ws: Workspace, query: dict, error: type, where: str) -> None:
    with pytest.raises(error) as refused:
        demo_ws.history.get(query)
    assert where in (refused.value.paths if isinstance(refused.value, ValidationError) else str(refused.value))


# =========================================================================== GET /api, GET /user


def test_providers_and_user(ws: Workspace) -> None:
    providers = ws.api.providers().to_dict()
    assert providers[0] == {"apiid": 91, "api_name": "User Feed", "sources": ["upload"], "instruments": 0,
                            "history_start": None, "history_end": None}
    skfolio = next(p for p in providers if p["apiid"] == 8)
    assert skfolio["instruments"] == 26 and (skfolio["history_start"], skfolio["history_end"]) == ("1990-01-02",
                                                                                                  "2022-12-28")
    assert len({p["apiid"] for p in providers}) == len(providers)
    ws.history.upload(sap(("2024-12-18", 235.7)))
    user = ws.api.user().to_dict()
    assert (user["userid"], user["credits_total"], user["email"]) == (91, 0, "")
    feed = user["subscriptions"][0]
    assert (feed["product_name"], feed["instruments"], feed["n_records"], feed["period_end"]) == \
        ("User Feed", 1, 1, "2024-12-18")
    # the subscriptions count daily bars; price_records every timeframe's
    assert user["price_records"] >= sum(s["n_records"] for s in user["subscriptions"])


# =========================================================================== GET /history/instrument, codes


def test_find_answers_instrument_objects_most_likely_first(demo_ws: Workspace) -> None:
    found = demo_ws.instruments.find({"searchstring": "microsoft"})
    assert [(i.instrument_code, i.apiid) for i in found] == [("MSFT_XNGS", 8), ("MSFT_XNGS", 13), ("MSFT_XNGS", 12)]
    assert [i.source for i in demo_ws.instruments.find({"isin": "US5949181045", "apiid": "12"})] == ["bokeh"]
    assert {i.instrument_code for i in demo_ws.instruments.find({"mic_code": "BATS"})} == \
        {"MTUM_BATS", "QUAL_BATS", "SIZE_BATS", "USMV_BATS", "VLUE_BATS"}
    assert len(demo_ws.instruments.find({"mic_code": "XNAS", "limit": "2"})) == 2
    assert demo_ws.instruments.find({"symbol": "NOPE"}).to_dict() == []
    with pytest.raises(ValidationError) as refused:
        demo_ws.instruments.find({"symbol": "AAPL", "mic": "XNGS"})
    assert refused.value.paths == ["mic"]


def test_codes_name_series_and_are_refused_by_path(demo_ws: Workspace) -> None:
    ko = demo_ws.instruments.by_code("KO_XNYS", 8)
    assert demo_ws.instruments.by_code("KO_XNYS") == demo_ws.instruments.by_code("KO_XNYS", "8") == ko
    assert demo_ws.instruments.resolve(["KO_XNYS", "ko_xnys"]) == [ko]
    assert demo_ws.instruments.by_code("SPX_XNYS", 11) != demo_ws.instruments.by_code("SPX_XNYS", 8)
    with pytest.raises(ValidationError) as refused:
        demo_ws.instruments.by_code("KO XNYS", "eight", path="benchmark_instrument_code")
    assert refused.value.paths == ["benchmark_instrument_code", "benchmark_apiid"]
    with pytest.raises(NotFoundError, match="at benchmark_instrument_code"):
        demo_ws.instruments.by_code("SPY_ARCX", 8, path="benchmark_instrument_code")


# =========================================================================== migration m017


def test_m017_keeps_every_uploaded_portfolio(tmp_path: Path, demo_path: Path) -> None:
    """A workspace from before m017, with a portfolio in the old form, migrated: the positions keep their
    ISIN, currency, quantity, levels and dates, and name the current series of their ISIN by code."""
    path = tmp_path / "old.db"
    database = connect(path)
    with database.conn:
        MIGRATIONS.apply(database, stop_before="m017_risk_codes")
    stamp = "2024-01-01T00:00:00+00:00"
    conn = database
    conn.conn.execute("INSERT INTO instruments (instrument_id, symbol, name, isin, mic, currency, asset_class, "
                      "instrument_type, sector, country, tradable, source, created_at) VALUES "
                      "('i-aapl', 'AAPL', 'Apple Inc.', 'US0378331005', 'XNAS', 'USD', 'Equity', 'Stock', NULL, 'US', "
                      "1, 'skfolio', ?)", (stamp,))
    conn.conn.execute("INSERT INTO prices (instrument_id, timeframe, time, close) "
                      "VALUES ('i-aapl', 1, '2020-01-02', 75)")
    conn.conn.execute("INSERT INTO risk_portfolios (id, name, capital, currency, payload, created_at, updated_at) "
                      "VALUES ('p1', 'Old book', '100000.00', 'USD', '{}', ?, ?)", (stamp, stamp))
    conn.conn.executemany(
        "INSERT INTO risk_portfolio_positions (portfolio_id, position, isin, currency, quantity, open_date, open_level,"
        " close_date, close_level) VALUES ('p1', ?, ?, 'USD', ?, ?, ?, ?, ?)",
        [(0, "US0378331005", "10", "2020-01-02", "75.5", None, None),
         (1, "US0231351067", "2", "2020-01-02", "1898.01", "2021-01-04", "3186.63")])
    conn.conn.execute("INSERT INTO risk_portfolio_wishlist (portfolio_id, position, isin, currency) "
                      "VALUES ('p1', 0, 'US0378331005', 'USD')")
    conn.conn.commit()
    assert migrate(database)[:2] == ["m017_risk_codes", "m018_instrument_codes"]
    assert database.conn.execute("SELECT mic FROM instruments").fetchone() == ("XNGS",)
    rows = database.conn.execute(
        "SELECT instrument_code, apiid, direction, size, level, date_open, close, date_close, isin, currency "
        "FROM risk_portfolio_positions ORDER BY position").fetchall()
    assert rows == [("AAPL_XNGS", 8, "Long", "10", "75.5", "2020-01-02T00:00:00Z", None, None, "US0378331005", "USD"),
                    ("US0231351067", 91, "Long", "2", "1898.01", "2020-01-02T00:00:00Z", "3186.63",
                     "2021-01-04T00:00:00Z", "US0231351067", "USD")]
    assert database.conn.execute("SELECT instrument_code, apiid, direction, isin FROM risk_portfolio_wishlist"
                                 ).fetchall() == [("AAPL_XNGS", 8, "Long", "US0378331005")]
    database.close()
    ws = Workspace.open(path)
    try:
        answer = ws.portfolios.get("p1").to_dict()
        assert answer["capital"]["funds"] == 100000 and answer["name"] == "Old book"
        assert [p["size"] for p in answer["positions"]] == [10, 2] and answer["positions"][1]["close"] == "3186.63"
        assert answer["data_load"] == "50%"
    finally:
        ws.close()
