"""Instruments: identifiers, their validation, and search over a registry table.

An instrument is named, as the risk platform names it, by its **code** ``SYMBOL_MIC`` (``AAPL_XNGS``:
:func:`instrument_code`) and the ``apiid`` of its data provider (:mod:`toolkit.market.providers`);
:func:`by_code` finds the series of a code, :func:`describe` answers the platform's instrument object.

The registry is a ``pandas.DataFrame`` with one row per price series (the columns of
:data:`COLUMNS` plus ``n_records``); search is a pure function over it, so it works on the
workspace's table and on any table a user builds.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import pandas as pd
import pycountry
from stdnum import isin as stdnum_isin

from toolkit.contracts.risk.common import SEPARATOR
from toolkit.contracts.risk.history import InstrumentUpload, split_code
from toolkit.errors import Problems
from toolkit.market.exchanges import market, segments
from toolkit.market.providers import UPLOAD, apiid_of
from toolkit.validation import read_int, shown

#: namespace of the toolkit's deterministic instrument ids (uuid5 of source and symbol)
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "portfolio-toolkit/instrument")

_MIC = re.compile(r"^[A-Z0-9]{4}$")
#: the longest search text or filter, and the most matches one search answers
MAX_QUERY, MAX_MATCHES = 200, 1000


@dataclass(frozen=True)
class Instrument:
    """One price series of a security: the security's identifiers and where the series comes from."""

    instrument_id: str
    symbol: str
    name: str
    isin: str
    mic: str | None
    currency: str
    asset_class: str
    instrument_type: str
    sector: str | None
    country: str | None
    tradable: bool
    source: str

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_row(cls, row: dict) -> Instrument:
        names = {f.name for f in fields(cls)}
        values: dict[str, Any] = {k: (None if _missing(v) else v) for k, v in row.items() if k in names}
        values["tradable"] = bool(values.get("tradable"))
        return cls(**values)


COLUMNS = tuple(f.name for f in fields(Instrument))
#: the columns a search answer leads with: what tells apart the series of one security
LEADING = ("instrument_id", "symbol", "name", "source", "history_start", "history_end", "n_records")


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def instrument_id(source: str, symbol: str, isin: str, currency: str) -> str:
    """The deterministic id of a series: uuid5 over source, symbol, ISIN and currency."""
    return str(uuid.uuid5(NAMESPACE, f"{source}/{symbol}/{isin}/{currency}"))


def is_isin(value: object) -> bool:
    return isinstance(value, str) and stdnum_isin.is_valid(value)


def check_country(value: object, path: str, problems: Problems) -> str | None:
    """Validate an ISO 3166 alpha-2 country code with pycountry."""
    if not isinstance(value, str) or pycountry.countries.get(alpha_2=value.upper()) is None:
        problems.add(path, f"{value!r} is not an ISO 3166 alpha-2 country code")
        return None
    return value.upper()


def check_mic(value: object, path: str, problems: Problems) -> str | None:
    """Validate the form of an ISO 10383 market identifier code (four letters or digits)."""
    if not isinstance(value, str) or not _MIC.match(value.upper()):
        problems.add(path, f"{value!r} is not an ISO 10383 MIC (four letters or digits)")
        return None
    return value.upper()


def instrument_code(symbol: str, mic: str | None) -> str:
    """The risk platform's instrument code: ``SYMBOL_MIC`` (``instrument_code("AAPL", "XNGS")`` is
    ``"AAPL_XNGS"``); a series without a MIC (a user's upload that named none) is its symbol."""
    return f"{symbol}{SEPARATOR}{mic}" if mic else symbol


def with_codes(table: pd.DataFrame) -> pd.DataFrame:
    """The registry with ``instrument_code`` (a user's own code where the registry's ``code`` column
    keeps one, else ``SYMBOL_MIC``) and ``apiid`` (None where no provider stands for the series' source)
    added."""
    own = table["code"] if "code" in table else pd.Series(None, index=table.index, dtype=object)
    codes = [c if isinstance(c, str) else instrument_code(s, m if isinstance(m, str) else None)
             for c, s, m in zip(own, table["symbol"], table["mic"])]
    apiids = pd.Series([apiid_of(s) for s in table["source"]], index=table.index, dtype=object)
    return table.assign(instrument_code=codes, apiid=apiids)


