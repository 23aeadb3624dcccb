"""Ankrim-Hensel currency attribution (toolkit.analytics.currency) against Bacon's Table 6.2, a euro
investor's book rebuilt with pandas from the ECB reference rates, and hypothesis properties.

Bacon (2008) ch. 6 (Table 6.2, as transcribed by the PortfolioAttribution R package's tests): the
three-market example seen by a sterling investor. Local returns as in ch. 5; the yen gains 10%
and the dollar 20% against sterling (spot 1 -> 1.1, 1 -> 1.2), forward rates 1.01 and 1.02;
currency forwards of 20/-15/-5% in the portfolio and 30/-10/-20% in the benchmark. Printed to
2 decimals of a percent or better, checked to 5e-5.
"""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from test_analytics_attribution import MARKETS, RB, RP, WB, WP, over
from test_analytics_risk import csv_returns

from toolkit.analytics.attribution import VARIANTS, at_horizon
from toolkit.analytics.currency import EFFECTS, ankrim_hensel
from toolkit.analytics.linking import link
from toolkit.errors import ValidationError
from toolkit.schema import INSTRUMENT, PORTFOLIO, SEGMENT, TIME

DATA = Path(__file__).resolve().parents[1] / "data"


def markets(values) -> xr.DataArray:
    return over(values, dim=SEGMENT)


def bacon(**kw) -> xr.Dataset:
    return ankrim_hensel(WP, RP, WB, benchmark_local_returns=RB, segments=None,
                         currency_returns=markets([0.0, 0.1, 0.2]), forward_premium=markets([0.0, 0.01, 0.02]),
                         portfolio_forwards=markets([0.2, -0.15, -0.05]),
                         benchmark_forwards=markets([0.3, -0.1, -0.2]), **kw)


def test_bacon_table_6_2_ankrim_hensel() -> None:
    ds = bacon()
    expected = {"allocation": ([0.0, -0.01136, -0.00264], -0.014), "selection": ([0.04, -0.0022, -0.0096], 0.0282),
                "interaction": ([0.0, -0.0011, 0.0024], 0.0013), "currency": ([0.009, 0.0, 0.004], 0.013),
                "forward_premium": ([0.0, 0.0, -0.001], -0.001)}
    for name, (values, total) in expected.items():
        np.testing.assert_allclose(ds[name].sel(segment=MARKETS).values, values, atol=5e-5, err_msg=name)
        assert float(ds[name].sum()) == pytest.approx(total, abs=5e-5), name
    # base-currency returns: Japan 0.95 x 1.1 - 1 = 4.5%, US 1.06 x 1.2 - 1 = 27.2%
    np.testing.assert_allclose(ds.portfolio_return.sel(segment=MARKETS), [0.2, 0.045, 0.272], atol=1e-15)
    np.testing.assert_allclose(ds.benchmark_return.sel(segment=MARKETS), [0.1, 0.056, 0.296], atol=1e-15)
    assert float(ds.total.sum()) == pytest.approx(float(ds.active), abs=1e-15)


def test_without_forwards_the_currency_effect_is_the_spot_move() -> None:
    ds = ankrim_hensel(WP, RP, WB, benchmark_local_returns=RB, segments=None, currency_returns=markets([0, 0.1, 0.2]),
                       base="UK")
    e = 0.2 * 0.1 + 0.4 * 0.2  # benchmark-weighted currency return
    np.testing.assert_allclose(ds.currency.sel(segment=MARKETS), [0.0, 0.1 * (0.1 - e), -0.1 * (0.2 - e)], atol=1e-15)
    assert not ds.forward_premium.any()
    assert float(ds.active) == pytest.approx(0.4 * 0.2 + 0.3 * 0.045 + 0.3 * 0.272 - 0.1696, abs=1e-15)


@pytest.fixture(scope="module")
def euro_book() -> tuple:
    """A euro investor, 2022: the 20 US stocks and euro cash, monthly, with ECB EUR/USD."""
    daily = csv_returns("sp500_stocks.csv").sel(time=slice("2022-01-01", "2022-12-31"))
    cash = xr.zeros_like(daily.isel(instrument=[0])).assign_coords(instrument=["EURCASH"])
    local = xr.concat([daily, cash], INSTRUMENT)
    local = local.assign_coords(currency=(INSTRUMENT, ["USD"] * 20 + ["EUR"]))
    weights = xr.DataArray(np.r_[np.full(20, 0.045), 0.1], dims=INSTRUMENT, coords={INSTRUMENT: local[INSTRUMENT]})
    weights, monthly = at_horizon(weights.expand_dims(time=local[TIME]).copy(), local, "month")
    rates = pd.read_csv(DATA / "ecb_fx.csv", index_col="time", parse_dates=True)["USD"]  # USD per EUR
    month_end = (1 / rates).resample("ME").last().loc["2021-12-31":"2022-12-31"]  # EUR per USD
    usd = month_end.pct_change().iloc[1:]
    return weights, monthly, usd


