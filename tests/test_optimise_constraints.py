"""Constraint sets (toolkit.optimise.constraints): parsing by code, name, symbol and id; every malformed
or infeasible set refused naming the constraint; the feasibility verdict checked against the
closed-form criterion for bounds (lower <= upper, sum lower <= 1 <= sum upper) and against HiGHS."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.errors import ValidationError
from toolkit.optimise import optimise
from toolkit.optimise.constraints import ConstraintSet, parse_constraints, unconstrained
from toolkit.schema import INSTRUMENT, TIME

#: a small international universe: id, symbol, sector, country, currency, asset class
UNIVERSE = [("id-aapl", "AAPL", "Information Technology", "US", "USD", "Equity"),
            ("id-msft", "MSFT", "Information Technology", "US", "USD", "Equity"),
            ("id-sap", "SAP", "Information Technology", "DE", "EUR", "Equity"),
            ("id-nesn", "NESN", "Consumer Staples", "CH", "CHF", "Equity"),
            ("id-bund", "BUND", None, "DE", "EUR", "Fixed Income"),
            ("id-gold", "GLD", None, None, "USD", "Commodity")]


@pytest.fixture(scope="module")
def returns() -> xr.DataArray:
    rng = np.random.default_rng(11)
    values = rng.normal(0.0004, 0.01, (len(UNIVERSE), 300)) + rng.normal(0, 0.005, 300)
    coords = {INSTRUMENT: [u[0] for u in UNIVERSE], TIME: pd.bdate_range("2020-01-01", periods=300)}
    for k, name in enumerate(("symbol", "sector", "country", "currency", "asset_class"), start=1):
        coords[name] = (INSTRUMENT, np.array([u[k] for u in UNIVERSE], dtype=object))
    return xr.DataArray(values, dims=(INSTRUMENT, TIME), coords=coords)


def refused(payload: object, returns: xr.DataArray) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        parse_constraints(payload, returns)  # type: ignore[arg-type]  # any payload: refused
    assert str(info.value).startswith("The constraint set has")
    return {p.path: p.message for p in info.value.problems}


# --------------------------------------------------------------------------- a valid set


def test_groups_by_code_or_name_and_instruments_by_symbol_or_id(returns: xr.DataArray) -> None:
    c = parse_constraints({"min_weight": 0.01, "max_weight": 0.5,
                           "instruments": [{"instrument": "AAPL", "max": 0.2}, {"instrument": "id-gold", "min": 0.05}],
                           "sectors": [{"code": "45", "max": 0.6}, {"code": "consumer staples", "min": 0.1}],
                           "geographies": [{"code": "EUROPE", "min": 0.2}, {"code": "North America", "max": 0.7}],
                           "currencies": [{"code": "USD", "max": 0.8}],
                           "asset_classes": [{"code": "Fixed Income", "max": 0.3}, {"code": "EQUITY", "min": 0.5}]},
                          returns)
    np.testing.assert_array_equal(c.lower, [0.01, 0.01, 0.01, 0.01, 0.01, 0.05])
    np.testing.assert_array_equal(c.upper, [0.2, 0.5, 0.5, 0.5, 0.5, 0.5])
    members = {r.path: r.members.tolist() for r in c.rows}
    assert members == {"constraints.sectors[0]": [1, 1, 1, 0, 0, 0], "constraints.sectors[1]": [0, 0, 0, 1, 0, 0],
                       "constraints.geographies[0]": [0, 0, 1, 1, 1, 0],  # DE, CH; gold has no country
                       "constraints.geographies[1]": [1, 1, 0, 0, 0, 0],
                       "constraints.currencies[0]": [1, 1, 0, 0, 0, 1],
                       "constraints.asset_classes[0]": [0, 0, 0, 0, 1, 0],
                       "constraints.asset_classes[1]": [1, 1, 1, 1, 0, 0]}
    a, b, paths = c.inequalities()
    assert a.shape == (len(b), 6) and paths[0] == "constraints.min_weight" and "constraints.instruments[0].max" in paths
    assert c.violations(np.full(6, 1 / 6)) == []
    assert c.violations(np.r_[0.3, [0.14] * 5]) == ["constraints.instruments[0].max (exceeded by 0.1)"]
    assert not c.plain and unconstrained(c.instruments).plain


def test_an_empty_set_is_long_only_and_fully_invested(returns: xr.DataArray) -> None:
    payload: dict | None
    for payload in (None, {}):
        c = parse_constraints(payload, returns)
        assert c.plain and c.inequalities()[0].shape == (0, 6)
    c = parse_constraints({}, returns)
    assert c.violations(np.r_[1.2, -0.2, 0, 0, 0, 0]) == ["long only (a weight of -0.2)"]
    assert c.violations(np.full(6, 0.1)) == ["fully invested (the weights sum to 0.6)"]
    assert parse_constraints(c, returns) is c


# --------------------------------------------------------------------------- malformed sets


MALFORMED: list[tuple[object, str, str]] = [
    ([1, 2], "constraints", "expected an object of constraints (min_weight, max_weight, instruments, sectors, ...), "
                            "got list"),
    ({"maxweight": 0.3}, "constraints.maxweight", "unknown field; did you mean 'max_weight'?"),
    ({"sectors": {"code": "45"}}, "constraints.sectors", "expected a list of {code, min, max} objects, got dict"),
    ({"sectors": ["45"]}, "constraints.sectors[0]", "expected an object with code, min, max, got str"),
    ({"sectors": [{"code": "45"}]}, "constraints.sectors[0]", "gives neither min nor max"),
    ({"sectors": [{"code": "45", "maximum": 0.3}]}, "constraints.sectors[0].maximum",
     "unknown field; did you mean 'max'?"),
    ({"sectors": [{"code": "Tech", "max": 0.3}]}, "constraints.sectors[0].code", "'Tech' is not a sector"),
    ({"sectors": [{"code": "46", "max": 0.3}]}, "constraints.sectors[0].code",
     "'46' is not a sector; did you mean '60', '45', '40'?"),
    ({"geographies": [{"code": "EUROP", "max": 0.3}]}, "constraints.geographies[0].code", "did you mean 'EUROPE'"),
    ({"currencies": [{"code": "XYZ", "max": 0.3}]}, "constraints.currencies[0].code", "'XYZ' is not a currency"),
    ({"asset_classes": [{"code": "Crypto", "max": 0.3}]}, "constraints.asset_classes[0].code",
     "'Crypto' is not a asset class"),
    ({"sectors": [{"code": "45", "max": 1.5}]}, "constraints.sectors[0].max", "1.5 is outside [0, 1]"),
    ({"sectors": [{"code": "45", "max": 40}]}, "constraints.sectors[0].max", "weights are fractions (0.25 for 25 %)"),
    ({"sectors": [{"code": "45", "min": -0.1}]}, "constraints.sectors[0].min", "-0.1 is outside [0, 1]"),
    ({"sectors": [{"code": "45", "max": True}]}, "constraints.sectors[0].max", "expected a weight between 0 and 1"),
    ({"sectors": [{"code": "45", "max": float("nan")}]}, "constraints.sectors[0].max", "got nan"),
    ({"sectors": [{"code": "45", "max": "0.3"}]}, "constraints.sectors[0].max", "got '0.3'"),
    ({"sectors": [{"code": "45", "min": 0.5, "max": 0.4}]}, "constraints.sectors[0].min", "min 0.5 is above max 0.4"),
    ({"sectors": [{"code": "45", "max": 0.5}, {"code": "Information Technology", "min": 0.1}]},
     "constraints.sectors[1].code", "sector 45 already constrained at constraints.sectors[0]"),
    ({"instruments": [{"instrument": "TSLA", "max": 0.1}]}, "constraints.instruments[0].instrument",
     "'TSLA' is not one of the 6 instruments being optimised"),
    ({"instruments": [{"instrument": "AAPL", "max": 0.1}, {"instrument": "id-aapl", "min": 0.05}]},
     "constraints.instruments[1].instrument", "'id-aapl' already has bounds at constraints.instruments[0]"),
    ({"max_weight": 0.1, "instruments": [{"instrument": "AAPL", "min": 0.2}]}, "constraints.instruments[0].min",
     "min 0.2 is above max 0.1 once min_weight / max_weight apply"),
    ({"min_weight": 0.3, "max_weight": 0.2}, "constraints.min_weight", "min_weight 0.3 is above max_weight 0.2"),
]


def test_every_problem_is_reported_at_once(returns: xr.DataArray) -> None:
    problems = refused({"max_weight": 2, "sectors": [{"code": "Tech", "max": 0.3}, {"code": "45", "min": "a"}],
                        "regions": []}, returns)
    assert set(problems) == {"constraints.max_weight", "constraints.sectors[0].code", "constraints.sectors[1].min",
                             "constraints.regions"}


def test_groups_need_the_metadata_coordinate(returns: xr.DataArray) -> None:
    bare = returns.drop_vars("sector")
    problems = refused({"sectors": [{"code": "45", "max": 0.3}]}, bare)
    assert problems["constraints.sectors"].startswith("the instruments carry no 'sector' coordinate")


# --------------------------------------------------------------------------- infeasible sets


INFEASIBLE: list[tuple[object, str, str]] = [
    ({"max_weight": 0.15}, "constraints.max_weight",
     "the maximum weights sum to 0.9, below 1: a fully invested portfolio is impossible"),
    ({"max_weight": 0.4, "instruments": [{"instrument": "AAPL", "max": 0.0}, {"instrument": "MSFT", "max": 0.0},
                                         {"instrument": "SAP", "max": 0.0}, {"instrument": "NESN", "max": 0.0}]},
     "constraints.max_weight", "the maximum weights sum to 0.8"),
    ({"instruments": [{"instrument": u[0], "max": 0.1} for u in UNIVERSE]}, "constraints.instruments",
     "the maximum weights sum to 0.6"),
    ({"min_weight": 0.2}, "constraints.min_weight", "the minimum weights sum to 1.2; a fully invested portfolio"),
    ({"instruments": [{"instrument": "AAPL", "min": 0.6}, {"instrument": "SAP", "min": 0.5}]},
     "constraints.instruments", "the minimum weights sum to 1.1"),
    ({"max_weight": 0.2, "sectors": [{"code": "45", "min": 0.7}]}, "constraints.sectors[0].min",
     "min 0.7 can't be reached: the group holds 3 instruments whose maximum weights add up to 0.6"),
    ({"sectors": [{"code": "10", "min": 0.1}]}, "constraints.sectors[0].min",
     "min 0.1 can't be reached: no instrument being optimised is in this group"),
    ({"min_weight": 0.1, "sectors": [{"code": "45", "max": 0.2}]}, "constraints.sectors[0].max",
     "max 0.2 is below the 0.3 its instruments' minimum weights already add up to"),
    ({"sectors": [{"code": "45", "min": 0.6}, {"code": "30", "min": 0.5}]}, "constraints.sectors",
     "the group minimums sum to 1.1, above 1"),
    # neither limit is wrong alone: all IT is in North America or Europe; capping both leaves 45 short
    ({"sectors": [{"code": "45", "min": 0.6}], "geographies": [{"code": "NORTH_AMERICA", "max": 0.3}],
      "currencies": [{"code": "EUR", "max": 0.2}]}, "constraints.sectors[0].min",
     "can't hold together with constraints.geographies[0].max, constraints.currencies[0].max"),
]


@pytest.mark.parametrize("payload, path, message", MALFORMED + INFEASIBLE)
def test_a_malformed_or_infeasible_set_is_refused_naming_the_constraint(returns: xr.DataArray, payload: object,
                                                                        path: str, message: str) -> None:
    problems = refused(payload, returns)
    assert path in problems, problems
    assert message in problems[path]


def test_the_conflict_is_narrowed_to_the_constraints_that_cause_it(returns: xr.DataArray) -> None:
    problems = refused({"max_weight": 0.9, "instruments": [{"instrument": "GLD", "max": 0.4}],
                        "sectors": [{"code": "45", "min": 0.6}, {"code": "30", "max": 0.5}],
                        "geographies": [{"code": "NORTH_AMERICA", "max": 0.3}],
                        "currencies": [{"code": "EUR", "max": 0.2}],
                        "asset_classes": [{"code": "EQUITY", "max": 0.95}]}, returns)
    assert set(problems) == {"constraints.sectors[0].min", "constraints.geographies[0].max",
                             "constraints.currencies[0].max"}


def test_rules_are_refused_the_same_way(returns: xr.DataArray) -> None:
    with pytest.raises(ValidationError) as info:
        optimise("Risk Parity", returns, constraints={"max_weight": 0.1})
    assert info.value.paths == ["constraints.max_weight"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=6, max_size=6))
def test_bounds_are_accepted_exactly_when_some_weights_meet_them(returns: xr.DataArray, bounds: list) -> None:
    payload = {"instruments": [{"instrument": u[1], "min": lo, "max": hi} for u, (lo, hi) in zip(UNIVERSE, bounds)]}
    lower, upper = np.array(bounds).T
    feasible = bool((lower <= upper).all() and lower.sum() <= 1 + 1e-7 and upper.sum() >= 1 - 1e-7)
    try:
        c = parse_constraints(payload, returns)
    except ValidationError:
        assert not feasible
        return
    assert feasible
    w = optimise("Equal Weight", returns, constraints=c)
    assert c.violations(w.values) == [] and isinstance(c, ConstraintSet)
