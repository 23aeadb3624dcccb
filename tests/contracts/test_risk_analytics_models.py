"""The risk platform's rule, strategy, optimisation, analytics and attribution contracts
(``toolkit.contracts.risk.strategy``, ``.analytics``, ``.attribution``) against the document's
examples (``tests/contracts/examples/risk-16`` to ``risk-31``, backtests aside), and their refusals,
each named by field path."""

from __future__ import annotations

import json
from typing import Any

import pytest
from contract_examples import EXAMPLES

from toolkit.contracts.base import read
from toolkit.contracts.risk import analytics as A
from toolkit.contracts.risk import attribution as T
from toolkit.contracts.risk import strategy as S
from toolkit.contracts.risk.rules import RULES
from toolkit.errors import ValidationError


def body(name: str) -> Any:  # the example's JSON
    fixture = json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    return fixture["body"] if fixture["body"] is not None else fixture["repaired"]["body"]


def query(name: str) -> dict:
    return json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))["query"]


def refused(model: type, request: object) -> dict[str, str]:
    """The problems of a refused request, path -> message."""
    with pytest.raises(ValidationError) as info:
        read(model, request)
    return {p.path: p.message for p in info.value.problems}


def subset(small: object, big: object) -> bool:
    """Whether ``big`` holds everything of ``small`` (the toolkit may add fields, never drop any)."""
    if isinstance(small, dict):
        return isinstance(big, dict) and all(k in big and subset(v, big[k]) for k, v in small.items())
    if isinstance(small, list):
        return isinstance(big, list) and len(small) == len(big) and all(subset(a, b) for a, b in zip(small, big))
    return small == big


RESPONSES = [("risk-16-rules", S.RuleListing, True), ("risk-17-strategies", S.StrategyStatus, True),
             ("risk-19-save-strategy-response", S.SavedStrategy, False),
             ("risk-21-instrument-analytics", A.InstrumentAnalytics, False),
             ("risk-23-benchmark-analytics", A.BenchmarkAnalytics, False),
             ("risk-24-optimisation", S.Optimisation, False),
             ("risk-27-portfolio-analytics", A.PortfolioAnalytics, False),
             ("risk-28-strategies-again", S.StrategyStatus, True), ("risk-29-indexes", T.IndexEntry, True),
             ("risk-30-attribution-index", T.Attribution, False),
             ("risk-31-attribution-portfolio", T.Attribution, False)]


@pytest.mark.parametrize(("name", "model", "many"), RESPONSES, ids=[r[0] for r in RESPONSES])
def test_every_response_example_is_read_and_answered_with_all_its_fields(name: str, model: type, many: bool) -> None:
    example = body(name)
    for item in example if many else [example]:
        assert subset(item, read(model, item).to_dict())


def test_the_rule_table_is_the_documents_with_the_toolkits_parameters_after_its_own() -> None:
    listed = [r.to_dict() for r in S.rule_listing()]
    for seed, ours in zip(body("risk-16-rules"), listed, strict=True):
        extra = [p for p in ours["parameters"] if p["description"].startswith("Toolkit extension")]
        assert {**ours, "parameters": ours["parameters"][:len(ours["parameters"]) - len(extra)]} == seed
    assert [p["key"] for p in listed[18]["parameters"]] == ["IncludeStopLimit", "RebalanceTrigger", "Period"]


def test_a_rules_name_shows_its_values() -> None:
    assert RULES[18].name_for({"IncludeStopLimit": "true", "RebalanceTrigger": "2"}) \
        == "Portfolio - Risk Parity (true, 2)"
    assert RULES[21].name == "Portfolio - Min Tracking Error (false, 5, null)"
    assert RULES[8].name_for({"Period": "50"}) == "Backtest Over 50 Candles"
    assert RULES[9].name == "Direction - No Short"


# --------------------------------------------------------------------------- POST /strategy


