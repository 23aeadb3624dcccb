"""Rebalancing orders for a whole book, to the cent: the vectorised engine vs a per-account loop.

    python benchmarks/rebalance.py [--quick] [--results PATH]

The book is 100,000 accounts x 20 instruments (--quick: 2,000), priced at the last close of
the 20 skfolio stocks in data/sp500_stocks.csv (2022-12-28), with random holdings, cash and
target weights from a seeded generator. Ours is ``toolkit.trading.engine.rebalance`` on the whole
book in one call (median of 3 runs after a warm-up). The peer is what one would write instead:
a plain Python loop over accounts in ``decimal.Decimal`` that applies the same rules (below). The
loop is timed on the first 2,000 accounts (--quick: 500) and its time scaled linearly to the
book, as the output and the ``size`` field say; on those accounts both must agree to the cent
and to the 1e-10 share. The goal is at most 1 s for 100,000 x 20.
"""

from __future__ import annotations

import resource
import statistics
import time
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd

from common import arguments, machine, report
from toolkit.trading.engine import QTY_SCALE, WEIGHT_SCALE, rebalance

DATA = Path(__file__).resolve().parents[1] / "data" / "sp500_stocks.csv"
GOAL_S = 1.0
CASES = {"rebalance to target, no drift band": {},
         "rebalance, 2% drift band, $10 minimum order": {"drift": "0.02", "min_order_cents": 1000}}
KEYS = ("sell_cents", "buy_cents", "sell_qty", "buy_qty", "balanced", "nav_cents", "cash_after_cents")
CENT = Decimal("0.01")
UNIT = Decimal(1).scaleb(-10)


def last_close() -> pd.Series:
    """The last close of each of the 20 stocks (float64 per share, 3 decimals as shipped)."""
    prices = pd.read_csv(DATA, index_col="time")
    return prices.iloc[-1]


