"""Coverage check: which ISIN + currency pairs the workspace has history for.

Request: a JSON list of ``{"isin": ..., "currency": ...}`` (or ``{"instruments": [...]}``),
or a CSV with ``isin`` and ``currency`` columns. Answer, one per request, in request order::

    {"isin": ..., "currency": ..., "coverage_status": "COVERED",
     "history_start": "1990-01-02", "history_end": "2022-12-28", "instrument": {...}}

``coverage_status`` is ``COVERED``; ``NOT_COVERED`` (no series for that ISIN);
``CURRENCY_NOT_COVERED`` (the ISIN is known, but not in that currency); ``INVALID_ISIN`` or
``INVALID_CURRENCY`` (the pair fails ISO 6166 / ISO 4217 validation). A malformed request
(not a list, a row without ``isin``) raises ``ValidationError`` instead.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pycountry

from toolkit.errors import Problems
from toolkit.market.instruments import COLUMNS, is_isin

STATUSES = ("COVERED", "NOT_COVERED", "CURRENCY_NOT_COVERED", "INVALID_ISIN", "INVALID_CURRENCY")
ANSWER_FIELDS = ("isin", "currency", "coverage_status", "history_start", "history_end")


def parse_request(data: object, fmt: str = "json") -> pd.DataFrame:
    """Read a coverage request (JSON text, bytes, a list/dict, or CSV text) into ``isin, currency``."""
    problems = Problems()
    try:
        rows = _read(data, fmt)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:  # JSONDecodeError is a ValueError
        problems.add("instruments", f"is not readable {fmt.upper()}: {exc}")
        problems.raise_if_any("coverage request")
    if not isinstance(rows, list) or not rows:
        problems.add("instruments", "expected a non-empty list of {isin, currency} pairs")
        problems.raise_if_any("coverage request")
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            problems.add(f"instruments[{i}]", "expected an object with isin and currency")
            continue
        for key in ("isin", "currency"):
            if not isinstance(row.get(key), str):
                problems.add(f"instruments[{i}].{key}", "is required as a string")
    problems.raise_if_any("coverage request")
    return pd.DataFrame({"isin": [r["isin"].strip().upper() for r in rows],
                         "currency": [r["currency"].strip().upper() for r in rows]})


def _read(data: object, fmt: str) -> object:
    if fmt == "csv":
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else str(data)
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        frame.columns = [c.strip().lower() for c in frame.columns]
        return frame.to_dict("records")
    if fmt != "json":
        raise ValueError(f"the format must be 'json' or 'csv', not {fmt!r}")
    rows = json.loads(data) if isinstance(data, (str, bytes)) else data
    return rows.get("instruments") if isinstance(rows, dict) else rows


def check(request: pd.DataFrame, registry: pd.DataFrame) -> list[dict]:
    """Answer a parsed request against a registry table (with ``history_start/end``, ``n_records``).

    Where several series share an ISIN and currency, the one with the most records answers.
    """
    best = (registry.sort_values("n_records", ascending=False, kind="stable")
            .drop_duplicates(["isin", "currency"]))
    merged = request.merge(best, on=["isin", "currency"], how="left", validate="many_to_one")
    currencies = {c.alpha_3 for c in pycountry.currencies}
    status = np.select(
        [~request["isin"].map(is_isin).astype(bool), ~request["currency"].isin(currencies),
         merged["instrument_id"].notna(), request["isin"].isin(set(registry["isin"]))],
        ["INVALID_ISIN", "INVALID_CURRENCY", "COVERED", "CURRENCY_NOT_COVERED"],
        default="NOT_COVERED",
    )
    merged = merged.astype(object).where(merged.notna(), None)
    answers = []
    for row, state in zip(merged.to_dict("records"), status):
        covered = state == "COVERED"
        answers.append({"isin": row["isin"], "currency": row["currency"], "coverage_status": str(state),
                        "history_start": row["history_start"] if covered else None,
                        "history_end": row["history_end"] if covered else None,
                        "instrument": {c: _plain(row[c]) for c in COLUMNS} if covered else None})
    return answers


def _plain(value: object) -> object:
    if isinstance(value, float) and value != value:
        return None
    return value.item() if hasattr(value, "item") else value


def to_csv(answers: list[dict]) -> str:
    """The answers as CSV: the answer fields, then ``instrument_id``, ``symbol`` and ``name``."""
    rows = [{**{k: a[k] for k in ANSWER_FIELDS},
             **{k: (a["instrument"] or {}).get(k) for k in ("instrument_id", "symbol", "name")}}
            for a in answers]
    return pd.DataFrame(rows).to_csv(index=False, lineterminator="\n")


def to_json(answers: list[dict]) -> str:
    return json.dumps(answers, indent=2)
