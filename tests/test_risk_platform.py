"""The risk platform in the façade (toolkit.workspace.portfolios and toolkit.workspace.analytics):
uploaded portfolios (payload kept verbatim, status worked by hand from the shipped closes, data
load, universes, refusals that save nothing) and the analytics on the real data of the demo
workspace, checked against independent implementations on the same returns: empyrical-reloaded (VaR,
CVaR where the tail is whole, volatility, alpha and beta), riskfolio-lib (``CVaR_Hist``,
``Risk_Contribution``), numpy (least squares, covariance) and pandas (resampling, EWMA, sector
means) on data/*.csv read with pandas."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import empyrical
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from helpers import dump

from toolkit.analytics import risk
from toolkit.errors import DataError, NotFoundError, ValidationError
from toolkit.schema import INSTRUMENT, PORTFOLIO
from toolkit.workspace import Workspace

DATA = Path(__file__).resolve().parents[1] / "data"
SECTORS = ["Consumer Discretionary", "Consumer Staples", "Energy", "Financials", "Health Care", "Industrials",
           "Information Technology"]
PERIOD = {"day": "daily", "week": "weekly", "month": "monthly"}
RULE = {"week": "W-FRI", "month": "ME"}


def closes(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / name, index_col="time", parse_dates=True)


STOCKS = closes("sp500_stocks.csv")
INDEX = closes("sp500_index.csv")["SP500"]
ETFS = closes("factor_etfs.csv")


def returns(prices: pd.DataFrame | pd.Series) -> pd.DataFrame | pd.Series:
    return prices.pct_change(fill_method=None).iloc[1:]


def horizon(r: pd.Series, name: str) -> pd.Series:
    """Compounded calendar-period returns, pandas' own resampling (W-FRI, ME)."""
    return r if name == "day" else ((1 + r).resample(RULE[name]).prod() - 1)


def worst_window(days: int) -> str:
    """The start date that leaves exactly ``days`` daily returns up to the end of the data."""
    return STOCKS.index[-days - 1].date().isoformat()


PAYLOAD: dict[str, Any] = {  # PUT /portfolio (risk-platform-api.txt lines 209-241), with the toolkit's added name
    "name": "US core",
    "capital": {"currency": "USD", "funds": 100000, "available": "30000.00", "equity": 100000,
                "print_funds": "$100,000"},
    "wishlist": [{"instrument": {"instrument_code": "PG_XNYS", "apiid": 8}, "direction": "Long"},
                 {"instrument": {"instrument_code": "KO_XNYS", "apiid": 8}, "direction": "Long"}],
    "positions": [
        {"instrument_code": "AAPL_XNGS", "apiid": 8, "date_open": "2019-01-02T15:30:00Z", "level": 38.0, "size": 300,
         "direction": "Long"},
        {"instrument_code": "JPM_XNYS", "apiid": 8, "date_open": "2019-01-02T15:30:00Z", "level": "90.50",
         "size": "200", "direction": "Long", "stop": 80},
        {"instrument_code": "XOM_XNYS", "apiid": 8, "date_open": "2019-06-03T14:00:00Z", "level": 62.1, "size": 150,
         "direction": "Long", "date_close": "2021-06-30T19:00:00Z", "close": 58.2},
    ],
}


@pytest.fixture(scope="module")
def stocks() -> pd.DataFrame:
    return returns(STOCKS)


@pytest.fixture(scope="module")
def all20(demo_ws: Workspace):
    """The analytics of all 20 stocks, in one call."""
    return demo_ws.analytics.instrument(list(STOCKS.columns))


@pytest.fixture(scope="module")
def mix(demo_ws: Workspace):
    """A three-stock portfolio over the last 2,520 days (ten years), with SPX as benchmark."""
    return demo_ws.analytics.portfolio({"AAPL": 0.3, "KO": "0.3", "XOM": 0.4}, start=worst_window(2520),
                                       benchmark="SPX")


# =========================================================================== uploaded portfolios


def position(code: str, size: object, opened: str, level: object, apiid: int = 8, **more: object) -> dict:
    return {"instrument_code": code, "apiid": apiid, "date_open": f"{opened}T15:00:00Z", "level": level,
            "size": size, "direction": "Long", **more}


def body(positions: list[object], wishlist: list[object] | None = None, funds: object = 1_000_000) -> dict:
    return {"capital": {"currency": "USD", "funds": funds}, "wishlist": wishlist or [], "positions": positions}


