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
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import xarray as xr

from toolkit.errors import Problems
from toolkit.market.instruments import check_currency, check_isin, check_mic
from toolkit.schema import HORIZONS, INSTRUMENT, OHLCV, TIME, Timeframe
from toolkit.validation import (YEARS, shown, decimal_or_none, one, read_choice, read_date, read_id, read_name,
                                read_timestamp)

#: the fields of a history record
RECORD_FIELDS = ("timestamp", *OHLCV)
#: the fields of an upload payload
FIELDS = ("isin", "currency", "timeframe", "symbol", "name", "mic", "instrument_id", "history")
#: how many row problems of one kind are reported before the rest are summarised
_MAX_ROWS = 5
#: a symbol: 1 to 20 ASCII letters, digits and ``. _ - /`` (``BRK.B``, ``EUR/USD``)
_SYMBOL = re.compile(r"[A-Za-z0-9._/-]{1,20}", re.ASCII)


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
    problems.require_object(payload, FIELDS, "history upload")
    isin = _standard(check_isin, payload.get("isin"), "isin", problems, "US0378331005")
    currency = _standard(check_currency, payload.get("currency"), "currency", problems, "USD")
    timeframe = read_timeframe(payload.get("timeframe"), "timeframe", problems)
    mic = _optional(payload, "mic", _check_mic, problems)
    symbol = _optional(payload, "symbol", _check_symbol, problems)
    name = _optional(payload, "name", read_name, problems)
    iid = _optional(payload, "instrument_id", read_id, problems)
    frame = _check_records(payload.get("history"), timeframe, _utc(now or datetime.now(timezone.utc)), problems)
    problems.items.sort(key=_row_order)
    problems.raise_if_any("history upload")
    return HistoryUpload(isin, currency, timeframe, frame, symbol, name, mic, iid)


def _optional(payload: dict, key: str, reader: Callable, problems: Problems):
    """``reader`` on an optional field: None when the field is absent or null."""
    value = payload.get(key)
    return None if value is None else reader(value, key, problems)


def _standard(check: Callable, value: object, path: str, problems: Problems, example: str) -> str | None:
    """``check`` (which validates and normalises an identifier), then refuse any value that was
    not already in its normal form: upper case, no spaces, no control characters."""
    normal = check(value, path, problems)
    if normal is not None and (normal != value or not value.isprintable()):
        problems.add(path, f"{shown(value)} is not in its standard form; write it as \"{example}\" is "
                           "written: upper case, without spaces")
        return None
    return normal


def _check_mic(value: object, path: str, problems: Problems) -> str | None:
    return _standard(check_mic, value, path, problems, "XNAS")


def _check_symbol(value: object, path: str, problems: Problems) -> str | None:
    if isinstance(value, str) and _SYMBOL.fullmatch(value):
        return value
    problems.add(path, f"{shown(value)} is not a symbol; use 1 to 20 letters, digits and . _ - / "
                       "(such as \"AAPL\" or \"BRK.B\")")
    return None


