"""The risk platform's data contracts (``toolkit.contracts.risk.history`` and ``.portfolio``) and the
market layer's identifiers (instrument codes, MICs, providers): every seed example of GET /user,
GET /api, GET and PUT /history, GET /history/instrument, POST /history/coverage, PUT and GET
/portfolio and GET /constraints/* read by its model, and the unhappy paths named by field path."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal

import pandas as pd
import pytest
from contract_examples import EXAMPLES

from toolkit.contracts.base import read
from toolkit.contracts.risk import history as h
from toolkit.contracts.risk import portfolio as p
from toolkit.contracts.risk.common import Exchange, InstrumentRef, rfc3339
from toolkit.errors import ValidationError
from toolkit.market import exchanges, providers
from toolkit.market.calendars import calendar
from toolkit.market.instruments import (
    by_code,
    describe,
    instrument_code,
    near_codes,
    search,
    with_codes,
)
from toolkit.schema import Timeframe


def example(name: str) -> dict:
    return json.loads((EXAMPLES / f"{name}.json").read_text())


def paths(call, *args, **kwargs) -> set[str]:
    with pytest.raises(ValidationError) as info:
        call(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message and message.endswith(".")
    return set(info.value.paths)


def refused(model, payload) -> set[str]:
    def check():
        found = read(model, payload)
        problems = found.problems() if hasattr(found, "problems") else []
        if problems:
            raise ValidationError(problems)
    return paths(check)


UPLOAD = example("risk-04-history-upload")["body"]
PORTFOLIO = example("risk-10-portfolio-upload")["body"]


def changed(payload: dict, path: str, value: object) -> dict:
    """``payload`` with ``value`` at the dotted ``path`` (``positions.0.close``); ``...`` deletes."""
    out = copy.deepcopy(payload)
    *parents, last = path.split(".")
    node = out
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is ...:
        del node[int(last) if isinstance(node, list) else last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return out


# =========================================================================== the seed's examples


def test_history_upload_example_is_read_with_its_bar():
    model, frame = h.read_upload(UPLOAD)
    assert model.instrument.instrument_code == "AAPL_XNGS" and model.timeframe_id is Timeframe.DAY
    assert (model.instrument.symbol, model.instrument.mic, model.instrument.isin) == ("AAPL", "XNGS", "US0378331005")
    # a daily bar with a time of day names its day (UTC)
    assert list(frame.index) == [pd.Timestamp("2023-10-27")]
    assert frame.iloc[0].to_dict() == {"open": 100.0, "high": 120.1, "low": 99.2, "close": 111.1, "volume": 231654.0}


def test_history_upload_example_is_read_from_json_text():
    model, frame = h.read_upload(json.dumps(UPLOAD))
    assert model.instrument.identifiers.figi == "BBG000B9Y5X2" and len(frame) == 1


def test_history_query_example_with_the_code_it_leaves_out():
    query = read(h.HistoryQuery, {"instrument_code": "AAPL_XNGS", **example("risk-02-history-status-query")["query"]})
    assert (query.instrument_code, query.currency, query.timeframeid, query.apiid) == ("AAPL_XNGS", "CHF", None, None)


def test_history_query_reads_a_query_strings_texts():
    query = read(h.HistoryQuery, {"instrument_code": "AAPL_XNGS", "timeframeid": "1", "apiid": "8",
                                  "start_date": "2019-10-12T07:20:50Z"})
    assert query.timeframeid is Timeframe.DAY and query.apiid == 8
    assert query.start_date == datetime(2019, 10, 12, 7, 20, 50, tzinfo=UTC)
    assert query.to_dict()["start_date"] == "2019-10-12T07:20:50Z"


def test_history_status_example_matches_the_answer_model():
    body = example("risk-03-history-status")["body"]
    for row in body["historyStatus"]:
        h.TimeframeStatus.model_validate(row)
    assert {"instrument", "historyStatus"} <= set(h.HistoryStatus.model_fields)
    assert set(body["instrument"]) <= set(h.InstrumentInfo.model_fields)


def test_instrument_search_example_query_is_read():
    query = read(h.InstrumentQuery, example("risk-06-instrument-search-query")["query"])
    assert (query.symbol, query.mic_code, query.isin, query.currency, query.limit) == \
        ("AAPL", "XNGS", "US0378331005", "USD", 50)


def test_instrument_search_answer_has_the_seeds_keys():
    body = example("risk-07-instrument-search")["body"][0]
    assert set(body) <= set(h.InstrumentInfo.model_fields)
    assert set(body["exchange"]) <= set(Exchange.model_fields)


def test_coverage_example_is_read():
    fixture = example("risk-08-coverage-request")
    pairs = h.read_pairs(fixture["body"])
    assert [(x.isin, x.currency) for x in pairs] == [("US0378331005", "USD"), ("US4592001014", "USD")]
    assert read(h.CoverageQuery, fixture["query"]).format_output == "JSON"
    assert set(example("risk-09-coverage")["body"][0]) <= set(h.CoverageAnswer.model_fields)


def test_provider_and_user_examples_fit_their_models():
    for row in example("risk-05-pricing-providers")["body"]:
        assert h.Provider.model_validate(row).to_dict()["apiid"] == row["apiid"]
    assert set(example("risk-01-user-status")["body"]) <= set(h.UserStatus.model_fields)
    assert set(example("risk-01-user-status")["body"]["subscriptions"][0]) <= set(h.Subscription.model_fields)


def test_portfolio_upload_example_is_read_with_the_capital_object():
    upload = read(p.PortfolioUpload, PORTFOLIO)
    assert upload.problems() == []
    assert upload.capital.funds == Decimal("0.1") and upload.capital.print_funds == "string"
    position = upload.positions[0]
    assert (position.instrument_code, position.apiid, position.direction) == ("TSLA_XNGS", 8, "Long")
    assert (position.size, position.level, position.close) == (Decimal(100), Decimal(240), Decimal("395.1"))
    assert rfc3339(position.date_open) == "2024-01-03T15:43:45Z"
    assert upload.wishlist[0].instrument == InstrumentRef(instrument_code="TSLA_XNGS", apiid=8)


def test_portfolio_status_example_round_trips_its_keys_and_types():
    body = example("risk-11-portfolio-status")["body"][0]
    answer = p.PortfolioStatus.model_validate(body).to_dict()
    for key in ("capital", "wishlist", "data_load", "client_reference"):
        assert {k: v for k, v in answer[key].items() if k in body[key]} == body[key] if isinstance(body[key], dict) \
            else answer[key] == body[key]
    position = {k: v for k, v in answer["positions"][0].items() if k in body["positions"][0]}
    assert position == body["positions"][0]  # close stays the text "395.1", size and level numbers


@pytest.mark.parametrize("name", ["risk-12-constraint-geographies", "risk-13-constraint-sectors",
                                  "risk-14-constraint-currencies", "risk-15-constraint-asset-classes"])
def test_constraint_universe_examples_fit_the_item_model(name):
    for row in example(name)["body"]:
        assert {k: v for k, v in p.UniverseItem.model_validate(row).to_dict().items() if k in row} == row


# =========================================================================== unhappy paths: PUT /history

NOW = datetime(2025, 1, 1, tzinfo=UTC)

BAD_UPLOADS = [
    ("code with a space", changed(UPLOAD, "instrument.instrument_code", "AAPL XNGS"), {"instrument.instrument_code"}),
    ("code missing", changed(UPLOAD, "instrument.instrument_code", ...), {"instrument.instrument_code"}),
    ("lower-case MIC", changed(UPLOAD, "instrument.exchange.mic_code", "xngs"), {"instrument.exchange.mic_code"}),
    ("MIC not the code's", changed(UPLOAD, "instrument.exchange.mic_code", "XNAS"), {"instrument.exchange.mic_code"}),
    ("symbol not the code's", changed(UPLOAD, "instrument.identifiers.symbol", "MSFT"),
     {"instrument.identifiers.symbol"}),
    ("bad ISIN check digit", changed(UPLOAD, "instrument.identifiers.isin", "US0378331006"),
     {"instrument.identifiers.isin"}),
    ("lower-case ISIN", changed(UPLOAD, "instrument.identifiers.isin", "us0378331005"),
     {"instrument.identifiers.isin"}),
    ("bad FIGI", changed(UPLOAD, "instrument.identifiers.figi", "BBG000B9Y5X3"), {"instrument.identifiers.figi"}),
    ("lower-case currency", changed(UPLOAD, "instrument.currency", "usd"), {"instrument.currency"}),
    ("currency missing", changed(UPLOAD, "instrument.currency", ...), {"instrument.currency"}),
    ("unknown instrument field", changed(UPLOAD, "instrument.coupon", 2.5), {"instrument.coupon"}),
    ("asset class not the seed's", changed(UPLOAD, "instrument.asset_class", "Stocks"), {"instrument.asset_class"}),
    ("markup in name", changed(UPLOAD, "instrument.name", "<b>Apple</b>"), {"instrument.name"}),
    ("negative deposit factor", changed(UPLOAD, "instrument.margin_data.deposit_factor", -1),
     {"instrument.margin_data.deposit_factor"}),
    ("timeframe 5", changed(UPLOAD, "timeframe_id", 5), {"timeframe_id"}),
    ("timeframe as text", changed(UPLOAD, "timeframe_id", "1"), {"timeframe_id"}),
    ("timeframe missing", changed(UPLOAD, "timeframe_id", ...), {"timeframe_id"}),
    ("the toolkit's old timeframe key", changed(UPLOAD, "timeframe", 1), {"timeframe"}),
    ("unknown top-level field", changed(UPLOAD, "comment", "x"), {"comment"}),
    ("history missing", changed(UPLOAD, "history", ...), {"history"}),
    ("empty history", changed(UPLOAD, "history", []), {"history"}),
    ("text price", changed(UPLOAD, "history.0.close", "111.1"), {"history[0].close"}),
    ("zero low", changed(UPLOAD, "history.0.low", 0), {"history[0].low"}),
    ("high below the close", changed(UPLOAD, "history.0.high", 110), {"history[0].high"}),
    ("negative volume", changed(UPLOAD, "history.0.volume", -1), {"history[0].volume"}),
    ("the old timestamp key", changed(changed(UPLOAD, "history.0.datetime", ...), "history.0.timestamp",
                                      "2023-10-27"), {"history[0].timestamp", "history[].datetime"}),
    ("not RFC 3339", changed(UPLOAD, "history.0.datetime", "27/10/2023"), {"history[0].datetime"}),
    ("a bar after now", changed(UPLOAD, "history.0.datetime", "2025-01-02T00:00:00Z"), {"history[0].datetime"}),
]


@pytest.mark.parametrize("payload, expected", [pytest.param(b, e, id=i) for i, b, e in BAD_UPLOADS])
def test_bad_history_upload_is_refused_naming_the_field(payload, expected):
    assert paths(h.read_upload, payload, now=NOW) == expected


def test_every_problem_of_an_upload_in_one_error():
    payload = changed(changed(changed(UPLOAD, "timeframe_id", 9), "instrument.currency", "EURO"),
                      "history.0.volume", -1)
    assert paths(h.read_upload, payload, now=NOW) == {"timeframe_id", "instrument.currency", "history[0].volume"}


@pytest.mark.parametrize("payload", [[UPLOAD], "[1, 2]", None, 7, "{not json"])
def test_upload_that_is_not_an_object_is_refused_at_the_root(payload):
    assert paths(h.read_upload, payload) == {""}


def test_two_daily_bars_on_one_day_are_duplicates_but_intraday_bars_are_not():
    bars = [{"datetime": "2023-10-27T09:00:00Z", "close": 1.0}, {"datetime": "2023-10-27T15:00:00Z", "close": 2.0}]
    assert paths(h.read_upload, changed(UPLOAD, "history", bars), now=NOW) == {"history[1].datetime"}
    model, frame = h.read_upload(changed(changed(UPLOAD, "history", bars), "timeframe_id", 3), now=NOW)
    assert list(frame.index) == [pd.Timestamp("2023-10-27 09:00"), pd.Timestamp("2023-10-27 15:00")]


def test_bar_times_with_an_offset_are_read_in_utc():
    bars = [{"datetime": "2023-10-27T10:00:00+02:00", "close": 1.0}, {"datetime": "2023-10-27T09:00:00", "close": 2.0}]
    _, frame = h.read_upload(changed(changed(UPLOAD, "history", bars), "timeframe_id", 3), now=NOW)
    assert list(frame.index) == [pd.Timestamp("2023-10-27 08:00"), pd.Timestamp("2023-10-27 09:00")]


# =========================================================================== unhappy paths: queries


@pytest.mark.parametrize("query, expected", [
    ({}, {"instrument_code"}),
    ({"instrument_code": "AAPL_XNGS", "timeframeid": "7"}, {"timeframeid"}),
    ({"instrument_code": "AAPL_XNGS", "timeframeid": "1.0"}, {"timeframeid"}),
    ({"instrument_code": "AAPL_XNGS", "apiid": " 8"}, {"apiid"}),
    ({"instrument_code": "AAPL_XNGS", "apiid": "0"}, {"apiid"}),
    ({"instrument_code": "AAPL_XNGS", "apiid": "+8"}, {"apiid"}),
    ({"instrument_code": "AAPL_XNGS", "currency": "chf"}, {"currency"}),
    ({"instrument_code": "AAPL_XNGS", "start_date": "12/10/2019"}, {"start_date"}),
    ({"instrument_code": "AAPL_XNGS", "start_date": "2020-01-02", "end_date": "2020-01-01"}, {"end_date"}),
    ({"instrument_code": "AAPL_XNGS", "instrument": "AAPL"}, {"instrument"}),
])
def test_bad_history_query_is_refused_naming_the_parameter(query, expected):
    assert refused(h.HistoryQuery, query) == expected


@pytest.mark.parametrize("query, expected", [
    ({"mic_code": "xngs"}, {"mic_code"}),
    ({"mic_code": "XNGS1"}, {"mic_code"}),
    ({"isin": "US0378331006"}, {"isin"}),
    ({"symbol": "AAPL INC"}, {"symbol"}),
    ({"searchstring": "<script>"}, {"searchstring"}),
    ({"limit": "0"}, {"limit"}),
    ({"limit": "1001"}, {"limit"}),
    ({"text": "apple"}, {"text"}),
])
def test_bad_instrument_search_is_refused_naming_the_parameter(query, expected):
    assert refused(h.InstrumentQuery, query) == expected


@pytest.mark.parametrize("body, expected", [
    ([{"isin": "US0378331006", "currency": "USD"}], {"[0].isin"}),
    ([{"isin": "US0378331005", "currency": "usd"}, {"isin": "US4592001014"}], {"[0].currency", "[1].currency"}),
    ([{"isin": "US0378331005", "currency": "USD", "mic": "XNGS"}], {"[0].mic"}),
    ([{"isin": "US0378331005", "currency": "USD"}, "US4592001014"], {"[1]"}),
    ([], {""}),
    ({"isin": "US0378331005", "currency": "USD"}, {""}),
])
def test_bad_coverage_body_is_refused_naming_the_pair(body, expected):
    assert paths(h.read_pairs, body) == expected


@pytest.mark.parametrize("query, expected", [({"method": "ISIN"}, {"method"}), ({}, {"method"}),
                                             ({"method": "ISIN_CURRENCY", "format_output": "XML"}, {"format_output"})])
def test_bad_coverage_query_is_refused(query, expected):
    assert refused(h.CoverageQuery, query) == expected


# =========================================================================== unhappy paths: portfolios

BAD_PORTFOLIOS = [
    ("capital missing", changed(PORTFOLIO, "capital", ...), {"capital"}),
    ("capital a number", changed(PORTFOLIO, "capital", 100000), {"capital"}),
    ("capital currency missing", changed(PORTFOLIO, "capital.currency", ...), {"capital.currency"}),
    ("negative funds", changed(PORTFOLIO, "capital.funds", -5), {"capital.funds"}),
    ("funds beyond the cent", changed(PORTFOLIO, "capital.funds", 0.001), {"capital.funds"}),
    ("funds as words", changed(PORTFOLIO, "capital.funds", "lots"), {"capital.funds"}),
    ("wishlist missing", changed(PORTFOLIO, "wishlist", ...), {"wishlist"}),
    ("wish direction lower case", changed(PORTFOLIO, "wishlist.0.direction", "long"), {"wishlist[0].direction"}),
    ("wish without apiid", changed(PORTFOLIO, "wishlist.0.instrument.apiid", ...), {"wishlist[0].instrument.apiid"}),
    ("wish apiid as text", changed(PORTFOLIO, "wishlist.0.instrument.apiid", "8"), {"wishlist[0].instrument.apiid"}),
    ("wish by ISIN, the toolkit's old form", changed(PORTFOLIO, "wishlist.0", {"isin": "US88160R1014"}),
     {"wishlist[0].isin", "wishlist[0].instrument", "wishlist[0].direction"}),
    ("position direction Buy", changed(PORTFOLIO, "positions.0.direction", "Buy"), {"positions[0].direction"}),
    ("position direction missing", changed(PORTFOLIO, "positions.0.direction", ...), {"positions[0].direction"}),
    ("zero size", changed(PORTFOLIO, "positions.0.size", 0), {"positions[0].size"}),
    ("negative level", changed(PORTFOLIO, "positions.0.level", -240), {"positions[0].level"}),
    ("date_open not a date", changed(PORTFOLIO, "positions.0.date_open", "03/01/2024"), {"positions[0].date_open"}),
    ("close without date_close", changed(PORTFOLIO, "positions.0.date_close", ...), {"positions[0].date_close"}),
    ("date_close without close", changed(PORTFOLIO, "positions.0.close", ...), {"positions[0].close"}),
    ("closed before opened", changed(PORTFOLIO, "positions.0.date_close", "2023-12-31T00:00:00Z"),
     {"positions[0].date_close"}),
    ("negative stop", changed(PORTFOLIO, "positions.0.stop", -1), {"positions[0].stop"}),
    ("the toolkit's old quantity", changed(PORTFOLIO, "positions.0.quantity", 100), {"positions[0].quantity"}),
    ("code with markup", changed(PORTFOLIO, "positions.0.instrument_code", "<TSLA>"),
     {"positions[0].instrument_code"}),
]


@pytest.mark.parametrize("payload, expected", [pytest.param(b, e, id=i) for i, b, e in BAD_PORTFOLIOS])
def test_bad_portfolio_upload_is_refused_naming_the_field(payload, expected):
    assert refused(p.PortfolioUpload, payload) == expected


def test_an_instrument_twice_in_the_wishlist_is_refused():
    payload = copy.deepcopy(PORTFOLIO)
    payload["wishlist"].append(copy.deepcopy(payload["wishlist"][0]))
    assert refused(p.PortfolioUpload, payload) == {"wishlist[1].instrument"}


def test_display_strings_may_be_empty_but_not_control_characters():
    assert read(p.PortfolioUpload, changed(PORTFOLIO, "capital.print_funds", "")).capital.print_funds == ""
    assert refused(p.PortfolioUpload, changed(PORTFOLIO, "capital.print_funds", "1\x00")) == {"capital.print_funds"}


def test_a_short_position_and_an_empty_wishlist_are_accepted():
    payload = changed(changed(PORTFOLIO, "positions.0.direction", "Short"), "wishlist", [])
    upload = read(p.PortfolioUpload, payload)
    assert upload.positions[0].direction == "Short" and upload.wishlist == [] and upload.problems() == []


@pytest.mark.parametrize("query, expected", [({}, {"client_reference"}), ({"all_data": "yes"}, {"all_data"}),
                                             ({"client_reference": "TEST", "all_data": "true"}, {"all_data"}),
                                             ({"all_data": "false"}, {"client_reference"})])
def test_delete_needs_a_reference_or_all_data(query, expected):
    assert refused(p.PortfolioDeletion, query) == expected


def test_delete_reads_all_data_from_a_query_string():
    assert read(p.PortfolioDeletion, {"all_data": "true"}).all_data is True
    assert read(p.PortfolioDeletion, {"client_reference": "TEST"}).problems() == []


# =========================================================================== identifiers in the market layer


def registry() -> pd.DataFrame:
    rows = [("a1", "AAPL", "Apple Inc.", "US0378331005", "XNGS", "skfolio", "2022-12-28", 8000),
            ("a2", "AAPL", "Apple Inc.", "US0378331005", "XNGS", "bokeh", "2013-03-01", 3000),
            ("k1", "KO", "The Coca-Cola Company", "US1912161007", "XNYS", "skfolio", "2022-12-28", 8000),
            ("m1", "MTUM", "iShares MSCI USA Momentum Factor ETF", "US46432F3964", "BATS", "skfolio", "2022-12-28",
             2000),
            ("u1", "MYFUND", "My fund", "US0378331005", None, "upload", "2024-01-02", 10)]
    return pd.DataFrame([{"instrument_id": i, "symbol": s, "name": n, "isin": c, "mic": m, "currency": "USD",
                          "asset_class": "Equity", "instrument_type": "ETF" if s == "MTUM" else "Stock",
                          "sector": None, "country": "US", "tradable": True, "source": src, "history_end": end,
                          "history_start": "2000-01-03", "n_records": n_rec}
                         for i, s, n, c, m, src, end, n_rec in rows])


def test_instrument_code_is_symbol_and_mic():
    assert instrument_code("AAPL", "XNGS") == "AAPL_XNGS"
    assert instrument_code("BRK.B", "XNYS") == "BRK.B_XNYS"
    assert instrument_code("MYFUND", None) == "MYFUND"
    assert h.split_code("AAPL_XNGS") == ("AAPL", "XNGS") and h.split_code("IBM.US") == ("IBM.US", None)
    assert h.split_code("MY_FUND_XLON") == ("MY_FUND", "XLON") and h.split_code("MY_fund") == ("MY_fund", None)


def test_by_code_names_one_series_per_provider():
    table = registry()
    assert list(by_code(table, "AAPL_XNGS", 8)["instrument_id"]) == ["a1"]
    assert list(by_code(table, "AAPL_XNGS", 12)["instrument_id"]) == ["a2"]
    assert list(by_code(table, "AAPL_XNGS")["instrument_id"]) == ["a1", "a2"]  # the current series first
    assert by_code(table, "AAPL_XNAS", 8).empty and by_code(table, "AAPL_XNGS", 91).empty
    assert list(by_code(table, "MYFUND", providers.USER_FEED)["instrument_id"]) == ["u1"]
    assert near_codes(table, "AAPL_XNAS") == ["AAPL_XNGS"]


def test_with_codes_adds_code_and_apiid():
    coded = with_codes(registry())
    assert list(coded["instrument_code"]) == ["AAPL_XNGS", "AAPL_XNGS", "KO_XNYS", "MTUM_BATS", "MYFUND"]
    assert list(coded["apiid"]) == [8, 12, 8, 8, 91]


def test_search_by_an_operating_mic_finds_its_segments_and_apiid_filters():
    table = registry()
    assert set(search(table, mic="XNAS")["instrument_id"]) == {"a1", "a2"}
    assert set(search(table, mic="XNGS")["instrument_id"]) == {"a1", "a2"}
    assert set(search(table, mic="XNYS")["instrument_id"]) == {"k1"}
    assert list(search(table, symbol="AAPL", apiid=12)["instrument_id"]) == ["a2"]
    with pytest.raises(ValidationError) as info:
        search(table, apiid="8")
    assert info.value.paths == ["apiid"]


def test_describe_answers_the_seeds_instrument_object():
    row = registry().iloc[0].to_dict()
    info = h.InstrumentInfo.model_validate(describe(row)).to_dict()
    seed = example("risk-07-instrument-search")["body"][0]
    assert set(seed) <= set(info)
    assert info["exchange"] == {**seed["exchange"], "operating_mic": "XNAS"}
    assert (info["instrument_code"], info["apiid"], info["asset_type"], info["print_name"]) == \
        ("AAPL_XNGS", 8, "Common Stock", "[AAPL] Apple Inc. (Common Stock)")
    assert info["classification"]["primary_country"] == "United States"
    assert info["margin_data"] == {"deposit_factor": 1} and info["fee_data"] == seed["fee_data"]


def test_markets_and_providers():
    assert exchanges.operating_mic("XNGS") == "XNAS" and exchanges.operating_mic("XNYS") == "XNYS"
    assert exchanges.operating_mic("ZZZZ") == "ZZZZ" and exchanges.market(None) is None
    assert exchanges.segments("XNAS") == {"XNAS", "XNGS", "XNMS", "XNCM"}
    assert providers.apiid_of("skfolio") == 8 and providers.apiid_of("upload") == providers.USER_FEED == 91
    assert providers.apiid_of("elsewhere") is None and providers.provider(8).source == "skfolio"
    assert len({x.apiid for x in providers.PROVIDERS}) == len(providers.PROVIDERS)
    # a segment trades on its operator's calendar
    assert calendar("XNGS").sessions.equals(calendar("XNAS").sessions)
