"""The brokerage document's example requests through the façade, as an integrator sends them (a dict,
JSON text or bytes): the ones the document gets wrong refused naming the mistake with nothing written,
their corrected versions accepted, and the answers in the document's shape (``allocation_id``,
``account_id``, ``portfolio_order_id``)."""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from helpers import dump

from toolkit.errors import NotFoundError, ValidationError
from toolkit.workspace import Workspace

sys.path.insert(0, str(Path(__file__).resolve().parent / "contracts"))
from contract_examples import fixtures  # noqa: E402

EXAMPLES = {name: f for name, f in fixtures().items() if name.startswith("brokerage-")}
AAPL, MSCI_WORLD = "US0378331005", "IE00B0M62Q58"
USER = "4b9732bd-7496-4910-8a5f-6360479d7fed"


def example(name: str) -> dict:
    return EXAMPLES[f"{name}.json"]


def msci_world(ws: Workspace) -> str:
    """The iShares MSCI World ETF the document invests in, uploaded (the risk platform's upload) with daily
    closes to the market clock; its instrument id."""
    bars = [{"datetime": f"2022-12-{d}", "open": 70.0, "high": 71.0, "low": 69.5, "close": 70.5, "volume": 1000}
            for d in (20, 21, 22, 23, 27, 28)]
    ws.history.upload({"instrument": {"instrument_code": "IWRD_XLON", "currency": "USD",
                                      "name": "iShares MSCI World UCITS ETF",
                                      "identifiers": {"symbol": "IWRD", "isin": MSCI_WORLD},
                                      "exchange": {"mic_code": "XLON"}},
                       "timeframe_id": 1, "history": bars})
    return ws.instruments.resolve([MSCI_WORLD])[0]


def funded(ws: Workspace, cash: str = "1000.00") -> str:
    account = ws.accounts.create({"type": "PORTFOLIO", "currency": "USD"}).id
    ws.accounts.deposit(account, {"amount": cash, "currency": "USD"})
    return account


def corrected_allocation() -> dict:
    return json.loads(example("brokerage-01-create-allocation")["verbatim"].replace("IE00BOM62058", MSCI_WORLD))


def test_the_wrong_examples_are_refused_naming_the_mistake_and_nothing_is_written(ws: Workspace) -> None:
    allocation = ws.allocations.create({"allocation": [{"instrument_id": AAPL, "instrument_id_type": "ISIN",
                                                        "weight": "1"}]}).id
    account = funded(ws)
    ws.configurations.create({"account_id": account, "allocation_id": allocation})
    before = dump(ws)
    calls = {
        "brokerage-01-create-allocation": (ws.allocations.create, "allocation[0].instrument_id", "IE00BOM62058"),
        "brokerage-03-create-configuration": (ws.configurations.create, "allocation_id", "6612e7bd3afg"),
        "brokerage-05-place-order": (ws.orders.place, "user_id", "4b9732bd-7496-491-"),
        "brokerage-07-replace-allocation": (lambda body: ws.allocations.replace(allocation, body), "",
                                            "not valid JSON"),
        "brokerage-08-switch-configuration": (lambda body: ws.configurations.switch(account, body), "allocation_id",
                                              "306v963fc16f"),
    }
    for name, (call, path, named) in calls.items():
        fixture = example(name)
        for request in (fixture["verbatim"], fixture["body"]):
            if request is None:
                continue
            with pytest.raises(ValidationError) as info:
                call(request)
            assert info.value.paths[0] == path and named in str(info.value), (name, str(info.value))
    with pytest.raises(ValidationError, match="'account id'; did you mean account_id"):
        ws.orders.place(example("brokerage-05-place-order")["body"])
    assert dump(ws) == before


def test_the_corrected_examples_are_accepted_in_the_documents_order(ws: Workspace) -> None:
    world = msci_world(ws)
    created = ws.allocations.create(json.dumps(corrected_allocation()))  # 1: JSON text, as sent
    body = created.to_dict()
    assert body["allocation_id"] == created.id and body["name"] == "Allocation 1"
    assert [(a["instrument_id"], a["weight"]) for a in body["allocation"]] == [(world, "0.7"),
                                                                               (created.items[1].instrument_id, "0.3")]
    account = funded(ws)
    configured = ws.configurations.create({"account_id": account, "allocation_id": created.id})  # 2
    assert configured.to_dict()["account_id"] == account
    order = ws.orders.place({"user_id": USER, "account_id": account, "cash_amount": "100.00", "currency": "USD",
                             "side": "BUY"})  # 3 (in the account's currency: the demo's accounts are in USD)
    answer = order.to_dict()
    assert order.id and answer["portfolio_order_id"] == order.id and answer["user_id"] == USER and "id" not in answer
    assert ws.orders.get(order.id).user_id == USER
    msft = ws.instruments.resolve(["US5949181045"])[0]
    replaced = ws.allocations.replace(created.id, {"name": "Allocation 1", "allocation": [
        {"instrument_id": MSCI_WORLD, "instrument_id_type": "ISIN", "weight": "0.5"},
        {"instrument_id": AAPL, "instrument_id_type": "ISIN", "weight": "0.3"},
        {"instrument_id": msft, "instrument_id_type": "UPVEST", "weight": "0.2"}]})  # 4: an UPVEST id
    assert replaced.version == 2
    assert [a["instrument_id_type"] for a in replaced.to_dict()["allocation"]] == ["UPVEST"] * 3
    other = ws.allocations.create({"allocation": [{"instrument_id": AAPL, "instrument_id_type": "ISIN",
                                                   "weight": "1"}]})
    switched = ws.configurations.switch(account, json.dumps({"allocation_id": other.id}).encode())  # 5: bytes
    assert switched.allocation_id == other.id
    run = ws.rebalancings.execute(json.dumps({"accounts": [account]}))  # 6: the seed's list
    (execution,) = run["executions"]
    assert execution["account_id"] == account and execution["status"] == "EXECUTED"
    assert {t["side"] for t in execution["trades"]} == {"SELL", "BUY"}


