"""How much of the seed documents' examples the façade accepts: a measurement, not a test.

    .venv/bin/python tests/contracts/conformance.py           # print the tables
    .venv/bin/python tests/contracts/conformance.py --write   # and write tests/contracts/STATUS.md

Every example request of the three documents (``tests/contracts/examples``, see
``contract_examples.py``) goes, in the documents' order, through the façade method that serves its
endpoint, on a private copy of the demo workspace (``Workspace.demo()`` backed up to a temporary
file), as an integrator would send it: the method gets the request itself as its argument, the
body as parsed (the text as written when it is not valid JSON) or, for a GET, the query's
parameters as a dict of strings. That is what DESIGN.md promises ("each method accepts the seed's
example request verbatim (a dict or JSON, with the seed's field names ...)"). Path parameters the
documents leave out are filled from the workspace (see :data:`ROUTES`).

Each request is then

- ``ACCEPTED``: the method answered; with a response example, the answer's ``to_dict()`` (a list
  of them, or a table's records) is compared with it by top-level keys: ``same keys``, ``same keys +
  extra`` (the toolkit adds fields, as DESIGN.md allows), or ``DIFFERENT`` with the missing keys;
- ``REFUSED``: a :class:`toolkit.errors.ToolkitError`, shown with its first problem;
- ``ERROR``: any other exception (DESIGN.md wants one sentence, never a bare ``TypeError``);
- ``NO ENDPOINT``: the façade has no method for the endpoint.

A second table calls, without arguments, the façade methods behind the response examples that have
no example request (``GET /rules``, ``GET /index``, ...), to compare their shapes too. The last line
counts the requests: ``N of M example requests accepted; K answered in the example's shape`` (K:
accepted ones with a response example whose keys are all in the answer). The library is measured
as it is: nothing here changes it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from contract_examples import HERE, fixtures  # noqa: E402

from toolkit.errors import NotFoundError, ToolkitError, ValidationError  # noqa: E402
from toolkit.workspace import Workspace  # noqa: E402

STATUS = HERE / "STATUS.md"


@dataclass(frozen=True)
class Route:
    """The façade call that serves an endpoint: ``call`` as shown in the table, ``run(ws, request,
    context)`` doing it; ``run`` None when the façade has no such method (``call`` then says why).
    ``takes_request`` is False where the method's signature takes separate arguments instead of the
    request (its first argument is then given the request all the same, or a field of it)."""

    call: str
    run: Callable[[Workspace, Any, dict], object] | None  # the request: any JSON value, sent as it is
    takes_request: bool = True


def _demo_allocation(ws: Workspace, context: dict) -> str:
    """The allocation created by brokerage-01 when the façade accepted it, else the demo's first."""
    return context.get("allocation_id") or sorted(a.id for a in ws.allocations.list())[0]


def _configured_account(ws: Workspace) -> str:
    """The first PORTFOLIO account of the demo book that has a configuration."""
    for account in ws.accounts.list(type="PORTFOLIO"):
        try:
            ws.configurations.get(account.id)
            return account.id
        except ToolkitError:
            continue
    raise RuntimeError("the demo workspace has no configured PORTFOLIO account")


def _demo_portfolio(ws: Workspace, n: int = 0) -> str:
    """The ``n``-th ACTIVE PORTFOLIO account of the demo book (its id is the client reference the risk
    platform's portfolio queries take; a CLOSED mandate holds nothing to analyse)."""
    return sorted(a.id for a in ws.accounts.list(type="PORTFOLIO", status="ACTIVE"))[n]


def _saved_strategy(ws: Workspace, name: str, rule_ids: list[int]) -> str:
    """The ``strategy_id`` (as a query string gives it) of the strategy ``name`` holding ``rule_ids``; saved
    once per workspace."""
    for item in ws.strategies.list():
        if item.strategy.name == name:
            return str(item.strategy.strategy_id)
    return str(ws.strategies.create({"name": name, "rules": [{"rule_id": r} for r in rule_ids]}).strategy_id)


