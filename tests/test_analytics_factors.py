"""Factor analytics (toolkit.analytics.factors) against independent implementations on real data:
numpy ``lstsq`` for the regressions (OLS and WLS), empyrical-reloaded for alpha and beta,
pandas ``ewm`` and riskfolio-lib's ``mean_vector`` for the exponentially weighted mean, pandas
``groupby`` for sector portfolios, riskfolio's ``CVaR_Hist`` for the benchmark CVaR; and a small
regression worked by hand."""

from __future__ import annotations

from typing import cast

import empyrical
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from test_analytics_risk import DATA, csv_returns, random_weights

from toolkit.analytics import factors as fa
from toolkit.analytics.risk_portfolio import weighted_returns
from toolkit.errors import DataError, NotFoundError, ValidationError
from toolkit.schema import INSTRUMENT, PORTFOLIO, TIME

ETFS = ["MTUM", "QUAL", "SIZE", "USMV", "VLUE"]
STYLE = ["SP500", *ETFS]


@pytest.fixture(scope="module")
def stocks() -> xr.DataArray:
    sectors = pd.read_csv(DATA / "instruments.csv").drop_duplicates("symbol").set_index("symbol")["sector"]
    returns = csv_returns("sp500_stocks.csv")
    return returns.assign_coords(sector=(INSTRUMENT, [sectors[s] for s in returns[INSTRUMENT].values]))


@pytest.fixture(scope="module")
def proxies(stocks: xr.DataArray) -> xr.DataArray:
    return fa.factor_proxies(csv_returns("sp500_index.csv", fa.FACTOR), csv_returns("factor_etfs.csv", fa.FACTOR),
                             fa.sector_factors(stocks))


def lstsq_fit(y: pd.Series, x: pd.DataFrame, weights: np.ndarray | None = None) -> dict:
    """OLS / WLS with intercept by numpy lstsq on the rows where y and every factor are known."""
    frame = pd.concat([y.rename("y"), x], axis=1, join="inner")
    keep = frame.notna().all(axis=1).to_numpy()
    w = np.ones(len(frame)) if weights is None else weights
    a = np.column_stack([np.ones(keep.sum()), frame.to_numpy()[keep, 1:]])
    b = frame["y"].to_numpy()[keep]
    root = np.sqrt(w[keep])
    coef, *_ = np.linalg.lstsq(a * root[:, None], b * root, rcond=None)
    resid = b - a @ coef
    wm = np.average(b, weights=w[keep])
    sst, ssr = np.sum(w[keep] * (b - wm) ** 2), np.sum(w[keep] * resid ** 2)
    n, k = keep.sum(), x.shape[1]
    return {"alpha": coef[0], "beta": coef[1:], "r2": 1 - ssr / sst, "n": n,
            "residual_vol": np.sqrt(ssr / w[keep].sum() * n / (n - k - 1))}


def test_a_small_regression_by_hand() -> None:
    # f = (1, 2, 3, 4), r = (1, 3, 2, 5): mean f = 2.5, mean r = 2.75,
    # C_ff = 2.25 + 0.25 + 0.25 + 2.25 = 5, C_fr = (-1.5)(-1.75) + (-0.5)(0.25) + (0.5)(-0.75) + (1.5)(2.25) = 5.5
    # beta = 1.1, alpha = 2.75 - 1.1 * 2.5 = 0; SST = 3.0625 + 0.0625 + 0.5625 + 5.0625 = 8.75,
    # SSR = 8.75 - 1.1 * 5.5 = 2.7, R^2 = 1 - 2.7 / 8.75; residual vol sqrt(2.7 / (4 - 2))
    time = pd.bdate_range("2022-01-03", periods=4)
    r = xr.DataArray([1.0, 3.0, 2.0, 5.0], dims=TIME, coords={TIME: time})
    f = xr.DataArray([1.0, 2.0, 3.0, 4.0], dims=TIME, coords={TIME: time}, name="F")
    fit = fa.regress(r, f, periods_per_year=1)
    assert fit["beta"].sel(factor="F").item() == pytest.approx(1.1, rel=1e-12)
    assert fit["alpha"].item() == pytest.approx(0.0, abs=1e-12)
    assert fit["r_squared"].item() == pytest.approx(1 - 2.7 / 8.75, rel=1e-12)
    assert fit["residual_vol"].item() == pytest.approx(np.sqrt(1.35), rel=1e-12)
    assert fit["variance_share"].sel(factor="F").item() == pytest.approx(1.1 * 5.5 / 8.75, rel=1e-12)


