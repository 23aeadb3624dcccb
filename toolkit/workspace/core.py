"""The façade: one object per workspace file, with one attribute per resource of the seed APIs.

    ws = Workspace.demo(copy=True)             # a private copy of data/demo.db (built from data/ on first use)
    ws.instruments.search("apple")             # the instrument registry
    ws.history.upload(payload)                 # the risk platform's PUT /history body, verbatim
    ws.allocations.create(payload)             # the brokerage's POST /portfolios/allocations body
    ws.history.prices(["AAPL", "MSFT"], currency="EUR", horizon="month")  # xr.Dataset

Each resource lives in its own module of this package and is given a :class:`~toolkit.workspace.context.Context`
(the connection, write transactions, the market clock, event dispatch) and the sibling resources
it calls, never the whole :class:`Workspace`.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
import weakref
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import sqlite_utils

from toolkit.errors import NotFoundError, Problems, ToolkitError
from toolkit.schema import Timeframe
from toolkit.store import backup, connect, migrate, pending
from toolkit.store import demo as demo_store
from toolkit.store.repositories import FxRepository, PriceRepository
from toolkit.validation import not_future, one, read_date, read_flag, today
from toolkit.workspace import book
from toolkit.workspace.accounts import Accounts
from toolkit.workspace.allocations import Allocations
from toolkit.workspace.analytics import Analytics
from toolkit.workspace.api import Api
from toolkit.workspace.attribution import Attribution
from toolkit.workspace.backtests import Backtests
from toolkit.workspace.configurations import Configurations
from toolkit.workspace.context import Context
from toolkit.workspace.dispatch import Dispatcher
from toolkit.workspace.events import Events
from toolkit.workspace.history import History
from toolkit.workspace.instruments import Instruments
from toolkit.workspace.jobs import Jobs
from toolkit.workspace.orders import Orders
from toolkit.workspace.portfolios import Portfolios
from toolkit.workspace.rebalancings import Rebalancings
from toolkit.workspace.reports import Reports
from toolkit.workspace.rules import Rules
from toolkit.workspace.strategies import Strategies
from toolkit.workspace.tactics import Tactics

#: environment variable naming the workspace file the apps open
ENV_VAR = "TOOLKIT_WORKSPACE"


#: the workspaces not closed yet, closed at interpreter exit (before their connections)
_OPEN: weakref.WeakSet[Workspace] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for ws in list(_OPEN):
        try:
            ws.close()
        except Exception:  # noqa: BLE001 - exiting: the connections are closed by toolkit.store.db next
            pass


class Workspace:
    """A workspace file: the instrument registry, price history and FX rates, and later the book."""

    def __init__(self, path: str | Path, scheduler: str | None = None) -> None:
        self._scratch: Path | None = None  # the temporary folder of a private copy, deleted at close
        self._clock: str | None = None  # the market clock when set explicitly (see clock)
        self.path = Path(path)
        self.db = connect(self.path)
        self.dispatcher = Dispatcher(self.db)
        self.jobs = Jobs(scheduler)  # background jobs on dask.distributed (toolkit.workspace.jobs)
        ctx = self._ctx = Context(self.db, self.path, lambda: self.clock, self.dispatcher)
        self.instruments = Instruments(ctx)
        self.history = History(ctx, instruments=self.instruments)
        self.api = Api(ctx, instruments=self.instruments, history=self.history)
        self.allocations = Allocations(ctx, instruments=self.instruments)
        self.accounts = Accounts(ctx, history=self.history)
        self.configurations = Configurations(ctx)
        self.orders = Orders(ctx, accounts=self.accounts)
        self.rebalancings = Rebalancings(ctx, orders=self.orders, accounts=self.accounts, history=self.history)
        self.events = Events(ctx)
        self.reports = Reports(ctx, instruments=self.instruments, history=self.history, accounts=self.accounts)
        self.portfolios = Portfolios(ctx, instruments=self.instruments, history=self.history)
        self.analytics = Analytics(ctx, instruments=self.instruments, history=self.history)
        self.attribution = Attribution(ctx, instruments=self.instruments, history=self.history,
                                       accounts=self.accounts, allocations=self.allocations)
        self.rules = Rules(ctx, instruments=self.instruments, history=self.history)
        self.tactics = Tactics(ctx, orders=self.orders)  # the tactical rules' verdicts on placed orders
        self.backtests = Backtests(ctx, instruments=self.instruments, history=self.history, accounts=self.accounts,
                                   orders=self.orders, rules=self.rules, jobs=self.jobs, portfolios=self.portfolios,
                                   analytics=self.analytics)
        path = self.path
        self.strategies = Strategies(ctx, instruments=self.instruments, history=self.history, accounts=self.accounts,
                                     allocations=self.allocations, configurations=self.configurations,
                                     rebalancings=self.rebalancings, attribution=self.attribution,
                                     analytics=self.analytics, portfolios=self.portfolios, rules=self.rules,
                                     jobs=self.jobs, reopen=functools.partial(type(self).open, path))
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
        assert day is not None  # refused above
        self._clock = day.isoformat()

    def transaction(self) -> AbstractContextManager[sqlite_utils.Database]:
        """One ``BEGIN IMMEDIATE`` write transaction; once the outermost one commits, the callback
        subscribers (:attr:`events`) get the new events in this thread and the webhook worker is
        woken (no HTTP request runs here), never while the write lock is held."""
        return self._ctx.transaction()

    @classmethod
    def open(cls, path: str | Path, scheduler: str | None = None) -> Workspace:
        """Open an existing, set-up workspace file (``scheduler``: a dask scheduler address for its
        background jobs, see :mod:`toolkit.workspace.jobs`)."""
        path = Path(path)
        if not path.exists():
            raise NotFoundError(f"No workspace at {path}; create it with `python -m toolkit setup {path}`.")
        ws = cls(path, scheduler)
        todo = pending(ws.db)
        if todo:
            ws.close()
            raise ToolkitError(f"The workspace at {path} needs {len(todo)} migration(s) ({', '.join(todo)}); "
                               f"run `python -m toolkit setup {path}`.")
        return ws

    @classmethod
    def create(cls, path: str | Path) -> Workspace:
        """Create (or bring up to date) an empty workspace file and open it."""
        ws = cls(path)
        migrate(ws.db)
        return ws

    @classmethod
    def demo(cls, path: str | Path | None = None, copy: bool = False) -> Workspace:
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
            cls.build_demo(path)
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
    def build_demo(cls, path: str | Path | None = None,
                   progress: Callable[[int, int, str], None] | None = None) -> Path:
        """Build the demo workspace file (``data/demo.db`` by default) from the shipped data, then run
        the demo book (:mod:`toolkit.workspace.book`) into it through the façade."""
        def run_book(built: Path) -> None:
            with cls.open(built) as ws:
                book.build_book(ws)

        return demo_store.build(Path(path or demo_store.DEFAULT_PATH), progress=progress, populate=run_book)

    @classmethod
    def from_env(cls) -> Workspace:
        """The workspace named by ``$TOOLKIT_WORKSPACE``, else the demo workspace (what apps open)."""
        path = os.environ.get(ENV_VAR)
        return cls.open(path) if path else cls.demo()

    def close(self) -> None:
        """Stop event delivery and close the file (its WAL copied back); safe to call twice. Also done
        at interpreter exit for every workspace still open."""
        self.jobs.close()
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

    def __enter__(self) -> Workspace:
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
