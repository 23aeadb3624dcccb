"""The portfolio rules' parameters as typed models (pydantic, on :mod:`toolkit.contracts.base`), read
with every problem named (``parameters.level``).

Each rule's parameters are a frozen model; :func:`read_parameters` reads them from a dict by their
field names, in the toolkit's units (fractions: ``size_rebalance_trigger`` 0.05 is 5 %), or by the
risk platform's keys and names in the document's units (``risk-platform-api.txt`` line 866: "A value
of 10 equates to 10%"): ``RebalanceTrigger`` / "Size Rebalance Trigger" 5 is 5 %, ``IncludeStopLimit``
/ "Include Stop/Limit", ``ConfidenceLevel``, ``RiskFreeRate`` (percent), ``Covariance``, ``Period``.
Unknown names are refused with a did-you-mean, wrong types (a bool is not a number, a float not a
whole number, text not a number) and values out of range too. :func:`toolkit.optimise.rules.from_strategy` turns
a strategy's rule into the rule's name and parameters.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, model_validator
from pydantic import ValidationError as PydanticError

from toolkit.contracts.base import Contract, problems_of
from toolkit.contracts.risk.analytics import refuse
from toolkit.errors import Problem, ValidationError

WHAT = "optimisation request"
Covariance = Literal["sample", "ledoit_wolf"]
#: the risk platform's rule ids of the toolkit's portfolio rules (GET /rules, lines 801-991)
SEED_RULES: dict[int, str] = {12: "Min Risk (CVaR)", 14: "Equal Weight", 15: "Diversified Min Risk", 16: "Max Sharpe",
                              17: "Volatility weighted", 18: "Risk Parity", 19: "ATR weighted",
                              20: "Max Diversification", 21: "Min Tracking Error"}
#: the document's rule id of each of the toolkit's portfolio rules
RULE_IDS: dict[str, int] = {name: rule_id for rule_id, name in SEED_RULES.items()}
#: the document's parameter keys and names: -> (field, scale from the document's unit to the field's)
SEED_NAMES: dict[str, tuple[str, float]] = {
    "IncludeStopLimit": ("include_stop_limit", 1), "Include Stop/Limit": ("include_stop_limit", 1),
    "RebalanceTrigger": ("size_rebalance_trigger", 0.01), "Size Rebalance Trigger": ("size_rebalance_trigger", 0.01),
    "ConfidenceLevel": ("level", 1), "RiskFreeRate": ("risk_free_rate", 0.01), "Covariance": ("covariance", 1),
    "Period": ("period", 1)}


def _check(kind: str) -> Any:
    """A before-validator keeping the readers' words: ``flag``, ``whole`` or ``number``."""
    def check(value: object) -> object:
        if kind == "flag" and not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {value!r}")
        if kind == "whole" and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"expected a whole number, got {value!r}")
        if kind == "number" and (isinstance(value, bool) or not isinstance(value, (int, float, Decimal))
                                 or not math.isfinite(value)):
            raise ValueError(f"expected a finite number, got {value!r}")
        return float(value) if kind == "number" and isinstance(value, (int, float, Decimal)) else value
    return BeforeValidator(check)


def _choice(*choices: str) -> Any:
    """A before-validator for one of ``choices``, with a did-you-mean."""
    def check(value: object) -> object:
        if value not in choices:
            close = difflib.get_close_matches(str(value), choices, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ValueError(f"{value!r} is not allowed; {hint}choose one of {', '.join(map(repr, choices))}")
        return value
    return BeforeValidator(check)


Flag = Annotated[bool, _check("flag")]
Whole = Annotated[int, _check("whole")]
Real = Annotated[float, _check("number")]


class Common(Contract):
    """Parameters every rule carries for the strategy that uses it (the optimisation records them).

    ``include_stop_limit`` (``IncludeStopLimit``): whether the strategy's orders carry stop and
    limit prices. ``size_rebalance_trigger`` (``RebalanceTrigger``, in percent there): a component is
    rebalanced only when its weight differs from its target by more than this fraction of the target
    (0.05 for 5 %; see :func:`toolkit.optimise.trigger.size_trigger`); None rebalances every component.
    """

    include_stop_limit: Flag = False
    size_rebalance_trigger: Real | None = None

    @model_validator(mode="before")
    @classmethod
    def _names(cls, payload: object) -> object:
        """The document's keys and names as the fields, in the toolkit's units (others left as given)."""
        return _mapped(cls, payload)[0] if isinstance(payload, Mapping) else payload

    @model_validator(mode="after")
    def _ranges(self) -> Common:
        refuse(type(self).__name__, list(self.problems()))
        return self

    def problems(self) -> list[tuple[tuple, str, object]]:
        """Values out of range: ``(location, message, value)``."""
        x = self.size_rebalance_trigger
        if x is not None and not 0 <= x <= 1:
            return [(("size_rebalance_trigger",), f"{x:g} is outside [0, 1]; give a fraction of the target (0.05 "
                                                  f"for 5 %), or RebalanceTrigger in percent", x)]
        return []


def _mapped(cls: type[Common], payload: Mapping) -> tuple[dict, list[Problem], dict[str, str]]:
    """``payload`` by field names (the document's keys and names scaled to the toolkit's units), the
    problems of its names (unknown ones, with a did-you-mean; a field given twice), and the name each
    field was given by."""
    fields, out, problems, given_as = list(cls.model_fields), {}, [], {}
    for key, value in payload.items():
        name, scale = (key, 1) if key in fields else SEED_NAMES.get(str(key), (None, 1))
        if name not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            problems.append(Problem(str(key), "unknown parameter; " + (
                f"did you mean {close[0]!r}?" if close else f"this rule takes {', '.join(fields)}")))
            out[key] = value
        elif name in out:
            problems.append(Problem(str(key), f"{name} is given twice"))
        else:
            scaled = scale != 1 and isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)
            out[name], given_as[name] = float(value) * scale if scaled else value, str(key)
    return out, problems, given_as


