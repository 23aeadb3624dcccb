"""The allocations app: edit model portfolios, list them, fund accounts, place orders, rebalance.

Every action goes through the façade (``ws.allocations``, ``ws.accounts``, ``ws.configurations``,
``ws.orders``, ``ws.rebalancings``); the order preview is ``ws.orders.preview``, which runs every
check of a real order and writes nothing.
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

import ipywidgets as widgets
import pandas as pd
import plotly.graph_objects as go

from toolkit.errors import NotFoundError, Problem, ToolkitError, ValidationError
from toolkit.trading.accounts import Account
from toolkit.trading.allocations import Allocation, stale_before
from toolkit.trading.orders import SIDES
from toolkit.widgets.components import (
    STYLE,
    Chart,
    DateField,
    amount,
    error_html,
    ok_html,
    page,
    plain_amount,
    quantity,
    styled,
    table_html,
)
from toolkit.workspace import PortfolioOrder, Workspace

CURRENCIES = ("USD", "EUR", "GBP", "CHF", "JPY")
DRIFT_TYPES = ("ABSOLUTE", "RELATIVE")
CHILD_COLUMNS = ["symbol", "side", "amount", "quantity", "price", "fee"]

T = TypeVar("T")


def _attempt(target: widgets.HTML, action: Callable[[], T]) -> T | None:
    """Run a user's action; a refusal (or anything unexpected) shows in ``target`` as a message.

    ``target`` is emptied first, so a second refusal is drawn anew even when it reads the same."""
    target.value = ""
    try:
        return action()
    except Exception as exc:  # noqa: BLE001 - every failure becomes a readable message in the page
        target.value = error_html(exc)
        return None


def _button(label: str, css: str, icon: str = "", style: str = "") -> widgets.Button:
    return styled(widgets.Button(description=label, icon=icon, button_style=style,
                                 layout={"width": "auto"}), css)


def _short(identifier: str | None) -> str:
    return identifier[:8] if identifier else "–"


def instrument_choices(table: pd.DataFrame, clock: str | None) -> tuple[list[tuple[str, str | None]], list[str]]:
    """The editor's instrument choices, each with its series' first and last date, and the series held
    back: tradable series whose daily history ended before :func:`stale_before` the market date (an
    allocation holding one is refused), as ``"SYMBOL (source, last close)"`` texts."""
    tradable = table[table["tradable"]].sort_values(["symbol", "n_records"], ascending=[True, False])
    held_back: list[str] = []
    if clock and tradable["history_end"].notna().any():
        current = tradable["history_end"].fillna("") >= stale_before(clock)
        held_back = [f"{r.symbol} ({r.source}, last close {r.history_end or 'none'})"
                     for r in tradable[~current].itertuples()]
        tradable = tradable[current]
    choices: list[tuple[str, str | None]] = [("Choose an instrument…", None)]
    for r in tradable.itertuples():
        span = f" · {r.history_start} to {r.history_end}" if isinstance(r.history_end, str) else " · no prices"
        choices.append((f"{r.symbol} · {r.name} ({r.source}, {r.isin}){span}", r.instrument_id))
    return choices, held_back


def account_label(account: Account) -> str:
    """An account as the page lists it: its name (or, for an account saved without one, its id), currency, id."""
    return f"{account.name or 'Account ' + _short(account.id)} · {account.currency} · {_short(account.id)}"


def weights_figure(allocation: Allocation) -> go.Figure:
    """The allocation's target weights as bars, labelled with the exact decimal weight."""
    return go.Figure(
        go.Bar(x=[i.symbol for i in allocation.items], y=[float(i.weight) * 100 for i in allocation.items],
               text=[format(i.weight, "f") for i in allocation.items], textposition="outside",
               customdata=[i.isin for i in allocation.items],
               hovertemplate="%{x} (%{customdata})<br>weight %{text}<extra></extra>"),
        layout={"title": f"{allocation.name or 'Unnamed allocation'} · version {allocation.version}",
                "yaxis": {"title": "weight, %", "rangemode": "tozero"}, "height": 300,
                "margin": {"l": 55, "r": 20, "t": 45, "b": 35}, "template": "plotly_white"})


