"""Risk analytics (toolkit.analytics.risk, toolkit.analytics.risk_portfolio) against numbers derived
by hand and against independent implementations: empyrical-reloaded (VaR, CVaR, volatility),
riskfolio-lib (historical CVaR, risk contributions), pandas (calendar resampling), on the 20
S&P 500 stocks of data/sp500_stocks.csv."""

from __future__ import annotations

import math
from pathlib import Path
from typing import cast

import empyrical
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.analytics import risk
from toolkit.analytics.risk_portfolio import (
    check_weights,
    cvar_contributions,
    diversification_rating,
    diversification_ratio,
    volatility_contributions,
    weighted_returns,
)
from toolkit.errors import DataError, ValidationError
from toolkit.schema import HORIZON, INSTRUMENT, LEVEL, PORTFOLIO, TIME

DATA = Path(__file__).resolve().parents[1] / "data"


def csv_returns(name: str, dim: str = INSTRUMENT) -> xr.DataArray:
    """Simple daily returns ``p_t / p_{t-1} - 1`` of a wide CSV of closes in data/, over (dim, time)."""
    prices = pd.read_csv(DATA / name, index_col=TIME, parse_dates=True)
    returns = prices.pct_change(fill_method=None).iloc[1:]
    return xr.DataArray(returns.to_numpy().T, dims=(dim, TIME),
                        coords={dim: list(returns.columns), TIME: returns.index.to_numpy()})


@pytest.fixture(scope="module")
def stocks() -> xr.DataArray:
    return csv_returns("sp500_stocks.csv")


def random_weights(n_portfolios: int, instruments, seed: int = 7) -> xr.DataArray:
    w = np.random.default_rng(seed).dirichlet(np.ones(len(instruments)), n_portfolios)
    return xr.DataArray(w, dims=(PORTFOLIO, INSTRUMENT),
                        coords={PORTFOLIO: [f"p{i}" for i in range(n_portfolios)], INSTRUMENT: list(instruments)})


def series(values, start: str = "2021-01-04") -> xr.DataArray:
    return xr.DataArray(np.asarray(values, dtype=float), dims=TIME,
                        coords={TIME: pd.bdate_range(start, periods=len(values))})


# --------------------------------------------------------------------------- a worked scenario set

# 20 daily returns; sorted, the worst are x(1) = -0.08, x(2) = -0.05, x(3) = -0.04, x(4) = -0.03.
SCENARIOS = [0.01, -0.05, 0.02, 0.0, -0.08, 0.03, -0.01, 0.015, -0.04, 0.005,
             0.025, -0.02, 0.012, -0.03, 0.018, 0.007, -0.005, 0.022, 0.004, 0.011]


def test_var_cvar_of_twenty_scenarios_by_hand() -> None:
    # VaR, linear interpolation at position (n - 1) a = 19 a (0-based) between order statistics:
    #   0.90: a = 0.10, 1.9   -> x(2) + 0.9  (x(3) - x(2)) = -0.05 + 0.9  * 0.01 = -0.041   -> VaR 0.041
    #   0.925: a = 0.075, 1.425 -> x(2) + 0.425 (x(3) - x(2)) = -0.05 + 0.00425   = -0.04575 -> VaR 0.04575
    #   0.95: a = 0.05, 0.95  -> x(1) + 0.95 (x(2) - x(1)) = -0.08 + 0.95 * 0.03 = -0.0515  -> VaR 0.0515
    # CVaR (Acerbi-Tasche), the mean of the worst aT = 20 a returns, the boundary one fractional:
    #   0.90: aT = 2   -> (0.08 + 0.05) / 2               = 0.065
    #   0.925: aT = 1.5 -> (0.08 + 0.5 * 0.05) / 1.5       = 0.07
    #   0.95: aT = 1   -> 0.08
    out = risk.tail_risk(series(SCENARIOS), level=[0.9, 0.925, 0.95], horizon=None)
    np.testing.assert_allclose(out["var"].values, [0.041, 0.04575, 0.0515], rtol=1e-12)
    np.testing.assert_allclose(out["cvar"].values, [0.065, 0.07, 0.08], rtol=1e-12)
    # empyrical's CVaR averages the floor(19 a) + 1 worst, whole: at 0.925 floor(1.425) + 1 = 2
    # returns, (0.08 + 0.05) / 2 = 0.065, not 0.07; where aT is whole (0.90, 0.95) both agree.
    assert -empyrical.conditional_value_at_risk(np.array(SCENARIOS), 0.075) == pytest.approx(0.065, rel=1e-12)
    for level, ours in zip([0.9, 0.95], [0.065, 0.08]):
        assert -empyrical.conditional_value_at_risk(np.array(SCENARIOS), round(1 - level, 12)) == pytest.approx(ours)
        assert -empyrical.value_at_risk(np.array(SCENARIOS), round(1 - level, 12)) == pytest.approx(
            out["var"].sel(level=level).item(), rel=1e-12)


