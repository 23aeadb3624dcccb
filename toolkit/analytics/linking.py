"""Multi-period attribution: link per-period effects over a range so that they add up to its active return.

Input is the result of :func:`toolkit.analytics.attribution.brinson` (or ``hierarchical``, or
:func:`toolkit.analytics.currency.ankrim_hensel`) with a ``time`` dimension: per-period effects
``E_t`` over ``(segment, time, ...)`` and the period totals ``r_t`` (``portfolio_total``) and
``b_t`` (``benchmark_total``). Every other dimension (``portfolio``, ...) is kept; all methods are
closed forms over ``time`` (cumulative sums and products), dask-friendly, no loop over periods.

With ``R = prod(1 + r_t) - 1`` and ``B = prod(1 + b_t) - 1`` over the range, each method returns
adjusted per-period effects ``E'_t`` whose sum over time and segments is ``R - B`` (Bacon 2008,
*Practical Portfolio Performance Measurement and Attribution*, 2nd ed., ch. 8):

- ``carino`` (Carino 1999): ``E'_t = E_t k_t / K`` with ``k_t = ln((1 + r_t)/(1 + b_t)) / (r_t - b_t)``
  and ``K = ln((1 + R)/(1 + B)) / (R - B)`` (limits ``1/(1 + b_t)``, ``1/(1 + B)`` at equality).
- ``menchero`` (Menchero 2000): ``E'_t = E_t (M + a_t)``,
  ``M = ((R - B)/T) / ((1 + R)^(1/T) - (1 + B)^(1/T))`` (computed as the mean of
  ``(1 + R)^((T-1-j)/T) (1 + B)^(j/T)``, j = 0..T-1, exact at ``R = B``),
  ``a_t = (R - B - M sum_s (r_s - b_s)) (r_t - b_t) / sum_s (r_s - b_s)^2`` (0 if all ``r_t = b_t``).
- ``grap`` (GRAP 1997): ``E'_t = E_t prod_{s<t}(1 + r_s) prod_{s>t}(1 + b_s)``.
- ``frongello`` (Frongello 2002): the recursion ``E'_t = E_t prod_{s<t}(1 + r_s) + b_t sum_{s<t} E'_s``
  (per segment and effect), solved in closed form; its sums over time equal GRAP's.
- ``geometric`` for geometric attribution (``brinson(..., geometric=True)``): effects compound,
  ``1 + A = prod_t (1 + A_t)`` for allocation and selection, and
  ``(1 + A)(1 + S) = (1 + R)/(1 + B)``; a segment's share of a compounded effect is its
  logarithmic share, ``E'_t = E_t l(A_t) / l(A)`` with ``l(x) = ln(1 + x)/x``.

:func:`link` returns the linked effects (summed over ``time``) with ``portfolio_total = R``,
``benchmark_total = B`` and ``active`` (``R - B``; geometric: ``(1 + R)/(1 + B) - 1``);
:func:`adjusted` the per-period ``E'_t`` (Bacon's "adjusted" tables).
"""

from __future__ import annotations

from typing import cast

import numpy as np
import xarray as xr

from toolkit.analytics.returns import check_choice
from toolkit.analytics.risk import series_names
from toolkit.errors import DataError, Problems
from toolkit.schema import SEGMENT, TIME

METHODS = ("carino", "menchero", "grap", "frongello", "geometric")
WHAT = "linking request"


def _check(attribution: xr.Dataset, method: str) -> tuple[list[str], xr.DataArray, xr.DataArray]:
    problems = Problems()
    check_choice(method, METHODS, "method", problems)
    if not isinstance(attribution, xr.Dataset) or "effects" not in attribution.attrs:
        problems.add("attribution", "expected the Dataset of an attribution function (brinson, hierarchical, ...)")
        problems.raise_if_any(WHAT)
    if TIME not in attribution.dims or attribution.sizes[TIME] == 0:
        problems.add("attribution.time", "has no periods to link; attribute a range of periods first")
    geometric = bool(attribution.attrs.get("geometric"))
    if geometric != (method == "geometric"):
        problems.add("method", "geometric effects link only by 'geometric'" if geometric
                     else "'geometric' links geometric attribution; use brinson(..., geometric=True) "
                          "or an arithmetic method")
    problems.raise_if_any(WHAT)
    r, b = attribution["portfolio_total"], attribution["benchmark_total"]
    for name, x in (("portfolio_total", r), ("benchmark_total", b)):
        bad = x.isnull() | (x <= -1)
        if bool(bad.any()):
            raise DataError(f"attribution.{name} is missing or -100% or worse for {series_names(bad)}; "
                            f"linking needs 1 + return > 0 in every period.")
    return attribution.attrs["effects"].split(), r, b


def _log_ratio(x: xr.DataArray) -> xr.DataArray:
    """``ln(1 + x) / x``, 1 at ``x = 0`` (no division by zero)."""
    nonzero = x != 0
    return xr.where(nonzero, np.log1p(x) / x.where(nonzero, 1.0), 1.0)


def _carino(r: xr.DataArray, b: xr.DataArray, R: xr.DataArray, B: xr.DataArray) -> xr.DataArray:
    k = _log_ratio((r - b) / (1 + b)) / (1 + b)
    return k / (_log_ratio((R - B) / (1 + B)) / (1 + B))


