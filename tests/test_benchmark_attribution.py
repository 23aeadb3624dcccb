"""Smoke run of benchmarks/attribution.py (its --quick size): it runs, agrees with its pandas peer and writes
its rows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
NAMES = [f"Brinson-Fachler by sector, 120 months linked by {m}" for m in ("CARINO", "GRAP")]
SIZE = "1,000 portfolios x 20 stocks (7 sectors) x 120 months; peer timed on 10 portfolios and scaled x100"


@pytest.mark.timeout(300)
def test_quick_run_agrees_with_the_pandas_loop_and_writes_rows(tmp_path: Path) -> None:
    rows_file = tmp_path / "rows.json"
    run = subprocess.run([sys.executable, str(BENCHMARKS / "attribution.py"), "--quick", "--results",
                          str(rows_file)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]  # the script asserts agreement to 1e-12 before printing
    assert "linked effects agree with the pandas loop" in run.stdout
    rows = json.loads(rows_file.read_text())
    assert [r["name"] for r in rows] == NAMES
    assert all(r["size"] == SIZE and min(r["ours_s"], r["peer_s"], r["peak_rss_mb"]) > 0 for r in rows)
    assert all(set(r) == {"name", "size", "ours_s", "peer", "peer_s", "ratio", "peak_rss_mb", "machine"} for r in rows)
