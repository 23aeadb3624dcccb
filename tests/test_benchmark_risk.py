"""Smoke run of benchmarks/risk.py (its --quick size): it runs, agrees with its peers and writes its rows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "risk.py"
NAMES = ["VaR, CVaR, volatility: 3 levels x 3 horizons", "volatility contributions", "CVaR contributions at 3 levels"]
KEYS = {"name", "size", "ours_s", "peer", "peer_s", "ratio", "peak_rss_mb", "machine"}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[dict]]:
    """The script's stdout and JSON rows of one --quick run (the script asserts that ours and the peers agree)."""
    out = tmp_path_factory.mktemp("bench") / "risk.json"
    command = [sys.executable, str(SCRIPT), "--quick", "--results", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout, json.loads(out.read_text())


@pytest.mark.timeout(300)
def test_rows_have_the_shared_shape(quick_run: tuple[str, list[dict]]) -> None:
    stdout, rows = quick_run
    assert [r["name"] for r in rows] == NAMES
    assert all(set(r) == KEYS and r["ours_s"] > 0 and r["peer_s"] > 0 and r["peak_rss_mb"] > 0 for r in rows)
    assert "agree with empyrical" in stdout


@pytest.mark.timeout(300)
def test_sizes_say_what_was_timed_and_scaled(quick_run: tuple[str, list[dict]]) -> None:
    universe, volatility, cvar = (r["size"] for r in quick_run[1])
    assert universe.startswith("100 instruments (random long-only mixes of the 20 stocks) x 2,520 days")
    assert universe.endswith("peer timed on 20 instruments and scaled x5")
    assert volatility == cvar == ("1,000 portfolios x 20 stocks x 2,520 days; "
                                  "peer timed on 10 portfolios and scaled x100")
