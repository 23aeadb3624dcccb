"""Small ipywidgets building blocks shared by the apps (no business logic here)."""

from __future__ import annotations

import gc
import html
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

import ipywidgets as widgets
import pandas as pd

from toolkit.errors import Problem, ToolkitError, ValidationError
from toolkit.reporting.formatting import MISSING, bps, percent

__all__ = ["MISSING", "STYLE", "Chart", "DateField", "amount", "bps", "error_html", "in_percent", "ok_html",
           "percent", "plain_amount", "quantity", "report_table", "styled", "table_html"]

#: the apps' look: a plain sans-serif page with a readable table and error box
STYLE = """
<style>
.tk-app { font-family: system-ui, sans-serif; max-width: 1280px; }
.tk-title h2 { margin: 4px 0; }
.tk-muted { color: #555; font-size: 0.9em; }
.tk-table table { border-collapse: collapse; font-size: 0.85em; }
.tk-table th, .tk-table td { border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: right; }
.tk-table th { background: #f3f5f7; white-space: nowrap; }
.tk-table td { font-variant-numeric: tabular-nums; }
.tk-table td:first-child, .tk-table th:first-child { text-align: left; }
.tk-error { background: #fdecea; border-left: 4px solid #c62828; padding: 6px 10px; }
.tk-ok { background: #e8f5e9; border-left: 4px solid #2e7d32; padding: 6px 10px; }
.tk-spinner { display: inline-block; width: 14px; height: 14px; border: 2px solid #cfd8dc;
  border-top-color: #1976d2; border-radius: 50%; animation: tk-spin 0.8s linear infinite;
  vertical-align: middle; margin-right: 6px; }
@keyframes tk-spin { to { transform: rotate(360deg); } }
</style>
"""


# --------------------------------------------------------------------------- one number format
# Returns are fractions shown by ``percent`` (2 decimals) and ``bps`` (relative returns and effects,
# 0 decimals), as the performance-reporting document asks ("formatting of returns (in %, in bps)");
# money by ``amount`` (2 decimals), share quantities by ``quantity`` (4 decimals); every figure has its
# thousands grouped with a comma, a missing one is an en dash and a zero has no sign.

def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).replace(",", "").strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def amount(value: Any, decimals: int = 2) -> str:
    """Money for display: ``amount("10000") == "10,000.00"``; rounded half-even; NaN/None/text as ``"–"``."""
    number = _decimal(value)
    if number is None:
        return MISSING
    return f"{number.quantize(Decimal(1).scaleb(-decimals)) + 0:,.{decimals}f}"  # + 0: no "-0.00"


def quantity(value: Any, decimals: int = 4) -> str:
    """A share quantity for display, rounded to ``decimals`` places with trailing zeros dropped:
    ``quantity("12.345678901") == "12.3457"``, ``quantity(1500) == "1,500"``."""
    number = _decimal(value)
    if number is None:
        return MISSING
    text = f"{number.quantize(Decimal(1).scaleb(-decimals)) + 0:,.{decimals}f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return "0" if text in ("-0", "") else text


def report_table(table: pd.DataFrame, counts: tuple[str, ...] = ()) -> pd.DataFrame:
    """A report table of fractions (PO001, PO005, MA001, …) as display text, as the reporting document
    asks: returns in percent, the columns named in ``table.attrs["bps"]`` (relative returns) in basis
    points, the ``counts`` columns as whole numbers; the index becomes the first column."""
    in_bps = set(table.attrs.get("bps", []))

    def column(name: str) -> pd.Series:
        if name in counts:
            return table[name].map(lambda n: MISSING if pd.isna(n) else f"{int(n):,}")
        return bps(table[name]) if name in in_bps else percent(table[name])

    shown = pd.DataFrame({name: column(name) for name in table.columns}, index=table.index)
    shown.attrs = dict(table.attrs)
    return shown.reset_index()


def plain_amount(text: str) -> str:
    """What a user typed as an amount, without its thousands separators (``"10,000.00"`` -> ``"10000.00"``),
    for the façade's strict decimal reader."""
    return text.replace(",", "").replace("\u202f", "").replace(" ", "").strip()


#: a fraction in a constraint message: a number with a decimal point, or the bounds 0 and 1 (a count such as
#: "9 instruments" is left alone)
_FRACTION = re.compile(r"(?<![\w.])(\d+\.\d+|\.\d+|[01])(?![\w.%])")


def in_percent(exc: Exception, fields: dict[str, str]) -> Exception:
    """``exc`` with the problems of the fields a page takes in percent told in percent.

    ``fields`` maps a field path prefix of the request (``"constraints.max_weight"``) to the control's
    label (``"Max weight %"``); in those problems every fraction (a number with a decimal point, or a
    bound of 0 or 1) is shown as percent, ``0.3`` as ``30%``. Other errors pass unchanged."""
    if not isinstance(exc, ValidationError):
        return exc

    def told(problem: Problem) -> Problem:
        label = next((name for prefix, name in fields.items() if (problem.path or "").startswith(prefix)), None)
        if label is None:
            return problem
        message = _FRACTION.sub(lambda m: _percent_text(float(m[1])), problem.message)
        return Problem(label, message)

    return ValidationError([told(p) for p in exc.problems], exc.what)


