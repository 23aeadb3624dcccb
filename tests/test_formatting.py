"""The apps' one number format: percent and bp with grouped thousands, money, share quantities,
constraint errors in the units of the inputs, ISO date fields (no browser needed)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd

from toolkit.errors import Problem, ValidationError
from toolkit.reporting.attribution_views import waterfall
from toolkit.widgets.components import (
    DateField,
    amount,
    bps,
    in_percent,
    percent,
    plain_amount,
    quantity,
    report_table,
)


def test_percent_and_bp_group_thousands() -> None:
    assert bps(3.5298) == "35,298 bp" and bps(-0.3904) == "-3,904 bp" and bps(0.0882) == "882 bp"
    assert percent(12.3456) == "1,234.56%" and percent(5.4923) == "549.23%"
    assert bps(-0.00001) == "0 bp"  # no "-0 bp"
    assert bps(pd.Series([1.0, np.nan])).tolist() == ["10,000 bp", "\u2013"]


def test_amounts_have_two_decimals_and_grouped_thousands() -> None:
    assert amount("10000.00") == "10,000.00" and amount(Decimal("1234567.895")) == "1,234,567.90"
    assert amount(0.5) == "0.50" and amount("-0.001") == "0.00" and amount(-2500) == "-2,500.00"
    assert amount(None) == amount("abc") == amount(float("nan")) == "\u2013"
    assert plain_amount("10,000.00") == "10000.00" and plain_amount(" 1 000.5 ") == "1000.5"


def test_share_quantities_are_rounded_for_display() -> None:
    assert quantity("12.345678901") == "12.3457" and quantity(Decimal("1500")) == "1,500"
    assert quantity("2.50000") == "2.5" and quantity("0.00001") == "0" and quantity("-0.00001") == "0"
    assert quantity(None) == "\u2013"


def test_constraint_errors_are_told_in_percent_like_the_inputs() -> None:
    refused = ValidationError([
        Problem("constraints.max_weight", "the maximum weights sum to 0.27, below 1: a fully invested "
                                          "portfolio is impossible; raise them or add instruments"),
        Problem("constraints.sectors[0].max", "max 0.1 is below the 0.15 the group of 9 instruments needs"),
        Problem("portfolio_id", "unknown account 0.5")], "optimisation request")
    told = in_percent(refused, {"constraints.max_weight": "Max weight %", "constraints.sectors": "Cap sector at %"})
    assert [p.path for p in told.problems] == ["Max weight %", "Cap sector at %", "portfolio_id"]
    assert told.problems[0].message.startswith("the maximum weights sum to 27%, below 100%:")
    assert told.problems[1].message == "max 10% is below the 15% the group of 9 instruments needs"
    assert told.problems[2].message == "unknown account 0.5"  # not a percent field: unchanged
    other = LookupError("x")
    assert in_percent(other, {}) is other


def test_date_fields_show_iso_dates() -> None:
    field = DateField(date(2012, 1, 4), description="From")
    assert field.value == "2012-01-04" and field.day == date(2012, 1, 4) and field.text == "2012-01-04"
    field.set("2015-3-1")
    assert field.day is None and field.text == "2015-3-1"  # the façade's reader names the bad date
    field.set(None)
    assert field.value == "" and field.day is None and field.text is None


def test_report_tables_show_percent_bp_and_counts() -> None:
    table = pd.DataFrame({"net": [0.0123, np.nan], "relative": [3.5298, -0.00001], "n": [8313, 12]},
                         index=pd.Index(["1Y", "ITD"], name="window"))
    table.attrs = {"bps": ["relative"], "title": "PO005"}
    shown = report_table(table, counts=("n",))
    assert shown.to_dict("records") == [{"window": "1Y", "net": "1.23%", "relative": "35,298 bp", "n": "8,313"},
                                        {"window": "ITD", "net": "\u2013", "relative": "0 bp", "n": "12"}]
    assert shown.attrs["title"] == "PO005"


def test_waterfall_labels_its_ends_as_returns_and_its_steps_as_effects() -> None:
    effects = pd.DataFrame({"allocation": [0.5, 0.2339], "selection": [-0.00001, 0.0], "interaction": [0.0, 0.0]})
    bar = waterfall(effects, 0.7339, 0.0, "t").data[0]
    assert list(bar.text) == ["0.00%", "+7,339 bp", "0 bp", "73.39%"]  # no "-0 bp"; the ends as the headline
