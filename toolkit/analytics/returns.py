"""The returns engine: linking, calendar periods, to-date and rolling figures, TWR and Modified Dietz.

Every function takes and returns ``xr.DataArray`` objects with a ``time`` dimension (daily or
monthly timestamps) and keeps every other dimension (``portfolio``, ``instrument``, ...): one
call serves one portfolio or 100,000, and dask-backed inputs stay lazy.

Conventions shared by the module (Bacon 2008, *Practical Portfolio Performance Measurement and
Attribution*, 2nd ed., ch. 2 and 4; GIPS 2020):

- returns are simple returns (0.01 is 1 %); periods are linked geometrically, ``prod(1 + r) - 1``;
- NaN is a missing observation: linking skips it (a flat day); a window with no observation at
  all is NaN, never 0;
- calendar periods are labelled by their calendar ultimo (2021-03-31 for Q1 2021, even when
  the last data day is 2021-03-30);
- day counts are calendar days.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from datetime import date
from typing import Any, cast

import numpy as np
import pandas as pd
import xarray as xr

from toolkit.analytics.kernels import period_growth
from toolkit.errors import Problem, Problems, ValidationError
from toolkit.schema import INSTRUMENT, TIME

#: calendar period offsets accepted by :func:`cumulate` and :func:`modified_dietz`
FREQS = {"ME": "M", "QE": "Q", "YE": "Y"}
#: to-date windows accepted by :func:`to_date`
KINDS = ("MTD", "QTD", "YTD", "ITD")
#: flow timings accepted by :func:`time_weighted` and :func:`modified_dietz`
TIMINGS = ("end", "start")
RELATIVE = ("arithmetic", "geometric")
#: how a refusal names the request in its message
WHAT = "returns request"


# --------------------------------------------------------------------------- validation helpers

def check_array(x: Any, name: str, dims: Iterable[Hashable] = (TIME,), problems: Problems | None = None) -> None:
    """Note (or raise at once, without ``problems``) that ``x`` is not a DataArray holding ``dims``.

    Parameters
    ----------
    x : object
        The value to check; it must be an ``xr.DataArray``.
    name : str
        Its field path in the problem (``"returns"``).
    dims : iterable of str, default ``("time",)``
        The dimensions ``x`` must hold (others are allowed).
    problems : Problems, optional
        The collector to note into; without it a ``ValidationError`` is raised at once.

    Returns
    -------
    None
    """
    own = problems is None
    if problems is None:
        problems = Problems()
    if not isinstance(x, xr.DataArray):
        problems.add(name, f"expected an xarray DataArray, got {type(x).__name__}")
    else:
        missing = [d for d in dims if d not in x.dims]
        if missing:
            problems.add(name, f"has no {', '.join(map(repr, missing))} dimension; its dimensions are "
                               f"{tuple(map(str, x.dims))}")
    if own:
        problems.raise_if_any(WHAT)


def check_choice(value: Any, choices: Iterable[str], name: str, problems: Problems | None = None) -> None:
    """Note (or raise) that ``value`` is not one of ``choices``.

    Parameters
    ----------
    value : object
        The value given.
    choices : iterable of str
        The values allowed, compared exactly.
    name : str
        Its field path in the problem.
    problems : Problems, optional
        The collector to note into; without it a ``ValidationError`` is raised at once.

    Returns
    -------
    None
    """
    choices = tuple(choices)
    if value not in choices:
        own = problems is None
        if problems is None:
            problems = Problems()
        problems.add(name, f"{value!r} is not one of {', '.join(map(repr, choices))}")
        if own:
            problems.raise_if_any(WHAT)


def _aligned(a: xr.DataArray, b: xr.DataArray, name: str, other: str) -> tuple[xr.DataArray, xr.DataArray]:
    """``a`` and ``b`` with identical labels on the dimensions they share, or a ValidationError on ``name``."""
    try:
        return xr.align(a, b, join="exact")
    except ValueError:
        shared = [d for d in a.dims if d in b.dims]
        raise ValidationError([Problem(name, f"its labels on {tuple(map(str, shared))} differ from those of "
                                              f"{other}; reindex one onto the other first")], WHAT) from None


def _time_index(x: xr.DataArray, name: str) -> pd.DatetimeIndex:
    index = x.indexes.get(TIME)
    if not isinstance(index, pd.DatetimeIndex):
        raise ValidationError([Problem(f"{name}.{TIME}", "the time coordinate must hold dates (datetime64)")], WHAT)
    return index


def _positive(value: Any, name: str, problems: Problems, integer: bool = False) -> None:
    ok = isinstance(value, (int, np.integer)) if integer else isinstance(value, (int, float, np.number))
    if isinstance(value, bool) or not ok or not np.isfinite(value) or value <= 0:
        kind = "a positive whole number" if integer else "a positive number"
        problems.add(name, f"expected {kind}, got {value!r}")


def needs_skipna(x: xr.DataArray) -> bool:
    """Whether reductions of ``x`` must skip NaN: always for dask arrays (never loaded to check),
    else only if ``x`` holds a NaN (the NaN-free path of NumPy reductions is several times faster).

    Parameters
    ----------
    x : xr.DataArray, (...)
        Any array; a dask-backed one is not computed.

    Returns
    -------
    bool
        True for dask arrays and for floating arrays that hold a NaN.
    """
    return x.chunks is not None or x.dtype.kind not in "iub" and bool(np.isnan(x.data).any())


def _per_time(values: np.ndarray, x: xr.DataArray, dim: str = TIME) -> xr.DataArray:
    """A 1-d array of per-stamp numbers laid along ``x``'s ``dim``."""
    return xr.DataArray(values, dims=dim, coords={dim: x[dim]})


