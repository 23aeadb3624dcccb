from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

import numpy as np
import pandas as pd
import xarray as xr

from toolkit.backtest import OrderMath, Policy, simulate
from toolkit.backtest.simulation import _band_breach
from toolkit.contracts.brokerage import RebalancingExecutionRequest, parse
from toolkit.errors import ConflictError, NotFoundError, Problem, Problems, ValidationError
from toolkit.schema import INSTRUMENT, PORTFOLIO, TIME
from toolkit.store.accounts import AccountRepository, ConfigurationRepository
from toolkit.store.allocations import AllocationRepository
from toolkit.store.orders import BookRepository, OrderRepository
from toolkit.store.rebalancings import AutomationRepository, RebalancingRepository
from toolkit.store.repositories import InstrumentRepository, now, sequential_ids
from toolkit.trading.engine import QTY_SCALE, WEIGHT_SCALE
from toolkit.trading.engine import rebalance as engine_rebalance
from toolkit.trading.orders import FILL_STEPS, FeeSchedule
from toolkit.trading.rebalancing import (
    Executions,
    RebalancingRequest,
    RebalancingRun,
    book_arrays,
    legs,
    plan,
)
from toolkit.validation import not_future, read_date
from toolkit.workspace.accounts import Accounts
from toolkit.workspace.context import Context
from toolkit.workspace.history import History
from toolkit.workspace.orders import Orders

#: the fields of an automated rebalancing strategy (:meth:`Rebalancings.attach`)
AUTOMATION_FIELDS = ("account_id", "frequency", "band", "band_kind", "band_scope", "cooldown_days")
#: periods a year of each calendar
PER_YEAR = {"monthly": 12, "quarterly": 4, "yearly": 1}


