"""A returns report for a book of portfolios: toolkit.analytics in one call vs per-portfolio loops.

    python benchmarks/returns_report.py [--quick] [--results PATH]

The book is 10,000 portfolios x 2,520 days (--quick: 500 portfolios): seeded random long-only
weights over the 20 stocks of data/sp500_stocks.csv, rebalanced daily, on the last 2,520 daily
returns of the shipped closes (Dec 2012 - Dec 2022). The report holds monthly returns, yearly
returns, the inception-to-date return, the annual return (CAGR over 252-day years), the annual
volatility and the maximum drawdown of every portfolio.

Ours is ``toolkit.analytics.returns`` (``cumulate`` to months, months to years, ``link``) and
``toolkit.analytics.performance`` (``annual_return``, ``annual_volatility``, ``max_drawdown``) on the
whole (portfolio, time) array (median of 3 runs after a warm-up). The peers are what one would
write instead: a loop over portfolios calling empyrical-reloaded (``aggregate_returns`` monthly and
yearly, ``cum_returns_final``, ``annual_return``, ``annual_volatility``, ``max_drawdown``), and one
calling quantstats (``stats.monthly_returns`` with its EOY column, ``comp``, ``cagr``,
``volatility``, ``max_drawdown``). The loops are timed on the first 200 portfolios (--quick: 20)
and scaled linearly to the book, as the ``size`` field says; on those portfolios every figure must
agree with ours to 1e-9. Goal: ours at most 1 s and at least 600 times faster than the empyrical loop.
"""

from __future__ import annotations

import resource
import statistics
import time
import warnings
from pathlib import Path

import empyrical
import numpy as np
import pandas as pd
import quantstats as qs
import xarray as xr
from common import arguments, machine, report

from toolkit.analytics import performance, returns

DATA = Path(__file__).resolve().parents[1] / "data" / "sp500_stocks.csv"
DAYS = 2_520
GOAL_S = 1.0
GOAL_RATIO = 600
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
    """The report for every portfolio in one pass of library calls."""
    monthly = returns.cumulate(r, "ME")
    yearly = returns.cumulate(monthly, "YE")
    return {"monthly": monthly, "yearly": yearly, "itd": returns.link(yearly),
            "annual_return": performance.annual_return(r), "annual_volatility": performance.annual_volatility(r),
            "max_drawdown": performance.max_drawdown(r)}


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
        assert worst <= TOLERANCE, f"{key} differs from the {peer} loop by {worst:.2e}"


def run(portfolios: int, sample: int) -> list[dict]:
    r = book(portfolios)
    ours(r)  # warm-up
    times = []
    for _ in range(3):
        start = time.perf_counter()
        mine = {key: value.compute() for key, value in ours(r).items()}
        times.append(time.perf_counter() - start)
    ours_s = statistics.median(times)
    frame = r.isel(portfolio=slice(0, sample)).to_pandas().T
    size = (f"{portfolios:,} portfolios x {r.sizes['time']:,} days; peer timed on {sample:,} portfolios and "
            f"scaled x{portfolios / sample:g}")
    rows = []
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
    print(f"{rows[0]['size']}; all figures agree to {TOLERANCE:g} with both loops on the {sample:,} portfolios")
    report(rows, args.results)
    if not args.quick:
        speedup = rows[0]["peer_s"] / rows[0]["ours_s"]
        met = rows[0]["ours_s"] <= GOAL_S and speedup >= GOAL_RATIO
        print(f"goal: at most {GOAL_S:g} s and {GOAL_RATIO}x the empyrical loop: {'met' if met else 'MISSED'} "
              f"({rows[0]['ours_s']:.3f} s, {speedup:,.0f}x); peak RSS {rows[-1]['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