# --------------------------------------------------------------------------- linking

def link(returns: xr.DataArray, dim: str = TIME, skipna: bool = True) -> xr.DataArray:
    """Geometric linking over ``dim``: ``R = prod(1 + r_t) - 1`` (Bacon 2008, ch. 2).

    NaN returns are skipped (treated as a flat period) when ``skipna``; a series with no
    observation at all links to NaN, not 0. With ``skipna=False`` any NaN gives NaN.

    Parameters
    ----------
    returns : xr.DataArray, (dim, ...)
        Simple returns (0.01 = 1 %); every other dimension is kept.
    dim : str, default ``"time"``
        The dimension linked over.
    skipna : bool, default True
        Skip NaN returns (flat periods); False makes any NaN give NaN.

    Returns
    -------
    xr.DataArray, (...)
        The linked return, ``returns`` without ``dim``.
    """
    check_array(returns, "returns", (dim,))
    if skipna and (returns.sizes[dim] == 0 or needs_skipna(returns)):
        return (1 + returns).prod(dim, skipna=True, min_count=1) - 1
    return (1 + returns).prod(dim, skipna=False) - 1


def cumulate(returns: xr.DataArray, freq: str) -> xr.DataArray:
    """Link the returns within calendar periods: months ``"ME"``, quarters ``"QE"``, years ``"YE"``.

    ``R_period = prod_{t in period}(1 + r_t) - 1``, labelled by the calendar ultimo of the period
    (the last calendar day, e.g. 2021-03-31 even if the last data day is 2021-03-30). Works on
    daily returns and on monthly ones (monthly -> quarterly or yearly). NaN is skipped; a period
    without any observation is NaN. Quarters and years are calendar ones (ending in December).
    Stamps in increasing order are linked by one compiled walk along time
    (:func:`toolkit.analytics.kernels.period_growth`); others by ``resample``.

    Parameters
    ----------
    returns : xr.DataArray, (time, ...)
        Daily or monthly simple returns over a datetime ``time``; other dimensions are kept.
    freq : {"ME", "QE", "YE"}
        Calendar months, quarters or years.

    Returns
    -------
    xr.DataArray, (time, ...)
        One linked return per calendar period, ``time`` labelled by the period's calendar ultimo.
    """
    problems = Problems()
    check_array(returns, "returns", problems=problems)
    check_choice(freq, FREQS, "freq", problems)
    problems.raise_if_any(WHAT)
    times = _time_index(returns, "returns")
    if len(times) and times.is_monotonic_increasing:  # one compiled walk over consecutive blocks of stamps
        sizes = pd.Series(0, index=times).resample(freq).size()
        linked = period_growth(returns, np.concatenate([[0], np.cumsum(sizes.to_numpy())]))
        return linked.assign_coords({TIME: sizes.index.rename(TIME)}).transpose(*returns.dims)
    periods = (1 + returns).resample({TIME: freq})
    if needs_skipna(returns):
        return periods.prod(skipna=True, min_count=1) - 1
    linked = periods.prod(skipna=False) - 1
    stamps = pd.Series(1, index=times).resample(freq).size().reindex(linked.indexes[TIME], fill_value=0)
    return linked.where(_per_time(stamps.to_numpy() > 0, linked))  # a period without any stamp is NaN


