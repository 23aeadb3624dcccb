"""The nine portfolio rules of the risk platform, keyed by the seed's names, and :func:`optimise`.

=======================  ================================================  ===============================
rule (seed name)         weights                                           model
=======================  ================================================  ===============================
Min Risk (CVaR)          minimum historical CVaR (or minimum variance)     HiGHS LP / riskfolio-lib
Equal Weight             1/N                                               numpy
Diversified Min Risk     hierarchical risk parity (López de Prado 2016)    riskfolio-lib HCPortfolio
Max Sharpe               maximum (mu'w - rf) / sqrt(w'Sw)                  riskfolio-lib
Volatility weighted      proportional to volatility (seed rule 17)         numpy
Risk Parity              equal risk contributions (Roncalli 2013)          riskfolio-lib rp_optimization
ATR weighted             proportional to ATR / price (seed rule 19)        numpy (Wilder's ATR)
Max Diversification      maximum diversification ratio (Choueifaty 2008)   riskfolio-lib, from primitives
Min Tracking Error       minimum sd of returns over a benchmark            cvxpy
=======================  ================================================  ===============================

Every rule is long only and fully invested, under the constraint set of
:mod:`toolkit.optimise.constraints`. The closed-form rules (Equal Weight, Volatility weighted,
ATR weighted, Diversified Min Risk) give their weights as they are when the constraints allow
them; otherwise the nearest weights the constraints allow (:func:`toolkit.optimise.models.project`).
Inputs are checked as :mod:`toolkit.optimise.inputs` says (complete dates, history, singular
covariance); solvers run behind :mod:`toolkit.optimise.solve`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TypeVar, cast

import numpy as np
import xarray as xr

from toolkit.contracts.risk.strategy import StrategyRule
from toolkit.errors import Problem, Problems, ValidationError
from toolkit.optimise import heuristics, models
from toolkit.optimise import parameters as P
from toolkit.optimise.constraints import ConstraintSet, parse_constraints
from toolkit.optimise.inputs import (
    MIN_DATES,
    Sample,
    benchmark_returns,
    covariance,
    covariance_need,
    require_dates,
    require_regular,
    require_varying,
    sample,
    tail_need,
)
from toolkit.optimise.solve import Solved
from toolkit.schema import INSTRUMENT

WHAT = "optimisation request"


@dataclass(frozen=True)
class Plan:
    """A validated request: the rule, its parameters, the checked data and constraints; :func:`execute` runs it."""

    rule: str
    params: P.Common
    constraints: ConstraintSet
    coords: dict[str, np.ndarray]
    sample: Sample | None = None
    bars: xr.Dataset | None = None
    bench: np.ndarray | None = None
    cov: np.ndarray | None = None  # the covariance matrix, or the variances for rules that need no more

    # what :func:`plan` and each rule's ``prepare`` step guarantee a rule's ``run`` step, typed
    @property
    def data(self) -> Sample:
        """The returns sample (every rule that reads returns has one)."""
        return _given(self.sample, "returns")

    @property
    def matrix(self) -> np.ndarray:
        """The covariance matrix or variances ``prepare`` estimated."""
        return _given(self.cov, "a covariance")

    @property
    def ohlcv(self) -> xr.Dataset:
        """The complete bars of ATR weighted."""
        return _given(self.bars, "ohlc")

    @property
    def tracked(self) -> np.ndarray:
        """The benchmark's returns of Min Tracking Error."""
        return _given(self.bench, "benchmark")

    def of(self, kind: type[ParamsT]) -> ParamsT:
        """The parameters as the rule's own class (they were read as it by :func:`plan`)."""
        if not isinstance(self.params, kind):
            raise TypeError(f"{self.rule} has {type(self.params).__name__} parameters, not {kind.__name__}")
        return self.params


ParamsT = TypeVar("ParamsT", bound=P.Common)
GivenT = TypeVar("GivenT")


def _given(value: GivenT | None, what: str) -> GivenT:
    if value is None:  # a rule run without the input its prepare step checks: a bug, not a bad request
        raise TypeError(f"the plan has no {what}; build it with plan()")
    return value


