"""ipywidgets components and app builders for the Voilà apps (no business logic)."""

from toolkit.widgets.allocations import AllocationsApp, allocations_app
from toolkit.widgets.market import MarketExplorer, market_app

__all__ = ["AllocationsApp", "MarketExplorer", "allocations_app", "market_app"]
