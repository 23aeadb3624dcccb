"""The nine portfolio rules (toolkit.optimise) against independent formulations on the shipped data:
direct cvxpy models, skfolio 1.12 (MeanRisk, RiskBudgeting, MaximumDiversification,
HierarchicalRiskParity, InverseVolatility, BenchmarkTracker), riskfolio-lib's own primal CVaR LP, and
StockCharts' published ATR worked example; then every way a request can be wrong."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import toolkit.optimise.solve as shield
from toolkit.analytics.returns import simple_returns
from toolkit.analytics.risk import conditional_value_at_risk
from toolkit.analytics.risk_portfolio import diversification_ratio, volatility_contributions
from toolkit.errors import DataError, ValidationError
from toolkit.optimise import RULES, OptimisationError, optimise, wilder_atr
from toolkit.optimise.constraints import parse_constraints
from toolkit.schema import INSTRUMENT, TIME

DATA = Path(__file__).resolve().parents[1] / "data"
SYMBOLS = ["AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JNJ", "JPM", "KO",
           "LLY", "MRK", "MSFT", "PEP", "PFE", "PG", "RRC", "UNH", "WMT", "XOM"]
#: Clarabel at tight tolerances for the reference models, so that differences are ours
TIGHT = {"tol_gap_abs": 1e-12, "tol_gap_rel": 1e-12, "tol_feas": 1e-12}


@pytest.fixture(scope="module")
def prices(demo_ws) -> xr.Dataset:
    return demo_ws.history.prices([*SYMBOLS, "SPX"], start="2015-01-01", end="2022-12-31")


@pytest.fixture(scope="module")
def stocks(prices: xr.Dataset) -> xr.DataArray:
    """Daily simple returns of the 20 S&P 500 stocks, 2015-2022 (2,011 dates), with their metadata."""
    close = prices["close"].where(prices["symbol"] != "SPX", drop=True)
    return simple_returns(close)


@pytest.fixture(scope="module")
def spx(prices: xr.Dataset) -> xr.DataArray:
    return simple_returns(prices["close"].where(prices["symbol"] == "SPX", drop=True).squeeze(INSTRUMENT, drop=True))


@pytest.fixture(scope="module")
def frame(stocks: xr.DataArray) -> pd.DataFrame:
    return stocks.to_pandas().T


@pytest.fixture(scope="module")
def every_rule(stocks: xr.DataArray, spx: xr.DataArray) -> dict[str, xr.DataArray]:
    """The unconstrained weights of every rule that reads returns (ATR weighted needs OHLC: below)."""
    return {name: optimise(name, stocks, benchmark=spx if name == "Min Tracking Error" else None)
            for name in RULES if name != "ATR weighted"}


def cvxpy_solve(objective, constraints) -> None:
    import cvxpy as cp

    cp.Problem(objective, constraints).solve(solver="CLARABEL", **TIGHT)


# --------------------------------------------------------------------------- reference cases


def test_min_variance_equals_a_direct_cvxpy_model_and_skfolio(stocks: xr.DataArray, frame: pd.DataFrame) -> None:
    import cvxpy as cp
    from skfolio import RiskMeasure
    from skfolio.optimization import MeanRisk

    ours = optimise("Min Risk (CVaR)", stocks, parameters={"risk_measure": "volatility"})
    w = cp.Variable(20)
    cvxpy_solve(cp.Minimize(cp.quad_form(w, np.cov(frame.to_numpy(), rowvar=False))), [w >= 0, cp.sum(w) == 1])
    assert w.value is not None  # solved
    np.testing.assert_allclose(ours.values, w.value, atol=1e-4)
    theirs = MeanRisk(risk_measure=RiskMeasure.VARIANCE, solver_params=TIGHT).fit(frame).weights_
    np.testing.assert_allclose(ours.values, theirs, atol=1e-4)
    assert ours.attrs["solver"] == "CLARABEL" and ours.attrs["rule"] == "Min Risk (CVaR)"


@pytest.mark.parametrize("rate", [0.0, 0.03])
def test_max_sharpe_equals_the_tangency_program_and_skfolio(stocks: xr.DataArray, frame: pd.DataFrame,
                                                            rate: float) -> None:
    import cvxpy as cp
    from skfolio import RiskMeasure
    from skfolio.optimization import MeanRisk, ObjectiveFunction

    ours = optimise("Max Sharpe", stocks, parameters={"risk_free_rate": rate})
    rf = (1 + rate) ** (1 / 252) - 1
    y, excess = cp.Variable(20), frame.mean().to_numpy() - rf
    cvxpy_solve(cp.Minimize(cp.quad_form(y, np.cov(frame.to_numpy(), rowvar=False))), [y >= 0, excess @ y == 1])
    assert y.value is not None  # solved
    np.testing.assert_allclose(ours.values, y.value / y.value.sum(), atol=1e-4)
    theirs = MeanRisk(objective_function=ObjectiveFunction.MAXIMIZE_RATIO, risk_measure=RiskMeasure.STANDARD_DEVIATION,
                      risk_free_rate=rf, solver_params=TIGHT).fit(frame).weights_
    np.testing.assert_allclose(ours.values, theirs, atol=1e-4)
    assert ours.attrs["parameters"]["risk_free_rate"] == rate


def test_max_sharpe_under_sector_limits_equals_the_constrained_tangency_program(stocks: xr.DataArray,
                                                                                frame: pd.DataFrame) -> None:
    import cvxpy as cp

    limits = {"max_weight": 0.2, "sectors": [{"code": "45", "max": 0.25}, {"code": "Health Care", "min": 0.3}]}
    ours = optimise("Max Sharpe", stocks, constraints=limits)
    tech = (stocks["sector"] == "Information Technology").values.astype(float)
    health = (stocks["sector"] == "Health Care").values.astype(float)
    y, k = cp.Variable(20), cp.Variable()
    cvxpy_solve(cp.Minimize(cp.quad_form(y, np.cov(frame.to_numpy(), rowvar=False))),
                [y >= 0, frame.mean().to_numpy() @ y == 1, y <= 0.2 * k, tech @ y <= 0.25 * k, health @ y >= 0.3 * k,
                 cp.sum(y) == k])
    assert y.value is not None and k.value is not None  # solved
    np.testing.assert_allclose(ours.values, y.value / k.value, atol=1e-4)
    assert float(ours @ xr.DataArray(tech, dims=INSTRUMENT)) <= 0.25 + 1e-7


def test_min_cvar_reaches_riskfolio_defaults_optimum_and_equals_skfolio(stocks: xr.DataArray,
                                                                        frame: pd.DataFrame) -> None:
    import riskfolio as rp
    from skfolio import RiskMeasure
    from skfolio.optimization import MeanRisk

    ours = optimise("Min Risk (CVaR)", stocks)
    assert ours.attrs["solver"] == "HIGHS"
    port = rp.Portfolio(returns=frame)
    port.assets_stats(method_mu="hist", method_cov="hist")
    theirs = port.optimization(model="Classic", rm="CVaR", obj="MinRisk").to_numpy().ravel()  # riskfolio's defaults
    returns = frame.to_numpy()
    assert rp.CVaR_Hist(returns @ ours.values, 0.05) == pytest.approx(rp.CVaR_Hist(returns @ theirs, 0.05), rel=1e-6)
    np.testing.assert_allclose(ours.values, theirs, atol=1e-5)
    sk = MeanRisk(risk_measure=RiskMeasure.CVAR, cvar_beta=0.95, solver_params=TIGHT).fit(frame).weights_
    np.testing.assert_allclose(ours.values, sk, atol=1e-6)
    # the optimum is the toolkit's own CVaR (Acerbi-Tasche) of the portfolio's returns
    mine = conditional_value_at_risk((stocks * ours).sum(INSTRUMENT), level=0.95, horizon=None).item()
    assert mine == pytest.approx(rp.CVaR_Hist(returns @ theirs, 0.05), rel=1e-6)


def test_risk_parity_contributions_are_equal_and_match_skfolio(stocks: xr.DataArray, frame: pd.DataFrame) -> None:
    from skfolio import RiskMeasure
    from skfolio.optimization import RiskBudgeting

    ours = optimise("Risk Parity", stocks)
    shares = volatility_contributions(stocks, ours)["percent"]
    np.testing.assert_allclose(shares.values, 1 / 20, atol=1e-6)
    theirs = RiskBudgeting(risk_measure=RiskMeasure.VARIANCE, solver_params=TIGHT).fit(frame).weights_
    np.testing.assert_allclose(ours.values, theirs, atol=1e-5)


def test_max_diversification_equals_skfolio_and_beats_every_other_rule(every_rule: dict, stocks: xr.DataArray,
                                                                       frame: pd.DataFrame) -> None:
    from skfolio.optimization import MaximumDiversification

    best = every_rule["Max Diversification"]
    np.testing.assert_allclose(best.values, MaximumDiversification(solver_params=TIGHT).fit(frame).weights_, atol=1e-5)
    ratios = {name: diversification_ratio(stocks, w)["ratio"].item() for name, w in every_rule.items()}
    top = ratios.pop("Max Diversification")
    assert all(top >= r - 1e-9 for r in ratios.values()), (top, ratios)


def test_equal_weight_is_exact_and_volatility_weighted_is_the_reciprocal_of_skfolio_inverse_volatility(
        every_rule: dict, frame: pd.DataFrame) -> None:
    """The seed's rule 17 weights are proportional to volatility ("higher volatility, higher weight"):
    the reciprocal of skfolio's InverseVolatility weights, normalised."""
    from skfolio.optimization import InverseVolatility

    assert np.array_equal(every_rule["Equal Weight"].values, np.full(20, 1 / 20))
    assert every_rule["Equal Weight"].attrs["solver"] == "none (closed form)"
    inverse = InverseVolatility().fit(frame).weights_
    np.testing.assert_allclose(every_rule["Volatility weighted"].values, (1 / inverse) / (1 / inverse).sum(),
                               rtol=1e-12)
    np.testing.assert_allclose(every_rule["Volatility weighted"].values, frame.std() / frame.std().sum(), rtol=1e-12)
    assert frame.std().idxmax() == every_rule["Volatility weighted"].to_series().idxmax()