@dataclass(frozen=True)
class Rule:
    """A portfolio rule: its seed name, parameter class, inputs, where its model comes from, and the
    two steps: ``prepare`` (check the data, estimate; raises on bad data) and ``run`` (solve)."""

    name: str
    parameters: type
    inputs: tuple[str, ...]
    model: str
    prepare: Callable[[Plan], Plan]
    run: Callable[[Plan], Solved]

    @property
    def doc(self) -> str:
        return self.run.__doc__ or ""


# --------------------------------------------------------------------------- shared steps


def _fits(target: np.ndarray, plan: Plan, what: str) -> Solved:
    """``target`` as it is when the constraints allow it, else its projection onto them."""
    if plan.constraints.plain or not plan.constraints.violations(target):
        return Solved(target, "none (closed form)")
    solved = models.project(target, plan.constraints, what)
    return replace(solved, solver=f"{solved.solver} (projection onto the constraints)")


def _with_cov(plan: Plan, who: str) -> Plan:
    """Need a regular covariance: more dates than instruments, no constant or duplicated series."""
    require_dates(plan.data, covariance_need(plan.data), who)
    cov = covariance(plan.data, plan.of(P.Estimated).covariance)
    require_regular(cov, plan.data, who)
    return replace(plan, cov=cov)


def _varying(plan: Plan, who: str) -> Plan:
    """Need :data:`MIN_DATES` dates and instruments whose returns vary (the variances are kept in
    ``cov`` as a vector, or the whole shrunk matrix when the rule asks for Ledoit-Wolf)."""
    require_dates(plan.data, MIN_DATES, who)
    require_varying(plan.data, who)
    if getattr(plan.params, "covariance", "sample") == "ledoit_wolf":
        return replace(plan, cov=covariance(plan.data, "ledoit_wolf"))
    return replace(plan, cov=plan.data.values.var(axis=0, ddof=1))


# --------------------------------------------------------------------------- the nine rules


def _prepare_min_risk(plan: Plan) -> Plan:
    p = plan.of(P.MinRisk)
    if p.risk_measure == "volatility":
        return _with_cov(plan, "Min Risk (volatility)")
    require_dates(plan.data, tail_need(p.level), f"a CVaR at level {p.level:g}")
    return plan


def min_risk(plan: Plan) -> Solved:
    """Min Risk (CVaR): ``min_w CVaR_a(R w)``, the mean of the worst ``1 - level`` of the portfolio's
    historical returns (Acerbi & Tasche 2002), as the linear program of Rockafellar & Uryasev (2000)
    ``min v + sum_t max(0, -r_t'w - v) / (aT)``, solved by HiGHS in its dual form (N rows instead of
    T), with riskfolio-lib's primal (``rm="CVaR", obj="MinRisk"``) on Clarabel as the fallback.
    With ``risk_measure="volatility"``: the minimum-variance portfolio ``min w'Sw`` (Markowitz 1952),
    riskfolio-lib ``Portfolio.optimization(rm="MV", obj="MinRisk")``."""
    p = plan.of(P.MinRisk)
    if p.risk_measure == "CVaR":
        return models.min_cvar(plan.data, plan.constraints, p.level)
    return models.mean_risk(plan.data, plan.constraints, objective="MinRisk", mu=plan.data.mean, cov=plan.matrix,
                            what="Min Risk (volatility)")


def equal_weight(plan: Plan) -> Solved:
    """Equal Weight: ``w_i = 1/N`` exactly (the 1/N rule; DeMiguel, Garlappi & Uppal 2009)."""
    return _fits(heuristics.equal_weights(plan.constraints.size), plan, "Equal Weight")


def diversified_min_risk(plan: Plan) -> Solved:
    """Diversified Min Risk: hierarchical risk parity (López de Prado 2016, "Building diversified
    portfolios that outperform out of sample", J. Portfolio Management 42(4)): cluster the
    instruments on the correlation distance ``sqrt((1 - rho) / 2)`` (``linkage``, single as in the
    paper), order them along the tree, then split the weight top-down between the two halves of
    each cluster in inverse proportion to their inverse-variance portfolios' variances,
    ``alpha = 1 - V_1 / (V_1 + V_2)``. Low correlations get more weight; no matrix is inverted, so a
    singular covariance is fine. riskfolio-lib ``HCPortfolio.optimization(model="HRP", rm="MV")``."""
    p = plan.of(P.Hierarchical)
    cov = plan.matrix if p.covariance == "ledoit_wolf" else None
    solved = models.hierarchical_risk_parity(plan.data, plan.constraints, cov, linkage=p.linkage,
                                             codependence=p.codependence)
    fitted = _fits(solved.weights, plan, "Diversified Min Risk")
    if fitted.weights is solved.weights:
        return solved
    return replace(fitted, solver=f"{solved.solver}, then {fitted.solver}", notes=solved.notes + fitted.notes)


