"""The solver-backed models behind the rules: riskfolio-lib where it has the model, HiGHS or cvxpy where not.

Each function takes checked arrays (:class:`toolkit.optimise.inputs.Sample`, estimates and a
:class:`toolkit.optimise.constraints.ConstraintSet`) and returns a
:class:`toolkit.optimise.solve.Solved` through :func:`toolkit.optimise.solve.attempt`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from toolkit.errors import Problems
from toolkit.optimise.constraints import ConstraintSet
from toolkit.optimise.inputs import Sample
from toolkit.optimise.solve import SOLVER_OPTIONS, Solved, attempt, riskfolio


def portfolio(s: Sample, constraints: ConstraintSet, solver: str, mu: np.ndarray | None = None,
              cov: np.ndarray | None = None):
    """A riskfolio-lib ``Portfolio`` on ``s`` with our estimates, linear constraints and one solver."""
    rp = riskfolio()
    columns = list(s.instruments)
    port = rp.Portfolio(returns=s.frame())
    port.mu = pd.DataFrame([s.mean if mu is None else mu], columns=columns)
    port.cov = pd.DataFrame(np.cov(s.values, rowvar=False) if cov is None else cov, index=columns, columns=columns)
    a, b, _ = constraints.inequalities()
    if len(b):
        port.ainequality, port.binequality = a, b.reshape(-1, 1)
    port.solvers = [solver]
    port.sol_params = {solver: dict(SOLVER_OPTIONS.get(solver, {}))}
    return port


def weights_of(frame) -> np.ndarray | None:
    """riskfolio-lib's (N x 1) weights frame as a vector; None stays None."""
    return None if frame is None else frame.to_numpy(dtype=float).reshape(-1)


def mean_risk(s: Sample, constraints: ConstraintSet, *, objective: str, mu: np.ndarray, cov: np.ndarray,
              rf: float = 0.0, what: str) -> Solved:
    """riskfolio-lib ``Portfolio.optimization(model="Classic", rm="MV", obj=objective, rf=rf)``: the
    minimum-variance (``MinRisk``) or maximum ``(mu'w - rf) / sqrt(w'Sw)`` (``Sharpe``) portfolio."""
    def run(solver: str):
        port = portfolio(s, constraints, solver, mu, cov)
        return weights_of(port.optimization(model="Classic", rm="MV", obj=objective, rf=rf, hist=True))
    return attempt(what, "conic", constraints, run)


def best_excess_return(mu: np.ndarray, rf: float, constraints: ConstraintSet) -> float:
    """``max (mu - rf)'w`` over the constraint set (``max mu - rf`` without constraints, else a HiGHS
    LP): a maximum Sharpe ratio exists only if it is positive."""
    from scipy.optimize import linprog

    if constraints.plain:
        return float(mu.max() - rf)
    res = linprog(-(mu - rf), method="highs", **constraints.linprog())
    return -float(res.fun) if res.status == 0 else float("nan")


def require_excess_return(mu: np.ndarray, rf: float, constraints: ConstraintSet, what: str, path: str) -> None:
    """Refuse when no allowed portfolio earns more than ``rf`` on average: the ratio has no maximum."""
    best = best_excess_return(mu, rf, constraints)
    if not best > 1e-12:
        problems = Problems()
        problems.add(path, f"no portfolio within the constraints has a mean return above it (the best is "
                           f"{best + rf:.3g} per period against {rf:.3g}); {what} is undefined: lower it, "
                           f"widen the constraints or use a longer history")
        problems.raise_if_any("optimisation request")


def risk_parity(s: Sample, constraints: ConstraintSet, cov: np.ndarray) -> Solved:
    """riskfolio-lib ``Portfolio.rp_optimization(model="Classic", rm="MV")``: equal risk budgets
    ``b_i = 1/N`` by the log-barrier program of Spinu (2013) / Roncalli (2013, ch. 2),
    ``min sqrt(y'Sy)  s.t.  sum_i b_i log y_i >= 1, y >= 0``, then ``w = y / sum y``; with linear
    constraints ``A y <= b sum(y)`` (riskfolio-lib's constrained risk budgeting)."""
    def run(solver: str):
        port = portfolio(s, constraints, solver, cov=cov)
        return weights_of(port.rp_optimization(model="Classic", rm="MV", rf=0, b=None, hist=True))
    return attempt("Risk Parity", "conic", constraints, run)


def hierarchical_risk_parity(s: Sample, constraints: ConstraintSet, cov: np.ndarray | None, *, linkage: str,
                             codependence: str) -> Solved:
    """riskfolio-lib ``HCPortfolio.optimization(model="HRP", rm="MV")`` (López de Prado 2016): tree
    clustering on the distance ``sqrt((1 - rho) / 2)``, quasi-diagonalisation (optimal leaf order),
    recursive bisection with inverse-variance weights inside clusters and ``1 - V_1 / (V_1 + V_2)``
    splits between them. No solver: the constraint set is applied afterwards by the rule."""
    def run(_: str):
        rp = riskfolio()
        port = rp.HCPortfolio(returns=s.frame())
        extra = {} if cov is None else {"method_cov": "custom_cov",
                                        "custom_cov": pd.DataFrame(cov, index=s.instruments, columns=s.instruments)}
        return weights_of(port.optimization(model="HRP", codependence=codependence, rm="MV", linkage=linkage,
                                            leaf_order=True, **extra))
    return attempt("Diversified Min Risk", "none", constraints, run, solvers=("riskfolio-lib HCPortfolio",))