def test_a_series_on_itself_has_no_residual_risk(proxies: xr.DataArray) -> None:
    # the market on the market (the market proxy among the exposures of the index itself): the
    # residual sum of squares is 0 up to rounding, which must not turn into sqrt(-1e-19) = NaN
    market = proxies.sel({fa.FACTOR: "SP500"}, drop=True).sel({TIME: slice("2015", "2022")})
    with np.errstate(invalid="raise"):
        fit = fa.regress(market, proxies.sel({TIME: slice("2015", "2022")}), names=["SP500"])
    assert fit["beta"].item() == pytest.approx(1.0, rel=1e-12)
    assert fit["r_squared"].item() == pytest.approx(1.0, abs=1e-12)
    assert fit["idiosyncratic_vol"].item() == pytest.approx(0.0, abs=1e-7)


def test_ols_on_the_style_factors_equals_numpy_lstsq(stocks: xr.DataArray, proxies: xr.DataArray) -> None:
    fit = fa.regress(stocks, proxies, names=STYLE)
    x = proxies.sel(factor=STYLE).to_pandas().T
    for name in ["AAPL", "JPM", "RRC"]:
        theirs = lstsq_fit(stocks.sel(instrument=name).to_series(), x)
        ours = fit.sel(instrument=name)
        assert ours["count"].item() == theirs["n"] == 2263  # the ETFs' history, 2014-01-03 ..
        assert ours["alpha"].item() == pytest.approx(theirs["alpha"], rel=1e-9, abs=1e-13)
        np.testing.assert_allclose(ours["beta"].values, theirs["beta"], rtol=1e-9)
        assert ours["r_squared"].item() == pytest.approx(theirs["r2"], rel=1e-10)
        assert ours["residual_vol"].item() == pytest.approx(theirs["residual_vol"], rel=1e-10)
        assert ours["idiosyncratic_vol"].item() == pytest.approx(theirs["residual_vol"] * np.sqrt(252), rel=1e-10)
        assert ours["variance_share"].sum().item() == pytest.approx(theirs["r2"], rel=1e-10)


def test_weighted_regression_equals_lstsq_on_scaled_rows(stocks: xr.DataArray, proxies: xr.DataArray) -> None:
    recent = stocks.isel(time=slice(-1000, None))
    fit = fa.regress(recent, proxies, names=["SP500", "Energy"], halflife=60)
    x = proxies.sel(factor=["SP500", "Energy"]).to_pandas().T.reindex(recent.indexes[TIME])
    w = 0.5 ** ((999 - np.arange(1000)) / 60)
    for name in ["XOM", "MSFT"]:
        theirs = lstsq_fit(recent.sel(instrument=name).to_series(), x, weights=w)
        np.testing.assert_allclose(fit["beta"].sel(instrument=name).values, theirs["beta"], rtol=1e-9)
        assert fit["alpha"].sel(instrument=name).item() == pytest.approx(theirs["alpha"], rel=1e-8, abs=1e-13)
        assert fit["r_squared"].sel(instrument=name).item() == pytest.approx(theirs["r2"], rel=1e-10)
        assert fit["residual_vol"].sel(instrument=name).item() == pytest.approx(theirs["residual_vol"], rel=1e-10)


def test_single_factor_alpha_beta_equal_empyrical_and_r2_the_squared_correlation(stocks: xr.DataArray,
                                                                                 proxies: xr.DataArray) -> None:
    market = proxies.sel(factor="SP500")
    fit = fa.regress(stocks, market)
    bench = fa.benchmark_analytics(stocks, proxies, name="SP500", level=0.95)
    m = market.to_series()
    for name in ["AAPL", "GE", "WMT"]:
        y = stocks.sel(instrument=name).to_series()
        alpha, beta = empyrical.alpha_beta(y, m)  # alpha compounded: (1 + mean daily alpha)^252 - 1
        assert fit["beta"].sel(instrument=name).item() == pytest.approx(beta, rel=1e-10)
        assert fit["alpha_annual"].sel(instrument=name).item() == pytest.approx(alpha, rel=1e-9)
        assert bench["beta"].sel(instrument=name).item() == pytest.approx(beta, rel=1e-10)
        assert bench["alpha_annual"].sel(instrument=name).item() == pytest.approx(alpha, rel=1e-9)
        assert fit["r_squared"].sel(instrument=name).item() == pytest.approx(y.corr(m) ** 2, rel=1e-10)