def test_diversified_min_risk_is_hrp_as_skfolio_computes_it(every_rule: dict, frame: pd.DataFrame) -> None:
    from skfolio import RiskMeasure
    from skfolio.cluster import HierarchicalClustering, LinkageMethod
    from skfolio.distance import PearsonDistance
    from skfolio.optimization import HierarchicalRiskParity
    from skfolio.seriation import HierarchicalSeriation

    # López de Prado's HRP: Pearson distance, single linkage, bisection of the seriated list, variance
    single = HierarchicalSeriation(hierarchical_clustering_estimator=HierarchicalClustering(
        linkage_method=LinkageMethod.SINGLE), optimal_ordering=True)
    theirs = HierarchicalRiskParity(risk_measure=RiskMeasure.VARIANCE, distance_estimator=PearsonDistance(),
                                    seriation_estimator=single).fit(frame).weights_
    np.testing.assert_allclose(every_rule["Diversified Min Risk"].values, theirs, rtol=1e-10)


def test_min_tracking_error_to_the_index_equals_skfolio(every_rule: dict, frame: pd.DataFrame,
                                                        spx: xr.DataArray) -> None:
    from skfolio.optimization import BenchmarkTracker

    ours = every_rule["Min Tracking Error"]
    tracker = BenchmarkTracker(solver_params={k: 1e-10 for k in TIGHT})
    theirs = tracker.fit(frame, spx.to_pandas().reindex(frame.index)).weights_
    np.testing.assert_allclose(ours.values, theirs, atol=1e-5)


