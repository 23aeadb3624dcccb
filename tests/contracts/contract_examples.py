"""The example fixtures of the three seed documents (``tests/contracts/examples/*.json``) and the
helpers that read them: shared by ``test_examples.py``, ``conformance.py`` and ``test_conformance.py``.

A fixture is one example of one document, as written there (``verbatim``) and as data (``body``,
and ``query`` for a query string or a parameter table's ``Example:`` values). Its ``format`` says
how the example is written:

- ``json``: plain JSON (the brokerage document's blocks): ``body == json.loads(verbatim)`` unless
  the example is not valid JSON, when ``body`` is null and ``invalid_in_document`` says why;
- ``redoc``: the risk platform's examples, copied from a Redoc page, which prints ``- `` before every
  key and array item (``{- "name": "Account Name",``); ``body == json.loads(unredoc(verbatim))``;
- ``query``: an example call (``/portfolio/returns?portfolioId=...``): ``query`` is its parameters;
- ``parameter-table``: the ``Example: key=value`` values of a parameter table: ``query`` holds them;
- ``prose``: a sentence that names what a response returns (the brokerage document shows no response
  body): ``body`` lists the named keys, with null values (the document gives none).

An example that is not valid JSON also carries ``repaired``: the smallest edit that makes it parse
(``old`` replaced by ``new`` once) and the ``body`` it then gives, for whoever needs its shape.

The documents live beside the repository, in ``../shared/seeds`` (``$TOOLKIT_SEEDS`` overrides).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE / "examples"

#: the three documents by the prefix of their fixtures' file names
DOCUMENTS = {"brokerage": "brokerage-model-portfolios.txt", "risk": "risk-platform-api.txt",
             "performance": "performance-reporting-interface.txt"}
#: how many examples each document holds (a dropped or added fixture changes these on purpose only)
COUNTS = {"brokerage": 9, "risk": 31, "performance": 3}

KINDS = ("request", "response")
FORMATS = ("json", "redoc", "query", "parameter-table", "prose")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
#: every fixture has these keys (``query``, ``note`` and the others of :data:`OPTIONAL` may be added)
FIELDS = ("document", "line", "section", "method", "path", "kind", "pairs_with", "verbatim", "body",
          "invalid_in_document", "format")
OPTIONAL = ("query", "note", "heading", "path_source", "repaired")
NAME = re.compile(r"(brokerage|risk|performance)-([0-9]{2})-[a-z0-9]+(?:-[a-z0-9]+)*\.json")


def seeds_dir() -> Path:
    """Where the three documents are: ``$TOOLKIT_SEEDS``, else ``../shared/seeds`` beside the repository."""
    return Path(os.environ.get("TOOLKIT_SEEDS") or HERE.parents[2] / "shared" / "seeds")


def document_lines(document: str) -> list[str] | None:
    """The lines of a document (its file name), or None when the documents are not on this machine."""
    path = seeds_dir() / document
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else None


def fixtures() -> dict[str, dict]:
    """Every fixture, by file name, in name order (document, then number)."""
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(EXAMPLES.glob("*.json"))}


def unredoc(text: str) -> str:
    """JSON from a Redoc rendering: drop the ``- `` that Redoc prints before each key and array item.

    Outside strings, a dash followed by a space never occurs in JSON (a negative number has no
    space), so every such pair outside a string is a marker. Strings never span lines in these
    renderings, so a string left open by a stray quote ends with its line (the rest of the text is
    still read right, and the result fails to parse where the document is wrong).
    """
    out, in_string, escaped, i = [], False, False, 0
    while i < len(text):
        ch = text[i]
        if in_string:
            if ch == "\n":
                in_string = False
            elif escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            out.append(ch)
        elif ch == '"':
            in_string = True
            out.append(ch)
        elif ch == "-" and text[i + 1:i + 2] == " ":
            i += 2
            continue
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def parsed(fixture: dict) -> object:
    """The example's JSON as the document writes it (``json`` and ``redoc`` formats); raises
    ``ValueError`` when the example is not valid JSON."""
    text = fixture["verbatim"]
    return json.loads(unredoc(text) if fixture["format"] == "redoc" else text)


def folded(text: str) -> str:
    """``text`` with every run of white space made one space (for comparing with the document)."""
    return " ".join(text.split())


def request_fixtures() -> dict[str, dict]:
    return {name: f for name, f in fixtures().items() if f["kind"] == "request"}
