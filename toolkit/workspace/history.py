from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

import numpy as np
import pandas as pd
import xarray as xr

from toolkit.errors import NotFoundError, Problems
from toolkit.market import fx, history
from toolkit.market.calendars import calendar
from toolkit.market.instruments import current_first, instrument_id
from toolkit.schema import Timeframe
from toolkit.store.repositories import (
    FxRepository,
    InstrumentRepository,
    PriceRepository,
)
from toolkit.validation import optional, read_choice
from toolkit.workspace.context import Context
from toolkit.workspace.instruments import Instruments

#: instrument metadata carried as coordinates on ``instrument`` by ``prices()``
PRICE_COORDS = ("symbol", "name", "isin", "mic", "currency", "asset_class", "sector", "country", "source")


class History:
    """Price history: upload, status per timeframe, prices as xarray."""

    def __init__(self, ctx: Context, *, instruments: Instruments) -> None:
        self._ctx = ctx
        self._instruments = instruments
        self._prices = PriceRepository(ctx.db)

    def upload(self, payload: dict) -> dict:
        """Store an OHLCV history upload (see :mod:`toolkit.market.history` for the payload).

        The series is the payload's ``instrument_id`` if given, else the current series with the
        payload's ISIN and currency (the one whose daily history ends latest, then the longest: the
        series an ISIN names everywhere), else a new instrument (``symbol`` and ``name`` default to the
        ISIN). Bars at existing timestamps are replaced. Validation happens before any write;
        the write is one transaction, so a refused or failed upload changes nothing.
        """
        upload = history.parse_history(payload)
        repo = InstrumentRepository(self._ctx.db)
        with self._ctx.transaction():
            iid = self._target(upload, repo)
            n = self._prices.upsert(iid, upload.timeframe, upload.frame)
        return {"instrument_id": iid, "timeframe": int(upload.timeframe), "n_records_uploaded": n,
                **self.status(iid, upload.timeframe).iloc[0][["n_records", "last_updated", "fill_from"]].to_dict()}

    def _target(self, upload: history.HistoryUpload, repo: InstrumentRepository) -> str:
        if upload.instrument_id:
            rows = repo.by_id([upload.instrument_id])
            problems = Problems()
            if rows.empty:
                raise NotFoundError(f"No instrument with id {upload.instrument_id!r}.")
            row = rows.iloc[0]
            if (row["isin"], row["currency"]) != (upload.isin, upload.currency):
                problems.add("instrument_id", f"names {row['isin']}/{row['currency']}, not "
                                              f"{upload.isin}/{upload.currency}")
            problems.raise_if_any("history upload")
            return upload.instrument_id
        existing = self._instruments.table().query("isin == @upload.isin and currency == @upload.currency")
        if len(existing):  # the current series: its history ends latest, then it is the longest
            return current_first(existing).iloc[0]["instrument_id"]
        symbol = upload.symbol or upload.isin
        row = {"instrument_id": instrument_id("upload", symbol, upload.isin, upload.currency), "symbol": symbol,
               "name": upload.name or upload.isin, "isin": upload.isin, "mic": upload.mic,
               "currency": upload.currency, "asset_class": "Equity", "instrument_type": "Stock",
               "sector": None, "country": upload.isin[:2], "tradable": True, "source": "upload"}
        repo.insert(pd.DataFrame([row]).set_index("instrument_id"))
        return row["instrument_id"]

    def status(self, instrument: str | None = None, timeframe: int | None = None) -> pd.DataFrame:
        """Per series and timeframe: ``n_records``, ``history_start/end``, ``last_updated``, ``fill_from``.

        ``fill_from`` is where the next upload should start: the first trading session after the
        last daily bar on the instrument's exchange calendar (``exchange_calendars``), the next week
        for weekly bars, and last bar + one step for intraday bars.
        """
        status = self._prices.status()
        meta = self._instruments.table()[["instrument_id", "symbol", "name", "mic", "source"]]
        status = meta.merge(status, on="instrument_id")
        if instrument is not None:
            status = status[status["instrument_id"].isin(self._instruments.resolve(instrument, "instrument"))]
        if timeframe is not None:
            timeframe = optional(history.read_timeframe, timeframe, "timeframe", "history status request")
            status = status[status["timeframe"] == int(timeframe)]
        status = status.rename(columns={"first_time": "history_start", "last_time": "history_end"})
        status["timeframe_label"] = status["timeframe"].map({int(t): t.label for t in Timeframe})
        status["fill_from"] = _fill_from(status)
        return status.reset_index(drop=True)

    def prices(self, instruments: Sequence[str] | str | None = None, start: str | None = None,
               end: str | None = None, currency: str | None = None, horizon: str = "day",
               timeframe: int = Timeframe.DAY) -> xr.Dataset:
        """OHLCV as ``xr.Dataset (instrument, time)`` with metadata coordinates on ``instrument``.

        ``instruments`` are ids, ISINs or symbols (all series when None). ``start`` and ``end``
        bound the window, both included: ISO dates or timestamps (or date/datetime objects), an
        ``end`` date meaning the end of that day. ``currency`` converts prices at the ECB reference
        rates (see :func:`toolkit.market.fx.convert`); ``horizon`` ``week``/``month`` resamples
        daily bars (see :func:`toolkit.market.history.resample`). A bad argument raises one
        ``ValidationError`` naming each (``start``, ``end``, ``currency``, ``horizon``, ``timeframe``).
        """
        problems = Problems()
        first = None if start is None else history.read_moment(start, "start", problems)
        last = None if end is None else history.read_moment(end, "end", problems, end=True)
        if first is not None and last is not None and first > last:
            problems.add("end", f"{end} is before the start {start}; give an end on or after the start")
        history.read_horizon(horizon, "horizon", problems)
        timeframe = history.read_timeframe(timeframe, "timeframe", problems)
        if currency is not None:
            read_choice(currency, "currency", problems, tuple(self.rates.indexes[fx.CURRENCY]))
        problems.raise_if_any("prices request")
        table = self._instruments.table()
        ids = self._instruments.resolve(instruments) if instruments is not None else list(table["instrument_id"])
        long = self._prices.read(ids, timeframe, first, last)
        meta = table.set_index("instrument_id").loc[ids, list(PRICE_COORDS)]
        ds = history.to_dataset(long, meta)
        if currency is not None:
            ds = fx.convert(ds, currency, self.rates)
        return history.resample(ds, horizon)

    @cached_property
    def rates(self) -> xr.DataArray:
        """ECB euro reference rates ``(time, currency)``, units per 1 EUR."""
        return fx.rates_from_table(FxRepository(self._ctx.db).read())


def _fill_from(status: pd.DataFrame) -> pd.Series:
    last = pd.to_datetime(status["history_end"], format="ISO8601")
    steps = pd.to_timedelta(status["timeframe"].map({int(t): pd.Timedelta(t.step) for t in Timeframe}))
    out = last + steps
    daily = status["timeframe"] == Timeframe.DAY
    for mic, rows in status[daily].groupby(status["mic"].fillna("")):
        sessions = calendar(mic or None).sessions
        after = np.searchsorted(sessions.values, last[rows.index].values, side="right")
        known = after < len(sessions)
        out.loc[rows.index[known]] = sessions.values[after[known]]
    fmt = np.where(status["timeframe"].isin([Timeframe.DAY, Timeframe.WEEK]), "%Y-%m-%d", "%Y-%m-%dT%H:%M:%S")
    return pd.Series([t.strftime(f) for t, f in zip(out, fmt)], index=status.index, dtype=object)
