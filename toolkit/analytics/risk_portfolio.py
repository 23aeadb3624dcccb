"""Risk of weighted portfolios: weight checks, portfolio returns, Euler risk contributions, diversification.

``returns`` is a DataArray over ``(instrument, time)`` (simple returns; any further dimension
is kept), ``weights`` one over ``instrument`` and any portfolio dimensions (``portfolio``, ...):
fractions that sum to 1 per portfolio. One call handles 10,000 portfolios; dask-backed weights
(chunked along ``portfolio``) or returns stay lazy.

Conventions:

- **Sample**: the risk of a portfolio is measured on the dates on which *every* instrument of
  ``returns`` has a return (listwise deletion), so that all portfolios share one sample; select
  the instruments first if some have a short history. Instruments of ``returns`` that
  ``weights`` does not name get weight 0.
- **Volatility**: ``sigma_p = sqrt(w' S w)`` with ``S`` the sample covariance (ddof = 1, as
  ``np.cov``); annualised on request by ``sqrt`` of the periods a year.
- **CVaR**: the Acerbi & Tasche estimator of :mod:`toolkit.analytics.risk` on the portfolio's
  returns ``r_p = R w`` (positive = loss), as riskfolio-lib's ``CVaR_Hist``.
- **Contributions** (Euler allocation; Tasche 1999, Roncalli 2013 ch. 2): both measures are
  homogeneous of degree one in ``w``, so ``sum_i w_i dR/dw_i = R(w)``. ``marginal`` is
  ``dR/dw_i``, ``contribution`` is ``w_i dR/dw_i`` (they add up to ``total``), ``percent`` is
  ``contribution / total`` (adds up to 1). For volatility ``dR/dw = S w / sigma_p``; for CVaR
  ``dR/dw = -(sum of R_t over the worst returns, the boundary one weighted by its fraction) / (aT)``,
  the exact derivative of the estimator wherever the worst returns are unique (riskfolio's
  ``Risk_Contribution`` takes central finite differences of the same function).
- **Diversification ratio** (Choueifaty & Coignard 2008): ``DR = sum_i w_i sigma_i / sigma_p``, at
  least 1 for long-only weights. ``DR^2`` reads as the effective number of independent risk
  factors held (Choueifaty, Froidure & Reynier 2013), so the rating bands are on ``DR^2``: below 2 "low",
  from 2 to below 4 "medium", 4 or more "high" (``DR < sqrt 2``, ``[sqrt 2, 2)``, ``>= 2``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import cast

import dask
import numpy as np
import xarray as xr

from toolkit.analytics.risk import (
    Levels,
    along,
    horizon_returns,
    require_data,
    require_history,
    tail_need,
    tails,
    with_levels,
)
from toolkit.errors import Problems
from toolkit.schema import INSTRUMENT, LEVEL, TIME

#: the rating bands of the diversification ratio: (lower bound of DR, rating), ascending
DIVERSIFICATION_BANDS: tuple[tuple[float, str], ...] = ((1.0, "low"), (math.sqrt(2.0), "medium"), (2.0, "high"))
#: how far the weights of a portfolio may sum from 1
WEIGHT_TOLERANCE = 1e-6
#: portfolios per block in the CVaR kernel (bounds its memory to a few (block x time) arrays)
BLOCK = 2048


def _where(da: xr.DataArray, index: tuple[int, ...]) -> str:
    return ", ".join(f"{d}={da[d].values[i]}" if d in da.coords else f"{d}[{i}]" for d, i in zip(da.dims, index))


def check_weights(weights: xr.DataArray, returns: xr.DataArray, tolerance: float = WEIGHT_TOLERANCE) -> xr.DataArray:
    """Validate ``weights`` against ``returns`` and return them over the instruments of ``returns``.

    Refuses, with a :class:`toolkit.errors.ValidationError` naming each field
    (``weights[portfolio=p1]``, ``weights[instrument=XYZ]``): a missing ``instrument`` dimension,
    instruments without returns, NaN or infinite weights, and portfolios whose weights do not sum
    to 1 within ``tolerance``. Instruments of ``returns`` without a weight get 0. Dask-backed
    weights are read once (one ``dask.compute`` of the per-portfolio sums and non-finite counts),
    and once more only to name the weights that are not finite.

    Parameters
    ----------
    weights : xr.DataArray, (instrument, ...)
        Fractions summing to 1 per portfolio, over ``instrument`` and any portfolio dimensions
        (``portfolio``, ...).
    returns : xr.DataArray, (instrument, time, ...)
        Simple returns; dimensions beyond ``instrument`` and ``time`` are kept.
    tolerance : float, default 1e-6
        How far a portfolio's weights may sum from 1.

    Returns
    -------
    xr.DataArray, (instrument, ...)
        The weights over the instruments of ``returns`` (0 where not named).
    """
    return _check_weights(weights, returns, tolerance)[0]


def _check_weights(weights: xr.DataArray, returns: xr.DataArray, tolerance: float, *more: xr.DataArray,
                   first: Callable[..., None] | None = None) -> tuple[xr.DataArray, list[xr.DataArray]]:
    """:func:`check_weights`, computing the (small, lazy) reductions ``more`` in the same pass;
    ``first(*computed more)`` runs before the weights' problems are raised."""
    problems = Problems()
    if INSTRUMENT not in weights.dims:
        problems.add("weights", f"needs an {INSTRUMENT!r} dimension; it has {list(weights.dims)}")
        problems.raise_if_any("portfolio")
    known = set(returns.indexes[INSTRUMENT])
    for name in weights.indexes[INSTRUMENT]:
        if name not in known:
            problems.add(f"weights[instrument={name}]", "has no returns; load its history or remove it")
    others = [d for d in weights.dims if d != INSTRUMENT]
    lay = weights.transpose(*others, INSTRUMENT)
    bad = ~cast(xr.DataArray, np.isfinite(lay))  # a DataArray (__array_ufunc__); numpy's stubs say ndarray
    # one pass over the weights, reduced per portfolio before computing: the sums and the non-finite counts
    totals, flagged, *extra = dask.compute(lay.where(~bad, 0).sum(INSTRUMENT), bad.sum(INSTRUMENT), *more)
    if first is not None:
        first(*extra)
    off = abs(totals - 1) > tolerance
    if bool(np.any(flagged.values)):  # only then the full mask, to name each weight
        for index in np.argwhere(bad.compute().values):
            problems.add(f"weights[{_where(lay, tuple(index))}]", "is not a finite number")
    for index in np.argwhere(np.atleast_1d(off.values)):
        path = f"weights[{_where(off, tuple(index))}]" if others else "weights"
        problems.add(path, f"sum to {float(totals.values[tuple(index)]):.6g}; weights are fractions that must sum to 1")
    problems.raise_if_any("portfolio")
    return weights.reindex({INSTRUMENT: returns.indexes[INSTRUMENT]}, fill_value=0.0), extra


