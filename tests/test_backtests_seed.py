"""ws.backtests: the risk platform's PUT/GET /portfolio/backtest as a background job on the demo copy
(risk-platform-api.txt lines 1378-1434): refusals at the edge leave the database as it was, the
document's status words and shape, the result kept across a kernel restart, a failed run."""

from __future__ import annotations

import pytest

from toolkit import Workspace
from toolkit.contracts.risk.backtest import NO_LIMIT
from toolkit.errors import DataError, ValidationError
from toolkit.store.strategies import StrategyRepository
from toolkit.workspace import backtests as module

PERIOD = {"start_date": "2021-01-01", "end_date": "2021-03-31"}


@pytest.fixture(scope="module")
def ws():
    with Workspace.demo(copy=True) as ws:
        yield ws


@pytest.fixture(scope="module")
def account(ws) -> str:
    """The Growth mandate: skfolio's S&P stocks, of which only AAPL has real candles (account ids are random
    UUIDs, so the mandate is picked by name)."""
    return next(a.id for a in ws.accounts.list(type="PORTFOLIO") if a.name == "Growth mandate")


@pytest.fixture(scope="module")
def strategy(ws) -> int:
    """Equal weight (rule 14) re-optimised monthly, with rule 3's stop and rule 5's limit."""
    return ws.strategies.create({"name": "Backtest: EW stops", "rules": [{"rule_id": 3}, {"rule_id": 5},
                                                                         {"rule_id": 14}]}).strategy_id


@pytest.fixture(scope="module")
def completed(ws, account, strategy) -> dict:
    started = ws.backtests.start({"client_reference": account, "strategy_id": strategy, **PERIOD})
    assert started.status in ("Started", "Completed")
    return ws.backtests.get({"client_reference": account, "strategy_id": str(strategy)}, wait=60).to_dict()


#: the market data: read by a backtest, never written (left out of the dump to keep it fast)
MARKET = {"prices", "fx_rates"}


def dump(ws) -> dict[str, list]:
    """Every row of every table but the market data's, and the schema."""
    conn = ws.db.conn
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    return {"schema": conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall(),
            **{t: conn.execute(f"SELECT * FROM [{t}] ORDER BY rowid").fetchall() for t in tables if t not in MARKET}}


def test_completed_in_the_documents_shape(completed, account, strategy) -> None:
    assert completed["status"] == "Completed" and completed["error"] is None
    assert completed["strategyId"] == strategy and isinstance(completed["portfolioId"], int)
    assert completed["clientReference"] == account
    assert (completed["startDate"], completed["endDate"]) == ("2021-01-04", "2021-03-31")
    first = completed["positions"][0]
    assert set(first) == {"instrumentName", "instrumentCode", "openDate", "closeDate", "openPrice", "closePrice",
                          "stop", "limit", "costs", "pnL", "currencyCode", "closed"}
    for key in ("yearlyReturn", "nprofitToTotalRatio"):
        assert completed[key].endswith("%")
    days, rest = completed["averageTradeDuration"].split("d ")
    assert int(days) >= 0 and rest.endswith("m")
    serie = completed["pnLSerie"]
    # day one's value is the first trades' costs at the book's fees (5 bps, 1.00 minimum: kept in the file)
    assert serie[0]["date"] == "2021-01-04T00:00:00Z"
    assert -completed["costs"] <= serie[0]["value"] < 0
    assert serie[-1]["date"] == "2021-03-31T00:00:00Z"
    assert completed["pnL"] == pytest.approx(serie[-1]["value"])
    assert completed["lowestPnL"] == pytest.approx(min(p["value"] for p in serie))
    # the positions' pnL add up to the book's: every day's value is in a position or in cash from a stop
    assert sum(p["pnL"] for p in completed["positions"]) == pytest.approx(completed["pnL"], rel=1e-9)


def test_stops_and_limits_come_from_the_tactical_rules(completed) -> None:
    positions = completed["positions"]
    judged = [p for p in positions if p["stop"] > 0]  # AAPL: the one holding with real candles
    assert judged and all(p["instrumentCode"] == "AAPL_XNGS" for p in judged)
    assert all(p["stop"] < p["openPrice"] < p["limit"] for p in judged)
    others = [p for p in positions if p["instrumentCode"] != "AAPL_XNGS"]
    assert all(p["stop"] == 0 and p["limit"] == NO_LIMIT for p in others)
    # a position leaves at the close that crosses its level, before the next rebalance
    crossed = [p for p in judged if p["closePrice"] <= p["stop"] or p["closePrice"] >= p["limit"]]
    assert crossed
    # the last ones are still held at the end
    assert not all(p["closed"] for p in positions) and positions[-1]["closeDate"] == "2021-03-31"


def test_an_uploaded_portfolio_by_its_client_reference(ws, strategy) -> None:
    """PUT /portfolio's portfolio (risk-platform-api.txt lines 209-241): its open positions' value weights and
    its equity."""
    body = {"name": "Backtest book", "capital": {"currency": "USD", "funds": "100000.00"}, "wishlist": [],
            "positions": [{"instrument_code": code, "apiid": 8, "size": "100", "level": 75.0,
                           "date_open": "2020-01-02T15:00:00Z", "direction": "Long"}
                          for code in ("AAPL_XNGS", "MSFT_XNGS")]}
    ws.portfolios.upload(body, "BACKTEST-BOOK")
    ws.backtests.start({"client_reference": "BACKTEST-BOOK", "strategy_id": strategy, **PERIOD})
    answer = ws.backtests.get({"client_reference": "BACKTEST-BOOK", "strategy_id": strategy}, wait=60).to_dict()
    assert answer["status"] == "Completed", answer["error"]
    assert {p["instrumentCode"] for p in answer["positions"]} == {"AAPL_XNGS", "MSFT_XNGS"}
    assert answer["portfolioId"] > 0 and answer["clientReference"] == "BACKTEST-BOOK"


