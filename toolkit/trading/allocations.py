"""Allocations (model portfolios): the brokerage seed's payload, its validation, the domain object.

Request (create or replace; a replace takes the complete new allocation, never a delta)::

    {"name": "Balanced US equity",                       # optional
     "allocation": [{"instrument_id": "US0378331005", "instrument_id_type": "ISIN", "weight": "0.40"},
                    {"instrument_id": "<uuid>", "instrument_id_type": "UUID", "weight": "0.60"}]}

Weights are decimal strings, each > 0 with at most 8 decimals, summing to exactly 1. Only
tradable instruments of the workspace are allowed, each once (also across identifier types).

Which series, decided as a demanding portfolio manager would (the same security may ship from
several sources: MSFT from skfolio to 2022, pmdarima to 2017 and bokeh to 2013):

- An ISIN names the **current** series of that ISIN: the tradable one whose daily history ends
  latest, then the longest (:func:`toolkit.market.instruments.current_first`). A model portfolio
  names a security; the series that carries today's prices is the one it trades.
- A UUID names a series by its id, and that series must be current: a series whose last daily
  close is more than :data:`STALE_DAYS` calendar days before the market date (``market_date``:
  the workspace's market clock, by default its latest close) is refused at ``allocation[i].instrument_id``, with its last
  date and the current series of the same ISIN to use instead (or, when the ISIN has none, the
  advice to upload its history). Such a series would otherwise be offered for new orders and
  fill at prices years old. Ten days cover the longest market closures (a holiday week) while
  refusing a feed that stopped; an order itself still needs a close on its execution date.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd
import xarray as xr

from toolkit.errors import Problems
from toolkit.market.instruments import current_first, is_isin
from toolkit.schema import INSTRUMENT
from toolkit.validation import read_decimal

ID_TYPES = ("ISIN", "UUID")
#: decimals a weight may carry (the order engine's weight unit is 1e-8)
WEIGHT_DECIMALS = 8
MAX_NAME = 100
#: a series whose last daily close is more than this many calendar days before the market date is stale
STALE_DAYS = 10
#: letters, digits, spaces and the punctuation of fund names; no ; " < > \\ or control characters
_NAME = re.compile(r"^[\w .,&()/+'%:-]+$")


@dataclass(frozen=True)
class AllocationItem:
    instrument_id: str
    isin: str
    symbol: str
    weight: Decimal

    def to_dict(self) -> dict:
        return {"instrument_id": self.instrument_id, "instrument_id_type": "UUID", "isin": self.isin,
                "symbol": self.symbol, "weight": format(self.weight, "f")}


@dataclass(frozen=True)
class AllocationRequest:
    """A validated create/replace request: the name and the resolved items, in request order."""

    name: str | None
    items: tuple[AllocationItem, ...]


@dataclass(frozen=True)
class Allocation:
    """One version of an allocation, as stored."""

    id: str
    name: str | None
    items: tuple[AllocationItem, ...]
    version: int
    valid_from: str
    created_at: str
    updated_at: str = field(default="")

    def to_dict(self) -> dict:
        """The seed's response shape."""
        return {"id": self.id, "name": self.name, "allocation": [i.to_dict() for i in self.items],
                "version": self.version, "valid_from": self.valid_from, "created_at": self.created_at,
                "updated_at": self.updated_at or self.valid_from}

    def to_pandas(self) -> pd.DataFrame:
        return pd.DataFrame([i.to_dict() for i in self.items]).drop(columns="instrument_id_type")

    def to_xarray(self) -> xr.DataArray:
        """Target weights as float64 over ``instrument`` (ids), with ``isin`` and ``symbol`` coordinates."""
        return xr.DataArray([float(i.weight) for i in self.items], dims=INSTRUMENT, name="weight",
                            coords={INSTRUMENT: [i.instrument_id for i in self.items],
                                    "isin": (INSTRUMENT, [i.isin for i in self.items]),
                                    "symbol": (INSTRUMENT, [i.symbol for i in self.items])})


def parse_allocation(payload: object, registry: pd.DataFrame, market_date: str | None = None) -> AllocationRequest:
    """Validate a create/replace payload against the registry table; one error lists every problem.
    With ``market_date`` (ISO), stale series are refused (see the module docstring); the registry
    then needs its ``history_end`` column."""
    problems = Problems()
    problems.require_object(payload, ("name", "allocation"), "allocation")
    name = _check_name(payload.get("name"), problems)
    rows = payload.get("allocation")
    items: list[AllocationItem] = []
    if not isinstance(rows, list) or not rows:
        problems.add("allocation", "needs at least one instrument: a list of {instrument_id, "
                                   "instrument_id_type, weight}")
    else:
        items = _check_items(rows, registry, problems, market_date)
    problems.raise_if_any("allocation")
    return AllocationRequest(name, tuple(items))


def _check_name(name: object, problems: Problems) -> str | None:
    if name is None:
        return None
    if not isinstance(name, str):
        problems.add("name", f"expected a string, got {type(name).__name__}")
        return None
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        problems.add("name", f"must be 1 to {MAX_NAME} characters")
    elif not _NAME.match(name):
        problems.add("name", "may hold letters, digits, spaces and . , & ( ) / + ' % : - only")
    return name


