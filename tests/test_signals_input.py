"""toolkit.signals on unusual input: extra dimensions, dask, NaN gaps, unsorted times, bad parameters, short data."""

from __future__ import annotations

from collections.abc import Callable

import dask
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from toolkit import signals
from toolkit.errors import DataError, ValidationError
from toolkit.schema import INSTRUMENT, TIME

#: every indicator with the document's defaults, as (name, call)
CALLS: list[tuple[str, Callable]] = [
    ("true_range", signals.true_range),
    ("atr", lambda d: signals.atr(d, 14, "Smoothed")),
    ("atr_sma", lambda d: signals.atr(d, 10, "SMA")),
    ("atr_ema", lambda d: signals.atr(d, 10, "EMA")),
    ("rsi", signals.rsi),
    ("supertrend", signals.supertrend),
    ("swing_points", signals.swing_points),
    ("support_resistance", signals.support_resistance),
    ("trend_bias", lambda d: signals.trend_bias(d, 50)),
    ("reversal_probability", signals.reversal_probability),
    ("nearest_levels", lambda d: signals.nearest_levels(d, lookback=100)),
    ("latest", lambda d: signals.latest(signals.rsi(d))),
]


def forbid_compute(*args, **kwargs):
    raise AssertionError("the dask graph was computed inside the library call")


@pytest.fixture(scope="module")
def bars() -> xr.Dataset:
    """Three real series of data/ (bokeh AAPL, IBM, MSFT) over their common 3,270 days."""
    from test_signals import load_bars

    return load_bars().sel({INSTRUMENT: ["bokeh:AAPL", "bokeh:IBM", "bokeh:MSFT"]}).dropna(TIME, how="all")


def as_dataset(out: xr.DataArray | xr.Dataset) -> xr.Dataset:
    return out.to_dataset() if isinstance(out, xr.DataArray) else out


@pytest.mark.parametrize(("name", "call"), CALLS, ids=[c[0] for c in CALLS])
def test_extra_dimensions_are_kept_and_each_slice_is_the_plain_result(bars: xr.Dataset, name: str,
                                                                      call: Callable) -> None:
    # a scenario dimension: the bars and the same bars scaled by 2 (every price indicator scales or stays)
    cube = xr.concat([bars, bars * 2], dim=pd.Index(["base", "double"], name="scenario"))
    cube = cube.transpose("scenario", INSTRUMENT, TIME)
    out = as_dataset(call(cube))
    plain = as_dataset(call(bars))
    for var in plain.data_vars:
        assert "scenario" in out[var].dims
        xr.testing.assert_allclose(out[var].sel(scenario="base", drop=True).transpose(*plain[var].dims), plain[var])


@pytest.mark.parametrize(("name", "call"), CALLS, ids=[c[0] for c in CALLS])
def test_dask_input_stays_lazy_and_gives_the_same_numbers(bars: xr.Dataset, name: str, call: Callable) -> None:
    lazy = bars.chunk({INSTRUMENT: 1, TIME: 1000})
    with dask.config.set(scheduler=forbid_compute):
        out = as_dataset(call(lazy))
    plain = as_dataset(call(bars))
    for var in plain.data_vars:
        assert out[var].chunks is not None, f"{var} was computed"
        xr.testing.assert_allclose(out[var].compute(), plain[var])


def test_a_missing_bar_is_skipped_as_if_it_did_not_exist(bars: xr.Dataset) -> None:
    gapped = bars.copy(deep=True)
    holes = [100, 101, 700, 2000]
    gapped["close"][0, holes] = np.nan
    gapped["close"][1, 500] = np.nan
    for call in (lambda d: signals.atr(d, 14), signals.rsi, lambda d: signals.supertrend(d)["supertrend"]):
        out = call(gapped)
        assert bool(out[0, holes].isnull().all()) and bool(out[1, 500].isnull())
        # each series equals the result on that series with its missing bars dropped
        for i, drop in ((0, holes), (1, [500])):
            kept = np.setdiff1d(np.arange(bars.sizes[TIME]), drop)
            alone = call(bars.isel({INSTRUMENT: [i], TIME: kept}))
            np.testing.assert_allclose(out[i, kept].values, alone[0].values, rtol=1e-12)
    # a bar is missing to the ATR when its high or low is, to the RSI only when its close is
    gapped["high"][2, 900] = np.nan
    assert bool(signals.atr(gapped)[2, 900].isnull()) and bool(signals.rsi(gapped)[2, 900].notnull())


