"""The risk platform's rules, strategies and optimisation in the façade (``ws.strategies``;
``risk-platform-api.txt`` GET /rules, GET and POST /strategy, GET /portfolio/optimisation).

- ``rules()``: GET /rules, the document's rule table (:mod:`toolkit.contracts.risk.rules`); it lives in
  ``ws.rules.list()`` (:mod:`toolkit.workspace.rules`), this call answers the same;
- ``create(request)``: POST /strategy, the document's strategy (``rule_id``, ``parameters`` as
  ``{key, value}`` in its units, ``constraints``) saved, answered ``{"strategy_id": 100}``; a
  ``strategy_id`` in the request replaces that strategy;
- ``list(query)`` / ``get(strategy_id)``: GET /strategy, the strategies with the status of their
  latest run;
- ``optimise(query)``: GET /portfolio/optimisation, ``{"client_reference": ..., "strategy_id": "100"}``:
  the strategy's portfolio rule applied to the portfolio (an uploaded portfolio's client reference,
  or a PORTFOLIO account id of the book), answered in the document's shape (orders, capital,
  tactical analysis, the rebalanced portfolio with its risk). The toolkit's own request (``portfolio_id``
  or ``weights`` and ``capital``, ``rule_name`` of :data:`toolkit.optimise.RULES`, ``parameters``,
  ``constraints`` in :mod:`toolkit.optimise.constraints`' form, ``universe``, ``benchmark``,
  ``start_date``, ``end_date``) answers the same way; it is what the optimisation app sends.

Current weights are the account's market values over its NAV at the sample's last close (cash is the
rest); the orders are, per component that the size rebalance trigger lets through
(:func:`toolkit.optimise.triggered_trades`), ``Long`` (buy) or ``Short`` (sell: the toolkit is long
only, a ``Short`` order reduces a holding), ``notional = |w_target - w_current| x capital`` (to the
cent), ``size = notional / level`` (10 decimal places) and ``level`` the last close. With ``Include
Stop/Limit`` an order carries ``limit`` (the last close) and ``stop`` two daily standard deviations
of the sample away (below a buy, above a sell). The sample is the last five years of daily closes for
the document's query (every level of its VaR and CVaR then has enough months), three for the toolkit's
request unless it gives ``start_date`` / ``end_date``.

**Tactical rules.** A strategy mixes tactical and portfolio rules by ``rule_id`` (the document's strategy
schema). The document's query evaluates the strategy's tactical rules (1-11, 13) on each proposed order
(:func:`toolkit.signals.tactical.evaluate`, daily candles up to the sample's last day; the order a market
order of its size, the funds the capital) and answers ``tactical_analysis`` per order in the document's
shape (:func:`toolkit.signals.commentary.tactical_analysis`). With ``Include Stop/Limit`` the tactical
rules set each order's stop and limit: rule 3's stop (ATR factor, its parameters in the strategy or the
document's defaults) and rule 5's limit (the nearest resistance, the nearest support for a Short; none
when the lookback has none), whether or not the strategy lists rules 3 and 5 (they are judged only when
it does). An order is judged on real candles only (:meth:`toolkit.workspace.rules.Rules.candles`): its
instrument's own bars when they have highs and lows, else the series of the same ISIN that has them and
ends on the same day (the order is then judged at its own level, the last close of its instrument, rather
than at the twin's market price, so that its stop and limit sit around the level the order shows; the twin's
adjustment for dividends may differ by a little). An order without such candles (the demo's skfolio stocks
other than AAPL: closes only), or with fewer than the rules need, is not refused (the portfolio's other
orders stand): each of its rules is ``validated`` "NOT_EVALUATED" with the reason in its commentary and one datapoint,
``ohlc_candles``, the count of real candles found; with Include Stop/Limit its stop and limit stay the
statistical ones of the toolkit's request. A Short order (a sale that reduces a holding: the toolkit is
long only) is judged as the document's Short. The toolkit's own request evaluates no tactical rule.
:meth:`Optimisation.place` makes the target the account's allocation
and rebalances it through the trading engine (fees, minimum orders, sells first).
"""

from __future__ import annotations

import builtins
import json
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, cast

import numpy as np
import pandas as pd
import xarray as xr

from toolkit.analytics import risk
from toolkit.analytics.returns import simple_returns
from toolkit.analytics.risk_portfolio import cvar_contributions, volatility_contributions
from toolkit.contracts.base import payload_of, read
from toolkit.contracts.risk import strategy as S
from toolkit.contracts.risk.analytics import HORIZON_ORDER, Horizons, percent
from toolkit.contracts.risk.rules import RULES as TABLE
from toolkit.errors import DataError, NotFoundError, Problem, Problems, ValidationError
from toolkit.optimise import efficient_frontier, optimise, triggered_trades
from toolkit.optimise.parameters import RULE_IDS, Common, read_parameters
from toolkit.optimise.rules import from_strategy, rule_named
from toolkit.optimise.strategy import Strategy
from toolkit.schema import HORIZON, INSTRUMENT, LEVEL, PORTFOLIO, TIME, Timeframe
from toolkit.signals.commentary import tactical_analysis
from toolkit.signals.tactical import ORDER, RULE, candles_needed, evaluate, read_rules
from toolkit.store.accounts import AccountRepository
from toolkit.store.repositories import now
from toolkit.store.strategies import StrategyRepository
from toolkit.validation import decimal_or_none, read_decimal, read_id, read_period, shown
from toolkit.workspace.accounts import Accounts
from toolkit.workspace.allocations import Allocations
from toolkit.workspace.analytics import Analytics, described, horizon_of, seed_risk
from toolkit.workspace.attribution import Attribution
from toolkit.workspace.configurations import Configurations
from toolkit.workspace.context import Context
from toolkit.workspace.history import History
from toolkit.workspace.instruments import Instruments
from toolkit.workspace.jobs import Jobs
from toolkit.workspace.portfolios import Portfolios
from toolkit.workspace.rebalancings import Rebalancings
from toolkit.workspace.rules import Rules

