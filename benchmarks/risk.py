"""Risk analytics for a whole universe and a whole book in one call, against per-series loops of the peers.

    python benchmarks/risk.py [--quick] [--results PATH]

The returns are the last 2,520 daily returns (10 years to 2022-12-28) of the 20 skfolio stocks in
data/sp500_stocks.csv.

1. VaR, CVaR and volatility at 3 levels (0.9, 0.95, 0.975) x 3 horizons (day, week, month) for
   500 instruments (--quick: 100), each a seeded random long-only mix of the 20 stocks, so the
   data stay real-derived. Ours is ``toolkit.analytics.risk.risk_summary`` in one call (weekly and
   monthly returns compounded inside it). The peer is the loop one would write with
   empyrical-reloaded: per instrument, pandas resampling to W-FRI / ME and
   ``empyrical.value_at_risk``, ``conditional_value_at_risk`` and ``annual_volatility``. It is
   timed on 100 instruments (--quick: 20) and scaled linearly. VaR and volatility must agree with
   empyrical to 1e-10; CVaR (empyrical averages whole tail returns, ours is the Acerbi-Tasche
   estimator) must agree with riskfolio-lib's ``CVaR_Hist`` on the same series.
2. Euler risk contributions to volatility and to CVaR (3 levels) for 10,000 portfolios
   (--quick: 1,000) of seeded random long-only weights over the 20 stocks. Ours is
   ``volatility_contributions`` / ``cvar_contributions`` in one call; the peer is a loop of
   riskfolio-lib's ``Risk_Contribution`` (``rm="MV"``; ``rm="CVaR"`` once per level), timed on 100
   portfolios (--quick: 10) and scaled; both must agree to 1e-6 relative (riskfolio takes
   central finite differences).

Our time is the median of 3 runs after a warm-up. The goal is a ratio of at most 0.01 (100x).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from common import arguments, report, row, timed

from toolkit.analytics.risk import LEVELS, risk_summary
from toolkit.analytics.risk_portfolio import cvar_contributions, volatility_contributions
from toolkit.schema import INSTRUMENT, PORTFOLIO, TIME

DATA = Path(__file__).resolve().parents[1] / "data" / "sp500_stocks.csv"
DAYS = 2520
GOAL = 0.01
PERIOD = {"day": "daily", "week": "weekly", "month": "monthly"}
OFFSET = {"week": "W-FRI", "month": "ME"}


def stock_returns() -> pd.DataFrame:
    """The last ``DAYS`` simple daily returns of the 20 stocks (time x stock)."""
    prices = pd.read_csv(DATA, index_col="time", parse_dates=True)
    return prices.pct_change().iloc[-DAYS:]


def mixes(count: int, n: int, seed: int, name: str) -> xr.DataArray:
    """``count`` seeded random long-only weight vectors over ``n`` stocks (Dirichlet(1))."""
    w = np.random.default_rng(seed).dirichlet(np.ones(n), count)
    return xr.DataArray(w, dims=(name, INSTRUMENT), coords={name: np.arange(count)})


def empyrical_loop(frame: pd.DataFrame) -> dict[tuple[str, str], np.ndarray]:
    """Per instrument and horizon: VaR, CVaR (empyrical's), annualised volatility, as arrays."""
    import empyrical

    out: dict[tuple[str, str], list] = {}
    for name in frame.columns:
        daily = frame[name]
        for horizon in PERIOD:
            x = daily if horizon == "day" else (1 + daily).resample(OFFSET[horizon]).prod() - 1
            x = x.to_numpy()
            out.setdefault(("var", horizon), []).append([-empyrical.value_at_risk(x, 1 - c) for c in LEVELS])
            out.setdefault(("cvar", horizon), []).append(
                [-empyrical.conditional_value_at_risk(x, 1 - c) for c in LEVELS])
            out.setdefault(("volatility", horizon), []).append(empyrical.annual_volatility(x, PERIOD[horizon]))
    return {key: np.array(value) for key, value in out.items()}


def universe(count: int, sample: int, stocks: pd.DataFrame) -> dict:
    import riskfolio as rp

    weights = mixes(count, stocks.shape[1], 20221228, INSTRUMENT + "_")
    returns = xr.DataArray(stocks.to_numpy(), dims=(TIME, "stock"), coords={TIME: stocks.index})
    returns = xr.dot(returns, weights.rename({INSTRUMENT: "stock"}), dim="stock").rename({INSTRUMENT + "_": INSTRUMENT})
    returns = returns.transpose(INSTRUMENT, TIME).assign_coords({INSTRUMENT: [f"mix{i}" for i in range(count)]})
    ours, ours_s = timed(lambda: risk_summary(returns, LEVELS, tuple(PERIOD), annualise=True))
    frame = returns.isel({INSTRUMENT: slice(0, sample)}).to_pandas().T
    empyrical_loop(frame.iloc[:, :1])  # warm-up: imports and first-call caches are not timed
    start = time.perf_counter()
    theirs = empyrical_loop(frame)
    peer_s = (time.perf_counter() - start) * count / sample
    head = ours.isel({INSTRUMENT: slice(0, sample)})
    for horizon in PERIOD:
        h = head.sel(horizon=horizon)
        np.testing.assert_allclose(h["var"].values, theirs["var", horizon], rtol=1e-10, err_msg="VaR")
        np.testing.assert_allclose(h["volatility"].values, theirs["volatility", horizon], rtol=1e-10)
        series = frame if horizon == "day" else (1 + frame).resample(OFFSET[horizon]).prod() - 1
        cvar = [[rp.CVaR_Hist(series[c].to_numpy(), alpha=round(1 - lv, 12)) for lv in LEVELS] for c in frame]
        np.testing.assert_allclose(h["cvar"].values, cvar, rtol=1e-10, err_msg="CVaR vs riskfolio CVaR_Hist")
    size = (f"{count:,} instruments (random long-only mixes of the 20 stocks) x {DAYS:,} days, 3 levels x "
            f"3 horizons; peer timed on {sample:,} instruments and scaled x{count / sample:g}")
    return row("VaR, CVaR, volatility: 3 levels x 3 horizons", size, ours_s,
               f"empyrical-reloaded loop per instrument, pandas resampling ({sample:,} instruments, scaled)", peer_s)


def book(count: int, sample: int, stocks: pd.DataFrame) -> list[dict]:
    import riskfolio as rp

    returns = xr.DataArray(stocks.to_numpy().T, dims=(INSTRUMENT, TIME),
                           coords={INSTRUMENT: list(stocks.columns), TIME: stocks.index})
    weights = mixes(count, stocks.shape[1], 20230101, PORTFOLIO).assign_coords({INSTRUMENT: list(stocks.columns)})
    size = (f"{count:,} portfolios x 20 stocks x {DAYS:,} days; peer timed on {sample:,} portfolios and "
            f"scaled x{count / sample:g}")
    rows = []
    cases: list[tuple[str, Callable[[], xr.Dataset], list[tuple[str, float | None]]]] = [
        ("volatility contributions", lambda: volatility_contributions(returns, weights), [("MV", None)]),
        ("CVaR contributions at 3 levels", lambda: cvar_contributions(returns, weights, LEVELS),
         [("CVaR", level) for level in LEVELS])]
    for name, ours_fn, measures in cases:
        ours, ours_s = timed(ours_fn)

        def peer(rows: np.ndarray, measures: list[tuple[str, float | None]] = measures) -> list:
            return [[rp.Risk_Contribution(w, stocks, rm=rm, alpha=0.05 if level is None else round(1 - level, 12))
                     for rm, level in measures] for w in rows]

        peer(weights.values[:1])  # warm-up
        start = time.perf_counter()
        theirs = peer(weights.values[:sample])
        peer_s = (time.perf_counter() - start) * count / sample
        got = ours["contribution"].isel({PORTFOLIO: slice(0, sample)}).values
        expected = np.array(theirs).transpose(0, 2, 1)  # (portfolio, instrument, level)
        np.testing.assert_allclose(got.reshape(expected.shape), expected, rtol=1e-6, atol=1e-9, err_msg=name)
        rows.append(row(name, size, ours_s, f"riskfolio-lib Risk_Contribution loop ({sample:,} portfolios, scaled)",
                        peer_s))
    return rows


def main() -> None:
    args = arguments(__doc__, "risk", "100 instruments (peer on 20) and 1,000 portfolios (peer on 10)")
    instruments, inst_sample, portfolios, pf_sample = (100, 20, 1_000, 10) if args.quick else (500, 100, 10_000, 100)
    stocks = stock_returns()
    rows = [universe(instruments, inst_sample, stocks), *book(portfolios, pf_sample, stocks)]
    print("VaR and volatility agree with empyrical, CVaR with riskfolio CVaR_Hist, contributions with "
          "riskfolio Risk_Contribution on the timed samples")
    report(rows, args.results)
    if not args.quick:
        worst = max(r["ratio"] for r in rows)
        print(f"goal: at least {1 / GOAL:g}x faster than the peer loops: {'met' if worst <= GOAL else 'MISSED'} "
              f"(slowest {1 / worst:.0f}x); peak RSS {rows[-1]['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
