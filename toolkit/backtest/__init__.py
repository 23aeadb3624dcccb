"""Vectorised backtests of rebalancing policies over (portfolio, strategy, time).

:func:`simulate` runs buy and hold, calendar rebalancing and drift bands, with costs, for many
portfolios and several :class:`Policy` objects in one call, and returns NAV, weights, turnover and
costs as an ``xr.Dataset``. Pure: no I/O, no database.
"""

from toolkit.backtest.simulation import STRATEGY, Policy, simulate

__all__ = ["STRATEGY", "Policy", "simulate"]