def _utc(moment: datetime) -> datetime:
    """A datetime as naive UTC (naive ones are taken as UTC already)."""
    return moment.astimezone(timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


def _row_order(problem) -> tuple[int, int]:
    """Payload fields first, then row problems in row order."""
    match = re.match(r"history\[(\d+)", problem.path)
    return (1, int(match.group(1))) if match else (0, 0)


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


def _report(problems: Problems, rows: np.ndarray, field: str, message: str,
            messages: Sequence[str] | None = None) -> None:
    """Name each bad row (with its own message from ``messages`` if given) up to :data:`_MAX_ROWS`,
    then one problem that counts the rest."""
    suffix = f".{field}" if field else ""
    for k, row in enumerate(rows[:_MAX_ROWS]):
        problems.add(f"history[{row}]{suffix}", messages[k] if messages is not None else message)
    if len(rows) > _MAX_ROWS:
        problems.add(f"history[{rows[_MAX_ROWS]}:]{suffix}", f"{len(rows) - _MAX_ROWS} more rows: {message}")


def _check_records(records: object, timeframe: Timeframe | None, now: datetime,
                   problems: Problems) -> pd.DataFrame:
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
    _check_fields(records, problems)
    raw = pd.DataFrame.from_records(records, columns=[c for c in RECORD_FIELDS
                                                      if any(c in r for r in records)])
    for name in ("timestamp", "close"):
        if name not in raw:
            problems.add(f"history[].{name}", "is required on every record")
    if "timestamp" not in raw or "close" not in raw:
        return pd.DataFrame()
    frame = pd.DataFrame(index=raw.index)
    frame[TIME] = _check_times(raw["timestamp"], timeframe, now, problems)
    for name in (f for f in OHLCV if f in raw):
        frame[name] = _check_numbers(raw[name], name, problems)
    _check_order(frame[TIME], problems)
    _check_bars(frame, problems)
    return frame.set_index(TIME)


def _check_fields(records: list[dict], problems: Problems) -> None:
    """Name every field outside :data:`RECORD_FIELDS` at the first rows that carry it."""
    allowed = set(RECORD_FIELDS)
    unknown: dict[str, list[int]] = {}
    for i, record in enumerate(records):
        for key in record.keys() - allowed:
            unknown.setdefault(str(key), []).append(i)
    for key in sorted(unknown):
        _report(problems, np.array(unknown[key]), key, f"unknown field; records carry {', '.join(RECORD_FIELDS)}")


def _check_times(column: pd.Series, timeframe: Timeframe | None, now: datetime, problems: Problems) -> pd.Series:
    missing = column.isna()
    _report(problems, np.flatnonzero(missing), "timestamp", "is missing")
    scratch, stamps, bad = Problems(), [], []
    for row, (absent, value) in enumerate(zip(missing, column)):
        stamp = None if absent else read_timestamp(value, "", scratch)
        if not absent and stamp is None:
            bad.append(row)
        stamps.append(None if stamp is None else _utc(stamp))
    rule = f"an ISO 8601 date or time in the years {YEARS[0]}-{YEARS[1]}, such as \"2024-01-02\" or " \
           "\"2024-01-02T15:30:00Z\""
    _report(problems, np.array(bad), "timestamp", f"is not {rule}",
            [f"{shown(v)} is not {rule}" for v in column.iloc[bad[:_MAX_ROWS]]])
    times = pd.Series(pd.to_datetime(stamps), index=column.index)
    _report(problems, np.flatnonzero(times > pd.Timestamp(now)), "timestamp",
            f"is in the future (after {now:%Y-%m-%dT%H:%M:%S}Z, UTC); upload a bar once it has happened")
    if timeframe in (Timeframe.DAY, Timeframe.WEEK):
        intraday = times.notna() & (times != times.dt.normalize())
        _report(problems, np.flatnonzero(intraday), "timestamp",
                f"{timeframe.label} bars carry a date without a time of day")
    return times


def _check_numbers(column: pd.Series, name: str, problems: Problems) -> pd.Series:
    missing = column.isna()
    if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        numbers = column.map(_json_number)
        wrong = numbers.isna() & ~missing
        rows = np.flatnonzero(wrong)
        _report(problems, rows, name, "expected a number",
                [f"expected a number, got {shown(v)}" for v in column.iloc[rows[:_MAX_ROWS]]])
        column = numbers
    _report(problems, np.flatnonzero(missing), name, "is missing or NaN")
    values = column.astype("float64")
    infinite = np.isinf(values)
    _report(problems, np.flatnonzero(infinite), name, "is not a finite number")
    if name == "volume":
        _report(problems, np.flatnonzero((values < 0) & ~infinite), name, "is negative; volume must be >= 0")
    else:
        _report(problems, np.flatnonzero((values <= 0) & ~infinite), name, "is not positive; prices must be > 0")
    return values


def _json_number(value: object) -> float:
    """A JSON number (or a NumPy one) as a float: NaN for anything else (text, bools); an integer
    too large for a float is infinite."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        return np.nan
    try:
        return float(value)
    except OverflowError:
        return np.inf if value > 0 else -np.inf


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
