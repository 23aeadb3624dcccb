"""Tables and charts of one series' risk analytics: the VaR / CVaR table, the risk-by-horizon
chart and the factor exposure chart. Pure functions from the façade's Datasets (the risk cube of
:func:`toolkit.workspace.analytics.risk_cube`, the exposures of :func:`toolkit.workspace.analytics.exposures`)
to a DataFrame or a plotly figure; numbers stay fractions (0.071 = 7.1%), formatting is the
caller's.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import xarray as xr

from toolkit.schema import HORIZON, LEVEL

FACTOR = "factor"
#: colours of the factor kinds in the exposure chart
KIND_COLOURS = {"market": "#1f4e79", "style": "#2e86c1", "sector": "#7fb3d5"}
#: colours of the confidence levels in the risk chart (VaR solid, CVaR hatched)
LEVEL_COLOURS = ("#90caf9", "#1e88e5", "#0d47a1")
LAYOUT = dict(height=380, margin={"l": 55, "r": 20, "t": 50, "b": 40}, template="plotly_white",
              legend={"orientation": "h", "y": -0.18})


def level_label(level: float) -> str:
    """``0.975`` -> ``"97.5%"``."""
    return f"{level * 100:g}%"


def risk_table(risk: xr.Dataset) -> pd.DataFrame:
    """One series' risk cube as a table: a row per horizon; VaR and CVaR at each level (losses,
    positive = loss), volatility per horizon and annualised, average return and observations."""
    rows = {}
    for h in risk[HORIZON].values:
        at = risk.sel({HORIZON: h})
        row = {f"VaR {level_label(float(lv))}": float(at["var"].sel({LEVEL: lv})) for lv in risk[LEVEL].values}
        row |= {f"CVaR {level_label(float(lv))}": float(at["cvar"].sel({LEVEL: lv})) for lv in risk[LEVEL].values}
        row |= {"Volatility": float(at["volatility"]), "Annualised volatility": float(at["annual_volatility"]),
                "Average return": float(at["mean"]), "Observations": int(at["count"])}
        rows[str(h)] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "horizon"
    return table


def commentary(risk: xr.Dataset, level: float | None = None) -> list[str]:
    """The VaR and CVaR sentences of one series, horizon by horizon (at ``level`` only, if given)."""
    cube = risk if level is None else risk.sel({LEVEL: [level]})
    return [str(cube[name].sel({HORIZON: h, LEVEL: lv}).item())
            for h in cube[HORIZON].values for lv in cube[LEVEL].values
            for name in ("var_commentary", "cvar_commentary") if str(cube[name].sel({HORIZON: h, LEVEL: lv}).item())]


def risk_chart(risk: xr.Dataset, title: str) -> go.Figure:
    """VaR (solid) and CVaR (hatched) of one series by horizon, a bar per confidence level."""
    horizons = [str(h) for h in risk[HORIZON].values]
    bars = []
    for n, lv in enumerate(risk[LEVEL].values):
        for name, pattern in (("VaR", ""), ("CVaR", "/")):
            bars.append(go.Bar(name=f"{name} {level_label(float(lv))}", x=horizons,
                               y=risk[name.lower()].sel({LEVEL: lv}).values, marker_pattern_shape=pattern,
                               marker_color=LEVEL_COLOURS[n % len(LEVEL_COLOURS)],
                               hovertemplate="%{x}: %{y:.2%}<extra>%{fullData.name}</extra>"))
    return go.Figure(bars, layout={**LAYOUT, "title": title, "barmode": "group", "yaxis_tickformat": ".1%",
                                   "yaxis_title": "loss (historical)", "xaxis_title": "horizon"})


def exposure_chart(exposures: xr.Dataset, title: str) -> go.Figure:
    """Betas of one series to every factor proxy (one single-factor regression each), coloured by
    the proxy's kind (market, style, sector); the hover gives R^2 and the observations."""
    factors = [str(f) for f in exposures[FACTOR].values]
    kinds = [str(k) for k in exposures["kind"].values] if "kind" in exposures.coords else ["market"] * len(factors)
    custom = list(zip(exposures["r_squared"].values.tolist(), exposures["count"].values.tolist()))
    bar = go.Bar(x=exposures["beta"].values, y=factors, orientation="h", customdata=custom,
                 marker_color=[KIND_COLOURS.get(k, "#888") for k in kinds],
                 hovertemplate="%{y}: beta %{x:.2f}, R² %{customdata[0]:.2f}, %{customdata[1]} days<extra></extra>")
    height = max(320, 22 * len(factors) + 90)
    return go.Figure([bar], layout={**LAYOUT, "height": height, "title": title, "xaxis_title": "beta",
                                    "yaxis": {"autorange": "reversed"}, "showlegend": False})
