"""The risk platform's optimisation in the façade (``ws.strategies``): a rule's answer for a portfolio
of the workspace, as target weights and the orders that reach them.

``ws.strategies.optimise(payload)`` answers, and writes nothing::

    {"portfolio_id": "<PORTFOLIO account id>",       # or "weights": {instrument: weight} and "capital"
     "rule_name": "Max Sharpe", "parameters": {"Size Rebalance Trigger": 0.05},
     "constraints": {"max_weight": 0.25, "sectors": [{"code": "45", "max": 0.4}]},
     "universe": ["AAPL", "MSFT", ...],               # default: the holdings
     "benchmark": "<index id or name, or model allocation id>",   # Min Tracking Error
     "start_date": "2020-01-01", "end_date": "2022-12-28"}        # the sample (default: 3 years)

The rules and constraint sets are those of :mod:`toolkit.optimise` (riskfolio-lib is imported on
the first optimisation, not before). Current weights are the account's market values over its NAV
at the sample's last close (cash is the rest); the orders are, per component that the size
rebalance trigger lets through (:func:`toolkit.optimise.triggered_trades`), ``direction`` BUY or
SELL, ``notional = |w_target - w_current| x capital`` (to the cent), ``size = notional / level``
(10 decimal places) and ``level`` the last close. With ``Include Stop/Limit`` an order also carries
``limit_level`` (the last close) and ``stop_level`` two daily standard deviations of the sample away
(below for a BUY, above for a SELL). :meth:`Optimisation.place` makes the target the account's
allocation and rebalances it through the trading engine (fees, minimum orders, sells first).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from toolkit.analytics import risk
from toolkit.analytics.returns import simple_returns
from toolkit.analytics.risk_portfolio import (
    cvar_contributions,
    volatility_contributions,
)
from toolkit.errors import NotFoundError, Problem, Problems, ValidationError
from toolkit.optimise import RULES, efficient_frontier, optimise, triggered_trades
from toolkit.optimise.parameters import parse_parameters
from toolkit.optimise.rules import rule_named
from toolkit.optimise.strategy import Strategy
from toolkit.schema import INSTRUMENT, TIME
from toolkit.store.accounts import AccountRepository
from toolkit.store.repositories import now
from toolkit.store.strategies import StrategyRepository
from toolkit.validation import (
    decimal_or_none,
    read_decimal,
    read_id,
    read_name,
    read_period,
    shown,
)
from toolkit.workspace.accounts import Accounts
from toolkit.workspace.allocations import Allocations
from toolkit.workspace.attribution import Attribution
from toolkit.workspace.configurations import Configurations
from toolkit.workspace.context import Context
from toolkit.workspace.history import History
from toolkit.workspace.instruments import Instruments
from toolkit.workspace.rebalancings import Rebalancings

FIELDS = ("portfolio_id", "weights", "capital", "rule_name", "parameters", "constraints", "universe", "benchmark",
          "start_date", "end_date")
#: the default sample: this many years of daily closes up to the last one
LOOKBACK_YEARS = 3
CENT, STEP = Decimal("0.01"), Decimal("1e-10")


@dataclass(frozen=True)
class Optimisation:
    """A rule's answer for one portfolio: ``target`` and ``current`` weights over instruments, the
    ``orders`` table, ``capital``, the target's risk ``analytics`` and ``expected`` returns per
    component, and the sample ``returns`` (for the frontier and contribution chart)."""

    rule_name: str
    parameters: dict
    capital: float
    currency: str
    account_id: str | None
    target: xr.DataArray
    current: xr.DataArray
    orders: pd.DataFrame
    analytics: dict
    expected: pd.Series
    returns: xr.DataArray
    constraints: Mapping | None
    #: ``place(account_id, name, weights, execution_date)``: the façade's way to place the target
    _place: Callable[[str, str, dict[str, str], str | None], dict] = field(repr=False, compare=False)

    def components(self) -> pd.DataFrame:
        """Current and target weight, the trade, and the expected return of every component."""
        table = pd.DataFrame({"symbol": self.target["symbol"].values, "current": self.current.values,
                              "target": self.target.values}, index=self.target[INSTRUMENT].values)
        table["trade"] = table["target"] - table["current"]
        table["expected_return"] = self.expected.reindex(table.index).values
        return table

    def to_dict(self) -> dict:
        """The seed's answer: ``orders`` (instrument, direction, size, notional, level), ``capital``,
        ``portfolio_rebalance`` (components with weight and expected return, analytics with VaR,
        CVaR and volatility, and the comment) and ``rule_name``."""
        table = self.components()
        return {"rule_name": self.rule_name, "parameters": self.parameters, "capital": f"{self.capital:.2f}",
                "currency": self.currency,
                "orders": self.orders.to_dict("records"),
                "portfolio_rebalance": {
                    "components": [{"instrument": r.symbol, "instrument_id": i, "weight": float(r.target),
                                    "expected_return": float(r.expected_return)} for i, r in table.iterrows()
                                   if r.target > 0],
                    "analytics": {k: self.analytics[k] for k in ("var", "cvar", "volatility", "level", "horizon")},
                    "comment": self.analytics["comment"]}}

    def frontier(self, points: int = 20) -> xr.Dataset:
        """The efficient frontier (volatility) of the sample under the same constraints, with the result."""
        return efficient_frontier(self.returns, constraints=self.constraints, points=points, result=self.target)

    def contributions(self) -> pd.DataFrame:
        """Each component's share of the target's annualised volatility and of its daily CVaR 95% (Euler)."""
        weights = self.target.expand_dims(portfolio=["target"])
        sample = self.returns.dropna(TIME, how="any")
        vol = volatility_contributions(sample, weights, annualise=True).isel(portfolio=0)
        tail = cvar_contributions(sample, weights, 0.95).isel(portfolio=0)
        return pd.DataFrame({"symbol": self.target["symbol"].values, "weight": self.target.values,
                             "volatility": vol["percent"].values, "cvar": tail["percent"].values},
                            index=self.target[INSTRUMENT].values)

    def place(self, execution_date: str | None = None) -> dict:
        """Make the target the account's allocation (a new allocation named after the rule) and
        rebalance the account to it through the trading engine; returns the rebalancing answer."""
        if self.account_id is None:
            raise NotFoundError("Only an optimisation of a PORTFOLIO account can be placed; give portfolio_id.")
        return self._place(self.account_id, self.rule_name, _exact(self.target), execution_date)

def _exact(target: xr.DataArray) -> dict[str, str]:
    """Target weights as decimal text that sums to 1 exactly (4 places, the largest takes the rest)."""
    kept = {str(i): Decimal(repr(float(w))).quantize(Decimal("0.0001")) for i, w in
            zip(target[INSTRUMENT].values, target.values) if w >= 0.00005}
    biggest = max(kept, key=kept.get)
    kept[biggest] += Decimal(1) - sum(kept.values())
    return {i: format(w, "f") for i, w in kept.items() if w > 0}


class Strategies:
    """``ws.strategies``: the nine rules and the optimisation of a portfolio (module docstring)."""

    def __init__(self, ctx: Context, *, instruments: Instruments, history: History, accounts: Accounts,
                 allocations: Allocations, configurations: Configurations, rebalancings: Rebalancings,
                 attribution: Attribution, reopen: Callable[[], Any]) -> None:
        self._ctx = ctx
        self._instruments, self._history, self._accounts = instruments, history, accounts
        self._allocations, self._configurations, self._rebalancings = allocations, configurations, rebalancings
        self._attribution = attribution
        self._reopen = reopen  # a second connection to the same file, for the background runs
        self._store = StrategyRepository(ctx.db)

    @staticmethod
    def rules() -> list[dict]:
        """The rules by their seed names, with their inputs, model and parameters (and defaults)."""
        from dataclasses import fields  # noqa: PLC0415

        return [{"rule_name": name, "inputs": list(rule.inputs), "model": rule.model,
                 "parameters": {f.metadata.get("label", f.name): f.default for f in fields(rule.parameters)}}
                for name, rule in RULES.items()]

    def optimise(self, payload: Mapping) -> Optimisation:
        """The rule's target weights for the portfolio and the orders that reach them (module docstring)."""
        problems = Problems()
        problems.require_object(payload, FIELDS, "optimisation request")
        rule = rule_named(payload.get("rule_name"), "rule_name")
        parameters = parse_parameters(rule.parameters, payload.get("parameters") or {})
        window = _read_rule(payload, problems)
        account_id, current, capital, currency = self._current(payload, problems)
        problems.raise_if_any("optimisation request")
        start, end = self._window(*window)
        benchmark = self._benchmark(payload.get("benchmark"), end) if "benchmark" in rule.inputs else None
        ids = self._universe(payload.get("universe"), list(current[INSTRUMENT].values))
        if benchmark is not None:  # tracking a benchmark needs its constituents in the universe
            ids = list(dict.fromkeys([*ids, *map(str, benchmark[INSTRUMENT].values)]))
        prices = self._history.prices(ids, start=start, end=end)
        if prices.sizes[TIME] < 3:  # two returns at the least
            raise ValidationError([Problem("start_date", f"the sample {start} to {end} holds {prices.sizes[TIME]} "
                                                         "closes; choose dates within the price history")],
                                  "optimisation request")
        returns = simple_returns(prices["close"]).isel({TIME: slice(1, None)})
        returns = returns.assign_coords(geography=(INSTRUMENT, np.array(
            [self._geography(c) for c in prices["country"].values], dtype=object)))
        ohlc = prices if "ohlc" in rule.inputs else None
        target = optimise(rule.name, None if "ohlc" in rule.inputs else returns, parameters=payload.get("parameters") or {},
                          constraints=payload.get("constraints"), ohlc=ohlc, benchmark=benchmark)
        target = target.reindex({INSTRUMENT: ids}, fill_value=0.0).assign_coords(symbol=(INSTRUMENT, prices["symbol"].values))
        current = current.reindex({INSTRUMENT: ids}, fill_value=0.0)
        last = prices["close"].ffill(TIME).isel({TIME: -1}, drop=True)
        trigger = getattr(parameters, "size_rebalance_trigger", None)
        trades = triggered_trades(current, target, trigger if trigger is not None else 0.0)
        daily_sd = returns.std(TIME, ddof=1)
        orders = _orders(trades, last, daily_sd, capital, prices["symbol"],
                         getattr(parameters, "include_stop_limit", False))
        analytics = self._analytics(returns, target)
        expected = returns.mean(TIME) * 252
        return Optimisation(rule.name, dict(payload.get("parameters") or {}), capital, currency, account_id,
                            target.rename("weight"), current, orders, analytics,
                            expected.to_series(), returns, payload.get("constraints"), self._place)

    def _place(self, account_id: str, rule_name: str, weights: dict[str, str], execution_date: str | None) -> dict:
        """Make ``weights`` the account's allocation (a new allocation named after the rule) and
        rebalance the account to it through the trading engine; returns the rebalancing answer."""
        name = f"{rule_name} for {self._accounts.get(account_id).name or account_id[:8]}"
        with self._ctx.transaction():
            allocation = self._allocations.create({"name": name, "allocation": [
                {"instrument_id": i, "instrument_id_type": "UUID", "weight": w} for i, w in weights.items()]})
            self._configurations.switch(account_id, allocation.id)
            return self._rebalancings.execute({"account_ids": [account_id], "execution_date": execution_date})

    # ------------------------------------------------------------------ strategies

    def create(self, payload: Mapping) -> Strategy:
        """Store a strategy: ``{"name": ..., "rules": [{"rule_name": ..., "parameters": {...},
        "constraints": {...}}, ...]}``; every rule name and parameter is checked first."""
        name, rules = _parse_strategy(payload)
        if self._store.name_taken(name):
            raise ValidationError([Problem("name", f"a strategy named {name!r} exists already; choose another "
                                                   "name")], "strategy")
        strategy_id = str(uuid.uuid4())
        self._store.save(strategy_id, name, rules, now(precise=True))
        return self.get(strategy_id)

    def list(self) -> list[Strategy]:
        return self._store.load()

    def get(self, strategy_id: str) -> Strategy:
        """A strategy by id or name, with its latest run's status."""
        found = self._store.load(strategy_id)
        if not found:
            raise NotFoundError(f"No strategy {strategy_id!r}; see ws.strategies.list().")
        return found[0]

    def run(self, strategy_id: str, account_ids: list[str] | None = None, wait: bool = False,
            progress: Callable[[float], None] | None = None) -> str:
        """Run a strategy over the PORTFOLIO accounts (all by default) as a background job; returns
        the run id. :meth:`status` says ``Running`` with ``percentage_complete``, then ``Complete``
        (or ``Failed``); :meth:`results` holds each account's answer as it comes. ``wait=True``
        blocks until the end, calling ``progress(percentage)`` as it goes."""
        strategy = self.get(strategy_id)
        accounts = (self._run_accounts(account_ids) if account_ids is not None
                    else AccountRepository(self._ctx.db).ids("PORTFOLIO"))
        if not accounts:
            raise NotFoundError("No PORTFOLIO account to run the strategy over.")
        run_id = str(uuid.uuid4())
        store = self._store
        store.start(run_id, strategy.id, now(precise=True))
        job = threading.Thread(target=_run_job, args=(self._reopen, run_id, strategy, accounts),
                               name=f"strategy-{run_id[:8]}", daemon=True)
        job.start()
        if wait:
            while job.is_alive():
                job.join(0.5)
                if progress:
                    progress(store.status(run_id)["percentage_complete"])
            if progress:
                progress(store.status(run_id)["percentage_complete"])
        return run_id

    def _run_accounts(self, account_ids: object) -> list[str]:
        """The accounts a run is asked for: a non-empty list of PORTFOLIO account ids, each named
        ``account_ids[i]`` when it is not one (refused before the run starts, so a run never begins
        on a typo)."""
        problems = Problems()
        if isinstance(account_ids, str) or not isinstance(account_ids, (list, tuple)) or not account_ids:
            problems.add("account_ids", f"{shown(account_ids)} is not a list of PORTFOLIO account ids")
            problems.raise_if_any("strategy run")
        ids = [read_id(a, f"account_ids[{n}]", problems) for n, a in enumerate(account_ids)]
        known = set(AccountRepository(self._ctx.db).ids("PORTFOLIO", [i for i in ids if i is not None]))
        for n, found in enumerate(ids):
            if found is not None and found not in known:
                problems.add(f"account_ids[{n}]", f"{found} is no PORTFOLIO account")
        problems.raise_if_any("strategy run")
        return list(dict.fromkeys(ids))

    def status(self, run_id: str) -> dict:
        """``status`` (Running, Complete, Failed), ``percentage_complete`` and the times of a run."""
        return self._store.status(run_id)

    def results(self, run_id: str) -> pd.DataFrame:
        """Each account's and rule's answer of a run (``result`` JSON in the seed's shape, or ``error``)."""
        self._store.status(run_id)
        return self._store.results(run_id)

    # ------------------------------------------------------------------ the request's parts

    def _current(self, payload: Mapping, problems: Problems) -> tuple[str | None, xr.DataArray, float, str]:
        """The account's current weights and capital (its NAV), or the given weights and capital."""
        key, given = payload.get("portfolio_id"), payload.get("weights")
        if (key is None) == (given is None):
            problems.add("portfolio_id", "give portfolio_id (a PORTFOLIO account) or weights with capital")
            return None, xr.DataArray([], dims=INSTRUMENT, coords={INSTRUMENT: []}), 0.0, "USD"
        nothing = xr.DataArray([], dims=INSTRUMENT, coords={INSTRUMENT: []})
        capital = None if payload.get("capital") is None else read_decimal(
            payload["capital"], "capital", problems, "100000.00", numbers=True, positive=True)
        if key is not None:
            account = self._accounts.get(key)
            if account.type != "PORTFOLIO":
                problems.add("portfolio_id", f"{key} is a {account.type} account; optimise a PORTFOLIO account")
                return None, nothing, 0.0, account.currency
            cube = self._accounts.holdings([key]).isel(portfolio=0, drop=True).isel({TIME: -1})
            nav = float(cube["nav"])
            weights = (cube["value"] / nav).drop_vars([c for c in cube.coords if c != INSTRUMENT])
            return key, weights.where(weights > 0, 0.0), nav if capital is None else float(capital), account.currency
        if not isinstance(given, Mapping) or not given:
            problems.add("weights", "expected {instrument: weight}")
            return None, nothing, 0.0, "USD"
        if payload.get("capital") is None:
            problems.add("capital", "give the capital the weights are of, e.g. '100000.00'")
        values = [decimal_or_none(v, numbers=True) for v in given.values()]
        for name, value, number in zip(given, given.values(), values):
            if number is None:
                problems.add(f"weights.{name}", f"{shown(value)} is not a weight such as 0.25 or \"0.25\"")
        if problems:
            return None, nothing, 0.0, "USD"
        ids = self._instruments.resolve(list(given))
        return None, xr.DataArray([float(v) for v in values], dims=INSTRUMENT, coords={INSTRUMENT: ids}), \
            float(capital), "USD"

    def _universe(self, universe: object, held: list[str]) -> list[str]:
        if universe is None:
            if not held:
                raise NotFoundError("The portfolio holds nothing yet; give a universe of instruments to optimise.")
            return held
        return list(dict.fromkeys([*self._instruments.resolve(list(universe)), *held]))

    def _window(self, start: date | None, end: date | None) -> tuple[str, str]:
        """The sample: ``start`` to ``end``, by default the last close and :data:`LOOKBACK_YEARS` before it."""
        last = end.isoformat() if end else str(pd.Timestamp(self._instruments.table()["history_end"].max()).date())
        first = start.isoformat() if start else str((pd.Timestamp(last) - pd.DateOffset(years=LOOKBACK_YEARS)).date())
        if first > last:  # (a start after the last close; a start after a given end is refused when read)
            raise ValidationError([Problem("start_date", f"{first} is after the last close {last}; choose a start "
                                                         "within the price history")], "optimisation request")
        return first, last

    @staticmethod
    def _geography(country: object) -> str | None:
        from toolkit.market.universes import geography_of  # noqa: PLC0415

        return geography_of(country if isinstance(country, str) else None)

    def _benchmark(self, key: object, end: str) -> xr.DataArray:
        if not isinstance(key, str):
            problems = Problems()
            problems.add("benchmark", "Min Tracking Error needs a benchmark: an index id or name, or a model allocation")
            problems.raise_if_any("optimisation request")
        weights, _ = self._attribution.weights(key, end)
        last = weights.ffill(TIME).isel({TIME: -1}, drop=True).fillna(0.0)
        return last.where(last > 0, drop=True).rename("weight")

    @staticmethod
    def _analytics(returns: xr.DataArray, target: xr.DataArray) -> dict:
        """VaR and CVaR (daily, 95%, historical) and annualised volatility of the target over the sample."""
        sample = returns.dropna(TIME, how="any")
        series = (sample * target).sum(INSTRUMENT)
        cube = risk.risk_summary(series, 0.95, "day")
        var, cvar = float(cube["var"]), float(cube["cvar"])
        vol = float(series.std(ddof=1)) * float(np.sqrt(252))
        comment = str(risk.var_commentary(cube["var"].assign_coords(horizon="day"), "portfolio").item())
        return {"var": var, "cvar": cvar, "volatility": vol, "level": 0.95, "horizon": "day", "comment": comment}