class Rebalancings:
    """Rebalancing executions for a list of accounts or of allocations: one execution order per
    account, net differences only, sells first, drift threshold, preview mode (see
    :mod:`toolkit.trading.rebalancing`). The trades come from the vectorised engine for the whole
    book at once, and the run is written with a few bulk statements. Trades pay the fees of
    ``orders.fees``; buys are funded net of them (rule 7 of :func:`toolkit.trading.engine.rebalance`)."""

    def __init__(self, ctx: Context, *, orders: Orders, accounts: Accounts | None = None,
                 history: History | None = None) -> None:
        self._ctx = ctx
        self._orders = orders
        self._accounts, self._history = accounts, history
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

    # ------------------------------------------------------------------ automated rebalancing

    def attach(self, request: object) -> dict:
        """Attach a rebalancing strategy to an account's portfolio configuration (brokerage document,
        "Setting up automated rebalancings", announced at line 70): ``{"account_id": ..., "frequency":
        "quarterly", "band": 0.05, "band_kind": "relative", "band_scope": "line", "cooldown_days": 5}``.

        ``frequency`` (monthly, quarterly, yearly or None) rebalances at the first :meth:`run_due` of each
        period; ``band`` (a share, 0.05 is 5%, or None) when the account's weights drift out of it, measured
        as :mod:`toolkit.backtest.simulation` states (``band_kind`` relative or absolute, ``band_scope``
        per line or whole book; cash counts as a line with a zero target); ``cooldown_days``: after an
        automated rebalancing on trading day ``d`` the next is on day ``d + cooldown_days`` at the earliest
        (trading days: the days with closes of the account's holdings; the engine's ``Policy.cooldown``).
        At least a calendar or a band. A new strategy replaces the account's previous one. Answers the
        stored strategy."""
        problems = Problems()
        payload = problems.require_object(request, AUTOMATION_FIELDS, "rebalancing strategy")
        problems.raise_if_any("rebalancing strategy")
        account = payload.get("account_id")
        if not isinstance(account, str) or ConfigurationRepository(self._ctx.db).for_account(account) is None:
            problems.add("account_id", f"{account!r} is no account with a portfolio configuration; create one "
                                       "with configurations.create() first")
        band = payload.get("band")
        try:
            band = None if band is None else float(band)
        except (TypeError, ValueError):
            problems.add("band", f"{band!r} is not a share such as 0.05")
            band = None
        policy = Policy(frequency=payload.get("frequency"), band=band,
                        band_kind=payload.get("band_kind", "relative"), band_scope=payload.get("band_scope", "line"))
        for problem in policy.problems("strategy"):
            problems.add(problem.path.removeprefix("strategy."), problem.message)
        if policy.frequency is None and band is None and "band" not in [p.path for p in problems.items]:
            problems.add("frequency", "give a calendar (frequency), a drift band (band), or both")
        cooldown = payload.get("cooldown_days", 0)
        if isinstance(cooldown, bool) or not isinstance(cooldown, int) or cooldown < 0:
            problems.add("cooldown_days", f"{cooldown!r} is not a whole number of days, 0 or more")
        problems.raise_if_any("rebalancing strategy")
        row = {"account_id": account, "frequency": policy.frequency, "band": band, "band_kind": policy.band_kind,
               "band_scope": policy.band_scope, "cooldown_days": cooldown, "created_at": now(precise=True)}
        with self._ctx.transaction():
            AutomationRepository(self._ctx.db).save(row)
        return row

    def automations(self) -> pd.DataFrame:
        """The attached rebalancing strategies, one row per account."""
        return pd.DataFrame(AutomationRepository(self._ctx.db).strategies(),
                            columns=[*AUTOMATION_FIELDS, "created_at"])

    def automated_runs(self) -> pd.DataFrame:
        """Every account and day :meth:`run_due` looked at: the reason (calendar, band, cooldown, not due)
        and the rebalancing it ran."""
        return AutomationRepository(self._ctx.db).runs()

    def run_due(self, as_of: object = None) -> dict:
        """Execute the automated rebalancings due on ``as_of`` (an ISO date, default the market clock)
        through the real order path (:meth:`execute`, one run for every due account), and record each
        account looked at, in one transaction. Due: a calendar whose period has had no automated
        rebalancing yet, or weights out of the band, unless within the cooldown. Idempotent: an account
        already looked at on ``as_of`` is not looked at again, so a second call the same day does nothing.
        A day without closes (no trading) does nothing. Answers ``{"as_of", "due": {account: reason},
        "rebalancing": the run or None}``."""
        problems = Problems()
        day = not_future(read_date(as_of if as_of is not None else self._ctx.clock, "as_of", problems), "as_of",
                         problems)
        problems.raise_if_any("automated rebalancing")
        assert day is not None
        date = day.isoformat()
        nothing: dict = {"as_of": date, "due": {}, "rebalancing": None}
        if self._accounts is None:
            raise NotFoundError("This Rebalancings was built without its accounts; open a Workspace.")
        with self._ctx.transaction():
            auto = AutomationRepository(self._ctx.db)
            done = auto.looked_at(date)
            todo = [s for s in auto.strategies() if s["account_id"] not in done]
            if not todo:
                return nothing
            ids = [s["account_id"] for s in todo]
            weights, targets, sessions = self._drift(ids, [s["allocation_id"] for s in todo], date)
            if weights is None:
                return nothing
            reasons = due(todo, weights, targets, auto.last_rebalanced(), date, sessions)
            chosen = [a for a, r in reasons.items() if r in ("calendar", "band")]
            run = self.execute({"account_ids": chosen, "execution_date": date}) if chosen else None
            auto.record(date, reasons, None if run is None else run["id"], set(chosen), now(precise=True))
        return {"as_of": date, "due": {a: r for a, r in reasons.items() if a in chosen}, "rebalancing": run}

    def _drift(self, ids: list[str], allocations: list[str],
               date: str) -> tuple[pd.DataFrame | None, pd.DataFrame, pd.DatetimeIndex]:
        """The accounts' weights (value over NAV, cash the rest) at the close of ``date`` and the targets of
        their ``allocations``, both ``account x instrument``, and the trading days up to ``date``; None when
        ``date`` has no close."""
        assert self._accounts is not None
        try:
            cube = self._accounts.holdings(ids, end=date)
        except NotFoundError:  # nothing held yet: every weight 0
            cube = None
        if cube is not None:
            times = pd.DatetimeIndex(cube.indexes[TIME])
            if len(times) == 0 or str(times[-1].date()) != date:
                return None, pd.DataFrame(), times
            last = cube.isel({TIME: -1})
            weights = (last["value"] / last["nav"]).transpose(PORTFOLIO, INSTRUMENT).to_pandas()
        else:
            weights, times = pd.DataFrame(index=ids), pd.DatetimeIndex([date])
        table = self._book.targets(sorted(set(allocations)))
        table["weight"] = table["weight"].astype(float)
        by_allocation = table.pivot_table(index="allocation_id", columns="instrument_id", values="weight",
                                          fill_value=0.0)
        targets = by_allocation.reindex(allocations).set_axis(ids)
        columns = sorted(set(weights.columns) | set(targets.columns))
        return (weights.reindex(index=ids, columns=columns).fillna(0.0),
                targets.reindex(columns=columns).fillna(0.0), times)

    def what_if(self, account: str, strategies: Mapping[str, Mapping] | Sequence[Mapping], start: object = None,
                end: object = None, *, cost_bps: float | None = None, min_cost: float | None = None,
                exact: bool = False) -> WhatIf:
        """The same strategies simulated over history for one account (:func:`toolkit.backtest.simulate`):
        its configuration's target weights (its holdings' value weights when it has none), its NAV at the
        last close as the capital, over ``start`` .. ``end``, at the workspace's fees (``orders.fees``, or
        ``cost_bps`` and ``min_cost``). ``strategies``: ``{"quarterly": {"frequency": "quarterly"},
        "5% band": {"band": 0.05}}`` (the fields of :meth:`attach` but the account; a list is named by
        position); the cooldown is the engine's (``Policy.cooldown``, trading days). With ``exact=True`` every
        rebalance is the trading engine's own order math (:func:`engine_order_math` of ``orders.fees``: integer
        cents and 1e-10 units, sells first, fees, the minimum order; a few cents stay in cash), as the
        automated rebalancing would place it."""
        if self._accounts is None or self._history is None:
            raise NotFoundError("This Rebalancings was built without its accounts and history; open a Workspace.")
        items = dict(strategies) if isinstance(strategies, Mapping) else {str(n): s for n, s in enumerate(strategies)}
        problems = Problems()
        policies: dict[str, Policy] = {}
        for name, spec in items.items():
            if not isinstance(spec, Mapping):
                problems.add(f"strategies[{name}]", "give the strategy's fields as an object")
                continue
            unknown = sorted(set(spec) - set(AUTOMATION_FIELDS[1:]))
            if unknown:
                problems.add(f"strategies[{name}]", f"unknown field(s) {', '.join(unknown)}")
            band = spec.get("band")
            policies[name] = Policy(frequency=spec.get("frequency"), band=None if band is None else float(band),
                                    band_kind=spec.get("band_kind", "relative"),
                                    band_scope=spec.get("band_scope", "line"), cooldown=spec.get("cooldown_days", 0))
        if not items:
            problems.add("strategies", "give at least one strategy")
        problems.raise_if_any("what-if")
        self._accounts.get(account)
        cube = self._accounts.holdings([account]).isel({PORTFOLIO: 0}, drop=True).isel({TIME: -1})
        capital = float(cube["nav"])
        config = ConfigurationRepository(self._ctx.db).for_account(account)
        if config is not None:
            table = self._book.targets([config.allocation_id])
            weights = pd.Series(table["weight"].astype(float).values, index=table["instrument_id"].values)
        else:
            value = cube["value"].to_series()
            weights = value[value > 0] / value[value > 0].sum()
        weights = weights[weights > 0]
        prices = self._history.prices(list(weights.index), start=start, end=end)["close"]  # type: ignore[arg-type]
        prices = prices.ffill(TIME).dropna(TIME, how="any")
        target = xr.DataArray(weights.values / weights.sum(), dims=INSTRUMENT,
                              coords={INSTRUMENT: list(weights.index)})
        fees = self._orders.fees
        result = simulate(prices, target, policies, capital=capital,
                          cost_bps=float(fees.bps) if cost_bps is None else cost_bps,
                          min_cost=float(fees.minimum) if min_cost is None else min_cost,
                          order_math=engine_order_math(fees) if exact else None)
        return WhatIf(account, capital, result)

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


