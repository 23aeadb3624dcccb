"""The indexes of ws.attribution (the seed's GET /index): stored benchmark portfolios and their weights.

The weights are checked against the closes read straight from the shipped CSV and the share
counts of data/shares_outstanding.csv, not against the code that computes them.
"""

from __future__ import annotations

import pandas as pd
import pytest
from helpers import dump

from toolkit.errors import NotFoundError, ValidationError
from toolkit.market.sources import DATA
from toolkit.workspace import Workspace
from toolkit.workspace.book import INDEXES


def test_the_demo_book_ships_a_cap_and_an_equal_weighted_index(book_ws: Workspace) -> None:
    listed = [i.to_dict() for i in book_ws.attribution.indexes()]
    assert [(i["name"], i["method"], i["currency"], len(i["constituents"])) for i in listed] == [
        (INDEXES[0], "cap", "USD", 20), (INDEXES[1], "equal", "USD", 20)]
    first = listed[0]["constituents"][0]
    assert first == {"instrument_id": first["instrument_id"], "symbol": "AAPL", "isin": "US0378331005",
                     "name": "Apple Inc.", "sector": "Information Technology", "shares": "15908118000"}
    assert "shares" not in listed[1]["constituents"][0]
    assert book_ws.attribution.index(listed[1]["id"]).name == INDEXES[1]


def test_cap_weights_are_shares_times_close_over_the_sum(book_ws: Workspace) -> None:
    closes = pd.read_csv(DATA / "sp500_stocks.csv", index_col="time", parse_dates=True).loc["2022-12-28"]
    shares = pd.read_csv(DATA / "shares_outstanding.csv", index_col="symbol")["shares"]
    caps = shares * closes[shares.index]
    expected = caps / caps.sum()
    weights = book_ws.attribution.index_weights(INDEXES[0], start="2022-12-28", end="2022-12-28")
    got = pd.Series(weights.isel(time=0).values, index=weights["symbol"].values)
    pd.testing.assert_series_equal(got.sort_index(), expected.sort_index(), check_names=False, rtol=1e-12)
    assert got["AAPL"] == pytest.approx(0.2287, abs=5e-5)  # Apple: about 23% of these 20 at the end of 2022


def test_equal_and_fixed_weights(ws: Workspace) -> None:
    fixed = ws.attribution.create_index({"name": "60/40 stocks", "method": "fixed", "currency": "USD",
                                         "constituents": [{"symbol": "AAPL", "weight": "0.6"},
                                                          {"symbol": "MTUM", "weight": "0.4"}]})
    weights = ws.attribution.index_weights(fixed.id, start="2013-12-20", end="2014-01-10")
    by_day = weights.to_pandas().T.set_axis(list(weights["symbol"].values), axis=1)
    assert (by_day.loc[:"2013-12-31", "AAPL"] == 1.0).all()  # MTUM has no close before 2014: not yet in
    assert by_day.loc["2014-01-03":, "AAPL"].eq(0.6).all() and by_day.loc["2014-01-03":, "MTUM"].eq(0.4).all()
    equal = ws.attribution.create_index({"name": "two", "method": "equal", "currency": "USD",
                                         "constituents": [{"symbol": "KO"}, {"isin": "US7170811035"}]})
    assert set(ws.attribution.index_weights(equal.id, start="2020").values.ravel()) == {0.5}


@pytest.mark.parametrize(("payload", "paths"), [
    ([], [""]),
    ({"name": "", "method": "cap", "currency": "USD", "constituents": [{"symbol": "AAPL", "shares": "1"}]}, ["name"]),
    ({"name": "x", "method": "float", "currency": "XXY", "constituents": []}, ["method", "currency", "constituents"]),
    ({"name": "x", "method": "cap", "currency": "USD", "constituents": [{"symbol": "AAPL"}, {"symbol": "NOPE"},
                                                                         {"symbol": "KO", "shares": "-5"}]},
     ["constituents[0].shares", "constituents[1]", "constituents[2].shares"]),
    ({"name": "x", "method": "equal", "currency": "EUR", "constituents": [{"symbol": "AAPL", "weight": "1"}]},
     ["constituents[0]", "constituents[0].weight"]),
    ({"name": "x", "method": "fixed", "currency": "USD", "extra": 1,
      "constituents": [{"symbol": "AAPL", "weight": "0.5"}, {"symbol": "aapl", "weight": "0.5"},
                       {"symbol": "KO", "isin": "US1912161007"}]},
     ["extra", "constituents[1]", "constituents[2]"]),
    ({"name": "x", "method": "fixed", "currency": "USD",
      "constituents": [{"symbol": "AAPL", "weight": "0.5"}, {"symbol": "KO", "weight": "0.4"}]}, ["constituents"]),
    ({"name": INDEXES[0], "method": "equal", "currency": "USD", "constituents": [{"symbol": "KO"}]}, ["name"]),
])
def test_bad_indexes_name_every_field_and_save_nothing(book_copy: Workspace, payload: object,
                                                       paths: list[str]) -> None:
    before = dump(book_copy)
    with pytest.raises(ValidationError) as caught:
        book_copy.attribution.create_index(payload)  # type: ignore[arg-type]  # refused
    assert caught.value.paths == paths
    assert "Nothing was saved" in str(caught.value)
    assert dump(book_copy) == before


def test_an_unknown_index_is_named(book_ws: Workspace) -> None:
    with pytest.raises(NotFoundError, match=r"No index 'S&P 500'; the indexes are 'S&P 20 cap-weighted'"):
        book_ws.attribution.index("S&P 500")
