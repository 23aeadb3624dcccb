"""The efficient frontier (against direct cvxpy programs and the rules' own optima), batches on a process
pool (against one-by-one optimisation), and the size rebalance trigger (worked by hand)."""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path

import dask.array
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import toolkit.optimise.solve as shield
from toolkit.analytics.risk_portfolio import volatility_contributions
from toolkit.errors import ValidationError
from toolkit.optimise import (
    OptimisationError,
    Request,
    efficient_frontier,
    optimise,
    optimise_many,
    size_trigger,
    triggered_trades,
)
from toolkit.schema import INSTRUMENT, PORTFOLIO, TIME

DATA = Path(__file__).resolve().parents[1] / "data"
SECTORS = {"AAPL": "Information Technology", "AMD": "Information Technology", "MSFT": "Information Technology",
           "JNJ": "Health Care", "LLY": "Health Care", "PFE": "Health Care", "KO": "Consumer Staples",
           "PG": "Consumer Staples", "XOM": "Energy", "JPM": "Financials"}


@pytest.fixture(scope="module")
def stocks() -> xr.DataArray:
    """Daily returns of ten of the shipped S&P 500 stocks, 2018-2022, with their GICS sectors."""
    prices = pd.read_csv(DATA / "sp500_stocks.csv", index_col="time", parse_dates=True)
    prices = prices.loc["2018":"2022", list(SECTORS)]
    r = prices.pct_change().iloc[1:]
    return xr.DataArray(r.to_numpy().T, dims=(INSTRUMENT, TIME),
                        coords={INSTRUMENT: list(r.columns), TIME: r.index.to_numpy(),
                                "sector": (INSTRUMENT, list(SECTORS.values()))})


# --------------------------------------------------------------------------- frontier


def test_the_frontier_runs_from_min_variance_to_max_return(stocks: xr.DataArray) -> None:
    import cvxpy as cp

    f = efficient_frontier(stocks, points=8)
    assert f["weights"].dims == (PORTFOLIO, INSTRUMENT) and f.sizes[PORTFOLIO] == 8
    assert (np.diff(f["risk"].values) > 0).all() and (np.diff(f["return"].values) > 0).all()
    low = optimise("Min Risk (CVaR)", stocks, parameters={"risk_measure": "volatility"})
    np.testing.assert_allclose(f["weights"].isel(portfolio=0).values, low.values, atol=1e-5)
    best = int(np.argmax(stocks.mean(TIME).values))
    np.testing.assert_allclose(f["weights"].isel(portfolio=-1).values, np.eye(10)[best], atol=1e-6)
    # an inner point is the highest mean return at its volatility (Markowitz), by a direct SOCP
    r, cov = stocks.values.T, np.cov(stocks.values)
    w = cp.Variable(10)
    cp.Problem(cp.Maximize(r.mean(0) @ w), [cp.quad_form(w, cov) <= f["risk"].values[3] ** 2, w >= 0,
                                              cp.sum(w) == 1]).solve(solver="CLARABEL")
    assert f["return"].values[3] == pytest.approx(r.mean(0) @ w.value, rel=1e-5)
    np.testing.assert_allclose(f["risk"].values, volatility_contributions(stocks, f["weights"])["total"].values)


def test_a_result_sits_on_or_below_the_frontier_under_its_constraints(stocks: xr.DataArray) -> None:
    limits = {"max_weight": 0.3, "sectors": [{"code": "45", "max": 0.4}]}
    result = optimise("Max Sharpe", stocks, constraints=limits)
    f = efficient_frontier(stocks, constraints=limits, points=12, result=result)
    tech = f["weights"].sel(instrument=["AAPL", "AMD", "MSFT"]).sum(INSTRUMENT)
    assert float(tech.max()) <= 0.4 + 1e-7 and float(f["weights"].max()) <= 0.3 + 1e-7
    # the tangency portfolio: no frontier portfolio has a higher return per unit of risk
    ratio = f["result_return"].item() / f["result_risk"].item()
    assert (f["return"] / f["risk"]).max().item() <= ratio + 1e-9
    np.testing.assert_allclose(f["result_risk"].item(), volatility_contributions(stocks, result)["total"].item())
    assert f.attrs["solver"] == "CLARABEL" and f.attrs["units"] == "per period of the returns"


def test_the_mean_cvar_frontier_starts_at_the_min_cvar_portfolio(stocks: xr.DataArray) -> None:
    f = efficient_frontier(stocks, points=4, risk_measure="CVaR", level=0.95)
    low = optimise("Min Risk (CVaR)", stocks)
    np.testing.assert_allclose(f["weights"].isel(portfolio=0).values, low.values, atol=1e-5)
    assert (np.diff(f["risk"].values) > 0).all()


def test_frontier_arguments_are_checked(stocks: xr.DataArray) -> None:
    with pytest.raises(ValidationError) as info:
        efficient_frontier(stocks, points=1, risk_measure="VaR", level=95)
    assert set(info.value.paths) == {"points", "risk_measure", "level"}


# --------------------------------------------------------------------------- batches