def test_upload_answers_the_portfolio_as_get_does_and_a_replacement_replaces_it(ws: Workspace) -> None:
    saved = ws.portfolios.upload(PAYLOAD, "US-CORE")
    answer = saved.to_dict()
    assert answer["client_reference"] == "US-CORE" and answer["name"] == "US core"
    assert answer["capital"] == {"currency": "USD", "funds": 100000, "available": 30000, "equity": 100000,
                                 "print_equity": None, "print_funds": "$100,000", "print_available": None}
    assert answer["wishlist"] == PAYLOAD["wishlist"]
    first, second, third = answer["positions"]
    assert (first["size"], first["level"], first["close"], first["limit"], first["stop"]) == (300, 38, None, 0, 0)
    assert (second["size"], second["level"], second["stop"]) == (200, 90.5, 80)
    assert (third["close"], third["date_close"], third["date_open"]) == ("58.2", "2021-06-30T19:00:00Z",
                                                                       "2019-06-03T14:00:00Z")
    assert first["instrument_id"] == ws.instruments.by_code("AAPL_XNGS", 8)
    assert answer["data_load"] == "100%"
    assert [p.client_reference for p in ws.portfolios.list()] == ["US-CORE"]
    assert ws.portfolios.list({"client_reference": "US-CORE"})[0].to_dict() == answer
    assert ws.events.list(resource_id="US-CORE")["type"].tolist() == ["RISK_PORTFOLIO.UPLOADED"]
    smaller = {**PAYLOAD, "positions": PAYLOAD["positions"][:1], "wishlist": []}
    again = ws.portfolios.upload(json.dumps(smaller), {"client_reference": "US-CORE"})
    assert again.updated_at is not None and saved.updated_at is not None
    assert again.created_at == saved.created_at and again.updated_at > saved.updated_at
    assert len(again.positions) == 1 and again.wishlist == []
    assert ws.portfolios.get("US-CORE").to_dict()["positions"] == again.to_dict()["positions"]
    # without a client_reference, a new portfolio under a new UUID
    other = ws.portfolios.upload(smaller)
    assert len(other.client_reference) == 36 and len(ws.portfolios.list()) == 2


def test_composition_worked_by_hand(ws: Workspace) -> None:
    ws.portfolios.upload(PAYLOAD, "US-CORE")
    # at the end of the data (2022-12-28) AAPL and JPM are open, XOM was sold on 2021-06-30
    end = ws.portfolios.composition("US-CORE")
    assert set(end["as_of"]) == {"2022-12-28"}
    last = STOCKS.loc["2022-12-28"]
    value = {"AAPL": 300 * last["AAPL"], "JPM": 200 * last["JPM"]}
    rows = end.set_index("symbol")
    assert set(rows.index) == {"AAPL", "JPM"} and rows.loc["AAPL", "quantity"] == "300"
    assert rows.loc["AAPL", "instrument_code"] == "AAPL_XNGS" and rows.loc["JPM", "apiid"] == 8
    for symbol, v in value.items():
        assert rows.loc[symbol, "close"] == last[symbol]
        assert rows.loc[symbol, "weight"] == pytest.approx(v / sum(value.values()), rel=1e-12)
    # on Sunday 2020-06-28 all three are open, valued at Friday's close
    sunday = ws.portfolios.composition("US-CORE", as_of="2020-06-28")
    friday = STOCKS.loc["2020-06-26"]
    assert dict(zip(sunday["symbol"], sunday["close"])) == {s: friday[s] for s in ("AAPL", "JPM", "XOM")}


def test_a_short_position_counts_negative(ws: Workspace) -> None:
    ws.portfolios.upload(body([position("AAPL_XNGS", 100, "2020-01-02", 75.0),
                               {**position("JPM_XNYS", 50, "2020-01-02", 140.0), "direction": "Short"}]), "LS")
    held = ws.portfolios.composition("LS", as_of="2020-06-30").set_index("symbol")
    assert held.loc["JPM", "quantity"] == "-50" and held.loc["JPM", "value"] < 0
    assert ws.portfolios.get("LS").to_dict()["positions"][1]["direction"] == "Short"


def test_data_load_says_which_histories_are_loaded_partial_or_missing(ws: Workspace) -> None:
    payload = body([
        position("AAPL_XNGS", "10", "2019-01-02", 38.0),
        position("MTUM_BATS", "10", "2013-06-03", 50),                        # MTUM from 2014
        position("COMP_XNAS", "1", "2015-01-02", 4700, apiid=11,              # COMP to 2018
                 date_close="2020-01-02T21:00:00Z", close=9000),
        position("AMZN_XNGS", "1", "2020-01-02", 1898.01, apiid=91),           # not loaded
    ], wishlist=[{"instrument": {"instrument_code": "KO_XNYS", "apiid": 8}, "direction": "Long"}])
    answer = ws.portfolios.upload(payload, "LOAD").to_dict()
    status = {r["instrument_code"]: r["status"] for r in answer["instruments"]}
    assert status == {"AAPL_XNGS": "LOADED", "MTUM_BATS": "PARTIAL", "COMP_XNAS": "PARTIAL",
                      "AMZN_XNGS": "MISSING", "KO_XNYS": "LOADED"}
    assert answer["data_load"] == "40%"
    amazon = next(r for r in answer["instruments"] if r["instrument_code"] == "AMZN_XNGS")
    assert amazon["needed_from"] == "2020-01-02" and amazon["instrument_id"] is None
    with pytest.raises(DataError, match=r"positions\[3\]"):
        ws.analytics.portfolio("LOAD")
    ws.history.upload({"instrument": {"instrument_code": "AMZN_XNGS", "currency": "USD", "name": "Amazon.com Inc"},
                       "timeframe_id": 1, "history": [{"datetime": "2020-01-02", "close": 1898.01},
                                                      {"datetime": "2020-01-03", "close": 1874.97}]})
    after = {r["instrument_code"]: r for r in ws.portfolios.get("LOAD").to_dict()["instruments"]}
    assert after["AMZN_XNGS"]["status"] == "LOADED" and after["AMZN_XNGS"]["history_end"] == "2020-01-03"