def test_horizon_returns_compound_within_calendar_weeks_and_months() -> None:
    # Mon 2021-01-04 .. Fri 2021-01-08 is one W-FRI week, Mon 01-11 .. Tue 01-12 a partial one.
    r = series([0.01, -0.02, np.nan, 0.03, 0.0, 0.05, -0.01])
    week = risk.horizon_returns(r, "week")
    assert list(week[TIME].values.astype("datetime64[D]").astype(str)) == ["2021-01-08", "2021-01-15"]
    # 1.01 * 0.98 * 1.03 * 1.00 - 1 = 0.019494 (the NaN day skipped); 1.05 * 0.99 - 1 = 0.0395
    np.testing.assert_allclose(week.values, [0.019494, 0.0395], rtol=1e-12)
    month = risk.horizon_returns(r, "month")
    np.testing.assert_allclose(month.values, [1.01 * 0.98 * 1.03 * 1.05 * 0.99 - 1], rtol=1e-12)
    assert risk.horizon_returns(r, "day") is r


def test_horizon_returns_equal_pandas_resample_on_the_stocks(stocks: xr.DataArray) -> None:
    frame = cast(pd.DataFrame, stocks.to_pandas()).T  # 2-D: a DataFrame
    for horizon, offset in [("week", "W-FRI"), ("month", "ME")]:
        theirs = (1 + frame).resample(offset).prod(min_count=1) - 1
        theirs = theirs[theirs.notna().any(axis=1)]
        ours = risk.horizon_returns(stocks, horizon).to_pandas().T
        assert list(ours.index) == list(theirs.index)
        np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=1e-11, atol=1e-15)


def test_volatility_and_average_return_per_horizon_equal_empyrical_and_pandas(stocks: xr.DataArray) -> None:
    frame = cast(pd.DataFrame, stocks.to_pandas()).T  # 2-D: a DataFrame
    monthly = (1 + frame).resample("ME").prod() - 1
    vol = risk.volatility(stocks, annualise=True)
    mean = risk.average_return(stocks, horizon=["day", "month"])
    for name in ["MSFT", "PFE"]:
        assert vol.sel(instrument=name, horizon="week").item() == pytest.approx(
            empyrical.annual_volatility((1 + frame[name]).resample("W-FRI").prod() - 1, period="weekly"), rel=1e-11)
        assert mean.sel(instrument=name, horizon="month").item() == pytest.approx(monthly[name].mean(), rel=1e-11)
        assert mean.sel(instrument=name, horizon="day").item() == pytest.approx(frame[name].mean(), rel=1e-12)
    daily = risk.volatility(stocks, horizon=None)  # as given, not annualised
    np.testing.assert_allclose(daily.values, frame.std(ddof=1).to_numpy(), rtol=1e-12)


# --------------------------------------------------------------------------- empyrical, riskfolio on real data


def test_var_and_volatility_equal_empyrical_at_every_level_and_horizon(stocks: xr.DataArray) -> None:
    summary = risk.risk_summary(stocks, annualise=True)
    period = {"day": "daily", "week": "weekly", "month": "monthly"}
    for horizon in risk.HORIZON_NAMES:
        h = risk.horizon_returns(stocks, horizon)
        for name in ["AAPL", "JPM", "XOM"]:
            x = h.sel(instrument=name).dropna(TIME).values
            for level in risk.LEVELS:
                theirs = -empyrical.value_at_risk(x, cutoff=1 - level)
                ours = summary["var"].sel(instrument=name, level=level, horizon=horizon).item()
                assert ours == pytest.approx(theirs, rel=1e-12)
            vol = summary["volatility"].sel(instrument=name, horizon=horizon).item()
            assert vol == pytest.approx(empyrical.annual_volatility(x, period=period[horizon]), rel=1e-12)