def _check_items(rows: list, registry: pd.DataFrame, problems: Problems,
                 market_date: str | None = None) -> list[AllocationItem]:
    tradable = current_first(registry[registry["tradable"]])
    by_isin = tradable.drop_duplicates("isin").set_index("isin")
    by_id = registry.set_index("instrument_id")
    items, seen, weights = [], {}, []
    for i, row in enumerate(rows):
        path = f"allocation[{i}]"
        if not isinstance(row, dict):
            problems.add(path, "expected an object with instrument_id, instrument_id_type and weight")
            continue
        for key in sorted(set(row) - {"instrument_id", "instrument_id_type", "weight"}):
            problems.add(f"{path}.{key}", "unknown field")
        weight = _check_weight(row.get("weight"), f"{path}.weight", problems)
        weights.append(weight)
        iid = _resolve(row.get("instrument_id"), row.get("instrument_id_type"), path, by_isin, by_id, problems)
        if iid is None:
            continue
        if market_date is not None and not _current(iid, market_date, by_id, by_isin, f"{path}.instrument_id",
                                                    problems):
            continue
        if iid in seen:
            problems.add(f"{path}.instrument_id", f"lists {by_id.loc[iid, 'symbol']} again "
                                                  f"(already at allocation[{seen[iid]}])")
            continue
        seen[iid] = i
        if weight is not None:
            items.append(AllocationItem(iid, by_id.loc[iid, "isin"], by_id.loc[iid, "symbol"], weight))
    if None not in weights and sum(weights) != 1:  # the sum is judged once every weight reads
        problems.add("allocation", f"weights sum to {format(sum(weights), 'f')}; they must sum to exactly 1")
    return items


def stale_before(market_date: str) -> str:
    """The earliest last close (ISO date) a current series may have at ``market_date``."""
    return (pd.Timestamp(market_date) - pd.Timedelta(days=STALE_DAYS)).strftime("%Y-%m-%d")


def _current(iid: str, market_date: str, by_id: pd.DataFrame, by_isin: pd.DataFrame, path: str,
             problems: Problems) -> bool:
    """Whether the series ``iid`` has a daily close within :data:`STALE_DAYS` of ``market_date``;
    else a problem naming its last date and the current series of its ISIN."""
    row = by_id.loc[iid]
    end = row["history_end"] if isinstance(row["history_end"], str) else None
    if end is not None and end >= stale_before(market_date):
        return True
    what = f"{row['symbol']} ({row['source']}, {iid})"
    since = f"has daily prices only until {end}" if end else "has no daily prices"
    best = by_isin.loc[row["isin"]] if row["isin"] in by_isin.index else None
    if best is not None and isinstance(best["history_end"], str) and best["history_end"] >= stale_before(market_date):
        advice = (f"use the current series of ISIN {row['isin']}: {best['instrument_id']} ({best['source']}, to "
                  f"{best['history_end']}), or name the ISIN with instrument_id_type ISIN")
    else:
        advice = f"no series of ISIN {row['isin']} has current prices; upload its history first (history.upload)"
    problems.add(path, f"{what} {since}, more than {STALE_DAYS} days before the market date {market_date} "
                       f"(ws.clock, by default the workspace's latest close): it would fill at old prices; {advice}")
    return False


def _check_weight(value: object, path: str, problems: Problems) -> Decimal | None:
    weight = read_decimal(value, path, problems, "0.25")
    if weight is None:
        return None
    if weight <= 0 or weight > 1:
        problems.add(path, f"{value} is not in (0, 1]; every weight must be greater than 0")
        return None
    if -weight.as_tuple().exponent > WEIGHT_DECIMALS:
        problems.add(path, f"{value} has more than {WEIGHT_DECIMALS} decimals")
        return None
    return weight


def _resolve(key: object, kind: object, path: str, by_isin: pd.DataFrame, by_id: pd.DataFrame,
             problems: Problems) -> str | None:
    if kind not in ID_TYPES:
        problems.add(f"{path}.instrument_id_type", f"{kind!r} is not one of {', '.join(ID_TYPES)}")
        return None
    if not isinstance(key, str):
        problems.add(f"{path}.instrument_id", f"expected a string, got {type(key).__name__}")
        return None
    if kind == "ISIN":
        if not is_isin(key):
            problems.add(f"{path}.instrument_id", f"{key!r} is not a valid ISIN")
            return None
        if key not in by_isin.index:
            problems.add(f"{path}.instrument_id", f"no tradable instrument with ISIN {key} in this workspace")
            return None
        return str(by_isin.loc[key, "instrument_id"])
    try:
        key = str(uuid.UUID(key))
    except ValueError:
        problems.add(f"{path}.instrument_id", f"{key!r} is not a UUID")
        return None
    if key not in by_id.index:
        problems.add(f"{path}.instrument_id", f"no instrument with id {key} in this workspace")
        return None
    if not bool(by_id.loc[key, "tradable"]):
        problems.add(f"{path}.instrument_id", f"{by_id.loc[key, 'symbol']} is not tradable")
        return None
    return key
