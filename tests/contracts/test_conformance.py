"""The seed documents' examples through the façade, on a private copy of the demo workspace
(``conformance.py`` measures; ``STATUS.md`` is its table).

Every example request is answered as its document says:

- accepted, and answered in the shape of its response example when it has one (keys, JSON types,
  formats, status words, VaR signs: ``conformance.shape_problems``);
- or, where the example is itself wrong (``invalid_in_document``), refused with a message that names
  the mistake (``REFUSED AS DOCUMENTED``; the corrected examples are accepted in
  ``tests/test_brokerage_examples.py`` and the models' tests);
- or, where it names data no package ships (``conformance.ABSENT``), refused naming each missing
  item, and then answered in shape when the demo's stand-ins take their place.

Bodies are accepted the same way as dicts and as JSON text. Every response example without a request
is answered in its shape by the façade method behind it, but for the deviations listed by fixture and
path in ``conformance.DEVIATIONS`` (the README lists them).

The only examples not answered yet belong to later issues: :data:`LATER` names them, and the test
fails as soon as one of them is answered, so that it is moved into the checks above.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_SPEC = importlib.util.spec_from_file_location("contracts_conformance", Path(__file__).with_name("conformance.py"))
assert _SPEC is not None and _SPEC.loader is not None
conformance = sys.modules.setdefault(_SPEC.name, importlib.util.module_from_spec(_SPEC))
_SPEC.loader.exec_module(conformance)  # (registered first: its dataclasses look their module up)

#: examples of endpoints that later issues build, with the issue: no façade method answers them yet
LATER: dict[str, str] = {}
ANSWERED = ("ACCEPTED", conformance.MISTAKE, conformance.NOT_HELD)


@pytest.fixture(scope="module")
def measured() -> tuple[list, list]:
    return conformance.measure()


@pytest.fixture(scope="module")
def measured_as_text() -> tuple[list, list]:
    return conformance.measure(as_text=True)


def _requests() -> list[str]:
    return sorted(n for n, f in conformance.fixtures().items() if f["kind"] == "request")


def _responses() -> list[str]:
    return sorted(n for n, f in conformance.fixtures().items() if f["kind"] == "response" and f["pairs_with"] is None)


def _row(rows: list, name: str):
    return next(r for r in rows if r.fixture == name)


def test_every_example_is_measured(measured) -> None:
    requests, responses = measured
    assert sorted(r.fixture for r in requests) == _requests()
    assert sorted(r.fixture for r in responses) == _responses()
    assert set(LATER) <= set(_requests()) | set(_responses())


@pytest.mark.parametrize("name", _requests())
def test_example_request_is_answered_as_its_document_says(measured, name: str) -> None:
    row = _row(measured[0], name)
    if name in LATER:
        assert row.status == "NO ENDPOINT", f"{name} is answered now ({row.status}): move it out of LATER"
        return
    assert row.status in ANSWERED, f"{name}: {row.status}: {row.detail}"
    fixture = conformance.fixtures()[name]
    if row.status == conformance.MISTAKE:
        assert fixture["invalid_in_document"], name
    if row.status == conformance.NOT_HELD:
        assert all(key in " ".join(row.problems) for key in conformance.ABSENT[name]), row.problems
    if (row.status == "ACCEPTED" and row.response) or row.status == conformance.NOT_HELD:
        assert row.same_shape, f"{name}: {row.shape}"


@pytest.mark.parametrize("name", [n for n in _requests() if conformance.fixtures()[n]["body"] is not None])
def test_a_body_is_taken_as_json_text_too(measured, measured_as_text, name: str) -> None:
    as_dict, as_text = _row(measured[0], name), _row(measured_as_text[0], name)
    assert (as_text.status, as_text.same_shape) == (as_dict.status, as_dict.same_shape), as_text.detail


@pytest.mark.parametrize("name", _responses())
def test_example_response_is_answered_in_its_shape(measured, name: str) -> None:
    row = _row(measured[1], name)
    if name in LATER:
        assert row.status in ("NO ENDPOINT", "NEEDS REQUEST"), f"{name} is answered now: move it out of LATER"
        return
    assert row.status == "ANSWERED", f"{name}: {row.status}: {row.detail}"
    assert row.same_shape, f"{name}: {row.shape}"


def test_deviations_are_only_where_documented(measured) -> None:
    """A documented deviation that no longer happens is dropped from the list (it would hide a new one)."""
    rows = {r.fixture: r for r in [*measured[0], *measured[1]]}
    for fixture, paths in conformance.DEVIATIONS.items():
        shape = rows[fixture].shape or ""
        assert "documented deviation" in shape and all(p in shape for p in paths), (fixture, shape)


def test_the_readme_quotes_the_count(measured) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert conformance.summary(*measured) in " ".join(readme.split()), conformance.summary(*measured)


def test_the_shape_check_can_fail() -> None:
    example = {"status": "OK", "as_of": "2022-03-31", "cash": "10.00", "var": -0.02, "items": [{"id": 1}],
               "allocation_effect": {"AAPL_XNGS": 0.1}}
    assert conformance.compare(example, dict(example))[0]
    wrong = {"status": "ok", "as_of": "31/03/2022", "cash": 10.0, "var": 0.02, "items": [],
             "allocation_effect": {"Energy": "0.1"}}
    problems = conformance.shape_problems(example, wrong)
    assert len(problems) == 6, problems
    assert conformance.shape_problems(example, {}) == [f"{k}: missing" for k in example]
    # an object keyed by instrument codes is data, whether or not the answer holds the example's codes
    held = {"portfolio": {"KO_XNYS_8_USD": 0.1, "PG_XNYS_8_USD": 0.2}}
    assert conformance.shape_problems(held, {"portfolio": {"PG_XNYS_8_USD": 0.3, "AAPL_XNGS_8_USD": 0.4}}) == []
    assert conformance.shape_problems(held, {"portfolio": {"PG_XNYS_8_USD": "0.3"}}) != []


def test_an_empty_list_beside_filled_siblings_is_data() -> None:
    """A rule without parameters (rule 5) beside rules with some answers ``parameters: []``: data, not a
    change of shape; when every rule answers it empty, the shape differs."""
    example = {"rules": [{"rule_id": 3, "parameters": [{"key": "ATRFactor", "value": "1"}]}]}
    mixed = {"rules": [{"rule_id": 3, "parameters": [{"key": "ATRFactor", "value": "1"}]},
                       {"rule_id": 5, "parameters": []}]}
    assert conformance.shape_problems(example, mixed) == []
    bare = {"rules": [{"rule_id": 5, "parameters": []}, {"rule_id": 9, "parameters": []}]}
    assert conformance.shape_problems(example, bare) == ["rules[].parameters: an empty list where the example has "
                                                         "items"] * 2
    wrong = {"rules": [{"rule_id": 3, "parameters": [{"key": 1}]}, {"rule_id": 5, "parameters": []}]}
    assert conformance.shape_problems(example, wrong) == ["rules[].parameters[].key: number where the example has "
                                                          "a text ('ATRFactor')", "rules[].parameters[].value: "
                                                          "missing"]
