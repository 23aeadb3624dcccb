"""Compiled single-pass kernels behind the return statistics of :mod:`toolkit.analytics`.

Each kernel walks every series once along its last axis (time), in numba-compiled code cached on
disk (``cache=True``), instead of the several NumPy passes (``1 + r``, cumulative product, running
maximum, division, reduction) each over the whole array that the formulas would otherwise take.
They are wrapped by :func:`path_statistics`, :func:`period_growth` and :func:`drawdown_path`, which
apply them through ``xr.apply_ufunc(..., dask="parallelized")``: every dimension other than time is
kept, and a dask-backed input stays lazy (its time axis is merged into one chunk, the other axes
keep their chunks).

NaN is a missing observation throughout: it is skipped in sums, products and counts, and it is a
flat day on the wealth path (the wealth and the running peak are carried).
"""

from __future__ import annotations

from collections.abc import Callable

import numba
import numpy as np
import xarray as xr

from toolkit.schema import TIME

#: the per-series figures of :func:`path_statistics`, in the order of its ``statistic`` dimension
STATISTICS = ("count", "growth", "mean", "squares", "low", "high", "shortfall", "max_drawdown")
_WIDTH = len(STATISTICS)
#: rows walked side by side: their running products are independent chains the CPU overlaps (and
#: vectorises), where one row alone waits on each multiplication in turn
_BLOCK = 4


@numba.njit(cache=True, nogil=True)
def _path_rows(x: np.ndarray, moments: bool, out: np.ndarray) -> None:  # pragma: no cover - compiled
    """Fill ``out[i]`` with the STATISTICS of row ``x[i]``, rows taken ``_BLOCK`` at a time.

    The squared deviations from the mean need the mean first: a second walk over the block's rows
    (still in cache), taken only when ``moments``."""
    rows, steps = x.shape
    acc = np.empty((_WIDTH + 1, _BLOCK))  # count, growth, sum, squares, low, high, shortfall, worst, peak
    for first in range(0, rows, _BLOCK):
        size = min(_BLOCK, rows - first)
        acc[0], acc[1], acc[2], acc[3] = 0.0, 1.0, 0.0, 0.0
        acc[4], acc[5], acc[6], acc[7], acc[8] = np.inf, -np.inf, 0.0, 0.0, 1.0
        for t in range(steps):
            for j in range(_BLOCK):
                if j < size:
                    value = x[first + j, t]
                    seen = value == value  # NaN: no observation, a flat day
                    kept = value if seen else 0.0
                    growth = acc[1, j] * (1.0 + kept)
                    peak = max(acc[8, j], growth)
                    acc[1, j], acc[8, j] = growth, peak
                    acc[7, j] = min(acc[7, j], growth / peak - 1.0)
                    acc[0, j] += 1.0 if seen else 0.0
                    acc[2, j] += kept
                    acc[4, j] = min(acc[4, j], value) if seen else acc[4, j]
                    acc[5, j] = max(acc[5, j], value) if seen else acc[5, j]
                    below = min(kept, 0.0)
                    acc[6, j] += below * below
        for j in range(_BLOCK):  # the sum becomes the mean
            acc[2, j] = acc[2, j] / acc[0, j] if j < size and acc[0, j] > 0 else np.nan
        if moments:
            for t in range(steps):
                for j in range(_BLOCK):
                    if j < size:
                        value = x[first + j, t]
                        gap = value - acc[2, j]
                        acc[3, j] += gap * gap if value == value else 0.0
        for j in range(size):
            empty = acc[0, j] == 0
            for k in range(_WIDTH):
                out[first + j, k] = np.nan if empty and k in (3, 4, 5, 7) else acc[k, j]


