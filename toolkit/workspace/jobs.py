"""Background jobs on dask.distributed (``ws.jobs``): the workspace's ``distributed.Client``.

Which cluster (DESIGN.md, "Scale"): the scheduler address of ``Workspace(path, scheduler="tcp://...")``
(or ``ws.jobs.scheduler = ...`` before the first job), else of the ``TOOLKIT_SCHEDULER`` environment
variable, else an in-process ``LocalCluster`` (``processes=False``: one worker whose threads live in
this process, started in well under a second, nothing pickled: what keeps small jobs and the tests
quick). ``scheduler="processes"`` starts a ``LocalCluster`` of worker processes instead (one per core,
one thread each; a few seconds to start): faster on big books, where the in-process worker's threads
contend for the interpreter (benchmarks/scale.py). The client is made on first use and closed with the workspace.
No scheduler, queue or worker pool of the toolkit's own: dask's.

What runs where:

- strategy runs (:meth:`toolkit.workspace.strategies.Strategies.run`): one task per account, each
  opening the workspace file read-only on the worker and answering the account's optimisation; this
  process writes each answer to SQLite in a transaction as it arrives and ends the run ``Complete``, or
  ``Failed`` with the reason when the cluster is lost (so the workers need the workspace file's path:
  one machine, or a shared file system);
- reports and risk over a book on zarr (:meth:`Jobs.report`, :meth:`Jobs.risk`,
  :meth:`Jobs.attribution`): the graph is built here, lazily, from :func:`toolkit.store.books.open_book`;
  the workers read the book's chunks from the zarr store, compute, and write the result's chunks to a
  scratch zarr group, which is moved into place when every chunk is written. What is sent to the
  workers is the task graph (the zarr paths, the small arrays such as a benchmark's weights, and the
  toolkit functions by reference), never the book.

Progress: :meth:`Jobs.progress` shows dask's progress bar (an ipywidgets bar in a notebook or an app,
text elsewhere).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dask
import xarray as xr

from toolkit.analytics import attribution as attribution_analytics
from toolkit.analytics import performance
from toolkit.analytics import returns as returns_analytics
from toolkit.analytics.risk_portfolio import volatility_contributions
from toolkit.errors import ToolkitError
from toolkit.schema import INSTRUMENT, PORTFOLIO, TIME
from toolkit.store import books

if TYPE_CHECKING:  # distributed (~0.5 s to import) is imported on the first job
    from distributed import Client, Future, LocalCluster

#: the environment variable naming the scheduler address
SCHEDULER_ENV = "TOOLKIT_SCHEDULER"
#: the scheduler "address" asking for a LocalCluster of worker processes (one per core, one thread each)
LOCAL_PROCESSES = "processes"
#: seconds to wait for a configured scheduler before saying it cannot be reached
CONNECT_TIMEOUT = 10
#: the variables of a book that the returns report reads, and those the risk and the attribution read
RETURNS_VARS, WEIGHTS_VARS = ("returns",), ("instrument_returns", "weights")


def returns_report(returns: xr.DataArray) -> xr.Dataset:
    """The returns report of a book: monthly and yearly returns, the inception-to-date return, the
    annual return (CAGR over 252-day years), the annual volatility (ddof = 1, sqrt(252)) and the
    maximum drawdown of every portfolio (:mod:`toolkit.analytics.returns` and
    :mod:`toolkit.analytics.performance`; their conventions). Lazy on a dask-backed input.

    Parameters
    ----------
    returns : xr.DataArray, (portfolio, time)
        Daily simple returns.

    Returns
    -------
    xr.Dataset
        ``monthly`` (portfolio, month), ``yearly`` (portfolio, year), ``itd``, ``annual_return``,
        ``annual_volatility`` and ``max_drawdown`` (portfolio).
    """
    monthly = returns_analytics.cumulate(returns, "ME")
    yearly = returns_analytics.cumulate(monthly, "YE")
    stats = performance.summary(returns)  # one compiled walk for the three statistics
    return xr.Dataset({
        "monthly": monthly.rename({TIME: "month"}), "yearly": yearly.rename({TIME: "year"}),
        "itd": returns_analytics.link(yearly),
        **{name: stats[name] for name in ("annual_return", "annual_volatility", "max_drawdown")},
    })


def risk_report(instrument_returns: xr.DataArray, weights: xr.DataArray, **options: Any) -> xr.Dataset:
    """Volatility contributions of every portfolio of a book
    (:func:`toolkit.analytics.risk_portfolio.volatility_contributions`, its conventions; ``options``
    are its keywords). Lazy on dask-backed weights.

    Parameters
    ----------
    instrument_returns : xr.DataArray, (instrument, time)
        The instruments' simple returns.
    weights : xr.DataArray, (portfolio, instrument)
        The portfolios' weights.

    Returns
    -------
    xr.Dataset
        ``total`` (portfolio); ``marginal``, ``contribution``, ``percent`` (portfolio, instrument).
    """
    found = volatility_contributions(instrument_returns, weights.transpose(INSTRUMENT, PORTFOLIO), **options)
    return found.transpose(PORTFOLIO, ...)


def attribution_report(instrument_returns: xr.DataArray, weights: xr.DataArray, benchmark_weights: xr.DataArray,
                       segments: attribution_analytics.Segments = None, freq: str = "ME") -> xr.Dataset:
    """Brinson-Fachler attribution of every portfolio of a book against a benchmark, per period of
    ``freq`` (the instruments' returns compounded to it; the weights held through each period):
    :func:`toolkit.analytics.attribution.brinson`, its conventions. Lazy on dask-backed weights.

    Parameters
    ----------
    instrument_returns : xr.DataArray, (instrument, time)
        The instruments' daily simple returns.
    weights : xr.DataArray, (portfolio, instrument)
        The portfolios' weights.
    benchmark_weights : xr.DataArray, (instrument,)
        The benchmark's weights.
    segments : str, mapping, xr.DataArray or None
        The groups (as :func:`toolkit.analytics.attribution.brinson`).
    freq : str, default "ME"
        The periods (a pandas offset alias).

    Returns
    -------
    xr.Dataset
        :func:`toolkit.analytics.attribution.brinson`'s result over (segment, time, portfolio).
    """
    periods = returns_analytics.cumulate(instrument_returns, freq)
    return attribution_analytics.brinson(weights.transpose(INSTRUMENT, PORTFOLIO), periods, benchmark_weights,
                                         segments)


def per_block(build: Callable[[xr.Dataset], xr.Dataset], data: xr.Dataset, needs: Iterable[str]) -> xr.Dataset:
    """``build(data)`` computed one task a chunk of portfolios: ``build`` runs eagerly on each chunk (numpy
    inside), with the lazy ``build(data)`` as the template of the result (its checks run once, here, over the
    whole book). One task a chunk instead of the dozens of small ones of the lazy analytics (the dask
    scheduler's overhead, ~1 ms a task, is most of a job's time beyond the reads otherwise); the same
    functions, so the same numbers as ``build(data)``.

    Parameters
    ----------
    build : callable
        ``xr.Dataset -> xr.Dataset``: a book's dataset to results along ``portfolio``.
    data : xr.Dataset
        A book opened lazily (:func:`toolkit.store.books.open_book`).
    needs : iterable of str
        The variables of ``data`` that ``build`` reads: only they go to its tasks (a chunk of returns is
        let go as soon as the builds that read it are done).

    Returns
    -------
    xr.Dataset
        The results, lazy, chunked along ``portfolio`` as the book's tasks.
    """
    data = data[list(needs)]
    template = build(data)
    # the tasks go without the portfolio labels (xarray would embed each chunk's in the graph: 8 MB a
    # build for a million portfolios); the result gets them back whole. xarray names the tasks after the
    # function and the inputs only: the template's token keeps two builds over one book apart
    bare = data.drop_vars(PORTFOLIO, errors="ignore")
    found = xr.map_blocks(_build_block, bare, args=(build, dask.base.tokenize(template)),
                          template=template.drop_vars(PORTFOLIO, errors="ignore"))
    return found.assign_coords({PORTFOLIO: data[PORTFOLIO]}) if PORTFOLIO in data.coords else found


def _build_block(block: xr.Dataset, build: Callable[[xr.Dataset], xr.Dataset], _token: str) -> xr.Dataset:
    return build(block)


@dataclass
class BookJob:
    """A job over a book: its dask future, and where its result goes once every chunk is written."""

    name: str
    future: Future
    target: Path
    staged: Path
    _published: bool = field(default=False, repr=False)

    def result(self, timeout: float | None = None) -> Path:
        """Wait for the job; its result's zarr group once complete (:func:`toolkit.store.books.open_book`
        opens it). A job that fails raises a :class:`toolkit.errors.ToolkitError` saying why, and leaves
        what was at the target untouched."""
        if self._published:
            return self.target
        try:
            self.future.result(timeout=timeout)
        except Exception as exc:
            books.discard(self.staged)
            raise ToolkitError(f"The {self.name} job did not finish ({type(exc).__name__}: {exc}); "
                               f"{self.target} is as it was before the job. Run it again.") from exc
        books.publish(self.staged, self.target)
        self._published = True
        return self.target

    def done(self) -> bool:
        """Whether the job has ended (completed or failed)."""
        return bool(self.future.done())


class Jobs:
    """The workspace's dask client and the jobs over books (``ws.jobs``)."""

    def __init__(self, scheduler: str | None = None) -> None:
        self.scheduler = scheduler
        self._client: Client | None = None
        self._cluster: LocalCluster | None = None
        self._lock = threading.Lock()
        #: the futures of the jobs started from this workspace, by job (run id or book job name)
        self.running: dict[str, list[Future]] = {}

    @property
    def address(self) -> str | None:
        """The configured scheduler address (the workspace option, else ``$TOOLKIT_SCHEDULER``), or None
        for the in-process cluster."""
        return self.scheduler or os.environ.get(SCHEDULER_ENV) or None

    @property
    def client(self) -> Client:
        """The ``distributed.Client``, made on first use (see the module's docstring for which cluster)."""
        with self._lock:
            if self._client is None or self._client.status in ("closing", "closed"):
                self._client = self._connect()
            return self._client

    def _connect(self) -> Client:
        from distributed import Client, LocalCluster

        address = self.address
        if address is None or address == LOCAL_PROCESSES:
            cores = os.cpu_count() or 2
            threads = address is None  # the in-process default: one worker, a thread per core
            self._cluster = LocalCluster(processes=not threads, n_workers=1 if threads else cores,
                                         threads_per_worker=cores if threads else 1, dashboard_address=":0",
                                         silence_logs=logging.ERROR)
            return Client(self._cluster, set_as_default=False)
        try:
            return Client(address, set_as_default=False, timeout=CONNECT_TIMEOUT)
        except OSError as exc:
            source = "the workspace's scheduler option" if self.scheduler else f"${SCHEDULER_ENV}"
            raise ToolkitError(f"No dask scheduler answers at {address} (from {source}): {exc}. Start it, fix the "
                               f"address, or unset it to run on the in-process cluster.") from exc

    def submit_each(self, fn: Callable, items: Iterable[Any], *args: Any, job: str) -> list[Future]:
        """One task ``fn(item, *args)`` per item on the cluster (``pure=False``: each runs); the futures,
        also kept under ``job`` in :attr:`running`."""
        client = self.client
        futures = [client.submit(fn, item, *args, pure=False) for item in items]
        self.running[job] = futures
        return futures

    def progress(self, job: str | BookJob) -> Any:
        """dask's progress of a job (a strategy run's id, or a :class:`BookJob`): an ipywidgets bar in a
        notebook or an app (returned, display it), a text bar that waits for the end elsewhere."""
        from distributed import progress

        futures = [job.future] if isinstance(job, BookJob) else self.running.get(job)
        if futures is None:
            raise ToolkitError(f"No job {job!r} was started from this workspace.")
        with self.client.as_current():  # dask's bar finds the client it follows as the current one
            return progress(futures, notebook=None)

    # ------------------------------------------------------------------ jobs over books

    def _checks(self, client: Client) -> Any:
        """Where the analytics' own small checks (weight sums, history counts) compute while a job's graph
        is built: on the cluster, except for the in-process default, where dask's local threads skip the
        scheduler's round trip (0.1-0.3 s a check measured on 20,000 portfolios, against 0.03 s)."""
        if self.address is None and self._cluster is not None:
            return dask.config.set(scheduler="threads")
        return client.as_current()

    def reports(self, book: str | Path, *, report: str | Path | None = None, risk: str | Path | None = None,
                wait: bool = True, **options: Any) -> dict[str, Path] | dict[str, BookJob]:
        """The returns report and the volatility contributions of a book in one computation: one graph
        submitted to the cluster (the book's chunks each read once for both), each result written to its
        target; waiting, a failed job raises (as :meth:`BookJob.result`) and leaves the other's target
        as it was if it is not yet in place. ``options`` are :func:`risk_report`'s.

        Parameters
        ----------
        book : str or Path
            The book's zarr group.
        report, risk : str or Path, optional
            Where each result goes (a zarr group); a result without a target is not computed.
        wait : bool, default True
            Wait for both; False returns the :class:`BookJob` of each at once.

        Returns
        -------
        dict
            ``{"report": ..., "risk": ...}`` (the targets given): the result's path, or its job.
        """
        builds = {"report": (report, "returns report", RETURNS_VARS, lambda d: returns_report(d["returns"])),
                  "risk": (risk, "risk", WEIGHTS_VARS,
                           lambda d: risk_report(d["instrument_returns"], d["weights"], **options))}
        wanted = {key: (Path(target), name, needs, build)
                  for key, (target, name, needs, build) in builds.items() if target}
        if not wanted:
            raise ToolkitError("Give a target for the report, the risk or both.")
        return self._submit(book, wanted, wait)

    def report(self, book: str | Path, target: str | Path, wait: bool = True) -> Path | BookJob:
        """The returns report (:func:`returns_report`) of a book on zarr, written to ``target`` (a zarr
        group) chunk by chunk on the cluster; ``wait=False`` returns the :class:`BookJob` at once."""
        return self.reports(book, report=target, wait=wait)["report"]

    def risk(self, book: str | Path, target: str | Path, wait: bool = True, **options: Any) -> Path | BookJob:
        """The volatility contributions (:func:`risk_report`) of a book on zarr, written to ``target``."""
        return self.reports(book, risk=target, wait=wait, **options)["risk"]

    def attribution(self, book: str | Path, target: str | Path, benchmark_weights: xr.DataArray,
                    segments: attribution_analytics.Segments = None, freq: str = "ME",
                    wait: bool = True) -> Path | BookJob:
        """The Brinson attribution (:func:`attribution_report`) of a book on zarr, written to ``target``."""
        def build(d: xr.Dataset) -> xr.Dataset:
            return attribution_report(d["instrument_returns"], d["weights"], benchmark_weights, segments, freq)
        return self._submit(book, {"attribution": (Path(target), "attribution", WEIGHTS_VARS, build)},
                            wait)["attribution"]

    def _submit(self, book: str | Path, wanted: dict[str, tuple[Path, str, tuple[str, ...], Callable]],
                wait: bool) -> dict[str, Path] | dict[str, BookJob]:
        """Build each wanted result (key -> target, job name, variables read, build) over the book, one task
        a chunk, and submit them as one graph; the paths once written (``wait``), or the jobs. When one
        fails while waited for, none of them is published."""
        client = self.client
        staged: dict[str, tuple[Any, Path]] = {}
        with self._checks(client):
            data = books.open_book(book, books.TASK_BYTES)
            for key, (target, _, needs, build) in wanted.items():
                staged[key] = books.stage_results(per_block(build, data, needs), target)
        futures = client.compute([delayed for delayed, _ in staged.values()])  # one graph: shared reads once
        jobs = {}
        for (key, (target, name, _, _)), future in zip(wanted.items(), futures):
            jobs[key] = BookJob(name, future, target, staged[key][1])
            self.running[f"{name}:{target}"] = [future]
        if not wait:
            return jobs
        try:
            return {key: job.result() for key, job in jobs.items()}
        except ToolkitError:  # neither result is published when one fails
            for job in jobs.values():
                if not job._published:
                    job.future.cancel()
                    books.discard(job.staged)
            raise

    def close(self) -> None:
        """Close the client (and the in-process cluster when it is ours); safe to call twice."""
        with self._lock:
            client, cluster, self._client, self._cluster = self._client, self._cluster, None, None
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
