"""Money invariants over random sequences of deposits, withdrawals, BUY, SELL and smart orders,
rebalancings and fee schedules (issue 17): no cash is created, every fill's cents are its quantity
times its price within the documented rounding, and a refused request changes nothing.

The model is independent of the workspace: it books each answer's child orders itself (amount, fee,
quantity), and the workspace's cash and positions must equal it after every step.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from helpers import dump
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from toolkit.errors import ToolkitError
from toolkit.trading.orders import FeeSchedule
from toolkit.workspace import Workspace

CENT = Decimal("0.01")
DATES = (None, "2022-12-28", "2022-06-01", "2020-03-16")
#: a SELL's cents may exceed its quantity x price by half a cent at most (a whole line sold is valued
#: half-even to the cent); otherwise quantities are truncated to 1e-10 share, worth at most the cents
HALF_CENT = Decimal("0.005")

#: round amounts collide often (a SELL of more than the holdings, a withdrawal of the whole cash)
amounts = st.one_of(st.sampled_from(["100.00", "1000.00", "2500.00", "10000.00", "40000.00"]),
                    st.integers(1, 5_000_000).map(lambda c: format(Decimal(c) * CENT, "f")))
steps = st.one_of(
    st.tuples(st.just("deposit"), amounts, st.none()),
    st.tuples(st.just("withdraw"), amounts, st.none()),
    st.tuples(st.sampled_from(["buy", "sell", "smart_buy", "smart_sell"]), amounts, st.sampled_from(DATES)),
    st.tuples(st.just("rebalance"), st.sampled_from(["0", "0.02", "0.1"]), st.sampled_from(DATES)),
    st.tuples(st.just("fees"), st.sampled_from(["0", "5", "25"]), st.sampled_from(["0.00", "1.00", "9.99"])),
)


@pytest.fixture(scope="module")
def world(demo_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Workspace, str]]:
    path = tmp_path_factory.mktemp("money") / "money.db"
    shutil.copy(demo_path, path)  # the session's file is closed and checkpointed: the file alone is whole
    ws = Workspace.open(path)
    allocation = ws.allocations.create({"allocation": [
        {"instrument_id": "US0378331005", "instrument_id_type": "ISIN", "weight": "0.5"},
        {"instrument_id": "US5949181045", "instrument_id_type": "ISIN", "weight": "0.3"},
        {"instrument_id": "US46625H1005", "instrument_id_type": "ISIN", "weight": "0.2"}]}).id
    yield ws, allocation
    ws.close()


class Model:
    """What an account must hold, booked from the answers alone."""

    def __init__(self) -> None:
        self.cash = Decimal("0.00")
        self.positions: dict[str, Decimal] = {}

    def book_order(self, order) -> None:
        for child in order.children.itertuples(index=False):
            amount, fee, qty = Decimal(child.amount), Decimal(child.fee), Decimal(child.quantity)
            worth = qty * Decimal(repr(float(child.price)))
            assert amount >= 0 and fee >= 0 and qty >= 0
            held = self.positions.get(child.instrument_id, Decimal(0))
            if child.side == "BUY":
                assert worth <= amount + HALF_CENT, (child, worth)  # never more shares than the cents buy
                self.cash -= amount + fee
                self.positions[child.instrument_id] = held + qty
            else:
                assert qty <= held, (child, held)  # never sells what is not held
                assert amount <= worth + HALF_CENT, (child, worth)  # never pays more than the shares are worth
                self.cash += amount - fee
                self.positions[child.instrument_id] = held - qty


def _act(ws: Workspace, account: str, kind: str, value: str, date: str | None):
    side = "SELL" if kind.endswith("sell") else "BUY"
    order = {"cash_amount": value, "currency": "USD", "side": side, **({"execution_date": date} if date else {})}
    if kind in ("deposit", "withdraw"):
        return getattr(ws.accounts, kind)(account, {"amount": value, "currency": "USD"})
    if kind in ("buy", "sell"):
        return ws.orders.place(account, order)
    if kind.startswith("smart"):
        return ws.orders.smart(account, order)
    payload = {"account_ids": [account], "drift": {"threshold": value, "type": "ABSOLUTE"},
               **({"execution_date": date} if date else {})}
    run = ws.rebalancings.execute(payload)
    order_id = run["executions"][0]["portfolio_order_id"]
    return ws.orders.get(order_id) if order_id else None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amounts, st.lists(steps, min_size=1, max_size=10))
@example("100000.00", [("buy", "50000.00", None), ("sell", "80000.00", None), ("withdraw", "130000.00", None)])
@example("100.00", [("rebalance", "0", None), ("fees", "0", "1.00"), ("sell", "0.01", None)])  # fee > proceeds
def test_no_cash_from_nothing_over_random_sequences(world: tuple[Workspace, str], funding: str,
                                                    sequence: list) -> None:
    """Each example funds a new account, then runs its steps; the first example is issue 17's repro."""
    ws, allocation = world
    sequence = [("deposit", funding, None), *sequence]
    account = ws.accounts.create({"type": "PORTFOLIO", "currency": "USD"}).id
    ws.configurations.create({"account_id": account, "allocation_id": allocation})
    ws.orders.fees = FeeSchedule()
    model = Model()
    for kind, value, extra in sequence:
        if kind == "fees":
            ws.orders.fees = FeeSchedule(bps=Decimal(value), minimum=Decimal(extra))
            continue
        before = dump(ws) if kind != "deposit" else None
        try:
            answer = _act(ws, account, kind, value, extra)
        except ToolkitError:
            assert kind != "deposit"
            assert dump(ws) == before, f"a refused {kind} changed the workspace"
            continue
        if kind == "deposit":
            model.cash += Decimal(value)
        elif kind == "withdraw":
            model.cash -= Decimal(value)
        elif answer is not None:
            assert answer.state == "FILLED"
            model.book_order(answer)
        assert ws.accounts.get(account).cash == model.cash, (kind, value)
        assert model.cash >= 0
        held = {k: v for k, v in ws.orders.positions(account).items() if v}
        assert held == {k: v for k, v in model.positions.items() if v}
        assert all(v >= 0 for v in held.values())
