"""Historical risk of return series: horizons, VaR, CVaR, volatility, average return, commentary.

Every function takes simple returns as an ``xr.DataArray`` with a ``time`` dimension and any
other dimensions (``instrument``, ``portfolio``, ...), which it keeps: one call gives the risk of
one instrument or of 100,000 portfolios, at several confidence levels (dimension ``level``) and
horizons (dimension ``horizon``). Dask-backed inputs stay lazy; the history checks compute only
a count per series.

Conventions (the same in every function here):

- **Horizons** are non-overlapping calendar periods, ``toolkit.schema.HORIZONS``: ``day`` uses the
  returns as given, ``week`` periods end on Friday (``W-FRI``), ``month`` periods on the calendar
  ultimo (``ME``). A period's return compounds the daily returns in it,
  ``r_P = prod(1 + r_t) - 1``; a missing (NaN) day is skipped, a period in which a series has no
  return is NaN, and the first and last periods may be partial.
- **Sign**: VaR and CVaR are losses, a positive number is a loss (``0.071`` = a 7.1% loss).
- **VaR** at level ``c`` (tail ``a = 1 - c``) is minus the ``a``-quantile of the returns with
  linear interpolation between order statistics at position ``(n - 1) a`` (numpy's default
  ``"linear"`` method, Hyndman & Fan type 7), as ``empyrical.value_at_risk`` does.
- **CVaR** (expected shortfall) is the Acerbi & Tasche (2002) estimator of the empirical
  distribution, the same as riskfolio-lib's ``CVaR_Hist`` (Rockafellar & Uryasev form
  ``VaR' + 1/(aT) sum max(-x - VaR', 0)`` with ``VaR' = -x_(ceil(aT))``)::

      CVaR = -(x_(1) + ... + x_(m-1) + (aT - m + 1) x_(m)) / (aT),   m = ceil(aT)

  over the ``T`` sorted returns ``x_(1) <= x_(2) <= ...``: the mean of the worst ``aT`` returns,
  the boundary one counted fractionally. It is coherent and continuous in ``a``.
  ``empyrical.conditional_value_at_risk`` instead averages the ``floor((T - 1) a) + 1`` worst
  returns, whole; the two agree whenever ``aT`` is a whole number.
- **Volatility** is the sample standard deviation (ddof = 1) of the horizon returns, NaN
  skipped; annualised (``annualise=True``) by ``sqrt`` of 252 days, 52 weeks or 12 months a year
  (``PERIODS_PER_YEAR``), as ``empyrical.annual_volatility`` does.
- **NaN**: every statistic skips NaN; a series with no return at all, or fewer returns at a
  horizon than a statistic needs, raises :class:`toolkit.errors.DataError` naming the series.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np
import pandas as pd
import xarray as xr

from toolkit.errors import DataError, Problems
from toolkit.schema import HORIZON, HORIZONS, LEVEL, TIME

#: the seed's confidence levels
LEVELS: tuple[float, ...] = (0.9, 0.95, 0.975)
#: the seed's horizons, in order
HORIZON_NAMES: tuple[str, ...] = tuple(HORIZONS)
#: periods a year used to annualise a statistic at each horizon
PERIODS_PER_YEAR: dict[str, int] = {"day": 252, "week": 52, "month": 12}
#: how the commentary names a horizon
HORIZON_WORDS: dict[str, str] = {"day": "one day", "week": "one week", "month": "one month"}

_PERIOD = "_period"

Levels = float | Sequence[float]
Horizons = str | Sequence[str] | None
#: a labelled result: a DataArray or a Dataset, given back as the same type
Result = TypeVar("Result", xr.DataArray, xr.Dataset)


# --------------------------------------------------------------------------- shared plumbing


def along(func: Callable, *args: xr.DataArray, core: list[list[str]], out: list[list[str]],
          sizes: dict[str, int] | None = None, exclude: set[str] | None = None,
          kwargs: dict | None = None) -> tuple[xr.DataArray, ...]:
    """``xr.apply_ufunc`` of a numpy kernel over core dimensions, dask-parallelised.

    Core dimensions of a dask-backed input are rechunked into one chunk first (a kernel needs a
    whole history); every other dimension is broadcast and kept.

    Parameters
    ----------
    func : callable
        A numpy kernel taking the core dimensions last, in the order of ``core``.
    *args : xr.DataArray
        Its array inputs.
    core : list of list of str
        The core dimensions of each input.
    out : list of list of str
        The core dimensions of each output.
    sizes : dict of str to int, optional
        Sizes of output core dimensions that no input has.
    exclude : set of str, optional
        Core dimensions allowed to change size.
    kwargs : dict, optional
        Keyword arguments of ``func``.

    Returns
    -------
    tuple of xr.DataArray, (..., *out)
        One per output (a kernel with one output gives a 1-tuple): the broadcast dimensions of the
        inputs, then that output's core dimensions.
    """
    args = tuple(a.chunk({d: -1 for d in dims if d in a.dims}) if a.chunks is not None else a
                 for a, dims in zip(args, core))
    result = xr.apply_ufunc(func, *args, input_core_dims=core, output_core_dims=out, exclude_dims=exclude or set(),
                            kwargs=kwargs or {}, dask="parallelized", output_dtypes=[float] * len(out),
                            dask_gufunc_kwargs={"output_sizes": sizes or {}})
    return result if isinstance(result, tuple) else (result,)


def series_names(mask: xr.DataArray, limit: int = 5) -> str:
    """The labels of the series where a (small, computed) boolean ``mask`` is true, e.g.
    ``instrument=AMD, instrument=XOM (and 3 more)``.

    Parameters
    ----------
    mask : xr.DataArray, (...)
        Booleans, one per series.
    limit : int, default 5
        How many labels to spell out.

    Returns
    -------
    str
        The labels of the true series, ``"; "``-separated.
    """
    mask = mask.compute()
    hits = np.argwhere(np.asarray(mask.values).reshape(mask.shape))
    names = []
    for where in hits[:limit]:
        parts = [f"{d}={mask[d].values[i]}" if d in mask.coords else f"{d}[{i}]" for d, i in zip(mask.dims, where)]
        names.append(", ".join(parts) if parts else "the series")
    more = f" (and {len(hits) - limit} more)" if len(hits) > limit else ""
    return "; ".join(names) + more


def require_data(returns: xr.DataArray, name: str = "returns", dim: str | None = TIME) -> None:
    """Refuse series without a single number along ``dim`` (all NaN), naming them; with ``dim``
    None, ``returns`` are the counts per series.

    Parameters
    ----------
    returns : xr.DataArray, (dim, ...)
        The series (or, with ``dim`` None, their counts over ``(...)``).
    name : str, default "returns"
        How the error names the input.
    dim : str or None, default ``"time"``
        The dimension counted along.

    Returns
    -------
    None
        Raises ``DataError`` naming the series without data.
    """
    if dim is not None and dim not in returns.dims:
        raise DataError(f"{name} needs a {dim!r} dimension; it has {list(returns.dims)}.")
    if dim is not None and returns.sizes[dim] == 0:
        raise DataError(f"{name} is empty along {dim!r}; give at least one period of history.")
    empty = (returns if dim is None else returns.count(dim)) == 0
    if bool(empty.any()):
        raise DataError(f"{name} has no data (all NaN) for {series_names(empty)}; "
                        f"drop these series or load their history.")


def require_history(counts: xr.DataArray, need: int, name: str, what: str) -> None:
    """Refuse series with fewer than ``need`` observations (``counts``, one per series); ``what``
    says who needs them, e.g. "a tail at level 0.975 needs".

    Parameters
    ----------
    counts : xr.DataArray, (...)
        Observations per series.
    need : int
        The fewest observations allowed.
    name : str
        How the error names the input.
    what : str
        Who needs them, e.g. ``"a tail at level 0.975 needs"``.

    Returns
    -------
    None
        Raises ``DataError`` naming the short series.
    """
    short = (counts < need).compute()
    if bool(short.any()):
        found = int(counts.where(short).min().item())
        raise DataError(f"{name} has too little history: {series_names(short)} "
                        f"{'has' if int(short.sum()) == 1 else 'have'} as few as {found} returns; {what} "
                        f"at least {need}. Give a longer history or drop these series.")


def tails(level: Levels) -> tuple[np.ndarray, bool]:
    """The tail probabilities ``1 - level`` (rounded to 1e-12) and whether ``level`` was a sequence.

    Parameters
    ----------
    level : float or sequence of float, default (0.9, 0.95, 0.975)
        Confidence level(s) in (0, 1); a sequence adds a ``level`` dimension, a scalar a scalar
        ``level`` coordinate.

    Returns
    -------
    tuple of (np.ndarray, (level,), bool)
        The tail probabilities ``1 - level`` and whether ``level`` was a sequence.
    """
    many = not np.isscalar(level)
    problems = Problems()
    try:
        values = np.atleast_1d(np.asarray(level, dtype=float))
    except (TypeError, ValueError):
        problems.add("level", f"{level!r} is not a confidence level such as 0.95")
        problems.raise_if_any("risk request")
    if values.size == 0:
        problems.add("level", "give at least one confidence level, e.g. 0.95")
    for i, v in enumerate(values):
        if not 0 < v < 1:
            problems.add(f"level[{i}]" if many else "level", f"{v:g} is not a confidence level between 0 and 1")
    problems.raise_if_any("risk request")
    return np.round(1.0 - values, 12), many


def tail_need(alphas: np.ndarray) -> int:
    """Observations a tail at probability ``a`` needs: ``ceil(1 / a)``, one whole observation in the tail.

    Parameters
    ----------
    alphas : np.ndarray, (level,)
        Tail probabilities in (0, 1).

    Returns
    -------
    int
        ``ceil(1 / min(alphas))``.
    """
    return int(math.ceil(round(1.0 / float(np.min(alphas)), 9)))


def with_levels(out: Result, level: Levels, many: bool) -> Result:
    """Label the ``level`` dimension; a scalar ``level`` becomes a scalar coordinate.

    Parameters
    ----------
    out : xr.DataArray or xr.Dataset, (level, ...)
        A result with a ``level`` dimension.
    level : float or sequence of float
        The confidence level(s) asked.
    many : bool
        Whether ``level`` was a sequence (keep the dimension) or a scalar (squeeze it).

    Returns
    -------
    xr.DataArray or xr.Dataset, (level, ...) or (...)
        ``out`` with its ``level`` labelled.
    """
    out = out.assign_coords({LEVEL: np.atleast_1d(np.asarray(level, dtype=float))})
    return out if many else out.isel({LEVEL: 0})


# --------------------------------------------------------------------------- horizons


def _horizon_list(horizon: Horizons) -> tuple[list[str | None], bool]:
    many = horizon is not None and not isinstance(horizon, str)
    names: list[str | None] = [horizon] if horizon is None or isinstance(horizon, str) else list(horizon)
    problems = Problems()
    if many and not names:
        problems.add("horizon", f"give at least one of {', '.join(HORIZONS)}")
    for i, h in enumerate(names):
        if h is not None and h not in HORIZONS:
            problems.add(f"horizon[{i}]" if many else "horizon", f"{h!r} is not one of {', '.join(HORIZONS)}")
    problems.raise_if_any("risk request")
    return names, many


def period_ends(index: pd.DatetimeIndex, horizon: str) -> np.ndarray:
    """The end date of the calendar period of each timestamp: the Friday on or after it (``W-FRI``)
    or the last day of its month (``ME``), as pandas ``resample`` labels them.

    Parameters
    ----------
    index : pd.DatetimeIndex, (time,)
        The stamps.
    horizon : {"week", "month"}
        The calendar period.

    Returns
    -------
    np.ndarray of datetime64, (time,)
        The end of each stamp's period.
    """
    days = (index.tz_localize(None) if index.tz is not None else index).to_numpy().astype("datetime64[D]")
    if horizon == "week":
        weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        return (days + (4 - weekday) % 7).astype(index.dtype)
    months = days.astype("datetime64[M]")
    return ((months + 1).astype("datetime64[D]") - 1).astype(index.dtype)


def _periods_of(returns: xr.DataArray, horizon: str | None) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(first position of each calendar period, its end date) along ``time``; (None, None) for the
    returns as given (``day`` or None)."""
    if horizon in (None, "day"):
        return None, None
    index = returns.indexes.get(TIME)
    if not isinstance(index, pd.DatetimeIndex):
        raise DataError(f"returns.time must hold dates to form {horizon} returns; it has {type(index).__name__}.")
    if not index.is_monotonic_increasing or not index.is_unique:
        raise DataError("returns.time must be sorted and unique; sort and drop duplicate dates first.")
    ends = period_ends(index, horizon)
    starts = np.flatnonzero(np.r_[True, ends[1:] != ends[:-1]])
    return starts, ends[starts]


