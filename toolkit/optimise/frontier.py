"""The efficient frontier of a universe under a constraint set, and where a result sits on it.

riskfolio-lib ``Portfolio.efficient_frontier(model="Classic", rm=...)``: the minimum-risk portfolio,
then the maximum-return portfolios at risks evenly spaced up to the maximum-return portfolio's
(Markowitz 1952; mean-CVaR: Rockafellar & Uryasev 2000). riskfolio-lib silently drops the points
it cannot solve; here a frontier with a missing point is retried with the next solver, then
refused. Risk and return are per period of the returns (daily returns: daily figures): the mean
``mu'w``; the volatility ``sqrt(w'Sw)`` (sample, ddof = 1) or the historical CVaR at ``level``
(Acerbi-Tasche), measured on the dates on which every instrument has a return.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from toolkit.analytics.risk_portfolio import check_weights, cvar_contributions, volatility_contributions
from toolkit.errors import Problems
from toolkit.optimise.constraints import ConstraintSet, parse_constraints
from toolkit.optimise.inputs import covariance, covariance_need, require_dates, require_regular, sample, tail_need
from toolkit.optimise.models import portfolio
from toolkit.optimise.solve import attempt, clean
from toolkit.schema import INSTRUMENT, PORTFOLIO

MEASURES = {"volatility": "MV", "CVaR": "CVaR"}


def _risk(returns: xr.DataArray, weights: np.ndarray, ids: list[str], measure: str, level: float) -> np.ndarray:
    """The risk of each column of ``weights`` (N, K), by :mod:`toolkit.analytics.risk_portfolio`."""
    w = xr.DataArray(weights.T, dims=(PORTFOLIO, INSTRUMENT), coords={INSTRUMENT: ids})
    if measure == "volatility":
        return volatility_contributions(returns, w)["total"].values
    return cvar_contributions(returns, w, level)["total"].values


def _check(points: int, constraints: ConstraintSet):
    def check(frame):
        if frame is None or frame.shape[1] < points:
            got = 0 if frame is None else frame.shape[1]
            return None, [], f"solved {got} of the {points} frontier points"
        columns, notes = [], []
        for k in range(points):
            w, more, why = clean(frame.iloc[:, k].to_numpy(), constraints)
            if w is None:
                return None, [], f"point {k} {why}"
            columns.append(w), notes.extend(more)
        return np.column_stack(columns), notes, None
    return check


def efficient_frontier(returns: xr.DataArray, *, constraints: Mapping | ConstraintSet | None = None,
                       points: int = 20, risk_measure: str = "volatility", level: float = 0.95,
                       result: xr.DataArray | None = None) -> xr.Dataset:
    """``points`` frontier portfolios of ``returns`` (instrument, time) under ``constraints``.

    Returns a Dataset with ``weights`` over (``portfolio``, ``instrument``) (portfolio 0 is the
    minimum-risk one), ``risk`` and ``return`` over ``portfolio``, and, when ``result`` (weights over
    instruments, e.g. :func:`toolkit.optimise.optimise`'s) is given, ``result_risk`` and
    ``result_return``. ``attrs`` record the measure, level, solver and notes.
    """
    problems = Problems()
    if risk_measure not in MEASURES:
        problems.add("risk_measure", f"{risk_measure!r} is not one of {', '.join(map(repr, MEASURES))}")
    if isinstance(points, bool) or not isinstance(points, int) or not 2 <= points <= 200:
        problems.add("points", f"{points!r} is not a whole number of points from 2 to 200")
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0.5 <= level < 1:
        problems.add("level", f"{level!r} is not a confidence level in [0.5, 1)")
    problems.raise_if_any("frontier request")
    s = sample(returns)
    c = parse_constraints(constraints, returns)
    require_dates(s, covariance_need(s) if risk_measure == "volatility" else tail_need(level), "the frontier")
    cov = covariance(s)
    if risk_measure == "volatility":
        require_regular(cov, s, "the mean-variance frontier")

    def run(solver: str):
        port = portfolio(s, c, solver, cov=cov)
        port.alpha = 1 - level
        return port.efficient_frontier(model="Classic", rm=MEASURES[risk_measure], points=points, rf=0, hist=True)

    solved = attempt("The efficient frontier", "conic", c, run, check=_check(points, c))
    weights = solved.weights
    ids = list(returns.indexes[INSTRUMENT])
    out = xr.Dataset(
        {"weights": ((PORTFOLIO, INSTRUMENT), weights.T),
         "risk": (PORTFOLIO, _risk(returns, weights, ids, risk_measure, level)),
         "return": (PORTFOLIO, s.mean @ weights)},
        coords={PORTFOLIO: np.arange(points), INSTRUMENT: ids},
        attrs={"risk_measure": risk_measure, "level": level, "solver": solved.solver, "notes": list(solved.notes),
               "units": "per period of the returns", "sample": s.span()})
    if result is not None:
        w = check_weights(result, returns).sel({INSTRUMENT: ids}).values.astype(float)
        out["result_risk"] = float(_risk(returns, w[:, None], ids, risk_measure, level)[0])
        out["result_return"] = float(s.mean @ w)
    return out
