"""The shipped market data in ``data/``: instrument metadata, OHLCV series and ECB rates.

``data/instruments.csv`` names, for each series, the file and column its daily bars come from;
``data/intraday.csv`` names the intraday timeframes of a series, the file of real bars each comes
from and that file's bar length. See ``data/README.md`` for the packages the files are re-exported
from.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from toolkit.errors import DataError
from toolkit.market.calendars import calendar
from toolkit.market.exchanges import market
from toolkit.market.instruments import instrument_id
from toolkit.schema import OHLCV, TIME, Timeframe

DATA = Path(__file__).resolve().parents[2] / "data"


def instruments(data: Path = DATA) -> pd.DataFrame:
    """The shipped instrument table, indexed by deterministic ``instrument_id``."""
    table = pd.read_csv(data / "instruments.csv", dtype=str, keep_default_na=False)
    table = table.mask(table.eq(""))
    table["tradable"] = table["tradable"].eq("true")
    table["instrument_id"] = [instrument_id(s, y, i, c) for s, y, i, c in
                              zip(table["source"], table["symbol"], table["isin"], table["currency"])]
    return table.set_index("instrument_id")


def series(data: Path = DATA) -> Iterator[tuple[str, pd.DataFrame]]:
    """Yield ``(instrument_id, frame)`` for every shipped series; frames have ``time`` + OHLCV."""
    cache: dict[str, pd.DataFrame] = {}
    for iid, row in instruments(data).iterrows():
        if row["file"] not in cache:
            cache[row["file"]] = pd.read_csv(data / row["file"])
        raw, column = cache[row["file"]], row["column"] if isinstance(row["column"], str) else None
        if "symbol" in raw:  # long file: one block of rows per symbol
            frame = raw[raw["symbol"] == column]
        elif column:  # wide file of closes: one column per series
            frame = raw[[TIME, column]].rename(columns={column: "close"})
        else:
            frame = raw
        frame = frame[[c for c in (TIME, *OHLCV) if c in frame]].dropna(subset=["close"])
        yield iid, frame.reset_index(drop=True)


def fx_rates(data: Path = DATA) -> pd.DataFrame:
    """ECB euro reference rates as a long table ``currency, time, rate`` (units per 1 EUR)."""
    wide = pd.read_csv(data / "ecb_fx.csv")
    long = wide.melt(id_vars=TIME, var_name="currency", value_name="rate").dropna(subset=["rate"])
    return long[["currency", TIME, "rate"]].reset_index(drop=True)


def intraday(data: Path = DATA) -> Iterator[tuple[str, Timeframe, pd.DataFrame]]:
    """Yield ``(instrument_id, timeframe, frame)`` for every shipped intraday series of ``intraday.csv``.

    A frame has ``time`` (ISO 8601 text with the market's UTC offset, the bar's start) and OHLCV. A
    timeframe whose step is the file's own bar length is the file as shipped; a longer one is built
    from the file's real bars by :func:`aggregate_bars` (2 h from 1 h bars, 15 min from 1 min bars).
    """
    if not (data / "intraday.csv").exists():  # a data folder without intraday series
        return
    table = instruments(data)
    manifest = pd.read_csv(data / "intraday.csv", dtype={"timeframe": int})
    for row in manifest.itertuples(index=False):
        match = table[(table["source"] == row.source) & (table["symbol"] == row.symbol)]
        if len(match) != 1:
            raise DataError(f"intraday.csv names {row.symbol} of {row.source}, which instruments.csv lists "
                            f"{len(match)} times; list it once")
        iid, timeframe = match.index[0], Timeframe(row.timeframe)
        raw = pd.read_csv(data / row.file, dtype={TIME: str})
        bars = raw[[TIME, *OHLCV]].set_index(pd.DatetimeIndex(pd.to_datetime(raw[TIME], utc=True), name=TIME))
        step = pd.Timedelta(timeframe.step)
        if pd.Timedelta(row.bar) != step:
            found = market(match["mic"].iloc[0])
            opens = calendar(match["mic"].iloc[0]).opens
            bars = aggregate_bars(bars.drop(columns=TIME), step, opens, found.timezone if found else "UTC")
            bars.insert(0, TIME, [t.isoformat() for t in bars.index])
        yield iid, timeframe, bars.reset_index(drop=True)


def aggregate_bars(bars: pd.DataFrame, step: pd.Timedelta, opens: pd.Series, timezone: str) -> pd.DataFrame:
    """Real bars of one series merged into bars of ``step``, each bin anchored at its session's open.

    A bar starting at ``t`` in the session opening at ``o`` goes to the bin starting at
    ``o + floor((t - o) / step) * step``: with a 09:30 open, 2 h bins start at 09:30, 11:30, 13:30 and
    15:30 (that last one a half hour long, as the session ends at 16:00), 15 min bins at 09:30, 09:45,
    ... A merged bar is the first open, the highest high, the lowest low, the last close and the summed
    volume of its bars, so its high and low are traded prices, never an estimate.

    Parameters
    ----------
    bars : pandas.DataFrame
        ``(n_bars,)`` rows of ``open, high, low, close, volume`` indexed by the bars' start times
        (time-zone aware, sorted).
    step : pandas.Timedelta
        The merged bars' length: a whole multiple of the input bars' length.
    opens : pandas.Series
        Each session's opening time (UTC) indexed by the session's date, as ``exchange_calendars``
        gives it (``calendar(mic).opens``).
    timezone : str
        The market's time zone: a bar belongs to the session of its local date.

    Returns
    -------
    pandas.DataFrame
        ``(n_merged,)`` rows of ``open, high, low, close, volume`` indexed by the merged bars' start
        times in ``timezone``.
    """
    local = pd.DatetimeIndex(bars.index).tz_convert(timezone)
    session = pd.DatetimeIndex(local.tz_localize(None).normalize())
    missing = ~session.isin(opens.index)
    if missing.any():
        raise DataError(f"{int(missing.sum())} bars fall on days that are not sessions of the market's calendar, "
                        f"the first at {local[missing][0].isoformat()}; upload bars of trading sessions only")
    open_at = pd.DatetimeIndex(opens.reindex(session))
    open_at = open_at.tz_localize("UTC") if open_at.tz is None else open_at.tz_convert("UTC")
    start = open_at + ((pd.DatetimeIndex(bars.index).tz_convert("UTC") - open_at) // step) * step
    groups = bars.groupby(pd.DatetimeIndex(start).tz_convert(timezone), sort=True)
    merged = pd.DataFrame({"open": groups["open"].first(), "high": groups["high"].max(), "low": groups["low"].min(),
                           "close": groups["close"].last(), "volume": groups["volume"].sum()})
    merged.index.name = TIME
    return merged