def test_delete_by_reference_or_all_data(ws: Workspace) -> None:
    for reference in ("A", "B", "C"):
        ws.portfolios.upload(PAYLOAD, reference)
    assert ws.portfolios.delete({"client_reference": "B"}).to_dict() == {"deleted": ["B"]}
    assert [p.client_reference for p in ws.portfolios.list()] == ["A", "C"]
    assert ws.events.list(resource_id="B")["type"].tolist() == ["RISK_PORTFOLIO.UPLOADED", "RISK_PORTFOLIO.DELETED"]
    with pytest.raises(NotFoundError, match="client_reference 'B'"):
        ws.portfolios.delete("B")
    before = dump(ws)
    for query, path in (({}, "client_reference"), ({"all_data": "yes"}, "all_data"),
                        ({"client_reference": "A", "all_data": "true"}, "all_data")):
        with pytest.raises(ValidationError) as refused:
            ws.portfolios.delete(query)
        assert refused.value.paths == [path] and dump(ws) == before
    assert ws.portfolios.delete({"all_data": "true"}).deleted == ["A", "C"]
    assert ws.portfolios.list() == []
    assert ws.db.conn.execute("SELECT count(*) FROM risk_portfolio_positions").fetchone()[0] == 0


def test_constraint_universes_in_the_seeds_shape(demo_ws: Workspace) -> None:
    shipped = json.loads((DATA / "universes.json").read_text())
    listed = demo_ws.portfolios.universes("sectors")
    assert isinstance(listed, list)  # one kind: its list
    sectors = [s.to_dict() for s in listed]
    assert [(s["id"], s["name"], s["type"], s["description"]) for s in sectors] == \
        [(s["code"], s["name"], "sector", "") for s in shipped["sectors"]]
    geographies = demo_ws.portfolios.universes("geographies")
    assert isinstance(geographies, list)
    assert geographies[0].type == "geographic" and geographies[0].countries == shipped["geographies"][0]["countries"]
    currencies, asset_classes, spelt = (demo_ws.portfolios.universes(kind)
                                        for kind in ("currencies", "assetclasses", "asset_classes"))
    assert isinstance(currencies, list) and isinstance(asset_classes, list) and isinstance(spelt, list)
    usd = next(c for c in currencies if c.id == "USD")
    assert usd.to_dict() == {"name": "USD", "type": "currency", "id": "USD", "description": "US Dollar",
                             "countries": None}
    assert [a.id for a in asset_classes] == [a.id for a in spelt] == [a["code"] for a in shipped["asset_classes"]]
    assert set(demo_ws.portfolios.universes()) == {"geographies", "sectors", "currencies", "assetclasses"}
    with pytest.raises(ValidationError) as refused:
        demo_ws.portfolios.universes("planets")
    assert refused.value.paths == ["kind"]


BAD = {
    "not an object": (["AAPL"], [""]),
    "the toolkit's old form": ({"capital": "100000.00", "currency": "USD", "wishlist": []}, ["capital", "currency"]),
    "unknown field, no capital, bad currency": ({"capital": {"currency": "ZZZ", "funds": 1}, "owner": "me",
                                                 "wishlist": []}, ["owner", "capital.currency"]),
    "funds below the cent": (body([], funds="100.001"), ["capital.funds"]),
    "funds negative": (body([], funds=-5), ["capital.funds"]),
    "positions not a list": ({**body([]), "positions": {"instrument_code": "x"}}, ["positions"]),
    "every position field": (body([
        {"instrument_code": "AAPL XNGS", "apiid": "8", "date_open": "2019-13-01", "level": "abc", "size": -5,
         "direction": "long"},
        {**position("AAPL_XNGS", 1, "2019-01-02", 1), "ticker": "AAPL"},
        "AAPL"]),
     ["positions[0].instrument_code", "positions[0].apiid", "positions[0].date_open", "positions[0].level",
      "positions[0].size", "positions[0].direction", "positions[1].ticker", "positions[2]"]),
    # the rules across fields, once every field is well formed
    "closes and providers": (body([
        {**position("AAPL_XNGS", 1, "2019-01-02", 1), "date_close": "2018-01-02T00:00:00Z", "close": 2},
        {**position("AAPL_XNGS", 1, "2019-01-02", 1), "date_close": "2019-02-01T00:00:00Z"},
        {**position("AAPL_XNGS", 1, "2019-01-02", 1), "apiid": 7}],
        wishlist=[{"instrument": {"instrument_code": "KO_XNYS", "apiid": 99}, "direction": "Long"}]),
     ["positions[0].date_close", "positions[1].close", "positions[2].apiid", "wishlist[0].instrument.apiid"]),
    "wishlist entries": (body([], wishlist=[{"isin": "US0378331005"},
                                            {"instrument": {"instrument_code": "KO_XNYS", "apiid": 8},
                                             "direction": "Long", "weight": 1}, 7]),
                         ["wishlist[0].isin", "wishlist[0].instrument", "wishlist[0].direction",
                          "wishlist[1].weight", "wishlist[2]"]),
}


