"""Analytics: returns, performance statistics, risk and attribution as pure functions on xarray.

Nothing here touches the database, the trading floor or the widgets; every function takes
labelled arrays, keeps their extra dimensions and works on dask-backed arrays unloaded.
Import the submodules: ``returns``, ``performance``, ``risk``, ``risk_portfolio``, ``factors``,
``attribution`` (Brinson), ``linking`` (multi-period) and ``currency`` (Ankrim-Hensel).
"""