FIELDS = ("portfolio_id", "weights", "capital", "rule_name", "parameters", "constraints", "universe", "benchmark",
          "start_date", "end_date")
#: the default sample: this many years of daily closes up to the last one
LOOKBACK_YEARS = 3
#: the sample of the document's optimisation query (it names none): five years, so that every level of
#: the answer's VaR and CVaR has enough monthly returns (a 0.975 tail needs 40)
SEED_LOOKBACK_YEARS = 5
CENT, STEP = Decimal("0.01"), Decimal("1e-10")
#: the toolkit's constraint groups of the document's constraint types
GROUPS = {"AssetClassConstraint": "asset_classes", "CurrencyConstraint": "currencies",
          "GeographyConstraint": "geographies", "SectorConstraint": "sectors"}
#: what the toolkit says of a tactical rule it does not evaluate
NOT_EVALUATED = "NOT_EVALUATED"


@dataclass(frozen=True)
class Optimisation:
    """A rule's answer for one portfolio: ``target`` and ``current`` weights over instruments, the
    ``orders`` table, ``capital`` (and ``cash``), and the sample ``returns`` (for the frontier and
    contribution chart); ``client_reference``, ``strategy_id``, ``seed_rule_name`` and ``tactical``
    (the strategy's other rules, ``(rule_id, name)``) for the document's answer; ``meta`` the
    instrument object of each instrument id."""

    rule_name: str
    parameters: Common
    capital: float
    currency: str
    account_id: str | None
    target: xr.DataArray
    current: xr.DataArray
    orders: pd.DataFrame
    returns: xr.DataArray
    constraints: Mapping | None
    #: ``place(account_id, name, weights, execution_date)``: the façade's way to place the target
    _place: Callable[[str, str, dict[str, str], str | None], dict] = field(repr=False, compare=False)
    client_reference: str = ""
    strategy_id: int | None = None
    seed_rule_name: str = ""
    tactical: tuple[tuple[int, str], ...] = ()
    cash: float | None = None
    meta: dict = field(default_factory=dict, repr=False, compare=False)
    #: each order's tactical analysis (evaluated, or NOT_EVALUATED with the reason), in the orders' order
    analysis: tuple[S.TacticalAnalysis, ...] = ()
    #: :func:`toolkit.signals.tactical.evaluate`'s dataset of the evaluated orders (``order``: their row)
    evaluation: xr.Dataset | None = field(default=None, repr=False, compare=False)

    def components(self) -> pd.DataFrame:
        """Current and target weight, the trade, and the expected (annual, mean) return of every component."""
        table = pd.DataFrame({"symbol": self.target["symbol"].values, "current": self.current.values,
                              "target": self.target.values}, index=self.target[INSTRUMENT].values)
        table["trade"] = table["target"] - table["current"]
        table["expected_return"] = (self.returns.mean(TIME) * 252).to_series().reindex(table.index).values
        return table

    def _code(self, instrument_id: str) -> tuple[str, int, str]:
        info = self.meta.get(str(instrument_id)) or {}
        return info.get("instrument_code") or str(instrument_id), info.get("apiid") or 0, info.get("name") or ""

    def answer(self) -> S.Optimisation:
        """GET /portfolio/optimisation's answer (``risk-platform-api.txt`` lines 1249-1377)."""
        orders = []
        for row in self.orders.to_dict("records"):
            code, apiid, name = self._code(row["instrument_id"])
            stop, limit = row.get("stop_level"), row.get("limit_level")
            level = float(row["level"])
            orders.append(S.OptimisationOrder(
                timeframe="Day", commentary=None, notional=f"{Decimal(row['notional']):,.2f}",
                direction=row["direction"], print_stop="N/A" if stop is None else f"{stop:,.4g}",
                print_level="Market Order", print_limit="N/A" if limit is None else f"{limit:,.4g}", timeframe_id=1,
                print_size=format(Decimal(row["size"]).normalize(), "f"),
                stop_points="N/A" if stop is None else f"{abs(level - stop):.4g}",
                limit_points="N/A" if limit is None else f"{abs(level - limit):.4g}", apiid=apiid,
                strategy_id=self.strategy_id or 0, instrument_code=code, instrument_name=name, level=level,
                size=float(row["size"]), stop=stop, limit=limit))
        capital = S.OptimisationCapital(currency=self.currency, funds=self.capital,
                                        available=self.capital if self.cash is None else self.cash,
                                        equity=self.capital, print_funds=f"{self.currency} {self.capital:,.0f}")
        held = [str(i) for i, w in zip(self.target[INSTRUMENT].values, self.target.values) if w > 0]
        annual = self.returns.mean(TIME) * 252
        components = []
        for i in held:
            code, apiid, _ = self._code(i)
            mean = float(annual.sel({INSTRUMENT: i}))
            components.append(S.RebalanceComponent(
                weight=float(self.target.sel({INSTRUMENT: i})), apiid=max(apiid, 1), instrument_code=code,
                expected_returns=Horizons.of({h: horizon_of(mean, h) for h in HORIZON_ORDER})))
        series = (self.returns.dropna(TIME, how="any") * self.target).sum(INSTRUMENT)
        cube = risk_of(series)
        measures = seed_risk(cube, "portfolio")
        total = float((annual * self.target).sum())
        expected = Horizons.of({h: horizon_of(total, h) for h in HORIZON_ORDER})
        rebalance = S.PortfolioRebalance(comment=_comment(expected, measures), components=components,
                                         analytics=measures, rule_name=self.seed_rule_name or self.rule_name,
                                         expected_returns=expected)
        return S.Optimisation(orders=orders, capital=capital, tactical_analysis=self._tactical(),
                              portfolio_rebalance=rebalance, client_reference=self.client_reference)

    def _tactical(self) -> list[S.TacticalAnalysis]:
        """Each order's tactical analysis (module docstring), in the orders' order."""
        return list(self.analysis)

    def to_dict(self) -> dict:
        """The document's answer: ``orders``, ``capital``, ``tactical_analysis``, ``portfolio_rebalance``
        (components with weight and expected returns per horizon, the target's VaR, CVaR and volatility
        by level and horizon, its expected returns and the comment) and ``client_reference``."""
        return self.answer().to_dict()

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