def test_an_upvest_id_the_workspace_has_no_instrument_for_is_refused_by_path(ws: Workspace) -> None:
    repaired = example("brokerage-07-replace-allocation")["repaired"]["body"]
    corrected = json.loads(json.dumps(repaired, ensure_ascii=False).replace("IE00BOM62Q58", MSCI_WORLD)
                           .replace("306¢", "306c"))
    msci_world(ws)
    before = dump(ws)
    with pytest.raises(ValidationError) as info:
        ws.allocations.create(corrected)
    assert info.value.paths == ["allocation[2].instrument_id"]
    assert "no instrument with id 6d7d7d64-e174-4b6b-84e0-306c96382166 in this workspace" in str(info.value)
    assert dump(ws) == before


def test_an_order_names_its_account_in_the_body_or_as_the_argument(ws: Workspace) -> None:
    allocation = ws.allocations.create({"allocation": [{"instrument_id": AAPL, "instrument_id_type": "ISIN",
                                                        "weight": "1"}]}).id
    account, other = funded(ws), funded(ws)
    ws.configurations.create({"account_id": account, "allocation_id": allocation})
    body = {"account_id": account, "cash_amount": "10.00", "currency": "USD", "side": "BUY"}
    assert ws.orders.place(account, body).account_id == account  # the façade's earlier call still works
    assert ws.orders.preview(body).cash_amount == "10.00"
    from toolkit.contracts.brokerage import PortfolioOrderRequest, parse

    assert ws.orders.preview(parse(PortfolioOrderRequest, body)).account_id == account  # the model itself
    before = dump(ws)
    with pytest.raises(ValidationError) as info:
        ws.orders.place(other, body)
    assert info.value.paths == ["account_id"] and f"is not the account {other}" in str(info.value)
    unknown = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(ValidationError, match=f"account_id: no account with id {unknown}"):
        ws.orders.place({**body, "account_id": unknown})
    with pytest.raises(NotFoundError):
        ws.orders.place(unknown, body)
    with pytest.raises(ValidationError) as info:
        ws.orders.place({**body, "currency": "EUR", "user_id": "nobody"})
    assert info.value.paths == ["user_id", "currency"]
    assert dump(ws) == before


def test_a_reused_idempotency_key_with_another_user_is_a_conflict(ws: Workspace) -> None:
    from toolkit.errors import ConflictError

    allocation = ws.allocations.create({"allocation": [{"instrument_id": AAPL, "instrument_id_type": "ISIN",
                                                        "weight": "1"}]}).id
    account = funded(ws)
    ws.configurations.create({"account_id": account, "allocation_id": allocation})
    body = {"user_id": USER, "account_id": account, "cash_amount": "10.00", "currency": "USD", "side": "BUY",
            "idempotency_key": "k-1"}
    first = ws.orders.place(body)
    assert ws.orders.place(body).id == first.id
    with pytest.raises(ConflictError, match="different order"):
        ws.orders.place({**body, "user_id": "5b9732bd-7496-4910-8a5f-6360479d7fed"})
    assert ws.accounts.get(account).cash == Decimal("990.00")


def test_one_refusal_names_the_requests_own_problems_and_the_workspaces(ws: Workspace) -> None:
    before = dump(ws)
    with pytest.raises(ValidationError) as info:
        ws.allocations.create({"name": "a;b", "allocation": [
            {"instrument_id": "DE0007164600", "instrument_id_type": "ISIN", "weight": "0.5"},  # SAP: not in the demo
            {"instrument_id": AAPL, "instrument_id_type": "ISIN", "weight": "x"}]})
    assert info.value.paths == ["name", "allocation[0].instrument_id", "allocation[1].weight"]
    assert "no tradable instrument with ISIN DE0007164600" in str(info.value)
    assert dump(ws) == before


def test_the_list_takes_the_query_parameters_as_a_query_string_gives_them(ws: Workspace) -> None:
    apple = ws.allocations.create({"allocation": [{"instrument_id": AAPL, "instrument_id_type": "ISIN",
                                                   "weight": "1"}]})
    day = apple.created_at[:10]
    found = ws.allocations.list(instrument_ids=f"{AAPL},US5949181045", start_date=day, end_date=day)
    assert found[0].allocation_id == apple.id  # newest first
    assert all({i.isin for i in a.items} & {AAPL, "US5949181045"} for a in found)
    with pytest.raises(ValidationError) as info:
        ws.allocations.list(instrument_ids=f"{AAPL},BTC")
    assert info.value.paths == ["instrument_ids[1]"]


def test_a_rebalancing_run_answers_a_dict_and_its_json_shape(ws: Workspace) -> None:
    allocation = ws.allocations.create({"allocation": [{"instrument_id": AAPL, "instrument_id_type": "ISIN",
                                                        "weight": "1"}]}).id
    account = funded(ws)
    ws.configurations.create({"account_id": account, "allocation_id": allocation})
    missing = "00000000-0000-4000-8000-000000000000"
    run = ws.rebalancings.execute({"accounts": [account, missing], "preview": True})
    body = run.to_dict()
    assert json.loads(json.dumps(body)) == body and set(body) == {"id", "preview", "created_at", "executions"}
    assert [(e["status"], e["cancellation_reason"]) for e in body["executions"]] == [
        ("PREVIEW", None), ("CANCELLED", "ACCOUNT_NOT_FOUND")]
    assert run.to_pandas()["trades"].tolist() == [1, 0]
    assert ws.rebalancings.get(run["id"]).to_dict() == body
