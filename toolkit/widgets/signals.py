"""The signals app: one instrument's real candles with its SuperTrend, ATR stop, supports and resistances
and RSI, and an order form judged by the tactical rules (``ws.rules.evaluate``).

The chart (:func:`signal_chart`) draws what the rules read: the candles, the SuperTrend line (rule 7's
defaults), the ATR stop (rule 3's default stop of an entry at each close: ``factor`` ATRs of ``period`` below it for
a Long, above it for a Short), the last minor and major supports and resistances known on each bar (rules 5 and 10), the
order's entry, stop and limit, and Wilder's RSI 14 with the overbought and oversold limits of rule 4. The
form's answer is the rules' verdicts, PASS or FAIL with their commentary, and the order as the rules filled
it in (entry at market, stop, limit, size). Only instruments with real highs and lows are offered
(``ws.rules.with_candles``); nothing is written.

"Book order" picks one of the book's own placed orders that the rules judged when it was placed
(``ws.tactics``: the Tech tactical mandate's child orders, each with the stop and limit rules 3 and 5 set): its
stored verdicts are shown, PASS or FAIL with their commentary, on the candles up to its execution date.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
import xarray as xr
from plotly.subplots import make_subplots

from toolkit.schema import INSTRUMENT, TIME, Timeframe
from toolkit.signals import atr, rsi, supertrend, support_resistance
from toolkit.widgets.components import STYLE, Chart, error_html, page, styled
from toolkit.workspace import Workspace
from toolkit.workspace.rules import Evaluation

#: candles shown by default
CANDLES = 250
#: the rules the form runs: the document's eleven with their defaults
RULE_IDS = tuple(range(1, 12))
#: the "Book order" choice that leaves the form to a new order
NEW_ORDER = "— a new order (the form) —"

PAGE_STYLE = """
<style>
.tk-sig-app .tk-sig-controls { gap: 4px 16px; flex-wrap: wrap; align-items: center; }
.tk-sig-order { margin: 6px 0; font-size: 1.05em; }
.tk-sig-order .tk-figure { font-weight: 600; margin-right: 12px; }
.tk-sig-results table { border-collapse: collapse; font-size: 0.88em; width: 100%; }
.tk-sig-results th, .tk-sig-results td { border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: left;
  vertical-align: top; }
