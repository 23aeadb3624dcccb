"""Performance attribution: Brinson-Fachler and Brinson-Hood-Beebower, arithmetic and geometric, by any
grouping of instruments, one level or a hierarchy of levels, and risk attribution by group.

Inputs are beginning-of-period **weights** (fractions) and simple **returns** over ``instrument``
and any further dimensions (``time``, ``portfolio``, ...), which every result keeps: one call
attributes 10,000 portfolios over 120 months against one benchmark (or against other portfolios:
the benchmark weights may carry the ``portfolio`` dimension too). Dask-backed inputs stay lazy
(the checks compute their small reductions in one pass). Link the periods with
:mod:`toolkit.analytics.linking`; split off currency with :mod:`toolkit.analytics.currency`.

Conventions (Bacon 2008, *Practical Portfolio Performance Measurement and Attribution*, 2nd ed.,
ch. 5, and its multi-level attribution):

- **Groups** (dimension ``segment``) come from a coordinate on ``instrument`` (``"sector"``), a
  mapping instrument -> label, a DataArray over ``instrument``, or None (one group per instrument).
  Per group ``w_i``, ``W_i`` are the portfolio and benchmark weights, ``r_i = sum w r / w_i`` and
  ``b_i = sum W b / W_i`` their returns; ``r = sum w_i r_i``, ``b = sum W_i b_i`` the totals.
- **A group with zero portfolio weight** has no return of its own: ``r_i`` is reported as NaN and
  the effects use ``b_i`` for it (its selection and interaction are 0). A group only the portfolio
  holds (``W_i = 0``) likewise uses ``r_i`` as ``b_i``, so its whole contribution is allocation.
  Nothing is ever divided by zero.
- **Models**: Brinson-Fachler (1985) allocation ``A_i = (w_i - W_i)(b_i - b)``; Brinson, Hood &
  Beebower (1986) ``A_i = (w_i - W_i) b_i``. Selection ``S_i = W_i (r_i - b_i)``, interaction
  ``I_i = (w_i - W_i)(r_i - b_i)``; ``total_i = A_i + S_i + I_i`` and ``sum_i total_i = r - b``
  (``active``). The two models differ per group, never in total.
- **Variants** (Bacon 2008 Tables 5.2-5.4): ``"three_effect"`` reports interaction;
  ``"top_down"`` (allocation decided first) folds it into selection, ``S_i = w_i (r_i - b_i)``;
  ``"bottom_up"`` (stock picking first) folds it into allocation, ``A_i = (w_i - W_i)(r_i - b)``
  (BHB: ``(w_i - W_i) r_i``). ``interaction`` is then 0.
- **Geometric** (Bacon 2008 ch. 5, after Burnie, Knowles & Teder 1998; Brinson-Fachler based,
  top-down): with the semi-notional ``b_S = sum_i w_i b_i``,
  ``A_i = (w_i - W_i)((1 + b_i)/(1 + b) - 1)`` and ``S_i = w_i (r_i - b_i)/(1 + b_S)``; they
  compound, ``(1 + sum A)(1 + sum S) = (1 + r)/(1 + b)``, and ``active`` is ``(1 + r)/(1 + b) - 1``.
- **Checks**: NaN weights mean "not held" (0). Each side's weights must sum to 1 (within 1e-6)
  in every period; an instrument held without a return, a period with no holdings, unaligned time
  labels, or an instrument without a group raise :class:`ValidationError`/:class:`DataError`.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import dask
import numpy as np
import pandas as pd
import xarray as xr

from toolkit.analytics.returns import check_array, check_choice
from toolkit.analytics.risk import along, horizon_returns, period_ends, series_names
from toolkit.analytics.risk_portfolio import volatility_contributions
from toolkit.errors import DataError, Problems
from toolkit.schema import HORIZONS, INSTRUMENT, SEGMENT, TIME

MODELS = ("brinson_fachler", "brinson_hood_beebower")
VARIANTS = ("three_effect", "top_down", "bottom_up")
EFFECTS = ("allocation", "selection", "interaction", "total")
#: how far a side's weights may sum from 1 in a period
WEIGHT_TOLERANCE = 1e-6
#: how a hierarchy's node labels join the labels of their levels
PATH = " / "
WHAT = "attribution request"

Segments = str | Mapping[Hashable, Hashable] | xr.DataArray | None


# --------------------------------------------------------------------------- inputs


def _aligned_time(arrays: dict[str, xr.DataArray], problems: Problems) -> None:
    timed = [(name, a.indexes[TIME]) for name, a in arrays.items() if TIME in a.dims]
    for name, index in timed[1:]:
        first, reference = timed[0]
        if not index.equals(reference):
            extra = index.difference(reference)
            hint = f"has {extra[0]} which {first} lacks" if len(extra) else f"lacks dates that {first} has"
            problems.add(f"{name}.time", f"{hint}; give weights and returns on the same periods")


def _weights_ok(totals: xr.DataArray, name: str, problems: Problems) -> None:
    """Notes the periods whose (computed) weight ``totals`` are not 1."""
    off = abs(totals - 1) > WEIGHT_TOLERANCE
    if not bool(off.any()):
        return
    empty = bool((totals.where(off) == 0).any())
    what = ("hold nothing in a period; drop the empty periods or give the holdings" if empty
            else "sum to something other than 1; weights are fractions that sum to 1 (include cash)")
    problems.add(f"{name}[{series_names(off)}]" if off.ndim else name, what)


def prepare(portfolio_weights: xr.DataArray, portfolio_returns: xr.DataArray, benchmark_weights: xr.DataArray,
            benchmark_returns: xr.DataArray | None = None) -> tuple[xr.DataArray, ...]:
    """Check and align the four inputs on the union of their instruments (weights 0 where absent).

    Returns ``(w, r, W, b)``: weights with NaN as 0, returns with NaN only where nothing is held.

    Parameters
    ----------
    portfolio_weights : xr.DataArray, (instrument, ...)
        Beginning-of-period weights (NaN = not held), summing to 1 per period and portfolio; further
        dimensions (``time``, ``portfolio``, ...) are kept.
    portfolio_returns : xr.DataArray, (instrument, ...)
        The portfolio's instruments' simple returns over the period(s).
    benchmark_weights : xr.DataArray, (instrument, ...)
        The benchmark's weights, summing to 1; may carry ``portfolio`` too.
    benchmark_returns : xr.DataArray, (instrument, ...), optional
        The benchmark's instruments' returns (default: ``portfolio_returns``).

    Returns
    -------
    tuple of xr.DataArray, each (instrument, ...)
        ``(w, r, W, b)`` on the union of the instruments.
    """
    w, r, W, b, _ = _checked(portfolio_weights, portfolio_returns, benchmark_weights, benchmark_returns)
    return w, r, W, b


def _checked(portfolio_weights: xr.DataArray, portfolio_returns: xr.DataArray, benchmark_weights: xr.DataArray,
             benchmark_returns: xr.DataArray | None
             ) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray, xr.DataArray, np.ndarray]:
    """:func:`prepare`'s ``(w, r, W, b)`` and the instruments either side holds (as :func:`_used`)."""
    if benchmark_returns is None:
        benchmark_returns = portfolio_returns
    arrays = {"portfolio_weights": portfolio_weights, "portfolio_returns": portfolio_returns,
              "benchmark_weights": benchmark_weights, "benchmark_returns": benchmark_returns}
    problems = Problems()
    for name, a in arrays.items():
        check_array(a, name, (INSTRUMENT,), problems)
    problems.raise_if_any(WHAT)
    _aligned_time(arrays, problems)
    held = pd.Index(portfolio_weights.indexes[INSTRUMENT]).append(pd.Index(benchmark_weights.indexes[INSTRUMENT]))
    instruments = held.unique()
    return _prepared(arrays, instruments, problems)