def index_values(returns: xr.DataArray, start: float = 100.0) -> xr.DataArray:
    """A value index along time: ``I_t = start * prod_{s<=t}(1 + r_s)``.

    NaN returns count as flat days (the index is carried forward), as in empyrical's
    ``cum_returns``; the index is labelled like the returns (the ``start`` value itself, before
    the first return, is not a point of the result).

    Parameters
    ----------
    returns : xr.DataArray, (time, ...)
        Simple returns; other dimensions are kept.
    start : float, default 100.0
        The index value before the first return.

    Returns
    -------
    xr.DataArray, (time, ...)
        The index at each stamp, labelled like ``returns``.
    """
    check_array(returns, "returns")
    return start * (1 + returns.fillna(0.0)).cumprod(TIME)


def _window_start(as_of: pd.Timestamp, kind: str) -> pd.Timestamp | None:
    if kind == "ITD":
        return None
    return as_of.to_period({"MTD": "M", "QTD": "Q", "YTD": "Y"}[kind]).start_time


def to_date(returns: xr.DataArray, as_of: date | str | pd.Timestamp, kind: str) -> xr.DataArray:
    """Month-, quarter-, year- or inception-to-date return up to and including ``as_of``.

    ``R = prod_{start <= t <= as_of}(1 + r_t) - 1`` where ``start`` is the first calendar day of
    ``as_of``'s month (``"MTD"``), quarter (``"QTD"``), year (``"YTD"``) or the first
    observation (``"ITD"``). Every stamp of the day ``as_of`` is included. Monthly returns
    labelled by their month end count in the window that holds that month end. NaN is skipped;
    a window without observations is NaN. Raises ValidationError if ``as_of`` precedes the data.

    Parameters
    ----------
    returns : xr.DataArray, (time, ...)
        Daily or monthly simple returns over a datetime ``time``; other dimensions are kept.
    as_of : date, str or pd.Timestamp
        The last day of the window (included whole).
    kind : {"MTD", "QTD", "YTD", "ITD"}
        The window: month, quarter, year or inception to date.

    Returns
    -------
    xr.DataArray, (...)
        The linked return of the window, ``returns`` without ``time``.
    """
    problems = Problems()
    check_array(returns, "returns", problems=problems)
    check_choice(kind, KINDS, "kind", problems)
    try:
        stamp = pd.Timestamp(as_of)
    except (TypeError, ValueError):
        stamp = None
    if stamp is None or stamp is pd.NaT:
        problems.add("as_of", f"{as_of!r} is not a date")
    problems.raise_if_any(WHAT)
    times = _time_index(returns, "returns")
    end = stamp.normalize() + pd.Timedelta(days=1)
    if len(times) == 0 or end <= times.min():
        raise ValidationError([Problem("as_of", f"{stamp.date()} precedes the first return "
                                                 f"({times.min().date() if len(times) else 'none'})")], WHAT)
    start = _window_start(stamp, kind)
    inside = times < end
    if start is not None:
        inside &= times >= start
    return link(returns.isel({TIME: np.flatnonzero(inside)}))


