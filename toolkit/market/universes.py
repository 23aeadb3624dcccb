"""The risk platform's constraint universes: geographies, sectors, currencies, asset classes
(``risk-platform-api.txt`` lines 273-650: GET /constraints/geographies, sectors, currencies, assetclasses)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pycountry

DATA = Path(__file__).resolve().parents[2] / "data"


@lru_cache(maxsize=1)
def universes(path: str | None = None) -> dict:
    """The four universes as shipped in ``data/universes.json`` (GICS sectors, ISO codes)."""
    return json.loads(Path(path or DATA / "universes.json").read_text())


def geography_of(country: str | None) -> str | None:
    """The geography code of an ISO 3166 alpha-2 country, or None if outside every geography."""
    for geo in universes()["geographies"]:
        if country in geo["countries"]:
            return geo["code"]
    return None


#: the seed's ``type`` of each shipped universe's entries
TYPES = {"geographies": "geographic", "sectors": "sector", "currencies": "currency", "asset_classes": "assetclass"}


def universe_items(key: str) -> list[dict]:
    """The shipped universe ``key`` as the risk platform lists it: ``{name, type, id, description}``,
    ``id`` being the code a strategy constraint names (``NORTH_AMERICA``, GICS ``45``, ``USD``,
    ``EQUITY``); a geography adds its ISO 3166 ``countries``, a currency's description is its ISO 4217
    name (as the document's, line 506: "Australian Dollar")."""
    shipped = universes()[key]
    if key == "currencies":
        return [{"name": c, "type": TYPES[key], "id": c,
                 "description": getattr(pycountry.currencies.get(alpha_3=c), "name", "")} for c in shipped]
    return [{"name": g["name"], "type": TYPES[key], "id": g["code"], "description": "",
             **({"countries": list(g["countries"])} if "countries" in g else {})} for g in shipped]
