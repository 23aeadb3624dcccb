"""Factor analytics: factor proxies, OLS regressions (alpha, betas, R^2, idiosyncratic risk),
benchmark analytics and expected-return estimators, as pure functions on xarray.

``returns`` are simple returns over ``time`` and any other dimensions (``instrument``,
``portfolio``), which are kept; ``factors`` are simple returns over ``(factor, time)``. One call
regresses 20 instruments or 10,000 portfolios on the same factors; dask-backed inputs stay lazy
(the checks compute one count per series).

Conventions:

- **Sample**: each series is regressed on the dates where it and every factor have a return
  (the dates of both arrays in common, NaN rows dropped series by series, as
  ``empyrical.alpha_beta`` does for one factor).
- **Regression**: least squares with an intercept, ``r_t = alpha + beta' f_t + e_t``, solved from
  the centred normal equations ``C_ff beta = C_fr``, ``alpha = mean(r) - beta' mean(f)``. With
  ``halflife`` it is weighted least squares with the exponential weights below.
- **R^2** = ``1 - SSR / SST`` (centred, with intercept; weighted sums under WLS); with one factor
  it is the squared correlation.
- **Residual (idiosyncratic) volatility** = ``sqrt(SSR / S0 * n / (n - k - 1))`` per period, where
  ``S0`` is the sum of the weights (``n`` under OLS, so ``sqrt(SSR / (n - k - 1))``, the standard
  error of the regression with ``k`` factors); ``idiosyncratic_vol`` annualises it by
  ``sqrt(periods_per_year)`` (252 for daily returns).
- **Alpha** is per period; ``alpha_annual = (1 + alpha)^periods_per_year - 1`` (compounded, as
  ``empyrical.alpha``).
- **Variance shares**: ``share_k = beta_k C_fr,k / SST``; they add up to R^2, and
  ``1 - R^2`` is the idiosyncratic share (the Euler split of ``Var r = beta' C_ff beta + Var e``).
- **Exponential weights** with half-life ``h`` observations: ``w_t = 2^(-(T - 1 - t) / h)`` over
  the positions ``t`` of the time axis (the last date weighs 1, a date ``h`` rows earlier 1/2);
  NaN dates keep their place and drop out, as pandas ``ewm(halflife=h, adjust=True,
  ignore_na=False)``; the decay per row is ``d = 2^(-1/h)`` (riskfolio's ``d``).
- **Expected returns** (annualised arithmetically, ``x periods_per_year``): ``sample`` the mean;
  ``ewma`` the exponentially weighted mean; ``factor`` ``beta' mean(f)`` with OLS betas and each
  factor's mean over the factor's whole history; ``factor_ewma`` the same with WLS betas and
  exponentially weighted factor means. The factor models assume no alpha (the sample alpha
  is the part of the mean they do not explain).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr

from toolkit.analytics.risk import Levels, along, require_data, require_history, tail_risk
from toolkit.errors import DataError, NotFoundError, Problem, Problems, ValidationError
from toolkit.schema import INSTRUMENT, TIME

FACTOR = "factor"
ESTIMATOR = "estimator"
#: the expected-return estimators, in the seed's order
ESTIMATORS: tuple[str, ...] = ("sample", "ewma", "factor", "factor_ewma")
#: the default half-life of the exponentially weighted estimators, in observations (126 trading days)
HALFLIFE = 126.0


# --------------------------------------------------------------------------- factor proxies


def sector_factors(returns: xr.DataArray, sectors: xr.DataArray | Mapping[str, str] | None = None) -> xr.DataArray:
    """Equally weighted sector portfolios over ``(factor, time)``: each day the mean return of the
    sector's instruments that have one (NaN skipped), one factor per sector label.

    ``sectors`` maps instrument to sector (a mapping or a DataArray over ``instrument``); by
    default the ``sector`` coordinate of ``returns``. Instruments without a sector are left out.

    Parameters
    ----------
    returns : xr.DataArray, (instrument, time)
        Simple returns.
    sectors : xr.DataArray (instrument,), mapping or None, default None
        Each instrument's sector (default: the ``sector`` coordinate).

    Returns
    -------
    xr.DataArray, (factor, time)
        One equally weighted sector return per sector label.
    """
    if sectors is None:
        if "sector" not in returns.coords:
            raise DataError("returns has no 'sector' coordinate on instrument; pass sectors= (instrument -> sector).")
        sectors = returns["sector"]
    if isinstance(sectors, Mapping):
        sectors = xr.DataArray([sectors.get(i) for i in returns.indexes[INSTRUMENT]], dims=INSTRUMENT,
                               coords={INSTRUMENT: returns[INSTRUMENT].values})
    labels = np.array([s if isinstance(s, str) and s else "" for s in np.asarray(sectors.values)], dtype=object)
    if not any(labels):
        raise DataError("No instrument of returns has a sector; sector factors need sector labels.")
    keep = labels != ""
    members = returns.isel({INSTRUMENT: keep}).drop_vars([c for c in returns.coords if c not in returns.dims])
    group = xr.DataArray(labels[keep].astype(str), dims=INSTRUMENT, name=FACTOR)
    out = members.groupby(group).mean(INSTRUMENT, skipna=True)
    return out.transpose(FACTOR, ...).rename("returns")


def factor_proxies(*parts: xr.DataArray) -> xr.DataArray:
    """Put factor return series side by side over ``(factor, time)`` (outer join on time).

    Each part is a DataArray over ``(factor, time)``, over ``(instrument, time)`` (instruments
    become factors), or one named series over ``time`` (its name becomes the factor label),
    e.g. ``factor_proxies(market, etfs, sector_factors(stocks))``. Labels must be unique.

    Parameters
    ----------
    *parts : xr.DataArray, (factor, time), (instrument, time) or (time,)
        Factor series; a named ``(time,)`` series is one factor.

    Returns
    -------
    xr.DataArray, (factor, time)
        All parts, outer-joined on ``time``.
    """
    pieces, problems = [], Problems()
    for i, part in enumerate(parts):
        if FACTOR not in part.dims and INSTRUMENT in part.dims:
            part = part.rename({INSTRUMENT: FACTOR})
        if FACTOR not in part.dims:
            if part.name is None:
                problems.add(f"parts[{i}]", "a single series needs a name (the factor label)")
                continue
            part = part.expand_dims({FACTOR: [str(part.name)]})
        part = part.drop_vars([c for c in part.coords if c not in part.dims])
        pieces.append(part.assign_coords({FACTOR: [str(f) for f in part[FACTOR].values]}))
    labels = [f for p in pieces for f in p[FACTOR].values]
    for label in sorted({f for f in labels if labels.count(f) > 1}):
        problems.add(f"factor[{label}]", "is given twice; factor labels must be unique")
    problems.raise_if_any("factor set")
    return xr.concat(pieces, dim=FACTOR, join="outer").rename("returns")


def select_factors(factors: xr.DataArray, names: str | Sequence[str] | None = None) -> xr.DataArray:
    """The factors named ``names`` (all when None), over ``(factor, time)``; a single series over
    ``time`` becomes one factor. An unknown name raises :class:`toolkit.errors.NotFoundError`
    listing the known ones.

    Parameters
    ----------
    factors : xr.DataArray, (factor, time) or (time,)
        Factor returns.
    names : str, sequence of str or None, default None
        The factors to use (all when None).

    Returns
    -------
    xr.DataArray, (factor, time)
        The chosen factors, in the order named.
    """
    if FACTOR not in factors.dims:
        if INSTRUMENT in factors.dims:
            factors = factors.rename({INSTRUMENT: FACTOR})
        else:
            factors = factors.expand_dims({FACTOR: [str(factors.name or "factor")]})
    if names is None:
        return factors
    wanted = [names] if isinstance(names, str) else list(names)
    known = [str(f) for f in factors[FACTOR].values]
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise NotFoundError(f"Unknown factor {', '.join(map(repr, unknown))}; the factors are {', '.join(known)}.")
    return factors.sel({FACTOR: wanted})


# --------------------------------------------------------------------------- the regression kernel


def ewma_weights(length: int, halflife: float) -> np.ndarray:
    """``w_t = 2^(-(length - 1 - t) / halflife)`` for ``t = 0 .. length - 1``: the last weighs 1.

    Parameters
    ----------
    length : int
        The number of weights.
    halflife : float
        The half-life in observations.

    Returns
    -------
    np.ndarray, (length,)
        The weights, oldest first, the last one 1.
    """
    if isinstance(halflife, bool) or not isinstance(halflife, (int, float, np.number)) or not 0 < halflife < math.inf:
        raise ValidationError([Problem("halflife", f"{halflife!r} is not a positive number of observations")],
                              "regression request")
    return np.exp2(-(length - 1 - np.arange(length)) / float(halflife))


def _weighted_sum(v: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``sum_t v[..., t] z[..., t, :]`` as one matrix product when ``z`` is shared by every series."""
    if all(s == 1 for s in z.shape[:-2]):
        flat = v.reshape(-1, v.shape[-1]) @ z.reshape(z.shape[-2:])
        return flat.reshape(v.shape[:-1] + z.shape[-1:])
    return np.matmul(v[..., None, :], z)[..., 0, :]


