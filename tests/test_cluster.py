"""Jobs on a real dask cluster: a ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1,
started here with subprocess. A small book's report and risk equal the in-memory path; a worker killed
with SIGKILL in the middle of a job changes nothing in its result (distributed recomputes the lost
tasks on the other worker); losing the scheduler ends a strategy run Failed with the reason, and the
workspace stays consistent and usable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from test_zarr_books import sample

from toolkit.store import books
from toolkit.workspace import Workspace
from toolkit.workspace.jobs import BookJob, Jobs, returns_report, risk_report

ROOT = Path(__file__).resolve().parents[1]
DASK = Path(sys.executable).with_name("dask")


class Cluster:
    """A scheduler and ``workers`` worker processes (no nanny: a killed worker stays dead)."""

    def __init__(self, folder: Path, workers: int) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
        self.file = folder / "scheduler.json"
        common = {"cwd": ROOT, "env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        self.scheduler = subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0",
                                           "--no-dashboard", "--scheduler-file", self.file], **common)
        deadline = time.monotonic() + 30
        while not self.file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.address = json.loads(self.file.read_text())["address"]
        self.workers = [subprocess.Popen([DASK, "worker", self.address, "--nthreads", "1", "--no-nanny",
                                          "--no-dashboard", "--host", "127.0.0.1",
                                          "--name", f"w{n}"], **common) for n in range(workers)]
        jobs = Jobs(scheduler=self.address)
        jobs.client.wait_for_workers(workers, timeout=30)
        jobs.client.run(lambda: __import__("toolkit.workspace.core"))  # imports are not the jobs' time
        jobs.close()

    def worker_pids(self, jobs: Jobs) -> dict[str, int]:
        """Worker address -> its process id."""
        return dict(jobs.client.run(os.getpid))

    def stop(self) -> None:
        for process in (*self.workers, self.scheduler):
            if process.poll() is None:
                process.kill()
            process.wait(10)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    found = Cluster(tmp_path_factory.mktemp("cluster"), workers=2)
    yield found
    found.stop()


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    instrument_returns, weights, returns = sample(portfolios=600, days=500, seed=11)
    path = books.write_book(tmp_path_factory.mktemp("book") / "book.zarr", returns, weights, instrument_returns,
                            chunk=50)
    expected = returns_report(returns)
    return path, expected, risk_report(instrument_returns, weights)


def equal(found: Path, expected: xr.Dataset) -> xr.Dataset:
    got = books.open_book(found).compute()
    for name in expected.data_vars:
        a, b = xr.align(expected[name], got[name].transpose(*expected[name].dims), join="exact")
        np.testing.assert_allclose(b.values, a.values, rtol=0, atol=1e-12, err_msg=name)
    return got


def test_a_book_runs_on_a_real_scheduler_and_two_workers(cluster: Cluster, book, tmp_path) -> None:
    path, report, risk = book
    jobs = Jobs(scheduler=cluster.address)
    try:
        equal(jobs.report(path, tmp_path / "report.zarr"), report)
        equal(jobs.risk(path, tmp_path / "risk.zarr"), risk)
        assert len(jobs.client.scheduler_info()["workers"]) == 2
    finally:
        jobs.close()


def test_a_worker_killed_mid_job_changes_nothing(cluster: Cluster, book, tmp_path, monkeypatch) -> None:
    path, report, _ = book
    monkeypatch.setattr(books, "RESULT_CHUNK_BYTES", 1)  # result chunks as the book's: many writes to kill amid
    monkeypatch.setattr(books, "TASK_BYTES", 1)  # and a task a stored chunk (by default this book is one task)
    jobs = Jobs(scheduler=cluster.address)
    try:
        job = jobs.report(path, tmp_path / "report.zarr", wait=False)
        assert isinstance(job, BookJob)
        written = job.staged / "monthly" / "c"
        deadline = time.monotonic() + 30
        while (not written.exists() or len(list(written.iterdir())) < 3) and time.monotonic() < deadline:
            time.sleep(0.02)  # some of the result's chunks are written: the job is under way
        victim = next(iter(cluster.worker_pids(jobs).values()))
        os.kill(victim, signal.SIGKILL)
        assert not job.done(), "the job ended before a worker could be killed in its middle"
        equal(job.result(timeout=60), report)
        assert len(cluster.worker_pids(jobs)) == 1  # the other worker finished the job alone
    finally:
        jobs.close()


def test_losing_the_scheduler_fails_the_run_and_keeps_the_workspace_consistent(book_copy: Workspace,
                                                                               tmp_path) -> None:
    own = Cluster(tmp_path, workers=1)
    try:
        book_copy.jobs.scheduler = own.address
        strategy = book_copy.strategies.create({"name": "Scheduler lost", "rules": [
            {"rule_id": 17, "parameters": [{"key": "RebalanceTrigger", "value": "10"}]}]})
        run = book_copy.strategies.run(strategy.strategy_id)
        deadline = time.monotonic() + 30
        while book_copy.strategies.status(run)["percentage_complete"] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)  # one account answered: the run is in its middle
        own.scheduler.kill()
        own.scheduler.wait(10)
        deadline = time.monotonic() + 30
        while book_copy.strategies.status(run)["status"] == "Running" and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        own.stop()
    status = book_copy.strategies.status(run)
    assert status["status"] == "Failed" and status["finished_at"] is not None
    assert "dask cluster" in status["error"] and own.address in status["error"]
    assert "run the strategy again" in status["error"]
    # the workspace is usable: back on the in-process cluster, the same strategy runs to the end
    book_copy.jobs.close()
    book_copy.jobs.scheduler = None
    again = book_copy.strategies.run(strategy.strategy_id, wait=True)
    assert book_copy.strategies.status(again)["status"] == "Complete"
    every = book_copy.strategies.results(again)
    kept = book_copy.strategies.results(run)  # the answers stored before the loss stay, whole and as answered
    assert 1 <= len(kept) < len(every)
    columns = ["account_id", "rule_name", "result"]
    assert kept[columns].values.tolist() == every[columns].iloc[:len(kept)].values.tolist()
