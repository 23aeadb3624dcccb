"""Dimension names, variables and timeframes of the data model, spelled once.

Market data is an ``xr.Dataset`` of ``open, high, low, close, volume`` over
``(instrument, time)``, with the instrument metadata as coordinates on ``instrument``.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np
import xarray as xr

from toolkit.errors import DataError

TIME = "time"
INSTRUMENT = "instrument"
PORTFOLIO = "portfolio"
SEGMENT = "segment"
LEVEL = "level"
HORIZON = "horizon"
FIELD = "field"

PRICES = ("open", "high", "low", "close")
OHLCV = (*PRICES, "volume")
INSTRUMENT_COORDS = ("name", "symbol", "isin", "mic", "currency", "asset_class", "sector", "country")

#: pandas offsets of the resampling horizons; weeks end on Friday, months on the calendar ultimo
HORIZONS = {"day": "D", "week": "W-FRI", "month": "ME"}


class Timeframe(IntEnum):
    """The risk platform's history timeframes (the integer is the wire value)."""

    WEEK = 0
    DAY = 1
    TWO_HOURS = 2
    ONE_HOUR = 3
    FIFTEEN_MINUTES = 4

    @property
    def step(self) -> np.timedelta64:
        return _STEPS[self]

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", " ")


_STEPS = {
    Timeframe.WEEK: np.timedelta64(7, "D"),
    Timeframe.DAY: np.timedelta64(1, "D"),
    Timeframe.TWO_HOURS: np.timedelta64(2, "h"),
    Timeframe.ONE_HOUR: np.timedelta64(1, "h"),
    Timeframe.FIFTEEN_MINUTES: np.timedelta64(15, "m"),
}


def validate_market(ds: xr.Dataset) -> xr.Dataset:
    """Check that ``ds`` is market data of this toolkit's shape; raise :class:`DataError` if not.

    Checks the dimension names, a sorted and unique ``time`` index and that no price is
    non-positive. NaN is allowed (an instrument without a quote that day); the check is
    lazy-friendly: on dask-backed data only the reductions are computed.
    """
    missing = {INSTRUMENT, TIME} - set(ds.dims)
    if missing:
        raise DataError(f"Market data needs the dimensions (instrument, time); missing {sorted(missing)}.")
    time = ds.indexes[TIME]
    if not time.is_unique:
        dup = time[time.duplicated()][0]
        raise DataError(f"Market data has a duplicate timestamp {dup}; drop duplicates before use.")
    if not time.is_monotonic_increasing:
        raise DataError("Market data timestamps are not sorted; sort by time before use.")
    for name in PRICES:
        if name in ds and bool((ds[name] <= 0).any()):
            raise DataError(f"Market data has a non-positive {name} price; prices must be > 0.")
    return ds