def test_cvar_equals_empyrical_where_the_tail_is_whole_and_riskfolio_everywhere(stocks: xr.DataArray) -> None:
    import riskfolio as rp  # slow to import (~9 s): only here

    # 2,000 days: a T = 50, 100, 200 are whole numbers at the three levels, where the
    # Acerbi-Tasche estimator and empyrical's floor((T - 1) a) + 1 worst returns coincide.
    recent = stocks.isel(time=slice(-2000, None))
    ours = risk.conditional_value_at_risk(recent, horizon="day")
    for name in ["AAPL", "AMD", "KO"]:
        x = recent.sel(instrument=name).values
        for level in risk.LEVELS:
            theirs = -empyrical.conditional_value_at_risk(x, cutoff=round(1 - level, 12))
            assert ours.sel(instrument=name, level=level).item() == pytest.approx(theirs, rel=1e-12)
    # On the whole history (8,312 days) a T is fractional: empyrical takes floor(8311 a) + 1 whole
    # returns (e.g. 416 at 0.95), Acerbi-Tasche 415.6, so the two differ slightly; riskfolio's
    # CVaR_Hist is the same estimator as ours.
    full = risk.conditional_value_at_risk(stocks, horizon=["day", "week", "month"])
    for horizon in ["day", "week", "month"]:
        h = risk.horizon_returns(stocks, horizon)
        for name in ["AAPL", "BAC"]:
            x = h.sel(instrument=name).dropna(TIME).values
            for level in risk.LEVELS:
                ours = full.sel(instrument=name, level=level, horizon=horizon).item()
                assert ours == pytest.approx(rp.CVaR_Hist(x, alpha=round(1 - level, 12)), rel=1e-12)
    x = stocks.sel(instrument="AAPL").values
    gap = full.sel(instrument="AAPL", level=0.95, horizon="day").item() + empyrical.conditional_value_at_risk(x, 0.05)
    assert 0 < abs(gap) < 1e-3  # the conventions differ, by a little


# --------------------------------------------------------------------------- vectorisation, dask


def test_two_and_three_dimensional_inputs_give_the_one_dimensional_numbers(stocks: xr.DataArray) -> None:
    recent = stocks.isel(time=slice(-1500, None))
    both = risk.risk_summary(recent)
    assert both["var"].dims == (INSTRUMENT, LEVEL, HORIZON)
    one = risk.risk_summary(recent.sel(instrument="MSFT"))
    for name in ["var", "cvar", "volatility", "mean"]:
        np.testing.assert_allclose(both[name].sel(instrument="MSFT").values, one[name].values, rtol=1e-13)
    # a third dimension: two windows of the same length stacked along "window"
    windows = xr.concat([stocks.isel(time=slice(-1500, None)).assign_coords(time=np.arange(1500)),
                         stocks.isel(time=slice(-3000, -1500)).assign_coords(time=np.arange(1500))], dim="window")
    cube = risk.tail_risk(windows, horizon=None)
    assert set(cube["cvar"].dims) == {"window", INSTRUMENT, LEVEL}
    alone = risk.tail_risk(stocks.isel(time=slice(-3000, -1500)).sel(instrument="PG"), horizon=None)
    np.testing.assert_allclose(cube["cvar"].sel(instrument="PG").isel(window=1).values, alone["cvar"].values,
                               rtol=1e-13)


def test_dask_backed_returns_stay_lazy_and_compute_the_same_numbers(stocks: xr.DataArray) -> None:
    lazy = stocks.chunk({INSTRUMENT: 4, TIME: 2000})
    out = risk.risk_summary(lazy)
    assert all(out[name].chunks is not None for name in ["var", "cvar", "volatility"])
    eager = risk.risk_summary(stocks)
    for name in ["var", "cvar", "volatility", "mean"]:
        np.testing.assert_allclose(out[name].values, eager[name].values, rtol=1e-13)
    assert risk.horizon_returns(lazy, "month").chunks is not None


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-0.5, 0.5, allow_nan=False), min_size=40, max_size=120))
def test_cvar_is_at_least_var_and_both_grow_with_the_level(values: list[float]) -> None:
    out = risk.tail_risk(series(values), horizon=None)
    v, c = out["var"].values, out["cvar"].values
    assert np.all(c >= v - 1e-12)
    assert np.all(np.diff(v) >= -1e-12) and np.all(np.diff(c) >= -1e-12)