def _ols_kernel(y: np.ndarray, x: np.ndarray, weights: np.ndarray) -> tuple:
    """Weighted least squares with intercept of ``y (..., T)`` on ``x (..., T, K)``, NaN rows dropped
    per series. Returns alpha, beta (K), r_squared, residual variance, count, variance share (K)."""
    k = x.shape[-1]
    x_ok = ~np.isnan(x).any(-1)
    x0 = np.nanmean(np.where(x_ok[..., None], x, np.nan), axis=-2, keepdims=True)
    xc = np.where(x_ok[..., None], x - x0, 0.0)
    mask = ~np.isnan(y) & x_ok
    y0 = np.nanmean(np.where(mask, y, np.nan), axis=-1, keepdims=True)
    yc = np.where(mask, y - y0, 0.0)
    v = mask * weights
    s0 = v.sum(-1)
    sx = _weighted_sum(v, xc)
    sy = (v * yc).sum(-1)
    sxx = _weighted_sum(v, (xc[..., :, None] * xc[..., None, :]).reshape(xc.shape[:-1] + (k * k,)))
    sxy = _weighted_sum(v * yc, xc)
    syy = (v * yc * yc).sum(-1)
    mx, my = sx / s0[..., None], sy / s0
    cxx = sxx.reshape(sxx.shape[:-1] + (k, k)) - s0[..., None, None] * mx[..., :, None] * mx[..., None, :]
    cxy = sxy - s0[..., None] * mx * my[..., None]
    cyy = syy - s0 * my * my
    try:
        beta = np.linalg.solve(cxx, cxy[..., None])[..., 0]
    except np.linalg.LinAlgError as exc:
        raise DataError("The factors are collinear or constant on the sample; drop a redundant factor.") from exc
    alpha = (my + y0[..., 0]) - np.einsum("...k,...k->...", beta, mx + x0[..., 0, :])
    explained = beta * cxy
    ssr = np.maximum(cyy - explained.sum(-1), 0.0)  # a series on itself: 0, not -1e-19
    n = mask.sum(-1)
    residual = ssr / s0 * n / (n - k - 1)
    return alpha, beta, 1.0 - ssr / cyy, residual, n.astype(float), explained / cyy[..., None]


