"""The compiled kernels (``toolkit.analytics.kernels``) against the NumPy formulas they replaced.

The statistics of ``toolkit.analytics.performance`` and the period linking of
``toolkit.analytics.returns.cumulate`` were NumPy/xarray expressions (products, cumulative products,
running maxima, NaN-skipping means and deviations, resample); they now come from one compiled walk
along time. Here the former expressions, written out again, and the kernels run on the same real
daily returns of the 20 shipped S&P 500 stocks (data/sp500_stocks.csv), with NaN gaps (missing days,
a stock that starts late, one that stops early, one without any return) and an extra dimension;
they agree to 1e-12 (relative, or absolute near zero). Dask inputs stay lazy.
"""

from __future__ import annotations

from pathlib import Path

import dask
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from toolkit.analytics import kernels
from toolkit.analytics import performance as P
from toolkit.analytics import returns as R

DATA = Path(__file__).resolve().parents[1] / "data" / "sp500_stocks.csv"
TOL = 1e-12


@pytest.fixture(scope="module")
def gappy() -> xr.DataArray:
    """Real daily returns (scenario, instrument, time): 20 stocks, 2017-2022, with NaN gaps; the
    second scenario is the first levered 1.5 times."""
    prices = pd.read_csv(DATA, index_col="time", parse_dates=True).loc["2017":]
    r = prices.pct_change().iloc[1:].to_numpy().T
    r[np.random.default_rng(7).random(r.shape) < 0.03] = np.nan  # scattered missing days
    r[1, :300] = np.nan  # starts late
    r[2, -200:] = np.nan  # stops early
    r[3, :] = np.nan  # no observation at all
    values = np.stack([r, 1.5 * r])
    return xr.DataArray(values, dims=("scenario", "instrument", "time"),
                        coords={"scenario": ["plain", "levered"], "instrument": prices.columns.to_numpy(),
                                "time": prices.index[1:].to_numpy()}, name="returns", attrs={"units": "1"})


def same(ours: xr.DataArray, theirs: xr.DataArray) -> None:
    """Equal dimensions and labels, values to 1e-12 (NaN where NaN)."""
    xr.testing.assert_allclose(ours.transpose(*theirs.dims), theirs, rtol=TOL, atol=TOL)


def forbid_compute(*args, **kwargs):
    raise AssertionError("the dask graph was computed inside the library call")


# --------------------------------------------------------------------------- the former formulas

def old_drawdown(r: xr.DataArray) -> xr.DataArray:
    def former(values: np.ndarray) -> np.ndarray:  # cumulative product, running peak (at least 1), ratio
        wealth = np.cumprod(np.where(np.isnan(values), 1.0, values + 1.0), axis=-1)
        return wealth / np.maximum(np.fmax.accumulate(wealth, axis=-1), 1.0) - 1

    return xr.apply_ufunc(former, r, input_core_dims=[["time"]], output_core_dims=[["time"]]).transpose(*r.dims)


def old_statistics(r: xr.DataArray, ppy: float = 252, ddof: int = 1) -> dict[str, xr.DataArray]:
    n = r.count("time")
    with np.errstate(invalid="ignore", divide="ignore"):
        growth = (1 + r).prod("time", skipna=True)
        std = r.std("time", ddof=ddof, skipna=True).where(n > ddof)
        below = xr.where(r > 0, 0.0, r)  # min(r, 0), NaN kept
        downside = np.sqrt((below ** 2).mean("time", skipna=True)) * np.sqrt(ppy)
        spread = r.max("time") - r.min("time")
        usable = (n >= 2) & (spread > 0) & (std != 0)
        return {"annual_return": (growth ** (ppy / n.where(n > 0)) - 1).where(n > 0),
                "annual_volatility": std * np.sqrt(ppy),
                "sharpe": r.mean("time") / std.where(usable) * np.sqrt(ppy),
                "downside_risk": downside,
                "sortino": r.mean("time") * ppy / downside.where((n >= 2) & (downside != 0)),
                "max_drawdown": old_drawdown(r).min("time").where(n > 0),
                "cumulative_return": ((1 + r).prod("time", skipna=True, min_count=1) - 1),
                "observations": n}


# --------------------------------------------------------------------------- kernels alone

