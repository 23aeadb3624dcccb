"""Books on zarr (toolkit.store.books) and the jobs over them (toolkit.workspace.jobs) on the in-process
cluster: the returns report, volatility contributions and attribution read the book lazily, write their
results chunk by chunk, and equal the in-memory path to 1e-12 on a sample of real S&P returns."""

from __future__ import annotations

from pathlib import Path

import dask
import dask.callbacks
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from toolkit.errors import DataError, NotFoundError, ToolkitError, ValidationError
from toolkit.store import books
from toolkit.workspace.jobs import Jobs, attribution_report, returns_report, risk_report

DATA = Path(__file__).resolve().parents[1] / "data" / "sp500_stocks.csv"
SECTORS = {"AAPL": "tech", "AMD": "tech", "MSFT": "tech", "BAC": "fin", "JPM": "fin", "CVX": "energy",
           "XOM": "energy", "RRC": "energy"}


def sample(portfolios: int = 60, days: int = 300, seed: int = 7) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray]:
    """Real daily returns of the 20 shipped S&P stocks and seeded random long-only portfolios of them."""
    prices = pd.read_csv(DATA, index_col="time", parse_dates=True).iloc[-days - 1:]
    r = prices.pct_change().iloc[1:]
    instrument_returns = xr.DataArray(r.to_numpy().T, dims=("instrument", "time"),
                                      coords={"instrument": list(r.columns), "time": r.index.to_numpy()})
    w = np.random.default_rng(seed).dirichlet(np.full(r.shape[1], 0.5), portfolios)
    weights = xr.DataArray(w, dims=("portfolio", "instrument"),
                           coords={"portfolio": np.arange(portfolios), "instrument": list(r.columns)})
    return instrument_returns, weights, xr.dot(weights, instrument_returns, dim="instrument")


@pytest.fixture(scope="module")
def jobs():
    j = Jobs()
    yield j
    j.close()


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    instrument_returns, weights, returns = sample()
    path = books.write_book(tmp_path_factory.mktemp("books") / "book.zarr", returns, weights, instrument_returns,
                            chunk=16)
    return path, instrument_returns, weights, returns


def close(a: xr.Dataset, b: xr.Dataset) -> None:
    assert set(a.data_vars) == set(b.data_vars)
    for name in a.data_vars:
        left, right = xr.align(a[name], b[name].transpose(*a[name].dims), join="exact")
        np.testing.assert_allclose(left.values, right.values, rtol=0, atol=1e-12, err_msg=name)


def test_book_roundtrip_is_lazy_and_chunked_by_portfolio(book):
    path, instrument_returns, weights, returns = book
    opened = books.open_book(path)
    assert opened["returns"].chunks is not None and opened["returns"].data.chunksize == (16, 300)
    assert opened["weights"].data.chunksize == (16, 20)
    xr.testing.assert_equal(opened["returns"].compute(), returns.rename("returns"))
    xr.testing.assert_equal(opened["instrument_returns"].compute(), instrument_returns.rename("instrument_returns"))


def test_analytics_stay_lazy_on_the_book(book):
    """Building the report and the risk of a book reads only the weights' small checks, never the returns cube."""
    computed: list = []

    def scheduler(dsk, keys, **kw):
        computed.append(keys)
        return dask.get(dsk, keys, **kw)

    opened = books.open_book(book[0])
    with dask.config.set(scheduler=scheduler):
        report = returns_report(opened["returns"])
    assert computed == [] and all(v.chunks is not None for v in report.data_vars.values())
    with dask.config.set(scheduler=scheduler):
        risk = risk_report(opened["instrument_returns"], opened["weights"])
    assert all(v.chunks is not None for v in risk.data_vars.values())  # (check_weights computes the small sums)


def test_report_risk_attribution_equal_the_in_memory_path(jobs, book, tmp_path):
    path, instrument_returns, weights, returns = book
    close(books.open_book(jobs.report(path, tmp_path / "report.zarr")).compute(), returns_report(returns))
    close(books.open_book(jobs.risk(path, tmp_path / "risk.zarr")).compute(), risk_report(instrument_returns, weights))
    benchmark = xr.DataArray(np.full(20, 1 / 20), dims="instrument", coords={"instrument": weights.instrument.values})
    segments = {code: SECTORS.get(code, "other") for code in weights.instrument.values}
    found = jobs.attribution(path, tmp_path / "attribution.zarr", benchmark, segments)
    close(books.open_book(found).compute(), attribution_report(instrument_returns, weights, benchmark, segments))