def test_min_tracking_error_to_a_feasible_benchmark_portfolio_is_that_portfolio(stocks: xr.DataArray) -> None:
    mix = xr.DataArray(np.linspace(1, 3, 20) / np.linspace(1, 3, 20).sum(), dims=INSTRUMENT,
                       coords={INSTRUMENT: stocks[INSTRUMENT].values})
    np.testing.assert_allclose(optimise("Min Tracking Error", stocks, benchmark=mix).values, mix.values, atol=1e-6)
    # excluded from holding AAPL, the closest portfolio holds none of it
    capped = optimise("Min Tracking Error", stocks, benchmark=mix,
                      constraints={"instruments": [{"instrument": "AAPL", "max": 0.0}]})
    assert capped.where(capped["symbol"] == "AAPL", drop=True).item() == 0.0


# StockCharts ChartSchool, "Average True Range (ATR) and Average True Range Percent (ATRP)", the QQQ
# spreadsheet (cs-atr.xls), 1-Apr-2010 .. 13-May-2010: high, low, close, and the published 14-day ATR.
QQQ = """48.70 47.79 48.16 | 48.72 48.14 48.61 | 48.90 48.39 48.75 | 48.87 48.37 48.63 | 48.82 48.24 48.74
| 49.05 48.635 49.03 | 49.20 48.94 49.07 | 49.35 48.86 49.32 | 49.92 49.50 49.91 | 50.19 49.87 50.13
| 50.12 49.20 49.53 | 49.66 48.90 49.50 | 49.88 49.43 49.75 | 50.19 49.725 50.03 | 50.36 49.26 50.31
| 50.57 50.09 50.52 | 50.65 50.30 50.41 | 50.43 49.21 49.34 | 49.63 48.98 49.37 | 50.33 49.61 50.23
| 50.29 49.20 49.2375 | 50.17 49.43 49.93 | 49.32 48.08 48.43 | 48.50 47.64 48.18 | 48.3201 41.55 46.57
| 46.80 44.2833 45.41 | 47.80 47.31 47.77 | 48.39 47.20 47.72 | 48.66 47.90 48.62 | 48.79 47.7301 47.85"""
QQQ_ATR = [0.555, 0.5939285714, 0.5857908163, 0.5689486152, 0.6154522855, 0.6179199794, 0.6423542666,
           0.6743289618, 0.6927697503, 0.7754290538, 0.7814698357, 1.209229133, 1.302619909, 1.380289916,
           1.366697779, 1.336219366, 1.316482269]


