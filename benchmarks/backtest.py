"""Backtests: toolkit.backtest.simulate beside vectorbt 1.2 and bt 1.4 on the same closes, with the same NAVs.

    python benchmarks/backtest.py [--quick] [--results PATH]

Market: 50 instruments x 10 years of real daily closes from data/sp500_stocks.csv (skfolio's 20 S&P 500
stocks): the 20 stocks' 2,516 closes of 2013-01-02 - 2022-12-28, the same 20 stocks' last 2,516 closes to
2012-12-31, and the first 10 stocks' last 2,516 closes to 2002-12-31, the earlier two re-dated onto the
2013-2022 trading days (the shipped file has 20 stocks: three decades give 50 real price paths on one
calendar). Target weights: a seeded Dirichlet(1) draw per portfolio. --quick: 10 instruments x 2 years,
20 portfolios.

Rows (capital 1e6, fractional units, no costs: the conventions the three share):

- "monthly" (first trading day of each month) and "5% band" (a line more than 5% of its target away from
  it, bt's ``RunIfOutOfBounds(0.05)``), one portfolio. Ours: ``simulate`` with its per-line output
  (units and weights). vectorbt: ``Portfolio.from_orders`` with target percents on the rebalance days
  (a first-trading-day calendar computed by pandas), one group with cash sharing and ``call_seq="auto"``
  (sells before buys); the band through ``Portfolio.from_order_func`` with a compiled drift check per
  day (vectorbt has no band of its own). bt: its algos. Each row is timed against vectorbt and against bt;
  the script asserts the three NAV series agree to 1e-9 of the capital.
- "1,000 portfolios x 3 strategies" (monthly, 5% band, quarterly or 10% band) in one call, with
  ``lines=False`` (per-run NAV, cash, turnover, traded value and costs: the per-line units and weights of
  3,000 runs x 2,516 days x 50 instruments would be 3 GB each). Goal: at most 10 s. The peer is vectorbt on
  the same strategies for the first 100 portfolios, its time scaled linearly to 1,000 (as the size says);
  their NAVs agree to 1e-9 on those.

Times: median of 3 runs after a warm-up (bt: one run after a warm-up; it takes seconds). The compiled loop
is compiled once (numba's cache) before timing. On this shared 2-core machine the wall clock of a run
depends on the other jobs; the rows record it as measured.
"""

from __future__ import annotations

import time
from pathlib import Path

import bt
import numba
import numpy as np
import pandas as pd
import vectorbt as vbt
import xarray as xr
from common import arguments, report, row, timed
from vectorbt.portfolio import nb as vnb
from vectorbt.portfolio.enums import Direction, SizeType

from toolkit.backtest import Policy, simulate
from toolkit.schema import INSTRUMENT, PORTFOLIO, TIME

DATA = Path(__file__).resolve().parents[1] / "data" / "sp500_stocks.csv"
CAPITAL = 1e6
TOLERANCE = 1e-9  # of the capital
GOAL_S = 10.0
PEER_PORTFOLIOS = 100
STRATEGIES = {"monthly": (Policy("monthly"), True, np.inf), "band5": (Policy(band=0.05), False, 0.05),
              "quarterly_or_band10": (Policy("quarterly", band=0.10), True, 0.10)}


def market(n_instruments: int, years: int) -> pd.DataFrame:
    """Real closes ``(time, instrument)``: the skfolio stocks' last ``years`` to 2022, then earlier decades."""
    raw = pd.read_csv(DATA, index_col=0, parse_dates=True)
    days = raw.loc[f"{2023 - years}-01-01":"2022-12-31"].index
    blocks: list[np.ndarray] = []
    names: list[str] = []
    for decade_end, suffix in (("2022-12-31", ""), ("2012-12-31", "_2003_12"), ("2002-12-31", "_1993_02")):
        take = list(raw.columns[: n_instruments - len(names)])
        blocks.append(raw.loc[:decade_end].iloc[-len(days):][take].to_numpy())
        names += [f"{c}{suffix}" for c in take]
        if len(names) >= n_instruments:
            break
    return pd.DataFrame(np.hstack(blocks), index=days, columns=names)