def test_commentary_in_the_seeds_words() -> None:
    var = xr.DataArray([[0.0712, -0.004]], dims=(LEVEL, HORIZON), coords={LEVEL: [0.975], HORIZON: ["week", "day"]})
    text = risk.var_commentary(var)
    assert text.sel(horizon="week").item() == \
        "There is a 2.5% chance that the instrument will lose more than 7.1% over one week"
    assert text.sel(horizon="day").item() == \
        "There is a 2.5% chance that the instrument will gain less than 0.4% over one day"
    cvar = xr.DataArray(0.093, coords={LEVEL: 0.95, HORIZON: "month"})
    assert risk.cvar_commentary(cvar, "portfolio").item() == \
        "In the worst 5% of cases the portfolio loses 9.3% on average over one month"
    with pytest.raises(DataError, match="'horizon' coordinate"):
        risk.var_commentary(xr.DataArray(0.1, coords={LEVEL: 0.95}))


# --------------------------------------------------------------------------- bad input


def test_an_instrument_without_data_is_named(stocks: xr.DataArray) -> None:
    broken = stocks.copy()
    broken.loc[{INSTRUMENT: "AMD"}] = np.nan
    with pytest.raises(DataError, match=r"no data \(all NaN\) for instrument=AMD"):
        risk.value_at_risk(broken)
    with pytest.raises(DataError, match="instrument=AMD"):
        volatility_contributions(broken, random_weights(2, stocks[INSTRUMENT].values))


def test_too_little_history_for_a_horizon_is_named(stocks: xr.DataArray) -> None:
    year = stocks.isel(time=slice(-252, None))
    risk.value_at_risk(year, horizon="day")  # 252 days: enough; 13 calendar months (partial first and last): not
    message = (r"too little history: instrument=AAPL, horizon=month; .* as few as 13 returns; "
               r"a tail at level 0.975 needs at least 40")
    with pytest.raises(DataError, match=message):
        risk.value_at_risk(year, horizon=["day", "month"])
    risk.value_at_risk(year.isel(time=slice(-40, None)), level=0.975, horizon="day")
    with pytest.raises(DataError, match="at least 40"):
        risk.value_at_risk(year.isel(time=slice(-39, None)), level=0.975, horizon="day")
    with pytest.raises(DataError, match="at least 2"):
        risk.volatility(year.isel(time=slice(-1, None)), horizon="day")


def test_bad_levels_and_horizons_are_refused_by_field() -> None:
    r = series(SCENARIOS * 3)
    with pytest.raises(ValidationError) as info:
        risk.value_at_risk(r, level=[0.95, 1.5, 0])
    assert info.value.paths == ["level[1]", "level[2]"]
    with pytest.raises(ValidationError) as info:
        risk.value_at_risk(r, horizon=["day", "year"])
    assert info.value.paths == ["horizon[1]"]


def test_weights_that_do_not_sum_to_one_or_name_unknown_instruments_are_refused(stocks: xr.DataArray) -> None:
    w = random_weights(3, stocks[INSTRUMENT].values)
    w.loc[{PORTFOLIO: "p1", INSTRUMENT: "AAPL"}] += 0.1
    with pytest.raises(ValidationError) as info:
        volatility_contributions(stocks, w)
    assert info.value.paths == ["weights[portfolio=p1]"]
    assert "sum to 1.1" in str(info.value)
    odd = xr.DataArray([0.5, 0.5, np.nan], dims=INSTRUMENT, coords={INSTRUMENT: ["AAPL", "ZZZZ", "KO"]})
    with pytest.raises(ValidationError) as info:
        check_weights(odd, stocks)
    assert info.value.paths == ["weights[instrument=ZZZZ]", "weights[instrument=KO]"]
    with pytest.raises(ValidationError, match="needs an 'instrument' dimension"):
        check_weights(xr.DataArray([1.0], dims="asset"), stocks)


# --------------------------------------------------------------------------- risk contributions


def exact_covariance_returns(cov: np.ndarray, days: int = 500, seed: int = 3) -> xr.DataArray:
    """Returns whose sample covariance (ddof = 1) is exactly ``cov``: whitened noise, recoloured."""
    z = np.random.default_rng(seed).normal(size=(days, len(cov)))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False)).T) @ np.linalg.cholesky(cov).T
    return xr.DataArray(z.T + 0.001, dims=(INSTRUMENT, TIME),
                        coords={INSTRUMENT: ["A", "B", "C"], TIME: pd.bdate_range("2020-01-01", periods=days)})