def test_the_save_strategy_example_is_accepted_with_its_values_in_the_documents_units() -> None:
    request = read(S.StrategyRequest, body("risk-18-save-strategy"))
    assert request.name == "Example Strategy" and request.strategy_id is None
    rule = request.portfolio_rule
    assert rule is not None and rule.rule_id == 21
    assert rule.settings() == {"IncludeStopLimit": False, "RebalanceTrigger": 2, "Benchmark": "Demo Portfolio"}
    assert [c.type for c in rule.constraints] == ["AssetClassConstraint", "CurrencyConstraint", "GeographyConstraint",
                                                  "SectorConstraint", "InstrumentConstraint"]
    held = rule.constraints[4]
    assert isinstance(held, S.InstrumentConstraint)
    assert held.instrument.instrument_code == "VFC_XNYS" and held.instrument.apiid == 8
    assert read(S.StrategyRequest, json.dumps(body("risk-18-save-strategy"))) == request  # JSON text too


def test_a_parameter_left_out_takes_the_tables_default_and_a_trigger_of_5_means_5_percent() -> None:
    rule = read(S.StrategyRequest, {"name": "x", "rules": [{"rule_id": 18}]}).rules[0]
    assert rule.settings() == {"IncludeStopLimit": False, "RebalanceTrigger": 5, "Covariance": "sample"}
    detail = S.StrategyRuleDetail.of(rule).to_dict()
    assert detail["rule_name"] == "Portfolio - Risk Parity (false, 5)"
    assert detail["search_string"] == "portfolio - risk parity (false, 5)"
    assert detail["parameters"][1] == {"value": "5", "key": "RebalanceTrigger", "name": "Size Rebalance Trigger",
                                       "description": RULES[18].parameters[1].description}


def test_a_strategy_rules_mistakes_are_each_named_by_path() -> None:
    problems = refused(S.StrategyRequest, {"name": "x", "rules": [{"rule_id": 18, "parameters": [
        {"key": "RebalanceTrigger", "value": "150"}, {"key": "IncludeStopLimit", "value": "yes"},
        {"key": "Rebalance", "value": "5"}, {"key": "Covariance", "value": "shrunk"}]},
        {"rule_id": 2, "parameters": [{"key": "Percentage", "value": "0.05"}]},
        {"rule_id": 8, "parameters": [{"key": "Period", "value": "6.5"}]}]})
    assert set(problems) == {"rules[0].parameters[0].value", "rules[0].parameters[1].value",
                             "rules[0].parameters[2].key", "rules[0].parameters[3].value",
                             "rules[1].parameters[0].value", "rules[2].parameters[0].value"}
    assert "expected from 0 to 100" in problems["rules[0].parameters[0].value"]
    assert "it takes IncludeStopLimit, RebalanceTrigger, Covariance" in problems["rules[0].parameters[2].key"]
    assert "expected from 0.1 to 20" in problems["rules[1].parameters[0].value"]
    assert "not a whole number" in problems["rules[2].parameters[0].value"]


@pytest.mark.parametrize(("value", "fragment"), [
    (5, "string"), ("5%", "not a number"), (" 5", "not a number"), ("1e1", "not a number"), ("-1", "out of range"),
    (None, "is required")])
def test_a_trigger_is_text_with_ascii_digits_in_percent(value: object, fragment: str) -> None:
    problems = refused(S.StrategyRequest, {"name": "x", "rules": [{"rule_id": 14, "parameters": [
        {"key": "RebalanceTrigger", "value": value}]}]})
    path = "rules[0].parameters[0].value"
    assert list(problems) == [path] and fragment in problems[path]


