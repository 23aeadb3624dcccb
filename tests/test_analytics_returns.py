"""The returns engine (``toolkit.analytics.returns``) against other people's numbers.

Sources, each named again at its test:
- CFA Institute Level I curriculum, *Rates and Returns* (money- vs time-weighted return): one share
  bought at $100, a second at $120 a year later, both sold at $130 after two years, $2 dividend a
  share each year: MWR 13.86 %, TWR [(1.22)(1.10)]^0.5 - 1 = 15.84 %.
- analystforum.com/t/time-weighted-return/105641 (CFA-style exercise): shares at 100, 125, 150,
  sold at 140, $10 dividends: TWR 20.00 % (its 35 %, 28 %, 0 % sub-period returns).
- Bacon (2008) monthly portfolio/benchmark returns, as shipped in R PerformanceAnalytics
  ``data/portfolio_bacon.csv``: linked quarters and years written out as products.
- empyrical-reloaded and pandas on the real S&P 500 prices in ``data/sp500_stocks.csv``.
- Modified Dietz inputs of a published calculator example (January, 31 days, 100,000 start,
  +20,000 on the 10th, -10,000 on the 20th, 118,000 end) with the figure derived by hand here.
"""

from __future__ import annotations

from pathlib import Path

import dask
import empyrical
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

from toolkit.analytics import returns as R
from toolkit.errors import ValidationError
from toolkit.market.fx import rates_from_table

DATA = Path(__file__).resolve().parents[1] / "data"

# Bacon (2008) / PerformanceAnalytics portfolio_bacon: monthly returns in %, Jan 2000 .. Dec 2001
BACON_P = [0.3, 2.6, 1.1, -1.0, 1.5, 2.5, 1.6, 6.7, -1.4, 4.0, -0.5, 8.1,
           4.0, -3.7, -6.1, 1.7, -4.9, -2.2, 7.0, 5.8, -6.5, 2.4, -0.5, -0.9]
BACON_B = [0.2, 2.5, 1.8, -1.1, 1.4, 1.8, 1.4, 6.5, -1.5, 4.2, -0.6, 8.3,
           3.9, -3.8, -6.2, 1.5, -4.8, 2.1, 6.0, 5.6, -6.7, 1.9, -0.3, 0.0]


@pytest.fixture(scope="module")
def bacon() -> xr.DataArray:
    months = pd.date_range("2000-01-31", periods=24, freq="ME")
    return xr.DataArray(np.array([BACON_P, BACON_B]) / 100, dims=("portfolio", "time"),
                        coords={"portfolio": ["portfolio", "benchmark"], "time": months})


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    """Six of the shipped S&P 500 stocks, 2015-2022 (real daily closes)."""
    frame = pd.read_csv(DATA / "sp500_stocks.csv", index_col="time", parse_dates=True)
    return frame.loc["2015":, ["AAPL", "AMD", "BAC", "JNJ", "KO", "XOM"]]


@pytest.fixture(scope="module")
def daily(prices) -> xr.DataArray:
    """Their daily returns as (instrument, time)."""
    close = xr.DataArray(prices.to_numpy().T, dims=("instrument", "time"),
                         coords={"instrument": prices.columns.to_numpy(), "time": prices.index.to_numpy()})
    return R.simple_returns(close)


def series(x: xr.DataArray, name: str) -> pd.Series:
    return x.sel(instrument=name).to_series()


def forbid_compute(*args, **kwargs):
    raise AssertionError("the dask graph was computed inside the library call")


# =========================================================================== linking and periods


def test_link_is_the_product_of_growth_factors(bacon):
    # Bacon 2000 portfolio months, linked by hand: prod(1 + r) - 1
    by_hand = (1.003 * 1.026 * 1.011 * 0.990 * 1.015 * 1.025 * 1.016 * 1.067 * 0.986 * 1.040 * 0.995 * 1.081) - 1
    got = R.link(bacon.isel(time=slice(0, 12)))
    assert got.sel(portfolio="portfolio").item() == pytest.approx(by_hand, abs=1e-15)
    assert got.dims == ("portfolio",)


