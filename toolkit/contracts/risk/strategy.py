"""Rules, strategies and optimisation of the risk platform (``risk-platform-api.txt``): GET /rules
(lines 651-991), GET /strategy (992-1046, again 1804-1855), POST /strategy (1047-1105) and
GET /portfolio/optimisation (1244-1378).

**Rules** are the document's table (:mod:`toolkit.contracts.risk.rules`), named by ``rule_id``. A
strategy's rule gives its ``parameters`` as the document does, a list of ``{"key", "value"}`` with
the value as text (``{"value": "2.0", "key": "RebalanceTrigger"}``); ``name`` and ``description``
may be sent along (line 1093 sends "Unique Key" for ``Benchmark``) and are answered as the rule
table words them. A parameter left out takes the table's default. Values are read in the
document's units: ``RebalanceTrigger`` ``"5"`` is 5 % ("A value of 10 equates to 10%").

Decisions where the document is vague, as its most demanding integrator would read it:

- a strategy holds at most one portfolio rule (category ``Portfolio``, ids 12 and 14-21): the
  optimisation answers one ``portfolio_rebalance`` with one ``rule_name`` (line 1360); a rule may
  not be given twice; ``constraints`` belong to portfolio rules only;
- ``strategy_id`` in POST /strategy is "populated by MantaRisk only. Not needed to save" (line 1050):
  when given, it names the stored strategy the request replaces;
- a constraint's bounds are fractions of the portfolio, ``0 <= lower_bound <= upper_bound <= 1``
  (line 1076: ``"upper_bound": 0.15``); group constraints name their group by the ``id`` of GET
  /constraints/* (``EWA_ARCX_8``, ``KXI_ARCX_8``), an asset class by its name (``Crypto``), a
  currency by its ISO code; an instrument constraint by ``instrument_code`` and ``apiid``;
- the optimisation's orders are ``Long`` to buy and ``Short`` to sell (the toolkit is long only: a
  ``Short`` order reduces a holding, never opens a short position).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, SerializeAsAny, WrapValidator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_core import ValidationError as CoreValidationError

from toolkit.contracts.base import Contract, Name, Number, Text, Whole
from toolkit.contracts.codes import Currency
from toolkit.contracts.risk.analytics import Found, Horizons, RiskMeasures, refuse
from toolkit.contracts.risk.common import (
    ApiId,
    AssetClass,
    Direction,
    InstrumentRef,
    QueryWhole,
)
from toolkit.contracts.risk.rules import RULES, Rule, spec
from toolkit.validation import decimal_or_none, shown

#: the statuses of a strategy's analysis (line 1024: ``NotRun``)
STATUSES = ("NotRun", "Running", "Complete", "Failed")


def check_value(rule_id: int, key: str, value: str | None) -> str | None:
    """What is wrong with ``value`` as parameter ``key`` of rule ``rule_id`` (None: nothing)."""
    kind = spec(rule_id, key)
    if kind.kind == "reference":
        return None if value is None or (value.strip() and len(value) <= 200) else \
            "name the benchmark portfolio by its client reference (1 to 200 characters), or give null"
    if value is None:
        return "is required; give the value as text, such as \"5\""
    if kind.kind == "flag":
        return None if value in ("true", "false") else f"{shown(value)} is not \"true\" or \"false\""
    if kind.kind == "choice":
        return None if value in kind.choices else f"{shown(value)} is not one of {', '.join(kind.choices)}"
    number = decimal_or_none(value)
    if number is None:
        return f"{shown(value)} is not a number; write it as text with ASCII digits, such as \"5\" or \"2.0\""
    if kind.kind == "whole" and number != number.to_integral_value():
        return f"{shown(value)} is not a whole number"
    high_fails = kind.high is not None and (number >= kind.high if kind.below_high else number > kind.high)
    if (kind.low is not None and number < kind.low) or high_fails:
        return f"{value} is out of range; expected {kind.bounds()}"
    return None


# =========================================================================== rules


class Parameter(Contract):
    """A rule's parameter as the document writes it (lines 672-677): ``value`` (text, or null),
    ``key``, ``name``, ``description``."""

    value: str | None
    key: str
    name: str
    description: str


def parameters_of(rule: Rule, values: dict[str, str | None] | None = None) -> list[Parameter]:
    """``rule``'s parameters with ``values`` (key -> text) over its defaults, worded as the table."""
    values = values or {}
    return [Parameter(value=values.get(p.key, p.value), key=p.key, name=p.name, description=p.description)
            for p in rule.parameters]


