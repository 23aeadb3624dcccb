"""The risk platform's portfolio backtest (``risk-platform-api.txt`` lines 1378-1420): PUT
/portfolio/backtest starts one, GET /portfolio/backtest polls for it.

Decisions where the document is vague:

- the status words: ``Started`` (computations under way), ``Completed`` (the example's word, line
  1419; the prose of line 1383 says "Complete", which the toolkit reads as the same state and never
  answers) and ``Not Queued`` (no PUT for that portfolio and strategy, or "something went wrong": a
  failed run answers ``Not Queued`` with the reason in the toolkit's added ``error``);
- ``start_date`` and ``end_date`` are ISO dates (RFC 3339's full-date), the end on or after the start;
  ``strategy_id`` a whole number (JSON or query text);
- a position without a stop has ``stop`` 0 and one without a limit has ``limit``
  1.7976931348623157e+308 (the largest double), as the example shows;
- ``yearlyReturn``, ``nprofitToTotalRatio`` and ``avgProfitLossRatio`` are percentages as text with two
  decimals ("29.43%"), ``averageTradeDuration`` days, hours and minutes ("243d 22h 58m"), each
  ``pnLSerie`` date an RFC 3339 timestamp at midnight UTC ("2020-01-02T00:00:00Z").
"""

from __future__ import annotations

import sys
from typing import Annotated

from pydantic import Field

from toolkit.contracts.base import Contract, IsoDate, Name
from toolkit.contracts.risk.common import QueryWhole

#: the status words of GET /portfolio/backtest
STARTED, COMPLETED, NOT_QUEUED = "Started", "Completed", "Not Queued"
STATUSES = (STARTED, COMPLETED, NOT_QUEUED)
#: a position's limit when it has none (the example's value: the largest double)
NO_LIMIT = sys.float_info.max


class BacktestRequest(Contract):
    """PUT /portfolio/backtest's parameters (lines 1379-1382)."""

    client_reference: Name
    strategy_id: Annotated[QueryWhole, Field(ge=1)]
    start_date: IsoDate
    end_date: IsoDate


class BacktestQuery(Contract):
    """GET /portfolio/backtest's parameters (lines 1384-1385)."""

    client_reference: Name
    strategy_id: Annotated[QueryWhole, Field(ge=1)]


class BacktestPosition(Contract):
    """One position of the backtest (lines 1387-1413)."""

    instrumentName: str
    instrumentCode: str
    openDate: str
    closeDate: str
    openPrice: float
    closePrice: float
    stop: float
    limit: float
    costs: float
    pnL: float
    currencyCode: str
    closed: bool


class PnLPoint(Contract):
    """A day of ``pnLSerie`` (lines 1421-1428)."""

    date: str
    value: float


class BacktestResult(Contract):
    """GET /portfolio/backtest's answer (lines 1386-1434), with the toolkit's additions ``clientReference``,
    ``startDate``, ``endDate`` (the period run: the request's, within the price history), ``jobId`` and
    ``error`` (why a run failed)."""

    positions: list[BacktestPosition]
    yearlyReturn: str
    costs: float
    lowestPnL: float
    portfolioId: int
    strategyId: int
    status: str
    pnLSerie: list[PnLPoint]
    nprofitToTotalRatio: str
    avgProfitLossRatio: str
    averageTradeDuration: str
    pnL: float
    clientReference: str = ""
    startDate: str | None = None
    endDate: str | None = None
    jobId: str | None = None
    error: str | None = None
