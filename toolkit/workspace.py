"""The façade: one object per workspace file, with one attribute per resource of the seed APIs.

    ws = Workspace.demo()                      # data/demo.db, built from data/ on first use
    ws.instruments.search("apple")             # the instrument registry
    ws.instruments.coverage([{"isin": "US0378331005", "currency": "USD"}])
    ws.history.upload(payload)                 # the risk platform's history upload, verbatim
    ws.history.status()                        # n_records, last_updated, fill_from per timeframe
    ws.history.prices(["AAPL", "MSFT"], currency="EUR", horizon="month")  # xr.Dataset
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
import uuid
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import sqlite_utils
import xarray as xr

from toolkit.errors import ConflictError, NotFoundError, Problem, Problems, ToolkitError, ValidationError
from toolkit.market import coverage as coverage_check
from toolkit.market import fx, history
from toolkit.market.calendars import calendar
from toolkit.market.instruments import Instrument, current_first, instrument_id, is_isin, search
from toolkit.schema import Timeframe
from toolkit.store import backup, connect, migrate, pending, write
from toolkit.store import demo as demo_store
from toolkit.store.accounts import AccountRepository, ConfigurationRepository
from toolkit.store.allocations import AllocationRepository
from toolkit.store.events import EventRepository
from toolkit.store.orders import BookRepository, OrderRepository
from toolkit.store.rebalancings import RebalancingRepository
from toolkit.store.repositories import FxRepository, InstrumentRepository, PriceRepository, now, sequential_ids
from toolkit.trading import engine
from toolkit.trading.accounts import (ACCOUNT_TYPES, CENT, STATUSES, Account, Configuration, iso_date, parse_account,
                                     parse_money, status_change)
from toolkit.trading.allocations import Allocation, parse_allocation
from toolkit.trading.events import Dispatcher
from toolkit.attribution import Attribution
from toolkit.reports import Reports
from toolkit.risk_platform import Analytics, Portfolios
from toolkit.strategies import Strategies
from toolkit.trading.holdings import holdings as trading_holdings
from toolkit.trading.rebalancing import (Executions, book_arrays, cancellations, legs, parse_rebalancing,
                                        values_nav)
from toolkit.trading.orders import (FILL_STEPS, MAX_SELL_SHARE, TRANSITIONS, FeeSchedule, cents_text,
                                    child_orders, parse_order, quantity_text)
from toolkit.validation import (not_future, one, optional, read_choice, read_date, read_flag, read_id, read_int,
                                read_timestamp, shown, today)

#: the ledger kinds that move money into or out of a portfolio (the others are trades and fees)
EXTERNAL_FLOWS = ("DEPOSIT", "WITHDRAWAL")
#: the most events one ``events.list`` answers
MAX_EVENTS = 1_000_000
#: environment variable naming the workspace file the apps open
ENV_VAR = "TOOLKIT_WORKSPACE"

#: instrument metadata carried as coordinates on ``instrument`` by ``prices()``
PRICE_COORDS = ("symbol", "name", "isin", "mic", "currency", "asset_class", "sector", "country", "source")


#: the workspaces not closed yet, closed at interpreter exit (before their connections)
_OPEN: "weakref.WeakSet[Workspace]" = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for ws in list(_OPEN):
        try:
            ws.close()
        except Exception:  # noqa: BLE001 - exiting: the connections are closed by toolkit.store.db next
            pass


class Workspace:
    """A workspace file: the instrument registry, price history and FX rates, and later the book."""

    def __init__(self, path: str | Path) -> None:
        self._scratch: Path | None = None  # the temporary folder of a private copy, deleted at close
        self._clock: str | None = None  # the market clock when set explicitly (see clock)
        self.path = Path(path)
        self.db = connect(self.path)
        self.dispatcher = Dispatcher(self.db)
        self.instruments = Instruments(self)
        self.history = History(self)
        self.allocations = Allocations(self)
        self.accounts = Accounts(self)
        self.configurations = Configurations(self)
        self.orders = Orders(self)
        self.rebalancings = Rebalancings(self)
        self.events = Events(self)
        self.reports = Reports(self)
        self.portfolios = Portfolios(self)
        self.analytics = Analytics(self)
        self.attribution = Attribution(self)
        self.strategies = Strategies(self)
        _OPEN.add(self)

    @property
    def clock(self) -> str:
        """The market clock: the business date (ISO ``YYYY-MM-DD``) that a write without a date of its
        own takes. By default the latest close of the workspace's daily prices (read afresh, so an
        upload of newer bars moves it; today, UTC, in a workspace without prices); set it with
        ``ws.clock = "2022-06-01"`` (an ISO date or a ``datetime.date``, not in the future) and go back
        to the default with ``ws.clock = None``. It belongs to this open workspace, not to the file.

        What follows it: the value date of a deposit or withdrawal without ``value_date``, the
        execution date of an order or rebalancing without ``execution_date``, and the day of an
        allocation version's ``valid_from`` (the version stamp that ``allocations.get(as_of=...)``
        reads; its time of day is the write's, so versions written on one market day keep their
        order). Wall-clock time stays only in audit stamps: ``created_at``, ``booked_at`` and the
        events' times. Explicit dates are taken as given."""
        if self._clock is not None:
            return self._clock
        return PriceRepository(self.db).latest(Timeframe.DAY) or today().isoformat()

    @clock.setter
    def clock(self, value: object) -> None:
        if value is None:
            self._clock = None
            return
        problems = Problems()
        day = not_future(read_date(value, "clock", problems), "clock", problems)
        problems.raise_if_any("market clock")
        self._clock = day.isoformat()

    @contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """One ``BEGIN IMMEDIATE`` write transaction; once the outermost one commits, the callback
        subscribers (:attr:`events`) get the new events in this thread and the webhook worker is
        woken (no HTTP request runs here), never while the write lock is held."""
        outer = not self.db.conn.in_transaction
        with write(self.db):
            yield self.db
        if outer:
            self.dispatcher.after_commit()

    @classmethod
    def open(cls, path: str | Path) -> "Workspace":
        """Open an existing, set-up workspace file."""
        path = Path(path)
        if not path.exists():
            raise NotFoundError(f"No workspace at {path}; create it with `python -m toolkit setup {path}`.")
        ws = cls(path)
        todo = pending(ws.db)
        if todo:
            ws.close()
            raise ToolkitError(f"The workspace at {path} needs {len(todo)} migration(s) ({', '.join(todo)}); "
                               f"run `python -m toolkit setup {path}`.")
        return ws

    @classmethod
    def create(cls, path: str | Path) -> "Workspace":
        """Create (or bring up to date) an empty workspace file and open it."""
        ws = cls(path)
        migrate(ws.db)
        return ws

    @classmethod
    def demo(cls, path: str | Path | None = None, copy: bool = False) -> "Workspace":
        """The demo workspace built from the shipped data and the demo book (``data/demo.db``), built
        on first use.

        With ``copy=True``, a private copy of it: the demo is copied through :meth:`backup` into a new
        temporary folder, the copy is opened, and the folder is deleted when the copy is closed
        (:meth:`close`, the ``with`` block's end, or interpreter exit). What a notebook or a README
        snippet writes there (accounts, orders, allocations) never reaches the shared ``data/demo.db``
        that the apps open, and a re-run starts from the same demo again."""
        copy = one(read_flag, copy, "copy", "demo workspace request")
        path = Path(path or demo_store.DEFAULT_PATH)
        if not path.exists():
            from toolkit.book import populate  # the book drives the façade: imported when needed

            demo_store.build(path, populate=populate)
        if not copy:
            return cls.open(path)
        folder = Path(tempfile.mkdtemp(prefix="toolkit-demo-"))
        try:
            with cls.open(path) as shared:
                target = shared.backup(folder / path.name)
            ws = cls.open(target)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        ws._scratch = folder
        return ws

    @classmethod
    def from_env(cls) -> "Workspace":
        """The workspace named by ``$TOOLKIT_WORKSPACE``, else the demo workspace (what apps open)."""
        path = os.environ.get(ENV_VAR)
        return cls.open(path) if path else cls.demo()

    def close(self) -> None:
        """Stop event delivery and close the file (its WAL copied back); safe to call twice. Also done
        at interpreter exit for every workspace still open."""
        self.dispatcher.close()
        _OPEN.discard(self)
        self.db.close()
        scratch, self._scratch = self._scratch, None
        if scratch is not None:  # a private copy (demo(copy=True)): its folder goes with it
            shutil.rmtree(scratch, ignore_errors=True)

    def backup(self, target: str | Path) -> Path:
        """A consistent copy of this workspace at ``target``, through SQLite's backup API (never copy
        the ``.db`` file alone while it is open: committed writes may still be in its ``-wal``)."""
        return backup(self.db, target)

    def __enter__(self) -> "Workspace":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Workspace({str(self.path)!r})"

    def status(self) -> dict:
        """Counts, data coverage and last updates (in place of the platform's account status)."""
        series = self.history.status()
        rates = FxRepository(self.db).summary()
        table = self.instruments.table()
        by_timeframe = {
            Timeframe(tf).label: {"series": int(len(g)), "n_records": int(g["n_records"].sum()),
                                  "history_start": g["history_start"].min(), "history_end": g["history_end"].max()}
            for tf, g in series.groupby("timeframe")
        }
        return {
            "path": str(self.path),
            "instruments": int(len(table)),
            "tradable_instruments": int(table["tradable"].sum()),
            "instruments_with_history": int(series["instrument_id"].nunique()),
            "price_records": int(series["n_records"].sum()),
            "timeframes": by_timeframe,
            "fx": rates,
            "last_updated": series["last_updated"].max() if len(series) else None,
        }