class RuleListing(Contract):
    """One rule of GET /rules (lines 652-658)."""

    rule_id: int
    category_id: int
    name: str
    description: str
    category: str
    parameters: list[Parameter]

    @classmethod
    def of(cls, rule: Rule) -> RuleListing:
        return cls(rule_id=rule.rule_id, category_id=rule.category_id, name=rule.name, description=rule.description,
                   category=rule.category, parameters=parameters_of(rule))


def rule_listing() -> list[RuleListing]:
    """GET /rules: every rule of the table, in ``rule_id`` order."""
    return [RuleListing.of(rule) for rule in RULES.values()]


# =========================================================================== constraints


class Bounded(Contract):
    """A constraint's bounds: fractions of the portfolio, ``0 <= lower_bound <= upper_bound <= 1``."""

    lower_bound: Number
    upper_bound: Number

    @model_validator(mode="after")
    def _bounds(self) -> Bounded:
        bounds = (("lower_bound", self.lower_bound), ("upper_bound", self.upper_bound))
        found: list[Found] = [((name,), f"{value:f} is outside [0, 1]; bounds are fractions of the portfolio (0.15 "
                                        "for 15%)", value) for name, value in bounds if not 0 <= value <= 1]
        if not found and self.lower_bound > self.upper_bound:
            found.append((("lower_bound",), f"{self.lower_bound:f} is above upper_bound {self.upper_bound:f}",
                          self.lower_bound))
        refuse(type(self).__name__, found)
        return self


class GroupConstraint(Bounded):
    """Common fields of a group's constraint (lines 1052-1071): ``parameter`` names the group, and
    ``name`` and ``constraint_id`` may come along (as GET /constraints/* gave them)."""

    parameter: Name
    name: Name | None = None
    constraint_id: Annotated[int, Field(ge=1)] | None = None


class AssetClassConstraint(GroupConstraint):
    type: Literal["AssetClassConstraint"]
    parameter: AssetClass


class CurrencyConstraint(GroupConstraint):
    type: Literal["CurrencyConstraint"]
    parameter: Currency


class GeographyConstraint(GroupConstraint):
    """``parameter``: the ``id`` of a GET /constraints/geographies entry (``EWA_ARCX_8``)."""

    type: Literal["GeographyConstraint"]


class SectorConstraint(GroupConstraint):
    """``parameter``: the ``id`` of a GET /constraints/sectors entry (``KXI_ARCX_8``)."""

    type: Literal["SectorConstraint"]


class InstrumentConstraint(Bounded):
    """One instrument's bounds (lines 1072-1079)."""

    type: Literal["InstrumentConstraint"]
    instrument: InstrumentRef


#: the constraint models by their ``type``
CONSTRAINTS: dict[str, type[Bounded]] = {
    "AssetClassConstraint": AssetClassConstraint, "CurrencyConstraint": CurrencyConstraint,
    "GeographyConstraint": GeographyConstraint, "SectorConstraint": SectorConstraint,
    "InstrumentConstraint": InstrumentConstraint}


def _by_type(value: object, handler: object) -> Bounded:
    """A constraint read as the model its ``type`` names, its problems named under the constraint's own
    path (``constraints[2].upper_bound``, not pydantic's ``constraints[2].SectorConstraint.upper_bound``)."""
    if isinstance(value, Bounded):
        return value
    model = CONSTRAINTS.get(str(value.get("type"))) if isinstance(value, dict) else None
    if model is None:
        kind = value.get("type") if isinstance(value, dict) else value
        message = f"{shown(kind)} is not a constraint type; use one of {', '.join(CONSTRAINTS)}"
        raise PydanticCustomError("toolkit", "{message}", {"message": message})
    try:
        return model.model_validate(value)
    except CoreValidationError as exc:
        details = []
        for e in exc.errors():
            kind = PydanticCustomError("toolkit", "{message}", {"message": e["msg"]}) if e["type"] == "toolkit" \
                else e["type"]
            detail = InitErrorDetails(type=kind, loc=e["loc"], input=e.get("input"))
            if e.get("ctx"):
                detail["ctx"] = e["ctx"]
            details.append(detail)
        raise CoreValidationError.from_exception_data(model.__name__, details) from None


Constraint = Annotated[AssetClassConstraint | CurrencyConstraint | GeographyConstraint | SectorConstraint
                       | InstrumentConstraint, WrapValidator(_by_type)]


# =========================================================================== strategies


class ParameterValue(Contract):
    """A parameter given to a strategy's rule: ``key`` and ``value`` (text or null); ``name`` and
    ``description`` may be echoed and are not read."""

    value: str | None
    key: str
    name: Text | None = None
    description: Text | None = None