def first_days(index: pd.DatetimeIndex, months: int) -> np.ndarray:
    """Rebalance days of a calendar: day 0, then the first trading day of each period, never the last day."""
    key = index.year.to_numpy() * (12 // months) + (index.month.to_numpy() - 1) // months
    mask = np.r_[True, key[1:] != key[:-1]]
    mask[-1] = False if len(index) > 1 else mask[-1]
    return mask


@numba.njit(cache=True)
def _vbt_pre_group(c):
    return (np.empty(c.group_len, dtype=np.float64),)


@numba.njit(cache=True)
def _vbt_pre_segment(c, order_value_out, weights, calendar, band):
    """Rebalance the group on a calendar day or when a line is out of its relative band (bt's rule)."""
    value = c.last_cash[c.group]
    for col in range(c.from_col, c.to_col):
        c.last_val_price[col] = c.close[c.i, col]
        value += c.last_position[col] * c.close[c.i, col]
    go = calendar[c.i]
    if not go:
        for k in range(c.group_len):
            col = c.from_col + k
            w = c.last_position[col] * c.close[c.i, col] / value
            target = weights[c.group, k]
            if (target == 0 and w != 0) or (target != 0 and abs(w - target) / abs(target) > band):
                go = True
                break
    if go:
        vnb.sort_call_seq_nb(c, weights[c.group], SizeType.TargetPercent, Direction.Both, order_value_out,
                             ctx_select=False)
    return (go,)


@numba.njit(cache=True)
def _vbt_order(c, go, weights):
    if not go:
        return vnb.order_nothing_nb()
    return vnb.order_nb(size=weights[c.group, c.col - c.from_col], price=c.close[c.i, c.col],
                        size_type=SizeType.TargetPercent, direction=Direction.Both)


def vectorbt_nav(wide: pd.DataFrame, weights: np.ndarray, calendar: np.ndarray, band: float,
                 days: np.ndarray | None = None) -> np.ndarray:
    """vectorbt's NAV ``(portfolio, time)`` for target ``weights`` ``(portfolio, instrument)``; with ``days``
    (``(portfolio, time)``, --quick) a band's rebalance days are given instead of found."""
    n_book, n_inst = weights.shape
    close = pd.DataFrame(np.tile(wide.to_numpy(), n_book), index=wide.index)
    groups = np.repeat(np.arange(n_book), n_inst)
    if np.isinf(band) or days is not None:  # rebalance days known: the idiomatic from_orders
        when = np.repeat(days.T if days is not None else np.repeat(calendar[:, None], n_book, 1), n_inst, axis=1)
        size = np.where(when, weights.reshape(1, -1), np.nan)
        pf = vbt.Portfolio.from_orders(close, size=size, size_type="targetpercent", group_by=groups,
                                       cash_sharing=True, call_seq="auto", init_cash=CAPITAL, freq="1D")
    else:
        pf = vbt.Portfolio.from_order_func(close, _vbt_order, weights, group_by=groups, cash_sharing=True,
                                           init_cash=CAPITAL, pre_group_func_nb=_vbt_pre_group,
                                           pre_segment_func_nb=_vbt_pre_segment,
                                           pre_segment_args=(weights, calendar, band), freq="1D")
    return np.asarray(pf.value()).reshape(len(wide), -1).T


def bt_nav(wide: pd.DataFrame, weights: np.ndarray, name: str) -> np.ndarray:
    """bt's NAV for one portfolio (its virtual first row dropped)."""
    run = {"monthly": [bt.algos.RunMonthly()], "band5": [bt.algos.RunIfOutOfBounds(0.05)]}[name]
    algos = [bt.algos.SelectAll(), bt.algos.WeighSpecified(**dict(zip(wide.columns, weights, strict=True))), *run,
             bt.algos.Rebalance()]
    test = bt.Backtest(bt.Strategy(name, algos), wide, integer_positions=False, initial_capital=CAPITAL,
                       progress_bar=False)
    return bt.run(test).backtests[name].strategy.values.to_numpy()[1:]


def as_prices(wide: pd.DataFrame) -> xr.DataArray:
    return xr.DataArray(wide.T.to_numpy(), dims=(INSTRUMENT, TIME),
                        coords={INSTRUMENT: list(wide.columns), TIME: wide.index.to_numpy()})


def agree(name: str, ours: np.ndarray, peer: np.ndarray) -> None:
    gap = float(np.max(np.abs(ours - peer)) / CAPITAL)
    assert gap <= TOLERANCE, f"{name}: the NAVs differ by {gap:.3g} of the capital"
    print(f"  {name}: NAVs agree to {gap:.1e} of the capital, final NAV {ours.reshape(-1, ours.shape[-1])[0, -1]:,.2f}")


def main() -> None:
    args = arguments(__doc__ or "", "backtest", "10 instruments x 2 years, 20 portfolios")
    n_inst, years, books = (10, 2, 20) if args.quick else (50, 10, 1000)
    wide = market(n_inst, years)
    prices = as_prices(wide)
    rng = np.random.default_rng(20)
    weights = rng.dirichlet(np.ones(n_inst), size=books)
    shape = f"{n_inst} instruments x {len(wide):,} days ({wide.index[0].date()} - {wide.index[-1].date()})"
    target = xr.DataArray(weights[0], dims=INSTRUMENT, coords={INSTRUMENT: list(wide.columns)})
    simulate(prices.isel({TIME: slice(0, 30)}), target, Policy("monthly"))  # compile (or load) the loop
    rows = []
    for name, label in (("monthly", "monthly, first trading day"), ("band5", "5% drift band (relative, per line)")):
        policy, calendar_on, band = STRATEGIES[name]
        calendar = first_days(wide.index, 1) if calendar_on else np.r_[True, np.zeros(len(wide) - 1, bool)]
        ours, ours_s = timed(lambda policy=policy: simulate(prices, target, policy, capital=CAPITAL))
        days = simulate(prices, target, policy).rebalanced.to_numpy()[None] if args.quick else None
        peer, peer_s = timed(lambda calendar=calendar, band=band, days=days: vectorbt_nav(wide, weights[:1], calendar,
                                                                                      band, days))
        reference, bt_s = timed(lambda name=name: bt_nav(wide, weights[0], name), repeat=1)
        agree(f"{name} vs vectorbt", ours.nav.to_numpy(), peer[0])
        agree(f"{name} vs bt", ours.nav.to_numpy(), reference)
        print(f"  {name}: {int(ours.rebalanced.sum())} rebalances")
        rows.append(row(f"{label}: ours vs vectorbt", shape, ours_s, f"vectorbt {vbt.__version__}", peer_s))
        rows.append(row(f"{label}: ours vs bt", shape, ours_s, f"bt {bt.__version__}", bt_s))
    book = xr.DataArray(weights, dims=(PORTFOLIO, INSTRUMENT),
                        coords={PORTFOLIO: np.arange(books), INSTRUMENT: list(wide.columns)})
    policies = {k: v[0] for k, v in STRATEGIES.items()}
    many, many_s = timed(lambda: simulate(prices, book, policies, capital=CAPITAL, lines=False))
    cpu = time.process_time()
    simulate(prices, book, policies, capital=CAPITAL, lines=False)
    print(f"  {books:,} portfolios x 3 strategies: {time.process_time() - cpu:.2f} s of CPU (all threads) in one call")
    few = min(PEER_PORTFOLIOS, books)
    peer_s = 0.0
    for name, (_, calendar_on, band) in STRATEGIES.items():
        months = 3 if name.startswith("quarterly") else 1
        calendar = first_days(wide.index, months) if calendar_on else np.r_[True, np.zeros(len(wide) - 1, bool)]
        days = many.rebalanced.sel(strategy=name).to_numpy()[:few] if args.quick else None
        if days is None:
            vectorbt_nav(wide.iloc[:30], weights[:2], calendar[:30], band)  # compile vectorbt's loop for 2 groups
        start = time.perf_counter()
        peer = vectorbt_nav(wide, weights[:few], calendar, band, days)
        peer_s += (time.perf_counter() - start) * books / few
        agree(f"{name}, {few} portfolios vs vectorbt", many.nav.sel(strategy=name).to_numpy()[:few], peer)
    print(f"  {books:,} portfolios x 3 strategies: {int(many.rebalanced.sum()):,} rebalances; goal {GOAL_S} s")
    rows.append(row(f"{books:,} portfolios x 3 strategies in one call (lines=False)",
                    f"{shape}; vectorbt timed on {few} portfolios, scaled x{books / few:g}", many_s,
                    f"vectorbt {vbt.__version__}", peer_s))
    report(rows, args.results)


if __name__ == "__main__":
    main()