def max_sharpe(plan: Plan) -> Solved:
    """Max Sharpe: ``max_w (mu'w - rf) / sqrt(w'Sw)`` (Sharpe 1966; the tangency portfolio), with
    ``mu`` the sample means, ``S`` the covariance and ``rf`` the per-period risk-free rate, solved as
    the convex program ``min y'Sy s.t. (mu - rf)'y = 1, y >= 0`` with ``w = y / sum y`` (Cornuejols &
    Tütüncü 2007, 8.2): riskfolio-lib ``Portfolio.optimization(rm="MV", obj="Sharpe")``. Refused when
    no allowed portfolio earns more than ``rf`` on average."""
    rf = plan.of(P.MaxSharpe).per_period
    models.require_excess_return(plan.data.mean, rf, plan.constraints, "the maximum Sharpe ratio",
                                 "parameters.risk_free_rate")
    return models.mean_risk(plan.data, plan.constraints, objective="Sharpe", mu=plan.data.mean, cov=plan.matrix,
                            rf=rf, what="Max Sharpe")


def volatility_weighted(plan: Plan) -> Solved:
    """Volatility weighted: ``w_i = sigma_i / sum_j sigma_j`` with ``sigma_i`` the sample standard
    deviation (ddof = 1) of instrument ``i``'s returns: weights proportional to volatility, as the
    risk platform's rule 17 defines them ("an instrument with a higher volatility will also have a
    higher weight"; not the textbook inverse-volatility portfolio, which is ``1/w`` normalised)."""
    return _fits(heuristics.volatility_weights(np.sqrt(plan.matrix)), plan, "Volatility weighted")


def risk_parity(plan: Plan) -> Solved:
    """Risk Parity: every instrument contributes the same share of the portfolio's volatility,
    ``w_i (Sw)_i / (w'Sw) = 1/N`` (equal risk contributions; Maillard, Roncalli & Teiletche 2010),
    by the log-barrier program ``min sqrt(y'Sy) s.t. sum_i log(y_i) / N >= 1`` then ``w = y / sum y``
    (Spinu 2013; Roncalli 2013, ch. 2): riskfolio-lib ``Portfolio.rp_optimization(rm="MV")`` on
    Clarabel with tolerances of 1e-10, so the contributions are equal to about 1e-8. Under
    constraints, riskfolio-lib's constrained risk budgeting (contributions then differ)."""
    return models.risk_parity(plan.data, plan.constraints, plan.matrix)


def atr_weighted(plan: Plan) -> Solved:
    """ATR weighted: ``w_i = (ATR_i / C_i) / sum_j (ATR_j / C_j)`` at the last bar, ``ATR`` Wilder's
    (1978) average true range over ``period`` bars, seeded with the mean of the first ``period``
    true ranges (the first true range is ``H - L``) as StockCharts' ChartSchool; see
    :func:`toolkit.optimise.heuristics.wilder_atr`. Weights proportional to the ATR as a fraction of
    the price, as the risk platform's rule 19 defines them; scale free."""
    return _fits(heuristics.atr_weights(plan.ohlcv, plan.of(P.Atr).period), plan, "ATR weighted")


def max_diversification(plan: Plan) -> Solved:
    """Max Diversification: ``max_w DR(w) = sigma'w / sqrt(w'Sw)`` (Choueifaty & Coignard 2008,
    "Toward maximum diversification", J. Portfolio Management 35(1)), ``sigma`` the instruments'
    volatilities. riskfolio-lib has no such objective; built from its primitives: the Sharpe ratio
    program with ``mu := sigma`` and ``rf = 0`` is exactly this ratio
    (``Portfolio.optimization(rm="MV", obj="Sharpe")``)."""
    sigma = np.sqrt(np.diag(plan.matrix))
    return models.mean_risk(plan.data, plan.constraints, objective="Sharpe", mu=sigma, cov=plan.matrix, rf=0.0,
                            what="Max Diversification")


