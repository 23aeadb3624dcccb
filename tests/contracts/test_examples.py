"""The example fixtures of the seed documents (``tests/contracts/examples``) are complete, well formed
and traceable to the documents: each ``verbatim`` stands in its document at ``line``, each ``body``
is what the document writes, requests and responses link both ways, and every example block of the
documents has its fixture (see ``contract_examples.py`` for the formats)."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl, urlsplit

import pytest
from contract_examples import (
    COUNTS,
    DOCUMENTS,
    FIELDS,
    FORMATS,
    KINDS,
    METHODS,
    NAME,
    OPTIONAL,
    document_lines,
    fixtures,
    folded,
    parsed,
    seeds_dir,
    unredoc,
)

ALL = fixtures()
#: how far from ``line`` the example may start in the document (the documents' line numbers are exact today)
SLACK = 3


def _documents() -> dict[str, list[str]]:
    found = {name: document_lines(name) for name in DOCUMENTS.values()}
    documents = {name: lines for name, lines in found.items() if lines is not None}
    if len(documents) < len(found):
        pytest.skip(f"the seed documents are not in {seeds_dir()} (set TOOLKIT_SEEDS to their folder)")
    return documents


def _parts(name: str) -> re.Match[str]:
    """A fixture's name as ``<document>-<NN>-<slug>`` (a name of another form fails the test)."""
    match = NAME.fullmatch(name)
    assert match, name
    return match


def _prefix(name: str) -> str:
    return _parts(name).group(1)


# ----------------------------------------------------------------------------------- the set


def test_fixture_names_count_and_numbering() -> None:
    """File names are ``<document>-<NN>-<slug>.json``, numbered 01.. without gaps in the order of the
    document, and each document has the stated number of examples."""
    assert all(NAME.fullmatch(name) for name in ALL), [n for n in ALL if not NAME.fullmatch(n)]
    for prefix, count in COUNTS.items():
        numbers = [int(_parts(n).group(2)) for n in ALL if _prefix(n) == prefix]
        assert numbers == list(range(1, count + 1)), (prefix, numbers)
        lines = [ALL[n]["line"] for n in ALL if _prefix(n) == prefix]
        assert lines == sorted(lines), f"{prefix} fixtures are not numbered in the document's order"
    assert sum(COUNTS.values()) == len(ALL)


@pytest.mark.parametrize("name", sorted(ALL))
def test_fixture_is_well_formed(name: str) -> None:
    f = ALL[name]
    assert set(FIELDS) <= set(f) <= set(FIELDS) | set(OPTIONAL), set(f) ^ set(FIELDS)
    assert f["document"] == DOCUMENTS[_prefix(name)]
    assert isinstance(f["line"], int) and not isinstance(f["line"], bool) and f["line"] >= 1
    assert f["kind"] in KINDS and f["format"] in FORMATS and f["method"] in METHODS
    assert isinstance(f["path"], str) and f["path"].startswith("/") and " " not in f["path"]
    assert f["section"] == f"{f['method']} {f['path']}"
    assert isinstance(f["verbatim"], str) and f["verbatim"].strip() == f["verbatim"] and f["verbatim"]
    assert f["pairs_with"] is None or isinstance(f["pairs_with"], str)
    assert f["invalid_in_document"] is None or (isinstance(f["invalid_in_document"], str) and f["invalid_in_document"])
    for key in ("note", "heading"):
        assert f.get(key) is None or (isinstance(f[key], str) and f[key])
    assert f.get("path_source", "document") in ("document", "inferred")
    if "query" in f:
        assert f["kind"] == "request" and f["query"]
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in f["query"].items())
    if f["format"] in ("query", "parameter-table"):
        assert f["kind"] == "request" and "query" in f and f["body"] is None and f.get("note")
    if f["format"] in ("redoc", "prose"):
        assert f.get("note"), "say how the example is written"


# ----------------------------------------------------------------------------------- the documents


@pytest.mark.parametrize("name", sorted(ALL))
def test_verbatim_stands_in_the_document_at_its_line(name: str) -> None:
    """The example's text (white space folded) is in its document, starting on ``line`` (or within
    :data:`SLACK` lines of it)."""
    f = ALL[name]
    lines = _documents()[f["document"]]
    head = folded(f["verbatim"].splitlines()[0])
    starts = [n + 1 for n in range(max(0, f["line"] - 1 - SLACK), min(len(lines), f["line"] + SLACK))
              if head in folded(lines[n])]
    assert starts, f"the first line of the example is not near line {f['line']}"
    span = len(f["verbatim"].splitlines())
    window = folded("\n".join(lines[min(starts) - 1:max(starts) + span + SLACK]))
    assert folded(f["verbatim"]) in window, f"the example is not the document's text from line {f['line']}"


