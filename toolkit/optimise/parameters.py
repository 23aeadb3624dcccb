"""Typed rule parameters, parsed from dicts with every problem named (``parameters.level``).

Each rule's parameters are a frozen dataclass; :func:`parse_parameters` accepts the field names
(``size_rebalance_trigger``) and the seed's labels ("Size Rebalance Trigger"), refuses unknown
names with a did-you-mean, wrong types (a bool is not a number, a float not an integer) and
values out of range.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from toolkit.errors import Problems

WHAT = "optimisation request"
Covariance = Literal["sample", "ledoit_wolf"]


def _label(name: str) -> str:
    return " ".join(name.replace("/", " ").replace("_", " ").lower().split())


@dataclass(frozen=True)
class Common:
    """Parameters every rule carries for the strategy that uses it (the optimisation records them).

    ``include_stop_limit`` ("Include Stop/Limit"): whether the strategy's orders carry stop and
    limit prices. ``size_rebalance_trigger`` ("Size Rebalance Trigger"): a component is rebalanced
    only when its weight differs from its target by more than this fraction of the target (0.05 for
    5 %; see :func:`toolkit.optimise.trigger.size_trigger`); None rebalances every component.
    """

    include_stop_limit: bool = field(default=False, metadata={"label": "Include Stop/Limit"})
    size_rebalance_trigger: float | None = field(default=None, metadata={"label": "Size Rebalance Trigger"})

    def check(self, problems: Problems, path: str) -> None:
        x = self.size_rebalance_trigger
        if x is not None and not 0 <= x <= 1:
            problems.add(f"{path}.size_rebalance_trigger", f"{x:g} is outside [0, 1]; give a fraction of the "
                                                           f"target (0.05 for 5 %)")


def _hints(cls: type) -> dict[str, object]:
    return typing.get_type_hints(cls)


def _convert(value: object, hint: object, path: str, problems: Problems) -> object:
    """``value`` as the type ``hint`` (bool, int, float, Literal, or one of them | None), or a problem."""
    args = typing.get_args(hint)
    if type(None) in args:
        if value is None:
            return None
        hint = next(a for a in args if a is not type(None))
        args = typing.get_args(hint)
    if typing.get_origin(hint) is Literal:
        if value not in args:
            close = difflib.get_close_matches(str(value), [str(a) for a in args], n=1)
            hint_text = f"did you mean {close[0]!r}? " if close else ""
            problems.add(path, f"{value!r} is not allowed; {hint_text}choose one of {', '.join(map(repr, args))}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            problems.add(path, f"expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            problems.add(path, f"expected a whole number, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        problems.add(path, f"expected a finite number, got {value!r}")
        return value
    return float(value)


def parse_parameters(cls: type, payload: Mapping | None, path: str = "parameters") -> Common:
    """An instance of the dataclass ``cls`` from ``payload`` (None: the defaults); raises
    :class:`toolkit.errors.ValidationError` naming every bad field."""
    if isinstance(payload, cls):
        payload = dataclasses.asdict(payload)
    problems = Problems()
    if payload is not None and not isinstance(payload, Mapping):
        problems.add(path, f"expected an object of parameters, got {type(payload).__name__}")
        problems.raise_if_any(WHAT)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    names = {_label(f.metadata.get("label", name)): name for name, f in fields.items()}
    names.update({_label(name): name for name in fields})
    hints, given = _hints(cls), {}
    for key, value in (payload or {}).items():
        name = names.get(_label(str(key)))
        if name is None:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f"did you mean {close[0]!r}?" if close else \
                f"this rule takes {', '.join(fields)}"
            problems.add(f"{path}.{key}", f"unknown parameter; {hint}")
        elif name in given:
            problems.add(f"{path}.{key}", f"{name} is given twice")
        else:
            given[name] = _convert(value, hints[name], f"{path}.{key}", problems)
    problems.raise_if_any(WHAT)
    out = cls(**given)
    out.check(problems, path)
    problems.raise_if_any(WHAT)
    return out


def as_record(params: Common) -> dict:
    """The parameters as a plain dict (field name -> value), for the result's record."""
    return dataclasses.asdict(params)


# --------------------------------------------------------------------------- the rules' parameters


@dataclass(frozen=True)
class Plain(Common):
    """No parameter beyond the common ones (Equal Weight, Volatility weighted, Min Tracking Error)."""


@dataclass(frozen=True)
class Estimated(Common):
    """``covariance``: "sample" (ddof = 1) or "ledoit_wolf" (Ledoit & Wolf 2004 shrinkage)."""

    covariance: Covariance = "sample"


@dataclass(frozen=True)
class MinRisk(Estimated):
    """``risk_measure``: "CVaR" (historical, at ``level``) or "volatility" (minimum variance);
    ``level``: the CVaR confidence level in (0, 1), 0.95 by default."""

    risk_measure: Literal["CVaR", "volatility"] = "CVaR"
    level: float = 0.95

    def check(self, problems: Problems, path: str) -> None:
        super().check(problems, path)
        if not 0.5 <= self.level < 1:
            problems.add(f"{path}.level", f"{self.level:g} is not a confidence level in [0.5, 1) (0.95 for 95 %)")


@dataclass(frozen=True)
class MaxSharpe(Estimated):
    """``risk_free_rate``: annual rate, as a fraction (0.02 for 2 %), turned into a per-period rate
    ``(1 + rf)^(1 / periods_per_year) - 1``; ``periods_per_year``: 252 for daily returns."""

    risk_free_rate: float = 0.0
    periods_per_year: float = 252.0

    def check(self, problems: Problems, path: str) -> None:
        super().check(problems, path)
        if not -0.5 < self.risk_free_rate < 1:
            problems.add(f"{path}.risk_free_rate", f"{self.risk_free_rate:g} is not an annual rate as a fraction "
                                                   f"(0.02 for 2 %)")
        if not 1 <= self.periods_per_year <= 366 * 24:
            problems.add(f"{path}.periods_per_year", f"{self.periods_per_year:g} is not a number of return "
                                                     f"periods a year (252 daily, 52 weekly, 12 monthly)")

    @property
    def per_period(self) -> float:
        return (1 + self.risk_free_rate) ** (1 / self.periods_per_year) - 1


@dataclass(frozen=True)
class Hierarchical(Estimated):
    """``linkage`` of the tree ("single" as López de Prado 2016) and ``codependence`` ("pearson")."""

    linkage: Literal["single", "complete", "average", "ward"] = "single"
    codependence: Literal["pearson", "spearman", "kendall"] = "pearson"


@dataclass(frozen=True)
class Atr(Common):
    """``period``: bars in Wilder's ATR (14 as Wilder 1978), from 2 to 250."""

    period: int = 14

    def check(self, problems: Problems, path: str) -> None:
        super().check(problems, path)
        if not 2 <= self.period <= 250:
            problems.add(f"{path}.period", f"{self.period!r} is outside 2..250 bars")
