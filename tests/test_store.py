"""The SQLite store: connection pragmas, ``BEGIN IMMEDIATE`` writes, migrations, setup, demo build."""

from __future__ import annotations

import json
import shutil
import sqlite3
import struct
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.errors import NotFoundError, ToolkitError
from toolkit.market import sources
from toolkit.store import connect, demo, legs, migrate, pending, write
from toolkit.store.db import Store
from toolkit.store.migrations import MIGRATIONS
from toolkit.store.orders import OrderRepository
from toolkit.workspace import Workspace

#: every registered migration, as a new file needs them
ALL_MIGRATIONS = [m.name for m in MIGRATIONS.pending(__import__("sqlite_utils").Database(memory=True))]

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def db(tmp_path):
    """A fresh, migrated workspace database."""
    database = connect(tmp_path / "store.db")
    migrate(database)
    yield database
    database.close()


def count(conn: sqlite3.Connection, table: str = "fx_rates") -> int:
    return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def add_rate(database, day: str, rate: float = 1.1) -> None:
    database.conn.execute("INSERT INTO fx_rates (currency, time, rate) VALUES ('USD', ?, ?)", (day, rate))


def other_connection(path: Path, timeout: float = 0.05) -> sqlite3.Connection:
    """Another process's view of the file (plain sqlite3, short busy timeout, autocommit)."""
    return sqlite3.connect(str(path), timeout=timeout, isolation_level=None)


def db_path(database) -> Path:
    return Path(database.conn.execute("PRAGMA database_list").fetchone()[2])


# =========================================================================== connection


@pytest.mark.parametrize("pragma, value", [("journal_mode", "wal"), ("foreign_keys", 1), ("busy_timeout", 30000),
                                           ("wal_autocheckpoint", 0), ("cache_size", -262144)])
def test_connection_pragmas(db, pragma, value):
    assert db.conn.execute(f"PRAGMA {pragma}").fetchone()[0] == value


def test_workspace_connection_has_the_same_pragmas(demo_ws):
    conn = demo_ws.db.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 30000


def test_foreign_keys_are_enforced(db):
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        with write(db):
            db.conn.execute("INSERT INTO prices (instrument_id, timeframe, time, close) "
                            "VALUES ('no-such-instrument', 1, '2024-01-02', 10.0)")
    assert count(db.conn, "prices") == 0


# =========================================================================== write()


def test_write_takes_the_write_lock_at_begin(db):
    path = db_path(db)
    other = other_connection(path)
    try:
        with write(db):
            # nothing written yet: a deferred BEGIN would not hold the lock at this point
            with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                other.execute("BEGIN IMMEDIATE")
            add_rate(db, "2024-01-02")
            with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                other.execute("BEGIN IMMEDIATE")
            # WAL: a reader is not blocked, and sees only committed data
            assert count(other) == 0
        assert count(other) == 1
        other.execute("BEGIN IMMEDIATE")  # the lock is released at commit
        other.execute("ROLLBACK")
    finally:
        other.close()


def test_write_commits_on_success(db):
    with write(db):
        add_rate(db, "2024-01-02")
        add_rate(db, "2024-01-03")
    assert not db.conn.in_transaction
    other = other_connection(db_path(db))
    try:
        assert count(other) == 2
    finally:
        other.close()


def test_write_rolls_back_on_exception(db):
    add_one = lambda: add_rate(db, "2024-01-01")  # noqa: E731
    with write(db):
        add_one()
    with pytest.raises(RuntimeError, match="boom"):
        with write(db):
            add_rate(db, "2024-01-02")
            db["fx_rates"].insert({"currency": "GBP", "time": "2024-01-02", "rate": 0.86})  # sqlite-utils too
            raise RuntimeError("boom")
    assert not db.conn.in_transaction
    assert count(db.conn) == 1


def test_write_rolls_back_on_a_failing_statement(db):
    with pytest.raises(sqlite3.IntegrityError):
        with write(db):
            add_rate(db, "2024-01-02")
            add_rate(db, "2024-01-03", rate=-1.0)  # CHECK (rate > 0)
    assert count(db.conn) == 0
    assert not db.conn.in_transaction


