"""The risk platform's attribution in the façade (``ws.attribution``): indexes and attribution runs.

**Indexes** (the seed's ``GET /index``) are stored benchmark portfolios with constituent weights::

    {"name": "S&P 20 cap-weighted", "method": "cap", "currency": "USD",
     "description": "...", "constituents": [{"symbol": "AAPL", "shares": "15908118000"}, ...]}

A constituent names an instrument of the workspace by ``instrument_id``, ``isin`` or ``symbol``
(an ISIN or symbol names its longest series). ``method`` says how the weights move:

- ``cap``: ``shares`` per constituent; the weight at the close of day ``t`` is
  ``s_i P_i,t / sum_j s_j P_j,t`` (closes carried forward over a constituent's missing days; a
  constituent joins on its first close);
- ``equal``: ``1 / n`` over the constituents with a close so far, rebalanced every day;
- ``fixed``: ``weight`` per constituent (fractions that sum to 1 exactly), rebalanced every day
  (over the constituents with a close so far).

Every constituent must trade in the index's ``currency``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from toolkit.errors import NotFoundError, Problems
from toolkit.market.instruments import check_currency
from toolkit.schema import INSTRUMENT, TIME
from toolkit.store.indexes import IndexRepository
from toolkit.store.repositories import now

if TYPE_CHECKING:
    from toolkit.workspace import Workspace

INDEX_FIELDS = ("name", "method", "currency", "description", "constituents")
CONSTITUENT_FIELDS = ("instrument_id", "isin", "symbol", "shares", "weight")
METHODS = {"cap": "shares", "equal": None, "fixed": "weight"}
MAX_NAME = 200


@dataclass(frozen=True)
class Index:
    """One stored index: its identity, weighting ``method`` and ``constituents`` (a table with
    ``instrument_id, symbol, isin, name, sector, country, asset_class, currency, shares, weight``)."""

    id: str
    name: str
    method: str
    currency: str
    description: str | None
    constituents: pd.DataFrame
    created_at: str

    def to_dict(self) -> dict:
        """The seed's ``GET /index`` item: ``id, name, method, currency, description, constituents``."""
        keep = ["instrument_id", "symbol", "isin", "name", "sector"] + ([METHODS[self.method]] if METHODS[self.method]
                                                                        else [])
        return {"id": self.id, "name": self.name, "method": self.method, "currency": self.currency,
                "description": self.description, "created_at": self.created_at,
                "constituents": self.constituents[keep].to_dict("records")}


def _positive_decimal(value: object, path: str, problems: Problems, what: str) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        problems.add(path, f"expected {what} as a positive decimal string, e.g. '0.25' or '1500000'")
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        problems.add(path, f"{value!r} is not a number")
        return None
    if not number.is_finite() or number <= 0:
        problems.add(path, f"{what} must be positive, got {value}")
        return None
    return str(number)