@pytest.mark.parametrize("case", list(BAD))
def test_malformed_payloads_name_every_field_and_save_nothing(ws: Workspace, case: str) -> None:
    payload, paths = BAD[case]
    before = dump(ws)
    with pytest.raises(ValidationError) as refused:
        ws.portfolios.upload(payload, "BAD")
    assert sorted(refused.value.paths) == sorted(paths)
    assert "Nothing was saved" in str(refused.value)
    assert dump(ws) == before


def test_positions_may_cost_more_than_the_funds(ws: Workspace) -> None:
    # the document allows leverage (line 639): funds of 10,000 hold 13,850 of positions
    answer = ws.portfolios.upload(body([position("AAPL_XNGS", 100, "2019-01-02", 38),
                                        position("JPM_XNYS", 111, "2019-01-03", 90.5)], funds="10000.00"), "LEVER")
    assert answer.capital.funds == 10000 and len(answer.positions) == 2


def test_unknown_portfolio_bad_dates_and_references_are_refused(ws: Workspace) -> None:
    with pytest.raises(NotFoundError, match="No portfolio with client_reference 'nope'"):
        ws.portfolios.get("nope")
    with pytest.raises(NotFoundError, match="No portfolio with client_reference 'nope'"):
        ws.portfolios.by_reference("nope")
    ws.portfolios.upload(PAYLOAD, "US-CORE")
    assert ws.portfolios.by_reference("US-CORE") == "US-CORE"
    with pytest.raises(ValidationError) as refused:
        ws.portfolios.composition("US-CORE", as_of="30/06/2020")
    assert refused.value.paths == ["as_of"]
    before = dump(ws)
    for reference in (42, "<script>", " ", {"client_reference": "A", "extra": 1}):
        with pytest.raises(ValidationError) as refused:
            ws.portfolios.upload(PAYLOAD, reference)  # type: ignore[arg-type]  # refused
        assert refused.value.paths[0] in ("client_reference", "extra") and dump(ws) == before
    with pytest.raises(ValidationError) as refused:
        ws.portfolios.by_reference(42, path="portfolio")
    assert refused.value.paths == ["portfolio"]


# =========================================================================== instrument analytics


def test_all_twenty_stocks_in_one_call_agree_with_empyrical_and_pandas(all20, stocks: pd.DataFrame) -> None:
    cube = all20.to_xarray()
    assert dict(cube["var"].sizes) == {INSTRUMENT: 20, "level": 3, "horizon": 3}
    for name in STOCKS.columns:
        for h in risk.HORIZON_NAMES:
            x = horizon(stocks[name], h).dropna()
            at = cube.sel(instrument=name, horizon=h)
            for level in risk.LEVELS:
                theirs = -empyrical.value_at_risk(x.to_numpy(), cutoff=round(1 - level, 12))
                assert at["var"].sel(level=level).item() == pytest.approx(theirs, rel=1e-10)
            assert at["annual_volatility"].item() == pytest.approx(
                empyrical.annual_volatility(x, period=PERIOD[h]), rel=1e-10)
            assert at["mean"].item() == pytest.approx(x.mean(), rel=1e-10)
            assert at["count"].item() == len(x)


def test_cvar_equals_empyrical_where_the_tail_is_whole_and_riskfolio_everywhere(demo_ws: Workspace, all20,
                                                                                 stocks: pd.DataFrame) -> None:
    import riskfolio as rp  # slow to import (~9 s): only here

    # 2,000 daily returns: aT = 200, 100, 50 are whole, where empyrical's worst floor((T-1)a)+1
    # returns and the Acerbi-Tasche estimator coincide
    recent = demo_ws.analytics.instrument(["AMD", "KO"], start=worst_window(2000), horizons="day",
                                          with_factors=False).to_xarray()
    for name in ["AMD", "KO"]:
        x = stocks[name].iloc[-2000:].to_numpy()
        for level in risk.LEVELS:
            assert recent["cvar"].sel(instrument=name, level=level, horizon="day").item() == pytest.approx(
                -empyrical.conditional_value_at_risk(x, cutoff=round(1 - level, 12)), rel=1e-10)
    full = all20.to_xarray()["cvar"]
    for name in ["AAPL", "XOM"]:
        for h in risk.HORIZON_NAMES:
            x = horizon(stocks[name], h).dropna().to_numpy()
            for level in risk.LEVELS:
                assert full.sel(instrument=name, level=level, horizon=h).item() == pytest.approx(
                    rp.CVaR_Hist(x, alpha=round(1 - level, 12)), rel=1e-10)


def test_commentary_reads_as_the_seed_says(all20, stocks: pd.DataFrame) -> None:
    week = horizon(stocks["XOM"], "week").dropna().to_numpy()
    var = -empyrical.value_at_risk(week, cutoff=0.025)
    table = all20.to_pandas().loc[("XOM", "week", 0.975)]
    assert table["var_commentary"] == (f"There is a 2.5% chance that the instrument will lose more than "
                                       f"{100 * var:.1f}% over one week")
    assert table["cvar_commentary"].startswith("In the worst 2.5% of cases the instrument loses ")
    assert table["cvar_commentary"].endswith("% on average over one week")
    assert all20.to_pandas().shape == (20 * 3 * 3, 4)


INSTRUMENT_FIELDS = {"instrument", "instrumentId", "symbol", "isin", "name", "currency", "startDate", "endDate",
                     "observations", "risk", "volatility", "exposures", "regression", "expectedReturns", "commentary"}