def _demo_strategy(ws: Workspace) -> str:
    """A strategy holding, as the document's GET /strategy example does, the tactical rule 4 (Direction - Not
    Overextended) and a portfolio rule, Risk Parity (rule_id 18, GET /rules)."""
    return _saved_strategy(ws, "Conformance: Risk Parity", [4, 18])


def _backtest_strategy(ws: Workspace) -> str:
    """A strategy holding the tactical rule 4 and the portfolio rule Equal Weight (rule_id 14), which a backtest
    re-optimises monthly (the document's example names no rule; Equal Weight keeps the three years of risk-25
    under a second, where Risk Parity's 36 solves take 11 s)."""
    return _saved_strategy(ws, "Conformance: Equal Weight", [4, 14])


def _demo_backtest(ws: Workspace) -> object:
    """GET /portfolio/backtest of the demo portfolio and strategy of risk-25's PUT, waiting for its end
    (the PUT with risk-25's period first when none was made)."""
    query = {"client_reference": _demo_portfolio(ws), "strategy_id": _backtest_strategy(ws)}
    if ws.backtests.get(query).status == "Not Queued":
        ws.backtests.start({**query, "start_date": "2020-01-01", "end_date": "2023-12-30"})
    return ws.backtests.get(query, wait=True)


#: (document prefix, method, path) -> the façade call that serves it
ROUTES: dict[tuple[str, str, str], Route] = {
    ("brokerage", "POST", "/portfolios/allocations"):
        Route("allocations.create(body)", lambda ws, req, ctx: ws.allocations.create(req)),
    ("brokerage", "POST", "/portfolios/configurations"):
        Route("configurations.create(body)", lambda ws, req, ctx: ws.configurations.create(req)),
    ("brokerage", "POST", "/portfolios/orders"):
        Route("orders.place(body)", lambda ws, req, ctx: ws.orders.place(req)),
    ("brokerage", "PUT", "/portfolios/allocations/{allocation_id}"):
        Route("allocations.replace(<brokerage-01's allocation, else the demo's first>, body)",
              lambda ws, req, ctx: ws.allocations.replace(_demo_allocation(ws, ctx), req)),
    ("brokerage", "PATCH", "/portfolios/configurations/{account_id}"):
        Route("configurations.switch(<a configured demo account>, body)",
              lambda ws, req, ctx: ws.configurations.switch(_configured_account(ws), req)),
    ("brokerage", "POST", "/portfolios/rebalancings/executions"):
        Route("rebalancings.execute(body)", lambda ws, req, ctx: ws.rebalancings.execute(req)),
    ("risk", "GET", "/user"): Route("api.user()", lambda ws, req, ctx: ws.api.user()),
    ("risk", "GET", "/history"):
        Route("history.get({'instrument_code': 'AAPL_XNGS' (the paired answer's; the table gives no example), "
              "**query})",
              lambda ws, req, ctx: ws.history.get({"instrument_code": "AAPL_XNGS", **req})),
    ("risk", "PUT", "/history"): Route("history.upload(body)", lambda ws, req, ctx: ws.history.upload(req)),
    ("risk", "GET", "/api"): Route("api.providers()", lambda ws, req, ctx: ws.api.providers()),
    ("risk", "GET", "/history/instrument"):
        Route("instruments.find(query)", lambda ws, req, ctx: ws.instruments.find(req)),
    ("risk", "POST", "/history/coverage"):
        Route("instruments.coverage(body, {'method': 'ISIN_CURRENCY'})",
              lambda ws, req, ctx: ws.instruments.coverage(req, {"method": "ISIN_CURRENCY"})),
    ("risk", "PUT", "/portfolio"):
        Route("portfolios.upload(body, client_reference='TEST' (GET /portfolio's example; PUT's table gives none))",
              lambda ws, req, ctx: ws.portfolios.upload(req, "TEST")),
    ("risk", "GET", "/portfolio"): Route("portfolios.list()", lambda ws, req, ctx: ws.portfolios.list()),
    ("risk", "GET", "/constraints/geographies"):
        Route("portfolios.universes('geographies')", lambda ws, req, ctx: ws.portfolios.universes("geographies")),
    ("risk", "GET", "/constraints/sectors"):
        Route("portfolios.universes('sectors')", lambda ws, req, ctx: ws.portfolios.universes("sectors")),
    ("risk", "GET", "/constraints/currencies"):
        Route("portfolios.universes('currencies')", lambda ws, req, ctx: ws.portfolios.universes("currencies")),
    ("risk", "GET", "/constraints/assetclasses"):
        Route("portfolios.universes('assetclasses')", lambda ws, req, ctx: ws.portfolios.universes("assetclasses")),
    ("risk", "GET", "/rules"): Route("strategies.rules()", lambda ws, req, ctx: ws.strategies.rules()),
    ("risk", "GET", "/strategy"): Route("strategies.list(query)", lambda ws, req, ctx: ws.strategies.list(req)),
    ("risk", "POST", "/strategy"): Route("strategies.create(body)", lambda ws, req, ctx: ws.strategies.create(req)),
    ("risk", "GET", "/history/analytics"):
        Route("analytics.instrument(query)", lambda ws, req, ctx: ws.analytics.instrument(req)),
    ("risk", "GET", "/history/benchmark"):
        Route("analytics.benchmark(query)", lambda ws, req, ctx: ws.analytics.benchmark(req)),
    ("risk", "GET", "/portfolio/optimisation"):
        Route("strategies.optimise({client_reference: <a demo PORTFOLIO account>, strategy_id: <a Risk Parity "
              "strategy>})", lambda ws, req, ctx: ws.strategies.optimise(
                  req or {"client_reference": _demo_portfolio(ws), "strategy_id": _demo_strategy(ws)})),
    ("risk", "PUT", "/portfolio/backtest"):
        Route("backtests.start({client_reference: <a demo PORTFOLIO account>, strategy_id: <an Equal Weight strategy>, "
              "**query})", lambda ws, req, ctx: ws.backtests.start(
                  {"client_reference": _demo_portfolio(ws), "strategy_id": _backtest_strategy(ws), **req})),
    ("risk", "GET", "/portfolio/backtest"):
        Route("backtests.get({client_reference: <a demo PORTFOLIO account>, strategy_id: <an Equal Weight strategy>}, "
              "wait=True) (after risk-25's PUT)", lambda ws, req, ctx: _demo_backtest(ws)),
    ("risk", "GET", "/portfolio/analytics"):
        Route("analytics.portfolio({client_reference: <a demo PORTFOLIO account>})",
              lambda ws, req, ctx: ws.analytics.portfolio(req or {"client_reference": _demo_portfolio(ws)})),
    ("risk", "GET", "/index"): Route("attribution.indexes()", lambda ws, req, ctx: ws.attribution.indexes()),
    ("risk", "GET", "/portfolio/attribution/index"):
        Route("attribution.versus_index({client_reference: <a demo PORTFOLIO account>, index_symbol: <the demo's first "
              "index>, horizon: month})", lambda ws, req, ctx: ws.attribution.versus_index(req or {
                  "client_reference": _demo_portfolio(ws), "index_symbol": ws.attribution.indexes()[0].symbol,
                  "horizon": "month"})),
    ("risk", "GET", "/portfolio/attribution/portfolio"):
        Route("attribution.versus_portfolio({client_reference: <a demo PORTFOLIO account>, benchmark_client_reference: "
              "<another>, horizon: month})", lambda ws, req, ctx: ws.attribution.versus_portfolio(req or {
                  "client_reference": _demo_portfolio(ws), "benchmark_client_reference": _demo_portfolio(ws, 1),
                  "horizon": "month"})),
    ("performance", "GET", "/portfolio/returns"):
        Route("reports.portfolio_returns(query)", lambda ws, req, ctx: ws.reports.portfolio_returns(req)),
    ("performance", "GET", "/instrument/returns"):
        Route("reports.instrument_returns(query)", lambda ws, req, ctx: ws.reports.instrument_returns(req)),
}
#: response-only endpoints whose façade method needs a request the documents do not give
NEEDS_PARAMETERS = {("risk", "GET", "/portfolio/optimisation"), ("risk", "GET", "/portfolio/analytics"),
                    ("risk", "GET", "/portfolio/attribution/index"),
                    ("risk", "GET", "/portfolio/attribution/portfolio")}


