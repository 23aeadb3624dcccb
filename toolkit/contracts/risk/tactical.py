"""The tactical rules' answer on a book of orders (``risk-platform-api.txt``, GET /portfolio/optimisation,
lines 1279-1300: ``tactical_analysis``).

Each item is the document's ``tactical_analysis`` object for one order (its keys, in its order:
``results`` with one verdict per rule, ``validated``, ``commentary_simple``, ``apiid``,
``instrument_code``), and the toolkit adds one field, ``order``: the order as the rules left it, with
the defaults they filled in (entry at market by rule 1, size at the capital at risk by rule 2 or
invested by rule 13, stop at the ATR factor by rule 3, limit at the nearest resistance by rule 5)
named in ``defaulted``. A verdict's ``validated`` is ``PASS`` or ``FAIL``; a datapoint's ``status``
is ``GOOD`` when its rule passes and ``BAD`` when it fails (the document shows ``GOOD``), its
``priority`` its ``reference`` as in the document's example.

The verdict models are the optimisation's (:mod:`toolkit.contracts.risk.strategy`:
:class:`Datapoint`, :class:`TacticalResult`, :class:`TacticalAnalysis`), so both answers have one shape.
"""

from __future__ import annotations

from typing import Literal

from toolkit.contracts.base import Contract
from toolkit.contracts.risk.common import Direction
from toolkit.contracts.risk.strategy import Datapoint, TacticalAnalysis, TacticalResult

#: a rule's verdict, as the document writes it
Verdict = Literal["PASS", "FAIL"]
#: what a rule may fill in when the order leaves it out
DEFAULTABLE = ("level", "size", "stop", "limit")


class TacticalOrder(Contract):
    """The order the rules judged (the toolkit's addition): ``level`` (the entry; ``print_level``
    "Market Order" when rule 1 set it to the market price), ``size``, ``stop`` and ``limit`` (null:
    none), each with its ``print_`` text as the optimisation's orders print them ("N/A" for none),
    the ``timeframe_id``, the ``funds`` the sizes are measured against, and ``defaulted``: the fields
    a rule filled in."""

    direction: Direction
    timeframe_id: int
    level: float
    size: float | None
    stop: float | None
    limit: float | None
    funds: float | None
    print_level: str
    print_size: str
    print_stop: str
    print_limit: str
    defaulted: list[Literal["level", "size", "stop", "limit"]]


class OrderAnalysis(TacticalAnalysis):
    """One order's ``tactical_analysis`` item: the document's fields and the ``order`` judged."""

    order: TacticalOrder


class TacticalBook(Contract):
    """The tactical rules' answer on a book of orders: ``tactical_analysis``, one item per order in the
    book's order. ``to_dict()`` is ``{"tactical_analysis": [...]}``, the document's key and items."""

    tactical_analysis: list[OrderAnalysis]

    @property
    def validated(self) -> list[str]:
        """Each order's overall verdict."""
        return [item.validated for item in self.tactical_analysis]


__all__ = ["DEFAULTABLE", "Datapoint", "OrderAnalysis", "TacticalAnalysis", "TacticalBook", "TacticalOrder",
           "TacticalResult", "Verdict"]
