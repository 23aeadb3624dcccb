"""Shared fixtures: the demo workspace (and the demo book) built once per session, and writable copies."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from toolkit.store import demo
from toolkit.workspace import Workspace


def _opened(path: Path) -> Iterator[Workspace]:
    ws = Workspace.open(path)
    yield ws
    ws.close()


def _copy(source: Path, target: Path) -> Path:
    shutil.copy(source, target)
    return target


@pytest.fixture(scope="session")
def demo_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo workspace file built from data/ once for the whole session (read-only use)."""
    return demo.build(tmp_path_factory.mktemp("demo") / "demo.db")


@pytest.fixture(scope="session")
def demo_ws(demo_path: Path) -> Iterator[Workspace]:
    """The session's demo workspace; tests must not write to it (use ``ws``)."""
    yield from _opened(demo_path)


@pytest.fixture
def ws(demo_path: Path, tmp_path: Path) -> Iterator[Workspace]:
    """A private, writable copy of the demo workspace."""
    yield from _opened(_copy(demo_path, tmp_path / "ws.db"))


@pytest.fixture(scope="session")
def book_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo workspace with the demo book (:mod:`toolkit.book`), built once per session (read-only)."""
    from toolkit.book import populate

    return demo.build(tmp_path_factory.mktemp("book") / "demo.db", populate=populate)


@pytest.fixture(scope="session")
def book_ws(book_path: Path) -> Iterator[Workspace]:
    """The session's demo book; tests must not write to it (use ``book_copy``)."""
    yield from _opened(book_path)


@pytest.fixture
def book_copy(book_path: Path, tmp_path: Path) -> Iterator[Workspace]:
    """A private, writable copy of the demo book."""
    yield from _opened(_copy(book_path, tmp_path / "book.db"))
