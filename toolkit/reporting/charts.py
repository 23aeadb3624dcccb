"""Interactive charts (plotly) of market data; pure functions from xarray to a figure."""

from __future__ import annotations

import plotly.graph_objects as go
import xarray as xr

from toolkit.market.history import rebase as rebase_prices
from toolkit.schema import INSTRUMENT, TIME

LAYOUT = dict(height=420, showlegend=True, margin={"l": 55, "r": 20, "t": 50, "b": 40}, hovermode="x unified",
              legend={"orientation": "h", "y": -0.12}, template="plotly_white")


def price_chart(ds: xr.Dataset, rebase: bool = True, title: str | None = None,
                log: bool = False) -> go.Figure:
    """Close prices of every instrument in ``ds`` as lines, optionally rebased to 100 and on a log axis.

    Series are labelled ``symbol (source)``; the y axis names the unit (currency or index).
    """
    close = rebase_prices(ds["close"]) if rebase else ds["close"]
    currencies = sorted(set(ds["currency"].values.tolist())) if "currency" in ds.coords else []
    unit = "index, 100 = first close" if rebase else "/".join(currencies) or "price"
    traces = []
    for i in range(ds.sizes[INSTRUMENT]):  # one trace per line drawn, not a computation
        line = close.isel({INSTRUMENT: i}).dropna(TIME)
        name = str(ds["symbol"].values[i]) if "symbol" in ds.coords else str(ds[INSTRUMENT].values[i])
        if "source" in ds.coords:
            name += f" ({ds['source'].values[i]})"
        traces.append(go.Scatter(x=line.indexes[TIME].strftime("%Y-%m-%d").tolist(), y=line.values,
                                 mode="lines", name=name))
    return go.Figure(data=traces, layout={**LAYOUT, "title": title or "Close",
                                          "yaxis": {"title": unit, "type": "log" if log else "linear"}})