def due(strategies: list[dict], weights: pd.DataFrame, targets: pd.DataFrame, last: Mapping[str, str],
        date: str, sessions: pd.DatetimeIndex) -> dict[str, str]:
    """Why each account of ``strategies`` is (not) due on ``date``: ``calendar`` (its period, a month,
    quarter or year, has had no automated rebalancing), ``band`` (its ``weights`` are out of its band
    around ``targets``, both ``account x instrument``), ``cooldown`` (it would be, but its last automated
    rebalancing is fewer than ``cooldown_days`` trading days, days of ``sessions``, before ``date``) or
    ``not due``. Vectorised over accounts."""
    ids = [s["account_id"] for s in strategies]
    day = pd.Timestamp(date)
    previous = pd.DatetimeIndex([pd.Timestamp(last[a]) if a in last else pd.NaT for a in ids])
    per = np.array([PER_YEAR.get(s["frequency"] or "", 0) for s in strategies])
    key_day = day.year * per + (day.month - 1) * per // 12
    key_last = np.asarray(previous.year, dtype=float) * per + (np.asarray(previous.month, dtype=float) - 1) * per // 12
    calendar = (per > 0) & (previous.isna() | (key_last != key_day))
    has_band = np.array([s["band"] is not None for s in strategies])
    w = weights.loc[ids].to_numpy(float)
    cash = 1 - w.sum(1, keepdims=True)
    w = np.concatenate([w, cash], axis=1)[:, None, :]  # (account, day, line): cash is a line with target 0
    t = np.concatenate([targets.loc[ids].to_numpy(float), np.zeros((len(ids), 1))], axis=1)
    band = np.array([s["band"] if s["band"] is not None else np.inf for s in strategies])
    kind = np.array([0 if s["band_kind"] == "relative" else 1 for s in strategies])
    scope = np.array([0 if s["band_scope"] == "line" else 1 for s in strategies])
    drifted = has_band & _band_breach(w, t, band, kind, scope)[:, 0]
    wanted = calendar | drifted
    elapsed = np.searchsorted(sessions, day) - np.searchsorted(sessions, previous.fillna(day))
    cooling = wanted & previous.notna() & (elapsed < np.array([s["cooldown_days"] for s in strategies]))
    reason = np.where(cooling, "cooldown", np.where(calendar, "calendar", np.where(drifted, "band", "not due")))
    return dict(zip(ids, reason.tolist()))