def test_unknown_pair_is_not_queued(ws, strategy) -> None:
    answer = ws.backtests.get({"client_reference": "nobody", "strategy_id": strategy}).to_dict()
    assert answer["status"] == "Not Queued" and answer["positions"] == [] and answer["portfolioId"] == 0


@pytest.mark.parametrize(("change", "error", "field"), [
    ({"client_reference": "no-such-account"}, ValidationError, "client_reference"),
    ({"strategy_id": 99999}, ValidationError, "strategy_id"),
    ({"strategy_id": "abc"}, ValidationError, "strategy_id"),
    ({"start_date": "2021-03-31", "end_date": "2021-01-01"}, ValidationError, "end_date"),
    ({"start_date": "2021-13-01"}, ValidationError, "start_date"),
    ({"start_date": "1980-01-01", "end_date": "1980-06-30"}, DataError, "start_date"),
    ({"start_date": "2030-01-01", "end_date": "2030-06-30"}, DataError, "start_date"),
])
def test_refused_at_the_edge_and_nothing_queued(ws, account, strategy, change, error, field) -> None:
    before = dump(ws)
    with pytest.raises(error) as caught:
        ws.backtests.start({"client_reference": account, "strategy_id": strategy, **PERIOD, **change})
    assert field in str(caught.value)
    assert dump(ws) == before


def test_a_strategy_without_rules_is_refused(ws, account) -> None:
    empty = StrategyRepository(ws.db).save("empty-strategy-key", "Backtest: no rules", [], "2022-01-01T00:00:00")
    before = dump(ws)
    with pytest.raises(ValidationError, match="strategy_id.*no rules"):
        ws.backtests.start({"client_reference": account, "strategy_id": empty, **PERIOD})
    assert dump(ws) == before


def test_a_failed_run_says_why(ws, account, monkeypatch) -> None:
    sid = ws.strategies.create({"name": "Backtest: fails", "rules": [{"rule_id": 14}]}).strategy_id

    def broken(*args, **kwargs):
        raise RuntimeError("the solver fell over")

    monkeypatch.setattr(module, "compute", broken)
    ws.backtests.start({"client_reference": account, "strategy_id": sid, **PERIOD})
    answer = ws.backtests.get({"client_reference": account, "strategy_id": sid}, wait=60).to_dict()
    assert answer["status"] == "Not Queued"
    assert answer["error"] == "RuntimeError: the solver fell over"
    assert ws.backtests.jobs().iloc[0]["status"] == "Failed"


def test_the_result_survives_a_kernel_restart(ws, completed, account, strategy, tmp_path) -> None:
    copy = ws.backup(tmp_path / "restart.db")
    with Workspace.open(copy) as again:
        answer = again.backtests.get({"client_reference": account, "strategy_id": strategy})
        assert answer.to_dict() == completed
        nav = answer.to_xarray()["nav"]
        assert answer.capital - completed["costs"] <= float(nav[0]) < answer.capital  # less day one's costs
        assert len(answer.to_pandas()) == len(completed["positions"])


def test_the_statistics_as_the_document_writes_them() -> None:
    import pandas as pd

    from toolkit.backtest import TradeStatistics

    stats = TradeStatistics(yearly_return=0.29434, profitable_ratio=0.60256, profit_loss_ratio=1.84041,
                            average_duration=pd.Timedelta(days=243, hours=22, minutes=58, seconds=10), lowest_pnl=-5.0,
                            costs=0.0, pnl=1.0, pnl_series=pd.Series(dtype=float))
    assert module._shown(stats) == {"yearlyReturn": "29.43%", "nprofitToTotalRatio": "60.26%",
                                    "avgProfitLossRatio": "184.04%", "averageTradeDuration": "243d 22h 58m"}
    assert module._shown(stats.__class__(**{**stats.__dict__, "profit_loss_ratio": float("inf")}))[
        "avgProfitLossRatio"] == "N/A"


def test_a_running_job_reports_how_far_it_is(ws, account, strategy) -> None:
    """The run notes the share of its rebalance dates re-optimised (the page's progress bar reads it); a job
    still ``Started`` answers that share, an ended one 1."""
    from toolkit.store.backtests import BacktestRepository

    repo = BacktestRepository(ws.db)
    spec = {"client_reference": account, "strategy_id": strategy}
    repo.queue("progress-job", account, 424242, "2021-01-04", "2021-03-31", spec, "2099-01-01T00:00:00.000000Z")
    query = {"client_reference": account, "strategy_id": 424242}
    assert ws.backtests.get(query).progress == 0.0
    repo.advance("progress-job", 0.4)
    started = ws.backtests.get(query)
    assert started.status == "Started" and started.progress == pytest.approx(0.4)
    repo.finish("progress-job", "Failed", "2099-01-01T00:00:01.000000Z", error="stopped by the test")
    assert ws.backtests.get(query).progress == 1.0


def test_compute_tells_the_share_of_rebalance_dates_done(ws, account, strategy) -> None:
    job = ws.backtests.jobs()
    spec = module.BacktestRepository(ws.db).get(job[job["strategy_id"] == strategy].iloc[0]["job_id"])["spec"]
    closes, bars = module.load(ws.db, spec)
    seen: list[float] = []
    module.compute(closes, bars, spec, progress=seen.append)
    assert seen and seen == sorted(seen) and seen[-1] == 1.0 and 0 < seen[0] < 1