def test_link_skips_nan_but_an_empty_window_is_nan():
    r = xr.DataArray([[0.1, np.nan, 0.1], [np.nan, np.nan, np.nan]], dims=("portfolio", "time"))
    got = R.link(r)
    assert got[0].item() == pytest.approx(1.1 * 1.1 - 1, abs=1e-15)
    assert np.isnan(got[1].item())
    assert np.isnan(R.link(r, skipna=False)[0].item())


def test_quarters_and_years_chain_linked_from_bacon_months(bacon):
    # Bacon (2008) monthly data; each figure is the product of its months, written out
    quarters = R.cumulate(bacon, "QE").sel(portfolio="portfolio")
    assert quarters["time"].dt.strftime("%Y-%m-%d").values.tolist() == [
        "2000-03-31", "2000-06-30", "2000-09-30", "2000-12-31", "2001-03-31", "2001-06-30", "2001-09-30",
        "2001-12-31"]
    assert quarters[0].item() == pytest.approx(1.003 * 1.026 * 1.011 - 1, abs=1e-15)  # 4.039786 %
    assert quarters[5].item() == pytest.approx(1.017 * 0.951 * 0.978 - 1, abs=1e-15)
    years = R.cumulate(bacon, "YE")
    assert years.sel(portfolio="portfolio")[1].item() == pytest.approx(
        1.040 * 0.963 * 0.939 * 1.017 * 0.951 * 0.978 * 1.070 * 1.058 * 0.935 * 1.024 * 0.995 * 0.991 - 1, abs=1e-15)
    # monthly -> quarterly -> yearly equals monthly -> yearly
    xr.testing.assert_allclose(R.cumulate(quarters, "YE"), years.sel(portfolio="portfolio"), rtol=0, atol=1e-15)
    assert years.sel(portfolio="benchmark")[0].item() == pytest.approx(0.27358444, abs=5e-9)


def test_a_period_without_data_is_nan_with_or_without_nan_values():
    times = pd.to_datetime(["2020-01-15", "2020-01-20", "2020-03-10", "2020-03-11"])
    clean = xr.DataArray([0.1, 0.1, 0.2, 0.0], dims="time", coords={"time": times})
    holed = clean.where(clean != 0.0)  # a NaN return takes the skipping path
    for r in (clean, holed, clean.chunk(), holed.chunk()):
        got = R.cumulate(r, "ME").values
        np.testing.assert_allclose(got, [0.21, np.nan, 0.2], rtol=1e-15, equal_nan=True)  # February has no stamp


def test_daily_to_monthly_and_yearly_agree_with_empyrical(daily):
    monthly = R.cumulate(daily, "ME")
    yearly = R.cumulate(daily, "YE")
    for name in ("AAPL", "XOM"):
        peer_m = empyrical.aggregate_returns(series(daily, name), "monthly")
        peer_y = empyrical.aggregate_returns(series(daily, name), "yearly")
        np.testing.assert_allclose(monthly.sel(instrument=name).values, peer_m.values, rtol=0, atol=1e-12)
        np.testing.assert_allclose(yearly.sel(instrument=name).values, peer_y.values, rtol=0, atol=1e-12)
    # labels are calendar ultimos even when the last trading day is earlier (2022-04-29 was a Friday)
    assert pd.Timestamp("2022-04-30") in monthly.indexes["time"]
    assert pd.Timestamp("2022-04-30") not in daily.indexes["time"]
    # daily -> monthly -> quarterly equals daily -> quarterly
    xr.testing.assert_allclose(R.cumulate(monthly, "QE"), R.cumulate(daily, "QE"), rtol=0, atol=1e-13)


def test_index_values_match_empyrical_cum_returns(daily):
    r = series(daily, "AMD").copy()
    r.iloc[[5, 6, 100]] = np.nan  # missing days count as flat in both
    ours = R.index_values(xr.DataArray(r.to_numpy(), dims="time", coords={"time": r.index}), start=100.0)
    np.testing.assert_allclose(ours.values, empyrical.cum_returns(r, starting_value=100).to_numpy(), rtol=1e-13)


@pytest.mark.parametrize(("kind", "start"), [("MTD", "2022-06-01"), ("QTD", "2022-04-01"), ("YTD", "2022-01-01"),
                                             ("ITD", None)])