def test_benchmark_cvar_equals_riskfolio_on_the_common_dates(stocks: xr.DataArray, proxies: xr.DataArray) -> None:
    import riskfolio as rp  # slow to import (~9 s): only here

    etf = proxies.sel(factor="USMV")  # from 2014: the common dates are the ETF's
    bench = fa.benchmark_analytics(stocks, etf, level=[0.95, 0.975])
    frame = pd.concat([stocks.sel(instrument="PG").to_series(), etf.to_series()], axis=1).dropna()
    y, b = frame.iloc[:, 0].to_numpy(), frame.iloc[:, 1].to_numpy()
    for level in [0.95, 0.975]:
        alpha = round(1 - level, 12)
        ours = bench["cvar"].sel(instrument="PG", level=level).item()
        assert ours == pytest.approx(rp.CVaR_Hist(y, alpha), rel=1e-12)
        assert bench["active_cvar"].sel(instrument="PG", level=level).item() == pytest.approx(
            rp.CVaR_Hist(y - b, alpha), rel=1e-12)
    theirs = lstsq_fit(frame.iloc[:, 0], frame.iloc[:, [1]])
    assert bench["idiosyncratic_vol"].sel(instrument="PG").item() == pytest.approx(
        theirs["residual_vol"] * np.sqrt(252), rel=1e-10)


def test_sector_factors_equal_a_pandas_groupby(stocks: xr.DataArray) -> None:
    ours = fa.sector_factors(stocks).to_pandas().T
    frame = stocks.to_pandas().T
    theirs = frame.T.groupby(stocks["sector"].to_series()).mean().T
    assert sorted(ours.columns) == sorted(theirs.columns) == sorted(set(stocks["sector"].values))
    pd.testing.assert_frame_equal(ours[theirs.columns], theirs, check_names=False, rtol=1e-13, check_freq=False)
    mapped = fa.sector_factors(stocks, {"AAPL": "Tech", "MSFT": "Tech", "XOM": "Oil"})
    np.testing.assert_allclose(mapped.sel(factor="Tech").values,
                               stocks.sel(instrument=["AAPL", "MSFT"]).mean(INSTRUMENT).values, rtol=1e-14)


def test_ewma_mean_equals_pandas_ewm_and_riskfolio_mean_vector(stocks: xr.DataArray) -> None:
    import riskfolio as rp  # slow to import (~9 s): only here

    recent = stocks.isel(time=slice(-750, None)).copy()
    recent[{INSTRUMENT: 3, TIME: slice(100, 130)}] = np.nan  # a gap keeps its place in the decay
    ours = fa.weighted_mean(recent, halflife=42)
    frame = recent.to_pandas().T
    theirs = frame.ewm(halflife=42).mean().iloc[-1]  # adjust=True, ignore_na=False
    np.testing.assert_allclose(ours.values, theirs.to_numpy(), rtol=1e-12)
    clean = frame.drop(columns=frame.columns[3])
    d = 2 ** (-1 / 42)  # riskfolio's decay per row for a 42-row half-life
    mu = rp.mean_vector(clean, method="ewma1", d=d)
    np.testing.assert_allclose(ours.drop_sel(instrument=frame.columns[3]).values, mu.to_numpy().ravel(), rtol=1e-10)


def test_four_expected_return_estimators(stocks: xr.DataArray, proxies: xr.DataArray) -> None:
    mu = fa.expected_returns(stocks, proxies, names=STYLE, halflife=126)
    assert list(mu[fa.ESTIMATOR].values) == list(fa.ESTIMATORS)
    frame, x = (cast(pd.DataFrame, a.to_pandas()).T for a in (stocks, proxies.sel(factor=STYLE)))  # 2-D: DataFrames
    np.testing.assert_allclose(mu.sel(estimator="sample").values, frame.mean().to_numpy() * 252, rtol=1e-12)
    np.testing.assert_allclose(mu.sel(estimator="ewma").values,
                               frame.ewm(halflife=126).mean().iloc[-1].to_numpy() * 252, rtol=1e-12)
    # factor model: lstsq betas on the common dates times each factor's mean over its whole history
    name = "HD"
    betas = lstsq_fit(frame[name], x)["beta"]
    assert mu.sel(estimator="factor", instrument=name).item() == pytest.approx(betas @ x.mean().to_numpy() * 252,
                                                                              rel=1e-9)
    common = x.reindex(frame.index).dropna().index
    w = 0.5 ** ((len(common) - 1 - np.arange(len(common))) / 126)
    wbetas = lstsq_fit(frame[name].reindex(common), x.reindex(common), weights=w)["beta"]
    wmeans = x.ewm(halflife=126).mean().iloc[-1].to_numpy()
    assert mu.sel(estimator="factor_ewma", instrument=name).item() == pytest.approx(wbetas @ wmeans * 252, rel=1e-9)