def _aligned(returns: xr.DataArray, factors: xr.DataArray, names: str | Sequence[str] | None):
    factors = select_factors(factors, names)
    require_data(returns)
    require_data(factors, "factors")
    y, x = xr.align(returns, factors, join="inner", exclude={d for d in (*returns.dims, *factors.dims) if d != TIME})
    if y.sizes[TIME] == 0:
        raise DataError("returns and factors have no date in common; give factor returns over the same period.")
    return y, x


def regress(returns: xr.DataArray, factors: xr.DataArray, *, names: str | Sequence[str] | None = None,
            halflife: float | None = None, periods_per_year: float = 252) -> xr.Dataset:
    """Regress every series of ``returns`` on ``factors`` (OLS with intercept; WLS with ``halflife``).

    Returns ``alpha`` (per period), ``alpha_annual``, ``beta`` (over ``factor``), ``r_squared``,
    ``residual_vol`` (per period), ``idiosyncratic_vol`` (annualised), ``variance_share`` (over
    ``factor``, adds up to R^2) and ``count`` (dates used). ``names`` selects factors (an unknown one
    raises :class:`NotFoundError`); each series needs ``k + 2`` dates with every factor
    (:class:`DataError` otherwise). Conventions: the module docstring.

    Parameters
    ----------
    returns : xr.DataArray, (time, ...)
        Simple returns; other dimensions (``instrument``, ``portfolio``) are kept.
    factors : xr.DataArray, (factor, time)
        Factor returns.
    names : str, sequence of str or None, default None
        The factors to use (all when None).
    halflife : float, optional
        Weighted least squares with exponential weights of this half-life (observations).
    periods_per_year : float, default 252
        Periods a year (annualisation).

    Returns
    -------
    xr.Dataset
        ``alpha``, ``alpha_annual``, ``r_squared``, ``residual_vol``, ``idiosyncratic_vol``, ``count``
        over ``(...)``; ``beta`` and ``variance_share`` over ``(factor, ...)``; ``...`` the dimensions
        of ``returns`` other than ``time``.
    """
    y, x = _aligned(returns, factors, names)
    k = x.sizes[FACTOR]
    joint = (y.notnull() & x.notnull().all(FACTOR)).sum(TIME)
    require_history(joint, k + 2, "returns", f"a regression on {k} factors needs, on dates with every factor,")
    weights = np.ones(y.sizes[TIME]) if halflife is None else ewma_weights(y.sizes[TIME], halflife)
    alpha, beta, r2, residual, count, share = along(
        _ols_kernel, y, x, core=[[TIME], [TIME, FACTOR]], out=[[], [FACTOR], [], [], [], [FACTOR]],
        kwargs={"weights": weights})
    residual_vol = np.sqrt(residual)
    return xr.Dataset({"alpha": alpha, "alpha_annual": (1 + alpha) ** periods_per_year - 1, "beta": beta,
                       "r_squared": r2, "residual_vol": residual_vol,
                       "idiosyncratic_vol": residual_vol * np.sqrt(periods_per_year),
                       "variance_share": share, "count": count.astype(int)})


