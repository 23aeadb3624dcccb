"""What the apps' answers remember between interactions (toolkit.store.cache), and that a write forgets it.

Correctness first: an answer served from memory equals the one computed afresh, and every kind of
write (this connection's, another connection's, inside a rolled-back transaction) is seen by the
next question. Also: a portfolio without master data builds its holdings cube once per question,
and the single-factor exposures in closed form agree with the regression per factor and with SciPy.
"""

from __future__ import annotations

import importlib
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats

from toolkit.analytics import factors as fa
from toolkit.errors import ValidationError
from toolkit.schema import INSTRUMENT, PORTFOLIO, TIME
from toolkit.store import cache, connect, write
from toolkit.store.cache import memo
from toolkit.workspace import Workspace

analytics = importlib.import_module("toolkit.workspace.analytics")


def _store(path: Path):
    db = connect(path)
    with write(db):
        db.conn.execute("CREATE TABLE t (x INTEGER)")
        db.conn.execute("INSERT INTO t VALUES (1)")
    return db


def _total(db) -> int:
    return memo(db).get("total", lambda: db.conn.execute("SELECT sum(x) FROM t").fetchone()[0])


def test_a_memo_serves_until_a_commit_of_this_or_another_connection(tmp_path: Path) -> None:
    db = _store(tmp_path / "m.db")
    assert _total(db) == 1
    db.conn.execute("CREATE TEMP TABLE ids (id TEXT)")  # the store's scratch tables: no commit to the file
    db.conn.execute("INSERT INTO ids VALUES ('a')")
    db.conn.commit()
    assert _total(db) == 1 and memo(db).hits == 1  # served from memory
    with write(db):
        db.conn.execute("INSERT INTO t VALUES (2)")
    assert _total(db) == 3  # this connection's commit
    other = sqlite3.connect(tmp_path / "m.db")
    other.execute("INSERT INTO t VALUES (4)")
    other.commit()
    other.close()
    assert _total(db) == 7  # another connection's commit
    db.close()


def test_nothing_is_remembered_inside_a_transaction_nor_after_its_rollback(tmp_path: Path) -> None:
    db = _store(tmp_path / "m.db")
    with pytest.raises(RuntimeError), write(db):
        db.conn.execute("INSERT INTO t VALUES (10)")
        assert _total(db) == 11  # read inside the transaction: computed, not remembered
        raise RuntimeError("roll back")
    assert _total(db) == 1
    assert memo(db).hits == 0
    db.close()


def test_answers_are_copies_and_closing_leaves_no_wal(tmp_path: Path) -> None:
    db = _store(tmp_path / "m.db")
    first = memo(db).get("array", lambda: xr.DataArray(np.zeros(3)))
    first[:] = 5.0  # a caller changing its answer in place
    assert float(memo(db).get("array", lambda: xr.DataArray(np.ones(3))).sum()) == 0.0
    db.close()
    assert not Path(f"{tmp_path / 'm.db'}-wal").exists()  # the memo's watcher connection closed too


def test_a_memo_holds_the_answers_used_last_only(tmp_path: Path) -> None:
    db = _store(tmp_path / "m.db")
    computed = []
    for key in range(cache.MAX_ANSWERS + 1):
        memo(db).get(key, lambda key=key: computed.append(key) or key)
    memo(db).get(cache.MAX_ANSWERS, lambda: computed.append("again"))  # the last one: remembered
    memo(db).get(0, lambda: computed.append("again"))  # the first one: gone
    assert computed[-1] == "again" and computed.count("again") == 1
    db.close()


QUERY = {"portfolioId": "E0001", "startDate": "2021-01-04", "endDate": "2022-12-28", "includeBenchmark": True}


def test_remembered_report_answers_equal_fresh_ones_and_a_write_is_seen(book_copy: Workspace) -> None:
    ws = book_copy
    query = QUERY
    first = ws.reports.portfolio_returns(query).to_dict()
    assert ws.reports.portfolio_returns(query).to_dict() == first  # served from memory
    fresh = Workspace.open(ws.path)
    try:
        assert fresh.reports.portfolio_returns(query).to_dict() == first
        # a write of another connection: a fee, so net returns change
        master = fresh.reports.master("E0001")
        fresh.reports.set_master("E0001", {
            "portfolioId": "E0001", "annualFee": "0.02", "benchmarkId": "SPX",
            "performanceMeasurementStartDate": str(master.performance_measurement_start_date),
            "dailyPerformanceStartDate": str(master.daily_performance_start_date)})
        after = ws.reports.portfolio_returns(query).to_dict()
        assert after != first and after == fresh.reports.portfolio_returns(query).to_dict()
    finally:
        fresh.close()
    # a write of this connection: a deposit on the last day changes the NAV there
    pid = next(a.id for a in ws.accounts.list(type="PORTFOLIO") if ws.reports.master(a.id).portfolio_id == "E0001")
    nav = float(ws.reports.daily([pid])["nav"].isel({PORTFOLIO: 0, TIME: -1}))
    ws.accounts.deposit(pid, {"amount": "1000.00", "currency": ws.accounts.get(pid).currency})
    assert float(ws.reports.daily([pid])["nav"].isel({PORTFOLIO: 0, TIME: -1})) == pytest.approx(nav + 1000)


