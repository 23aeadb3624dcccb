"""A ratchet on the façade's conformance to the seed documents' examples: the example requests that
``conformance.py`` finds accepted today (and answered in the example's shape) stay so. When the
façade accepts more, add them here; never remove one to make a change pass."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_SPEC = importlib.util.spec_from_file_location("contracts_conformance", Path(__file__).with_name("conformance.py"))
conformance = sys.modules.setdefault(_SPEC.name, importlib.util.module_from_spec(_SPEC))
_SPEC.loader.exec_module(conformance)  # (registered first: its dataclasses look their module up)

#: the example requests the façade accepts today (tests/contracts/STATUS.md)
ACCEPTED = frozenset({
    "risk-08-coverage-request.json",
})
#: of those, the ones answered with every top-level key of the document's response example
SAME_SHAPE: frozenset[str] = frozenset()


@pytest.fixture(scope="module")
def rows() -> list:
    requests, _ = conformance.measure()
    return requests


def test_every_example_request_is_measured(rows: list) -> None:
    names = {r.fixture for r in rows}
    assert names == set(conformance.fixtures()) - {n for n, f in conformance.fixtures().items() if f["kind"] != "request"}
    assert ACCEPTED <= names and SAME_SHAPE <= ACCEPTED


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_still_accepted(rows: list, name: str) -> None:
    row = next(r for r in rows if r.fixture == name)
    assert row.status == "ACCEPTED", f"{name} was accepted; now {row.status}: {row.detail}"
    if name in SAME_SHAPE:
        assert row.same_shape, f"{name} was answered in the example's shape; now {row.shape}"


def test_no_request_crashes(rows: list) -> None:
    """A refusal is a ToolkitError with a sentence, never a bare exception (DESIGN.md, Errors)."""
    assert [r.fixture for r in rows if r.status == "ERROR"] == []
