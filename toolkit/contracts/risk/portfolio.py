"""The risk platform's portfolios and constraint universes (``risk-platform-api.txt`` lines 199-650):
PUT /portfolio (upload), GET /portfolio (status), DELETE /portfolio, GET /constraints/geographies,
/sectors, /currencies and /assetclasses.

**PUT /portfolio** (lines 206-241; ``client_reference``, the client's unique id of the portfolio, is a
query parameter)::

    {"capital": {"available": 0.1, "currency": "USD", "funds": 0.1, "equity": 0.1,
                 "print_equity": "string", "print_funds": "string", "print_available": "string"},
     "wishlist": [{"instrument": {"instrument_code": "TSLA_XNGS", "apiid": 8}, "direction": "Long"}],
     "positions": [{"instrument_code": "TSLA_XNGS", "apiid": 8, "date_open": "2024-01-03T15:43:45Z",
                    "level": 240, "size": 100, "direction": "Long",
                    "date_close": "2024-12-09T17:12:34Z", "close": 395.1}]}

Decisions where the document is vague, as its most demanding user would take them:

- ``capital`` is required with ``currency`` and ``funds`` (money >= 0, to the cent); ``available``
  and ``equity`` may be of either sign (a leveraged account's) and default to ``funds``; the
  ``print_*`` texts are the client's display strings (empty allowed), kept as sent. The positions may cost more
  than the funds (the document allows leverage, line 639: "sizes that are larger than the funds
  available ... valid if you are using leveraged instruments").
- ``wishlist`` is required (line 212; it may be empty: "an empty wishlist means you desire an empty
  portfolio"); an instrument listed twice in it is refused. ``positions`` is optional (none).
- A position needs ``instrument_code``, ``apiid``, ``date_open``, ``level`` and ``size`` (> 0) and a
  ``direction`` (``Long`` or ``Short``, as written: a short sold as a long would invert its risk);
  ``date_close`` and ``close`` come together or not at all, the close not before the open;
  ``limit`` and ``stop`` (>= 0; 0 is none, as GET /portfolio answers) are optional.
- Instruments need not have history yet: GET /portfolio's ``data_load`` says how much of it is there.
- DELETE /portfolio takes ``client_reference`` or ``all_data=true``, exactly one of them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from toolkit.contracts.base import Contract, Name, Text
from toolkit.contracts.codes import Currency
from toolkit.contracts.risk.common import (
    Amount,
    ApiId,
    Direction,
    InstrumentCode,
    InstrumentRef,
    Moment,
    NonNegative,
    Positive,
    QueryFlag,
    SignedAmount,
    rfc3339,
)
from toolkit.errors import Problem

#: the seed's universe types (lines 273-650)
UNIVERSE_TYPES = ("geographic", "sector", "currency", "crypto", "assetclass")


# =========================================================================== PUT /portfolio


class Capital(Contract):
    """``capital`` of an upload (lines 214-222): see the module docstring."""

    currency: Currency
    funds: Amount
    available: SignedAmount | None = None
    equity: SignedAmount | None = None
    print_equity: Text | None = None
    print_funds: Text | None = None
    print_available: Text | None = None


class Wish(Contract):
    """One entry of the wishlist (lines 222-227): an instrument and the direction wished for."""

    instrument: InstrumentRef
    direction: Direction


class Position(Contract):
    """One position (lines 228-240): see the module docstring."""

    instrument_code: InstrumentCode
    apiid: ApiId
    date_open: Moment
    level: Positive
    size: Positive
    direction: Direction
    date_close: Moment | None = None
    close: Positive | None = None
    limit: NonNegative | None = None
    stop: NonNegative | None = None

    def problems(self, path: str) -> list[Problem]:
        """A close has both ``date_close`` and ``close``, not before ``date_open``."""
        found = []
        if (self.date_close is None) != (self.close is None):
            missing = "close" if self.close is None else "date_close"
            found.append(Problem(f"{path}.{missing}", "is required with a close; a closed position has both "
                                                      "date_close and close"))
        if self.date_close is not None and self.date_close < self.date_open:
            found.append(Problem(f"{path}.date_close", f"{rfc3339(self.date_close)} is before date_open "
                                                       f"{rfc3339(self.date_open)}"))
        return found


class PortfolioUpload(Contract):
    """PUT /portfolio's body (lines 209-241); added: an optional ``name``."""

    capital: Capital
    wishlist: list[Wish]
    positions: list[Position] = Field(default_factory=list)
    name: Name | None = None

    def problems(self) -> list[Problem]:
        """Each position's own rules; no instrument twice in the wishlist."""
        found = [p for n, position in enumerate(self.positions) for p in position.problems(f"positions[{n}]")]
        seen: dict[tuple[str, int], int] = {}
        for n, wish in enumerate(self.wishlist):
            key = (wish.instrument.instrument_code, wish.instrument.apiid)
            if key in seen:
                found.append(Problem(f"wishlist[{n}].instrument", f"{key[0]} (apiid {key[1]}) is already "
                                                                  f"wishlist[{seen[key]}]; list an instrument once"))
            seen.setdefault(key, n)
        return found