.tk-sig-results th { background: #f3f5f7; }
.tk-pass { color: #1b5e20; background: #e8f5e9; font-weight: 600; padding: 1px 6px; border-radius: 3px; }
.tk-fail { color: #b71c1c; background: #fdecea; font-weight: 600; padding: 1px 6px; border-radius: 3px; }
.tk-sig-results td.tk-sig-commentary { white-space: pre-line; }
</style>
"""


def _line(x: list[str], y: np.ndarray, name: str, color: str, dash: str | None = None,
          shape: str = "linear") -> go.Scatter:
    return go.Scatter(x=x, y=y, name=name, mode="lines", line={"color": color, "width": 1.4, "dash": dash,
                                                                "shape": shape}, connectgaps=False)


def signal_chart(bars: xr.Dataset, order: dict | None = None, candles: int = CANDLES, direction: str = "Long",
                 atr_factor: float = 1.0, atr_period: int = 40, rsi_limits: tuple[float, float] = (30, 70),
                 title: str | None = None) -> go.Figure:
    """Candles of one instrument with SuperTrend, the trailing ATR stop, supports and resistances, and RSI.

    Parameters
    ----------
    bars : xr.Dataset
        OHLCV over ``(instrument, time)`` with one instrument (the first is drawn), real highs and lows.
    order : dict, optional
        A ``tactical_analysis`` item's ``order`` (``level``, ``stop``, ``limit``): drawn as horizontal lines.
    candles : int
        How many of the last candles to draw (the indicators use the whole history).
    direction : str
        ``Long`` (the ATR stop below the closes) or ``Short`` (above them).
    atr_factor, atr_period : float, int
        Rule 3's ATR factor and period (defaults 1 and 40, the document's).
    rsi_limits : tuple of float
        Rule 4's oversold and overbought RSI levels (default 30, 70).
    title : str, optional
        The chart's title; default the instrument's symbol.

    Returns
    -------
    go.Figure
        Two rows: price (candlesticks and lines), RSI 14.
    """
    one = bars.isel({INSTRUMENT: slice(0, 1)})
    trend = supertrend(one).isel({INSTRUMENT: 0})
    levels = support_resistance(one).isel({INSTRUMENT: 0})
    strength = rsi(one["close"]).isel({INSTRUMENT: 0})
    band = atr(one, atr_period).isel({INSTRUMENT: 0})
    side = 1 if direction == "Long" else -1
    bar = one.isel({INSTRUMENT: 0})
    stop_line = bar["close"] - side * atr_factor * band  # rule 3's default stop of an entry at each close
    tail = slice(-candles, None)
    times = bar[TIME].values[tail]
    intraday = len(times) > 1 and (np.diff(times) < np.timedelta64(1, "D")).any()
    x = [str(t)[:16 if intraday else 10].replace("T", " ") for t in times]
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.74, 0.26], vertical_spacing=0.04)
    figure.add_trace(go.Candlestick(x=x, open=bar["open"].values[tail], high=bar["high"].values[tail],
                                    low=bar["low"].values[tail], close=bar["close"].values[tail], name="candles",
                                    increasing_line_color="#2e7d32", decreasing_line_color="#c62828"), 1, 1)
    up = np.where(trend["direction"].values[tail] > 0, trend["supertrend"].values[tail], np.nan)
    down = np.where(trend["direction"].values[tail] < 0, trend["supertrend"].values[tail], np.nan)
    figure.add_trace(_line(x, up, "SuperTrend (up)", "#2e7d32"), 1, 1)
    figure.add_trace(_line(x, down, "SuperTrend (down)", "#c62828"), 1, 1)
    figure.add_trace(_line(x, stop_line.values[tail], f"ATR stop ({atr_factor:g} x ATR {atr_period})", "#6a1b9a",
                           "dot"), 1, 1)
    for key, name, color, dash in (("minor_resistance", "minor resistance", "#ef6c00", "dot"),
                                   ("major_resistance", "major resistance", "#ef6c00", None),
                                   ("minor_support", "minor support", "#1565c0", "dot"),
                                   ("major_support", "major support", "#1565c0", None)):
        figure.add_trace(_line(x, levels[key].values[tail], name, color, dash, "hv"), 1, 1)
    for key, name, color, where in (("level", "entry", "#212121", "top left"), ("stop", "stop", "#c62828", "right"),
                                    ("limit", "limit", "#2e7d32", "bottom right")):
        value = (order or {}).get(key)
        if value is not None and np.isfinite(value):
            figure.add_hline(y=value, line={"color": color, "width": 1, "dash": "dash"}, row=1, col=1,
                             annotation_text=f"{name} {value:,.2f}", annotation_position=where)
    figure.add_trace(_line(x, strength.values[tail], "RSI 14", "#37474f"), 2, 1)
    for limit in rsi_limits:
        figure.add_hline(y=limit, line={"color": "#9e9e9e", "width": 1, "dash": "dot"}, row=2, col=1)
    symbol = str(bar["symbol"].values) if "symbol" in bar.coords else str(bar[INSTRUMENT].values)
    figure.update_layout(height=560, template="plotly_white", hovermode="x unified",
                         margin={"l": 55, "r": 90, "t": 50, "b": 40}, legend={"orientation": "h", "y": -0.08},
                         title=title or f"{symbol}: candles, SuperTrend, ATR stop, supports and resistances",
                         xaxis_rangeslider_visible=False)
    figure.update_xaxes(type="category", nticks=10)
    figure.update_yaxes(title_text="price", row=1, col=1)
    figure.update_yaxes(title_text="RSI", range=[0, 100], row=2, col=1)
    return figure


def _lines(text: str) -> str:
    """A commentary's lines without the document's blank ones."""
    return "\n".join(line for line in text.splitlines() if line.strip())


def _item(evaluation: Evaluation | dict, n: int) -> dict:
    """Order ``n``'s ``tactical_analysis`` item of an evaluation, or the item itself (a stored one)."""
    return evaluation if isinstance(evaluation, dict) else evaluation.to_dict()["tactical_analysis"][n]


def verdicts_html(evaluation: Evaluation | dict, n: int = 0) -> str:
    """The rules' verdicts on order ``n`` (or of a ``tactical_analysis`` item): rule, PASS/FAIL, commentary
    (escaped)."""
    item = _item(evaluation, n)
    rows = "".join(
        f"<tr class='tk-sig-rule' data-rule='{r['rule_id']}'><td>{r['rule_id']}</td><td>{html.escape(r['rule_name'])}"
        f"</td><td><span class='tk-{r['validated'].lower()}'>{r['validated']}</span></td>"
        f"<td class='tk-sig-commentary'>{html.escape(_lines(r['commentary']))}</td></tr>" for r in item["results"])
    return ("<table><thead><tr><th>id</th><th>rule</th><th>verdict</th><th>commentary</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def order_html(evaluation: Evaluation | dict, n: int = 0) -> str:
    """The order as the rules filled it in, each defaulted field marked, and the order's verdict (of an
    evaluation's order ``n``, or of a ``tactical_analysis`` item)."""
    item = _item(evaluation, n)
    order = item["order"]
    parts = []
    for key, label in (("level", "Entry"), ("stop", "Stop"), ("limit", "Limit"), ("size", "Size")):
        text = order[f"print_{key}"]
        if key == "level" and "level" in order["defaulted"]:
            text = f"{order['level']:,.2f} (market)"
        mark = " <span class='tk-muted'>(rule default)</span>" if key in order["defaulted"] and key != "level" else ""
        parts.append(f"<span class='tk-figure tk-sig-{key}'>{label} {html.escape(text)}{mark}</span>")
    verdict = item["validated"]
    return (f"<span class='tk-sig-verdict tk-{verdict.lower()}'>{verdict}</span> "
            f"<b>{html.escape(item['instrument_code'])}</b> {html.escape(order['direction'])} · " + " ".join(parts))


class SignalsApp:
    """The page's state and callbacks; ``.widget`` is what the app displays."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.evaluation: Evaluation | None = None
        listed = ws.rules.with_candles()
        self._series = {f"{r.symbol} · {r.name} (apiid {r.apiid})": (r.instrument_code, int(r.apiid))
                        for r in listed.itertuples()}
        judged = ws.tactics.list()
        self._judged = judged
        self._book_orders = [(NEW_ORDER, -1)] + [
            (f"{r.execution_date} · {r.side} · {r.symbol} {r.direction} · {r.validated}", n)
            for n, r in enumerate(judged.itertuples())]
        self._build()

    def _build(self) -> None:
        wide = {"description_width": "initial"}
        self.instrument = styled(widgets.Dropdown(options=list(self._series), description="Instrument", style=wide,
                                                  layout={"width": "360px"}), "tk-sig-instrument")
        self.direction = styled(widgets.ToggleButtons(options=["Long", "Short"], value="Long",
                                                      style={"button_width": "70px"}), "tk-sig-direction")
        self.timeframe = styled(widgets.Dropdown(options=[(t.label, int(t)) for t in Timeframe],
                                                 value=int(Timeframe.DAY), description="Timeframe", style=wide,
                                                 layout={"width": "210px"}), "tk-sig-timeframe")
        number = {"style": wide, "layout": {"width": "170px"}, "min": 0.0, "max": 1e12}
        self.level = styled(widgets.BoundedFloatText(value=0.0, description="Entry", **number), "tk-sig-level")
        self.stop = styled(widgets.BoundedFloatText(value=0.0, description="Stop", **number), "tk-sig-stop-input")
        self.limit = styled(widgets.BoundedFloatText(value=0.0, description="Limit", **number), "tk-sig-limit-input")
        self.size = styled(widgets.BoundedFloatText(value=0.0, description="Size", **number), "tk-sig-size-input")
        self.capital = styled(widgets.BoundedFloatText(value=100000.0, description="Capital", **number),
                              "tk-sig-capital")
        hint = widgets.HTML("<span class='tk-muted'>0 = leave it to the rules: entry at market, stop by rule 3, "
                            "limit by rule 5, size by rule 2.</span>")
        self.run = styled(widgets.Button(description="Evaluate", button_style="primary", icon="check"), "tk-sig-run")
        self.run.on_click(lambda _: self.evaluate())
        self.message = styled(widgets.HTML(), "tk-sig-message")
        self.order = styled(widgets.HTML(), "tk-sig-order")
        self.chart = styled(Chart(), "tk-sig-chart")
        self.results = styled(widgets.HTML(), "tk-sig-results")
        self.book_order = styled(widgets.Dropdown(options=self._book_orders, value=-1, description="Book order",
                                                  style=wide, layout={"width": "440px"}), "tk-sig-book")
        self.book_order.observe(lambda change: self.show_book_order(), names="value")
        controls = styled(widgets.HBox([self.instrument, self.direction, self.timeframe, self.book_order]),
                          "tk-sig-controls")
        form = styled(widgets.HBox([self.level, self.stop, self.limit, self.size, self.capital, self.run]),
                      "tk-sig-controls")
        title = styled(widgets.HTML("<h2>Tactical signals</h2><p class='tk-muted'>An order judged by the risk "
                                    "platform's tactical rules 1-11 on real candles.</p>"), "tk-title")
        self.widget = styled(widgets.VBox([widgets.HTML(STYLE + PAGE_STYLE), title, controls, form, hint,
                                           self.message, self.order, self.chart, self.results]),
                             "tk-app", "tk-sig-app")

    def request(self) -> dict[str, Any]:
        """The form as the document's order."""
        code, apiid = self._series[self.instrument.value]
        order: dict[str, Any] = {"instrument_code": code, "apiid": apiid, "direction": self.direction.value,
                                 "timeframe": self.timeframe.value, "capital": self.capital.value or None}
        for key, box in (("level", self.level), ("stop", self.stop), ("limit", self.limit), ("size", self.size)):
            if box.value:
                order[key] = box.value
        return order

    def evaluate(self) -> None:
        """Judge the form's order and draw the chart; a refusal is shown, nothing is written."""
        self.run.disabled = True
        self.message.value = "<span class='tk-spinner'></span>Evaluating…"
        try:
            order = self.request()
            self.evaluation = self.ws.rules.evaluate(order, list(RULE_IDS))
            item = self.evaluation.to_dict()["tactical_analysis"][0]
            bars = self.evaluation.bars[int(order["timeframe"])]
            label = Timeframe(int(order["timeframe"])).label
            self.chart.show(signal_chart(bars, item["order"], direction=order["direction"],
                                         title=f"{order['instrument_code']} ({label}): candles, SuperTrend, ATR "
                                               "stop, supports and resistances"))
            self.order.value = order_html(self.evaluation)
            self.results.value = verdicts_html(self.evaluation)
            self.message.value = ""
        except Exception as exc:  # noqa: BLE001 - every refusal is shown on the page
            self.evaluation = None
            self.order.value = self.results.value = ""
            self.chart.clear()
            self.message.value = error_html(exc)
        finally:
            self.run.disabled = False


    def show_book_order(self) -> None:
        """Show the picked book order's stored verdicts on its candles up to its execution date (nothing is
        evaluated again, nothing is written); the new-order form when none is picked."""
        n = self.book_order.value
        if n is None or n < 0:
            self.evaluate()
            return
        row = self._judged.iloc[n]
        try:
            item = self.ws.tactics.analysis(row["portfolio_order_id"])[int(row["position"])]
            bars = self.ws.history.prices([row["instrument_id"]], end=row["execution_date"])
            self.chart.show(signal_chart(bars, item["order"], direction=row["direction"],
                                         title=f"{row['instrument_code']} on {row['execution_date']}: the book's "
                                               f"{row['side']} order, stop and limit set by rules 3 and 5"))
            self.order.value = order_html(item)
            self.results.value = verdicts_html(item)
            self.message.value = ""
        except Exception as exc:  # noqa: BLE001 - every refusal is shown on the page
            self.order.value = self.results.value = ""
            self.chart.clear()
            self.message.value = error_html(exc)


def signals_app(ws: Workspace | None = None) -> widgets.VBox:
    """The signals app on ``ws`` (default the workspace the environment names), first order evaluated."""
    app = SignalsApp(ws or Workspace.from_env())
    app.evaluate()
    return page(app.widget)


__all__ = ["SignalsApp", "order_html", "signal_chart", "signals_app", "verdicts_html"]
