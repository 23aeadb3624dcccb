"""The risk platform's constraint universes: geographies, sectors, currencies, asset classes."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

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
