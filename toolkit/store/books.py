"""Books larger than memory: a book's returns and weights as chunked xarray datasets on zarr.

A book on disk is one zarr group (zarr format 3) holding, chunked along ``portfolio`` only (every
chunk holds whole histories, which the time-series analytics need):

- ``returns`` ``(portfolio, time)``: each portfolio's simple returns;
- ``weights`` ``(portfolio, instrument)``: each portfolio's weights (fractions that sum to 1);
- ``instrument_returns`` ``(instrument, time)``: the instruments' simple returns (small: one chunk).

:func:`write_book` streams a (possibly dask-backed, lazily generated) book to disk chunk by chunk;
:func:`open_book` opens it lazily (dask arrays on the zarr chunks, nothing read yet);
:func:`stage_results` / :func:`publish` write a result dataset to a scratch group next to its target
and move it into place only once every chunk is written, so that a job that fails half way never
leaves a partial result where a complete one is expected.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Any, cast

import dask.array as da
import numpy as np
import xarray as xr
import zarr

from toolkit.errors import DataError, NotFoundError
from toolkit.schema import INSTRUMENT, PORTFOLIO, TIME

#: portfolios per chunk when the caller gives none: 10,000 x 2,520 days of float64 is 200 MB, a job's task
#: (benchmarks/scale.py: on 100,000 portfolios the report and risk take 2.9 CPU-seconds at 10,000 a chunk
#: against 4.3 at 2,000, and 5.0-7.5 before the tasks were a chunk each)
CHUNK = 10_000
#: the most bytes of a result variable in one chunk: results are small beside the book (a report is
#: 121 months a portfolio against 2,520 days), and each chunk written costs a few milliseconds, so a
#: result chunk gathers several of the book's chunks (20,000 portfolios: 1 write a variable, not 10)
RESULT_CHUNK_BYTES = 32 * 2**20
#: the bytes of returns a job's task reads (:func:`open_book`'s ``task_bytes``): a book's chunks are gathered
#: to about this (a task's fixed cost, a few milliseconds on the scheduler and the worker, is then under 5%
#: of its reading and computing)
TASK_BYTES = 200 * 2**20
#: the tasks' worth of chunks read ahead (into the page cache) when a task maps its own
PREFETCH = 2
#: the variables of a book and their dimensions
LAYOUT = {"returns": (PORTFOLIO, TIME), "weights": (PORTFOLIO, INSTRUMENT), "instrument_returns": (INSTRUMENT, TIME)}


def book_dataset(returns: xr.DataArray, weights: xr.DataArray | None = None,
                 instrument_returns: xr.DataArray | None = None, chunk: int = CHUNK) -> xr.Dataset:
    """The dataset of a book, chunked along ``portfolio`` (``chunk`` portfolios a chunk, whole
    histories in each), its arrays left lazy when they are.

    Parameters
    ----------
    returns : xr.DataArray, (portfolio, time)
        The portfolios' simple returns.
    weights : xr.DataArray, (portfolio, instrument), optional
        The portfolios' weights.
    instrument_returns : xr.DataArray, (instrument, time), optional
        The instruments' simple returns.
    chunk : int, default 10,000
        Portfolios per chunk.

    Returns
    -------
    xr.Dataset
        ``returns``, and ``weights`` and ``instrument_returns`` when given, chunked as they are written.
    """
    if not isinstance(chunk, int) or isinstance(chunk, bool) or chunk < 1:
        raise DataError(f"chunk is {chunk!r}; give the portfolios per chunk as a whole number of at least 1.")
    arrays = {"returns": returns, "weights": weights, "instrument_returns": instrument_returns}
    found = {}
    for name, array in arrays.items():
        if array is None:
            continue
        dims = LAYOUT[name]
        if set(array.dims) != set(dims):
            raise DataError(f"{name} has dimensions {list(array.dims)}; a book's {name} is over {list(dims)}.")
        array = array.transpose(*dims).astype(float)
        if INSTRUMENT in array.coords:  # variable-length strings: zarr 3 has no stable fixed-width unicode type
            array = array.assign_coords({INSTRUMENT: array[INSTRUMENT].values.astype(str).astype(object)})
        sizes = {d: (chunk if d == PORTFOLIO else -1) for d in dims}
        found[name] = array.chunk(sizes).rename(name)
    return xr.Dataset(found)


def write_book(path: str | Path, returns: xr.DataArray, weights: xr.DataArray | None = None,
               instrument_returns: xr.DataArray | None = None, chunk: int = CHUNK) -> Path:
    """Write a book to a zarr group at ``path`` (replaced if there), chunk by chunk: a dask-backed
    input is computed one chunk at a time by the current dask scheduler, never whole.

    Parameters
    ----------
    path : str or Path
        The zarr group (a folder).
    returns, weights, instrument_returns, chunk
        As :func:`book_dataset`.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    data = book_dataset(returns, weights, instrument_returns, chunk)
    staged = _scratch(path)
    try:
        data.to_zarr(staged, mode="w", compute=True, consolidated=False, encoding=_uncompressed(data))
        publish(staged, path)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    return path


