"""A returns report for a book of portfolios: toolkit.analytics vs vectorbt and per-portfolio loops.

    python benchmarks/returns_report.py [--quick] [--results PATH]

The book is 10,000 portfolios x 2,520 days (--quick: 500 portfolios): seeded random long-only
weights over the 20 stocks of data/sp500_stocks.csv, rebalanced daily, on the last 2,520 daily
returns of the shipped closes (Dec 2012 - Dec 2022). The report holds monthly returns, yearly
returns, the inception-to-date return, the annual return (CAGR over 252-day years), the annual
volatility and the maximum drawdown of every portfolio.

Ours is ``toolkit.analytics.returns`` (``cumulate`` to months, months to years, ``link``) and
``toolkit.analytics.performance.summary`` (``annual_return``, ``annual_volatility``, ``max_drawdown``
from one compiled walk along time, toolkit.analytics.kernels) on the whole (portfolio, time) array
(median of 5 runs after a warm-up). The vectorised peer is vectorbt's returns accessor on the same
book as a (time, portfolio) frame (``resample_total_return`` monthly and yearly, ``total``,
``annualized``, ``annualized_volatility``, ``max_drawdown``; 252-day years), timed in the same run,
round by round with ours and agreeing with ours to 1e-9 on every portfolio. The loop peers are what one would
write instead: a loop over portfolios calling empyrical-reloaded (``aggregate_returns`` monthly and
yearly, ``cum_returns_final``, ``annual_return``, ``annual_volatility``, ``max_drawdown``), and one
calling quantstats (``stats.monthly_returns`` with its EOY column, ``comp``, ``cagr``,
``volatility``, ``max_drawdown``). The loops are timed on the first 200 portfolios (--quick: 20)
and scaled linearly to the book, as the ``size`` field says; on those portfolios every figure must
agree with ours to 1e-9. Goals (issue 22): ours at most 0.25 s and at least 3 times faster than
vectorbt in the same run.
"""

from __future__ import annotations

import resource
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import empyrical
import numpy as np
import pandas as pd
import quantstats as qs
import vectorbt as vbt  # noqa: F401  (registers the .vbt accessor)
import xarray as xr
from common import arguments, machine, report

from toolkit.analytics import performance, returns

DATA = Path(__file__).resolve().parents[1] / "data" / "sp500_stocks.csv"
DAYS = 2_520
GOAL_S = 0.25
GOAL_RATIO = 3
TOLERANCE = 1e-9
FIELDS = ("monthly", "yearly", "itd", "annual_return", "annual_volatility", "max_drawdown")


def book(portfolios: int, seed: int = 20221230) -> xr.DataArray:
    """Daily returns (portfolio, time) of daily-rebalanced random long-only portfolios of the 20 stocks."""
    prices = pd.read_csv(DATA, index_col="time", parse_dates=True)
    stock_returns = prices.pct_change().iloc[-DAYS:]
    weights = np.random.default_rng(seed).dirichlet(np.full(prices.shape[1], 0.5), portfolios)
    return xr.DataArray(weights @ stock_returns.to_numpy().T, dims=("portfolio", "time"),
                        coords={"portfolio": np.arange(portfolios), "time": stock_returns.index.to_numpy()})


def ours(r: xr.DataArray) -> dict[str, xr.DataArray]:
    """The report for every portfolio: two compiled walks over the daily returns (months; statistics)."""
    monthly = returns.cumulate(r, "ME")
    yearly = returns.cumulate(monthly, "YE")
    stats = performance.summary(r)
    return {"monthly": monthly, "yearly": yearly, "itd": returns.link(yearly),
            "annual_return": stats["annual_return"], "annual_volatility": stats["annual_volatility"],
            "max_drawdown": stats["max_drawdown"]}