def test_a_strategy_is_refused_for_an_unknown_rule_a_repeated_rule_or_two_portfolio_rules() -> None:
    assert "is not a rule" in refused(S.StrategyRequest, {"name": "x", "rules": [{"rule_id": 22}]})["rules[0].rule_id"]
    assert "given twice" in refused(S.StrategyRequest, {"name": "x", "rules": [
        {"rule_id": 4}, {"rule_id": 4}]})["rules[1].rule_id"]
    assert "one portfolio rule" in refused(S.StrategyRequest, {"name": "x", "rules": [
        {"rule_id": 14}, {"rule_id": 4}, {"rule_id": 18}]})["rules[2].rule_id"]
    assert "given twice" in refused(S.StrategyRequest, {"name": "x", "rules": [{"rule_id": 14, "parameters": [
        {"key": "RebalanceTrigger", "value": "1"}, {"key": "RebalanceTrigger", "value": "2"}]}]})[
        "rules[0].parameters[1].key"]


def test_a_strategy_needs_a_name_and_rules_and_knows_no_other_field() -> None:
    problems = refused(S.StrategyRequest, {"name": " ", "rules": [], "owner": "me"})
    assert set(problems) == {"name", "rules", "owner"}
    assert set(refused(S.StrategyRequest, {"rules": [{"rule_id": "18"}]})) == {"name", "rules[0].rule_id"}
    assert set(refused(S.StrategyRequest, {"name": "x", "strategy_id": "12", "rules": [{"rule_id": 1}]})) == {
        "strategy_id"}


def test_constraints_are_checked_by_type_with_bounds_as_fractions() -> None:
    problems = refused(S.StrategyRequest, {"name": "x", "rules": [{"rule_id": 12, "constraints": [
        {"parameter": "Stocks", "lower_bound": 0, "upper_bound": 1, "type": "AssetClassConstraint"},
        {"parameter": "eur", "lower_bound": 0, "upper_bound": 1, "type": "CurrencyConstraint"},
        {"parameter": "EWA_ARCX_8", "lower_bound": 0.5, "upper_bound": 0.2, "type": "GeographyConstraint"},
        {"parameter": "KXI_ARCX_8", "lower_bound": 0, "upper_bound": 15, "type": "SectorConstraint"},
        {"instrument": {"instrument_code": "VFC_XNYS"}, "lower_bound": 0, "upper_bound": 0.1,
         "type": "InstrumentConstraint"},
        {"parameter": "X", "lower_bound": 0, "upper_bound": 1, "type": "CountryConstraint"}]}]})
    assert set(problems) == {"rules[0].constraints[0].parameter", "rules[0].constraints[1].parameter",
                             "rules[0].constraints[2].lower_bound", "rules[0].constraints[3].upper_bound",
                             "rules[0].constraints[4].instrument.apiid", "rules[0].constraints[5]"}
    assert "above upper_bound" in problems["rules[0].constraints[2].lower_bound"]
    assert "fractions of the portfolio" in problems["rules[0].constraints[3].upper_bound"]
    assert "only portfolio rules take constraints" in refused(S.StrategyRequest, {"name": "x", "rules": [
        {"rule_id": 4, "constraints": [{"parameter": "EUR", "lower_bound": 0, "upper_bound": 1,
                                        "type": "CurrencyConstraint"}]}]})["rules[0].constraints"]


# --------------------------------------------------------------------------- queries


def test_the_analytics_queries_of_the_document_are_read_from_query_strings() -> None:
    one = read(A.InstrumentQuery, query("risk-20-instrument-analytics-query"))
    assert (one.instrument_code, one.apiid) == ("AAPL_XNGS", 8)
    two = read(A.BenchmarkQuery, query("risk-22-benchmark-analytics-query"))
    assert (two.benchmark_instrument_code, two.benchmark_apiid) == ("SPY_ARCX", 8)
    assert read(A.InstrumentQuery, {"instrument_code": "AAPL_XNGS", "apiid": 8}).apiid == 8  # a JSON number too


