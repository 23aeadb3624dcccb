"""The risk platform's attribution in the façade (``ws.attribution``): indexes and attribution runs.

**Indexes** (the seed's ``GET /index``) are stored benchmark portfolios with constituent weights::

    {"name": "S&P 20 cap-weighted", "symbol": "SP20CAP", "method": "cap", "currency": "USD",
     "description": "...", "constituents": [{"symbol": "AAPL", "shares": "15908118000"}, ...]}

An index's ``symbol`` (optional: by default its name's letters and digits, ``SP20CAPWEIGHTED``) is
what GET /index lists and the attribution query's ``index_symbol`` names; GET /index answers it with
``instrument_code`` (``SP20CAPWEIGHTED_XXXX``: ISO 10383's MIC for "no market", an index computed in the
workspace trades nowhere) and ``apiid`` 91
(the User Feed: the workspace's own series). A constituent names an instrument of the workspace by
``instrument_id``, ``isin`` or ``symbol`` (an ISIN or symbol names its longest series). ``method`` says
how the weights move:

- ``cap``: ``shares`` per constituent; the weight at the close of day ``t`` is
  ``s_i P_i,t / sum_j s_j P_j,t`` (closes carried forward over a constituent's missing days; a
  constituent joins on its first close);
- ``equal``: ``1 / n`` over the constituents with a close so far, rebalanced every day;
- ``fixed``: ``weight`` per constituent (fractions that sum to 1 exactly), rebalanced every day
  (over the constituents with a close so far).

Every constituent must trade in the index's ``currency``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

import numpy as np
import pandas as pd
import pycountry
import xarray as xr

from toolkit.analytics import attribution as at
from toolkit.analytics import linking
from toolkit.analytics.currency import ankrim_hensel
from toolkit.analytics.returns import simple_returns
from toolkit.analytics.risk import horizon_returns
from toolkit.contracts.base import read
from toolkit.contracts.codes import read_currency
from toolkit.contracts.risk import attribution as T
from toolkit.contracts.risk.analytics import Measure, contribution_sentence
from toolkit.contracts.risk.common import read_symbol
from toolkit.errors import DataError, NotFoundError, Problem, Problems, ValidationError
from toolkit.market.history import read_moment
from toolkit.market.instruments import instrument_code
from toolkit.market.providers import USER_FEED
from toolkit.market.universes import geography_of
from toolkit.schema import INSTRUMENT, PORTFOLIO, SEGMENT, TIME
from toolkit.store.accounts import AccountRepository
from toolkit.store.cache import memo
from toolkit.store.indexes import IndexRepository, symbol_of
from toolkit.store.portfolios import RiskPortfolioRepository
from toolkit.store.repositories import now
from toolkit.validation import (
    YEARS,
    read_choice,
    read_date,
    read_decimal,
    read_name,
    read_period,
    read_text,
)
from toolkit.workspace.accounts import Accounts
from toolkit.workspace.allocations import Allocations
from toolkit.workspace.analytics import described
from toolkit.workspace.context import Context
from toolkit.workspace.history import History
from toolkit.workspace.instruments import Instruments
from toolkit.workspace.portfolios import located

INDEX_FIELDS = ("name", "symbol", "method", "currency", "description", "constituents")
CONSTITUENT_FIELDS = ("instrument_id", "isin", "symbol", "shares", "weight")
METHODS = {"cap": "shares", "equal": None, "fixed": "weight"}
MAX_NAME = 200
#: an ISO 8601 date of reduced precision: a year, or a year and month
_REDUCED = re.compile(r"([0-9]{4})(?:-(?:0[1-9]|1[0-2]))?", re.ASCII)


@dataclass(frozen=True)
class Index:
    """One stored index: its identity, weighting ``method`` and ``constituents`` (a table with
    ``instrument_id, symbol, isin, name, sector, country, asset_class, currency, shares, weight``)."""

    id: str
    name: str
    method: str
    currency: str
    description: str | None
    constituents: pd.DataFrame
    created_at: str
    symbol: str = ""

    def entry(self) -> T.IndexEntry:
        """GET /index's item (``risk-platform-api.txt`` lines 1859-1866): ``name``, ``country`` (the
        constituents' country when they share one), ``symbol``, ``currency``, ``apiid`` and
        ``instrument_code``. An index is computed in the workspace from its constituents' prices, so it
        lives under the User Feed (``apiid`` 91, GET /api) and its code is ``SYMBOL_XXXX``: ISO 10383's MIC
        for "no market"."""
        countries = set(self.constituents["country"].dropna())
        found = pycountry.countries.get(alpha_2=countries.pop()) if len(countries) == 1 else None
        country = getattr(found, "common_name", None) or getattr(found, "name", None)
        weight = METHODS[self.method]
        keep = ["instrument_id", "symbol", "isin", "name", "sector"] + ([weight] if weight else [])
        return T.IndexEntry(name=self.name, country=country, symbol=self.symbol, currency=self.currency,
                            apiid=USER_FEED, instrument_code=instrument_code(self.symbol, NO_MARKET), id=self.id,
                            method=self.method, description=self.description,
                            constituents=self.constituents[keep].to_dict("records"))

    def to_dict(self) -> dict:
        """:meth:`entry` in the document's shape, with the toolkit's ``id``, ``method``, ``description`` and
        ``constituents``."""
        return self.entry().to_dict()

    def to_pandas(self) -> pd.DataFrame:
        """The constituents: ``instrument_id, symbol, isin, name, sector, country, asset_class, currency``
        and ``shares`` or ``weight``."""
        return self.constituents


def _bound(value: object, path: str, problems: Problems) -> str | None:
    """An ISO date (:func:`toolkit.validation.read_date`), or a year ``YYYY`` or month ``YYYY-MM`` in
    the years it allows, as its text (None stays None)."""
    if value is None:
        return None
    reduced = _REDUCED.fullmatch(value) if isinstance(value, str) else None
    if reduced and YEARS[0] <= int(reduced.group(1)) <= YEARS[1]:
        return str(value)
    day = read_date(value, path, problems)
    return None if day is None else day.isoformat()


def _positive_decimal(value: object, path: str, problems: Problems, what: str) -> str | None:
    """A positive share count or weight, as a decimal string or a JSON number (e.g. "0.25", 1500000)."""
    number = read_decimal(value, path, problems, "0.25", numbers=True, positive=True)
    return None if number is None else str(number)


class Attribution:
    """``ws.attribution``: the indexes to attribute against (see the module docstring)."""

    def __init__(self, ctx: Context, *, instruments: Instruments, history: History, accounts: Accounts,
                 allocations: Allocations) -> None:
        self._ctx = ctx
        self._instruments = instruments
        self._history = history
        self._accounts = accounts
        self._allocations = allocations

    # ------------------------------------------------------------------ indexes

    def create_index(self, payload: Mapping) -> Index:
        """Store an index (module docstring); a bad payload raises a ``ValidationError`` naming
        every field at fault, and nothing is saved."""
        problems = Problems()
        problems.require_object(payload, INDEX_FIELDS, "index")
        name = read_name(payload.get("name"), "name", problems, MAX_NAME)
        method = payload.get("method")
        if method not in METHODS:
            problems.add("method", f"{method!r} is not one of {', '.join(METHODS)}")
        currency = read_currency(payload.get("currency"), "currency", problems)
        description = payload.get("description")
        if description is not None:
            description = read_text(description, "description", problems)
        rows = self._constituents(payload.get("constituents"), method, currency, problems)
        repo = IndexRepository(self._ctx.db)
        if name and repo.name_taken(name.strip()):
            problems.add("name", f"an index named {name.strip()!r} exists already; choose another name")
        symbol = payload.get("symbol")
        if symbol is not None:
            symbol = read_symbol(symbol, "symbol", problems)
            if symbol and repo.symbol_taken(symbol):
                problems.add("symbol", f"an index with symbol {symbol!r} exists already; give another symbol")
        elif name:  # made from the name, numbered when another index has it (SP20CAPWEIGHTED2)
            base = symbol = symbol_of(name)
            n = 1
            while repo.symbol_taken(symbol):
                n += 1
                symbol = f"{base}{n}"
        problems.raise_if_any("index")
        index_id = str(uuid.uuid4())
        checked = cast(tuple[str, str, str, str], (name, symbol, method, currency))  # refused above when None
        with self._ctx.transaction():
            repo.insert(index_id, checked[0].strip(), checked[1], checked[2], checked[3], description,
                        json.dumps(payload), rows, now())
        return self.index(index_id)

    def _constituents(self, items: object, method: object, currency: str | None,
                      problems: Problems) -> list[tuple[str, str | None, str | None]]:
        if not isinstance(items, list) or not items:
            problems.add("constituents", "give at least one constituent, e.g. {'symbol': 'AAPL'}")
            return []
        table = self._instruments.table().set_index("instrument_id")
        needs = METHODS.get(method) if isinstance(method, str) else None
        rows: list[tuple[str, str | None, str | None]] = []
        seen: dict[str, int] = {}
        for n, item in enumerate(items):
            path = f"constituents[{n}]"
            if problems.require_fields(item, path, CONSTITUENT_FIELDS) is None:
                continue
            keys = [item[k] for k in ("instrument_id", "isin", "symbol") if item.get(k) is not None]
            if len(keys) != 1 or not isinstance(keys[0], str):
                problems.add(path, "name the instrument by exactly one of instrument_id, isin or symbol")
                continue
            try:
                (iid,) = self._instruments.resolve([keys[0]])
            except NotFoundError:
                problems.add(path, f"no instrument {keys[0]!r} in this workspace")
                continue
            if iid in seen:
                problems.add(path, f"{keys[0]} is also constituents[{seen[iid]}]; name each instrument once")
                continue
            seen[iid] = n
            if currency and table.loc[iid, "currency"] != currency:
                problems.add(path, f"{keys[0]} trades in {table.loc[iid, 'currency']}, the index is in {currency}")
            values = {}
            for field in ("shares", "weight"):
                if field == needs:
                    values[field] = _positive_decimal(item.get(field), f"{path}.{field}", problems, field)
                elif item.get(field) is not None and method in METHODS:
                    problems.add(f"{path}.{field}", f"a {method} index takes no {field}")
            rows.append((iid, values.get("shares"), values.get("weight")))
        if needs == "weight" and len(rows) == len(items) and all(r[2] for r in rows):  # each one valid
            total = sum((Decimal(str(r[2])) for r in rows), Decimal(0))
            if total != 1:
                problems.add("constituents", f"the weights sum to {total}; a fixed-weight index sums to 1 exactly")
        return rows

    def indexes(self) -> list[Index]:
        """Every stored index, oldest first (the seed's ``GET /index``)."""
        return [self._load(row) for _, row in IndexRepository(self._ctx.db).indexes().iterrows()]

    def index(self, index_id: str) -> Index:
        """One index by id, name or symbol; an unknown one raises ``NotFoundError``."""
        repo = IndexRepository(self._ctx.db)
        rows = repo.indexes([index_id]) if isinstance(index_id, str) else pd.DataFrame()
        if rows.empty and isinstance(index_id, str):
            every = repo.indexes()
            rows = every[(every["name"] == index_id) | (every["symbol"] == index_id)]
        if rows.empty:
            names = ", ".join(repr(n) for n in repo.indexes()["name"]) or "none yet"
            raise NotFoundError(f"No index {index_id!r}; the indexes are {names} (ws.attribution.indexes()).")
        return self._load(rows.iloc[0])

    def _load(self, row: pd.Series) -> Index:
        parts = IndexRepository(self._ctx.db).constituents(row["id"])
        table = self._instruments.table().set_index("instrument_id")
        meta = table.loc[parts["instrument_id"], ["symbol", "isin", "name", "sector", "country", "asset_class",
                                                  "currency"]].reset_index()
        return Index(row["id"], row["name"], row["method"], row["currency"], row["description"],
                     pd.concat([meta, parts[["shares", "weight"]]], axis=1), row["created_at"], row["symbol"] or "")

    def index_weights(self, index_id: str, start: str | None = None, end: str | None = None) -> xr.DataArray:
        """Constituent weights at the close of every trading day in ``start .. end`` (the module
        docstring's rules), over ``(instrument, time)`` with the instrument metadata as coordinates;
        every day's weights sum to 1. ``start`` and ``end`` are ISO 8601 dates, also of reduced
        precision: a year (``"2020"``) or a month (``"2020-01"``) stands for all of it, as in pandas'
        slicing; a ``ValidationError`` names a bad one, or an ``end`` before the ``start``."""
        problems = Problems()
        start, end = _bound(start, "start", problems), _bound(end, "end", problems)
        if start and end and pd.Period(start).start_time > pd.Period(end).end_time:
            problems.add("end", f"{end} is before the start {start}; the period must run forwards")
        problems.raise_if_any("index weights request")
        index = self.index(index_id)
        ids = list(index.constituents["instrument_id"])
        close = self._history.prices(ids, end=end)["close"]
        held = close.ffill(TIME)
        live = held.notnull()
        if index.method == "cap":
            shares = xr.DataArray(index.constituents["shares"].astype(float).to_numpy(), dims=INSTRUMENT,
                                  coords={INSTRUMENT: ids})
            size = (held * shares).fillna(0.0)
        elif index.method == "fixed":
            size = live * xr.DataArray(index.constituents["weight"].astype(float).to_numpy(), dims=INSTRUMENT,
                                       coords={INSTRUMENT: ids})
        else:
            size = live.astype(float)
        weights = (size / size.sum(INSTRUMENT)).sel({TIME: slice(start, end)})
        weights = weights.where(np.isfinite(weights))
        return weights.rename("weight").assign_attrs(index=index.name, method=index.method)

    # ------------------------------------------------------------------ runs

    def versus_index(self, query: object) -> AttributionReport:
        """GET /portfolio/attribution/index (``risk-platform-api.txt`` lines 1882-1886): the portfolio
        of ``client_reference`` against the index of ``index_symbol`` (GET /index), per ``horizon`` and
        ``model`` (:class:`toolkit.contracts.risk.attribution.IndexAttributionQuery`)."""
        q = read(T.IndexAttributionQuery, query, "attribution query")
        try:
            index = self.index(q.index_symbol)
        except NotFoundError:
            symbols = ", ".join(i.symbol for i in self.indexes()) or "none yet"
            raise NotFoundError(f"index_symbol: no index {q.index_symbol!r}; the indexes are {symbols} "
                                "(GET /index: attribution.indexes()).") from None
        return self._seed_run(q, {"index_id": index.id})

    def versus_portfolio(self, query: object) -> AttributionReport:
        """GET /portfolio/attribution/portfolio (lines 2097-2101): the portfolio of ``client_reference``
        against the one of ``benchmark_client_reference``
        (:class:`toolkit.contracts.risk.attribution.PortfolioAttributionQuery`)."""
        q = read(T.PortfolioAttributionQuery, query, "attribution query")
        return self._seed_run(q, {"portfolio_id": q.benchmark_client_reference})

    def _seed_run(self, q: T.IndexAttributionQuery | T.PortfolioAttributionQuery, benchmark: dict) -> AttributionReport:
        """The document's query as the toolkit's run: Brinson-Fachler by asset class, geography, sector
        and instrument, linked by Carino; the hierarchical model adds the top-down attribution asset
        class > sector > instrument. Without ``start_date`` the range starts the day after both sides
        first hold something. Paths of the toolkit's request are named as the query's."""
        request: dict[str, Any] = {"portfolio_id": q.client_reference, "benchmark": benchmark, "horizon": q.horizon,
                   "dimensions": list(SEED_DIMENSIONS.values()),
                   "start_date": None if q.start_date is None else q.start_date.isoformat(),
                   "end_date": None if q.end_date is None else q.end_date.isoformat(),
                   "hierarchy": ["asset_class", "sector", "instrument"]
                   if q.model == "HierarchicalMultiAssetClassAttribution" else None}
        names = {"portfolio_id": "client_reference", "benchmark": "benchmark_client_reference"
                 if "portfolio_id" in benchmark else "index_symbol"}
        if request["start_date"] is None:  # the range: from the day after both sides first hold something
            firsts = []
            for key in (q.client_reference, next(iter(benchmark.values()))):
                weights, _ = self.weights(key, request["end_date"])
                held = (weights.fillna(0.0).sum(INSTRUMENT) > 0).values
                if held.any():
                    firsts.append(pd.Timestamp(weights[TIME].values[int(np.argmax(held))]))
            if firsts:
                request["start_date"] = (max(firsts) + pd.Timedelta(days=1)).date().isoformat()
        try:
            return self.run(request)
        except ValidationError as exc:
            raise ValidationError([Problem(names.get(p.path, p.path), p.message) for p in exc.problems],
                                  exc.what) from None

    def run(self, payload: Mapping) -> AttributionReport:
        """Brinson attribution of a portfolio against an index or another portfolio over a range.

        ``payload``: ``portfolio_id`` (a PORTFOLIO account, a model allocation or an index),
        ``benchmark`` (``{"index_id": ...}`` or ``{"portfolio_id": ...}``), ``start_date``,
        ``end_date``, ``horizon`` (``month`` by default, or ``day``), ``dimensions`` (of
        ``asset_class, geography, sector, instrument, currency``), optional ``hierarchy`` (e.g.
        ``["asset_class", "sector", "instrument"]``), ``model`` (``brinson_fachler`` or
        ``brinson_hood_beebower``), ``variant`` (``three_effect``, ``top_down``, ``bottom_up``),
        ``geometric``, ``linking`` (``carino`` by default; ``menchero``, ``grap``, ``frongello``;
        ``geometric`` for geometric attribution) and ``base_currency`` (the Ankrim-Hensel currency
        attribution by currency for an investor in that currency).

        Weights are each side's at the close before a period (an account's holdings and cash at
        market value, cash a segment of its own with return 0; a model allocation's or fixed
        index's weights every day; a cap or equal index as stored); a period's instrument returns
        compound its daily closes (buy-and-hold within a month). Risk attribution uses the daily
        returns of the range and the weights at its end, annualised (sqrt 252).
        """
        req = _read_run(payload)
        bench_key = next(iter(req["benchmark"].values()))
        if "index_id" in req["benchmark"]:
            self.index(bench_key)  # an unknown index is named as an index
        (pw, p_name), (bw, b_name) = (self.weights(k, req["end_date"]) for k in (req["portfolio_id"], bench_key))
        cash = pw.attrs.get("currency") or bw.attrs.get("currency") or "USD"
        returns, trading = self._returns(sorted(set(pw[INSTRUMENT].values) | set(bw[INSTRUMENT].values)), req, cash)
        days = returns.indexes[TIME]
        w, W = (self._before(x, days, name) for x, name in ((pw, p_name), (bw, b_name)))
        w, W = (x.reindex({INSTRUMENT: returns[INSTRUMENT].values}, fill_value=0.0).assign_coords(
            returns[INSTRUMENT].coords) for x in (w, W))
        (w_p, r_p), (w_b, _) = at.at_horizon(w, returns, req["horizon"]), at.at_horizon(W, returns, req["horizon"])
        periods, linked, risk = {}, {}, {}
        end_w, end_W = (_at_end(x, days).reindex({INSTRUMENT: returns[INSTRUMENT].values}, fill_value=0.0)
                        .assign_coords(returns[INSTRUMENT].coords) for x in (pw, bw))
        for dim in req["dimensions"]:
            periods[dim] = at.brinson(w_p, r_p, w_b, DIMENSIONS[dim], model=req["model"], variant=req["variant"],
                                      geometric=req["geometric"])
            linked[dim] = linking.link(periods[dim], req["linking"])
        if returns.sizes[TIME] > 1:  # one covariance for every dimension's groups
            risk = at.risk_attributions(returns.fillna(0.0), end_w, end_W,
                                        {dim: DIMENSIONS[dim] for dim in req["dimensions"]}, annualise=True)
        hierarchy = currency = None
        if req["hierarchy"]:
            hierarchy = linking.link(at.hierarchical(w_p, r_p, w_b, [DIMENSIONS[d] for d in req["hierarchy"]]),
                                     "geometric" if req["geometric"] else req["linking"])
        if req["base_currency"]:
            currency = self._currency(w_p, r_p, w_b, trading, req)
        filled = returns.fillna(0.0)
        means = pd.DataFrame({"day": filled.mean(TIME).to_series(),
                              "month": horizon_returns(filled, "month").mean(TIME).to_series()})
        return AttributionReport(req, p_name, b_name, periods, linked, risk, _components(w_p, w_b, r_p),
                                 hierarchy, currency, means=means,
                                 meta=described(self._instruments.table(), list(returns[INSTRUMENT].values)))

    def weights(self, key: str, end: str | None = None) -> tuple[xr.DataArray, str]:
        """Weights at the close of every day to ``end`` of an index (id, name or symbol), a portfolio
        uploaded with PUT /portfolio (its client reference), a PORTFOLIO account or a model allocation,
        over ``(instrument, time)``; and its display name. The whole history is built once per data
        version (:func:`toolkit.store.cache.memo`) and cut at ``end``: every rule is causal (a day's
        weights use its close and earlier ones), and the apps ask again with another period on every run."""
        problems = Problems()
        last = None if end is None else read_moment(end, "end", problems, end=True)
        problems.raise_if_any("attribution weights request")
        weights, name = memo(self._ctx.db).get(("attribution.weights", key), lambda: self._weights(key))
        return weights.sel({TIME: slice(None, last)}), name

    def _weights(self, key: str) -> tuple[xr.DataArray, str]:
        if RiskPortfolioRepository(self._ctx.db).exists(key):
            return self._uploaded(key), f"Portfolio: {key}"
        repo = IndexRepository(self._ctx.db)
        every = repo.indexes()
        if key in set(every["id"]) or key in set(every["name"]):
            index = self.index(key)
            return self.index_weights(index.id), f"Index: {index.name}"
        account = AccountRepository(self._ctx.db).get(key)
        if account is not None:
            if account.type != "PORTFOLIO":
                raise NotFoundError(f"Account {key!r} is a {account.type} account; attribution needs a PORTFOLIO "
                                    "account.")
            return self._account(key, account.currency), f"Account: {account.name or key[:8]}"
        try:
            allocation = self._allocations.get(key)
        except NotFoundError:
            raise NotFoundError(f"No index, PORTFOLIO account or model allocation {key!r}; see "
                                "ws.attribution.indexes(), ws.accounts.list(type='PORTFOLIO') and "
                                "ws.allocations.list().") from None
        mix = {x["instrument_id"]: float(x["weight"]) for x in allocation.to_dict()["allocation"]}
        close = self._history.prices(list(mix))["close"]
        fixed = xr.DataArray(list(mix.values()), dims=INSTRUMENT, coords={INSTRUMENT: list(mix)})
        weights = (fixed * close.notnull().all(INSTRUMENT)).where(close.notnull().all(INSTRUMENT))
        return weights.rename("weight"), f"Model: {allocation.name or key[:8]}"

    def _uploaded(self, reference: str) -> xr.DataArray:
        """An uploaded portfolio's value weights at every close: each day, the positions open on it
        (``date_open <= day < date_close``, a Short one negative) valued at the day's close over their
        sum (the portfolio's cash is left out, as in its analytics)."""
        positions = located(RiskPortfolioRepository(self._ctx.db).positions([reference]), self._instruments.table())
        missing = positions[positions["instrument_id"].isna()]
        if len(missing) or positions.empty:
            where = ", ".join(f"{r.instrument_code} apiid {r.apiid}" for r in missing.itertuples()) or "none"
            raise DataError(f"Portfolio {reference!r} holds positions without prices in the workspace ({where}); "
                            "upload their history first (PUT /history), or positions to attribute.")
        ids = list(dict.fromkeys(positions["instrument_id"]))
        close = self._history.prices(ids)["close"].ffill(TIME)
        days = close[TIME].values
        opened = pd.to_datetime(positions["open_date"]).to_numpy()[:, None] <= days[None, :]
        shut = pd.to_datetime(positions["close_date"]).to_numpy()[:, None]
        live = opened & (pd.isna(shut) | (days[None, :] < shut))
        quantity = positions["quantity"].astype(float).to_numpy()[:, None] * live
        member = (positions["instrument_id"].to_numpy()[:, None] == np.array(ids)[None, :]).astype(float)
        held = xr.DataArray(member.T @ quantity, dims=(INSTRUMENT, TIME), coords={INSTRUMENT: ids, TIME: days})
        value = held * close.drop_vars([c for c in close.coords if c not in close.dims])
        total = value.sum(INSTRUMENT)
        return (value / total.where(total != 0)).rename("weight").assign_attrs(currency=positions["currency"].iloc[0])

    def _account(self, account_id: str, currency: str) -> xr.DataArray:
        cube = self._accounts.holdings([account_id]).isel({PORTFOLIO: 0}, drop=True)
        nav = cube["nav"].where(cube["nav"] > 0)
        weights = cube["value"] / nav
        cash = (cube["cash"] / nav).expand_dims({INSTRUMENT: [CASH]})
        return xr.concat([weights.drop_vars([c for c in weights.coords if c not in weights.dims]), cash],
                         dim=INSTRUMENT).rename("weight").assign_attrs(currency=currency)

    def _returns(self, ids: list[str], req: dict, cash: str) -> tuple[xr.DataArray, pd.DatetimeIndex]:
        """Daily returns of ``ids`` (CASH: 0) from the first day after ``start_date`` to ``end_date``,
        with the instrument metadata and ``geography`` as coordinates; and every trading day."""
        every = memo(self._ctx.db).get(("attribution.returns", tuple(ids), cash),
                                       lambda: self._all_returns(ids, cash))
        returns = every.sel({TIME: slice(None, req["end_date"])})  # causal: as if read to the end
        window = returns.sel({TIME: slice(req["start_date"], req["end_date"])})
        if req["start_date"] and window.sizes[TIME] and window.indexes[TIME][0] == returns.indexes[TIME][0]:
            window = window.isel({TIME: slice(1, None)})  # the first close starts the first return
        if window.sizes[TIME] == 0:
            raise DataError(f"No trading day with returns between {req['start_date']} and {req['end_date']}; "
                            "choose a range within the price history.")
        return window, returns.indexes[TIME]

    def _all_returns(self, ids: list[str], cash: str) -> xr.DataArray:
        """Daily returns of ``ids`` (CASH: 0) over their whole history, with their metadata coordinates."""
        real = [i for i in ids if i != CASH]
        close = self._history.prices(real)["close"]
        meta = {c: close[c].values for c in ("symbol", "name", "asset_class", "sector", "country", "currency")}
        returns = simple_returns(close.drop_vars([c for c in close.coords if c not in close.dims]))
        if CASH in ids:
            zero = xr.zeros_like(returns.isel({INSTRUMENT: 0}, drop=True)).expand_dims({INSTRUMENT: [CASH]})
            returns = xr.concat([returns, zero], dim=INSTRUMENT)
            meta = {c: np.append(v, cash if c == "currency" else ("Cash" if c != "symbol" else CASH))
                    for c, v in meta.items()}
        for c in ("asset_class", "sector"):
            meta[c] = np.array([v if isinstance(v, str) and v else "Unclassified" for v in meta[c]], dtype=object)
        meta["geography"] = np.array([geography_of(c) or ("Cash" if c == "Cash" else "Other")
                                      for c in meta["country"]], dtype=object)
        meta["domicile"] = np.array([_country_name(c) for c in meta["country"]], dtype=object)
        return returns.assign_coords({c: (INSTRUMENT, np.asarray(v, dtype=object)) for c, v in meta.items()})

    @staticmethod
    def _before(eod: xr.DataArray, days: pd.DatetimeIndex, name: str) -> xr.DataArray:
        """Weights held during each day of ``days``: those at the previous close (carried over days
        without a close)."""
        full = eod.reindex({TIME: eod.indexes[TIME].union(days)}).ffill(TIME)
        held = full.shift({TIME: 1}).sel({TIME: days}).fillna(0.0)
        empty = held.sum(INSTRUMENT) <= 0
        if bool(empty.any()):
            holding = eod.indexes[TIME][(eod.fillna(0.0).sum(INSTRUMENT) > 0).values]
            after = (f"start the attribution after {holding[0].date()}, its first holding" if len(holding)
                     else "it holds nothing until the period's end; choose a later period")
            raise DataError(f"{name} holds nothing on {pd.Timestamp(days[int(np.argmax(empty.values))]).date()}; "
                            f"{after}.")
        return held

    def _currency(self, w: xr.DataArray, r: xr.DataArray, W: xr.DataArray, trading: pd.DatetimeIndex,
                  req: dict) -> xr.Dataset:
        """Ankrim-Hensel by currency for an investor in ``base_currency``: the return of each
        currency against the base, ``c = v_t / v_{t-1} - 1`` with ``v`` the base-currency value of
        one unit (ECB reference rates, units per euro, the last rate carried to each trading day),
        compounded over a period like the instrument returns."""
        if req["geometric"]:
            raise DataError("The currency attribution (Ankrim-Hensel) is arithmetic; ask for it without geometric.")
        base, codes = req["base_currency"], sorted(set(r["currency"].values))
        rates = self._history.rates
        known = set(map(str, rates["currency"].values)) | {"EUR"}
        missing = sorted({*codes, base} - known)
        if missing:
            raise DataError(f"No ECB rate for {', '.join(missing)}; the currency attribution needs one per currency.")
        unit = xr.ones_like(rates.isel(currency=0, drop=True))
        per_euro = {c: (rates.sel(currency=c, drop=True) if c != "EUR" else unit)
                    for c in {*codes, base}}
        value = xr.concat([per_euro[base] / per_euro[c] for c in codes], dim=SEGMENT).assign_coords({SEGMENT: codes})
        value = value.reindex({TIME: value.indexes[TIME].union(trading)}).ffill(TIME).sel({TIME: trading})
        daily = (value / value.shift({TIME: 1}) - 1).sel({TIME: slice(req["start_date"], req["end_date"])})
        if req["horizon"] == "month":
            daily = horizon_returns(daily, "month")
        currency_returns = daily.sel({TIME: r[TIME].values})
        per = ankrim_hensel(w, r, W, currency_returns=currency_returns, segments="currency",
                            base=base if base in codes else None, model=req["model"], variant=req["variant"])
        return linking.link(per, req["linking"])


# =========================================================================== attribution runs

RUN_FIELDS = ("portfolio_id", "benchmark", "start_date", "end_date", "horizon", "dimensions", "hierarchy", "model",
              "variant", "geometric", "linking", "base_currency")
#: the seed's grouping dimensions, and the instrument coordinate each one reads
DIMENSIONS = {"asset_class": "asset_class", "geography": "geography", "sector": "sector",
              "instrument": "symbol", "currency": "currency", "domicile": "domicile"}
#: the document's dimensions (lines 1931-2095) and the toolkit's that answers each: its ``geography`` is
#: the domicile, the instrument's country by name ("United States", line 1957)
#: ISO 10383's MIC for "no market": the market of an index computed in the workspace
NO_MARKET = "XXXX"
SEED_DIMENSIONS = {"asset_class": "asset_class", "geography": "domicile", "instrument": "instrument",
                   "sector": "sector"}
DEFAULT_DIMENSIONS = ("asset_class", "geography", "sector", "instrument")
RUN_HORIZONS = ("day", "month")
#: the pseudo-instrument of an account's cash (return 0): its labels in every dimension
CASH = "CASH"


def _read_run(payload: object) -> dict:
    """The attribution request, validated at the edge: every problem named by its field."""
    problems = Problems()
    problems.require_object(payload, RUN_FIELDS, "attribution request")
    out = {k: cast(dict, payload).get(k) for k in RUN_FIELDS}
    if not isinstance(out["portfolio_id"], str) or not out["portfolio_id"]:
        problems.add("portfolio_id", "name the portfolio: a PORTFOLIO account, a model allocation or an index")
    bench = out["benchmark"]
    if not (isinstance(bench, dict) and len(bench) == 1 and set(bench) <= {"index_id", "portfolio_id"}
            and isinstance(next(iter(bench.values())), str)):
        problems.add("benchmark", "give {'index_id': ...} (see ws.attribution.indexes()) or {'portfolio_id': ...}")
    dates = read_period(out["start_date"], out["end_date"], problems, ("start_date", "end_date"), past=True)
    out["start_date"], out["end_date"] = (None if d is None else d.isoformat() for d in dates)
    out["horizon"] = out["horizon"] or "month"
    if out["horizon"] not in RUN_HORIZONS:
        problems.add("horizon", f"{out['horizon']!r} is not one of {', '.join(RUN_HORIZONS)}")
    for key, default in (("dimensions", DEFAULT_DIMENSIONS), ("hierarchy", ())):
        value = default if out[key] is None else out[key]
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            problems.add(key, f"expected a list of dimensions from {', '.join(DIMENSIONS)}")
            value = ()
        for n, dim in enumerate(value):
            if dim not in DIMENSIONS:
                problems.add(f"{key}[{n}]", f"{dim!r} is not one of {', '.join(DIMENSIONS)}")
            elif dim in value[:n]:
                problems.add(f"{key}[{n}]", f"{dim!r} is given twice; name each dimension once")
        if key == "dimensions" and isinstance(out[key], (list, tuple)) and not out[key]:
            problems.add(key, f"give at least one dimension from {', '.join(DIMENSIONS)}")
        out[key] = tuple(value)
    out["model"] = out["model"] or "brinson_fachler"
    if out["model"] not in ("brinson_fachler", "brinson_hood_beebower"):
        problems.add("model", f"{out['model']!r} is not brinson_fachler or brinson_hood_beebower")
    if out["geometric"] is not None and not isinstance(out["geometric"], bool):
        problems.add("geometric", f"expected true or false, got {out['geometric']!r}")
    out["geometric"] = out["geometric"] is True
    if out["variant"] is not None and read_choice(out["variant"], "variant", problems, at.VARIANTS) is not None \
            and out["geometric"] and out["variant"] != "top_down":
        problems.add("variant", "geometric attribution has no interaction term; it is top_down")
    out["linking"] = out["linking"] or ("geometric" if out["geometric"] else "carino")
    if out["linking"] not in linking.METHODS:
        problems.add("linking", f"{out['linking']!r} is not one of {', '.join(linking.METHODS)}")
    elif out["geometric"] != (out["linking"] == "geometric"):
        problems.add("linking", "geometric attribution links geometrically, arithmetic attribution by "
                                "carino, menchero, grap or frongello")
    if out["base_currency"] is not None:
        out["base_currency"] = read_currency(out["base_currency"], "base_currency", problems)
        if out["geometric"]:
            problems.add("base_currency", "the currency attribution (Ankrim-Hensel) is arithmetic; ask for it "
                                          "without geometric")
    problems.raise_if_any("attribution request")
    return out


@dataclass(frozen=True)
class AttributionReport:
    """One attribution run (see :meth:`Attribution.run`): per ``dimension``, the per-period effects
    (``periods``, with ``time``), the linked effects over the range (``linked``), the aggregated
    weights and returns and the risk attribution; the ``components`` table; the ``hierarchy`` and
    ``currency`` attribution when asked for."""

    request: dict
    portfolio: str
    benchmark: str
    periods: dict[str, xr.Dataset]
    linked: dict[str, xr.Dataset]
    risk: dict[str, xr.Dataset]
    components: pd.DataFrame
    hierarchy: xr.Dataset | None = None
    currency: xr.Dataset | None = None
    means: pd.DataFrame | None = None  # mean daily and monthly return of each instrument over the range
    meta: dict | None = None  # instrument id -> the instrument object (toolkit.market.instruments.describe)

    def _key(self, instrument_id: str) -> str:
        """An instrument's key in the document's answer: ``CODE_APIID_CURRENCY`` (``KO_XNYS_8_USD``)."""
        info = (self.meta or {}).get(str(instrument_id))
        if not info:
            return str(instrument_id)
        return f"{info['instrument_code']}_{info.get('apiid') or 0}_{info['currency']}"

    def _segments(self, dim: str) -> dict[str, str]:
        """The document's name of each segment of ``dim`` (instruments by key, others as they are)."""
        names = {}
        if dim == "instrument":
            for iid, symbol in self.components["symbol"].items():
                names[str(symbol)] = self._key(iid)
        return names

    def answer(self) -> T.Attribution:
        """The document's answer (``risk-platform-api.txt`` lines 1886-2096): the portfolio's
        ``components`` (weight averaged over the periods, mean daily and monthly return, share of the
        portfolio's volatility) and per dimension the Brinson effects linked over the range, each
        side's shares of its volatility (``marginal_risk_contribution``) and the aggregated weights
        (averaged) and returns (compounded)."""
        components = []
        held = self.components[(self.components["portfolio_weight"] > 0) & (self.components.index != CASH)]
        shares = self.risk.get("instrument")
        for iid, row in held.iterrows():
            info = (self.meta or {}).get(str(iid)) or {}
            share = None if shares is None or row["symbol"] not in shares[SEGMENT].values else \
                _num(shares["portfolio_percent"].sel({SEGMENT: row["symbol"]}))
            place = info.get("exchange") or {}
            mean = self.means.loc[iid] if self.means is not None and iid in self.means.index else None
            components.append(T.AttributionComponent(
                average_returns=T.PeriodReturns(month=None if mean is None else _num(mean["month"]),
                                                day=None if mean is None else _num(mean["day"])),
                instrument=T.AttributionInstrument(
                    name=info.get("name") or row["name"], country=info.get("classification", {}).get("primary_country"),
                    print_name=info.get("print_name") or str(row["symbol"]), symbol=str(row["symbol"]),
                    currency=info.get("currency") or row["currency"],
                    instrument_code=info.get("instrument_code") or str(row["symbol"]), fixed_commission=0,
                    spread_points=0, variable_commission=0, apiid=info.get("apiid") or 0,
                    asset_type=info.get("asset_type") or None, asset_class=info.get("asset_class") or None,
                    mic_code=place.get("mic_code")),
                marginal_contribution_to_risk=T.Contribution(volatility=Measure(
                    value=share, commentary="" if share is None else contribution_sentence(share))),
                weight=float(row["portfolio_weight"]), error_message=None, is_error=False))
        totals = self.totals()
        first = aggregated(next(iter(self.periods.values())))
        total = T.Totals(returns={"total": T.Sides(portfolio=totals["portfolio_return"],
                                                   benchmark=totals["benchmark_return"])},
                         weights={"total": T.Sides(portfolio=_num(first["portfolio_weight"].sum()),
                                                   benchmark=_num(first["benchmark_weight"].sum()))})
        dims = {seed: self._dimension(dim if dim in self.linked else seed) for seed, dim in SEED_DIMENSIONS.items()
                if dim in self.linked or seed in self.linked}
        return T.Attribution(components=components, performance_attribution=T.PerformanceAttribution(
            total=total, **dims))

    def _dimension(self, dim: str) -> T.Dimension | T.InstrumentDimension:
        names = self._segments(dim)
        table = self.effects_table(dim)
        table.index = [names.get(str(k), str(k)) for k in table.index]
        for side in ("portfolio", "benchmark"):  # a segment a side does not hold returns 0 there (line 2069)
            table[f"{side}_return"] = table[f"{side}_return"].where(table[f"{side}_weight"] != 0, 0.0)

        def by_segment(column: str) -> dict[str, float | None]:
            return {k: _num(v) for k, v in table[column].items()} if column in table else {}

        effects = T.Effects(allocation_effect=by_segment("allocation"), interaction_effect=by_segment("interaction"),
                            selection_effect=by_segment("selection"),
                            fx_effect=by_segment("currency") if "currency" in table else None,
                            total_effect=by_segment("total"))
        shares = {}
        for side in ("portfolio", "benchmark"):
            found = self.risk.get(dim)
            values = {} if found is None else {names.get(str(k), str(k)): _num(v) for k, v in
                                                found[f"{side}_percent"].to_series().items()}
            shares[side] = T.RiskShare(marginal_risk_contribution=values)
        risk = T.RiskAttribution(**shares)
        if dim == "instrument":
            figures = T.SideFigures(
                returns={side: by_segment(f"{side}_return") for side in ("portfolio", "benchmark")},
                weights={side: by_segment(f"{side}_weight") for side in ("portfolio", "benchmark")})
            return T.InstrumentDimension(performance_attribution=effects, risk_attribution=risk,
                                         aggregated_weights_returns=figures)
        segments = T.SegmentFigures(
            returns={k: T.Sides(portfolio=_num(r["portfolio_return"]), benchmark=_num(r["benchmark_return"]))
                     for k, r in table.iterrows()},
            weights={k: T.Sides(portfolio=_num(r["portfolio_weight"]), benchmark=_num(r["benchmark_weight"]))
                     for k, r in table.iterrows()})
        return T.Dimension(performance_attribution=effects, risk_attribution=risk, aggregated_weights_returns=segments)

    def totals(self) -> dict[str, float]:
        """Portfolio, benchmark and active return over the range (the linked totals)."""
        first = next(iter(self.linked.values()))
        return {k: float(first[v]) for k, v in (("portfolio_return", "portfolio_total"),
                                                ("benchmark_return", "benchmark_total"), ("active_return", "active"))}

    def effects_table(self, dimension: str) -> pd.DataFrame:
        """The linked effects of ``dimension`` by segment, with the average weights and the
        compounded returns of each segment (fractions)."""
        linked, agg = self.linked[dimension], aggregated(self.periods[dimension])
        names = [n for n in ("allocation", "selection", "interaction", "currency", "forward_premium", "total")
                 if n in linked]
        table = pd.DataFrame({n: linked[n].to_series() for n in names})
        return agg.join(table)

    def to_xarray(self) -> xr.Dataset:
        """The linked effects of every dimension as one Dataset, variables ``{dimension}_{effect}``."""
        return xr.merge([ds.rename({SEGMENT: f"{dim}_segment"}).rename({v: f"{dim}_{v}" for v in ds.data_vars})
                         for dim, ds in self.linked.items()], compat="override")

    def to_dict(self) -> dict:
        """:meth:`answer` in the document's shape."""
        return self.answer().to_dict()

    def summary(self) -> dict:
        """The toolkit's fuller layout: ``components``, ``performance_attribution``, ``risk_attribution``
        and ``aggregated_weights_returns`` per dimension, with the request's echo, the range's
        returns, the linked ``periods`` totals, and ``hierarchy`` / ``currency_attribution``."""
        perf, risk, agg = {}, {}, {}
        for dim in self.linked:
            table = self.effects_table(dim)
            effects = [c for c in table.columns if c not in AGGREGATED]
            perf[dim] = {"segments": _rows(table[effects]), **{e: float(table[e].sum()) for e in effects}}
            agg[dim] = _rows(table[list(AGGREGATED)])
            risk[dim] = [] if dim not in self.risk else _rows(self.risk[dim][[v for v in self.risk[dim].data_vars
                                              if SEGMENT in self.risk[dim][v].dims]].to_dataframe())
        first = next(iter(self.periods.values()))
        periods = [{"period": str(pd.Timestamp(t).date()),
                    "portfolio_return": _num(first["portfolio_total"].sel({TIME: t})),
                    "benchmark_return": _num(first["benchmark_total"].sel({TIME: t})),
                    "active_return": _num(first["active"].sel({TIME: t}))} for t in first[TIME].values]
        out = {**{k: self.request[k] for k in ("portfolio_id", "benchmark", "start_date", "end_date", "horizon",
                                               "model", "variant", "geometric", "linking", "base_currency")},
               "portfolio_name": self.portfolio, "benchmark_name": self.benchmark, **self.totals(),
               "components": self.components.reset_index().to_dict("records"),
               "performance_attribution": perf, "risk_attribution": risk, "aggregated_weights_returns": agg,
               "periods": periods}
        if self.hierarchy is not None:
            keep = [v for v in ("allocation", "selection", "total", "portfolio_weight", "benchmark_weight")
                    if v in self.hierarchy]
            frame = self.hierarchy[keep].to_dataframe()
            out["hierarchy"] = _rows(frame.assign(tier=self.hierarchy["tier"].values,
                                                  parent=self.hierarchy["parent"].values))
        if self.currency is not None:
            names = [n for n in ("allocation", "selection", "interaction", "currency", "forward_premium", "total")
                     if n in self.currency]
            out["currency_attribution"] = {"segments": _rows(self.currency[names].to_dataframe()),
                                           **{n: float(self.currency[n].sum()) for n in names},
                                           "portfolio_return": float(self.currency["portfolio_total"]),
                                           "benchmark_return": float(self.currency["benchmark_total"])}
        return out


#: the aggregated weights and returns of a segment over the range
AGGREGATED = ("portfolio_weight", "benchmark_weight", "portfolio_return", "benchmark_return")


def aggregated(periods: xr.Dataset) -> pd.DataFrame:
    """Average weights and compounded returns of each segment over the periods (a segment's
    return compounds over the periods it is held in; NaN if never held)."""
    out = {}
    for side in ("portfolio", "benchmark"):
        out[f"{side}_weight"] = periods[f"{side}_weight"].mean(TIME).to_series()
        ret = periods[f"{side}_return"]
        out[f"{side}_return"] = ((1 + ret).prod(TIME, skipna=True) - 1).where(ret.notnull().any(TIME)).to_series()
    return pd.DataFrame(out)


def _components(w: xr.DataArray, W: xr.DataArray, r: xr.DataArray) -> pd.DataFrame:
    """Per instrument held by either side: identity, average weights over the periods, the return
    compounded over them and each side's summed contribution ``sum_t w_t r_t``."""
    held = ((w > 0) | (W > 0)).any(TIME)
    names = ("symbol", "name", "asset_class", "geography", "sector", "currency")
    meta = pd.DataFrame({c: r[c].values for c in names}, index=pd.Index(r[INSTRUMENT].values, name="instrument_id"))
    table = meta.assign(portfolio_weight=w.mean(TIME).values, benchmark_weight=W.mean(TIME).values,
                        instrument_return=((1 + r.fillna(0.0)).prod(TIME) - 1).values,
                        portfolio_contribution=(w * r.fillna(0.0)).sum(TIME).values,
                        benchmark_contribution=(W * r.fillna(0.0)).sum(TIME).values)
    return table[held.values]


def _at_end(eod: xr.DataArray, days: pd.DatetimeIndex) -> xr.DataArray:
    full = eod.reindex({TIME: eod.indexes[TIME].union(days)}).ffill(TIME)
    return full.sel({TIME: days[-1]}, drop=True).fillna(0.0)


def _country_name(code: object) -> str:
    """An ISO 3166 alpha-2 country by its common name ("US" -> "United States"); "Cash" stays, else "Other"."""
    if code == "Cash":
        return "Cash"
    found = pycountry.countries.get(alpha_2=code) if isinstance(code, str) and len(code) == 2 else None
    name = (getattr(found, "common_name", None) or getattr(found, "name", None)) if found else None
    return str(name) if name else "Other"


def _num(x: Any) -> float | None:
    value = float(x)
    return None if np.isnan(value) else value


def _rows(frame: pd.DataFrame) -> list[dict]:
    frame = frame.reset_index()
    return [{k: (_num(v) if isinstance(v, (float, np.floating)) else v) for k, v in row.items()}
            for row in frame.to_dict("records")]
