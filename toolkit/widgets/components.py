"""Small ipywidgets building blocks shared by the apps (no business logic here)."""

from __future__ import annotations

import html
import json

import ipywidgets as widgets
import pandas as pd
from IPython.display import HTML, display

from toolkit.errors import ToolkitError, ValidationError

#: the apps' look: a plain sans-serif page with a readable table and error box
STYLE = """
<style>
.tk-app { font-family: system-ui, sans-serif; max-width: 1280px; }
.tk-title h2 { margin: 4px 0; }
.tk-muted { color: #555; font-size: 0.9em; }
.tk-table table { border-collapse: collapse; font-size: 0.85em; }
.tk-table th, .tk-table td { border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: right; }
.tk-table th { background: #f3f5f7; }
.tk-table td:first-child, .tk-table th:first-child { text-align: left; }
.tk-error { background: #fdecea; border-left: 4px solid #c62828; padding: 6px 10px; }
.tk-ok { background: #e8f5e9; border-left: 4px solid #2e7d32; padding: 6px 10px; }
.tk-spinner { display: inline-block; width: 14px; height: 14px; border: 2px solid #cfd8dc;
  border-top-color: #1976d2; border-radius: 50%; animation: tk-spin 0.8s linear infinite;
  vertical-align: middle; margin-right: 6px; }
@keyframes tk-spin { to { transform: rotate(360deg); } }
</style>
"""


def styled(widget: widgets.Widget, *classes: str) -> widgets.Widget:
    """Add stable CSS classes (``tk-…``) so pages can be styled and browser tests can find widgets."""
    for name in classes:
        widget.add_class(name)
    return widget


def table_html(frame: pd.DataFrame, empty: str = "Nothing to show.") -> str:
    """A DataFrame as an escaped HTML table (values from the database are untrusted)."""
    if frame.empty:
        return f"<p class='tk-muted'>{html.escape(empty)}</p>"
    return frame.to_html(index=False, escape=True, na_rep="–", border=0)


def error_html(exc: Exception) -> str:
    """A readable message for an error: the sentence, then each problem with its field path."""
    if isinstance(exc, ValidationError):
        items = "".join(f"<li><code>{html.escape(p.path or '(payload)')}</code> {html.escape(p.message)}</li>"
                        for p in exc.problems)
        head = f"{len(exc.problems)} problem(s) found in the {html.escape(exc.what)}; nothing was saved."
        return f"<div class='tk-error'><b>{head}</b><ul>{items}</ul></div>"
    if isinstance(exc, ToolkitError):
        return f"<div class='tk-error'>{html.escape(str(exc))}</div>"
    return f"<div class='tk-error'>Unexpected error: {html.escape(type(exc).__name__)}: {html.escape(str(exc))}</div>"


def ok_html(text: str) -> str:
    return f"<div class='tk-ok'>{html.escape(text)}</div>"


class Chart(widgets.Output):
    """A plotly chart area. Figures go to the page as plotly JSON and are drawn by the
    ``jupyterlab-plotly`` renderer that the server serves itself (no CDN, no 5 MB widget module
    per redraw); hover, zoom and pan run in the browser.

    The first figure is sent once a page shows the chart (ipywidgets' ``_view_count``), so a
    preheated page renders its controls at once and loads plotly.js after, not before them.
    """

    MIMETYPE = "application/vnd.plotly.v1+json"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._pending = None
        self._view_count = 0  # ask the page to count its views of this widget
        self.observe(self._on_views, "_view_count")
        with self:
            display(HTML("<p class='tk-muted'>Drawing the chart…</p>"))

    def show(self, figure) -> None:
        if not self._view_count:
            self._pending = figure
            return
        payload = {self.MIMETYPE: json.loads(figure.to_json()), "text/plain": "<plotly figure>"}
        with self:
            self.clear_output(wait=True)
            display(payload, raw=True)

    def clear(self) -> None:
        self._pending = None
        self.clear_output()

    def _on_views(self, change: dict) -> None:
        if change["new"] and self._pending is not None:
            figure, self._pending = self._pending, None
            self.show(figure)