RISK_FIELDS = {"horizon", "level", "valueAtRisk", "conditionalValueAtRisk", "varCommentary", "cvarCommentary"}


def test_the_seed_fields_are_all_present(all20) -> None:
    body = all20.summary()
    assert len(body) == 20
    apple = next(b for b in body if b["symbol"] == "AAPL")
    assert set(apple) == INSTRUMENT_FIELDS
    assert apple["isin"] == "US0378331005" and apple["startDate"] == "1990-01-03" and apple["endDate"] == "2022-12-28"
    assert len(apple["risk"]) == 9 and all(set(r) == RISK_FIELDS for r in apple["risk"])
    assert [v["horizon"] for v in apple["volatility"]] == ["day", "week", "month"]
    assert set(apple["volatility"][0]) == {"horizon", "volatility", "annualisedVolatility", "averageReturn",
                                           "observations"}
    assert set(apple["expectedReturns"]) == {"sample", "ewma", "factor", "factorEwma"}
    assert [e["factor"] for e in apple["exposures"]] == ["SPX", "MTUM", "QUAL", "SIZE", "USMV", "VLUE", *SECTORS]
    assert {e["kind"] for e in apple["exposures"]} == {"market", "style", "sector"}
    assert set(apple["regression"]) == {"factors", "alpha", "alphaAnnual", "rSquared", "idiosyncraticRisk",
                                        "idiosyncraticShare", "observations", "factorSummary"}
    assert len(apple["commentary"]) == 9
    json.dumps(body)  # plain JSON: no numpy scalars, NaN as null


def test_exposures_and_regression_equal_empyrical_and_least_squares(all20, stocks: pd.DataFrame) -> None:
    market, etfs = returns(INDEX), returns(ETFS)
    cube = all20.to_xarray()
    for name in ["AAPL", "GE", "WMT"]:
        y = stocks[name]
        alpha, beta = empyrical.alpha_beta(y, market)
        assert cube["exposure"].sel(instrument=name, factor="SPX").item() == pytest.approx(beta, rel=1e-10)
        assert cube["alpha_annual"].sel(instrument=name).item() == pytest.approx(alpha, rel=1e-9)
        assert cube["r_squared"].sel(instrument=name).item() == pytest.approx(y.corr(market) ** 2, rel=1e-10)
        joint = pd.concat([y, etfs["USMV"]], axis=1, join="inner").dropna()
        assert cube["exposure"].sel(instrument=name, factor="USMV").item() == pytest.approx(
            empyrical.alpha_beta(joint.iloc[:, 0], joint.iloc[:, 1])[1], rel=1e-10)
        a = np.column_stack([np.ones(len(y)), market.to_numpy()])
        coef, ssr, *_ = np.linalg.lstsq(a, y.to_numpy(), rcond=None)
        assert cube["idiosyncratic_vol"].sel(instrument=name).item() == pytest.approx(
            math.sqrt(ssr[0] / (len(y) - 2) * 252), rel=1e-10)
    counts = {e["factor"]: e["observations"] for e in all20.summary()[0]["exposures"]}
    assert counts["SPX"] == 8312 and counts["MTUM"] == len(etfs) and counts["Energy"] == 8312


def test_sector_proxies_are_the_equally_weighted_means_of_the_constituents(demo_ws: Workspace,
                                                                           stocks: pd.DataFrame) -> None:
    factors = demo_ws.analytics.factors()
    assert factors["kind"].sel(factor="SPX").item() == "market"
    members = pd.read_csv(DATA / "instruments.csv").query("file == 'sp500_stocks.csv'")
    for sector in ["Energy", "Health Care"]:
        names = members.loc[members["sector"] == sector, "symbol"].tolist()
        theirs = stocks[names].mean(axis=1)
        ours = factors.sel(factor=sector).to_series().reindex(theirs.index)
        np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(factors.sel(factor="QUAL").to_series().dropna().to_numpy(),
                               returns(ETFS["QUAL"]).to_numpy(), rtol=1e-12)


def test_expected_returns_by_the_four_estimators(all20, stocks: pd.DataFrame) -> None:
    market = returns(INDEX)
    y = stocks["KO"]
    ours = all20.expected_returns.sel(instrument="KO")
    assert ours.sel(estimator="sample").item() == pytest.approx(y.mean() * 252, rel=1e-10)
    ewm = y.ewm(halflife=126).mean().iloc[-1]
    assert ours.sel(estimator="ewma").item() == pytest.approx(ewm * 252, rel=1e-10)
    beta = empyrical.alpha_beta(y, market)[1]
    assert ours.sel(estimator="factor").item() == pytest.approx(beta * market.mean() * 252, rel=1e-10)
    w = np.exp2(-(len(y) - 1 - np.arange(len(y))) / 126)  # WLS with the same half-life (numpy)
    root = np.sqrt(w)
    a = np.column_stack([np.ones(len(y)), market.to_numpy()])
    coef = np.linalg.lstsq(a * root[:, None], y.to_numpy() * root, rcond=None)[0]
    theirs = coef[1] * market.ewm(halflife=126).mean().iloc[-1] * 252
    assert ours.sel(estimator="factor_ewma").item() == pytest.approx(theirs, rel=1e-9)