def test_nested_write_joins_the_outer_transaction(db):
    other = other_connection(db_path(db))
    try:
        with pytest.raises(RuntimeError):
            with write(db):
                add_rate(db, "2024-01-02")
                with write(db):
                    add_rate(db, "2024-01-03")
                # the inner block did not commit: nobody else sees its row yet
                assert db.conn.in_transaction
                assert count(other) == 0
                raise RuntimeError("outer fails after the inner block finished")
        assert count(db.conn) == 0 and count(other) == 0
        with write(db):
            add_rate(db, "2024-01-02")
            with write(db):
                add_rate(db, "2024-01-03")
            assert count(other) == 0
        assert count(other) == 2
    finally:
        other.close()


def test_failure_inside_a_nested_write_rolls_back_the_whole_transaction(db):
    with pytest.raises(ValueError):
        with write(db):
            add_rate(db, "2024-01-02")
            with write(db):
                add_rate(db, "2024-01-03")
                raise ValueError("inner fails")
    assert count(db.conn) == 0
    assert not db.conn.in_transaction


def test_a_second_writer_waits_on_the_busy_timeout_and_then_succeeds(db):
    """With a generous timeout the second writer queues instead of failing (no timing asserted)."""
    import threading

    path = db_path(db)
    started = threading.Event()
    release = threading.Event()
    errors: list[BaseException] = []

    def hold_the_lock():
        try:
            with write(db):
                add_rate(db, "2024-01-02")
                started.set()
                release.wait(5)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    started.wait(5)
    second = connect(path)
    try:
        timer = threading.Timer(0.2, release.set)
        timer.start()
        with write(second):  # blocks until the holder commits, within the 30 s busy timeout
            add_rate(second, "2024-01-03")
        holder.join(5)
        timer.join()
        assert not errors
        assert count(second.conn) == 2
    finally:
        release.set()
        holder.join(5)
        second.close()


def test_writers_queue_on_the_writer_lock_past_sqlite_s_busy_timeout(db):
    """A writer whose own busy timeout is 50 ms still waits its turn behind a 0.3 s transaction,
    because it queues on ``<file>.lock`` first (:class:`toolkit.store.db.Store`)."""
    import threading

    path = db_path(db)
    impatient = Store(sqlite3.connect(str(path), timeout=0.05, check_same_thread=False), path)
    holding = threading.Event()

    def hold_the_lock():
        with write(db):
            add_rate(db, "2024-01-02")
            holding.set()
            threading.Event().wait(0.3)

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    try:
        assert holding.wait(5)
        with write(impatient):
            add_rate(impatient, "2024-01-03")
        assert count(impatient.conn) == 2
    finally:
        holder.join(5)
        impatient.close()


def test_a_failed_write_releases_the_writer_lock(db):
    import fcntl

    with pytest.raises(ValueError):
        with write(db):
            add_rate(db, "2024-01-02")
            raise ValueError("fails")
    with open(f"{db_path(db)}.lock", "a") as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises BlockingIOError if still held
        fcntl.flock(other, fcntl.LOCK_UN)
    assert count(db.conn) == 0


# =========================================================================== migrations


def test_open_of_a_fresh_empty_file_says_to_run_setup(tmp_path):
    path = tmp_path / "empty.db"
    path.touch()
    with pytest.raises(ToolkitError) as info:
        Workspace.open(path)
    message = str(info.value)
    assert f"python -m toolkit setup {path}" in message
    assert "m001_market" in message


def test_open_of_a_missing_file_says_to_run_setup_and_creates_nothing(tmp_path):
    path = tmp_path / "missing.db"
    with pytest.raises(NotFoundError) as info:
        Workspace.open(path)
    assert isinstance(info.value, ToolkitError)
    assert "python -m toolkit setup" in str(info.value)
    assert not path.exists()


def test_create_then_open(tmp_path):
    path = tmp_path / "new.db"
    with Workspace.create(path) as created:
        assert set(created.db.table_names()) >= {"instruments", "prices", "history_uploads", "fx_rates"}
        assert pending(created.db) == []
    with Workspace.open(path) as ws:
        assert ws.instruments.table().empty
        assert ws.status()["instruments"] == 0