def test_three_asset_volatility_contributions_by_hand() -> None:
    # sigma = (0.2, 0.3, 0.15), correlations AB 0.1, BC 0.4, AC 0; weights (0.5, 0.2, 0.3)
    cov = np.array([[0.04, 0.006, 0.0], [0.006, 0.09, 0.018], [0.0, 0.018, 0.0225]])
    w = xr.DataArray([0.5, 0.2, 0.3], dims=INSTRUMENT, coords={INSTRUMENT: ["A", "B", "C"]})
    # S w = (0.02 + 0.0012, 0.003 + 0.018 + 0.0054, 0.0036 + 0.00675) = (0.0212, 0.0264, 0.01035)
    # w'S w = 0.0106 + 0.00528 + 0.003105 = 0.018985, sigma_p = sqrt(0.018985)
    sigma = math.sqrt(0.018985)
    out = volatility_contributions(exact_covariance_returns(cov), w)
    assert out["total"].item() == pytest.approx(sigma, rel=1e-12)
    np.testing.assert_allclose(out["marginal"].values, np.array([0.0212, 0.0264, 0.01035]) / sigma, rtol=1e-12)
    np.testing.assert_allclose(out["contribution"].values, np.array([0.0106, 0.00528, 0.003105]) / sigma, rtol=1e-12)
    np.testing.assert_allclose(out["percent"].values, np.array([0.0106, 0.00528, 0.003105]) / 0.018985, rtol=1e-12)
    # DR = (0.5 * 0.2 + 0.2 * 0.3 + 0.3 * 0.15) / sigma_p = 0.205 / 0.1377860... = 1.48782...; DR^2 = 2.21
    dr = diversification_ratio(exact_covariance_returns(cov), w)
    assert dr["ratio"].item() == pytest.approx(0.205 / sigma, rel=1e-12)
    assert dr["rating"].item() == "medium"


def test_cvar_contributions_of_a_small_scenario_set_by_hand() -> None:
    # two assets, ten scenarios, weights (0.6, 0.4); portfolio returns 0.6 a + 0.4 b
    a = [0.02, -0.10, 0.01, 0.03, -0.02, 0.00, 0.04, -0.05, 0.01, 0.02]
    b = [0.01, -0.02, -0.06, 0.02, 0.01, 0.01, -0.01, -0.03, 0.00, 0.02]
    # portfolio: 0.016, -0.068, -0.018, 0.026, -0.008, 0.004, 0.02, -0.042, 0.006, 0.02
    # worst: t2 = -0.068, t8 = -0.042, t3 = -0.018
    # level 0.8 (aT = 2): CVaR = (0.068 + 0.042) / 2 = 0.055; dR/dw = -(R_t2 + R_t8) / 2
    #   = (0.075, 0.025): contributions (0.045, 0.01), adding up to 0.055
    # level 0.85 (aT = 1.5): CVaR = (0.068 + 0.5 * 0.042) / 1.5 = 0.089 / 1.5; dR/dw = -(R_t2 + 0.5 R_t8) / 1.5
    #   = (0.125 / 1.5, 0.035 / 1.5): contributions (0.075 / 1.5, 0.014 / 1.5)
    returns = xr.DataArray([a, b], dims=(INSTRUMENT, TIME), coords={INSTRUMENT: ["A", "B"], TIME: np.arange(10)})
    w = xr.DataArray([0.6, 0.4], dims=INSTRUMENT, coords={INSTRUMENT: ["A", "B"]})
    out = cvar_contributions(returns, w, level=[0.8, 0.85])
    np.testing.assert_allclose(out["total"].values, [0.055, 0.089 / 1.5], rtol=1e-12)
    np.testing.assert_allclose(out["marginal"].sel(level=0.8).values, [0.075, 0.025], rtol=1e-12)
    np.testing.assert_allclose(out["contribution"].sel(level=0.8).values, [0.045, 0.01], rtol=1e-12)
    np.testing.assert_allclose(out["contribution"].sel(level=0.85).values, [0.075 / 1.5, 0.014 / 1.5], rtol=1e-12)
    np.testing.assert_allclose(out["percent"].sum(INSTRUMENT).values, [1.0, 1.0], rtol=1e-12)