class Instruments:
    """The instrument registry: search, get, coverage."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self._repo = InstrumentRepository(ws.db)

    def table(self, timeframe: int = Timeframe.DAY) -> pd.DataFrame:
        """Every series with its identifiers and ``n_records``, ``history_start``, ``history_end``."""
        return self._repo.table(one(history.read_timeframe, timeframe, "timeframe", "instrument table request"))

    def search(self, text: str | None = None, *, symbol: str | None = None, isin: str | None = None,
               mic: str | None = None, currency: str | None = None, limit: int = 50) -> pd.DataFrame:
        """Search by free text, symbol, ISIN, MIC or currency; most likely match first."""
        return search(self.table(), text, symbol=symbol, isin=isin, mic=mic, currency=currency, limit=limit)

    def get(self, instrument_id: str) -> Instrument:
        rows = self._repo.by_id([instrument_id])
        if rows.empty:
            raise NotFoundError(f"No instrument with id {instrument_id!r}; search for it with instruments.search().")
        return Instrument.from_row(rows.iloc[0].to_dict())

    def resolve(self, keys: Sequence[str] | str, path: str = "instruments") -> list[str]:
        """Instrument ids for ids, ISINs or symbols (one, or a list); an ISIN or symbol names its current
        series: the one whose daily history ends latest, then the longest (as search ranks ties). Unknown keys are a ``NotFoundError`` naming them; ``keys`` neither a text nor a list is
        a ``ValidationError`` at ``path``."""
        keys = _texts(keys, path, "instrument request", each=False)
        table = current_first(self.table())
        lookup = dict(zip(table["instrument_id"], table["instrument_id"]))
        for column in ("symbol", "isin"):
            firsts = table.drop_duplicates(column)
            lookup.update(zip(firsts[column].str.upper(), firsts["instrument_id"]))
        found = [(k, lookup.get(k.strip()) or lookup.get(k.strip().upper()) if isinstance(k, str) else None)
                 for k in keys]
        unknown = [repr(k) for k, iid in found if iid is None]
        if unknown or not keys:
            raise NotFoundError(f"Unknown instrument(s): {', '.join(unknown) or 'none given'}; "
                                "name instruments by id, ISIN or symbol (see instruments.search()).")
        return list(dict.fromkeys(iid for _, iid in found))

    def coverage(self, request: object, fmt: str = "json", answer: str | None = None) -> list[dict] | str:
        """Coverage of ISIN + currency pairs (JSON list/text or CSV); answer as dicts, ``"json"`` or ``"csv"``."""
        optional(read_choice, answer, "answer", "coverage request", choices=("json", "csv"))
        answers = coverage_check.check(coverage_check.parse_request(request, fmt), self.table())
        if answer == "csv":
            return coverage_check.to_csv(answers)
        if answer == "json":
            return coverage_check.to_json(answers)
        return answers


class History:
    """Price history: upload, status per timeframe, prices as xarray."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self._prices = PriceRepository(ws.db)

    def upload(self, payload: dict) -> dict:
        """Store an OHLCV history upload (see :mod:`toolkit.market.history` for the payload).

        The series is the payload's ``instrument_id`` if given, else the current series with the
        payload's ISIN and currency (the one whose daily history ends latest, then the longest: the
        series an ISIN names everywhere), else a new instrument (``symbol`` and ``name`` default to the
        ISIN). Bars at existing timestamps are replaced. Validation happens before any write;
        the write is one transaction, so a refused or failed upload changes nothing.
        """
        upload = history.parse_history(payload)
        repo = InstrumentRepository(self._ws.db)
        with self._ws.transaction():
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
        existing = self._ws.instruments.table().query("isin == @upload.isin and currency == @upload.currency")
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
        meta = self._ws.instruments.table()[["instrument_id", "symbol", "name", "mic", "source"]]
        status = meta.merge(status, on="instrument_id")
        if instrument is not None:
            status = status[status["instrument_id"].isin(self._ws.instruments.resolve(instrument, "instrument"))]
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
        table = self._ws.instruments.table()
        ids = self._ws.instruments.resolve(instruments) if instruments is not None else list(table["instrument_id"])
        long = self._prices.read(ids, timeframe, first, last)
        meta = table.set_index("instrument_id").loc[ids, list(PRICE_COORDS)]
        ds = history.to_dataset(long, meta)
        if currency is not None:
            ds = fx.convert(ds, currency, self.rates)
        return history.resample(ds, horizon)

    @cached_property
    def rates(self) -> xr.DataArray:
        """ECB euro reference rates ``(time, currency)``, units per 1 EUR."""
        return fx.rates_from_table(FxRepository(self._ws.db).read())