def risk_of(series: xr.DataArray) -> xr.Dataset:
    """VaR, CVaR (over ``level`` and ``horizon``, positive = loss), volatility and mean (over
    ``horizon``) of one return series at the document's levels and horizons; NaN where the sample is
    too short for a level at a horizon (a 0.975 tail of monthly returns needs 40 months)."""
    levels, horizons = list(risk.LEVELS), list(risk.HORIZON_NAMES)
    try:
        return risk.risk_summary(series, levels, horizons)
    except DataError:
        pass
    cube = {k: np.full((len(levels), len(horizons)), np.nan) for k in ("var", "cvar")}
    moments = {k: np.full(len(horizons), np.nan) for k in ("volatility", "mean")}
    for j, h in enumerate(horizons):
        for i, level in enumerate(levels):
            try:
                one = risk.risk_summary(series, level, h)
            except DataError:
                continue
            cube["var"][i, j], cube["cvar"][i, j] = float(one["var"]), float(one["cvar"])
            moments["volatility"][j], moments["mean"][j] = float(one["volatility"]), float(one["mean"])
    return xr.Dataset({**{k: ((LEVEL, HORIZON), v) for k, v in cube.items()},
                       **{k: (HORIZON, v) for k, v in moments.items()}}, coords={LEVEL: levels, HORIZON: horizons})


def _comment(expected: Horizons, measures: S.RiskMeasures) -> str:
    """Line 1302: "The portfolio has a monthly expected return of 3.54% with an expected average loss of
    -20.72% for the 5% worst monthly performances." (the day where the sample has too few months)."""
    for horizon, adjective in (("month", "monthly"), ("day", "daily")):
        er, tail = getattr(expected, horizon), getattr(measures.cvar.get("0.95"), horizon, None)
        if er is not None and tail is not None and tail.value is not None:
            return (f"The portfolio has a {adjective} expected return of {percent(er)} with an expected average loss "
                    f"of {percent(tail.value)} for the 5% worst {adjective} performances.")
    return "The sample is too short for the portfolio's expected return and tail loss."


def _exact(target: xr.DataArray) -> dict[str, str]:
    """Target weights as decimal text that sums to 1 exactly (4 places, the largest takes the rest)."""
    kept = {str(i): Decimal(repr(float(w))).quantize(Decimal("0.0001")) for i, w in
            zip(target[INSTRUMENT].values, target.values) if w >= 0.00005}
    biggest = max(kept, key=lambda i: kept[i])
    kept[biggest] += Decimal(1) - sum(kept.values())
    return {i: format(w, "f") for i, w in kept.items() if w > 0}


def seed_name(rule_name: str, params: Common) -> str:
    """The document's name of a toolkit rule with its parameters: "Portfolio - Risk Parity (false, 5)"."""
    trigger = params.size_rebalance_trigger
    values = {"IncludeStopLimit": "true" if params.include_stop_limit else "false",
              "RebalanceTrigger": "0" if trigger is None else format(Decimal(repr(trigger * 100)).normalize(), "f")}
    return TABLE[RULE_IDS[rule_name]].name_for(values)