class Attribution:
    """``ws.attribution``: the indexes to attribute against (see the module docstring)."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    # ------------------------------------------------------------------ indexes

    def create_index(self, payload: Mapping) -> Index:
        """Store an index (module docstring); a bad payload raises a ``ValidationError`` naming
        every field at fault, and nothing is saved."""
        problems = Problems()
        problems.require_object(payload, INDEX_FIELDS, "index")
        name = payload.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
            problems.add("name", f"give the index a name of 1 to {MAX_NAME} characters")
            name = None
        method = payload.get("method")
        if method not in METHODS:
            problems.add("method", f"{method!r} is not one of {', '.join(METHODS)}")
        currency = check_currency(payload.get("currency"), "currency", problems)
        description = payload.get("description")
        if description is not None and not isinstance(description, str):
            problems.add("description", "expected text")
        rows = self._constituents(payload.get("constituents"), method, currency, problems)
        repo = IndexRepository(self._ws.db)
        if name and repo.name_taken(name.strip()):
            problems.add("name", f"an index named {name.strip()!r} exists already; choose another name")
        problems.raise_if_any("index")
        index_id = str(uuid.uuid4())
        with self._ws.transaction():
            repo.insert(index_id, name.strip(), method, currency, description, json.dumps(payload), rows, now())
        return self.index(index_id)

    def _constituents(self, items: object, method: object, currency: str | None,
                      problems: Problems) -> list[tuple[str, str | None, str | None]]:
        if not isinstance(items, list) or not items:
            problems.add("constituents", "give at least one constituent, e.g. {'symbol': 'AAPL'}")
            return []
        table = self._ws.instruments.table().set_index("instrument_id")
        needs = METHODS.get(method) if isinstance(method, str) else None
        rows, seen = [], {}
        for n, item in enumerate(items):
            path = f"constituents[{n}]"
            if not isinstance(item, dict):
                problems.add(path, "expected an object naming an instrument")
                continue
            for key in sorted(set(item) - set(CONSTITUENT_FIELDS)):
                problems.add(f"{path}.{key}", f"unknown field; a constituent has {', '.join(CONSTITUENT_FIELDS)}")
            keys = [item[k] for k in ("instrument_id", "isin", "symbol") if item.get(k) is not None]
            if len(keys) != 1 or not isinstance(keys[0], str):
                problems.add(path, "name the instrument by exactly one of instrument_id, isin or symbol")
                continue
            try:
                (iid,) = self._ws.instruments.resolve([keys[0]])
            except NotFoundError:
                problems.add(path, f"no instrument {keys[0]!r} in this workspace")
                continue
            if iid in seen:
                problems.add(path, f"{keys[0]} is also constituents[{seen[iid]}]; name each instrument once")
                continue
            seen[iid] = n
            if currency and table.loc[iid, "currency"] != currency:
                problems.add(path, f"{keys[0]} trades in {table.loc[iid, 'currency']}, the index is in {currency}")
            values = {}
            for field in ("shares", "weight"):
                if field == needs:
                    values[field] = _positive_decimal(item.get(field), f"{path}.{field}", problems, field)
                elif item.get(field) is not None and method in METHODS:
                    problems.add(f"{path}.{field}", f"a {method} index takes no {field}")
            rows.append((iid, values.get("shares"), values.get("weight")))
        if needs == "weight" and len(rows) == len(items) and all(r[2] for r in rows):  # each one valid
            total = sum(Decimal(r[2]) for r in rows)
            if total != 1:
                problems.add("constituents", f"the weights sum to {total}; a fixed-weight index sums to 1 exactly")
        return rows

    def indexes(self) -> list[Index]:
        """Every stored index, oldest first (the seed's ``GET /index``)."""
        return [self._load(row) for _, row in IndexRepository(self._ws.db).indexes().iterrows()]

    def index(self, index_id: str) -> Index:
        """One index by id or name; an unknown one raises ``NotFoundError``."""
        repo = IndexRepository(self._ws.db)
        rows = repo.indexes([index_id]) if isinstance(index_id, str) else pd.DataFrame()
        if rows.empty and isinstance(index_id, str):
            every = repo.indexes()
            rows = every[every["name"] == index_id]
        if rows.empty:
            names = ", ".join(repr(n) for n in repo.indexes()["name"]) or "none yet"
            raise NotFoundError(f"No index {index_id!r}; the indexes are {names} (ws.attribution.indexes()).")
        return self._load(rows.iloc[0])

    def _load(self, row: pd.Series) -> Index:
        parts = IndexRepository(self._ws.db).constituents(row["id"])
        table = self._ws.instruments.table().set_index("instrument_id")
        meta = table.loc[parts["instrument_id"], ["symbol", "isin", "name", "sector", "country", "asset_class",
                                                  "currency"]].reset_index()
        return Index(row["id"], row["name"], row["method"], row["currency"], row["description"],
                     pd.concat([meta, parts[["shares", "weight"]]], axis=1), row["created_at"])

    def index_weights(self, index_id: str, start: str | None = None, end: str | None = None) -> xr.DataArray:
        """Constituent weights at the close of every trading day in ``start .. end`` (the module
        docstring's rules), over ``(instrument, time)`` with the instrument metadata as coordinates;
        every day's weights sum to 1."""
        index = self.index(index_id)
        ids = list(index.constituents["instrument_id"])
        close = self._ws.history.prices(ids, end=end)["close"]
        held = close.ffill(TIME)
        live = held.notnull()
        if index.method == "cap":
            shares = xr.DataArray(index.constituents["shares"].astype(float).to_numpy(), dims=INSTRUMENT,
                                  coords={INSTRUMENT: ids})
            size = (held * shares).fillna(0.0)
        elif index.method == "fixed":
            size = live * xr.DataArray(index.constituents["weight"].astype(float).to_numpy(), dims=INSTRUMENT,
                                       coords={INSTRUMENT: ids})
        else:
            size = live.astype(float)
        weights = (size / size.sum(INSTRUMENT)).sel({TIME: slice(start, end)})
        weights = weights.where(np.isfinite(weights))
        return weights.rename("weight").assign_attrs(index=index.name, method=index.method)