def _compound(x: np.ndarray, starts: np.ndarray | None, valid: np.ndarray | None = None,
              logs: np.ndarray | None = None) -> np.ndarray:
    """``expm1(sum log1p r)`` over the periods beginning at ``starts`` (last axis), NaN skipped; a
    period without a return is NaN. ``valid`` (``~isnan(x)``, None when all valid) and ``logs`` may
    be passed in to share them between horizons."""
    if starts is None:
        return x
    if logs is None:
        logs = np.log1p(x if valid is None else np.where(valid, x, 0.0))
    out = np.expm1(np.add.reduceat(logs, starts, axis=-1))
    return out if valid is None else np.where(np.logical_or.reduceat(valid, starts, axis=-1), out, np.nan)


def horizon_returns(returns: xr.DataArray, horizon: str) -> xr.DataArray:
    """Compound simple returns into non-overlapping calendar periods of ``horizon``.

    ``day`` returns ``returns`` unchanged; ``week`` (``W-FRI``) and ``month`` (``ME``) give
    ``r_P = prod(1 + r_t) - 1`` over the days of each period (computed as
    ``expm1(sum log1p r_t)``), labelled with the period's end date. NaN days are skipped; a
    period in which a series has no return is NaN. Every other dimension is kept; dask-backed
    input stays lazy.

    Parameters
    ----------
    returns : xr.DataArray, (time, ...)
        Daily simple returns over a datetime ``time``; other dimensions (``instrument``,
        ``portfolio``) are kept.
    horizon : {"day", "week", "month"}
        The calendar period.

    Returns
    -------
    xr.DataArray, (time, ...)
        One return per period, ``time`` labelled by the period's end.
    """
    names, many = _horizon_list(horizon)
    if many or names[0] is None:
        raise DataError(f"horizon must be one of {', '.join(HORIZONS)}, not {horizon!r}.")
    starts, ends = _periods_of(returns, horizon)
    if starts is None:
        return returns

    def kernel(x: np.ndarray) -> np.ndarray:
        valid = ~np.isnan(x)
        return _compound(x, starts, None if valid.all() else valid)

    (out,) = along(kernel, returns, core=[[TIME]], out=[[_PERIOD]], sizes={_PERIOD: len(starts)}, exclude={TIME})
    return out.rename({_PERIOD: TIME}).assign_coords({TIME: ends}).transpose(*returns.dims)


