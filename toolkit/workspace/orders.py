from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd

from toolkit.contracts.base import payload_of
from toolkit.contracts.brokerage import PortfolioOrderRequest, PortfolioOrderResponse, parse
from toolkit.errors import ConflictError, NotFoundError, Problem, Problems, ValidationError
from toolkit.store.accounts import AccountRepository, ConfigurationRepository
from toolkit.store.allocations import AllocationRepository
from toolkit.store.events import EventRepository
from toolkit.store.orders import OrderRepository
from toolkit.store.repositories import InstrumentRepository, now
from toolkit.store.settings import SettingsRepository
from toolkit.trading import engine
from toolkit.trading.accounts import CENT, Account
from toolkit.trading.orders import (
    MAX_SELL_SHARE,
    TRANSITIONS,
    FeeSchedule,
    OrderRequest,
    cents_text,
    child_orders,
    quantity_text,
)
from toolkit.validation import one, read_decimal, read_flag, read_id
from toolkit.workspace.accounts import Accounts
from toolkit.workspace.context import Context

#: the columns of an order a :class:`PortfolioOrder` is built from
#: the fee schedule's key in the workspace's settings
FEES_KEY = "orders.fees"
_FIELDS = ("id", "user_id", "account_id", "side", "cash_amount", "currency", "state", "idempotency_key",
           "execution_date", "created_at")


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
    user_id: str | None = None

    @property
    def portfolio_order_id(self) -> str | None:
        """The seed's name of :attr:`id` (brokerage document, line 94)."""
        return self.id

    def to_dict(self) -> dict:
        """The seed's response shape (:class:`~toolkit.contracts.brokerage.PortfolioOrderResponse`):
        ``portfolio_order_id`` and the request's keys, the state, the child orders and the state history."""
        return PortfolioOrderResponse(
            portfolio_order_id=self.id, user_id=self.user_id, account_id=self.account_id, cash_amount=self.cash_amount,
            currency=self.currency, side=self.side, state=self.state, idempotency_key=self.idempotency_key,
            execution_date=self.execution_date, created_at=self.created_at,
            child_orders=self.children.to_dict("records"), state_history=self.transitions.to_dict("records")).to_dict()


