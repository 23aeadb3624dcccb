from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cached_property
from typing import cast

import numpy as np
import pandas as pd
import xarray as xr

from toolkit.contracts.base import payload_of, read
from toolkit.contracts.risk.common import TIMEFRAME_NAMES, rfc3339
from toolkit.contracts.risk.history import (
    Bar,
    HistoryQuery,
    HistoryStatus,
    InstrumentUpload,
    TimeframeStatus,
    read_upload,
)
from toolkit.errors import NotFoundError, Problem, Problems, ValidationError
from toolkit.market import fx, history, providers
from toolkit.market.calendars import calendar
from toolkit.market.instruments import by_code, current_first, instrument_code, instrument_id, registered
from toolkit.schema import INSTRUMENT, OHLCV, TIME, Timeframe
from toolkit.store.cache import memo
from toolkit.store.repositories import (
    FxRepository,
    InstrumentRepository,
    PriceRepository,
)
from toolkit.validation import one, read_choice
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

    def upload(self, body: object) -> HistoryStatus | dict:
        """PUT /history (``risk-platform-api.txt`` lines 70-105): the body (a dict or JSON text, see
        :mod:`toolkit.contracts.risk.history`) stored in the user's own feed (the User Feed, ``apiid`` 91)
        under its ``instrument_code``: the first upload of a code registers the instrument from the
        ``instrument`` object, later ones add bars to it (a bar at an existing time replaces it). The
        shipped series are never written (the document: "this endpoint will not return anything other
        than user inputted data"). Validation happens before any write and the write is one transaction:
        a refused or failed upload changes nothing. Answers GET /history of the series, with
        ``n_records_uploaded``.

        The toolkit's own compact form (``{"isin", "currency", "timeframe", "symbol", "name", "mic",
        "instrument_id", "history": [{"timestamp", ...}]}``, :func:`toolkit.market.history.parse_history`),
        which its notebooks and price curves use, is still read: a body with ``isin`` or ``timeframe`` and
        neither ``instrument`` nor ``timeframe_id``. It writes to the series its ``instrument_id`` names,
        else the current series of its ISIN and currency, else a new one, and answers a dict
        (``instrument_id``, ``timeframe``, ``n_records_uploaded``, ``n_records``, ``last_updated``,
        ``fill_from``)."""
        payload = payload_of(body, "history upload")
        if isinstance(payload, dict) and {"isin", "timeframe"} & set(payload) \
                and not {"instrument", "timeframe_id"} & set(payload):
            return self._upload_compact(payload)
        upload, frame = read_upload(payload)
        instrument = upload.instrument
        with self._ctx.transaction():
            iid = self._target(instrument)
            n = self._prices.upsert(iid, upload.timeframe_id, frame)
        answer = self.get({"instrument_code": instrument.instrument_code, "apiid": str(providers.USER_FEED)})
        return answer.model_copy(update={"n_records_uploaded": n})

    def _upload_compact(self, payload: dict) -> dict:
        upload = history.parse_history(payload)
        repo = InstrumentRepository(self._ctx.db)
        with self._ctx.transaction():
            iid = self._compact_target(upload, repo)
            n = self._prices.upsert(iid, upload.timeframe, upload.frame)
        return {"instrument_id": iid, "timeframe": int(upload.timeframe), "n_records_uploaded": n,
                **self.status(iid, upload.timeframe).iloc[0][["n_records", "last_updated", "fill_from"]].to_dict()}

    def _compact_target(self, upload: history.HistoryUpload, repo: InstrumentRepository) -> str:
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
        row = {"instrument_id": instrument_id(providers.UPLOAD, symbol, upload.isin, upload.currency),
               "symbol": symbol, "name": upload.name or upload.isin, "isin": upload.isin, "mic": upload.mic,
               "currency": upload.currency, "asset_class": "Equity", "instrument_type": "Stock",
               "sector": None, "country": upload.isin[:2], "tradable": True, "source": providers.UPLOAD}
        repo.insert(pd.DataFrame([row]).set_index("instrument_id"))
        return row["instrument_id"]

    def _target(self, instrument: InstrumentUpload) -> str:
        """The User Feed series of the instrument's code (registered now if it is new); its currency must
        be the one registered."""
        repo = InstrumentRepository(self._ctx.db)
        code = instrument.instrument_code
        existing = by_code(self._instruments.table(), code, providers.USER_FEED)
        if len(existing):
            row = existing.iloc[0]
            if row["currency"] != instrument.currency:
                raise ValidationError([Problem("instrument.currency", f"{code} is in your feed in {row['currency']}; "
                                                                      f"upload its bars in {row['currency']}, or use "
                                                                      "another instrument_code")], "history upload")
            return str(row["instrument_id"])
        row = registered(instrument)
        repo.insert(pd.DataFrame([row]).set_index("instrument_id"))
        if instrument_code(row["symbol"], row["mic"]) != code:
            repo.set_code(row["instrument_id"], code)
        return row["instrument_id"]

    def get(self, query: Mapping | str) -> HistoryStatus:
        """GET /history (lines 17-69): the cache status of the series ``query`` names (a dict of the query's
        texts, :class:`~toolkit.contracts.risk.history.HistoryQuery`, or the instrument code itself) per
        timeframe and, with ``timeframeid``, its bars from ``start_date`` (to ``end_date``), in ``currency``
        when given (ECB reference rates). The series is the user's own (User Feed) of that code if there is
        one, else the workspace's current series of that code; ``apiid`` picks a provider's. ``fill_from``
        is where the next upload starts (the next session after the latest bar, see :meth:`status`), or,
        for a timeframe without bars, when the instrument was registered."""
        request = read(HistoryQuery, {"instrument_code": query} if isinstance(query, str) else query,
                       "history request")
        if request.problems():
            raise ValidationError(request.problems(), "history request")
        code = request.instrument_code
        if request.apiid is None and len(by_code(self._instruments.table(), code, providers.USER_FEED)):
            iid = self._instruments.by_code(code, providers.USER_FEED)
        else:
            iid = self._instruments.by_code(code, request.apiid)
        info = self._instruments.describe(iid)
        done = self.status(iid)
        registered_at = rfc3339(datetime.fromisoformat(InstrumentRepository(self._ctx.db).by_id([iid])
                                                       .iloc[0]["created_at"]))
        rows = []
        for timeframe in sorted(Timeframe, reverse=True):
            found = done[done["timeframe"] == int(timeframe)]
            first = found.iloc[0] if len(found) else None
            rows.append(TimeframeStatus(
                timeframeid=int(timeframe), timeframe_name=TIMEFRAME_NAMES[timeframe],
                last_updated=_stamp(first["last_updated"]) if first is not None and first["last_updated"] else "N/A",
                n_records=int(first["n_records"]) if first is not None else 0,
                fill_from=_stamp(first["fill_from"]) if first is not None else registered_at,
                history_start=_stamp(first["history_start"]) if first is not None else None))
        bars = None
        wanted = request.timeframeid
        if wanted is not None:
            start, end = (None if t is None else rfc3339(t) for t in (request.start_date, request.end_date))
            ds = self.prices([iid], start=start, end=end, currency=request.currency, timeframe=wanted)
            table = ds[list(OHLCV)].isel({INSTRUMENT: 0}).to_dataframe()[list(OHLCV)].dropna(subset=["close"])
            bars = [Bar(datetime=t.to_pydatetime(), **{k: _finite(v) for k, v in r.items()})
                    for t, r in zip(table.index, table.to_dict("records"))]
        return HistoryStatus(instrument=info, historyStatus=rows, history=bars,
                             currency=request.currency or info.currency)

    def status(self, instrument: str | None = None, timeframe: int | None = None) -> pd.DataFrame:
        """Per series and timeframe: ``n_records``, ``history_start/end``, ``last_updated``, ``fill_from``.

        ``fill_from`` is where the next upload should start: the first trading session after the
        last daily bar on the instrument's exchange calendar (``exchange_calendars``), the next week
        for weekly bars, and last bar + one step for intraday bars.
        """
        # a scan of every bar: once per data version (toolkit.store.cache)
        status = memo(self._ctx.db).get(("history.status",), self._prices.status)
        meta = self._instruments.table()[["instrument_id", "symbol", "name", "mic", "source"]]
        status = meta.merge(status, on="instrument_id")
        if instrument is not None:
            status = status[status["instrument_id"].isin(self._instruments.resolve(instrument, "instrument"))]
        if timeframe is not None:
            frame = one(history.read_timeframe, timeframe, "timeframe", "history status request")
            status = status[status["timeframe"] == int(frame)]
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
        first, last = _bounds(start, end, problems)
        history.read_horizon(horizon, "horizon", problems)
        frame = history.read_timeframe(timeframe, "timeframe", problems)
        if currency is not None:
            read_choice(currency, "currency", problems, tuple(self.rates.indexes[fx.CURRENCY]))
        problems.raise_if_any("prices request")
        table = self._instruments.table()
        ids = self._instruments.resolve(instruments) if instruments is not None else list(table["instrument_id"])
        long = self._prices.read(ids, cast(Timeframe, frame), first, last)  # read: problems were refused above
        meta = table.set_index("instrument_id").loc[ids, list(PRICE_COORDS)]
        ds = history.to_dataset(long, meta)
        if currency is not None:
            ds = fx.convert(ds, currency, self.rates)
        return history.resample(ds, horizon)

    def closes(self, instruments: Sequence[str] | str, start: str | None = None,
               end: str | None = None) -> xr.DataArray:
        """The daily ``close`` of :meth:`prices` (same window rules, same coordinates), cut from the
        instruments' whole history, which is read once per data version (:func:`toolkit.store.cache.memo`):
        the apps ask for the same few series again with every other window, portfolio or benchmark."""
        problems = Problems()
        first, last = _bounds(start, end, problems)
        problems.raise_if_any("prices request")
        ids = self._instruments.resolve(instruments)
        whole = memo(self._ctx.db).get(("history.closes", tuple(ids)), lambda: self.prices(ids)["close"])
        return whole.sel({TIME: slice(first, last)}) if first is not None or last is not None else whole

    @cached_property
    def rates(self) -> xr.DataArray:
        """ECB euro reference rates ``(time, currency)``, units per 1 EUR."""
        return fx.rates_from_table(FxRepository(self._ctx.db).read())


def _bounds(start: object, end: object, problems: Problems) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """A window's first and last moments (an ``end`` date meaning the end of that day), in order."""
    first = None if start is None else history.read_moment(start, "start", problems)
    last = None if end is None else history.read_moment(end, "end", problems, end=True)
    if first is not None and last is not None and first > last:
        problems.add("end", f"{end} is before the start {start}; give an end on or after the start")
    return first, last


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


def _stamp(value: object) -> str | None:
    """A stored time (``2022-12-28``, ``2024-12-20T09:00:00``, ``...+00:00``) in RFC 3339."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return rfc3339(datetime.fromisoformat(str(value)))


def _finite(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)
