"""Writers never wait forever, and committed writes reach the database file (issue 17, items 3 and 6)."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from helpers import dump

from toolkit.store import BusyError
from toolkit.workspace import Workspace

#: holds the workspace's write transaction, says so, then waits to be stopped
HOLDER = textwrap.dedent("""
    import sys, time
    from toolkit.workspace import Workspace
    ws = Workspace.open(sys.argv[1])
    with ws.transaction():
        ws.db.conn.execute("UPDATE instruments SET name = name WHERE 0")
        print("holding", flush=True)
        time.sleep(600)
""")

#: 50 deposits, then an exit without ``close()``
DEPOSITS = textwrap.dedent("""
    import sys
    from toolkit.workspace import Workspace
    ws = Workspace.open(sys.argv[1])
    account = ws.accounts.create({"type": "PORTFOLIO", "currency": "USD"}).id
    for i in range(50):
        ws.accounts.deposit(account, {"amount": "10.00", "currency": "USD"})
    print(account, flush=True)
""")


def _deposits(path: Path, account: str) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT count(*) FROM cash_ledger WHERE account_id = ? AND kind = 'DEPOSIT'",
                            (account,)).fetchone()[0]


def test_a_stopped_writer_makes_others_wait_at_most_the_busy_timeout(ws: Workspace) -> None:
    """A writer stopped inside its transaction (SIGSTOP) used to leave every other writer waiting on
    the writer lock for ever; now they wait the busy timeout, then get a BusyError naming the file."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(ws.path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        os.kill(holder.pid, signal.SIGSTOP)
        account = ws.accounts.create  # the write below must not start before the lock is held
        ws.db.timeout = 1.5
        before = dump(ws)
        started = time.monotonic()
        with pytest.raises(BusyError) as err:
            account({"type": "PORTFOLIO", "currency": "USD"})
        waited = time.monotonic() - started
        assert 1.4 < waited < 10, waited
        assert str(ws.path) in str(err.value) and "Nothing was saved" in str(err.value)
        assert dump(ws) == before
    finally:
        os.kill(holder.pid, signal.SIGCONT)
        holder.kill()
        holder.wait(10)
    # the stopped writer is gone: the lock is free again, and the same connection writes
    created = ws.accounts.create({"type": "PORTFOLIO", "currency": "USD"})
    assert ws.accounts.get(created.id).currency == "USD"


def test_a_given_up_wait_does_not_keep_the_lock(ws: Workspace, tmp_path: Path) -> None:
    """After a BusyError, the waiter thread that gets the lock later lets it go at once."""
    import fcntl

    with open(f"{ws.path}.lock", "a") as other:
        fcntl.flock(other, fcntl.LOCK_EX)
        ws.db.timeout = 0.2
        with pytest.raises(BusyError):
            ws.accounts.create({"type": "PORTFOLIO", "currency": "USD"})
        fcntl.flock(other, fcntl.LOCK_UN)
    time.sleep(0.2)
    with open(f"{ws.path}.lock", "a") as probe:
        fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError if the abandoned waiter kept it
        fcntl.flock(probe, fcntl.LOCK_UN)
    ws.accounts.create({"type": "PORTFOLIO", "currency": "USD"})


def test_an_exit_without_close_leaves_every_write_in_the_database_file(ws: Workspace, tmp_path: Path) -> None:
    """A kernel that ends without ``ws.close()`` used to leave committed writes in the ``-wal`` only (the
    checkpointer's connection was still open): a copy of the ``.db`` alone held 6 to 42 of 50 deposits."""
    path = ws.path
    ws.close()
    done = subprocess.run([sys.executable, "-c", DEPOSITS, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    account = done.stdout.strip()
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0
    alone = tmp_path / "alone.db"
    shutil.copy(path, alone)  # the database file without any WAL beside it
    assert _deposits(alone, account) == 50


def test_backup_copies_what_is_still_in_the_wal(ws: Workspace, tmp_path: Path) -> None:
    """``Workspace.backup`` goes through SQLite's backup API: the copy has the writes the WAL holds."""
    account = ws.accounts.create({"type": "PORTFOLIO", "currency": "USD"}).id
    reader = sqlite3.connect(ws.path)  # an open read transaction keeps the checkpoint from finishing
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM cash_ledger").fetchone()
    for _ in range(5):
        ws.accounts.deposit(account, {"amount": "1.00", "currency": "USD"})
    copy = ws.backup(tmp_path / "copy" / "backup.db")
    reader.rollback()
    reader.close()
    assert _deposits(copy, account) == 5
    with Workspace.open(copy) as again:
        assert str(again.accounts.get(account).cash) == "5.00"
