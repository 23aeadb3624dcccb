"""Rebalancing executions: the seed's request, and a whole book as arrays for the order engine.

Request::

    {"account_ids": ["<uuid>", ...]}          # or {"allocation_ids": [...]}: every account configured with them
     "drift": {"threshold": "0.02", "type": "ABSOLUTE"},   # optional; RELATIVE is a share of each target
     "execution_date": "2022-12-28",                       # optional: the latest date with prices
     "preview": true}                                      # optional: compute the trades, place nothing

Each account gets one execution: EXECUTED (one REBALANCE order with its trades), PREVIEW, or
CANCELLED with the seed's reason: ACCOUNT_NOT_FOUND, INVALID_ACCOUNT_TYPE, INVALID_ACCOUNT_STATUS,
CONFIGURATION_IS_MISSING, ACCOUNT_IS_EMPTY or PORTFOLIO_IS_BALANCED (every weight within the drift).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd

from toolkit.errors import Problems
from toolkit.schema import read_decimal
from toolkit.trading import engine
from toolkit.trading.accounts import CENT, check_id, is_date

DRIFT_TYPES = ("ABSOLUTE", "RELATIVE")
REASONS = ("ACCOUNT_NOT_FOUND", "INVALID_ACCOUNT_TYPE", "INVALID_ACCOUNT_STATUS", "CONFIGURATION_IS_MISSING",
           "ACCOUNT_IS_EMPTY", "PORTFOLIO_IS_BALANCED")
MAX_ACCOUNTS = 100_000


@dataclass(frozen=True)
class RebalancingRequest:
    account_ids: tuple[str, ...] | None
    allocation_ids: tuple[str, ...] | None
    drift: Decimal
    drift_type: str
    execution_date: str | None
    preview: bool


def parse_rebalancing(payload: object) -> RebalancingRequest:
    problems = Problems()
    problems.require_object(payload, ("account_ids", "allocation_ids", "drift", "execution_date", "preview"),
                            "rebalancing request")
    given = [k for k in ("account_ids", "allocation_ids") if k in payload]
    if len(given) != 1:
        problems.add("account_ids", "give either account_ids or allocation_ids (one of them)")
    lists = {k: _ids(payload.get(k), k, problems) for k in given}
    drift, kind = Decimal(0), "ABSOLUTE"
    if "drift" in payload:
        spec = payload["drift"]
        if not isinstance(spec, dict):
            problems.add("drift", "expected {threshold, type}")
        else:
            kind = spec.get("type", "ABSOLUTE")
            if kind not in DRIFT_TYPES:
                problems.add("drift.type", f"{kind!r} is not ABSOLUTE or RELATIVE")
            drift = read_decimal(spec.get("threshold"), "drift.threshold", problems, "0.02")
            if drift is not None and not 0 <= drift <= 1:
                problems.add("drift.threshold", f"{drift} is not between 0 and 1")
    preview = payload.get("preview", False)
    if not isinstance(preview, bool):
        problems.add("preview", "expected true or false")
    date = payload.get("execution_date")
    if date is not None and not is_date(date):
        problems.add("execution_date", f"{date!r} is not an ISO date (YYYY-MM-DD)")
    problems.raise_if_any("rebalancing request")
    return RebalancingRequest(lists.get("account_ids"), lists.get("allocation_ids"), drift, kind, date, preview)


def _ids(values: object, path: str, problems: Problems) -> tuple[str, ...] | None:
    if not isinstance(values, list) or not values or len(values) > MAX_ACCOUNTS:
        problems.add(path, f"expected a list of 1 to {MAX_ACCOUNTS:,} UUIDs")
        return None
    found = [check_id(v, f"{path}[{i}]", problems) for i, v in enumerate(values)]
    return tuple(dict.fromkeys(f for f in found if f))


def cancellations(accounts: pd.DataFrame, requested: tuple[str, ...], nav_cents: pd.Series) -> pd.Series:
    """The seed's cancellation reason per requested account (None where the account is eligible)."""
    table = accounts.set_index("account_id").reindex(list(requested))
    nav = nav_cents.reindex(table.index).fillna(0)
    reason = np.select(
        [table["type"].isna(), table["type"] != "PORTFOLIO", table["status"] != "ACTIVE",
         table["allocation_id"].isna(), nav <= 0],
        list(REASONS[:5]), default="")
    return pd.Series([r or None for r in reason], index=table.index, dtype=object)


def book_arrays(positions: pd.DataFrame, balances: pd.DataFrame, targets: pd.DataFrame, accounts: pd.DataFrame,
                ids: list[str]) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Instruments, then qty units (account, instrument), cash cents (account) and target weight
    units (account, instrument) for the accounts ``ids``, from their ``positions`` and cash
    ``balances`` in integer units (:meth:`toolkit.store.orders.BookRepository.positions`) and the
    targets' decimal strings (exact)."""
    weights = targets.assign(units=[int(Decimal(w).scaleb(8)) for w in targets["weight"]])
    alloc = accounts.set_index("account_id")["allocation_id"].reindex(ids)
    target = weights.merge(alloc.rename("allocation_id").reset_index(), on="allocation_id")
    instruments = sorted(set(target["instrument_id"].unique()) | set(positions["instrument_id"].unique()))
    qty = (positions.pivot(index="account_id", columns="instrument_id", values="units")
           .reindex(index=ids, columns=instruments).fillna(0))
    tgt = target.pivot_table(index="account_id", columns="instrument_id", values="units", aggfunc="sum")
    tgt = tgt.reindex(index=ids, columns=instruments).fillna(0)
    cents = balances.set_index("account_id")["units"].reindex(ids, fill_value=0)
    return instruments, qty.to_numpy(np.int64), cents.to_numpy(np.int64), tgt.to_numpy(np.int64)


def values_nav(qty: np.ndarray, cash: np.ndarray, prices: np.ndarray) -> np.ndarray:
    return cash + engine.values_cents(qty, prices).sum(axis=-1)


def legs(trades: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, np.ndarray]:
    """The trades of the engine's ``rows`` (:func:`toolkit.trading.engine.rebalance` output) as one
    long table, account by account, sells first, then buys, each in instrument order.

    Columns (numpy arrays of equal length): ``owner`` (the index into ``rows``), ``position`` (0, 1, …
    within the account), ``instrument`` (column index), ``sell`` (bool), ``cents``, ``qty`` (units)
    and ``fee`` (cents). Built with array operations only, whatever the size of the book.
    """
    sell_qty, buy_cents = trades["sell_qty"][rows], trades["buy_cents"][rows]
    sold, bought = np.nonzero(sell_qty > 0), np.nonzero(buy_cents > 0)
    owner = np.concatenate([sold[0], bought[0]])
    column = np.concatenate([sold[1], bought[1]])
    sell = np.concatenate([np.ones(len(sold[0]), bool), np.zeros(len(bought[0]), bool)])
    order = np.lexsort((column, ~sell, owner))
    owner, column, sell = owner[order], column[order], sell[order]
    at = rows[owner]
    cents = np.where(sell, trades["sell_cents"][at, column], trades["buy_cents"][at, column])
    qty = np.where(sell, trades["sell_qty"][at, column], trades["buy_qty"][at, column])
    position = np.arange(len(owner)) - np.searchsorted(owner, owner)
    return {"owner": owner, "position": position, "instrument": column, "sell": sell, "cents": cents,
            "qty": qty, "fee": trades["fee_cents"][at, column]}