def read_parameters(cls: type[Common], payload: Mapping | Common | None, path: str = "parameters") -> Common:
    """The parameters ``cls`` from ``payload`` (None: the defaults); raises
    :class:`toolkit.errors.ValidationError` naming every bad field under ``path``."""
    if isinstance(payload, cls):
        return payload
    if payload is not None and not isinstance(payload, Mapping):
        raise ValidationError([Problem(path, f"expected an object of parameters, got {type(payload).__name__}")],
                              WHAT)
    given, named, given_as = _mapped(cls, payload or {})
    try:
        params = cls.model_validate({k: v for k, v in given.items() if k in cls.model_fields})
    except PydanticError as exc:
        for p in problems_of(exc):
            key = given_as.get(p.path, p.path)
            scale = SEED_NAMES.get(key, (None, 1))[1]
            message = p.message if scale == 1 or "outside" not in p.message else \
                f"{(payload or {})[key]} is out of range; expected 0 to {round(1 / scale)} (in percent: 5 is 5 %)"
            named.append(Problem(key, message))
    problems = [Problem(f"{path}.{p.path}" if p.path else path, p.message) for p in named]
    if problems:
        raise ValidationError(problems, WHAT)
    return params


def as_record(params: Common) -> dict:
    """The parameters as a plain dict (field name -> value), for the result's record."""
    return params.model_dump()


# --------------------------------------------------------------------------- the rules' parameters


class Plain(Common):
    """No parameter beyond the common ones (Equal Weight, Volatility weighted, Min Tracking Error)."""


class Estimated(Common):
    """``covariance``: "sample" (ddof = 1) or "ledoit_wolf" (Ledoit & Wolf 2004 shrinkage)."""

    covariance: Annotated[Covariance, _choice("sample", "ledoit_wolf")] = "sample"


class MinRisk(Estimated):
    """``risk_measure``: "CVaR" (historical, at ``level``) or "volatility" (minimum variance);
    ``level``: the CVaR confidence level in [0.5, 1), 0.95 by default."""

    risk_measure: Annotated[Literal["CVaR", "volatility"], _choice("CVaR", "volatility")] = "CVaR"
    level: Real = 0.95

    def problems(self) -> list[tuple[tuple, str, object]]:
        found = super().problems()
        if not 0.5 <= self.level < 1:
            found.append((("level",), f"{self.level:g} is not a confidence level in [0.5, 1) (0.95 for 95 %)",
                          self.level))
        return found


class MaxSharpe(Estimated):
    """``risk_free_rate``: annual rate, as a fraction (0.02 for 2 %; ``RiskFreeRate`` 2 in percent),
    turned into a per-period rate ``(1 + rf)^(1 / periods_per_year) - 1``; ``periods_per_year``: 252
    for daily returns."""

    risk_free_rate: Real = 0.0
    periods_per_year: Real = 252.0

    def problems(self) -> list[tuple[tuple, str, object]]:
        found = super().problems()
        if not -0.5 < self.risk_free_rate < 1:
            found.append((("risk_free_rate",), f"{self.risk_free_rate:g} is not an annual rate as a fraction (0.02 "
                                               f"for 2 %)", self.risk_free_rate))
        if not 1 <= self.periods_per_year <= 366 * 24:
            found.append((("periods_per_year",), f"{self.periods_per_year:g} is not a number of return periods a "
                                                 f"year (252 daily, 52 weekly, 12 monthly)", self.periods_per_year))
        return found

    @property
    def per_period(self) -> float:
        return (1 + self.risk_free_rate) ** (1 / self.periods_per_year) - 1


class Hierarchical(Estimated):
    """``linkage`` of the tree ("single" as López de Prado 2016) and ``codependence`` ("pearson")."""

    linkage: Annotated[Literal["single", "complete", "average", "ward"],
                       _choice("single", "complete", "average", "ward")] = "single"
    codependence: Annotated[Literal["pearson", "spearman", "kendall"], _choice("pearson", "spearman", "kendall")] = \
        "pearson"


class Atr(Common):
    """``period``: bars in Wilder's ATR (14 as Wilder 1978), from 2 to 250."""

    period: Whole = 14

    def problems(self) -> list[tuple[tuple, str, object]]:
        found = super().problems()
        if not 2 <= self.period <= 250:
            found.append((("period",), f"{self.period!r} is outside 2..250 bars", self.period))
        return found