def qqq() -> xr.Dataset:
    bars = np.array([[float(x) for x in bar.split()] for bar in QQQ.replace("\n", " ").split("|")])
    return xr.Dataset({name: ((INSTRUMENT, TIME), bars[:, k][None]) for k, name in enumerate(("high", "low", "close"))},
                      coords={INSTRUMENT: ["QQQ"], TIME: pd.bdate_range("2010-04-01", periods=len(bars))})


def test_wilder_atr_reproduces_the_stockcharts_worked_example() -> None:
    atr = wilder_atr(qqq(), period=14).sel(instrument="QQQ").values
    assert np.isnan(atr[:13]).all()
    np.testing.assert_allclose(atr[13:], QQQ_ATR, atol=6e-10)  # published to 10 decimals / 10 digits


@pytest.fixture(scope="module")
def ohlc() -> xr.Dataset:
    """Unadjusted daily OHLC of AAPL, IBM, MSFT, GOOG, 2010-2012 (bokeh sample data; no split inside)."""
    raw = pd.read_csv(DATA / "bokeh_stocks_ohlcv.csv", parse_dates=["time"])
    raw = raw[(raw["time"] >= "2010-01-01") & (raw["time"] < "2013-01-01")]
    ds = raw.set_index(["symbol", "time"])[["high", "low", "close"]].to_xarray().rename(symbol=INSTRUMENT)
    return ds.assign_coords(sector=(INSTRUMENT, ["Information Technology", "Communication Services",
                                                 "Information Technology", "Information Technology"]))


def test_atr_weights_are_proportional_to_atr_percent_scale_free_and_below_max_diversification(
        ohlc: xr.Dataset) -> None:
    """The seed's rule 19: weights proportional to the ATR (as a fraction of the price: scale free)."""
    w = optimise("ATR weighted", ohlc=ohlc, parameters={"period": 20})
    atr = wilder_atr(ohlc, 20).isel(time=-1)
    ratio = atr / ohlc["close"].isel(time=-1)
    np.testing.assert_allclose(w.values, (ratio / ratio.sum()).values, rtol=1e-12)
    split = ohlc.copy()
    split["high"], split["low"], split["close"] = (split[v] * xr.DataArray([1, 1, 0.5, 1], dims=INSTRUMENT)
                                                   for v in ("high", "low", "close"))
    np.testing.assert_allclose(optimise("ATR weighted", ohlc=split, parameters={"period": 20}).values, w.values,
                               rtol=1e-12)
    returns = simple_returns(ohlc["close"])
    best = optimise("Max Diversification", returns)
    assert diversification_ratio(returns, best)["ratio"].item() >= diversification_ratio(returns, w)["ratio"].item()