def test_migrate_is_idempotent(tmp_path):
    database = connect(tmp_path / "m.db")
    try:
        assert pending(database) == [m.name for m in MIGRATIONS.pending(database)] == ALL_MIGRATIONS
        assert ALL_MIGRATIONS[0] == "m001_market"
        assert migrate(database) == ALL_MIGRATIONS
        schema = database.conn.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall()
        applied = database.conn.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0]
        assert migrate(database) == []
        assert migrate(database) == []
        assert database.conn.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall() == schema
        assert database.conn.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0] == applied
        assert pending(database) == []
        assert not database.conn.in_transaction
    finally:
        database.close()


def test_m011_drops_the_copy_of_executed_trades_and_keeps_the_others(tmp_path):
    """A workspace written before m011: its EXECUTED executions lose the copy of their trades (the
    child orders hold them); previews and cancellations keep theirs; the new CHECK holds."""
    database = connect(tmp_path / "old.db")
    try:
        with write(database):
            MIGRATIONS.apply(database, stop_before="m011_executed_trades_not_copied")
        with write(database):
            database.conn.execute("INSERT INTO accounts VALUES ('a1', 'PORTFOLIO', 'ACTIVE', 'USD', NULL, 'now')")
            database.conn.execute("INSERT INTO portfolio_orders VALUES ('o1', 'a1', 'REBALANCE', '10.00', 'USD', "
                                  "'FILLED', NULL, '2024-01-02', 'now')")
            database.conn.execute("INSERT INTO rebalancings VALUES ('r', '{}', 0, '2024-01-02T00:00:00Z')")
            database.conn.executemany(
                "INSERT INTO rebalancing_executions VALUES (?, 'r', ?, ?, ?, ?, ?)",
                [("e1", "a1", "EXECUTED", None, "o1", '[{"side": "BUY"}]'),
                 ("e2", "a2", "PREVIEW", None, None, '[{"side": "SELL"}]'),
                 ("e3", "a3", "CANCELLED", "ACCOUNT_NOT_FOUND", None, "[]")])
        assert migrate(database)[:3] == ["m011_executed_trades_not_copied", "m012_packed_child_orders",
                                     "m013_event_subscribers"]
        rows = database.conn.execute("SELECT id, status, trades FROM rebalancing_executions ORDER BY id").fetchall()
        assert rows == [("e1", "EXECUTED", None), ("e2", "PREVIEW", '[{"side": "SELL"}]'), ("e3", "CANCELLED", "[]")]
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            database.conn.execute("INSERT INTO rebalancing_executions VALUES ('e4', 'r', 'a4', 'PREVIEW', "
                                  "NULL, NULL, NULL)")
        assert "rebalancing_executions_run" in {r[0] for r in database.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index'")}
    finally:
        database.close()


def test_m012_packs_the_child_orders_exactly_and_renames_their_bookings(tmp_path):
    """A workspace written before m012: each order's child orders become its packed legs with the
    same exact values (cents, 1e-10 share), fills and child orders go, the positions are the fills'
    sum as before, and the cash bookings that named a child order name its derived id."""
    database = connect(tmp_path / "old.db")
    try:
        with write(database):
            MIGRATIONS.apply(database, stop_before="m012_packed_child_orders")
        with write(database):
            conn = database.conn
            for iid in ("i-a", "i-b"):
                conn.execute("INSERT INTO instruments VALUES (?, ?, 'n', 'US0000000000', NULL, 'USD', 'Equity', "
                             "'Stock', NULL, NULL, 1, 'test', 'now')", (iid, iid.upper()))
            conn.execute("INSERT INTO accounts VALUES ('a1', 'PORTFOLIO', 'ACTIVE', 'USD', NULL, 'now')")
            orders = [("6f1c4f36-0000-4000-8000-000000000001", "FILLED", "2024-01-02"),
                      ("6f1c4f36-0000-4000-8000-000000000002", "SETTLED", "2024-01-03"),
                      ("6f1c4f36-0000-4000-8000-000000000003", "NEW", "2024-01-04")]
            for order, state, day in orders:
                conn.execute("INSERT INTO portfolio_orders VALUES (?, 'a1', 'BUY', '1.00', 'USD', ?, NULL, ?, 'now')",
                             (order, state, day))
            children = [("c1", orders[0][0], 0, "i-a", "BUY", "1234.56", "12.3456789012", 100.25, "0.62"),
                        ("c2", orders[0][0], 1, "i-b", "BUY", "0.01", "0.0000000001", 0.5, "0.00"),
                        ("c3", orders[1][0], 0, "i-a", "SELL", "99999999.99", "2.5000000000", 3.75, "12.00"),
                        ("c4", orders[2][0], 0, "i-b", "BUY", "5.00", "1.0000000000", 5.0, "0.00")]
            conn.executemany("INSERT INTO child_orders VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", children)
            conn.executemany("INSERT INTO fills (child_order_id, account_id, instrument_id, quantity, price, "
                             "executed_on) VALUES (?, 'a1', ?, ?, ?, ?)",
                             [("c1", "i-a", "12.3456789012", 100.25, "2024-01-02"),
                              ("c2", "i-b", "0.0000000001", 0.5, "2024-01-02"),
                              ("c3", "i-a", "-2.5000000000", 3.75, "2024-01-03")])
            conn.execute("INSERT INTO cash_ledger (account_id, kind, amount, reference, value_date, booked_at) "
                         "VALUES ('a1', 'BUY', '-1234.56', 'c1', '2024-01-02', 'now')")
            steps = [(None, "NEW", "t1"), ("NEW", "PROCESSING", "t2"), ("PROCESSING", "FILLED", "t3")]
            conn.executemany("INSERT INTO order_transitions (portfolio_order_id, from_state, to_state, at) "
                             "VALUES (?, ?, ?, ?)", [(orders[0][0], *step) for step in steps])
            conn.executemany("INSERT INTO events (type, resource_id, payload, created_at) VALUES (?, ?, ?, ?)",
                             [(f"PORTFOLIO_ORDER.{to}", orders[0][0], json.dumps({"from": before, "to": to}), at)
                              for before, to, at in (steps[0], steps[2])])  # the PROCESSING event is missing
        assert migrate(database)[:2] == ["m012_packed_child_orders", "m013_event_subscribers"]
        history = OrderRepository(database).transitions(orders[0][0])
        assert history.astype(object).where(history.notna(), None).values.tolist() == [list(s) for s in steps]
        assert database.conn.execute("SELECT count(*) FROM events").fetchone()[0] == 3
        tables = {r[0] for r in database.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "fills" not in tables and "child_orders" not in tables and "instrument_keys" in tables
        repo = OrderRepository(database)
        first = repo.children(orders[0][0])
        assert first[["instrument_id", "side", "amount", "quantity", "price", "fee"]].values.tolist() == [
            ["i-a", "BUY", "1234.56", "12.3456789012", 100.25, "0.62"], ["i-b", "BUY", "0.01", "0.0000000001", 0.5,
                                                                        "0.00"]]
        assert repo.children(orders[1][0])[["side", "amount", "quantity", "fee"]].values.tolist() == [
            ["SELL", "99999999.99", "2.5000000000", "12.00"]]
        assert repo.positions("a1") == {"i-a": Decimal("9.8456789012"), "i-b": Decimal("0.0000000001")}
        assert database.conn.execute("SELECT reference FROM cash_ledger").fetchone()[0] == first["id"].iloc[0]
        assert first["id"].tolist() == [legs.child_id(orders[0][0], 0), legs.child_id(orders[0][0], 1)]
    finally:
        database.close()


def test_legs_round_trip_and_their_documented_layout():
    """Records pack to the 37-byte little-endian layout the module documents, split per order and
    decode back; signed units are negative for a SELL."""
    table = legs.records([3, 7, 3], [0, 1, 0], [1, 10**16, 5], [2**62, 1, 0], [0.5, 1.25, 9.0], [0, 3, 0])
    blobs = legs.split(table, [2, 0, 1])
    assert [len(b) for b in blobs] == [74, 0, 37]
    assert struct.unpack("<iBqqdq", blobs[2]) == (3, 0, 5, 0, 9.0, 0)
    back, counts = legs.decode(blobs)
    assert counts.tolist() == [2, 0, 1] and back.tobytes() == table.tobytes()
    assert legs.signed_units(back).tolist() == [2**62, -1, 0]
    assert legs.child_id("6f1c4f36-0000-4000-8000-000000000001", 0) != legs.child_id(
        "6f1c4f36-0000-4000-8000-000000000001", 1)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 399), st.integers(-(2**40), 2**40)), max_size=200),
       st.sampled_from([400, 10_000]))