class Allocations:
    """Model portfolios: create, get (as of a date), list with filters, replace (a new version)."""

    #: the seed's list limits
    DEFAULT_LIMIT, MAX_LIMIT = 100, 1000

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self._repo = AllocationRepository(ws.db)

    def create(self, payload: dict) -> Allocation:
        """Create an allocation from the seed's payload; ``PORTFOLIO_ALLOCATION.CREATED`` is recorded.
        An ISIN names its current series (the latest daily history, then the longest); a series
        whose history ended more than ten days before the market clock (by default the workspace's
        latest close) is refused at
        ``allocation[i].instrument_id``, naming its last date and the current series to use."""
        request = self._parse(payload)
        allocation_id, stamp = str(uuid.uuid4()), now(precise=True)
        with self._ws.transaction():
            self._repo.insert(allocation_id, request, stamp, self._valid_from(stamp))
            allocation = self.get(allocation_id)
            EventRepository(self._ws.db).record("PORTFOLIO_ALLOCATION.CREATED", allocation_id,
                                                allocation.to_dict(), stamp)
        return allocation

    def replace(self, allocation_id: str, payload: dict) -> Allocation:
        """Replace an allocation by a complete new one (no deltas); the old one stays readable as of its dates."""
        request = self._parse(payload)
        stamp = now(precise=True)
        with self._ws.transaction():
            self._require(allocation_id)
            self._repo.add_version(allocation_id, request, self._valid_from(stamp))
            for currency, in self._ws.db.conn.execute(
                    "SELECT DISTINCT a.currency FROM configurations c JOIN accounts a ON a.id = c.account_id "
                    "WHERE c.allocation_id = ?", (allocation_id,)).fetchall():
                other = foreign_currency(self._ws.db, [allocation_id], currency)
                if other:  # the transaction rolls the new version back
                    raise ConflictError(f"Allocation {allocation_id} is configured for {currency} accounts; the new "
                                        f"version holds {other}. Keep instruments quoted in {currency}.")
            allocation = self.get(allocation_id)
            EventRepository(self._ws.db).record("PORTFOLIO_ALLOCATION.UPDATED", allocation_id,
                                                allocation.to_dict(), stamp)
        return allocation

    def get(self, allocation_id: str, as_of: str | None = None) -> Allocation:
        """The allocation, or its version valid at ``as_of`` (an ISO date or timestamp). A version is
        valid from its ``valid_from``: the market clock's day when it was written (see
        :attr:`Workspace.clock`), so ``as_of`` is a market date."""
        optional(read_timestamp, as_of, "as_of", "allocation request")
        self._require(allocation_id)
        found = self._repo.get([allocation_id], _end_of(as_of) if as_of else None)
        if not found:
            raise NotFoundError(f"Allocation {allocation_id} did not exist yet on {as_of}.")
        return found[0]

    def list(self, instrument_ids: Sequence[str] | None = None, start_date: str | None = None,
             end_date: str | None = None, limit: int = DEFAULT_LIMIT) -> list[Allocation]:
        """Allocations created between ``start_date`` and ``end_date`` (inclusive) holding any of
        ``instrument_ids`` (ISINs or UUIDs), newest first, at most ``limit`` (1 to 1,000). The dates
        are ISO ``YYYY-MM-DD`` texts or ``datetime.date`` objects (:func:`toolkit.validation.read_date`);
        anything else (a ``datetime``, a ``pd.Timestamp``, a number) is refused by name. An unnamed
        allocation's ``name`` is None (JSON null)."""
        problems = Problems()
        ids = self._filter_ids(instrument_ids, problems)
        start = None if start_date is None else iso_date(start_date, "start_date", problems)
        end = None if end_date is None else iso_date(end_date, "end_date", problems)
        if start and end and start > end:
            problems.add("end_date", f"{end} is before start_date {start}")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= self.MAX_LIMIT:
            problems.add("limit", f"{limit!r} is not a whole number from 1 to {self.MAX_LIMIT}")
        problems.raise_if_any("allocation list request")
        return self._repo.get(self._repo.search(ids, start, end, limit))

    def table(self, **filters: object) -> pd.DataFrame:
        """The listed allocations as one row per (allocation, instrument); an unnamed one's ``name`` is None."""
        rows = [{"allocation_id": a.id, "name": a.name, "version": a.version, "created_at": a.created_at,
                 **item.to_dict()} for a in self.list(**filters) for item in a.items]
        frame = pd.DataFrame(rows).drop(columns="instrument_id_type", errors="ignore")
        if "name" in frame:  # pandas reads a None among texts as NaN: an unnamed allocation stays None
            frame["name"] = frame["name"].astype(object).where(frame["name"].notna(), None)
        return frame

    def _valid_from(self, stamp: str) -> str:
        """A new version's stamp: the market clock's day (:attr:`Workspace.clock`) at the time of day
        of the write (``stamp``, wall clock), so versions of one market day keep their order."""
        return f"{self._ws.clock}{stamp[10:]}"

    def _parse(self, payload: dict):
        """The validated request: an ISIN names its current series, and a series whose daily history
        ended long before the market clock (:attr:`Workspace.clock`, by default the workspace's latest
        close) is refused (see :mod:`toolkit.trading.allocations`)."""
        return parse_allocation(payload, self._ws.instruments.table(), self._ws.clock)

    def _require(self, allocation_id: str) -> None:
        if not isinstance(allocation_id, str) or not self._repo.exists(allocation_id):
            raise NotFoundError(f"No allocation with id {allocation_id!r}.")

    def _filter_ids(self, keys: Sequence[str] | None, problems: Problems) -> list[str] | None:
        if keys is None:
            return None
        if isinstance(keys, str) or not all(isinstance(k, str) for k in keys):
            problems.add("instrument_ids", "expected a list of ISINs or UUIDs")
            return None
        table = self._ws.instruments.table()
        ids = []
        for i, key in enumerate(keys):
            if is_isin(key):
                ids += table.loc[table["isin"] == key, "instrument_id"].tolist()
            else:
                try:
                    ids.append(str(uuid.UUID(key)))
                except ValueError:
                    problems.add(f"instrument_ids[{i}]", f"{key!r} is neither an ISIN nor a UUID")
        return ids