def book(accounts: int, prices: np.ndarray, seed: int = 20221228) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random holdings (quantity units), cash (cents) and target weights (units) for a book."""
    rng = np.random.default_rng(seed)
    n = len(prices)
    raw = rng.integers(0, 100, (accounts, n))
    raw[raw < 30] = 0  # about a third of the instruments are not in an account's model
    raw[np.arange(accounts), rng.integers(0, n, accounts)] += 1
    targets = raw * WEIGHT_SCALE // raw.sum(axis=1, keepdims=True)
    targets[np.arange(accounts), raw.argmax(axis=1)] += WEIGHT_SCALE - targets.sum(axis=1)
    size = rng.lognormal(np.log(5e6), 1.0, accounts)  # cents: a median account of $50,000
    drifted = size[:, None] * targets / WEIGHT_SCALE * rng.uniform(0.7, 1.3, (accounts, n))
    stray = rng.random((accounts, n)) < 0.05  # positions left outside the model
    drifted += stray * size[:, None] * rng.uniform(0, 0.02, (accounts, n))
    holdings = np.floor(drifted / 100 / prices * QTY_SCALE).astype(np.int64)
    cash = np.floor(size * rng.uniform(0, 0.05, accounts)).astype(np.int64)
    return holdings, cash, targets


def _hamilton(amount: int, quotas: list) -> list[int]:
    """Largest remainder: floors, then one cent each to the largest remainders, lower index first."""
    floors = [int(q) for q in quotas]
    order = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - floors[i]), i))
    for i in order[: amount - sum(floors)]:
        floors[i] += 1
    return floors


def peer_account(qty: list[int], cash: int, prices: list[Decimal], weights: list[Decimal], drift: Decimal,
                 relative: bool, minimum: int) -> dict:
    """One account, the same rules as ``rebalance``, in Decimal and Python ints."""
    with localcontext() as ctx:
        ctx.prec = 60
        values = [int((Decimal(q) * UNIT * p / CENT).quantize(1, ROUND_HALF_EVEN)) for q, p in zip(qty, prices)]
        nav = cash + sum(values)
        balanced = all(abs(v - w * nav) <= (drift * w if relative else drift) * nav for v, w in zip(values, weights))
        n = len(qty)
        sells, buys, sell_qty, buy_qty = [0] * n, [0] * n, [0] * n, [0] * n
        if not balanced:
            targets = _hamilton(nav, [nav * w for w in weights])
            for i in range(n):
                excess = values[i] - targets[i]
                whole = targets[i] == 0 and qty[i] > 0 and values[i] >= minimum
                if whole or excess > 0 and excess >= minimum:
                    sells[i] = excess
                    sell_qty[i] = qty[i] if whole else units(excess, prices[i])
                elif excess < 0 and -excess >= minimum:
                    buys[i] = -excess
            available = cash + sum(sells)
            wanted = sum(buys)
            if wanted > available:
                scaled = _hamilton(available, [Fraction(available * b, wanted) for b in buys])
                buys = [b if b >= minimum else 0 for b in scaled]
            buy_qty = [units(b, p) if b else 0 for b, p in zip(buys, prices)]
    return {"sell_cents": sells, "buy_cents": buys, "sell_qty": sell_qty, "buy_qty": buy_qty, "balanced": balanced,
            "nav_cents": nav, "cash_after_cents": cash + sum(sells) - sum(buys)}


def units(cents: int, price: Decimal) -> int:
    """Shares that ``cents`` buy at ``price``, truncated to 10 decimals, in units of 1e-10."""
    return int((Decimal(cents) * CENT / price).quantize(UNIT, ROUND_DOWN) / UNIT)


def peer(holdings: np.ndarray, cash: np.ndarray, prices: np.ndarray, targets: np.ndarray, drift: str = "0",
         drift_mode: str = "absolute", min_order_cents: int = 0) -> dict[str, np.ndarray]:
    """The loop over accounts; prices are read as quoted (``Decimal(repr(p))``)."""
    quoted = [Decimal(repr(float(p))) for p in prices]
    rows = [peer_account([int(q) for q in qty], int(money), quoted,
                         [Decimal(int(w)).scaleb(-8) for w in weights], Decimal(drift), drift_mode == "relative",
                         int(min_order_cents))
            for qty, money, weights in zip(holdings, cash, targets)]
    return {key: np.array([row[key] for row in rows]) for key in KEYS}


def run(accounts: int, sample: int) -> list[dict]:
    prices = last_close().to_numpy(dtype=np.float64)
    holdings, cash, targets = book(accounts, prices)
    size = (f"{accounts:,} accounts x {len(prices)} instruments; peer timed on {sample:,} accounts and "
            f"scaled x{accounts / sample:g}")
    rows = []
    for name, kw in CASES.items():
        rebalance(holdings, cash, prices, targets, **kw)  # warm-up
        times = []
        for _ in range(3):
            start = time.perf_counter()
            ours = rebalance(holdings, cash, prices, targets, **kw)
            times.append(time.perf_counter() - start)
        start = time.perf_counter()
        theirs = peer(holdings[:sample], cash[:sample], prices, targets[:sample], **kw)
        peer_s = (time.perf_counter() - start) * accounts / sample
        for key in KEYS:
            assert np.array_equal(ours[key][:sample], theirs[key]), f"{name}: {key} differs from the Decimal loop"
        ours_s = statistics.median(times)
        rows.append({"name": name, "size": size, "ours_s": round(ours_s, 4),
                     "peer": f"per-account Python loop in decimal.Decimal ({sample:,} accounts, scaled)",
                     "peer_s": round(peer_s, 3), "ratio": round(ours_s / peer_s, 5),
                     "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                     "machine": machine()})
    return rows


def main() -> None:
    args = arguments(__doc__, "rebalance", "2,000 accounts, peer on 500 (smoke run)")
    accounts, sample = (2_000, 500) if args.quick else (100_000, 2_000)
    rows = run(accounts, sample)
    print(f"{rows[0]['size']}; orders agree to the cent on the {sample:,} accounts")
    report(rows, args.results)
    if not args.quick:
        slowest = max(r["ours_s"] for r in rows)
        print(f"goal: at most {GOAL_S:g} s for {accounts:,} x 20: {'met' if slowest <= GOAL_S else 'MISSED'} "
              f"({slowest:.3f} s); peak RSS {rows[-1]['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