def by_code(table: pd.DataFrame, code: str, apiid: int | None = None) -> pd.DataFrame:
    """The rows of the registry named by ``code`` (and ``apiid`` when given), the current series
    first (:func:`current_first`). A code is matched as written (``AAPL_XNAS`` is not ``AAPL_XNGS``)."""
    coded = with_codes(table)
    keep = coded["instrument_code"] == code
    if apiid is not None:
        keep &= coded["apiid"] == apiid
    return current_first(coded[keep])


def near_codes(table: pd.DataFrame, code: str, limit: int = 3) -> list[str]:
    """Codes of the registry a mistyped ``code`` may have meant: the same symbol on another market,
    then the codes that start like it."""
    coded = with_codes(table)
    symbol = split_code(code)[0].upper()
    same = coded.loc[coded["symbol"].str.upper() == symbol, "instrument_code"]
    like = coded.loc[coded["instrument_code"].str.upper().str.startswith(symbol[:3]), "instrument_code"]
    return list(dict.fromkeys([*same, *like]))[:limit]


def registered(instrument: InstrumentUpload) -> dict:
    """The registry row of an instrument a user uploads under its own code (PUT /history): source
    ``upload`` (the User Feed); the symbol and MIC of its code (or its ``identifiers`` and ``exchange``);
    ISIN, name, sector and primary country as given (the ISIN empty and the name the code when not
    given; a country named in full, ``United States``, is kept as its ISO 3166 alpha-2 code)."""
    isin = instrument.isin or ""
    country = None
    given = instrument.classification.primary_country if instrument.classification else None
    if given:
        try:
            country = pycountry.countries.lookup(given).alpha_2
        except LookupError:
            country = None
    kinds = {v: k for k, v in ASSET_TYPES.items()}
    return {"instrument_id": instrument_id(UPLOAD, instrument.instrument_code, isin, instrument.currency),
            "symbol": instrument.symbol, "name": instrument.name or instrument.instrument_code, "isin": isin,
            "mic": instrument.mic, "currency": instrument.currency, "asset_class": instrument.asset_class or "Equity",
            "instrument_type": kinds.get(instrument.asset_type or "", instrument.asset_type or "Stock"),
            "sector": instrument.classification.sector if instrument.classification else None,
            "country": country or (isin[:2] if isin else None), "tradable": True, "source": UPLOAD}


#: the seed's ``asset_type`` of the registry's instrument types
ASSET_TYPES = {"Stock": "Common Stock", "ETF": "ETF", "Index": "Index"}


def describe(row: dict) -> dict:
    """The risk platform's instrument object of a registry row (``risk-platform-api.txt`` lines
    122-150): classification, name, print_name, currency, margin and fee data (no leverage, no fees:
    the workspace charges none on its instruments), exchange, apiid, identifiers, asset type and class,
    instrument_code (a text the registry does not hold, such as the industry or the FIGI, is ``""``);
    added: ``instrument_id``, ``source``, ``tradable`` and the daily history's ``history_start``,
    ``history_end`` and ``n_records`` when the row has them."""
    value = {k: (None if _missing(v) else v) for k, v in row.items()}
    mic, country = value.get("mic"), value.get("country")
    place = market(mic)
    kind = str(value.get("instrument_type") or "")
    asset_type = ASSET_TYPES.get(kind, kind)
    found = pycountry.countries.get(alpha_2=country) if country else None
    return {
        "classification": {"sector": value.get("sector") or "", "industry": "",
                           "primary_country": getattr(found, "common_name", None) or getattr(found, "name", "")},
        "name": value["name"], "print_name": f"[{value['symbol']}] {value['name']} ({asset_type})",
        "currency": value["currency"], "margin_data": {"deposit_factor": 1},
        "fee_data": {"fixed_commission": 0, "variable_commission": 0, "spread": 0},
        "exchange": place.to_dict() if place else ({"mic_code": mic} if mic else None),
        "apiid": apiid_of(value.get("source")),
        "identifiers": {"symbol": value["symbol"], "isin": value.get("isin") or "", "figi": ""},
        "asset_type": asset_type, "asset_class": value.get("asset_class") or "",
        "instrument_code": value.get("code") or instrument_code(str(value["symbol"]), mic),
        "instrument_id": value["instrument_id"], "source": value.get("source") or "",
        "tradable": bool(value.get("tradable")), "history_start": value.get("history_start"),
        "history_end": value.get("history_end"), "n_records": int(value.get("n_records") or 0),
    }


