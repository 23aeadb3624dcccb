"""The market data explorer: search instruments, chart prices, read history status, upload a CSV."""

from __future__ import annotations

from typing import cast

import ipywidgets as widgets
import pandas as pd

from toolkit.errors import ToolkitError
from toolkit.market.history import read_csv_history
from toolkit.market.instruments import with_codes
from toolkit.reporting.charts import price_chart
from toolkit.schema import Timeframe
from toolkit.widgets.components import STYLE, Chart, error_html, ok_html, page, styled, table_html
from toolkit.workspace import Workspace

CURRENCIES = ("local", "EUR", "USD", "GBP", "CHF", "JPY")
STATUS_COLUMNS = ["symbol", "source", "timeframe_label", "n_records", "history_start", "history_end",
                  "last_updated", "fill_from"]


def _label(row: pd.Series) -> str:
    """``AAPL · Apple Inc. (skfolio, 1990–2022; AAPL_XNGS, apiid 8)``: the risk platform's code and
    provider of the series last, where the table has them."""
    years = f"{str(row['history_start'])[:4]}–{str(row['history_end'])[:4]}" if row["n_records"] else "no data"
    code = f"; {row['instrument_code']}, apiid {row['apiid']}" if isinstance(row.get("instrument_code"), str) else ""
    return f"{row['symbol']} · {row['name']} ({row['source']}, {years}{code})"