def test_cell_sums_are_exact_on_both_paths(rows, n_cells):
    """Both ways of summing positions (all cells at once, or the used cells after a sort) give the
    exact sums of a plain dict, zeros left out, in cell order."""
    cells = np.array([c for c, _ in rows], np.int64)
    units = np.array([u for _, u in rows], np.int64)
    expected: dict[int, int] = {}
    for cell, unit in rows:
        expected[cell] = expected.get(cell, 0) + unit
    used, sums = legs.cell_sums(cells, units, n_cells)
    assert dict(zip(used.tolist(), sums.tolist())) == {c: u for c, u in expected.items() if u}
    assert used.tolist() == sorted(used.tolist())


def test_commits_are_checkpointed_off_the_write_path(tmp_path):
    """Connections do not checkpoint inside COMMIT (``wal_autocheckpoint = 0``); the Checkpointer
    copies the WAL back after the commit, and closing the workspace leaves no WAL behind."""
    database = connect(tmp_path / "c.db")
    assert database.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    with write(database):
        database.conn.execute("CREATE TABLE t (x BLOB)")
        database.conn.executemany("INSERT INTO t VALUES (?)", [(bytes(3000),)] * 2000)
    assert (tmp_path / "c.db-wal").stat().st_size > 6_000_000  # the commit wrote the WAL only
    database.checkpointer.stop()  # waits for the checkpoint the commit asked for
    shutil.copy(tmp_path / "c.db", tmp_path / "file_only.db")  # the database file without its WAL
    alone = sqlite3.connect(tmp_path / "file_only.db")
    assert alone.execute("SELECT count(*) FROM t").fetchone()[0] == 2000
    alone.close()
    database.close()
    assert not (tmp_path / "c.db-wal").exists()