def rolling(returns: xr.DataArray, years: int, periods_per_year: int = 12,
            annualised: bool = True) -> xr.DataArray:
    """Trailing ``years``-year returns ending at each stamp (e.g. 1, 3, 5, 10 years).

    A window holds ``n = years * periods_per_year`` observations:
    ``R_t = prod_{s=t-n+1..t}(1 + r_s) - 1``, annualised as ``(1 + R_t)^(1/years) - 1`` when
    ``annualised``. NaN where the history is shorter than ``n`` or the window holds a NaN.
    Computed as differences of cumulative sums of ``log(1 + r)`` (exact to ~1e-14, one pass,
    lazy on dask); a return of exactly -100 % makes its windows -100 %, one below -100 % NaN.

    Parameters
    ----------
    returns : xr.DataArray, (time, ...)
        Simple returns at a regular frequency (monthly by default); other dimensions are kept.
    years : int
        The window's length in years (positive).
    periods_per_year : int, default 12
        Observations a year (12 monthly, 252 daily).
    annualised : bool, default True
        Give ``(1 + R)^(1/years) - 1`` instead of the cumulative ``R``.

    Returns
    -------
    xr.DataArray, (time, ...)
        The trailing return ending at each stamp; NaN where the window is not full.
    """
    problems = Problems()
    check_array(returns, "returns", problems=problems)
    _positive(years, "years", problems, integer=True)
    _positive(periods_per_year, "periods_per_year", problems, integer=True)
    problems.raise_if_any(WHAT)
    n = int(years) * int(periods_per_year)

    def trailing(x: xr.DataArray) -> xr.DataArray:  # sum over the last n stamps, by cumulative sums
        running = x.cumsum(TIME)
        return running - running.shift({TIME: n}, fill_value=0)

    wiped = returns == -1
    usable = returns > -1  # False for NaN and for returns at or below -100 %
    complete = trailing((usable | wiped).astype(np.int64)) == n
    # numpy's ufuncs give a DataArray for a DataArray (__array_ufunc__); their stubs say ndarray
    total = np.expm1(trailing(cast(xr.DataArray, np.log1p(returns.where(usable, 0.0)))))
    total = xr.where(trailing(wiped.astype(np.int64)) > 0, -1.0, total).where(complete)
    return annualise(total, years) if annualised else total


def annualise(total: xr.DataArray, years: float | xr.DataArray, *, short: str = "nan") -> xr.DataArray:
    """Annualised return of a cumulative return over ``years``: ``(1 + total)^(1/years) - 1``.

    GIPS (2020): a return for a period shorter than a year must not be annualised.
    ``short="nan"`` (default) gives NaN for ``years < 1``; ``short="cumulative"`` gives the
    cumulative figure unchanged. ``years`` may vary by portfolio (a DataArray) and must be >= 0.

    Parameters
    ----------
    total : xr.DataArray, (...)
        Cumulative simple returns, any dimensions.
    years : float or xr.DataArray, (...)
        The span in years (>= 0); a DataArray broadcasts against ``total`` (e.g. one per portfolio).
    short : {"nan", "cumulative"}, default "nan"
        What a span under a year gives: NaN (GIPS) or the cumulative return unchanged.

    Returns
    -------
    xr.DataArray, (...)
        The annualised return, broadcast over ``total`` and ``years``.
    """
    problems = Problems()
    check_array(total, "total", dims=(), problems=problems)
    check_choice(short, ("nan", "cumulative"), "short", problems)
    if isinstance(years, xr.DataArray):
        if not _is_lazy(years) and bool((years < 0).any()):
            problems.add("years", "must not be negative")
        span = years
    elif isinstance(years, bool) or not isinstance(years, (int, float, np.number)) or not np.isfinite(years) \
            or years < 0:
        problems.add("years", f"expected a number of years >= 0, got {years!r}")
        span = None
    else:
        span = xr.DataArray(float(years))
    problems.raise_if_any(WHAT)
    assert span is not None  # refused above
    full = span >= 1
    grown = (1 + total) ** (1 / span.where(full, 1.0)) - 1
    return grown.where(full) if short == "nan" else xr.where(full, grown, total)


