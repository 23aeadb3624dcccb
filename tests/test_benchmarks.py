"""Smoke runs of the benchmark scripts (their --quick size): they run, agree and write their rows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.browser
@pytest.mark.timeout(600)
def test_app_load_benchmark_runs(tmp_path: Path) -> None:
    """Two pages measured once in Chromium (about a minute): the kernel's side of each change, then each
    page's navigation to controls and changes in the browser. (The five visitors of a full run take four
    more minutes; `python benchmarks/app_load.py` runs them.)"""
    out = tmp_path / "app_load.json"
    done = subprocess.run([sys.executable, str(BENCHMARKS / "app_load.py"), "--quick", "--apps", "performance,market",
                           "--results", str(out)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(out.read_text())
    names = [r["name"] for r in rows]
    kernel = [n for n in names if n.endswith("(in the kernel)")]
    assert names[:len(kernel)] == kernel and {n.split(":")[0] for n in kernel} == {"performance", "market"}
    assert [n for n in names if n.endswith("navigation to controls answering")] == [
        "performance: navigation to controls answering", "market: navigation to controls answering"]
    assert {"market: search to match listed", "market: select to chart redrawn"} <= set(names)
    for row in rows:
        assert {"name", "size", "ours_s", "peer", "peer_s", "ratio", "goal_s", "meets_goal", "machine"} <= set(row)
        assert row["ours_s"] > 0 and row["peer_s"] > 0
        assert row["name"].endswith("(in the kernel)") or row["peak_rss_mb"] > 0  # the browser rows: server + kernels
    assert "navigation to controls answering" in done.stdout


@pytest.mark.timeout(300)
def test_rebalance_storage_benchmark_runs(tmp_path: Path) -> None:
    """Every layout writes the run and reads the book back; the rows layout (before m012) is the others' peer."""
    out = tmp_path / "rebalance_storage.json"
    done = subprocess.run([sys.executable, str(BENCHMARKS / "rebalance_storage.py"), "--quick", "--results", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]  # each layout asserts it read positions back
    rows = json.loads(out.read_text())
    assert [r["name"].split(":")[0] for r in rows] == ["rows", "integer rows", "packed"]
    for row in rows:
        assert set(row) == {"name", "size", "ours_s", "peer", "peer_s", "ratio", "peak_rss_mb", "machine"}
        assert row["ours_s"] > 0 and row["peer_s"] == pytest.approx(rows[0]["ours_s"], abs=1e-3)
        assert row["size"].startswith("2,000 accounts, ")
    assert rows[0]["ratio"] == 1.0


@pytest.mark.timeout(300)
def test_webhooks_benchmark_runs(tmp_path: Path) -> None:
    """Both ways place the same orders (the script asserts equal cash); a hanging receiver costs the write
    path its timeout, not the toolkit's write."""
    out = tmp_path / "webhooks.json"
    done = subprocess.run([sys.executable, str(BENCHMARKS / "webhooks.py"), "--quick", "--results", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {r["name"]: r for r in json.loads(out.read_text())}
    assert list(rows) == [f"orders.place, receiver {r}" for r in ("answers", "is down", "hangs")]
    assert rows["orders.place, receiver hangs"]["peer_s"] >= 3 * 0.5  # three events, each at least its timeout


@pytest.mark.timeout(300)
def test_signals_benchmark_runs(tmp_path: Path) -> None:
    """Every indicator runs on 50 instruments x 2,520 bars and agrees with its peer loop (the script asserts:
    TA-Lib to 1e-9, stockstats' SuperTrend after the washout, scipy's swing points exactly), and every tactical
    rule on 1,000 orders gives the verdicts of the order-by-order loop."""
    out = tmp_path / "signals.json"
    done = subprocess.run([sys.executable, str(BENCHMARKS / "signals.py"), "--quick", "--results", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(out.read_text())
    assert [r["name"] for r in rows][:5] == ["true range", "ATR 14 Smoothed (Wilder)", "ATR 10 SMA", "ATR 10 EMA",
                                              "RSI 14 (Wilder)"]
    assert rows[9]["name"] == "every indicator above" and len(rows) == 25
    assert [r["name"] for r in rows][10:12] == ["ATR 14 Smoothed (Wilder) vs the ta package",
                                                 "RSI 14 (Wilder) vs the ta package"]
    # the tactical rules on 1,000 orders: each alone, then the whole set (verdicts equal the order-by-order loop)
    assert [r["name"].split(":")[0] for r in rows][12:23] == [f"rule {i}" for i in range(1, 12)]
    assert rows[23]["name"] == "rules 1-11 in one call (the whole rule set)" and "1,000 orders" in rows[23]["size"]
    # the compiled kernels' first calls, in fresh processes: into an empty numba cache, then loading it
    assert rows[24]["name"].startswith("first calls of every indicator")
    base = {"name", "size", "ours_s", "peer", "peer_s", "ratio", "peak_rss_mb", "machine"}
    for n, row in enumerate(rows):
        first_calls = {"first_call_compile_s", "first_call_cached_s"} if n < 9 else set()
        assert set(row) == base | first_calls, row["name"]
        assert all(row[k] >= 0 for k in first_calls)  # 0 where an earlier indicator compiled the shared kernel
        # peer_s is rounded to the millisecond: a TA-Lib loop over 50 instruments may show 0.0
        assert row["ours_s"] > 0 and row["peer_s"] >= 0
        assert row["size"].startswith("50 instruments x 2,520" if n < 24 else "5 instruments x 300 bars")


@pytest.mark.timeout(600)
def test_backtest_benchmark_runs(tmp_path: Path) -> None:
    """Ours, vectorbt and bt give the same NAVs (the script asserts 1e-9 of the capital) on 10 real instruments x
    2 years, monthly and with a 5% band, and on 20 portfolios x 3 strategies in one call."""
    out = tmp_path / "backtest.json"
    done = subprocess.run([sys.executable, str(BENCHMARKS / "backtest.py"), "--quick", "--results", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(out.read_text())
    assert [r["name"].split(":")[0] for r in rows] == ["monthly, first trading day"] * 2 + \
        ["5% drift band (relative, per line)"] * 2 + ["20 portfolios x 3 strategies in one call (lines=False)"]
    assert [r["peer"].split()[0] for r in rows] == ["vectorbt", "bt", "vectorbt", "bt", "vectorbt"]
    for row in rows:
        assert set(row) == {"name", "size", "ours_s", "peer", "peer_s", "ratio", "peak_rss_mb", "machine"}
        assert row["ours_s"] > 0 and row["peer_s"] > 0 and row["size"].startswith("10 instruments x ")
    assert "NAVs agree" in done.stdout


@pytest.mark.timeout(300)
def test_scale_benchmark_runs(tmp_path: Path) -> None:
    """4,000 portfolios on zarr: the report and the volatility contributions out of core equal the in-memory path
    (the script exits otherwise, and the row says by how much), and 2 local worker processes against 1."""
    out = tmp_path / "scale.json"
    done = subprocess.run([sys.executable, str(BENCHMARKS / "scale.py"), "--quick", "--results", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    big, same, workers = json.loads(out.read_text())
    common = {"name", "size", "ours_s", "peer", "peer_s", "ratio", "machine", "load_average_1min"}
    assert set(big) == common | {"peak_rss_mb", "goal_peak_rss_mb", "write_book_s", "per_portfolio_us",
                                 "extrapolated_to_1m_s", "extrapolated_write_1m_s"}
    assert set(same) == common | {"goal_ratio", "max_abs_difference", "read_returns_s", "best_of"}
    assert set(workers) == common
    assert big["name"].startswith("returns report + volatility contributions out of core")
    assert same["name"] == "out of core vs in memory, same size" and same["max_abs_difference"] <= 1e-12
    assert workers["name"].startswith("2 local worker processes vs 1")
    for row in (big, same, workers):
        assert row["size"].startswith("4,000 x 2,520") and row["ours_s"] > 0 and row["peer_s"] > 0
    assert 0 < big["peak_rss_mb"] <= big["goal_peak_rss_mb"]


def test_the_benchmark_tables_are_current() -> None:
    """README.md's headline table and benchmarks/README.md's full table are what benchmarks/table.py makes
    from benchmarks/results/*.json: a refreshed result without its table fails here."""
    done = subprocess.run([sys.executable, str(BENCHMARKS / "table.py"), "--check"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