def min_tracking_error(plan: Plan) -> Solved:
    """Min Tracking Error: ``min_w sd(R w - r_b)`` (sample, ddof = 1), the ex-post tracking error
    against the benchmark's returns ``r_b`` (Roll 1992, "A mean/variance analysis of tracking
    error", J. Portfolio Management 18(4)); a second-order cone program in cvxpy on the factor of the
    covariance of ``[R, r_b]`` (riskfolio-lib has tracking error only as a constraint). The
    benchmark is weights over the instruments (instruments the portfolio may not hold get a
    ``max`` of 0 in the constraints) or a return series."""
    return models.min_tracking_error(plan.data, plan.constraints, plan.tracked)


def _dated(who: str) -> Callable[[Plan], Plan]:
    def prepare(plan: Plan) -> Plan:
        require_dates(plan.data, MIN_DATES, who)
        return plan
    return prepare


RULES: dict[str, Rule] = {r.name: r for r in [
    Rule("Min Risk (CVaR)", P.MinRisk, ("returns",), "HiGHS LP (dual of Rockafellar-Uryasev) / riskfolio-lib",
         _prepare_min_risk, min_risk),
    Rule("Equal Weight", P.Plain, (), "closed form", lambda plan: plan, equal_weight),
    Rule("Diversified Min Risk", P.Hierarchical, ("returns",), "riskfolio-lib HCPortfolio (HRP)",
         lambda plan: _varying(plan, "Diversified Min Risk"), diversified_min_risk),
    Rule("Max Sharpe", P.MaxSharpe, ("returns",), "riskfolio-lib Portfolio.optimization(rm='MV', obj='Sharpe')",
         lambda plan: _with_cov(plan, "Max Sharpe"), max_sharpe),
    Rule("Volatility weighted", P.Plain, ("returns",), "closed form",
         lambda plan: _varying(plan, "Volatility weighted"), volatility_weighted),
    Rule("Risk Parity", P.Estimated, ("returns",), "riskfolio-lib Portfolio.rp_optimization(rm='MV')",
         lambda plan: _with_cov(plan, "Risk Parity"), risk_parity),
    Rule("ATR weighted", P.Atr, ("ohlc",), "closed form (Wilder's ATR)", lambda plan: plan, atr_weighted),
    Rule("Max Diversification", P.Estimated, ("returns",),
         "riskfolio-lib Portfolio.optimization(rm='MV', obj='Sharpe') with mu = volatilities",
         lambda plan: _with_cov(plan, "Max Diversification"), max_diversification),
    Rule("Min Tracking Error", P.Plain, ("returns", "benchmark"), "cvxpy SOCP",
         _dated("Min Tracking Error"), min_tracking_error),
]}


# --------------------------------------------------------------------------- requests


def rule_named(name: object, path: str = "rule") -> Rule:
    """The rule called ``name`` (the seed's name; case and spacing forgiven), or a ValidationError."""
    if isinstance(name, str):
        folded = {" ".join(k.lower().split()): r for k, r in RULES.items()}
        found = folded.get(" ".join(name.lower().split()))
        if found is not None:
            return found
    close = difflib.get_close_matches(str(name), list(RULES), n=1, cutoff=0.5)
    raise ValidationError([Problem(path, f"{name!r} is not a rule; " + (f"did you mean {close[0]!r}? " if close
                                                                         else "")
                                   + f"the rules are {', '.join(map(repr, RULES))}")], WHAT)


def _inputs(rule: Rule, given: dict[str, object]) -> None:
    problems = Problems()
    universe = ("returns", "ohlc")
    for name, value in given.items():
        if value is None and name in rule.inputs:
            problems.add(name, f"is required by {rule.name}")
        elif value is not None and name not in rule.inputs and not (rule.name == "Equal Weight" and name in universe):
            uses = ", ".join(rule.inputs) or "the instruments only"
            problems.add(name, f"{rule.name} takes no {name}; it uses {uses}")
    if rule.name == "Equal Weight" and given["returns"] is None and given["ohlc"] is None:
        problems.add("returns", "Equal Weight needs the instruments: give returns (or ohlc)")
    problems.raise_if_any(WHAT)


