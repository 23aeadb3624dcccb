"""components.Chart without a browser: the figure travels as escaped plotly JSON once the page shows
the chart, an unchanged figure is not sent again, and clear() empties the area (issue 22)."""

from __future__ import annotations

import json

import plotly.graph_objects as go

from toolkit.widgets.components import CHART_SCRIPT, Chart


def _spec(chart: Chart) -> dict:
    value = chart.host.value
    assert value.startswith("<script type='application/json' class='tk-plotly-spec'>")
    text = value.split(">", 1)[1].rsplit("</script>", 1)[0]
    assert "<" not in text  # nothing in the JSON can end the script element
    return json.loads(text)


def test_chart_sends_its_figure_once_shown_and_only_when_it_changed() -> None:
    chart = Chart(placeholder="Press Run")
    assert "Press Run" in chart.host.value and "tk-chart-host" in chart.host._dom_classes
    assert CHART_SCRIPT in chart.children[1].outputs[0]["data"]["text/html"]  # the page's side, with the chart
    figure = go.Figure(go.Scatter(x=[1, 2], y=[3, 4], name="</script><b>a</b>"))
    chart.show(figure)
    assert "Press Run" in chart.host.value  # not shown on a page yet: kept for the first view
    chart._view_count = 1
    assert _spec(chart)["data"][0]["name"] == "</script><b>a</b>"
    sent = []
    chart.host.observe(lambda change: sent.append(change["new"]), "value")
    chart.show(figure)  # the same figure: nothing travels
    assert sent == []
    chart.show(go.Figure(go.Bar(x=["a"], y=[1])))
    assert len(sent) == 1 and _spec(chart)["data"][0]["type"] == "bar"
    chart.clear()
    assert chart.host.value == ""
    chart.show(go.Figure(go.Bar(x=["a"], y=[1])))  # after a clear, the same figure is drawn again
    assert _spec(chart)["data"][0]["type"] == "bar"
