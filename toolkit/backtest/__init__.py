"""Vectorised backtests of rebalancing policies over (portfolio, strategy, time).

:func:`simulate` runs buy and hold, calendar rebalancing and drift bands with a cooldown, costs, whole
or fractional units, cash flows, stops and limits, periodic re-optimisation and the caller's order
math, for many portfolios and several :class:`Policy` objects in one call, and returns NAV, weights,
turnover and costs as an ``xr.Dataset``. :func:`positions` lists its FIFO lots and
:func:`trade_statistics` summarises one run as the risk platform's backtest answer does. Pure: no I/O,
no database.
"""

from toolkit.backtest.simulation import STRATEGY, OrderMath, Policy, Reoptimise, simulate
from toolkit.backtest.trades import NO_LIMIT, NO_STOP, TradeStatistics, positions, trade_statistics

__all__ = ["NO_LIMIT", "NO_STOP", "STRATEGY", "OrderMath", "Policy", "Reoptimise", "TradeStatistics", "positions",
           "simulate", "trade_statistics"]
