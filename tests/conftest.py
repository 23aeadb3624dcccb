"""Shared fixtures: the demo workspace (and the demo book) built once per session, and writable copies."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from toolkit.store import demo
from toolkit.workspace import Workspace


@pytest.fixture(scope="session")
def demo_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo workspace file built from data/ once for the whole session (read-only use)."""
    return demo.build(tmp_path_factory.mktemp("demo") / "demo.db")


@pytest.fixture(scope="session")
def book_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo workspace with the demo book (:mod:`toolkit.workspace.book`), built once per session (read-only)."""
    return Workspace.build_demo(tmp_path_factory.mktemp("book") / "demo.db")


def _workspaces(path_fixture: str, what: str, names: tuple[str, str]) -> tuple[Callable, Callable]:
    """Two fixtures on the file of ``path_fixture``: the session's workspace (tests must not write to
    it) and a private, writable copy per test."""
    def opened(path: Path) -> Iterator[Workspace]:
        ws = Workspace.open(path)
        yield ws
        ws.close()

    @pytest.fixture(scope="session", name=names[0])
    def shared(request: pytest.FixtureRequest) -> Iterator[Workspace]:
        yield from opened(request.getfixturevalue(path_fixture))

    @pytest.fixture(name=names[1])
    def private(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Workspace]:
        copy = tmp_path / f"{what}.db"
        shutil.copy(request.getfixturevalue(path_fixture), copy)
        yield from opened(copy)

    shared.__doc__ = f"The session's {what} workspace, read-only."
    private.__doc__ = f"A private, writable copy of the {what} workspace."
    return shared, private


demo_ws, ws = _workspaces("demo_path", "demo", ("demo_ws", "ws"))
book_ws, book_copy = _workspaces("book_path", "book", ("book_ws", "book_copy"))