def test_price_curves_from_the_upload_payload_or_pandas(demo_ws: Workspace, stocks: pd.DataFrame) -> None:
    ko = STOCKS["KO"].loc["2015":]
    payload = {"isin": "US1912161007", "currency": "USD", "timeframe": 1, "symbol": "MYKO",
               "history": [{"timestamp": t.date().isoformat(), "close": float(c)} for t, c in ko.items()]}
    series = STOCKS["PEP"].loc["2015":].rename("MYPEP")
    out = demo_ws.analytics.instrument("XOM", curve=[payload, series], start="2015-01-01")
    cube = out.to_xarray()
    assert list(cube[INSTRUMENT].values) == ["XOM", "MYKO", "MYPEP"]
    for label, prices in [("MYKO", ko), ("MYPEP", STOCKS["PEP"].loc["2015":])]:
        x = returns(prices).to_numpy()
        assert cube["var"].sel(instrument=label, level=0.95, horizon="day").item() == pytest.approx(
            -empyrical.value_at_risk(x, cutoff=0.05), rel=1e-10)
        m = returns(INDEX).reindex(returns(prices).index)
        assert cube["exposure"].sel(instrument=label, factor="SPX").item() == pytest.approx(
            empyrical.alpha_beta(returns(prices), m)[1], rel=1e-10)
    body = {b["instrument"]: b for b in out.summary()}
    assert body["MYKO"]["isin"] == "US1912161007" and body["MYKO"]["instrumentId"] is None


# =========================================================================== benchmark analytics


BENCHMARK_FIELDS = {"instrument", "benchmark", "level", "startDate", "endDate", "observations", "alpha", "beta",
                    "rSquared", "idiosyncraticRisk", "trackingError", "cvar", "activeCvar", "commentary"}


def test_benchmark_of_one_curve_against_another_equals_empyrical(demo_ws: Workspace, stocks: pd.DataFrame) -> None:
    start = worst_window(2000)  # aT whole at 0.95: empyrical's CVaR is the same estimator there
    out = demo_ws.analytics.benchmark("AAPL", "SPX", start=start).summary()
    assert isinstance(out, dict)  # one instrument: one object
    assert set(out) == BENCHMARK_FIELDS and out["observations"] == 2000
    y, m = stocks["AAPL"].iloc[-2000:], returns(INDEX).iloc[-2000:]
    alpha, beta = empyrical.alpha_beta(y, m)
    assert out["beta"] == pytest.approx(beta, rel=1e-10) and out["alpha"] == pytest.approx(alpha, rel=1e-9)
    assert out["rSquared"] == pytest.approx(y.corr(m) ** 2, rel=1e-10)
    assert out["trackingError"] == pytest.approx(np.std(y - m, ddof=1) * np.sqrt(252), rel=1e-10)
    assert out["cvar"] == pytest.approx(-empyrical.conditional_value_at_risk(y.to_numpy(), 0.05), rel=1e-10)
    assert out["activeCvar"] == pytest.approx(-empyrical.conditional_value_at_risk((y - m).to_numpy(), 0.05),
                                              rel=1e-10)
    assert out["commentary"][0] == f"In the worst 5% of cases the instrument loses {100 * out['cvar']:.1f}% on " \
                                   "average over one day"
    # the benchmark as a price curve the workspace does not hold
    curve = demo_ws.analytics.benchmark("AAPL", INDEX.rename("MYINDEX"), start=start).summary()
    assert isinstance(curve, dict)
    assert curve["benchmark"] == "MYINDEX" and curve["beta"] == pytest.approx(beta, rel=1e-10)


def test_an_unknown_benchmark_is_named(demo_ws: Workspace) -> None:
    with pytest.raises(NotFoundError, match="Unknown benchmark 'NOPE'"):
        demo_ws.analytics.benchmark("AAPL", "NOPE")


# =========================================================================== portfolio analytics


PORTFOLIO_FIELDS = {"portfolioId", "source", "level", "horizon", "totalVolatility", "totalCvar",
                    "diversificationRatio", "diversificationRating", "rSquared", "components", "benchmark",
                    *(INSTRUMENT_FIELDS - {"instrument", "instrumentId", "symbol", "isin", "name", "currency"})}
COMPONENT_FIELDS = {"instrument", "instrumentId", "weight", "volatility", "valueAtRisk", "conditionalValueAtRisk",
                    "marginalVolatility", "volatilityContribution", "volatilityContributionPercent", "marginalCvar",
                    "cvarContribution", "cvarContributionPercent"}


