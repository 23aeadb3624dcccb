"""The performance app: a stakeholder's overview of one portfolio's returns against a benchmark.

Every figure comes from the façade: ``ws.reports.portfolio_returns`` (the PortfolioReturns
answer, which also validates the period: a start before the performance measurement start, an
end before the start or past the latest data is refused with a ``ValidationError`` shown in the
page) and ``ws.reports.portfolio_report`` (PO001 overview, PO003 cumulated chart, PO005 rolling
returns). The widget only picks the request, formats the answers (returns in percent, relative
returns in basis points, as the tables' ``attrs["bps"]`` say) and offers them as downloads:
``<a download>`` links carrying the file as a base64 ``data:`` URL, since Voilà serves no kernel
files. The links (about 7.6 MB for the demo book, mostly the offline HTML report with plotly.js
inlined) are built only when the visitor presses "Prepare downloads", and dropped whenever the
shown answer changes, so a change of control sends the page only what it shows.
"""

from __future__ import annotations

import base64
import html
import json
import re
from datetime import date

import ipywidgets as widgets
import pandas as pd
import plotly.graph_objects as go

from toolkit.reporting.formatting import bps, percent
from toolkit.schema import PORTFOLIO
from toolkit.trading.accounts import Account
from toolkit.widgets.components import STYLE, Chart, DateField, error_html, page, report_table, styled, table_html
from toolkit.workspace import Workspace

#: benchmark choices that are not an instrument or allocation id
OWN, NONE = "__own__", "__none__"
#: the index offered as a benchmark to every portfolio: (label, symbol)
INDEX_BENCHMARK = ("S&P 500 (SPX)", "SPX")
FREQUENCIES = ("monthly", "quarterly", "yearly")
#: quick periods up to the latest data: label -> years back (0: year to date, None: since inception,
#: -1: the dates as typed)
PERIODS = {"Since inception": None, "YTD": 0, "1Y": 1, "3Y": 3, "5Y": 5, "10Y": 10, "Custom": -1}
#: what a CSV row can be: a month or a day of the PortfolioReturns answer
CSV_ROWS = ("months", "days")
#: ledger kinds of a trade: an account with none holds nothing, so has no returns to report
TRADES = ("BUY", "SELL", "REBALANCE")
#: what the downloads area says before the links are prepared
DOWNLOADS_HINT = ("<p class='tk-muted tk-perf-downloads-hint'>Press <b>Prepare downloads</b> for the files of the "
                  "answer shown.</p>")
#: the reporting document's report codes (performance-reporting interface, "Usage & Contents"), in plain words
REPORTS = {
    "PO001": "Performance overview: the return of each month (or quarter, or year) of the period, gross and "
             "net of the management fee, the benchmark's, and the relative return; the last row is the year "
             "to date.",
    "PO003": "Cumulated performance: what 100 invested at the start of the period grew to, day by day.",
    "PO005": "Rolling performance: the returns over the last 1, 3, 5 and 10 years and since inception, "
             "per year (p.a.) for windows longer than a year.",
}

PAGE_STYLE = """
<style>
.tk-perf-app .tk-perf-controls { gap: 4px 18px; flex-wrap: wrap; align-items: center; }
.tk-perf-headline { font-size: 1.05em; margin: 6px 0; }
.tk-perf-headline .tk-figure { font-size: 1.25em; font-weight: 600; margin-right: 14px; }
.tk-perf-headline .tk-neg { color: #c62828; }
.tk-perf-headline .tk-pos { color: #2e7d32; }
.tk-po001 { max-height: 520px; overflow-y: auto; }
.tk-po001 table, .tk-po005 table { width: 100%; }
.tk-po001 thead th { position: sticky; top: 0; }
.tk-perf-downloads a { display: inline-block; margin: 4px 8px 4px 0; padding: 5px 12px; border-radius: 3px;
  background: #1976d2; color: #fff; text-decoration: none; font-size: 0.9em; }
.tk-perf-downloads a:hover { background: #125ea8; }
</style>
"""


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "portfolio"


def _signed(text: str, value: float) -> str:
    css = "tk-neg" if value < 0 else "tk-pos"
    return f"<span class='tk-figure {css}'>{html.escape(text)}</span>"