class MarketExplorer:
    """The page's state and callbacks; ``.widget`` is what the app displays."""

    def __init__(self, ws: Workspace, selected: tuple[str, ...] = ("AAPL", "MSFT"),
                 horizon: str = "week") -> None:
        self.ws = ws
        self._quiet = False
        self.search = styled(widgets.Text(placeholder="Search name, symbol, ISIN…", description="Search",
                                          continuous_update=True), "tk-search")
        self.mic = styled(widgets.Text(placeholder="any", description="MIC", layout={"width": "160px"}), "tk-mic")
        self.results = styled(widgets.SelectMultiple(rows=8, description="Series",  # the page's width: no
                                                     layout={"width": "100%"}), "tk-results")  # name is cut
        self.currency = styled(widgets.Dropdown(options=CURRENCIES, value="local", description="Currency"),
                               "tk-currency")
        self.horizon = styled(widgets.ToggleButtons(options=["day", "week", "month"], value=horizon,
                                                    style={"button_width": "70px"}), "tk-horizon")
        self.rebase = styled(widgets.Checkbox(value=True, description="Rebase to 100", indent=False,
                                              layout={"width": "auto"}), "tk-rebase")
        self.log = styled(widgets.Checkbox(value=True, description="Log scale", indent=False,
                                           layout={"width": "auto"}), "tk-log")
        self.note = styled(widgets.HTML(), "tk-note", "tk-muted")
        self.chart = styled(Chart(layout={"width": "100%", "min_height": "420px"}), "tk-chart")
        self.status_table = styled(widgets.HTML(), "tk-status-table", "tk-table")
        self.summary = styled(widgets.HTML(), "tk-summary", "tk-muted")
        self._build_upload()
        self.search.observe(self._on_search, "value")
        self.mic.observe(self._on_search, "value")
        for control in (self.results, self.currency, self.horizon, self.rebase, self.log):
            control.observe(self._on_view, "value")
        self._refresh_summary()
        self._fill_results(preselect=selected)
        self.widget = styled(widgets.VBox([
            widgets.HTML(STYLE + "<div class='tk-title'><h2>Market data explorer</h2></div>"),
            self.summary,
            widgets.HBox([self.search, self.mic, self.currency]), self.results,
            widgets.HBox([widgets.Label("Horizon"), self.horizon, self.rebase, self.log],
                         layout={"align_items": "center", "grid_gap": "18px"}), self.chart, self.note,
            widgets.HTML("<h3>History status</h3>"), self.status_table,
            widgets.HTML("<h3>Upload OHLCV history (CSV)</h3>"), self.upload_box,
        ]), "tk-app", "tk-market-app")

    # -- search and selection -------------------------------------------------------------------
    def _fill_results(self, preselect: tuple[str, ...] = ()) -> None:
        table = self.ws.instruments.search(self.search.value or None, mic=self.mic.value or None, limit=200)
        keep = self.ws.instruments.resolve(list(preselect)) if preselect else list(self.results.value)
        known = set(table["instrument_id"])
        kept = with_codes(self._table())  # the same columns as the results: one label per series
        table = pd.concat([table, kept[kept["instrument_id"].isin(set(keep) - known)]], ignore_index=True)
        options = [(_label(r), r["instrument_id"]) for _, r in table.iterrows()]
        before = tuple(self.results.value)
        self._quiet = True
        with self.results.hold_sync():  # one message to the page: options and selection together
            self.results.value = ()
            self.results.options = options
            self.results.value = tuple(keep)
        self._quiet = False
        if tuple(keep) != before or preselect:  # a new search alone leaves the chart as it is
            self._on_view()

    def _table(self) -> pd.DataFrame:
        return self.ws.instruments.table()

    def _on_search(self, _change: object = None) -> None:
        self._fill_results()

    # -- chart and status -----------------------------------------------------------------------
    def _on_view(self, _change: object = None) -> None:
        if self._quiet:
            return
        ids = list(self.results.value)
        if ids:
            self._draw(ids)
        else:
            self.chart.clear()
            self.note.value = "Select one or more series to chart them."
        status = self.ws.history.status() if ids else pd.DataFrame(columns=["instrument_id", *STATUS_COLUMNS])
        status = status[status["instrument_id"].isin(ids)][STATUS_COLUMNS].copy()
        status["n_records"] = status["n_records"].map(lambda n: f"{int(n):,}")
        self.status_table.value = table_html(status.rename(columns={"timeframe_label": "timeframe"}),
                                             "Select series to see their history status.")

    def _draw(self, ids: list[str]) -> None:
        currency = None if self.currency.value == "local" else self.currency.value
        start, notes = None, []
        if currency:
            start = str(self.ws.history.rates["time"].values[0])[:10]
            notes.append(f"Converted at ECB euro reference rates, so from {start} on.")
        if self.rebase.value:
            notes.append("Each series rebased to 100 at its first close in view.")
        try:
            ds = self.ws.history.prices(ids, start=start, currency=currency, horizon=self.horizon.value)
        except ToolkitError as exc:
            self.chart.clear()  # the chart of the series chosen before is not these series'
            self.note.value = error_html(exc)
            return
        bars = {"day": "daily", "week": "weekly", "month": "monthly"}[self.horizon.value]
        self.chart.show(price_chart(ds, rebase=self.rebase.value, title=f"Close, {bars} bars",
                                    log=self.log.value))
        self.note.value = " ".join(notes)

    def _refresh_summary(self) -> None:
        s = self.ws.status()
        self.summary.value = (f"{s['instruments']} series · {s['price_records']:,} price records · ECB rates for "
                              f"{s['fx']['currencies']} currencies to {s['fx']['last']} · last updated "
                              f"{s['last_updated']}")

    # -- upload ---------------------------------------------------------------------------------
    def _build_upload(self) -> None:
        self.upload_isin = styled(widgets.Text(description="ISIN", placeholder="US0378331005"), "tk-upload-isin")
        self.upload_currency = styled(widgets.Text(description="Currency", value="USD",
                                                   layout={"width": "200px"}), "tk-upload-currency")
        self.upload_symbol = styled(widgets.Text(description="Symbol", placeholder="optional"), "tk-upload-symbol")
        self.upload_timeframe = styled(widgets.Dropdown(
            description="Timeframe", value=int(Timeframe.DAY),
            options=[(f"{t.value} · {t.label}", int(t)) for t in Timeframe]), "tk-upload-timeframe")
        self.upload_file = styled(widgets.FileUpload(accept=".csv,text/csv", multiple=False,
                                                     description="Choose CSV"), "tk-upload-file")
        self.upload_button = styled(widgets.Button(description="Upload", button_style="primary",
                                                   icon="upload"), "tk-upload-button")
        self.upload_message = styled(widgets.HTML(
            "<p class='tk-muted'>Columns: timestamp (or Date), open, high, low, close, volume.</p>"),
            "tk-upload-message")
        self.upload_button.on_click(self._on_upload)
        self.upload_box = widgets.VBox([
            widgets.HBox([self.upload_isin, self.upload_currency, self.upload_symbol]),
            widgets.HBox([self.upload_timeframe, self.upload_file, self.upload_button]),
            self.upload_message,
        ])

    def _on_upload(self, _button: object = None) -> None:
        if not self.upload_file.value:
            self.upload_message.value = error_html(ToolkitError("Choose a CSV file first."))
            return
        upload = self.upload_file.value[0]
        try:
            records = read_csv_history(bytes(upload["content"]))
        except (ValueError, UnicodeDecodeError) as exc:
            self.upload_message.value = error_html(ToolkitError(f"{upload['name']} is not a readable CSV: {exc}"))
            return
        payload = {"isin": self.upload_isin.value.strip(), "currency": self.upload_currency.value.strip(),
                   "timeframe": self.upload_timeframe.value, "history": records,
                   "symbol": self.upload_symbol.value.strip() or None, "name": None}
        try:
            result = cast(dict, self.ws.history.upload(payload))  # the compact form (isin, timeframe) answers a dict
        except ToolkitError as exc:
            self.upload_message.value = error_html(exc)
            return
        self.upload_message.value = ok_html(
            f"Saved {result['n_records_uploaded']:,} bars from {upload['name']}; the series now holds "
            f"{result['n_records']:,} records, next upload from {result['fill_from']}.")
        self._refresh_summary()
        self.results.value = ()
        self._fill_results(preselect=(result["instrument_id"],))


def market_app(ws: Workspace | None = None) -> widgets.VBox:
    """Build the market data explorer on a workspace (the configured or demo one by default)."""
    return page(MarketExplorer(ws or Workspace.from_env()).widget)