def test_a_failed_job_leaves_the_target_as_it_was(jobs, book, tmp_path):
    path = book[0]
    target = jobs.report(path, tmp_path / "report.zarr")
    before = books.open_book(target).compute()
    bad = tmp_path / "bad.zarr"
    _, weights, returns = sample(portfolios=4, days=30)
    books.write_book(bad, returns, weights * 2, sample(portfolios=4, days=30)[0], chunk=2)  # weights sum to 2
    with pytest.raises(ValidationError, match="sum to 2"):
        jobs.risk(bad, target)
    xr.testing.assert_equal(books.open_book(target).compute(), before)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []


def test_bad_books_are_refused(tmp_path):
    _, weights, returns = sample(portfolios=3, days=20)
    with pytest.raises(DataError, match="weights has dimensions"):
        books.write_book(tmp_path / "x.zarr", returns, weights.rename(instrument="asset"))
    with pytest.raises(DataError, match="chunk"):
        books.write_book(tmp_path / "x.zarr", returns, chunk=0)
    with pytest.raises(NotFoundError, match="No book"):
        books.open_book(tmp_path / "missing.zarr")


def test_an_unreachable_scheduler_is_named(monkeypatch):
    monkeypatch.setattr("toolkit.workspace.jobs.CONNECT_TIMEOUT", 1)
    with pytest.raises(ToolkitError, match="No dask scheduler answers at tcp://127.0.0.1:9"):
        _ = Jobs(scheduler="tcp://127.0.0.1:9").client


def test_progress_of_a_book_job_and_of_an_unknown_job(jobs, book, tmp_path):
    job = jobs.report(book[0], tmp_path / "report.zarr", wait=False)
    jobs.progress(job)  # dask's text bar outside a notebook: it waits for the end
    assert job.done() and job.result() == tmp_path / "report.zarr"
    with pytest.raises(ToolkitError, match="No job 'nope'"):
        jobs.progress("nope")


class Computes(dask.callbacks.Callback):
    """Counts the graphs dask computes (one ``_start`` per ``compute``/``dask.compute`` call)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def _start(self, dsk) -> None:
        self.count += 1


def counted(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` on the synchronous scheduler, and how many graphs it computed."""
    with dask.config.set(scheduler="sync"), Computes() as computes:
        found = fn(*args, **kwargs)
    return found, computes.count


def test_the_checks_read_a_dask_book_once():
    """check_weights, volatility_contributions and the attribution's checks each compute one graph of small
    reductions on dask-backed weights and returns (the weights read once), with the numpy path's results and
    messages."""
    from toolkit.analytics.attribution import brinson, prepare
    from toolkit.analytics.risk_portfolio import check_weights, volatility_contributions

    instrument_returns, weights, _ = sample(portfolios=40, days=120)
    w = weights.transpose("instrument", "portfolio")
    lazy_w, lazy_r = w.chunk({"portfolio": 8}), instrument_returns.chunk({"time": 60})
    checked, n = counted(check_weights, lazy_w, lazy_r)
    assert n == 1 and checked.chunks is not None
    xr.testing.assert_equal(checked.compute(), check_weights(w, instrument_returns))
    risk, n = counted(volatility_contributions, lazy_r, lazy_w)
    assert n == 1 and risk["total"].chunks is not None
    benchmark = xr.DataArray(np.full(20, 1 / 20), dims="instrument", coords={"instrument": w.instrument.values})
    periods = instrument_returns.isel(time=slice(0, 3)).rename(time="period")
    lazy_p = periods.chunk()
    _, n = counted(prepare, lazy_w, lazy_p, benchmark)
    assert n == 1
    found, n = counted(brinson, lazy_w, lazy_p, benchmark)
    assert n == 1
    xr.testing.assert_allclose(found.compute(), brinson(w, periods, benchmark), rtol=0, atol=1e-15)
    # the same refusals, word for word: a NaN weight, a portfolio off 1, a held instrument without returns
    bad = w.copy()
    bad[3, 5], bad[0, 7] = np.nan, bad[0, 7] + 0.5
    for call in (lambda x: check_weights(x, instrument_returns), lambda x: prepare(x, periods, benchmark)):
        with pytest.raises(ValidationError) as eager:
            call(bad)
        with pytest.raises(ValidationError) as lazy:
            call(bad.chunk({"portfolio": 8}))
        assert str(lazy.value) == str(eager.value)
    gap = periods.where(periods.instrument != "AMD")
    with pytest.raises(DataError) as eager:
        prepare(w, gap, benchmark)
    with pytest.raises(DataError) as lazy:
        prepare(lazy_w, gap.chunk(), benchmark)
    assert str(lazy.value) == str(eager.value) and "AMD" in str(eager.value)


