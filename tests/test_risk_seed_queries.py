"""The risk platform's analytics, index and attribution queries through the façade, as its document
writes them (``risk-platform-api.txt``: GET /history/analytics, /history/benchmark,
/portfolio/analytics, /index, /portfolio/attribution/index and /portfolio/attribution/portfolio):
query-string texts in, the document's shape out, numbers rebuilt here from the closes with pandas and
numpy, and the refusals named by the query's parameter."""

from __future__ import annotations

import json
from typing import cast

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from toolkit.contracts.base import read
from toolkit.contracts.risk import analytics as A
from toolkit.contracts.risk import attribution as T
from toolkit.errors import NotFoundError, ValidationError
from toolkit.workspace import Workspace

EXAMPLES = "tests/contracts/examples"


def _example(name: str) -> dict:
    with open(f"{EXAMPLES}/{name}.json", encoding="utf-8") as f:
        return json.load(f)


def _account(ws: Workspace, n: int = 0) -> str:
    return sorted(a.id for a in ws.accounts.list(type="PORTFOLIO", status="ACTIVE"))[n]  # a CLOSED one holds nothing


def test_the_documents_instrument_query_answers_its_shape_with_losses_negative(demo_ws: Workspace) -> None:
    query = _example("risk-20-instrument-analytics-query")["query"]  # {"instrument_code": "AAPL_XNGS", "apiid": "8"}
    answer = demo_ws.analytics.instrument(query)
    body = answer.to_dict()
    assert isinstance(body, dict)  # one instrument: one object
    read(A.InstrumentAnalytics, body)  # the document's shape, every field
    iid = demo_ws.instruments.by_code("AAPL_XNGS", 8)
    close = demo_ws.history.prices([iid])["close"].to_pandas().T.iloc[:, 0].dropna()
    daily = close.pct_change().dropna()
    day = body["risk"]["var"]["0.95"]["day"]
    assert day["value"] == pytest.approx(np.quantile(daily, 0.05), rel=1e-10) and day["value"] < 0
    assert day["commentary"] == A.var_sentence(day["value"], 0.95, "day", "instrument")
    assert body["risk"]["volatility"]["day"]["value"] == pytest.approx(daily.std(ddof=1), rel=1e-10)
    assert body["average_returns"]["day"] == pytest.approx(daily.mean(), rel=1e-10)
    assert body["expected_returns"]["equally_weighted_sample"] == body["average_returns"]
    assert {e["factor_type"] for e in body["exposure"]} >= {"geographic", "sector"}
    assert body["regression"]["r_squared"] is not None
    assert answer.to_dict() == demo_ws.analytics.instrument(json.dumps(query)).to_dict()  # JSON text too


def test_the_benchmark_query_reads_both_instruments_by_code(demo_ws: Workspace) -> None:
    body = demo_ws.analytics.benchmark({"instrument_code": "AAPL_XNGS", "apiid": "8",
                                        "benchmark_instrument_code": "SPX_XNYS", "benchmark_apiid": "8"}).to_dict()
    assert isinstance(body, dict)  # one instrument: one object
    read(A.BenchmarkAnalytics, body)
    pairs = [demo_ws.instruments.by_code(c, 8) for c in ("AAPL_XNGS", "SPX_XNYS")]
    closes = cast(pd.DataFrame, demo_ws.history.prices(pairs)["close"].to_pandas()).T.dropna()  # 2-D
    y, x = (closes[c].pct_change().dropna() for c in closes.columns)
    assert body["beta"] == pytest.approx(np.cov(y, x, ddof=1)[0, 1] / x.var(ddof=1), rel=1e-8)
    assert body["cvar"] < 0  # a loss, as the document writes it
    with pytest.raises(NotFoundError, match="benchmark_instrument_code"):
        demo_ws.analytics.benchmark(_example("risk-22-benchmark-analytics-query")["query"])  # SPY is not shipped


@pytest.mark.parametrize(("query", "paths"), [
    ({"instrument_code": "AAPL_XNGS"}, {"apiid"}),
    ({"instrument_code": "AAPL XNGS", "apiid": "eight"}, {"instrument_code", "apiid"}),
    ({"instrument_code": "AAPL_XNGS", "apiid": "8", "start_date": "2022-02-30"}, {"start_date"}),
    ({"instrument_code": "AAPL_XNGS", "apiid": "8", "level": "0.99"}, {"level"}),
])
def test_a_bad_instrument_query_is_named_by_parameter(demo_ws: Workspace, query: dict, paths: set) -> None:
    with pytest.raises(ValidationError) as caught:
        demo_ws.analytics.instrument(query)
    assert set(caught.value.paths) == paths