def weighted_returns(returns: xr.DataArray, weights: xr.DataArray) -> xr.DataArray:
    """``r_p,t = sum_i w_i r_i,t``: the returns of portfolios held at constant weights (rebalanced
    every period). NaN on a date where an instrument with a non-zero weight has no return; the
    weights are checked as by :func:`check_weights`.

    Parameters
    ----------
    returns : xr.DataArray, (instrument, time, ...)
        Simple returns; dimensions beyond ``instrument`` and ``time`` are kept.
    weights : xr.DataArray, (instrument, ...)
        Fractions summing to 1 per portfolio, over ``instrument`` and any portfolio dimensions
        (``portfolio``, ...).

    Returns
    -------
    xr.DataArray, (time, ...)
        ``sum_i w_i r_i,t`` per portfolio: the dimensions of ``weights`` and ``returns`` without
        ``instrument``.
    """
    weights = check_weights(weights, returns)
    value = xr.dot(returns.fillna(0.0), weights, dim=INSTRUMENT)
    gaps = xr.dot(returns.isnull().astype(float), (weights != 0).astype(float), dim=INSTRUMENT)
    return value.where(gaps == 0).rename("returns")


def _complete(returns: np.ndarray) -> np.ndarray:
    return returns[~np.isnan(returns).any(axis=-1)]


