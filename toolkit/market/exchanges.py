"""The markets (ISO 10383 MICs) the toolkit knows: name, operating MIC, country, time zone and the
Bloomberg exchange code, as the risk platform's instrument object shows them
(``risk-platform-api.txt`` lines 36-43: ``{"mic_code": "XNGS", "name": "NASDAQ", "priority": 1,
"country": "United States", "timezone": "America/New_York", "exchange_code": "UW", "country_iso": "US"}``).

A **segment MIC** (``XNGS``, Nasdaq Global Select) belongs to an **operating MIC** (``XNAS``,
Nasdaq); a search by an operating MIC finds the listings of its segments. The rows are public facts
of the ISO 10383 register (segments and operators as the register lists them) and of Bloomberg's
exchange codes. ``country_iso`` is ISO 3166 alpha-2 as the document's first example writes it
(``US``; its coverage example writes ``USA``: the alpha-2 form is kept throughout).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Market:
    """One market: its MIC, the MIC of its operator, and what the platform shows of it."""

    mic_code: str
    operating_mic: str
    name: str
    country_iso: str
    country: str
    timezone: str
    exchange_code: str

    def to_dict(self, priority: int = 1) -> dict:
        """The seed's ``exchange`` object; ``priority`` 1 is a security's primary listing."""
        return {**asdict(self), "priority": priority}


_US, _NY = ("US", "United States"), "America/New_York"
MARKETS: dict[str, Market] = {m.mic_code: m for m in (
    Market("XNAS", "XNAS", "NASDAQ", *_US, _NY, "UQ"),
    Market("XNGS", "XNAS", "NASDAQ", *_US, _NY, "UW"),
    Market("XNMS", "XNAS", "NASDAQ", *_US, _NY, "UQ"),
    Market("XNCM", "XNAS", "NASDAQ", *_US, _NY, "UR"),
    Market("XNYS", "XNYS", "NYSE", *_US, _NY, "UN"),
    Market("ARCX", "XNYS", "NYSE Arca", *_US, _NY, "UP"),
    Market("XASE", "XNYS", "NYSE American", *_US, _NY, "UA"),
    Market("BATS", "BATS", "Cboe BZX", *_US, _NY, "UF"),
    Market("XLON", "XLON", "London Stock Exchange", "GB", "United Kingdom", "Europe/London", "LN"),
    Market("XPAR", "XPAR", "Euronext Paris", "FR", "France", "Europe/Paris", "FP"),
    Market("XAMS", "XAMS", "Euronext Amsterdam", "NL", "Netherlands", "Europe/Amsterdam", "NA"),
    Market("XETR", "XETR", "Xetra", "DE", "Germany", "Europe/Berlin", "GY"),
    Market("XFRA", "XFRA", "Frankfurt Stock Exchange", "DE", "Germany", "Europe/Berlin", "GF"),
    Market("XSWX", "XSWX", "SIX Swiss Exchange", "CH", "Switzerland", "Europe/Zurich", "SW"),
    Market("XTKS", "XJPX", "Tokyo Stock Exchange", "JP", "Japan", "Asia/Tokyo", "JT"),
    Market("XHKG", "XHKG", "Hong Kong Exchanges", "HK", "Hong Kong", "Asia/Hong_Kong", "HK"),
    Market("XTSE", "XTSE", "Toronto Stock Exchange", "CA", "Canada", "America/Toronto", "CT"),
)}


def market(mic: str | None) -> Market | None:
    """The market of a MIC, or None for a MIC the toolkit has no facts about (or no MIC)."""
    return MARKETS.get(mic) if mic else None


def operating_mic(mic: str | None) -> str | None:
    """The operating MIC of ``mic`` (itself for an operating MIC or an unknown one)."""
    found = market(mic)
    return found.operating_mic if found else mic


def segments(mic: str) -> set[str]:
    """``mic`` and the segment MICs it operates: ``XNAS`` -> ``{XNAS, XNGS, XNMS, XNCM}``."""
    return {mic} | {m.mic_code for m in MARKETS.values() if m.operating_mic == mic}