def test_portfolio_contributions_equal_riskfolio_and_add_up(mix, stocks: pd.DataFrame) -> None:
    import riskfolio as rp  # slow to import (~9 s): only here

    names, w = ["AAPL", "KO", "XOM"], pd.Series([0.3, 0.3, 0.4], index=["AAPL", "KO", "XOM"])
    frame = stocks[names].iloc[-2520:]
    body = mix.summary()
    assert set(body) == PORTFOLIO_FIELDS and body["observations"] == 2520 and body["source"] == "WEIGHTS"
    parts = {c["instrument"]: c for c in body["components"]}
    assert set(parts) == set(names) and all(set(c) == COMPONENT_FIELDS for c in parts.values())
    vol = rp.Risk_Contribution(w, frame, rm="MV")  # central differences of sqrt(w' S w), per day
    cvar = rp.Risk_Contribution(w, frame, rm="CVaR", alpha=0.05)
    for n, name in enumerate(names):
        assert parts[name]["volatilityContribution"] == pytest.approx(vol[n] * np.sqrt(252), rel=1e-7)
        assert parts[name]["cvarContribution"] == pytest.approx(cvar[n], rel=1e-6)
    sigma = np.sqrt(w.to_numpy() @ np.cov(frame.to_numpy(), rowvar=False) @ w.to_numpy())
    assert body["totalVolatility"] == pytest.approx(sigma * np.sqrt(252), rel=1e-12)
    assert body["totalCvar"] == pytest.approx(rp.CVaR_Hist(frame.to_numpy() @ w.to_numpy(), alpha=0.05), rel=1e-12)
    for kind in ("volatility", "cvar"):
        assert sum(c[f"{kind}ContributionPercent"] for c in parts.values()) == pytest.approx(1, rel=1e-12)
    ratio = (w * frame.std(ddof=1)).sum() / sigma  # Choueifaty & Coignard 2008
    assert body["diversificationRatio"] == pytest.approx(ratio, rel=1e-12)
    assert body["diversificationRating"] == ("low" if ratio < math.sqrt(2) else "medium")
    p = frame @ w
    assert body["rSquared"] == pytest.approx(p.corr(returns(INDEX).iloc[-2520:]) ** 2, rel=1e-10)
    day95 = next(r for r in body["risk"] if r["horizon"] == "day" and r["level"] == 0.95)
    assert day95["valueAtRisk"] == pytest.approx(-empyrical.value_at_risk(p.to_numpy(), 0.05), rel=1e-10)
    assert day95["varCommentary"].startswith("There is a 5% chance that the portfolio will lose more than")
    assert body["benchmark"]["beta"] == pytest.approx(empyrical.alpha_beta(p, returns(INDEX).iloc[-2520:])[1],
                                                      rel=1e-10)


def test_contribution_chart_shows_both_measures(mix) -> None:
    fig = mix.contribution_chart()
    assert [t.name for t in fig.data] == ["volatility", "CVaR 95%"]
    assert all(list(t.x) == ["AAPL", "KO", "XOM"] and sum(t.y) == pytest.approx(1) for t in fig.data)
    table = mix.contributions_table()
    assert table["weight"].tolist() == [0.3, 0.3, 0.4]


def test_uploaded_portfolio_weights_are_value_weights_on_as_of(ws: Workspace) -> None:
    pid = ws.portfolios.upload(PAYLOAD, "US-CORE").client_reference
    day = STOCKS.loc["2020-06-30"]
    value = pd.Series({"AAPL": 300 * day["AAPL"], "JPM": 200 * day["JPM"], "XOM": 150 * day["XOM"]})
    weights = ws.analytics.weights(pid, as_of="2020-06-30").sel(portfolio=pid).to_series()
    np.testing.assert_allclose(weights[value.index].to_numpy(), (value / value.sum()).to_numpy(), rtol=1e-12)
    out = ws.analytics.portfolio(pid, as_of="2020-06-30", horizons="day", levels=0.95).summary()
    assert isinstance(out, dict)  # one portfolio: one object
    assert (out["source"], out["name"], out["asOf"]) == ("RISK_PLATFORM", "US core", "2020-06-30")
    # by default on the status date: XOM was sold, AAPL and JPM are valued at the last close
    last = ws.analytics.weights(pid).sel(portfolio=pid).to_series()
    assert "XOM" not in last.index and last["AAPL"] == pytest.approx(
        300 * STOCKS["AAPL"].iloc[-1] / (300 * STOCKS["AAPL"].iloc[-1] + 200 * STOCKS["JPM"].iloc[-1]), rel=1e-12)


def test_brokerage_accounts_are_analysed_from_their_holdings(book_ws: Workspace) -> None:
    accounts = [a.id for a in book_ws.accounts.list(type="PORTFOLIO", status="ACTIVE")]  # the CLOSED one holds nothing
    last = pd.concat([STOCKS.iloc[-1], ETFS.iloc[-1]])
    weights = book_ws.analytics.weights(accounts)
    for account in accounts:
        held = book_ws.orders.positions(account)
        value = pd.Series({book_ws.instruments.get(i).symbol: float(q) * last[book_ws.instruments.get(i).symbol]
                           for i, q in held.items()})
        ours = weights.sel(portfolio=account).to_series()
        np.testing.assert_allclose(ours[value.index].to_numpy(), (value / value.sum()).to_numpy(), rtol=1e-9)
        assert ours.drop(value.index).eq(0).all()
    out = book_ws.analytics.portfolio(accounts, horizons="month", levels=0.95)
    assert out.to_xarray().sizes[PORTFOLIO] == len(accounts) == 4
    totals = out.contributions
    np.testing.assert_allclose(totals["cvar_contribution"].sum(INSTRUMENT).values, totals["cvar_total"].values,
                               rtol=1e-10)
    assert {b["source"] for b in out.summary()} == {"ACCOUNT"} and out.summary()[0]["asOf"] == "2022-12-28"


