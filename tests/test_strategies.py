"""ws.strategies: a rule's target for a mandate of the demo book, the orders that reach it, placing
them through the trading engine, and strategies run over the book as a background job.

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


def _account(ws: Workspace, name: str) -> str:
    return next(a.id for a in ws.accounts.list(type="PORTFOLIO") if a.name == name)


@pytest.fixture(scope="module")
def parity(book_ws: Workspace):
    return book_ws.strategies.optimise({"portfolio_id": _account(book_ws, "Growth mandate"), "rule_name": "Risk Parity",
                                        "parameters": {"Size Rebalance Trigger": 0.05, "Include Stop/Limit": True}})


def test_the_nine_rules_are_listed_by_their_seed_names(book_ws: Workspace) -> None:
    rules = book_ws.strategies.rules()
    assert [r["rule_name"] for r in rules] == list(RULES) and len(rules) == 9
    assert rules[0]["parameters"]["Size Rebalance Trigger"] is None
    assert rules[0]["parameters"]["Include Stop/Limit"] is False


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
        assert order["direction"] == ("BUY" if delta > 0 else "SELL")
        assert Decimal(order["notional"]) == Decimal(repr(float(abs(delta) * nav))).quantize(Decimal("0.01"))
        assert order["level"] == closes[iid]
        assert float(order["size"]) == pytest.approx(float(order["notional"]) / closes[iid], rel=1e-9)
        assert (order["stop_level"] < order["level"]) == (order["direction"] == "BUY")


def test_answer_in_the_seed_shape_with_the_targets_risk(parity) -> None:
    answer = parity.to_dict()
    json.dumps(answer)
    assert set(answer) >= {"orders", "capital", "portfolio_rebalance", "rule_name"}
    assert answer["rule_name"] == "Risk Parity"
    assert set(answer["orders"][0]) >= {"instrument", "direction", "size", "notional", "level"}
    rebalance = answer["portfolio_rebalance"]
    assert set(rebalance) == {"components", "analytics", "comment"}
    assert sum(c["weight"] for c in rebalance["components"]) == pytest.approx(1.0, abs=1e-7)
    sample = parity.returns.dropna("time", how="any").to_pandas().T
    series = sample[list(parity.target["instrument"].values)] @ parity.target.values
    assert rebalance["analytics"]["var"] == pytest.approx(-np.quantile(series, 0.05), rel=1e-12)
    assert rebalance["analytics"]["volatility"] == pytest.approx(series.std(ddof=1) * np.sqrt(252), rel=1e-12)
    assert rebalance["comment"].startswith("There is a 5% chance that the portfolio will lose more than")
    shares = parity.contributions()
    assert shares["volatility"].sum() == pytest.approx(1.0, abs=1e-9)
    assert shares["volatility"].std() < 1e-6  # risk parity: equal contributions


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
        {"rule_name": "Volatility weighted"}, {"rule_name": "Equal Weight", "parameters": {"Size Rebalance Trigger": 0.1}}]})
    assert book_copy.strategies.get("Defensive").status == "NotRun"
    seen: list[float] = []
    run = book_copy.strategies.run(strategy.id, wait=True, progress=seen.append)
    status = book_copy.strategies.status(run)
    assert status["status"] == "Complete" and status["percentage_complete"] == 100
    assert seen[-1] == 100 and seen == sorted(seen)
    results = book_copy.strategies.results(run)
    assert len(results) == 4 * 2 and results["error"].isna().all()
    first = json.loads(results["result"].iloc[0])
    assert first["rule_name"] == "Volatility weighted"
    assert [s.name for s in book_copy.strategies.list()] == ["Defensive"]
    assert book_copy.strategies.get(strategy.id).status == "Complete"


@pytest.mark.parametrize(("payload", "paths"), [
    ({"name": "", "rules": []}, ["name", "rules"]),
    ({"name": "x", "rules": [{"rule_name": "Max Sharp"}, 3, {"rule_name": "Risk Parity", "colour": 1}]},
     ["rules[0].rule_name", "rules[1]", "rules[2].colour"]),
    ({"name": "x", "rules": [{"rule_name": "Equal Weight", "parameters": {"Size Rebalance Trigger": 2}}]},
     ["rules[0].parameters.size_rebalance_trigger"]),
])
def test_bad_strategies_are_named_and_nothing_is_saved(book_copy: Workspace, payload: dict, paths: list[str]) -> None:
    before = dump(book_copy)
    with pytest.raises(ValidationError) as caught:
        book_copy.strategies.create(payload)
    assert caught.value.paths == paths
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
        book_ws.strategies.get("no such strategy")
    with pytest.raises(NotFoundError):
        book_ws.strategies.status("no such run")


def test_riskfolio_is_imported_only_when_an_optimisation_is_asked_for(book_path) -> None:
    code = ("import sys; from toolkit import Workspace; from toolkit.widgets import optimise_app; "
            f"ws = Workspace.open({str(book_path)!r}); ws.strategies.rules(); optimise_app(ws); "
            "print('riskfolio' in sys.modules, 'cvxpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.split()[-2:] == ["False", "False"]