def factor_summary(returns: xr.DataArray, factors: xr.DataArray, *, names: str | Sequence[str] | None = None,
                   periods_per_year: float = 252) -> xr.Dataset:
    """Exposures and where the variance comes from: the :func:`regress` results plus
    ``idiosyncratic_share`` (``1 - R^2``), and per factor its annualised ``factor_mean`` (mean x
    periods) and ``factor_vol`` (std, ddof = 1, x sqrt periods) over the factor's whole history.

    Parameters
    ----------
    returns : xr.DataArray, (time, ...)
        Simple returns; other dimensions (``instrument``, ``portfolio``) are kept.
    factors : xr.DataArray, (factor, time)
        Factor returns.
    names : str, sequence of str or None, default None
        The factors to use (all when None).
    periods_per_year : float, default 252
        Periods a year (annualisation).

    Returns
    -------
    xr.Dataset
        :func:`regress`'s variables, ``idiosyncratic_share`` over ``(...)``, and ``factor_mean``,
        ``factor_vol`` over ``(factor,)``.
    """
    fit = regress(returns, factors, names=names, periods_per_year=periods_per_year)
    chosen = select_factors(factors, names)
    return fit.assign(idiosyncratic_share=1 - fit["r_squared"],
                      factor_mean=chosen.mean(TIME) * periods_per_year,
                      factor_vol=chosen.std(TIME, ddof=1) * np.sqrt(periods_per_year))


def benchmark_analytics(returns: xr.DataArray, benchmark: xr.DataArray, *, name: str | None = None,
                        level: Levels = 0.95, periods_per_year: float = 252) -> xr.Dataset:
    """One curve against another: ``alpha_annual``, ``beta``, ``r_squared``, ``idiosyncratic_vol``
    of the single-factor regression on the benchmark, with ``cvar`` of the returns and
    ``active_cvar`` of ``returns - benchmark`` (historical, Acerbi-Tasche, positive = loss), all on
    the dates both have.

    ``benchmark`` is one series over ``time``, or several over ``factor``/``instrument`` with
    ``name`` choosing one (an unknown name raises :class:`NotFoundError`).

    Parameters
    ----------
    returns : xr.DataArray, (time, ...)
        Simple returns; other dimensions (``instrument``, ``portfolio``) are kept.
    benchmark : xr.DataArray, (time,) or (factor, time) or (instrument, time)
        The benchmark's returns; with several series ``name`` picks one.
    name : str, optional
        The benchmark series to use.
    level : float or sequence of float, default 0.95
        Confidence level(s) of the CVaRs.
    periods_per_year : float, default 252
        Periods a year (annualisation).

    Returns
    -------
    xr.Dataset
        ``alpha_annual``, ``beta``, ``r_squared``, ``idiosyncratic_vol`` over ``(...)``; ``cvar`` and
        ``active_cvar`` over ``(level, ...)`` or ``(...)`` for a scalar level.
    """
    chosen = select_factors(benchmark, name)
    if chosen.sizes[FACTOR] != 1:
        raise DataError(f"benchmark has {chosen.sizes[FACTOR]} series; choose one with name=.")
    fit = regress(returns, chosen, periods_per_year=periods_per_year)
    y, x = _aligned(returns, chosen, None)
    x = x.isel({FACTOR: 0}, drop=True)
    both = y.where(x.notnull())
    tails = tail_risk(both, level, None)
    active = tail_risk(both - x, level, None)
    return xr.Dataset({"alpha_annual": fit["alpha_annual"], "beta": fit["beta"].isel({FACTOR: 0}, drop=True),
                       "r_squared": fit["r_squared"], "idiosyncratic_vol": fit["idiosyncratic_vol"],
                       "cvar": tails["cvar"], "active_cvar": active["cvar"]})