def _per_sample(fn: Callable, returns: np.ndarray, weights: np.ndarray, tails_: tuple[tuple[int, ...], ...],
                **kw) -> tuple:
    """Run ``fn(R (T, N), W (M, N)) -> arrays (M, *tail)`` for each history in ``returns``; one step
    when ``returns`` has only (time, instrument). Outputs are broadcast over both inputs' extra dims."""
    n = returns.shape[-1]
    lead = np.broadcast_shapes(returns.shape[:-2], weights.shape[:-1])
    every = np.broadcast_to(weights, lead + (n,))
    outs = [np.empty(lead + tail) for tail in tails_]
    for index in np.ndindex(returns.shape[:-2]):
        pick = tuple(i if size > 1 else slice(None) for i, size in zip(index, returns.shape[:-2]))
        w = every[pick]
        for out, part in zip(outs, fn(_complete(returns[index]), w.reshape(-1, n), **kw)):
            out[pick] = part.reshape(w.shape[:-1] + part.shape[1:])
    return tuple(outs)


def _volatility_kernel(returns: np.ndarray, weights: np.ndarray) -> tuple:
    def fn(r: np.ndarray, w: np.ndarray) -> tuple:
        centred = r - r.mean(axis=0)
        cov = centred.T @ centred / (len(r) - 1)  # np.cov(r, rowvar=False), ddof = 1
        sw = w @ cov
        total = np.sqrt(np.einsum("mn,mn->m", w, sw))
        with np.errstate(divide="ignore", invalid="ignore"):
            return total, sw / total[:, None], np.sqrt(np.diag(cov))[None, :].repeat(len(w), 0)
    return _per_sample(fn, returns, weights, ((), (returns.shape[-1],), (returns.shape[-1],)))


def _cvar_kernel(returns: np.ndarray, weights: np.ndarray, alphas: np.ndarray) -> tuple:
    levels, n = len(alphas), returns.shape[-1]

    def fn(r: np.ndarray, w: np.ndarray) -> tuple:
        an = alphas * len(r)
        edge = np.clip(np.ceil(an - 1e-9).astype(np.int64) - 1, 0, len(r) - 1)
        worst = int(edge.max()) + 1
        rank = np.arange(worst)[:, None]
        # the weight of the j-th worst return in each level's CVaR: 1/(aT) before the boundary, its fraction at it
        coef = np.where(rank < edge, 1.0, np.where(rank == edge, an - edge, 0.0)) / an  # (worst, L)
        total, grad = np.empty((len(w), levels)), np.empty((len(w), n, levels))
        for start in range(0, len(w), BLOCK):  # blocks of portfolios bound the memory, not a per-portfolio loop
            block = w[start:start + BLOCK] @ r.T  # (M, T) portfolio returns
            dates = np.argpartition(block, worst - 1, axis=-1)[:, :worst]
            values = np.take_along_axis(block, dates, -1)
            order = np.argsort(values, axis=-1)
            dates, values = np.take_along_axis(dates, order, -1), np.take_along_axis(values, order, -1)
            total[start:start + BLOCK] = -(values @ coef)
            grad[start:start + BLOCK] = -(r[dates].transpose(0, 2, 1) @ coef)  # (M, N, L)
        return total, grad
    return _per_sample(fn, returns, weights, ((levels,), (n, levels)))