def _is_lazy(x: xr.DataArray) -> bool:
    return x.chunks is not None


def relative(portfolio: xr.DataArray, benchmark: xr.DataArray, kind: str = "arithmetic") -> xr.DataArray:
    """Excess return of a portfolio over its benchmark (Bacon 2008, ch. 4).

    ``"arithmetic"``: ``r_p - r_b``; ``"geometric"``: ``(1 + r_p) / (1 + r_b) - 1``. The
    benchmark broadcasts over the portfolio's extra dimensions; shared dimensions must carry the
    same labels (no silent inner join).

    Parameters
    ----------
    portfolio : xr.DataArray, (...)
        Portfolio returns, e.g. ``(portfolio, time)``.
    benchmark : xr.DataArray, (...)
        Benchmark returns, e.g. ``(time,)``; broadcast over the portfolio's other dimensions, with the
        same labels on the shared ones.
    kind : {"arithmetic", "geometric"}, default "arithmetic"
        ``r_p - r_b`` or ``(1 + r_p) / (1 + r_b) - 1``.

    Returns
    -------
    xr.DataArray, (...)
        The excess return over the union of both inputs' dimensions.
    """
    problems = Problems()
    check_array(portfolio, "portfolio", dims=(), problems=problems)
    check_array(benchmark, "benchmark", dims=(), problems=problems)
    check_choice(kind, RELATIVE, "kind", problems)
    problems.raise_if_any(WHAT)
    p, b = _aligned(portfolio, benchmark, "benchmark", "portfolio")
    return p - b if kind == "arithmetic" else (1 + p) / (1 + b) - 1


# --------------------------------------------------------------------------- from prices

def simple_returns(prices: xr.DataArray, dim: str = TIME) -> xr.DataArray:
    """Simple returns ``r_t = p_t / p_{t-1} - 1`` along ``dim``; the first observation is dropped.

    NaN-aware: ``p_{t-1}`` is the last valid price before ``t`` (a gap of missing quotes is
    bridged, so linking the returns gives the price change over the gap); the return is NaN
    where ``p_t`` is NaN or no earlier price exists. Prices must be positive.

    Parameters
    ----------
    prices : xr.DataArray, (dim, ...)
        Positive prices (NaN where there is no quote); other dimensions are kept.
    dim : str, default ``"time"``
        The dimension along which returns are taken.

    Returns
    -------
    xr.DataArray, (dim, ...)
        The returns, one stamp shorter than ``prices`` along ``dim``.
    """
    check_array(prices, "prices", (dim,))
    previous = prices.ffill(dim).shift({dim: 1})
    return (prices / previous - 1).isel({dim: slice(1, None)})


def close_returns(close: xr.DataArray | xr.Dataset, to: str | None = None,
                  rates: xr.DataArray | None = None) -> xr.DataArray:
    """Daily simple returns of ``close (instrument, time)``, in local currency or in currency ``to``.

    With ``to``, prices are first converted at each day's ECB reference rate by
    :func:`toolkit.market.fx.convert` (``rates (time, currency)``, units per EUR; the ``currency``
    coordinate on ``instrument`` names each local currency), so the returns include the FX move.
    A market Dataset may be passed instead of its ``close``. Returns as :func:`simple_returns`.

    Parameters
    ----------
    close : xr.DataArray, (instrument, time) or xr.Dataset
        Closing prices (or a market Dataset with a ``close`` variable); a ``currency`` coordinate on
        ``instrument`` names each price's currency when converting.
    to : str, optional
        The ISO 4217 currency to convert into before taking returns; None keeps local currency.
    rates : xr.DataArray, (time, currency), optional
        ECB reference rates, units of each currency per EUR; required with ``to``.

    Returns
    -------
    xr.DataArray, (instrument, time)
        Daily simple returns, one stamp shorter than ``close``.
    """
    problems = Problems()
    if isinstance(close, xr.Dataset):
        if "close" not in close:
            problems.add("close", "the Dataset has no 'close' variable")
            problems.raise_if_any(WHAT)
        close = close["close"]
    check_array(close, "close", (INSTRUMENT, TIME), problems)
    if to is not None:
        if not isinstance(to, str):
            problems.add("to", f"expected a currency code such as 'EUR', got {type(to).__name__}")
        if rates is None:
            problems.add("rates", f"converting into {to} needs the ECB rate cube rates (time, currency)")
        if isinstance(close, xr.DataArray) and "currency" not in close.coords:
            problems.add("close.currency", "converting needs a 'currency' coordinate on instrument")
    problems.raise_if_any(WHAT)
    if to is not None:
        from toolkit.market.fx import convert

        assert rates is not None  # refused above
        close = convert(close.to_dataset(name="close"), to, rates)["close"]
    return simple_returns(close)


