"""Multi-period linking (toolkit.analytics.linking) against Bacon's chapter 8 tables, an independent open
implementation (perfattr), and hypothesis properties.

Bacon (2008) ch. 8 extends the three-market example to four quarters (Table 8.1) and links the
top-down Brinson-Fachler effects by Carino (Table 8.2), Menchero (8.3), GRAP (8.4), Frongello
(8.5), and the geometric effects (8.6); numbers as transcribed by the PortfolioAttribution R
package's tests. The book prints percentages to 2 decimals: per-period adjusted effects are checked
to half a unit (5e-5); the four-quarter sums, which the book adds up from rounded figures, to one
unit (1e-4).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from test_analytics_attribution import MARKETS, perfattr_frames

from toolkit.analytics.attribution import brinson
from toolkit.analytics.linking import METHODS, adjusted, link
from toolkit.errors import DataError, ValidationError
from toolkit.schema import INSTRUMENT, PORTFOLIO, SEGMENT, TIME

QUARTERS = pd.to_datetime(["2016-03-31", "2016-06-30", "2016-09-30", "2016-12-31"])


def table(values: list[float]) -> xr.DataArray:
    """A quarter x market table of Bacon's Table 8.1 as (instrument, time)."""
    return xr.DataArray(np.reshape(values, (4, 3)).T, dims=(INSTRUMENT, TIME),
                        coords={INSTRUMENT: MARKETS, TIME: QUARTERS})


WP = table([0.4, 0.3, 0.3, 0.7, 0.2, 0.1, 0.3, 0.5, 0.2, 0.3, 0.5, 0.2])
WB = table([0.4, 0.2, 0.4, 0.4, 0.3, 0.3, 0.5, 0.4, 0.1, 0.4, 0.4, 0.2])
RP = table([0.2, -0.05, 0.06, -0.05, 0.03, -0.05, -0.2, 0.08, -0.15, 0.1, -0.07, 0.25])
RB = table([0.1, -0.04, 0.08, -0.07, 0.04, -0.1, -0.25, 0.05, -0.2, 0.05, -0.05, 0.1])


@pytest.fixture(scope="module")
def quarters() -> xr.Dataset:
    return brinson(WP, RP, WB, benchmark_returns=RB, variant="top_down")


def by_quarter(x: xr.DataArray) -> np.ndarray:
    return x.sel(segment=MARKETS).transpose(TIME, SEGMENT).values


def test_bacon_table_8_1_per_quarter_effects(quarters: xr.DataArray) -> None:
    np.testing.assert_allclose(by_quarter(quarters.allocation), [[0, -0.0104, -0.0016], [-0.0072, -0.0086, 0.0108],
                                                                 [0.025, 0.0175, -0.0075], [-0.003, -0.007, 0]],
                               atol=1e-12)
    np.testing.assert_allclose(by_quarter(quarters.selection), [[0.04, -0.003, -0.006], [0.014, -0.002, 0.005],
                                                                [0.015, 0.015, 0.01], [0.015, -0.01, 0.03]], atol=1e-12)
    np.testing.assert_allclose(quarters.portfolio_total, [0.083, -0.034, -0.05, 0.045], atol=1e-12)
    np.testing.assert_allclose(quarters.benchmark_total, [0.064, -0.046, -0.125, 0.02], atol=1e-12)


# per method: adjusted allocation and selection per quarter (Bacon Tables 8.2-8.5), then the linked sums
BACON = {
    "carino": ([[0, -0.0094, -0.0014], [-0.0073, -0.0087, 0.0109], [0.0266, 0.0186, -0.008], [-0.0028, -0.0066, 0]],
               [[0.0362, -0.0027, -0.0054], [0.0142, -0.002, 0.0051], [0.016, 0.016, 0.0106],
                [0.0141, -0.0094, 0.0282]],
               [0.0165, -0.006, 0.0015, 0.012], [0.0804, 0.0018, 0.0385, 0.1207]),
    "menchero": ([[0, -0.0103, -0.0016], [-0.0071, -0.0085, 0.0107], [0.0257, 0.018, -0.0077], [-0.003, -0.007, 0]],
                 [[0.0396, -0.003, -0.0059], [0.0138, -0.002, 0.0049], [0.0154, 0.0154, 0.0103],
                  [0.0149, -0.0099, 0.0298]],
                 [0.0156, -0.0078, 0.0014, 0.0092], [0.0838, 0.0005, 0.0391, 0.1234]),
    "grap": ([[0, -0.0089, -0.0014], [-0.007, -0.0083, 0.0104], [0.0267, 0.0187, -0.008], [-0.003, -0.007, 0]],
             [[0.0341, -0.0026, -0.0051], [0.0135, -0.0019, 0.0048], [0.016, 0.016, 0.0107],
              [0.0149, -0.0099, 0.0298]],
             [0.0167, -0.0055, 0.0011, 0.0124], [0.0785, 0.0016, 0.0402, 0.1203]),
    "frongello": ([[0, -0.0104, -0.0016], [-0.0078, -0.0088, 0.0118], [0.0271, 0.0207, -0.0091],
                   [-0.0026, -0.0069, 0]],
                  [[0.04, -0.003, -0.006], [0.0133, -0.002, 0.0057], [0.009, 0.0163, 0.0105],
                   [0.0162, -0.0097, 0.03]],
                  [0.0167, -0.0055, 0.0011, 0.0124], [0.0785, 0.0016, 0.0402, 0.1203]),
}


