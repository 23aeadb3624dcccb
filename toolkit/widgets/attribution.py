"""The attribution app: where a portfolio's active return against a benchmark came from.

Every number comes from ``ws.attribution.run``: Brinson effects by the chosen grouping, linked
over the period, with the same run's instrument-level effects for the drill-down and the risk
attribution by group. The page picks the request and formats the answer: weights and returns in
%, effects in basis points (bp), as attribution reports show them. A refused request (no holdings
in the period, a benchmark without data) shows the façade's sentence.
"""

from __future__ import annotations

import html
from typing import cast

import ipywidgets as widgets
import pandas as pd

from toolkit.errors import ToolkitError
from toolkit.reporting import attribution_views as views
from toolkit.reporting.formatting import bps, percent
from toolkit.widgets.components import STYLE, Chart, error_html, page, styled, table_html
from toolkit.workspace import Workspace
from toolkit.workspace.attribution import DIMENSIONS, AttributionReport

#: the models offered: label -> (model, variant, geometric)
MODELS = {"Brinson-Fachler": ("brinson_fachler", "three_effect", False),
          "Brinson-Hood-Beebower": ("brinson_hood_beebower", "three_effect", False),
          "Brinson-Fachler, top-down": ("brinson_fachler", "top_down", False),
          "Brinson-Fachler, bottom-up": ("brinson_fachler", "bottom_up", False),
          "Geometric (Bacon)": ("brinson_fachler", "top_down", True)}
LINKING = ("carino", "menchero", "grap", "frongello")
GROUPINGS = {"Sector": "sector", "Asset class": "asset_class", "Geography": "geography", "Currency": "currency",
             "Instrument": "instrument"}
#: quick periods up to the end of the data: label -> years back
TRAILING = {"Last year": 1, "Last 3 years": 3, "Last 5 years": 5, "Last 10 years": 10}
EFFECT_COLUMNS = ("allocation", "selection", "interaction", "total")

PAGE_STYLE = """
<style>
.tk-attr-app .tk-attr-controls { gap: 4px 18px; flex-wrap: wrap; align-items: center; }
.tk-attr-headline { font-size: 1.05em; margin: 6px 0; }
.tk-attr-headline .tk-figure { font-size: 1.2em; font-weight: 600; margin-right: 14px; }
.tk-attr-headline .tk-neg { color: #c62828; }
.tk-attr-headline .tk-pos { color: #2e7d32; }
.tk-attr-table table, .tk-attr-instruments table, .tk-attr-risk table { width: 100%; }
.tk-attr-instruments, .tk-attr-risk { overflow-x: auto; }
</style>
"""


def shown(table: pd.DataFrame, name: str) -> pd.DataFrame:
    """An effects table for the page: weights and returns in %, effects in bp, the segment first."""
    out = pd.DataFrame(index=table.index)
    for column in table.columns:
        if column in views.EFFECTS or column == "total":
            out[column.replace("_", " ")] = bps(table[column], 1)
        elif column.endswith(("weight", "return")):
            out[column.replace("_", " ")] = percent(table[column])
    out.index.name = name
    return out.reset_index()


def _signed(label: str, text: str, value: float) -> str:
    css = "tk-neg" if value < 0 else "tk-pos"
    return (f"<span class='tk-muted'>{html.escape(label)}</span> "
            f"<span class='tk-figure {css}'>{html.escape(text)}</span>")


