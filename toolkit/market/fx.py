"""Currency conversion with the ECB euro reference rates.

Rates are a ``DataArray`` over ``(currency, time)`` of units of a currency per 1 EUR, as
the ECB publishes them (EUR itself is 1). The rate of currency X in currency Y is
``rate[Y] / rate[X]`` (a cross rate through the euro, the ECB's own convention).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from toolkit.errors import DataError
from toolkit.schema import INSTRUMENT, PRICES, TIME

CURRENCY = "currency"


def rates_from_table(table: pd.DataFrame) -> xr.DataArray:
    """Turn a long table (``currency, time, rate``) into the EUR-based rate cube, EUR included."""
    wide = table.pivot(index=TIME, columns=CURRENCY, values="rate")
    wide.index = pd.to_datetime(wide.index)
    wide["EUR"] = 1.0
    cube = xr.DataArray(wide.to_numpy(dtype="float64"), dims=(TIME, CURRENCY),
                        coords={TIME: wide.index.to_numpy(), CURRENCY: wide.columns.to_numpy(dtype=object)})
    return cube.sortby(TIME)


def convert(ds: xr.Dataset, to: str, rates: xr.DataArray) -> xr.Dataset:
    """Convert the prices of ``ds`` into currency ``to`` at each day's ECB reference rate.

    ``price_to = price_local * rate[to] / rate[local]``, where ``local`` is the
    ``currency`` coordinate of each instrument. On days without an ECB fixing (TARGET
    holidays) the last published rate is carried forward. Volume is left as it is.
    Raises :class:`DataError` for a currency the ECB does not publish or for prices dated
    before the first published rate (1999-01-04).
    """
    to = to.upper()
    local = ds[CURRENCY].to_numpy().astype(str)
    known = set(rates[CURRENCY].to_numpy().tolist())
    unknown = sorted({to, *local} - known)
    if unknown:
        raise DataError(f"No ECB reference rate for {', '.join(unknown)}; the ECB publishes "
                        f"{', '.join(sorted(known))}.")
    first = rates[TIME].to_numpy()[0]
    priced = ds["close"].notnull().any(INSTRUMENT)
    early = ds[TIME].where(priced & (ds[TIME] < first), drop=True)
    if early.size:
        raise DataError(f"Prices from {pd.Timestamp(early.to_numpy()[0]).date()} predate the first ECB "
                        f"rate ({pd.Timestamp(first).date()}); select a start on or after it to convert.")
    daily = rates.reindex({TIME: ds[TIME]}, method="ffill")
    factor = daily.sel({CURRENCY: to}) / daily.sel({CURRENCY: xr.DataArray(local, dims=INSTRUMENT)})
    factor = factor.drop_vars(CURRENCY, errors="ignore")
    out = ds.copy()
    for name in PRICES:
        if name in out:
            out[name] = ds[name] * factor
    out = out.assign_coords({CURRENCY: (INSTRUMENT, np.full(ds.sizes[INSTRUMENT], to, dtype=object))})
    out.attrs["fx"] = f"converted to {to} at ECB euro reference rates (last fixing carried forward)"
    return out