@pytest.mark.parametrize("method", list(BACON))
def test_bacon_tables_8_2_to_8_5(quarters: xr.Dataset, method: str) -> None:
    allocation, selection, linked_allocation, linked_selection = BACON[method]
    per_quarter = adjusted(quarters, method)
    np.testing.assert_allclose(by_quarter(per_quarter.allocation), allocation, atol=5e-5, err_msg=method)
    np.testing.assert_allclose(by_quarter(per_quarter.selection), selection, atol=5e-5, err_msg=method)
    linked = link(quarters, method)
    for name, expected in (("allocation", linked_allocation), ("selection", linked_selection)):
        got = [*linked[name].sel(segment=MARKETS).values, float(linked[name].sum())]
        np.testing.assert_allclose(got, expected, atol=1e-4, err_msg=f"{method} {name}")
    # 3.86% against -9.41%: the arithmetic excess return over the year, 13.27%
    assert float(linked.active) == pytest.approx(0.1327, abs=5e-5)
    assert float(linked.total.sum()) == pytest.approx(float(linked.active), abs=1e-15)


def test_bacon_table_8_6_geometric() -> None:
    geometric = brinson(WP, RP, WB, benchmark_returns=RB, geometric=True)
    np.testing.assert_allclose(by_quarter(geometric.allocation),
                               [[0, -0.0098, -0.0015], [-0.0075, -0.009, 0.0113], [0.0286, 0.02, -0.0086],
                                [-0.0029, -0.0069, 0]], atol=5e-5)
    np.testing.assert_allclose(by_quarter(geometric.selection),
                               [[0.038, -0.0029, -0.0057], [0.0148, -0.0021, 0.0053], [0.0165, 0.0165, 0.011],
                                [0.0149, -0.0099, 0.0297]], atol=5e-5)
    linked = link(geometric, "geometric")
    assert float(linked.allocation.sum()) == pytest.approx(0.0129, abs=5e-5)
    assert float(linked.selection.sum()) == pytest.approx(0.1319, abs=5e-5)
    assert float(linked.active) == pytest.approx(0.1464, abs=5e-5)
    compounded = (1 + linked.allocation.sum()) * (1 + linked.selection.sum()) - 1
    assert float(compounded) == pytest.approx(float(linked.active), abs=1e-15)


@pytest.mark.parametrize(("method", "theirs"), [("carino", "CARINO"), ("menchero", "MENCHERO"),
                                                ("grap", "FRONGELLO")])
def test_linked_effects_match_perfattr(method: str, theirs: str) -> None:
    """perfattr's "Frongello" linker is the closed form whose sums are GRAP's (Frongello 2002)."""
    import perfattr
    rng = np.random.default_rng(11)
    w, W = (xr.DataArray(rng.dirichlet(np.ones(3), 12).T, dims=(INSTRUMENT, TIME),
                         coords={INSTRUMENT: MARKETS, TIME: pd.date_range("2020-01-31", periods=12, freq="ME")})
            for _ in range(2))
    r = xr.DataArray(rng.normal(0.01, 0.06, (3, 12)), dims=(INSTRUMENT, TIME), coords=w.coords)
    ours = link(brinson(w, r, W, variant="top_down"), method)
    frames = [perfattr_frames(x.T.to_pandas(), r.T.to_pandas()) for x in (w, W)]
    result = perfattr.calculate_attribution(*frames, effect_linking_method=perfattr.EffectLinkingMethod[theirs])
    overall = result.overall_detail.set_index("identifier")
    for name in ("allocation", "selection"):
        np.testing.assert_allclose(ours[name].sel(segment=MARKETS).values,
                                   overall.loc[MARKETS, f"linked_{name}_effect"], atol=1e-14, err_msg=name)