class PortfolioReference(Contract):
    """The query of PUT /portfolio (``client_reference`` required, line 209) and of GET /portfolio
    (optional, line 243: without it, every portfolio)."""

    client_reference: Name | None = None


class PortfolioDeletion(Contract):
    """DELETE /portfolio's query (lines 199-200): ``client_reference`` or ``all_data=true``."""

    client_reference: Name | None = None
    all_data: QueryFlag | None = None

    def problems(self) -> list[Problem]:
        if self.client_reference is not None and self.all_data:
            return [Problem("all_data", "give either client_reference or all_data=true, not both")]
        if self.client_reference is None and not self.all_data:
            return [Problem("client_reference", "is required (or all_data=true to delete every portfolio)")]
        return []


# =========================================================================== GET /portfolio


class CapitalStatus(Contract):
    """``capital`` as GET /portfolio answers it (lines 244-249); the ``print_*`` texts, added, when sent."""

    currency: str
    funds: Amount
    available: SignedAmount
    equity: SignedAmount
    print_equity: str | None = None
    print_funds: str | None = None
    print_available: str | None = None


class PositionStatus(Contract):
    """A position as GET /portfolio answers it (lines 257-268): ``close`` is decimal text (``"395.1"``,
    as the document writes it), ``limit`` and ``stop`` 0 when none. Added: ``instrument_id``, the
    workspace's series (None when it has none)."""

    size: Positive
    level: Positive
    close: str | None
    limit: NonNegative
    stop: NonNegative
    direction: Direction
    date_close: Moment | None
    date_open: Moment
    instrument_code: str
    apiid: int
    instrument_id: str | None = None


class InstrumentLoad(Contract):
    """Added to GET /portfolio: the data load of one instrument of the positions and wishlist.
    ``status`` is ``LOADED`` (daily history over its holding periods), ``PARTIAL`` (history starts
    after an open or ends before a close) or ``MISSING`` (no series: upload it with PUT /history)."""

    instrument_code: str
    apiid: int
    instrument_id: str | None
    status: Literal["LOADED", "PARTIAL", "MISSING"]
    history_start: str | None
    history_end: str | None
    needed_from: str | None
    needed_to: str | None


class PortfolioStatus(Contract):
    """One portfolio of GET /portfolio (lines 243-271): ``data_load`` is the share of its instruments
    whose history is loaded, as ``"100%"``. Added: ``name``, ``created_at``, ``updated_at`` and the
    ``instruments``' data load one by one."""

    capital: CapitalStatus
    wishlist: list[Wish]
    positions: list[PositionStatus]
    data_load: str
    client_reference: str
    name: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    instruments: list[InstrumentLoad] = Field(default_factory=list)


class Deleted(Contract):
    """DELETE /portfolio's answer (the document shows none): the client references deleted."""

    deleted: list[str]


# =========================================================================== GET /constraints/*


class UniverseItem(Contract):
    """One entry of a constraint universe (lines 273-650): ``id`` is what a strategy constraint names.
    Added: ``countries`` (ISO 3166 alpha-2) of a geography."""

    name: str
    type: Literal["geographic", "sector", "currency", "crypto", "assetclass"]
    id: str
    description: str
    countries: list[str] | None = None
