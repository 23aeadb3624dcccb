"""Exchange calendars (``exchange_calendars``) for the instruments' MICs."""

from __future__ import annotations

import warnings
from functools import lru_cache

import pandas as pd

from toolkit.market.exchanges import operating_mic

#: calendar used when an instrument has no MIC, or one without a published calendar
DEFAULT_MIC = "XNYS"


@lru_cache(maxsize=16)
def calendar(mic: str | None):
    """The trading calendar of a MIC (e.g. XNYS, XNAS, BATS; a segment MIC such as XNGS trades on its
    operator's calendar, XNAS), falling back to :data:`DEFAULT_MIC`."""
    import exchange_calendars as xc

    names = set(xc.get_calendar_names())
    mic = mic if mic in names else operating_mic(mic)
    with warnings.catch_warnings():  # pandas 3 deprecates a call exchange_calendars makes: not the user's to act on
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray that drops timezone")
        return xc.get_calendar(mic if mic in names else DEFAULT_MIC, start="1985-01-02")


def next_session(mic: str | None, after: pd.Timestamp) -> pd.Timestamp:
    """The first trading session strictly after ``after`` on the MIC's calendar."""
    cal = calendar(mic)
    day = pd.Timestamp(after).normalize()
    if day >= cal.last_session:
        return day + pd.offsets.BDay(1)
    return cal.date_to_session(day + pd.Timedelta(days=1), direction="next")