def _prepared(arrays: dict[str, xr.DataArray], instruments: pd.Index,
              problems: Problems) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray, xr.DataArray, np.ndarray]:
    """:func:`prepare`'s checks, all reduced to small arrays and computed in one pass over dask-backed
    inputs (one ``dask.compute``); also the instruments either side holds (as :func:`_used`)."""
    w, W = (_on(arrays[f"{x}_weights"], instruments, 0.0) for x in ("portfolio", "benchmark"))
    r, b = (_on(arrays[f"{x}_returns"], instruments) for x in ("portfolio", "benchmark"))
    sides = (("portfolio", w, r), ("benchmark", W, b))
    gaps = [returns.isnull() & (weights != 0) for _, weights, returns in sides]
    held, totals, gap_any = dask.compute([_held(weights) for _, weights, _ in sides],
                                         [weights.sum(INSTRUMENT, skipna=False) for _, weights, _ in sides],
                                         [gap.any() for gap in gaps])
    for (name, _, _), used, total in zip(sides, held, totals):
        known = arrays[f"{name}_returns"].indexes[INSTRUMENT]
        for label in instruments[used.values & ~instruments.isin(known)]:
            problems.add(f"{name}_returns[instrument={label}]", "is missing for a held instrument; load its history")
        _weights_ok(total, f"{name}_weights", problems)
    problems.raise_if_any(WHAT)
    for (name, _, _), gap, found in zip(sides, gaps, gap_any):
        if bool(found):  # only then the full mask, to name the series
            raise DataError(f"{name}_returns has no return (NaN) for a held instrument: {series_names(gap)}; "
                            f"fill the history or drop the holding.")
    return w, r, W, b, held[0].values | held[1].values


def _held(weights: xr.DataArray) -> xr.DataArray:
    """Whether each instrument is held (non-zero) anywhere in ``weights``: (instrument,)."""
    return (weights != 0).any([d for d in weights.dims if d != INSTRUMENT])


