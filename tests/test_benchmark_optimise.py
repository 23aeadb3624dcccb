"""Smoke run of benchmarks/optimise.py (its --quick size): it runs, agrees with its peers and writes its rows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "optimise.py"
RULES = ["Min Risk (CVaR)", "Equal Weight", "Diversified Min Risk", "Max Sharpe", "Volatility weighted", "Risk Parity",
         "ATR weighted", "Max Diversification", "Min Tracking Error"]
KEYS = {"name", "size", "ours_s", "peer", "peer_s", "ratio", "peak_rss_mb", "machine"}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[dict]]:
    """The script's stdout and JSON rows of one --quick run (the script asserts that ours and the peers agree)."""
    out = tmp_path_factory.mktemp("bench") / "optimise.json"
    command = [sys.executable, str(SCRIPT), "--quick", "--results", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=SCRIPT.parent)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout, json.loads(out.read_text())


@pytest.mark.timeout(300)
def test_rows_have_the_shared_shape(quick_run: tuple[str, list[dict]]) -> None:
    stdout, rows = quick_run
    assert [r["name"] for r in rows] == [f"{rule}, 20 assets" for rule in RULES] + [
        "Min Risk (CVaR), 20 assets vs riskfolio defaults", "Risk Parity, 20 assets vs riskfolio defaults",
        "batch of 20 Max Sharpe portfolios"]
    assert all(set(r) == KEYS and r["ours_s"] > 0 and r["peer_s"] > 0 and r["peak_rss_mb"] > 0 for r in rows)
    assert "every rule agrees with its peer" in stdout


@pytest.mark.timeout(300)
def test_sizes_and_peers_say_what_was_run(quick_run: tuple[str, list[dict]]) -> None:
    rows = {r["name"]: r for r in quick_run[1]}
    assert rows["Max Sharpe, 20 assets"]["size"] == "20 S&P 500 stocks x 2,520 days (shipped data)"
    assert rows["Max Sharpe, 20 assets"]["peer"].startswith("riskfolio-lib optimization(rm='MV', obj='Sharpe')")
    assert rows["Equal Weight, 20 assets"]["peer"] == "skfolio EqualWeighted"
    assert rows["batch of 20 Max Sharpe portfolios"]["size"].startswith("20 portfolios of 10 of the 20 stocks")