# --------------------------------------------------------------------------- with cash flows

def _flows_on(nav: xr.DataArray, flows: xr.DataArray, timing: str) -> tuple[xr.DataArray, xr.DataArray]:
    problems = Problems()
    check_array(nav, "nav", problems=problems)
    check_array(flows, "flows", problems=problems)
    check_choice(timing, TIMINGS, "timing", problems)
    problems.raise_if_any(WHAT)
    nav, flows = _aligned(nav, flows, "flows", "nav")
    return nav, flows.fillna(0.0)


def time_weighted(nav: xr.DataArray, flows: xr.DataArray, timing: str = "end") -> xr.DataArray:
    """Daily time-weighted returns from end-of-day values and external cash flows (Bacon 2008, ch. 2).

    ``nav (..., time)`` is the end-of-day market value (cash included); ``flows (..., time)`` the
    external flows booked that day (deposits +, withdrawals -, NaN = none).
    ``timing="end"`` (flow at the end of the day): ``r_t = (V_t - F_t) / V_{t-1} - 1``;
    ``timing="start"`` (flow at the start): ``r_t = V_t / (V_{t-1} + F_t) - 1``.
    A NaN value means the portfolio did not exist yet; the value before the first stamp and
    before inception is 0. So the funding day has no return (NaN) with ``"end"`` and the day's
    return on the deposit with ``"start"``. Any zero denominator (no invested capital) gives
    NaN, never inf. Linking the result (NaN skipped) gives the true time-weighted return.

    Parameters
    ----------
    nav : xr.DataArray, (time, ...)
        End-of-day values (cash included), NaN before inception; e.g. ``(portfolio, time)``.
    flows : xr.DataArray, (time, ...)
        External flows booked each day (deposits +, withdrawals -; NaN = none), labelled as ``nav``.
    timing : {"end", "start"}, default "end"
        Whether a flow arrives at the end or the start of its day.

    Returns
    -------
    xr.DataArray, (time, ...)
        Daily time-weighted returns; NaN where no capital was invested.
    """
    nav, flows = _flows_on(nav, flows, timing)
    before = nav.shift({TIME: 1}).fillna(0.0)
    if timing == "end":
        gain, base = nav - flows, before
    else:
        gain, base = nav, before + flows
    return gain / base.where(base != 0) - 1


def _day_weights(times: pd.DatetimeIndex, freq: str, timing: str) -> np.ndarray:
    """``w = (D - d) / D``: D calendar days in the stamp's period, d days from the period start
    to the flow (the flow's day counts as elapsed when the flow is at the end of it)."""
    days = times.normalize()
    periods = days.to_period(FREQS[freq])
    first = periods.start_time
    length = (periods.end_time.normalize() - first).days + 1
    elapsed = (days - first).days + (1 if timing == "end" else 0)
    return np.asarray((length - elapsed) / length, dtype=float)