def current_first(table: pd.DataFrame) -> pd.DataFrame:
    """The registry's rows with the series a user would pick first for each security: the one
    whose daily history ends latest (``history_end``), then the longest (``n_records``); rows
    without ``history_end`` (no daily prices) last. The order :func:`search` breaks ties by, and
    an ISIN or a symbol resolves by (the first row of each)."""
    ends = table["history_end"].fillna("") if "history_end" in table else pd.Series("", index=table.index)
    order = pd.DataFrame({"end": ends, "n": table.get("n_records", 0)}, index=table.index)
    return table.loc[order.sort_values(["end", "n"], ascending=[False, False], kind="stable").index]


def search(
    table: pd.DataFrame,
    text: str | None = None,
    *,
    symbol: str | None = None,
    isin: str | None = None,
    mic: str | None = None,
    currency: str | None = None,
    apiid: int | None = None,
    limit: int = 50,
) -> pd.DataFrame:
    """Search a registry table; the most likely match comes first.

    ``symbol``, ``isin``, ``mic`` and ``currency`` are exact filters (case-insensitive); ``mic`` also
    finds the listings of an operating MIC's segments (``XNAS`` finds ``XNGS``); ``apiid`` keeps the
    series of one data provider.
    ``text`` is free text matched against symbol, ISIN and name; each word must match
    somewhere. Score per word: exact symbol or ISIN 100, symbol prefix 50, a name word
    starting with it 30, anywhere in the name 10.

    Ties (the same company shipped by several sources has the same score) go to the series a
    user would pick: first the **most recent** history (the latest ``history_end``: the series
    that can still be traded and valued at the latest prices), then the **longest** one
    (``n_records``), then the symbol. A table without ``history_end`` ranks ties by
    ``n_records`` alone. So ``search("microsoft")`` on the demo workspace answers MSFT from
    skfolio (1990-2022) before pmdarima (1986-2017) and bokeh (2000-2013).

    The answer leads with the columns that tell such rows apart: ``instrument_id``, ``symbol``,
    ``name``, ``source``, ``history_start``, ``history_end``, ``n_records`` (those the table
    has), then the other columns and ``score``. At most ``limit`` (1 to 1,000) matches; the text
    and the filters are texts of at most 200 characters (a ``ValidationError`` names any other).
    """
    problems = Problems()
    for path, value in (("text", text), ("symbol", symbol), ("isin", isin), ("mic", mic), ("currency", currency)):
        if value is not None and (not isinstance(value, str) or len(value) > MAX_QUERY):
            problems.add(path, f"{shown(value)} is not a text of at most {MAX_QUERY} characters")
    read_int(limit, "limit", problems, low=1, high=MAX_MATCHES)
    if apiid is not None:
        read_int(apiid, "apiid", problems, low=1)
    problems.raise_if_any("instrument search")
    keep = pd.Series(True, index=table.index)
    for column, wanted in (("symbol", symbol), ("isin", isin), ("currency", currency)):
        if wanted:
            keep &= table[column].fillna("").str.upper() == wanted.strip().upper()
    if mic:
        keep &= table["mic"].fillna("").str.upper().isin(segments(mic.strip().upper()))
    if apiid is not None:
        keep &= table["source"].map(apiid_of) == apiid
    score = pd.Series(0.0, index=table.index)
    if text and text.strip():
        sym = table["symbol"].fillna("").str.upper()
        code = table["isin"].fillna("").str.upper()
        name = table["name"].fillna("").str.upper()
        for word in text.upper().split():
            escaped = re.escape(word)
            word_score = (
                100 * ((sym == word) | (code == word))
                + 50 * sym.str.startswith(word)
                + 30 * name.str.contains(rf"\b{escaped}", regex=True)
                + 10 * name.str.contains(word, regex=False)
                + 10 * code.str.startswith(word)
            )
            keep &= word_score > 0
            score += word_score
    ends = table["history_end"].fillna("") if "history_end" in table else ""  # ISO texts sort as dates
    order = pd.DataFrame({"score": score, "end": ends, "n": table.get("n_records", 0), "symbol": table["symbol"]})
    order = order[keep].sort_values(["score", "end", "n", "symbol"], ascending=[False, False, False, True],
                                    kind="stable")  # ties as current_first, then the symbol
    found = table.loc[order.index[:limit]].assign(score=order["score"].iloc[:limit])
    first = [c for c in LEADING if c in found]
    return found[[*first, *(c for c in found if c not in first)]]
