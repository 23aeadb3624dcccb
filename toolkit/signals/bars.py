"""Reading the bars and parameters an indicator is given, and refusing unfit ones.

Every indicator of :mod:`toolkit.signals` reads its input here: the price variables it needs from
an OHLCV ``xr.Dataset`` over ``(instrument, time)`` (extra dimensions allowed), or one
``xr.DataArray``; a ``time`` index that is sorted and unique (checked on the index only, so a
dask-backed input stays lazy); enough candles for the indicator; and parameters within the risk
platform's ranges (``toolkit.contracts.risk.rules.SPECS``: ``ATRFactor`` at least 1, a lookback
``Period`` a whole number from 2 to 500, ``Method`` one of SMA, EMA, Smoothed, an RSI limit from 0
to 100).

The numpy helpers at the bottom (:func:`compact`, :func:`spread`) let a kernel see each series as
its valid bars only: the bars of a row with a NaN in any price it uses are moved to the end, the
kernel runs on the packed rows (so every series starts at index 0, whatever its first quote), and
the results are put back where the bars came from, NaN at the missing bars. A missing bar is thus
skipped, not filled: the indicator continues across a gap as if the bar had not existed, which is
what TA-Lib gives on the series with the missing bars dropped. The compiled kernels of
:mod:`toolkit.signals.kernels` (true range, ATR, RSI, SuperTrend, trend bias, rule 4's statistic) do the
same one row at a time; the NumPy kernels of the levels and the rules use these helpers.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import xarray as xr

from toolkit.contracts.risk.rules import spec
from toolkit.errors import DataError, Problems
from toolkit.schema import INSTRUMENT, TIME

#: the SuperTrend rule's smoothing methods (risk-platform-api.txt, rule 7 ``Method``); Smoothed is Wilder's
METHODS = ("SMA", "EMA", "Smoothed")
#: other spellings read as the document's method
METHOD_ALIASES = {"Wilder": "Smoothed", "RMA": "Smoothed", "SMMA": "Smoothed"}


def variable(data: xr.Dataset | xr.DataArray, name: str) -> xr.DataArray:
    """The price variable ``name`` of an OHLCV dataset (a DataArray is taken as that variable)."""
    if isinstance(data, xr.DataArray):
        array = data
    elif isinstance(data, xr.Dataset):
        if name not in data:
            have = ", ".join(map(str, data.data_vars)) or "none"
            raise DataError(f"{name}: the bars have no {name!r} variable (they have {have}); pass OHLCV bars.")
        array = data[name]
    else:
        raise DataError(f"{name}: expected an xarray Dataset or DataArray of bars, got {type(data).__name__}.")
    check_time(array, name)
    return array


def check_time(array: xr.DataArray, name: str) -> None:
    """Refuse an array without a ``time`` dimension, or whose ``time`` is unsorted or repeated."""
    if TIME not in array.dims:
        raise DataError(f"{name}: the bars have no {TIME!r} dimension (dimensions {list(array.dims)}).")
    if TIME in array.indexes:
        index = array.indexes[TIME]
        if not index.is_unique:
            raise DataError(f"{name}: the time {index[index.duplicated()][0]} appears twice; drop duplicates.")
        if not index.is_monotonic_increasing:
            raise DataError(f"{name}: the times are not sorted; sort the bars by time before use.")


def enough(array: xr.DataArray, name: str, needed: int, what: str) -> None:
    """Refuse fewer than ``needed`` candles along ``time``."""
    have = array.sizes[TIME]
    if have < needed:
        raise DataError(f"{name}: {have} candles, but {what} needs at least {needed}; pass a longer history.")


def read_parameters(values: dict[str, tuple[object, int, str]], problems: Problems | None = None) -> None:
    """Check ``{path: (value, rule_id, key)}`` against the document's spec of ``key`` in rule ``rule_id``.

    Without ``problems``, one :class:`~toolkit.errors.ValidationError` names every problem by its path;
    with it, the problems are noted there for the caller to raise with its own."""
    collect = Problems() if problems is None else problems
    for path, (value, rule_id, key) in values.items():
        rule = spec(rule_id, key)
        low = None if rule.low is None else float(rule.low)
        high = None if rule.high is None else float(rule.high)
        number(value, path, collect, low, high, whole=rule.kind == "whole", below_high=rule.below_high,
               what=f"the document's {key} is {rule.bounds()}")
    if problems is None:
        collect.raise_if_any("indicator parameters")


def number(value: object, path: str, problems: Problems, low: float | None = None, high: float | None = None, *,
           whole: bool = False, below_high: bool = False, above_low: bool = False, what: str = "") -> None:
    """Note a problem at ``path`` unless ``value`` is a finite number (whole: an int) within its bounds."""
    kind = "a whole number" if whole else "a number"
    if what == "":
        lo = "" if low is None else f"{'above' if above_low else 'at least'} {low:g}"
        hi = "" if high is None else f"{'below' if below_high else 'at most'} {high:g}"
        what = f"expected {kind} " + " and ".join(t for t in (lo, hi) if t) if lo or hi else f"expected {kind}"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or \
            (whole and not isinstance(value, (int, np.integer))):
        problems.add(path, f"{value!r} is not {kind} ({what})")
        return
    if not np.isfinite(value):
        problems.add(path, f"{value!r} is not a finite number ({what})")
        return
    out_low = low is not None and (value <= low if above_low else value < low)
    out_high = high is not None and (value >= high if below_high else value > high)
    if out_low or out_high:
        problems.add(path, f"{value} is out of range ({what})")


def method(value: object, path: str = "method") -> str:
    """The document's smoothing method (SMA, EMA or Smoothed), case-insensitively; Wilder is Smoothed."""
    if isinstance(value, str):
        for name in (*METHODS, *METHOD_ALIASES):
            if value.strip().lower() == name.lower():
                return METHOD_ALIASES.get(name, name)
    problems = Problems()
    problems.add(path, f"{value!r} is not one of {', '.join(METHODS)} (Smoothed is Wilder's smoothing)")
    problems.raise_if_any("indicator parameters")
    raise AssertionError("unreachable")


