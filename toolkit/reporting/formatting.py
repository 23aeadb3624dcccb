"""Display formatting of return figures: fractions shown as percent or basis points.

Conventions: inputs are fractions (0.0123 is 1.23 %, 123 bp); a missing value (NaN, None,
±inf) is shown as an en dash ``"–"`` (U+2013), never as an empty cell; negative numbers carry
an ASCII hyphen-minus; a figure that rounds to zero is shown without a sign (``"0.00%"``, not
``"-0.00%"``); thousands are grouped with a comma (``"35,298 bp"``, ``"1,234.50%"``); rounding is
numpy's round-half-to-even at the shown decimals.

Both functions take a scalar (returns ``str``), a list or numpy array (returns an object
array of ``str`` of the same shape), a ``pandas.Series`` or a ``pandas.DataFrame`` (returns
the same labels holding ``str``). They are for display only: never feed their output back
into a computation.
"""

from __future__ import annotations

import math
from typing import Any, TypeAlias, TypeVar, overload

import numpy as np
import pandas as pd

#: what a missing value is shown as
MISSING = "\u2013"

Formattable: TypeAlias = float | int | np.ndarray | list | pd.Series | pd.DataFrame
Formatted: TypeAlias = str | np.ndarray | pd.Series | pd.DataFrame
#: a pandas input: the output keeps its kind and labels
Labelled = TypeVar("Labelled", pd.Series, pd.DataFrame)


def _one(value: Any, scale: float, decimals: int, unit: str) -> str:
    try:
        number = float(value) * scale
    except (TypeError, ValueError):
        return MISSING
    if not np.isfinite(number):
        return MISSING
    rounded = float(np.round(number, decimals)) + 0.0  # + 0.0 turns -0.0 into 0.0
    return f"{rounded:,.{decimals}f}{unit}"


def _apply(x: object, scale: float, decimals: int, unit: str) -> Formatted:
    if isinstance(decimals, bool) or not isinstance(decimals, int) or decimals < 0:
        raise ValueError(f"decimals must be a whole number >= 0, got {decimals!r}")
    if isinstance(x, pd.DataFrame):
        return x.apply(lambda column: column.map(lambda v: _one(v, scale, decimals, unit)))
    if isinstance(x, pd.Series):
        return x.map(lambda v: _one(v, scale, decimals, unit))
    if isinstance(x, (list, tuple, np.ndarray)):
        values = np.asarray(x, dtype=object)
        out = np.empty(values.shape, dtype=object)
        for index, value in np.ndenumerate(values):  # display of a table, not a computation
            out[index] = _one(value, scale, decimals, unit)
        return out
    return _one(x, scale, decimals, unit)


@overload
def percent(x: float, decimals: int = 2) -> str: ...
@overload
def percent(x: np.ndarray | list, decimals: int = 2) -> np.ndarray: ...
@overload
def percent(x: Labelled, decimals: int = 2) -> Labelled: ...
def percent(x: Formattable, decimals: int = 2) -> Formatted:
    """A fraction as percent text: ``percent(0.01234) == "1.23%"``; NaN as ``"–"``.

    ``x * 100`` rounded half-to-even to ``decimals`` places, followed by ``%`` (no space).
    """
    return _apply(x, 100.0, decimals, "%")


@overload
def bps(x: float, decimals: int = 0) -> str: ...
@overload
def bps(x: np.ndarray | list, decimals: int = 0) -> np.ndarray: ...
@overload
def bps(x: Labelled, decimals: int = 0) -> Labelled: ...
def bps(x: Formattable, decimals: int = 0) -> Formatted:
    """A fraction as basis points: ``bps(0.01234) == "123 bp"`` (1 bp = 0.0001); NaN as ``"–"``.

    ``x * 10_000`` rounded half-to-even to ``decimals`` places, followed by ``" bp"``.
    """
    return _apply(x, 10_000.0, decimals, " bp")


def json_number(x: Any) -> float | None:
    """A JSON number: a float, or None (JSON null) for NaN."""
    x = float(x)
    return None if math.isnan(x) else x


def json_value(value: Any) -> Any:
    """A cell of a table as JSON writes it: numbers as floats or ints (NaN as None), timestamps as ISO dates."""
    if isinstance(value, (np.floating, float)):
        return json_number(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return pd.Timestamp(value).date().isoformat()
    return value


def json_records(frame: pd.DataFrame) -> list[dict]:
    """A table's rows as JSON objects (:func:`json_value` for each cell)."""
    return [{k: json_value(v) for k, v in row.items()} for row in frame.to_dict("records")]


def camel(name: str) -> str:
    """``snake_case`` as the seeds' ``camelCase`` keys: ``value_at_risk`` -> ``valueAtRisk``."""
    head, *rest = str(name).split("_")
    return head + "".join(part.title() for part in rest)
