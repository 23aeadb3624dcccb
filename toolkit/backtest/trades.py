"""Positions (FIFO lots) and trade statistics of a backtest, as the risk platform's backtest answer reports them.

A **position** is a lot: a buy opens one (the units bought that day, at that close), and sells close
lots oldest first (FIFO), so a sell that closes part of a lot splits it into a closed position and an
open remainder with the same opening. A lot still open at the end has ``closed=False`` and is valued
at the last close (``close_date`` and ``close_price`` are the period's last day and close). Long
positions only (the simulator holds no short units).

**Costs of a position**: each day's costs are shared among that day's trades, each trade's share
proportional to its own cost rule ``max(bps * value, minimum)`` (proportional to its traded value when
there is no cost rule, e.g. under the caller's order math), so the shares are exact when a line
trades once a day and always sum to the day's costs. A lot carries its buy's cost pro rata to its
units, and a closed part the sell's cost pro rata to the units it closes. The **P&L** of a position is
``units * (close_price - open_price) - costs``; the positions' P&Ls sum to the book's P&L.

Work: a Python loop over runs and instruments, each an array operation over that line's trades
(FIFO matching by cumulative units); a report for one portfolio, not a hot path.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from toolkit.errors import Problem, ValidationError
from toolkit.schema import INSTRUMENT, TIME

#: the level the risk platform reports for "no stop" and "no limit"
NO_STOP = 0.0
NO_LIMIT = sys.float_info.max
COLUMNS = ("instrument", "open_date", "open_price", "close_date", "close_price", "units", "stop", "limit",
           "costs", "pnl", "closed")


def positions(result: xr.Dataset) -> pd.DataFrame:
    """The positions (FIFO lots) of a backtest.

    Parameters
    ----------
    result : xr.Dataset
        What :func:`toolkit.backtest.simulate` returns, any number of runs (``strategy`` and extra
        dimensions become leading columns).

    Returns
    -------
    pd.DataFrame
        One row per position, ordered by run, instrument and opening: the run's labels, then
        ``instrument, open_date, open_price, close_date, close_price, units, stop, limit, costs, pnl,
        closed``. ``stop`` and ``limit`` are the levels in force on the opening day, ``0`` and the
        largest float when there are none (as the risk platform writes them).
    """
    _check_result(result)
    heads = [d for d in result["nav"].dims if d != TIME]
    close = np.asarray(result["close"].transpose(INSTRUMENT, TIME).values, dtype=float)
    times = pd.DatetimeIndex(result[TIME].values)
    instruments = result[INSTRUMENT].values
    bps, minimum = result.attrs.get("cost_bps", 0.0) / 1e4, result.attrs.get("min_cost", 0.0)
    if result.attrs.get("order_math", 0) or (bps == 0 and minimum == 0):
        bps, minimum = 1.0, 0.0
    units = result["units"].transpose(*heads, INSTRUMENT, TIME)
    costs = result["costs"].transpose(*heads, TIME)
    stop = _levels(result, "stop", heads, NO_STOP)
    limit = _levels(result, "limit", heads, NO_LIMIT)
    frames = []
    for index in np.ndindex(*[result.sizes[d] for d in heads]):
        held = np.asarray(units.values[index], dtype=float)  # (instrument, time)
        change = np.diff(held, axis=1, prepend=0.0)
        traded = np.abs(change) * close
        scale = np.maximum(np.abs(held).max(1, keepdims=True), 1e-300)
        moved = np.abs(change) > 1e-12 * scale
        rule = np.where(moved, np.maximum(bps * traded, minimum), 0.0)
        total = rule.sum(0)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(total > 0, rule / total, 0.0) * np.asarray(costs.values[index], dtype=float)
        rows = [_lots(change[i], moved[i], close[i], share[i], times, stop[index][i], limit[index][i], scale[i, 0])
                for i in range(len(instruments))]
        frame = pd.concat([r.assign(instrument=instruments[i]) for i, r in enumerate(rows)], ignore_index=True)
        for d, k in zip(heads, index, strict=True):
            frame.insert(0, str(d), result[d].values[k] if d in result.coords else k)
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    return table[[*map(str, reversed(heads)), *COLUMNS]] if not table.empty else table


def _check_result(result: object, units: bool = True) -> None:
    need = ("nav", "costs", "close", "twr_nav", "flow")
    if not isinstance(result, xr.Dataset) or any(k not in result for k in need):
        raise ValidationError([Problem("result", "give the Dataset toolkit.backtest.simulate returned")],
                              "backtest report")
    if units and "units" not in result:
        raise ValidationError([Problem("result.units", "positions need the units: simulate with lines=True")],
                              "backtest report")


def _levels(result: xr.Dataset, name: str, heads: list, none: float) -> np.ndarray:
    """The level in force per run, instrument and day (``(*heads, instrument, time)``), ``none`` if NaN."""
    shape = (*[result.sizes[d] for d in heads], result.sizes[INSTRUMENT], result.sizes[TIME])
    if name not in result:
        return np.full(shape, none)
    level = result[name]
    if TIME not in level.dims:
        level = level.expand_dims({TIME: result[TIME].values})
    level = xr.broadcast(level, result["units"])[0].transpose(*heads, INSTRUMENT, TIME)
    values = np.asarray(level.values, dtype=float)
    return np.where(np.isnan(values), none, values)


def _lots(change: np.ndarray, moved: np.ndarray, close: np.ndarray, cost: np.ndarray, times: pd.DatetimeIndex,
          stop: np.ndarray, limit: np.ndarray, scale: float) -> pd.DataFrame:
    """FIFO positions of one line from its daily unit changes ``(time,)``."""
    buys = np.flatnonzero(moved & (change > 0))
    sells = np.flatnonzero(moved & (change < 0))
    if buys.size == 0:
        return pd.DataFrame(columns=[c for c in COLUMNS if c != "instrument"])
    bought = np.cumsum(change[buys])
    sold = np.minimum(np.cumsum(-change[sells]), bought[-1])
    tol = 1e-9 * scale
    # snap cumulative sells onto a cumulative buy they equal up to float noise, so a lot closes whole
    near = np.abs(sold[:, None] - bought[None, :]) <= tol
    sold = np.where(near.any(1), bought[np.argmax(near, 1)], sold)
    points = np.unique(np.concatenate([[0.0], bought, sold]))
    lo, hi = points[:-1], points[1:]
    keep = hi - lo > tol
    lo, hi = lo[keep], hi[keep]
    lot = np.searchsorted(bought, lo, side="right")
    exit_ = np.searchsorted(sold, lo, side="right") if sold.size else np.zeros(lo.size, dtype=int)
    closed = exit_ < sells.size
    qty = hi - lo
    open_day = buys[lot]
    close_day = np.where(closed, sells[np.minimum(exit_, max(sells.size - 1, 0))] if sells.size else 0,
                         len(times) - 1)
    open_cost = cost[open_day] * qty / change[open_day]
    close_cost = np.where(closed, cost[close_day] * qty / np.where(closed, -change[close_day], 1.0), 0.0)
    costs = open_cost + close_cost
    open_price, close_price = close[open_day], close[close_day]
    return pd.DataFrame({"open_date": times[open_day], "open_price": open_price, "close_date": times[close_day],
                         "close_price": close_price, "units": qty, "stop": stop[open_day],
                         "limit": limit[open_day], "costs": costs,
                         "pnl": qty * (close_price - open_price) - costs, "closed": closed})


@dataclass(frozen=True)
class TradeStatistics:
    """The risk platform's backtest statistics for one run, defined precisely.

    Attributes
    ----------
    yearly_return : float
        Compound annual growth of the flow-adjusted NAV: ``(twr_nav[-1] / capital) ** (365.25 / days) - 1``
        with ``days`` the calendar days from the first to the last date (NaN over a single day). The
        capital is invested at the first close, so the first day's costs count.
    profitable_ratio : float
        The share of positions (all rows of :func:`positions`, open ones valued at the last close) whose
        P&L is strictly positive (NaN without positions).
    profit_loss_ratio : float
        The mean P&L of the profitable positions over the absolute mean P&L of the losing ones (P&L < 0);
        ``inf`` when there are winners and no losers, NaN when there are neither.
    average_duration : pd.Timedelta
        The mean calendar time from opening to closing (to the last date for open positions).
    lowest_pnl : float
        The minimum of ``pnl_series`` (the deepest cumulative loss; positive if the book never lost).
    costs : float
        Every cost paid over the period.
    pnl : float
        The P&L at the end, ``pnl_series[-1]``; equal to the sum of the positions' P&L.
    pnl_series : pd.Series
        The cumulative P&L per day: ``nav_t - capital - sum of the flows up to t`` (so a deposit is not a
        gain), after the day's trades and costs.
    """

    yearly_return: float
    profitable_ratio: float
    profit_loss_ratio: float
    average_duration: pd.Timedelta
    lowest_pnl: float
    costs: float
    pnl: float
    pnl_series: pd.Series


def trade_statistics(result: xr.Dataset, table: pd.DataFrame | None = None) -> TradeStatistics:
    """The trade statistics of one run of a backtest.

    Parameters
    ----------
    result : xr.Dataset
        What :func:`toolkit.backtest.simulate` returns, reduced to one run (``nav`` over ``(time,)``:
        select the strategy and portfolio first).
    table : pd.DataFrame, optional
        Its :func:`positions` (computed when not given).

    Returns
    -------
    TradeStatistics
        See :class:`TradeStatistics` for each definition.
    """
    _check_result(result, units=table is None)
    if result["nav"].dims != (TIME,):
        others = [str(d) for d in result["nav"].dims if d != TIME]
        raise ValidationError([Problem("result", f"select one run first: .sel({', '.join(others)}=...)")],
                              "backtest report")
    table = positions(result) if table is None else table
    capital = float(result.attrs["capital"])
    times = pd.DatetimeIndex(result[TIME].values)
    nav = np.asarray(result["nav"].values, dtype=float)
    series = pd.Series(nav - capital - np.cumsum(np.asarray(result["flow"].values, dtype=float)), index=times,
                       name="pnl")
    days = (times[-1] - times[0]).days
    growth = float(result["twr_nav"].values[-1]) / capital
    yearly = growth ** (365.25 / days) - 1 if days > 0 else float("nan")
    pnl = table["pnl"].to_numpy(dtype=float) if len(table) else np.zeros(0)
    wins, losses = pnl[pnl > 0], pnl[pnl < 0]
    if losses.size:
        ratio = float(wins.mean() / -losses.mean()) if wins.size else 0.0
    else:
        ratio = float("inf") if wins.size else float("nan")
    duration = (pd.to_datetime(table["close_date"]) - pd.to_datetime(table["open_date"])).mean() if len(table) \
        else pd.Timedelta("NaT")
    return TradeStatistics(yearly_return=float(yearly),
                           profitable_ratio=float(wins.size / pnl.size) if pnl.size else float("nan"),
                           profit_loss_ratio=ratio, average_duration=duration, lowest_pnl=float(series.min()),
                           costs=float(result["costs"].sum()), pnl=float(series.iloc[-1]), pnl_series=series)