def _cvar_dual(s: Sample, constraints: ConstraintSet, alpha: float):
    """The minimum-CVaR LP of Rockafellar & Uryasev (2000), solved in its dual form.

    Primal: ``min_{w, v, z} v + sum_t z_t / (alpha T)`` s.t. ``z_t >= -r_t'w - v``, ``z >= 0``,
    ``G w <= h`` (bounds, groups), ``1'w = 1``, ``w >= 0`` has T rows. Its dual,
    ``max_{q, mu, lam} lam - h'mu`` s.t. ``R'q - G'mu + lam 1 <= 0``, ``1'q = 1``,
    ``0 <= q <= 1 / (alpha T)``, ``mu >= 0``, has N rows (q is the worst-case scenario
    distribution), so HiGHS' interior point method factors an N x N system instead of a T x T one.
    The weights are the duals of its N rows.
    """
    from scipy.optimize import linprog

    t, n = s.values.shape
    g, h, _ = constraints.inequalities()
    m = len(h)
    cost = np.concatenate([np.zeros(t), h, [-1.0]])
    a_ub = np.hstack([s.values.T, -g.T, np.ones((n, 1))])
    a_eq = np.concatenate([np.ones(t), np.zeros(m + 1)])[None, :]
    bounds = [(0.0, 1.0 / (alpha * t))] * t + [(0.0, None)] * m + [(None, None)]
    res = linprog(cost, A_ub=a_ub, b_ub=np.zeros(n), A_eq=a_eq, b_eq=[1.0], bounds=bounds, method="highs-ipm")
    if res.status != 0:
        raise RuntimeError(f"HiGHS status {res.status}: {res.message}")
    return 0.0 - res.ineqlin.marginals  # 0.0 - x turns HiGHS' -0.0 into 0.0


def min_cvar(s: Sample, constraints: ConstraintSet, level: float) -> Solved:
    """Minimum historical CVaR at ``level`` (``alpha = 1 - level``): HiGHS on the dual LP
    (:func:`_cvar_dual`), then riskfolio-lib ``Portfolio.optimization(rm="CVaR", obj="MinRisk")``
    (the primal LP) on Clarabel if HiGHS fails. Both are the model riskfolio-lib solves."""
    alpha = 1.0 - level

    def run(solver: str):
        if solver == "HIGHS":
            return _cvar_dual(s, constraints, alpha)
        port = portfolio(s, constraints, solver)
        port.alpha = alpha
        return weights_of(port.optimization(model="Classic", rm="CVaR", obj="MinRisk", hist=True))
    return attempt("Min Risk (CVaR)", "lp", constraints, run)


def psd_factor(cov: np.ndarray) -> np.ndarray:
    """``F`` with ``F'F = cov`` for a positive semi-definite ``cov`` (eigen-decomposition; tiny
    negative eigenvalues from rounding are taken as 0), so ``||F x|| = sqrt(x' cov x)``."""
    eig, vec = np.linalg.eigh(cov)
    keep = eig > eig[-1] * 1e-14
    return np.sqrt(eig[keep])[:, None] * vec[:, keep].T


def min_tracking_error(s: Sample, constraints: ConstraintSet, bench: np.ndarray) -> Solved:
    """``min_w TE(w) = sd(R w - r_b)`` (sample, ddof = 1; Roll 1992), a second-order cone program in cvxpy.

    ``TE(w) = ||F [w; -1]||`` with ``F'F`` the covariance of ``[R, r_b]``; the factor needs no regular
    covariance (a benchmark built from the instruments makes it singular). riskfolio-lib has the
    tracking error only as a constraint (``allowTE``), not as an objective.
    """
    import cvxpy as cp

    factor = psd_factor(np.cov(np.column_stack([s.values, bench]), rowvar=False, ddof=1))
    w = cp.Variable(s.size)
    problem = cp.Problem(cp.Minimize(cp.norm(factor[:, :-1] @ w - factor[:, -1])), constraints.cvxpy(w))

    def run(solver: str):
        problem.solve(solver=solver, **SOLVER_OPTIONS.get(solver, {}))
        return w.value if problem.status == cp.OPTIMAL else None
    return attempt("Min Tracking Error", "conic", constraints, run)


def project(target: np.ndarray, constraints: ConstraintSet, what: str) -> Solved:
    """The weights within ``constraints`` closest to ``target`` (all > 0) in the chi-square distance
    ``sum_i (w_i - t_i)^2 / t_i``: where only bounds bind, the free weights keep their proportions
    (``w_i = c t_i``), the continuous form of clipping and redistributing pro rata."""
    import cvxpy as cp

    w = cp.Variable(constraints.size)
    problem = cp.Problem(cp.Minimize(cp.sum(cp.multiply(1.0 / target, cp.square(w - target)))),
                         constraints.cvxpy(w))

    def run(solver: str):
        problem.solve(solver=solver, **SOLVER_OPTIONS.get(solver, {}))
        return w.value if problem.status == cp.OPTIMAL else None
    return attempt(what, "qp", constraints, run)