def test_a_portfolio_without_master_data_builds_its_cube_once(book_copy: Workspace, monkeypatch) -> None:
    ws = book_copy
    account = ws.accounts.list(type="PORTFOLIO")[0].id
    monkeypatch.setattr(ws.reports, "_stored", lambda ids: {})  # as if it had no master data row
    built = []
    holdings = ws.accounts.holdings
    monkeypatch.setattr(ws.accounts, "holdings", lambda *a, **k: built.append(a) or holdings(*a, **k))
    answer = ws.reports.portfolio_returns({"portfolioId": account, "startDate": "2022-01-03", "endDate": "2022-12-28"})
    assert answer.to_dict()["performanceMeasurementStartDate"] <= "2022-01-03"
    assert len(built) == 1  # the master's first return and the answer's returns: one cube


def test_instrument_table_is_read_again_after_an_upload(book_copy: Workspace) -> None:
    ws = book_copy
    records = ws.instruments.table().set_index("instrument_id")["n_records"]
    table = ws.instruments.table()
    table["n_records"] = 0  # a caller changing its copy in place changes nobody else's
    assert ws.instruments.table()["n_records"].sum() == records.sum()
    answer = ws.history.upload({"isin": "US0378331005", "currency": "USD", "timeframe": 1, "history": [
        {"timestamp": "2022-12-29", "close": 126.0}, {"timestamp": "2022-12-30", "close": 129.9}]})
    after = ws.instruments.table().set_index("instrument_id")["n_records"]
    assert after[answer["instrument_id"]] == records[answer["instrument_id"]] + 2


def test_exposures_in_closed_form_agree_with_the_regression_and_scipy() -> None:
    rng = np.random.default_rng(7)
    days = np.arange("2020-01-01", "2020-05-01", dtype="datetime64[D]")
    factors = xr.DataArray(rng.normal(0, 0.01, (3, len(days))), dims=(fa.FACTOR, TIME),
                           coords={fa.FACTOR: ["MKT", "VAL", "MOM"], TIME: days, "kind": (fa.FACTOR, ["m", "s", "s"])})
    noise = rng.normal(0, 0.005, (2, len(days)))
    returns = xr.DataArray(np.array([[1.2], [0.4]]) * factors.values[0] + noise, dims=(INSTRUMENT, TIME),
                           coords={INSTRUMENT: ["A", "B"], TIME: days})
    returns[0, :10] = np.nan  # gaps in a series and in a factor: each pair on its own common dates
    factors[2, 50:60] = np.nan
    out = analytics.exposures(returns, factors, INSTRUMENT)
    for name in factors[fa.FACTOR].values:
        fit = fa.regress(returns, factors, names=[name])
        np.testing.assert_allclose(out["beta"].sel({fa.FACTOR: name}), fit["beta"].sel({fa.FACTOR: name}), rtol=1e-12)
        np.testing.assert_allclose(out["r_squared"].sel({fa.FACTOR: name}), fit["r_squared"], rtol=1e-12)
        np.testing.assert_array_equal(out["count"].sel({fa.FACTOR: name}), fit["count"])
    ok = returns[0].notnull() & factors[2].notnull()
    scipy_fit = stats.linregress(factors[2].values[ok], returns[0].values[ok])
    assert float(out["beta"].sel({INSTRUMENT: "A", fa.FACTOR: "MOM"})) == pytest.approx(scipy_fit.slope, rel=1e-12)
    assert float(out["r_squared"].sel({INSTRUMENT: "A", fa.FACTOR: "MOM"})) == pytest.approx(scipy_fit.rvalue**2,
                                                                                               rel=1e-12)
    short = analytics.exposures(returns.isel({TIME: slice(0, 12)}), factors, INSTRUMENT)  # A has 2 dates: no fit
    assert np.isnan(float(short["beta"].sel({INSTRUMENT: "A", fa.FACTOR: "MKT"})))
    assert int(short["count"].sel({INSTRUMENT: "A", fa.FACTOR: "MKT"})) == 0
    assert list(out["kind"].values) == ["m", "s", "s"]


