"""A book larger than memory: the returns report and volatility contributions out of core, on zarr.

    python benchmarks/scale.py [--quick] [--portfolios N] [--only-same-size] [--repeat K] [--results PATH]

The workload of issue 21 is 1,000,000 portfolios x 2,520 days (20 GB of float64 returns). The book is
generated lazily and deterministically, chunk by chunk (10,000 portfolios a chunk, the books' default):
seeded random long-only weights (Dirichlet(0.5), one generator per chunk seeded with (20221230, chunk number)) over
the 20 real S&P stocks of data/sp500_stocks.csv, and each portfolio's daily returns are
``weights @ instrument returns`` on the last 2,520 daily returns of the shipped closes (rebalanced
daily). ``toolkit.store.books.write_book`` streams it to a zarr group on local disk; the report
(``ws.jobs.report``: monthly and yearly returns, inception to date, CAGR, volatility, max drawdown)
and the risk (``ws.jobs.risk``: Euler volatility contributions) then read it lazily and write their
results to zarr chunk by chunk, on a dask cluster:

1. out of core on the in-process cluster (the workspace's default) at ``--portfolios`` (default
   100,000: 2 GB; ``--portfolios 1000000`` is the issue's 20 GB), against the same work in memory
   (numpy arrays, the analytics called eagerly) timed on 20,000 portfolios (400 MB) and scaled
   linearly to the size (goal: out of core within 2x). Below 1,000,000 the row also extrapolates the
   times to 1,000,000 linearly, and says so;
2. out of core against in memory on the same 20,000 portfolios; the results agree to 1e-12;
3. a LocalCluster of 2 worker processes against 1 (one thread each) on the book of step 1.

Rows: name, size, ours_s, peer, peer_s, ratio (ours / peer), peak_rss_mb, machine, the 1-minute load
average when written (the machine is shared: timings are noisy), and the row's extras.
Peak RSS is this process plus every child process (the workers), sampled every 0.1 s with psutil
(goal: at most 3 GB). Free disk is checked first (the book and its results need about 1.1x the
returns' size). --quick: 4,000 portfolios (a smoke run). The rows written replace those of --results
with the same name and size; the others stay. --only-same-size runs step 2 alone, --repeat K takes the
best of K runs of each side in step 2 (with its read of the returns alone, read_returns_s). The report
and the risk run as one graph (``ws.jobs.reports``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import dask.array as da
import numpy as np
import pandas as pd
import psutil
import xarray as xr
from common import RESULTS, machine

from toolkit.store import books
from toolkit.workspace.jobs import Jobs, returns_report, risk_report

DATA = Path(__file__).resolve().parents[1] / "data" / "sp500_stocks.csv"
DAYS = 2_520
CHUNK = books.CHUNK
SEED = 20221230
TARGET = 1_000_000
IN_MEMORY = 20_000
GOAL_RSS_MB = 3_072
GOAL_RATIO = 2.0


class PeakRss:
    """The peak of (this process + all its descendants) resident memory, sampled in a thread."""

    def __init__(self, every: float = 0.1) -> None:
        self.every, self.peak, self._stop = every, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        me = psutil.Process()
        total = me.memory_info().rss
        for child in me.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            time.sleep(self.every)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._sample())

    @property
    def mb(self) -> float:
        return round(self.peak / 2**20, 1)


def instrument_returns() -> xr.DataArray:
    prices = pd.read_csv(DATA, index_col="time", parse_dates=True)
    r = prices.pct_change().iloc[-DAYS:]
    return xr.DataArray(r.to_numpy().T, dims=("instrument", "time"),
                        coords={"instrument": list(r.columns), "time": r.index.to_numpy()})


def _weights_block(block_id: tuple[int, int], sizes: tuple[int, ...], n: int) -> np.ndarray:
    rows = sizes[block_id[0]]
    return np.random.default_rng([SEED, block_id[0]]).dirichlet(np.full(n, 0.5), rows)


def lazy_book(portfolios: int, r: xr.DataArray) -> tuple[xr.DataArray, xr.DataArray]:
    """(returns (portfolio, time), weights (portfolio, instrument)), dask-backed, deterministic per chunk."""
    n = r.sizes["instrument"]
    chunks = tuple(min(CHUNK, portfolios - s) for s in range(0, portfolios, CHUNK))
    w = da.map_blocks(lambda block_id=None: _weights_block(block_id, chunks, n), chunks=(chunks, (n,)),
                      dtype=float, meta=np.empty((0, 0)))
    portfolio = np.arange(portfolios)
    weights = xr.DataArray(w, dims=("portfolio", "instrument"),
                           coords={"portfolio": portfolio, "instrument": r.instrument.values})
    returns = xr.DataArray(w @ r.values, dims=("portfolio", "time"),
                           coords={"portfolio": portfolio, "time": r.time.values})
    return returns, weights


def write(folder: Path, portfolios: int, r: xr.DataArray, jobs: Jobs) -> tuple[Path, float]:
    returns, weights = lazy_book(portfolios, r)
    start = time.perf_counter()
    with jobs.client.as_current():
        path = books.write_book(folder / f"book-{portfolios}.zarr", returns, weights, r, chunk=CHUNK)
    os.sync()  # the book on disk (its write-back is the write's time, not the jobs' that read it next)
    return path, time.perf_counter() - start


def warm() -> None:
    """The imports and the compiled kernels (numba's on-disk cache) loaded, as in a session's later jobs: a
    process's first call is not the job's time (run here and on every worker before timing)."""
    returns = xr.DataArray(np.full((2, 30), 0.001), dims=("portfolio", "time"),
                           coords={"time": pd.bdate_range("2021-01-04", periods=30)})
    weights = xr.DataArray(np.full((2, 2), 0.5), dims=("portfolio", "instrument"), coords={"instrument": ["a", "b"]})
    instruments = xr.DataArray(np.linspace(-0.01, 0.01, 60).reshape(2, 30), dims=("instrument", "time"),
                               coords={"instrument": ["a", "b"], "time": returns.time.values})
    returns_report(returns)
    risk_report(instruments, weights)


def out_of_core(jobs: Jobs, book: Path, folder: Path) -> float:
    warm()
    jobs.client.run(warm)
    start = time.perf_counter()
    jobs.reports(book, report=folder / "report.zarr", risk=folder / "risk.zarr")  # one graph, one submission
    return time.perf_counter() - start


def in_memory(portfolios: int, r: xr.DataArray) -> tuple[dict[str, xr.Dataset], float]:
    returns, weights = (x.compute() for x in lazy_book(portfolios, r))
    start = time.perf_counter()
    found = {"report": returns_report(returns), "risk": risk_report(r, weights)}
    return found, time.perf_counter() - start


def agree(expected: dict[str, xr.Dataset], folder: Path) -> float:
    worst = 0.0
    for name, ds in expected.items():
        got = books.open_book(folder / f"{name}.zarr").compute()
        for var in ds.data_vars:
            a, b = xr.align(ds[var], got[var].transpose(*ds[var].dims), join="exact")
            worst = max(worst, float(np.nanmax(np.abs(a.values - b.values))))
    if worst > 1e-12:
        raise SystemExit(f"out of core and in memory disagree by {worst:.3g}")
    return worst


def workers(n: int, book: Path, folder: Path) -> float:
    from distributed import LocalCluster

    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        jobs = Jobs(scheduler=cluster.scheduler_address)
        try:
            return out_of_core(jobs, book, folder)
        finally:
            jobs.close()


def read_returns(jobs: Jobs, book: Path) -> float:
    """Seconds to read every chunk of a book's returns on the cluster (summed there)."""
    with jobs.client.as_current():
        start = time.perf_counter()
        books.open_book(book)["returns"].sum().compute()
        return time.perf_counter() - start


def same_size(jobs: Jobs, small: int, r: xr.DataArray, folder: Path,
              measured: tuple[dict[str, xr.Dataset], float] | None = None, repeat: int = 1) -> dict:
    """Step 2: out of core against in memory on the same ``small`` portfolios (the in-memory results and
    time of step 1 when given); the row, with the time out of core split into reading the returns and
    the jobs; with ``repeat`` > 1 the best of ``repeat`` runs of each."""
    expected, mem_s = measured or in_memory(small, r)
    small_book, _ = write(folder, small, r, jobs)
    smallout = folder / "small"
    small_s = out_of_core(jobs, small_book, smallout)
    worst = agree(expected, smallout)
    read_s = read_returns(jobs, small_book)
    for _ in range(repeat - 1):  # the best of each (the machine is shared)
        mem_s = min(mem_s, in_memory(small, r)[1])
        small_s = min(small_s, out_of_core(jobs, small_book, smallout))
        read_s = min(read_s, read_returns(jobs, small_book))
    return {"name": "out of core vs in memory, same size", "size": f"{small:,} x {DAYS:,}",
            "ours_s": round(small_s, 3), "peer": "in memory, numpy", "peer_s": round(mem_s, 3),
            "ratio": round(small_s / mem_s, 3), "goal_ratio": GOAL_RATIO, "max_abs_difference": worst,
            "read_returns_s": round(read_s, 3), "best_of": repeat}


def _merged(rows: list[dict], path: Path) -> list[dict]:
    """``rows`` in place of the rows of ``path`` with the same name and size; the others kept, in order."""
    old = json.loads(path.read_text()) if path.exists() else []
    keys = {(row["name"], row["size"]) for row in rows}
    out, placed = [], set()
    for row in old:
        key = (row["name"], row["size"])
        if key in keys:
            out.append(next(r for r in rows if (r["name"], r["size"]) == key))
            placed.add(key)
        else:
            out.append(row)
    return out + [row for row in rows if (row["name"], row["size"]) not in placed]  # new rows last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4,000 portfolios (a smoke run)")
    parser.add_argument("--portfolios", type=int, default=100_000, help="the out-of-core size run (default 100,000)")
    parser.add_argument("--folder", type=Path, default=None, help="where the zarr groups go (default: a temp folder)")
    parser.add_argument("--results", type=Path, default=RESULTS / "scale.json")
    parser.add_argument("--processes", action="store_true",
                        help="step 1 on ws.jobs' LocalCluster of worker processes (scheduler='processes')")
    parser.add_argument("--only-same-size", action="store_true",
                        help="step 2 only (out of core vs in memory on the same min(--portfolios, 20,000) "
                             "portfolios); its row replaces the same-size row of --results, the others stay")
    parser.add_argument("--repeat", type=int, default=1,
                        help="step 2: the best of this many runs of each side (default 1)")
    parser.add_argument("--only-out-of-core", action="store_true",
                        help="the big size and the in-memory timing only (no same-size or workers comparison); "
                             "its row replaces the big-size row of --results, the others stay")
    args = parser.parse_args()
    size = 4_000 if args.quick else args.portfolios
    small = min(IN_MEMORY, size)
    folder = Path(tempfile.mkdtemp(prefix="toolkit-scale-", dir=args.folder))
    need = size * DAYS * 8 * 1.1
    free = shutil.disk_usage(folder).free
    if need > 0.8 * free:
        raise SystemExit(f"{need / 2**30:.1f} GiB needed, {free / 2**30:.1f} GiB free: run a smaller --portfolios")
    r = instrument_returns()
    rows: list[dict] = []
    try:
        jobs = Jobs("processes" if args.processes else None)  # default: the in-process cluster
        if args.only_same_size:
            rows.append(same_size(jobs, small, r, folder, repeat=args.repeat))
            jobs.close()
            return _write(_merged(rows, args.results), args.results)
        # 1. the big size, out of core; the in-memory path measured on a size that fits, scaled linearly
        with PeakRss() as rss:
            book, write_s = write(folder, size, r, jobs)
            ooc_s = out_of_core(jobs, book, folder / "big")
        expected, mem_s = in_memory(small, r)
        gb = size * DAYS * 8 / 1e9
        where = "LocalCluster of worker processes" if args.processes else "in-process cluster"
        big = {"name": f"returns report + volatility contributions out of core (zarr, {where})",
               "size": f"{size:,} x {DAYS:,} ({gb:.1f} GB)", "ours_s": round(ooc_s, 2),
               "peer": f"in memory, numpy, timed on {small:,} and scaled x{size / small:g}",
               "peer_s": round(mem_s * size / small, 2), "ratio": round(ooc_s / (mem_s * size / small), 3),
               "peak_rss_mb": rss.mb, "goal_peak_rss_mb": GOAL_RSS_MB, "write_book_s": round(write_s, 2),
               "per_portfolio_us": round(1e6 * ooc_s / size, 2)}
        if size < TARGET:
            big["extrapolated_to_1m_s"] = round(ooc_s * TARGET / size, 1)
            big["extrapolated_write_1m_s"] = round(write_s * TARGET / size, 1)
        rows.append(big)
        if args.only_out_of_core:
            jobs.close()
            return _write(_merged(rows, args.results), args.results)
        # 2. in memory vs out of core on the same size
        rows.append(same_size(jobs, small, r, folder, (expected, mem_s), repeat=args.repeat))
        jobs.close()
        # 3. two worker processes against one
        one = workers(1, book, folder / "one")
        two = workers(2, book, folder / "two")
        rows.append({"name": "2 local worker processes vs 1 (1 thread each)", "size": f"{size:,} x {DAYS:,}",
                     "ours_s": round(two, 2), "peer": "1 worker", "peer_s": round(one, 2),
                     "ratio": round(two / one, 3)})
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    _write(_merged(rows, args.results), args.results)  # rows of other sizes (the 1,000,000 ones) stay


def _write(rows: list[dict], path: Path) -> None:
    """Print the rows and write them as JSON."""
    load = round(psutil.getloadavg()[0], 1)
    for row in rows:
        row.setdefault("machine", machine())
        row.setdefault("load_average_1min", load)
        print(json.dumps(row))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