def test_report_and_risk_in_one_graph(jobs, book, tmp_path):
    """ws.jobs.reports computes both in one submission; the results equal the in-memory path, in result chunks
    that gather the book's (16 portfolios a chunk in the book, all 60 in one result chunk)."""
    path, instrument_returns, weights, returns = book
    found = jobs.reports(path, report=tmp_path / "report.zarr", risk=tmp_path / "risk.zarr")
    assert found == {"report": tmp_path / "report.zarr", "risk": tmp_path / "risk.zarr"}
    report, risk = (books.open_book(found[k]) for k in ("report", "risk"))
    assert report["monthly"].data.chunksize[0] == 60 and risk["marginal"].data.chunksize[0] == 60
    close(report.compute(), returns_report(returns))
    close(risk.compute(), risk_report(instrument_returns, weights))
    with pytest.raises(ToolkitError, match="Give a target"):
        jobs.reports(path)


def test_plain_chunks_are_read_straight_from_their_files(tmp_path):
    """A book of raw floats is read one numpy.fromfile a chunk: an edge chunk (stored whole) is cut to its
    shape, a chunk zarr did not write (all NaN) is NaN, and the values equal what was written."""
    returns = xr.DataArray(np.random.default_rng(1).normal(size=(7, 5)), dims=("portfolio", "time"),
                           coords={"portfolio": np.arange(7), "time": pd.date_range("2021-01-04", periods=5)})
    returns[2:4] = np.nan
    opened = books.open_book(books.write_book(tmp_path / "book.zarr", returns, chunk=2))["returns"]
    assert opened.data.name.startswith("book-returns-") and opened.chunks == ((2, 2, 2, 1), (5,))
    assert sorted(p.name for p in (tmp_path / "book.zarr" / "returns" / "c").iterdir()) == ["0", "2", "3"]
    xr.testing.assert_identical(opened.compute(), returns.rename("returns"))


def test_stored_chunks_are_gathered_into_larger_tasks(tmp_path):
    """open_book(task_bytes=...) joins consecutive stored chunks into one dask chunk (every variable along
    portfolio alike; a chunk zarr did not write is NaN in its place); by default a task is a stored chunk."""
    returns = xr.DataArray(np.random.default_rng(2).normal(size=(7, 5)), dims=("portfolio", "time"),
                           coords={"portfolio": np.arange(7), "time": pd.date_range("2021-01-04", periods=5)})
    returns[2:4] = np.nan  # stored chunk 1 is never written
    weights = xr.DataArray(np.full((7, 3), 1 / 3), dims=("portfolio", "instrument"),
                           coords={"portfolio": np.arange(7), "instrument": ["A", "B", "C"]})
    path = books.write_book(tmp_path / "book.zarr", returns, weights, chunk=2)
    opened = books.open_book(path, task_bytes=2 * 5 * 8 * 2)  # two stored chunks of returns a task
    assert opened["returns"].chunks == ((4, 3), (5,)) and opened["weights"].chunks == ((4, 3), (3,))
    xr.testing.assert_identical(opened["returns"].compute(), returns.rename("returns"))
    xr.testing.assert_identical(opened["weights"].compute(), weights.rename("weights"))
    assert books.open_book(path)["returns"].chunks == ((2, 2, 2, 1), (5,))  # by default as stored
