"""ipywidgets components and app builders for the Voilà apps (no business logic)."""

from toolkit.widgets.market import MarketExplorer, market_app

__all__ = ["MarketExplorer", "market_app"]