def test_two_hundred_portfolios_in_one_call(demo_ws: Workspace, stocks: pd.DataFrame) -> None:
    rng = np.random.default_rng(5)
    w = xr.DataArray(rng.dirichlet(np.ones(20), 200), dims=(PORTFOLIO, INSTRUMENT),
                     coords={PORTFOLIO: [f"p{i}" for i in range(200)], INSTRUMENT: list(STOCKS.columns)})
    out = demo_ws.analytics.portfolio(w, start=worst_window(1000), horizons="day", levels=0.95, with_factors=False)
    cov = np.cov(stocks.iloc[-1000:].to_numpy(), rowvar=False)
    sigma = np.sqrt(np.einsum("pi,ij,pj->p", w.values, cov, w.values) * 252)
    np.testing.assert_allclose(out.contributions["volatility_total"].sel(portfolio=w[PORTFOLIO]).values, sigma,
                               rtol=1e-10)
    np.testing.assert_allclose(out.contributions["volatility_contribution"].sum(INSTRUMENT).values,
                               out.contributions["volatility_total"].values, rtol=1e-10)
    assert out.diversification["rating"].sizes[PORTFOLIO] == 200


# =========================================================================== the bad inputs of the issue


def test_too_little_history_for_a_horizon(demo_ws: Workspace) -> None:
    # from October 2022: 3 monthly returns, and a tail at 0.975 needs 40 of them
    with pytest.raises(DataError, match=r"too little history: instrument=AAPL.*at least 40"):
        demo_ws.analytics.instrument("AAPL", start="2022-10-03")
    short = STOCKS["KO"].iloc[-30:].rename("SHORT")
    with pytest.raises(DataError, match="too little history: instrument=SHORT"):
        demo_ws.analytics.instrument(curve=short, horizons=["day", "week"], with_factors=False)


def test_instruments_without_data(demo_ws: Workspace) -> None:
    # COMP's history ends in 2018
    with pytest.raises(DataError, match="no data .*instrument=COMP"):
        demo_ws.analytics.instrument(["AAPL", "COMP"], start="2019-06-01")
    with pytest.raises(DataError, match="no data .*instrument=COMP"):
        demo_ws.analytics.portfolio({"AAPL": 0.5, "COMP": 0.5}, start="2020-01-01")
    with pytest.raises(DataError, match="No prices between 2030-01-01"):
        demo_ws.analytics.instrument("AAPL", start="2030-01-01")


def test_the_span_of_a_series_that_ends_inside_the_window(demo_ws: Workspace) -> None:
    """COMP's history ends before the window does: its endDate is its last close in the shipped file,
    not null (xarray skips NaT in a min or max of datetimes only when told to)."""
    last = pd.read_csv(Path(__file__).resolve().parents[1] / "data" / "nasdaq_ohlcv.csv")["time"].iloc[-1]
    out = demo_ws.analytics.instrument(["AAPL", "COMP"], start="2015-01-02", end="2019-12-31",
                                       with_factors=False).summary()
    assert {x["instrument"]: x["endDate"] for x in out} == {"AAPL": "2019-12-31", "COMP": last}
    assert {x["startDate"] for x in out} == {"2015-01-05"}


def test_weights_that_do_not_sum_to_one(demo_ws: Workspace) -> None:
    with pytest.raises(ValidationError) as refused:
        demo_ws.analytics.portfolio({"AAPL": 0.5, "KO": 0.4})
    assert refused.value.paths == ["weights[portfolio=weights]"] and "sum to 0.9" in str(refused.value)
    with pytest.raises(ValidationError) as refused:
        demo_ws.analytics.portfolio({"core": {"AAPL": 0.5, "KO": "half"}, "other": {"XOM": 1}})
    assert refused.value.paths == ["weights[core][KO]"]


def test_unknown_names_and_bad_parameters(demo_ws: Workspace) -> None:
    with pytest.raises(NotFoundError, match="'NOPE'"):
        demo_ws.analytics.instrument(["AAPL", "NOPE"])
    with pytest.raises(NotFoundError, match="No uploaded portfolio or PORTFOLIO account with id 'nobody'"):
        demo_ws.analytics.portfolio("nobody")
    with pytest.raises(NotFoundError, match="Unknown factor 'BETA'"):
        demo_ws.analytics.instrument("AAPL", model=["SPX", "BETA"])
    with pytest.raises(ValidationError) as refused:
        demo_ws.analytics.portfolio({"AAPL": 1}, horizon="year")
    assert refused.value.paths == ["horizon"]
    with pytest.raises(ValidationError) as refused:
        demo_ws.analytics.instrument("AAPL", levels=[0.95, 1.5])
    assert refused.value.paths == ["level[1]"]
    with pytest.raises(ValidationError) as refused:
        demo_ws.analytics.instrument("AAPL", start="2020-02-01", end="2020-01-01")
    assert refused.value.paths == ["end"]
    bad = {"isin": "US1912161007", "currency": "USD", "timeframe": 1,
           "history": [{"timestamp": "2022-01-03", "close": 60.1}, {"timestamp": "2022-01-04", "close": -1}]}
    with pytest.raises(ValidationError) as refused:
        demo_ws.analytics.instrument(curve=bad)
    assert refused.value.paths == ["curve.history[1].close"]
    with pytest.raises(ValidationError) as refused:
        demo_ws.analytics.instrument()
    assert refused.value.paths == ["instruments"]
