"""Rebalancing executions: the seed's request, and a whole book as arrays for the order engine.

Request (brokerage document, line 190; read by
:class:`toolkit.contracts.brokerage.RebalancingExecutionRequest`)::

    {"accounts": ["<uuid>", ...],             # or "allocation_ids": [...]: every account configured with them
     "drift": {"threshold": "0.02", "type": "ABSOLUTE"},   # optional; RELATIVE is a share of each target
     "execution_date": "2022-12-28",                       # optional: the latest date with prices
     "preview": true}                                      # optional: compute the trades, place nothing

Each account gets one execution: EXECUTED (one REBALANCE order with its trades), PREVIEW, or
CANCELLED with the seed's reason: ACCOUNT_NOT_FOUND, INVALID_ACCOUNT_TYPE, INVALID_ACCOUNT_STATUS,
CONFIGURATION_IS_MISSING, ACCOUNT_IS_EMPTY or PORTFOLIO_IS_BALANCED (every weight within the drift).
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, cast

import numpy as np
import pandas as pd

from toolkit.contracts.brokerage import (  # noqa: F401
    DRIFT_TYPES,
    MAX_ACCOUNTS,
    REASONS,
    RebalancingExecutionRequest,
    RebalancingRunResponse,
)
from toolkit.trading import engine
from toolkit.trading.orders import CENT, FeeSchedule, decimal_texts

#: the engine's drift modes: a configuration's drift_type in lower case (engine.rebalance refuses any other)
DriftMode = Literal["absolute", "relative"]


@dataclass(frozen=True)
class RebalancingRequest:
    """A validated rebalancing request as the run uses it (no drift: 0, ABSOLUTE)."""

    account_ids: tuple[str, ...] | None
    allocation_ids: tuple[str, ...] | None
    drift: Decimal
    drift_type: str
    execution_date: str | None
    preview: bool

    @classmethod
    def of(cls, request: RebalancingExecutionRequest) -> RebalancingRequest:
        drift = request.drift
        day = request.execution_date
        return cls(request.account_list, request.allocation_ids, Decimal(0) if drift is None else drift.threshold,
                   "ABSOLUTE" if drift is None else drift.type, None if day is None else day.isoformat(),
                   request.preview)


def cancellations(accounts: pd.DataFrame, requested: tuple[str, ...]) -> pd.Series:
    """The seed's cancellation reason per requested account that needs no valuation (None where
    the account may trade): ACCOUNT_NOT_FOUND, INVALID_ACCOUNT_TYPE, INVALID_ACCOUNT_STATUS,
    CONFIGURATION_IS_MISSING. ACCOUNT_IS_EMPTY (a NAV <= 0) and PORTFOLIO_IS_BALANCED follow from
    the engine's valuation."""
    table = accounts.set_index("account_id")
    if len(table) != len(requested) or not np.array_equal(table.index.to_numpy(), np.asarray(requested, object)):
        table = table.reindex(list(requested))  # (the accounts come in the requested order when all are found)
    reason = np.select(
        [table["type"].isna(), table["type"] != "PORTFOLIO", table["status"] != "ACTIVE",
         table["allocation_id"].isna()],
        list(REASONS[:4]), default="")
    return pd.Series([r or None for r in reason], index=table.index, dtype=object)