# --------------------------------------------------------------------------- expected returns


def weighted_mean(returns: xr.DataArray, halflife: float) -> xr.DataArray:
    """Exponentially weighted mean along ``time``: ``sum w_t r_t / sum w_t`` over the dates with a
    return, ``w_t`` of :func:`ewma_weights` (as pandas ``ewm(halflife=h).mean()`` at the last date).

    Parameters
    ----------
    returns : xr.DataArray, (time, ...)
        Simple returns; other dimensions (``instrument``, ``portfolio``) are kept.
    halflife : float
        The half-life in observations.

    Returns
    -------
    xr.DataArray, (...)
        The weighted mean per series, ``returns`` without ``time``.
    """
    w = xr.DataArray(ewma_weights(returns.sizes[TIME], halflife), dims=TIME, coords={TIME: returns[TIME]})
    valid = returns.notnull()
    return (returns.fillna(0.0) * w).sum(TIME) / (valid * w).sum(TIME)


def expected_returns(returns: xr.DataArray, factors: xr.DataArray | None = None, *,
                     estimators: Sequence[str] = ESTIMATORS, halflife: float = HALFLIFE,
                     names: str | Sequence[str] | None = None, periods_per_year: float = 252) -> xr.DataArray:
    """Annualised expected returns by each estimator, over a new ``estimator`` dimension.

    ``sample``: ``P mean(r)``; ``ewma``: ``P`` x the exponentially weighted mean (half-life
    ``halflife`` observations); ``factor``: ``P beta' mean(f)`` (OLS betas); ``factor_ewma``:
    ``P beta_w' mean_w(f)`` (WLS betas and weighted factor means, same half-life). ``P`` is
    ``periods_per_year``. The factor estimators need ``factors``.

    Parameters
    ----------
    returns : xr.DataArray, (time, ...)
        Simple returns; other dimensions (``instrument``, ``portfolio``) are kept.
    factors : xr.DataArray, (factor, time), optional
        Factor returns; needed by ``factor`` and ``factor_ewma``.
    estimators : sequence of {"sample", "ewma", "factor", "factor_ewma"}, default all
        The estimators to compute.
    halflife : float, default 126.0
        The half-life of the exponential weights (observations).
    names : str, sequence of str or None, default None
        The factors to use (all when None).
    periods_per_year : float, default 252
        Periods a year (annualisation).

    Returns
    -------
    xr.DataArray, (estimator, ...)
        Annualised expected returns (arithmetic, ``x periods_per_year``).
    """
    problems = Problems()
    for i, e in enumerate(estimators):
        if e not in ESTIMATORS:
            problems.add(f"estimators[{i}]", f"{e!r} is not one of {', '.join(ESTIMATORS)}")
    if factors is None and any(e.startswith("factor") for e in estimators):
        problems.add("factors", "the factor-model estimators need factor returns")
    problems.raise_if_any("expected-returns request")
    require_data(returns)
    out = []
    for e in estimators:  # at most four estimators, each vectorised over every series
        if e == "sample":
            mu = returns.mean(TIME)
        elif e == "ewma":
            mu = weighted_mean(returns, halflife)
        else:
            assert factors is not None  # refused above
            chosen = select_factors(factors, names)
            ewma = e == "factor_ewma"
            fit = regress(returns, chosen, halflife=halflife if ewma else None)
            means = weighted_mean(chosen, halflife) if ewma else chosen.mean(TIME)
            mu = xr.dot(fit["beta"], means, dim=FACTOR)
        out.append(mu * periods_per_year)
    return xr.concat(out, dim=ESTIMATOR).assign_coords({ESTIMATOR: list(estimators)}).rename("expected_return")
