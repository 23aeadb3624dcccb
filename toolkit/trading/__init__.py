"""Trading: allocations (model portfolios), the vectorised order engine, events."""