def _prepare(returns: xr.DataArray, weights: xr.DataArray, horizon: str | None, need: int) -> tuple:
    if horizon is None and INSTRUMENT in weights.dims and TIME in returns.dims and returns.sizes[TIME]:
        # one dask.compute: the weights' checks, the returns' counts (require_data) and the history's length
        counts, complete = returns.count(TIME), returns.notnull().all(INSTRUMENT).sum(TIME)
        weights, (_, rows) = _check_weights(weights, returns, WEIGHT_TOLERANCE, counts, complete,
                                            first=lambda n, _: require_data(n, dim=None))
    else:
        require_data(returns)
        weights = check_weights(weights, returns)
        if horizon is not None:
            returns = horizon_returns(returns, horizon)
        rows = returns.notnull().all(INSTRUMENT).sum(TIME)
    require_history(rows, need, "returns", "portfolio risk needs, on dates on which every instrument has one,")
    return returns, weights


def _assemble(total: xr.DataArray, marginal: xr.DataArray, weights: xr.DataArray) -> xr.Dataset:
    contribution = weights * marginal
    return xr.Dataset({"total": total, "marginal": marginal, "contribution": contribution,
                       "percent": contribution / total})


def volatility_contributions(returns: xr.DataArray, weights: xr.DataArray, *, horizon: str | None = None,
                             annualise: bool = False, periods_per_year: float = 252) -> xr.Dataset:
    """Euler contributions to portfolio volatility: ``total`` = ``sqrt(w'Sw)``, ``marginal`` =
    ``(Sw)_i / total``, ``contribution`` = ``w_i marginal_i`` (sums to ``total``), ``percent``.

    ``S`` is the sample covariance (ddof = 1) on the dates where every instrument has a return,
    of the returns compounded to ``horizon`` when given. ``annualise`` scales ``total``,
    ``marginal`` and ``contribution`` by ``sqrt(periods_per_year)``.

    Parameters
    ----------
    returns : xr.DataArray, (instrument, time, ...)
        Simple returns; dimensions beyond ``instrument`` and ``time`` are kept.
    weights : xr.DataArray, (instrument, ...)
        Fractions summing to 1 per portfolio, over ``instrument`` and any portfolio dimensions
        (``portfolio``, ...).
    horizon : {"day", "week", "month"} or None, default None
        Compound the returns to this calendar horizon first; None uses them as given.
    annualise : bool, default False
        Scale ``total``, ``marginal`` and ``contribution`` by ``sqrt(periods_per_year)``.
    periods_per_year : float, default 252
        Periods a year of the (horizon) returns.

    Returns
    -------
    xr.Dataset
        ``total`` over the portfolio dimensions ``(...)``; ``marginal``, ``contribution`` and
        ``percent`` over ``(instrument, ...)``.
    """
    returns, weights = _prepare(returns, weights, horizon, 2)
    total, marginal, _ = along(_volatility_kernel, returns, weights, core=[[TIME, INSTRUMENT], [INSTRUMENT]],
                               out=[[], [INSTRUMENT], [INSTRUMENT]])
    if annualise:
        total, marginal = total * math.sqrt(periods_per_year), marginal * math.sqrt(periods_per_year)
    return _assemble(total, marginal, weights)


