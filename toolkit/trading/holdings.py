"""Holdings over time, derived from the ledger as xarray (for the returns work that follows).

``positions (portfolio, instrument, time)``: shares held at the end of each day, the running sum
of the fills by execution date; ``cash (portfolio, time)``: the running sum of the cash ledger by
value date; ``flows (portfolio, time)``: the external cash flows (deposits +, withdrawals −) booked
for each day, the inputs of the time-weighted return. Bookings on a non-trading day count from the
next trading day on. Sums run on the exact integer units (1e-10 share, cents) before the float64 the
cube carries.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from toolkit.schema import INSTRUMENT, PORTFOLIO, TIME


def _running(frame: pd.DataFrame, keys: list[str], date: str, units: pd.Series, days: pd.DatetimeIndex,
             scale: float) -> xr.DataArray:
    """Daily increments per key, summed exactly, accumulated over time, read on ``days``."""
    steps = frame.assign(units=units.to_numpy(), **{TIME: pd.to_datetime(frame[date])})
    steps = steps.groupby([*keys, TIME])["units"].sum()
    cube = xr.DataArray.from_series(steps).fillna(0).astype(np.int64)
    every = cube.indexes[TIME].union(days)
    cube = cube.reindex({TIME: every}, fill_value=0).cumsum(TIME).reindex({TIME: days}, method="ffill")
    return (cube / scale).fillna(0.0)


def holdings(fills: pd.DataFrame, cash: pd.DataFrame, accounts: list[str], instruments: list[str],
             days: pd.DatetimeIndex, flows: pd.DataFrame | None = None) -> xr.Dataset:
    """The ``positions`` and ``cash`` cubes for ``accounts`` on the trading ``days``, and the
    ``flows`` cube when the external bookings ``flows`` (a ledger table) are given."""
    fills = fills.rename(columns={"account_id": PORTFOLIO, "instrument_id": INSTRUMENT})
    cash = cash.rename(columns={"account_id": PORTFOLIO})
    positions = (_running(fills, [PORTFOLIO, INSTRUMENT], "executed_on", fills["units"], days, 1e10) if len(fills)
                 else xr.DataArray(np.zeros((0, 0, len(days))), dims=(PORTFOLIO, INSTRUMENT, TIME),
                                   coords={PORTFOLIO: [], INSTRUMENT: [], TIME: days}))
    money = _per_portfolio(cash, days)
    positions = positions.reindex({PORTFOLIO: accounts, INSTRUMENT: instruments}, fill_value=0.0)
    cube = xr.Dataset({"positions": positions, "cash": money.reindex({PORTFOLIO: accounts}, fill_value=0.0)})
    if flows is not None:  # a day's flow is the step of their running sum (earlier ones count on the first day)
        running = _per_portfolio(flows.rename(columns={"account_id": PORTFOLIO}), days)
        step = running - running.shift({TIME: 1}, fill_value=0.0)
        cube["flows"] = step.reindex({PORTFOLIO: accounts}, fill_value=0.0)
    return cube


def _per_portfolio(ledger: pd.DataFrame, days: pd.DatetimeIndex) -> xr.DataArray:
    """The running sum of the ledger's ``units`` (cents) per portfolio by value date, read on ``days``."""
    if not len(ledger):
        return xr.DataArray(np.zeros((0, len(days))), dims=(PORTFOLIO, TIME), coords={PORTFOLIO: [], TIME: days})
    return _running(ledger, [PORTFOLIO], "value_date", ledger["units"], days, 100.0)
