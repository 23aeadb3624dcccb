"""Performance statistics of return series along ``time``, keeping every other dimension.

The definitions follow empyrical-reloaded (``empyrical.stats``) so that on a series without NaN
the numbers agree with it to rounding. Where this module differs, on purpose:

- NaN is a missing observation, not a zero return: :func:`annual_return` counts the years from
  the observed returns only (``n_obs / periods_per_year``, as quantstats' ``cagr``), where
  empyrical counts every row (``len(returns)``), so leading NaN (a portfolio that started
  later) deflate empyrical's figure. Means and deviations skip NaN in both.
- a zero dispersion gives NaN: :func:`sharpe` of a constant series and :func:`sortino` of a
  series without a return below the threshold are NaN (empyrical gives +-inf).

Conventions: ``periods_per_year`` 252 for daily returns (12 monthly); volatility is the sample
standard deviation (``ddof=1``) times ``sqrt(periods_per_year)``; ``risk_free`` and
``required_return`` are per-period rates; drawdowns are measured from a starting value of 1
that counts as a peak (a loss on the first day is a drawdown), as in empyrical.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

import numpy as np
import xarray as xr

from toolkit.analytics.returns import check_array, link, needs_skipna
from toolkit.errors import Problems
from toolkit.schema import TIME

WHAT = "statistics request"


def _checked(returns: xr.DataArray, periods_per_year: float | None = None, ddof: int | None = None) -> None:
    problems = Problems()
    check_array(returns, "returns", problems=problems)
    if periods_per_year is not None and (isinstance(periods_per_year, bool) or
                                         not isinstance(periods_per_year, (int, float, np.number))
                                         or not periods_per_year > 0):
        problems.add("periods_per_year", f"expected a positive number, got {periods_per_year!r}")
    if ddof is not None and (isinstance(ddof, bool) or not isinstance(ddof, (int, np.integer)) or ddof < 0):
        problems.add("ddof", f"expected a whole number >= 0, got {ddof!r}")
    problems.raise_if_any(WHAT)


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence NumPy's warnings for series too short to have a deviation (the result is NaN)."""
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _observed(returns: xr.DataArray) -> tuple[bool, xr.DataArray]:
    """Whether NaN must be skipped, and the number of observations along time."""
    if needs_skipna(returns):
        return True, returns.count(TIME)
    return False, xr.DataArray(returns.sizes[TIME])


def annual_return(returns: xr.DataArray, periods_per_year: float = 252) -> xr.DataArray:
    """Compound annual growth rate: ``(prod(1 + r))^(periods_per_year / n) - 1``.

    ``n`` is the number of observed (non-NaN) returns; empyrical uses the number of rows,
    NaN included (see the module docstring). Not held back for periods under a year (unlike
    GIPS, see :func:`toolkit.analytics.returns.annualise`). NaN without observations.

    Parameters
    ----------
    returns : xr.DataArray, (time, ...)
        Simple returns (NaN = no observation); other dimensions (``instrument``, ``portfolio``) are kept.
    periods_per_year : float, default 252
        Observations a year (252 daily, 12 monthly).

    Returns
    -------
    xr.DataArray, (...)
        One value per series, ``returns`` without ``time``.
    """
    _checked(returns, periods_per_year)
    skipna, n = _observed(returns)
    growth = (1 + returns).prod(TIME, skipna=skipna)
    return (growth ** (periods_per_year / n.where(n > 0)) - 1).where(n > 0)


def annual_volatility(returns: xr.DataArray, periods_per_year: float = 252, ddof: int = 1) -> xr.DataArray:
    """Annualised volatility: ``std(r, ddof) * sqrt(periods_per_year)``, NaN skipped.

    Sample deviation (``ddof=1``) by default, as empyrical and quantstats; NaN with fewer than
    ``ddof + 1`` observations.

    Parameters
    ----------
    returns : xr.DataArray, (time, ...)
        Simple returns (NaN = no observation); other dimensions (``instrument``, ``portfolio``) are kept.
    periods_per_year : float, default 252
        Observations a year (252 daily, 12 monthly).
    ddof : int, default 1
        Delta degrees of freedom of the standard deviation (1: sample).

    Returns
    -------
    xr.DataArray, (...)
        One value per series, ``returns`` without ``time``.
    """
    _checked(returns, periods_per_year, ddof)
    skipna, n = _observed(returns)
    with _quiet():
        std = returns.std(TIME, ddof=ddof, skipna=skipna)
    return (std * np.sqrt(periods_per_year)).where(n > ddof)