class _Row:
    """One line of the allocation editor: instrument, weight, remove."""

    def __init__(self, options: list[tuple[str, str | None]], on_remove: Callable[[_Row], None],
                 instrument: str | None = None, weight: str = "") -> None:
        self.path = styled(widgets.HTML(layout={"width": "36px"}), "tk-row-path")
        self.instrument = styled(widgets.Dropdown(options=options, value=instrument, layout={"width": "410px"}),
                                 "tk-row-instrument")
        self.weight = styled(widgets.Text(value=weight, placeholder="0.25", layout={"width": "90px"}),
                             "tk-row-weight")
        remove = _button("", "tk-row-remove", icon="trash")
        remove.tooltip = "Remove this line"
        remove.on_click(lambda _button: on_remove(self))
        self.widget = styled(widgets.HBox([self.path, self.instrument, self.weight, remove]), "tk-row")

    def item(self) -> dict:
        return {"instrument_id": self.instrument.value, "instrument_id_type": "UPVEST",
                "weight": self.weight.value.strip()}


class AllocationsApp:
    """The page's state and callbacks; ``.widget`` is what the app displays."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._quiet = False
        table = ws.instruments.table()
        self._symbols = dict(zip(table["instrument_id"], table["symbol"]))
        # series that ended long ago are refused in an allocation: not offered, and the page says which
        self._choices, self._held_back = instrument_choices(table, ws.clock)
        self._accounts: dict[str, Account] = {a.id: a for a in ws.accounts.list(type="PORTFOLIO")}
        self._order_key = str(uuid.uuid4())
        self._placed: set[str] = set()
        self.widget = styled(widgets.VBox([
            widgets.HTML(STYLE + "<div class='tk-title'><h2>Model portfolios</h2></div>"
                         "<p class='tk-muted'>Write an allocation, fund a portfolio account that tracks it, "
                         "invest with a portfolio order and rebalance. Nothing is saved unless it is valid.</p>"),
            widgets.HBox([self._editor(), self._list()], layout={"justify_content": "space-between"}),
            widgets.HBox([self._account_box(), self._order_box()], layout={"justify_content": "space-between"}),
            self._rebalance_box(),
        ]), "tk-app", "tk-allocations-app")
        self._refresh_list()

    # -- 1. the editor --------------------------------------------------------------------------
    def _editor(self) -> widgets.VBox:
        self.name = styled(widgets.Text(description="Name", placeholder="Balanced US equity",
                                        layout={"width": "480px"}), "tk-alloc-name")
        self.rows_box = styled(widgets.VBox(), "tk-rows")
        self.rows: list[_Row] = []
        for _ in range(2):
            self._add_row()
        add, load = _button("Add line", "tk-add-row", "plus"), _button("Load selected", "tk-load", "pencil")
        create = _button("Create", "tk-create", "check", "primary")
        replace = _button("Replace selected", "tk-replace", "refresh", "warning")
        add.on_click(lambda _button: self._add_row())
        load.on_click(self._on_load)
        create.on_click(self._on_create)
        replace.on_click(self._on_replace)
        self.editor_message = styled(widgets.HTML(), "tk-editor-message")
        held_back = (f"<p class='tk-muted tk-held-back'>Not offered: {len(self._held_back)} series whose daily "
                     f"history ended before {stale_before(self.ws.clock)} (an allocation holding one is refused): "
                     f"{html.escape(', '.join(self._held_back))}.</p>") if self._held_back else ""
        return widgets.VBox([
            widgets.HTML("<h3>1 · Allocation</h3><p class='tk-muted'>Weights are decimals (0.25, not 25%) "
                         "and sum to exactly 1. Each series shows its first and last daily close.</p>"),
            self.name, self.rows_box, widgets.HBox([add, load, create, replace]), self.editor_message,
            widgets.HTML(held_back),
        ], layout={"width": "49%"}).add_class("tk-editor")

    def _add_row(self) -> None:
        self.rows.append(_Row(self._choices, self._remove_row))
        self._show_rows()

    def _remove_row(self, row: _Row) -> None:
        self.rows.remove(row)
        self._show_rows()

    def _show_rows(self) -> None:
        for n, row in enumerate(self.rows):  # the field path of each line, as errors name it
            row.path.value = f"<code>[{n}]</code>"
        self.rows_box.children = [row.widget for row in self.rows]

    def _payload(self) -> dict:
        return {"name": self.name.value.strip() or None, "allocation": [row.item() for row in self.rows]}

    def _on_create(self, _button: object = None) -> None:
        created = _attempt(self.editor_message, lambda: self.ws.allocations.create(self._payload()))
        if created is not None:
            self._refresh_list(select=created.id)
            self.editor_message.value = ok_html(f"Created {created.name or 'the allocation'} "
                                                f"({_short(created.id)}, version {created.version}).")

    def _on_replace(self, _button: object = None) -> None:
        replaced = _attempt(self.editor_message,
                            lambda: self.ws.allocations.replace(self._selected_id(), self._payload()))
        if replaced is not None:
            self._refresh_list(select=replaced.id)
            self.editor_message.value = ok_html(f"Replaced {replaced.name or 'the allocation'} "
                                                f"({_short(replaced.id)}): now version {replaced.version}.")

    def _on_load(self, _button: object = None) -> None:
        allocation = _attempt(self.editor_message, lambda: self.ws.allocations.get(self._selected_id()))
        if allocation is None:
            return
        self.name.value = allocation.name or ""
        self.rows = [_Row(self._choices, self._remove_row, i.instrument_id, format(i.weight, "f"))
                     for i in allocation.items]
        self._show_rows()
        self.editor_message.value = ok_html(f"Loaded version {allocation.version}; edit it and press "
                                            "Replace selected to save a new version.")

    # -- 2. the list ----------------------------------------------------------------------------
    def _list(self) -> widgets.VBox:
        self.filter_instrument = styled(widgets.Text(description="Holds", placeholder="ISIN or UUID, comma-separated",
                                                     continuous_update=False, layout={"width": "340px"}),
                                        "tk-filter-instrument")
        self.filter_start = styled(DateField(description="From", layout={"width": "230px"}), "tk-filter-start")
        self.filter_end = styled(DateField(description="To", layout={"width": "230px"}), "tk-filter-end")
        self.filter_limit = styled(widgets.BoundedIntText(value=100, min=1, max=1000, description="Limit",
                                                          layout={"width": "160px"}), "tk-filter-limit")
        for control in (self.filter_instrument, self.filter_start, self.filter_end, self.filter_limit):
            control.observe(lambda _change: self._refresh_list(), "value")
        self.list_message = styled(widgets.HTML(), "tk-list-message")
        self.table = styled(widgets.HTML(), "tk-allocations-table", "tk-table")
        self.select = styled(widgets.Select(rows=4, layout={"width": "98%"}), "tk-allocation-select")
        self.select.observe(self._on_select, "value")
        self.chart = styled(Chart(layout={"width": "100%"}), "tk-weights-chart")
        return widgets.VBox([
            widgets.HTML("<h3>2 · Allocations</h3>"),
            widgets.HBox([self.filter_instrument, self.filter_limit]),
            widgets.HBox([self.filter_start, self.filter_end]),
            self.list_message, self.table,
            widgets.HTML("<p class='tk-muted'>The selected allocation is charted, loaded into the editor, "
                         "replaced, tracked and rebalanced:</p>"), self.select, self.chart,
        ], layout={"width": "49%"}).add_class("tk-list")

    def _refresh_list(self, select: str | None = None) -> None:
        keys = [k.strip() for k in self.filter_instrument.value.split(",") if k.strip()]
        found = _attempt(self.list_message, lambda: self.ws.allocations.list(
            instrument_ids=keys or None, limit=self.filter_limit.value,
            start_date=self.filter_start.text, end_date=self.filter_end.text))
        if found is None:  # a refused filter: no list, no selection, no chart of an allocation not listed
            self.table.value = ""
            self._quiet = True
            with self.select.hold_sync():
                self.select.value = None
                self.select.options = []
            self._quiet = False
            self.chart.clear()
            return
        self.table.value = table_html(pd.DataFrame([
            {"name": a.name or "–", "id": _short(a.id), "version": a.version,
             "created": a.created_at[:16].replace("T", " "),
             "weights": " · ".join(f"{i.symbol} {format(i.weight, 'f')}" for i in a.items)} for a in found]),
            "No allocations match." if keys or self.filter_start.text or self.filter_end.text
            else "No allocations yet: write one on the left.")
        options = [(f"{a.name or 'Unnamed'} · v{a.version} · {_short(a.id)}", a.id) for a in found]
        ids = [a.id for a in found]
        keep = select if select in ids else self.select.value if self.select.value in ids else None
        self._quiet = True
        with self.select.hold_sync():  # one message to the page: options and selection together
            self.select.value = None
            self.select.options = options
            self.select.value = keep or (ids[0] if ids else None)
        self._quiet = False
        self._on_select()

    def _selected_id(self) -> str:
        if self.select.value is None:
            raise ToolkitError("Select an allocation in the list first.")
        return self.select.value

    def _on_select(self, _change: object = None) -> None:
        if self._quiet:
            return
        if self.select.value is None:
            self.chart.clear()
            return
        allocation = _attempt(self.list_message, lambda: self.ws.allocations.get(self.select.value))
        if allocation is None:
            self.chart.clear()
        else:
            self.chart.show(weights_figure(allocation))

    # -- 3. accounts ----------------------------------------------------------------------------
    def _account_box(self) -> widgets.VBox:
        self.account_name = styled(widgets.Text(description="Name", placeholder="required, e.g. Retirement"),
                                   "tk-account-name")
        self.account_currency = styled(widgets.Dropdown(options=CURRENCIES, value="USD", description="Currency",
                                                        layout={"width": "200px"}), "tk-account-currency")
        self.deposit = styled(widgets.Text(value="10,000.00", description="Deposit", layout={"width": "260px"}),
                              "tk-account-deposit")
        create = _button("Create account", "tk-account-create", "plus", "primary")
        create.on_click(self._on_account_create)
        self.account = styled(widgets.Dropdown(options=self._account_options(), value=None, description="Account",
                                               layout={"width": "420px"}), "tk-account-select")
        self.account.observe(self._on_account, "value")
        self.account_id = styled(widgets.Text(placeholder="or open an account by id", layout={"width": "300px"}),
                                 "tk-account-id")
        open_ = _button("Open", "tk-account-open", "folder-open")
        open_.on_click(self._on_account_open)
        assign = _button("Track the selected allocation", "tk-assign", "link")
        assign.on_click(self._on_assign)
        self.account_message = styled(widgets.HTML(), "tk-account-message")
        self.account_info = styled(widgets.HTML("<p class='tk-muted'>No account open.</p>"), "tk-account-info",
                                   "tk-table")
        return widgets.VBox([
            widgets.HTML("<h3>3 · Portfolio account</h3>"),
            widgets.HBox([self.account_name, self.account_currency]),
            widgets.HBox([self.deposit, create]),
            self.account, widgets.HBox([self.account_id, open_]), widgets.HBox([assign]),
            self.account_message, self.account_info,
        ], layout={"width": "49%"}).add_class("tk-accounts")

    def _account_options(self) -> list[tuple[str, str | None]]:
        """Every portfolio account of the workspace (the demo mandates among them), by name."""
        return [("Choose an account…", None)] + [(account_label(a), a.id) for a in self._accounts.values()]

    def _on_account_create(self, _button: object = None) -> None:
        def create() -> Account:
            name = self.account_name.value.strip()
            if not name:  # a page's account is chosen by its name later: an unnamed one could not be told apart
                raise ValidationError([Problem("name", "give the account a name")], "account")
            with self.ws.transaction():  # the account and its first deposit are saved together or not at all
                account = self.ws.accounts.create({"type": "PORTFOLIO", "currency": self.account_currency.value,
                                                   "name": name})
                return self.ws.accounts.deposit(account.id, {"amount": plain_amount(self.deposit.value),
                                                             "currency": account.currency})

        account = _attempt(self.account_message, create)
        if account is not None:
            self._show_account(account)
            self.account_message.value = ok_html(f"Opened account {account.name} ({_short(account.id)}) with "
                                                 f"{amount(account.cash)} {account.currency}.")

    def _on_account_open(self, _button: object = None) -> None:
        account = _attempt(self.account_message, lambda: self.ws.accounts.get(self.account_id.value.strip()))
        if account is not None:
            self._show_account(account)

    def _show_account(self, account: Account) -> None:
        self._accounts[account.id] = account
        self._quiet = True
        with self.account.hold_sync():
            self.account.options = self._account_options()
            self.account.value = account.id
        self._quiet = False
        self._on_account({"new": account.id})

    def _account_value(self) -> Account:
        if self.account.value is None:
            raise ToolkitError("Create or open a portfolio account first.")
        return self.ws.accounts.get(self.account.value)

    def _on_assign(self, _button: object = None) -> None:
        def assign():
            account_id, allocation_id = self._account_value().id, self._selected_id()
            try:
                self.ws.configurations.get(account_id)
            except NotFoundError:
                return self.ws.configurations.create({"account_id": account_id, "allocation_id": allocation_id})
            return self.ws.configurations.switch(account_id, {"allocation_id": allocation_id})

        if _attempt(self.account_message, assign) is not None:
            self._on_account()
            self.account_message.value = ok_html("The account now tracks the selected allocation; orders split "
                                                 "by its weights and the next rebalancing moves the holdings to it.")

    def _on_account(self, change: object = None) -> None:
        """Show the open account; another account chosen (``change``) also clears the previous one's
        order and rebalancing results."""
        if self._quiet:
            return
        self._order_key = str(uuid.uuid4())
        if change is not None:
            self.order_table.value = self.rebalance_table.value = ""  # they were the previous account's
            self.order_message.value = self.rebalance_message.value = ""
        if self.account.value is None:
            self.account_info.value = "<p class='tk-muted'>No account open.</p>"
            return
        _attempt(self.account_info, self._describe_account)

    def _describe_account(self) -> None:
        account = self._account_value()
        try:
            target = self.ws.allocations.get(self.ws.configurations.get(account.id).allocation_id)
            tracks = f"{target.name or 'Unnamed'} v{target.version} ({_short(target.id)})"
        except NotFoundError:
            tracks = "no allocation yet"
        held = pd.DataFrame([{"symbol": self._symbols.get(iid, iid), "quantity": quantity(q)}
                             for iid, q in self.ws.orders.positions(account.id).items()])
        self.account_info.value = (
            f"<p><b>{html.escape(account.name or 'Unnamed')}</b> · {account.status} {account.type} account "
            f"<code>{account.id}</code><br>"
            f"cash <b class='tk-cash'>{amount(account.cash)} {account.currency}</b> · tracks {html.escape(tracks)}</p>"
            + table_html(held, "No holdings yet."))

    # -- 4. orders ------------------------------------------------------------------------------
    def _order_box(self) -> widgets.VBox:
        self.amount = styled(widgets.Text(value="1,000.00", description="Amount", layout={"width": "260px"}),
                             "tk-order-amount")
        self.side = styled(widgets.ToggleButtons(options=SIDES, value="BUY", style={"button_width": "70px"}),
                           "tk-order-side")
        for control in (self.amount, self.side):
            control.observe(self._new_order_key, "value")
        preview = _button("Preview", "tk-order-preview", "eye")
        place = _button("Place", "tk-order-place", "shopping-cart", "primary")
        preview.on_click(self._on_order_preview)
        place.on_click(self._on_order_place)
        self.order_message = styled(widgets.HTML(), "tk-order-message")
        self.order_table = styled(widgets.HTML(), "tk-order-table", "tk-table")
        return widgets.VBox([
            widgets.HTML("<h3>4 · Portfolio order</h3><p class='tk-muted'>A BUY splits the amount over the "
                         "account's target weights, to the cent, at the latest common close.</p>"),
            widgets.HBox([self.amount, self.side]), widgets.HBox([preview, place]),
            self.order_message, self.order_table,
        ], layout={"width": "49%"}).add_class("tk-order")

    def _new_order_key(self, _change: object = None) -> None:
        """A new order gets a new idempotency key; pressing Place twice on the same form places once."""
        self._order_key = str(uuid.uuid4())

    def _order_payload(self, account: Account) -> dict:
        """The seed's order request (brokerage document, line 86) for ``account``."""
        return {"account_id": account.id, "cash_amount": plain_amount(self.amount.value), "currency": account.currency,
                "side": self.side.value}

    def _on_order_preview(self, _button: object = None) -> None:
        self.order_table.value = ""
        preview = _attempt(self.order_message, self._preview_children)
        if preview is not None:
            self.order_table.value, self.order_message.value = preview

    def _preview_children(self) -> tuple[str, str]:
        """The child orders the order would get (``ws.orders.preview``), as a table and a message."""
        account = self._account_value()
        order = self.ws.orders.preview(self._order_payload(account))
        kids = order.children
        frame = pd.DataFrame({"symbol": kids["symbol"], "side": kids["side"],
                              f"close {order.execution_date}": kids["price"].map(lambda p: amount(p, 4)),
                              "amount": kids["amount"].map(amount), "quantity": kids["quantity"].map(quantity),
                              "fee": kids["fee"].map(amount)})
        fees = sum((Decimal(f) for f in kids["fee"]), Decimal("0.00"))
        frame = pd.concat([frame, pd.DataFrame([{"symbol": "Total", "amount": amount(order.cash_amount),
                                                 "fee": amount(fees)}])]).fillna("")
        return table_html(frame), ok_html(f"Preview of a {order.side} of {amount(order.cash_amount)} "
                                          f"{account.currency}: {len(kids)} child orders adding up to "
                                          f"{amount(order.cash_amount)}; nothing was saved.")

    def _on_order_place(self, _button: object = None) -> None:
        def place() -> PortfolioOrder:
            account = self._account_value()
            return self.ws.orders.place({**self._order_payload(account), "idempotency_key": self._order_key})

        order = _attempt(self.order_message, place)
        if order is None:
            return
        path = " → ".join(order.transitions["to_state"])
        again = (" It was placed already: change the amount or side to place another order."
                 if order.id in self._placed else "")
        if order.id is not None:  # a placed order has its id (only a preview has none)
            self._placed.add(order.id)
        self.order_table.value = table_html(_shown_children(order.children[CHILD_COLUMNS]),
                                            "The order has no child orders.")
        self._on_account()
        self._order_key = order.idempotency_key or self._order_key  # the same form again replays this order
        self.order_message.value = ok_html(f"Order {_short(order.id)}: {order.side} {amount(order.cash_amount)} "
                                           f"{order.currency} on {order.execution_date} is {order.state} "
                                           f"({path}).{again}")

    # -- 5. rebalancing -------------------------------------------------------------------------
    def _rebalance_box(self) -> widgets.VBox:
        self.drift = styled(widgets.Text(value="0.02", description="Drift", layout={"width": "220px"}), "tk-drift")
        self.drift_type = styled(widgets.Dropdown(options=DRIFT_TYPES, value="ABSOLUTE", layout={"width": "140px"}),
                                 "tk-drift-type")
        self.scope = styled(widgets.Dropdown(options=[("the open account", "account"),
                                                      ("every account tracking the selected allocation",
                                                       "allocation")],
                                             description="Rebalance", layout={"width": "460px"}), "tk-rebalance-scope")
        preview = _button("Preview", "tk-rebalance-preview", "eye")
        execute = _button("Execute", "tk-rebalance-execute", "balance-scale", "danger")
        preview.on_click(lambda _button: self._on_rebalance(preview=True))
        execute.on_click(lambda _button: self._on_rebalance(preview=False))
        self.rebalance_message = styled(widgets.HTML(), "tk-rebalance-message")
        self.rebalance_table = styled(widgets.HTML(), "tk-rebalance-table", "tk-table")
        return widgets.VBox([
            widgets.HTML("<h3>5 · Rebalancing</h3><p class='tk-muted'>Trades only where a weight drifted past "
                         "the threshold; sells first, then buys.</p>"),
            widgets.HBox([self.scope, self.drift, self.drift_type]), widgets.HBox([preview, execute]),
            self.rebalance_message, self.rebalance_table,
        ]).add_class("tk-rebalance")

    def _on_rebalance(self, preview: bool) -> None:
        def run() -> dict:
            scope = ({"accounts": [self._account_value().id]} if self.scope.value == "account"
                     else {"allocation_ids": [self._selected_id()]})
            return self.ws.rebalancings.execute({**scope, "preview": preview, "drift": {
                "threshold": self.drift.value.strip(), "type": self.drift_type.value}})

        self.rebalance_table.value = ""
        result = _attempt(self.rebalance_message, run)
        if result is None:
            return
        rows = []
        for run_ in result["executions"]:
            head = {"account": _short(run_["account_id"]), "status": run_["status"],
                    "reason": run_["cancellation_reason"] or "", "order": _short(run_["portfolio_order_id"])}
            rows += [{**head, **_shown_trade(trade), "instrument_id": self._symbols.get(trade["instrument_id"])}
                     for trade in run_["trades"]] or [head]
        frame = pd.DataFrame(rows).rename(columns={"instrument_id": "symbol"}).fillna("")
        self.rebalance_table.value = table_html(frame, "No account tracks the selected allocation.")
        if not preview:
            self._on_account()
        self.rebalance_message.value = ok_html(
            f"{'Preview' if preview else 'Rebalancing'} of {len(result['executions'])} account(s)"
            + (": nothing was traded." if preview else "."))


def _shown_children(children: pd.DataFrame) -> pd.DataFrame:
    """Child orders for display: money with two decimals, prices with four, quantities rounded."""
    shown = children.copy()
    for column, show in (("amount", amount), ("fee", amount), ("quantity", quantity),
                         ("price", lambda p: amount(p, 4))):
        if column in shown:
            shown[column] = shown[column].map(show)
    return shown


def _shown_trade(trade: dict) -> dict:
    """A rebalancing trade for display (money, prices and quantities as the rest of the page shows them)."""
    shows = {"amount": amount, "cash_amount": amount, "fee": amount, "quantity": quantity,
             "price": lambda p: amount(p, 4)}
    return {k: shows[k](v) if k in shows and v is not None else v for k, v in trade.items()}


def allocations_app(ws: Workspace | None = None) -> widgets.VBox:
    """Build the allocations app on a workspace (the configured or demo one by default)."""
    return page(AllocationsApp(ws or Workspace.from_env()).widget)
