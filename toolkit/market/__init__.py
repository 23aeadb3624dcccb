"""Market data as pure functions: instruments, OHLCV history, FX, calendars, coverage.

Nothing here touches the database; the store and the workspace feed these functions.
"""

from toolkit.market.fx import convert
from toolkit.market.history import parse_history, read_csv_history, resample, to_dataset
from toolkit.market.instruments import Instrument, search

__all__ = ["Instrument", "convert", "parse_history", "read_csv_history", "resample", "search", "to_dataset"]