def test_a_batch_on_two_processes_equals_one_by_one(stocks: xr.DataArray) -> None:
    requests: dict[Hashable, Request] = {"sharpe": Request("Max Sharpe", stocks, constraints={"max_weight": 0.3}),
                "parity": Request("Risk Parity", stocks.isel(instrument=slice(0, 6))),
                "cvar": Request("Min Risk (CVaR)", stocks, parameters={"level": 0.9}),
                "hrp": Request("Diversified Min Risk", stocks.isel(instrument=slice(3, 10))),
                "equal": Request("Equal Weight", stocks, constraints={"sectors": [{"code": "35", "max": 0.1}]}),
                "maxdiv": Request("Max Diversification", stocks)}
    batch = optimise_many(requests, workers=2)
    assert batch.dims == (PORTFOLIO, INSTRUMENT) and list(batch[PORTFOLIO].values) == list(requests)
    for key, r in requests.items():
        alone = optimise(r.rule, r.returns, parameters=r.parameters, constraints=r.constraints)
        got = batch.sel(portfolio=key).sel(instrument=alone[INSTRUMENT].values)
        np.testing.assert_allclose(got.values, alone.values, atol=1e-9)
        assert batch["rule"].sel(portfolio=key).item() == r.rule
        assert batch.attrs["records"][key]["solver"] == alone.attrs["solver"]
    assert (batch.sel(portfolio="parity", instrument=["KO", "PG", "XOM", "JPM"]) == 0).all()


def test_a_batch_refuses_every_bad_request_at_once(stocks: xr.DataArray) -> None:
    with pytest.raises(ValidationError) as info:
        optimise_many([Request("Max Sharpe", stocks), Request("Max Sharp", stocks),
                       Request("Risk Parity", stocks, constraints={"sectors": [{"code": "45", "min": 2}]}),
                       Request("Risk Parity", stocks.isel(time=slice(0, 10))),
                       "not a request"])  # type: ignore[list-item]  # refused
    assert info.value.paths == ["requests[1].rule", "requests[2].constraints.sectors[0].min", "requests[3]",
                                "requests[4]"]
    assert "too little history" in info.value.problems[2].message
    with pytest.raises(ValidationError, match="requests: is empty"):
        optimise_many({})


@pytest.mark.parametrize("workers", [1, 2])
def test_a_batch_names_the_portfolios_no_solver_could_solve(stocks: xr.DataArray, monkeypatch: pytest.MonkeyPatch,
                                                            workers: int) -> None:
    monkeypatch.setitem(shield.SOLVERS, "conic", ("NO_SUCH_SOLVER",))
    with pytest.raises(OptimisationError, match="^1 of 2 portfolios could not be solved: b: Max Sharpe could not"):
        optimise_many({"a": Request("Equal Weight", stocks), "b": Request("Max Sharpe", stocks)}, workers=workers)


# --------------------------------------------------------------------------- size rebalance trigger


def weights(values, names=("A", "B", "C", "D")) -> xr.DataArray:
    return xr.DataArray(np.asarray(values, dtype=float), dims=INSTRUMENT, coords={INSTRUMENT: list(names)})


def test_the_trigger_fires_beyond_the_relative_band_only() -> None:
    # targets 10 %, 40 %, 50 %, 0 %; a 5 % relative band is 9.5-10.5 %, 38-42 %, 47.5-52.5 %, exactly 0
    target = weights([0.10, 0.40, 0.50, 0.0])
    current = weights([0.104, 0.43, 0.475, 0.01])
    assert size_trigger(current, target, 0.05).values.tolist() == [False, True, False, True]
    trades = triggered_trades(current, target, 0.05)
    np.testing.assert_allclose(trades.values, [0.0, -0.03, 0.0, -0.01])
    assert size_trigger(current, target, 0.0).values.all() and not size_trigger(target, target, 0.0).values.any()
    # a difference equal to the band (up to rounding) is not "more than" it
    assert not size_trigger(weights([0.105, 0.38, 0.525, 0.0]), target, 0.05).values.any()


def test_the_trigger_aligns_instruments_and_keeps_extra_dimensions() -> None:
    target = weights([0.5, 0.5], ["A", "B"])
    current = xr.DataArray([[0.5, 0.3, 0.2], [0.52, 0.48, 0.0]], dims=(PORTFOLIO, INSTRUMENT),
                           coords={PORTFOLIO: ["p1", "p2"], INSTRUMENT: ["A", "B", "C"]})
    fire = size_trigger(current, target, 0.1)
    assert fire.sel(portfolio="p1").values.tolist() == [False, True, True]  # C is held but not targeted
    assert not fire.sel(portfolio="p2").values.any()
    lazy = size_trigger(current.chunk({PORTFOLIO: 1}), target, 0.1)
    assert isinstance(lazy.data, dask.array.Array) and (lazy.values == fire.values).all()


def test_the_trigger_refuses_bad_inputs() -> None:
    with pytest.raises(ValidationError) as info:
        size_trigger([0.5], weights([0.5, 0.5], ["A", "B"]), 5)  # type: ignore[arg-type]  # refused
    assert set(info.value.paths) == {"current", "threshold"}
    assert "0.05 for 5 %" in str(info.value)
    with pytest.raises(ValidationError, match="current: holds a NaN or negative weight"):
        size_trigger(weights([np.nan, 1.0], ["A", "B"]), weights([0.5, 0.5], ["A", "B"]), 0.1)