def _orders(trades: xr.DataArray, last: xr.DataArray, daily_sd: xr.DataArray, capital: float, symbols: xr.DataArray,
            stop_limit: bool) -> pd.DataFrame:
    rows = []
    for i, delta in zip(trades[INSTRUMENT].values, trades.values):
        if abs(delta) < 1e-9:
            continue
        level = float(last.sel({INSTRUMENT: i}))
        notional = (Decimal(repr(abs(float(delta)) * capital))).quantize(CENT)
        row = {"instrument": str(symbols.sel({INSTRUMENT: i}).item()), "instrument_id": str(i),
               "direction": "BUY" if delta > 0 else "SELL", "size": format((notional / Decimal(repr(level))).quantize(STEP), "f"),
               "notional": format(notional, "f"), "level": level}
        if stop_limit:
            band = 2 * float(daily_sd.sel({INSTRUMENT: i})) * level
            row |= {"limit_level": level, "stop_level": round(level - band if delta > 0 else level + band, 4)}
        rows.append(row)
    columns = ["instrument", "instrument_id", "direction", "size", "notional", "level"] + (
        ["limit_level", "stop_level"] if stop_limit else [])
    return pd.DataFrame(rows, columns=columns)


# =========================================================================== strategies and their runs

STRATEGY_FIELDS = ("name", "rules")
RULE_FIELDS = ("rule_name", "parameters", "constraints", "universe", "benchmark", "start_date", "end_date")