def test_attribution_periods_share_one_read_and_equal_reads_to_their_end(book_copy: Workspace, monkeypatch) -> None:
    """The attribution page's periods ("2022" to 12-31, "Last 3 years" to the 12-28 close, "2019"...):
    the whole history is read once, and each period's weights and answer equal those read to its end."""
    ws = book_copy
    growth = next(a.id for a in ws.accounts.list(type="PORTFOLIO") if a.name == "Growth mandate")
    index = ws.attribution.indexes()[0].id
    reads = []
    prices = ws.history.prices
    monkeypatch.setattr(ws.history, "prices", lambda *a, **k: reads.append(k.get("end")) or prices(*a, **k))
    answers = {}
    for start, end in (("2022-01-01", "2022-12-31"), ("2020-01-01", "2022-12-28"), ("2019-01-01", "2019-12-31")):
        answers[end] = ws.attribution.run({"portfolio_id": growth, "benchmark": {"index_id": index},
                                           "start_date": start, "end_date": end}).to_dict()
    first = len(reads)
    assert first and ws.attribution.run({"portfolio_id": growth, "benchmark": {"index_id": index},
                                         "start_date": "2019-01-01", "end_date": "2019-12-31"}).to_dict() \
        == answers["2019-12-31"]
    assert len(reads) == first <= 3  # the account's closes, the index's, the returns': once each, for every period
    # cut at an end, the weights are those of the holdings read to that end (value over nav)
    weights, _ = ws.attribution.weights(growth, "2019-12-31")
    cube = ws.accounts.holdings([growth], end="2019-12-31").isel({PORTFOLIO: 0})
    expected = (cube["value"] / cube["nav"]).transpose(INSTRUMENT, TIME)
    assert weights.indexes[TIME].equals(cube.indexes[TIME])
    got = weights.drop_sel({INSTRUMENT: "CASH"}).sel({INSTRUMENT: expected[INSTRUMENT].values})
    np.testing.assert_allclose(got.values, expected.values, rtol=0, atol=1e-15)


def test_report_parts_are_remembered_on_what_each_depends_on(book_copy: Workspace, monkeypatch) -> None:
    """Another period with the same end keeps PO005 (rolling to the end), another frequency keeps PO003
    and PO005; every part served from memory equals the part computed afresh."""
    ws = book_copy
    reports_module = importlib.import_module("toolkit.workspace.reports").reports
    calls: list[str] = []
    for name in ("performance_overview", "cumulative_chart", "rolling_performance"):
        original = getattr(reports_module, name)
        monkeypatch.setattr(reports_module, name,
                            lambda *a, _f=original, _n=name, **k: calls.append(_n) or _f(*a, **k))
    pid = next(a.id for a in ws.accounts.list(type="PORTFOLIO") if a.name == "Growth mandate")
    five = ws.reports.portfolio_report(pid, "2018-01-02", "2022-12-28")
    three = ws.reports.portfolio_report(pid, "2020-01-02", "2022-12-28")
    quarterly = ws.reports.portfolio_report(pid, "2020-01-02", "2022-12-28", frequency="quarterly")
    assert calls == ["performance_overview", "cumulative_chart", "rolling_performance",
                     "performance_overview", "cumulative_chart", "performance_overview"]
    monkeypatch.undo()
    fresh = Workspace.open(ws.path)
    try:
        for parts, args in ((five, ("2018-01-02", "2022-12-28")), (three, ("2020-01-02", "2022-12-28")),
                            (quarterly, ("2020-01-02", "2022-12-28", None, "quarterly"))):
            again = fresh.reports.portfolio_report(pid, *args)
            for code in ("PO001", "PO005"):
                pd.testing.assert_frame_equal(parts[code], again[code])
            assert parts["PO003"].to_json() == again["PO003"].to_json()
    finally:
        fresh.close()


def test_closes_are_cut_from_the_whole_history_as_prices_reads_them(book_copy: Workspace) -> None:
    ws = book_copy
    ids = ["AAPL", "MSFT", "SPX"]
    for start, end in ((None, None), ("2015-03-02", "2016-06-30"), ("2016-06-30", None), (None, "2001-01-01"),
                       ("2030-01-01", None)):
        expected = ws.history.prices(ids, start=start, end=end)["close"]
        xr.testing.assert_identical(ws.history.closes(ids, start, end), expected)
    with pytest.raises(ValidationError) as refused:
        ws.history.closes(ids, "2020-01-02", "2019-01-02")
    assert [p.path for p in refused.value.problems] == ["end"]
    aapl = ws.history.closes(["AAPL"])
    ws.history.upload({"isin": "US0378331005", "currency": "USD", "timeframe": 1, "history": [
        {"timestamp": "2022-12-29", "close": 126.0}]})
    assert ws.history.closes(["AAPL"]).sizes[TIME] == aapl.sizes[TIME] + 1  # a write is seen


def test_a_page_leaves_what_it_was_built_on_to_the_collector_once(monkeypatch) -> None:
    """components.page: the first page built in a process collects once and freezes what is held
    (gc.freeze), so that later full collections do not walk it; the next pages leave gc alone."""
    import gc

    import ipywidgets as widgets

    from toolkit.widgets import components

    monkeypatch.setattr(components, "_settled", False)
    collected = []
    monkeypatch.setattr(gc, "collect", lambda *a: collected.append(a) or 0)
    first, second = widgets.HTML(), widgets.HTML()
    assert components.page(first) is first
    frozen = gc.get_freeze_count()
    assert frozen > 0 and len(collected) == 1
    assert components.page(second) is second
    assert len(collected) == 1 and gc.get_freeze_count() >= frozen
