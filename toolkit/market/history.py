"""OHLCV history: the upload payload, its validation, and prices as xarray.

The upload payload (the risk platform's history upload, as a dict)::

    {"isin": "US0378331005", "currency": "USD", "timeframe": 1,
     "symbol": "AAPL", "name": "Apple Inc.", "mic": "XNAS",          # optional
     "history": [{"timestamp": "2024-01-02", "open": 187.15, "high": 188.44,
                  "low": 183.89, "close": 185.64, "volume": 82488700}, ...]}

``timeframe`` is 0 week, 1 day, 2 two hours, 3 one hour, 4 fifteen minutes. ``close``
is required; ``open``, ``high``, ``low`` and ``volume`` are optional but, when a column is
given, it is given on every row. Prices and volume are JSON numbers (text, even ``"12.5"``, is
refused; a CSV's cells are read with the strict decimal reader of :mod:`toolkit.validation`).

What is refused, every problem named by its field path in one ``ValidationError``:

- a field outside the ones above, at the top or in a record (``history[2].price``);
- a timestamp that is not ISO 8601 as :func:`toolkit.validation.read_timestamp` reads it
  (``2024-01-02``, ``2024-01-02T15:30:00Z``, ``2024-01-02 15:30+01:00``; not ``20240102`` nor
  ``Jan 2 2024``), outside the years 1900-2199, or **later than now** (UTC): a bar is stored once
  it has happened, so a daily bar may carry today's date, a weekly bar labelled with a Friday
  still to come waits until that day. Timestamps with an offset are stored in UTC;
- an ISIN, currency or MIC in another form than its standard one (``US0378331005``, ``USD``,
  ``XNAS``: upper case, no spaces);
- a ``symbol`` other than 1-20 of ``A-Z a-z 0-9 . _ - /``, a ``name`` that is blank, longer than
  200 characters, holds a control character or markup (``<``, ``>``); an ``instrument_id`` that is
  not a UUID.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from toolkit.contracts.codes import read_currency, read_isin
from toolkit.contracts.risk.common import read_symbol
from toolkit.contracts.risk.history import check_bars, row_order
from toolkit.errors import Problems
from toolkit.market.instruments import check_mic
from toolkit.schema import HORIZONS, INSTRUMENT, OHLCV, TIME, Timeframe
from toolkit.validation import (
    decimal_or_none,
    one,
    read_choice,
    read_date,
    read_id,
    read_name,
    read_timestamp,
    shown,
)

#: the fields of a history record
RECORD_FIELDS = ("timestamp", *OHLCV)
#: the fields of an upload payload
FIELDS = ("isin", "currency", "timeframe", "symbol", "name", "mic", "instrument_id", "history")
#: how many row problems of one kind are reported before the rest are summarised
_MAX_ROWS = 5


@dataclass(frozen=True)
class HistoryUpload:
    """A validated upload: the series' identity and a frame indexed by ``time``."""

    isin: str
    currency: str
    timeframe: Timeframe
    frame: pd.DataFrame
    symbol: str | None = None
    name: str | None = None
    mic: str | None = None
    instrument_id: str | None = None


def parse_history(payload: object, *, now: datetime | None = None) -> HistoryUpload:
    """Validate a history upload payload; raise one ``ValidationError`` naming every problem.

    ``now`` (default: the current time, UTC) is the latest timestamp a bar may carry.
    """
    problems = Problems()
    payload = problems.require_object(payload, FIELDS, "history upload")
    isin = _standard(read_isin, payload.get("isin"), "isin", problems, "US0378331005")
    currency = _standard(read_currency, payload.get("currency"), "currency", problems, "USD")
    timeframe = read_timeframe(payload.get("timeframe"), "timeframe", problems)
    mic = _optional(payload, "mic", _check_mic, problems)
    symbol = _optional(payload, "symbol", read_symbol, problems)
    name = _optional(payload, "name", read_name, problems)
    iid = _optional(payload, "instrument_id", read_id, problems)
    frame = check_bars(payload.get("history"), timeframe, now or datetime.now(UTC), problems, "timestamp")
    problems.items.sort(key=row_order)
    problems.raise_if_any("history upload")
    # the readers answer None only with a problem noted, and problems were refused above
    assert isin is not None and currency is not None and timeframe is not None
    return HistoryUpload(isin, currency, timeframe, frame, symbol, name, mic, iid)


def _optional(payload: dict, key: str, reader: Callable, problems: Problems) -> Any:
    """``reader`` on an optional field: None when the field is absent or null."""
    value = payload.get(key)
    return None if value is None else reader(value, key, problems)


def _standard(check: Callable, value: object, path: str, problems: Problems, example: str) -> str | None:
    """``check`` (which validates and normalises an identifier), then refuse any value that was
    not already in its normal form: upper case, no spaces, no control characters."""
    normal = check(value, path, problems)
    if normal is not None and (normal != value or not isinstance(value, str) or not value.isprintable()):
        problems.add(path, f"{shown(value)} is not in its standard form; write it as \"{example}\" is "
                           "written: upper case, without spaces")
        return None
    return normal


def _check_mic(value: object, path: str, problems: Problems) -> str | None:
    return _standard(check_mic, value, path, problems, "XNAS")