def _read_rule(item: Mapping, problems: Problems, prefix: str = "") -> tuple[date | None, date | None]:
    """The parts of a rule's request that need no data, each named (``prefix`` + field): the sample's
    ``start_date`` and ``end_date`` (ISO dates, in order, not in the future), a ``universe`` of at
    least two instruments named by text, a ``benchmark`` named by text. The sample's dates."""
    window = read_period(item.get("start_date"), item.get("end_date"), problems,
                         (f"{prefix}start_date", f"{prefix}end_date"), past=True)
    universe = item.get("universe")
    if universe is not None and (isinstance(universe, str) or not isinstance(universe, (list, tuple))
                                 or len(universe) < 2 or not all(isinstance(u, str) for u in universe)):
        problems.add(f"{prefix}universe", "list at least two instruments by id, ISIN or symbol")
    if item.get("benchmark") is not None and not isinstance(item["benchmark"], str):
        problems.add(f"{prefix}benchmark", "name the benchmark: an index id or name, or a model allocation id")
    return window


def _parse_strategy(payload: object) -> tuple[str, list[dict]]:
    """A strategy's name (:func:`toolkit.validation.read_name`) and its rules, each with its name,
    parameters and the parts :func:`_read_rule` reads checked now (its constraints are read when
    it runs, against the instruments of each portfolio)."""
    problems = Problems()
    problems.require_object(payload, STRATEGY_FIELDS, "strategy")
    name = read_name(payload.get("name"), "name", problems)
    rules = payload.get("rules")
    if not isinstance(rules, list) or not rules:
        problems.add("rules", "give at least one rule, e.g. {'rule_name': 'Risk Parity'}")
        rules = []
    for n, item in enumerate(rules):
        path = f"rules[{n}]"
        if problems.require_fields(item, path, RULE_FIELDS) is None:
            continue
        _read_rule(item, problems, f"{path}.")
        try:
            rule = rule_named(item.get("rule_name"), f"{path}.rule_name")
            parse_parameters(rule.parameters, item.get("parameters") or {}, f"{path}.parameters")
        except Exception as exc:  # noqa: BLE001 - a ValidationError's problems join this request's
            problems.items.extend(getattr(exc, "problems", []))
    problems.raise_if_any("strategy")
    return name.strip(), [dict(item) for item in rules]


def _run_job(reopen: Callable[[], Any], run_id: str, strategy: Strategy, accounts: list[str]) -> None:
    """The background job: every rule of ``strategy`` for every account, each result stored as it
    comes (its own connection, as a second kernel would have)."""
    ws = reopen()  # its own connection, as a second kernel would have
    store = StrategyRepository(ws.db)
    try:
        total, done = len(accounts) * len(strategy.rules), 0
        for account in accounts:
            for rule in strategy.rules:
                try:
                    answer = ws.strategies.optimise({"portfolio_id": account, **rule})
                    result, error = json.dumps(answer.to_dict()), None
                except Exception as exc:  # noqa: BLE001 - a portfolio's failure is its result, the run goes on
                    result, error = None, f"{type(exc).__name__}: {exc}"
                done += 1
                store.record(run_id, account, rule["rule_name"], result, error, round(100 * done / total, 2))
        store.finish(run_id, "Complete", now(precise=True))
    except Exception as exc:  # noqa: BLE001 - the run's status says why it stopped
        store.finish(run_id, "Failed", now(precise=True), f"{type(exc).__name__}: {exc}")
    finally:
        ws.close()
