"""Constraint sets: parse, validate and prove feasible before any solver runs.

Every rule is **long only and fully invested**: ``w_i >= 0`` and ``sum_i w_i = 1``. A constraint
set adds, as a dict (JSON-friendly; every field optional)::

    {"min_weight": 0.0, "max_weight": 0.25,                          # every instrument
     "instruments":   [{"instrument": "AAPL", "min": 0.02, "max": 0.10}],
     "sectors":       [{"code": "45", "min": 0.10, "max": 0.40}],
     "geographies":   [{"code": "NORTH_AMERICA", "max": 0.90}],
     "currencies":    [{"code": "USD", "max": 1.0}],
     "asset_classes": [{"code": "EQUITY", "max": 1.0}]}

- Weights are fractions in [0, 1]. An ``instruments`` entry names an instrument by its id (the
  ``instrument`` coordinate), symbol or ISIN and overrides ``min_weight`` / ``max_weight`` for it.
- Groups come from the constraint universes (``data/universes.json``) and the instrument metadata
  coordinates: ``sector`` (a group's ``code`` is the GICS code or name, "45" or "Information
  Technology"), ``country`` mapped to its geography, ``currency`` (ISO 4217) and ``asset_class``
  ("EQUITY" or "Equity"). An instrument without the metadata (an index, an ETF without a sector)
  belongs to no group of that kind.

:func:`parse_constraints` refuses, with a :class:`toolkit.errors.ValidationError` whose problems
name the constraint (``constraints.sectors[2].max``): malformed fields, unknown groups and
instruments, ``min > max``, bounds that cannot sum to 1, a group minimum its instruments cannot
reach or a maximum they must exceed, and any other infeasible combination (found by a linear
program with HiGHS and narrowed to an irreducible set of constraints by a deletion filter,
Chinneck & Dravnieks 1991).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import xarray as xr

from toolkit.errors import Problems
from toolkit.market.universes import geography_of, universes
from toolkit.schema import INSTRUMENT

WHAT = "constraint set"
#: how far a solution may stray from a bound or a budget and still count as satisfying it
TOLERANCE = 1e-7
#: the group kinds: payload key -> (instrument coordinate, singular noun)
KINDS: dict[str, tuple[str, str]] = {"sectors": ("sector", "sector"), "geographies": ("country", "geography"),
                                     "currencies": ("currency", "currency"),
                                     "asset_classes": ("asset_class", "asset class")}
FIELDS = ("min_weight", "max_weight", "instruments", *KINDS)
ENTRY_FIELDS = {"instruments": ("instrument", "min", "max"), **{k: ("code", "min", "max") for k in KINDS}}


@dataclass(frozen=True)
class Row:
    """One linear constraint ``lower <= a'w <= upper`` and the path of the constraint it came from."""

    path: str
    members: np.ndarray  # 0/1 per instrument
    lower: float
    upper: float