def _percent_text(fraction: float) -> str:
    text = f"{fraction * 100:,.4f}".rstrip("0").rstrip(".")
    return f"{text}%"


class DateField(widgets.Text):
    """A date typed as ISO ``YYYY-MM-DD``, whatever the browser's locale (a ``DatePicker`` shows the
    locale's ``mm/dd/yyyy``). ``.value`` is the text; :attr:`day` the date, or None when empty."""

    def __init__(self, value: date | str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("placeholder", "YYYY-MM-DD")
        kwargs.setdefault("continuous_update", False)
        super().__init__(value=self._text(value), **kwargs)

    @staticmethod
    def _text(value: date | str | None) -> str:
        return value.isoformat() if isinstance(value, date) else (value or "")

    def set(self, value: date | str | None) -> None:
        self.value = self._text(value)

    @property
    def text(self) -> str | None:
        """The date as typed (stripped), or None when empty: the façade's date reader names a bad one."""
        return self.value.strip() or None

    @property
    def day(self) -> date | None:
        """The date, or None when empty or not an ISO date."""
        try:
            return date.fromisoformat(self.value.strip()) if self.value.strip() else None
        except ValueError:
            return None


W = TypeVar("W", bound=widgets.Widget)
_settled = False


def page(widget: W) -> W:
    """An app's widget, built as the page's kernel serves it. The first time in a process, what the
    process holds then (the modules, the workspace, the app's first answer: some 300,000 objects in a
    page's kernel) is collected once and moved out of the cyclic garbage collector's reach
    (``gc.freeze``): a full collection over it paused a later change by about 0.1 s, at random. Objects
    made afterwards are collected as usual."""
    global _settled
    if not _settled:
        _settled = True
        gc.collect()
        gc.freeze()
    return widget


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


#: the page's side of :class:`Chart` (each chart carries it; the first one run installs it for the page)
CHART_SCRIPT = (Path(__file__).parent / "static" / "chart.js").read_text(encoding="utf-8")


def figure_json(figure: Any) -> str:
    """A plotly figure as the JSON text of its ``data``, ``layout`` (and ``frames``), as ``figure.to_json()``
    gives it, made safe to sit inside an HTML ``<script>`` element (every ``<`` escaped as ``\\u003c``)."""
    return figure.to_json().replace("<", "\\u003c")


class Chart(widgets.VBox):
    """A plotly chart area, updated in place.

    A figure travels to the page as plotly JSON in an ``ipywidgets.HTML`` (class ``tk-chart-host``);
    a small script (``static/chart.js``, which each chart carries in a hidden ``Output``; the first
    one run installs it for the page) draws it beside that widget with ``Plotly.react``, the plotly.js that the server's
    ``jupyterlab-plotly`` renderer already serves (no CDN, no widget module). A new figure updates
    the drawn plot instead of replacing it, so hover, zoom and pan stay, and an unchanged figure is
    not sent again. (An ``Output`` re-displaying a plotly mimebundle built a new plot on every
    change, rendered it a second time as a PNG, and sent the page's outputs with that PNG to the
    kernel and back, which drew it once more.)

    The first figure is sent once a page shows the chart (ipywidgets' ``_view_count``), so a
    preheated page renders its controls at once and loads plotly.js after, not before them.
    """

    def __init__(self, placeholder: str = "Drawing the chart…", **kwargs: Any) -> None:
        """``placeholder``: what the area says until a figure is shown (a page that draws only on
        request says so, rather than "Drawing the chart…" for ever)."""
        super().__init__(**kwargs)
        self._placeholder = f"<p class='tk-muted'>{html.escape(placeholder)}</p>"
        self._pending: Any = None
        self._sent: str | None = None  # the figure JSON the page has
        self.host = widgets.HTML(self._placeholder, layout={"width": "100%"})
        self.host.add_class("tk-chart-host")
        loader = widgets.Output(layout={"display": "none"})
        loader.outputs = ({"output_type": "display_data", "metadata": {},
                           "data": {"text/html": f"<script>{CHART_SCRIPT}</script>", "text/plain": ""}},)
        self.children = (self.host, loader)
        self._view_count = 0  # ask the page to count its views of this widget
        self.observe(self._on_views, "_view_count")

    def show(self, figure: Any) -> None:
        """Draw ``figure`` (a plotly ``Figure``), in place of the one shown."""
        if not self._view_count:
            self._pending = figure
            return
        self._pending = None
        text = figure_json(figure)
        if text != self._sent:
            self._sent = text
            self.host.value = f"<script type='application/json' class='tk-plotly-spec'>{text}</script>"

    def clear(self) -> None:
        """Remove the chart (and a figure waiting for the page)."""
        self._pending = self._sent = None
        self.host.value = ""

    def _on_views(self, change: dict) -> None:
        if change["new"] and self._pending is not None:
            self.show(self._pending)