@numba.njit(cache=True, nogil=True)
def _period_rows(x: np.ndarray, bounds: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - compiled
    """``out[i, p] = prod(1 + x[i, bounds[p]:bounds[p + 1]]) - 1`` over the non-NaN values, NaN if none."""
    rows = x.shape[0]
    linked = np.empty(_BLOCK)
    seen = np.empty(_BLOCK)
    for first in range(0, rows, _BLOCK):
        size = min(_BLOCK, rows - first)
        for p in range(bounds.shape[0] - 1):
            linked[:] = 1.0
            seen[:] = 0.0
            for t in range(bounds[p], bounds[p + 1]):
                for j in range(_BLOCK):
                    if j < size:
                        value = x[first + j, t]
                        observed = value == value
                        linked[j] *= 1.0 + value if observed else 1.0
                        seen[j] += 1.0 if observed else 0.0
            for j in range(size):
                out[first + j, p] = linked[j] - 1.0 if seen[j] > 0 else np.nan


@numba.njit(cache=True, nogil=True)
def _drawdown_rows(x: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - compiled
    """``out[i, t] = W_t / max(1, max_{s<=t} W_s) - 1`` with ``W_t`` the wealth of row ``i`` (NaN flat)."""
    rows, steps = x.shape
    wealth = np.empty(_BLOCK)
    peak = np.empty(_BLOCK)
    for first in range(0, rows, _BLOCK):
        size = min(_BLOCK, rows - first)
        wealth[:] = 1.0
        peak[:] = 1.0
        for t in range(steps):
            for j in range(_BLOCK):
                if j < size:
                    value = x[first + j, t]
                    grown = wealth[j] * (1.0 + value if value == value else 1.0)
                    top = max(peak[j], grown)
                    wealth[j], peak[j] = grown, top
                    out[first + j, t] = grown / top - 1.0


def _by_row(kernel: Callable[..., None], width: Callable[[int], int],
            *args: object) -> Callable[[np.ndarray], np.ndarray]:
    """A NumPy function over arrays ``(..., time)`` running ``kernel`` on their rows as one 2-d block."""

    def run(values: np.ndarray) -> np.ndarray:
        lead, steps = values.shape[:-1], values.shape[-1]
        rows = np.ascontiguousarray(values, dtype=np.float64).reshape(int(np.prod(lead)), steps)
        out = np.empty((rows.shape[0], width(steps)))
        kernel(rows, *args, out)
        return out.reshape(*lead, width(steps))

    return run


def _applied(values: xr.DataArray, run: Callable[[np.ndarray], np.ndarray], dim: str, size: int,
             dim_out: str) -> xr.DataArray:
    """``run`` over ``values``' ``dim`` (moved last), giving a new last dimension ``dim_out`` of ``size``."""
    if values.chunks is not None:
        values = values.chunk({dim: -1})
    exclude = {dim} if dim == dim_out and size != values.sizes[dim] else set()
    return xr.apply_ufunc(run, values, input_core_dims=[[dim]], output_core_dims=[[dim_out]],
                          exclude_dims=exclude, dask="parallelized", output_dtypes=[np.float64],
                          dask_gufunc_kwargs={"output_sizes": {dim_out: size}}, keep_attrs=True)


def path_statistics(returns: xr.DataArray, moments: bool = True, dim: str = TIME) -> xr.DataArray:
    """Every per-series figure the return statistics need, in one compiled walk along ``dim``.

    Along a new ``statistic`` dimension (labels :data:`STATISTICS`), over the non-NaN returns
    ``r_1..r_n`` of each series: ``count`` n; ``growth`` ``prod(1 + r)`` (1 without observations);
    ``mean`` ``sum(r) / n``; ``squares`` ``sum((r - mean)^2)`` (a second walk over the row, only with
    ``moments``, else 0); ``low`` / ``high`` ``min(r)`` / ``max(r)``; ``shortfall`` ``sum(min(r, 0)^2)``;
    ``max_drawdown`` ``min_t W_t / max(1, max_{s<=t} W_s) - 1`` with ``W_t = prod_{s<=t}(1 + r_s)``
    (the starting wealth 1 counts as a peak). Figures of a series without observations are NaN,
    except ``count`` 0, ``growth`` 1 and ``shortfall`` 0.

    Parameters
    ----------
    returns : xr.DataArray, (dim, ...)
        Simple returns (NaN = no observation); every other dimension is kept.
    moments : bool, default True
        Compute ``squares`` (a second walk over each row); False leaves it 0.
    dim : str, default ``"time"``
        The dimension walked along.

    Returns
    -------
    xr.DataArray, (..., statistic)
        The figures, ``returns`` without ``dim`` and with ``statistic`` (8 labels) last.
    """
    out = _applied(returns, _by_row(_path_rows, lambda _: _WIDTH, bool(moments)), dim, _WIDTH, "statistic")
    return out.assign_coords(statistic=list(STATISTICS))


def period_growth(returns: xr.DataArray, bounds: np.ndarray, dim: str = TIME) -> xr.DataArray:
    """Linked returns of consecutive blocks of ``dim``: ``prod(1 + r) - 1`` over each block's non-NaN
    returns, NaN for a block without any.

    Parameters
    ----------
    returns : xr.DataArray, (dim, ...)
        Simple returns; every other dimension is kept.
    bounds : np.ndarray, (blocks + 1,)
        Increasing positions along ``dim``: block ``p`` is ``bounds[p]:bounds[p + 1]`` (empty if equal).

    Returns
    -------
    xr.DataArray, (..., dim)
        One linked return per block along ``dim`` (last, without coordinate labels).
    """
    edges = np.ascontiguousarray(bounds, dtype=np.int64)
    blocks = len(edges) - 1
    return _applied(returns, _by_row(_period_rows, lambda _: blocks, edges), dim, blocks, dim)


def drawdown_path(returns: xr.DataArray, dim: str = TIME) -> xr.DataArray:
    """The drawdown at each stamp, ``W_t / max(1, max_{s<=t} W_s) - 1`` (NaN returns are flat days).

    Parameters
    ----------
    returns : xr.DataArray, (dim, ...)
        Simple returns; every other dimension is kept.

    Returns
    -------
    xr.DataArray, (..., dim)
        The drawdowns (<= 0), ``dim`` last and labelled like ``returns``.
    """
    return _applied(returns, _by_row(_drawdown_rows, lambda steps: steps), dim, returns.sizes[dim], dim)
