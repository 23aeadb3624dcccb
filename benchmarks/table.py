"""The benchmark tables of README.md (the headline rows) and benchmarks/README.md (every row), made from
``benchmarks/results/*.json``.

``python benchmarks/table.py`` rewrites both tables between their ``<!-- benchmarks:... -->`` markers;
``--check`` only says whether they are current (the test suite runs it), so a table never drifts from the
rows the scripts last wrote.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
README = HERE.parent / "README.md"
NOTES = HERE / "README.md"

#: the README's rows: (results file, the start of the row's name); the first match of each is shown
HEADLINE: tuple[tuple[str, str], ...] = (
    ("returns_report", "returns report vs vectorbt"),
    ("returns_report", "returns report vs empyrical"),
    ("risk", "volatility contributions"),
    ("attribution", "Brinson-Fachler"),
    ("signals", "every indicator"),
    ("signals", "rules 1-11 in one call"),
    ("backtest", "monthly, first trading day: ours vs vectorbt"),
    ("backtest", "5% drift band (relative, per line): ours vs vectorbt"),
    ("backtest", "5% drift band (relative, per line): ours vs bt"),
    ("backtest", "1,000 portfolios"),
    ("optimise", "Max Sharpe, 500 assets"),
    ("optimise", "Risk Parity, 500 assets"),
    ("rebalance", "rebalance to target"),
    ("rebalance", "rebalance with the SQLite writes"),
    ("webhooks", "orders.place, receiver hangs"),
    ("app_load", "performance: navigation to controls"),
    ("app_load", "market: navigation to controls"),
    ("scale", "returns report + volatility contributions out of core"),
    ("scale", "2 local worker"),
)


def _seconds(s: float) -> str:
    """Seconds with three significant digits and thousands separators (``3,260 s``, ``0.0395 s``)."""
    if s >= 100:
        return f"{s:,.0f} s"
    return f"{float(f'{s:.3g}'):g} s"


def rows() -> dict[str, list[dict]]:
    """Every results file's rows, by benchmark name (the file's stem)."""
    return {p.stem: json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))}


def _line(bench: str, r: dict) -> str:
    return (f"| {bench}: {r['name']} | {r['size']} | {_seconds(r['ours_s'])} | {_seconds(r['peer_s'])} "
            f"({r['peer']}) | {r['ratio']:.3g} |")


def table(headline: bool) -> str:
    """The markdown table: the headline rows, or every row of every file."""
    found = rows()
    head = "| benchmark | size | ours | peer | ratio |\n|---|---|---|---|---|\n"
    if not headline:
        return head + "\n".join(_line(b, r) for b, rs in found.items() for r in rs) + "\n"
    lines = []
    for bench, start in HEADLINE:
        match = next((r for r in found.get(bench, []) if r["name"].startswith(start)), None)
        if match is not None:
            lines.append(_line(bench, match))
    return head + "\n".join(lines) + "\n"


def _replace(text: str, marker: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- benchmarks:{marker} -->\n).*?(<!-- /benchmarks:{marker} -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"no <!-- benchmarks:{marker} --> markers found")
    return pattern.sub(lambda m: m.group(1) + body + m.group(2), text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a table is not current; write nothing")
    args = parser.parse_args()
    stale = []
    for path, marker, headline in ((README, "headline", True), (NOTES, "all", False)):
        old = path.read_text()
        new = _replace(old, marker, table(headline))
        if new != old:
            stale.append(path.name if path == README else "benchmarks/README.md")
            if not args.check:
                path.write_text(new)
    if args.check and stale:
        print(f"stale benchmark tables in {', '.join(stale)}: run python benchmarks/table.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