def download_link(content: str | bytes, filename: str, mime: str, label: str, css: str) -> str:
    """An ``<a download>`` link holding ``content`` as a base64 ``data:`` URL (no file server needed)."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    href = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    return (f"<a class='{css}' download='{html.escape(filename, quote=True)}' href='{href}' "
            f"title='{html.escape(filename, quote=True)}'>{html.escape(label)}</a>")


def entries_csv(answer: dict, rows: str) -> str:
    """The ``months`` or ``days`` of a PortfolioReturns answer as CSV: one row per entry, its keys as columns."""
    return pd.DataFrame(answer.get(rows, [])).to_csv(index=False)


class PerformanceApp:
    """The page's state and callbacks; ``.widget`` is what the app displays."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._quiet = False
        self._answer: dict | None = None
        self._parts: dict | None = None
        self._links: dict[str, str] = {}  # the prepared download links of the shown answer, by kind
        self._allocations = {a.id: a.name or a.id[:8] for a in ws.allocations.list()}
        self._latest: dict[str, date | None] = {}  # each portfolio's last day with a net return, once asked
        # only portfolios that have traded are offered (an account just funded has no returns yet)
        self._portfolios: dict[str, Account] = {a.id: a for a in ws.accounts.list(type="PORTFOLIO")
                                                if self._traded(a.id)}
        self._build()
        if self._portfolios:
            self._on_portfolio()
        else:
            self.message.value = ("<p class='tk-muted'>No portfolio with returns in this workspace yet: run "
                                  "the book, or invest a PORTFOLIO account in the allocations app.</p>")

    # -- layout ---------------------------------------------------------------------------------
    def _build(self) -> None:
        wide = {"description_width": "initial"}
        self.portfolio = styled(widgets.Dropdown(
            options=[(a.name or f"Account {a.id[:8]}", a.id) for a in self._portfolios.values()],
            description="Portfolio",
            style=wide, layout={"width": "300px"}), "tk-perf-portfolio")
        benchmarks = [("Own benchmark (master data)", OWN), INDEX_BENCHMARK]
        benchmarks += [(f"Model: {name}", key) for key, name in self._allocations.items()] + [("None", NONE)]
        self.benchmark = styled(widgets.Dropdown(options=benchmarks, value=OWN, description="Benchmark",
                                                 style=wide, layout={"width": "330px"}), "tk-perf-benchmark")
        self.frequency = styled(widgets.Dropdown(options=FREQUENCIES, value="monthly", description="Overview by",
                                                 style=wide, layout={"width": "220px"}), "tk-perf-frequency")
        self.period = styled(widgets.Dropdown(options=list(PERIODS), value="Since inception", description="Period",
                                              style=wide, layout={"width": "220px"}), "tk-perf-period")
        self.start = styled(DateField(description="From", style=wide, layout={"width": "180px"}), "tk-perf-start")
        self.end = styled(DateField(description="to", style=wide, layout={"width": "160px"}), "tk-perf-end")
        self.update_button = styled(widgets.Button(description="Update", icon="refresh", button_style="primary",
                                                   layout={"width": "110px"}), "tk-perf-update")
        self.busy = styled(widgets.HTML(), "tk-perf-busy")
        self.headline = styled(widgets.HTML(), "tk-perf-headline")
        self.message = styled(widgets.HTML(), "tk-perf-message")
        self.chart = styled(Chart(layout={"width": "100%", "min_height": "440px"}), "tk-po003")
        self.po001 = styled(widgets.HTML(), "tk-po001", "tk-table")
        self.po005 = styled(widgets.HTML(), "tk-po005", "tk-table")
        self.csv_rows = styled(widgets.ToggleButtons(options=CSV_ROWS, value="months", tooltips=[
            "one row per month of the period", "one row per trading day with daily data"],
            style={"button_width": "70px"}), "tk-perf-csv-rows")
        self.prepare_button = styled(widgets.Button(description="Prepare downloads", icon="download",
                                                    disabled=True, layout={"width": "180px"}), "tk-perf-prepare")
        self.downloads = styled(widgets.HTML(DOWNLOADS_HINT), "tk-perf-downloads")
        self.portfolio.observe(self._on_portfolio, "value")
        self.period.observe(self._on_period, "value")
        for control in (self.start, self.end):
            control.observe(self._on_dates, "value")
        for control in (self.benchmark, self.frequency):
            control.observe(self._on_change, "value")
        self.csv_rows.observe(self._on_csv_rows, "value")
        self.prepare_button.on_click(lambda _button: self.prepare_downloads())
        self.update_button.on_click(lambda _button: self.refresh())
        self.po001_title = widgets.HTML(_heading("PO001 · Performance overview", "PO001"))
        self.po005_title = widgets.HTML(_heading("PO005 · Rolling performance", "PO005"))
        self.po005_note = styled(widgets.HTML(), "tk-po005-note")
        self.po003_note = widgets.HTML(f"<p class='tk-muted tk-report-help'>PO003 · {html.escape(REPORTS['PO003'])}"
                                       "</p>")
        self.widget = styled(widgets.VBox([
            widgets.HTML(STYLE + PAGE_STYLE + "<div class='tk-title'><h2>Portfolio performance</h2></div>"
                         "<p class='tk-muted'>Time-weighted returns of a mandate, gross and net of its "
                         "management fee, against a benchmark. Returns in %, relative returns (net − "
                         "benchmark) in basis points.</p>"),
            styled(widgets.HBox([self.portfolio, self.benchmark, self.frequency]), "tk-perf-controls"),
            styled(widgets.HBox([self.period, self.start, self.end, self.update_button, self.busy]),
                   "tk-perf-controls"),
            self.message, self.headline, self.po003_note, self.chart,
            widgets.HBox([
                widgets.VBox([self.po001_title, self.po001], layout={"width": "56%"}),
                widgets.VBox([self.po005_title, self.po005_note, self.po005,
                              widgets.HTML("<h3>Downloads</h3><p class='tk-muted'>The PortfolioReturns answer "
                                           "with daily returns (JSON, or CSV by month or day) and the static "
                                           "HTML report of this page.</p>"),
                              widgets.HBox([widgets.Label("CSV rows"), self.csv_rows]), self.prepare_button,
                              self.downloads],
                             layout={"width": "42%"}),
            ], layout={"justify_content": "space-between"}),
        ]), "tk-app", "tk-perf-app")

    # -- defaults -------------------------------------------------------------------------------
    def _traded(self, account_id: str) -> bool:
        """Whether the account's ledger holds a trade (one indexed read; no holdings are built)."""
        return bool(self.ws.accounts.ledger(account_id)["kind"].isin(TRADES).any())

    def _latest_day(self, portfolio_id: str) -> date | None:
        """The portfolio's last day with a net return (the default end of its periods), asked once per
        portfolio when it is first shown: its daily returns are the ones its first answer reads (the
        workspace remembers them), so no other portfolio's holdings are built."""
        if portfolio_id not in self._latest:
            net = self.ws.reports.daily([portfolio_id])["net"].sel({PORTFOLIO: portfolio_id}).to_series()
            last = net.last_valid_index()
            self._latest[portfolio_id] = None if last is None else pd.Timestamp(last).date()
        return self._latest[portfolio_id]

    def _inception(self) -> date:
        return self.ws.reports.master(self.portfolio.value).performance_measurement_start_date

    def _period_dates(self, label: str) -> tuple[date, date]:
        """The quick period ``label`` up to the portfolio's latest data, from inception at the earliest.

        ``YTD`` starts on 1 January of the latest day's year; ``nY`` on the day after the same
        calendar date ``n`` years earlier (BOD), so it holds ``n`` years of returns."""
        inception = self._inception()
        end = self._latest_day(self.portfolio.value) or date.today()
        back = PERIODS[label]
        if back is None or back < 0:
            return inception, end
        start = date(end.year, 1, 1) if back == 0 else (pd.Timestamp(end) - pd.DateOffset(years=back)
                                                        + pd.Timedelta(days=1)).date()
        return max(start, inception), end

    def _set_dates(self, start: date, end: date) -> None:
        self._quiet = True
        try:
            self.start.set(start)
            self.end.set(end)
        finally:
            self._quiet = False

    # -- callbacks ------------------------------------------------------------------------------
    def _on_portfolio(self, _change: object = None) -> None:
        """A new portfolio: the same quick period on its own dates (a custom one becomes since inception)."""
        self._quiet = True
        try:
            if self.period.value == "Custom":
                self.period.value = "Since inception"
        finally:
            self._quiet = False
        self._set_dates(*self._period_dates(self.period.value))
        self.refresh()

    def _on_period(self, _change: object = None) -> None:
        if self._quiet or self.period.value == "Custom":
            return
        self._set_dates(*self._period_dates(self.period.value))
        self.refresh()

    def _on_dates(self, _change: object = None) -> None:
        if self._quiet:
            return
        self._quiet = True
        try:
            self.period.value = "Custom"
        finally:
            self._quiet = False
        self.refresh()

    def _on_change(self, _change: object = None) -> None:
        if not self._quiet:
            self.refresh()

    # -- the request and the reports ------------------------------------------------------------
    def request(self) -> dict:
        """The PortfolioReturns request the controls describe (with daily returns, for the downloads)."""
        payload = {"portfolioId": self.portfolio.value, "startDate": self.start.text,
                   "endDate": self.end.text, "includeDailyReturns": True}
        if self.benchmark.value == NONE:
            payload["includeBenchmark"] = False
        elif self.benchmark.value == OWN:
            payload["includeBenchmark"] = self.ws.reports.master(self.portfolio.value).benchmark_id is not None
        else:
            payload |= {"includeBenchmark": True, "customBenchmarkId": self.benchmark.value}
        return payload

    def refresh(self) -> None:
        """Ask ``ws.reports`` for the selected period and show the answer (or why it was refused)."""
        self.update_button.disabled = True
        self.busy.value = "<span class='tk-spinner'></span><span class='tk-muted'>Updating…</span>"
        self.message.value = ""
        try:
            payload = self.request()
            answer = self.ws.reports.portfolio_returns(payload).to_dict()
            custom = payload.get("customBenchmarkId")
            parts = self.ws.reports.portfolio_report(payload["portfolioId"], payload["startDate"],
                                                     payload["endDate"], custom, self.frequency.value)
            self._show(answer, parts if payload["includeBenchmark"] else _without_benchmark(parts))
        except Exception as exc:  # noqa: BLE001 - every failure becomes a readable message in the page
            self._answer = self._parts = None
            self.headline.value = self.po005_note.value = ""
            self.po001.value = self.po005.value = ""
            self.po001_title.value = _heading("PO001 · Performance overview", "PO001")  # no stale "as of"
            self.po005_title.value = _heading("PO005 · Rolling performance", "PO005")
            self._links = {}
            self.prepare_button.disabled = True
            self.downloads.value = "<p class='tk-muted'>Nothing to download until the request is valid.</p>"
            self.chart.clear()
            self.message.value = error_html(exc)  # last: once the page shows it, nothing stale is left
        finally:
            self.busy.value = ""
            self.update_button.disabled = False

    def _benchmark_label(self, key: str | None) -> str:
        if key is None:
            return "no benchmark"
        if key in self._allocations:
            return f"the model {self._allocations[key]}"
        return INDEX_BENCHMARK[0] if key == INDEX_BENCHMARK[1] else key

    def _show(self, answer: dict, parts: dict) -> None:
        self._answer, self._parts = answer, parts
        name = self.portfolio.label
        bench = self._benchmark_label(answer.get("benchmarkId"))
        last = answer["years"][-1]
        net = last["netIndex"] / answer["indexStart"] - 1
        figures = f"<span class='tk-muted'>Over the period:</span> Net return {_signed(percent(net), net)}"
        if "bmIndexStart" in answer:
            bm = last["bmIndex"] / answer["bmIndexStart"] - 1
            figures += (f" Benchmark {_signed(percent(bm), bm)}"
                        f" Relative {_signed(bps(net - bm), net - bm)}")
        self.headline.value = (
            f"<div><b>{html.escape(name)}</b> · {answer['startDate']} to {answer['endDate']} · against "
            f"{html.escape(bench)} <span class='tk-muted'>(measured since "
            f"{answer['performanceMeasurementStartDate']})</span></div><div>{figures}</div>")
        figure = parts["PO003"]
        labels = {"gross": f"{name} gross", "net": f"{name} net", "benchmark": f"Benchmark: {bench}"}
        figure.for_each_trace(lambda trace: trace.update(name=labels.get(trace.name, trace.name)))
        self.chart.show(figure)
        self.po001_title.value = _heading(parts["PO001"].attrs.get("title", "PO001"), "PO001")
        self.po005_title.value = _heading(parts["PO005"].attrs.get("title", "PO005"), "PO005")
        self.po005_note.value = rolling_note(parts["PO005"].attrs.get("title", ""), answer["endDate"])
        self.po001.value = table_html(report_table(parts["PO001"]))
        self.po005.value = table_html(report_table(parts["PO005"]))
        self._links = {}  # a new answer: the files of the previous one are gone, these are built on request
        self.downloads.value = DOWNLOADS_HINT
        self.prepare_button.disabled = False

    # -- downloads ------------------------------------------------------------------------------
    def _stem(self, answer: dict) -> str:
        return f"{_slug(self.portfolio.label)}_{answer['startDate']}_{answer['endDate']}"

    def _csv_link(self, answer: dict) -> str:
        rows = self.csv_rows.value
        return download_link(entries_csv(answer, rows), f"{self._stem(answer)}_{rows}.csv", "text/csv",
                             f"CSV ({rows})", "tk-download-csv")

    def prepare_downloads(self) -> None:
        """Build the shown answer's download links: the PortfolioReturns JSON, the CSV (by the chosen
        rows) and the offline HTML report."""
        if self._answer is None or self._parts is None:
            return
        answer, stem = self._answer, self._stem(self._answer)
        self.prepare_button.disabled = True
        self.downloads.value = "<span class='tk-spinner'></span><span class='tk-muted'>Preparing the files…</span>"
        try:
            title = f"{self.portfolio.label}: performance {answer['startDate']} to {answer['endDate']}"
            self._links = {
                "json": download_link(json.dumps(answer, indent=1), f"{stem}_returns.json", "application/json",
                                      "PortfolioReturns JSON", "tk-download-json"),
                "csv": self._csv_link(answer),
                "html": download_link(self.ws.reports.to_html(self._parts, title), f"{stem}_report.html",
                                      "text/html", "HTML report", "tk-download-html"),
            }
            self._show_links()
        except Exception as exc:  # noqa: BLE001 - a failure becomes a readable message in the page
            self._links = {}
            self.downloads.value = error_html(exc)
            self.prepare_button.disabled = False

    def _on_csv_rows(self, _change: object = None) -> None:
        """Other CSV rows: once the links are prepared, only the CSV link is built again."""
        if self._links and self._answer is not None:
            self._links["csv"] = self._csv_link(self._answer)
            self._show_links()

    def _show_links(self) -> None:
        self.downloads.value = " ".join(self._links[kind] for kind in ("json", "csv", "html"))


