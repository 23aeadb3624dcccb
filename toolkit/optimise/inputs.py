"""The rules' inputs, checked and reduced to plain arrays before any solver sees them.

Conventions:

- **Returns** are simple returns over ``(instrument, time)``, one universe per call. The rules use
  the dates on which *every* instrument has a return (listwise deletion, as in
  :mod:`toolkit.analytics.risk_portfolio`), so that every estimate shares one sample. A dask-backed
  array is loaded: an optimisation needs the whole ``T x N`` sample.
- **Too little history** is refused (:class:`toolkit.errors.DataError`) rather than optimised on
  noise: every rule that reads returns needs :data:`MIN_DATES` complete dates; a rule built on the
  covariance matrix needs more complete dates than instruments (otherwise the sample covariance is
  singular by construction); a CVaR at level ``c`` needs ``1 / (1 - c)`` dates in its tail. The
  message names the instrument with the shortest history.
- **Estimates**: ``mu`` is the sample mean, the covariance the sample covariance (ddof = 1, as
  ``np.cov`` and riskfolio-lib's ``hist``) or, on request, the Ledoit & Wolf (2004) shrinkage
  estimator (scikit-learn's ``LedoitWolf``, what riskfolio-lib's ``method_cov="ledoit"`` runs).
- **Singular covariance** (a duplicated instrument, a series that is a mix of others, a constant
  series): the solvers would return an arbitrary split or fail, so it is refused with a
  :class:`toolkit.errors.DataError` that names the instruments involved and offers the remedy:
  drop the duplicate, or pass ``covariance="ledoit_wolf"`` (the shrunk matrix is positive definite).
  Singular means a smallest eigenvalue at most :data:`SINGULAR` times the largest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd
import xarray as xr

from toolkit.errors import DataError, Problem, Problems, ValidationError
from toolkit.schema import INSTRUMENT, TIME

#: complete dates every rule that reads returns needs, at the least
MIN_DATES = 30
#: a covariance matrix whose smallest eigenvalue is at most this fraction of its largest is singular
SINGULAR = 1e-10
#: a correlation this close to +-1 makes two instruments duplicates of each other
DUPLICATE = 1e-9
COVARIANCES = ("sample", "ledoit_wolf")


def labels_of(data: xr.DataArray | xr.Dataset) -> tuple[str, ...]:
    """How messages name each instrument: its symbol when it has one, else its id."""
    ids = [str(x) for x in data.indexes[INSTRUMENT]]
    if "symbol" in data.coords and data.coords["symbol"].dims == (INSTRUMENT,):
        return tuple(s if isinstance(s, str) and s else i for s, i in zip(data.coords["symbol"].values, ids))
    return tuple(ids)


def _listing(names: list[str], limit: int = 5) -> str:
    more = f" (and {len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def check_frame(data: object, name: str, dims: tuple[str, ...], kind: type = xr.DataArray) -> None:
    """Refuse at once an input that is not ``kind`` over exactly ``dims`` with unique, sorted labels."""
    problems = Problems()
    if not isinstance(data, kind):
        problems.add(name, f"expected an xarray {kind.__name__} over {dims}, got {type(data).__name__}")
        problems.raise_if_any("optimisation request")
    data = cast(xr.DataArray | xr.Dataset, data)  # (``kind`` is one of the two: anything else was refused)
    extra = sorted(set(map(str, data.dims)) - set(dims))
    missing = [d for d in dims if d not in data.dims]
    if missing:
        problems.add(name, f"has no {', '.join(map(repr, missing))} dimension; its dimensions are "
                           f"{tuple(map(str, data.dims))}")
    if extra:
        problems.add(name, f"has the extra dimension(s) {extra}; optimise one universe per call "
                           f"(toolkit.optimise.optimise_many runs many)")
    problems.raise_if_any("optimisation request")
    for dim in dims:
        index = data.indexes[dim]
        if not index.is_unique:
            raise DataError(f"{name} has a duplicate {dim} {index[index.duplicated()][0]!r}; drop duplicates first.")
    if TIME in dims and not data.indexes[TIME].is_monotonic_increasing:
        raise DataError(f"{name} is not sorted by time; sort it first.")
    if INSTRUMENT in dims and data.sizes[INSTRUMENT] == 0:
        raise DataError(f"{name} holds no instrument; give at least one.")


@dataclass(frozen=True)
class Sample:
    """The complete-case returns of a universe: ``values`` (T, N) over ``instruments``."""

    values: np.ndarray
    instruments: tuple[str, ...]
    labels: tuple[str, ...]
    times: np.ndarray
    counts: np.ndarray  # returns per instrument before the incomplete dates were dropped

    @property
    def size(self) -> int:
        return self.values.shape[1]

    @property
    def dates(self) -> int:
        return self.values.shape[0]

    @property
    def mean(self) -> np.ndarray:
        return self.values.mean(axis=0)

    def frame(self) -> pd.DataFrame:
        """(time x instrument) DataFrame, the shape riskfolio-lib and skfolio read."""
        return pd.DataFrame(self.values, index=pd.DatetimeIndex(self.times), columns=list(self.instruments))

    def span(self) -> str:
        if not self.dates:
            return "no dates"
        first, last = (str(np.datetime_as_string(t, unit="D")) for t in (self.times[0], self.times[-1]))
        return f"{self.dates} dates from {first} to {last}"


def sample(returns: xr.DataArray, name: str = "returns") -> Sample:
    """Check ``returns`` (instrument, time) and keep the dates on which every instrument has a return."""
    check_frame(returns, name, (INSTRUMENT, TIME))
    r = returns.transpose(TIME, INSTRUMENT)
    values = np.asarray(r.values, dtype=float)
    if np.isinf(values).any():
        raise DataError(f"{name} holds infinite returns; a return is a finite fraction (0.01 for 1 %).")
    labels = labels_of(returns)
    empty = np.isnan(values).all(axis=0)
    if values.shape[0] and empty.any():
        raise DataError(f"{name} has no data (all NaN) for {_listing([labels[i] for i in np.flatnonzero(empty)])}; "
                        f"drop them or load their history.")
    keep = ~np.isnan(values).any(axis=1)
    return Sample(values[keep], tuple(str(x) for x in r.indexes[INSTRUMENT]), labels, r[TIME].values[keep],
                  (~np.isnan(values)).sum(axis=0))


def require_dates(s: Sample, need: int, who: str) -> None:
    """Refuse a sample with fewer than ``need`` complete dates; ``who`` says which rule needs them."""
    if s.dates >= need:
        return
    hint = ""
    if s.size > 1 and s.counts.min() < s.counts.max():
        i = int(np.argmin(s.counts))
        hint = f"; the shortest history is {s.labels[i]}'s ({int(s.counts[i])} returns)"
    raise DataError(f"returns have too little history: {s.dates} dates on which every instrument has a return"
                    f"{hint}; {who} needs at least {need}. Give a longer history or drop the shortest series.")


def covariance_need(s: Sample) -> int:
    """Complete dates a covariance-based rule needs: :data:`MIN_DATES` and more dates than instruments."""
    return max(MIN_DATES, s.size + 1)


def covariance(s: Sample, method: str = "sample") -> np.ndarray:
    """The sample covariance (ddof = 1) or the Ledoit-Wolf shrunk covariance of ``s``."""
    if method == "ledoit_wolf":
        from sklearn.covariance import LedoitWolf

        return LedoitWolf().fit(s.values).covariance_
    return np.atleast_2d(np.cov(s.values, rowvar=False, ddof=1))


def require_varying(s: Sample, who: str, var: np.ndarray | None = None) -> None:
    """Refuse instruments whose returns do not vary (a variance at most :data:`SINGULAR` times the largest)."""
    var = s.values.var(axis=0) if var is None else var
    flat = np.flatnonzero(var <= SINGULAR * max(float(var.max()), 0.0))
    if flat.size:
        raise DataError(f"returns of {_listing([s.labels[i] for i in flat])} do not vary (zero variance): {who} "
                        f"needs instruments whose returns move; drop them (a stale price?) or use Equal Weight.")


def require_regular(cov: np.ndarray, s: Sample, who: str) -> None:
    """Refuse a (numerically) singular covariance, naming constant and duplicated instruments."""
    var = np.diag(cov)
    require_varying(s, who, var)
    eig = np.linalg.eigvalsh(cov)
    if eig[0] > SINGULAR * eig[-1]:
        return
    corr = cov / np.sqrt(np.outer(var, var))
    pairs = np.argwhere(np.triu(np.abs(corr) >= 1 - DUPLICATE, k=1))
    if pairs.size:
        what = _listing([f"{s.labels[i]} and {s.labels[j]}" for i, j in pairs]) + " move together exactly " \
            "(correlation 1)"
    else:
        rank = int((eig > SINGULAR * eig[-1]).sum())
        what = (f"span only {rank} independent directions for {s.size} instruments: some returns are mixes of "
                f"others")
    raise DataError(f"The covariance of the returns is singular: {what}. {who} needs a regular covariance; "
                    f"drop the duplicates or pass covariance='ledoit_wolf' (shrinkage makes it regular).")


def benchmark_returns(benchmark: object, returns: xr.DataArray, s: Sample) -> np.ndarray:
    """The benchmark's return on each date of ``s``: from weights over instruments of ``returns``
    (checked as by :func:`toolkit.analytics.risk_portfolio.check_weights`) or a return series over time."""
    from toolkit.analytics.risk_portfolio import check_weights

    if not isinstance(benchmark, xr.DataArray):
        raise ValidationError([Problem("benchmark", "expected an xarray DataArray: weights over 'instrument' (a "
                                                    "benchmark portfolio) or returns over 'time'; got "
                                                    f"{type(benchmark).__name__}")], "optimisation request")
    if INSTRUMENT in benchmark.dims:
        check_frame(benchmark, "benchmark", (INSTRUMENT,))
        try:
            weights = check_weights(benchmark, returns).transpose(INSTRUMENT)
        except ValidationError as exc:
            raise ValidationError([Problem(p.path.replace("weights", "benchmark", 1), p.message) for p in exc.problems],
                                  "optimisation request") from None
        return s.values @ np.asarray(weights.sel({INSTRUMENT: list(s.instruments)}).values, dtype=float)
    check_frame(benchmark, "benchmark", (TIME,))
    series = benchmark.reindex({TIME: s.times})
    gaps = int(series.isnull().sum())
    if gaps:
        raise DataError(f"benchmark has no return on {gaps} of the {s.dates} dates of the returns; give benchmark "
                        f"returns on every date, or benchmark weights over instruments.")
    values = np.asarray(series.values, dtype=float)
    if not np.isfinite(values).all():
        raise DataError("benchmark holds infinite returns; a return is a finite fraction.")
    return values


def tail_need(level: float) -> int:
    """Dates a CVaR at ``level`` needs so that its tail holds at least one whole date."""
    return max(MIN_DATES, math.ceil(1 / (1 - level) - 1e-9))
