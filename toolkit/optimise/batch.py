"""Many portfolios at once, on a pool of worker processes (both cores of the demo machine).

Every request is validated in the calling process first (:func:`toolkit.optimise.rules.plan`), so
one ValidationError lists every bad request by its key (``requests[p3].constraints.sectors[0].max``)
before any solver runs. The plans are then solved in chunks on a process pool of ``workers``
processes; riskfolio-lib and cvxpy are imported once in the parent before the pool forks, so the
workers start warm (where ``fork`` is unavailable they import them themselves). Each worker
limits BLAS to one thread, so two workers use two cores rather than fighting over them.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Hashable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import xarray as xr

from toolkit.errors import DataError, Problem, ToolkitError, ValidationError
from toolkit.optimise.rules import Plan, execute, plan
from toolkit.optimise.solve import OptimisationError, riskfolio
from toolkit.schema import INSTRUMENT, PORTFOLIO

#: rules solved without riskfolio-lib or cvxpy when unconstrained
CLOSED_FORM = {"Equal Weight", "Volatility weighted", "ATR weighted"}


@dataclass(frozen=True)
class Request:
    """One portfolio of a batch: the arguments of :func:`toolkit.optimise.optimise`."""

    rule: str
    returns: xr.DataArray | None = None
    parameters: Mapping | None = None
    constraints: Mapping | None = None
    ohlc: xr.Dataset | None = None
    benchmark: xr.DataArray | None = None


def _plans(requests: Mapping[Hashable, Request]) -> dict[Hashable, Plan]:
    problems, plans = [], {}
    for key, r in requests.items():
        where = f"requests[{key}]"
        if not isinstance(r, Request):
            problems.append(Problem(where, f"expected a toolkit.optimise.Request, got {type(r).__name__}"))
            continue
        try:
            plans[key] = plan(r.rule, r.returns, parameters=r.parameters, constraints=r.constraints, ohlc=r.ohlc,
                              benchmark=r.benchmark)
        except ValidationError as exc:
            problems += [Problem(f"{where}.{p.path}" if p.path else where, p.message) for p in exc.problems]
        except DataError as exc:
            problems.append(Problem(where, str(exc)))
    if problems:
        raise ValidationError(problems, "batch of optimisation requests")
    return plans


def _solve_chunk(chunk: list[tuple[Hashable, Plan]]) -> list[tuple[Hashable, xr.DataArray | str]]:
    try:
        from threadpoolctl import threadpool_limits
        limits = threadpool_limits(1)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        limits = None
    out: list[tuple[Hashable, xr.DataArray | str]] = []
    for key, p in chunk:
        try:
            out.append((key, execute(p)))
        except ToolkitError as exc:
            out.append((key, str(exc)))
    if limits is not None:
        limits.restore_original_limits()
    return out


def _context():
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def optimise_many(requests: Mapping[Hashable, Request] | Sequence[Request], *, workers: int = 2) -> xr.DataArray:
    """Optimise every request; the weights over (``portfolio``, ``instrument``).

    ``requests`` maps a portfolio key to its :class:`Request` (a sequence is keyed 0, 1, ...).
    Instruments a portfolio does not hold get 0. The ``portfolio`` coordinate carries ``rule`` and
    ``solver``; ``attrs["records"]`` holds each portfolio's record (as :func:`optimise`'s attrs).
    ``workers`` processes solve in parallel (1: in this process). Raises one
    :class:`toolkit.errors.ValidationError` for every invalid request, then one
    :class:`OptimisationError` naming every portfolio no solver could solve.
    """
    if not isinstance(requests, Mapping):
        requests = dict(enumerate(requests))
    if not requests:
        raise ValidationError([Problem("requests", "is empty; give at least one request")],
                              "batch of optimisation requests")
    plans = list(_plans(requests).items())
    workers = max(1, min(int(workers), len(plans)))
    if workers == 1:
        results = _solve_chunk(plans)
    else:
        if any(p.rule not in CLOSED_FORM or not p.constraints.plain for _, p in plans):
            riskfolio()  # import once before forking: the workers inherit it
            import cvxpy  # noqa: F401
        chunks = [plans[k::workers * 4] for k in range(workers * 4)]
        with ProcessPoolExecutor(max_workers=workers, mp_context=_context()) as pool:
            results = [item for part in pool.map(_solve_chunk, [c for c in chunks if c]) for item in part]
    failed = [(k, r) for k, r in results if isinstance(r, str)]
    if failed:
        raise OptimisationError(f"{len(failed)} of {len(plans)} portfolios could not be solved: "
                                + "; ".join(f"{k}: {msg}" for k, msg in failed))
    solved = {k: r for k, r in results if isinstance(r, xr.DataArray)}  # (every one: none failed)
    keys = [k for k, _ in plans]
    arrays = [solved[k].reset_coords(drop=True) for k in keys]
    out = xr.concat(arrays, dim=PORTFOLIO, join="outer", fill_value=0.0, coords="minimal", compat="override")
    out = out.assign_coords({PORTFOLIO: keys, "rule": (PORTFOLIO, [solved[k].attrs["rule"] for k in keys]),
                             "solver": (PORTFOLIO, [solved[k].attrs["solver"] for k in keys])})
    out.attrs = {"records": {k: dict(solved[k].attrs) for k in keys}}
    return out.transpose(PORTFOLIO, INSTRUMENT).rename("weight")