def _on(x: xr.DataArray, instruments: pd.Index, fill: float | None = None) -> xr.DataArray:
    """``x`` over ``instruments`` (reindexed only if needed), NaN replaced by ``fill`` when given."""
    if not x.indexes[INSTRUMENT].equals(instruments):
        x = x.reindex({INSTRUMENT: instruments})
    if fill is None:
        return x
    # dask-backed: filled lazily (no pass to look for NaN first); numpy: copied only when there is a NaN
    return x.fillna(fill) if x.chunks is not None or bool(x.isnull().any()) else x


def _labels_of(segments: Segments, instruments: pd.Index, sources: Sequence[xr.DataArray]) -> np.ndarray:
    """One label per instrument ("" where it has none)."""
    if segments is None:
        values = list(instruments)
    elif isinstance(segments, str):
        values = [None] * len(instruments)
        found = False
        for source in sources:
            if segments in source.coords and source[segments].dims == (INSTRUMENT,):
                found = True
                coord = source[segments].to_series().reindex(instruments)
                values = [v if _named(v) else c for v, c in zip(values, coord)]
        if not found:
            raise DataError(f"No input has a {segments!r} coordinate on instrument; pass segments as a mapping "
                            f"instrument -> group or a DataArray over instrument.")
    elif isinstance(segments, xr.DataArray):
        values = list(segments.to_series().reindex(instruments))
    elif isinstance(segments, Mapping):
        values = [segments.get(i) for i in instruments]
    else:
        raise DataError(f"segments must be a coordinate name, a mapping or a DataArray, not {type(segments).__name__}.")
    return np.array([str(v) if _named(v) else "" for v in values], dtype=object)


def _named(v: object) -> bool:
    return v is not None and not (isinstance(v, float) and np.isnan(v)) and str(v) != ""


def membership(labels: np.ndarray, instruments: pd.Index, used: np.ndarray, name: str = "segments") -> xr.DataArray:
    """The one-hot matrix (instrument, segment) of ``labels``; an instrument without a label refuses
    when ``used`` (held by either side), else it belongs to no group.

    Parameters
    ----------
    labels : np.ndarray, (instrument,)
        The group label of each instrument (None where it has none).
    instruments : pd.Index, (instrument,)
        The instruments.
    used : np.ndarray of bool, (instrument,)
        Whether either side holds each instrument.
    name : str, default "segments"
        How an error names the grouping.

    Returns
    -------
    xr.DataArray, (instrument, segment)
        1.0 where an instrument belongs to a group, else 0.0.
    """
    missing = used & (labels == "")
    if missing.any():
        problems = Problems()
        for label in instruments[missing]:
            problems.add(f"{name}[instrument={label}]", "has no group; label it or drop the holding")
        problems.raise_if_any(WHAT)
    groups = pd.unique(labels[labels != ""])
    one_hot = (labels[:, None] == groups[None, :]).astype(float)
    return xr.DataArray(one_hot, dims=(INSTRUMENT, SEGMENT), coords={INSTRUMENT: instruments, SEGMENT: groups})


def _used(w: xr.DataArray, W: xr.DataArray) -> np.ndarray:
    held_w, held_W = dask.compute(_held(w), _held(W))  # one pass over both
    return held_w.values | held_W.values


def _sum_groups(x: np.ndarray, groups: np.ndarray) -> np.ndarray:
    return x @ groups  # (..., instrument) @ (instrument, segment): one BLAS product


def _contribute(w: np.ndarray, r: np.ndarray, groups: np.ndarray) -> np.ndarray:
    return np.where(w != 0, w * r, 0.0) @ groups


def aggregate(weights: xr.DataArray, returns: xr.DataArray, groups: xr.DataArray) -> tuple[xr.DataArray, xr.DataArray]:
    """Per group: the weight ``sum w`` and the contribution ``sum w r`` (NaN returns of unheld instruments as 0).

    Parameters
    ----------
    weights : xr.DataArray, (instrument, ...)
        Weights (NaN as 0).
    returns : xr.DataArray, (instrument, ...)
        Returns (NaN only where nothing is held).
    groups : xr.DataArray, (instrument, segment)
        The membership matrix of :func:`membership`.

    Returns
    -------
    tuple of xr.DataArray, each (segment, ...)
        The group weights ``sum w`` and contributions ``sum w r``.
    """
    core = [[INSTRUMENT], [INSTRUMENT, SEGMENT]]
    (weight,) = along(_sum_groups, weights, groups, core=core, out=[[SEGMENT]])
    (contribution,) = along(_contribute, weights, returns, groups, core=[[INSTRUMENT], *core], out=[[SEGMENT]])
    return weight, contribution