def _ratio(numerator: xr.DataArray, denominator: xr.DataArray, defined: xr.DataArray) -> xr.DataArray:
    """``numerator / denominator`` where ``defined`` and the denominator is not zero, else NaN."""
    usable = defined & (denominator != 0)
    return numerator / denominator.where(usable)


def sharpe(returns: xr.DataArray, risk_free: float | xr.DataArray = 0.0,
           periods_per_year: float = 252) -> xr.DataArray:
    """Sharpe ratio (Sharpe 1994): ``mean(r - rf) / std(r - rf, ddof=1) * sqrt(periods_per_year)``.

    ``risk_free`` is a per-period rate (a number or a series along time). NaN skipped; NaN
    with fewer than 2 observations or a constant series (empyrical: +-inf).

    Parameters
    ----------
    returns : xr.DataArray, (time, ...)
        Simple returns (NaN = no observation); other dimensions (``instrument``, ``portfolio``) are kept.
    risk_free : float or xr.DataArray, (time, ...), default 0.0
        The per-period risk-free rate, a number or a series along ``time``.
    periods_per_year : float, default 252
        Observations a year (252 daily, 12 monthly).

    Returns
    -------
    xr.DataArray, (...)
        One value per series, ``returns`` without ``time``.
    """
    _checked(returns, periods_per_year)
    excess = returns - risk_free
    skipna, n = _observed(excess)
    spread = excess.max(TIME, skipna=skipna) - excess.min(TIME, skipna=skipna)
    with _quiet():
        std = excess.std(TIME, ddof=1, skipna=skipna)
    return _ratio(excess.mean(TIME, skipna=skipna), std, (n >= 2) & (spread > 0)) * np.sqrt(periods_per_year)


def downside_risk(returns: xr.DataArray, required_return: float | xr.DataArray = 0.0,
                  periods_per_year: float = 252) -> xr.DataArray:
    """Downside deviation (Sortino & Price 1994; Bacon 2008, ch. 4):
    ``sqrt(mean(min(r - MAR, 0)^2)) * sqrt(periods_per_year)``.

    The mean runs over all observed returns (those above ``MAR`` count as 0), denominator ``n``,
    as empyrical. NaN skipped.

    Parameters
    ----------
    returns : xr.DataArray, (time, ...)
        Simple returns (NaN = no observation); other dimensions (``instrument``, ``portfolio``) are kept.
    required_return : float or xr.DataArray, (time, ...), default 0.0
        The minimum acceptable return (MAR) per period.
    periods_per_year : float, default 252
        Observations a year (252 daily, 12 monthly).

    Returns
    -------
    xr.DataArray, (...)
        One value per series, ``returns`` without ``time``.
    """
    _checked(returns, periods_per_year)
    below = cast(xr.DataArray, np.minimum(returns - required_return, 0.0))  # numpy's stubs say ndarray
    return np.sqrt((below ** 2).mean(TIME, skipna=_observed(below)[0])) * np.sqrt(periods_per_year)


def sortino(returns: xr.DataArray, required_return: float | xr.DataArray = 0.0,
            periods_per_year: float = 252) -> xr.DataArray:
    """Sortino ratio: ``mean(r - MAR) * periods_per_year / downside_risk(r, MAR)``.

    ``required_return`` (MAR) is per period. NaN with fewer than 2 observations or a zero
    downside risk (empyrical: +inf).

    Parameters
    ----------
    returns : xr.DataArray, (time, ...)
        Simple returns (NaN = no observation); other dimensions (``instrument``, ``portfolio``) are kept.
    required_return : float or xr.DataArray, (time, ...), default 0.0
        The minimum acceptable return (MAR) per period.
    periods_per_year : float, default 252
        Observations a year (252 daily, 12 monthly).

    Returns
    -------
    xr.DataArray, (...)
        One value per series, ``returns`` without ``time``.
    """
    _checked(returns, periods_per_year)
    excess = returns - required_return
    skipna, n = _observed(excess)
    risk = downside_risk(returns, required_return, periods_per_year)
    return _ratio(excess.mean(TIME, skipna=skipna) * periods_per_year, risk, n >= 2)


