"""The house's floors, read from the package's source with ``ast`` (DESIGN.md, "Floors of the library").

- Imports only go down the floors: nothing imports a module of a higher floor, and the domain
  packages of one floor (trading, optimise, signals, backtest, reporting) do not import each other.
- No import cycle between the modules of ``toolkit`` (imports inside functions count too, and so do
  ``if TYPE_CHECKING:`` ones: a cycle hidden from the interpreter is still a cycle for the reader).
- Every SQL statement lives in ``toolkit/store/``.
- The browser-test tooling lives in ``toolkit/testing/``, which the library never imports.

Each check is also run on a small broken example, so a check that cannot fail is caught.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "toolkit"

#: the floors, top first (DESIGN.md); a module belongs to the longest prefix that names it
FLOORS: tuple[tuple[str, ...], ...] = (
    ("toolkit", "toolkit.__main__", "toolkit.server"),
    ("toolkit.widgets",),
    ("toolkit.workspace",),
    ("toolkit.store",),
    ("toolkit.trading", "toolkit.optimise", "toolkit.signals", "toolkit.backtest", "toolkit.reporting"),
    ("toolkit.analytics",),
    ("toolkit.market",),
    ("toolkit.contracts",),
    ("toolkit.schema", "toolkit.errors", "toolkit.validation"),
)
#: the domain floor, whose packages stay independent of each other
DOMAIN = 4
#: tooling outside the floors: it may import anything, and nothing in the library imports it
TOOLING = "toolkit.testing"
SQL = re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|"
                 r"CREATE\s+(TABLE|INDEX|VIEW))\b", re.S | re.I)


def _within(module: str, name: str) -> bool:
    return module == name or module.startswith(name + ".")


def floor_of(module: str) -> tuple[int, str] | None:
    """The floor number and the package (the longest matching prefix) of a module, or None."""
    best: tuple[int, str] | None = None
    for n, names in enumerate(FLOORS):
        for name in names:
            if _within(module, name) and (best is None or len(name) > len(best[1])):
                best = (n, name)
    return best


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(source: str, module: str, package: bool) -> list[tuple[str, int]]:
    """Every ``toolkit`` module imported anywhere in ``source`` (relative imports resolved), with its line."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")[: len(module.split(".")) - node.level + (1 if package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            found += [(f"{base}.{alias.name}", node.lineno) for alias in node.names]  # a module, or a name of base
    return [(name, line) for name, line in found if name == "toolkit" or name.startswith("toolkit.")]


def graph(root: Path) -> dict[str, dict[str, int]]:
    """``module -> {imported module: line}`` over the modules under ``root`` (only edges to modules that exist)."""
    files = {module_name(p, root): p for p in root.rglob("*.py")}
    edges: dict[str, dict[str, int]] = {}
    for module, path in files.items():
        targets: dict[str, int] = {}
        for name, line in imports_of(path.read_text(), module, path.name == "__init__.py"):
            while name and name not in files:  # `from toolkit.x import name`: the module is toolkit.x
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.setdefault(name, line)
        edges[module] = targets
    return edges


def upward_imports(edges: dict[str, dict[str, int]]) -> list[str]:
    """Imports that climb a floor, cross between domain packages, or reach the test tooling."""
    wrong = []
    for module, targets in sorted(edges.items()):
        here = floor_of(module)
        for target, line in sorted(targets.items()):
            if _within(target, TOOLING) and not _within(module, TOOLING):
                wrong.append(f"{module}:{line} imports the test tooling {target}")
                continue
            there = floor_of(target)
            if here is None or there is None or _within(module, TOOLING):
                continue
            if there[0] < here[0]:
                wrong.append(f"{module}:{line} imports {target}, a floor up")
            elif there[0] == here[0] == DOMAIN and there[1] != here[1]:
                wrong.append(f"{module}:{line} imports {target}, another domain package")
    return wrong


def cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in edges:
                    continue
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def sql_outside_store(root: Path) -> list[str]:
    """String literals that hold an SQL statement, in modules outside ``toolkit/store/``."""
    hits = []
    for path in sorted(root.rglob("*.py")):
        if "store" in path.relative_to(root).parts[:1]:
            continue
        tree = ast.parse(path.read_text())
        docstrings = {id(n.value) for n in ast.walk(tree)
                      if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings \
                    and SQL.search(node.value):
                hits.append(f"{path.relative_to(root.parent)}:{node.lineno}")
    return hits


# ----------------------------------------------------------------------------- the package


@pytest.fixture(scope="module")
def edges() -> dict[str, dict[str, int]]:
    return graph(ROOT)


def test_every_module_has_a_floor(edges):
    homeless = [m for m in edges if floor_of(m) is None and not _within(m, TOOLING)]
    assert not homeless, f"modules outside the floors of DESIGN.md: {homeless}"


def test_imports_only_go_down_the_floors(edges):
    assert upward_imports(edges) == []


def test_no_import_cycle(edges):
    assert cycles(edges) == []


def test_no_sql_outside_the_store():
    assert sql_outside_store(ROOT) == []


def test_the_workspace_floor_hands_resources_a_context_not_the_workspace(edges):
    """Resources import ``context`` and their siblings, never ``core`` (the Workspace)."""
    wrong = [m for m, targets in edges.items() if _within(m, "toolkit.workspace") and m not in
             ("toolkit.workspace", "toolkit.workspace.core") and "toolkit.workspace.core" in targets]
    assert wrong == []


# ----------------------------------------------------------------------------- the checks can fail


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "toolkit"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_checks_catch_a_broken_house(tmp_path):
    root = _package(tmp_path, {
        "__init__.py": "",
        "store/__init__.py": "",
        "store/db.py": "SQL = 'SELECT 1 FROM x'\n",
        "analytics/__init__.py": "",
        "analytics/risk.py": "from toolkit.store import db\n",  # a floor up
        "trading/__init__.py": "from toolkit.optimise import rules\n",  # another domain package
        "optimise/__init__.py": "",
        "optimise/rules.py": "def f():\n    from toolkit.optimise import solve\n",
        "optimise/solve.py": "from . import rules\nQ = 'UPDATE accounts SET cash = 0'\n",  # a cycle, and SQL
        "widgets/__init__.py": "from toolkit.testing import browser\n",
        "testing/__init__.py": "",
        "testing/browser.py": "import toolkit.widgets\n",
    })
    edges = graph(root)
    assert sorted(upward_imports(edges)) == [
        "toolkit.analytics.risk:1 imports toolkit.store.db, a floor up",
        "toolkit.trading:1 imports toolkit.optimise.rules, another domain package",
        "toolkit.widgets:1 imports the test tooling toolkit.testing.browser",
    ]
    assert sorted(cycles(edges)) == [["toolkit.optimise.rules", "toolkit.optimise.solve"],
                                     ["toolkit.testing.browser", "toolkit.widgets"]]
    assert sql_outside_store(root) == ["toolkit/optimise/solve.py:2"]
