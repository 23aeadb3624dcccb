"""The README's Python snippets: each stands on its own (every name defined before use) and writes
into a private copy of the demo workspace, never into the shared data/demo.db (issue 18)."""

from __future__ import annotations

import ast
import builtins
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
SNIPPETS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def _undefined(code: str) -> list[str]:
    """Names read before the snippet binds them (in statement order; comprehension variables bound)."""
    tree = ast.parse(code)
    bound = set(dir(builtins))
    missing = []
    for statement in tree.body:
        local = {n.id for n in ast.walk(statement) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        for node in ast.walk(statement):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in bound | local:
                missing.append(node.id)
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
        bound |= local
    return missing


def test_the_readme_has_snippets() -> None:
    assert len(SNIPPETS) >= 6


@pytest.mark.parametrize("n", range(len(SNIPPETS)))
def test_every_snippet_defines_its_names_and_opens_a_private_copy(n: int) -> None:
    code = SNIPPETS[n]
    assert _undefined(code) == [], code
    assert "Workspace.demo(copy=True)" in code and "Workspace.demo()" not in code, code


def test_the_trading_snippet_runs_and_its_account_is_worth_its_deposit(demo_path: Path) -> None:
    """Issue 18: run as written (on a private copy of the session's demo file), the snippet's account
    was worth about 0, its deposit valued at today's date while the prices end on 2022-12-28."""
    snippet = next(s for s in SNIPPETS if "ws.rebalancings.execute" in s and "acct = " in s)  # (the trading one)
    scope: dict = {}
    exec(snippet.replace("Workspace.demo(copy=True)", f"Workspace.demo({str(demo_path)!r}, copy=True)"), scope)
    ws, acct = scope["ws"], scope["acct"]
    try:
        assert ws.path != demo_path
        last = ws.accounts.holdings([acct.id]).isel(time=-1).sel(portfolio=acct.id)
        assert str(last["time"].values)[:10] == "2022-12-28" == scope["order"].execution_date
        assert 0 <= float(last["cash"]) < 5_000 and abs(float(last["nav"]) - 10_000) < 5
    finally:
        ws.close()
