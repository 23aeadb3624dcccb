"""Charts of an attribution: the waterfall from the benchmark's return to the portfolio's, and the
effects by segment. Pure functions from the effects table of
:meth:`toolkit.workspace.attribution.AttributionReport.effects_table` (fractions) to plotly figures.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from toolkit.reporting.formatting import bps, percent

#: the arithmetic effects, in the order they are drawn, and their colours
EFFECTS = ("allocation", "selection", "interaction", "currency", "forward_premium")
COLOURS = {"allocation": "#1e88e5", "selection": "#43a047", "interaction": "#fb8c00", "currency": "#8e24aa",
           "forward_premium": "#6d4c41"}
LAYOUT = dict(height=380, margin={"l": 60, "r": 20, "t": 50, "b": 40}, template="plotly_white",
              legend={"orientation": "h", "y": -0.2})


def _label(effect: str) -> str:
    return effect.replace("_", " ").capitalize()


def _signed(text: str) -> str:
    return text if text.startswith(("-", "0 ")) else f"+{text}"


def waterfall(table: pd.DataFrame, portfolio_return: float, benchmark_return: float, title: str) -> go.Figure:
    """Benchmark return, then each effect summed over the segments, to the portfolio return (in bp).

    With arithmetic (linked) effects the steps close the gap exactly: ``b + sum(effects) = r``. The
    two ends are labelled as returns in % (as the page's headline shows them), the steps as effects
    in bp (a step that rounds to zero reads ``0 bp``, never ``-0 bp``)."""
    effects = [e for e in EFFECTS if e in table and abs(table[e].sum()) > 0 or e in ("allocation", "selection")]
    values = [benchmark_return] + [float(table[e].sum()) for e in effects] + [portfolio_return]
    names = ["Benchmark"] + [_label(e) for e in effects] + ["Portfolio"]
    bar = go.Waterfall(x=names, y=[v * 1e4 for v in values], measure=["absolute"] + ["relative"] * len(effects)
                       + ["total"], text=[percent(values[0]), *(_signed(bps(v)) for v in values[1:-1]),
                                                   percent(values[-1])], textposition="outside",
                       connector={"line": {"color": "#90a4ae"}}, increasing={"marker": {"color": "#43a047"}},
                       decreasing={"marker": {"color": "#e53935"}}, totals={"marker": {"color": "#1f4e79"}})
    figure = go.Figure([bar], layout={**LAYOUT, "title": title, "yaxis_title": "basis points", "showlegend": False})
    return figure


def effects_chart(table: pd.DataFrame, title: str) -> go.Figure:
    """The effects of each segment as grouped horizontal bars (bp), the segment with the largest total
    effect on top; the segments' names are on the vertical axis, whole (a long sector name such as
    "Consumer Discretionary" is not cut or slanted)."""
    ordered = table.sort_values("total", ascending=True)  # plotly draws the first category at the bottom
    names = [str(s) for s in ordered.index]
    bars = [go.Bar(name=_label(e), y=names, x=ordered[e] * 1e4, orientation="h", marker_color=COLOURS[e],
                   hovertemplate="%{y}: %{x:+,.1f} bp<extra>" + _label(e) + "</extra>")
            for e in EFFECTS if e in ordered and ordered[e].abs().sum() > 0]
    height = max(380, 120 + 22 * len(names) * max(len(bars), 1) // 2)
    return go.Figure(bars, layout={**LAYOUT, "height": height, "title": title, "barmode": "group",
                                   "xaxis_title": "basis points", "yaxis": {"automargin": True}})