def test_to_date_windows_against_pandas(daily, kind, start):
    # as of a Sunday: the window ends with Friday 2022-06-17; pandas slices, numpy multiplies
    got = R.to_date(daily, "2022-06-19", kind)
    frame = daily.to_pandas().T
    window = frame.loc[start:"2022-06-19"] if start else frame.loc[:"2022-06-19"]
    np.testing.assert_allclose(got.values, np.prod(1 + window.to_numpy(), axis=0) - 1, rtol=1e-12)


def test_to_date_with_monthly_returns(bacon):
    # Q2 2001 to date as of 31 May 2001: April and May 2001
    got = R.to_date(bacon, pd.Timestamp("2001-05-31"), "QTD").sel(portfolio="portfolio").item()
    assert got == pytest.approx(1.017 * 0.951 - 1, abs=1e-15)


def test_rolling_one_and_three_years_against_pandas(bacon):
    r = bacon.sel(portfolio="portfolio").to_series()
    one = R.rolling(bacon, 1).sel(portfolio="portfolio").to_series()
    peer = (1 + r).rolling(12).apply(np.prod, raw=True) - 1
    np.testing.assert_allclose(one.to_numpy(), peer.to_numpy(), rtol=1e-12, equal_nan=True)
    assert one.isna().sum() == 11
    # two-year annualised window ending Dec 2001: (prod of 24 growth factors)^(1/2) - 1
    two = R.rolling(bacon, 2).sel(portfolio="portfolio")
    assert two[-1].item() == pytest.approx(np.prod(1 + r.to_numpy()) ** 0.5 - 1, rel=1e-12)
    assert np.isnan(two[-2].item())
    raw = R.rolling(bacon, 2, annualised=False).sel(portfolio="portfolio")
    assert raw[-1].item() == pytest.approx(np.prod(1 + r.to_numpy()) - 1, rel=1e-12)


def test_rolling_nan_and_total_loss():
    r = xr.DataArray([0.1, 0.1, np.nan, 0.1, 0.1, -1.0, 0.1, 0.1], dims="time",
                     coords={"time": pd.date_range("2020-01-31", periods=8, freq="ME")})
    got = R.rolling(r, 1, periods_per_year=2, annualised=False).values
    # windows of two: [nan, 0.21, nan, nan, 0.21, -1, -1, 0.21]
    np.testing.assert_allclose(got, [np.nan, 0.21, np.nan, np.nan, 0.21, -1.0, -1.0, 0.21], rtol=1e-13)


def test_rolling_on_daily_real_data_and_lazily(daily):
    got = R.rolling(daily, 1, periods_per_year=252, annualised=False)
    peer = (1 + daily.to_pandas().T).rolling(252).apply(np.prod, raw=True) - 1
    np.testing.assert_allclose(got.transpose("time", "instrument").values, peer.to_numpy(), rtol=1e-11,
                               atol=1e-13, equal_nan=True)
    lazy = daily.chunk({"instrument": 2})
    with dask.config.set(scheduler=forbid_compute):
        out = R.rolling(lazy, 1, periods_per_year=252)
    assert out.chunks is not None and out.chunks[0] == (2, 2, 2)
    xr.testing.assert_allclose(out.compute(), R.rolling(daily, 1, periods_per_year=252), rtol=1e-12)


# =========================================================================== annualising, relative


def test_annualise_gips_short_periods():
    total = xr.DataArray([0.21, 0.05, 0.21], dims="portfolio")
    # (1.21)^(1/2) - 1 = 10 % exactly; under a year GIPS forbids annualising: NaN by default
    assert R.annualise(total, 2.0).values == pytest.approx([0.1, 1.05 ** 0.5 - 1, 0.1], abs=1e-15)
    assert np.isnan(R.annualise(total, 0.5).values).all()
    np.testing.assert_array_equal(R.annualise(total, 0.5, short="cumulative").values, total.values)
    years = xr.DataArray([2.0, 0.25, 1.0], dims="portfolio")
    got = R.annualise(total, years)
    assert got[0].item() == pytest.approx(0.1, abs=1e-15)
    assert np.isnan(got[1].item())
    assert got[2].item() == pytest.approx(0.21, abs=1e-15)