def engine_order_math(fees: FeeSchedule) -> OrderMath:
    """The trading engine's rebalance (:func:`toolkit.trading.engine.rebalance`) as
    :func:`toolkit.backtest.simulate`'s ``order_math``, at ``fees`` (bps, minimum fee, minimum order): a
    picklable function of plain arrays."""
    cent = Decimal("0.01")
    return partial(_engine_orders, fees.rate, int(fees.minimum / cent), int(fees.min_order / cent))


def _engine_orders(rate: int, fee_min: int, min_order: int, units: np.ndarray, cash: np.ndarray, price: np.ndarray,
                   target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One rebalance of every run (``units``, ``price``, ``target`` ``(run, instrument)``, ``cash`` ``(run,)``)
    by the trading engine, in its integers: units to 1e-10, cash to the cent, the targets to 1e-8 (rounded
    down, the largest weight takes the rest so they sum exactly to 1)."""
    qty = np.rint(np.asarray(units, dtype=float) * QTY_SCALE).astype(np.int64)
    cents = np.rint(np.asarray(cash, dtype=float) * 100).astype(np.int64)
    weights = np.floor(np.asarray(target, dtype=float) * WEIGHT_SCALE).astype(np.int64)
    weights[np.arange(len(weights)), np.argmax(target, axis=1)] += WEIGHT_SCALE - weights.sum(1)
    out = engine_rebalance(qty, cents, price, weights, min_order_cents=min_order, fee_rate=rate,
                           fee_min_cents=fee_min)
    held = qty - out["sell_qty"] + out["buy_qty"]
    return held / QTY_SCALE, out["cash_after_cents"] / 100


@dataclass(frozen=True)
class WhatIf:
    """:meth:`Rebalancings.what_if`'s answer: the simulation (``result``, :func:`toolkit.backtest.simulate`'s
    dataset over ``strategy``) and :meth:`to_pandas`, one row per strategy."""

    account_id: str
    capital: float
    result: xr.Dataset

    def to_pandas(self) -> pd.DataFrame:
        """Per strategy: the final NAV, the total return, the costs, the number of rebalances (the first
        investment aside) and the turnover."""
        r = self.result
        final = r["nav"].isel({TIME: -1})
        return pd.DataFrame({"final_nav": final.values, "total_return": (final / self.capital - 1).values,
                             "costs": r["costs"].sum(TIME).values,
                             "rebalances": (r["rebalanced"].sum(TIME) - 1).values,
                             "turnover": (r["turnover"].sum(TIME) - r["turnover"].isel({TIME: 0})).values},
                            index=pd.Index(r["strategy"].values, name="strategy"))