def book_arrays(positions: pd.DataFrame, balances: pd.DataFrame, targets: pd.DataFrame, accounts: pd.DataFrame,
                ids: list[str]) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Instruments, then qty units (account, instrument), cash cents (account) and target weight
    units (account, instrument) for the accounts ``ids``, from their ``positions`` and cash
    ``balances`` in integer units (:meth:`toolkit.store.orders.BookRepository.positions`) and the
    targets' decimal strings (exact). Array work only: the targets form a small (allocation,
    instrument) table that each account takes its row of."""
    held = positions["instrument_id"]
    instruments = sorted(set(targets["instrument_id"]) | set(held.unique()))
    columns, rows = pd.Index(instruments), pd.Index(ids)
    models = pd.Index(targets["allocation_id"].unique())
    table = np.zeros((len(models) + 1, len(instruments)), np.int64)  # the last row: no target
    np.add.at(table, (models.get_indexer(targets["allocation_id"]), columns.get_indexer(targets["instrument_id"])),
              [int(Decimal(w).scaleb(8)) for w in targets["weight"]])
    model = accounts.set_index("account_id")["allocation_id"].reindex(ids)
    qty = np.zeros((len(ids), len(instruments)), np.int64)
    qty[_where(positions["account_id"], rows), _where(held, columns)] = positions["units"].to_numpy(np.int64)
    cents = balances.set_index("account_id")["units"].reindex(ids, fill_value=0)
    return instruments, qty, cents.to_numpy(np.int64), table[models.get_indexer(model)]


def _where(labels: pd.Series, index: pd.Index) -> np.ndarray:
    """The position in ``index`` of each label (through the categories when ``labels`` is categorical)."""
    if isinstance(labels.dtype, pd.CategoricalDtype):
        return index.get_indexer(labels.cat.categories)[labels.cat.codes.to_numpy()]
    return index.get_indexer(labels)


def values_nav(qty: np.ndarray, cash: np.ndarray, prices: np.ndarray) -> np.ndarray:
    return cash + engine.values_cents(qty, prices).sum(axis=-1)


def plan(accounts: pd.DataFrame, requested: tuple[str, ...], qty: np.ndarray, cash: np.ndarray, prices: np.ndarray,
         target: np.ndarray, *, drift: Decimal | float, drift_type: str,
         fees: FeeSchedule) -> tuple[pd.Series, np.ndarray, dict[str, np.ndarray]]:
    """The decision of a rebalancing run, for the whole book at once: each requested account's
    cancellation reason (None where it trades), the mask ``ok`` of the accounts the engine valued,
    and the engine's trades for those (:func:`toolkit.trading.engine.rebalance`; ``{}`` when none).

    The reasons, in the seed's order: ACCOUNT_NOT_FOUND, INVALID_ACCOUNT_TYPE,
    INVALID_ACCOUNT_STATUS, CONFIGURATION_IS_MISSING (:func:`cancellations`), then ACCOUNT_IS_EMPTY
    (a NAV not above 0: also an account whose cash went below 0 outside the toolkit and whose
    holdings do not cover it) and PORTFOLIO_IS_BALANCED (within the drift band, or every trade it
    would need is below the minimum order). ``qty``/``target`` are ``(account, instrument)`` units,
    ``cash`` is cents per account, ``prices`` per instrument. Pure: no I/O.
    """
    reasons = cancellations(accounts, requested)
    owing = reasons.isna().to_numpy() & (cash < 0)
    if owing.any():
        empty = np.flatnonzero(owing)[values_nav(qty[owing], cash[owing], prices) <= 0]
        reasons.iloc[empty] = "ACCOUNT_IS_EMPTY"
    ok = reasons.isna().to_numpy()
    if not ok.any():
        return reasons, ok, {}
    mode = cast(DriftMode, drift_type.lower())
    trades = engine.rebalance(qty[ok], cash[ok], prices, target[ok], drift=drift, drift_mode=mode,
                              min_order_cents=int(fees.min_order / CENT), fee_rate=fees.rate,
                              fee_min_cents=int(fees.minimum / CENT))
    idle = (trades["sell_qty"] == 0).all(axis=-1) & (trades["buy_cents"] == 0).all(axis=-1)
    reasons[ok] = np.where(trades["nav_cents"] <= 0, "ACCOUNT_IS_EMPTY",
                           np.where(trades["balanced"] | idle, "PORTFOLIO_IS_BALANCED", ""))
    return reasons.where(reasons != "", None), ok, trades


def legs(trades: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, np.ndarray]:
    """The trades of the engine's ``rows`` (:func:`toolkit.trading.engine.rebalance` output) as one
    long table, account by account, sells first, then buys, each in instrument order.

    Columns (numpy arrays of equal length): ``owner`` (the index into ``rows``), ``position`` (0, 1, …
    within the account), ``instrument`` (column index), ``sell`` (bool), ``cents``, ``qty`` (units)
    and ``fee`` (cents). Built with array operations only, whatever the size of the book.
    """
    width = trades["sell_qty"].shape[-1]
    # each account's sells, then its buys, side by side: row-major order is the order wanted
    owner, cell = np.nonzero(np.concatenate([trades["sell_qty"][rows] > 0, trades["buy_cents"][rows] > 0], axis=1))
    sell, column = cell < width, cell % width
    at = rows[owner]
    cents = np.where(sell, trades["sell_cents"][at, column], trades["buy_cents"][at, column])
    qty = np.where(sell, trades["sell_qty"][at, column], trades["buy_qty"][at, column])
    position = np.arange(len(owner)) - np.searchsorted(owner, owner)
    return {"owner": owner, "position": position, "instrument": column, "sell": sell, "cents": cents,
            "qty": qty, "fee": trades["fee_cents"][at, column]}


class RebalancingRun(dict):
    """A run as answered: a mapping of ``id``, ``preview``, ``created_at`` and ``executions`` (one per
    requested account, in the request's order: :class:`Executions` or a list of the same dicts), which
    equals the plain dict of the same items. ``to_dict()`` is its JSON shape
    (:class:`~toolkit.contracts.brokerage.RebalancingRunResponse`; the document shows no response, line
    196), ``to_pandas()`` one row per execution with its number of trades."""

    def to_dict(self) -> dict:
        return RebalancingRunResponse(id=self["id"], preview=bool(self["preview"]), created_at=self["created_at"],
                                      executions=list(self["executions"])).to_dict()

    def to_pandas(self) -> pd.DataFrame:
        return pd.DataFrame([{**{k: v for k, v in e.items() if k != "trades"}, "trades": len(e["trades"])}
                             for e in self["executions"]],
                            columns=["account_id", "status", "cancellation_reason", "portfolio_order_id", "trades"])


class Executions(Sequence):
    """A run's answer: one execution per requested account, in the request's order, each the
    seed's ``{account_id, status, cancellation_reason, portfolio_order_id, trades}`` built when it
    is read (a run of 100,000 accounts holds 1.8 million trades; building them all as dicts would
    take longer than the run). Reads like a list, and equals a list of the same dicts.

    ``live`` holds the index (into ``account_ids``) of each account that trades, and ``table``
    their trades as :func:`legs` gives them (``owner`` indexes ``live``); ``order_ids`` holds
    the order of each of them (the same order as ``live``; empty when nothing was placed)."""

    def __init__(self, account_ids: list[str], reasons: list[str | None], status: str, live: np.ndarray,
                 table: dict[str, np.ndarray] | None, instruments: list[str], prices: np.ndarray,
                 order_ids: Sequence[str]) -> None:
        self._ids, self._reasons, self._status, self._orders = account_ids, reasons, status, order_ids
        self._live = np.asarray(live, np.int64)
        self._row = dict(zip(np.asarray(live).tolist(), range(len(live))))
        self._table = table
        self._starts = np.searchsorted(table["owner"], np.arange(len(live) + 1)) if table is not None else None
        self._instruments, self._prices = np.asarray(instruments, dtype=object), np.asarray(prices, np.float64)

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def placed(self) -> np.ndarray:
        """The index of each execution that placed an order, in the order the orders were placed."""
        return self._live if len(self._orders) else self._live[:0]

    def _order(self, n: int) -> str | None:
        row = self._row.get(n)
        return None if row is None or not len(self._orders) else self._orders[row]

    def __getitem__(self, n):
        if isinstance(n, slice):
            return [self[i] for i in range(*n.indices(len(self)))]
        n = operator.index(n) + (len(self) if operator.index(n) < 0 else 0)
        if not 0 <= n < len(self):
            raise IndexError("execution index out of range")
        reason = self._reasons[n]
        return {"account_id": self._ids[n], "status": "CANCELLED" if reason else self._status,
                "cancellation_reason": reason, "portfolio_order_id": self._order(n),
                "trades": self.trades(n)}

    def trades(self, n: int) -> list[dict]:
        """The trades of the ``n``-th account: sells first, then buys, amounts and quantities as
        decimal strings (2 and 10 decimals)."""
        row = self._row.get(n)
        if row is None or self._table is None or self._starts is None:
            return []
        part = {k: v[self._starts[row]:self._starts[row + 1]] for k, v in self._table.items()}
        column = part["instrument"]
        return [{"instrument_id": i, "side": "SELL" if sell else "BUY", "amount": a, "quantity": q, "price": p}
                for i, sell, a, q, p in zip(self._instruments[column].tolist(), part["sell"].tolist(),
                                            decimal_texts(part["cents"], 2), decimal_texts(part["qty"], 10),
                                            self._prices[column].tolist())]

    def rows(self, ids: Sequence[str], placed: bool = True) -> zip:
        """``(id, account_id, status, cancellation_reason, portfolio_order_id, trades)`` per execution
        for the store, ``trades`` only where the execution is not EXECUTED (an EXECUTED one's are its
        order's child orders), so a large run is written without building its trades. Without
        ``placed``, only the executions without an order (the store writes the others from their
        orders, :meth:`toolkit.store.rebalancings.RebalancingRepository.insert_placed`)."""
        kept = range(len(self)) if placed else np.setdiff1d(np.arange(len(self)), self.placed).tolist()
        status = ["CANCELLED" if self._reasons[n] else self._status for n in kept]
        return zip([ids[n] for n in kept], [self._ids[n] for n in kept], status, [self._reasons[n] for n in kept],
                   [self._order(n) for n in kept],
                   [None if s == "EXECUTED" else self.trades(n) for n, s in zip(kept, status)])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, (str, bytes)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]  # unhashable, as the list it equals

    def __repr__(self) -> str:
        if len(self) <= 10:
            return repr(list(self))
        executed = sum(r is None for r in self._reasons)
        return (f"<{len(self):,} executions: {executed:,} {self._status}, {len(self) - executed:,} CANCELLED; "
                f"first {self[0]!r}>")
