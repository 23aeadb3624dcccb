"""Portfolio optimisation: the risk platform's nine rules, constraint sets, frontiers, batches, triggers.

Pure functions over xarray, like :mod:`toolkit.analytics`::

    from toolkit.optimise import optimise
    w = optimise("Max Sharpe", returns, constraints={"max_weight": 0.2,
                                                      "sectors": [{"code": "45", "max": 0.4}]})

- :func:`optimise` (:mod:`toolkit.optimise.rules`): one universe, one rule; ``RULES`` lists the rules
  by their seed names with their parameter classes and models; :func:`plan` validates a request
  without solving it and :func:`execute` solves a plan (what a façade that checks first calls);
- :func:`parse_constraints` (:mod:`toolkit.optimise.constraints`): the constraint set format;
- :func:`efficient_frontier` (:mod:`toolkit.optimise.frontier`): frontier portfolios and their
  risk/return points, with the result's;
- :func:`optimise_many` (:mod:`toolkit.optimise.batch`): many portfolios on a process pool;
- :func:`size_trigger`, :func:`triggered_trades` (:mod:`toolkit.optimise.trigger`): the size
  rebalance trigger.

riskfolio-lib and cvxpy are imported on the first optimisation, not by this package. Errors:
:class:`toolkit.errors.ValidationError` (a request, parameter or constraint, by field path),
:class:`toolkit.errors.DataError` (history, covariance, prices) and :class:`OptimisationError`
(every solver failed; a :class:`toolkit.errors.ToolkitError`).
"""

from __future__ import annotations

from toolkit.optimise.batch import Request, optimise_many
from toolkit.optimise.constraints import ConstraintSet, parse_constraints
from toolkit.optimise.frontier import efficient_frontier
from toolkit.optimise.heuristics import wilder_atr
from toolkit.optimise.rules import RULES, Plan, Rule, execute, optimise, plan
from toolkit.optimise.solve import OptimisationError
from toolkit.optimise.trigger import size_trigger, triggered_trades

__all__ = ["RULES", "ConstraintSet", "OptimisationError", "Plan", "Request", "Rule", "efficient_frontier",
           "execute", "optimise", "optimise_many", "parse_constraints", "plan", "size_trigger", "triggered_trades",
           "wilder_atr"]