class StrategyRule(Contract):
    """A rule of a strategy (lines 1052-1101): ``rule_id``, its ``parameters`` and, for a portfolio
    rule, ``constraints``."""

    rule_id: Whole
    parameters: list[ParameterValue] = []
    constraints: list[Constraint] = []

    @model_validator(mode="after")
    def _known(self) -> StrategyRule:
        if self.rule_id not in RULES:
            refuse("StrategyRule", [(("rule_id",), f"{self.rule_id} is not a rule; the rules are 1 to {len(RULES)} "
                                                   "(GET /rules)", self.rule_id)])
        rule = RULES[self.rule_id]
        keys = [p.key for p in rule.parameters]
        found: list[Found] = []
        seen: set[str] = set()
        for n, given in enumerate(self.parameters):
            if given.key not in keys:
                takes = ", ".join(keys) if keys else "no parameter"
                found.append((("parameters", n, "key"), f"{shown(given.key)} is not a parameter of rule "
                                                        f"{rule.rule_id} ({rule.title}); it takes {takes}", given.key))
            elif given.key in seen:
                found.append((("parameters", n, "key"), f"{given.key} is given twice", given.key))
            else:
                seen.add(given.key)
                problem = check_value(rule.rule_id, given.key, given.value)
                if problem:
                    found.append((("parameters", n, "value"), problem, given.value))
        if self.constraints and not rule.portfolio:
            found.append((("constraints",), f"rule {rule.rule_id} ({rule.title}) is a {rule.category} rule; only "
                                            "portfolio rules take constraints", None))
        refuse("StrategyRule", found)
        return self

    @property
    def rule(self) -> Rule:
        return RULES[self.rule_id]

    def values(self) -> dict[str, str | None]:
        """Every parameter's value (text), the table's default where none is given."""
        given = {p.key: p.value for p in self.parameters}
        return {p.key: given.get(p.key, p.value) for p in self.rule.parameters}

    def settings(self) -> dict[str, object]:
        """The values read in the document's units: numbers as ``Decimal`` (``RebalanceTrigger``
        5 is 5, a percentage), whole numbers as ``int``, flags as ``bool``, texts as they are."""
        out: dict[str, object] = {}
        for key, value in self.values().items():
            kind = spec(self.rule_id, key).kind
            if value is None or kind in ("choice", "reference"):
                out[key] = value
            elif kind == "flag":
                out[key] = value == "true"
            else:
                number = Decimal(value)
                out[key] = int(number) if kind == "whole" else number
        return out


class StrategyRequest(Contract):
    """POST /strategy (lines 1047-1102): a named list of rules; ``strategy_id`` (optional) names the
    stored strategy to replace."""

    name: Name
    strategy_id: Annotated[int, Field(ge=1, strict=True)] | None = None
    rules: Annotated[list[StrategyRule], Field(min_length=1)]

    @model_validator(mode="after")
    def _one_portfolio_rule(self) -> StrategyRequest:
        found: list[Found] = []
        first: int | None = None
        seen: dict[int, int] = {}
        for n, item in enumerate(self.rules):
            if item.rule_id in seen:
                first_at = seen[item.rule_id]
                found.append((("rules", n, "rule_id"), f"rule {item.rule_id} is given twice (rules[{first_at}] too)",
                              item.rule_id))
            seen.setdefault(item.rule_id, n)
            if item.rule.portfolio:
                if first is not None and first != item.rule_id:
                    found.append((("rules", n, "rule_id"), f"a strategy holds one portfolio rule; rules[{seen[first]}] "
                                                           f"is {RULES[first].title} already", item.rule_id))
                first = item.rule_id if first is None else first
        refuse("StrategyRequest", found)
        return self

    @property
    def portfolio_rule(self) -> StrategyRule | None:
        return next((r for r in self.rules if r.rule.portfolio), None)


class SavedStrategy(Contract):
    """POST /strategy's answer (line 1103): ``{"strategy_id": 243}``."""

    strategy_id: int


class StrategyQuery(Contract):
    """GET /strategy's query (line 996): ``strategy_id`` (optional)."""

    strategy_id: Annotated[QueryWhole, Field(ge=1)] | None = None


class StrategyRuleDetail(Contract):
    """A rule of a stored strategy as GET /strategy answers it (lines 1000-1021); the toolkit adds the
    rule's ``constraints``."""

    description: str
    category: str
    score: str
    rule_id: int
    rule_name: str
    parameters: list[Parameter]
    search_string: str
    constraints: list[Constraint] = []

    @classmethod
    def of(cls, item: StrategyRule) -> StrategyRuleDetail:
        rule, values = item.rule, item.values()
        name = rule.name_for(values)
        return cls(description=rule.description, category=rule.category, score="+ 0", rule_id=rule.rule_id,
                   rule_name=name, parameters=parameters_of(rule, values), search_string=name.lower(),
                   constraints=item.constraints)