def test_relative_arithmetic_and_geometric(bacon):
    p, b = bacon.sel(portfolio="portfolio"), bacon.sel(portfolio="benchmark", drop=True)
    # Bacon (2008) ch. 4 definitions, January 2000: 0.3 % vs 0.2 %
    assert R.relative(p, b).values[0] == pytest.approx(0.001, abs=1e-15)
    assert R.relative(p, b, "geometric").values[0] == pytest.approx(1.003 / 1.002 - 1, abs=1e-15)
    # a benchmark series broadcasts over portfolios
    many = R.relative(bacon, b, "geometric")
    assert many.dims == ("portfolio", "time") and float(abs(many.sel(portfolio="benchmark")).max()) < 1e-15


# =========================================================================== from prices


def test_simple_returns_match_empyrical(prices, daily):
    peer = empyrical.simple_returns(prices)
    np.testing.assert_allclose(daily.transpose("time", "instrument").values, peer.to_numpy(), rtol=1e-14)
    assert daily.sizes["time"] == len(prices) - 1  # the first observation is dropped


def test_simple_returns_bridge_missing_prices():
    p = xr.DataArray([100.0, np.nan, 110.0, 121.0], dims="time",
                     coords={"time": pd.date_range("2022-01-03", periods=4)})
    got = R.simple_returns(p).values
    np.testing.assert_allclose(got, [np.nan, 0.1, 0.1], rtol=1e-14, equal_nan=True)
    assert R.link(R.simple_returns(p)).item() == pytest.approx(121 / 100 - 1, abs=1e-15)


def test_close_returns_in_another_currency():
    times = pd.date_range("2022-01-03", periods=3)
    close = xr.DataArray([[10.0, 11.0, 11.0], [20.0, 20.0, 21.0]], dims=("instrument", "time"),
                         coords={"instrument": ["US", "DE"], "time": times, "currency": ("instrument", ["USD", "EUR"])})
    table = pd.DataFrame({"currency": "USD", "time": times, "rate": [1.10, 1.21, 1.10]})
    rates = rates_from_table(table)
    local = R.close_returns(close)
    np.testing.assert_allclose(local.values, [[0.1, 0.0], [0.0, 0.05]], atol=1e-15)
    in_eur = R.close_returns(close, to="EUR", rates=rates)
    # USD stock in EUR: (11 / 1.21) / (10 / 1.10) - 1 = 0; then (11 / 1.10) / (11 / 1.21) - 1 = 0.1
    np.testing.assert_allclose(in_eur.sel(instrument="US").values, [0.0, 0.1], atol=1e-14)
    np.testing.assert_allclose(in_eur.sel(instrument="DE").values, [0.0, 0.05], atol=1e-15)
    with pytest.raises(ValidationError) as err:
        R.close_returns(close.drop_vars("currency"), to="EUR")
    assert set(err.value.paths) == {"rates", "close.currency"}


# =========================================================================== cash flows


def yearly(values: list[float]) -> xr.DataArray:
    """Values at the start of consecutive (365-day) years."""
    times = pd.to_datetime([f"{2021 + i}-01-01" for i in range(len(values))])
    return xr.DataArray(np.array(values, dtype=float), dims="time", coords={"time": times})


def test_cfa_time_weighted_and_money_weighted():
    # CFA Institute L1 *Rates and Returns*: buy 1 share at 100 (t0); at t1 a $2 dividend, buy a
    # second share at 120 (net new money 118); at t2 $4 dividends, sell both at 130 (264 out).
    nav, flows = yearly([100, 240, 0]), yearly([100, 118, -264])
    twr = R.time_weighted(nav, flows)
    np.testing.assert_allclose(twr.values, [np.nan, 0.22, 0.10], rtol=1e-14, equal_nan=True)
    assert R.annualise(R.link(twr), 2).item() == pytest.approx(0.1584, abs=5e-5)  # published 15.84 %
    mwr = R.money_weighted(nav, flows)
    assert mwr.item() == pytest.approx(0.1386, abs=5e-5)  # published 13.86 %
    # and the root agrees with scipy's on the same cash flows: 100 g^2 + 118 g - 264 = 0
    assert mwr.item() == pytest.approx(brentq(lambda r: 100 * (1 + r) ** 2 + 118 * (1 + r) - 264, 0, 1) , abs=1e-12)
    assert R.money_weighted(nav, flows, annualised=False).item() == pytest.approx((1 + mwr.item()) ** 2 - 1)


