"""Performance statistics (``toolkit.analytics.performance``) against independent numbers.

- empyrical-reloaded (``empyrical.stats``) and quantstats (``quantstats.stats``) on the same real daily
  returns of S&P 500 stocks from ``data/sp500_stocks.csv``: to 1e-10 (relative), the rounding of
  float64 sums over 2,000 days.
- Bacon (2008) monthly portfolio returns with the downside deviation published for them in
  R PerformanceAnalytics (``DownsideDeviation(portfolio_bacon[,1], MAR = 0.005)`` = 0.02553674;
  Bacon's book: 0.0255).
- Where this module differs from empyrical on purpose (NaN rows, zero dispersion) the tests show
  both numbers.
"""

from __future__ import annotations

from pathlib import Path

import dask
import empyrical
import numpy as np
import pandas as pd
import pytest
import quantstats as qs
import xarray as xr

from toolkit.analytics import performance as P
from toolkit.analytics.returns import simple_returns
from toolkit.errors import ValidationError

DATA = Path(__file__).resolve().parents[1] / "data"
BACON_P = [0.3, 2.6, 1.1, -1.0, 1.5, 2.5, 1.6, 6.7, -1.4, 4.0, -0.5, 8.1,
           4.0, -3.7, -6.1, 1.7, -4.9, -2.2, 7.0, 5.8, -6.5, 2.4, -0.5, -0.9]
NAMES = ["AAPL", "BAC", "GE", "MSFT", "RRC"]


@pytest.fixture(scope="module")
def daily() -> xr.DataArray:
    """Daily returns of five shipped stocks, 2014-2022, as (portfolio, time)."""
    frame = pd.read_csv(DATA / "sp500_stocks.csv", index_col="time", parse_dates=True).loc["2014":, NAMES]
    close = xr.DataArray(frame.to_numpy().T, dims=("portfolio", "time"),
                         coords={"portfolio": NAMES, "time": frame.index.to_numpy()})
    return simple_returns(close)


def series(x: xr.DataArray, name: str) -> pd.Series:
    return x.sel(portfolio=name).to_series()


def close(ours: float, theirs: float, rel: float = 1e-10) -> None:
    assert ours == pytest.approx(theirs, rel=rel, abs=1e-14)


def forbid_compute(*args, **kwargs):
    raise AssertionError("the dask graph was computed inside the library call")


# =========================================================================== against empyrical


@pytest.mark.parametrize("name", NAMES)
def test_statistics_agree_with_empyrical(daily, name):
    s = series(daily, name)
    rf, mar = 0.0001, 0.0002
    close(P.annual_return(daily).sel(portfolio=name).item(), empyrical.annual_return(s))
    close(P.annual_volatility(daily).sel(portfolio=name).item(), empyrical.annual_volatility(s))
    close(P.sharpe(daily, rf).sel(portfolio=name).item(), empyrical.sharpe_ratio(s, risk_free=rf))
    close(P.sortino(daily, mar).sel(portfolio=name).item(), empyrical.sortino_ratio(s, required_return=mar))
    close(P.downside_risk(daily, mar).sel(portfolio=name).item(), empyrical.downside_risk(s, required_return=mar))
    close(P.max_drawdown(daily).sel(portfolio=name).item(), empyrical.max_drawdown(s))
    np.testing.assert_allclose(P.drawdown(daily).sel(portfolio=name).values,
                               empyrical.stats.drawdown_series(s).to_numpy(), rtol=1e-10, atol=1e-14)


def test_monthly_annualisation_factor_agrees_with_empyrical(daily):
    monthly = (1 + daily).resample(time="ME").prod() - 1
    s = series(monthly, "MSFT")
    got = P.summary(monthly, periods_per_year=12).sel(portfolio="MSFT")
    close(got["annual_return"].item(), empyrical.annual_return(s, period="monthly"))
    close(got["annual_volatility"].item(), empyrical.annual_volatility(s, period="monthly"))
    close(got["sharpe"].item(), empyrical.sharpe_ratio(s, period="monthly"))
    close(got["sortino"].item(), empyrical.sortino_ratio(s, period="monthly"))


def test_statistics_agree_with_quantstats(daily):
    for name in ("AAPL", "RRC"):
        s = series(daily, name)
        close(P.annual_volatility(daily).sel(portfolio=name).item(), qs.stats.volatility(s))
        close(P.sharpe(daily).sel(portfolio=name).item(), qs.stats.sharpe(s))
        close(P.sortino(daily).sel(portfolio=name).item(), qs.stats.sortino(s))
        close(P.max_drawdown(daily).sel(portfolio=name).item(), qs.stats.max_drawdown(s))


def test_first_day_loss_counts_as_drawdown():
    # the start value is a peak (empyrical): -10 % then +5 % is a 10 % drawdown, not 0
    r = xr.DataArray([-0.1, 0.05], dims="time")
    assert P.max_drawdown(r).item() == pytest.approx(-0.1, abs=1e-15)
    assert P.max_drawdown(r).item() == pytest.approx(empyrical.max_drawdown(np.array([-0.1, 0.05])), abs=1e-15)


# =========================================================================== published figure