def open_book(path: str | Path, task_bytes: int | None = None) -> xr.Dataset:
    """A book written by :func:`write_book`, opened lazily: dask arrays on its zarr chunks.

    Parameters
    ----------
    path : str or Path
        The zarr group.
    task_bytes : int, optional
        Gather consecutive stored chunks into dask chunks of about this many bytes of the widest variable
        along ``portfolio`` (the jobs of :mod:`toolkit.workspace.jobs` ask :data:`TASK_BYTES`: fewer, larger
        tasks); by default a dask chunk is a stored chunk.

    Returns
    -------
    xr.Dataset
        ``returns`` ``(portfolio, time)`` and, when written, ``weights`` ``(portfolio, instrument)``
        and ``instrument_returns`` ``(instrument, time)``; nothing is read until computed.
    """
    path = Path(path)
    if not path.exists():
        raise NotFoundError(f"No book at {path}; write one with toolkit.store.books.write_book.")
    data = xr.open_zarr(path, chunks={}, consolidated=False)
    widest = max((v.dtype.itemsize * int(np.prod([c[0] for c in v.chunks])) for v in data.data_vars.values()
                  if PORTFOLIO in v.dims and v.chunks), default=1)
    per = max(1, (task_bytes or 0) // widest)  # stored chunks a task, the same for every variable along portfolio
    return data.assign({name: _direct(path, str(name), var, per if PORTFOLIO in var.dims else 1)
                        for name, var in data.data_vars.items()})


def _direct(path: Path, name: str, var: xr.DataArray, per: int = 1) -> xr.DataArray:
    """``var`` read straight from its chunk files when zarr stores them as raw little-endian floats in C
    order (as :func:`write_book` and :func:`stage_results` write them: no compressor, no filter, no
    sharding): each chunk file memory-mapped (``numpy.memmap``), so a task computes on the page cache's
    pages themselves, with no copy and no fresh memory to fault in. 400 MB from the page cache, summed:
    0.03 s mapped against 0.12 s with ``numpy.fromfile`` (most of it the kernel zeroing and copying
    pages), 0.28 s for ``zarr.Array[:]`` and 0.46 s through xarray; 2 GB not in the page cache: 2.1 s
    mapped against 3.5 s with ``numpy.fromfile``. ``per`` consecutive stored chunks make one dask
    chunk (joined by one copy). Anything else is left to zarr. A chunk zarr did not write (all fill
    value) is the fill value."""
    if var.chunks is None or var.dtype.kind != "f" or {"scale_factor", "add_offset"} & set(var.encoding):
        return var
    try:
        array = zarr.open_array(path / name, mode="r")
    except Exception:  # noqa: BLE001 - not a plain array of this group: zarr reads it
        return var
    plain = (array.metadata.zarr_format == 3 and not array.compressors and not array.filters
             and array.shards is None and array.order == "C" and array.dtype == var.dtype
             and type(array.serializer).__name__ == "BytesCodec"
             and getattr(getattr(array.serializer, "endian", None), "value", None) == "little"
             and all(c[:-1] == (n,) * (len(c) - 1) for c, n in zip(var.data.chunks, array.chunks)))
    if not plain:
        return var
    # the readers below are pickled into every task: they hold small values only, never ``var`` (its index)
    dtype, full, fill, kind = np.dtype(var.dtype).newbyteorder("<"), tuple(array.chunks), array.fill_value, var.dtype
    encode, folder = cast(Any, array.metadata).chunk_key_encoding.encode_chunk_key, path / name
    stored = var.data.chunks
    lead = stored[0]
    chunks = (tuple(sum(lead[i:i + per]) for i in range(0, len(lead), per)), *stored[1:])

    def stored_chunk(where: tuple[int, ...], shape: tuple[int, ...]) -> np.ndarray:
        file = folder / encode(where)
        if not file.exists():
            return np.full(shape, fill, dtype=kind)
        # mapped, not read: the page cache's pages themselves (no copy, no fresh memory to zero)
        block = np.memmap(file, dtype=dtype, mode="r", shape=full).view(np.ndarray)  # edge chunks are stored whole
        return block[tuple(slice(0, n) for n in shape)].astype(kind, copy=False)

    def read(block_info: dict | None = None) -> np.ndarray:
        info = (block_info or {})[None]
        where = tuple(info["chunk-location"])
        first = where[0] * per
        parts = [stored_chunk((i, *where[1:]), (lead[i], *info["chunk-shape"][1:]))
                 for i in range(first, min(first + per, len(lead)))]
        ahead = range(first + per, min(first + per * (1 + PREFETCH), len(lead)))
        _prefetch([folder / encode((i, *where[1:])) for i in ahead])
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    data = da.map_blocks(read, chunks=chunks, dtype=var.dtype, meta=np.empty((0,) * var.ndim, var.dtype),
                         name=f"book-{name}-{per}-{da.core.tokenize(str(folder), var.data.name)}")
    return var.copy(data=data)


def _prefetch(files: list[Path]) -> None:
    """Ask the kernel to start reading ``files`` into the page cache (``posix_fadvise(WILLNEED)``: it
    returns at once), so that the next tasks' chunks arrive from the disk while this one computes."""
    for file in files:
        try:
            fd = os.open(file, os.O_RDONLY)
        except OSError:  # a chunk zarr did not write: nothing to read
            continue
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
        finally:
            os.close(fd)


def _uncompressed(data: xr.Dataset) -> dict[str, dict]:
    """No compressor on the float arrays: daily float64 returns barely compress (zstd saves a few
    per cent of the bytes) while decoding them costs more time than reading them."""
    return {str(name): {"compressors": None} for name, v in data.data_vars.items() if v.dtype.kind == "f"}


def _scratch(target: Path) -> Path:
    return target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.partial")


def stage_results(result: xr.Dataset, target: str | Path) -> tuple[Any, Path]:
    """The (not yet computed) write of ``result`` to a scratch zarr group next to ``target``.

    Computing the returned delayed object (``dask.compute``, or ``client.compute`` on a cluster)
    writes each chunk of ``result`` as soon as it is computed (the dask chunks are the zarr chunks:
    region writes, never the whole result in memory; the result's chunks gather several of the book's,
    up to :data:`RESULT_CHUNK_BYTES` a variable); then :func:`publish` moves the group into place.

    Parameters
    ----------
    result : xr.Dataset
        Lazy (or in-memory) results.
    target : str or Path
        Where the results belong.

    Returns
    -------
    tuple
        ``(delayed, scratch)``: the dask delayed write and the scratch group's path.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = _scratch(target)
    result = _coarser(result)
    for name in list(result.variables):
        result[name].encoding.pop("chunks", None)  # the dask chunks decide, not those of a zarr it came from
    return result.to_zarr(staged, mode="w", compute=False, consolidated=False, encoding=_uncompressed(result)), staged


def _coarser(result: xr.Dataset) -> xr.Dataset:
    """``result`` rechunked along ``portfolio`` to whole multiples of its largest chunk, up to
    :data:`RESULT_CHUNK_BYTES` for its widest variable (unchanged when that is one chunk already)."""
    lazy = [v for v in result.data_vars.values() if PORTFOLIO in v.dims and v.chunks is not None]
    if not lazy:
        return result
    base = max(max(v.chunksizes[PORTFOLIO]) for v in lazy)
    per = max(v.dtype.itemsize * v.size // v.sizes[PORTFOLIO] for v in lazy)  # bytes a portfolio
    size = max(base, RESULT_CHUNK_BYTES // max(per, 1) // base * base)
    return result if size == base else result.chunk({PORTFOLIO: size})


def publish(staged: str | Path, target: str | Path) -> Path:
    """Move a completely written scratch group to ``target`` (replacing what was there)."""
    staged, target = Path(staged), Path(target)
    if target.exists():
        old = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.old")
        target.rename(old)
        staged.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staged.rename(target)
    return target


def discard(staged: str | Path) -> None:
    """Remove a scratch group of a write that did not finish."""
    shutil.rmtree(staged, ignore_errors=True)