def test_money_weighted_many_portfolios_lazily():
    # the CFA case and a portfolio funded a year later (NaN value before inception) with 240 at t1
    # and closed with -264 at t2: by hand its IRR is 264 / 240 - 1 = 10 % a year
    nav = xr.concat([yearly([100, 240, 0]), yearly([np.nan, 240, 0])], dim="portfolio")
    flows = xr.concat([yearly([100, 118, -264]), yearly([0, 240, -264])], dim="portfolio")
    got = R.money_weighted(nav, flows)
    assert got[0].item() == pytest.approx(R.money_weighted(nav[0], flows[0]).item(), abs=1e-15)
    assert got[1].item() == pytest.approx(264 / 240 - 1, abs=1e-12)
    with dask.config.set(scheduler=forbid_compute):
        lazy = R.money_weighted(nav.chunk({"portfolio": 1}), flows.chunk({"portfolio": 1}))
    assert lazy.chunks is not None
    xr.testing.assert_allclose(lazy.compute(), got, rtol=1e-13)


def test_twr_published_three_period_example():
    # analystforum.com/t/time-weighted-return/105641: shares at 100, 125, 150, all sold at 140, $10 dividend a share
    # a year (kept as cash and used to buy): net flows 100, 125 - 10, 150 - 20, -(3 * 140 + 30)
    nav, flows = yearly([100, 250, 450, 0]), yearly([100, 115, 130, -450])
    twr = R.time_weighted(nav, flows)
    np.testing.assert_allclose(twr.values[1:], [0.35, 0.28, 0.0], atol=1e-15)  # published sub-period returns
    assert R.annualise(R.link(twr), 3).item() == pytest.approx(0.2000, abs=5e-5)  # published 20.00 %


def test_twr_start_timing_funding_day_and_zero_capital():
    times = pd.date_range("2022-03-01", periods=5)
    nav = xr.DataArray([[np.nan, 1000.0, 1010.0, 0.0, np.nan], [500.0, 505.0, 1010.0, 1000.0, 990.0]],
                       dims=("portfolio", "time"), coords={"time": times})
    flows = xr.DataArray([[0.0, 1000.0, 0.0, -1020.0, 0.0], [0.0, 0.0, 500.0, 0.0, 0.0]],
                         dims=("portfolio", "time"), coords={"time": times})
    with np.errstate(all="raise"):  # no division by zero reaches numpy
        end = R.time_weighted(nav, flows)
        # at the start of day 4 only the 1,010 held can be withdrawn
        start = R.time_weighted(nav, xr.where(flows == -1020.0, -1010.0, flows), timing="start")
    # end of day: (V_t - F_t) / V_{t-1} - 1; funding day and the day after closing have no capital -> NaN
    np.testing.assert_allclose(end[0].values, [np.nan, np.nan, 0.01, 1020 / 1010 - 1, np.nan], equal_nan=True)
    # start of day: V_t / (V_{t-1} + F_t) - 1; the funding day earns on its deposit
    np.testing.assert_allclose(start[0].values, [np.nan, 0.0, 0.01, np.nan, np.nan], equal_nan=True)
    np.testing.assert_allclose(start[1].values, [np.nan, 0.01, 1010 / 1005 - 1, 1000 / 1010 - 1, 0.99 - 1],
                               equal_nan=True, rtol=1e-14)
    np.testing.assert_allclose(end[1].values[1:], [0.01, 510 / 505 - 1, 1000 / 1010 - 1, 0.99 - 1], rtol=1e-14)


