"""Coverage of ISIN + currency pairs (POST /history/coverage, ``risk-platform-api.txt`` lines 152-188):
which series of the registry answers each pair.

The pairs come as the contract reads them (:func:`toolkit.contracts.risk.history.read_pairs`), from a
JSON array or from CSV text with ``isin`` and ``currency`` columns (:func:`csv_rows`). Each answer::

    {"coverage_status": "OK", "input": {"isin": ..., "currency": ...},
     "history_start": "1990-01-02", "history_end": "2022-12-28", "instrument": {...}}

``coverage_status`` is ``OK`` (the document's word: covered), or, added, ``NOT_COVERED`` (no series
of that ISIN) and ``CURRENCY_NOT_COVERED`` (the ISIN is covered in another currency). The best
matching instrument is the pair's current series (its daily history ends latest, then it is the
longest: :func:`toolkit.market.instruments.current_first`), answered as the platform's instrument
object (:func:`toolkit.market.instruments.describe`).
"""

from __future__ import annotations

import io

import pandas as pd

from toolkit.market.instruments import current_first, describe

STATUSES = ("OK", "NOT_COVERED", "CURRENCY_NOT_COVERED")
#: the columns of a CSV answer: the answer's fields, then the instrument's code, apiid, id, symbol and name
CSV_COLUMNS = ("isin", "currency", "coverage_status", "history_start", "history_end", "instrument_code", "apiid",
               "instrument_id", "symbol", "name")


def csv_rows(data: str | bytes) -> list[dict]:
    """CSV text (or UTF-8 bytes, a BOM allowed) with ``isin`` and ``currency`` columns as rows to read:
    headers are matched case-insensitively and without surrounding spaces, other columns are left out
    (a CSV answer is itself a request); cells are kept as written (the contract reads them strictly).
    Raises ``ValueError`` for text that is not CSV."""
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data.removeprefix("\ufeff")
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    return frame[[c for c in ("isin", "currency") if c in frame]].to_dict("records")


def check(pairs: list[tuple[str, str]], registry: pd.DataFrame) -> list[dict]:
    """One answer per ``(isin, currency)`` pair, in order, against a registry table (with
    ``history_start``, ``history_end`` and ``n_records``)."""
    best = current_first(registry[registry["n_records"] > 0]).drop_duplicates(["isin", "currency"])
    rows = {(r["isin"], r["currency"]): r for r in best.to_dict("records")}
    held = set(best["isin"])
    answers = []
    for isin, currency in pairs:
        row = rows.get((isin, currency))
        status = "OK" if row else "CURRENCY_NOT_COVERED" if isin in held else "NOT_COVERED"
        answers.append({"coverage_status": status, "input": {"isin": isin, "currency": currency},
                        "history_start": row["history_start"] if row else None,
                        "history_end": row["history_end"] if row else None,
                        "instrument": describe(row) if row else None})
    return answers


def to_table(answers: list[dict]) -> pd.DataFrame:
    """The answers as a table of :data:`CSV_COLUMNS`."""
    table = [{"isin": a["input"]["isin"], "currency": a["input"]["currency"], "coverage_status": a["coverage_status"],
              "history_start": a["history_start"], "history_end": a["history_end"],
              **{k: (a["instrument"] or {}).get(k) for k in ("instrument_code", "apiid", "instrument_id")},
              "symbol": ((a["instrument"] or {}).get("identifiers") or {}).get("symbol"),
              "name": (a["instrument"] or {}).get("name")} for a in answers]
    return pd.DataFrame(table, columns=list(CSV_COLUMNS), dtype=object)


def to_csv(answers: list[dict]) -> str:
    """The answers as CSV (:data:`CSV_COLUMNS`): itself a valid CSV request."""
    return to_table(answers).to_csv(index=False, lineterminator="\n")