class AttributionApp:
    """The page's state and callbacks; ``.widget`` is what the app displays."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.report: AttributionReport | None = None
        self._quiet = False
        indexes = [(f"Index: {i.name}", i.id) for i in ws.attribution.indexes()]
        models = [(f"Model: {a.name or a.id[:8]}", a.id) for a in ws.allocations.list()]
        accounts = [(f"Account: {a.name or a.id[:8]}", a.id) for a in ws.accounts.list(type="PORTFOLIO")]
        uploaded = [(f"Portfolio: {p.name or p.client_reference}", p.client_reference) for p in ws.portfolios.list()]
        self._portfolios = accounts + uploaded + models + indexes
        self._benchmarks = indexes + models + accounts + uploaded
        self._last = pd.Timestamp(ws.instruments.table()["history_end"].max())
        self._starts = first_days(ws)
        self._build()
        if self._portfolios and self._benchmarks:
            self.refresh()
        else:
            self.message.value = ("<p class='tk-muted'>No portfolio or index in this workspace yet: run the demo "
                                  "book.</p>")

    # -- layout ---------------------------------------------------------------------------------
    def _periods(self) -> list[str]:
        """The periods offered for the chosen portfolio and benchmark: none starting before either holds
        anything (an account before its first return, a model before all its instruments have prices)."""
        first = max((self._starts[k] for k in (self.portfolio.value, self.benchmark.value) if k in self._starts),
                    default=pd.Timestamp.min)
        trailing = [label for label, n in TRAILING.items()
                    if self._last - pd.DateOffset(years=n) + pd.Timedelta(days=1) >= first]
        years = [str(y) for y in range(self._last.year, self._last.year - 12, -1) if pd.Timestamp(y, 1, 1) >= first]
        return trailing + years

    def _on_subject(self, _change: object = None) -> None:
        """Another portfolio or benchmark: the periods it allows (the chosen one kept where it still is)."""
        options = self._periods()
        keep = self.period.value if self.period.value in options else str(self._last.year)
        with self.period.hold_sync():
            self.period.options = options
            self.period.value = keep if keep in options else (options[0] if options else None)

    def _build(self) -> None:
        wide = {"description_width": "initial"}
        self.portfolio = styled(widgets.Dropdown(options=self._portfolios, description="Portfolio", style=wide,
                                                 layout={"width": "330px"}), "tk-attr-portfolio")
        self.benchmark = styled(widgets.Dropdown(options=self._benchmarks, description="Benchmark", style=wide,
                                                 layout={"width": "360px"}), "tk-attr-benchmark")
        self.grouping = styled(widgets.Dropdown(options=list(GROUPINGS), value="Sector", description="Group by",
                                                style=wide, layout={"width": "210px"}), "tk-attr-grouping")
        self.period = styled(widgets.Dropdown(options=self._periods(), value=str(self._last.year),
                                              description="Period", style=wide, layout={"width": "210px"}),
                             "tk-attr-period")
        self.model = styled(widgets.Dropdown(options=list(MODELS), value="Brinson-Fachler", description="Model",
                                             style=wide, layout={"width": "300px"}), "tk-attr-model")
        self.linking = styled(widgets.Dropdown(options=LINKING, value="carino", description="Linking", style=wide,
                                               layout={"width": "190px"}), "tk-attr-linking")
        self.horizon = styled(widgets.ToggleButtons(options=["month", "day"], value="month",
                                                    style={"button_width": "70px"}), "tk-attr-horizon")
        self.update_button = styled(widgets.Button(description="Update", icon="refresh", button_style="primary",
                                                   tooltip="Run the attribution the controls describe",
                                                   layout={"width": "110px"}), "tk-attr-update")
        self.busy = styled(widgets.HTML(), "tk-attr-busy")
        self.message = styled(widgets.HTML(), "tk-attr-message")
        self.headline = styled(widgets.HTML(), "tk-attr-headline")
        self.waterfall = styled(Chart(layout={"width": "100%", "min_height": "380px"}), "tk-attr-waterfall")
        self.effects = styled(Chart(layout={"width": "100%", "min_height": "380px"}), "tk-attr-effects")
        self.table = styled(widgets.HTML(), "tk-attr-table", "tk-table")
        self.drill = styled(widgets.Dropdown(description="Drill into", style=wide, layout={"width": "360px"}),
                            "tk-attr-drill")
        self.instruments = styled(widgets.HTML(), "tk-attr-instruments", "tk-table")
        self.risk = styled(widgets.HTML(), "tk-attr-risk", "tk-table")
        for control in (self.portfolio, self.benchmark, self.grouping, self.period, self.model, self.linking,
                        self.horizon):
            control.observe(self._on_change, "value")
        self.update_button.on_click(lambda _button: self.refresh())
        self.drill.observe(lambda _change: self._show_drill(), "value")
        for control in (self.portfolio, self.benchmark):
            control.observe(self._on_subject, "value")
        half = {"width": "49%"}
        self.widget = styled(widgets.VBox([
            widgets.HTML(STYLE + PAGE_STYLE + "<div class='tk-title'><h2>Performance attribution</h2></div>"
                         "<p class='tk-muted'>Brinson attribution of the active return against an index or "
                         "another portfolio, per period and linked over the period. Weights and returns in %, "
                         "effects in basis points.</p>"),
            styled(widgets.HBox([self.portfolio, self.benchmark, self.grouping, self.period]), "tk-attr-controls"),
            styled(widgets.HBox([self.model, self.linking, widgets.Label("Periods"), self.horizon,
                                 self.update_button, self.busy]),
                   "tk-attr-controls"),
            self.message, self.headline,
            widgets.HBox([widgets.VBox([self.waterfall], layout=half), widgets.VBox([self.effects], layout=half)],
                         layout={"justify_content": "space-between"}),
            widgets.HTML("<h3>Effects by group</h3>"), self.table,
            widgets.HBox([widgets.VBox([widgets.HTML("<h3>Instruments of a group</h3>"), self.drill, self.instruments],
                                       layout=half),
                          widgets.VBox([widgets.HTML("<h3>Risk attribution (annualised volatility)</h3>"), self.risk],
                                       layout=half)], layout={"justify_content": "space-between"}),
        ]), "tk-app", "tk-attr-app")

    # -- the request ----------------------------------------------------------------------------
    def dates(self) -> tuple[str, str]:
        """The chosen period: a calendar year, or whole years back from the last close."""
        label = self.period.value
        if label in TRAILING:
            start = self._last - pd.DateOffset(years=TRAILING[label]) + pd.Timedelta(days=1)
            return start.date().isoformat(), self._last.date().isoformat()
        return f"{label}-01-01", f"{label}-12-31"

    def request(self) -> dict:
        model, variant, geometric = MODELS[self.model.value]
        start, end = self.dates()
        dimension = GROUPINGS[self.grouping.value]
        dimensions = [dimension] if dimension == "instrument" else [dimension, "instrument"]
        return {"portfolio_id": self.portfolio.value, "benchmark": self._benchmark_field(), "start_date": start,
                "end_date": end, "horizon": self.horizon.value, "dimensions": dimensions, "model": model,
                "variant": variant, "geometric": geometric, "linking": "geometric" if geometric else self.linking.value}

    def _benchmark_field(self) -> dict:
        index_ids = {i.id for i in self.ws.attribution.indexes()}
        key = self.benchmark.value
        return {"index_id": key} if key in index_ids else {"portfolio_id": key}

    def _on_change(self, _change: object = None) -> None:
        """A control changed: nothing is recomputed until Update is pressed (choosing a portfolio,
        a benchmark and a period is several changes); the page says the figures are the previous
        choice's."""
        self.linking.disabled = MODELS[self.model.value][2]
        if not self._quiet:
            self.busy.value = ("<span class='tk-muted tk-attr-stale'>The figures below are for the previous "
                               "choice: press Update.</span>")

    def refresh(self) -> None:
        """Run the attribution the controls describe and show it (or why it was refused)."""
        self.update_button.disabled = True
        self.busy.value = "<span class='tk-spinner'></span><span class='tk-muted'>Attributing…</span>"
        self.message.value = ""
        try:
            self.report = self.ws.attribution.run(self.request())
            self._show()
        except Exception as exc:  # noqa: BLE001 - every failure becomes a readable message in the page
            self.report = None
            for box in (self.headline, self.table, self.instruments, self.risk):
                box.value = ""
            self.waterfall.clear()
            self.effects.clear()
            self.message.value = error_html(exc)  # last: once the page shows it, nothing stale is left
        finally:
            self.busy.value = ""
            self.update_button.disabled = False

    # -- the answer -----------------------------------------------------------------------------
    def _show(self) -> None:
        report, dimension = self.report, GROUPINGS[self.grouping.value]
        if report is None:
            return
        totals = report.totals()
        table = report.effects_table(dimension)
        geometric = report.request["geometric"]
        if geometric:
            self.waterfall.clear()
        else:
            self.waterfall.show(views.waterfall(table, totals["portfolio_return"], totals["benchmark_return"],
                                                f"Active {bps(totals['active_return'])}: the effects' sum, "
                                                "from the benchmark's return to the portfolio's"))
        self.effects.show(views.effects_chart(table, f"Effects by {self.grouping.value.lower()}"))
        self.table.value = table_html(shown(table, self.grouping.value))
        self._show_risk(report.risk.get(dimension))
        self._quiet = True
        try:
            segments = [str(s) for s in table.index]
            self.drill.options = segments
            self.drill.value = segments[0] if segments else None
            self.drill.disabled = dimension == "instrument"
        finally:
            self._quiet = False
        self._show_drill()
        kind = "geometric, compounding" if geometric else f"linked by {report.request['linking'].capitalize()}"
        self.headline.value = (
            f"<div><b>{html.escape(report.portfolio)}</b> against <b>{html.escape(report.benchmark)}</b> · "
            f"{report.request['start_date']} to {report.request['end_date']} · {self.model.value}, "
            f"{'daily' if report.request['horizon'] == 'day' else 'monthly'} periods {kind}</div><div>"
            + _signed("Portfolio", percent(totals["portfolio_return"]), totals["portfolio_return"])
            + _signed("Benchmark", percent(totals["benchmark_return"]), totals["benchmark_return"])
            + _signed("Active", bps(totals["active_return"]), totals["active_return"]) + "</div>")

    def _show_risk(self, risk) -> None:
        """Risk attribution by group: weights, shares of volatility, contributions to tracking error."""
        if risk is None:  # a one-day range: no covariance to attribute risk with
            self.risk.value = "<p class='tk-muted'>Risk attribution needs two trading days or more.</p>"
            return
        frame = risk.to_dataframe()

        def column(texts: object) -> object:  # percent() and bps() of a Series are a Series of texts
            return cast(pd.Series, texts).values

        self.risk.value = table_html(pd.DataFrame({
            self.grouping.value: frame.index, "weight": column(percent(frame["portfolio_weight"])),
            "share of risk": column(percent(frame["portfolio_percent"])),
            "benchmark weight": column(percent(frame["benchmark_weight"])),
            "benchmark share": column(percent(frame["benchmark_percent"])),
            "tracking error contribution": column(bps(frame["active_contribution"], 1))}))

    def _show_drill(self) -> None:
        """The instruments of the chosen group with their own effects (the same run, by instrument)."""
        report = self.report
        dimension = GROUPINGS[self.grouping.value]
        if report is None or dimension == "instrument" or self.drill.value is None or "instrument" not in report.linked:
            self.instruments.value = "<p class='tk-muted'>Group by something other than instrument to drill down.</p>" \
                if report is not None else ""
            return
        members = report.components[report.components[DIMENSIONS[dimension]] == self.drill.value]["symbol"]
        table = report.effects_table("instrument")
        table = table[table.index.isin(set(members))]
        self.instruments.value = table_html(shown(table, "instrument"))


def first_days(ws: Workspace) -> dict[str, pd.Timestamp]:
    """The first day each account and model portfolio can be attributed from: an account's first return
    (its performance measurement start), a model's latest first close among its instruments."""
    starts = {}
    for account in ws.accounts.list(type="PORTFOLIO"):
        try:
            starts[account.id] = pd.Timestamp(ws.reports.master(account.id).performance_measurement_start_date)
        except ToolkitError:  # an account without returns yet: no limit known
            continue
    begins = ws.instruments.table().set_index("instrument_id")["history_start"]
    for model in ws.allocations.list():
        firsts = [begins.get(item.instrument_id) for item in model.items]
        if firsts and all(isinstance(f, str) for f in firsts):
            starts[model.id] = pd.Timestamp(max(firsts))
    return starts


def attribution_app(ws: Workspace | None = None) -> widgets.VBox:
    """Build the attribution app on a workspace (the configured or demo one by default)."""
    return page(AttributionApp(ws or Workspace.from_env()).widget)