def test_every_example_block_has_its_fixture() -> None:
    """Counted in the documents: every Redoc example (``{- "`` or ``[- {``), every ``Example:`` value
    of a parameter table, every brokerage "Example request" and every performance "Example call" is
    a fixture; so the counts of :data:`COUNTS` are the documents' own."""
    docs = _documents()
    by_doc = {prefix: [f for n, f in ALL.items() if _prefix(n) == prefix] for prefix in DOCUMENTS}
    risk = docs[DOCUMENTS["risk"]]
    redoc = [(n + 1, m.start()) for n, text in enumerate(risk) for m in re.finditer(r'\{- "|\[- \{', text)]
    starts = sorted((f["line"], risk[f["line"] - 1].index(f["verbatim"].splitlines()[0]))
                    for f in by_doc["risk"] if f["format"] == "redoc")
    assert starts == redoc
    tables = [f for f in by_doc["risk"] if f["format"] == "parameter-table"]
    for n, text in enumerate(risk, start=1):
        for key, value in re.findall(r"Example: ([a-z_]+)=(\S+)", text):
            assert any(f["query"].get(key) == value and f["line"] <= n < f["line"] + len(f["verbatim"].splitlines())
                       for f in tables), f"risk line {n}: {key}={value} has no fixture"
    assert len(redoc) + len(tables) == COUNTS["risk"]

    brokerage = docs[DOCUMENTS["brokerage"]]
    headings = [n + 1 for n, text in enumerate(brokerage) if text.strip() == "Example request"]
    blocks = [f["line"] for f in by_doc["brokerage"] if f["format"] == "json"]
    assert [next(n for n in range(h + 1, len(brokerage)) if brokerage[n - 1].strip()) for h in headings] == blocks
    prose = [f for f in by_doc["brokerage"] if f["format"] == "prose"]
    assert len(blocks) + len(prose) == COUNTS["brokerage"]

    performance = docs[DOCUMENTS["performance"]]
    calls = [n + 2 for n, text in enumerate(performance) if text.strip() == "Example call"]
    calls = [next(n for n in range(c, len(performance)) if performance[n - 1].strip()) for c in calls]
    assert [f["line"] for f in by_doc["performance"]] == calls == [153, 219, 269]
    assert len(calls) == COUNTS["performance"]


# ----------------------------------------------------------------------------------- the data


@pytest.mark.parametrize("name", sorted(ALL))
def test_body_is_what_the_document_writes(name: str) -> None:
    """``body`` is the example's JSON (Redoc markers removed), or null with the reason when the
    example is not valid JSON; a query is the example call's parameters, a parameter table's are
    its ``Example:`` values, a prose response lists the keys its sentence names."""
    f = ALL[name]
    if f["format"] in ("json", "redoc"):
        try:
            data = parsed(f)
        except ValueError:
            assert f["body"] is None and "not valid JSON" in (f["invalid_in_document"] or "")
            assert "repaired" in f
        else:
            assert f["body"] == data
            assert "repaired" not in f
    elif f["format"] == "query":
        url = urlsplit(f["verbatim"])
        assert (url.path, f["query"]) == (f["path"], dict(parse_qsl(url.query, strict_parsing=True)))
    elif f["format"] == "parameter-table":
        for key, value in f["query"].items():
            assert f"Example: {key}={value} " in f["verbatim"]
        assert len(f["query"]) == f["verbatim"].count("Example: ")
    else:
        assert isinstance(f["body"], dict) and f["body"] and all(v is None for v in f["body"].values())
        assert all(key in f["verbatim"] for key in f["body"])


@pytest.mark.parametrize("name", sorted(n for n, f in ALL.items() if "repaired" in f))
def test_repair_is_one_small_edit(name: str) -> None:
    f = ALL[name]
    fix = f["repaired"]
    assert set(fix) == {"old", "new", "body"} and f["verbatim"].count(fix["old"]) == 1
    text = f["verbatim"].replace(fix["old"], fix["new"])
    assert json.loads(unredoc(text) if f["format"] == "redoc" else text) == fix["body"]


def test_requests_and_responses_pair_both_ways() -> None:
    for name, f in ALL.items():
        other = f["pairs_with"]
        if other is None:
            continue
        assert other in ALL, f"{name} pairs with a missing {other}"
        g = ALL[other]
        assert g["pairs_with"] == name, f"{other} does not pair back with {name}"
        assert {f["kind"], g["kind"]} == set(KINDS)
        assert (f["document"], f["method"], f["path"]) == (g["document"], g["method"], g["path"])
    paired = [n for n, f in ALL.items() if f["pairs_with"]]
    assert len(paired) == 2 * len({frozenset((n, ALL[n]["pairs_with"])) for n in paired})


def test_invalid_examples_are_the_documents_own_mistakes() -> None:
    """The examples the fixtures call invalid, and only those (a change to this list is a change of
    reading of a document)."""
    invalid = sorted(n for n, f in ALL.items() if f["invalid_in_document"])
    assert invalid == ["brokerage-01-create-allocation.json", "brokerage-03-create-configuration.json",
                       "brokerage-05-place-order.json", "brokerage-07-replace-allocation.json",
                       "brokerage-08-switch-configuration.json", "risk-24-optimisation.json"]