# --------------------------------------------------------------------------- constraints honoured


@pytest.mark.parametrize("rule", [r for r in RULES if r not in ("ATR weighted", "Min Tracking Error")])
def test_every_rule_honours_a_constraint_set(stocks: xr.DataArray, rule: str) -> None:
    limits = {"max_weight": 0.12, "instruments": [{"instrument": "KO", "min": 0.08}],
              "sectors": [{"code": "45", "max": 0.15}, {"code": "35", "min": 0.3}],
              "currencies": [{"code": "USD", "max": 1.0}]}
    w = optimise(rule, stocks, constraints=limits)
    assert parse_constraints(limits, stocks).violations(w.values) == []
    assert (w.values >= 0).all() and abs(float(w.sum()) - 1) < 1e-7


def test_a_closed_form_rule_is_projected_keeping_proportions(stocks: xr.DataArray, every_rule: dict) -> None:
    free = every_rule["Volatility weighted"]
    capped = optimise("Volatility weighted", stocks, constraints={"max_weight": 0.06})
    at_cap = np.isclose(capped.values, 0.06, atol=1e-7)
    assert at_cap.any() and not at_cap.all()
    ratio = capped.values[~at_cap] / free.values[~at_cap]  # the free weights scale by one factor
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-5)
    assert "projection onto the constraints" in capped.attrs["solver"]


# --------------------------------------------------------------------------- unhappy paths


def test_unknown_rule_and_misspelled_parameters_are_named(stocks: xr.DataArray) -> None:
    with pytest.raises(ValidationError, match="did you mean 'Max Sharpe'") as info:
        optimise("Max Sharp", stocks)
    assert info.value.paths == ["rule"]
    with pytest.raises(ValidationError) as info:
        optimise("Min Risk (CVaR)", stocks, parameters={"levle": 0.9, "risk_measure": "CVAR", "Include Stop/Limit": 1})
    assert set(info.value.paths) == {"parameters.levle", "parameters.risk_measure", "parameters.Include Stop/Limit"}
    assert "did you mean 'level'" in str(info.value) and "did you mean 'CVaR'" in str(info.value)
    with pytest.raises(ValidationError, match=r"parameters\.level: 1\.5 is not a confidence level"):
        optimise("Min Risk (CVaR)", stocks, parameters={"level": 1.5})
    with pytest.raises(ValidationError, match=r"size_rebalance_trigger: 5 is outside \[0, 1\]"):
        optimise("Equal Weight", stocks, parameters={"size_rebalance_trigger": 5})  # a fraction
    with pytest.raises(ValidationError, match=r"Size Rebalance Trigger: 150 is out of range; expected 0 to 100 "):
        optimise("Equal Weight", stocks, parameters={"Size Rebalance Trigger": 150})  # the document's percent
    with pytest.raises(ValidationError, match="expected a whole number"):
        optimise("ATR weighted", ohlc=qqq(), parameters={"period": 14.5})


def test_seed_labels_are_accepted_in_the_seeds_units_and_recorded(stocks: xr.DataArray) -> None:
    # risk-platform-api.txt line 866: "A value of 10 equates to 10%"
    w = optimise("equal weight", stocks, parameters={"Include Stop/Limit": True, "Size Rebalance Trigger": 5})
    assert w.attrs["parameters"] == {"include_stop_limit": True, "size_rebalance_trigger": 0.05}
    w = optimise("equal weight", stocks, parameters={"IncludeStopLimit": False, "RebalanceTrigger": 2.5})
    assert w.attrs["parameters"] == {"include_stop_limit": False, "size_rebalance_trigger": 0.025}
    assert w.attrs["rule"] == "Equal Weight" and list(w["symbol"].values) == SYMBOLS


