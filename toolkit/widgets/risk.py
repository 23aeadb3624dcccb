"""The risk app: a risk dashboard of one instrument or portfolio, against a benchmark.

Every number comes from the façade (``ws.analytics.instrument`` / ``portfolio`` / ``benchmark``):
historical VaR and CVaR at 90 / 95 / 97.5% over the horizons the window supports, volatility,
the commentary sentences, betas to every factor proxy, the single-index regression, and for a
portfolio the Euler contributions of its components to volatility and to CVaR with its
diversification ratio. The page picks the request and formats the answer (losses and returns in
%); a refused request (too little history, no data in the window) shows the façade's sentence.
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
import pandas as pd

from toolkit.analytics import risk as rk
from toolkit.reporting import risk_views as views
from toolkit.reporting.formatting import percent
from toolkit.widgets.components import STYLE, Chart, error_html, page, styled, table_html
from toolkit.workspace import Workspace
from toolkit.workspace.analytics import InstrumentAnalytics, PortfolioAnalytics

INSTRUMENT, PORTFOLIO = "Instrument", "Portfolio"
#: window choices: label -> years back from the subject's latest data (None: its whole history)
PERIODS = {"1Y": 1, "3Y": 3, "5Y": 5, "10Y": 10, "Full history": None}
#: the benchmark that every page starts with, and the choice of none
MARKET, NONE = "SPX", "__none__"
#: benchmark choices beyond the market index: the instrument types offered
BENCHMARK_TYPES = ("Index", "ETF")

#: the components table's headings
COMPONENT_COLUMNS = {"weight": "Weight", "volatility_marginal": "Marginal volatility",
                     "volatility_contribution": "Contribution to volatility", "volatility_percent": "% of volatility",
                     "cvar_marginal": "Marginal CVaR", "cvar_contribution": "Contribution to CVaR",
                     "cvar_percent": "% of CVaR"}

PAGE_STYLE = """
<style>
.tk-risk-app .tk-risk-controls { gap: 4px 18px; flex-wrap: wrap; align-items: center; }
.tk-risk-headline { font-size: 1.05em; margin: 6px 0; }
.tk-risk-headline .tk-figure { font-size: 1.2em; font-weight: 600; margin-right: 14px; }
.tk-risk-commentary ul { margin: 4px 0; padding-left: 20px; }
.tk-risk-commentary li { margin: 2px 0; }
.tk-risk-benchmark table, .tk-risk-table table, .tk-components table { width: 100%; }
.tk-risk-grid > div { min-width: 0; }
.tk-risk-table { overflow-x: auto; }
</style>
"""


def horizons_for(years: int | None) -> list[str]:
    """The horizons a window of ``years`` holds enough returns for: a tail at 97.5% needs 40
    (:func:`toolkit.analytics.risk.tail_need`), so months need 40 months of history."""
    need = rk.tail_need(1 - np.array(rk.LEVELS))
    return [h for h in rk.HORIZON_NAMES if years is None or years * rk.PERIODS_PER_YEAR[h] >= need]


def _percent_table(table: pd.DataFrame, counts: tuple[str, ...] = ("Observations",)) -> pd.DataFrame:
    """A risk table as display text: fractions in percent, the ``counts`` columns as whole numbers with
    their thousands grouped."""
    shown = pd.DataFrame({c: table[c].map(lambda n: f"{int(n):,}") if c in counts else percent(table[c])
                          for c in table.columns}, index=table.index)
    return shown.reset_index()


def _figure(label: str, value: str) -> str:
    return f"<span class='tk-muted'>{html.escape(label)}</span> <span class='tk-figure'>{html.escape(value)}</span>"


class RiskApp:
    """The page's state and callbacks; ``.widget`` is what the app displays."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._quiet = False
        self.result: InstrumentAnalytics | PortfolioAnalytics | None = None
        table = ws.instruments.table()
        table = table[table["n_records"] > 0]
        self._instruments = table.set_index("instrument_id")
        self._portfolios = {f"Account: {a.name or a.id[:8]}": a.id for a in ws.accounts.list(type="PORTFOLIO")}
        self._models = {f"Model: {a.name or a.id[:8]}": {x["instrument_id"]: float(x["weight"]) for x in
                                                        a.to_dict()["allocation"]} for a in ws.allocations.list()}
        self._portfolios |= {f"Uploaded: {p.name or p.client_reference}": p.client_reference
                             for p in ws.portfolios.list()}
        self._build()
        self.refresh()

    # -- layout ---------------------------------------------------------------------------------
    def _instrument_options(self, types: tuple[str, ...] | None = None) -> list[tuple[str, str]]:
        rows = self._instruments if types is None else self._instruments[
            self._instruments["instrument_type"].isin(types)]
        twice = rows["symbol"].duplicated(keep=False)
        return [(f"{r['symbol']} · {r['name']}" + (f" ({r['source']})" if twice[i] else ""), i)
                for i, r in rows.iterrows()]

    def _default_id(self, symbol: str) -> str | None:
        """The instrument of ``symbol`` with the longest history (the shipped S&P 500 one for SPX)."""
        rows = self._instruments[self._instruments["symbol"] == symbol]
        return None if rows.empty else str(rows["history_end"].idxmax() if rows["history_end"].nunique() > 1
                                           else rows.index[0])

    def _build(self) -> None:
        wide = {"description_width": "initial"}
        self.subject = styled(widgets.ToggleButtons(options=[INSTRUMENT, PORTFOLIO], value=INSTRUMENT,
                                                    style={"button_width": "100px"}), "tk-risk-subject")
        options = self._instrument_options()
        self.instrument = styled(widgets.Dropdown(options=options, value=self._default_id("AAPL") or options[0][1],
                                                  description="Instrument", style=wide, layout={"width": "360px"}),
                                 "tk-risk-instrument")
        choices = list(self._portfolios.items()) + [(k, k) for k in self._models]
        self.portfolio = styled(widgets.Dropdown(options=choices, value=choices[0][1] if choices else None,
                                                 description="Portfolio", style=wide,
                                                 layout={"width": "360px", "display": "none"}), "tk-risk-portfolio")
        market = self._default_id(MARKET)
        benchmarks = [(label, key) for label, key in self._instrument_options(BENCHMARK_TYPES)]
        benchmarks.sort(key=lambda item: item[1] != market)
        self.benchmark = styled(widgets.Dropdown(options=benchmarks + [("None", NONE)],
                                                 value=market if market else NONE, description="Benchmark",
                                                 style=wide, layout={"width": "360px"}), "tk-risk-benchmark-choice")
        self.period = styled(widgets.Dropdown(options=list(PERIODS), value="5Y", description="Window", style=wide,
                                              layout={"width": "190px"}), "tk-risk-period")
        self.level = styled(widgets.Dropdown(options=[(views.level_label(lv), lv) for lv in rk.LEVELS], value=0.95,
                                             description="Level", style=wide, layout={"width": "150px"}),
                            "tk-risk-level")
        self.horizon = styled(widgets.Dropdown(options=list(rk.HORIZON_NAMES), value="day",
                                               description="Contributions over", style=wide,
                                               layout={"width": "230px"}), "tk-risk-horizon")
        self.update_button = styled(widgets.Button(description="Update", icon="refresh", button_style="primary",
                                                   layout={"width": "110px"}), "tk-risk-update")
        self.busy = styled(widgets.HTML(), "tk-risk-busy")
        self.message = styled(widgets.HTML(), "tk-risk-message")
        self.headline = styled(widgets.HTML(), "tk-risk-headline")
        self.commentary = styled(widgets.HTML(), "tk-risk-commentary")
        self.table = styled(widgets.HTML(), "tk-risk-table", "tk-table")
        self.bench = styled(widgets.HTML(), "tk-risk-benchmark", "tk-table")
        self.components = styled(widgets.HTML(), "tk-components", "tk-table")
        self.risk_chart = styled(Chart(layout={"width": "100%", "min_height": "380px"}), "tk-risk-chart")
        self.contribution_chart = styled(Chart(layout={"width": "100%", "min_height": "380px"}),
                                         "tk-contribution-chart")
        self.exposure_chart = styled(Chart(layout={"width": "100%", "min_height": "380px"}), "tk-exposure-chart")
        self.contribution_box = widgets.VBox([widgets.HTML("<h3>Contributions to risk</h3>"), self.contribution_chart,
                                              self.components], layout={"display": "none"})
        self.subject.observe(self._on_subject, "value")
        for control in (self.instrument, self.portfolio, self.benchmark, self.period, self.level, self.horizon):
            control.observe(self._on_change, "value")
        self.update_button.on_click(lambda _button: self.refresh())
        half = {"width": "49%"}
        self.widget = styled(widgets.VBox([
            widgets.HTML(STYLE + PAGE_STYLE + "<div class='tk-title'><h2>Risk dashboard</h2></div>"
                         "<p class='tk-muted'>Historical risk of daily closes: VaR and CVaR (losses, in %) at three "
                         "confidence levels over a day, a week (to Friday) and a month (to the ultimo), exposures "
                         "to the market, style and sector proxies, and, for a portfolio, what each holding "
                         "contributes to its risk.</p>"),
            styled(widgets.HBox([self.subject, self.instrument, self.portfolio]), "tk-risk-controls"),
            styled(widgets.HBox([self.benchmark, self.period, self.level, self.horizon, self.update_button,
                                 self.busy]), "tk-risk-controls"),
            self.message, self.headline, self.commentary,
            widgets.HTML("<h3>Value at risk and expected shortfall</h3>"), self.table,  # the page's width: no
            styled(widgets.HBox([                                                         # column is cut off
                widgets.VBox([self.risk_chart], layout=half),
                widgets.VBox([widgets.HTML("<h3>Factor exposures</h3>"), self.exposure_chart,
                              widgets.HTML("<h3>Against the benchmark</h3>"), self.bench], layout=half),
            ], layout={"justify_content": "space-between"}), "tk-risk-grid"),
            self.contribution_box,
        ]), "tk-app", "tk-risk-app")

    # -- callbacks ------------------------------------------------------------------------------
    def _on_subject(self, _change: object = None) -> None:
        portfolio = self.subject.value == PORTFOLIO
        self.instrument.layout.display = "none" if portfolio else ""
        self.portfolio.layout.display = "" if portfolio else "none"
        self.horizon.layout.display = "" if portfolio else "none"
        self.refresh()

    def _on_change(self, _change: object = None) -> None:
        if not self._quiet:
            self.refresh()

    # -- the request ----------------------------------------------------------------------------
    def window(self) -> tuple[str | None, str | None]:
        """Start and end of the chosen window: ``n`` years up to the subject's latest close."""
        if self.subject.value == INSTRUMENT:
            end = pd.Timestamp(self._instruments.loc[self.instrument.value, "history_end"])
        else:
            end = pd.Timestamp(self._instruments["history_end"].max())
        years = PERIODS[self.period.value]
        if years is None:
            return None, end.date().isoformat()
        return (end - pd.DateOffset(years=years) + pd.Timedelta(days=1)).date().isoformat(), end.date().isoformat()

    def _portfolio_spec(self) -> str | dict:
        key = self.portfolio.value
        return self._models.get(key, key)

    def refresh(self) -> None:
        """Ask ``ws.analytics`` for the chosen subject and show the answer (or why it was refused)."""
        self.update_button.disabled = True
        self.busy.value = "<span class='tk-spinner'></span><span class='tk-muted'>Computing…</span>"
        self.message.value = ""
        try:
            self._compute()
        except Exception as exc:  # noqa: BLE001 - every failure becomes a readable message in the page
            self.result = None
            for box in (self.headline, self.commentary, self.table, self.bench, self.components):
                box.value = ""
            for chart in (self.risk_chart, self.exposure_chart, self.contribution_chart):
                chart.clear()
            self.contribution_box.layout.display = "none"
            self.message.value = error_html(exc)  # last: once the page shows it, nothing stale is left
        finally:
            self.busy.value = ""
            self.update_button.disabled = False

    def _compute(self) -> None:
        start, end = self.window()
        horizons = horizons_for(PERIODS[self.period.value])
        bench = None if self.benchmark.value == NONE else self.benchmark.value
        result: InstrumentAnalytics | PortfolioAnalytics
        if self.subject.value == INSTRUMENT:
            result = self.ws.analytics.instrument(self.instrument.value, start=start, end=end, horizons=horizons)
            label = result.labels()[0]
            name = f"{label} · {self._instruments.loc[self.instrument.value, 'name']}"
            against = None if bench is None else self.ws.analytics.benchmark(
                self.instrument.value, bench, start=start, end=end, level=self.level.value)
        else:
            if self.portfolio.value is None:
                raise LookupError("No portfolio in this workspace yet: run the demo book or upload one.")
            horizon = self.horizon.value if self.horizon.value in horizons else "day"
            analysed = self.ws.analytics.portfolio(self._portfolio_spec(), start=start, end=end, horizons=horizons,
                                                   level=self.level.value, horizon=horizon, benchmark=bench)
            result, label, name, against = analysed, analysed.labels()[0], self.portfolio.label, analysed.benchmark
        self.result = result
        self._show(result, label, name, against)

    # -- the answer -----------------------------------------------------------------------------
    def _show(self, result, label: str, name: str, against) -> None:
        one = result.risk.sel({result.dim: label})
        span = result.span.sel({result.dim: label})
        level = self.level.value
        at = one.sel(horizon="day", level=level)
        figures = [_figure("Annualised volatility", percent(float(at["annual_volatility"]))),
                   _figure(f"1-day VaR {views.level_label(level)}", percent(float(at["var"]))),
                   _figure(f"1-day CVaR {views.level_label(level)}", percent(float(at["cvar"])))]
        if self.subject.value == PORTFOLIO:
            div = result.diversification.sel({result.dim: label})
            figures.append(_figure("Diversification ratio", f"{float(div['ratio']):.2f} ({div['rating'].item()})"))
        sentences = views.commentary(one, level)
        self.commentary.value = "<ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in sentences) + "</ul>"
        self.table.value = table_html(_percent_table(views.risk_table(one).drop(columns=["Volatility"])))
        self.risk_chart.show(views.risk_chart(one, f"Historical VaR and CVaR: {name}"))
        if result.exposures is not None:
            self.exposure_chart.show(views.exposure_chart(result.exposures.sel({result.dim: label}),
                                                          f"Betas to the factor proxies: {name}"))
        else:
            self.exposure_chart.clear()
        self.bench.value = self._benchmark_html(result, label, against)
        if self.subject.value == PORTFOLIO:
            figure = result.contribution_chart(label)
            self.contribution_chart.show(figure.update_layout(
                title=f"Contributions to risk: {name} ({result.horizon} returns)", template="plotly_white"))
            table = result.contributions_table(label).drop(columns=["symbol"], errors="ignore")
            self.components.value = table_html(_percent_table(table.rename(columns=COMPONENT_COLUMNS), counts=()))
            self.contribution_box.layout.display = ""
        else:
            self.contribution_chart.clear()
            self.components.value = ""
            self.contribution_box.layout.display = "none"
        self.headline.value = (
            f"<div><b>{html.escape(name)}</b> · {pd.Timestamp(span['start'].values).date()} to "
            f"{pd.Timestamp(span['end'].values).date()} · {int(span['observations']):,} daily returns</div>"
            f"<div>{' '.join(figures)}</div>")

    @staticmethod
    def _benchmark_html(result, label: str, against) -> str:
        rows = []
        if result.regression is not None:
            fit = result.regression.sel({result.dim: label})
            rows += [("Model", ", ".join(map(str, fit["factor"].values))),
                     ("Alpha (annual)", percent(float(fit["alpha_annual"]))), ("R²", f"{float(fit['r_squared']):.2f}"),
                     ("Idiosyncratic risk (annual)", percent(float(fit["idiosyncratic_vol"])))]
        if against is not None:
            row = against.row(label)
            rows += [(f"Benchmark {row['benchmark']}: beta", f"{row['beta']:.2f}"),
                     ("Alpha against it (annual)", percent(row["alpha"])), ("R²", f"{row['rSquared']:.2f}"),
                     ("Tracking error (annual)", percent(row["trackingError"])),
                     (f"Active CVaR {views.level_label(row['level'])}, 1 day", percent(row["activeCvar"]))]
            notes = "".join(f"<li>{html.escape(s)}</li>" for s in row["commentary"])
        else:
            notes = "<li>No benchmark chosen.</li>"
        table = table_html(pd.DataFrame(rows, columns=["measure", "value"]), "No regression for this window.")
        return f"{table}<div class='tk-risk-commentary'><ul>{notes}</ul></div>"


def risk_app(ws: Workspace | None = None) -> widgets.VBox:
    """Build the risk app on a workspace (the configured or demo one by default)."""
    return page(RiskApp(ws or Workspace.from_env()).widget)