def test_euro_investor_effects_add_up_to_the_euro_active_return(euro_book: tuple) -> None:
    weights, monthly, usd = euro_book
    fx = xr.DataArray(usd.to_numpy()[None, :], dims=(SEGMENT, TIME), coords={SEGMENT: ["USD"], TIME: monthly[TIME]})
    benchmark = xr.where(weights[INSTRUMENT] == "EURCASH", 0.0, 0.05).broadcast_like(weights)
    hedge = xr.DataArray([[-0.3], [0.3]], dims=(SEGMENT, "one"), coords={SEGMENT: ["USD", "EUR"]}).isel(one=0)
    ds = ankrim_hensel(weights, monthly, benchmark, currency_returns=fx, portfolio_forwards=hedge, base="EUR")
    # the euro returns rebuilt with pandas: (1 + local)(1 + fx) - 1 on the US stocks, the hedge loses the dollar's gain
    local = monthly.T.to_pandas()
    euro = (1 + local.iloc[:, :20]).mul(1 + usd.to_numpy(), axis=0) - 1
    portfolio = (euro * 0.045).sum(axis=1) - 0.3 * usd.to_numpy()
    bench = (euro * 0.05).sum(axis=1)
    np.testing.assert_allclose(ds.active.values, (portfolio - bench).to_numpy(), atol=1e-14)
    parts = cast(xr.DataArray, sum(ds[name].sum(SEGMENT) for name in EFFECTS[:-1]))  # 0 + DataArray
    np.testing.assert_allclose(parts.values, ds.active.values, atol=1e-15)
    # the hedge is a currency decision: the dollar segment carries it, the euro cash is allocation
    assert float(abs(ds.currency.sel(segment="USD")).sum()) > 0
    linked = link(ds, "carino")
    grown = (1 + portfolio).prod() - (1 + bench).prod()
    assert float(linked.total.sum()) == pytest.approx(grown, abs=1e-14)


def test_refusals(euro_book: tuple) -> None:
    weights, monthly, usd = euro_book
    fx = xr.DataArray(usd.to_numpy()[None, :], dims=(SEGMENT, TIME), coords={SEGMENT: ["USD"], TIME: monthly[TIME]})
    benchmark = xr.where(weights[INSTRUMENT] == "EURCASH", 0.0, 0.05).broadcast_like(weights)
    cases: list[tuple[dict[str, Any], str]] = [
        (dict(currency_returns=fx), r"currency_returns\[segment=EUR\]: is missing for a held currency"),
        (dict(currency_returns=fx.isel(time=slice(1, None)), base="EUR"), r"currency_returns.time: must have"),
        (dict(currency_returns=fx, base="EUR", portfolio_forwards=xr.DataArray([0.1], dims=SEGMENT,
                                                                               coords={SEGMENT: ["USD"]})),
         r"portfolio_forwards: sum differently from benchmark_forwards"),
        (dict(currency_returns=fx, base="EUR", portfolio_forwards=markets([0.1, 0, -0.1])),
         r"portfolio_forwards\[segment=(UK|Japan|US)\]: is not a group of the holdings"),
        (dict(currency_returns=fx.values), r"currency_returns: expected an xarray DataArray"),
    ]
    for kw, message in cases:
        with pytest.raises(ValidationError, match=message):
            ankrim_hensel(weights, monthly, benchmark, **kw)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["brinson_fachler", "brinson_hood_beebower"]),
       st.sampled_from(VARIANTS))
def test_effects_add_up(seed: int, model: str, variant: str) -> None:
    rng = np.random.default_rng(seed)
    coords = {PORTFOLIO: [0, 1], INSTRUMENT: ["a", "b", "c", "d"]}
    raw = rng.random((2, 4)) * (rng.random((2, 4)) > 0.3) + [0.01, 0, 0, 0]
    w = xr.DataArray(raw / raw.sum(-1, keepdims=True), dims=(PORTFOLIO, INSTRUMENT), coords=coords)
    W = xr.DataArray(rng.dirichlet(np.ones(4)), dims=INSTRUMENT, coords={INSTRUMENT: coords[INSTRUMENT]})
    local = xr.DataArray(rng.uniform(-0.3, 0.3, 4), dims=INSTRUMENT, coords=W.coords)
    groups: dict[Hashable, Hashable] = {"a": "GBP", "b": "JPY", "c": "USD", "d": "USD"}
    f = rng.uniform(-0.3, 0.3, 3)
    labels = {"segment": ["GBP", "JPY", "USD"]}
    ds = ankrim_hensel(w, local, W, benchmark_local_returns=local * 0.9, segments=groups, model=model, variant=variant,
                       currency_returns=markets(rng.uniform(-0.2, 0.2, 3)).assign_coords(labels),
                       forward_premium=markets(rng.uniform(-0.02, 0.02, 3)).assign_coords(labels),
                       portfolio_forwards=markets(f - f.mean()).assign_coords(labels))
    xr.testing.assert_allclose(sum(ds[n] for n in EFFECTS[:-1]), ds.total, atol=1e-15)
    xr.testing.assert_allclose(ds.total.sum(SEGMENT), ds.active, atol=1e-14)