def test_factor_summary_splits_the_variance(stocks: xr.DataArray, proxies: xr.DataArray) -> None:
    out = fa.factor_summary(stocks, proxies, names=["SP500", "Energy", "Financials"])
    np.testing.assert_allclose(out["variance_share"].sum("factor") + out["idiosyncratic_share"], 1.0, rtol=1e-12)
    x = proxies.sel(factor=["SP500", "Energy", "Financials"]).to_pandas().T
    np.testing.assert_allclose(out["factor_vol"].values, x.std().to_numpy() * np.sqrt(252), rtol=1e-12)
    # the in-sample identity Var r = beta' C_ff beta + Var e, with numpy on the common dates for one stock
    frame = pd.concat([stocks.sel(instrument="CVX").to_series(), x], axis=1).dropna().to_numpy()
    beta = out["beta"].sel(instrument="CVX").values
    explained = beta @ np.cov(frame[:, 1:], rowvar=False) @ beta / np.var(frame[:, 0], ddof=1)
    assert out["r_squared"].sel(instrument="CVX").item() == pytest.approx(explained, rel=1e-10)


def test_portfolios_regress_at_once_and_dask_stays_lazy(stocks: xr.DataArray, proxies: xr.DataArray) -> None:
    recent = stocks.isel(time=slice(-1500, None))
    p = weighted_returns(recent, random_weights(50, stocks[INSTRUMENT].values))
    fit = fa.regress(p, proxies, names=STYLE)
    one = fa.regress(p.sel(portfolio="p7"), proxies, names=STYLE)
    for name in ["alpha", "beta", "r_squared", "idiosyncratic_vol"]:
        np.testing.assert_allclose(fit[name].sel(portfolio="p7").values, one[name].values, rtol=1e-10)
    lazy = fa.regress(p.chunk({PORTFOLIO: 10}), proxies.chunk({TIME: 500}), names=STYLE, halflife=100)
    assert lazy["beta"].chunks is not None and lazy["r_squared"].chunks is not None
    eager = fa.regress(p, proxies, names=STYLE, halflife=100)
    np.testing.assert_allclose(lazy["beta"].values, eager["beta"].values, rtol=1e-10, atol=1e-12)
    mu = fa.expected_returns(p.chunk({PORTFOLIO: 10}), proxies, names=STYLE)
    assert mu.chunks is not None


def test_unknown_factors_or_benchmarks_are_named(stocks: xr.DataArray, proxies: xr.DataArray) -> None:
    with pytest.raises(NotFoundError, match="Unknown factor 'MOMO'; the factors are SP500, MTUM"):
        fa.regress(stocks, proxies, names=["SP500", "MOMO"])
    with pytest.raises(NotFoundError, match="Unknown factor 'NDX'"):
        fa.benchmark_analytics(stocks, proxies, name="NDX")
    with pytest.raises(DataError, match="choose one with name="):
        fa.benchmark_analytics(stocks, proxies)


def test_bad_data_is_refused_with_the_series_named(stocks: xr.DataArray, proxies: xr.DataArray) -> None:
    broken = stocks.copy()
    broken.loc[{INSTRUMENT: "KO"}] = np.nan
    with pytest.raises(DataError, match=r"no data \(all NaN\) for instrument=KO"):
        fa.regress(broken, proxies, names="SP500")
    # 2013: before the factor ETFs existed, so no stock has a date with all six factors
    early = stocks.sel(time=slice("2013-01-01", "2014-01-06"))
    with pytest.raises(DataError, match="too little history: instrument=AAPL.* at least 8"):
        fa.regress(early, proxies, names=STYLE)
    with pytest.raises(DataError, match="no date in common"):
        fa.regress(stocks.sel(time=slice("1990", "1991")), proxies.sel(factor=ETFS).dropna(TIME, how="all"))
    twins = fa.factor_proxies(proxies.sel(factor="SP500"), (2 * proxies.sel(factor="SP500")).rename("double"))
    with pytest.raises(DataError, match="collinear"):
        fa.regress(stocks, twins)
    with pytest.raises(ValidationError) as info:
        fa.factor_proxies(proxies.sel(factor=["SP500"]), proxies.sel(factor=["SP500", "MTUM"]))
    assert info.value.paths == ["factor[SP500]"]
    with pytest.raises(ValidationError) as info:
        fa.expected_returns(stocks, estimators=["sample", "capm", "factor"])
    assert info.value.paths == ["estimators[1]", "factors"]
    with pytest.raises(DataError, match="sector"):
        fa.sector_factors(stocks.drop_vars("sector"))
