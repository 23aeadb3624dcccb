"""Indexes and attribution of the risk platform (``risk-platform-api.txt``): GET /index (lines
1858-1881), GET /portfolio/attribution/index (1882-2096) and GET /portfolio/attribution/portfolio
(2097-2304).

The queries name the portfolio by its ``client_reference`` and the benchmark by an index's
``symbol`` (``index_symbol``, one of GET /index) or another portfolio's client reference
(``benchmark_client_reference``); ``horizon`` is ``day`` or ``month`` (the period over which
returns are compounded before each period's Brinson attribution); ``model`` is
``BrinsonFachlerEquityAttribution`` (the default: Brinson-Fachler by sector, geography, asset class
and instrument) or ``HierarchicalMultiAssetClassAttribution`` (top-down: asset class, then sector
within it, then instrument). The toolkit adds ``start_date`` and ``end_date`` (ISO dates) to bound
the range.

The answer's segment keys are as the document writes them: sectors, geographies (the instruments'
domiciles: countries by name, "United States") and asset classes by name, instruments as
``CODE_APIID_CURRENCY`` (``KO_XNYS_8_USD``, line 1990).
Under ``instrument``, ``aggregated_weights_returns`` is keyed side first (``returns.portfolio.{code}``,
lines 2010-2018), elsewhere segment first (``returns.{segment}.portfolio``, lines 1945-1950), as the
document shows. ``fx_effect`` is null unless a currency attribution is asked for.
"""

from __future__ import annotations

from typing import Literal

from toolkit.contracts.base import Contract, Name
from toolkit.contracts.risk.analytics import Measure, Window

Model = Literal["BrinsonFachlerEquityAttribution", "HierarchicalMultiAssetClassAttribution"]
#: the model used when the query names none
DEFAULT_MODEL: Model = "BrinsonFachlerEquityAttribution"


class IndexEntry(Contract):
    """One index of GET /index (lines 1859-1866); the toolkit adds its ``id``, weighting ``method``,
    ``description`` and ``constituents`` (each one's ``instrument_id``, ``symbol``, ``isin``, ``name``,
    ``sector`` and ``shares`` or ``weight``)."""

    name: str
    country: str | None
    symbol: str
    currency: str
    apiid: int
    instrument_code: str
    id: str | None = None
    method: str | None = None
    description: str | None = None
    constituents: list[dict] | None = None


class IndexAttributionQuery(Window):
    """GET /portfolio/attribution/index (lines 1883-1886)."""

    client_reference: Name
    index_symbol: Name
    horizon: Literal["day", "month"]
    model: Model = DEFAULT_MODEL


class PortfolioAttributionQuery(Window):
    """GET /portfolio/attribution/portfolio (lines 2098-2101)."""

    client_reference: Name
    benchmark_client_reference: Name
    horizon: Literal["day", "month"]
    model: Model = DEFAULT_MODEL


class AttributionInstrument(Contract):
    """A component's instrument (lines 1893-1907)."""

    name: str | None
    country: str | None
    print_name: str
    symbol: str | None
    currency: str | None
    instrument_code: str
    fixed_commission: float
    spread_points: float
    variable_commission: float
    apiid: int
    asset_type: str | None
    asset_class: str | None
    mic_code: str | None


class PeriodReturns(Contract):
    """``average_returns`` of a component (lines 1888-1891): ``month`` and ``day``."""

    month: float | None
    day: float | None


class Contribution(Contract):
    """``marginal_contribution_to_risk`` (lines 1908-1913)."""

    volatility: Measure


class AttributionComponent(Contract):
    """A component of the portfolio (lines 1887-1917); ``is_error`` with ``error_message`` when its
    figures could not be computed."""

    average_returns: PeriodReturns
    instrument: AttributionInstrument
    marginal_contribution_to_risk: Contribution
    weight: float
    error_message: str | None
    is_error: bool


class Sides(Contract):
    """A figure for the portfolio and for the benchmark."""

    portfolio: float | None
    benchmark: float | None


class Totals(Contract):
    """``performance_attribution.total`` (lines 1919-1930)."""

    returns: dict[str, Sides]
    weights: dict[str, Sides]


class Effects(Contract):
    """Brinson effects by segment (lines 1932-1944); ``fx_effect`` null without currency attribution."""

    allocation_effect: dict[str, float | None]
    interaction_effect: dict[str, float | None]
    selection_effect: dict[str, float | None]
    fx_effect: dict[str, float | None] | None
    total_effect: dict[str, float | None]


class RiskShare(Contract):
    """``marginal_risk_contribution`` by segment (lines 1946-1950)."""

    marginal_risk_contribution: dict[str, float | None]


class RiskAttribution(Contract):
    """``risk_attribution`` (lines 1945-1956): each side's shares of its volatility by segment."""

    portfolio: RiskShare
    benchmark: RiskShare


class SegmentFigures(Contract):
    """``aggregated_weights_returns`` keyed segment first (lines 1957-1969)."""

    returns: dict[str, Sides]
    weights: dict[str, Sides]


class SideFigures(Contract):
    """``aggregated_weights_returns`` keyed side first, as the ``instrument`` dimension has it (lines 2010-2030)."""

    returns: dict[str, dict[str, float | None]]
    weights: dict[str, dict[str, float | None]]


class Dimension(Contract):
    """One dimension of the attribution (lines 1931-1970)."""

    performance_attribution: Effects
    risk_attribution: RiskAttribution
    aggregated_weights_returns: SegmentFigures


class InstrumentDimension(Contract):
    """The ``instrument`` dimension (lines 1984-2031): its aggregated figures are keyed side first."""

    performance_attribution: Effects
    risk_attribution: RiskAttribution
    aggregated_weights_returns: SideFigures


class PerformanceAttribution(Contract):
    """``performance_attribution`` (lines 1918-2095); the document's queries answer every dimension, a
    toolkit run asked for fewer answers null for the others."""

    total: Totals
    asset_class: Dimension | None = None
    geography: Dimension | None = None
    instrument: InstrumentDimension | None = None
    sector: Dimension | None = None


class Attribution(Contract):
    """The answer of both attribution endpoints (lines 1886-2096, 2102-2304)."""

    components: list[AttributionComponent]
    performance_attribution: PerformanceAttribution