def test_a_series_listed_later_starts_its_own_warm_up(bars: xr.Dataset) -> None:
    late = bars.copy(deep=True)
    for var in ("open", "high", "low", "close"):
        late[var][2, :300] = np.nan
    atr = signals.atr(late, 14)
    assert bool(atr[2, :314].isnull().all()) and bool(atr[2, 314:].notnull().all())


def test_unsorted_or_repeated_times_are_refused(bars: xr.Dataset) -> None:
    shuffled = bars.isel({TIME: [1, 0, *range(2, 100)]})
    with pytest.raises(DataError, match="close: the times are not sorted"):
        signals.rsi(shuffled)
    with pytest.raises(DataError, match="high: the times are not sorted"):
        signals.atr(shuffled)
    repeated = bars.isel({TIME: [0, 0, *range(1, 100)]})
    with pytest.raises(DataError, match="appears twice"):
        signals.supertrend(repeated)


def test_too_few_candles_name_the_field(bars: xr.Dataset) -> None:
    short = bars.isel({TIME: slice(0, 14)})
    with pytest.raises(DataError, match=r"close: 14 candles, but an ATR of period 14 needs at least 15"):
        signals.atr(short, 14)
    with pytest.raises(DataError, match=r"close: 14 candles, but an RSI of period 14 needs at least 15"):
        signals.rsi(short)
    with pytest.raises(DataError, match="close: 14 candles"):
        signals.reversal_probability(short)
    with pytest.raises(DataError, match="close: 14 candles"):
        signals.support_resistance(short)
    assert signals.atr(bars.isel({TIME: slice(0, 15)}), 14)[:, -1].notnull().all()


def test_missing_variables_and_dimensions_are_named(bars: xr.Dataset) -> None:
    with pytest.raises(DataError, match="high: the bars have no 'high' variable"):
        signals.atr(bars[["close"]])
    with pytest.raises(DataError, match="close: the bars have no 'time' dimension"):
        signals.rsi(bars["close"].rename({TIME: "date"}))


def test_parameters_outside_the_documents_ranges_are_refused_by_path(bars: xr.Dataset) -> None:
    with pytest.raises(ValidationError) as err:
        signals.supertrend(bars, factor=0.5, period=1, method="SMA")
    assert err.value.paths == ["factor", "period"]
    assert "ATRFactor is at least 1" in str(err.value) and "from 2 to 500" in str(err.value)
    with pytest.raises(ValidationError) as err:
        signals.atr(bars, 14, "Hull")
    assert err.value.paths == ["method"]
    with pytest.raises(ValidationError) as err:
        signals.atr(bars, 14.0)  # type: ignore[arg-type]
    assert err.value.paths == ["period"]
    with pytest.raises(ValidationError) as err:
        signals.trend_bias(bars, 6)
    assert err.value.paths == ["lookback"] and "from 7 to 500" in str(err.value)
    with pytest.raises(ValidationError) as err:
        signals.reversal_probability(bars, 120, horizon=0, width=0, lookback=1)
    assert err.value.paths == ["horizon", "width", "lookback", "level"]
    with pytest.raises(ValidationError) as err:
        signals.support_resistance(bars, minor=5, major=5)
    assert err.value.paths == ["major"]
    with pytest.raises(ValidationError) as err:
        signals.nearest_levels(bars, -1.0)
    assert err.value.paths == ["price"]
    with pytest.raises(ValidationError):
        signals.rsi(bars, True)


def test_method_names_are_the_documents_and_wilder_is_smoothed(bars: xr.Dataset) -> None:
    xr.testing.assert_identical(signals.atr(bars, 14, "Wilder"), signals.atr(bars, 14, "Smoothed"))
    xr.testing.assert_identical(signals.atr(bars, 14, "sma"), signals.atr(bars, 14, "SMA"))


def test_latest_is_each_series_last_quoted_value(bars: xr.Dataset) -> None:
    ended = bars.copy(deep=True)
    ended["close"][1, -200:] = np.nan  # IBM's data stop 200 bars early
    ended["close"][2, :] = np.nan  # MSFT has none
    last = signals.latest(ended["close"])
    assert float(last[0]) == float(bars["close"][0, -1]) and last[TIME].values[0] == bars[TIME].values[-1]
    assert float(last[1]) == float(bars["close"][1, -201]) and last[TIME].values[1] == bars[TIME].values[-201]
    assert np.isnan(float(last[2])) and np.isnat(last[TIME].values[2])
