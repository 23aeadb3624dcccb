"""What every benchmark script shares: its command line, its table, its JSON rows."""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import psutil

RESULTS = Path(__file__).parent / "results"


def arguments(doc: str, name: str, quick: str) -> argparse.Namespace:
    """``--quick`` (a smoke run: ``quick`` says its size) and ``--results PATH``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=quick)
    default = RESULTS / f"{name}.json"
    parser.add_argument("--results", type=Path, default=default, help=f"where to write the JSON rows ({default})")
    return parser.parse_args()


def machine() -> str:
    return f"{platform.machine()} {psutil.cpu_count()} cpu {psutil.virtual_memory().total / 2**30:.0f} GiB"


def report(rows: list[dict], path: Path) -> None:
    """Print the rows as a table (ours, peer, ratio) and write them as JSON to ``path``."""
    width = max(len(r["name"]) for r in rows) + 2
    print(f"{'benchmark':<{width}}{'ours s':>9}{'peer s':>9}{'ratio':>9}  peer")
    for r in rows:
        print(f"{r['name']:<{width}}{r['ours_s']:>9.3f}{r['peer_s']:>9.3f}{r['ratio']:>9.4f}  {r['peer']}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows, indent=2) + "\n")


def timed(fn: Callable, repeat: int = 3):
    """(result, median seconds of ``repeat`` runs after a warm-up)."""
    fn()
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return out, statistics.median(times)


def row(name: str, size: str, ours_s: float, peer: str, peer_s: float) -> dict:
    return {"name": name, "size": size, "ours_s": round(ours_s, 4), "peer": peer, "peer_s": round(peer_s, 3),
            "ratio": round(ours_s / peer_s, 5),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1), "machine": machine()}
