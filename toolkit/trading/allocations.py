"""Allocations (model portfolios): the brokerage seed's request resolved against the workspace's
instruments, and the domain object.

Request (create or replace; a replace takes the complete new allocation, never a delta), read by
:class:`toolkit.contracts.brokerage.PortfolioAllocationRequest` (brokerage document, line 23)::

    {"name": "Balanced US equity",                       # optional
     "allocation": [{"instrument_id": "US0378331005", "instrument_id_type": "ISIN", "weight": "0.40"},
                    {"instrument_id": "<uuid>", "instrument_id_type": "UPVEST", "weight": "0.60"}]}

Weights are decimal strings, each > 0 with at most 8 decimals, summing to exactly 1 (the model
checks these). Only tradable instruments of the workspace are allowed, each once (also across
identifier types): that is checked here. An ``UPVEST`` id is the UUID of one of the workspace's
instruments (the toolkit plays the document's Investment API); one it has no instrument for is
refused at ``allocation[i].instrument_id``.

Which series, decided as a demanding portfolio manager would (the same security may ship from
several sources: MSFT from skfolio to 2022, pmdarima to 2017 and bokeh to 2013):

- An ISIN names the **current** series of that ISIN: the tradable one whose daily history ends
  latest, then the longest (:func:`toolkit.market.instruments.current_first`). A model portfolio
  names a security; the series that carries today's prices is the one it trades.
- An ``UPVEST`` id names a series by its UUID, and that series must be current: a series whose last daily
  close is more than :data:`STALE_DAYS` calendar days before the market date (``market_date``:
  the workspace's market clock, by default its latest close) is refused at ``allocation[i].instrument_id``, with its
  last date and the current series of the same ISIN to use instead (or, when the ISIN has none, the
  advice to upload its history). Such a series would otherwise be offered for new orders and
  fill at prices years old. Ten days cover the longest market closures (a holiday week) while
  refusing a feed that stopped; an order itself still needs a close on its execution date.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd
import pydantic
import xarray as xr

from toolkit.contracts.base import payload_of
from toolkit.contracts.brokerage import AllocationEntry, PortfolioAllocationRequest, PortfolioAllocationResponse, parse
from toolkit.errors import Problem, Problems, ValidationError
from toolkit.market.instruments import current_first
from toolkit.schema import INSTRUMENT

#: a series whose last daily close is more than this many calendar days before the market date is stale
STALE_DAYS = 10


@dataclass(frozen=True)
class AllocationItem:
    instrument_id: str
    isin: str
    symbol: str
    weight: Decimal

    def to_dict(self) -> dict:
        """The seed's three keys (the instrument's UUID, so ``UPVEST``) and the toolkit's isin and symbol."""
        return {"instrument_id": self.instrument_id, "instrument_id_type": "UPVEST", "isin": self.isin,
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

    @property
    def allocation_id(self) -> str:
        """The seed's name of :attr:`id` (brokerage document, line 39)."""
        return self.id

    def to_dict(self) -> dict:
        """The seed's response shape (:class:`~toolkit.contracts.brokerage.PortfolioAllocationResponse`):
        ``allocation_id``, ``name``, ``allocation``, plus version and dates."""
        return PortfolioAllocationResponse(
            allocation_id=self.id, name=self.name, allocation=[i.to_dict() for i in self.items], version=self.version,
            valid_from=self.valid_from, created_at=self.created_at,
            updated_at=self.updated_at or self.valid_from).to_dict()

    def to_pandas(self) -> pd.DataFrame:
        return pd.DataFrame([i.to_dict() for i in self.items]).drop(columns="instrument_id_type")

    def to_xarray(self) -> xr.DataArray:
        """Target weights as float64 over ``instrument`` (ids), with ``isin`` and ``symbol`` coordinates."""
        return xr.DataArray([float(i.weight) for i in self.items], dims=INSTRUMENT, name="weight",
                            coords={INSTRUMENT: [i.instrument_id for i in self.items],
                                    "isin": (INSTRUMENT, [i.isin for i in self.items]),
                                    "symbol": (INSTRUMENT, [i.symbol for i in self.items])})


def resolve_allocation(request: PortfolioAllocationRequest, registry: pd.DataFrame,
                       market_date: str | None = None) -> AllocationRequest:
    """A validated request (:class:`~toolkit.contracts.brokerage.PortfolioAllocationRequest`: names,
    identifiers, weights summing to 1, each identifier once) resolved against the registry table:
    each instrument the current tradable series of its ISIN or the tradable series its ``UPVEST``
    id names, each series once. With ``market_date`` (ISO), stale series are refused (see the
    module docstring); the registry then needs its ``history_end`` column. One error lists every
    problem."""
    problems = Problems()
    items = _check_items(enumerate(request.allocation), registry, problems, market_date)
    problems.raise_if_any("allocation")
    return AllocationRequest(request.name, tuple(items))


def read_allocation(request: object, registry: pd.DataFrame, market_date: str | None = None) -> AllocationRequest:
    """A create/replace request as sent (a dict, JSON text or the model) read by
    :class:`~toolkit.contracts.brokerage.PortfolioAllocationRequest` and resolved
    (:func:`resolve_allocation`). When the request has problems of its own, the instruments that read
    are resolved all the same, so one refusal names every problem (an unknown ISIN beside a bad name)."""
    try:
        model = parse(PortfolioAllocationRequest, request, "allocation")
    except ValidationError as error:
        problems, named = Problems(), set(error.paths)
        _check_items(_entries(request), registry, problems, market_date)
        found = error.problems + [p for p in problems.items if p.path not in named]
        raise ValidationError(sorted(found, key=_rank), "allocation") from None
    return resolve_allocation(model, registry, market_date)


def _entries(request: object) -> list[tuple[int, AllocationEntry]]:
    """The entries of a refused request that read on their own, with their positions."""
    try:
        payload = payload_of(request)
    except ValidationError:
        return []
    items = payload.get("allocation") if isinstance(payload, Mapping) else None
    found: list[tuple[int, AllocationEntry]] = []
    for i, item in enumerate(items if isinstance(items, list) else []):
        try:
            found.append((i, AllocationEntry.model_validate(item)))
        except pydantic.ValidationError:
            continue
    return found


def _rank(problem: Problem) -> tuple[int, int]:
    """Problems in the request's order: name, each instrument by position, the list as a whole, the rest."""
    match = re.match(r"allocation\[(\d+)\]", problem.path)
    if match:
        return 1, int(match.group(1))
    return {"name": (0, 0), "allocation": (2, 0)}.get(problem.path, (3, 0))


def _check_items(entries: Iterable[tuple[int, AllocationEntry]], registry: pd.DataFrame, problems: Problems,
                 market_date: str | None = None) -> list[AllocationItem]:
    tradable = current_first(registry[registry["tradable"]])
    by_isin = tradable.drop_duplicates("isin").set_index("isin")
    by_id = registry.set_index("instrument_id")
    items: list[AllocationItem] = []
    seen: dict[str, int] = {}
    for i, entry in entries:
        path = f"allocation[{i}].instrument_id"
        iid = _resolve(entry, path, by_isin, by_id, problems)
        if iid is None:
            continue
        if market_date is not None and not _current(iid, market_date, by_id, by_isin, path, problems):
            continue
        if iid in seen:  # an ISIN and an UPVEST id naming the same series
            problems.add(path, f"lists {by_id.loc[iid, 'symbol']} again (already at allocation[{seen[iid]}])")
            continue
        seen[iid] = i
        items.append(AllocationItem(iid, by_id.loc[iid, "isin"], by_id.loc[iid, "symbol"], entry.weight))
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


def _resolve(entry: AllocationEntry, path: str, by_isin: pd.DataFrame, by_id: pd.DataFrame,
             problems: Problems) -> str | None:
    """The workspace's series an entry names, or None after a problem at ``path``."""
    key = entry.instrument_id
    if entry.instrument_id_type == "ISIN":
        if key not in by_isin.index:
            problems.add(path, f"no tradable instrument with ISIN {key} in this workspace")
            return None
        return str(by_isin.loc[key, "instrument_id"])
    if key not in by_id.index:
        problems.add(path, f"no instrument with id {key} in this workspace (an UPVEST id names one of the "
                           "workspace's instruments: see instruments.search)")
        return None
    if not bool(by_id.loc[key, "tradable"]):
        problems.add(path, f"{by_id.loc[key, 'symbol']} is not tradable")
        return None
    return key