def _menchero(r: xr.DataArray, b: xr.DataArray, R: xr.DataArray, B: xr.DataArray) -> xr.DataArray:
    periods = r.sizes[TIME]
    j = xr.DataArray(np.arange(periods, dtype=float), dims="_j")
    # numpy's ufuncs give a DataArray for a DataArray (__array_ufunc__); their stubs say ndarray
    M = cast(xr.DataArray, np.exp(((periods - 1 - j) * np.log1p(R) + j * np.log1p(B)) / periods)).mean("_j")
    d = r - b
    squares = (d * d).sum(TIME)
    alpha = (R - B - M * d.sum(TIME)) * d / squares.where(squares != 0, 1.0)
    return M + alpha.where(squares != 0, 0.0)


def _grap(r: xr.DataArray, b: xr.DataArray) -> xr.DataArray:
    before = (1 + r).cumprod(TIME) / (1 + r)
    after = (1 + b).prod(TIME) / (1 + b).cumprod(TIME)
    return before * after


def _frongello(effect: xr.DataArray, r: xr.DataArray, b: xr.DataArray) -> xr.DataArray:
    before = (1 + r).cumprod(TIME) / (1 + r)  # prod_{s<t}(1 + r_s)
    grown = (1 + b).cumprod(TIME)  # B_t = prod_{s<=t}(1 + b_s)
    scaled = effect * before / grown
    earlier = scaled.cumsum(TIME) - scaled  # sum_{u<t} E_u P_{u-1} / B_u
    return effect * before + b * (grown / (1 + b)) * earlier


def _geometric(attribution: xr.Dataset, name: str) -> xr.DataArray:
    effect = attribution[name]
    per_period = effect.sum(SEGMENT, skipna=False)
    linked = (1 + per_period).prod(TIME) - 1
    return effect * _log_ratio(per_period) / _log_ratio(linked)


def adjusted(attribution: xr.Dataset, method: str = "carino") -> xr.Dataset:
    """The per-period effects ``E'_t`` of ``method`` (see the module docstring), over the same
    dimensions as ``attribution``'s effects; their sum over ``time`` is :func:`link`'s result.

    Parameters
    ----------
    attribution : xr.Dataset, (segment, time, ...)
        Per-period effects with ``portfolio_total`` and ``benchmark_total`` over ``(time, ...)``, as
        :func:`toolkit.analytics.attribution.brinson` gives them.
    method : {"carino", "menchero", "grap", "frongello", "geometric"}, default "carino"
        The linking method.

    Returns
    -------
    xr.Dataset, (segment, time, ...)
        The adjusted per-period effects ``E'_t``.
    """
    names, r, b = _check(attribution, method)
    R, B = (1 + r).prod(TIME) - 1, (1 + b).prod(TIME) - 1
    out = {}
    for name in names:
        effect = attribution[name]
        if method == "carino":
            out[name] = effect * _carino(r, b, R, B)
        elif method == "menchero":
            out[name] = effect * _menchero(r, b, R, B)
        elif method == "grap":
            out[name] = effect * _grap(r, b)
        elif method == "frongello":
            out[name] = _frongello(effect, r, b)
        elif name != "total":
            out[name] = _geometric(attribution, name)
    if method == "geometric":
        out["total"] = cast(xr.DataArray, sum(out[n] for n in names if n != "total"))  # 0 + DataArray: a DataArray
    return xr.Dataset({n: out[n].transpose(*attribution[n].dims) for n in names}, attrs=dict(attribution.attrs))


def link(attribution: xr.Dataset, method: str = "carino") -> xr.Dataset:
    """Effects linked over the whole ``time`` range by ``method``; the result drops ``time``.

    Arithmetic methods: every effect and segment adds up, ``sum(total) = R - B``. ``geometric``:
    ``(1 + sum allocation)(1 + sum selection) = (1 + R)/(1 + B)``. Also returns ``portfolio_total``
    (``R``), ``benchmark_total`` (``B``), ``active`` and the ``method``. Carino, Menchero and GRAP scale
    each period by one factor ``k_t``, so their sums ``sum_t E_t k_t`` are one contraction over time
    (``xr.dot``) without the per-period table of :func:`adjusted`.

    Parameters
    ----------
    attribution : xr.Dataset, (segment, time, ...)
        Per-period effects with ``portfolio_total`` and ``benchmark_total`` over ``(time, ...)``, as
        :func:`toolkit.analytics.attribution.brinson` gives them.
    method : {"carino", "menchero", "grap", "frongello", "geometric"}, default "carino"
        The linking method.

    Returns
    -------
    xr.Dataset, (segment, ...)
        The linked effects (``time`` dropped), with ``portfolio_total``, ``benchmark_total`` and
        ``active`` over ``(...)``.
    """
    if method in ("carino", "menchero", "grap"):  # E' = E k_t: sum_t E_t k_t in one contraction, no E' array
        names, r, b = _check(attribution, method)
        R, B = (1 + r).prod(TIME) - 1, (1 + b).prod(TIME) - 1
        factor = {"carino": lambda: _carino(r, b, R, B), "menchero": lambda: _menchero(r, b, R, B),
                  "grap": lambda: _grap(r, b)}[method]()
        out = xr.Dataset({n: xr.dot(attribution[n], factor, dim=TIME).transpose(
            *(d for d in attribution[n].dims if d != TIME), ...) for n in names}, attrs=dict(attribution.attrs))
    else:
        out = adjusted(attribution, method).sum(TIME, skipna=False)
        r, b = attribution["portfolio_total"], attribution["benchmark_total"]
        R, B = (1 + r).prod(TIME) - 1, (1 + b).prod(TIME) - 1
    out["portfolio_total"], out["benchmark_total"] = R, B
    out["active"] = (1 + R) / (1 + B) - 1 if method == "geometric" else R - B
    out.attrs["linking"] = method
    return out