def test_twr_without_flows_is_the_value_return_and_vectorised_lazily(prices):
    nav = xr.DataArray(prices.to_numpy().T * 10, dims=("portfolio", "time"),
                       coords={"portfolio": prices.columns.to_numpy(), "time": prices.index.to_numpy()})
    flows = xr.zeros_like(nav)
    got = R.time_weighted(nav, flows)
    np.testing.assert_allclose(got.isel(time=slice(1, None)).values, R.simple_returns(nav).values, rtol=1e-13)
    one = R.time_weighted(nav.sel(portfolio="KO"), flows.sel(portfolio="KO"))
    xr.testing.assert_identical(one, got.sel(portfolio="KO"))
    with dask.config.set(scheduler=forbid_compute):
        lazy = R.time_weighted(nav.chunk({"portfolio": 3}), flows.chunk({"portfolio": 3}))
        md = R.modified_dietz(nav.chunk({"portfolio": 3}), flows.chunk({"portfolio": 3}))
    assert lazy.chunks is not None and md.chunks is not None
    xr.testing.assert_allclose(lazy.compute(), got)
    # without flows a Modified Dietz month is the month's value change: the linked daily returns
    np.testing.assert_allclose(md.compute().isel(time=slice(1, None)).values,
                               R.cumulate(got, "ME").isel(time=slice(1, None)).values, rtol=1e-11, atol=1e-14)


def dietz_case() -> tuple[xr.DataArray, xr.DataArray]:
    # published calculator example: January (31 days), 100,000 on 31 Dec, +20,000 on 10 Jan,
    # -10,000 on 20 Jan, 118,000 on 31 Jan (the values in between do not enter Modified Dietz)
    times = pd.to_datetime(["1999-12-31", "2000-01-10", "2000-01-20", "2000-01-31"])
    nav = xr.DataArray([100_000.0, 121_000.0, 112_000.0, 118_000.0], dims="time", coords={"time": times})
    flows = xr.DataArray([0.0, 20_000.0, -10_000.0, 0.0], dims="time", coords={"time": times})
    return nav, flows


def test_modified_dietz_published_inputs():
    nav, flows = dietz_case()
    # flows at the start of their day (the example counts 1 Jan as day 0): w = 22/31 and 12/31
    start = R.modified_dietz(nav, flows, timing="start")
    by_hand = (118_000 - 100_000 - 10_000) / (100_000 + 20_000 * 22 / 31 - 10_000 * 12 / 31)  # = 7.2515 %
    assert start.sel(time="2000-01-31").item() == pytest.approx(by_hand, abs=1e-15)
    assert start.sel(time="2000-01-31").item() == pytest.approx(0.072515, abs=5e-7)
    # flows at the end of their day: w = 21/31 and 11/31
    end = R.modified_dietz(nav, flows)
    assert end.sel(time="2000-01-31").item() == pytest.approx(
        8_000 / (100_000 + 20_000 * 21 / 31 - 10_000 * 11 / 31), abs=1e-15)
    # December: nothing invested before the first value -> no return, not inf
    assert np.isnan(end.sel(time="1999-12-31").item())


def test_modified_dietz_quarter_weights_by_calendar_days():
    # Q1 2021 has 90 days; a flow at the end of 15 Feb (day 46) weighs (90 - 46) / 90 (derived by hand)
    times = pd.to_datetime(["2020-12-31", "2021-02-15", "2021-03-30"])
    nav = xr.DataArray([[1000.0, 1500.0, 1600.0]], dims=("portfolio", "time"), coords={"time": times})
    flows = xr.DataArray([[0.0, 500.0, 0.0]], dims=("portfolio", "time"), coords={"time": times})
    got = R.modified_dietz(nav, flows, "QE")
    assert got["time"].dt.strftime("%Y-%m-%d").values.tolist() == ["2020-12-31", "2021-03-31"]
    assert got.isel(portfolio=0, time=1).item() == pytest.approx((1600 - 1000 - 500) / (1000 + 500 * 44 / 90),
                                                                abs=1e-15)


# =========================================================================== fees


def test_net_of_fees_accrues_calendar_days():
    # Fri 2022-03-04 -> Mon 2022-03-07 accrues 3 days: (1 + r) (1 - f)^(3/365) - 1, by hand
    times = pd.to_datetime(["2022-03-03", "2022-03-04", "2022-03-07"])
    gross = xr.DataArray([[0.01, 0.0, 0.02], [0.01, 0.0, 0.02]], dims=("portfolio", "time"),
                         coords={"time": times, "portfolio": ["a", "b"]})
    fee = xr.DataArray([0.01, 0.0], dims="portfolio", coords={"portfolio": ["a", "b"]})
    net = R.net_of_fees(gross, fee)
    assert net.sel(portfolio="a")[2].item() == pytest.approx(1.02 * 0.99 ** (3 / 365) - 1, abs=1e-15)
    assert net.sel(portfolio="a")[0].item() == pytest.approx(1.01 * 0.99 ** (1 / 365) - 1, abs=1e-15)
    np.testing.assert_allclose(net.sel(portfolio="b").values, gross.sel(portfolio="b").values, atol=1e-16)