class Orders:
    """Portfolio orders: BUY by target weights, SELL by current weights (at most 90% of the NAV),
    split into child orders to the cent, filled at the workspace's closes, fees per
    :class:`~toolkit.trading.orders.FeeSchedule` (``orders.fees``), no overdraft, idempotent."""

    def __init__(self, ctx: Context, *, accounts: Accounts) -> None:
        self._ctx = ctx
        self._accounts = accounts
        self._repo = OrderRepository(ctx.db)
        self._events = EventRepository(ctx.db)
        self._settings = SettingsRepository(ctx.db)

    @property
    def fees(self) -> FeeSchedule:
        """The workspace's fee schedule (:class:`~toolkit.trading.orders.FeeSchedule`: bps, minimum per child
        order, smallest child order), kept in the workspace file (``settings``), so a reopened workspace
        trades at the fees it was given; none given is no fees. Setting it checks each field (``fees.bps``,
        ``fees.minimum``, ``fees.min_order``: decimals, not negative, money in cents) and stores it."""
        stored = self._settings.get(FEES_KEY)
        if stored is None:
            return FeeSchedule()
        return FeeSchedule(**{name: Decimal(value) for name, value in stored.items()})

    @fees.setter
    def fees(self, schedule: FeeSchedule) -> None:
        problems = Problems()
        if not isinstance(schedule, FeeSchedule):
            raise ValidationError([Problem("fees", f"expected a FeeSchedule, got {type(schedule).__name__}")],
                                  "fee schedule")
        read: dict[str, str | None] = {}
        for name, places in (("bps", 4), ("minimum", 2), ("min_order", 2)):
            value = getattr(schedule, name)
            number = read_decimal(str(value) if isinstance(value, Decimal | int) else value, f"fees.{name}",
                                  problems, "5", places=places)
            if number is not None and number < 0:
                problems.add(f"fees.{name}", f"{value} must not be negative")
            read[name] = format(number, "f") if number is not None else None
        problems.raise_if_any("fee schedule")
        self._settings.put(FEES_KEY, read)

    def place(self, request: object, payload: object = None, execute: bool = True) -> PortfolioOrder:
        """``POST /portfolios/orders`` (brokerage document, line 82): place the seed's request
        (``place({"account_id": ..., "cash_amount": "100.00", "currency": "EUR", "side": "BUY"})``, a
        dict, JSON text or :class:`~toolkit.contracts.brokerage.PortfolioOrderRequest`), or
        ``place(account_id, request)`` with the account named outside the body (the body's
        ``account_id``, when given, must agree). The order is NEW and, unless ``execute`` is False,
        processed and filled at once (``execute`` is a bool: ``"no"`` is refused, not taken as true).
        It fills at the closes of its ``execution_date``, by default the market clock
        (:attr:`Workspace.clock`); an instrument without a close that day is refused
        (``execution_date``). An execution date before the account's last booking (a fill, a fee or a
        cash movement's value date) is refused (``execution_date``): no back-dating. A SELL of the
        holdings' whole worth at those closes sells every share held (no dust of rounded quantities)."""
        return self._place(request, payload, one(read_flag, execute, "execute", "portfolio order"), smart=False)

    def smart(self, request: object, payload: object = None) -> PortfolioOrder:
        """A smart order (the document's "coming soon", line 100, which gives no request of its own:
        the same request as :meth:`place`): a BUY (inflow) spent only on buys, or a SELL (outflow)
        raised only by sells, placed so that the holdings end as close as possible to the target
        weights (water-filling, :func:`toolkit.trading.engine.water_fill`). Same checks and fees as
        :meth:`place`."""
        return self._place(request, payload, True, smart=True)

    def preview(self, request: object, payload: object = None, smart: bool = False) -> PortfolioOrder:
        """The order :meth:`place` (or :meth:`smart`) would place for the same arguments, with its
        child orders, prices and fees, in state ``PREVIEW`` and without an id; every check runs, and
        nothing is written."""
        smart = one(read_flag, smart, "smart", "portfolio order")
        account, request = self._read(request, payload)
        account_id = account.id
        date, children, placed = self._plan(account, request, smart)
        quoted = InstrumentRepository(self._ctx.db).by_id([c[0] for c in children]).set_index("instrument_id")
        frame = pd.DataFrame(
            [{"id": None, "instrument_id": iid, "symbol": quoted.at[iid, "symbol"], "isin": quoted.at[iid, "isin"],
              "side": side, "amount": cents_text(c), "quantity": quantity_text(q), "price": float(p),
              "fee": cents_text(f)} for iid, side, c, q, p, f in children],
            columns=["id", "instrument_id", "symbol", "isin", "side", "amount", "quantity", "price", "fee"])
        return PortfolioOrder(id=None, account_id=account_id, side=request.side, cash_amount=format(placed, "f"),
                              currency=account.currency, state="PREVIEW", idempotency_key=request.idempotency_key,
                              execution_date=date, created_at=now(precise=True), children=frame,
                              transitions=pd.DataFrame(columns=["from_state", "to_state", "at"]),
                              user_id=request.user_id)

    def _read(self, first: object, payload: object) -> tuple[Account, OrderRequest]:
        """The account and the validated request of ``place(request)`` (the account is the body's
        ``account_id``) or ``place(account_id, request)``. An unknown account named by the argument
        is a ``NotFoundError``; one named by the body is refused at ``account_id``."""
        if payload is not None:
            account = self._accounts.get(first)
            return account, OrderRequest.of(parse(PortfolioOrderRequest, payload, "portfolio order",
                                                  currency=account.currency, account_id=account.id))
        body = first.to_dict() if isinstance(first, PortfolioOrderRequest) else payload_of(first, "portfolio order")
        named = body.get("account_id") if isinstance(body, dict) else None
        account_id = read_id(named, "account_id", Problems()) if named is not None else None
        try:
            found = self._accounts.get(account_id) if account_id else None
        except NotFoundError:
            found = None
        if found is None:  # every problem of the body, and an account it names that does not exist
            request = parse(PortfolioOrderRequest, body, "portfolio order")
            raise ValidationError([Problem("account_id", f"no account with id {request.account_id}")],
                                  "portfolio order")
        return found, OrderRequest.of(parse(PortfolioOrderRequest, body, "portfolio order",
                                            currency=found.currency))

    def _place(self, first: object, payload: object, execute: bool, smart: bool) -> PortfolioOrder:
        stamp = now(precise=True)
        with self._ctx.transaction():
            account, request = self._read(first, payload)
            if request.idempotency_key:
                existing = self._repo.by_key(account.id, request.idempotency_key)
                if existing:
                    return self._replay(existing, request)
            date, children, placed = self._plan(account, request, smart)
            order_id = self._record(account, request, placed, date, children, stamp)
            if execute:
                self._fill(order_id, stamp)
            return self.get(order_id)

    def _plan(self, account: Account, request, smart: bool) -> tuple[str, list[tuple], Decimal]:
        """Checks, then the execution date, the child orders ``(instrument_id, side, cents, qty units,
        price, fee cents)`` and the amount placed, for an order of ``account``."""
        if account.status != "ACTIVE" or account.type != "PORTFOLIO":
            raise ConflictError(f"Account {account.id} is a {account.status} {account.type} account; "
                                "orders go to ACTIVE PORTFOLIO accounts only.")
        day = request.execution_date or self._ctx.clock  # the market clock, not the wall clock
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
        if request.side == "SELL" and not smart and request.amount == Decimal(
                int(engine.values_cents(held, prices).sum())) * CENT:  # the holdings' whole worth: every share
            parts["qty"], parts["cents"] = held.copy(), engine.values_cents(held, prices)  # (no rounding dust)
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
        last = AccountRepository(self._ctx.db).last_bookings([account.id]).get(account.id)
        if last is not None and date < last:
            raise ValidationError([Problem("execution_date", f"{date} is before account {account.id}'s last "
                                           f"booking on {last}; orders are booked in date order: give {last} "
                                           "or later")], "portfolio order")

    def _same_currency(self, account: Account, ids: list[str]) -> None:
        """Orders trade instruments quoted in the account's currency (no FX trading yet)."""
        quoted = InstrumentRepository(self._ctx.db).by_id(ids)
        other = quoted[quoted["currency"] != account.currency]
        if len(other):
            raise ConflictError(f"Account {account.id} is in {account.currency}, but "
                                f"{', '.join(other['symbol'])} trade in {', '.join(sorted(set(other['currency'])))}; "
                                "orders need instruments quoted in the account's currency.")

    def _closes(self, ids: list[str], date: str) -> tuple[str, np.ndarray]:
        _, closes = self._repo.closes(ids, date)
        missing = [i for i in ids if i not in closes]
        if missing:
            raise ValidationError([Problem("execution_date", f"no close on {date} for "
                                           f"{len(missing)} of the order's instruments")], "portfolio order")
        return date, np.array([closes[i] for i in ids])

    def _record(self, account: Account, request: OrderRequest, amount: Decimal, date: str,
                children: list[tuple], stamp: str) -> str:
        """Write a NEW order with its child orders ``(instrument_id, side, cents, qty units, price, fee cents)``."""
        order_id = str(uuid.uuid4())
        self._repo.insert(
            {"id": order_id, "user_id": request.user_id, "account_id": account.id, "side": request.side,
             "cash_amount": format(amount, "f"), "currency": account.currency, "state": "NEW",
             "idempotency_key": request.idempotency_key, "execution_date": date, "created_at": stamp},
            [(iid, child_side, int(c), int(q), float(p), int(f)) for iid, child_side, c, q, p, f in children])
        self._move(order_id, None, "NEW", stamp)
        return order_id

    def execute(self, order_id: str) -> PortfolioOrder:
        """Process and fill a NEW order at the closes of its execution date. An order whose execution
        date is before the account's last booking (booked after it was placed) is a ``ConflictError``:
        it would be back-dated; cancel it and place a new one."""
        with self._ctx.transaction():
            order = self.get(order_id)
            last = AccountRepository(self._ctx.db).last_bookings([order.account_id]).get(order.account_id)
            if order.state == "NEW" and last is not None and order.execution_date < last:
                raise ConflictError(f"Order {order_id} is dated {order.execution_date}, before account "
                                    f"{order.account_id}'s last booking on {last}; filling it would back-date it. "
                                    "Cancel it and place a new order.")
            self._fill(order_id, now(precise=True))
            return self.get(order_id)

    def settle(self, order_id: str) -> PortfolioOrder:
        with self._ctx.transaction():
            self._move(order_id, self._state(order_id), "SETTLED", now(precise=True))
            return self.get(order_id)

    def cancel(self, order_id: str) -> PortfolioOrder:
        with self._ctx.transaction():
            self._move(order_id, self._state(order_id), "CANCELLED", now(precise=True))
            return self.get(order_id)

    def get(self, order_id: str) -> PortfolioOrder:
        row = self._repo.order(order_id) if isinstance(order_id, str) else None
        if row is None:
            raise NotFoundError(f"No portfolio order with id {order_id!r}.")
        return PortfolioOrder(**{k: row[k] for k in _FIELDS},
                              children=self._repo.children(order_id), transitions=self._repo.transitions(order_id))

    def positions(self, account_id: str) -> dict[str, Decimal]:
        """Quantities held per instrument id, exact (from the fills)."""
        self._accounts.get(account_id)
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
            config = ConfigurationRepository(self._ctx.db).for_account(account.id)
            if config is None:
                raise ConflictError(f"Account {account.id} has no configuration; link it to an allocation first.")
            items = AllocationRepository(self._ctx.db).get([config.allocation_id])[0].items
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
        accounts = AccountRepository(self._ctx.db)
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
        same = (order.side, Decimal(order.cash_amount), order.currency, order.user_id) == (
            request.side, request.amount, request.currency, request.user_id)
        if not same or request.execution_date not in (None, order.execution_date):
            raise ConflictError(f"Idempotency key {request.idempotency_key!r} was used for a different order "
                                f"({order.side} {order.cash_amount} {order.currency} on {order.execution_date}).")
        return order