def test_query_mistakes_are_named_by_parameter() -> None:
    problems = refused(A.BenchmarkQuery, {"instrument_code": "AAPL XNGS", "apiid": "8.0", "benchmark_apiid": "0",
                                          "start_date": "2022-13-01", "end_date": "2021-01-01"})
    assert set(problems) == {"instrument_code", "apiid", "benchmark_instrument_code", "benchmark_apiid",
                             "start_date"}
    assert "end_date" in refused(A.PortfolioQuery, {"client_reference": "TEST", "start_date": "2022-02-01",
                                                    "end_date": "2022-01-01"})
    assert set(refused(A.PortfolioQuery, {})) == {"client_reference"}


def test_the_optimisation_query_takes_the_strategy_id_as_text() -> None:
    q = read(S.OptimisationQuery, {"client_reference": "test", "strategy_id": "119"})
    assert (q.client_reference, q.strategy_id, q.benchmark_client_reference) == ("test", 119, None)
    problems = refused(S.OptimisationQuery, {"strategy_id": "abc", "benchmark_client_reference": ""})
    assert set(problems) == {"client_reference", "strategy_id", "benchmark_client_reference"}
    assert "strategy_id" in refused(S.OptimisationQuery, {"client_reference": "t", "strategy_id": "0"})
    assert read(S.StrategyQuery, {}).strategy_id is None
    assert read(S.StrategyQuery, {"strategy_id": "100"}).strategy_id == 100


def test_the_attribution_queries_take_the_documents_enums() -> None:
    q = read(T.IndexAttributionQuery, {"client_reference": "TEST", "index_symbol": "CAC", "horizon": "month"})
    assert q.model == "BrinsonFachlerEquityAttribution"
    versus = read(T.PortfolioAttributionQuery, {"client_reference": "A", "benchmark_client_reference": "B",
                                                "horizon": "day", "model": "HierarchicalMultiAssetClassAttribution"})
    assert versus.model == "HierarchicalMultiAssetClassAttribution"
    problems = refused(T.IndexAttributionQuery, {"client_reference": "TEST", "horizon": "week", "model": "Brinson"})
    assert set(problems) == {"index_symbol", "horizon", "model"}
    assert "'week' is not one of" in problems["horizon"]


# --------------------------------------------------------------------------- sentences and signs


def test_the_sentences_are_the_documents_to_the_letter() -> None:
    for name, subject in (("risk-21-instrument-analytics", "instrument"), ("risk-27-portfolio-analytics", "portfolio")):
        risk = body(name)["risk"]
        for kind, sentence in (("var", A.var_sentence), ("cvar", A.cvar_sentence)):
            for level, horizons in risk[kind].items():
                for horizon, m in horizons.items():
                    assert m["value"] < 0  # a loss is negative, as the document writes it
                    assert sentence(m["value"], float(level), horizon, subject) == m["commentary"]
        for horizon, m in risk["volatility"].items():
            assert A.volatility_sentence(m["value"], horizon, subject) == m["commentary"]
    component = body("risk-27-portfolio-analytics")["components"][0]["risk"]["marginal_contribution_to_risk"]
    assert A.contribution_sentence(component["volatility"]["value"]) == component["volatility"]["commentary"]


def test_risk_measures_are_built_from_numbers_with_their_sentences() -> None:
    horizons = {"day": -0.02, "week": -0.05, "month": -0.1}
    built = A.RiskMeasures.of({"0.95": horizons}, {"0.95": horizons},
                              {"day": 0.01, "week": 0.03, "month": float("nan")}, "portfolio").to_dict()
    assert list(built["var"]["0.95"]) == ["week", "month", "day"]
    assert built["var"]["0.95"]["week"] == {"value": -0.05, "commentary": "There is a 5.0% chance that the portfolio "
                                                                           "will lose more than 5.0% over one week"}
    assert built["volatility"]["month"] == {"value": None, "commentary": ""}
    assert A.Rated.of(1.22, "medium", "diversification ratio").to_dict() == {
        "color": "yellow", "value": 1.22, "commentary": "The diversification ratio is medium."}
    assert A.r_squared_rating(0.7304585730509594) == "medium" and A.r_squared_rating(float("nan")) == ""
