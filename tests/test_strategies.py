"""ws.strategies: the risk platform's rule table, strategies saved and listed as its document writes
them, a rule's target for a mandate of the demo book with the orders that reach it (the document's
query and the toolkit's own request), placing them through the trading engine, and strategies run
over the book as a background job.

The orders and analytics are checked against numbers rebuilt here from the holdings and the
closes with pandas and numpy, not against the code that computes them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal

import numpy as np
import pytest
from helpers import dump

from toolkit.errors import NotFoundError, ValidationError
from toolkit.optimise import RULES
from toolkit.workspace import Workspace
from toolkit.workspace.book import STRATEGIES


def _account(ws: Workspace, name: str) -> str:
    return next(a.id for a in ws.accounts.list(type="PORTFOLIO") if a.name == name)


@pytest.fixture(scope="module")
def parity(book_ws: Workspace):
    return book_ws.strategies.optimise({"portfolio_id": _account(book_ws, "Growth mandate"), "rule_name": "Risk Parity",
                                        "parameters": {"Size Rebalance Trigger": 5, "Include Stop/Limit": True}})


def test_the_documents_21_rules_are_listed_by_rule_id(book_ws: Workspace) -> None:
    rules = [r.to_dict() for r in book_ws.strategies.rules()]
    assert [r["rule_id"] for r in rules] == list(range(1, 22))
    assert rules[17]["name"] == "Portfolio - Risk Parity (false, 5)" and rules[17]["category"] == "Portfolio"
    assert {p["key"]: p["value"] for p in rules[17]["parameters"]} == {
        "IncludeStopLimit": "false", "RebalanceTrigger": "5", "Covariance": "sample"}
    assert len([r for r in rules if r["category_id"] == 9]) == len(RULES)  # the toolkit's nine portfolio rules


def test_current_weights_capital_and_orders_rebuilt_from_the_holdings(book_ws: Workspace, parity) -> None:
    cube = book_ws.accounts.holdings([_account(book_ws, "Growth mandate")]).isel(portfolio=0).isel(time=-1)
    nav = float(cube["nav"])
    assert parity.capital == pytest.approx(nav, rel=1e-12)
    table = parity.components()
    held = (cube["value"] / nav).to_series()
    assert np.allclose(table["current"].to_numpy(), held.reindex(table.index).to_numpy(), atol=1e-12)
    assert table["target"].sum() == pytest.approx(1.0, abs=1e-7)
    moves = table[(table["target"] - table["current"]).abs() > 0.05 * table["target"] + 1e-12]
    orders = parity.orders.set_index("instrument_id")
    assert set(orders.index) == set(moves.index)  # the size trigger lets only these through
    closes = book_ws.history.prices(list(orders.index))["close"].ffill("time").isel(time=-1).to_series()
    for iid, order in orders.iterrows():
        delta = moves.at[iid, "target"] - moves.at[iid, "current"]
        assert order["direction"] == ("Long" if delta > 0 else "Short")
        assert Decimal(order["notional"]) == Decimal(repr(float(abs(delta) * nav))).quantize(Decimal("0.01"))
        assert order["level"] == closes[iid]
        assert float(order["size"]) == pytest.approx(float(order["notional"]) / closes[iid], rel=1e-9)
        assert (order["stop_level"] < order["level"]) == (order["direction"] == "Long")


def test_answer_in_the_seed_shape_with_the_targets_risk(parity) -> None:
    answer = parity.to_dict()
    json.dumps(answer)
    assert set(answer) == {"orders", "capital", "tactical_analysis", "portfolio_rebalance", "client_reference"}
    order = answer["orders"][0]
    assert order["direction"] in ("Long", "Short") and order["timeframe"] == "Day" and order["apiid"] == 8
    assert order["instrument_code"].endswith(("_XNYS", "_XNGS"))
    assert float(order["notional"].replace(",", "")) > 0 and "." in order["notional"]  # "41,589.37"
    assert order["stop"] is not None and order["limit"] == order["level"]  # Include Stop/Limit
    assert answer["capital"]["funds"] == pytest.approx(parity.capital) and answer["tactical_analysis"] == []
    rebalance = answer["portfolio_rebalance"]
    assert set(rebalance) == {"comment", "components", "analytics", "rule_name", "expected_returns"}
    assert rebalance["rule_name"] == "Portfolio - Risk Parity (true, 5)"
    assert sum(c["weight"] for c in rebalance["components"]) == pytest.approx(1.0, abs=1e-7)
    sample = parity.returns.dropna("time", how="any").to_pandas().T
    series = sample[list(parity.target["instrument"].values)] @ parity.target.values
    day = rebalance["analytics"]["var"]["0.95"]["day"]
    assert day["value"] == pytest.approx(np.quantile(series, 0.05), rel=1e-12)  # a return: a loss is negative
    assert day["commentary"].startswith("There is a 5.0% chance that the portfolio will lose more than")
    vol = rebalance["analytics"]["volatility"]["day"]["value"]
    assert vol == pytest.approx(series.std(ddof=1), rel=1e-12)
    assert rebalance["comment"].startswith("The portfolio has a monthly expected return of")
    shares = parity.contributions()
    assert shares["volatility"].sum() == pytest.approx(1.0, abs=1e-9)
    assert shares["volatility"].std() < 1e-6  # risk parity: equal contributions


def test_the_documents_strategy_and_optimisation_query(book_copy: Workspace) -> None:
    growth = _account(book_copy, "Growth mandate")
    saved = book_copy.strategies.create({"name": "Parity", "rules": [
        {"rule_id": 4}, {"rule_id": 18, "parameters": [{"key": "RebalanceTrigger", "value": "2"}], "constraints": [
            {"type": "SectorConstraint", "parameter": "Information Technology", "lower_bound": 0,
             "upper_bound": 0.3}]}]})
    listed = book_copy.strategies.get(str(saved.strategy_id)).to_dict()
    assert listed["status"] == "NotRun" and listed["last_updated"] == "N/A"
    assert [r["rule_name"] for r in listed["strategy"]["rules"]] == [
        "Direction - Not Overextended (30, 70)", "Portfolio - Risk Parity (false, 2)"]
    answer = book_copy.strategies.optimise({"client_reference": growth, "strategy_id": str(saved.strategy_id)})
    body = answer.to_dict()
    assert body["client_reference"] == growth and body["orders"][0]["strategy_id"] == saved.strategy_id
    assert body["portfolio_rebalance"]["rule_name"] == "Portfolio - Risk Parity (false, 2)"
    assert answer.parameters.size_rebalance_trigger == pytest.approx(0.02)  # "2" is 2%
    tech = answer.target.where(answer.target["symbol"].isin(["AAPL", "MSFT", "AMD"]), 0).sum()
    assert float(tech) <= 0.3 + 1e-7
    tactical = body["tactical_analysis"]
    assert len(tactical) == len(body["orders"]) and tactical[0]["results"][0]["rule_id"] == 4
    for order, item in zip(body["orders"], tactical):  # rule 4 judged where real candles exist (AAPL)
        assert item["instrument_code"] == order["instrument_code"]
        assert item["validated"] == ("NOT_EVALUATED" if order["instrument_code"] != "AAPL_XNGS" else
                                     item["results"][0]["validated"])
    levels = body["portfolio_rebalance"]["analytics"]["cvar"]
    assert set(levels) == {"0.9", "0.95", "0.975"} and levels["0.975"]["month"]["value"] < 0  # five years
    replaced = book_copy.strategies.create({"name": "Parity", "strategy_id": saved.strategy_id,
                                            "rules": [{"rule_id": 14}]})
    assert replaced.strategy_id == saved.strategy_id
    assert book_copy.strategies.get(saved.strategy_id).strategy.rules[0].rule_id == 14


def test_the_documents_optimisation_query_refused_by_path(book_copy: Workspace) -> None:
    growth = _account(book_copy, "Growth mandate")
    tactical = book_copy.strategies.create({"name": "Only tactical", "rules": [{"rule_id": 4}]}).strategy_id
    bad_sector = book_copy.strategies.create({"name": "Bad sector", "rules": [{"rule_id": 14, "constraints": [
        {"type": "SectorConstraint", "parameter": "KXI_ARCX_8", "lower_bound": 0, "upper_bound": 0.1}]}]}).strategy_id
    cases = [({"client_reference": growth, "strategy_id": "abc"}, ValidationError, "strategy_id"),
             ({"client_reference": growth}, ValidationError, "strategy_id"),
             ({"client_reference": growth, "strategy_id": "999"}, NotFoundError, "strategy_id: no strategy 999"),
             ({"client_reference": growth, "strategy_id": str(tactical)}, ValidationError, "no portfolio rule"),
             ({"client_reference": "nobody", "strategy_id": str(tactical + 1)}, NotFoundError, "client_reference"),
             ({"client_reference": growth, "strategy_id": str(bad_sector)}, ValidationError,
              r"rules\[0\]\.constraints\[0\]\.parameter")]
    for query, error, words in cases:
        with pytest.raises(error, match=words):
            book_copy.strategies.optimise(query)
    with pytest.raises(ValidationError, match="strategy_id: there is no strategy 999 to replace"):
        book_copy.strategies.create({"name": "x", "strategy_id": 999, "rules": [{"rule_id": 14}]})
    with pytest.raises(ValidationError, match="exists already"):
        book_copy.strategies.create({"name": "Bad sector", "rules": [{"rule_id": 14}]})


def test_placing_rebalances_the_account_to_the_target(book_copy: Workspace) -> None:
    account = _account(book_copy, "Income mandate")
    answer = book_copy.strategies.optimise({"portfolio_id": account, "rule_name": "Max Diversification"})
    run = answer.place()
    assert run["executions"][0]["status"] == "EXECUTED"
    after = book_copy.strategies.optimise({"portfolio_id": account, "rule_name": "Max Diversification"}).components()
    target = answer.components()["target"]
    assert np.abs(after["current"].reindex(target.index).to_numpy() - target.to_numpy()).max() < 1e-3
    configured = book_copy.configurations.get(account)
    assert book_copy.allocations.get(configured.allocation_id).name == "Max Diversification for Income mandate"


def test_a_strategy_runs_over_the_book_in_the_background(book_copy: Workspace) -> None:
    strategy = book_copy.strategies.create({"name": "Defensive", "rules": [
        {"rule_id": 17, "parameters": [{"key": "RebalanceTrigger", "value": "10"}]}]})
    assert book_copy.strategies.get(strategy.strategy_id).status == "NotRun"
    seen: list[float] = []
    run = book_copy.strategies.run(strategy.strategy_id, wait=True, progress=seen.append)
    status = book_copy.strategies.status(run)
    assert status["status"] == "Complete" and status["percentage_complete"] == 100
    assert status["strategy_id"] == strategy.strategy_id
    assert seen[-1] == 100 and seen == sorted(seen)
    results = book_copy.strategies.results(run)
    assert len(results) == 4 and results["error"].isna().all()
    first = json.loads(results["result"].iloc[0])
    assert first["portfolio_rebalance"]["rule_name"] == "Portfolio - Volatility (false, 10)"
    assert [s.strategy.name for s in book_copy.strategies.list()] == [name for name, _ in STRATEGIES] + ["Defensive"]
    done = book_copy.strategies.get(strategy.strategy_id).to_dict()
    assert done["status"] == "Complete" and done["print_percentage_complete"] == "100%"
    assert done["last_updated"] != "N/A"


@pytest.mark.parametrize(("payload", "paths"), [
    ({"name": "", "rules": []}, ["name", "rules"]),
    ({"name": "x", "rules": [{"rule_id": 99}, 3, {"rule_id": 18, "colour": 1}]},
     ["rules[0].rule_id", "rules[1]", "rules[2].colour"]),
    ({"name": "x", "rules": [{"rule_id": 14, "parameters": [{"key": "RebalanceTrigger", "value": "150"}]}]},
     ["rules[0].parameters[0].value"]),
])
def test_bad_strategies_are_named_and_nothing_is_saved(book_copy: Workspace, payload: dict, paths: list[str]) -> None:
    before = dump(book_copy)
    with pytest.raises(ValidationError) as caught:
        book_copy.strategies.create(payload)
    assert sorted(caught.value.paths) == sorted(paths)
    assert dump(book_copy) == before


def test_bad_optimisation_requests(book_ws: Workspace) -> None:
    growth = _account(book_ws, "Growth mandate")
    with pytest.raises(ValidationError, match="did you mean 'Max Sharpe'"):
        book_ws.strategies.optimise({"portfolio_id": growth, "rule_name": "max sharp"})
    with pytest.raises(ValidationError, match="portfolio_id"):
        book_ws.strategies.optimise({"rule_name": "Equal Weight"})
    with pytest.raises(ValidationError, match="benchmark"):
        book_ws.strategies.optimise({"portfolio_id": growth, "rule_name": "Min Tracking Error"})
    with pytest.raises(NotFoundError, match="No index, PORTFOLIO account or model allocation 'S&P 500'"):
        book_ws.strategies.optimise({"portfolio_id": growth, "rule_name": "Min Tracking Error",
                                     "benchmark": "S&P 500"})
    with pytest.raises(NotFoundError):
        book_ws.strategies.get(999)
    with pytest.raises(ValidationError, match="strategy_id"):
        book_ws.strategies.get("no such strategy")  # strategy ids are whole numbers
    with pytest.raises(NotFoundError):
        book_ws.strategies.status("no such run")


def test_riskfolio_is_imported_only_when_an_optimisation_is_asked_for(book_path) -> None:
    code = ("import sys; from toolkit import Workspace; from toolkit.widgets import optimise_app; "
            f"ws = Workspace.open({str(book_path)!r}); ws.strategies.rules(); optimise_app(ws); "
            "print('riskfolio' in sys.modules, 'cvxpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.split()[-2:] == ["False", "False"]


def test_the_optimise_page_imports_the_scipy_under_the_solvers_as_it_is_built(book_path) -> None:
    # in the preheated kernel, so the first press pays only for riskfolio-lib and cvxpy
    code = ("import sys; from toolkit import Workspace; from toolkit.widgets import optimise_app; "
            f"ws = Workspace.open({str(book_path)!r}); before = 'scipy.stats' in sys.modules; optimise_app(ws); "
            "print(before, all(m in sys.modules for m in ('scipy.stats', 'scipy.optimize', 'scipy.signal')), "
            "'riskfolio' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.split()[-3:] == ["False", "True", "False"]


def test_an_uploaded_portfolio_is_optimised_by_its_client_reference(book_copy: Workspace) -> None:
    held = (("AAPL_XNGS", 130, 100), ("KO_XNYS", 50, 200), ("MSFT_XNGS", 200, 50))
    positions = [{"instrument_code": code, "apiid": 8, "date_open": "2021-01-04T15:00:00Z", "level": level,
                  "size": size, "direction": "Long"} for code, level, size in held]
    book_copy.portfolios.upload({"capital": {"currency": "USD", "funds": 100000, "available": 70000, "equity": 100000},
                                 "wishlist": [], "positions": positions}, "MINE")
    strategy = book_copy.strategies.create({"name": "Equal", "rules": [{"rule_id": 14}]}).strategy_id
    answer = book_copy.strategies.optimise({"client_reference": "MINE", "strategy_id": str(strategy)})
    body = answer.to_dict()
    assert body["client_reference"] == "MINE" and body["capital"]["available"] == 70000
    assert answer.current.sum() == pytest.approx(0.3, abs=1e-12)  # 30% invested, the rest is cash
    target = {c["instrument_code"]: c["weight"] for c in body["portfolio_rebalance"]["components"]}
    assert target == pytest.approx({"AAPL_XNGS": 1 / 3, "KO_XNYS": 1 / 3, "MSFT_XNGS": 1 / 3})
    assert {o["direction"] for o in body["orders"]} == {"Long"}
    short = [{**positions[0], "direction": "Short"}]
    book_copy.portfolios.upload({"capital": {"currency": "USD", "funds": 100000}, "wishlist": [],
                                 "positions": short}, "SHORT")
    with pytest.raises(ValidationError, match="client_reference: .* Short positions"):
        book_copy.strategies.optimise({"client_reference": "SHORT", "strategy_id": str(strategy)})
