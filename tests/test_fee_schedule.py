"""The fee schedule is kept in the workspace file (``settings``, m025): a reopened workspace trades at the
fees it was given, a bad schedule is refused field by field and changes nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from helpers import dump

from toolkit.errors import ValidationError
from toolkit.trading.orders import FeeSchedule
from toolkit.workspace import Workspace
from toolkit.workspace.book import FEES

SCHEDULE = FeeSchedule(bps=Decimal("7.5"), minimum=Decimal("1.25"), min_order=Decimal("10.00"))


def test_a_new_workspace_has_no_fees(ws: Workspace) -> None:
    assert ws.orders.fees == FeeSchedule()


def test_the_schedule_outlives_the_kernel(ws: Workspace) -> None:
    ws.orders.fees = SCHEDULE
    with Workspace.open(ws.path) as reopened:
        assert reopened.orders.fees == SCHEDULE
    ws.orders.fees = FeeSchedule()
    assert ws.orders.fees == FeeSchedule()


def test_the_demo_book_keeps_the_fees_it_was_built_with(book_ws: Workspace) -> None:
    """The book's orders paid 5 bps with a 1.00 minimum; the apps' orders and backtests on the same file
    pay the same (before m025 a reopened demo traded free of fees)."""
    assert book_ws.orders.fees == FEES


@pytest.mark.parametrize("schedule, fields", [
    (FeeSchedule(bps=Decimal("-1")), ["fees.bps"]),
    (FeeSchedule(minimum=Decimal("0.001"), min_order=Decimal("-5")), ["fees.minimum", "fees.min_order"]),
    (FeeSchedule(bps="five"), ["fees.bps"]),  # type: ignore[arg-type]
    ({"bps": "5"}, ["fees"]),
])
def test_a_bad_schedule_is_refused_by_field_and_nothing_changes(ws: Workspace, schedule, fields) -> None:
    ws.orders.fees = SCHEDULE
    before = dump(ws)
    with pytest.raises(ValidationError) as caught:
        ws.orders.fees = schedule
    assert [p.path for p in caught.value.problems] == fields
    assert dump(ws) == before and ws.orders.fees == SCHEDULE
