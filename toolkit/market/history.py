"""OHLCV history: the upload payload, its validation, and prices as xarray.

The upload payload (the risk platform's history upload, as a dict)::

    {"isin": "US0378331005", "currency": "USD", "timeframe": 1,
     "symbol": "AAPL", "name": "Apple Inc.", "mic": "XNAS",          # optional
     "history": [{"timestamp": "2024-01-02", "open": 187.15, "high": 188.44,
                  "low": 183.89, "close": 185.64, "volume": 82488700}, ...]}

``timeframe`` is 0 week, 1 day, 2 two hours, 3 one hour, 4 fifteen minutes. ``close``
is required; ``open``, ``high``, ``low`` and ``volume`` are optional but, when a column is
given, it is given on every row. Timestamps are ISO 8601, UTC when they carry no offset.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from toolkit.errors import Problems
from toolkit.market.instruments import check_currency, check_isin, check_mic
from toolkit.schema import HORIZONS, INSTRUMENT, OHLCV, TIME, Timeframe

#: the fields of a history record
RECORD_FIELDS = ("timestamp", *OHLCV)
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


def parse_history(payload: object) -> HistoryUpload:
    """Validate a history upload payload; raise one ``ValidationError`` naming every problem."""
    problems = Problems()
    problems.require_object(payload, None, "history upload")
    isin = check_isin(payload.get("isin"), "isin", problems)
    currency = check_currency(payload.get("currency"), "currency", problems)
    timeframe = _check_timeframe(payload.get("timeframe"), problems)
    mic = payload.get("mic")
    if mic is not None:
        mic = check_mic(mic, "mic", problems)
    for key in ("symbol", "name", "instrument_id"):
        if payload.get(key) is not None and not isinstance(payload[key], str):
            problems.add(key, f"expected a string, got {type(payload[key]).__name__}")
    frame = _check_records(payload.get("history"), timeframe, problems)
    problems.items.sort(key=_row_order)
    problems.raise_if_any("history upload")
    return HistoryUpload(isin, currency, timeframe, frame, payload.get("symbol"),
                         payload.get("name"), mic, payload.get("instrument_id"))


def _row_order(problem) -> tuple[int, int]:
    """Payload fields first, then row problems in row order."""
    match = re.match(r"history\[(\d+)", problem.path)
    return (1, int(match.group(1))) if match else (0, 0)


def _check_timeframe(value: object, problems: Problems) -> Timeframe | None:
    valid = ", ".join(f"{t.value} {t.label}" for t in Timeframe)
    if isinstance(value, bool) or not isinstance(value, int) or value not in set(Timeframe):
        problems.add("timeframe", f"{value!r} is not a timeframe; use one of {valid}")
        return None
    return Timeframe(value)


def _report(problems: Problems, rows: np.ndarray, field: str, message: str) -> None:
    suffix = f".{field}" if field else ""
    for row in rows[:_MAX_ROWS]:
        problems.add(f"history[{row}]{suffix}", message)
    if len(rows) > _MAX_ROWS:
        problems.add(f"history[{rows[_MAX_ROWS]}:]{suffix}", f"{len(rows) - _MAX_ROWS} more rows: {message}")


def _check_records(records: object, timeframe: Timeframe | None, problems: Problems) -> pd.DataFrame:
    if not isinstance(records, list):
        problems.add("history", f"expected a list of records, got {type(records).__name__}")
        return pd.DataFrame()
    if not records:
        problems.add("history", "is empty; send at least one record")
        return pd.DataFrame()
    bad = [i for i, r in enumerate(records) if not isinstance(r, dict)]
    if bad:
        _report(problems, np.array(bad), "", "expected an object with timestamp and prices")
        return pd.DataFrame()
    raw = pd.DataFrame.from_records(records)
    unknown = sorted(set(raw.columns) - set(RECORD_FIELDS))
    for name in unknown:
        problems.add(f"history[].{name}", f"unknown field; records carry {', '.join(RECORD_FIELDS)}")
    for name in ("timestamp", "close"):
        if name not in raw:
            problems.add(f"history[].{name}", "is required on every record")
    if "timestamp" not in raw or "close" not in raw:
        return pd.DataFrame()
    frame = pd.DataFrame(index=raw.index)
    frame[TIME] = _check_times(raw["timestamp"], timeframe, problems)
    for name in (f for f in OHLCV if f in raw):
        frame[name] = _check_numbers(raw[name], name, problems)
    _check_order(frame[TIME], problems)
    _check_bars(frame, problems)
    return frame.set_index(TIME)


def _check_times(column: pd.Series, timeframe: Timeframe | None, problems: Problems) -> pd.Series:
    is_text = column.map(type).eq(str)
    _report(problems, np.flatnonzero(~is_text & column.notna()), "timestamp", "expected an ISO 8601 string")
    _report(problems, np.flatnonzero(column.isna()), "timestamp", "is missing")
    times = pd.to_datetime(column.where(is_text), errors="coerce", utc=True, format="ISO8601")
    _report(problems, np.flatnonzero(is_text & times.isna()), "timestamp", "is not an ISO 8601 date or time")
    times = times.dt.tz_localize(None)
    if timeframe in (Timeframe.DAY, Timeframe.WEEK):
        intraday = times.notna() & (times != times.dt.normalize())
        _report(problems, np.flatnonzero(intraday), "timestamp",
                f"{timeframe.label} bars carry a date without a time of day")
    return times


def _check_numbers(column: pd.Series, name: str, problems: Problems) -> pd.Series:
    missing = column.isna()
    if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        numeric = column.map(lambda v: isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_)))
        wrong = ~numeric.astype(bool) & ~missing
        _report(problems, np.flatnonzero(wrong), name, "expected a number")
        column = column.where(~wrong)
    _report(problems, np.flatnonzero(missing), name, "is missing or NaN")
    values = pd.to_numeric(column, errors="coerce").astype("float64")
    infinite = np.isinf(values)
    _report(problems, np.flatnonzero(infinite), name, "is not a finite number")
    if name == "volume":
        _report(problems, np.flatnonzero((values < 0) & ~infinite), name, "is negative; volume must be >= 0")
    else:
        _report(problems, np.flatnonzero((values <= 0) & ~infinite), name, "is not positive; prices must be > 0")
    return values


def _check_order(times: pd.Series, problems: Problems) -> None:
    previous = times.shift()
    _report(problems, np.flatnonzero(times == previous), "timestamp",
            "duplicates the timestamp of the row before")
    _report(problems, np.flatnonzero(times < previous), "timestamp",
            "is earlier than the row before; sort the records by time")


def _check_bars(frame: pd.DataFrame, problems: Problems) -> None:
    ends = [frame[c] for c in ("open", "close") if c in frame]
    if "high" in frame:
        _report(problems, np.flatnonzero(pd.concat(ends, axis=1).gt(frame["high"], axis=0).any(axis=1)),
                "high", "is below the open or the close")
    if "low" in frame:
        _report(problems, np.flatnonzero(pd.concat(ends, axis=1).lt(frame["low"], axis=0).any(axis=1)),
                "low", "is above the open or the close")


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
    if value.strip() == "":
        return None
    try:
        return float(value)
    except ValueError:
        return value


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
    if horizon not in HORIZONS:
        raise ValueError(f"horizon must be one of {list(HORIZONS)}, not {horizon!r}")
    if horizon == "day":
        return ds
    groups = ds.resample({TIME: HORIZONS[horizon]})
    how = {"open": groups.first, "high": groups.max, "low": groups.min, "close": groups.last,
           "volume": lambda: groups.sum(min_count=1)}
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