@dataclass(frozen=True)
class ConstraintSet:
    """Validated bounds over ``instruments``: ``lower <= w <= upper``, group ``rows``, ``sum w = 1``, ``w >= 0``.

    ``lower_paths`` / ``upper_paths`` name, per instrument, the field each bound came from.
    """

    instruments: tuple[str, ...]
    lower: np.ndarray
    upper: np.ndarray
    rows: tuple[Row, ...] = ()
    lower_paths: tuple[str, ...] = ()
    upper_paths: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        return len(self.instruments)

    @property
    def plain(self) -> bool:
        """True when only long-only and fully-invested apply (no bound above 0 or below 1, no group)."""
        return not self.rows and not self.lower.any() and bool((self.upper >= 1).all())

    def group_inequalities(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """``A w <= b`` for the group limits that bind (a minimum above 0, a maximum below 1)."""
        a: list[np.ndarray] = []
        b: list[float] = []
        paths: list[str] = []
        for row in self.rows:
            if row.lower > 0:
                a.append(-row.members)
                b.append(-row.lower)
                paths.append(f"{row.path}.min")
            if row.upper < 1:
                a.append(row.members)
                b.append(row.upper)
                paths.append(f"{row.path}.max")
        return np.array(a, dtype=float).reshape(len(b), self.size), np.array(b, dtype=float), paths

    def inequalities(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """``A w <= b`` for every bound and group limit that binds more than ``0 <= w <= 1``
        (riskfolio-lib's ``ainequality`` / ``binequality``), with the path of each row."""
        eye = np.eye(self.size)
        low, high = np.flatnonzero(self.lower > 0), np.flatnonzero(self.upper < 1)
        ga, gb, gpaths = self.group_inequalities()
        a = np.vstack([-eye[low], eye[high], ga])
        b = np.concatenate([-self.lower[low], self.upper[high], gb])
        paths = [self.lower_paths[i] for i in low] + [self.upper_paths[i] for i in high] + gpaths
        return a, b, paths

    def violations(self, weights: np.ndarray, tolerance: float = TOLERANCE) -> list[str]:
        """The constraints that ``weights`` breaks by more than ``tolerance``, each as "path (by how much)"."""
        out = []
        total = float(np.sum(weights))
        if abs(total - 1) > tolerance:
            out.append(f"fully invested (the weights sum to {total:.10g})")
        if (weights < -tolerance).any():
            out.append(f"long only (a weight of {weights.min():.3g})")
        a, b, paths = self.inequalities()
        excess = a @ weights - b
        seen = set()
        for k in np.flatnonzero(excess > tolerance):
            if paths[k] not in seen:
                seen.add(paths[k])
                out.append(f"{paths[k]} (exceeded by {excess[k]:.3g})")
        return out

    def cvxpy(self, w) -> list:
        """The constraints on a cvxpy variable ``w`` of shape (N,)."""
        import cvxpy as cp

        out = [w >= self.lower, w <= self.upper, cp.sum(w) == 1]
        a, b, _ = self.group_inequalities()
        return out + ([a @ w <= b] if len(b) else [])

    def linprog(self) -> dict:
        """Keyword arguments of ``scipy.optimize.linprog`` for these constraints on ``w`` alone."""
        a, b, _ = self.group_inequalities()
        return {"A_ub": a if len(b) else None, "b_ub": b if len(b) else None, "A_eq": np.ones((1, self.size)),
                "b_eq": [1.0], "bounds": list(zip(self.lower, self.upper))}


def unconstrained(instruments: Sequence[str]) -> ConstraintSet:
    """Long only and fully invested, nothing else."""
    n = len(instruments)
    return ConstraintSet(tuple(instruments), np.zeros(n), np.ones(n), (), ("constraints.min_weight",) * n,
                         ("constraints.max_weight",) * n)


# --------------------------------------------------------------------------- parsing


def _fraction(value: object, path: str, problems: Problems) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        problems.add(path, f"expected a weight between 0 and 1 (a fraction: 0.25 for 25 %), got {value!r}")
        return None
    if not 0 <= value <= 1:
        problems.add(path, f"{value!r} is outside [0, 1]; weights are fractions (0.25 for 25 %)")
        return None
    return float(value)


def _unknown(key: str, allowed: Sequence[str], path: str, problems: Problems) -> None:
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"the fields are {', '.join(allowed)}"
    problems.add(path, f"unknown field; {hint}")


def _coord(meta: xr.DataArray | xr.Dataset, name: str) -> np.ndarray | None:
    if name in meta.coords and meta.coords[name].dims == (INSTRUMENT,):
        return meta.coords[name].values
    return None


def _instrument_lookup(meta: xr.DataArray | xr.Dataset) -> dict[str, int]:
    """id -> position, then symbol and ISIN -> position where they are unique."""
    ids = [str(x) for x in meta.indexes[INSTRUMENT]]
    lookup = {name: i for i, name in enumerate(ids)}
    for coord in ("symbol", "isin"):
        values = _coord(meta, coord)
        if values is None:
            continue
        seen: dict[str, int] = {}
        for i, v in enumerate(values):
            if isinstance(v, str) and v:
                seen[v] = -1 if v in seen else i
        lookup.update({k: i for k, i in seen.items() if i >= 0 and k not in lookup})
    return lookup


def _group_codes(kind: str) -> dict[str, str]:
    """Accepted spellings (code, and name in upper case) -> code for one universe."""
    u = universes()
    if kind == "currencies":
        return {c: c for c in u["currencies"]}
    items = u[kind]
    return {**{g["code"]: g["code"] for g in items}, **{g["name"].upper(): g["code"] for g in items}}


def _membership(kind: str, meta: xr.DataArray | xr.Dataset) -> np.ndarray | None:
    """The group code of each instrument for ``kind`` (None where it has none), or None if the
    metadata coordinate is missing."""
    values = _coord(meta, KINDS[kind][0])
    if values is None:
        return None
    codes = _group_codes(kind)
    out: list[str | None] = []
    for v in values:
        if not isinstance(v, str) or not v:
            out.append(None)
        elif kind == "geographies":
            out.append(geography_of(v))
        else:
            out.append(codes.get(v) or codes.get(v.upper()))
    return np.array(out, dtype=object)


def _entries(payload: Mapping, key: str, problems: Problems) -> list[tuple[str, Mapping]]:
    value = payload.get(key, [])
    path = f"constraints.{key}"
    if not isinstance(value, (list, tuple)):
        problems.add(path, f"expected a list of {{{', '.join(ENTRY_FIELDS[key])}}} objects, got {type(value).__name__}")
        return []
    out = []
    for k, entry in enumerate(value):
        where = f"{path}[{k}]"
        if not isinstance(entry, Mapping):
            problems.add(where, f"expected an object with {', '.join(ENTRY_FIELDS[key])}, got {type(entry).__name__}")
            continue
        for name in entry:
            if name not in ENTRY_FIELDS[key]:
                _unknown(str(name), ENTRY_FIELDS[key], f"{where}.{name}", problems)
        if "min" not in entry and "max" not in entry:
            problems.add(where, "gives neither min nor max")
        out.append((where, entry))
    return out


def _limits(entry: Mapping, where: str, problems: Problems) -> tuple[float | None, float | None]:
    low = _fraction(entry["min"], f"{where}.min", problems) if "min" in entry else 0.0
    high = _fraction(entry["max"], f"{where}.max", problems) if "max" in entry else 1.0
    if low is not None and high is not None and low > high:
        problems.add(f"{where}.min", f"min {low:g} is above max {high:g}")
    return low, high


def _instrument_bounds(payload: Mapping, meta, problems: Problems) -> tuple[np.ndarray, np.ndarray, list, list]:
    n = meta.sizes[INSTRUMENT]
    low = _fraction(payload.get("min_weight", 0.0), "constraints.min_weight", problems)
    high = _fraction(payload.get("max_weight", 1.0), "constraints.max_weight", problems)
    lower, upper = np.full(n, 0.0 if low is None else low), np.full(n, 1.0 if high is None else high)
    lower_paths, upper_paths = ["constraints.min_weight"] * n, ["constraints.max_weight"] * n
    if low is not None and high is not None and low > high:
        problems.add("constraints.min_weight", f"min_weight {low:g} is above max_weight {high:g}")
    lookup, taken = _instrument_lookup(meta), cast(dict[int, str], {})
    for where, entry in _entries(payload, "instruments", problems):
        name = entry.get("instrument")
        if not isinstance(name, str) or name not in lookup:
            problems.add(f"{where}.instrument", f"{name!r} is not one of the {n} instruments being optimised "
                                                f"(give its id, symbol or ISIN)")
            continue
        i = lookup[name]
        if i in taken:
            problems.add(f"{where}.instrument", f"{name!r} already has bounds at {taken[i]}")
            continue
        taken[i] = where
        a, b = _limits(entry, where, problems)
        if "min" in entry and a is not None:
            lower[i], lower_paths[i] = a, f"{where}.min"
        if "max" in entry and b is not None:
            upper[i], upper_paths[i] = b, f"{where}.max"
        if lower[i] > upper[i] and not ("min" in entry and "max" in entry):
            problems.add(lower_paths[i] if "min" in entry else upper_paths[i],
                         f"min {lower[i]:g} is above max {upper[i]:g} once min_weight / max_weight apply")
    return lower, upper, lower_paths, upper_paths


def _group_rows(payload: Mapping, meta, problems: Problems) -> list[Row]:
    rows = []
    for kind, (coord, noun) in KINDS.items():
        entries = _entries(payload, kind, problems)
        if not entries:
            continue
        membership = _membership(kind, meta)
        if membership is None:
            problems.add(f"constraints.{kind}", f"the instruments carry no {coord!r} coordinate; load them from "
                                                f"the workspace or assign_coords({coord}=...) along 'instrument'")
            continue
        codes, seen = _group_codes(kind), cast(dict[str, str], {})
        for where, entry in entries:
            raw = entry.get("code")
            code = codes.get(raw) or codes.get(raw.upper()) if isinstance(raw, str) else None
            if code is None:
                close = difflib.get_close_matches(str(raw), list(codes), n=3, cutoff=0.5)
                hint = f"did you mean {', '.join(map(repr, close))}?" if close else \
                    f"see the {kind} universe (Workspace.portfolios.universes or data/universes.json)"
                problems.add(f"{where}.code", f"{raw!r} is not a {noun}; {hint}")
                continue
            if code in seen:
                problems.add(f"{where}.code", f"{noun} {code} already constrained at {seen[code]}")
                continue
            seen[code] = where
            low, high = _limits(entry, where, problems)
            if low is not None and high is not None:
                rows.append(Row(where, (membership == code).astype(float), low, high))
    return rows


def parse_constraints(payload: Mapping | ConstraintSet | None, meta: xr.DataArray | xr.Dataset) -> ConstraintSet:
    """Validate ``payload`` against the instruments of ``meta`` (returns or OHLC data: the
    ``instrument`` index and its metadata coordinates) and prove the set feasible.

    ``None`` or ``{}`` is long only and fully invested. A :class:`ConstraintSet` is re-checked
    against ``meta``'s instruments. Raises :class:`toolkit.errors.ValidationError` naming every
    offending constraint.
    """
    ids = tuple(str(x) for x in meta.indexes[INSTRUMENT])
    if isinstance(payload, ConstraintSet):
        problems = Problems()
        if payload.instruments != ids:
            problems.add("constraints", "was built for other instruments; parse it again for these")
        problems.raise_if_any(WHAT)
        return payload
    if payload is None:
        payload = {}
    problems = Problems()
    if not isinstance(payload, Mapping):
        problems.add("constraints", f"expected an object of constraints (min_weight, max_weight, instruments, "
                                    f"sectors, ...), got {type(payload).__name__}")
        problems.raise_if_any(WHAT)
    for key in payload:
        if key not in FIELDS:
            _unknown(str(key), FIELDS, f"constraints.{key}", problems)
    lower, upper, lower_paths, upper_paths = _instrument_bounds(payload, meta, problems)
    rows = _group_rows(payload, meta, problems)
    problems.raise_if_any(WHAT)
    out = ConstraintSet(ids, lower, upper, tuple(rows), tuple(lower_paths), tuple(upper_paths))
    check_feasible(out)
    return out


# --------------------------------------------------------------------------- feasibility


def _named(paths: Sequence[str], keep: np.ndarray, default: str) -> str:
    """The one field the binding bounds come from; "constraints.instruments" if they are all
    instrument entries; else ``default`` (min_weight or max_weight)."""
    names = sorted({p for p, k in zip(paths, keep) if k})
    if len(names) == 1:
        return names[0]
    return "constraints.instruments" if names and all(n.startswith("constraints.instruments[") for n in names) \
        else default


def _budget_problems(c: ConstraintSet, problems: Problems) -> None:
    """Bounds that cannot sum to 1, and groups whose limits their members cannot meet."""
    if c.lower.sum() > 1 + TOLERANCE:
        problems.add(_named(c.lower_paths, c.lower > 0, "constraints.min_weight"),
                     f"the minimum weights sum to {c.lower.sum():.6g}; a fully invested portfolio can't exceed 1")
    if c.upper.sum() < 1 - TOLERANCE:
        problems.add(_named(c.upper_paths, c.upper < 1, "constraints.max_weight"),
                     f"the maximum weights sum to {c.upper.sum():.6g}, below 1: a fully invested portfolio is "
                     f"impossible; raise them or add instruments")
    for row in c.rows:
        reach, need = float(row.members @ c.upper), float(row.members @ c.lower)
        if row.lower > reach + TOLERANCE:
            why = f"the group holds {int(row.members.sum())} instruments whose maximum weights add up to " \
                  f"{reach:.6g}" if row.members.any() else "no instrument being optimised is in this group"
            problems.add(f"{row.path}.min", f"min {row.lower:g} can't be reached: {why}")
        if row.upper < need - TOLERANCE:
            problems.add(f"{row.path}.max", f"max {row.upper:g} is below the {need:.6g} its instruments' minimum "
                                            f"weights already add up to")
    for kind in KINDS:
        rows = [r for r in c.rows if r.path.startswith(f"constraints.{kind}[")]
        if sum(r.lower for r in rows) > 1 + TOLERANCE:
            problems.add(f"constraints.{kind}", f"the group minimums sum to {sum(r.lower for r in rows):.6g}, above 1")


def _solvable(c: ConstraintSet, skip: frozenset[str] = frozenset()) -> bool:
    """Whether some weights meet every constraint of ``c`` but those whose path is in ``skip`` (HiGHS LP)."""
    from scipy.optimize import linprog

    a, b, paths = c.inequalities()
    keep = [k for k, p in enumerate(paths) if p not in skip]
    res = linprog(np.zeros(c.size), A_ub=a[keep] if keep else None, b_ub=b[keep] if keep else None,
                  A_eq=np.ones((1, c.size)), b_eq=[1.0], bounds=(0, 1), method="highs")
    return res.status == 0


def _irreducible(c: ConstraintSet) -> list[str]:
    """A deletion filter: drop each constraint in turn and keep it dropped while the rest stay
    infeasible; the constraints left cannot hold together, and each of them is needed for the conflict."""
    paths = list(dict.fromkeys(c.inequalities()[2]))
    dropped: set[str] = set()
    for path in paths:
        if not _solvable(c, frozenset(dropped | {path})):
            dropped.add(path)
    return [p for p in paths if p not in dropped]


def check_feasible(c: ConstraintSet) -> None:
    """Raise a :class:`ValidationError` naming the constraints if no weights can satisfy ``c``."""
    problems = Problems()
    _budget_problems(c, problems)
    problems.raise_if_any(WHAT)
    if c.plain or _solvable(c):
        return
    culprits = _irreducible(c)
    for path in culprits:
        others = [p for p in culprits if p != path]
        problems.add(path, "can't hold together with " + (", ".join(others) if others else "full investment")
                     + "; relax one of them")
    problems.raise_if_any(WHAT)