def test_contributions_equal_riskfolio_risk_contribution_on_real_data(stocks: xr.DataArray) -> None:
    import riskfolio as rp  # slow to import (~9 s): only here

    recent = stocks.isel(time=slice(-2520, None))
    w = random_weights(4, stocks[INSTRUMENT].values)
    vol = volatility_contributions(recent, w)
    cvar = cvar_contributions(recent, w, level=risk.LEVELS)
    frame = recent.to_pandas().T
    for p in w[PORTFOLIO].values:
        weights = w.sel(portfolio=p).to_pandas()
        theirs = rp.Risk_Contribution(weights, frame, rm="MV")  # central differences of sqrt(w' cov w)
        np.testing.assert_allclose(vol["contribution"].sel(portfolio=p).values, theirs, rtol=1e-7, atol=1e-10)
        for level in risk.LEVELS:
            theirs = rp.Risk_Contribution(weights, frame, rm="CVaR", alpha=round(1 - level, 12))
            ours = cvar["contribution"].sel(portfolio=p, level=level).values
            np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-9)
            total = rp.CVaR_Hist(frame.to_numpy() @ weights.to_numpy(), alpha=round(1 - level, 12))
            assert cvar["total"].sel(portfolio=p, level=level).item() == pytest.approx(total, rel=1e-12)


def test_euler_contributions_add_up_for_many_portfolios_and_chunked_weights_stay_lazy(stocks: xr.DataArray) -> None:
    recent = stocks.isel(time=slice(-1000, None))
    w = random_weights(3000, stocks[INSTRUMENT].values, seed=11)
    for out in [volatility_contributions(recent, w, annualise=True), cvar_contributions(recent, w, risk.LEVELS)]:
        np.testing.assert_allclose(out["contribution"].sum(INSTRUMENT).values, out["total"].values, rtol=1e-10)
    one = cvar_contributions(recent, w.sel(portfolio="p42"), 0.95)
    many = cvar_contributions(recent, w, 0.95)
    np.testing.assert_allclose(many["contribution"].sel(portfolio="p42").values, one["contribution"].values,
                               rtol=1e-12)
    lazy = cvar_contributions(recent.chunk({TIME: 500}), w.chunk({PORTFOLIO: 1000}), risk.LEVELS)
    assert lazy["contribution"].chunks is not None
    np.testing.assert_allclose(lazy["contribution"].values, cvar_contributions(recent, w, risk.LEVELS)[
        "contribution"].values, rtol=1e-12)
    sigma = volatility_contributions(recent, w)["total"]
    np.testing.assert_allclose(sigma.values, weighted_returns(recent, w).std(TIME, ddof=1).values, rtol=1e-10)


def test_weighted_returns_skip_gaps_of_instruments_not_held() -> None:
    r = xr.DataArray([[0.01, np.nan, 0.02], [0.03, 0.01, np.nan], [np.nan, 0.05, 0.04]], dims=(INSTRUMENT, TIME),
                     coords={INSTRUMENT: ["A", "B", "C"], TIME: np.arange(3)})
    w = xr.DataArray([[0.5, 0.5, 0.0], [0.25, 0.0, 0.75]], dims=(PORTFOLIO, INSTRUMENT),
                     coords={PORTFOLIO: ["ab", "ac"], INSTRUMENT: ["A", "B", "C"]})
    # ab (A, B): day 0 = 0.5 * 0.01 + 0.5 * 0.03 = 0.02 although C has no return (not held); day 1 A and
    # day 2 B are missing -> NaN. ac (A, C): days 0 and 1 miss C or A -> NaN; day 2 = 0.25 * 0.02 + 0.75 * 0.04
    # = 0.035 although B has no return.
    out = weighted_returns(r, w)
    np.testing.assert_allclose(out.sel(portfolio="ab").values, [0.02, np.nan, np.nan], rtol=1e-15)
    np.testing.assert_allclose(out.sel(portfolio="ac").values, [np.nan, np.nan, 0.035], rtol=1e-15)


def test_diversification_rating_bands() -> None:
    ratio = xr.DataArray([1.0, 1.41, math.sqrt(2), 1.99, 2.0, 3.5, np.nan])
    assert list(diversification_rating(ratio).values) == ["low", "low", "medium", "medium", "high", "high", ""]
