"""The size rebalance trigger: rebalance a component only when it has drifted far enough from its target.

A component is rebalanced when its current weight differs from its target weight by more than
``threshold`` *relative to the target*: ``|w_current - w_target| > threshold * w_target``
(``threshold`` 0.05: a 10 % target is left alone between 9.5 % and 10.5 %). A component with a
target of 0 that is still held is always rebalanced (sold); one with a target of 0 and no holding
never is. Differences within 1e-12 of the threshold count as equal (not more), so rounding in the
weights does not flip the decision. Pure functions: any extra dimensions (``portfolio``, ``time``)
are kept, dask-backed weights stay lazy apart from the validity check.
"""

from __future__ import annotations

import math
from typing import cast

import xarray as xr

from toolkit.errors import Problems
from toolkit.schema import INSTRUMENT

WHAT = "rebalance trigger"
#: how much more than the threshold a difference must be to count as "more"
EPSILON = 1e-12


def _aligned(current: object, target: object, threshold: object) -> tuple[xr.DataArray, xr.DataArray]:
    problems = Problems()
    for name, x in (("current", current), ("target", target)):
        if not isinstance(x, xr.DataArray) or INSTRUMENT not in x.dims:
            problems.add(name, f"expected weights as an xarray DataArray over {INSTRUMENT!r}")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold) \
            or not 0 <= threshold <= 1:
        problems.add("threshold", f"{threshold!r} is not a fraction of the target in [0, 1] (0.05 for 5 %)")
    problems.raise_if_any(WHAT)
    # both are DataArrays over instrument: anything else was refused just above
    current, target = xr.align(cast(xr.DataArray, current), cast(xr.DataArray, target), join="outer",
                               fill_value=0.0)
    for name, x in (("current", current), ("target", target)):
        bad = (x.isnull() | (x < 0)).any()
        if bool(bad.compute()):
            problems.add(name, "holds a NaN or negative weight; weights are fractions >= 0")
    problems.raise_if_any(WHAT)
    return current, target


def size_trigger(current: xr.DataArray, target: xr.DataArray, threshold: float) -> xr.DataArray:
    """True for each component to rebalance: ``|current - target| > threshold * target``.

    Instruments in only one of the two get weight 0 in the other (outer join).
    """
    current, target = _aligned(current, target, threshold)
    drift = abs(current - target) - threshold * target
    return (drift > EPSILON).rename("rebalance")


def triggered_trades(current: xr.DataArray, target: xr.DataArray, threshold: float) -> xr.DataArray:
    """The weight to trade per component: ``target - current`` where :func:`size_trigger` fires, else 0.

    The trades need not sum to 0: what the untouched components keep is taken from (or left in) cash.
    """
    fire = size_trigger(current, target, threshold)
    current, target = xr.align(current, target, join="outer", fill_value=0.0)
    return (target - current).where(fire, 0.0).rename("trade")
