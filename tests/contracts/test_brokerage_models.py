"""The brokerage document's contract models (toolkit/contracts/brokerage.py): every example request
read as written, the ones that are wrong in the document refused naming their mistake and accepted once
corrected, the response models carrying the keys the document's prose names, and the unhappy paths
(unknown fields, wrong enums, non-ISO dates, bad decimals, cross-field rules) by field path."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import pydantic
import pytest
from contract_examples import fixtures

from toolkit.contracts.brokerage import (
    AccountOpening,
    CashMovement,
    PortfolioAllocationRequest,
    PortfolioAllocationResponse,
    PortfolioConfigurationRequest,
    PortfolioConfigurationResponse,
    PortfolioConfigurationUpdate,
    PortfolioOrderRequest,
    PortfolioOrderResponse,
    RebalancingExecution,
    RebalancingExecutionRequest,
    parse,
)
from toolkit.errors import ValidationError
from toolkit.trading.accounts import Configuration
from toolkit.trading.allocations import Allocation, AllocationItem

EXAMPLES = {name: f for name, f in fixtures().items() if name.startswith("brokerage-")}
MODELS: dict[tuple[str, str], type[pydantic.BaseModel]] = {
    ("POST", "/portfolios/allocations"): PortfolioAllocationRequest,
    ("PUT", "/portfolios/allocations/{allocation_id}"): PortfolioAllocationRequest,
    ("POST", "/portfolios/configurations"): PortfolioConfigurationRequest,
    ("PATCH", "/portfolios/configurations/{account_id}"): PortfolioConfigurationUpdate,
    ("POST", "/portfolios/orders"): PortfolioOrderRequest,
    ("POST", "/portfolios/rebalancings/executions"): RebalancingExecutionRequest}
RESPONSES: dict[str, type[pydantic.BaseModel]] = {
    "/portfolios/allocations": PortfolioAllocationResponse,
    "/portfolios/configurations": PortfolioConfigurationResponse,
    "/portfolios/orders": PortfolioOrderResponse}
AAPL, MSCI_WORLD = "US0378331005", "IE00B0M62Q58"
ID = "eb5ba93f-5dfe-4bf1-8571-4dadcaacc80c"
OTHER = "00ef0be8-d564-43af-b3c7-11b7a2188030"


def model_of(fixture: dict) -> type[pydantic.BaseModel]:
    return MODELS[fixture["method"], fixture["path"]]


def refused(model: type, request: object, **context: object) -> dict[str, str]:
    """The problems of a refusal, by path (in the order given)."""
    with pytest.raises(ValidationError) as info:
        parse(model, request, "request", **context)
    return {p.path: p.message for p in info.value.problems}


def item(key: str, weight: str, kind: str = "ISIN") -> dict:
    return {"instrument_id": key, "instrument_id_type": kind, "weight": weight}


def order(**changes: object) -> dict:
    return {"account_id": ID, "cash_amount": "100.00", "currency": "EUR", "side": "BUY", **changes}


# ------------------------------------------------------------------------ the document's examples


def test_every_example_request_has_its_model() -> None:
    requests = [f for f in EXAMPLES.values() if f["kind"] == "request"]
    assert len(requests) == 6 and all((f["method"], f["path"]) in MODELS for f in requests)


def test_the_allocation_example_is_refused_for_its_isin_and_accepted_corrected() -> None:
    fixture = EXAMPLES["brokerage-01-create-allocation.json"]
    problems = refused(PortfolioAllocationRequest, fixture["body"])
    assert list(problems) == ["allocation[0].instrument_id"]
    assert "'IE00BOM62058' is not a valid ISIN" in problems["allocation[0].instrument_id"]
    assert "IE00BOM62058" in fixture["invalid_in_document"]
    corrected = json.loads(fixture["verbatim"].replace("IE00BOM62058", MSCI_WORLD))
    request = parse(PortfolioAllocationRequest, corrected)
    assert request.name == "Allocation 1"
    assert [(e.instrument_id, e.instrument_id_type, e.weight) for e in request.allocation] == [
        (MSCI_WORLD, "ISIN", Decimal("0.7")), (AAPL, "ISIN", Decimal("0.3"))]
    assert request.to_dict() == corrected  # the seed's keys and decimal strings, as sent


def test_the_configuration_example_is_refused_for_its_id_and_accepted_corrected() -> None:
    fixture = EXAMPLES["brokerage-03-create-configuration.json"]
    assert refused(PortfolioConfigurationRequest, fixture["verbatim"]) == {
        "allocation_id": "'24c230eb-5d4f-4462-9af8-6612e7bd3afg' is not a UUID"}
    corrected = {**fixture["body"], "allocation_id": "24c230eb-5d4f-4462-9af8-6612e7bd3afa"}
    assert parse(PortfolioConfigurationRequest, corrected).to_dict() == corrected


def test_the_order_example_is_refused_naming_its_user_id_and_its_spaced_key() -> None:
    fixture = EXAMPLES["brokerage-05-place-order.json"]
    problems = refused(PortfolioOrderRequest, fixture["verbatim"])
    assert problems == {"user_id": "'4b9732bd-7496-491-8a5f-6360479d7fed' is not a UUID",
                        "account id": "unknown field 'account id'; did you mean account_id? (it is required)"}
    corrected = {"user_id": "4b9732bd-7496-4910-8a5f-6360479d7fed", "account_id": fixture["body"]["account id"],
                 "cash_amount": "100.00", "currency": "EUR", "side": "BUY"}
    request = parse(PortfolioOrderRequest, corrected)
    assert (request.cash_amount, request.currency, request.side) == (Decimal("100.00"), "EUR", "BUY")
    assert {k: v for k, v in request.to_dict().items() if k in corrected} == corrected


def test_the_replacement_example_is_not_json_and_its_repair_is_refused_for_two_ids() -> None:
    fixture = EXAMPLES["brokerage-07-replace-allocation.json"]
    problems = refused(PortfolioAllocationRequest, fixture["verbatim"])
    assert list(problems) == [""] and problems[""].startswith("not valid JSON") and "line 9" in problems[""]
    problems = refused(PortfolioAllocationRequest, fixture["repaired"]["body"])
    assert list(problems) == ["allocation[0].instrument_id", "allocation[2].instrument_id"]
    assert "'IE00BOM62Q58' is not a valid ISIN" in problems["allocation[0].instrument_id"]
    assert "is not a UUID" in problems["allocation[2].instrument_id"]
    text = fixture["verbatim"].replace('"allocation":\n', '"allocation": [\n').replace("IE00BOM62Q58", MSCI_WORLD)
    request = parse(PortfolioAllocationRequest, text.replace("306¢96382166", "306c96382166").encode())
    assert [(e.instrument_id_type, format(e.weight, "f")) for e in request.allocation] == [
        ("ISIN", "0.5"), ("ISIN", "0.3"), ("UPVEST", "0.2")]
    assert request.allocation[2].instrument_id == "6d7d7d64-e174-4b6b-84e0-306c96382166"


def test_the_switch_example_is_refused_for_its_id_and_accepted_corrected() -> None:
    fixture = EXAMPLES["brokerage-08-switch-configuration.json"]
    assert refused(PortfolioConfigurationUpdate, fixture["body"]) == {
        "allocation_id": "'359d7d64-e174-4b6b-84e0-306v963fc16f' is not a UUID"}
    update = parse(PortfolioConfigurationUpdate, {"allocation_id": "359d7d64-e174-4b6b-84e0-306a963fc16f"})
    assert update.allocation_id == "359d7d64-e174-4b6b-84e0-306a963fc16f"


def test_the_rebalancing_example_is_accepted_as_written() -> None:
    fixture = EXAMPLES["brokerage-09-execute-rebalancing.json"]
    for request in (fixture["body"], fixture["verbatim"], fixture["verbatim"].encode()):
        read = parse(RebalancingExecutionRequest, request)
        assert read.account_list == ("eb5ba93f-5dfe-4bf1-8571-4daacaacc80c",) and read.allocation_ids is None
        assert (read.drift, read.execution_date, read.preview) == (None, None, False)
        assert read.to_dict()["accounts"] == ["eb5ba93f-5dfe-4bf1-8571-4daacaacc80c"]


@pytest.mark.parametrize("name", sorted(n for n, f in EXAMPLES.items() if f["kind"] == "response"))
def test_each_response_model_carries_the_keys_the_prose_names(name: str) -> None:
    fixture = EXAMPLES[name]
    model = RESPONSES[fixture["path"]]
    names = {f.alias or n for n, f in model.model_fields.items()}
    assert set(fixture["body"]) <= names and "id" not in names


def test_domain_objects_answer_in_the_response_models_shape() -> None:
    allocation = Allocation("a1", None, (AllocationItem("i1", AAPL, "AAPL", Decimal("1.00")),), 1,
                            "2022-12-28T10:00:00+00:00", "2022-12-28T10:00:00+00:00")
    body = allocation.to_dict()
    assert body["allocation_id"] == "a1" and "id" not in body and body["name"] is None
    assert body["allocation"] == [{"instrument_id": "i1", "instrument_id_type": "UPVEST", "weight": "1.00",
                                   "isin": AAPL, "symbol": "AAPL"}]
    assert body["updated_at"] == body["valid_from"]
    configuration = Configuration("c1", ID, "a1", "2022-12-28", "2022-12-29")
    assert configuration.to_dict() == {"account_id": ID, "allocation_id": "a1", "configuration_id": "c1",
                                       "created_at": "2022-12-28", "updated_at": "2022-12-29"}


# ------------------------------------------------------------------------ allocations


def test_uuid_is_read_as_the_documents_upvest() -> None:
    request = parse(PortfolioAllocationRequest, {"allocation": [item(ID.upper(), "1", "UUID")]})
    assert request.allocation[0].key == ("UPVEST", ID)  # canonical lower-case text
    assert request.name is None


BAD_ALLOCATIONS = {
    "no list": ({"name": "x"}, {"allocation": "needs at least one instrument"}),
    "empty list": ({"allocation": []}, {"allocation": "needs at least one instrument"}),
    "object for list": ({"allocation": item(AAPL, "1")}, {"allocation": "needs at least one instrument"}),
    "item not an object": ({"allocation": [item(AAPL, "1"), AAPL]},
                           {"allocation[1]": "expected an object with instrument_id, instrument_id_type, weight"}),
    "unknown field": ({"allocation": [item(AAPL, "1")], "owner": "me"},
                      {"owner": "unknown field 'owner'; request has name, allocation"}),
    "unknown nested field": ({"allocation": [{**item(AAPL, "1"), "note": "x"}]},
                             {"allocation[0].note": "unknown field"}),
    "id type in lower case": ({"allocation": [item(AAPL, "1", "isin")]},
                              {"allocation[0].instrument_id_type": "'isin' is not one of ISIN, UPVEST"}),
    "unknown id type": ({"allocation": [item(AAPL, "1", "CUSIP")]},
                        {"allocation[0].instrument_id_type": "'CUSIP' is not one of ISIN, UPVEST"}),
    "id not a string": ({"allocation": [item(5, "1")]},  # type: ignore[arg-type]  # refused
                        {"allocation[0].instrument_id": "got int"}),
    "check digit": ({"allocation": [item("US0378331006", "1")]}, {"allocation[0].instrument_id": "not a valid ISIN"}),
    "upvest id not a uuid": ({"allocation": [item("BTC", "1", "UPVEST")]},
                             {"allocation[0].instrument_id": "'BTC' is not a UUID"}),
    "weight as a number": ({"allocation": [{**item(AAPL, "1"), "weight": 1}]},
                           {"allocation[0].weight": "expected a decimal string"}),
    "weight with a comma": ({"allocation": [item(AAPL, "0,5"), item(MSCI_WORLD, "0.5")]},
                            {"allocation[0].weight": "not a decimal number"}),
    "weight with an exponent": ({"allocation": [item(AAPL, "1e0")]}, {"allocation[0].weight": "not a decimal number"}),
    "zero weight": ({"allocation": [item(AAPL, "1"), item(MSCI_WORLD, "0")]},
                    {"allocation[1].weight": "greater than 0"}),
    "weight above 1": ({"allocation": [item(AAPL, "1.5"), item(MSCI_WORLD, "-0.5")]},
                       {"allocation[0].weight": "not in (0, 1]", "allocation[1].weight": "not in (0, 1]"}),
    "nine decimals": ({"allocation": [item(AAPL, "0.999999999"), item(MSCI_WORLD, "0.000000001")]},
                      {"allocation[0].weight": "more than 8 decimals", "allocation[1].weight": "more than 8"}),
    "sum below 1": ({"allocation": [item(AAPL, "0.5"), item(MSCI_WORLD, "0.499")]},
                    {"allocation": "weights sum to 0.999; they must sum to exactly 1"}),
    "listed twice": ({"allocation": [item(AAPL, "0.5"), item(AAPL, "0.5")]},
                     {"allocation[1].instrument_id": "lists US0378331005 again (already at allocation[0])"}),
    "upvest id twice in two cases": ({"allocation": [item(ID, "0.5", "UPVEST"), item(ID.upper(), "0.5", "UUID")]},
                                     {"allocation[1].instrument_id": "again"}),
    "name with markup": ({"name": "<b>x</b>", "allocation": [item(AAPL, "1")]}, {"name": "letters, digits"}),
    "name blank": ({"name": "  ", "allocation": [item(AAPL, "1")]}, {"name": "1 to 100 characters"}),
    "name a number": ({"name": 7, "allocation": [item(AAPL, "1")]}, {"name": "expected a string, got int"}),
}


@pytest.mark.parametrize("payload, expected", BAD_ALLOCATIONS.values(), ids=BAD_ALLOCATIONS.keys())
def test_bad_allocations_are_refused_by_path(payload: dict, expected: dict[str, str]) -> None:
    problems = refused(PortfolioAllocationRequest, payload)
    assert list(problems) == list(expected), problems
    for path, fragment in expected.items():
        assert fragment in problems[path]


def test_every_problem_of_an_allocation_is_named_at_once_in_field_order() -> None:
    problems = refused(PortfolioAllocationRequest, {
        "name": "a;b", "allocation": [item(AAPL, "0.5"), item(AAPL, "0.499"), item("XX", "0.002", "CUSIP")],
        "extra": 1})
    assert list(problems) == ["name", "allocation[1].instrument_id", "allocation[2].instrument_id_type",
                              "allocation", "extra"]
    assert problems["allocation"] == "weights sum to 1.001; they must sum to exactly 1"


def test_the_sum_waits_for_every_weight_to_read() -> None:
    assert list(refused(PortfolioAllocationRequest, {"allocation": [item(AAPL, "0.5"), item(MSCI_WORLD, "x")]})) == [
        "allocation[1].weight"]


# ------------------------------------------------------------------------ configurations


@pytest.mark.parametrize("payload, expected", [
    ({"account_id": ID}, {"allocation_id": "is required"}),
    ({"account_id": "x", "allocation_id": 3}, {"account_id": "'x' is not a UUID", "allocation_id": "3 is not a UUID"}),
    ({"account_id": ID, "allocation_id": OTHER, "type": "PORTFOLIO"},
     {"type": "unknown field 'type'; request has account_id, allocation_id"}),
])
def test_bad_configurations_are_refused_by_path(payload: dict, expected: dict) -> None:
    assert refused(PortfolioConfigurationRequest, payload) == expected


def test_a_switch_takes_the_allocation_only() -> None:
    assert refused(PortfolioConfigurationUpdate, {"account_id": ID, "allocation_id": OTHER}) == {
        "account_id": "unknown field 'account_id'; request has allocation_id"}


# ------------------------------------------------------------------------ orders


BAD_ORDERS = {
    "amount as a number": ({"cash_amount": 100}, {"cash_amount": "expected a decimal string"}),
    "fractions of a cent": ({"cash_amount": "10.005"}, {"cash_amount": "fractions of a cent"}),
    "negative amount": ({"cash_amount": "-10.00"}, {"cash_amount": "not a positive amount"}),
    "amount NaN": ({"cash_amount": "NaN"}, {"cash_amount": "not a decimal number"}),
    "amount over the limit": ({"cash_amount": "1000000000000.01"}, {"cash_amount": "above the limit"}),
    "side in lower case": ({"side": "buy"}, {"side": "'buy' is not one of 'BUY' or 'SELL'"}),
    "currency in lower case": ({"currency": "eur"}, {"currency": "not an ISO 4217 currency code"}),
    "currency of no money": ({"currency": "XAU"}, {"currency": "no currency"}),
    "date not ISO": ({"execution_date": "28/12/2022"}, {"execution_date": "not a date"}),
    "date that does not exist": ({"execution_date": "2022-02-30"}, {"execution_date": "not a date"}),
    "blank idempotency key": ({"idempotency_key": "  "}, {"idempotency_key": "not blank"}),
    "user id not a UUID": ({"user_id": "user-1"}, {"user_id": "not a UUID"}),
    "unknown field": ({"limit_price": "1.00"}, {"limit_price": "unknown field 'limit_price'; request has user_id"}),
    "near miss": ({"cashAmount": "1.00"}, {"cashAmount": "did you mean cash_amount?"}),
}


@pytest.mark.parametrize("changes, expected", BAD_ORDERS.values(), ids=BAD_ORDERS.keys())
def test_bad_orders_are_refused_by_path(changes: dict, expected: dict[str, str]) -> None:
    problems = refused(PortfolioOrderRequest, order(**changes))
    assert list(problems) == list(expected), problems
    for path, fragment in expected.items():
        assert fragment in problems[path]


def test_an_order_names_its_account_in_the_body_or_outside_and_in_its_currency() -> None:
    body = {k: v for k, v in order().items() if k != "account_id"}
    assert refused(PortfolioOrderRequest, body) == {"account_id": "is required"}
    assert parse(PortfolioOrderRequest, body, account_id=ID).account_id is None  # the façade's argument names it
    assert parse(PortfolioOrderRequest, order(), account_id=ID, currency="EUR").account_id == ID
    assert refused(PortfolioOrderRequest, order(), account_id=OTHER, currency="USD") == {
        "account_id": f"{ID} is not the account {OTHER} the order is placed for",
        "currency": "EUR is not the account's currency USD"}
    problems = refused(PortfolioOrderRequest, order(cash_amount="1O0", side="HOLD"), currency="USD")
    assert list(problems) == ["cash_amount", "currency", "side"]


def test_an_order_answers_the_seeds_keys() -> None:
    answer = PortfolioOrderResponse(portfolio_order_id="o1", account_id=ID, cash_amount="100.00", currency="EUR",
                                    side="BUY", state="FILLED", idempotency_key=None, execution_date="2022-12-28",
                                    created_at="2022-12-28T10:00:00+00:00", child_orders=[], state_history=[])
    body = answer.to_dict()
    assert {"portfolio_order_id", "user_id", "account_id", "cash_amount", "currency", "side"} <= set(body)
    with pytest.raises(pydantic.ValidationError):
        PortfolioOrderResponse(**{**body, "side": "HOLD"})


# ------------------------------------------------------------------------ rebalancings


BAD_RUNS = {
    "neither list": ({"preview": True}, {"accounts": "give accounts"}),
    "two lists": ({"accounts": [ID], "allocation_ids": [OTHER]}, {"accounts": "one of them"}),
    "two names of one list": ({"accounts": [ID], "account_ids": [OTHER]}, {"accounts": "one of them"}),
    "list as a string": ({"accounts": ID}, {"accounts": "expected a list of 1 to 100,000 UUIDs"}),
    "empty list": ({"accounts": []}, {"accounts": "expected a list"}),
    "not a UUID": ({"accounts": [ID, "acc-1"]}, {"accounts[1]": "'acc-1' is not a UUID"}),
    "repeated": ({"account_ids": [ID, OTHER, ID.upper()]}, {"account_ids[2]": "repeats account_ids[0]"}),
    "drift above 1": ({"accounts": [ID], "drift": {"threshold": "1.5"}}, {"drift.threshold": "not between 0 and 1"}),
    "drift NaN": ({"accounts": [ID], "drift": {"threshold": "NaN"}}, {"drift.threshold": "not a decimal number"}),
    "drift type": ({"accounts": [ID], "drift": {"threshold": "0.1", "type": "PERCENT"}},
                   {"drift.type": "'PERCENT' is not one of 'ABSOLUTE' or 'RELATIVE'"}),
    "drift a number": ({"accounts": [ID], "drift": 0.02}, {"drift": "expected an object with threshold, type"}),
    "drift field": ({"accounts": [ID], "drift": {"threshold": "0.1", "mode": "x"}}, {"drift.mode": "unknown field"}),
    "preview text": ({"accounts": [ID], "preview": "yes"}, {"preview": "not true or false"}),
    "month 13": ({"accounts": [ID], "execution_date": "2022-13-01"}, {"execution_date": "not a date"}),
    "all at once": ({"preview": 1, "execution_date": "soon"}, {"accounts": "give", "execution_date": "not a date",
                                                               "preview": "not true or false"}),
}


@pytest.mark.parametrize("payload, expected", BAD_RUNS.values(), ids=BAD_RUNS.keys())
def test_bad_rebalancing_requests_are_refused_by_path(payload: dict, expected: dict[str, str]) -> None:
    problems = refused(RebalancingExecutionRequest, payload)
    assert list(problems) == list(expected), problems
    for path, fragment in expected.items():
        assert fragment in problems[path]


def test_a_run_by_allocation_with_drift_and_preview() -> None:
    run = parse(RebalancingExecutionRequest, {"allocation_ids": [OTHER], "drift": {"threshold": "0.02"},
                                              "execution_date": "2022-12-28", "preview": True})
    assert run.account_list is None and run.allocation_ids == (OTHER,)
    assert run.drift is not None and (run.drift.threshold, run.drift.type) == (Decimal("0.02"), "ABSOLUTE")
    assert run.execution_date == date(2022, 12, 28) and run.preview is True
    with pytest.raises(pydantic.ValidationError):
        RebalancingExecution(account_id=ID, status="DONE", cancellation_reason=None, portfolio_order_id=None,
                             trades=[])


# ------------------------------------------------------------------------ accounts and cash


def test_accounts_and_cash_movements() -> None:
    opening = parse(AccountOpening, {"type": "PORTFOLIO", "currency": "EUR"})
    assert (opening.status, opening.name) == ("ACTIVE", None)
    assert list(refused(AccountOpening, {"type": None, "currency": 840, "name": ""})) == ["type", "currency", "name"]
    assert parse(CashMovement, {"amount": "10.10", "currency": "EUR"}, currency="EUR").amount == Decimal("10.10")
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    problems = refused(CashMovement, {"amount": "ten", "currency": "USD", "value_date": tomorrow}, currency="EUR")
    assert list(problems) == ["amount", "currency", "value_date"]
    assert problems["currency"] == "USD is not the account's currency EUR"
    assert "is in the future" in problems["value_date"] and "not a decimal number" in problems["amount"]


# ------------------------------------------------------------------------ the reader


@pytest.mark.parametrize("request_", [[order()], "[1]", b"\xff", "{", 5])
def test_a_request_that_is_no_json_object_is_refused_whole(request_: object) -> None:
    with pytest.raises(ValidationError) as info:
        parse(PortfolioOrderRequest, request_)
    assert info.value.paths == [""]


def test_a_model_given_with_context_is_checked_again() -> None:
    run = parse(RebalancingExecutionRequest, {"accounts": [ID], "preview": True})
    assert parse(RebalancingExecutionRequest, run, extra="context") == run
    movement = parse(CashMovement, {"amount": "1.00", "currency": "EUR"})
    assert refused(CashMovement, movement, currency="USD") == {"currency": "EUR is not the account's currency USD"}


def test_models_are_frozen_and_pass_through_parse() -> None:
    request = parse(PortfolioOrderRequest, order())
    assert parse(PortfolioOrderRequest, request) is request
    with pytest.raises(pydantic.ValidationError):
        request.side = "SELL"  # type: ignore[misc]
    assert refused(PortfolioOrderRequest, request, currency="USD") == {
        "currency": "EUR is not the account's currency USD"}
