"""The shield around riskfolio-lib and cvxpy: lazy imports, explicit solvers, captured output, typed errors.

riskfolio-lib 7.4 returns ``None`` and prints "The problem doesn't have a solution ..." to stdout
when every solver fails; swallows ``cvxpy.SolverError``; raises ``UnboundLocalError`` on a
misspelled risk measure and ``KeyError`` when ``sol_params`` lacks a solver it tries; rescales
long-only weights by ``|w| / sum |w|`` (which would hide an inaccurate solve with negative
weights); and its Sharpe objective emits cvxpy warnings. So here:

- riskfolio-lib (~300 MB, seconds to import) and cvxpy are imported on the first optimisation,
  never by ``import toolkit`` or ``import toolkit.optimise``;
- the rules validate every input before a solver runs (no risk-measure strings reach riskfolio
  from users) and name one solver per attempt, with its options for every solver named;
- each attempt runs with stdout and stderr captured and warnings recorded; an attempt that raises,
  returns nothing, or returns weights that are not finite or break a constraint (sum to 1, bounds,
  groups; :data:`toolkit.optimise.constraints.TOLERANCE`) fails, and the next solver of
  :data:`SOLVERS` is tried; when all fail, :class:`OptimisationError` says what each one did;
- long-only weights are kept exactly as solved: a weight no further than :data:`CLIP` below 0 (or
  its minimum) or above its maximum is set to that bound, and the result's ``notes`` say so;
  nothing is renormalised.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from toolkit.errors import ToolkitError
from toolkit.optimise.constraints import ConstraintSet

#: the solvers tried, in order, per kind of model (tests and notebooks may change them)
SOLVERS: dict[str, tuple[str, ...]] = {
    "conic": ("CLARABEL", "SCS"),        # second-order and exponential cones (riskfolio-lib models, tracking error)
    "lp": ("HIGHS", "CLARABEL"),         # minimum CVaR: HiGHS on the dual LP, then riskfolio-lib's primal on Clarabel
    "qp": ("CLARABEL", "OSQP"),          # projections onto the constraint set
}
#: options per solver; riskfolio-lib needs an entry for every solver it is given
SOLVER_OPTIONS: dict[str, dict] = {
    "CLARABEL": {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10, "tol_ktratio": 1e-8},
    "SCS": {"eps_abs": 1e-9, "eps_rel": 1e-9, "max_iters": 200_000},
    "OSQP": {"eps_abs": 1e-10, "eps_rel": 1e-10, "max_iter": 200_000, "polish": True},
    "HIGHS": {},
}
#: weights no further than this outside their bounds (below 0, above a max) are set to the bound, and said
CLIP = 1e-9


class OptimisationError(ToolkitError, RuntimeError):
    """Every solver tried failed on a problem that passed validation; the message says what each did."""


@dataclass
class Capture:
    """What a library printed and warned while it ran."""

    stdout: io.StringIO = field(default_factory=io.StringIO)
    warnings: list = field(default_factory=list)

    def said(self) -> str:
        text = " ".join(self.stdout.getvalue().split())
        heard = "; ".join(dict.fromkeys(" ".join(str(w.message).split())[:160] for w in self.warnings))
        return "; ".join(x for x in (text, heard) if x)


@contextlib.contextmanager
def captured() -> Iterator[Capture]:
    """Capture stdout, stderr and warnings of the code run inside."""
    cap = Capture()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(cap.stdout), \
            contextlib.redirect_stderr(cap.stdout):
        warnings.simplefilter("always")
        yield cap
    cap.warnings = list(caught)


#: the SciPy modules under the solver stack: the rules' own ``linprog`` and ``lfilter``, and
#: ``scipy.stats``, which cvxpy and riskfolio-lib import on their way in (~0.3 s of their ~1.8 s)
NUMERICS: tuple[str, ...] = ("scipy.optimize", "scipy.signal", "scipy.stats")


def import_numerics() -> None:
    """Import :data:`NUMERICS` now (about 0.4 s and 50 MB here), never riskfolio-lib or cvxpy.

    The Optimise page calls it as it is built, in a kernel Voilà preheats before the visitor comes,
    so that the first press pays only for the solver libraries themselves."""
    for name in NUMERICS:
        importlib.import_module(name)


def riskfolio():
    """riskfolio-lib, imported on first use (seconds and ~300 MB), quietly."""
    with captured():
        import riskfolio as rp
    return rp


@dataclass(frozen=True)
class Solved:
    """Weights as solved, the solver that found them, what the user should know (``notes``) and what
    the solver library printed or warned on the way (``output``)."""

    weights: np.ndarray
    solver: str
    notes: tuple[str, ...] = ()
    output: str = ""


def clean(weights: object, constraints: ConstraintSet) -> tuple[np.ndarray | None, list[str], str | None]:
    """(weights with those within :data:`CLIP` outside their bounds set to the bound, notes, why they
    are unusable or None)."""
    if weights is None:
        return None, [], "returned no solution"
    w = np.asarray(weights, dtype=float).reshape(-1)
    if w.shape != (constraints.size,) or not np.isfinite(w).all():
        return None, [], "returned weights that are not finite numbers"
    notes = []
    below = (w < constraints.lower) & (w >= constraints.lower - CLIP)
    above = (w > constraints.upper) & (w <= constraints.upper + CLIP)
    if below.any() or above.any():
        off = np.concatenate([(constraints.lower - w)[below], (w - constraints.upper)[above]])
        notes.append(f"{int(below.sum() + above.sum())} weights within {CLIP:g} outside their bounds (below 0 or "
                     f"another min, above a max; the largest by {off.max():.2g}) were set to the bound; the others "
                     f"are as solved")
        w = np.where(below, constraints.lower, np.where(above, constraints.upper, w))
    broken = constraints.violations(w)
    return (None, notes, "breaks " + "; ".join(broken)) if broken else (w, notes, None)


def attempt(what: str, kind: str, constraints: ConstraintSet, run: Callable[[str], object],
            solvers: Sequence[str] | None = None, check: Callable | None = None) -> Solved:
    """Run ``run(solver)`` for each solver of ``SOLVERS[kind]`` (or ``solvers``) until one returns
    usable weights, as judged by ``check(out) -> (weights or None, notes, why not)`` (default
    :func:`clean` against ``constraints``).

    Exceptions other than toolkit errors, ``None`` results and weights that break a constraint
    count as failures; the next solver is tried. Raises :class:`OptimisationError` listing each
    solver's failure when none succeeds.
    """
    check = check or (lambda out: clean(out, constraints))
    failures: list[str] = []
    for solver in solvers or SOLVERS[kind]:
        error: str | None = None
        w: np.ndarray | None
        with captured() as cap:
            try:
                out = run(solver)
            except ToolkitError:
                raise
            except Exception as exc:  # a solver library's own error: reported, then the next solver
                out, error = None, f"raised {type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
            else:
                error = None
        w, notes, why = check(out) if error is None else (None, [], error)
        if w is not None:
            earlier = [f"{f} (then {solver} solved it)" for f in failures]
            return Solved(w, solver, tuple(earlier + notes), cap.said())
        said = cap.said()
        failures.append(f"{solver} {why}" + (f" ({said})" if said else ""))
    raise OptimisationError(f"{what} could not be solved: " + "; ".join(failures)
                            + ". The inputs passed validation; try other constraints, a longer history or "
                              "covariance='ledoit_wolf'.")