def modified_dietz(nav: xr.DataArray, flows: xr.DataArray, freq: str = "ME", *,
                   timing: str = "end") -> xr.DataArray:
    """Modified Dietz return of each calendar period (Dietz 1966; Bacon 2008, ch. 2; GIPS).

    ``R = (V_end - V_start - sum F_i) / (V_start + sum w_i F_i)`` with ``w_i = (D - d_i) / D``,
    ``D`` the calendar days of the period and ``d_i`` the calendar days from the period's start
    to the flow: a flow at the end of its day (``timing="end"``, default) has ``d_i`` = its day
    of the period (1 on the first day), a flow at the start of its day one day less.
    ``V_end`` is the last valid value in the period, ``V_start`` the previous period's
    ``V_end`` (0 before the first stamp: a portfolio starts empty and its funding is a flow).
    Periods ``"ME"``, ``"QE"``, ``"YE"``, labelled by their calendar ultimo; a zero
    denominator gives NaN. Computed with resample over all portfolios at once.

    Parameters
    ----------
    nav : xr.DataArray, (time, ...)
        End-of-day values over a daily datetime ``time``; e.g. ``(portfolio, time)``.
    flows : xr.DataArray, (time, ...)
        External flows booked each day (NaN = none), labelled as ``nav``.
    freq : {"ME", "QE", "YE"}, default "ME"
        The calendar periods.
    timing : {"end", "start"}, default "end"
        Whether a flow arrives at the end or the start of its day.

    Returns
    -------
    xr.DataArray, (time, ...)
        One return per calendar period, ``time`` labelled by the period's calendar ultimo.
    """
    nav, flows = _flows_on(nav, flows, timing)
    problems = Problems()
    check_choice(freq, FREQS, "freq", problems)
    problems.raise_if_any(WHAT)
    weights = _per_time(_day_weights(_time_index(nav, "nav"), freq, timing), nav)
    by: dict[Hashable, str] = {TIME: freq}
    weighted = (flows * weights).resample(by).sum()
    total = flows.resample(by).sum()
    end = nav.resample(by).last()
    start = end.shift({TIME: 1}).fillna(0.0)
    base = start + weighted
    return (end - start - total) / base.where(base != 0)


def _irr_kernel(opening: np.ndarray, flows: np.ndarray, closing: np.ndarray, tau: np.ndarray,
                span: float) -> np.ndarray:
    """Growth factor g per year solving ``opening g^span + sum F_i g^tau_i = closing`` (Newton, all rows at once)."""
    opening, closing = opening[..., None], closing[..., None]
    invested = opening + flows.sum(-1, keepdims=True)
    g = np.where(invested > 0, np.clip(closing / np.where(invested > 0, invested, 1.0), 1e-3, None), 1.0)
    g = g ** (1 / max(span, 1e-12))  # start from the simple growth, spread over the span
    powers = np.concatenate([[span], tau])
    amounts = np.concatenate([opening, flows], axis=-1)
    for _ in range(100):  # iterations of Newton's method, every portfolio at once
        grown = amounts * g ** powers
        f = grown.sum(-1, keepdims=True) - closing
        slope = (grown * powers).sum(-1, keepdims=True) / g
        step = np.divide(f, slope, out=np.zeros_like(f), where=slope != 0)
        g = np.maximum(g - step, g / 10)
        if np.all(np.abs(step) <= 1e-14 * np.abs(g)):
            break
    solved = np.abs(f) <= 1e-9 * np.maximum(np.abs(amounts).sum(-1, keepdims=True), 1.0)
    return np.where(solved & (slope != 0), g, np.nan)[..., 0]