@dataclass(frozen=True)
class Row:
    """One fixture's outcome; ``problems`` are every problem of a refusal, ``reasons`` their kinds
    (:func:`kinds_of`)."""

    fixture: str
    call: str
    status: str  # ACCEPTED, REFUSED, ERROR, NO ENDPOINT; for responses also ANSWERED, EMPTY, NEEDS REQUEST
    detail: str
    response: str | None = None
    shape: str | None = None
    same_shape: bool | None = None
    problems: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()


#: the kinds of reasons a request is refused, in the order :func:`kinds_of` tries them
OWN_MISTAKE = "the example's own mistake (see its invalid_in_document)"
SIGNATURE = "the façade method takes separate arguments, not the request"
FIELDS = "the seed's field names or structure are not the façade's"
IDENTIFIERS = "the seed's identifiers are not the workspace's (ids, instrument codes, portfolio ids)"
QUERY_TEXT = "a query string's text is not read as the seed writes it (lists, numbers, flags)"
NO_METHOD = "no façade method serves the endpoint"
CRASH = "the façade crashed (an exception that is not a ToolkitError)"
OTHER = "other"


def kinds_of(fixture: dict, route: Route | None, error: Exception | None) -> tuple[str, ...]:
    """The kinds of the problems of a refusal (each problem gets the first kind that fits)."""
    if route is None or route.run is None:
        return (NO_METHOD,)
    if not isinstance(error, ToolkitError):
        return (CRASH,)
    problems = [str(p) for p in error.problems] if isinstance(error, ValidationError) else [str(error)]
    invalid = fixture["invalid_in_document"] or ""
    found = []
    for text in problems:
        quoted = re.findall(r"'([^']{4,})'", text)
        if (quoted and any(q in invalid for q in quoted)) or (("got str" in text or "not valid JSON" in text)
                                                             and "not valid JSON" in invalid):
            kind = OWN_MISTAKE
        elif not route.takes_request:
            kind = SIGNATURE
        elif any(sign in text for sign in ("unknown field", "got NoneType", "None is not", "got dict", "is required",
                                           "give either")):
            kind = FIELDS
        elif fixture["format"] in ("query", "parameter-table") and re.search(r"got '[^']*'", text):
            kind = QUERY_TEXT
        elif "is not a UUID" in text or "no account with id" in text.lower() or "Unknown instrument" in text \
                or isinstance(error, NotFoundError):
            kind = IDENTIFIERS
        else:
            kind = OTHER
        found.append(kind)
    return tuple(dict.fromkeys(found))