def test_the_portfolio_query_names_the_portfolio_by_client_reference(book_ws: Workspace) -> None:
    # the Growth mandate's stocks are on XNYS and XNGS (account ids are random: the Factor mandate's ETFs, on
    # other exchanges, came first in some builds), picked by name
    account = next(a.id for a in book_ws.accounts.list(type="PORTFOLIO") if a.name == "Growth mandate")
    answer = book_ws.analytics.portfolio({"client_reference": account})
    body = answer.to_dict()
    assert isinstance(body, dict)  # one portfolio: one object
    read(A.PortfolioAnalytics, body)
    weights = [c["instrument"]["weight"] for c in body["components"]]
    assert sum(weights) == pytest.approx(1.0, abs=1e-9)
    shares = [c["risk"]["marginal_contribution_to_risk"]["volatility"]["value"] for c in body["components"]]
    assert sum(shares) == pytest.approx(1.0, abs=1e-9)  # Euler: the shares add up to the whole
    assert all(c["instrument"]["apiid"] == 8 and "_X" in c["instrument"]["instrument_code"] for c in body["components"])
    assert body["risk"]["marginal_contribution_to_risk"] == {} and body["risk"]["var"]["0.975"]["month"]["value"] < 0
    assert body["diversification_ratio"]["color"] in ("red", "yellow", "green")
    with pytest.raises(NotFoundError):
        book_ws.analytics.portfolio({"client_reference": "no such portfolio"})
    with pytest.raises(ValidationError, match="client_reference"):
        book_ws.analytics.portfolio({"client_reference": ""})


def test_the_indexes_are_listed_with_symbol_code_and_apiid(book_ws: Workspace) -> None:
    listed = [i.to_dict() for i in book_ws.attribution.indexes()]
    for item in listed:
        read(T.IndexEntry, item)
    assert {i["symbol"] for i in listed} == {"SP20CAPWEIGHTED", "SP20EQUALWEIGHTED"}
    assert all(i["apiid"] == 91 and i["country"] == "United States" for i in listed)


def test_attribution_against_an_index_and_a_portfolio(book_ws: Workspace) -> None:
    account = _account(book_ws)
    versus = book_ws.attribution.versus_index({"client_reference": account, "index_symbol": "SP20EQUALWEIGHTED",
                                               "horizon": "month", "start_date": "2022-01-03"})
    body = versus.to_dict()
    read(T.Attribution, body)
    perf = body["performance_attribution"]
    active = perf["total"]["returns"]["total"]["portfolio"] - perf["total"]["returns"]["total"]["benchmark"]
    for dim in ("asset_class", "geography", "sector", "instrument"):
        assert sum(perf[dim]["performance_attribution"]["total_effect"].values()) == pytest.approx(active, abs=1e-9)
    assert "United States" in perf["geography"]["performance_attribution"]["total_effect"]
    held = perf["instrument"]["aggregated_weights_returns"]["weights"]["portfolio"]
    keys = set(held) - {"CASH"}  # the account's cash
    assert keys and all(k.endswith("_8_USD") and k.count("_") == 3 for k in keys)  # CODE_APIID_CURRENCY
    other = book_ws.attribution.versus_portfolio({"client_reference": account,
                                                  "benchmark_client_reference": _account(book_ws, 1),
                                                  "horizon": "day", "start_date": "2022-06-01",
                                                  "model": "HierarchicalMultiAssetClassAttribution"})
    assert other.hierarchy is not None and read(T.Attribution, other.to_dict())


@pytest.mark.parametrize(("query", "error", "where"), [
    ({"index_symbol": "SP20EQUALWEIGHTED", "horizon": "week"}, ValidationError, "horizon"),
    ({"index_symbol": "CAC", "horizon": "month"}, NotFoundError, "index_symbol"),
    ({"index_symbol": "SP20EQUALWEIGHTED", "horizon": "month", "model": "Brinson"}, ValidationError, "model"),
    ({"horizon": "month"}, ValidationError, "index_symbol"),
])
def test_a_bad_attribution_query_is_named_by_parameter(book_ws: Workspace, query: dict, error: type,
                                                       where: str) -> None:
    with pytest.raises(error, match=where):
        book_ws.attribution.versus_index({"client_reference": _account(book_ws), **query})


def test_an_uploaded_portfolio_is_attributed_by_its_client_reference(book_copy: Workspace) -> None:
    positions = [{"instrument_code": "AAPL_XNGS", "apiid": 8, "date_open": "2021-01-04T15:00:00Z", "level": 130,
                  "size": 100, "direction": "Long"},
                 {"instrument_code": "KO_XNYS", "apiid": 8, "date_open": "2021-06-01T15:00:00Z", "level": 50,
                  "size": 200, "direction": "Long", "date_close": "2022-06-01T15:00:00Z", "close": 60}]
    book_copy.portfolios.upload({"capital": {"currency": "USD", "funds": 100000}, "wishlist": [],
                                 "positions": positions}, "MINE")
    weights, name = book_copy.attribution.weights("MINE", "2022-12-28")
    assert name == "Portfolio: MINE"
    aapl, ko = (book_copy.instruments.by_code(c, 8) for c in ("AAPL_XNGS", "KO_XNYS"))
    closes = book_copy.history.prices([aapl, ko])["close"].sel(time="2021-06-01")
    held = closes * xr.DataArray([100, 200], dims="instrument", coords={"instrument": [aapl, ko]})
    assert float(weights.sel(instrument=ko, time="2021-06-01")) == pytest.approx(float(held[1] / held.sum()))
    assert float(weights.sel(instrument=ko, time="2022-06-01")) == 0.0  # closed that day
    body = book_copy.attribution.versus_index({"client_reference": "MINE", "index_symbol": "SP20CAPWEIGHTED",
                                               "horizon": "month"}).to_dict()
    assert {c["instrument"]["instrument_code"] for c in body["components"]} == {"AAPL_XNGS", "KO_XNYS"}