def money_weighted(nav: xr.DataArray, flows: xr.DataArray, *, annualised: bool = True) -> xr.DataArray:
    """Money-weighted return (internal rate of return) over the whole span of ``nav``.

    The return ``r`` solving ``V_0 (1 + r)^(T_0) + sum_i F_i (1 + r)^(T_i) = V_end`` (CFA
    Institute, *Quantitative Methods*, money-weighted rate of return; Bacon 2008, ch. 2), with
    ``T_i`` the calendar days from the flow to the last stamp / 365. ``V_0`` is the value at
    the first stamp (its flows are inside it) and ``V_end`` the value at the last; NaN values
    count as 0 (not yet or no longer invested), flows are at the end of their day. Per year
    when ``annualised`` (default), else over the whole span. NaN where no root is found.
    Solved by Newton's method on all portfolios at once (a dask input gets one chunk along time).

    Parameters
    ----------
    nav : xr.DataArray, (time, ...)
        End-of-day values over a daily datetime ``time`` (NaN counts as 0); e.g. ``(portfolio, time)``.
    flows : xr.DataArray, (time, ...)
        External flows at the end of their day (NaN = none), labelled as ``nav``.
    annualised : bool, default True
        A yearly rate (365-day years) instead of the return over the whole span.

    Returns
    -------
    xr.DataArray, (...)
        The internal rate of return, ``nav`` without ``time``.
    """
    nav, flows = _flows_on(nav, flows, "end")
    times = _time_index(nav, "nav").normalize()
    days = (times[-1] - times).days.to_numpy(dtype=float)
    tau, span = days[1:] / 365.0, days[0] / 365.0
    values = nav.fillna(0.0)
    later = flows.isel({TIME: slice(1, None)})
    if _is_lazy(later):
        later = later.chunk({TIME: -1})
    growth = xr.apply_ufunc(_irr_kernel, values.isel({TIME: 0}, drop=True), later, values.isel({TIME: -1}, drop=True),
                            input_core_dims=[[], [TIME], []], kwargs={"tau": tau, "span": span},
                            dask="parallelized", output_dtypes=[float])
    return growth - 1 if annualised else growth ** span - 1


def net_of_fees(gross: xr.DataArray, annual_fee: float | xr.DataArray, days_per_year: int = 365,
                dim: str = TIME, *, first_days: int | None = None) -> xr.DataArray:
    """Net returns after a fee accrued daily: ``r_net = (1 + r_gross) * (1 - f)^(days / days_per_year) - 1``.

    ``f`` is the annual fee rate (0.01 = 1 % a year; a float or a DataArray, e.g. by portfolio);
    ``days`` the calendar days since the previous observation (a Monday after a Friday accrues
    3 days; a month-end return accrues the days of its month). The first observation accrues
    ``first_days``, by default the gap to the second observation. NaN gross stays NaN.

    Parameters
    ----------
    gross : xr.DataArray, (dim, ...)
        Gross simple returns over a datetime ``dim``; other dimensions are kept.
    annual_fee : float or xr.DataArray, (...)
        The yearly fee rate in [0, 1) (0.01 = 1 % a year), e.g. one per ``portfolio``.
    days_per_year : int, default 365
        Calendar days a year the fee accrues over.
    dim : str, default ``"time"``
        The time dimension.
    first_days : int, optional
        Days the first observation accrues (default: the gap to the second).

    Returns
    -------
    xr.DataArray, (dim, ...)
        Net simple returns, broadcast over ``gross`` and ``annual_fee``.
    """
    problems = Problems()
    check_array(gross, "gross", (dim,), problems)
    _positive(days_per_year, "days_per_year", problems, integer=True)
    if first_days is not None:
        _positive(first_days, "first_days", problems, integer=True)
    if isinstance(annual_fee, xr.DataArray):
        if not _is_lazy(annual_fee) and bool(((annual_fee < 0) | (annual_fee >= 1)).any()):
            problems.add("annual_fee", "every fee rate must be in [0, 1), e.g. 0.01 for 1 % a year")
    elif isinstance(annual_fee, bool) or not isinstance(annual_fee, (int, float, np.number)) \
            or not 0 <= annual_fee < 1:
        problems.add("annual_fee", f"expected a fee rate in [0, 1), e.g. 0.01 for 1 % a year, got {annual_fee!r}")
    problems.raise_if_any(WHAT)
    times = gross.indexes.get(dim)
    if not isinstance(times, pd.DatetimeIndex):
        raise ValidationError([Problem(f"gross.{dim}", "the coordinate must hold dates (datetime64)")], WHAT)
    gaps = np.diff(times.normalize().to_numpy()) / np.timedelta64(1, "D")
    first = first_days if first_days is not None else (gaps[0] if len(gaps) else 1.0)
    days = _per_time(np.concatenate([[float(first)], gaps]), gross, dim)
    return (1 + gross) * (1 - annual_fee) ** (days / days_per_year) - 1
