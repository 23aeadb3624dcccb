"""Smoke run of benchmarks/returns_report.py (its --quick size): it runs, agrees with its 3 peers, writes its rows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "returns_report.py"
KEYS = {"name", "size", "ours_s", "peer", "peer_s", "ratio", "peak_rss_mb", "machine"}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, list[dict]]:
    """One --quick run of the script (the script itself asserts agreement to 1e-9 before printing)."""
    out = tmp_path_factory.mktemp("bench") / "returns_report.json"
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--results", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done, json.loads(out.read_text())


@pytest.mark.timeout(300)
def test_returns_report_writes_one_row_per_peer(quick_run) -> None:
    _, rows = quick_run
    assert [r["name"] for r in rows] == ["returns report vs vectorbt", "returns report vs empyrical-reloaded loop",
                                         "returns report vs quantstats loop"]
    assert all(set(r) == KEYS for r in rows)
    assert all(r["ours_s"] > 0 and r["peer_s"] > 0 and r["peak_rss_mb"] > 0 for r in rows)
    assert rows[0]["size"] == "500 portfolios x 2,520 days; peer on the whole book"
    assert {r["size"] for r in rows[1:]} == {"500 portfolios x 2,520 days; peer timed on 20 portfolios and scaled x25"}


@pytest.mark.timeout(300)
def test_returns_report_says_all_peers_agree(quick_run) -> None:
    done, _ = quick_run
    assert "all figures agree to 1e-09 with both loops on the 20 portfolios and with vectorbt on all 500" in done.stdout
