"""ipywidgets components and app builders for the Voilà apps (no business logic)."""

from toolkit.widgets.allocations import AllocationsApp, allocations_app
from toolkit.widgets.attribution import AttributionApp, attribution_app
from toolkit.widgets.market import MarketExplorer, market_app
from toolkit.widgets.optimise import OptimiseApp, optimise_app
from toolkit.widgets.performance import PerformanceApp, performance_app
from toolkit.widgets.risk import RiskApp, risk_app

__all__ = ["AllocationsApp", "AttributionApp", "attribution_app", "MarketExplorer", "OptimiseApp", "optimise_app",
           "PerformanceApp", "RiskApp", "allocations_app", "market_app", "performance_app", "risk_app"]
