"""Currency attribution for a base-currency investor: the Ankrim-Hensel model (Ankrim & Hensel 1994,
"Multicurrency performance attribution", *Financial Analysts Journal* 50(2); as set out in Bacon
2008, *Practical Portfolio Performance Measurement and Attribution*, 2nd ed., ch. 6).

The groups (``segment``) are the currency markets, by default the ``currency`` coordinate of the
instruments. Per group ``i``: local returns ``l_i`` (portfolio) and ``L_i`` (benchmark), the
currency return ``c_i = S_1 / S_0 - 1`` (base-currency value of one unit of the group's currency),
the forward premium ``d_i = F / S_0 - 1`` (0 if not given, or for a group it omits), so the currency surprise is
``e_i = c_i - d_i`` and a forward contract bought at ``F`` returns ``e_i / (1 + d_i)``. Base-currency
returns are ``r_i = (1 + l_i)(1 + c_i) - 1`` (likewise ``b_i``). Optional forward-contract weights
``f_i`` / ``F_i`` (a currency overlay; each side's must have the same sum, normally 0) add
``sum f_i e_i / (1 + d_i)`` to the portfolio's return. With ``b_L = sum W_i (b_i - c_i)``::

    allocation   A_i = (w_i - W_i)(b_i - c_i - b_L)            (Brinson-Fachler; BHB: without b_L)
    selection    S_i = W_i (r_i - b_i)
    interaction  I_i = (w_i - W_i)(r_i - b_i)
    currency     C_i = (w_i - W_i)(e_i - e) + (f_i - F_i)(e_i / (1 + d_i) - e),  e = sum W_i e_i
    forward      D_i = (w_i - W_i)(d_i - d),                    d = sum W_i d_i

(BHB: without ``e`` and ``d``). ``variant`` folds interaction as in
:func:`toolkit.analytics.attribution.brinson`. The five effects add up, per group and in total,
to ``active = r - b`` in the base currency (Bacon 2008 Table 6.2 reproduces to its printed
precision). Groups and zero weights follow :mod:`toolkit.analytics.attribution`; a held group
without a currency return, or currency data not on the weights' periods, is refused. Periods link
with :func:`toolkit.analytics.linking.link` (any arithmetic method).
"""

from __future__ import annotations

from typing import cast

import numpy as np
import xarray as xr

from toolkit.analytics.attribution import (
    WHAT,
    Segments,
    _check_model,
    _labels_of,
    _used,
    aggregate,
    finish,
    group_returns,
    membership,
    prepare,
    split,
)
from toolkit.analytics.returns import check_array
from toolkit.errors import Problems
from toolkit.schema import INSTRUMENT, SEGMENT, TIME

EFFECTS = ("allocation", "selection", "interaction", "currency", "forward_premium", "total")


def _per_group(x: xr.DataArray | None, name: str, groups: xr.DataArray, used: np.ndarray, base: str | None,
               reference: xr.DataArray, problems: Problems, required: bool = False,
               weights: bool = False) -> xr.DataArray:
    """``x`` over the groups, 0 for ``base`` and where not given; a problem for periods other than
    the weights', if ``required`` for every held group it lacks, and for ``weights`` on a label
    that is no group (they would be lost)."""
    labels = groups[SEGMENT]
    if x is None:
        return xr.zeros_like(labels, dtype=float)
    check_array(x, name, (SEGMENT,), problems)
    if problems:
        return xr.zeros_like(labels, dtype=float)
    if TIME in x.dims and TIME in reference.dims and not x.indexes[TIME].equals(reference.indexes[TIME]):
        problems.add(f"{name}.time", "must have the same periods as the weights")
    known = set(x.indexes[SEGMENT])
    for label, held in zip(labels.values, used):
        if required and held and label != base and label not in known:
            problems.add(f"{name}[segment={label}]", "is missing for a held currency; give its return "
                                                     "(or name it the base currency)")
    for label in set(known) - set(labels.values) if weights else ():
        problems.add(f"{name}[segment={label}]", "is not a group of the holdings; name the groups' labels")
    out = x.reindex({SEGMENT: labels.values}).fillna(0.0)
    return out.where(labels != base, 0.0) if base is not None else out


