"""Smoke run of benchmarks/rebalance.py (its --quick size): it runs, agrees with its peer and writes its rows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "rebalance.py"


@pytest.mark.timeout(300)
def test_rebalance_benchmark_runs(tmp_path: Path) -> None:
    out = tmp_path / "rebalance.json"
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--results", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]  # the script asserts that both agree exactly
    rows = json.loads(out.read_text())
    assert [r["name"] for r in rows] == ["rebalance to target, no drift band",
                                         "rebalance, 2% drift band, $10 minimum order",
                                         "rebalance with the SQLite writes (Workspace.rebalancings.execute)"]
    for row in rows:
        assert set(row) == {"name", "size", "ours_s", "peer", "peer_s", "ratio", "peak_rss_mb", "machine"}
        assert row["ours_s"] > 0 and row["peer_s"] > 0 and row["peak_rss_mb"] > 0
    for row in rows[:2]:
        assert row["size"].startswith("2,000 accounts x 20 instruments; peer timed on 500 accounts")
    assert rows[2]["size"].startswith("2,000 accounts x 20 instruments, 2,000 orders with ")
    assert "orders agree to the cent" in done.stdout
    assert "the written trades agree with the loop's" in done.stdout