# --------------------------------------------------------------------------- VaR, CVaR, volatility


def _tails(x: np.ndarray, alphas: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """VaR (linear interpolation) and CVaR (Acerbi-Tasche) over the last axis at each tail ``alphas``
    (a new last axis); ``count`` is the number of non-NaN values of each series."""
    # only the worst ceil(a T) + 1 returns matter: partition them out, then sort just those (NaN go last)
    head = min(x.shape[-1], int(math.ceil(float(np.max(alphas)) * x.shape[-1])) + 2)
    s = np.partition(x, head - 1, axis=-1)[..., :head] if head < x.shape[-1] else x.copy()
    s.sort(axis=-1)
    n = count[..., None].astype(float)
    last = np.maximum(n - 1, 0).astype(np.int64)
    pos = np.maximum(n - 1, 0) * alphas
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, last)
    x_lo, x_hi = np.take_along_axis(s, lo, -1), np.take_along_axis(s, hi, -1)
    var = -(x_lo + (pos - lo) * (x_hi - x_lo))
    an = alphas * n
    edge = np.clip(np.ceil(an - 1e-9).astype(np.int64) - 1, 0, last)
    before = np.cumsum(np.where(np.isnan(s), 0.0, s), axis=-1)
    before = np.where(edge > 0, np.take_along_axis(before, np.maximum(edge - 1, 0), -1), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        cvar = -(before + (an - edge) * np.take_along_axis(s, edge, -1)) / an
    return np.where(n == 0, np.nan, var), np.where(n == 0, np.nan, cvar)


def _moments(x: np.ndarray, valid: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, standard deviation (ddof = 1) and count over the last axis, NaN skipped."""
    count = np.full(x.shape[:-1], x.shape[-1]) if valid is None else valid.sum(-1)
    filled = x if valid is None else np.where(valid, x, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = filled.sum(-1) / count
        dev = filled - mean[..., None]
        if valid is not None:
            dev = np.where(valid, dev, 0.0)
        std = np.sqrt(np.einsum("...t,...t->...", dev, dev) / (count - 1))
    return mean, np.where(count > 1, std, np.nan), count


def _horizon_statistics(x: np.ndarray, alphas: np.ndarray, cuts: list) -> tuple[np.ndarray, ...]:
    """Per horizon (``cuts``: the period starts, or None for the returns as given), over the last
    axis: VaR, CVaR (..., horizon, level), mean, std, count (..., horizon). One ``log1p`` serves
    every horizon."""
    missing = np.isnan(x)
    valid = ~missing if missing.any() else None
    logs = None if all(c is None for c in cuts) else np.log1p(x if valid is None else np.where(valid, x, 0.0))
    parts = []
    for starts in cuts:  # at most the three horizons, each vectorised over every series
        period = _compound(x, starts, valid, logs)
        ok = valid if starts is None or valid is None else ~np.isnan(period)
        mean, std, count = _moments(period, ok)
        var, cvar = _tails(period, alphas, count) if len(alphas) else (np.empty(count.shape + (0,)),) * 2
        parts.append((var, cvar, mean, std, count.astype(float)))
    return tuple(np.stack(p, axis=-2 if p[0].ndim > parts[0][4].ndim else -1) for p in zip(*parts))


def _period_counts(x: np.ndarray, cuts: list) -> np.ndarray:
    valid = ~np.isnan(x)
    return np.stack([valid.sum(-1) if c is None else np.logical_or.reduceat(valid, c, axis=-1).sum(-1)
                     for c in cuts], axis=-1).astype(float)


def _statistics(returns: xr.DataArray, alphas: np.ndarray, horizon: Horizons, need: int, what: str) -> xr.Dataset:
    """``var``, ``cvar`` (over ``level``), ``volatility``, ``mean`` and ``count`` at each horizon in
    one kernel, with the data and history checks: on the counts the kernel returns for eager
    input, on counts computed first for dask-backed input (so that the result stays lazy)."""
    names, many = _horizon_list(horizon)
    lazy = returns.chunks is not None
    if lazy or TIME not in returns.dims or returns.sizes[TIME] == 0:
        require_data(returns)
    cuts = [_periods_of(returns, name)[0] for name in names]
    if lazy:
        (counts,) = along(_period_counts, returns, core=[[TIME]], out=[[HORIZON]], sizes={HORIZON: len(names)},
                       kwargs={"cuts": cuts})
        require_history(counts.assign_coords({HORIZON: [str(n) for n in names]}), need, "returns", what)
    var, cvar, mean, std, count = along(
        _horizon_statistics, returns, core=[[TIME]], out=[[HORIZON, LEVEL], [HORIZON, LEVEL], [HORIZON], [HORIZON],
                                                          [HORIZON]],
        sizes={HORIZON: len(names), LEVEL: len(alphas)}, kwargs={"alphas": alphas, "cuts": cuts})
    out = xr.Dataset({"var": var, "cvar": cvar, "volatility": std, "mean": mean, "count": count})
    out = out.assign_coords({HORIZON: [str(n) for n in names]})
    if not lazy:  # an all-NaN series has no return at any horizon
        require_data(out["count"].isel({HORIZON: 0}), dim=None)
        require_history(out["count"], need, "returns", what)
    out["count"] = out["count"].astype(int)
    out = out if many else out.isel({HORIZON: 0}, drop=names[0] is None)
    return out.transpose(*(d for d in returns.dims if d != TIME), ..., *(d for d in (LEVEL, HORIZON) if d in out.dims))


def _annualised(vol: xr.DataArray, annualise: bool, periods_per_year: float | None) -> xr.DataArray:
    if not annualise:
        return vol
    if periods_per_year is not None:
        return vol * math.sqrt(periods_per_year)
    per_year = [PERIODS_PER_YEAR[str(h)] for h in np.atleast_1d(vol[HORIZON].values)] if HORIZON in vol.coords else [
        PERIODS_PER_YEAR["day"]]
    factor = np.sqrt(np.array(per_year, dtype=float))
    return vol * (xr.DataArray(factor, dims=HORIZON) if HORIZON in vol.dims else factor[0])


def risk_summary(returns: xr.DataArray, level: Levels = LEVELS, horizon: Horizons = HORIZON_NAMES, *,
                 annualise: bool = False) -> xr.Dataset:
    """``var``, ``cvar``, ``volatility``, ``mean`` and ``count`` of every series at every level and horizon.

    ``level`` is a confidence level (0.95) or a sequence of them (dimension ``level``); ``horizon``
    a name of ``HORIZONS``, a sequence of them (dimension ``horizon``), or None to use the returns
    as given (treated as daily when annualising). One kernel for all horizons; the conventions of
    the module docstring. ``volatility`` and ``mean`` (per period) have no ``level``;
    ``annualise`` applies to ``volatility`` only. Each series needs ``ceil(1 / (1 - level))``
    returns at each horizon (40 for 0.975: one whole observation in the tail), and 2 at least.

    Parameters
    ----------
    returns : xr.DataArray, (time, ...)
        Daily simple returns over a datetime ``time``; other dimensions (``instrument``,
        ``portfolio``) are kept.
    level : float or sequence of float, default (0.9, 0.95, 0.975)
        Confidence level(s) in (0, 1); a sequence adds a ``level`` dimension, a scalar a scalar
        ``level`` coordinate.
    horizon : str, sequence of str or None, default ("day", "week", "month")
        Horizon name(s) of ``toolkit.schema.HORIZONS``; a sequence adds a ``horizon`` dimension; None
        uses the returns as given.
    annualise : bool, default False
        Annualise ``volatility`` by ``sqrt`` of 252, 52 or 12 periods a year.

    Returns
    -------
    xr.Dataset, (level, horizon, ...)
        ``var``, ``cvar`` over ``(level, horizon, ...)``; ``volatility``, ``mean``, ``count`` over
        ``(horizon, ...)``; ``...`` are the dimensions of ``returns`` other than ``time``.
    """
    alphas, many = tails(level)
    need = max(2, tail_need(alphas))
    out = _statistics(returns, alphas, horizon, need, f"a tail at level {1 - alphas.min():g} needs")
    out["volatility"] = _annualised(out["volatility"], annualise, None)
    return with_levels(out, level, many)


def tail_risk(returns: xr.DataArray, level: Levels = LEVELS, horizon: Horizons = HORIZON_NAMES) -> xr.Dataset:
    """Historical VaR and CVaR (``var``, ``cvar``: positive = loss) at each level and horizon.

    Dimensions, estimators and history checks as :func:`risk_summary` (one observation in the tail).

    Parameters
    ----------
    returns : xr.DataArray, (time, ...)
        Daily simple returns over a datetime ``time``; other dimensions (``instrument``,
        ``portfolio``) are kept.
    level : float or sequence of float, default (0.9, 0.95, 0.975)
        Confidence level(s) in (0, 1); a sequence adds a ``level`` dimension, a scalar a scalar
        ``level`` coordinate.
    horizon : str, sequence of str or None, default ("day", "week", "month")
        Horizon name(s) of ``toolkit.schema.HORIZONS``; a sequence adds a ``horizon`` dimension; None
        uses the returns as given.

    Returns
    -------
    xr.Dataset, (level, horizon, ...)
        ``var`` and ``cvar``, positive = loss.
    """
    alphas, many = tails(level)
    out = _statistics(returns, alphas, horizon, tail_need(alphas), f"a tail at level {1 - alphas.min():g} needs")
    return with_levels(out[["var", "cvar"]], level, many)


def value_at_risk(returns: xr.DataArray, level: Levels = LEVELS, horizon: Horizons = HORIZON_NAMES) -> xr.DataArray:
    """Historical VaR, ``-quantile(r, 1 - level)`` with linear interpolation (as empyrical), a loss > 0.

    Dimensions and checks as :func:`tail_risk`.

    Parameters
    ----------
    returns : xr.DataArray, (time, ...)
        Daily simple returns over a datetime ``time``; other dimensions (``instrument``,
        ``portfolio``) are kept.
    level : float or sequence of float, default (0.9, 0.95, 0.975)
        Confidence level(s) in (0, 1); a sequence adds a ``level`` dimension, a scalar a scalar
        ``level`` coordinate.
    horizon : str, sequence of str or None, default ("day", "week", "month")
        Horizon name(s) of ``toolkit.schema.HORIZONS``; a sequence adds a ``horizon`` dimension; None
        uses the returns as given.

    Returns
    -------
    xr.DataArray, (level, horizon, ...)
        The VaR (positive = loss): minus the ``1 - level`` quantile, linear interpolation between
        order statistics (numpy ``"linear"``, Hyndman & Fan type 7).
    """
    return tail_risk(returns, level, horizon)["var"]


def conditional_value_at_risk(returns: xr.DataArray, level: Levels = LEVELS,
                              horizon: Horizons = HORIZON_NAMES) -> xr.DataArray:
    """Historical CVaR (expected shortfall), Acerbi-Tasche estimator (as riskfolio's ``CVaR_Hist``), a loss > 0.

    Dimensions and checks as :func:`tail_risk`.

    Parameters
    ----------
    returns : xr.DataArray, (time, ...)
        Daily simple returns over a datetime ``time``; other dimensions (``instrument``,
        ``portfolio``) are kept.
    level : float or sequence of float, default (0.9, 0.95, 0.975)
        Confidence level(s) in (0, 1); a sequence adds a ``level`` dimension, a scalar a scalar
        ``level`` coordinate.
    horizon : str, sequence of str or None, default ("day", "week", "month")
        Horizon name(s) of ``toolkit.schema.HORIZONS``; a sequence adds a ``horizon`` dimension; None
        uses the returns as given.

    Returns
    -------
    xr.DataArray, (level, horizon, ...)
        The CVaR (positive = loss), Acerbi-Tasche: the mean of the worst ``aT`` returns, the boundary
        one counted fractionally.
    """
    return tail_risk(returns, level, horizon)["cvar"]


def volatility(returns: xr.DataArray, horizon: Horizons = HORIZON_NAMES, *, annualise: bool = False,
               periods_per_year: float | None = None) -> xr.DataArray:
    """Sample standard deviation (ddof = 1, NaN skipped) of the horizon returns.

    ``annualise`` multiplies by ``sqrt(PERIODS_PER_YEAR[horizon])`` (252, 52, 12), or by
    ``sqrt(periods_per_year)`` when given (needed when ``horizon`` is None and the returns are not
    daily). Needs 2 returns a series and horizon.

    Parameters
    ----------
    returns : xr.DataArray, (time, ...)
        Daily simple returns over a datetime ``time``; other dimensions (``instrument``,
        ``portfolio``) are kept.
    horizon : str, sequence of str or None, default ("day", "week", "month")
        Horizon name(s) of ``toolkit.schema.HORIZONS``; a sequence adds a ``horizon`` dimension; None
        uses the returns as given.
    annualise : bool, default False
        Multiply by ``sqrt`` of the periods a year.
    periods_per_year : float, optional
        Periods a year when annualising (default: 252, 52, 12 by horizon).

    Returns
    -------
    xr.DataArray, (horizon, ...)
        The sample standard deviation (ddof = 1) per series and horizon.
    """
    out = _statistics(returns, np.empty(0), horizon, 2, "a volatility needs")["volatility"]
    return _annualised(out, annualise, periods_per_year)


def average_return(returns: xr.DataArray, horizon: Horizons = HORIZON_NAMES) -> xr.DataArray:
    """Arithmetic mean of the horizon returns (NaN skipped), per period, not annualised.

    Parameters
    ----------
    returns : xr.DataArray, (time, ...)
        Daily simple returns over a datetime ``time``; other dimensions (``instrument``,
        ``portfolio``) are kept.
    horizon : str, sequence of str or None, default ("day", "week", "month")
        Horizon name(s) of ``toolkit.schema.HORIZONS``; a sequence adds a ``horizon`` dimension; None
        uses the returns as given.

    Returns
    -------
    xr.DataArray, (horizon, ...)
        The arithmetic mean per period, per series and horizon.
    """
    return _statistics(returns, np.empty(0), horizon, 1, "a mean needs")["mean"]


# --------------------------------------------------------------------------- commentary


def _percent(x: float, places: int | None = None) -> str:
    return f"{100 * x:.{places}f}%" if places is not None else f"{round(100 * x, 1):g}%"


def _var_sentence(var: float, level: float, horizon: str, subject: str) -> str:
    if np.isnan(var):
        return ""
    move = f"lose more than {_percent(var, 1)}" if var >= 0 else f"gain less than {_percent(-var, 1)}"
    return f"There is a {_percent(1 - level)} chance that the {subject} will {move} over {HORIZON_WORDS[horizon]}"


def _cvar_sentence(cvar: float, level: float, horizon: str, subject: str) -> str:
    if np.isnan(cvar):
        return ""
    move = f"loses {_percent(cvar, 1)}" if cvar >= 0 else f"gains {_percent(-cvar, 1)}"
    return (f"In the worst {_percent(1 - level)} of cases the {subject} {move} on average over "
            f"{HORIZON_WORDS[horizon]}")


def _sentences(values: xr.DataArray, subject: str, sentence: Callable) -> xr.DataArray:
    for coord in (LEVEL, HORIZON):
        if coord not in values.coords:
            raise DataError(f"The commentary needs a {coord!r} coordinate; compute the risk with a level and horizon.")
    return xr.apply_ufunc(sentence, values, values[LEVEL], values[HORIZON], kwargs={"subject": subject},
                          vectorize=True, dask="parallelized", output_dtypes=[object])


def var_commentary(var: xr.DataArray, subject: str = "instrument") -> xr.DataArray:
    """The seed's sentence for each VaR, e.g. "There is a 2.5% chance that the instrument will lose
    more than 7.1% over one week" (level 0.975, horizon ``week``, VaR 0.071: the loss to one
    decimal, the chance with trailing zeros dropped). A negative VaR reads "gain less than". ``var`` needs
    ``level`` and ``horizon`` coordinates (as :func:`value_at_risk` gives); NaN gives "".

    Parameters
    ----------
    var : xr.DataArray, (level, horizon, ...)
        VaR values with ``level`` and ``horizon`` coordinates (dimensions or scalars).
    subject : str, default "instrument"
        What the sentence speaks of (``"portfolio"``).

    Returns
    -------
    xr.DataArray of str, (level, horizon, ...)
        One sentence per value, labelled like the input.
    """
    return _sentences(var, subject, _var_sentence)


def cvar_commentary(cvar: xr.DataArray, subject: str = "instrument") -> xr.DataArray:
    """A sentence for each CVaR, e.g. "In the worst 2.5% of cases the instrument loses 9.3% on
    average over one week"; coordinates and rounding as :func:`var_commentary`.

    Parameters
    ----------
    cvar : xr.DataArray, (level, horizon, ...)
        CVaR values with ``level`` and ``horizon`` coordinates (dimensions or scalars).
    subject : str, default "instrument"
        What the sentence speaks of (``"portfolio"``).

    Returns
    -------
    xr.DataArray of str, (level, horizon, ...)
        One sentence per value, labelled like the input.
    """
    return _sentences(cvar, subject, _cvar_sentence)