def test_bacon_downside_deviation():
    # Bacon (2008) portfolio, MAR 0.5 % a month, not annualised: PerformanceAnalytics 0.02553674
    r = xr.DataArray(np.array(BACON_P) / 100, dims="time",
                     coords={"time": pd.date_range("2000-01-31", periods=24, freq="ME")})
    assert P.downside_risk(r, 0.005, periods_per_year=1).item() == pytest.approx(0.02553674, abs=5e-9)
    # the Sortino ratio is the mean excess over it (here monthly): mean(r - MAR) / DD
    mean_excess = (np.mean(BACON_P) / 100 - 0.005)
    assert P.sortino(r, 0.005, periods_per_year=1).item() == pytest.approx(mean_excess / 0.02553674, rel=2e-7)


# =========================================================================== where we differ


def test_leading_nan_counts_as_no_observation_not_as_a_zero_day(daily):
    s = series(daily, "GE").copy()
    s.iloc[:252] = np.nan  # a portfolio that started a year later
    r = xr.DataArray(s.to_numpy(), dims="time", coords={"time": s.index})
    ours = P.annual_return(r).item()
    # ours = empyrical on the observed days only = quantstats' cagr (it counts observations too)
    close(ours, empyrical.annual_return(s.dropna()))
    close(ours, qs.stats.cagr(s))
    # empyrical on the raw series counts the 252 empty rows as a year of zero returns: lower
    diluted = empyrical.annual_return(s)
    assert abs(ours - diluted) > 1e-3 and abs(diluted) < abs(ours)
    # volatility, Sharpe and drawdown skip NaN in both
    close(P.annual_volatility(r).item(), empyrical.annual_volatility(s))
    close(P.sharpe(r).item(), empyrical.sharpe_ratio(s))
    close(P.max_drawdown(r).item(), empyrical.max_drawdown(s))


def test_zero_dispersion_is_nan_where_empyrical_gives_inf():
    flat = np.full(30, 0.001)
    r = xr.DataArray(flat, dims="time")
    assert np.isnan(P.sharpe(r).item())
    assert np.isinf(empyrical.sharpe_ratio(flat))
    assert np.isnan(P.sortino(r).item())
    assert np.isinf(empyrical.sortino_ratio(flat))


def test_ddof_is_an_option(daily):
    x = series(daily, "BAC").to_numpy()
    close(P.annual_volatility(daily, ddof=0).sel(portfolio="BAC").item(), np.std(x, ddof=0) * np.sqrt(252))
    close(P.annual_volatility(daily, 12, ddof=1).sel(portfolio="BAC").item(), np.std(x, ddof=1) * np.sqrt(12))


def test_too_few_observations_give_nan():
    one = xr.DataArray([0.01], dims="time")
    assert np.isnan(P.annual_volatility(one).item()) and np.isnan(P.sharpe(one).item())
    assert np.isnan(P.sortino(one).item())
    empty = xr.DataArray([np.nan, np.nan], dims="time")
    assert np.isnan(P.annual_return(empty).item()) and np.isnan(P.max_drawdown(empty).item())


# =========================================================================== vectorisation


def test_summary_of_many_equals_each_alone_and_stays_lazy(daily):
    whole = P.summary(daily)
    assert set(whole.data_vars) == {"cumulative_return", "annual_return", "annual_volatility", "sharpe", "sortino",
                                    "downside_risk", "max_drawdown", "observations"}
    for name in NAMES:
        alone = P.summary(daily.sel(portfolio=name))
        for var in whole.data_vars:
            assert whole[var].sel(portfolio=name).item() == pytest.approx(alone[var].item(), rel=1e-13, abs=1e-15)
    lazy = daily.chunk({"portfolio": 2})
    with dask.config.set(scheduler=forbid_compute):
        out = P.summary(lazy)
        dd = P.drawdown(daily.chunk({"portfolio": 2, "time": 500}))
    assert all(out[v].chunks is not None for v in out.data_vars)
    assert dd.chunks is not None and dd.dims == ("portfolio", "time")
    xr.testing.assert_allclose(out.compute(), whole, rtol=1e-12)
    xr.testing.assert_allclose(dd.compute(), P.drawdown(daily), rtol=1e-12, atol=1e-15)


def test_extra_dimensions_are_kept(daily):
    cube = xr.concat([daily, daily * 0.5], dim="scenario").transpose("portfolio", "time", "scenario")
    got = P.max_drawdown(cube)
    assert set(got.dims) == {"portfolio", "scenario"}
    xr.testing.assert_allclose(got.isel(scenario=0, drop=True), P.max_drawdown(daily))
    assert P.drawdown(cube).dims == cube.dims


# =========================================================================== unhappy paths


@pytest.mark.parametrize(("call", "path"), [
    (lambda r: P.annual_return(r, periods_per_year=0), "periods_per_year"),
    (lambda r: P.annual_volatility(r, ddof=-1), "ddof"),
    (lambda r: P.sharpe(r, periods_per_year="daily"), "periods_per_year"),  # type: ignore[arg-type]  # refused
    (lambda r: P.max_drawdown(r.rename(time="date")), "returns"),
    (lambda r: P.summary(r.to_pandas()), "returns"),
])
def test_refusals_name_the_argument(daily, call, path):
    with pytest.raises(ValidationError) as err:
        call(daily)
    assert path in err.value.paths
