"""The risk dashboard's tables and charts (toolkit.reporting.risk_views) on the façade's answer.

The numbers themselves are checked against empyrical and riskfolio in test_analytics_risk.py;
here the views must carry them unchanged, in the right rows, columns, traces and bars.
"""

from __future__ import annotations

import pytest
import xarray as xr

from toolkit.analytics import risk
from toolkit.reporting import risk_views as views
from toolkit.widgets.risk import PERIODS, horizons_for
from toolkit.workspace import Workspace


@pytest.fixture(scope="module")
def apple(book_ws: Workspace):
    return book_ws.analytics.instrument("AAPL", start="2016-01-01", end="2020-12-31")


def test_risk_table_carries_the_cube(apple) -> None:
    cube = apple.risk.sel(instrument=apple.labels()[0])
    table = views.risk_table(cube)
    assert list(table.index) == ["day", "week", "month"]
    assert list(table.columns) == ["VaR 90%", "VaR 95%", "VaR 97.5%", "CVaR 90%", "CVaR 95%", "CVaR 97.5%",
                                   "Volatility", "Annualised volatility", "Average return", "Observations"]
    assert table.loc["week", "VaR 97.5%"] == float(cube["var"].sel(horizon="week", level=0.975))
    assert table.loc["month", "CVaR 90%"] == float(cube["cvar"].sel(horizon="month", level=0.9))
    assert table.loc["day", "Annualised volatility"] == float(cube["annual_volatility"].sel(horizon="day"))
    assert table.loc["month", "Observations"] == 60  # 2016-2020, whole months


def test_commentary_in_the_seed_words_and_by_level(apple) -> None:
    cube = apple.risk.sel(instrument=apple.labels()[0])
    every = views.commentary(cube)
    assert len(every) == 2 * 3 * 3  # VaR and CVaR x levels x horizons
    at = views.commentary(cube, 0.975)
    assert len(at) == 6 and all("2.5%" in s for s in at)
    var = float(cube["var"].sel(horizon="week", level=0.975))
    assert f"There is a 2.5% chance that the instrument will lose more than {var:.1%} over one week" in at


def test_charts_have_a_bar_per_number(apple) -> None:
    label = apple.labels()[0]
    cube = apple.risk.sel(instrument=label)
    figure = views.risk_chart(cube, "risk")
    assert [t.name for t in figure.data] == ["VaR 90%", "CVaR 90%", "VaR 95%", "CVaR 95%", "VaR 97.5%", "CVaR 97.5%"]
    assert list(figure.data[3].y) == list(cube["cvar"].sel(level=0.95).values)
    exposures = apple.exposures.sel(instrument=label)
    bars = views.exposure_chart(exposures, "betas").data[0]
    assert list(bars.y) == [str(f) for f in exposures["factor"].values]
    assert list(bars.x) == list(exposures["beta"].values)


@pytest.mark.parametrize(("period", "horizons"), [("1Y", ["day", "week"]), ("3Y", ["day", "week"]),
                                                  ("5Y", ["day", "week", "month"]),
                                                  ("Full history", ["day", "week", "month"])])
def test_the_app_asks_only_for_horizons_the_window_can_measure(period: str, horizons: list[str]) -> None:
    assert horizons_for(PERIODS[period]) == horizons
    need = risk.tail_need(1 - xr.DataArray(list(risk.LEVELS)).values)
    assert need == 40  # a 97.5% tail needs 40 returns: 3 years hold 36 months, too few
