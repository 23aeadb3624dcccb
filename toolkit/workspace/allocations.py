from __future__ import annotations

import builtins
import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

import pandas as pd

from toolkit.errors import ConflictError, NotFoundError, Problems
from toolkit.market.instruments import is_isin
from toolkit.store.allocations import AllocationRepository
from toolkit.store.events import EventRepository
from toolkit.store.repositories import now
from toolkit.trading.accounts import iso_date
from toolkit.trading.allocations import Allocation, AllocationRequest, read_allocation
from toolkit.validation import optional, read_timestamp
from toolkit.workspace.context import Context
from toolkit.workspace.instruments import Instruments


class Allocations:
    """Model portfolios: create, get (as of a date), list with filters, replace (a new version)."""

    #: the seed's list limits
    DEFAULT_LIMIT, MAX_LIMIT = 100, 1000

    def __init__(self, ctx: Context, *, instruments: Instruments) -> None:
        self._ctx = ctx
        self._instruments = instruments
        self._repo = AllocationRepository(ctx.db)

    def create(self, request: object) -> Allocation:
        """``POST /portfolios/allocations`` (brokerage document, line 19): create an allocation from the
        seed's request (a dict, JSON text or :class:`~toolkit.contracts.brokerage.PortfolioAllocationRequest`);
        ``PORTFOLIO_ALLOCATION.CREATED`` is recorded. The answer's ``to_dict()`` carries ``allocation_id``
        (line 39). An ISIN names its current series (the latest daily history, then the longest); a series
        whose history ended more than ten days before the market clock (by default the workspace's
        latest close) is refused at
        ``allocation[i].instrument_id``, naming its last date and the current series to use."""
        request = self._parse(request)
        allocation_id, stamp = str(uuid.uuid4()), now(precise=True)
        with self._ctx.transaction():
            self._repo.insert(allocation_id, request, stamp, self._valid_from(stamp))
            allocation = self.get(allocation_id)
            EventRepository(self._ctx.db).record("PORTFOLIO_ALLOCATION.CREATED", allocation_id,
                                                allocation.to_dict(), stamp)
        return allocation

    def replace(self, allocation_id: str, request: object) -> Allocation:
        """``PUT /portfolios/allocations/{allocation_id}`` (line 127): replace an allocation by a complete
        new one (no deltas), the seed's request as for :meth:`create`; the old one stays readable as of
        its dates."""
        request = self._parse(request)
        stamp = now(precise=True)
        with self._ctx.transaction():
            self._require(allocation_id)
            self._repo.add_version(allocation_id, request, self._valid_from(stamp))
            for currency in self._repo.configured_currencies(allocation_id):
                other = self._repo.foreign_currency([allocation_id], currency)
                if other:  # the transaction rolls the new version back
                    raise ConflictError(f"Allocation {allocation_id} is configured for {currency} accounts; the new "
                                        f"version holds {other}. Keep instruments quoted in {currency}.")
            allocation = self.get(allocation_id)
            EventRepository(self._ctx.db).record("PORTFOLIO_ALLOCATION.UPDATED", allocation_id,
                                                allocation.to_dict(), stamp)
        return allocation

    def get(self, allocation_id: str, as_of: str | None = None) -> Allocation:
        """The allocation, or its version valid at ``as_of`` (an ISO date or timestamp). A version is
        valid from its ``valid_from``: the market clock's day when it was written (see
        :attr:`Workspace.clock`), so ``as_of`` is a market date."""
        optional(read_timestamp, as_of, "as_of", "allocation request")
        self._require(allocation_id)
        found = self._repo.get([allocation_id], _end_of(as_of) if as_of else None)
        if not found:
            raise NotFoundError(f"Allocation {allocation_id} did not exist yet on {as_of}.")
        return found[0]

    def list(self, instrument_ids: Sequence[str] | str | None = None, start_date: str | date | None = None,
             end_date: str | date | None = None, limit: int = DEFAULT_LIMIT) -> builtins.list[Allocation]:
        """``GET /portfolios/allocations`` (brokerage document, line 108): allocations created between
        ``start_date`` and ``end_date`` (inclusive) holding any of ``instrument_ids`` (ISINs or UUIDs: a
        list, or the query parameter's comma-separated text), newest first, at most ``limit`` (1 to 1,000). The dates
        are ISO ``YYYY-MM-DD`` texts or ``datetime.date`` objects (:func:`toolkit.validation.read_date`);
        anything else (a ``datetime``, a ``pd.Timestamp``, a number) is refused by name. An unnamed
        allocation's ``name`` is None (JSON null)."""
        problems = Problems()
        ids = self._filter_ids(instrument_ids, problems)
        start = None if start_date is None else iso_date(start_date, "start_date", problems)
        end = None if end_date is None else iso_date(end_date, "end_date", problems)
        if start and end and start > end:
            problems.add("end_date", f"{end} is before start_date {start}")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= self.MAX_LIMIT:
            problems.add("limit", f"{limit!r} is not a whole number from 1 to {self.MAX_LIMIT}")
        problems.raise_if_any("allocation list request")
        return self._repo.get(self._repo.search(ids, start, end, limit))

    def table(self, **filters: Any) -> pd.DataFrame:
        """The listed allocations as one row per (allocation, instrument); an unnamed one's ``name`` is None."""
        rows = [{"allocation_id": a.id, "name": a.name, "version": a.version, "created_at": a.created_at,
                 **item.to_dict()} for a in self.list(**filters) for item in a.items]
        frame = pd.DataFrame(rows).drop(columns="instrument_id_type", errors="ignore")
        if "name" in frame:  # pandas reads a None among texts as NaN: an unnamed allocation stays None
            frame["name"] = frame["name"].astype(object).where(frame["name"].notna(), None)
        return frame

    def _valid_from(self, stamp: str) -> str:
        """A new version's stamp: the market clock's day (:attr:`Workspace.clock`) at the time of day
        of the write (``stamp``, wall clock), so versions of one market day keep their order."""
        return f"{self._ctx.clock}{stamp[10:]}"

    def _parse(self, request: object) -> AllocationRequest:
        """The validated request (:class:`~toolkit.contracts.brokerage.PortfolioAllocationRequest`)
        resolved against the workspace's instruments: an ISIN names its current series, and a series
        whose daily history ended long before the market clock (:attr:`Workspace.clock`, by default the
        workspace's latest close) is refused (see :mod:`toolkit.trading.allocations`)."""
        return read_allocation(request, self._instruments.table(), self._ctx.clock)

    def _require(self, allocation_id: str) -> None:
        if not isinstance(allocation_id, str) or not self._repo.exists(allocation_id):
            raise NotFoundError(f"No allocation with id {allocation_id!r}.")

    def _filter_ids(self, keys: Sequence[str] | None, problems: Problems) -> builtins.list[str] | None:
        if keys is None:
            return None
        if isinstance(keys, str):  # the seed's query parameter as a query string gives it: comma-separated
            keys = [k.strip() for k in keys.split(",")]
        if not isinstance(keys, Sequence) or not all(isinstance(k, str) for k in keys):
            problems.add("instrument_ids", "expected a list of ISINs or UUIDs")
            return None
        table = self._instruments.table()
        ids = []
        for i, key in enumerate(keys):
            if is_isin(key):
                ids += table.loc[table["isin"] == key, "instrument_id"].tolist()
            else:
                try:
                    ids.append(str(uuid.UUID(key)))
                except ValueError:
                    problems.add(f"instrument_ids[{i}]", f"{key!r} is neither an ISIN nor a UUID")
        return ids


def _end_of(as_of: str) -> str:
    """An ``as_of`` date means the end of that day; a timestamp is taken as it is."""
    return f"{as_of}T23:59:59.999999+00:00" if len(as_of) == 10 else as_of
