"""The shipped market data in ``data/``: instrument metadata, OHLCV series and ECB rates.

``data/instruments.csv`` names, for each series, the file and column it comes from; see
``data/README.md`` for the packages the files are re-exported from.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from toolkit.market.instruments import instrument_id
from toolkit.schema import OHLCV, TIME

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
