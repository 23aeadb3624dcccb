"""The backtest app: a portfolio, a strategy and a period, run as the risk platform's backtest job
(``ws.backtests``: PUT, then GET until ``Completed``), shown against a benchmark.

The page shows what the job answered, nothing recomputed but the display: the NAV (the capital plus
``pnLSerie``) against the benchmark's closes rebased to the same capital, both drawdowns, the calendar
years' returns of each and their difference in bp, the trade statistics in the document's own wording,
and the positions. The run is a background job: a progress bar follows it, and the page's controls are
disabled until it ends. A refused request shows the façade's sentence with each field named, and clears
what the previous run showed.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass
from datetime import date

import ipywidgets as widgets
import pandas as pd
import plotly.graph_objects as go
import xarray as xr
from plotly.subplots import make_subplots

from toolkit.analytics.performance import drawdown
from toolkit.analytics.returns import cumulate, simple_returns
from toolkit.market.calendars import calendar
from toolkit.schema import TIME
from toolkit.widgets.components import (
    STYLE,
    Chart,
    DateField,
    amount,
    bps,
    error_html,
    page,
    percent,
    styled,
    table_html,
)
from toolkit.workspace import Workspace
from toolkit.workspace.backtests import Backtest

#: the benchmark every run is drawn against (the market index's longest series)
MARKET = "SPX"
#: how often the page asks the job how far it is, in seconds
POLL = 0.25
#: positions listed on the page (the latest ones); the notebook has them all
POSITIONS = 200

PAGE_STYLE = """
<style>
.tk-bt-app .tk-bt-controls { gap: 4px 16px; flex-wrap: wrap; align-items: center; }
.tk-bt-figures { display: flex; flex-wrap: wrap; gap: 4px 24px; margin: 8px 0; }
.tk-bt-stats .tk-figure { font-weight: 600; font-size: 1.1em; }
.tk-bt-positions { max-height: 360px; overflow-y: auto; }
</style>
"""

#: the document's statistics, as the page words them
STATISTICS = (("yearlyReturn", "Yearly return"), ("pnL", "P&L"), ("nprofitToTotalRatio", "Profitable positions"),
              ("avgProfitLossRatio", "Average profit / average loss"), ("averageTradeDuration", "Average duration"),
              ("lowestPnL", "Lowest P&L"), ("costs", "Costs"))
#: the positions table's columns: the document's field -> heading
POSITION_COLUMNS = {"instrumentCode": "Instrument", "openDate": "Opened", "openPrice": "Open price",
                    "closeDate": "Closed", "closePrice": "Close price", "stop": "Stop", "limit": "Limit",
                    "costs": "Costs", "pnL": "P&L", "closed": "Closed out"}


@dataclass(frozen=True)
class BacktestView:
    """A completed backtest beside its benchmark, as the page and notebook 09 show it.

    ``curves``: ``nav`` and ``benchmark`` (the benchmark's closes rebased to the run's capital) over
    ``time``; ``drawdowns``: each curve's fall from its running peak (:func:`toolkit.analytics.performance.drawdown`);
    ``years``: each calendar year's linked return of both and the difference in bp (years the run covers in
    part are linked over the days it covers, and marked: :func:`partial_years`).
    """

    curves: xr.Dataset
    drawdowns: xr.Dataset
    years: pd.DataFrame


def backtest_view(result: Backtest, benchmark: xr.DataArray | None) -> BacktestView:
    """The display frames of a completed run (``result.to_xarray()``) and the benchmark's closes over
    ``time`` (None: the NAV alone)."""
    nav = result.to_xarray()["nav"]
    curves = {"nav": nav}
    if benchmark is not None:
        bench = benchmark.sel({TIME: slice(nav[TIME][0], nav[TIME][-1])}).reindex({TIME: nav[TIME]}).ffill(TIME)
        curves["benchmark"] = bench / bench.isel({TIME: 0}) * nav.isel({TIME: 0})
    data = xr.Dataset(curves)
    returns = simple_returns(data.to_array("curve")).isel({TIME: slice(1, None)})
    falls = drawdown(returns).to_dataset("curve")
    yearly = cumulate(returns, "YE").to_pandas().T
    yearly.index = yearly.index.year
    partial = partial_years(pd.DatetimeIndex(nav[TIME].values))
    table = pd.DataFrame({"Year": [f"{y}{' (part)' if partial.get(y) else ''}" for y in yearly.index],
                          "Portfolio": percent(yearly["nav"])})
    if "benchmark" in yearly:
        table["Benchmark"] = percent(yearly["benchmark"])
        table["Difference"] = bps(yearly["nav"] - yearly["benchmark"])
    return BacktestView(data, falls, table)


def partial_years(times: pd.DatetimeIndex) -> dict[int, bool]:
    """Whether the run covers its first and last calendar years only in part: it starts after the year's
    first New York Stock Exchange session or ends before its last (``exchange_calendars``' XNYS)."""
    cal = calendar(None)
    first, last = times[0], times[-1]
    late = first > cal.date_to_session(pd.Timestamp(first.year, 1, 1), direction="next")
    early = last < cal.date_to_session(pd.Timestamp(last.year, 12, 31), direction="previous")
    if first.year == last.year:
        return {first.year: late or early}
    return {first.year: late, last.year: early}


def backtest_chart(view: BacktestView, title: str, benchmark_label: str = MARKET) -> go.Figure:
    """NAV against the rebased benchmark above, both drawdowns below."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.68, 0.32], vertical_spacing=0.05)
    names = {"nav": "Portfolio NAV", "benchmark": f"{benchmark_label} (rebased)"}
    colors = {"nav": "#1565c0", "benchmark": "#757575"}
    x = pd.DatetimeIndex(view.curves[TIME].values).strftime("%Y-%m-%d").tolist()
    for key in view.curves.data_vars:
        fig.add_trace(go.Scatter(x=x, y=view.curves[key].values, name=names[str(key)], mode="lines",
                                 line={"color": colors[str(key)], "width": 1.5}), row=1, col=1)
        fig.add_trace(go.Scatter(x=x[1:], y=view.drawdowns[key].values, name=f"{names[str(key)]} drawdown",
                                 mode="lines", showlegend=False, line={"color": colors[str(key)], "width": 1},
                                 fill="tozeroy" if key == "nav" else None), row=2, col=1)
    fig.update_yaxes(title_text="Value", tickformat=",.0f", row=1, col=1)
    fig.update_yaxes(title_text="Drawdown", tickformat=".0%", row=2, col=1)
    fig.update_layout(title=title, height=520, margin={"l": 70, "r": 20, "t": 50, "b": 30},
                      legend={"orientation": "h", "y": 1.02, "x": 0}, hovermode="x unified")
    return fig


def positions_table(result: Backtest, rows: int = POSITIONS) -> pd.DataFrame:
    """The latest ``rows`` positions, formatted: prices and money with separators, no stop or limit as a dash."""
    frame = result.to_pandas()
    if frame.empty:
        return pd.DataFrame(columns=list(POSITION_COLUMNS.values()))
    frame = frame.sort_values(["openDate", "instrumentCode"]).tail(rows).iloc[::-1]
    none = {"stop": lambda v: v <= 0, "limit": lambda v: v >= 1e300}
    shown = pd.DataFrame({
        heading: (frame[key].map(lambda v, k=key: "–" if k in none and none[k](v) else amount(v))
                  if key in ("openPrice", "closePrice", "stop", "limit", "costs", "pnL")
                  else frame[key].map(lambda v: "yes" if v else "open") if key == "closed"
                  else frame[key])
        for key, heading in POSITION_COLUMNS.items()})
    return shown


class BacktestApp:
    """The page's state and callbacks; ``.widget`` is what the app displays."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.result: Backtest | None = None
        self._portfolios = {a.name: a.id for a in ws.accounts.list(type="PORTFOLIO")  # a CLOSED one holds nothing
                            if a.name and a.status == "ACTIVE"}
        self._strategies = {f"{s.strategy.name} (id {s.strategy.strategy_id})": s.strategy.strategy_id
                            for s in ws.strategies.list()}
        table = ws.instruments.table()
        market = table[(table["symbol"] == MARKET) & (table["n_records"] > 0)]
        self._market = None if market.empty else str(market.sort_values("history_end").iloc[-1]["instrument_id"])
        self._build()

    def _build(self) -> None:
        wide = {"description_width": "initial"}
        portfolios = list(self._portfolios.items())
        self.portfolio = styled(widgets.Dropdown(options=portfolios, value=portfolios[0][1] if portfolios else None,
                                                 description="Portfolio", style=wide, layout={"width": "300px"}),
                                "tk-bt-portfolio")
        strategies = list(self._strategies.items())
        self.strategy = styled(widgets.Dropdown(options=strategies, value=strategies[0][1] if strategies else None,
                                                description="Strategy", style=wide, layout={"width": "420px"}),
                               "tk-bt-strategy")
        self.start = styled(DateField(date(2019, 1, 2), description="From", style=wide, layout={"width": "180px"}),
                            "tk-bt-start")
        self.end = styled(DateField(date(2022, 12, 28), description="To", style=wide, layout={"width": "170px"}),
                          "tk-bt-end")
        self.run_button = styled(widgets.Button(description="Run backtest", icon="play", button_style="primary",
                                                layout={"width": "140px"}), "tk-bt-run")
        self.progress = styled(widgets.FloatProgress(value=0, min=0, max=1, description="", bar_style="info",
                                                     layout={"width": "260px", "visibility": "hidden"}),
                               "tk-bt-progress")
        self.status = styled(widgets.HTML(), "tk-bt-status")
        self.message = styled(widgets.HTML(), "tk-bt-message")
        self.stats = styled(widgets.HTML(), "tk-bt-stats")
        self.chart = styled(Chart(layout={"width": "100%", "min_height": "520px"}), "tk-bt-chart")
        self.years = styled(widgets.HTML(), "tk-bt-years", "tk-table")
        self.positions = styled(widgets.HTML(), "tk-bt-positions", "tk-table")
        self.run_button.on_click(lambda _b: self.run())
        controls = styled(widgets.HBox([self.portfolio, self.strategy, self.start, self.end, self.run_button]),
                          "tk-bt-controls")
        note = ("Runs the risk platform's backtest (PUT, then GET /portfolio/backtest) on the portfolio's holdings: "
                "the strategy's portfolio rule re-optimises on the first trading day of each month, its tactical "
                "rules set each position's stop and limit. Prices are the shipped closes.")
        if not self._strategies:
            self.message.value = error_html(ValueError("This workspace has no strategies: create one with "
                                                       "ws.strategies.create (PUT /strategy) first."))
            self.run_button.disabled = True
        self.widget = styled(widgets.VBox([
            widgets.HTML(STYLE + PAGE_STYLE + "<div class='tk-title'><h2>Backtest</h2></div>"
                         f"<p class='tk-muted'>{html.escape(note)}</p>"),
            controls, widgets.HBox([self.progress, self.status]), self.message, self.stats, self.chart,
            widgets.HTML("<h4>Calendar years</h4>"), self.years,
            widgets.HTML(f"<h4>Positions (latest {POSITIONS})</h4>"), self.positions]), "tk-app", "tk-bt-app")

    def request(self) -> dict:
        return {"client_reference": self.portfolio.value, "strategy_id": self.strategy.value,
                "start_date": self.start.text, "end_date": self.end.text}

    def _clear(self) -> None:
        self.result = None
        self.stats.value = self.years.value = self.positions.value = ""
        self.chart.clear()

    def run(self) -> None:
        """PUT the backtest, follow the job with the progress bar, and show its answer."""
        self._clear()
        self.message.value = ""
        request = self.request()
        try:
            started = self.ws.backtests.start(request)
        except Exception as exc:  # noqa: BLE001 - every refusal is shown as the façade words it
            self.message.value = error_html(exc)
            return
        for control in (self.run_button, self.portfolio, self.strategy, self.start, self.end):
            control.disabled = True
        self.progress.layout.visibility = "visible"
        began, answer = time.monotonic(), started
        try:
            query = {"client_reference": request["client_reference"], "strategy_id": request["strategy_id"]}
            while answer.status == "Started":
                self._tick(answer, time.monotonic() - began)
                answer = self.ws.backtests.get(query, wait=POLL)
        finally:
            for control in (self.run_button, self.portfolio, self.strategy, self.start, self.end):
                control.disabled = False
            self.progress.layout.visibility = "hidden"
        self.status.value = ""
        if answer.status != "Completed":
            reason = answer.to_dict().get("error") or "the job was not queued"
            self.message.value = error_html(RuntimeError(f"The backtest did not complete: {reason}"))
            return
        self.result = answer
        self._show(answer)

    def _tick(self, answer: Backtest, elapsed: float) -> None:
        self.progress.value = answer.progress
        self.status.value = (f"<span class='tk-muted'>Running… {answer.progress:.0%} of the rebalance dates, "
                             f"{elapsed:,.0f} s</span>")

    def _show(self, result: Backtest) -> None:
        answer = result.to_dict()
        benchmark = None
        if self._market is not None:
            closes = self.ws.history.prices([self._market], start=answer["startDate"], end=answer["endDate"])
            benchmark = closes["close"].isel(instrument=0)
        view = backtest_view(result, benchmark)
        name = self.portfolio.label or ""
        self.chart.show(backtest_chart(view, f"{name}, {self.strategy.label}: {answer['startDate']} to "
                                             f"{answer['endDate']}"))
        self.years.value = table_html(view.years)
        self.positions.value = table_html(positions_table(result), "No positions were opened.")
        figures = []  # the statistics last: when they show, the rest is on the page
        for key, label in STATISTICS:
            value = answer[key]
            text = amount(value) if isinstance(value, float | int) else str(value)
            figures.append(f"<span><span class='tk-muted'>{html.escape(label)}</span> "
                           f"<span class='tk-figure' data-stat='{key}'>{html.escape(text)}</span></span>")
        self.stats.value = f"<div class='tk-bt-figures'>{''.join(figures)}</div>"


def backtest_app(ws: Workspace | None = None) -> widgets.VBox:
    """Build the backtest app on a workspace (the configured or demo one by default)."""
    return page(BacktestApp(ws or Workspace.from_env()).widget)