class Accounts:
    """PORTFOLIO and TRADING accounts with a status and a cash ledger (deposits, withdrawals)."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self._repo = AccountRepository(ws.db)
        self._events = EventRepository(ws.db)

    def create(self, payload: dict) -> Account:
        request = parse_account(payload)
        account_id, stamp = str(uuid.uuid4()), now(precise=True)
        with self._ws.transaction():
            self._repo.insert(account_id, request, stamp)
            account = self.get(account_id)
            self._events.record("ACCOUNT.CREATED", account_id, account.to_dict(), stamp)
        return account

    def list(self, type: str | None = None, status: str | None = None, limit: int = 100) -> list[Account]:
        """Accounts, oldest first, filtered by ``type`` (PORTFOLIO, TRADING) and ``status``; at most
        ``limit`` (100 by default, 1,000 at most, as for allocations)."""
        problems = Problems()
        if type is not None and type not in ACCOUNT_TYPES:
            problems.add("type", f"{type!r} is not one of {', '.join(ACCOUNT_TYPES)}")
        if status is not None and status not in STATUSES:
            problems.add("status", f"{status!r} is not one of {', '.join(STATUSES)}")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= Allocations.MAX_LIMIT:
            problems.add("limit", f"{limit!r} is not a whole number from 1 to {Allocations.MAX_LIMIT:,}")
        problems.raise_if_any("account list")
        return self._repo.list(type, status, limit)

    def get(self, account_id: str) -> Account:
        account = self._repo.get(account_id) if isinstance(account_id, str) else None
        if account is None:
            raise NotFoundError(f"No account with id {account_id!r}.")
        return account

    def deposit(self, account_id: str, payload: dict) -> Account:
        """Book a deposit (``{"amount": "1000.00", "currency": "USD"}``) on an ACTIVE account, valued
        at its ``value_date``, by default the market clock (:attr:`Workspace.clock`: the latest close,
        unless set). A value date before the account's last trade is refused (``value_date``): the
        trades after it were decided without that cash."""
        return self._move(account_id, payload, "DEPOSIT", "deposit")

    def withdraw(self, account_id: str, payload: dict) -> Account:
        """Book a withdrawal; the cash balance may not go below zero, and its ``value_date`` (by default
        the market clock) may not be before the account's last trade."""
        return self._move(account_id, payload, "WITHDRAWAL", "withdrawal")

    def _move(self, account_id: str, payload: dict, kind: str, what: str) -> Account:
        stamp = now(precise=True)
        with self._ws.transaction():
            account = self.get(account_id)
            amount, value_date = parse_money(payload, what, account.currency)
            value_date = value_date or self._ws.clock  # the market clock, not the wall clock
            last = self._repo.last_bookings([account_id], trades_only=True).get(account_id)
            if last is not None and value_date < last:
                raise ValidationError([Problem("value_date", f"{value_date} is before the account's last trade on "
                                               f"{last}; cash moves in date order: give {last} or later")], what)
            if account.status != "ACTIVE":
                raise ConflictError(f"Account {account_id} is {account.status}; only ACTIVE accounts move cash.")
            if kind == "WITHDRAWAL" and amount > account.cash:
                raise ConflictError(f"A withdrawal of {amount} {account.currency} would overdraw account "
                                    f"{account_id} (cash {account.cash}).")
            self._repo.book(account_id, kind, amount if kind == "DEPOSIT" else -amount, stamp, value_date)
            self._events.record(f"ACCOUNT.{kind}_BOOKED", account_id,
                                {"amount": format(amount, "f"), "currency": account.currency}, stamp)
            return self.get(account_id)

    def set_status(self, account_id: str, status: str) -> Account:
        if status not in STATUSES:
            raise ValidationError([Problem("status", f"{status!r} is not one of {', '.join(STATUSES)}")],
                                  "status change")
        stamp = now(precise=True)
        with self._ws.transaction():
            before = self.get(account_id)
            refusal = status_change(account_id, before.status, status)
            if refusal:
                raise ConflictError(refusal)
            self._repo.set_status(account_id, status)
            self._events.record("ACCOUNT.STATUS_CHANGED", account_id,
                                {"from": before.status, "to": status}, stamp)
            return self.get(account_id)

    def _known(self, ids: list[str]) -> list[str]:
        """``ids`` if each names an account, else a ``NotFoundError`` naming those that do not."""
        unknown = self._repo.unknown(ids)
        if unknown:
            raise NotFoundError(f"No account with id {', '.join(map(repr, unknown))}.")
        return ids

    def ledger(self, account_id: str) -> pd.DataFrame:
        self.get(account_id)
        return self._repo.ledger(account_id)

    def holdings(self, account_ids: Sequence[str] | None = None, start: str | None = None,
                 end: str | None = None) -> xr.Dataset:
        """Holdings over time: ``positions (portfolio, instrument, time)`` in shares, ``cash (portfolio,
        time)``, the external ``flows (portfolio, time)`` (deposits and withdrawals), the daily ``close
        (instrument, time)``, ``value = positions * close`` and
        ``nav = sum(value) + cash``, on the trading days of the held instruments (see
        :mod:`toolkit.trading.holdings`). All accounts when ``account_ids`` is None."""
        book = BookRepository(self._ws.db)
        ids = self._known(_texts(account_ids, "account_ids", "holdings request")) if account_ids is not None else [
            r[0] for r in self._ws.db.conn.execute("SELECT id FROM accounts ORDER BY created_at, id")]
        fills = book.holdings(ids, dated=True)
        cash = book.cash(ids, dated=True)
        flows = book.cash(ids, dated=True, kinds=EXTERNAL_FLOWS)
        instruments = sorted(set(fills["instrument_id"]))
        first = min([*fills["executed_on"], *cash["value_date"]], default=None)
        if not instruments:
            raise NotFoundError("These accounts hold no instruments yet; place an order first.")
        since = start or first
        if start is None and end is not None and pd.Timestamp(first) > pd.Timestamp(end):
            since = end  # nothing booked by the end: an empty window, which the callers report
        close = self._ws.history.prices(instruments, start=since, end=end)["close"]
        cube = trading_holdings(fills, cash, ids, instruments, close.indexes["time"], flows)
        value = cube["positions"] * close.fillna(0.0)
        return cube.assign(close=close, value=value, nav=value.sum("instrument") + cube["cash"])


class Configurations:
    """Links a PORTFOLIO account to the allocation it tracks; switching changes only the target."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self._repo = ConfigurationRepository(ws.db)
        self._events = EventRepository(ws.db)

    def create(self, payload: dict) -> Configuration:
        """``{"account_id": ..., "allocation_id": ...}``; an account has at most one configuration."""
        return self._save(payload, create=True)

    def switch(self, account_id: str, allocation_id: str) -> Configuration:
        """Point the account at another allocation; the reallocation happens at the next rebalancing."""
        return self._save({"account_id": account_id, "allocation_id": allocation_id}, create=False)

    def get(self, account_id: str) -> Configuration:
        found = self._repo.for_account(account_id) if isinstance(account_id, str) else None
        if found is None:
            raise NotFoundError(f"Account {account_id!r} has no configuration.")
        return found

    def _save(self, payload: dict, create: bool) -> Configuration:
        problems = Problems()
        problems.require_object(payload, ("account_id", "allocation_id"), "configuration")
        account_id = read_id(payload.get("account_id"), "account_id", problems)
        allocation_id = read_id(payload.get("allocation_id"), "allocation_id", problems)
        stamp = now(precise=True)
        with self._ws.transaction():
            account = AccountRepository(self._ws.db).get(account_id) if account_id else None
            if account_id and account is None:
                problems.add("account_id", f"no account with id {account_id}")
            elif account is not None and account.type != "PORTFOLIO":
                problems.add("account_id", f"is a {account.type} account; configurations link PORTFOLIO accounts")
            if allocation_id and not AllocationRepository(self._ws.db).exists(allocation_id):
                problems.add("allocation_id", f"no allocation with id {allocation_id}")
            elif allocation_id and account is not None:
                other = foreign_currency(self._ws.db, [allocation_id], account.currency)
                if other:
                    problems.add("allocation_id", f"holds {other}, but account {account_id} is in "
                                                  f"{account.currency}")
            problems.raise_if_any("configuration")
            existing = self._repo.for_account(account_id)
            if create and existing is not None:
                raise ConflictError(f"Account {account_id} already has a configuration; switch its allocation "
                                    "with configurations.switch().")
            if not create and existing is None:
                raise NotFoundError(f"Account {account_id} has no configuration to switch; create one first.")
            self._repo.upsert(str(uuid.uuid4()), account_id, allocation_id, stamp)
            saved = self._repo.for_account(account_id)
            self._events.record("CONFIGURATION.CREATED" if create else "CONFIGURATION.UPDATED",
                                saved.id, saved.to_dict(), stamp)
        return saved


@dataclass(frozen=True)
class PortfolioOrder:
    """A portfolio order with its child orders and state transitions, as stored (a preview has
    no id, state ``PREVIEW`` and no transitions)."""

    id: str | None
    account_id: str
    side: str
    cash_amount: str
    currency: str
    state: str
    idempotency_key: str | None
    execution_date: str
    created_at: str
    children: pd.DataFrame
    transitions: pd.DataFrame

    def to_dict(self) -> dict:
        """The seed's response shape: the order, its child orders and its state history."""
        body = {k: getattr(self, k) for k in ("id", "account_id", "side", "cash_amount", "currency", "state",
                                             "idempotency_key", "execution_date", "created_at")}
        body["child_orders"] = self.children.to_dict("records")
        body["state_history"] = self.transitions.to_dict("records")
        return body