@st.composite
def histories(draw: st.DrawFn) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray, str]:
    periods, seed = draw(st.integers(1, 12)), draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    coords = {PORTFOLIO: [0, 1], TIME: pd.date_range("2020-01-31", periods=periods, freq="ME"), INSTRUMENT: MARKETS}
    w = xr.DataArray(rng.dirichlet(np.ones(3), (2, periods)), dims=(PORTFOLIO, TIME, INSTRUMENT), coords=coords)
    W = xr.DataArray(rng.dirichlet(np.ones(3), periods), dims=(TIME, INSTRUMENT), coords={k: coords[k] for k in
                                                                                       (TIME, INSTRUMENT)})
    r = xr.DataArray(rng.uniform(-0.3, 0.3, (3, periods)), dims=(INSTRUMENT, TIME), coords=W.coords)
    if draw(st.booleans()):
        r[:, 0] = 0.0  # an equal-return period: the limits of the coefficients
    return w, r, W, draw(st.sampled_from(["three_effect", "top_down", "bottom_up"]))


@settings(max_examples=30, deadline=None)
@given(histories())
def test_linked_effects_add_up_for_every_method(history: tuple) -> None:
    w, r, W, variant = history
    arithmetic = brinson(w, r, W, variant=variant)
    cumulative = (1 + arithmetic.portfolio_total).prod(TIME) - (1 + arithmetic.benchmark_total).prod(TIME)
    for method in METHODS[:-1]:
        linked = link(arithmetic, method)
        parts = sum(linked[n] for n in ("allocation", "selection", "interaction"))
        xr.testing.assert_allclose(parts, linked.total, atol=1e-14)
        xr.testing.assert_allclose(linked.total.sum(SEGMENT), cumulative, atol=1e-13)
    geometric = brinson(w, r, W, geometric=True)
    linked = link(geometric, "geometric")
    grown = (1 + geometric.portfolio_total).prod(TIME) / (1 + geometric.benchmark_total).prod(TIME)
    xr.testing.assert_allclose((1 + linked.allocation.sum(SEGMENT)) * (1 + linked.selection.sum(SEGMENT)), grown,
                               atol=1e-13)


def test_frongello_sums_equal_grap_and_lazy_equals_eager(quarters: xr.Dataset) -> None:
    xr.testing.assert_allclose(link(quarters, "frongello"), link(quarters, "grap").assign_attrs(linking="frongello"))
    lazy = link(quarters.chunk({TIME: 2}), "menchero")
    assert lazy.allocation.chunks is not None
    xr.testing.assert_allclose(lazy.compute(), link(quarters, "menchero"))


@pytest.mark.parametrize("method", ["carino", "menchero", "grap"])
def test_contracted_links_equal_the_summed_adjusted_tables(quarters: xr.Dataset, method: str) -> None:
    """link() contracts E_t k_t over time in one product; it equals adjusted()'s table summed, per portfolio too."""
    book = xr.concat([quarters, quarters * 1.5], dim=xr.DataArray(["one", "two"], dims=PORTFOLIO)).assign_attrs(
        quarters.attrs)
    linked, table = link(book, method), adjusted(book, method).sum(TIME, skipna=False)
    for name in table.data_vars:
        assert linked[name].dims == table[name].dims
        xr.testing.assert_allclose(linked[name], table[name], rtol=1e-14, atol=1e-16)


def test_refusals(quarters: xr.Dataset) -> None:
    cases = [(lambda: link(quarters, "davies_laker"), r"method: 'davies_laker' is not one of"),
             (lambda: link(quarters, "geometric"), r"'geometric' links geometric attribution"),
             (lambda: link(brinson(WP, RP, WB, geometric=True), "carino"), "geometric effects link only by"),
             (lambda: link(quarters.isel(time=0), "carino"), r"attribution.time: has no periods to link"),
             (lambda: link(xr.Dataset(), "carino"), r"attribution: expected the Dataset")]
    for call, message in cases:
        with pytest.raises(ValidationError, match=message):
            call()
    ruined = quarters.copy()
    ruined["benchmark_total"] = ruined.benchmark_total.where(ruined.time != QUARTERS[2], -1.0)
    with pytest.raises(DataError, match="benchmark_total is missing or -100% or worse for time=2016-09-30"):
        link(ruined, "carino")