def test_a_year_of_zero_gross_returns_costs_exactly_the_annual_fee():
    times = pd.date_range("2021-01-01", "2021-12-31")  # 365 stamps, one day apart; the first accrues one day
    gross = xr.DataArray(np.zeros(len(times)), dims="time", coords={"time": times})
    assert R.link(R.net_of_fees(gross, 0.0125)).item() == pytest.approx(-0.0125, abs=1e-13)


# =========================================================================== vectorisation, property


def test_cumulate_and_to_date_stay_lazy(daily):
    lazy = daily.chunk({"instrument": 2})
    with dask.config.set(scheduler=forbid_compute):
        monthly = R.cumulate(lazy, "ME")
        ytd = R.to_date(lazy, "2022-06-30", "YTD")
        idx = R.index_values(lazy)
        net = R.net_of_fees(lazy, 0.01)
    for out in (monthly, ytd, idx, net):
        assert out.chunks is not None
    xr.testing.assert_allclose(monthly.compute(), R.cumulate(daily, "ME"), rtol=1e-13)
    xr.testing.assert_allclose(ytd.compute(), R.to_date(daily, "2022-06-30", "YTD"), rtol=1e-13)
    single = R.cumulate(daily.sel(instrument="JNJ"), "ME")
    xr.testing.assert_allclose(single, R.cumulate(daily, "ME").sel(instrument="JNJ"), rtol=1e-15)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-0.5, 0.5, allow_nan=False), min_size=2, max_size=60), st.integers(1, 59))
def test_linking_is_associative(values, cut):
    r = xr.DataArray(values, dims="time")
    cut = min(cut, len(values) - 1)
    parts = (1 + R.link(r.isel(time=slice(0, cut)))) * (1 + R.link(r.isel(time=slice(cut, None)))) - 1
    assert parts.item() == pytest.approx(np.prod(1 + np.array(values)) - 1, rel=1e-12, abs=1e-15)


# =========================================================================== unhappy paths


@pytest.mark.parametrize(("call", "path"), [
    (lambda r: R.cumulate(r, "W"), "freq"),
    (lambda r: R.to_date(r, "2022-01-31", "WTD"), "kind"),
    (lambda r: R.to_date(r, "not a date", "MTD"), "as_of"),
    (lambda r: R.to_date(r, "1990-01-01", "ITD"), "as_of"),
    (lambda r: R.rolling(r, 0), "years"),
    (lambda r: R.rolling(r, 1, periods_per_year=-12), "periods_per_year"),
    (lambda r: R.annualise(R.link(r), -1.0), "years"),
    (lambda r: R.annualise(R.link(r), 2, short="round"), "short"),
    (lambda r: R.relative(r, r, "log"), "kind"),
    (lambda r: R.relative(r, r.isel(time=slice(1, None))), "benchmark"),
    (lambda r: R.time_weighted(r, r, timing="noon"), "timing"),
    (lambda r: R.time_weighted(r, r.isel(time=slice(0, 10))), "flows"),
    (lambda r: R.modified_dietz(r, r, freq="D"), "freq"),
    (lambda r: R.money_weighted(r, r.isel(instrument=slice(0, 2))), "flows"),
    (lambda r: R.net_of_fees(r, 1.5), "annual_fee"),
    (lambda r: R.net_of_fees(r, 0.01, days_per_year=0), "days_per_year"),
    (lambda r: R.cumulate(r.rename(time="date"), "ME"), "returns"),
    (lambda r: R.link(r.values), "returns"),
    (lambda r: R.simple_returns(r.rename(time="date")), "prices"),
    (lambda r: R.close_returns(r.rename(instrument="asset")), "close"),
])
def test_refusals_name_the_argument(daily, call, path):
    with pytest.raises(ValidationError) as err:
        call(daily)
    assert path in err.value.paths