def test_inputs_a_rule_needs_or_does_not_take(stocks: xr.DataArray, spx: xr.DataArray) -> None:
    with pytest.raises(ValidationError, match="benchmark: is required by Min Tracking Error"):
        optimise("Min Tracking Error", stocks)
    with pytest.raises(ValidationError, match="Max Sharpe takes no benchmark"):
        optimise("Max Sharpe", stocks, benchmark=spx)
    with pytest.raises(ValidationError, match="ohlc: is required by ATR weighted"):
        optimise("ATR weighted", stocks)
    with pytest.raises(ValidationError, match="extra dimension"):
        optimise("Max Sharpe", stocks.expand_dims(portfolio=["a", "b"]))
    with pytest.raises(ValidationError, match="returns: expected an xarray DataArray"):
        optimise("Max Sharpe", stocks.to_pandas())
    with pytest.raises(ValidationError, match=r"benchmark\[instrument=XYZ\]: has no returns"):
        optimise("Min Tracking Error", stocks,
                 benchmark=xr.DataArray([1.0], dims=INSTRUMENT, coords={INSTRUMENT: ["XYZ"]}))


def test_too_little_history_is_refused_naming_the_shortest_series(stocks: xr.DataArray) -> None:
    short = stocks.isel(time=slice(0, 25))
    with pytest.raises(DataError, match="25 dates .* Max Sharpe needs at least 30"):
        optimise("Max Sharpe", short)
    late = stocks.copy()
    late[0, :1990] = np.nan  # AAPL's history starts 21 dates before the end
    with pytest.raises(DataError, match="the shortest history is AAPL's \\(21 returns\\)"):
        optimise("Risk Parity", late)
    # more instruments than dates: the sample covariance is singular by construction
    wide = xr.concat([stocks.isel(time=slice(0, 40)).assign_coords(instrument=stocks.instrument.values + f"-{k}")
                      for k in range(3)], dim=INSTRUMENT)
    with pytest.raises(DataError, match="40 dates .* needs at least 61"):
        optimise("Max Diversification", wide)
    with pytest.raises(DataError, match="a CVaR at level 0.99 needs at least 100"):
        optimise("Min Risk (CVaR)", stocks.isel(time=slice(0, 60)), parameters={"level": 0.99})
    with pytest.raises(DataError, match="ATR weighted with period 40 needs at least 40"):
        optimise("ATR weighted", ohlc=qqq(), parameters={"period": 40})


def test_a_singular_covariance_is_refused_naming_the_duplicates_unless_shrunk(stocks: xr.DataArray) -> None:
    twin = stocks.isel(instrument=[12]).assign_coords(instrument=["msft-copy"], symbol=("instrument", ["MSFT2"]))
    doubled = xr.concat([stocks, twin], dim=INSTRUMENT)
    for rule in ("Max Sharpe", "Risk Parity", "Max Diversification"):
        with pytest.raises(DataError, match="MSFT and MSFT2 move together exactly .*covariance='ledoit_wolf'"):
            optimise(rule, doubled)
    shrunk = optimise("Risk Parity", doubled, parameters={"covariance": "ledoit_wolf"})
    assert shrunk.sel(instrument="msft-copy").item() == pytest.approx(shrunk.isel(instrument=12).item(), rel=1e-5)
    # hierarchical risk parity inverts no matrix: the duplicate is fine
    optimise("Diversified Min Risk", doubled)
    flat = stocks.copy()
    flat[3] = 0.0
    with pytest.raises(DataError, match="returns of BBY do not vary"):
        optimise("Volatility weighted", flat)


def test_max_sharpe_without_an_excess_return_is_refused(stocks: xr.DataArray) -> None:
    with pytest.raises(ValidationError, match=r"parameters\.risk_free_rate: no portfolio within the constraints"):
        optimise("Max Sharpe", stocks, parameters={"risk_free_rate": 0.9})


