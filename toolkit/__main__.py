"""Command line: ``python -m toolkit setup [PATH]`` and ``python -m toolkit serve``.

``setup`` applies the migrations to a workspace file; for the demo workspace (the default,
``data/demo.db``) it builds the file from ``data/`` with the demo book (:mod:`toolkit.workspace.book`) when
it does not exist yet or has no book.
``serve`` starts Voilà on the apps in ``apps/`` with the settings of ``voila.json``, through
:mod:`toolkit.server` (a Host/Origin allow-list, and a token on any bind but loopback).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = Path(__file__).resolve().parent / "widgets" / "jupyter"


def setup(path: str | None, rebuild: bool) -> None:
    from toolkit.store import connect, demo, migrate
    from toolkit.workspace import Workspace, book

    target = Path(path) if path else demo.DEFAULT_PATH
    if target == demo.DEFAULT_PATH and (rebuild or not target.exists() or not demo.has_book(target)):
        def progress(done: int, total: int, label: str) -> None:
            print(f"\r  building demo workspace: {done}/{total} {label:<12}", end="", flush=True)

        Workspace.build_demo(target, progress=progress)
        print(f"\n  demo book: {len(book.MANDATES)} mandates run 2010-2022")
    db = connect(target)
    applied = migrate(db)
    db.close()
    print(f"workspace {target}: {len(applied)} migration(s) applied, up to date")


def serve(port: int, host: str, allow_hosts: list[str], extra: list[str]) -> None:
    os.chdir(ROOT)  # voila.json is read from the working directory
    os.environ["JUPYTER_PATH"] = os.pathsep.join(  # where the `toolkit` Voilà template lives
        filter(None, [str(TEMPLATES), os.environ.get("JUPYTER_PATH")]))
    from toolkit.server import (
        main as run_server,  # Voilà with the Host/Origin allow-list and the token
    )

    run_server(["apps", f"--port={port}", f"--Voila.ip={host}", "--no-browser", *extra], allow_hosts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m toolkit", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_setup = sub.add_parser("setup", help="apply migrations; build the demo workspace if missing")
    p_setup.add_argument("path", nargs="?", help="workspace file (default: data/demo.db)")
    p_setup.add_argument("--rebuild", action="store_true", help="rebuild the demo workspace from data/")
    p_serve = sub.add_parser("serve", help="serve the Voilà apps (other options go to Voilà)")
    p_serve.add_argument("--port", type=int, default=8866)
    p_serve.add_argument("--host", default="127.0.0.1",
                         help="address to bind; anything but loopback needs a token (one is generated)")
    p_serve.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                         help="a host name or address the apps may be reached at besides 127.0.0.1, "
                              "localhost and [::1] (repeatable; also $TOOLKIT_ALLOWED_HOSTS)")
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "serve":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "setup":
        setup(args.path, args.rebuild)
    else:
        serve(args.port, args.host, args.allow_host, extra)


if __name__ == "__main__":
    main()