def test_create_on_an_existing_workspace_keeps_its_data(ws):
    before = ws.status()
    path = ws.path
    ws.close()
    with Workspace.create(path) as again:
        after = again.status()
    assert {k: v for k, v in after.items() if k != "path"} == {k: v for k, v in before.items() if k != "path"}


def _setup(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "toolkit", "setup", str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_setup_command_on_a_new_path(tmp_path):
    path = tmp_path / "sub" / "ws.db"
    path.parent.mkdir()
    first = _setup(path)
    assert first.returncode == 0, first.stderr
    assert f"{len(ALL_MIGRATIONS)} migration(s) applied" in first.stdout
    with Workspace.open(path) as ws:
        assert ws.status()["price_records"] == 0
    second = _setup(path)
    assert second.returncode == 0, second.stderr
    assert "0 migration(s) applied" in second.stdout


def test_setup_turns_an_empty_file_into_a_workspace(tmp_path, capsys):
    from toolkit.__main__ import main

    empty = tmp_path / "empty.db"
    empty.touch()
    main(["setup", str(empty)])
    assert f"{len(ALL_MIGRATIONS)} migration(s) applied" in capsys.readouterr().out
    Workspace.open(empty).close()


# =========================================================================== demo build


@pytest.fixture
def small_data(tmp_path) -> Path:
    """A small data/ folder: the five factor ETFs and a year of ECB rates, so a build takes a moment."""
    data = tmp_path / "data"
    data.mkdir()
    table = pd.read_csv(sources.DATA / "instruments.csv", dtype=str, keep_default_na=False)
    table[table["file"] == "factor_etfs.csv"].to_csv(data / "instruments.csv", index=False)
    (data / "factor_etfs.csv").write_bytes((sources.DATA / "factor_etfs.csv").read_bytes())
    ecb = (sources.DATA / "ecb_fx.csv").read_text().splitlines(keepends=True)
    (data / "ecb_fx.csv").write_text("".join(ecb[:261]))  # 1999 only
    return data


def test_demo_build_failure_leaves_no_file(tmp_path, small_data, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("ECB file unreadable")

    monkeypatch.setattr(sources, "fx_rates", broken)
    target = tmp_path / "demo" / "demo.db"
    with pytest.raises(OSError, match="ECB file unreadable"):
        demo.build(target, data=small_data)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []  # no temporary file or WAL left behind either


def test_demo_build_failure_keeps_the_existing_file(tmp_path, small_data, monkeypatch):
    data = small_data
    target = tmp_path / "out" / "demo.db"
    demo.build(target, data=data)
    with Workspace.open(target) as ws:
        good = ws.status()
    assert good["instruments"] == 5 and good["fx"]["n_records"] > 0
    original = target.read_bytes()

    monkeypatch.setattr(sources, "fx_rates", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        demo.build(target, data=data)
    assert target.read_bytes() == original
    # the failed build leaves nothing behind; demo.db.lock is the writer lock of the opened workspace
    assert sorted(p.name for p in target.parent.iterdir()) == ["demo.db", "demo.db.lock"]
    with Workspace.open(target) as ws:
        assert ws.status() == good


def test_demo_build_reports_progress(tmp_path, small_data):
    calls = []
    demo.build(tmp_path / "p.db", data=small_data, progress=lambda *a: calls.append(a))
    assert [c[0] for c in calls] == [1, 2, 3, 4, 5, 6]
    assert all(c[1] == 6 for c in calls)
    assert calls[-1][2] == "ECB rates"


# =========================================================================== status


def _status_against_tables(ws) -> None:
    status = ws.status()
    conn = ws.db.conn
    one = lambda sql: conn.execute(sql).fetchone()  # noqa: E731
    assert status["instruments"] == one("SELECT count(*) FROM instruments")[0]
    assert status["tradable_instruments"] == one("SELECT count(*) FROM instruments WHERE tradable = 1")[0]
    assert status["price_records"] == one("SELECT count(*) FROM prices")[0]
    assert status["instruments_with_history"] == one("SELECT count(DISTINCT instrument_id) FROM prices")[0]
    assert status["last_updated"] == one("SELECT max(uploaded_at) FROM history_uploads")[0]
    rows = conn.execute("SELECT timeframe, count(DISTINCT instrument_id), count(*), min(time), max(time) "
                        "FROM prices GROUP BY timeframe").fetchall()
    labels = {0: "week", 1: "day", 2: "two hours", 3: "one hour", 4: "fifteen minutes"}
    assert status["timeframes"] == {labels[tf]: {"series": s, "n_records": n, "history_start": a, "history_end": b}
                                    for tf, s, n, a, b in rows}
    currencies, first, last, n = one("SELECT count(DISTINCT currency), min(time), max(time), count(*) FROM fx_rates")
    assert status["fx"] == {"currencies": currencies, "first": first, "last": last, "n_records": n}


def test_status_of_the_demo_matches_the_tables(demo_ws):
    _status_against_tables(demo_ws)
    status = demo_ws.status()
    assert status["instruments"] == 35  # data/instruments.csv's rows
    assert status["fx"]["first"] == "1999-01-04"
    assert status["timeframes"]["day"]["history_start"] == "1986-03-13"  # pmdarima's MSFT


def test_status_after_uploads_in_two_timeframes_matches_the_tables(ws):
    ws.history.upload({"isin": "DE0007164600", "currency": "EUR", "timeframe": 0, "symbol": "SAP",
                       "history": [{"timestamp": "2024-12-13", "close": 230.0},
                                   {"timestamp": "2024-12-20", "close": 235.3}]})
    ws.history.upload({"isin": "US0378331005", "currency": "USD", "timeframe": 1,
                       "history": [{"timestamp": "2022-12-29", "close": 126.0}]})
    _status_against_tables(ws)
    status = ws.status()
    assert status["timeframes"]["week"] == {"series": 1, "n_records": 2, "history_start": "2024-12-13",
                                            "history_end": "2024-12-20"}
    assert status["instruments"] == 36


def test_status_of_an_empty_workspace(tmp_path):
    with Workspace.create(tmp_path / "e.db") as ws:
        _status_against_tables(ws)
        assert ws.status()["timeframes"] == {} and ws.status()["last_updated"] is None


UNITS_TEXTS = [("12.3456789012", 10), ("-0.5000000000", 10), ("0.0000000000", 10), ("-12", 10), ("12", 10),
               ("0.5", 10), (".25", 10), ("-.25", 10), ("7.", 10), ("+3.1000000000", 10),
               ("123456789.0000000001", 10), ("12", 2), ("-12", 2), ("12.5", 2), ("12.50", 2), ("-0.05", 2),
               ("1234567.89", 2), ("7.", 2)]


@pytest.mark.parametrize(("text", "places"), UNITS_TEXTS)
def test_units_sql_parses_a_decimal_string_exactly(text, places):
    """The fast path (exactly ``places`` decimals) and the general parse agree with Decimal
    ("12" at 2 decimals is 1200 cents, not 12: its length minus 2 is where no point is)."""
    from decimal import Decimal

    from toolkit.store.orders import units_sql

    conn = sqlite3.connect(":memory:")
    got = conn.execute(f"SELECT {units_sql('?1', places)}", (text,)).fetchone()[0]
    assert got == int(Decimal(text).scaleb(places))


@settings(max_examples=300, deadline=None)
@given(st.integers(-10**17, 10**17), st.integers(0, 2), st.booleans())
def test_units_sql_matches_decimal_on_both_paths(units, trim, cents):
    """Random values written with all their decimals (the fast path) or with trailing zeros cut
    (the general parse), at 10 decimals (quantities) or 2 (cents)."""
    from decimal import Decimal

    from toolkit.store.orders import units_sql

    places = 2 if cents else 10
    text = format(Decimal(units).scaleb(-places), "f")
    if trim and "." in text:
        text = text.rstrip("0").rstrip(".") if trim == 2 else text[:-1] if text.endswith("0") else text
    conn = sqlite3.connect(":memory:")
    assert conn.execute(f"SELECT {units_sql('?1', places)}", (text,)).fetchone()[0] == units


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(-(2**62), 2**62), min_size=1, max_size=50), st.sampled_from([1, 2, 10]))
def test_decimal_text_sql_writes_the_text_decimal_texts_gives(values: list[int], places: int) -> None:
    """A bulk write formats amounts in SQLite (``printf``); the text must be the one Python writes."""
    from toolkit.store.repositories import decimal_text_sql
    from toolkit.trading.orders import decimal_texts

    conn = sqlite3.connect(":memory:")
    got = [conn.execute(f"SELECT {decimal_text_sql('?1', places)}", (v,)).fetchone()[0] for v in values]
    assert got == decimal_texts(np.array(values), places)
    assert [Decimal(t) for t in got] == [Decimal(v).scaleb(-places) for v in values]


def test_sequential_ids_count_up_read_like_a_list_and_are_the_same_in_sql() -> None:
    from toolkit.store.repositories import sequential_ids

    ids = sequential_ids(5)
    listed = list(ids)
    assert len(ids) == 5 and listed == sorted(listed) and len(set(listed)) == 5
    assert ids[0] == listed[0] and ids[-1] == listed[4] and ids[1:3] == listed[1:3]
    assert all(len(i) == 36 and i.count("-") == 4 for i in listed)
    with pytest.raises(IndexError):
        ids[5]
    with pytest.raises(IndexError):
        ids[-6]
    sql, params = ids.sql("n")
    conn = sqlite3.connect(":memory:")
    assert [conn.execute(f"SELECT {sql} FROM (SELECT ? AS n)", [*params, n]).fetchone()[0]
            for n in range(5)] == listed
    assert sequential_ids(3)[0][:24] != ids[0][:24]  # each call draws a new random prefix


def test_demo_copy_is_private_and_deleted_at_close(demo_path: Path) -> None:
    """Issue 18: README snippets wrote into the shared data/demo.db (each re-run added another "Core")."""
    from helpers import dump

    from toolkit.errors import ValidationError

    with Workspace.open(demo_path) as shared:
        before = dump(shared)
    ws = Workspace.demo(demo_path, copy=True)
    assert ws.path != demo_path and ws.path.name == demo_path.name and ws.path.exists()
    assert dump(ws) == before  # the same workspace, through SQLite's backup
    ws.allocations.create({"name": "Core", "allocation": [
        {"instrument_id": "US0378331005", "instrument_id_type": "ISIN", "weight": "1"}]})
    ws.accounts.create({"type": "PORTFOLIO", "currency": "USD"})
    folder = ws.path.parent
    ws.close()
    assert not folder.exists()
    ws.close()  # twice is fine
    with Workspace.open(demo_path) as shared:
        assert dump(shared) == before
    with Workspace.demo(demo_path, copy=True) as again:  # a re-run starts from the demo again
        with Workspace.open(demo_path) as shared:
            assert again.allocations.list(limit=1000) == shared.allocations.list(limit=1000)
        folder = again.path.parent
    assert not folder.exists()
    with pytest.raises(ValidationError) as err:
        Workspace.demo(demo_path, copy="yes")  # type: ignore[arg-type]  # refused
    assert err.value.paths == ["copy"]