def _problems(error: Exception) -> tuple[str, ...]:
    if isinstance(error, ValidationError):
        return tuple(str(p) for p in error.problems)
    return (first_problem(error),)


def key_of(name: str, fixture: dict) -> tuple[str, str, str]:
    return name.split("-", 1)[0], fixture["method"], fixture["path"]


def request_of(fixture: dict, as_text: bool = False) -> object:
    """What the façade method gets: the body as parsed (as written when it is not valid JSON; with
    ``as_text``, as JSON text), or the query's parameters (strings, as a query string gives them)."""
    if fixture["body"] is not None:
        return json.dumps(fixture["body"]) if as_text else fixture["body"]
    if fixture["format"] in ("json", "redoc"):
        return fixture["verbatim"]
    return dict(fixture["query"])


def plain(answer: object) -> object:
    """An answer as JSON-like data: ``to_dict()``, a table's records, a list of either."""
    if isinstance(answer, pd.DataFrame):
        return answer.to_dict("records")
    if hasattr(answer, "to_dict"):
        return answer.to_dict()
    if isinstance(answer, (list, tuple)):
        return [plain(item) for item in answer]
    return answer


#: the formats a text of an example can have, checked in this order; the answer's text must have the same
FORMATS = (
    ("an ISO date", re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")),
    ("an ISO timestamp", re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?"
                                    r"(Z|[+-][0-9]{2}:?[0-9]{2})?")),
    ("a UUID", re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")),
    ("a decimal string", re.compile(r"[+-]?[0-9]+\.[0-9]+")),
    ("an instrument code", re.compile(r"[A-Z0-9.]+_[A-Z]{4}(_[0-9]+)?(_[A-Z]{3})?")),
)
#: an enum's value (the seeds' status words), checked on the keys that hold one
STATUS_WORD = re.compile(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)*")
ENUM_KEY = re.compile(r"(?i)(status|state|result|side|direction|type|kind|reason)$")
#: a key that is itself data: an instrument code, as the risk platform keys effects by instrument
DATA_KEY = re.compile(r"[A-Z0-9.]+(_[A-Z0-9]+)+")
#: objects keyed by data whatever their keys look like: the attribution's effects, risk contributions,
#: and aggregated weights and returns, keyed by segment (a sector, a country, an asset class)
DATA_KEYED = re.compile(r"(^|\.)((allocation|interaction|selection|fx|total)_effect|marginal_risk_contribution|"
                        r"aggregated_weights_returns\.(returns|weights))$")
#: keys whose numbers carry a sign convention (VaR and CVaR: the seed's sign must be kept)
SIGNED = re.compile(r"(?i)(^|_)c?var($|_)|valueatrisk")


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _format(text: str) -> str | None:
    return next((name for name, pattern in FORMATS if pattern.fullmatch(text)), None)


def _sibling_lists(example: Any, items: list) -> list:
    """``items`` (the answer's list) with each empty list that a sibling item fills given the example's
    value: an item's empty list is its data (a rule without parameters beside rules with some), not a
    change of shape, when another item of the same list has that list filled. A key that every item
    answers empty is still a difference."""
    if not isinstance(example, dict):
        return items
    filled = {key for key, value in example.items() if isinstance(value, list) and value
              and any(isinstance(item, dict) and item.get(key) for item in items)}
    return [{**item, **{key: example[key] for key in filled if item.get(key) == []}} if isinstance(item, dict)
            else item for item in items]


def shape_problems(example: Any, answer: Any, path: str = "") -> list[str]:  # two JSON values
    """Where ``answer`` departs from the example's shape, recursively: a key of the example missing, a
    JSON type that differs (a decimal string where the example has a number is a difference), a text
    of another format (ISO date, timestamp, UUID, decimal string, status word), a VaR of the other
    sign, a list answered empty where the example has items; on keys that hold an enum (status, type,
    side, ...), an upper-case status word where the example has one. An object keyed by data
    (instrument codes) is compared value by value. A null in the example (a value the document does
    not give) takes anything; keys the answer adds are allowed (DESIGN.md)."""
    where = path or "the answer"
    if example is None:
        return []
    kind, got = _kind(example), _kind(answer)
    if kind != got:
        return [f"{where}: {got} where the example has a {kind} ({example!r:.40})"]
    if isinstance(example, dict):
        if example and (DATA_KEYED.search(path) or all(isinstance(k, str) and DATA_KEY.fullmatch(k) for k in example)):
            # keyed by data: each value has the first one's shape
            if not answer:
                return [f"{where}: an empty object where the example has entries"]
            first = next(iter(example.values()))
            return [p for key in list(answer)[:50] for p in shape_problems(first, answer[key], f"{path}.{key}")][:20]
        found = []
        for key, value in example.items():
            sub = f"{path}.{key}" if path else str(key)
            if key not in answer:
                found.append(f"{sub}: missing")
            else:
                found += shape_problems(value, answer[key], sub)
        return found
    if isinstance(example, list):
        if not example:
            return []
        if not answer:
            return [f"{where}: an empty list where the example has items"]
        items = _sibling_lists(example[0], answer[:50])
        return [p for item in items for p in shape_problems(example[0], item, f"{path}[]")][:20]
    if isinstance(example, str):
        want, have = _format(example), _format(answer)
        if want is not None and want != have:
            return [f"{where}: {answer!r:.40} is not {want} as the example's {example!r:.40}"]
        if ENUM_KEY.search(path.rsplit(".", 1)[-1].rstrip("[]")) and STATUS_WORD.fullmatch(example) \
                and not STATUS_WORD.fullmatch(answer):
            return [f"{where}: {answer!r:.40} is not a status word as the example's {example!r:.40}"]
        return []
    if kind == "number" and SIGNED.search(path.rsplit(".", 1)[-1]) and example and answer \
            and (example > 0) != (answer > 0):
        return [f"{where}: {answer} has the other sign than the example's {example}"]
    return []


#: the toolkit's deliberate departures from an example's shape, by fixture: the paths (as
#: :func:`shape_problems` names them) and why; the README lists them too. Nothing else may differ.
DEVIATIONS: dict[str, dict[str, str]] = {
    "risk-12-constraint-geographies.json": {
        "[].id": "a geography is named by the toolkit's region code (NORTH_AMERICA), not by the code of a "
                 "country ETF (ARGT_ARCX_8): the shipped data holds no such ETFs",
    },
    "risk-13-constraint-sectors.json": {
        "[].id": "a sector is named by its GICS code (10 Energy), not by the code of a sector ETF (RXI_ARCX_8): "
                 "the shipped data holds no such ETFs",
    },
}


def compare(example: object, answer: object, fixture: str | None = None) -> tuple[bool, str]:
    """Whether ``answer`` has the example's shape (:func:`shape_problems`), but for the documented
    :data:`DEVIATIONS` of ``fixture``, and a word on how."""
    allowed = DEVIATIONS.get(fixture or "", {})
    found = [p for p in shape_problems(example, answer) if p.split(":", 1)[0] not in allowed]
    if allowed and not found:
        return True, "same shape but for the documented deviation of " + ", ".join(sorted(allowed))
    if found:
        more = f" (+{len(found) - 3} more)" if len(found) > 3 else ""
        return False, "DIFFERENT: " + "; ".join(found[:3]) + more
    return True, "same shape"


def first_problem(error: Exception) -> str:
    if isinstance(error, ValidationError) and error.problems:
        more = len(error.problems) - 1
        return str(error.problems[0]) + (f" (+{more} more)" if more else "")
    text = " ".join(str(error).split())
    return text if isinstance(error, ToolkitError) else f"{type(error).__name__}: {text}"


def _response(name: str, fixture: dict, every: dict[str, dict]) -> tuple[str | None, object]:
    other = fixture["pairs_with"]
    if other is None:
        return None, None
    body = every[other]["body"]
    return other, every[other].get("repaired", {}).get("body") if body is None else body


def run_requests(ws: Workspace, every: dict[str, dict] | None = None, as_text: bool = False) -> list[Row]:
    """Every example request through its façade method, in the documents' order (see the module docstring)."""
    every = fixtures() if every is None else every
    rows: list[Row] = []
    context: dict = {}
    for name, fixture in every.items():
        if fixture["kind"] != "request":
            continue
        route = ROUTES.get(key_of(name, fixture))
        response, example = _response(name, fixture, every)
        if route is None or route.run is None:
            rows.append(Row(name, route.call if route else "no route", "NO ENDPOINT", "", response,
                            reasons=kinds_of(fixture, route, None)))
            continue
        try:
            answer = route.run(ws, request_of(fixture, as_text), context)
        except Exception as error:  # noqa: BLE001 - a crash is a finding, measured like a refusal
            status = "REFUSED" if isinstance(error, ToolkitError) else "ERROR"
            reasons = kinds_of(fixture, route, error)
            if status == "REFUSED" and reasons == (OWN_MISTAKE,):
                status = MISTAKE  # the document's own mistake, named in the refusal: refused on purpose
            elif status == "REFUSED" and name in ABSENT and all(key in str(error) for key in ABSENT[name]):
                status = NOT_HELD
            shape, same = None, None
            if status == NOT_HELD:  # the same request on series the demo holds
                stand_in = ", ".join(f"{k} -> {v}" for k, v in ABSENT[name].items())
                try:
                    data = plain(route.run(ws, substituted(request_of(fixture, as_text), ABSENT[name]), context))
                    same, shape = compare(example, data, response) if response else (True, "accepted")
                    shape = f"with {stand_in}: {shape}"
                except Exception as again:  # noqa: BLE001 - measured
                    same, shape = False, f"with {stand_in}: refused: {first_problem(again)}"
            rows.append(Row(name, route.call, status, first_problem(error), response, shape, same,
                            problems=_problems(error), reasons=reasons))
            continue
        data = plain(answer)
        if name.startswith("brokerage-") and fixture["path"] == "/portfolios/allocations" and isinstance(data, dict):
            context["allocation_id"] = data.get("allocation_id")
        same, shape = compare(example, data, response) if response else (None, None)
        rows.append(Row(name, route.call, "ACCEPTED", "", response, shape, same))
    return rows


def run_responses(ws: Workspace, every: dict[str, dict] | None = None) -> list[Row]:
    """The response examples without an example request: the façade method behind each, called
    without arguments where it needs none, compared by shape."""
    every = fixtures() if every is None else every
    rows = []
    for name, fixture in every.items():
        if fixture["kind"] != "response" or fixture["pairs_with"] is not None:
            continue
        key = key_of(name, fixture)
        route = ROUTES.get(key)
        example = fixture["body"] if fixture["body"] is not None else fixture["repaired"]["body"]
        if route is None or route.run is None:
            status = "NEEDS REQUEST" if key in NEEDS_PARAMETERS else "NO ENDPOINT"
            rows.append(Row(name, route.call if route else "no route", status, ""))
            continue
        try:
            data = plain(route.run(ws, None, {}))
        except Exception as error:  # noqa: BLE001 - measured, as above
            status = "REFUSED" if isinstance(error, ToolkitError) else "ERROR"
            rows.append(Row(name, route.call, status, first_problem(error)))
            continue
        if data in ([], {}):
            rows.append(Row(name, route.call, "EMPTY", "the demo workspace has none to list"))
            continue
        same, shape = compare(example, data, name)
        rows.append(Row(name, route.call, "ANSWERED", "", None, shape, same))
    return rows


def private_demo(folder: Path) -> Workspace:
    """A private copy of the demo workspace in ``folder`` (the demo itself is only read)."""
    with Workspace.demo() as demo:
        copy = demo.backup(folder / "c.db")
    return Workspace.open(copy)


def measure(as_text: bool = False) -> tuple[list[Row], list[Row]]:
    """Both tables, on a fresh private copy of the demo workspace; with ``as_text`` the bodies go in
    as JSON text, as an integrator's HTTP client would send them."""
    with tempfile.TemporaryDirectory() as folder:
        ws = private_demo(Path(folder))
        try:
            return run_requests(ws, as_text=as_text), run_responses(ws)
        finally:
            ws.close()


#: the outcome of an example request that the document itself got wrong, refused naming the mistake
MISTAKE = "REFUSED AS DOCUMENTED"
#: the outcome of a valid example request naming data the demo workspace does not hold (no made-up
#: prices): refused naming each missing item, see :data:`ABSENT`
NOT_HELD = "REFUSED: NOT IN THE DEMO"
#: example requests whose identifiers name data the demo workspace does not hold: those identifiers,
#: each with a series the demo holds, which the request is run again with (its answer's shape is
#: then compared with the paired example, if any)
ABSENT: dict[str, dict[str, str]] = {
    # the performance system's own instrument ids (a FTSE index in EUR, a Swiss index, a money-market
    # rate): no package ships their prices
    "performance-03-instrument-returns.json": {"FTSEEUR": "SPX", "SWIIT": "AAPL", "SF0003M": "MSFT"},
    # the SPDR S&P 500 ETF on NYSE Arca: no package ships its prices; the demo's S&P 500 index stands in
    "risk-22-benchmark-analytics-query.json": {"SPY_ARCX": "SPX_XNYS"},
}


def substituted(request: object, names: dict[str, str]) -> object:
    """``request`` with each absent identifier replaced by the demo's stand-in (in texts, recursively)."""
    if isinstance(request, dict):
        return {k: substituted(v, names) for k, v in request.items()}
    if isinstance(request, list):
        return [substituted(v, names) for v in request]
    if isinstance(request, str):
        for old, new in names.items():
            request = request.replace(old, new)
    return request


def accepted(rows: list[Row]) -> list[str]:
    return [r.fixture for r in rows if r.status == "ACCEPTED"]


def summary(rows: list[Row], responses: list[Row] | None = None) -> str:
    """The count the README quotes."""
    n, wrong = len(accepted(rows)), sum(1 for r in rows if r.status == MISTAKE)
    absent = sum(1 for r in rows if r.status == NOT_HELD)
    paired = [r for r in rows if r.status in ("ACCEPTED", NOT_HELD) and r.response]
    line = (f"{n + wrong + absent} of {len(rows)} example requests answered as the documents say: {n} accepted, "
            f"{wrong} refused naming the document's own mistake, {absent} refused naming the data the demo does not "
            f"hold; {sum(1 for r in paired if r.same_shape)} of {len(paired)} requests with a response example "
            "answered in its shape (the refused ones with the demo's stand-ins)")
    if responses is not None:
        line += (f"; {sum(1 for r in responses if r.same_shape)} of {len(responses)} response examples without a "
                 "request answered in their shape")
    return line


def _cell(text: str | None, width: int = 150) -> str:
    text = (text or "").replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= width else text[:width - 1] + "…"


def report(requests: list[Row], responses: list[Row]) -> str:
    out = ["# Conformance of the façade to the seed documents' examples", "",
           "Written by `.venv/bin/python tests/contracts/conformance.py --write` (see its docstring); the examples "
           "are `tests/contracts/examples/*.json`. A measurement of the library as it is.", "",
           "## Example requests", "",
           "| fixture | façade call | outcome | first problem | example response | shape |",
           "|---|---|---|---|---|---|"]
    for r in requests:
        out.append(f"| {r.fixture} | `{r.call}` | {r.status} | {_cell(r.detail)} | {r.response or ''} | "
                   f"{_cell(r.shape)} |")
    counts = Counter(r.status for r in requests)
    out += ["", "Outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + ".", "",
            "## Why requests are not accepted", "",
            "Each problem of each refusal, sorted into a kind (`conformance.kinds_of`); a request counts once per "
            "kind.", "", "| reason | requests | fixtures |", "|---|---|---|"]
    grouped: dict[str, list[str]] = {}
    for r in requests:
        for reason in r.reasons:
            grouped.setdefault(reason, []).append(r.fixture.removesuffix(".json"))
    for reason, names in sorted(grouped.items(), key=lambda item: -len(item[1])):
        out.append(f"| {reason} | {len(names)} | {', '.join(names)} |")
    out += ["", "## Every problem of the refused requests", ""]
    for r in requests:
        if r.problems:
            out.append(f"- **{r.fixture}** ({r.status}): " + "; ".join(_cell(p, 300) for p in r.problems))
    out += ["", "## Response examples without an example request", "",
            "The façade method behind each, called without arguments where it needs none.", "",
            "| fixture | façade call | outcome | detail | shape |", "|---|---|---|---|---|"]
    for r in responses:
        out.append(f"| {r.fixture} | `{r.call}` | {r.status} | {_cell(r.detail)} | {_cell(r.shape)} |")
    out += ["", summary(requests, responses)]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"also write {STATUS.relative_to(HERE.parents[1])}")
    args = parser.parse_args(argv)
    text = report(*measure())
    print(text, end="")
    if args.write:
        STATUS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
