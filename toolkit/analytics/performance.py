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

Computation: every statistic here comes from one compiled walk along time per series
(:func:`toolkit.analytics.kernels.path_statistics`: count, product, mean, squared deviations,
extremes, shortfall and maximum drawdown together), through ``xr.apply_ufunc`` so that other
dimensions are kept and dask inputs stay lazy; :func:`summary` takes that walk once for all.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import xarray as xr

from toolkit.analytics.kernels import drawdown_path, path_statistics
from toolkit.analytics.returns import check_array
from toolkit.errors import Problems

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


def _stats(returns: xr.DataArray, moments: bool = True) -> xr.Dataset:
    """The compiled one-walk figures of ``returns`` along time (:func:`kernels.path_statistics`), by name."""
    return path_statistics(returns, moments).to_dataset("statistic")


def _cagr(stats: xr.Dataset, periods_per_year: float) -> xr.DataArray:
    n = stats["count"]
    return (stats["growth"] ** (periods_per_year / n.where(n > 0)) - 1).where(n > 0)


def _volatility(stats: xr.Dataset, periods_per_year: float, ddof: int) -> xr.DataArray:
    n = stats["count"]
    with _quiet():
        std = np.sqrt(stats["squares"] / (n - ddof).where(n > ddof))
    return std * np.sqrt(periods_per_year)


def _downside(stats: xr.Dataset, periods_per_year: float) -> xr.DataArray:
    n = stats["count"]
    return np.sqrt(stats["shortfall"] / n.where(n > 0)) * np.sqrt(periods_per_year)


def _sharpe(stats: xr.Dataset, periods_per_year: float) -> xr.DataArray:
    n = stats["count"]
    defined = (n >= 2) & (stats["high"] - stats["low"] > 0)
    return _ratio(stats["mean"], _volatility(stats, 1.0, 1), defined) * np.sqrt(periods_per_year)


def _sortino(stats: xr.Dataset, periods_per_year: float) -> xr.DataArray:
    return _ratio(stats["mean"] * periods_per_year, _downside(stats, periods_per_year), stats["count"] >= 2)


def _like(result: xr.DataArray, returns: xr.DataArray) -> xr.DataArray:
    """``result`` with the name and attributes of ``returns``, as the reductions of xarray keep them."""
    return result.rename(returns.name).assign_attrs(returns.attrs)


def _less(returns: xr.DataArray, rate: float | xr.DataArray) -> xr.DataArray:
    """``returns - rate``, without a pass over the array when ``rate`` is the number 0."""
    if not isinstance(rate, xr.DataArray) and rate == 0:
        return returns
    return returns - rate


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
    return _like(_cagr(_stats(returns, moments=False), periods_per_year), returns)


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
    return _like(_volatility(_stats(returns), periods_per_year, ddof), returns)


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
    return _like(_sharpe(_stats(_less(returns, risk_free)), periods_per_year), returns)


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
    return _like(_downside(_stats(_less(returns, required_return), moments=False), periods_per_year), returns)


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
    return _like(_sortino(_stats(_less(returns, required_return), moments=False), periods_per_year), returns)


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
    return drawdown_path(returns).transpose(*returns.dims)


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
    return _like(_stats(returns, moments=False)["max_drawdown"], returns)


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
    stats = _stats(returns)
    n = stats["count"]
    return xr.Dataset({name: value.assign_attrs(returns.attrs) for name, value in {
        "cumulative_return": (stats["growth"] - 1).where(n > 0),
        "annual_return": _cagr(stats, periods_per_year),
        "annual_volatility": _volatility(stats, periods_per_year, 1),
        "sharpe": _sharpe(stats, periods_per_year),
        "sortino": _sortino(stats, periods_per_year),
        "downside_risk": _downside(stats, periods_per_year),
        "max_drawdown": stats["max_drawdown"],
        "observations": n.astype(np.int64),
    }.items()})
