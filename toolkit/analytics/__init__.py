"""Analytics: returns, performance statistics and risk as pure functions on xarray.

Nothing here touches the database, the trading floor or the widgets; every function takes
labelled arrays, keeps their extra dimensions and works on dask-backed arrays unloaded.
Import the submodules: ``toolkit.analytics.returns``, ``toolkit.analytics.performance``,
``toolkit.analytics.risk``.
"""
