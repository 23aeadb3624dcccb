"""Indicators of the risk platform's tactical rules, as pure functions over OHLCV bars.

Every function takes an OHLCV ``xr.Dataset`` (or closes) over ``(instrument, time)`` with any extra
dimensions, keeps those dimensions, and stays lazy on dask-backed input. Parameters are in the risk
platform's units and ranges (``toolkit.contracts.risk.rules``); each module states its seeding and
where TA-Lib, ``ta``, pandas-ta and stockstats differ.

- :mod:`~toolkit.signals.volatility`: :func:`true_range`, :func:`atr` (SMA, EMA, Smoothed = Wilder);
- :mod:`~toolkit.signals.momentum`: :func:`rsi` (Wilder), :func:`reversal_probability` (rule 4);
- :mod:`~toolkit.signals.trend`: :func:`supertrend` (rule 7), :func:`trend_bias` (rule 9);
- :mod:`~toolkit.signals.levels`: :func:`swing_points`, :func:`support_resistance`,
  :func:`nearest_levels` (minor and major supports and resistances, rules 5 and 10);
- :func:`latest`: each series' last value (series on one calendar may end on different days);
- :mod:`~toolkit.signals.kernels`: the compiled (numba) single-pass kernels behind true range, ATR, RSI,
  SuperTrend, the trend bias, rule 4's statistic and rule 8's replay.

The tactical rules (ids 1-11 and 13) on a book of orders, built on these:
:func:`toolkit.signals.tactical.evaluate` (every rule on every order in one call, defaults filled in),
:mod:`toolkit.signals.brackets` (rule 8's replay of a stop and a limit), and
:func:`toolkit.signals.commentary.tactical_analysis` (the document's ``tactical_analysis`` items).
"""

from toolkit.signals.bars import latest
from toolkit.signals.levels import nearest_levels, support_resistance, swing_points
from toolkit.signals.momentum import reversal_probability, rsi
from toolkit.signals.trend import supertrend, trend_bias
from toolkit.signals.volatility import atr, true_range

__all__ = ["atr", "latest", "nearest_levels", "reversal_probability", "rsi", "supertrend", "support_resistance",
           "swing_points", "trend_bias", "true_range"]