def layout(*arrays: xr.DataArray) -> list[xr.DataArray]:
    """The arrays with ``segment`` first, then the dimensions of the last array (the benchmark's),
    then the others, in C order: the dimensions only the portfolios have (often the largest) come
    last, so that broadcasting the benchmark over them runs over long contiguous rows.

    Parameters
    ----------
    *arrays : xr.DataArray
        Arrays with a ``segment`` dimension; the last one is the benchmark's.

    Returns
    -------
    list of xr.DataArray, each (segment, ...)
        The arrays transposed and C-contiguous.
    """
    order = [SEGMENT, *(d for d in arrays[-1].dims if d != SEGMENT)]
    order += [d for a in arrays for d in a.dims if d not in order]
    order = list(dict.fromkeys(order))

    def contiguous(a: xr.DataArray) -> xr.DataArray:
        a = a.transpose(*(d for d in order if d in a.dims))
        return a if a.chunks is not None else a.copy(data=np.ascontiguousarray(a.values))
    return [contiguous(a) for a in arrays]


def _ratio(contribution: np.ndarray, weight: np.ndarray) -> np.ndarray:
    out = np.full(np.broadcast_shapes(contribution.shape, weight.shape), np.nan)
    return np.divide(contribution, weight, out=out, where=weight != 0)


def group_returns(weight: xr.DataArray, contribution: xr.DataArray) -> xr.DataArray:
    """``contribution / weight`` where the group is held, NaN where its weight is 0 (never a division by 0).

    Parameters
    ----------
    weight : xr.DataArray, (segment, ...)
        Group weights.
    contribution : xr.DataArray, (segment, ...)
        Group contributions ``sum w r``.

    Returns
    -------
    xr.DataArray, (segment, ...)
        The group returns; NaN where the weight is 0.
    """
    return xr.apply_ufunc(_ratio, contribution, weight, dask="parallelized", output_dtypes=[float])


# --------------------------------------------------------------------------- single level


def _check_model(model: str, variant: str | None, geometric: bool) -> str:
    problems = Problems()
    check_choice(model, MODELS, "model", problems)
    if variant is not None:
        check_choice(variant, VARIANTS, "variant", problems)
    if geometric and model != "brinson_fachler":
        problems.add("model", "geometric attribution is Brinson-Fachler based (Bacon 2008 ch. 5); "
                              "use model='brinson_fachler'")
    if geometric and variant not in (None, "top_down"):
        problems.add("variant", "geometric attribution has no interaction term; it is top-down")
    problems.raise_if_any(WHAT)
    return variant or ("top_down" if geometric else "three_effect")


def _positive_growth(x: xr.DataArray, name: str) -> None:
    bad = (x <= -1)
    if bool(bad.any()):
        raise DataError(f"{name} is -100% or worse ({series_names(bad)}); geometric attribution needs 1 + {name} > 0.")


def _split_kernel(w: np.ndarray, W: np.ndarray, C: np.ndarray, D: np.ndarray, reference: np.ndarray,
                  variant: str) -> tuple[np.ndarray, ...]:
    rs, bs = _ratio(C, w), _ratio(D, W)
    b_eff = np.where(np.isnan(bs), np.where(np.isnan(rs), 0.0, rs), bs)
    gap = np.where(np.isnan(rs), 0.0, rs - b_eff)  # r_i - b_i with the fallbacks
    active_w = w - W
    total = C - D - active_w * reference
    interaction = active_w * gap if variant == "three_effect" else np.zeros_like(total)
    if variant == "bottom_up":
        selection = np.broadcast_to(W * gap, total.shape)
        allocation = total - selection
    else:
        allocation = active_w * (b_eff - reference)
        selection = total - allocation - interaction
    return allocation, selection, interaction


def split(w: xr.DataArray, W: xr.DataArray, C: xr.DataArray, D: xr.DataArray, reference: xr.DataArray | float,
          variant: str) -> dict[str, xr.DataArray]:
    """Arithmetic allocation, selection and interaction per group, with the allocation measured
    against ``reference`` (Brinson-Fachler: ``b``; BHB: 0): ``A_i = (w_i - W_i)(b_i - reference)``,
    interaction folded as ``variant`` says. They add up to ``(C_i - D_i) - (w_i - W_i) reference``.
    Also returns the group returns ``portfolio_return``, ``benchmark_return``.

    Parameters
    ----------
    w : xr.DataArray, (segment, ...)
        Portfolio group weights.
    W : xr.DataArray, (segment, ...)
        Benchmark group weights.
    C : xr.DataArray, (segment, ...)
        Portfolio group contributions ``w r``.
    D : xr.DataArray, (segment, ...)
        Benchmark group contributions ``W b``.
    reference : xr.DataArray, (...), or float
        The return allocation is measured against (``b`` for Brinson-Fachler, 0 for BHB).
    variant : {"three_effect", "top_down", "bottom_up"} or None
        Where interaction goes (None: ``"three_effect"``).

    Returns
    -------
    dict of str to xr.DataArray, each (segment, ...)
        ``allocation``, ``selection``, ``interaction``, ``portfolio_return``, ``benchmark_return``.
    """
    names = ("allocation", "selection", "interaction")
    parts = xr.apply_ufunc(_split_kernel, w, W, C, D, reference, kwargs={"variant": variant}, dask="parallelized",
                           output_core_dims=[[]] * len(names), output_dtypes=[float] * len(names))
    return {**dict(zip(names, parts)), "portfolio_return": group_returns(w, C), "benchmark_return": group_returns(W, D)}