def _heading(title: str, code: str) -> str:
    """A report's heading, then what its code means in plain words."""
    return (f"<h3>{html.escape(title)}</h3><p class='tk-muted tk-report-help'>{html.escape(REPORTS[code])}</p>")


def rolling_note(title: str, end: str) -> str:
    """Why PO005 is as of an earlier day than the period's end: its windows hold whole calendar months,
    so they end at the last month-end on or before the end (nothing when the two agree)."""
    found = re.search(r"as of (\d{4}-\d{2}-\d{2})", title)
    if found is None or found[1] == end:
        return ""
    return (f"<p class='tk-muted tk-po005-why'>As of {found[1]}, the last month-end on or before {end}: the "
            f"rolling windows hold whole calendar months, so the part-month to {end} (in the overview) is "
            "left out.</p>")


def _without_benchmark(parts: dict) -> dict:
    """The reports with the benchmark columns and line left out (the user chose no benchmark)."""
    out = {}
    for key, part in parts.items():
        if isinstance(part, go.Figure):
            out[key] = go.Figure(data=[t for t in part.data if t.name != "benchmark"], layout=part.layout)
        else:
            kept = part.drop(columns=["benchmark", "relative"], errors="ignore")
            kept.attrs = {**part.attrs, "bps": []}
            out[key] = kept
    return out


def performance_app(ws: Workspace | None = None) -> widgets.VBox:
    """Build the performance app on a workspace (the configured or demo one by default)."""
    return page(PerformanceApp(ws or Workspace.from_env()).widget)
