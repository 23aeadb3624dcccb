"""Child orders stored packed: one BLOB per portfolio order (``portfolio_orders.legs``).

Why: a rebalancing of 100,000 accounts places about 1.8 million child orders. As one row each
(UUID key, decimal strings, foreign keys, an index) plus a fill row each, SQLite alone needs about
25 s to write them and read the book back; packed, 3.5 s (``benchmarks/rebalance_storage.py``).

Layout: the order's child orders in position order, each a little-endian record of :data:`LEG`
(37 bytes): ``instrument`` (its key in ``instrument_keys``), ``sell`` (1 for SELL, 0 for BUY),
``cents`` (the amount, > 0), ``qty`` (the quantity in units of 1e-10 share, >= 0), ``price`` (per
share, float64, as filled) and ``fee`` (cents). The integers are exact: the same cents and 1e-10
share units the decimal strings of the API carry (``"12.34"`` is 1,234 cents). A fill is the child
order of a FILLED or SETTLED order, on the order's ``execution_date`` (fills are simulated at the
child's price, one for one); a child order's id is derived from its order's (:func:`child_id`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import numpy as np
import pandas as pd
import sqlite_utils
from numpy.typing import ArrayLike

from toolkit.trading.orders import decimal_texts

LEG = np.dtype([("instrument", "<i4"), ("sell", "u1"), ("cents", "<i8"), ("qty", "<i8"), ("price", "<f8"),
                ("fee", "<i8")])
#: the states whose child orders are fills
FILLED_STATES = ("FILLED", "SETTLED")


def records(keys: ArrayLike, sell: ArrayLike, cents: ArrayLike, qty: ArrayLike, price: ArrayLike,
            fee: ArrayLike) -> np.ndarray:
    """Leg records from equal-length columns (``keys`` from :meth:`InstrumentKeys.keys`)."""
    out = np.zeros(len(np.atleast_1d(keys)), LEG)
    for name, column in zip(LEG.names or (), (keys, sell, cents, qty, price, fee)):
        out[name] = column
    return out


def split(legs: np.ndarray, counts: Sequence[int] | np.ndarray) -> list[memoryview]:
    """The BLOBs of consecutive orders holding ``counts[i]`` legs each: views into ``legs``
    (no copy; sqlite3 binds any bytes-like object as a BLOB)."""
    raw = np.ascontiguousarray(legs).view(np.uint8).data
    cuts = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]) * LEG.itemsize
    return [raw[a:b] for a, b in zip(cuts[:-1].tolist(), cuts[1:].tolist())]


def decode(blobs: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """The legs of many orders at once, and how many each order holds."""
    counts = np.fromiter((len(b) for b in blobs), np.int64, len(blobs)) // LEG.itemsize
    return np.frombuffer(b"".join(blobs), LEG), counts


def signed_units(legs: np.ndarray) -> np.ndarray:
    """Quantity units as a fill moves the position: negative for a SELL."""
    qty = legs["qty"].astype(np.int64)
    return np.where(legs["sell"] == 1, -qty, qty)


def shown(db: sqlite_utils.Database, table: np.ndarray) -> pd.DataFrame:
    """Legs as the API shows child orders: ``instrument_id``, ``side``, and ``amount``, ``quantity``
    and ``fee`` as decimal strings (2, 10 and 2 decimals), ``price`` per share."""
    return pd.DataFrame({"instrument_id": InstrumentKeys(db).ids(table["instrument"]),
                         "side": np.where(table["sell"] == 1, "SELL", "BUY").astype(object),
                         "amount": decimal_texts(table["cents"], 2), "quantity": decimal_texts(table["qty"], 10),
                         "price": table["price"].astype(float), "fee": decimal_texts(table["fee"], 2)})


def cell_sums(cells: np.ndarray, units: np.ndarray, n_cells: int) -> tuple[np.ndarray, np.ndarray]:
    """The exact int64 sums of ``units`` per cell (``0 <= cells < n_cells``), non-zero ones only,
    in cell order: into every cell when most are used, else over the cells used (a sort)."""
    if n_cells <= 4 * len(cells):
        sums = np.zeros(n_cells, np.int64)
        np.add.at(sums, cells, units)
        used = np.flatnonzero(sums)
        return used, sums[used]
    used, where = np.unique(cells, return_inverse=True)
    sums = np.zeros(len(used), np.int64)
    np.add.at(sums, where, units)
    return used[sums != 0], sums[sums != 0]


def child_id(order_id: str, position: int) -> str:
    """A child order's id: the UUID (version 5) of its position in its order, stable and unique."""
    return str(uuid.uuid5(uuid.UUID(order_id), str(position)))


class InstrumentKeys:
    """Small integer keys of the instruments that child orders name (the ``instrument_keys``
    table): a key is given on an instrument's first trade and never changes."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def keys(self, instrument_ids: Sequence[str]) -> np.ndarray:
        """The keys of ``instrument_ids`` (in a write transaction: new ones are given keys)."""
        self.db.conn.executemany("INSERT OR IGNORE INTO instrument_keys (instrument_id) VALUES (?)",
                                 [(i,) for i in dict.fromkeys(instrument_ids)])
        known = dict(self.db.conn.execute("SELECT instrument_id, key FROM instrument_keys"))
        return np.array([known[i] for i in instrument_ids], np.int32)

    def ids(self, keys: np.ndarray) -> np.ndarray:
        """The instrument ids of ``keys`` (an object array of the same shape)."""
        known = dict(self.db.conn.execute("SELECT key, instrument_id FROM instrument_keys"))
        unique, where = np.unique(keys, return_inverse=True)
        return np.array([known[int(k)] for k in unique], dtype=object)[where].reshape(np.shape(keys))