def effects(w: xr.DataArray, W: xr.DataArray, C: xr.DataArray, D: xr.DataArray, *, model: str = "brinson_fachler",
            variant: str | None = None, geometric: bool = False) -> xr.Dataset:
    """Attribution effects from group weights ``w``, ``W`` and contributions ``C = w r``, ``D = W b``
    over ``segment`` (see the module's conventions); the kernel of :func:`brinson`.

    Parameters
    ----------
    w : xr.DataArray, (segment, ...)
        Portfolio group weights.
    W : xr.DataArray, (segment, ...)
        Benchmark group weights.
    C : xr.DataArray, (segment, ...)
        Portfolio group contributions ``w r``.
    D : xr.DataArray, (segment, ...)
        Benchmark group contributions ``W b``.
    model : {"brinson_fachler", "brinson_hood_beebower"}, default "brinson_fachler"
        The allocation formula.
    variant : {"three_effect", "top_down", "bottom_up"} or None
        Where interaction goes (None: ``"three_effect"``).
    geometric : bool, default False
        Bacon's geometric effects (Brinson-Fachler, top-down only).

    Returns
    -------
    xr.Dataset
        The effects and group figures over ``(segment, ...)``, the totals over ``(...)``.
    """
    variant = _check_model(model, variant, geometric)
    r, b = C.sum(SEGMENT, skipna=False), D.sum(SEGMENT, skipna=False)
    parts = split(w, W, C, D, b if model == "brinson_fachler" else 0.0, variant)
    active = r - b
    if geometric:
        b_eff = parts["benchmark_return"].fillna(parts["portfolio_return"]).fillna(0.0)
        semi = (w * b_eff).sum(SEGMENT)
        _positive_growth(b, "benchmark_total")
        _positive_growth(semi, "semi-notional return")
        parts["allocation"] = (w - W) * (b_eff - b) / (1 + b)
        parts["selection"] = (C - w * b_eff) / (1 + semi)
        active = (1 + r) / (1 + b) - 1
    out = {**parts, "total": parts["allocation"] + parts["selection"] + parts["interaction"],
           "portfolio_weight": w, "benchmark_weight": W, "active_weight": w - W,
           "portfolio_contribution": C, "benchmark_contribution": D}
    return finish(out, {"portfolio_total": r, "benchmark_total": b, "active": active},
                  {"model": model, "variant": variant, "geometric": int(geometric), "effects": " ".join(EFFECTS)})


def finish(per_segment: dict[str, xr.DataArray], totals: dict[str, xr.DataArray], attrs: dict) -> xr.Dataset:
    """One Dataset: the per-group variables with ``segment`` first, then the totals.

    Parameters
    ----------
    per_segment : dict of str to xr.DataArray, each (segment, ...)
        The per-group variables.
    totals : dict of str to xr.DataArray, each (...)
        The totals.
    attrs : dict
        The Dataset's attributes (model, variant).

    Returns
    -------
    xr.Dataset
        Per-group variables over ``(segment, ...)`` and totals over ``(...)``.
    """
    out = {k: v.transpose(SEGMENT, ...) for k, v in per_segment.items()}
    return xr.Dataset({**out, **totals}, attrs=attrs)