def _utc(moment: datetime) -> datetime:
    """A datetime as naive UTC (naive ones are taken as UTC already)."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def read_timeframe(value: object, path: str, problems: Problems) -> Timeframe | None:
    """A timeframe by its wire value (an int 0-4, never a bool or text)."""
    valid = ", ".join(f"{t.value} {t.label}" for t in Timeframe)
    if isinstance(value, bool) or not isinstance(value, int) or value not in set(Timeframe):
        problems.add(path, f"{shown(value)} is not a timeframe; use one of {valid}")
        return None
    return Timeframe(value)


def read_horizon(value: object, path: str, problems: Problems) -> str | None:
    """A resampling horizon: ``day``, ``week`` or ``month``."""
    return read_choice(value, path, problems, tuple(HORIZONS))


def read_moment(value: object, path: str, problems: Problems, *, end: bool = False) -> pd.Timestamp | None:
    """A bound of a time window as a naive UTC ``Timestamp``: an ISO date (``2022-03-31``) or
    timestamp (``2022-03-31T15:30:00Z``, see :func:`toolkit.validation.read_timestamp`), or a
    ``date``/``datetime``/``pd.Timestamp``/``np.datetime64``, in the years 1900-2199. With ``end``,
    a date means the end of that day (the window includes it)."""
    if isinstance(value, np.datetime64) and not np.isnat(value):
        value = pd.Timestamp(value).to_pydatetime()
    if isinstance(value, datetime):
        moment = value if read_date(value.date(), path, problems) is not None else None
    elif isinstance(value, date) or (isinstance(value, str) and len(value) == 10):
        day = read_date(value, path, problems)
        moment = None if day is None else datetime(day.year, day.month, day.day) + \
            (timedelta(days=1, microseconds=-1) if end else timedelta(0))
    else:
        moment = read_timestamp(value, path, problems)
    return None if moment is None else pd.Timestamp(_utc(moment))


def read_csv_history(data: bytes | str) -> list[dict]:
    """Read an OHLCV CSV (``timestamp``/``date``, ``open``…``volume``) into upload records.

    Headers are matched case-insensitively; ``Date``/``time`` name the timestamp and an
    ``Adj Close`` column is ignored. Cells are kept as text where they are not numbers, so
    the validation names them instead of this reader guessing.
    """
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    rename = {c: c.strip().lower().replace(" ", "_") for c in raw.columns}
    raw = raw.rename(columns=rename)
    raw = raw.rename(columns={c: "timestamp" for c in ("date", "time", "datetime") if c in raw})
    raw = raw.drop(columns=[c for c in ("adj_close", "adjclose") if c in raw])
    records = raw.to_dict("records")
    for record in records:
        for key, value in record.items():
            if key != "timestamp":
                record[key] = _number_or_text(value)
    return records


def _number_or_text(value: str) -> float | str | None:
    """An empty cell is None; a decimal as :mod:`toolkit.validation` reads it (ASCII digits, an
    optional sign and point) is a float; anything else stays text (``"1_000"``, ``"1e3"``)."""
    if value.strip() == "":
        return None
    number = decimal_or_none(value)
    return value if number is None else float(number)


def to_dataset(long: pd.DataFrame, instruments: pd.DataFrame) -> xr.Dataset:
    """Build the market ``Dataset`` from a long table (``instrument, time`` + OHLCV columns).

    ``instruments`` is indexed by instrument id; its columns become coordinates on
    ``instrument``. Instruments without a record on a date get NaN there.
    """
    cube = long.set_index([INSTRUMENT, TIME]).to_xarray()
    cube = cube.reindex({INSTRUMENT: list(instruments.index)})
    for name in OHLCV:
        if name not in cube:
            cube[name] = xr.full_like(cube["close"], np.nan)
    meta = instruments.reindex(cube.indexes[INSTRUMENT])
    coords = {c: (INSTRUMENT, np.array([None if pd.isna(v) else v for v in meta[c]], dtype=object))
              for c in meta.columns}
    return cube[list(OHLCV)].assign_coords(coords)


def resample(ds: xr.Dataset, horizon: str) -> xr.Dataset:
    """Aggregate daily OHLCV bars to ``week`` (ending Friday) or ``month`` (ending on the ultimo).

    open = first, high = max, low = min, close = last, volume = sum, each skipping NaN; a
    period is labelled with its end date (``W-FRI``, ``ME``). Periods in which an instrument
    has no close are NaN for it. Works on dask-backed data without loading it.
    """
    one(read_horizon, horizon, "horizon", "resampling request")
    if horizon == "day":
        return ds
    groups = ds.resample({TIME: HORIZONS[horizon]})
    how: dict[str, Callable[[], xr.Dataset]] = {"open": groups.first, "high": groups.max, "low": groups.min,
                                                "close": groups.last, "volume": lambda: groups.sum(min_count=1)}
    out = xr.Dataset({name: how[name]()[name] for name in OHLCV if name in ds}, attrs=ds.attrs)
    # drop periods without a single timestamp, from the index alone (the data stay lazy)
    counts = ds.indexes[TIME].to_series().resample(HORIZONS[horizon]).size()
    out = out.sel({TIME: counts.index[counts.to_numpy() > 0]})
    out = out.assign_coords({k: v for k, v in ds.coords.items() if TIME not in v.dims})
    return out.transpose(INSTRUMENT, TIME, ...)





def rebase(prices: xr.DataArray, base: float = 100.0) -> xr.DataArray:
    """Rebase each series to ``base`` at its first non-NaN value along ``time``: ``base * p_t / p_first``."""
    first = prices.isel({TIME: prices.notnull().argmax(TIME)})
    return base * prices / first.drop_vars(TIME)