def cvar_contributions(returns: xr.DataArray, weights: xr.DataArray, level: Levels = 0.95, *,
                       horizon: str | None = None) -> xr.Dataset:
    """Euler contributions to portfolio CVaR (Acerbi-Tasche, positive = loss) at each ``level``.

    ``total`` is the CVaR of ``r_p = R w`` on the dates where every instrument has a return,
    ``marginal`` its gradient ``-(sum over the tail dates of R_t, boundary date weighted) / (aT)``,
    ``contribution`` = ``w_i marginal_i`` (sums to ``total``) and ``percent``. Where returns tie
    at the tail's boundary the gradient is not unique and one of the tied dates is taken (any
    choice is a subgradient; the contributions still add up). Needs ``ceil(1 / (1 - level))`` dates.

    Parameters
    ----------
    returns : xr.DataArray, (instrument, time, ...)
        Simple returns; dimensions beyond ``instrument`` and ``time`` are kept.
    weights : xr.DataArray, (instrument, ...)
        Fractions summing to 1 per portfolio, over ``instrument`` and any portfolio dimensions
        (``portfolio``, ...).
    level : float or sequence of float, default 0.95
        Confidence level(s); a sequence adds a ``level`` dimension.
    horizon : {"day", "week", "month"} or None, default None
        Compound the returns to this calendar horizon first; None uses them as given.

    Returns
    -------
    xr.Dataset
        ``total`` over ``(level, ...)``; ``marginal``, ``contribution`` and ``percent`` over
        ``(instrument, level, ...)``; positive = loss.
    """
    alphas, many = tails(level)
    returns, weights = _prepare(returns, weights, horizon, tail_need(alphas))
    total, marginal = along(_cvar_kernel, returns, weights, core=[[TIME, INSTRUMENT], [INSTRUMENT]],
                            out=[[LEVEL], [INSTRUMENT, LEVEL]], sizes={LEVEL: len(alphas)}, kwargs={"alphas": alphas})
    return with_levels(_assemble(total, marginal, weights), level, many)


def diversification_ratio(returns: xr.DataArray, weights: xr.DataArray, *, horizon: str | None = None) -> xr.Dataset:
    """``ratio`` = ``sum_i w_i sigma_i / sigma_p`` (Choueifaty & Coignard 2008) and its ``rating``.

    Volatilities from the sample covariance (ddof = 1) on the dates where every instrument has a
    return; the ratio does not depend on ddof or annualisation. ``rating`` uses
    ``DIVERSIFICATION_BANDS``: "low" below ``sqrt 2``, "medium" below 2, "high" from 2 (on ``DR^2``,
    the effective number of independent risk factors: below 2, below 4, from 4).

    Parameters
    ----------
    returns : xr.DataArray, (instrument, time, ...)
        Simple returns; dimensions beyond ``instrument`` and ``time`` are kept.
    weights : xr.DataArray, (instrument, ...)
        Fractions summing to 1 per portfolio, over ``instrument`` and any portfolio dimensions
        (``portfolio``, ...).
    horizon : {"day", "week", "month"} or None, default None
        Compound the returns to this calendar horizon first; None uses them as given.

    Returns
    -------
    xr.Dataset, (...)
        ``ratio`` (float) and ``rating`` (str) per portfolio.
    """
    returns, weights = _prepare(returns, weights, horizon, 2)
    total, _, sigma = along(_volatility_kernel, returns, weights, core=[[TIME, INSTRUMENT], [INSTRUMENT]],
                            out=[[], [INSTRUMENT], [INSTRUMENT]])
    ratio = xr.dot(weights, sigma, dim=INSTRUMENT) / total
    return xr.Dataset({"ratio": ratio, "rating": diversification_rating(ratio)})


def diversification_rating(ratio: xr.DataArray) -> xr.DataArray:
    """The band of each diversification ratio in ``DIVERSIFICATION_BANDS`` ("low", "medium", "high"); NaN gives "".

    Parameters
    ----------
    ratio : xr.DataArray, (...)
        Diversification ratios.

    Returns
    -------
    xr.DataArray of str, (...)
        ``"low"``, ``"medium"``, ``"high"``, or ``""`` for NaN.
    """
    bounds = np.array([b for b, _ in DIVERSIFICATION_BANDS[1:]])
    names = np.array(["", *(name for _, name in DIVERSIFICATION_BANDS)], dtype=object)

    def rate(x: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(x), names[0], names[1 + np.searchsorted(bounds, x, side="right")])

    return xr.apply_ufunc(rate, ratio, dask="parallelized", output_dtypes=[object])