def brinson(portfolio_weights: xr.DataArray, portfolio_returns: xr.DataArray, benchmark_weights: xr.DataArray,
            segments: Segments = None, *, benchmark_returns: xr.DataArray | None = None,
            model: str = "brinson_fachler", variant: str | None = None, geometric: bool = False) -> xr.Dataset:
    """Single-period Brinson attribution per group, for every period and portfolio at once.

    ``model`` is ``"brinson_fachler"`` or ``"brinson_hood_beebower"``; ``variant`` ``"three_effect"``
    (default), ``"top_down"`` or ``"bottom_up"``; ``geometric=True`` gives Bacon's geometric
    (Brinson-Fachler, top-down) effects. ``benchmark_returns`` defaults to ``portfolio_returns``
    (the same instruments' returns). The result holds, over ``segment`` and the inputs' other
    dimensions, ``allocation``, ``selection``, ``interaction``, ``total``, the group weights,
    returns and contributions (``portfolio_weight``, ``benchmark_weight``, ``active_weight``,
    ``portfolio_return``, ``benchmark_return``, ``portfolio_contribution``,
    ``benchmark_contribution``), and without ``segment`` the totals ``portfolio_total``,
    ``benchmark_total`` and ``active``. Formulas and conventions: see the module docstring.

    Parameters
    ----------
    portfolio_weights : xr.DataArray, (instrument, ...)
        Beginning-of-period weights (NaN = not held), summing to 1 per period and portfolio; further
        dimensions (``time``, ``portfolio``, ...) are kept.
    portfolio_returns : xr.DataArray, (instrument, ...)
        The portfolio's instruments' simple returns over the period(s).
    benchmark_weights : xr.DataArray, (instrument, ...)
        The benchmark's weights, summing to 1; may carry ``portfolio`` too.
    segments : str, mapping, xr.DataArray (instrument,) or None, default None
        The grouping: a coordinate name on ``instrument``, a mapping instrument -> label, labels over
        ``instrument``, or None (one group per instrument).
    benchmark_returns : xr.DataArray, (instrument, ...), optional
        The benchmark's instruments' returns (default: ``portfolio_returns``).
    model : {"brinson_fachler", "brinson_hood_beebower"}, default "brinson_fachler"
        The allocation formula.
    variant : {"three_effect", "top_down", "bottom_up"} or None
        Where interaction goes (None: ``"three_effect"``).
    geometric : bool, default False
        Bacon's geometric effects (Brinson-Fachler, top-down only).

    Returns
    -------
    xr.Dataset
        Effects and group figures over ``(segment, ...)``; ``portfolio_total``, ``benchmark_total``
        and ``active`` over ``(...)``, the inputs' dimensions other than ``instrument``.
    """
    _check_model(model, variant, geometric)
    w, r, W, b, used = _checked(portfolio_weights, portfolio_returns, benchmark_weights, benchmark_returns)
    instruments = w.indexes[INSTRUMENT]
    labels = _labels_of(segments, instruments, (portfolio_weights, benchmark_weights, portfolio_returns, b))
    groups = membership(labels, instruments, used)
    (wp, cp), (wb, cb) = aggregate(w, r, groups), aggregate(W, b, groups)
    wp, cp, cb, wb = layout(wp, cp, cb, wb)
    return effects(wp, wb, cp, cb, model=model, variant=variant, geometric=geometric)


# --------------------------------------------------------------------------- hierarchy


def _level_name(level: Segments, k: int) -> str:
    if isinstance(level, str):
        return level
    if level is None:
        return INSTRUMENT
    return str(level.name) if isinstance(level, xr.DataArray) and level.name is not None else f"level{k}"


def _effective(weight: xr.DataArray, contribution: xr.DataArray, other: xr.DataArray) -> xr.DataArray:
    """The benchmark return of each node, the portfolio's where the benchmark holds none, else 0."""
    return group_returns(weight, contribution).fillna(other).fillna(0.0)