def core(array: xr.DataArray) -> xr.DataArray:
    """``array`` with ``time`` last and, when dask-backed, in one chunk along ``time`` (a recursion needs
    the whole history of a series: a time axis in several chunks is merged, lazily, into one; chunks along
    the other dimensions are kept)."""
    if array.dims[-1] != TIME:  # (a transpose that changes nothing still costs a copy of the metadata)
        array = array.transpose(*[d for d in array.dims if d != TIME], TIME)
    if array.chunks is not None and len(array.chunksizes[TIME]) > 1:
        array = array.chunk({TIME: -1})
    return array


def order_dims(result: xr.DataArray, like: xr.DataArray) -> xr.DataArray:
    """``result`` with the dimensions in ``like``'s order (instrument, time, ... as given)."""
    dims = [d for d in like.dims if d in result.dims]
    return result if list(result.dims[:len(dims)]) == dims else result.transpose(*dims, ...)


def apply(kernel: Callable, *arrays: xr.DataArray, outputs: int = 1, **kwargs) -> tuple[xr.DataArray, ...]:
    """``kernel(*numpy arrays (..., time), **kwargs)`` over ``arrays`` along ``time``, lazily on dask (one task
    per chunk of the other dimensions), giving ``outputs`` float arrays of the same shape."""
    cores = [core(a) for a in arrays]
    result = xr.apply_ufunc(kernel, *cores, kwargs=kwargs, input_core_dims=[[TIME]] * len(cores),
                            output_core_dims=[[TIME]] * outputs, dask="parallelized",
                            output_dtypes=[float] * outputs)
    results = (result,) if outputs == 1 else tuple(result)
    return tuple(order_dims(r, arrays[0]) for r in results)


def _latest_kernel(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    finite = np.isfinite(x)
    steps = x.shape[-1]
    last = steps - 1 - np.argmax(finite[..., ::-1], axis=-1)
    value = np.take_along_axis(x, last[..., None], axis=-1)[..., 0]
    found = finite.any(axis=-1)
    return np.where(found, value, np.nan), np.where(found, last, -1)


def latest(array: xr.DataArray) -> xr.DataArray:
    """Each series' last finite value along ``time``, with the ``time`` it was on as a coordinate.

    Series on one calendar end on different days (a delisted stock, an index whose data stop
    earlier); ``array.isel(time=-1)`` would give NaN for those, this gives their last value.

    Parameters
    ----------
    array : xr.DataArray
        Any indicator over ``(instrument, time)`` and extra dimensions.

    Returns
    -------
    xr.DataArray
        Over the dimensions without ``time``: the last finite value (NaN if none), with coordinate
        ``time`` (NaT if none).
    """
    check_time(array, str(array.name or "array"))
    value, index = xr.apply_ufunc(_latest_kernel, core(array), input_core_dims=[[TIME]],
                                  output_core_dims=[[], []], dask="parallelized", output_dtypes=[float, int])
    times = array[TIME].values
    when = xr.apply_ufunc(lambda i: np.where(i >= 0, times[np.maximum(i, 0)], np.datetime64("NaT")), index,
                          dask="parallelized", output_dtypes=[times.dtype])
    return value.assign_coords({TIME: when}).rename(array.name)


# --- numpy helpers of the kernels: valid bars packed at the start of each row --------------------------------

def valid_values(*arrays: np.ndarray) -> np.ndarray | None:
    """Where all ``arrays`` are finite, or None when all of them are everywhere (one reduction each first:
    the usual input has no NaN)."""
    if np.isfinite(sum(float(a.sum()) for a in arrays)):
        return None
    valid = np.isfinite(arrays[0])
    for a in arrays[1:]:
        valid &= np.isfinite(a)
    return valid


def counts(valid: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    """Each row's number of valid bars (all of them when ``valid`` is None)."""
    return np.full(shape[:-1], shape[-1]) if valid is None else valid.sum(axis=-1)


def compact(valid: np.ndarray | None) -> np.ndarray | None:
    """The per-row order that puts the valid bars first (stable), or None when every bar is valid."""
    if valid is None or valid.all():
        return None
    return np.argsort(~valid, axis=-1, kind="stable")


def pack(x: np.ndarray, order: np.ndarray | None) -> np.ndarray:
    """``x`` with each row's valid bars first (``order`` from :func:`compact`)."""
    return x if order is None else np.take_along_axis(x, order, axis=-1)


def spread(y: np.ndarray, order: np.ndarray | None, valid: np.ndarray | None) -> np.ndarray:
    """The packed result ``y`` put back at its bars' places; NaN at the invalid bars."""
    if order is None or valid is None:
        return y
    out = np.empty_like(y)
    np.put_along_axis(out, order, y, axis=-1)
    out[~valid] = np.nan
    return out


__all__ = ["INSTRUMENT", "METHODS", "TIME", "apply", "check_time", "compact", "counts", "core", "enough", "latest",
           "method", "number", "order_dims", "pack", "read_parameters", "spread", "valid_values", "variable"]
