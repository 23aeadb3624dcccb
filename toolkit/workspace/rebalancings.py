from __future__ import annotations

import json
import uuid
from collections.abc import Sequence

import numpy as np
import pandas as pd

from toolkit.contracts.brokerage import RebalancingExecutionRequest, parse
from toolkit.errors import ConflictError, NotFoundError, Problem, ValidationError
from toolkit.store.accounts import AccountRepository
from toolkit.store.allocations import AllocationRepository
from toolkit.store.orders import BookRepository, OrderRepository
from toolkit.store.rebalancings import RebalancingRepository
from toolkit.store.repositories import InstrumentRepository, now, sequential_ids
from toolkit.trading.orders import FILL_STEPS
from toolkit.trading.rebalancing import (
    Executions,
    RebalancingRequest,
    RebalancingRun,
    book_arrays,
    legs,
    plan,
)
from toolkit.workspace.context import Context
from toolkit.workspace.orders import Orders


class Rebalancings:
    """Rebalancing executions for a list of accounts or of allocations: one execution order per
    account, net differences only, sells first, drift threshold, preview mode (see
    :mod:`toolkit.trading.rebalancing`). The trades come from the vectorised engine for the whole
    book at once, and the run is written with a few bulk statements. Trades pay the fees of
    ``orders.fees``; buys are funded net of them (rule 7 of :func:`toolkit.trading.engine.rebalance`)."""

    def __init__(self, ctx: Context, *, orders: Orders) -> None:
        self._ctx = ctx
        self._orders = orders
        self._book = BookRepository(ctx.db)

    def execute(self, payload: object) -> RebalancingRun:
        """``POST /portfolios/rebalancings/executions`` (brokerage document, line 186): run (or preview)
        the seed's request ``{"accounts": [...]}`` (a dict, JSON text or
        :class:`~toolkit.contracts.brokerage.RebalancingExecutionRequest`, with the toolkit's
        ``allocation_ids``, ``drift``, ``execution_date`` and ``preview``) at the closes of its
        ``execution_date``, by default the market clock (:attr:`Workspace.clock`); an execution date
        before the last booking of any of the run's accounts is refused (``execution_date``): no
        back-dating."""
        contract = parse(RebalancingExecutionRequest, payload, "rebalancing request")
        request = RebalancingRequest.of(contract)
        stamp, run_id = now(precise=True), str(uuid.uuid4())
        with self._ctx.transaction():
            loaded = request.account_ids is None
            if request.account_ids is None:
                allocation_ids = request.allocation_ids or ()  # the contract names accounts or allocations
                unknown = set(AllocationRepository(self._ctx.db).unknown(allocation_ids))
                if unknown:
                    raise ValidationError([Problem(f"allocation_ids[{i}]", f"{a!r} names no allocation")
                                           for i, a in enumerate(allocation_ids) if a in unknown],
                                          "rebalancing request")
                ids = self._book.configured(allocation_ids)
            else:
                ids = list(request.account_ids)
            day = request.execution_date or self._ctx.clock  # the market clock, not the wall clock
            self._in_order(ids, day)
            accounts, balances, positions = self._book.book(ids, loaded)
            targets = self._book.targets(list(accounts["allocation_id"].dropna().unique()))
            self._same_currency(accounts, targets)
            instruments, qty, cash, target = book_arrays(positions, balances, targets, accounts, ids)
            date, prices = self._prices(instruments, day)
            fees = self._orders.fees
            reasons, ok, trades = plan(accounts, tuple(ids), qty, cash, prices, target, drift=request.drift,
                                       drift_type=request.drift_type, fees=fees)
            executions, first = self._executions(ids, reasons, ok, trades, instruments, prices, request, date,
                                                 stamp, accounts)
            repo, execution_ids = RebalancingRepository(self._ctx.db), sequential_ids(len(executions))
            stored = json.dumps(contract.model_dump(mode="json", exclude_none=True))  # the request as read
            repo.insert(run_id, stored, request.preview, stamp, executions.rows(execution_ids, placed=False))
            if first is not None:
                repo.insert_placed(run_id, execution_ids, executions.placed, first)
        return RebalancingRun(id=run_id, preview=request.preview, created_at=stamp, executions=executions)

    def get(self, run_id: str) -> RebalancingRun:
        """A past run, answered as :meth:`execute` answered it; an EXECUTED account's trades are read
        back from its portfolio order's child orders."""
        repo = RebalancingRepository(self._ctx.db)
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
        return RebalancingRun(run)

    def _in_order(self, ids: list[str], date: str) -> None:
        """No back-dating: a run's execution date may not be before the last booking (a fill, a fee or a
        cash movement's value date) of any of its accounts."""
        late = AccountRepository(self._ctx.db).booked_after(ids, date)
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
        quoted = InstrumentRepository(self._ctx.db).by_id(sorted(set(targets["instrument_id"])))
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

    def _prices(self, instruments: list[str], date: str) -> tuple[str, np.ndarray]:
        if not instruments:
            return date, np.zeros(0)
        _, closes = OrderRepository(self._ctx.db).closes(instruments, date)
        if len(closes) < len(instruments):
            raise ValidationError([Problem("execution_date", f"no close on {date} for "
                                           f"{len(instruments) - len(closes)} instruments of the book")],
                                  "rebalancing request")
        return date, np.array([closes[i] for i in instruments])

    def _executions(self, ids: list[str], reasons: pd.Series, ok: np.ndarray, trades: dict,
                    instruments: list[str], prices: np.ndarray, request: RebalancingRequest, date: str, stamp: str,
                    accounts: pd.DataFrame) -> tuple[Executions, int | None]:
        """The executions of the run (built when read, :class:`~toolkit.trading.rebalancing.Executions`),
        with its orders written for the whole book by a few bulk statements (no per-account
        statement): per EXECUTED account one REBALANCE order FILLED at once with its child orders
        packed (sells first), its NEW → PROCESSING → FILLED transitions and events, and two cash
        bookings: the net of its trades (kind REBALANCE) and its fees (kind FEE). Returns the executions and
        the ``rowid`` of the run's first order (None when none was placed)."""
        reason = [None if pd.isna(r) else r for r in reasons]
        live = np.flatnonzero([r is None for r in reason])  # the index in ids of each account that trades
        table = legs(trades, (np.cumsum(ok) - 1)[live]) if len(live) else None
        order_ids: Sequence[str] = []
        first: int | None = None
        if table is not None and not request.preview:  # table: None when no account trades
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
        repo = OrderRepository(self._ctx.db)
        blobs = repo.pack_book(instruments, prices, table, np.bincount(table["owner"], minlength=len(live)))
        n = len(order_ids)
        first = repo.insert_filled(zip(order_ids, account_ids, ["REBALANCE"] * n, per_order["turnover"].tolist(),
                                       currency, ["FILLED"] * n, [None] * n, [date] * n, [stamp] * n, blobs),
                                   FILL_STEPS, stamp)
        AccountRepository(self._ctx.db).book_orders(first, {"REBALANCE": (per_order["net"], True),
                                                           "FEE": (-per_order["fee"], False)}, date, stamp)
        return order_ids, first