def hierarchical(portfolio_weights: xr.DataArray, portfolio_returns: xr.DataArray, benchmark_weights: xr.DataArray,
                 levels: Sequence[Segments], *, benchmark_returns: xr.DataArray | None = None) -> xr.Dataset:
    """Top-down multi-level Brinson-Fachler attribution (after Bacon 2008), e.g. asset class -> sector -> instrument.

    ``levels`` lists the groupings from the top (coordinate names, mappings, DataArrays; None =
    the instruments themselves). The manager is taken to decide level by level: at level ``k``
    node ``j`` under parent ``p`` is judged against the notional that holds ``p`` at the
    portfolio's weight ``w_p`` split as the benchmark splits it::

        A_j = (w_j - w_p W_j / W_p)(b_j - b_p)      (level 1: w_p = W_p = 1, b_p = b)
        S_j = w_j (r_j - b_j)                        (last level only)

    so level ``k``'s allocations add up to ``sum_j w_j b_j - sum_p w_p b_p`` (the step between
    two notional portfolios), and all allocations plus the selection add up to ``r - b``. Where
    the benchmark does not hold a parent, the portfolio's own split is the notional (allocation 0
    below it), and group returns fall back as in :func:`brinson`. The result is one ``segment``
    dimension of every node, labelled by its path (``"Equity / Energy"``), with coordinates
    ``tier`` (the level's name) and ``parent``; ``allocation`` on every node, ``selection`` on the
    last level (0 above), ``total``, the node weights, returns and contributions, and
    ``portfolio_total``, ``benchmark_total``, ``active``. ``allocation.groupby("tier").sum()``
    gives the effect of each level.

    Parameters
    ----------
    portfolio_weights : xr.DataArray, (instrument, ...)
        Beginning-of-period weights (NaN = not held), summing to 1 per period and portfolio; further
        dimensions (``time``, ``portfolio``, ...) are kept.
    portfolio_returns : xr.DataArray, (instrument, ...)
        The portfolio's instruments' simple returns over the period(s).
    benchmark_weights : xr.DataArray, (instrument, ...)
        The benchmark's weights, summing to 1; may carry ``portfolio`` too.
    levels : sequence of segments
        The groupings from the top, each as ``segments`` of :func:`brinson` (None = the instruments).
    benchmark_returns : xr.DataArray, (instrument, ...), optional
        The benchmark's instruments' returns (default: ``portfolio_returns``).

    Returns
    -------
    xr.Dataset
        Every node's figures over ``(segment, ...)`` (coordinates ``tier`` and ``parent`` on
        ``segment``); ``portfolio_total``, ``benchmark_total`` and ``active`` over ``(...)``.
    """
    problems = Problems()
    if isinstance(levels, str) or not len(levels):
        problems.add("levels", "give a sequence of groupings from the top, e.g. ['asset_class', 'sector']")
    problems.raise_if_any(WHAT)
    w, r, W, b, used = _checked(portfolio_weights, portfolio_returns, benchmark_weights, benchmark_returns)
    instruments = w.indexes[INSTRUMENT]
    sources = (portfolio_weights, benchmark_weights, portfolio_returns, b)
    paths = np.array([""] * len(instruments), dtype=object)
    wr, Wr = w.sum(INSTRUMENT), W.sum(INSTRUMENT)
    parent = {"w": wr, "W": Wr, "b": (W * b.fillna(0.0)).sum(INSTRUMENT)}
    nodes = []
    for k, level in enumerate(levels):
        labels = _labels_of(level, instruments, sources)
        paths = np.where((labels == "") | (paths == "") & (k > 0), "", labels if k == 0 else paths + PATH + labels)
        groups = membership(paths, instruments, used, f"levels[{k}]")
        (wp, cp), (wb, cb) = aggregate(w, r, groups), aggregate(W, b, groups)
        b_eff = _effective(wb, cb, group_returns(wp, cp))
        nodes_ = groups[SEGMENT].values
        heads = [str(p).rsplit(PATH, 1)[0] for p in nodes_] if k else [""] * len(nodes_)
        pw, pW, pb = (parent[x] if not k else parent[x].sel({SEGMENT: heads}).assign_coords({SEGMENT: nodes_})
                      for x in ("w", "W", "b"))
        notional = xr.where(pW != 0, pw * wb / pW.where(pW != 0, 1.0), wp)
        allocation = (wp - notional) * (b_eff - pb)
        selection = cp - wp * b_eff if k == len(levels) - 1 else xr.zeros_like(allocation)
        nodes.append(xr.Dataset({"allocation": allocation, "selection": selection, "portfolio_weight": wp,
                                 "benchmark_weight": wb, "portfolio_contribution": cp, "benchmark_contribution": cb})
                     .assign_coords(tier=(SEGMENT, [_level_name(level, k)] * len(nodes_)), parent=(SEGMENT, heads)))
        parent = {"w": wp, "W": wb, "b": b_eff}
    out = xr.concat(nodes, dim=SEGMENT)
    out["total"] = out["allocation"] + out["selection"]
    out["active_weight"] = out["portfolio_weight"] - out["benchmark_weight"]
    out["portfolio_return"] = group_returns(out["portfolio_weight"], out["portfolio_contribution"])
    out["benchmark_return"] = group_returns(out["benchmark_weight"], out["benchmark_contribution"])
    total_r, total_b = (w * r.fillna(0.0)).sum(INSTRUMENT), (W * b.fillna(0.0)).sum(INSTRUMENT)
    out = out.transpose(SEGMENT, ...)
    out["portfolio_total"], out["benchmark_total"], out["active"] = total_r, total_b, total_r - total_b
    out.attrs = {"model": "brinson_fachler", "variant": "top_down", "geometric": 0,
                 "effects": "allocation selection total", "levels": " ".join(_level_name(v, k) for k, v in
                                                                             enumerate(levels))}
    return out


# --------------------------------------------------------------------------- periods and risk


def at_horizon(weights: xr.DataArray, returns: xr.DataArray, horizon: str) -> tuple[xr.DataArray, xr.DataArray]:
    """Daily weights and returns as inputs for ``day``, ``week`` or ``month`` attribution periods.

    Returns are compounded within each calendar period (:func:`toolkit.analytics.risk.horizon_returns`,
    labelled with the period's end); the weights are those of each period's first day (held from
    its start: exact for buy-and-hold within the period). ``day`` returns the inputs unchanged.

    Parameters
    ----------
    weights : xr.DataArray, (instrument, time, ...)
        Daily weights.
    returns : xr.DataArray, (instrument, time, ...)
        Daily simple returns on the same ``time`` labels.
    horizon : {"day", "week", "month"}
        The attribution period.

    Returns
    -------
    tuple of xr.DataArray, each (instrument, time, ...)
        The weights of each period's first day and the period's compounded returns, ``time``
        labelled by the period's end.
    """
    problems = Problems()
    check_choice(horizon, HORIZONS, "horizon", problems)
    for name, a in (("weights", weights), ("returns", returns)):
        check_array(a, name, (TIME,), problems)
    problems.raise_if_any(WHAT)
    _aligned_time({"returns": returns, "weights": weights}, problems)
    problems.raise_if_any(WHAT)
    if horizon == "day":
        return weights, returns
    index = returns.indexes[TIME]
    ends = period_ends(index, horizon)
    starts = np.flatnonzero(np.r_[True, ends[1:] != ends[:-1]])
    first = weights.sel({TIME: index[starts]}).assign_coords({TIME: ends[starts]})
    return first, horizon_returns(returns, horizon)