class StrategyDetail(Contract):
    """``strategy`` of GET /strategy (lines 996-1023)."""

    name: str
    strategy_id: int
    rules: list[StrategyRuleDetail]


class StrategyStatus(Contract):
    """One item of GET /strategy (lines 993-1045): the strategy and its analysis. The performance,
    drawdown, CVaR and recovery figures are 0 (and their ``print_`` texts "+0%") until an analysis
    gives them, as the document shows for ``NotRun``."""

    strategy: StrategyDetail
    status: Literal["NotRun", "Running", "Complete", "Failed"]
    percentage_complete: float
    last_updated: str
    performance_delta: float = 0
    performance_benchmark: float = 0
    performance_new: float = 0
    recovery_days_new: float = 0
    drawdown_delta: float = 0
    cvar_delta: float = 0
    cvar_new: float = 0
    drawdown_new: float = 0
    print_cvar_new: str = "+0%"
    print_cvar_delta: str = "+0%"
    cvar_benchmark: float = 0
    print_performance_benchmark: str = "+0%"
    drawdown_benchmark: float = 0
    print_drawdown_new: str = "+0%"
    print_cvar_benchmark: str = "+0%"
    recovery_days_delta: float = 0
    print_percentage_complete: str = "0%"
    print_performance_delta: str = "+0%"
    recovery_days_benchmark: float = 0
    print_performance_new: str = "+0%"
    print_drawdown_delta: str = "+0%"
    print_drawdown_benchmark: str = "+0%"


# =========================================================================== optimisation


class OptimisationQuery(Contract):
    """GET /portfolio/optimisation's query (lines 1246-1248): the portfolio's ``client_reference``,
    the ``strategy_id``, and for tracking-error minimisation the ``benchmark_client_reference`` (it
    overrides the strategy's ``Benchmark`` parameter)."""

    client_reference: Name
    strategy_id: Annotated[QueryWhole, Field(ge=1)]
    benchmark_client_reference: Name | None = None


class OptimisationOrder(Contract):
    """An order of the optimisation (lines 1250-1271). ``size`` is the quantity to trade, ``level``
    the last close, ``notional`` their product as the document prints it ("41,589.37")."""

    timeframe: str
    commentary: str | None
    notional: str
    direction: Direction
    print_stop: str
    print_level: str
    print_limit: str
    timeframe_id: int
    print_size: str
    stop_points: str
    limit_points: str
    apiid: int
    strategy_id: int
    instrument_code: str
    instrument_name: str
    level: float
    size: float
    stop: float | None
    limit: float | None


class OptimisationCapital(Contract):
    """``capital`` (lines 1273-1278): the portfolio's funds, cash available and equity."""

    currency: str
    funds: float
    available: float
    equity: float
    print_funds: str


class Datapoint(Contract):
    """A datapoint of a tactical rule's result (lines 1284-1291)."""

    reference: str
    label: str
    value: float | None
    status: str
    priority: str
    value_formatted: str


class TacticalResult(Contract):
    """One tactical rule's verdict on an instrument (lines 1281-1295)."""

    commentary: str
    validated: str
    datapoints: list[Datapoint]
    simple_commentary: str
    rule_name: str
    rule_id: int


class TacticalAnalysis(Contract):
    """The tactical rules' verdicts on one instrument (lines 1279-1300)."""

    results: list[TacticalResult]
    validated: str
    commentary_simple: str
    apiid: int
    instrument_code: str


class RebalanceComponent(Contract):
    """A component of the optimised portfolio (lines 1304-1312): its target weight and expected returns."""

    weight: float
    expected_returns: Horizons
    apiid: ApiId
    instrument_code: str


class PortfolioRebalance(Contract):
    """``portfolio_rebalance`` (lines 1301-1375): the target, its risk and expected returns."""

    comment: str
    components: list[RebalanceComponent]
    analytics: RiskMeasures
    rule_name: str
    expected_returns: Horizons


class Optimisation(Contract):
    """GET /portfolio/optimisation's answer (lines 1249-1377)."""

    orders: list[OptimisationOrder]
    capital: OptimisationCapital
    #: per order; an evaluated order's item adds ``order``, the order as the rules filled it in
    #: (:class:`toolkit.contracts.risk.tactical.OrderAnalysis`)
    tactical_analysis: list[SerializeAsAny[TacticalAnalysis]]
    portfolio_rebalance: PortfolioRebalance
    client_reference: str