class Strategies:
    """``ws.strategies``: the rule table, strategies, and the optimisation of a portfolio (module docstring)."""

    def __init__(self, ctx: Context, *, instruments: Instruments, history: History, accounts: Accounts,
                 allocations: Allocations, configurations: Configurations, rebalancings: Rebalancings,
                 attribution: Attribution, analytics: Analytics, portfolios: Portfolios, rules: Rules,
                 reopen: Callable[[], Any], jobs: Jobs | None = None) -> None:
        self._ctx = ctx
        self._instruments, self._history, self._accounts = instruments, history, accounts
        self._allocations, self._configurations, self._rebalancings = allocations, configurations, rebalancings
        self._attribution, self._analytics, self._portfolios = attribution, analytics, portfolios
        self._rules = rules
        self._reopen = reopen  # a second connection to the same file, for the background runs
        self._jobs = jobs or Jobs()  # the dask client the runs are submitted to (toolkit.workspace.jobs)
        self._store = StrategyRepository(ctx.db)

    @staticmethod
    def rules() -> list[S.RuleListing]:
        """GET /rules: the document's 21 rules (lines 651-991), the toolkit's extra parameters of its
        portfolio rules after the document's; the same as ``ws.rules.list()``, where it now lives."""
        return Rules.list()

    # ------------------------------------------------------------------ optimisation

    def optimise(self, request: object) -> Optimisation:
        """GET /portfolio/optimisation: ``{"client_reference": ..., "strategy_id": "100"}`` (and
        ``benchmark_client_reference`` for rule 21), or the toolkit's own request (module docstring)."""
        payload = payload_of(request, "optimisation query")
        if isinstance(payload, Mapping) and ("client_reference" in payload or "strategy_id" in payload):
            return self._optimise_strategy(payload)
        return self._optimise(payload)

    def _optimise_strategy(self, payload: Mapping) -> Optimisation:
        q = read(S.OptimisationQuery, payload, "optimisation query")
        stored = self._stored(q.strategy_id, "strategy_id")
        rules = [read(S.StrategyRule, r, "strategy") for r in stored.rules]
        chosen = next(((n, r) for n, r in enumerate(rules) if r.rule.portfolio), None)
        if chosen is None:
            raise ValidationError([Problem("strategy_id", f"strategy {stored.strategy_id} ({stored.name}) has no "
                                                          "portfolio rule (rule_id 12 or 14 to 21) to optimise by")],
                                  "optimisation query")
        n, rule = chosen
        name, params = from_strategy(rule)
        constraints, paths = self._constraints(rule, n)
        benchmark = q.benchmark_client_reference or rule.settings().get("Benchmark")
        request = {"portfolio_id": q.client_reference, "rule_name": name, "parameters": params,
                   "constraints": constraints, "benchmark": benchmark}
        try:
            return self._optimise(request, SEED_LOOKBACK_YEARS, client_reference=q.client_reference,
                                  strategy_id=q.strategy_id,
                                  seed_rule_name=rule.rule.name_for(rule.values()),
                                  tactical=tuple((r.rule_id, r.rule.name_for(r.values())) for r in rules
                                                 if not r.rule.portfolio),
                                  tactical_rules=[r for r in rules if not r.rule.portfolio])
        except ValidationError as exc:  # the toolkit's paths as the strategy's and the query's
            raise ValidationError([Problem(_seed_path(p.path, paths), p.message) for p in exc.problems],
                                  exc.what) from None

    def _constraints(self, rule: S.StrategyRule, n: int) -> tuple[dict | None, dict[str, str]]:
        """A strategy rule's constraints in :mod:`toolkit.optimise.constraints`' form, and the path of
        each in the strategy (``constraints.sectors[0]`` -> ``rules[0].constraints[3]``)."""
        if not rule.constraints:
            return None, {}
        out: dict[str, list] = {}
        paths, problems = {}, Problems()
        for j, item in enumerate(rule.constraints):
            bounds = {"min": float(item.lower_bound), "max": float(item.upper_bound)}
            if isinstance(item, S.InstrumentConstraint):
                where = f"rules[{n}].constraints[{j}].instrument"
                try:
                    iid = self._instruments.by_code(item.instrument.instrument_code, item.instrument.apiid, path=where)
                except (NotFoundError, ValidationError) as exc:
                    problems.add(where, str(exc.problems[0].message) if isinstance(exc, ValidationError) else str(exc))
                    continue
                group, entry = "instruments", {"instrument": iid, **bounds}
            else:
                group, entry = GROUPS[item.type], {"code": item.parameter, **bounds}
            out.setdefault(group, []).append(entry)
            paths[f"constraints.{group}[{len(out[group]) - 1}]"] = f"rules[{n}].constraints[{j}]"
        problems.raise_if_any("optimisation query")
        return out, paths

    def _stored(self, strategy_id: int, path: str) -> Strategy:
        found = self._store.load(strategy_id)
        if not found:
            raise NotFoundError(f"{path}: no strategy {strategy_id}; see strategies.list() (GET /strategy).")
        return found[0]

    def _optimise(self, request: object, lookback: int = LOOKBACK_YEARS, **seed: Any) -> Optimisation:
        """The toolkit's request (module docstring), on ``lookback`` years of closes unless it says otherwise."""
        problems = Problems()
        problems.require_object(request, FIELDS, "optimisation request")
        payload = cast(Mapping, request)  # require_object refused anything but a JSON object
        rule = rule_named(payload.get("rule_name"), "rule_name")
        parameters = read_parameters(rule.parameters, payload.get("parameters") or {})
        window = _read_rule(payload, problems)
        account_id, current, capital, currency, cash = self._current(payload, problems)
        problems.raise_if_any("optimisation request")
        start, end = self._window(*window, lookback)
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
        target = optimise(rule.name, None if "ohlc" in rule.inputs else returns, parameters=parameters,
                          constraints=payload.get("constraints"), ohlc=ohlc, benchmark=benchmark)
        target = target.reindex({INSTRUMENT: ids}, fill_value=0.0).assign_coords(
            symbol=(INSTRUMENT, prices["symbol"].values))
        current = current.reindex({INSTRUMENT: ids}, fill_value=0.0)
        last = prices["close"].ffill(TIME).isel({TIME: -1}, drop=True)
        trigger = parameters.size_rebalance_trigger
        trades = triggered_trades(current, target, trigger if trigger is not None else 0.0)
        orders = _orders(trades, last, returns.std(TIME, ddof=1), capital, prices["symbol"],
                         parameters.include_stop_limit)
        tactical_rules = seed.pop("tactical_rules", None)
        analysis: tuple[S.TacticalAnalysis, ...] = ()
        evaluation = None
        if tactical_rules is not None:
            orders, analysis, evaluation = self._judge(orders, tactical_rules, parameters.include_stop_limit,
                                                       capital, end, described(self._instruments.table(), ids))
        seed.setdefault("client_reference", account_id or str(payload.get("portfolio_id") or ""))
        seed.setdefault("seed_rule_name", seed_name(rule.name, parameters))
        return Optimisation(rule.name, parameters, capital, currency, account_id, target.rename("weight"), current,
                            orders, returns, payload.get("constraints"), self._place, cash=cash,
                            meta=described(self._instruments.table(), ids), analysis=analysis, evaluation=evaluation,
                            **seed)

    def _judge(self, orders: pd.DataFrame, rules: builtins.list[S.StrategyRule], stop_limit: bool, capital: float,
               end: str, meta: Mapping[str, dict]) -> tuple[pd.DataFrame, tuple[S.TacticalAnalysis, ...],
                                                            xr.Dataset | None]:
        """The strategy's tactical rules on the proposed orders (module docstring): the orders (with the
        rules' stop and limit under Include Stop/Limit), each order's analysis, and the evaluation."""
        settings = read_rules(rules)
        if orders.empty or not (settings or stop_limit):
            return orders, (), None
        run = dict(settings)
        if stop_limit:
            for rule_id, values in read_rules([3, 5]).items():
                run.setdefault(rule_id, values)
        ids = [str(i) for i in orders["instrument_id"]]
        day = int(Timeframe.DAY)
        bars, chosen, reasons = self._rules.candles(ids, day, end)
        need = candles_needed(run)
        quoted = (bars["high"].notnull() & bars["low"].notnull() & bars["close"].notnull()).sum(TIME)
        counts = dict(zip(map(str, bars[INSTRUMENT].values), map(int, quoted.values)))
        for iid, series in chosen.items():
            if series is not None and counts[series] < need:
                reasons[iid] = (f"{meta.get(iid, {}).get('instrument_code', iid)} has {counts[series]} daily candles "
                                f"with highs and lows; the rules need {need}")
        rows = [n for n, iid in enumerate(ids) if iid not in reasons]
        evaluation: xr.Dataset | None = None
        judged: dict[int, S.TacticalAnalysis] = {}
        if rows:
            book = xr.Dataset({
                "instrument": ((ORDER,), np.array([chosen[ids[n]] for n in rows], dtype=object)),
                "direction": ((ORDER,), orders["direction"].to_numpy()[rows].astype(object)),
                # a market order on its own candles; on a twin series, at the order's own level (the twin's
                # adjustment may differ: the stop and limit are then placed around the order's level)
                "level": ((ORDER,), np.array([np.nan if chosen[ids[n]] == ids[n] else float(orders["level"].iloc[n])
                                              for n in rows])),
                "size": ((ORDER,), orders["size"].astype(float).to_numpy()[rows]),
                "funds": ((ORDER,), np.full(len(rows), float(capital))),
                "timeframe": ((ORDER,), np.full(len(rows), day)),
                "instrument_code": ((ORDER,), np.array([meta.get(ids[n], {}).get("instrument_code") or ids[n]
                                                        for n in rows], dtype=object)),
                "apiid": ((ORDER,), np.array([meta.get(ids[n], {}).get("apiid") or 0 for n in rows])),
            }, coords={ORDER: rows})
            evaluation = evaluate(book, bars, run)
            shown = evaluation.sel({RULE: list(settings)})
            judged = dict(zip(rows, tactical_analysis(shown).tactical_analysis)) if settings else {}
            if stop_limit:
                orders = orders.copy()
                for key, column in (("stop", "stop_level"), ("limit", "limit_level")):
                    values = orders[column].astype(object).to_numpy().copy()
                    for n, value in zip(rows, evaluation[key].values):
                        values[n] = round(float(value), 4) if np.isfinite(value) else None
                    orders[column] = values
        analysis: builtins.list[S.TacticalAnalysis] = []
        for n, iid in enumerate(ids):
            if n in judged:
                analysis.append(judged[n])
            elif settings:
                analysis.append(_not_evaluated(orders.iloc[n], meta.get(iid, {}), settings, reasons[iid],
                                               counts.get(chosen[iid] or "", 0)))
        return orders, tuple(analysis), evaluation

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

    def create(self, request: object) -> S.SavedStrategy:
        """POST /strategy (lines 1047-1103): save the document's strategy; ``{"strategy_id": 100}``.
        With ``strategy_id`` the request replaces that stored strategy. A name is unique."""
        q = read(S.StrategyRequest, request, "strategy")
        if q.strategy_id is not None and not self._store.exists(q.strategy_id):
            raise ValidationError([Problem("strategy_id", f"there is no strategy {q.strategy_id} to replace; leave "
                                                          "strategy_id out to save a new strategy")], "strategy")
        name = q.name.strip()
        if self._store.name_taken(name, q.strategy_id):
            raise ValidationError([Problem("name", f"a strategy named {name!r} exists already; choose another "
                                                   "name")], "strategy")
        rules = [r.model_dump(mode="json", by_alias=True, exclude_none=True) for r in q.rules]
        if q.strategy_id is not None:
            self._store.replace(q.strategy_id, name, rules)
            return S.SavedStrategy(strategy_id=q.strategy_id)
        return S.SavedStrategy(strategy_id=self._store.save(str(uuid.uuid4()), name, rules, now(precise=True)))

    def list(self, query: object = None) -> builtins.list[S.StrategyStatus]:
        """GET /strategy (lines 992-1046): every strategy, or the one of ``{"strategy_id": "100"}``, with
        the status of its latest run."""
        q = read(S.StrategyQuery, {} if query is None else query, "strategy query")
        found = [self._stored(q.strategy_id, "strategy_id")] if q.strategy_id is not None else self._store.load()
        return [_status(s) for s in found]

    def get(self, strategy_id: int | str) -> S.StrategyStatus:
        """One strategy by its ``strategy_id`` (a whole number, or its text)."""
        return self.list({"strategy_id": strategy_id})[0]

    def run(self, strategy_id: int | str, account_ids: builtins.list[str] | None = None, wait: bool = False,
            progress: Callable[[float], None] | None = None) -> str:
        """Run a strategy over the PORTFOLIO accounts (by default all but the CLOSED ones, which hold nothing) as a
        background job (line 1856: "Trigger the analysis of the given strategy against all portfolios"); returns
        the run id.
        :meth:`status` says ``Running`` with ``percentage_complete``, then ``Complete`` (or ``Failed``);
        :meth:`results` holds each account's optimisation as it comes. ``wait=True`` blocks until the
        end, calling ``progress(percentage)`` as it goes."""
        strategy = self._stored(self.get(strategy_id).strategy.strategy_id, "strategy_id")
        accounts = (self._run_accounts(account_ids) if account_ids is not None
                    else AccountRepository(self._ctx.db).ids("PORTFOLIO", open_only=True))
        if not accounts:
            raise NotFoundError("No PORTFOLIO account to run the strategy over.")
        run_id = str(uuid.uuid4())
        store = self._store
        store.start(run_id, strategy.key, now(precise=True))
        try:
            futures = self._jobs.submit_each(_optimise_account, accounts, self._reopen, strategy.strategy_id,
                                             job=run_id)
        except Exception as exc:
            store.finish(run_id, "Failed", now(precise=True), f"{type(exc).__name__}: {exc}")
            raise
        job = threading.Thread(target=_collect, args=(self._reopen, run_id, strategy, accounts, futures,
                                                      self._jobs.address or "in-process"),
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

    def _run_accounts(self, account_ids: object) -> builtins.list[str]:
        """The accounts a run is asked for: a non-empty list of PORTFOLIO account ids, each named
        ``account_ids[i]`` when it is not one (refused before the run starts, so a run never begins
        on a typo)."""
        problems = Problems()
        if isinstance(account_ids, str) or not isinstance(account_ids, (list, tuple)) or not account_ids:
            problems.add("account_ids", f"{shown(account_ids)} is not a list of PORTFOLIO account ids")
            problems.raise_if_any("strategy run")
        ids = [read_id(a, f"account_ids[{n}]", problems) for n, a in enumerate(cast(builtins.list, account_ids))]
        known: set[str] = set(AccountRepository(self._ctx.db).ids("PORTFOLIO", [i for i in ids if i is not None]))
        for n, found in enumerate(ids):
            if found is not None and found not in known:
                problems.add(f"account_ids[{n}]", f"{found} is no PORTFOLIO account")
        problems.raise_if_any("strategy run")
        return builtins.list(dict.fromkeys(i for i in ids if i is not None))

    def status(self, run_id: str) -> dict:
        """``status`` (Running, Complete, Failed), ``percentage_complete`` and the times of a run."""
        return self._store.status(run_id)

    def results(self, run_id: str) -> pd.DataFrame:
        """Each account's and rule's answer of a run (``result`` JSON in the seed's shape, or ``error``)."""
        self._store.status(run_id)
        return self._store.results(run_id)

    # ------------------------------------------------------------------ the request's parts

    def _current(self, payload: Mapping,
                 problems: Problems) -> tuple[str | None, xr.DataArray, float, str, float | None]:
        """The account's current weights, capital (its NAV), currency and cash, or the given weights and capital."""
        key, given = payload.get("portfolio_id"), payload.get("weights")
        if (key is None) == (given is None):
            problems.add("portfolio_id", "give portfolio_id (a PORTFOLIO account) or weights with capital")
            return None, xr.DataArray([], dims=INSTRUMENT, coords={INSTRUMENT: []}), 0.0, "USD", None
        nothing = xr.DataArray([], dims=INSTRUMENT, coords={INSTRUMENT: []})
        capital = None if payload.get("capital") is None else read_decimal(
            payload["capital"], "capital", problems, "100000.00", numbers=True, positive=True)
        if key is not None and self._portfolios.exists(key):
            return self._uploaded(key, problems)
        if key is not None:
            try:
                account = self._accounts.get(key)
            except NotFoundError:
                raise NotFoundError(f"client_reference: no portfolio {key!r}; name a portfolio uploaded with PUT "
                                    "/portfolio by its client_reference, or a PORTFOLIO account of the book by its "
                                    "id") from None
            if account.type != "PORTFOLIO":
                problems.add("portfolio_id", f"{key} is a {account.type} account; optimise a PORTFOLIO account")
                return None, nothing, 0.0, account.currency, None
            cube = self._accounts.holdings([key]).isel(portfolio=0, drop=True).isel({TIME: -1})
            nav = float(cube["nav"])
            weights = (cube["value"] / nav).drop_vars([c for c in cube.coords if c != INSTRUMENT])
            return key, weights.where(weights > 0, 0.0), nav if capital is None else float(capital), account.currency, \
                float(cube["cash"])
        if not isinstance(given, Mapping) or not given:
            problems.add("weights", "expected {instrument: weight}")
            return None, nothing, 0.0, "USD", None
        if payload.get("capital") is None:
            problems.add("capital", "give the capital the weights are of, e.g. '100000.00'")
        values = [decimal_or_none(v, numbers=True) for v in given.values()]
        for name, value, number in zip(given, given.values(), values):
            if number is None:
                problems.add(f"weights.{name}", f"{shown(value)} is not a weight such as 0.25 or \"0.25\"")
        if problems:
            return None, nothing, 0.0, "USD", None
        ids = self._instruments.resolve(list(given))
        weights = xr.DataArray([float(cast(Decimal, v)) for v in values], dims=INSTRUMENT, coords={INSTRUMENT: ids})
        return None, weights, float(cast(Decimal, capital)), "USD", None

    def _uploaded(self, reference: str,
                  problems: Problems) -> tuple[str | None, xr.DataArray, float, str, float | None]:
        """An uploaded portfolio's current weights (its open positions' value weights scaled to its equity:
        the cash ``available`` is the rest), capital (its ``equity``), currency and cash. Short positions
        are refused: the toolkit's rules are long only."""
        capital = self._portfolios.capital(reference)
        weights = self._analytics.weights(reference).isel({PORTFOLIO: 0}, drop=True)
        ids = [str(i) for i in weights["instrument_id"].values]
        weights = xr.DataArray(weights.values, dims=INSTRUMENT, coords={INSTRUMENT: ids})
        shorts = [p for p in self._portfolios.get(reference).positions if p.direction == "Short" and p.close is None]
        if shorts:
            problems.add("client_reference", f"portfolio {reference!r} holds Short positions; the toolkit's "
                                             "portfolio rules are long only")
        equity, cash = float(capital.equity), float(capital.available)
        invested = (equity - cash) / equity if equity > 0 else 1.0
        return None, weights * invested, equity, capital.currency, cash

    def _universe(self, universe: object, held: builtins.list[str]) -> builtins.list[str]:
        if universe is None:
            if not held:
                raise NotFoundError("The portfolio holds nothing yet; give a universe of instruments to optimise.")
            return held
        return builtins.list(dict.fromkeys([*self._instruments.resolve(builtins.list(cast(builtins.list, universe))),
                                            *held]))

    def _window(self, start: date | None, end: date | None, years: int = LOOKBACK_YEARS) -> tuple[str, str]:
        """The sample: ``start`` to ``end``, by default the last close and ``years`` before it."""
        last = end.isoformat() if end else str(pd.Timestamp(self._instruments.table()["history_end"].max()).date())
        first = start.isoformat() if start else str((pd.Timestamp(last) - pd.DateOffset(years=years)).date())
        if first > last:  # (a start after the last close; a start after a given end is refused when read)
            raise ValidationError([Problem("start_date", f"{first} is after the last close {last}; choose a start "
                                                         "within the price history")], "optimisation request")
        return first, last

    @staticmethod
    def _geography(country: object) -> str | None:
        from toolkit.market.universes import geography_of  # noqa: PLC0415

        return geography_of(country if isinstance(country, str) else None)

    def _benchmark(self, key: object, end: str) -> xr.DataArray:
        if not isinstance(key, str):  # (a refusal: raise_if_any raises)
            problems = Problems()
            problems.add("benchmark", "Min Tracking Error needs a benchmark: an index id or name, or a model "
                                      "allocation")
            problems.raise_if_any("optimisation request")
        weights, _ = self._attribution.weights(cast(str, key), end)
        last = weights.ffill(TIME).isel({TIME: -1}, drop=True).fillna(0.0)
        return last.where(last > 0, drop=True).rename("weight")



def _not_evaluated(order: pd.Series, info: Mapping, settings: Mapping[int, Mapping[str, Any]], reason: str,
                   candles: int) -> S.TacticalAnalysis:
    """An order the tactical rules cannot judge: each rule NOT_EVALUATED with ``reason``, and the datapoint
    ``ohlc_candles`` (the real candles found)."""
    note = f"\n\nNot evaluated: {reason}.\n"
    point = S.Datapoint(reference="ohlc_candles", label="Candles with highs and lows", value=float(candles),
                        status=NOT_EVALUATED, priority="ohlc_candles", value_formatted=f"{candles:,}")
    results = [S.TacticalResult(commentary=note, validated=NOT_EVALUATED, datapoints=[point], simple_commentary=note,
                                rule_name=TABLE[rule_id].name_for({k: _word(v) for k, v in values.items()}),
                                rule_id=rule_id) for rule_id, values in settings.items()]
    name = info.get("name") or order["instrument"]
    return S.TacticalAnalysis(results=results, validated=NOT_EVALUATED, apiid=int(info.get("apiid") or 0),
                              instrument_code=str(info.get("instrument_code") or order["instrument_id"]),
                              commentary_simple=f"{name} [{order['instrument']}]\nRisk mgt: {NOT_EVALUATED}\n"
                                                + note)


def _word(value: object) -> str | None:
    """A rule parameter as its name shows it (``"2"``, ``"2.5"``, ``"SMA"``)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return format(Decimal(repr(float(cast(float, value)))).normalize(), "f")


def _orders(trades: xr.DataArray, last: xr.DataArray, daily_sd: xr.DataArray, capital: float, symbols: xr.DataArray,
            stop_limit: bool) -> pd.DataFrame:
    rows = []
    for i, delta in zip(trades[INSTRUMENT].values, trades.values):
        if abs(delta) < 1e-9:
            continue
        level = float(last.sel({INSTRUMENT: i}))
        notional = (Decimal(repr(abs(float(delta)) * capital))).quantize(CENT)
        row = {"instrument": str(symbols.sel({INSTRUMENT: i}).item()), "instrument_id": str(i),
               "direction": "Long" if delta > 0 else "Short",
               "size": format((notional / Decimal(repr(level))).quantize(STEP), "f"),
               "notional": format(notional, "f"), "level": level}
        if stop_limit:
            band = 2 * float(daily_sd.sel({INSTRUMENT: i})) * level
            row |= {"limit_level": level, "stop_level": round(level - band if delta > 0 else level + band, 4)}
        rows.append(row)
    columns = ["instrument", "instrument_id", "direction", "size", "notional", "level"] + (
        ["limit_level", "stop_level"] if stop_limit else [])
    return pd.DataFrame(rows, columns=columns)


# =========================================================================== strategies and their runs


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


def _status(strategy: Strategy) -> S.StrategyStatus:
    """GET /strategy's item of a stored strategy (the analysis figures stay 0 until the toolkit computes
    them: a run records each portfolio's optimisation, see :meth:`Strategies.results`)."""
    rules = [S.StrategyRuleDetail.of(read(S.StrategyRule, r, "strategy")) for r in strategy.rules]
    detail = S.StrategyDetail(name=strategy.name, strategy_id=strategy.strategy_id, rules=rules)
    return S.StrategyStatus(strategy=detail,
                            status=strategy.status, percentage_complete=strategy.percentage_complete,
                            last_updated=strategy.last_updated or "N/A",
                            print_percentage_complete=f"{strategy.percentage_complete:g}%")


def _seed_path(path: str, paths: dict[str, str]) -> str:
    """A toolkit request's path as the document's: a constraint's (``constraints.sectors[0].max`` ->
    ``rules[0].constraints[3].upper_bound``), ``portfolio_id`` -> ``client_reference``, ``benchmark`` ->
    ``benchmark_client_reference``."""
    fields = {"code": "parameter", "min": "lower_bound", "max": "upper_bound", "instrument": "instrument"}
    for toolkit, seed in paths.items():
        if path == toolkit or path.startswith(toolkit + "."):
            rest = path[len(toolkit) + 1:]
            return f"{seed}.{fields.get(rest, rest)}" if rest else seed
    return {"portfolio_id": "client_reference", "benchmark": "benchmark_client_reference"}.get(path, path)


def _optimise_account(account: str, reopen: Callable[[], Any], strategy_id: int) -> tuple[str | None, str | None]:
    """One account's optimisation, on a dask worker: ``(result JSON, None)`` or ``(None, error)`` (a
    portfolio's failure is its result, the run goes on). Reads the workspace file through its own
    connection and writes nothing."""
    ws = reopen()
    try:
        answer = ws.strategies.optimise({"client_reference": account, "strategy_id": strategy_id})
        return json.dumps(answer.to_dict()), None
    except Exception as exc:  # noqa: BLE001 - the account's answer is the error
        return None, f"{type(exc).__name__}: {exc}"
    finally:
        ws.close()


def _collect(reopen: Callable[[], Any], run_id: str, strategy: Strategy, accounts: list[str], futures: list,
             where: str) -> None:
    """This process's side of a run: each account's answer stored (in a transaction) as its task ends,
    in the accounts' order; the run ends ``Complete``, or ``Failed`` with the reason when the cluster is
    lost (the answers stored so far stay)."""
    ws = reopen()
    store = StrategyRepository(ws.db)
    portfolio = next((r for r in strategy.rules if TABLE[r["rule_id"]].portfolio), None)
    name = TABLE[portfolio["rule_id"]].title if portfolio else "none"
    done = 0
    try:
        for done, (account, future) in enumerate(zip(accounts, futures), start=1):
            result, error = future.result()
            store.record(run_id, account, name, result, error, round(100 * done / len(accounts), 2))
        store.finish(run_id, "Complete", now(precise=True))
    except Exception as exc:  # noqa: BLE001 - the run's status says why it stopped
        store.finish(run_id, "Failed", now(precise=True),
                     f"The run stopped after {done - 1} of {len(accounts)} accounts: the dask cluster ({where}) "
                     f"was lost or refused the job ({type(exc).__name__}: {exc}). The answers stored so far are "
                     f"kept; run the strategy again once the scheduler is back.")
        for future in futures:
            future.cancel()
    finally:
        ws.close()