def risk_attribution(returns: xr.DataArray, portfolio_weights: xr.DataArray, benchmark_weights: xr.DataArray,
                     segments: Segments = None, *, horizon: str | None = None, annualise: bool = False,
                     periods_per_year: float = 252) -> xr.Dataset:
    """Euler risk contributions per group, for the portfolio, the benchmark and the active weights.

    Volatilities and marginals come from :func:`toolkit.analytics.risk_portfolio.volatility_contributions`
    (sample covariance ``S``, dates where every instrument has a return). Per group ``g``:
    ``*_contribution = sum_{i in g} w_i (S w)_i / sigma`` (adds up to ``*_risk``),
    ``*_marginal = contribution / weight`` (the change of ``sigma`` per unit of weight added to
    the group in its current mix; NaN for an unheld group), ``*_percent = contribution / sigma``.
    Active: tracking error ``TE = sqrt(a' S a)`` with ``a = w - W`` and ``S a = sigma_p m_p -
    sigma_b m_b``; ``active_contribution = sum_{i in g} a_i (S a)_i / TE`` adds up to ``tracking_error``.

    Parameters
    ----------
    returns : xr.DataArray, (instrument, time)
        Simple returns of every instrument either side holds.
    portfolio_weights : xr.DataArray, (instrument, ...)
        The portfolio's weights, summing to 1.
    benchmark_weights : xr.DataArray, (instrument, ...)
        The benchmark's weights, summing to 1.
    segments : str, mapping, xr.DataArray (instrument,) or None, default None
        The grouping: a coordinate name on ``instrument``, a mapping instrument -> label, labels over
        ``instrument``, or None (one group per instrument).
    horizon : {"day", "week", "month"} or None, default None
        Compound the returns to this horizon first.
    annualise : bool, default False
        Scale the risks by ``sqrt(periods_per_year)``.
    periods_per_year : float, default 252
        Periods a year of the (horizon) returns.

    Returns
    -------
    xr.Dataset
        ``portfolio_risk``, ``benchmark_risk``, ``tracking_error`` over ``(...)``; per group
        ``*_weight``, ``*_contribution``, ``*_percent`` (and ``*_marginal``) over ``(segment, ...)``.
    """
    return risk_attributions(returns, portfolio_weights, benchmark_weights, {"": segments}, horizon=horizon,
                             annualise=annualise, periods_per_year=periods_per_year)[""]


def risk_attributions(returns: xr.DataArray, portfolio_weights: xr.DataArray, benchmark_weights: xr.DataArray,
                      groupings: Mapping[str, Segments], *, horizon: str | None = None, annualise: bool = False,
                      periods_per_year: float = 252) -> dict[str, xr.Dataset]:
    """:func:`risk_attribution` for each grouping of ``groupings`` (name -> segments), the
    covariance-based contributions computed once for all of them."""
    port = volatility_contributions(returns, portfolio_weights, horizon=horizon, annualise=annualise,
                                    periods_per_year=periods_per_year)
    bench = volatility_contributions(returns, benchmark_weights, horizon=horizon, annualise=annualise,
                                     periods_per_year=periods_per_year)
    instruments = returns.indexes[INSTRUMENT]
    w = portfolio_weights.reindex({INSTRUMENT: instruments}, fill_value=0.0)
    W = benchmark_weights.reindex({INSTRUMENT: instruments}, fill_value=0.0)
    active = w - W
    s_active = port["total"] * port["marginal"] - bench["total"] * bench["marginal"]
    te = np.sqrt(abs(xr.dot(active, s_active, dim=INSTRUMENT)))
    sides = (("portfolio", w, port["contribution"], port["total"]),
             ("benchmark", W, bench["contribution"], bench["total"]),
             ("active", active, active * s_active / te.where(te != 0, 1.0), te))
    answers = {}
    for grouping, segments in groupings.items():
        labels = _labels_of(segments, instruments, (returns, portfolio_weights, benchmark_weights))
        groups = membership(labels, instruments, _used(w, W))
        out = {"portfolio_risk": port["total"], "benchmark_risk": bench["total"], "tracking_error": te}
        for name, weight, part, total in sides:
            g_weight, g_part = xr.dot(weight, groups, dim=INSTRUMENT), xr.dot(part, groups, dim=INSTRUMENT)
            out[f"{name}_weight"] = g_weight
            out[f"{name}_contribution"] = g_part
            out[f"{name}_percent"] = (g_part / total.where(total != 0, 1.0)).where(total != 0, 0.0)
            if name != "active":
                out[f"{name}_marginal"] = group_returns(g_weight, g_part)
        answers[grouping] = xr.Dataset({k: v.transpose(SEGMENT, ...) if SEGMENT in v.dims else v
                                        for k, v in out.items()})
    return answers
