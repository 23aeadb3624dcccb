"""Brinson-Fachler attribution by sector for a whole book over ten years, linked, against a pandas loop per portfolio.

    python benchmarks/attribution.py [--quick] [--results PATH]

Input: the monthly returns (compounded from the daily closes) of the 20 skfolio stocks in
data/sp500_stocks.csv over the 120 months to December 2022, grouped by their GICS sector
(data/instruments.csv: 7 sectors); 10,000 portfolios (--quick: 1,000) whose beginning-of-month
weights are seeded random long-only mixes (Dirichlet(1), a new mix every month), and one
benchmark likewise.

Ours: ``toolkit.analytics.attribution.brinson`` (three effects, all portfolios and months in one
call), then ``toolkit.analytics.linking.link`` by Carino and by GRAP. The peer is what a user
would write with pandas: per portfolio, sector sums with ``DataFrame.groupby``, the
Brinson-Fachler effects per month, and the linking coefficients; timed on 100 portfolios
(--quick: 10) and scaled linearly. Both must agree on every linked effect to 1e-12. Our time is
the median of 3 runs after a warm-up; the Brinson step is timed once per row, with its linking.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from common import arguments, report, row, timed

from toolkit.analytics.attribution import brinson
from toolkit.analytics.linking import link
from toolkit.schema import INSTRUMENT, PORTFOLIO, TIME

DATA = Path(__file__).resolve().parents[1] / "data"
MONTHS = 120
EFFECTS = ("allocation", "selection", "interaction")


def monthly_returns() -> pd.DataFrame:
    """The last ``MONTHS`` calendar-month returns of the 20 stocks (month end x stock)."""
    prices = pd.read_csv(DATA / "sp500_stocks.csv", index_col="time", parse_dates=True)
    month_end = prices.resample("ME").last()
    return month_end.pct_change().iloc[-MONTHS:]


def sectors(columns: pd.Index) -> pd.Series:
    table = pd.read_csv(DATA / "instruments.csv").drop_duplicates("symbol").set_index("symbol")
    return table["sector"].reindex(columns)


def book(count: int, returns: pd.DataFrame, seed: int) -> np.ndarray:
    """(count, months, stocks) seeded Dirichlet(1) weights, a new mix each month."""
    return np.random.default_rng(seed).dirichlet(np.ones(returns.shape[1]), (count, len(returns)))


# --------------------------------------------------------------------------- the peer: a pandas loop


def carino_factors(rp: pd.Series, rb: pd.Series) -> pd.Series:
    k = (np.log1p(rp) - np.log1p(rb)) / (rp - rb)
    total_p, total_b = rp.add(1).prod() - 1, rb.add(1).prod() - 1
    return k / ((np.log1p(total_p) - np.log1p(total_b)) / (total_p - total_b))


def grap_factors(rp: pd.Series, rb: pd.Series) -> pd.Series:
    before = rp.add(1).cumprod().shift(1, fill_value=1.0)
    after = rb.add(1)[::-1].cumprod()[::-1].shift(-1, fill_value=1.0)
    return before * after


def pandas_loop(weights: np.ndarray, returns: pd.DataFrame, benchmark: np.ndarray, groups: pd.Series,
                factors) -> list[pd.DataFrame]:
    """Per portfolio: linked allocation, selection, interaction per sector (sector x effect)."""
    bench_w = pd.DataFrame(benchmark, index=returns.index, columns=returns.columns)
    Wb = bench_w.T.groupby(groups).sum().T
    Bb = (bench_w * returns).T.groupby(groups).sum().T
    rb_sector, rb = Bb / Wb, Bb.sum(axis=1)
    out = []
    for w in weights:
        frame = pd.DataFrame(w, index=returns.index, columns=returns.columns)
        wp = frame.T.groupby(groups).sum().T
        cp = (frame * returns).T.groupby(groups).sum().T
        rp_sector, rp = cp / wp, cp.sum(axis=1)
        effects = {"allocation": (wp - Wb).mul(rb_sector.sub(rb, axis=0)),
                   "selection": Wb * (rp_sector - rb_sector),
                   "interaction": (wp - Wb) * (rp_sector - rb_sector)}
        k = factors(rp, rb)
        out.append(pd.DataFrame({name: e.mul(k, axis=0).sum() for name, e in effects.items()}))
    return out


# --------------------------------------------------------------------------- the run


def run(count: int, sample: int) -> list[dict]:
    returns = monthly_returns()
    groups = sectors(returns.columns)
    weights = book(count, returns, 20221231)
    benchmark = book(1, returns, 19900101)[0]
    coords = {TIME: returns.index, INSTRUMENT: list(returns.columns)}
    r = xr.DataArray(returns.to_numpy().T, dims=(INSTRUMENT, TIME), coords=coords)
    r = r.assign_coords(sector=(INSTRUMENT, groups.to_numpy()))
    w = xr.DataArray(weights, dims=(PORTFOLIO, TIME, INSTRUMENT), coords={PORTFOLIO: np.arange(count), **coords})
    W = xr.DataArray(benchmark, dims=(TIME, INSTRUMENT), coords=coords)
    size = (f"{count:,} portfolios x 20 stocks (7 sectors) x {MONTHS} months; peer timed on {sample:,} "
            f"portfolios and scaled x{count / sample:g}")
    rows = []
    for method, factors in (("carino", carino_factors), ("grap", grap_factors)):
        ours, ours_s = timed(lambda method=method: link(brinson(w, r, W, "sector"), method))
        pandas_loop(weights[:1], returns, benchmark, groups, factors)  # warm-up
        start = time.perf_counter()
        theirs = pandas_loop(weights[:sample], returns, benchmark, groups, factors)
        peer_s = (time.perf_counter() - start) * count / sample
        for p, frame in enumerate(theirs):
            got = ours.isel({PORTFOLIO: p}).sel(segment=list(frame.index))
            for name in EFFECTS:
                np.testing.assert_allclose(got[name].values, frame[name].to_numpy(), rtol=1e-10, atol=1e-12,
                                           err_msg=f"{method} {name} portfolio {p}")
        rows.append(row(f"Brinson-Fachler by sector, {MONTHS} months linked by {method.upper()}", size, ours_s,
                        f"pandas groupby loop per portfolio ({sample:,} portfolios, scaled)", peer_s))
    return rows


def main() -> None:
    args = arguments(__doc__, "attribution", "1,000 portfolios (peer on 10)")
    count, sample = (1_000, 10) if args.quick else (10_000, 100)
    rows = run(count, sample)
    print("linked effects agree with the pandas loop on the timed portfolios")
    report(rows, args.results)
    if not args.quick:
        print(f"{1 / max(r['ratio'] for r in rows):.0f}x faster at worst; peak RSS {rows[-1]['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
