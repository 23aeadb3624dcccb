"""Shared fixtures: the demo workspace built once per session, and writable copies of it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from toolkit.store import demo
from toolkit.workspace import Workspace


@pytest.fixture(scope="session")
def demo_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo workspace file built from data/ once for the whole session (read-only use)."""
    return demo.build(tmp_path_factory.mktemp("demo") / "demo.db")


@pytest.fixture(scope="session")
def demo_ws(demo_path: Path) -> Workspace:
    """The session's demo workspace; tests must not write to it (use ``ws``)."""
    ws = Workspace.open(demo_path)
    yield ws
    ws.close()


@pytest.fixture
def ws(demo_path: Path, tmp_path: Path) -> Workspace:
    """A private, writable copy of the demo workspace."""
    path = tmp_path / "ws.db"
    shutil.copy(demo_path, path)
    ws = Workspace.open(path)
    yield ws
    ws.close()


@pytest.fixture(scope="session")
def book_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo workspace with the demo book (:mod:`toolkit.book`), built once per session (read-only)."""
    from toolkit.book import populate

    return demo.build(tmp_path_factory.mktemp("book") / "demo.db", populate=populate)


@pytest.fixture(scope="session")
def book_ws(book_path: Path) -> Workspace:
    """The session's demo book; tests must not write to it (use ``book_copy``)."""
    ws = Workspace.open(book_path)
    yield ws
    ws.close()


@pytest.fixture
def book_copy(book_path: Path, tmp_path: Path) -> Workspace:
    """A private, writable copy of the demo book."""
    path = tmp_path / "book.db"
    shutil.copy(book_path, path)
    ws = Workspace.open(path)
    yield ws
    ws.close()