def with_vectorbt(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The report from vectorbt's returns accessor on the whole book (time, portfolio), as (portfolio, ...)."""
    accessor = frame.vbt.returns(freq="1D", year_freq="252D")  # 252 periods a year, as ours
    return {"monthly": accessor.resample_total_return("ME").to_numpy().T,
            "yearly": accessor.resample_total_return("YE").to_numpy().T, "itd": accessor.total().to_numpy(),
            "annual_return": accessor.annualized().to_numpy(),
            "annual_volatility": accessor.annualized_volatility().to_numpy(),
            "max_drawdown": accessor.max_drawdown().to_numpy()}


def with_empyrical(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    rows = []
    for _, s in frame.items():
        rows.append({"monthly": empyrical.aggregate_returns(s, "monthly").to_numpy(),
                     "yearly": empyrical.aggregate_returns(s, "yearly").to_numpy(),
                     "itd": empyrical.cum_returns_final(s), "annual_return": empyrical.annual_return(s),
                     "annual_volatility": empyrical.annual_volatility(s), "max_drawdown": empyrical.max_drawdown(s)})
    return {key: np.array([row[key] for row in rows]) for key in FIELDS}


def with_quantstats(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    rows = []
    for _, s in frame.items():
        table = qs.stats.monthly_returns(s, eoy=True, compounded=True)
        months = table.drop(columns="EOY").stack()
        traded = pd.PeriodIndex(s.index, freq="M").unique()  # quantstats fills months without data with 0
        labels = [(str(p.year), p.strftime("%b").upper()) for p in traded]
        months.index = [(str(y), m) for y, m in months.index]
        rows.append({"monthly": months.loc[labels].to_numpy(), "yearly": table["EOY"].to_numpy(),
                     "itd": qs.stats.comp(s), "annual_return": qs.stats.cagr(s),
                     "annual_volatility": qs.stats.volatility(s), "max_drawdown": qs.stats.max_drawdown(s)})
    return {key: np.array([row[key] for row in rows]) for key in FIELDS}


def check(mine: dict[str, xr.DataArray], theirs: dict[str, np.ndarray], sample: int, peer: str) -> None:
    for key in FIELDS:
        got = mine[key].isel(portfolio=slice(0, sample)).to_numpy()
        worst = float(np.max(np.abs(got - theirs[key])))
        assert worst <= TOLERANCE, f"{key} differs from {peer} by {worst:.2e}"


def side_by_side(*fns: Callable[[], dict]) -> list[tuple[dict, float, float]]:
    """(last result, median wall seconds, median CPU seconds of this process) of 5 runs after a warm-up of
    each of ``fns``, run in turn round by round so that all see the same load on the machine."""
    for fn in fns:
        fn()
    wall: list[list[float]] = [[] for _ in fns]
    cpu: list[list[float]] = [[] for _ in fns]
    out: list[dict] = [{} for _ in fns]
    for _ in range(5):
        for k, fn in enumerate(fns):
            start, start_cpu = time.perf_counter(), time.process_time()
            out[k] = fn()
            wall[k].append(time.perf_counter() - start)
            cpu[k].append(time.process_time() - start_cpu)
    return [(result, statistics.median(w), statistics.median(c)) for result, w, c in zip(out, wall, cpu, strict=True)]


def run(portfolios: int, sample: int) -> list[dict]:
    r = book(portfolios)
    whole = r.to_pandas().T
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (mine, ours_s, ours_cpu), (vectorised, vbt_s, vbt_cpu) = side_by_side(
            lambda: {key: value.compute() for key, value in ours(r).items()}, lambda: with_vectorbt(whole))
    check(mine, vectorised, portfolios, "vectorbt")
    print(f"CPU time of this process (median): ours {ours_cpu:.3f} s, vectorbt {vbt_cpu:.3f} s "
          f"({vbt_cpu / ours_cpu:.1f}x); wall time is in the table")
    frame = r.isel(portfolio=slice(0, sample)).to_pandas().T
    size = (f"{portfolios:,} portfolios x {r.sizes['time']:,} days; peer timed on {sample:,} portfolios and "
            f"scaled x{portfolios / sample:g}")
    rows = [{"name": "returns report vs vectorbt", "size": f"{portfolios:,} portfolios x {r.sizes['time']:,} days; "
             "peer on the whole book", "ours_s": round(ours_s, 4),
             "peer": f"vectorbt {vbt.__version__} returns accessor on the (time, portfolio) frame",
             "peer_s": round(vbt_s, 3), "ratio": round(ours_s / vbt_s, 6),
             "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
             "machine": machine()}]
    for peer, loop in (("empyrical-reloaded", with_empyrical), ("quantstats", with_quantstats)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            theirs = loop(frame)
            peer_s = (time.perf_counter() - start) * portfolios / sample
        check(mine, theirs, sample, peer)
        rows.append({"name": f"returns report vs {peer} loop", "size": size, "ours_s": round(ours_s, 4),
                     "peer": f"per-portfolio loop over {peer} ({sample:,} portfolios, scaled)",
                     "peer_s": round(peer_s, 3), "ratio": round(ours_s / peer_s, 6),
                     "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                     "machine": machine()})
    return rows


def main() -> None:
    args = arguments(__doc__, "returns_report", "500 portfolios, peers on 20 (smoke run)")
    portfolios, sample = (500, 20) if args.quick else (10_000, 200)
    rows = run(portfolios, sample)
    print(f"{rows[1]['size']}; all figures agree to {TOLERANCE:g} with both loops on the {sample:,} portfolios "
          f"and with vectorbt on all {portfolios:,}")
    report(rows, args.results)
    if not args.quick:
        speedup = rows[0]["peer_s"] / rows[0]["ours_s"]
        met = rows[0]["ours_s"] <= GOAL_S and speedup >= GOAL_RATIO
        print(f"goal: at most {GOAL_S:g} s and {GOAL_RATIO}x vectorbt: {'met' if met else 'MISSED'} "
              f"({rows[0]['ours_s']:.3f} s, {speedup:,.1f}x); peak RSS {rows[-1]['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