def plan(rule: str, returns: xr.DataArray | None = None, *, parameters: Mapping | P.Common | None = None,
         constraints: Mapping | ConstraintSet | None = None, ohlc: xr.Dataset | None = None,
         benchmark: xr.DataArray | None = None) -> Plan:
    """Validate a request without solving it (what :func:`optimise` and the batches do first)."""
    r = rule_named(rule)
    params = P.read_parameters(r.parameters, parameters)
    _inputs(r, {"returns": returns, "ohlc": ohlc, "benchmark": benchmark})
    bars: xr.Dataset | None = None
    s: Sample | None = None
    if r.name == "ATR weighted":
        bars = heuristics.complete_bars(ohlc, cast(P.Atr, params).period)
    elif returns is not None:
        s = sample(returns)
    meta = cast(xr.DataArray | xr.Dataset, ohlc if returns is None else returns)  # _inputs: one of them is given
    c = parse_constraints(constraints, meta)
    coords = {str(k): v.values for k, v in meta.coords.items() if v.dims == (INSTRUMENT,)}
    out = Plan(r.name, params, c, coords, s, bars)
    if benchmark is not None:  # Min Tracking Error reads returns (its inputs), so the sample is there
        out = replace(out, bench=benchmark_returns(benchmark, cast(xr.DataArray, returns), out.data))
    return r.prepare(out) if c.size > 1 else out


def execute(p: Plan) -> xr.DataArray:
    """Run a validated :class:`Plan`; the weights over ``instrument`` with the record in ``attrs``."""
    r = RULES[p.rule]
    if p.constraints.size == 1:
        solved = Solved(np.ones(1), "none (a single instrument)")
    else:
        solved = r.run(p)
    attrs = {"rule": r.name, "parameters": P.as_record(p.params), "solver": solved.solver, "model": r.model,
             "notes": list(solved.notes), "solver_output": solved.output}
    if p.sample is not None:
        attrs["sample"] = p.sample.span()
    coords = {k: (INSTRUMENT, v) for k, v in p.coords.items()}
    return xr.DataArray(solved.weights, dims=(INSTRUMENT,), coords=coords, name="weight", attrs=attrs)


def optimise(rule: str, returns: xr.DataArray | None = None, *, parameters: Mapping | P.Common | None = None,
             constraints: Mapping | ConstraintSet | None = None, ohlc: xr.Dataset | None = None,
             benchmark: xr.DataArray | None = None) -> xr.DataArray:
    """The weights of ``rule`` (a seed name, e.g. "Max Sharpe") for one universe.

    ``returns``: simple returns over ``(instrument, time)`` (metadata coordinates ``sector``,
    ``country``, ``currency``, ``asset_class`` for group constraints); ``ohlc``: high, low, close
    over ``(instrument, time)`` (ATR weighted); ``benchmark``: weights over instruments or a return
    series (Min Tracking Error); ``parameters``: the rule's (see ``RULES[rule].parameters``);
    ``constraints``: see :mod:`toolkit.optimise.constraints`.

    Returns a DataArray ``weight`` over ``instrument`` (long only, summing to 1 to within 1e-7,
    exactly as solved) with ``attrs``: ``rule``, ``parameters``, ``solver``, ``model``, ``notes``
    (clipped weights, solver retries), ``solver_output`` (what the solver library printed or warned)
    and ``sample`` (the dates used). Raises
    :class:`toolkit.errors.ValidationError` (request, parameters, constraints, naming the field),
    :class:`toolkit.errors.DataError` (too little history, singular covariance, bad prices) or
    :class:`toolkit.optimise.solve.OptimisationError` (every solver failed).
    """
    return execute(plan(rule, returns, parameters=parameters, constraints=constraints, ohlc=ohlc, benchmark=benchmark))


def from_strategy(rule: StrategyRule) -> tuple[str, P.Common]:
    """A strategy's portfolio rule as the toolkit's rule name and parameters (the document's units
    turned into the toolkit's: ``RebalanceTrigger`` "5" is 0.05); refused when it is no portfolio rule."""
    name = P.SEED_RULES.get(rule.rule_id)
    if name is None:
        ids = ", ".join(map(str, P.SEED_RULES))
        raise ValidationError([Problem("rule_id", f"rule {rule.rule_id} ({rule.rule.title}) is no portfolio rule; "
                                                  f"the portfolio rules are {ids}")], WHAT)
    given = {k: float(v) if isinstance(v, Decimal) else v for k, v in rule.settings().items() if k != "Benchmark"}
    return name, P.read_parameters(RULES[name].parameters, given)