def test_path_statistics_equal_numpy_figures(gappy):
    stats = kernels.path_statistics(gappy).to_dataset("statistic")
    n = gappy.count("time")
    same(stats["count"], n.astype(float))
    same(stats["growth"], (1 + gappy).prod("time", skipna=True))
    same(stats["mean"], gappy.mean("time"))
    same(stats["squares"], (gappy.var("time", ddof=0) * n).where(n > 0))
    same(stats["low"], gappy.min("time"))
    same(stats["high"], gappy.max("time"))
    same(stats["shortfall"], (np.minimum(gappy, 0.0) ** 2).sum("time"))
    same(stats["max_drawdown"], old_drawdown(gappy).min("time").where(n > 0))
    assert np.isnan(stats["max_drawdown"].sel(instrument=gappy.instrument[3])).all()


def test_without_moments_the_squares_are_skipped_and_the_rest_unchanged(gappy):
    full = kernels.path_statistics(gappy)
    lean = kernels.path_statistics(gappy, moments=False)
    same(lean.drop_sel(statistic="squares"), full.drop_sel(statistic="squares"))


def test_drawdown_path_equals_cumulative_product_over_running_peak(gappy):
    same(kernels.drawdown_path(gappy), old_drawdown(gappy))


# --------------------------------------------------------------------------- the public functions

@pytest.mark.parametrize("layout", ["as_is", "time_first"])
def test_performance_functions_equal_the_former_formulas(gappy, layout):
    r = gappy.transpose("time", ...) if layout == "time_first" else gappy
    old = old_statistics(r)
    same(P.annual_return(r), old["annual_return"])
    same(P.annual_volatility(r), old["annual_volatility"])
    same(P.sharpe(r), old["sharpe"])
    same(P.downside_risk(r), old["downside_risk"])
    same(P.sortino(r), old["sortino"])
    same(P.max_drawdown(r), old["max_drawdown"])
    same(P.drawdown(r), old_drawdown(r).transpose(*r.dims))
    assert P.drawdown(r).dims == r.dims
    summary = P.summary(r)
    for name, value in old.items():
        same(summary[name], value.astype(float) if name == "observations" else value)
        assert summary[name].attrs == r.attrs
    for f in (P.annual_return, P.annual_volatility, P.sharpe, P.sortino, P.downside_risk, P.max_drawdown,
              P.drawdown, lambda x: R.cumulate(x, "ME")):
        assert (f(r).name, f(r).attrs) == (r.name, r.attrs)  # as xarray's own reductions keep them


@pytest.mark.parametrize("ddof", [0, 2])
def test_ddof_and_rates_equal_the_former_formulas(gappy, ddof):
    rate = xr.DataArray(np.linspace(0.0, 2e-4, gappy.sizes["time"]), dims="time", coords={"time": gappy.time})
    same(P.annual_volatility(gappy, 12, ddof=ddof), old_statistics(gappy, 12, ddof)["annual_volatility"])
    excess = old_statistics(gappy - rate)
    same(P.sharpe(gappy, rate), excess["sharpe"])
    same(P.downside_risk(gappy, rate), excess["downside_risk"])
    same(P.sortino(gappy, 1e-4), old_statistics(gappy - 1e-4)["sortino"])


@pytest.mark.parametrize("freq", ["ME", "QE", "YE"])
def test_cumulate_equals_resample(gappy, freq):
    old = (1 + gappy).resample(time=freq).prod(skipna=True, min_count=1) - 1
    ours = R.cumulate(gappy, freq)
    same(ours, old)
    assert ours.dims == gappy.dims and ours.name == gappy.name
    monthly = R.cumulate(gappy, "ME")  # months to years, as a report does
    same(R.cumulate(monthly, "YE"), (1 + monthly).resample(time="YE").prod(skipna=True, min_count=1) - 1)


# --------------------------------------------------------------------------- dask

def test_dask_inputs_stay_lazy_and_keep_their_other_chunks(gappy):
    lazy = gappy.chunk({"instrument": 5, "time": 400})
    with dask.config.set(scheduler=forbid_compute):
        outs = {"summary": P.summary(lazy)["max_drawdown"], "drawdown": P.drawdown(lazy),
                "volatility": P.annual_volatility(lazy), "months": R.cumulate(lazy, "ME")}
        assert all(out.chunks is not None for out in outs.values())
    assert outs["volatility"].chunks == ((2,), (5, 5, 5, 5))
    same(outs["summary"].compute(), old_statistics(gappy)["max_drawdown"])
    same(outs["drawdown"].compute(), old_drawdown(gappy))
    same(outs["months"].compute(), R.cumulate(gappy, "ME"))