def _drawdown_kernel(values, axis: int = -1):
    """Drawdown along ``axis`` of a NumPy or dask array of returns (NaN as 0), start value 1 a peak."""
    if hasattr(values, "dask"):
        import dask.array as da

        wealth = da.cumprod(1 + da.where(da.isnan(values), 0.0, values), axis=axis)
        peak = da.reductions.cumreduction(np.fmax.accumulate, np.fmax, -np.inf, wealth, axis=axis,
                                          dtype=wealth.dtype)
        return wealth / da.maximum(peak, 1.0) - 1
    wealth = np.where(np.isnan(values), 1.0, values + 1.0)
    np.cumprod(wealth, axis=axis, out=wealth)
    peak = np.fmax.accumulate(wealth, axis=axis)
    np.maximum(peak, 1.0, out=peak)
    wealth /= peak
    wealth -= 1
    return wealth


def drawdown(returns: xr.DataArray) -> xr.DataArray:
    """Drawdown series: ``D_t = W_t / max(1, max_{s<=t} W_s) - 1`` with ``W_t = prod_{s<=t}(1 + r_s)``.

    The starting wealth 1 is a peak (as empyrical's ``drawdown_series``); NaN returns are flat
    days (the drawdown is carried). Values are <= 0.

    Parameters
    ----------
    returns : xr.DataArray, (time, ...)
        Simple returns (NaN = no observation); other dimensions (``instrument``, ``portfolio``) are kept.

    Returns
    -------
    xr.DataArray, (time, ...)
        The drawdown at each stamp (<= 0), labelled like ``returns``.
    """
    _checked(returns)
    out = xr.apply_ufunc(_drawdown_kernel, returns, input_core_dims=[[TIME]], output_core_dims=[[TIME]],
                         dask="allowed")
    return out.transpose(*returns.dims)


def max_drawdown(returns: xr.DataArray) -> xr.DataArray:
    """Maximum drawdown: ``min_t D_t`` of :func:`drawdown` (a negative fraction; empyrical's
    ``max_drawdown``). NaN for an empty or all-NaN series.

    Parameters
    ----------
    returns : xr.DataArray, (time, ...)
        Simple returns (NaN = no observation); other dimensions (``instrument``, ``portfolio``) are kept.

    Returns
    -------
    xr.DataArray, (...)
        One value per series, ``returns`` without ``time``.
    """
    _checked(returns)
    return drawdown(returns).min(TIME).where(_observed(returns)[1] > 0)


def summary(returns: xr.DataArray, periods_per_year: float = 252) -> xr.Dataset:
    """All statistics of this module in one Dataset (one value per series).

    Variables: ``cumulative_return`` (linked, NaN skipped), ``annual_return``,
    ``annual_volatility``, ``sharpe``, ``sortino``, ``downside_risk``, ``max_drawdown``,
    ``observations``; zero risk-free rate and required return. The drawdown series is
    :func:`drawdown`.

    Parameters
    ----------
    returns : xr.DataArray, (time, ...)
        Simple returns (NaN = no observation); other dimensions (``instrument``, ``portfolio``) are kept.
    periods_per_year : float, default 252
        Observations a year (252 daily, 12 monthly).

    Returns
    -------
    xr.Dataset, (...)
        One variable per statistic, each one value per series (``returns`` without ``time``).
    """
    _checked(returns, periods_per_year)
    return xr.Dataset({
        "cumulative_return": link(returns),
        "annual_return": annual_return(returns, periods_per_year),
        "annual_volatility": annual_volatility(returns, periods_per_year),
        "sharpe": sharpe(returns, 0.0, periods_per_year),
        "sortino": sortino(returns, 0.0, periods_per_year),
        "downside_risk": downside_risk(returns, 0.0, periods_per_year),
        "max_drawdown": max_drawdown(returns),
        "observations": returns.count(TIME),
    })
