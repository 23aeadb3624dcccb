"""The demo book: model portfolios run on the shipped prices, so the reports have a real history
(``ws`` below is a :class:`toolkit.workspace.Workspace`, which builds the demo through
:meth:`~toolkit.workspace.Workspace.build_demo`).

Four mandates (PORTFOLIO accounts in USD) follow three model allocations of the real stocks and
factor ETFs in ``data/``, from 2010 to the last shipped close (2022-12-28), through the façade
only, as an operator would run them: funding deposits, monthly savings invested with smart orders,
withdrawals raised with smart sells, quarterly rebalancings with a 2% drift band, one allocation
switch (reallocated at the next rebalancing), 5 bps trading fees with a $1 minimum. Each mandate
has its performance master data: its id in the performance interface (``E0001`` to ``E0004``, in
the order below), a benchmark (the S&P 500 index, or a model used as the custom
benchmark) and an annual management fee. Everything is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pandas as pd

from toolkit.market.sources import DATA
from toolkit.trading.orders import FeeSchedule

#: model allocations: name -> {symbol: weight}; symbols of the skfolio series in data/
MODELS = {
    "US Large Caps": {"AAPL": "0.15", "MSFT": "0.15", "JPM": "0.10", "JNJ": "0.10", "XOM": "0.10", "PG": "0.10",
                      "HD": "0.10", "UNH": "0.10", "WMT": "0.10"},
    "Defensive Dividend": {"KO": "0.20", "PEP": "0.20", "PG": "0.15", "JNJ": "0.15", "WMT": "0.15", "MRK": "0.15"},
    "Factor ETFs": {"MTUM": "0.20", "QUAL": "0.20", "SIZE": "0.20", "USMV": "0.20", "VLUE": "0.20"},
}
#: mandates: name, model, start, initial deposit, monthly saving (+) or quarterly withdrawal (-),
#: benchmark (index symbol or model name), annual fee, and an optional (date, new model) switch
MANDATES = [
    ("Growth mandate", "US Large Caps", "2012-01-03", "1000000.00", "10000.00", "SPX", "0.0075", None),
    ("Income mandate", "Defensive Dividend", "2010-01-04", "500000.00", "-7500.00", "SPX", "0.0050", None),
    ("Factor mandate", "Factor ETFs", "2015-01-02", "250000.00", "2500.00", "SPX", "0.0035", None),
    ("Switching mandate", "Defensive Dividend", "2016-01-04", "300000.00", "0", "US Large Caps", "0.0060",
     ("2019-07-01", "US Large Caps")),
]
#: the demo indexes (ws.attribution.indexes())
INDEXES = ("S&P 20 cap-weighted", "S&P 20 equal-weighted")
FEES = FeeSchedule(bps=Decimal("5"), minimum=Decimal("1.00"))
DRIFT = {"threshold": "0.02", "type": "ABSOLUTE"}
#: the risk platform strategies the demo ships (PUT /strategy), for its backtests and strategy runs: ids 100-102
STRATEGIES = (
    ("Risk Parity, monthly", [{"rule_id": 18}]),
    ("Min CVaR with ATR stops and resistance limits", [{"rule_id": 3}, {"rule_id": 5}, {"rule_id": 12}]),
    ("Equal Weight, monthly", [{"rule_id": 14}]),
)


def build_book(ws: Any, progress: Callable[[int, int, str], None] | None = None) -> dict[str, str]:
    """Run the demo book into ``ws`` (an empty demo workspace); returns mandate name -> account id."""
    ws.orders.fees = FEES
    symbols = ws.instruments.table().query("source == 'skfolio' and tradable")
    ids = dict(zip(symbols["symbol"], symbols["instrument_id"]))
    models = {name: ws.allocations.create({"name": name, "allocation": [
        {"instrument_id": ids[s], "instrument_id_type": "UUID", "weight": w} for s, w in weights.items()]}).id
        for name, weights in MODELS.items()}
    days = ws.history.prices([ids["AAPL"], ids["MTUM"]])["close"].dropna("time", how="any").indexes["time"]
    stock_days = ws.history.prices([ids["AAPL"]])["close"].dropna("time").indexes["time"]
    accounts = {}
    for name, model, *_ in MANDATES:
        account = ws.accounts.create({"type": "PORTFOLIO", "currency": "USD", "name": name}).id
        ws.configurations.create({"account_id": account, "allocation_id": models[model]})
        accounts[name] = account
    plan = _calendar(stock_days, days)
    for step, (day, what) in enumerate(plan):
        for name, model, start, deposit, flow, _bench, _fee, switch in MANDATES:
            account = accounts[name]
            if day < pd.Timestamp(start) or (model == "Factor ETFs" and day not in days):
                continue
            _act(ws, account, day, what, start, deposit, Decimal(flow), switch, models)
        if what == "quarter":
            live = [accounts[n] for n, _, start, *_ in MANDATES if pd.Timestamp(start) < day]
            if live:
                ws.rebalancings.execute({"account_ids": live, "drift": DRIFT,
                                         "execution_date": day.strftime("%Y-%m-%d")})
        if progress:
            progress(step + 1, len(plan), day.strftime("%Y-%m"))
    create_indexes(ws)
    for name, rules in STRATEGIES:
        ws.strategies.create({"name": name, "rules": rules})
    for number, (name, _model, start, _deposit, _flow, bench, fee, _switch) in enumerate(MANDATES, start=1):
        ws.reports.set_master(accounts[name], {
            "portfolioId": f"E{number:04d}",  # the performance interface's id (E0002: the Income mandate)
            "performanceMeasurementStartDate": _next(stock_days, pd.Timestamp(start)),
            "dailyPerformanceStartDate": _month_after(pd.Timestamp(start), 24),
            "benchmarkId": models.get(bench, bench), "annualFee": fee})
    return accounts


def create_indexes(ws: Any) -> list[str]:
    """The demo indexes of the 20 S&P 500 stocks: cap-weighted (shares of data/shares_outstanding.csv)
    and equally weighted; returns their ids."""
    shares = pd.read_csv(DATA / "shares_outstanding.csv", dtype={"shares": str})
    stocks = [{"symbol": s, "shares": n} for s, n in zip(shares["symbol"], shares["shares"])]
    note = "The 20 S&P 500 stocks shipped in data/ ({}); see data/README.md."
    return [ws.attribution.create_index({"name": INDEXES[0], "method": "cap", "currency": "USD",
                                         "description": note.format("weighted by 2022 market cap"),
                                         "constituents": stocks}).id,
            ws.attribution.create_index({"name": INDEXES[1], "method": "equal", "currency": "USD",
                                         "description": note.format("equally weighted, rebalanced daily"),
                                         "constituents": [{"symbol": s["symbol"]} for s in stocks]}).id]


def _calendar(stock_days: pd.DatetimeIndex, etf_days: pd.DatetimeIndex) -> list[tuple[pd.Timestamp, str]]:
    """The first trading day of every month from 2010 on, marked ``quarter`` at quarter starts."""
    days = stock_days[stock_days >= "2010-01-01"]
    firsts = pd.Series(days, index=days).groupby(days.to_period("M")).first()
    return [(day, "quarter" if day.month in (1, 4, 7, 10) else "month") for day in firsts]


def _act(ws: Any, account: str, day: pd.Timestamp, what: str, start: str, deposit: str, flow: Decimal,
         switch: tuple | None, models: dict[str, str]) -> None:
    """One mandate's bookings on the first trading day of a month."""
    when = day.strftime("%Y-%m-%d")
    cash = {"currency": "USD", "value_date": when}
    if day == pd.Timestamp(start):
        ws.accounts.deposit(account, {"amount": deposit, **cash})
        ws.orders.place(account, {"cash_amount": format(Decimal(deposit) * Decimal("0.995"), ".2f"),
                                  "currency": "USD", "side": "BUY", "execution_date": when})
        return
    if switch and when == switch[0]:
        ws.configurations.switch(account, models[switch[1]])
    if flow > 0:
        ws.accounts.deposit(account, {"amount": format(flow, "f"), **cash})
        ws.orders.smart(account, {"cash_amount": format(flow - 10, "f"), "currency": "USD", "side": "BUY",
                                  "execution_date": when})
    elif flow < 0 and what == "quarter":
        ws.orders.smart(account, {"cash_amount": format(-flow + 25, "f"), "currency": "USD", "side": "SELL",
                                  "execution_date": when})  # $25 more than the withdrawal pays the fees
        ws.accounts.withdraw(account, {"amount": format(-flow, "f"), **cash})


def _next(days: pd.DatetimeIndex, day: pd.Timestamp) -> str:
    """The trading day after ``day``: the first day with a return (the funding day has none)."""
    return days[days.searchsorted(day, side="right")].strftime("%Y-%m-%d")


def _month_after(day: pd.Timestamp, months: int) -> str:
    """The 1st of the month ``months`` after ``day``'s month: daily data from then on."""
    return (day.to_period("M") + months).to_timestamp().strftime("%Y-%m-%d")