def test_a_failing_solver_is_retried_then_reported_and_nothing_is_printed(
        stocks: xr.DataArray, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setitem(shield.SOLVERS, "conic", ("NO_SUCH_SOLVER", "CLARABEL"))
    w = optimise("Max Sharpe", stocks)
    assert w.attrs["solver"] == "CLARABEL"
    assert "NO_SUCH_SOLVER returned no solution" in w.attrs["notes"][0]
    monkeypatch.setitem(shield.SOLVERS, "conic", ("NO_SUCH_SOLVER", "NOR_THIS_ONE"))
    with pytest.raises(OptimisationError, match="Risk Parity could not be solved: NO_SUCH_SOLVER returned no "
                                                "solution .*doesn't have a solution.*; NOR_THIS_ONE"):
        optimise("Risk Parity", stocks)
    monkeypatch.setitem(shield.SOLVERS, "lp", ("HIGHS", "NO_SUCH_SOLVER"))
    monkeypatch.setattr("toolkit.optimise.models._cvar_dual", lambda *a: 1 / 0)
    with pytest.raises(OptimisationError, match="HIGHS raised ZeroDivisionError"):
        optimise("Min Risk (CVaR)", stocks)
    assert capsys.readouterr().out == ""


def test_solver_chatter_is_recorded_not_shown(stocks: xr.DataArray, recwarn: pytest.WarningsRecorder,
                                             capsys: pytest.CaptureFixture) -> None:
    w = optimise("Max Sharpe", stocks)  # riskfolio-lib's Sharpe program makes cvxpy warn
    assert len(recwarn) == 0 and capsys.readouterr() == ("", "")
    assert "matrix multiplication" in w.attrs["solver_output"]


def test_weights_breaking_a_constraint_are_not_accepted(stocks: xr.DataArray, monkeypatch: pytest.MonkeyPatch) -> None:
    # riskfolio-lib rescales long-only weights by |w| / sum |w|; a solve that breaks a bound must not pass
    broken = np.full(20, 0.05) + np.r_[0.1, -0.1, [0] * 18]  # sums to 1, one weight negative, one above the cap
    monkeypatch.setattr("toolkit.optimise.models._cvar_dual", lambda s, c, a: broken)
    w = optimise("Min Risk (CVaR)", stocks, constraints={"max_weight": 0.12})
    assert w.attrs["solver"] == "CLARABEL"
    assert "HIGHS breaks long only (a weight of -0.05); constraints.max_weight" in w.attrs["notes"][0]


def test_tiny_negative_weights_are_set_to_zero_and_said(stocks: xr.DataArray, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = np.r_[0.1 + 3e-10, -3e-10, [0.05] * 18]  # sums to 1; one weight 3e-10 below 0
    monkeypatch.setattr("toolkit.optimise.models._cvar_dual", lambda s, c, a: raw)
    w = optimise("Min Risk (CVaR)", stocks)
    assert w.values[1] == 0.0 and w.values[0] == raw[0] and w.values[2] == 0.05  # the rest as solved
    assert w.attrs["notes"][0].startswith("1 weights within 1e-09 outside their bounds")
    assert "the largest by 3e-10) were set to the bound; the others are as solved" in w.attrs["notes"][0]


def test_importing_the_toolkit_does_not_import_riskfolio_or_cvxpy() -> None:
    code = ("import sys, toolkit, toolkit.optimise, toolkit.optimise.rules, toolkit.optimise.batch; "
            "print(sorted(m for m in ('riskfolio', 'cvxpy', 'sklearn', 'skfolio') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_strategys_portfolio_rule_becomes_the_toolkits_rule_in_its_units() -> None:
    from toolkit.contracts.base import read
    from toolkit.contracts.risk.strategy import StrategyRequest
    from toolkit.optimise.parameters import SEED_RULES, Atr, MaxSharpe
    from toolkit.optimise.rules import from_strategy

    request = read(StrategyRequest, {"name": "s", "rules": [
        {"rule_id": 4}, {"rule_id": 16, "parameters": [{"key": "RebalanceTrigger", "value": "2.0"},
                                                       {"key": "RiskFreeRate", "value": "3"},
                                                       {"key": "IncludeStopLimit", "value": "true"}]}]})
    assert request.portfolio_rule is not None
    name, params = from_strategy(request.portfolio_rule)
    assert name == "Max Sharpe" and set(SEED_RULES.values()) == set(RULES) and isinstance(params, MaxSharpe)
    assert (params.size_rebalance_trigger, params.risk_free_rate, params.include_stop_limit) == (0.02, 0.03, True)
    atr = from_strategy(read(StrategyRequest, {"name": "s", "rules": [{"rule_id": 19}]}).rules[0])[1]
    assert isinstance(atr, Atr) and atr.period == 14
    with pytest.raises(ValidationError, match="rule 4 .* is no portfolio rule"):
        from_strategy(request.rules[0])