class Orders:
    """Portfolio orders: BUY by target weights, SELL by current weights (at most 90% of the NAV),
    split into child orders to the cent, filled at the workspace's closes, fees per
    :class:`~toolkit.trading.orders.FeeSchedule` (``orders.fees``), no overdraft, idempotent."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self._repo = OrderRepository(ws.db)
        self._events = EventRepository(ws.db)
        self.fees = FeeSchedule()

    def place(self, account_id: str, payload: dict, execute: bool = True) -> PortfolioOrder:
        """Place an order (NEW) and, unless ``execute`` is False, process and fill it at once
        (``execute`` is a bool: ``"no"`` is refused, not taken as true). It fills at the closes of its
        ``execution_date``, by default the market clock (:attr:`Workspace.clock`); an instrument
        without a close that day is refused (``execution_date``). An execution date before the
        account's last booking (a fill, a fee or a cash movement's value date) is refused
        (``execution_date``): no back-dating."""
        return self._place(account_id, payload, one(read_flag, execute, "execute", "portfolio order"), smart=False)

    def smart(self, account_id: str, payload: dict) -> PortfolioOrder:
        """A smart order: a BUY (inflow) spent only on buys, or a SELL (outflow) raised only by sells,
        placed so that the holdings end as close as possible to the target weights (water-filling,
        :func:`toolkit.trading.engine.water_fill`). Same payload, checks and fees as :meth:`place`."""
        return self._place(account_id, payload, True, smart=True)

    def preview(self, account_id: str, payload: dict, smart: bool = False) -> PortfolioOrder:
        """The order :meth:`place` (or :meth:`smart`) would place, with its child orders, prices and
        fees, in state ``PREVIEW`` and without an id; every check runs, and nothing is written."""
        smart = one(read_flag, smart, "smart", "portfolio order")
        account = self._ws.accounts.get(account_id)
        request = parse_order(payload, account.currency)
        date, children, placed = self._plan(account, request, smart)
        quoted = InstrumentRepository(self._ws.db).by_id([c[0] for c in children]).set_index("instrument_id")
        frame = pd.DataFrame(
            [{"id": None, "instrument_id": iid, "symbol": quoted.at[iid, "symbol"], "isin": quoted.at[iid, "isin"],
              "side": side, "amount": cents_text(c), "quantity": quantity_text(q), "price": float(p),
              "fee": cents_text(f)} for iid, side, c, q, p, f in children],
            columns=["id", "instrument_id", "symbol", "isin", "side", "amount", "quantity", "price", "fee"])
        return PortfolioOrder(id=None, account_id=account_id, side=request.side, cash_amount=format(placed, "f"),
                              currency=account.currency, state="PREVIEW", idempotency_key=request.idempotency_key,
                              execution_date=date, created_at=now(precise=True), children=frame,
                              transitions=pd.DataFrame(columns=["from_state", "to_state", "at"]))

    def _place(self, account_id: str, payload: dict, execute: bool, smart: bool) -> PortfolioOrder:
        stamp = now(precise=True)
        with self._ws.transaction():
            account = self._ws.accounts.get(account_id)
            request = parse_order(payload, account.currency)
            if request.idempotency_key:
                existing = self._repo.by_key(account_id, request.idempotency_key)
                if existing:
                    return self._replay(existing, request)
            date, children, placed = self._plan(account, request, smart)
            order_id = self._record(account, request.side, placed, request.idempotency_key, date,
                                    children, stamp)
            if execute:
                self._fill(order_id, stamp)
            return self.get(order_id)

    def _plan(self, account: Account, request, smart: bool) -> tuple[str, list[tuple], Decimal]:
        """Checks, then the execution date, the child orders ``(instrument_id, side, cents, qty units,
        price, fee cents)`` and the amount placed, for an order of ``account``."""
        if account.status != "ACTIVE" or account.type != "PORTFOLIO":
            raise ConflictError(f"Account {account.id} is a {account.status} {account.type} account; "
                                "orders go to ACTIVE PORTFOLIO accounts only.")
        day = request.execution_date or self._ws.clock  # the market clock, not the wall clock
        self._in_order(account, day)
        ids, weights, held = self._split_basis(account, request, smart)
        self._same_currency(account, ids)
        date, prices = self._closes(ids, day)
        if request.side == "SELL":
            sell_weights = self._sell_weights(account, request, held, prices)
        if smart:
            flow = int(request.amount / CENT) * (1 if request.side == "BUY" else -1)
            out = engine.water_fill(held, flow, prices, weights, int(self.fees.min_order / CENT))
            cents, qty = out["buy_cents"] + out["sell_cents"], out["buy_qty"] + out["sell_qty"]
            parts = {"cents": cents, "qty": qty, "fee": self.fees.fees(cents)}
        else:
            parts = child_orders(request.amount, sell_weights if request.side == "SELL" else weights,
                                 prices, self.fees)
        if request.side == "SELL":  # never pay more than the shares sold are worth at the close
            parts["qty"] = np.minimum(parts["qty"], held)
            parts["cents"] = np.minimum(parts["cents"], engine.values_cents(parts["qty"], prices))
            parts["fee"] = self.fees.fees(parts["cents"])
            if Decimal(int(parts["fee"].sum() - parts["cents"].sum())) * CENT > account.cash:
                raise ConflictError(f"A SELL of {request.amount} {account.currency} pays more fees than it raises "
                                    f"and would overdraw account {account.id} (cash {account.cash}).")
        elif Decimal(int(parts["cents"].sum() + parts["fee"].sum())) * CENT > account.cash:
            raise ConflictError(f"A BUY of {request.amount} {account.currency} plus fees would overdraw "
                                f"account {account.id} (cash {account.cash}).")
        children = [(iid, request.side, c, q, p, f) for iid, c, q, p, f in
                    zip(ids, parts["cents"], parts["qty"], prices, parts["fee"]) if c > 0 or q > 0]
        return date, children, Decimal(int(parts["cents"].sum())) * CENT

    def _in_order(self, account: Account, date: str) -> None:
        """No back-dating: an order's execution date may not be before the account's last booking
        (a fill, a fee or a cash movement's value date), which was decided on the books as they stood."""
        last = AccountRepository(self._ws.db).last_bookings([account.id]).get(account.id)
        if last is not None and date < last:
            raise ValidationError([Problem("execution_date", f"{date} is before account {account.id}'s last "
                                           f"booking on {last}; orders are booked in date order: give {last} "
                                           "or later")], "portfolio order")

    def _same_currency(self, account: Account, ids: list[str]) -> None:
        """Orders trade instruments quoted in the account's currency (no FX trading yet)."""
        quoted = InstrumentRepository(self._ws.db).by_id(ids)
        other = quoted[quoted["currency"] != account.currency]
        if len(other):
            raise ConflictError(f"Account {account.id} is in {account.currency}, but "
                                f"{', '.join(other['symbol'])} trade in {', '.join(sorted(set(other['currency'])))}; "
                                "orders need instruments quoted in the account's currency.")

    def _closes(self, ids: list[str], date: str | None) -> tuple[str, np.ndarray]:
        day, closes = self._repo.closes(ids, date)
        missing = [i for i in ids if i not in closes]
        if missing:
            raise ValidationError([Problem("execution_date", f"no close on {day} for "
                                           f"{len(missing)} of the order's instruments")], "portfolio order")
        return day, np.array([closes[i] for i in ids])

    def _record(self, account: Account, side: str, amount: Decimal, key: str | None, date: str,
                children: list[tuple], stamp: str) -> str:
        """Write a NEW order with its child orders ``(instrument_id, side, cents, qty units, price, fee cents)``."""
        order_id = str(uuid.uuid4())
        self._repo.insert(
            {"id": order_id, "account_id": account.id, "side": side, "cash_amount": format(amount, "f"),
             "currency": account.currency, "state": "NEW", "idempotency_key": key, "execution_date": date,
             "created_at": stamp},
            [(iid, child_side, int(c), int(q), float(p), int(f)) for iid, child_side, c, q, p, f in children])
        self._move(order_id, None, "NEW", stamp)
        return order_id

    def execute(self, order_id: str) -> PortfolioOrder:
        """Process and fill a NEW order at the closes of its execution date. An order whose execution
        date is before the account's last booking (booked after it was placed) is a ``ConflictError``:
        it would be back-dated; cancel it and place a new one."""
        with self._ws.transaction():
            order = self.get(order_id)
            last = AccountRepository(self._ws.db).last_bookings([order.account_id]).get(order.account_id)
            if order.state == "NEW" and last is not None and order.execution_date < last:
                raise ConflictError(f"Order {order_id} is dated {order.execution_date}, before account "
                                    f"{order.account_id}'s last booking on {last}; filling it would back-date it. "
                                    "Cancel it and place a new order.")
            self._fill(order_id, now(precise=True))
            return self.get(order_id)

    def settle(self, order_id: str) -> PortfolioOrder:
        with self._ws.transaction():
            self._move(order_id, self._state(order_id), "SETTLED", now(precise=True))
            return self.get(order_id)

    def cancel(self, order_id: str) -> PortfolioOrder:
        with self._ws.transaction():
            self._move(order_id, self._state(order_id), "CANCELLED", now(precise=True))
            return self.get(order_id)

    def get(self, order_id: str) -> PortfolioOrder:
        row = self._repo.order(order_id) if isinstance(order_id, str) else None
        if row is None:
            raise NotFoundError(f"No portfolio order with id {order_id!r}.")
        return PortfolioOrder(**{k: row[k] for k in ("id", "account_id", "side", "cash_amount", "currency", "state",
                                                     "idempotency_key", "execution_date", "created_at")},
                              children=self._repo.children(order_id), transitions=self._repo.transitions(order_id))

    def positions(self, account_id: str) -> dict[str, Decimal]:
        """Quantities held per instrument id, exact (from the fills)."""
        self._ws.accounts.get(account_id)
        return self._repo.positions(account_id)

    def _split_basis(self, account: Account, request, smart: bool = False) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Instruments, target weight units and held quantity units. A BUY needs the configuration's
        target; a SELL needs holdings; a smart order takes both, over the union of instruments."""
        held = self._repo.positions(account.id)
        needs_target = request.side == "BUY" or smart
        if request.side == "SELL" and not held:
            raise ConflictError(f"Account {account.id} holds nothing to sell.")
        target = {}
        if needs_target:
            config = ConfigurationRepository(self._ws.db).for_account(account.id)
            if config is None:
                raise ConflictError(f"Account {account.id} has no configuration; link it to an allocation first.")
            items = AllocationRepository(self._ws.db).get([config.allocation_id])[0].items
            target = dict(zip([i.instrument_id for i in items], engine.weights_to_units([i.weight for i in items])))
        ids = list(dict.fromkeys([*target, *(held if request.side == "SELL" or smart else [])]))
        weights = np.array([target.get(i, 0) for i in ids], np.int64)
        return ids, weights, np.array([int(held.get(i, Decimal(0)).scaleb(10)) for i in ids], np.int64)

    def _sell_weights(self, account: Account, request, held: np.ndarray, prices: np.ndarray) -> np.ndarray:
        """Current weights of the holdings for a SELL, after its limits: the amount may not exceed the
        holdings' value at the execution date's closes (a SELL raises cash from holdings, never from
        the cash already held), nor 90% of the NAV (holdings and cash)."""
        values = engine.values_cents(held, prices)
        worth = Decimal(int(values.sum())) * CENT
        nav = worth + account.cash
        if request.amount > worth:
            raise ValidationError([Problem("cash_amount", f"{request.amount} is more than the holdings' value "
                                           f"({worth} {account.currency} at the closes of the execution date); "
                                           "a SELL raises cash from holdings only")], "portfolio order")
        if request.amount > MAX_SELL_SHARE * nav:
            raise ValidationError([Problem("cash_amount", f"{request.amount} is more than 90% of the NAV "
                                           f"({nav} {account.currency})")], "portfolio order")
        return engine.apportion(engine.WEIGHT_SCALE, values)

    def _fill(self, order_id: str, stamp: str) -> None:
        order = self.get(order_id)
        self._move(order_id, order.state, "PROCESSING", stamp)
        accounts = AccountRepository(self._ws.db)
        for child in order.children.itertuples(index=False):  # the fills: the child orders, once FILLED
            sign = Decimal(1) if child.side == "BUY" else Decimal(-1)
            accounts.book(order.account_id, child.side, -sign * Decimal(child.amount), stamp,
                          order.execution_date, child.id)
            if Decimal(child.fee):
                accounts.book(order.account_id, "FEE", -Decimal(child.fee), stamp, order.execution_date, child.id)
        self._move(order_id, "PROCESSING", "FILLED", stamp)

    def _state(self, order_id: str) -> str:
        return self.get(order_id).state

    def _move(self, order_id: str, before: str | None, after: str, stamp: str) -> None:
        if before is not None and after not in TRANSITIONS[before]:
            raise ConflictError(f"Order {order_id} is {before}; it cannot become {after}.")
        self._repo.transition(order_id, after)
        self._events.record(f"PORTFOLIO_ORDER.{after}", order_id, {"from": before, "to": after}, stamp)

    def _replay(self, order_id: str, request) -> PortfolioOrder:
        order = self.get(order_id)
        same = (order.side, Decimal(order.cash_amount), order.currency) == (request.side, request.amount,
                                                                           request.currency)
        if not same or request.execution_date not in (None, order.execution_date):
            raise ConflictError(f"Idempotency key {request.idempotency_key!r} was used for a different order "
                                f"({order.side} {order.cash_amount} {order.currency} on {order.execution_date}).")
        return order


class Rebalancings:
    """Rebalancing executions for a list of accounts or of allocations: one execution order per
    account, net differences only, sells first, drift threshold, preview mode (see
    :mod:`toolkit.trading.rebalancing`). The trades come from the vectorised engine for the whole
    book at once, and the run is written with a few bulk statements. Trades pay the fees of
    ``orders.fees``; buys are funded net of them (rule 7 of :func:`toolkit.trading.engine.rebalance`)."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self._book = BookRepository(ws.db)

    def execute(self, payload: dict) -> dict:
        """Run (or preview) a rebalancing at the closes of its ``execution_date``, by default the market
        clock (:attr:`Workspace.clock`); an execution date before the last booking of any of the run's
        accounts is refused (``execution_date``): no back-dating."""
        request = parse_rebalancing(payload)
        stamp, run_id = now(precise=True), str(uuid.uuid4())
        with self._ws.transaction():
            loaded = request.account_ids is None
            if loaded:
                unknown = set(AllocationRepository(self._ws.db).unknown(request.allocation_ids))
                if unknown:
                    raise ValidationError([Problem(f"allocation_ids[{i}]", f"{a!r} names no allocation")
                                           for i, a in enumerate(request.allocation_ids) if a in unknown],
                                          "rebalancing request")
            ids = self._book.configured(request.allocation_ids) if loaded else list(request.account_ids)
            day = request.execution_date or self._ws.clock  # the market clock, not the wall clock
            self._in_order(ids, day)
            accounts, balances, positions = self._book.book(ids, loaded)
            targets = self._book.targets(list(accounts["allocation_id"].dropna().unique()))
            self._same_currency(accounts, targets)
            instruments, qty, cash, target = book_arrays(positions, balances, targets, accounts, ids)
            date, prices = self._prices(instruments, day)
            reasons = cancellations(accounts, tuple(ids))
            owing = reasons.isna().to_numpy() & (cash < 0)  # cash below 0 (written outside the toolkit)
            if owing.any():  # is ACCOUNT_IS_EMPTY when the NAV is not above 0; the engine refuses the rest
                empty = np.flatnonzero(owing)[values_nav(qty[owing], cash[owing], prices) <= 0]
                reasons.iloc[empty] = "ACCOUNT_IS_EMPTY"
            ok = reasons.isna().to_numpy()
            fees = self._ws.orders.fees
            trades = engine.rebalance(qty[ok], cash[ok], prices, target[ok], drift=request.drift,
                                      drift_mode=request.drift_type.lower(),
                                      min_order_cents=int(fees.min_order / CENT), fee_rate=fees.rate,
                                      fee_min_cents=int(fees.minimum / CENT)) if ok.any() else {}
            if ok.any():  # empty (NAV <= 0), or balanced: also when every trade it needs is below the minimum
                idle = (trades["sell_qty"] == 0).all(axis=-1) & (trades["buy_cents"] == 0).all(axis=-1)
                reasons[ok] = np.where(trades["nav_cents"] <= 0, "ACCOUNT_IS_EMPTY",
                                       np.where(trades["balanced"] | idle, "PORTFOLIO_IS_BALANCED", ""))
                reasons = reasons.where(reasons != "", None)
            executions, first = self._executions(ids, reasons, ok, trades, instruments, prices, request, date,
                                                 stamp, accounts)
            repo, execution_ids = RebalancingRepository(self._ws.db), sequential_ids(len(executions))
            repo.insert(run_id, json.dumps(payload, default=str), request.preview, stamp,
                        executions.rows(execution_ids, placed=False))
            if first is not None:
                repo.insert_placed(run_id, execution_ids, executions.placed, first)
        return {"id": run_id, "preview": request.preview, "created_at": stamp, "executions": executions}

    def get(self, run_id: str) -> dict:
        """A past run, answered as :meth:`execute` answered it; an EXECUTED account's trades are read
        back from its portfolio order's child orders."""
        repo = RebalancingRepository(self._ws.db)
        run = repo.run(run_id)
        if run is None:
            raise NotFoundError(f"No rebalancing with id {run_id!r}.")
        rows = repo.executions(run_id)
        executed = repo.trades(run_id)
        placed = {eid: group.drop(columns="execution_id").to_dict("records")
                  for eid, group in executed.groupby("execution_id", sort=False)}
        run["executions"] = [
            {"account_id": account, "status": status, "cancellation_reason": reason, "portfolio_order_id": order,
             "trades": placed.get(eid, []) if status == "EXECUTED" else json.loads(trades)}
            for eid, account, status, reason, order, trades in rows]
        return run

    def _in_order(self, ids: list[str], date: str) -> None:
        """No back-dating: a run's execution date may not be before the last booking (a fill, a fee or a
        cash movement's value date) of any of its accounts."""
        late = AccountRepository(self._ws.db).booked_after(ids, date)
        if late:
            account, last = max(late.items(), key=lambda pair: pair[1])
            raise ValidationError([Problem("execution_date", f"{date} is before the last booking of {len(late)} "
                                           f"account(s) of the run, the latest on {last} (account {account}); "
                                           f"rebalancings are booked in date order: give {last} or later")],
                                  "rebalancing request")

    def _same_currency(self, accounts: pd.DataFrame, targets: pd.DataFrame) -> None:
        """Refuse a book in which an account's target holds instruments quoted in another currency
        (configurations refuse to create one; this guards books written before that check)."""
        if targets.empty:
            return
        quoted = InstrumentRepository(self._ws.db).by_id(sorted(set(targets["instrument_id"])))
        quoted = quoted.set_index("instrument_id")
        books = accounts[["allocation_id", "currency"]].drop_duplicates()  # checked once per model and currency
        pairs = (targets.merge(quoted[["currency", "symbol"]], left_on="instrument_id", right_index=True)
                 .merge(books.rename(columns={"currency": "account_currency"}), on="allocation_id"))
        wrong = pairs[pairs["currency"] != pairs["account_currency"]]
        if len(wrong):
            wrong = wrong.merge(accounts.rename(columns={"currency": "account_currency"}),
                                on=["allocation_id", "account_currency"])
            first = wrong.iloc[0]
            raise ConflictError(f"{wrong['account_id'].nunique()} account(s) target instruments in another currency, "
                                f"e.g. account {first['account_id']} ({first['account_currency']}) targets "
                                f"{first['symbol']} ({first['currency']}); switch them to an allocation in their "
                                "currency.")

    def _prices(self, instruments: list[str], date: str | None) -> tuple[str | None, np.ndarray]:
        if not instruments:
            return date, np.zeros(0)
        day, closes = OrderRepository(self._ws.db).closes(instruments, date)
        if len(closes) < len(instruments):
            raise ValidationError([Problem("execution_date", f"no close on {day} for "
                                           f"{len(instruments) - len(closes)} instruments of the book")],
                                  "rebalancing request")
        return day, np.array([closes[i] for i in instruments])

    def _executions(self, ids: list[str], reasons: pd.Series, ok: np.ndarray, trades: dict,
                    instruments: list[str], prices: np.ndarray, request, date: str | None, stamp: str,
                    accounts: pd.DataFrame) -> Executions:
        """The executions of the run (built when read, :class:`~toolkit.trading.rebalancing.Executions`),
        with its orders written for the whole book by a few bulk statements (no per-account
        statement): per EXECUTED account one REBALANCE order FILLED at once with its child orders
        packed (sells first), its NEW → PROCESSING → FILLED transitions and events, and two cash
        bookings: the net of its trades (kind REBALANCE) and its fees (kind FEE)."""
        reason = [None if pd.isna(r) else r for r in reasons]
        live = np.flatnonzero([r is None for r in reason])  # the index in ids of each account that trades
        table = legs(trades, (np.cumsum(ok) - 1)[live]) if len(live) else None
        order_ids, first = [], None
        if len(live) and not request.preview:
            order_ids, first = self._record_book(ids, live, table, instruments, prices, date, stamp, accounts)
        return Executions(ids, reason, "PREVIEW" if request.preview else "EXECUTED", live, table, instruments, prices,
                          order_ids), first

    def _record_book(self, ids: list[str], live: np.ndarray, table: dict, instruments: list[str],
                     prices: np.ndarray, date: str, stamp: str, accounts: pd.DataFrame) -> tuple[Sequence[str], int]:
        """The orders (with their packed child orders), transitions, events and cash bookings of a
        run; returns the order id of each trading account (in the order of ``live``) and the
        ``rowid`` of the first order."""
        order_ids = sequential_ids(len(live))
        account_ids = [ids[n] for n in live.tolist()]
        currency = accounts.set_index("account_id")["currency"].reindex(account_ids).tolist()
        per_order = {name: np.bincount(table["owner"], weights=values, minlength=len(live)).astype(np.int64)
                     for name, values in (("net", np.where(table["sell"], table["cents"], -table["cents"])),
                                          ("turnover", table["cents"]), ("fee", table["fee"]))}
        repo = OrderRepository(self._ws.db)
        blobs = repo.pack_book(instruments, prices, table, np.bincount(table["owner"], minlength=len(live)))
        n = len(order_ids)
        first = repo.insert_filled(zip(order_ids, account_ids, ["REBALANCE"] * n, per_order["turnover"].tolist(),
                                       currency, ["FILLED"] * n, [None] * n, [date] * n, [stamp] * n, blobs),
                                   FILL_STEPS, stamp)
        AccountRepository(self._ws.db).book_orders(first, {"REBALANCE": (per_order["net"], True),
                                                           "FEE": (-per_order["fee"], False)}, date, stamp)
        return order_ids, first


class Events:
    """The events written by every create, update and state change, and their subscribers: Python
    callbacks or HTTP webhooks signed with HMAC-SHA256 (see :mod:`toolkit.trading.events`)."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self._repo = EventRepository(ws.db)

    def list(self, resource_id: str | None = None, type: str | None = None, after: int = 0,
             limit: int = 1000) -> pd.DataFrame:
        """Stored events with an id above ``after``, oldest first, at most ``limit`` (1 to 1,000,000),
        optionally of one resource and one exact type."""
        problems = Problems()
        for path, value in (("resource_id", resource_id), ("type", type)):
            if value is not None and (not isinstance(value, str) or not 0 < len(value) <= 200):
                problems.add(path, f"{shown(value)} is not a text of 1 to 200 characters")
        read_int(after, "after", problems, low=0, high=2**63 - 1)  # (SQLite's integers)
        read_int(limit, "limit", problems, low=1, high=MAX_EVENTS)
        problems.raise_if_any("events request")
        return self._repo.list(resource_id, type, after, limit)

    def subscribe_callback(self, name: str, callback, types: Sequence[str] = (), replay: bool = False):
        """Call ``callback(event)`` after each committed write, in the writing thread; a new ``name``
        starts from now unless ``replay=True`` (see :meth:`Dispatcher.subscribe_callback`)."""
        return self._ws.dispatcher.subscribe_callback(name, callback, types, replay)

    def subscribe_webhook(self, name: str, url: str, secret: str | bytes, types: Sequence[str] = (),
                          retries: int = 3, backoff: float = 0.5, timeout: float = 5.0, replay: bool = False,
                          allow_private: bool = False):
        """POST each event to ``url`` from a background worker, signed with ``secret``; a new ``name``
        starts from now unless ``replay=True``; private addresses need ``allow_private=True`` (see
        :meth:`Dispatcher.subscribe_webhook`)."""
        return self._ws.dispatcher.subscribe_webhook(name, url, secret, types, retries, backoff, timeout, replay,
                                                     allow_private)

    def unsubscribe(self, name: str) -> None:
        self._ws.dispatcher.unsubscribe(name)

    def dispatch(self) -> int:
        """Deliver what is not delivered yet now, webhooks included, in this thread, and wait (writes
        do not need it: callbacks run after each commit and webhooks go from the worker)."""
        return self._ws.dispatcher.dispatch()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until the webhook worker has sent every event committed so far (at most ``timeout``
        seconds); True when it has."""
        return self._ws.dispatcher.flush(timeout)

    def deliveries(self, event_id: int | None = None, subscriber: str | None = None) -> pd.DataFrame:
        """The delivery log: every attempt with its status, HTTP status and error (of one event id
        and one subscriber name when given)."""
        problems = Problems()
        if event_id is not None:
            read_int(event_id, "event_id", problems, low=1)
        if subscriber is not None and not isinstance(subscriber, str):
            problems.add("subscriber", f"{shown(subscriber)} is not a subscriber name")
        problems.raise_if_any("deliveries request")
        return self._ws.dispatcher.log(event_id, subscriber)


def foreign_currency(db: sqlite_utils.Database, allocation_ids: list[str], currency: str) -> str:
    """The current instruments of the allocations not quoted in ``currency``, as ``"SAP (EUR), …"``
    ("" when there are none)."""
    marks = ", ".join("?" * len(allocation_ids))
    rows = db.conn.execute(
        f"SELECT DISTINCT i.symbol, i.currency FROM allocation_weights w "
        f"JOIN allocations a ON a.id = w.allocation_id AND a.version = w.version "
        f"JOIN instruments i ON i.instrument_id = w.instrument_id "
        f"WHERE a.id IN ({marks}) AND i.currency != ? ORDER BY i.symbol", [*allocation_ids, currency]).fetchall()
    return ", ".join(f"{symbol} ({quoted})" for symbol, quoted in rows)


def _texts(keys: object, path: str, what: str, each: bool = True) -> list[str]:
    """``keys`` as a list: one text, or a list (any iterable but a mapping) of texts (of anything
    without ``each``); a ``ValidationError`` names ``path`` or ``path[i]`` otherwise (``"AAPL"`` is one
    key, never four)."""
    if isinstance(keys, str):
        return [keys]
    problems = Problems()
    if isinstance(keys, (dict, bytes)) or not hasattr(keys, "__iter__"):
        problems.add(path, f"{shown(keys)} is not a text or a list of texts")
        problems.raise_if_any(what)
    keys = list(keys)
    for n, key in enumerate(keys if each else ()):
        if not isinstance(key, str):
            problems.add(f"{path}[{n}]", f"{shown(key)} is not a text")
    problems.raise_if_any(what)
    return keys


def _end_of(as_of: str) -> str:
    """An ``as_of`` date means the end of that day; a timestamp is taken as it is."""
    return f"{as_of}T23:59:59.999999+00:00" if len(as_of) == 10 else as_of


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
