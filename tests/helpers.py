"""Helpers shared by the tests."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from toolkit.workspace import Workspace

#: the bulk market tables are compared by count and checksum, every other table row by row
BULK = {"prices": "total(close) + total(volume)", "fx_rates": "total(rate)"}


def dump(ws: Workspace) -> list[str]:
    """The database's schema and rows (bulk tables summarised): equal dumps mean nothing changed."""
    with sqlite3.connect(ws.path) as conn:
        lines = [r[0] or "" for r in conn.execute("SELECT sql FROM sqlite_master ORDER BY name")]
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        for table in tables:
            if table in BULK:
                lines.append(f"{table}: {conn.execute(f'SELECT count(*), {BULK[table]} FROM {table}').fetchone()}")
            else:
                lines += [f"{table}: {row!r}" for row in conn.execute(f'SELECT * FROM "{table}" ORDER BY 1, 2')]
    return lines


# --------------------------------------------------------------------------- browser pages

def page_clean(page, cell_error: str) -> None:
    """No cell failed, no callback hit an unexpected error, no traceback reached the page."""
    content = page.content()
    assert cell_error not in content and "Unexpected error" not in content and "Traceback" not in content


def page_table(page, css: str) -> dict[str, dict[str, str]]:
    """A table of the page by its first column: ``{row label: {column: text}}``."""
    heads = page.locator(f"{css} thead th").all_inner_texts()
    rows = [row.locator("td").all_inner_texts() for row in page.locator(f"{css} tbody tr").all()]
    return {cells[0]: dict(zip(heads[1:], cells[1:])) for cells in rows}


def choose(page, css: str, label: str, headline_css: str, headline: str, tries: int = 3,
           then: Callable[[object], None] | None = None) -> None:
    """Choose ``label`` in a dropdown (then call ``then(page)``, e.g. to press an Update button)
    and wait until the headline says ``headline``.

    ipywidgets may re-render a select shortly after the page changes it, dropping a choice
    made in that window (see ``_select`` in test_browser_market.py); like a user, choose again.
    """
    for _ in range(tries):
        page.locator(f"{css} select").select_option(label=label)
        if then is not None:
            then(page)
        try:
            page.locator(headline_css, has_text=headline).wait_for(timeout=30_000)
            return
        except Exception:  # noqa: BLE001 - retried, then reported below
            continue
    raise AssertionError(f"the headline reads {page.locator(headline_css).inner_text()!r}, expected {headline!r}")


def type_into(page, css: str, value: str) -> None:
    """Type ``value`` into the text input of the widget ``css`` as a user does (the page sends it on change)."""
    field = page.locator(f"{css} input")
    field.fill(value)
    field.dispatch_event("change")


def app_screenshot(page, app_css: str, path) -> None:
    """The app, whole: Voilà scrolls inside its own container, so the window grows to the app's height first."""
    app = page.locator(app_css)
    page.set_viewport_size({"width": 1360, "height": int(app.evaluate("e => e.scrollHeight")) + 80})
    app.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(500)  # let plotly redraw the charts for the new window size
    page.screenshot(path=str(path), full_page=True)


@contextmanager
def served_app(book_path: Path, folder: Path, notebook: str, ready: str) -> Iterator[tuple]:
    """An app served by Voilà on a copy of the demo book, open in Chromium once ``ready`` (a CSS
    selector) is on the page: ``(page, ws, outside)``, with ``ws`` the test's own read-only view of
    the same file and ``outside`` the requests the page tried to send off 127.0.0.1."""
    from toolkit.testing.browser import CELL_ERROR, chromium, open_page, voila_server

    path = folder / "book.db"
    with Workspace.open(book_path) as source:
        source.backup(path)
    ws = Workspace.open(path)
    try:
        with voila_server(workspace=path, apps=(notebook,)) as server, chromium() as browser:
            outside: list[str] = []
            page = open_page(browser, f"{server.url}/voila/render/{notebook}", outside)
            page.wait_for_function(f"() => document.querySelector('{ready}') || "
                                   f"document.body.innerText.includes('{CELL_ERROR}')", timeout=90_000)
            assert CELL_ERROR not in page.content(), "".join(server.log[-30:])  # fail at once, with the log
            yield page, ws, outside
    finally:
        ws.close()