def ankrim_hensel(portfolio_weights: xr.DataArray, portfolio_local_returns: xr.DataArray,
                  benchmark_weights: xr.DataArray, *, currency_returns: xr.DataArray,
                  benchmark_local_returns: xr.DataArray | None = None, forward_premium: xr.DataArray | None = None,
                  portfolio_forwards: xr.DataArray | None = None, benchmark_forwards: xr.DataArray | None = None,
                  segments: Segments = "currency", base: str | None = None, model: str = "brinson_fachler",
                  variant: str | None = None) -> xr.Dataset:
    """Ankrim-Hensel attribution of the base-currency active return (see the module docstring).

    Weights and local returns are over ``instrument`` (and any other dimensions); ``currency_returns``,
    ``forward_premium`` and the forward weights are over ``segment`` (the group labels, e.g.
    currency codes) and may carry ``time``. ``base`` names the group in the base currency
    (``c = d = 0``). Returns, over ``segment``: ``allocation``, ``selection``, ``interaction``,
    ``currency``, ``forward_premium``, ``total``; group ``portfolio_weight``, ``benchmark_weight``,
    ``portfolio_forward_weight``, ``benchmark_forward_weight``, local and base returns
    (``portfolio_local_return``, ``portfolio_return``, ...), ``currency_return``,
    ``forward_return``; and ``portfolio_total``, ``benchmark_total``, ``active`` (base currency).

    Parameters
    ----------
    portfolio_weights : xr.DataArray, (instrument, ...)
        Beginning-of-period weights, summing to 1; further dimensions (``time``, ``portfolio``) are kept.
    portfolio_local_returns : xr.DataArray, (instrument, ...)
        The instruments' returns in their own currency.
    benchmark_weights : xr.DataArray, (instrument, ...)
        The benchmark's weights, summing to 1.
    currency_returns : xr.DataArray, (segment, ...)
        ``c_i = S_1 / S_0 - 1`` per currency group, optionally over ``time``.
    benchmark_local_returns : xr.DataArray, (instrument, ...), optional
        The benchmark's local returns (default: the portfolio's).
    forward_premium : xr.DataArray, (segment, ...), optional
        ``d_i = F / S_0 - 1`` (default 0).
    portfolio_forwards, benchmark_forwards : xr.DataArray, (segment, ...), optional
        Forward-contract weights of each side (a currency overlay).
    segments : str, mapping, xr.DataArray (instrument,) or None, default "currency"
        The currency grouping of the instruments.
    base : str, optional
        The group in the base currency (``c = d = 0``).
    model : {"brinson_fachler", "brinson_hood_beebower"}, default "brinson_fachler"
        The allocation formula.
    variant : {"three_effect", "top_down", "bottom_up"} or None
        Where interaction goes.

    Returns
    -------
    xr.Dataset
        The five effects, ``total`` and the group figures over ``(segment, ...)``;
        ``portfolio_total``, ``benchmark_total``, ``active`` over ``(...)``.
    """
    variant = _check_model(model, variant, False)
    w, lr, W, L = prepare(  # weights and local returns: portfolio (w, lr), benchmark (W, L)
        portfolio_weights, portfolio_local_returns, benchmark_weights, benchmark_local_returns)
    instruments = w.indexes[INSTRUMENT]
    groups = membership(_labels_of(segments, instruments, (portfolio_weights, benchmark_weights,
                                                           portfolio_local_returns, L)), instruments, _used(w, W))
    (wp, lp), (wb, lb) = aggregate(w, lr, groups), aggregate(W, L, groups)
    used = ((wp != 0) | (wb != 0)).any([d for d in wp.dims if d != SEGMENT]).compute().values
    problems = Problems()
    c = _per_group(currency_returns, "currency_returns", groups, used, base, wp, problems, required=True)
    d = _per_group(forward_premium, "forward_premium", groups, used, base, wp, problems)
    fp, fb = (_per_group(f, name, groups, used, None, wp, problems, weights=True) for f, name in
              ((portfolio_forwards, "portfolio_forwards"), (benchmark_forwards, "benchmark_forwards")))
    if not problems and bool((abs(fp.sum(SEGMENT) - fb.sum(SEGMENT)) > 1e-9).any()):
        problems.add("portfolio_forwards", "sum differently from benchmark_forwards; a forward overlay nets to 0")
    problems.raise_if_any(WHAT)
    C, D = lp * (1 + c) + wp * c, lb * (1 + c) + wb * c  # base contributions: w ((1 + l)(1 + c) - 1)
    surprise, forward = c - d, (c - d) / (1 + d)
    bf = model == "brinson_fachler"
    local = (D - wb * c).sum(SEGMENT)
    parts = split(wp, wb, C, D, c + local if bf else c, variant)
    e, dd = ((wb * surprise).sum(SEGMENT), (wb * d).sum(SEGMENT)) if bf else (0.0, 0.0)
    parts["currency"] = (wp - wb) * (surprise - e) + (fp - fb) * (forward - e)
    parts["forward_premium"] = (wp - wb) * (d - dd)
    r, b = C.sum(SEGMENT) + (fp * forward).sum(SEGMENT), D.sum(SEGMENT) + (fb * forward).sum(SEGMENT)
    total = cast(xr.DataArray, sum(parts[k] for k in EFFECTS[:-1]))  # 0 + DataArray: a DataArray
    out = {**parts, "total": total,
           "portfolio_weight": wp, "benchmark_weight": wb, "active_weight": wp - wb,
           "portfolio_forward_weight": fp + 0 * wp, "benchmark_forward_weight": fb + 0 * wp,
           "portfolio_local_return": group_returns(wp, lp), "benchmark_local_return": group_returns(wb, lb),
           "currency_return": c + 0 * wp, "forward_return": forward + 0 * wp,
           "portfolio_contribution": C, "benchmark_contribution": D}
    return finish(out, {"portfolio_total": r, "benchmark_total": b, "active": r - b},
                  {"model": model, "variant": variant, "geometric": 0, "currency_model": "ankrim_hensel",
                   "effects": " ".join(EFFECTS)})
