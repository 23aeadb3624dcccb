"""The risk platform in the façade: uploaded portfolios (``ws.portfolios``) and analytics (``ws.analytics``).

**Portfolios.** The risk platform's portfolio payload, stored verbatim (``ws.portfolios.upload``)::

    {"name": "US quality", "capital": "100000.00", "currency": "USD",
     "wishlist": [{"isin": "US7427181091", "currency": "USD"}, "US1912161007"],
     "positions": [{"isin": "US0378331005", "currency": "USD", "quantity": "100",
                    "open_date": "2019-01-02", "open_level": 39.48,
                    "close_date": "2021-06-30", "close_level": 136.96}, ...]}

``capital`` is money (a decimal string or a number, to the cent); ``quantity`` and the price
``open_level`` / ``close_level`` are positive numbers (kept as decimal text); dates are ISO dates;
``close_date`` and ``close_level`` come together or not at all; a position's ``currency`` (default:
the portfolio's) must be the portfolio's. ISINs need not be in the workspace yet: ``data_load``
of :meth:`Portfolios.status` says which instruments still need their history uploaded. Cash is
``capital - sum(quantity x open_level) + sum(quantity x close_level)`` over the positions opened
(closed) so far, exact; an upload whose positions would ever cost more than the capital is
refused. A position is open on day ``d`` when ``open_date <= d < close_date``.

**Analytics.** Instrument analytics (any instrument of the workspace, or a price curve given
with the request), benchmark analytics (one curve against another) and portfolio analytics
(an uploaded risk-platform portfolio, a brokerage PORTFOLIO account, or ``{instrument: weight}``)
on daily simple returns ``p_t / p_{t-1} - 1`` of the closes (the last close before a gap bridges
it), by the pure functions of :mod:`toolkit.analytics.risk`, :mod:`toolkit.analytics.risk_portfolio`
and :mod:`toolkit.analytics.factors`, whose conventions hold here:

- VaR / CVaR are historical, positive = loss, at levels 0.9 / 0.95 / 0.975 over ``day``,
  ``week`` and ``month`` horizons. **Horizon returns** compound the daily returns within each
  non-overlapping calendar week (ending Friday) or month (ending on the ultimo),
  ``prod(1 + r_t) - 1``; the first and last periods may be partial. VaR interpolates linearly
  between order statistics (as empyrical); CVaR is the Acerbi-Tasche estimator (as riskfolio).
- Volatility: sample standard deviation (ddof = 1) per horizon; annualised by sqrt(252, 52, 12).
- Factor proxies: the market index (``SPX``), the five iShares factor ETFs (MTUM, QUAL, SIZE,
  USMV, VLUE) and one equally weighted portfolio per GICS sector of the S&P 500 constituents
  (the ``sector`` of the 20 stocks in the instruments table; a constituent is part of its own
  sector's proxy). **Exposures** are the betas of single-factor regressions on each proxy
  (each on the dates both have); the **regression** (alpha, R^2, idiosyncratic risk, factor
  summary) and the factor-model expected returns use the ``model`` factors, by default the
  market alone (``("SPX",)``, the single-index model).
- Portfolio weights come from positions as value weights ``q_i P_i / sum_j q_j P_j`` at the last
  close on or before ``as_of`` (cash excluded); the risk of portfolios is measured on the dates on
  which every instrument they hold has a return.

``.to_dict()`` answers in the seed's layout: camelCase keys for the analytics, with the
commentary sentences; the portfolio resource keeps the platform's own field names
(``capital``, ``composition``, ``data_load``, snake_case as in its history status).
"""

from __future__ import annotations

import copy
import json
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from toolkit.analytics import factors as fa
from toolkit.analytics import risk
from toolkit.analytics.returns import simple_returns
from toolkit.analytics.risk_portfolio import (cvar_contributions, diversification_ratio, portfolio_returns,
                                              volatility_contributions)
from toolkit.validation import decimal_or_none, not_future, read_date, read_decimal, read_name, read_period, shown
from toolkit.errors import DataError, NotFoundError, Problem, Problems, ValidationError
from toolkit.market.history import parse_history
from toolkit.market.instruments import check_currency, check_isin
from toolkit.market.universes import universes as shipped_universes
from toolkit.schema import HORIZON, INSTRUMENT, LEVEL, PORTFOLIO, TIME, Timeframe, validate_market
from toolkit.store.events import EventRepository
from toolkit.store.orders import BookRepository
from toolkit.store.portfolios import RiskPortfolioRepository
from toolkit.store.repositories import now

if TYPE_CHECKING:
    from toolkit.workspace import Workspace

PORTFOLIO_FIELDS = ("name", "capital", "currency", "wishlist", "positions")
POSITION_FIELDS = ("isin", "currency", "quantity", "open_date", "open_level", "close_date", "close_level")
WISHLIST_FIELDS = ("isin", "currency")
#: the universes of :func:`toolkit.market.universes.universes`
UNIVERSES = ("geographies", "sectors", "currencies", "asset_classes")
#: the market index and the style factor ETFs used as factor proxies (symbols in the workspace)
MARKET, STYLES = "SPX", ("MTUM", "QUAL", "SIZE", "USMV", "VLUE")
#: the factors of the default regression model: the single-index (market) model
MODEL: tuple[str, ...] = (MARKET,)
#: the source of the sector constituents: the 20 S&P 500 stocks of data/sp500_stocks.csv
CONSTITUENTS_SOURCE = "skfolio"
CENT = Decimal("0.01")
#: the seed's keys of a component's contributions, and the variables they come from
CONTRIBUTION_KEYS = (("marginalVolatility", "volatility_marginal"),
                     ("volatilityContribution", "volatility_contribution"),
                     ("volatilityContributionPercent", "volatility_percent"), ("marginalCvar", "cvar_marginal"),
                     ("cvarContribution", "cvar_contribution"), ("cvarContributionPercent", "cvar_percent"))
MAX_NAME = 200

Curve = Mapping | pd.Series | pd.DataFrame | xr.DataArray
Weights = Mapping[str, Any]
PortfolioSpec = str | Weights | Sequence[str | Weights] | xr.DataArray


# =========================================================================== payload


@dataclass(frozen=True)
class PositionRequest:
    isin: str
    currency: str
    quantity: Decimal
    open_date: date
    open_level: Decimal
    close_date: date | None
    close_level: Decimal | None

    def row(self) -> tuple:
        """The stored row, in :data:`toolkit.store.portfolios.POSITION_COLUMNS` order."""
        return (self.isin, self.currency, format(self.quantity, "f"), self.open_date.isoformat(),
                format(self.open_level, "f"), self.close_date.isoformat() if self.close_date else None,
                format(self.close_level, "f") if self.close_level is not None else None)


@dataclass(frozen=True)
class PortfolioRequest:
    name: str | None
    capital: Decimal
    currency: str
    positions: tuple[PositionRequest, ...]
    wishlist: tuple[tuple[str, str], ...]


def _listed(value: object, path: str, problems: Problems) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        problems.add(path, f"expected a list, got {type(value).__name__}")
        return []
    return value


def _instrument(item: dict, path: str, currency: str | None, problems: Problems) -> tuple[str, str] | None:
    """``(isin, currency)`` of a position or wishlist entry; the currency defaults to the portfolio's."""
    isin = check_isin(item.get("isin"), f"{path}.isin", problems)
    quoted = check_currency(item["currency"], f"{path}.currency", problems) if "currency" in item else currency
    return (isin, quoted) if isin and quoted else None


def _position(item: object, path: str, currency: str | None, problems: Problems) -> PositionRequest | None:
    item = problems.require_fields(item, path, POSITION_FIELDS)
    if item is None:
        return None
    count = len(problems.items)
    where = _instrument(item, path, currency, problems)
    if where and currency and where[1] != currency:
        problems.add(f"{path}.currency", f"{where[1]} is not the portfolio currency {currency}; a portfolio "
                                         "holds positions quoted in its own currency")
    quantity = read_decimal(item.get("quantity"), f"{path}.quantity", problems, "100", numbers=True, positive=True)
    opened = read_date(item.get("open_date"), f"{path}.open_date", problems)
    open_level = read_decimal(item.get("open_level"), f"{path}.open_level", problems, "39.48", numbers=True, positive=True)
    closed = close_level = None
    if item.get("close_date") is not None or item.get("close_level") is not None:
        for key in ("close_date", "close_level"):
            if item.get(key) is None:
                problems.add(f"{path}.{key}", "is required with a close; a closed position has both close_date "
                                              "and close_level")
        if item.get("close_date") is not None:
            closed = read_date(item["close_date"], f"{path}.close_date", problems)
        if item.get("close_level") is not None:
            close_level = read_decimal(item["close_level"], f"{path}.close_level", problems, "136.96", numbers=True, positive=True)
        if closed and opened and closed < opened:
            problems.add(f"{path}.close_date", f"{closed} is before open_date {opened}")
    if where is None or len(problems.items) > count:
        return None
    return PositionRequest(where[0], where[1], quantity, opened, open_level, closed, close_level)


def _check_capital(capital: Decimal, currency: str, positions: Sequence[PositionRequest], problems: Problems) -> None:
    """Refuse positions that would ever cost more than the capital: walk the opens and closes in
    date order (closes first on a day) and name the first opening that overdraws."""
    moves = [(p.open_date, 1, -p.quantity * p.open_level, n) for n, p in enumerate(positions)]
    moves += [(p.close_date, 0, p.quantity * p.close_level, n) for n, p in enumerate(positions) if p.close_date]
    cash = capital
    for day, _, amount, n in sorted(moves, key=lambda m: (m[0], m[1], m[3])):
        cash += amount
        if cash < 0:
            problems.add(f"positions[{n}]", f"opening on {day} costs {-amount:,.2f} {currency}, but only "
                                            f"{cash - amount:,.2f} {currency} of the capital is free then")
            return


def parse_portfolio(payload: object) -> PortfolioRequest:
    """Validate a risk-platform portfolio payload (the module docstring); one
    :class:`ValidationError` names every problem by its field path, e.g. ``positions[1].open_level``."""
    problems = Problems()
    problems.require_object(payload, PORTFOLIO_FIELDS, "portfolio")
    name = payload.get("name")
    if name is not None:
        name = read_name(name, "name", problems, MAX_NAME)
    currency = check_currency(payload.get("currency"), "currency", problems)
    capital = read_decimal(payload.get("capital"), "capital", problems, "100000.00", numbers=True, positive=True)
    if capital is not None and capital != capital.quantize(CENT):
        problems.add("capital", f"{payload['capital']!r} has more than 2 decimals; money is booked to the cent")
    positions = [_position(item, f"positions[{n}]", currency, problems)
                 for n, item in enumerate(_listed(payload.get("positions"), "positions", problems))]
    wishlist = []
    for n, item in enumerate(_listed(payload.get("wishlist"), "wishlist", problems)):
        entry = {"isin": item} if isinstance(item, str) else problems.require_fields(item, f"wishlist[{n}]", WISHLIST_FIELDS)
        found = _instrument(entry, f"wishlist[{n}]", currency, problems) if entry is not None else None
        if found:
            wishlist.append(found)
    if not problems and capital is not None:
        _check_capital(capital, currency, positions, problems)
    problems.raise_if_any("portfolio")
    return PortfolioRequest(name.strip() if name else None, capital.quantize(CENT), currency, tuple(positions),
                            tuple(wishlist))


# =========================================================================== portfolio resources


@dataclass(frozen=True)
class RiskPortfolio:
    """An uploaded portfolio: the payload as sent, and its positions and wishlist as tables."""

    id: str
    name: str | None
    capital: Decimal
    currency: str
    payload: dict
    created_at: str
    updated_at: str
    positions: pd.DataFrame
    wishlist: pd.DataFrame

    def to_dict(self) -> dict:
        """The payload as uploaded, with the portfolio's ``id`` and its timestamps."""
        return {"id": self.id, **copy.deepcopy(self.payload), "created_at": self.created_at,
                "updated_at": self.updated_at}

    def to_pandas(self) -> pd.DataFrame:
        """The positions, one row each."""
        return self.positions.drop(columns="portfolio_id")


@dataclass(frozen=True)
class PortfolioStatus:
    """Capital, cash, composition at ``as_of`` and the data load of one uploaded portfolio."""

    portfolio_id: str
    name: str | None
    currency: str
    capital: Decimal
    cash: Decimal
    as_of: str | None
    composition: pd.DataFrame
    data_load: pd.DataFrame

    @property
    def market_value(self) -> float:
        return float(self.composition["value"].sum(min_count=1)) if len(self.composition) else 0.0

    def to_dict(self) -> dict:
        loaded = int((self.data_load["status"] == "LOADED").sum())
        return {"portfolio_id": self.portfolio_id, "name": self.name, "currency": self.currency,
                "capital": format(self.capital, "f"), "cash": format(self.cash, "f"), "as_of": self.as_of,
                "market_value": _number(self.market_value), "nav": _number(self.market_value + float(self.cash)),
                "composition": _records(self.composition),
                "data_load": {"status": "COMPLETE" if loaded == len(self.data_load) else "INCOMPLETE",
                              "loaded": loaded, "total": int(len(self.data_load)),
                              "instruments": _records(self.data_load)}}

    def to_pandas(self) -> pd.DataFrame:
        return self.composition


class Portfolios:
    """The risk platform's portfolios: upload (verbatim), get, list, status, and the constraint universes."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self._repo = RiskPortfolioRepository(ws.db)

    def upload(self, payload: dict, portfolio_id: str | None = None) -> RiskPortfolio:
        """Store a portfolio payload (the module docstring) as a new portfolio, or as a complete
        replacement of the uploaded portfolio ``portfolio_id``, which must exist (an unknown id is a
        ``NotFoundError``, never a new portfolio under an id of the caller's choosing: a mistyped id
        would otherwise leave the intended portfolio as it was). Validation happens before any
        write and the write is one transaction, so a refused upload leaves the workspace as it
        was. ``RISK_PORTFOLIO.UPLOADED`` is recorded."""
        request = parse_portfolio(payload)
        if portfolio_id is not None and (not isinstance(portfolio_id, str) or not 0 < len(portfolio_id) <= MAX_NAME):
            raise ValidationError([Problem("portfolio_id", f"{portfolio_id!r} is not an id of 1 to {MAX_NAME} "
                                                           "characters")], "portfolio")
        replacing = portfolio_id is not None
        portfolio_id = portfolio_id or str(uuid.uuid4())
        stamp = now(precise=True)
        with self._ws.transaction():
            if replacing and not self._repo.exists(portfolio_id):
                raise NotFoundError(f"No uploaded portfolio with id {portfolio_id!r} to replace; upload without an id "
                                    "to create one (see portfolios.list()).")
            self._repo.save(portfolio_id, request.name, format(request.capital, "f"), request.currency,
                            json.dumps(payload, default=str), (p.row() for p in request.positions),
                            request.wishlist, stamp)
            EventRepository(self._ws.db).record("RISK_PORTFOLIO.UPLOADED", portfolio_id,
                                                {"positions": len(request.positions),
                                                 "wishlist": len(request.wishlist)}, stamp)
        return self.get(portfolio_id)

    def get(self, portfolio_id: str) -> RiskPortfolio:
        found = self._load([portfolio_id]) if isinstance(portfolio_id, str) else []
        if not found:
            raise NotFoundError(f"No uploaded portfolio with id {portfolio_id!r}; see portfolios.list().")
        return found[0]

    def list(self) -> list[RiskPortfolio]:
        """Every uploaded portfolio, oldest first."""
        return self._load(None)

    def exists(self, portfolio_id: str) -> bool:
        return isinstance(portfolio_id, str) and self._repo.exists(portfolio_id)

    def status(self, portfolio_id: str, as_of: str | None = None) -> PortfolioStatus:
        """``capital``, ``cash``, the ``composition`` on ``as_of`` (open positions per instrument with
        quantity, last close on or before ``as_of``, value and value weight) and the ``data_load``
        of every instrument of the positions and the wishlist: ``LOADED`` (daily history over the
        holding periods), ``PARTIAL`` (history starts after an open or ends before a close) or
        ``MISSING`` (no history: upload it with ``ws.history.upload``). By default ``as_of`` is the
        latest date on which every instrument of the open positions has a close."""
        portfolio = self.get(portfolio_id)
        day = _check_as_of(as_of)
        table = self._ws.instruments.table()
        positions = _located(portfolio.positions, table)
        loads = _data_load(positions, _located(portfolio.wishlist, table))
        if day is None and len(positions):
            day = str(_status_dates(positions).iloc[0])
        held = _open_on(positions, day)
        composition = self._composition(held, day)
        cash = portfolio.capital
        if day is not None:
            opened = positions[positions["open_date"] <= day]
            closed = positions[positions["close_date"].notna() & (positions["close_date"] <= day)]
            cash += _amount(closed, "close_level") - _amount(opened, "open_level")
        return PortfolioStatus(portfolio.id, portfolio.name, portfolio.currency, portfolio.capital,
                               cash.quantize(CENT), day, composition, loads)

    def universes(self, kind: str | None = None) -> dict | list:
        """The constraint universes: ``geographies`` (with their ISO countries), ``sectors`` (GICS),
        ``currencies`` (ISO 4217) and ``asset_classes``; one of them with ``kind``."""
        if kind is not None and kind not in UNIVERSES:
            raise ValidationError([Problem("kind", f"{kind!r} is not one of {', '.join(UNIVERSES)}")],
                                  "universe request")
        every = copy.deepcopy(shipped_universes())
        return every if kind is None else every[kind]

    def _composition(self, held: pd.DataFrame, day: str | None) -> pd.DataFrame:
        columns = ["isin", "currency", "instrument_id", "symbol", "quantity", "close", "value", "weight"]
        if held.empty:
            return pd.DataFrame(columns=columns)
        groups = held.groupby(["isin", "currency"], sort=False)
        frame = groups.agg(instrument_id=("instrument_id", "first"), symbol=("symbol", "first")).reset_index()
        frame["quantity"] = [format(sum(map(Decimal, g["quantity"]), Decimal(0)), "f") for _, g in groups]
        closes = self._closes([i for i in frame["instrument_id"] if isinstance(i, str)], day)
        frame["close"] = frame["instrument_id"].map(closes).astype(float)
        frame["value"] = frame["quantity"].astype(float) * frame["close"]
        frame["weight"] = frame["value"] / frame["value"].sum(min_count=1)
        return frame[columns]

    def _closes(self, ids: list[str], day: str | None) -> dict[str, float]:
        if not ids:
            return {}
        close = self._ws.history.prices(ids, end=day)["close"]
        return dict(zip(close[INSTRUMENT].values.tolist(), close.ffill(TIME).isel({TIME: -1}).values.tolist()))

    def _load(self, ids: list[str] | None) -> list[RiskPortfolio]:
        rows = self._repo.portfolios(ids)
        keys = list(rows["id"])
        positions, wishlist = self._repo.positions(keys), self._repo.wishlist(keys)
        return [RiskPortfolio(r.id, r.name, Decimal(r.capital), r.currency, json.loads(r.payload), r.created_at,
                              r.updated_at, positions[positions["portfolio_id"] == r.id].reset_index(drop=True),
                              wishlist[wishlist["portfolio_id"] == r.id].reset_index(drop=True))
                for r in rows.itertuples(index=False)]


def _amount(positions: pd.DataFrame, level: str) -> Decimal:
    """``sum(quantity x level)`` of the positions, exact."""
    return sum((Decimal(q) * Decimal(p) for q, p in zip(positions["quantity"], positions[level])), Decimal(0))


def _check_as_of(as_of: object) -> str | None:
    if as_of is None:
        return None
    problems = Problems()
    day = not_future(read_date(as_of, "as_of", problems), "as_of", problems)  # (no status of days to come)
    problems.raise_if_any("status request")
    return day.isoformat()


def _located(rows: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """``rows`` (with ``isin``, ``currency``) joined to the longest daily series of each pair:
    ``instrument_id``, ``symbol``, ``n_records``, ``history_start``, ``history_end`` (None where
    the workspace has no history for it)."""
    series = (table[table["n_records"] > 0].sort_values("n_records", ascending=False, kind="stable")
              .drop_duplicates(["isin", "currency"]))
    cols = ["isin", "currency", "instrument_id", "symbol", "n_records", "history_start", "history_end"]
    out = rows.merge(series[cols], on=["isin", "currency"], how="left")
    return out.astype({c: object for c in cols[2:]}).where(out.notna(), None)


def _data_load(positions: pd.DataFrame, wishlist: pd.DataFrame) -> pd.DataFrame:
    cols = ["isin", "currency", "instrument_id", "symbol", "n_records", "history_start", "history_end"]
    every = pd.concat([positions, wishlist], ignore_index=True)
    if every.empty:
        return pd.DataFrame(columns=[*cols, "needed_from", "needed_to", "status"])
    keyed = every.groupby(["isin", "currency"], sort=False)
    out = keyed[cols[2:]].first().reset_index()
    held = positions.groupby(["isin", "currency"])
    out = out.merge(held["open_date"].min().rename("needed_from"), on=["isin", "currency"], how="left")
    last_close = held["close_date"].agg(lambda c: None if c.isna().any() else c.max()).rename("needed_to")
    out = out.merge(last_close, on=["isin", "currency"], how="left")
    out = out.astype(object).where(out.notna(), None)
    missing = out["instrument_id"].isna()
    late = out["needed_from"].notna() & (out["history_start"].fillna("9999") > out["needed_from"].fillna(""))
    short = out["needed_to"].notna() & (out["history_end"].fillna("") < out["needed_to"].fillna(""))
    out["status"] = np.where(missing, "MISSING", np.where(late | short, "PARTIAL", "LOADED"))
    out["n_records"] = pd.Series([None if n is None else int(n) for n in out["n_records"]], dtype=object)
    return out


def _status_dates(positions: pd.DataFrame) -> pd.Series:
    """The default status date of each portfolio (indexed by ``portfolio_id``): the latest date on
    which every instrument of its still-open positions has a close; its last open or close date
    when every position is closed."""
    latest = positions.groupby("portfolio_id")[["open_date", "close_date"]].max().fillna("").max(axis=1)
    still = positions[positions["close_date"].isna() & positions["history_end"].notna()]
    dates = still.groupby("portfolio_id")["history_end"].min().reindex(latest.index)
    return dates.where(dates.notna(), latest).astype(object)


def _open_on(positions: pd.DataFrame, day: str | pd.Series | None) -> pd.DataFrame:
    """The positions open on ``day`` (a date, or one per ``portfolio_id``): ``open_date <= day < close_date``."""
    if day is None or positions.empty:
        return positions.iloc[0:0]
    day = positions["portfolio_id"].map(day) if isinstance(day, pd.Series) else day
    still = positions["close_date"].isna() | (positions["close_date"] > day)
    return positions[(positions["open_date"] <= day) & still]


# =========================================================================== analytics results


def _number(x: Any) -> float | None:
    """A JSON number: a float, or None for NaN."""
    x = float(x)
    return None if math.isnan(x) else x


def _plain(value: Any) -> Any:
    if isinstance(value, (np.floating, float)):
        return _number(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return pd.Timestamp(value).date().isoformat()
    return value


def _records(frame: pd.DataFrame) -> list[dict]:
    return [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _camel(name: str) -> str:
    head, *rest = str(name).split("_")
    return head + "".join(part.title() for part in rest)


def _span(returns: xr.DataArray) -> xr.Dataset:
    """First and last date with a return, and the number of returns, of every series."""
    dated = returns[TIME].where(returns.notnull())
    return xr.Dataset({"start": dated.min(TIME, skipna=True), "end": dated.max(TIME, skipna=True),  # (NaT skipped)
                       "observations": returns.count(TIME)})


@dataclass(frozen=True)
class SeriesAnalytics:
    """What instrument and portfolio analytics share: the risk of each series at every level and
    horizon (with commentary), exposures, the model regression and expected returns. ``dim`` is
    the series dimension (``instrument`` or ``portfolio``)."""

    dim: str
    risk: xr.Dataset
    exposures: xr.Dataset | None
    regression: xr.Dataset | None
    expected_returns: xr.DataArray
    span: xr.Dataset

    def labels(self) -> list[str]:
        return [str(v) for v in self.risk[self.dim].values]

    def to_pandas(self) -> pd.DataFrame:
        """The VaR / CVaR table: one row per series, horizon and level, with the commentary."""
        names = ["var", "cvar", "var_commentary", "cvar_commentary"]
        return self.risk[names].to_dataframe(dim_order=[self.dim, HORIZON, LEVEL])[names]

    def to_xarray(self) -> xr.Dataset:
        """Every result as one Dataset: the risk cube, ``exposure`` and ``exposure_r_squared`` over
        ``factor``, the model's ``alpha``, ``alpha_annual``, ``r_squared``, ``idiosyncratic_vol``,
        ``factor_beta`` (over ``factor``, NaN outside the model) and ``expected_return`` over
        ``estimator``."""
        parts = [self.risk, self.expected_returns.rename("expected_return").to_dataset(), self.span]
        if self.exposures is not None:
            parts.append(self.exposures[["beta", "r_squared"]].rename(beta="exposure", r_squared="exposure_r_squared"))
        if self.regression is not None:
            fit = self.regression
            beta = fit["beta"] if self.exposures is None else fit["beta"].reindex(
                {fa.FACTOR: self.exposures[fa.FACTOR].values})  # keeps the proxies' order in the merge
            parts.append(xr.Dataset({"factor_beta": beta, "alpha": fit["alpha"],
                                     "alpha_annual": fit["alpha_annual"], "r_squared": fit["r_squared"],
                                     "idiosyncratic_vol": fit["idiosyncratic_vol"]}).drop_vars(
                [c for c in fit.coords if c not in fit.dims], errors="ignore"))
        return xr.merge(parts, join="outer", compat="override", combine_attrs="drop_conflicts")

    def _body(self, label: str) -> dict:
        one = self.risk.sel({self.dim: label})
        span = self.span.sel({self.dim: label})
        rows = []
        for h in one[HORIZON].values:
            for lv in one[LEVEL].values:
                at = one.sel({HORIZON: h, LEVEL: lv})
                rows.append({"horizon": str(h), "level": float(lv), "valueAtRisk": _number(at["var"]),
                             "conditionalValueAtRisk": _number(at["cvar"]),
                             "varCommentary": str(at["var_commentary"].item()),
                             "cvarCommentary": str(at["cvar_commentary"].item())})
        volatility = [{"horizon": str(h), "volatility": _number(one["volatility"].sel({HORIZON: h})),
                       "annualisedVolatility": _number(one["annual_volatility"].sel({HORIZON: h})),
                       "averageReturn": _number(one["mean"].sel({HORIZON: h})),
                       "observations": int(one["count"].sel({HORIZON: h}))} for h in one[HORIZON].values]
        expected = self.expected_returns.sel({self.dim: label})
        body = {"startDate": _plain(span["start"].values), "endDate": _plain(span["end"].values),
                "observations": int(span["observations"]), "risk": rows, "volatility": volatility,
                "expectedReturns": {_camel(e): _number(expected.sel({fa.ESTIMATOR: e}))
                                    for e in expected[fa.ESTIMATOR].values},
                "exposures": self._exposure_rows(label), "regression": self._regression(label),
                "commentary": [r["varCommentary"] for r in rows if r["varCommentary"]]}
        return body

    def _exposure_rows(self, label: str) -> list[dict]:
        if self.exposures is None:
            return []
        one = self.exposures.sel({self.dim: label})
        return [{"factor": str(f), "kind": str(one["kind"].sel({fa.FACTOR: f}).item()),
                 "beta": _number(one["beta"].sel({fa.FACTOR: f})),
                 "rSquared": _number(one["r_squared"].sel({fa.FACTOR: f})),
                 "observations": int(one["count"].sel({fa.FACTOR: f}))} for f in one[fa.FACTOR].values]

    def _regression(self, label: str) -> dict | None:
        if self.regression is None:
            return None
        fit = self.regression.sel({self.dim: label})
        return {"factors": [str(f) for f in fit[fa.FACTOR].values], "alpha": _number(fit["alpha"]),
                "alphaAnnual": _number(fit["alpha_annual"]), "rSquared": _number(fit["r_squared"]),
                "idiosyncraticRisk": _number(fit["idiosyncratic_vol"]),
                "idiosyncraticShare": _number(fit["idiosyncratic_share"]), "observations": int(fit["count"]),
                "factorSummary": [{"factor": str(f), "beta": _number(fit["beta"].sel({fa.FACTOR: f})),
                                   "varianceShare": _number(fit["variance_share"].sel({fa.FACTOR: f})),
                                   "factorMean": _number(fit["factor_mean"].sel({fa.FACTOR: f})),
                                   "factorVolatility": _number(fit["factor_vol"].sel({fa.FACTOR: f}))}
                                  for f in fit[fa.FACTOR].values]}


@dataclass(frozen=True)
class InstrumentAnalytics(SeriesAnalytics):
    """Analytics of instruments (or price curves) over ``instrument``; see :meth:`Analytics.instrument`."""

    def to_dict(self) -> dict | list[dict]:
        """One instrument's analytics in the seed's layout (a list of them for several): identity,
        sample, ``risk`` (VaR / CVaR per horizon and level with ``varCommentary`` and
        ``cvarCommentary``), ``volatility`` and ``averageReturn`` per horizon, ``exposures``,
        ``regression`` (alpha, R^2, idiosyncratic risk, factor summary), ``expectedReturns``
        and ``commentary``."""
        out = []
        for label in self.labels():
            meta = self.risk.sel({INSTRUMENT: label})
            ident = {"instrument": label, **{_camel(c): _plain(meta[c].item()) if c in meta.coords else None
                                             for c in ("instrument_id", "symbol", "isin", "name", "currency")}}
            out.append(ident | self._body(label))
        return out[0] if len(out) == 1 else out


@dataclass(frozen=True)
class BenchmarkAnalytics:
    """One curve (or several) against a benchmark: ``alpha_annual``, ``beta``, ``r_squared``,
    ``idiosyncratic_vol``, ``cvar`` and ``active_cvar`` (:func:`toolkit.analytics.factors.benchmark_analytics`),
    ``tracking_error`` (annualised std of the active return) and the sample, over ``dim``."""

    dim: str
    benchmark: str
    level: float
    result: xr.Dataset

    def to_xarray(self) -> xr.Dataset:
        return self.result

    def to_pandas(self) -> pd.DataFrame:
        return self.result.drop_vars([c for c in self.result.coords if c not in self.result.dims]).to_dataframe()

    def row(self, label: str) -> dict:
        """The seed's layout for one series: the sample, ``alpha`` (annualised), ``beta``,
        ``rSquared``, ``idiosyncraticRisk``, ``trackingError``, ``cvar``, ``activeCvar``, ``commentary``."""
        one = self.result.sel({self.dim: label})
        sentences = [str(one[k].item()) for k in ("cvar_commentary", "active_commentary")]
        return {self.dim: str(label), "benchmark": self.benchmark, "level": self.level,
                "startDate": _plain(one["start"].values), "endDate": _plain(one["end"].values),
                "observations": int(one["observations"]), "alpha": _number(one["alpha_annual"]),
                "beta": _number(one["beta"]), "rSquared": _number(one["r_squared"]),
                "idiosyncraticRisk": _number(one["idiosyncratic_vol"]),
                "trackingError": _number(one["tracking_error"]), "cvar": _number(one["cvar"]),
                "activeCvar": _number(one["active_cvar"]), "commentary": [s for s in sentences if s]}

    def to_dict(self) -> dict | list[dict]:
        """:meth:`row` of the series (a list of them for several)."""
        out = [self.row(label) for label in self.result[self.dim].values]
        return out[0] if len(out) == 1 else out


@dataclass(frozen=True)
class PortfolioAnalytics(SeriesAnalytics):
    """Analytics of portfolios over ``portfolio``; see :meth:`Analytics.portfolio`. Beyond the
    shared parts: ``weights`` (portfolio, instrument), ``components`` (the risk of each held
    instrument, same cube as ``risk``), ``contributions`` (Euler contributions to annualised
    volatility and to CVaR at ``level`` over ``horizon``), ``diversification`` (ratio, rating)."""

    weights: xr.DataArray
    components: xr.Dataset
    contributions: xr.Dataset
    diversification: xr.Dataset
    level: float
    horizon: str
    sources: dict
    benchmark: BenchmarkAnalytics | None

    def to_xarray(self) -> xr.Dataset:
        """The shared Dataset plus ``weight``, the contributions (``volatility_*``, ``cvar_*``) and
        ``diversification_ratio`` / ``diversification_rating``."""
        extra = xr.Dataset({"weight": self.weights, "diversification_ratio": self.diversification["ratio"],
                            "diversification_rating": self.diversification["rating"]})
        return xr.merge([super().to_xarray(), extra, self.contributions], join="outer", compat="override")

    def contributions_table(self, portfolio: str | None = None) -> pd.DataFrame:
        """Weight, marginal, absolute and percentage contributions to volatility and CVaR of each
        held instrument of ``portfolio`` (the first by default)."""
        label = portfolio if portfolio is not None else self.labels()[0]
        one = self.contributions.sel({PORTFOLIO: label})
        one = one.drop_vars([c for c in one.coords if c not in one.dims])
        frame = one[[k for k in one.data_vars if not k.endswith("_total")]].to_dataframe()
        frame.insert(0, "weight", self.weights.sel({PORTFOLIO: label}).to_series())
        if "symbol" in self.weights.coords:
            frame.insert(0, "symbol", self.weights["symbol"].to_series())
        return frame[frame["weight"] != 0]

    def contribution_chart(self, portfolio: str | None = None):
        """A plotly bar chart of the percentage contributions to volatility and to CVaR."""
        import plotly.graph_objects as go

        table = self.contributions_table(portfolio)
        names = table["symbol"] if "symbol" in table else table.index
        fig = go.Figure([go.Bar(name="volatility", x=names, y=table["volatility_percent"]),
                         go.Bar(name=f"CVaR {self.level * 100:g}%", x=names, y=table["cvar_percent"])])
        label = portfolio if portfolio is not None else self.labels()[0]
        fig.update_layout(barmode="group", title=f"Contributions to risk: {label} ({self.horizon} returns)",
                          yaxis_tickformat=".0%", yaxis_title="share of the total", legend_title="risk measure")
        return fig

    def to_dict(self) -> dict | list[dict]:
        """One portfolio's analytics in the seed's layout (a list for several): ``components``
        with their weights, risk and contributions, the portfolio's ``totalVolatility``
        (annualised) and ``totalCvar`` at ``level`` over ``horizon`` returns, ``diversificationRatio``
        and ``diversificationRating``,
        ``rSquared``, and the parts shared with instrument analytics."""
        out = []
        for label in self.labels():
            body = self._body(label)
            contrib = self.contributions.sel({PORTFOLIO: label})
            parts = self.components.sel({LEVEL: self.level, HORIZON: self.horizon})
            weights = self.weights.sel({PORTFOLIO: label})
            held = [str(i) for i, w in zip(weights[INSTRUMENT].values, weights.values) if w != 0]
            components = [{"instrument": i, "instrumentId": _plain(weights["instrument_id"].sel({INSTRUMENT: i}).item())
                           if "instrument_id" in weights.coords else None,
                           "weight": _number(weights.sel({INSTRUMENT: i})),
                           "volatility": _number(parts["annual_volatility"].sel({INSTRUMENT: i})),
                           "valueAtRisk": _number(parts["var"].sel({INSTRUMENT: i})),
                           "conditionalValueAtRisk": _number(parts["cvar"].sel({INSTRUMENT: i})),
                           **{key: _number(contrib[name].sel({INSTRUMENT: i})) for key, name in CONTRIBUTION_KEYS}}
                          for i in held]
            div = self.diversification.sel({PORTFOLIO: label})
            source = self.sources.get(label, {}) if self.sources else {}
            regression = body["regression"]
            out.append({"portfolioId": label, **source, "level": self.level, "horizon": self.horizon,
                        "totalVolatility": _number(contrib["volatility_total"]),
                        "totalCvar": _number(contrib["cvar_total"]),
                        "diversificationRatio": _number(div["ratio"]),
                        "diversificationRating": str(div["rating"].item()),
                        "rSquared": regression["rSquared"] if regression else None, "components": components,
                        **body,
                        "benchmark": self.benchmark.row(label) if self.benchmark is not None else None})
        return out[0] if len(out) == 1 else out


# =========================================================================== the analytics resource


def _window(start: object, end: object) -> tuple[str | None, str | None]:
    """The analytics' window: optional ISO dates, in order (a window without prices, in the future
    say, is a ``DataError`` of the data read for it)."""
    problems = Problems()
    days = read_period(start, end, problems)
    problems.raise_if_any("analytics request")
    return tuple(d.isoformat() if d else None for d in days)


def _as_list(value: Any) -> list:
    return [value] if isinstance(value, (str, float, int)) else list(value)


def _periods(horizons: Sequence[str]) -> xr.DataArray:
    """sqrt(periods a year) of each horizon, over ``horizon``."""
    return xr.DataArray(np.sqrt([float(risk.PERIODS_PER_YEAR[h]) for h in horizons]), dims=HORIZON,
                        coords={HORIZON: list(horizons)})


def risk_cube(returns: xr.DataArray, levels: Sequence[float], horizons: Sequence[str], subject: str) -> xr.Dataset:
    """:func:`toolkit.analytics.risk.risk_summary` over ``level`` and ``horizon`` with
    ``annual_volatility`` and the seed's sentences ``var_commentary`` / ``cvar_commentary``."""
    out = risk.risk_summary(returns, list(levels), list(horizons))
    out["annual_volatility"] = out["volatility"] * _periods(list(horizons))
    out["var_commentary"] = risk.var_commentary(out["var"], subject)
    out["cvar_commentary"] = risk.cvar_commentary(out["cvar"], subject)
    return out


def exposures(returns: xr.DataArray, factors: xr.DataArray, dim: str) -> xr.Dataset:
    """Single-factor betas of every series (over ``dim``) on each factor: ``beta``, ``r_squared`` and
    ``count`` over ``(dim, factor)``, each fit on the dates the series and that factor both have
    (:func:`toolkit.analytics.factors.regress` with one factor); NaN where they share fewer than 3."""
    joint = (returns.notnull() & factors.notnull()).sum(TIME).compute()
    fits = []
    for name in factors[fa.FACTOR].values:  # a dozen proxies, each fit vectorised over every series
        ok = (joint.sel({fa.FACTOR: name}) >= 3).values
        empty = xr.full_like(joint.sel({fa.FACTOR: [name]}), np.nan, dtype=float)
        if not ok.any():
            fits.append(xr.Dataset({"beta": empty, "r_squared": empty, "count": empty.fillna(0)}))
            continue
        fit = fa.regress(returns.isel({dim: ok}), factors, names=[name])[["beta", "r_squared", "count"]]
        fits.append(fit.reindex({dim: returns[dim].values}).assign(count=lambda d: d["count"].fillna(0)))
    out = xr.concat(fits, dim=fa.FACTOR, data_vars="all", coords="minimal", compat="override")
    out["count"] = out["count"].astype(int)
    return out.transpose(dim, fa.FACTOR).assign_coords({"kind": factors["kind"]} if "kind" in factors.coords else {})


class Analytics:
    """Instrument, benchmark and portfolio analytics of the workspace's data (the module docstring).

    ``ws.analytics.instrument(["AAPL", "XOM"])``, ``ws.analytics.benchmark("AAPL", "SPX")`` and
    ``ws.analytics.portfolio({"AAPL": 0.6, "KO": 0.4})`` return typed results with ``to_dict()``
    (the seed's layout), ``to_xarray()`` and ``to_pandas()``. ``returns()`` and ``factors()`` give
    the arrays they work on, for the pure functions of :mod:`toolkit.analytics`.
    """

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self._factor_cache: tuple[tuple, xr.DataArray] | None = None

    # ------------------------------------------------------------------ data

    def returns(self, instruments: str | Sequence[str], *, start: str | None = None,
                end: str | None = None) -> xr.DataArray:
        """Daily simple returns over ``(instrument, time)`` of instruments of the workspace (ids,
        ISINs or symbols), labelled by symbol (by id where a symbol names two of them), with
        ``instrument_id``, ``symbol``, ``isin``, ``name``, ``currency`` and ``sector`` coordinates."""
        start, end = _window(start, end)
        return self._returns(self._ids(_as_list(instruments)), start, end)

    def factors(self, *, start: str | None = None, end: str | None = None) -> xr.DataArray:
        """The factor proxies over ``(factor, time)``: the market index, the five factor ETFs and
        the sector portfolios of the constituents, with a ``kind`` coordinate (``market``,
        ``style``, ``sector``). Proxies the workspace has no history for are left out. Read
        once, again after a history upload."""
        start, end = _window(start, end)
        key = self._ws.db.conn.execute("SELECT count(*), max(id) FROM history_uploads").fetchone()
        if self._factor_cache is None or self._factor_cache[0] != key:
            self._factor_cache = (key, self._read_factors())
        return self._factor_cache[1].sel({TIME: slice(start, end)})

    def _read_factors(self) -> xr.DataArray:
        table = self._ws.instruments.table()
        table = table[table["n_records"] > 0]
        styles = [s for s in (MARKET, *STYLES) if (table["symbol"] == s).any()]
        members = table[(table["source"] == CONSTITUENTS_SOURCE) & (table["instrument_type"] == "Stock")
                        & table["sector"].notna()].drop_duplicates("instrument_id")
        ids = self._ids(styles) + list(members["instrument_id"])
        if not ids:
            raise DataError("This workspace has no factor proxies (the market index SPX, the factor ETFs, or sector "
                            "constituents); load their history, or ask for the analytics without factors.")
        returns = simple_returns(self._ws.history.prices(ids)["close"])
        parts, kinds = [], []
        if styles:
            parts.append(returns.isel({INSTRUMENT: slice(0, len(styles))}).assign_coords({INSTRUMENT: styles}))
            kinds += ["market" if s == MARKET else "style" for s in styles]
        if len(members):
            sectors = fa.sector_factors(returns.isel({INSTRUMENT: slice(len(styles), None)}))
            parts.append(sectors)
            kinds += ["sector"] * sectors.sizes[fa.FACTOR]
        return fa.factor_proxies(*parts).assign_coords(kind=(fa.FACTOR, kinds))

    def _ids(self, keys: list[str]) -> list[str]:
        """Instrument ids of ``keys`` (ids, ISINs, symbols), each series once, in request order;
        unknown keys raise :class:`NotFoundError` naming them."""
        if any(not isinstance(k, str) for k in keys):
            raise ValidationError([Problem("instruments", "name instruments by id, ISIN or symbol (text)")],
                                  "analytics request")
        return list(dict.fromkeys(self._each_id(keys)))

    def _returns(self, ids: list[str], start: str | None, end: str | None) -> xr.DataArray:
        close = self._ws.history.prices(ids, start=start, end=end)["close"]
        if close.sizes[TIME] == 0:
            raise DataError(f"No prices between {start or 'the first date'} and {end or 'the last date'} for "
                            f"{', '.join(map(str, close['symbol'].values))}; widen the window or load their history.")
        symbols = [str(s) for s in close["symbol"].values]
        labels = [s if symbols.count(s) == 1 else i for s, i in zip(symbols, ids)]
        coords = {c: (INSTRUMENT, close[c].values) for c in ("symbol", "isin", "name", "currency", "sector")}
        close = close.drop_vars([c for c in close.coords if c not in close.dims])
        out = simple_returns(close).assign_coords({INSTRUMENT: labels, "instrument_id": (INSTRUMENT, ids), **coords})
        return out.rename("returns")

    def _curves(self, curve: Curve | Sequence[Curve], start: str | None, end: str | None) -> xr.DataArray:
        """Daily returns of price curves given with the request (the history upload payload, a
        pandas Series or DataFrame of closes, or a DataArray over ``time`` / ``(instrument, time)``)."""
        many = isinstance(curve, (list, tuple))
        parts = [self._curve(c, f"curve[{n}]" if many else "curve") for n, c in enumerate(curve if many else [curve])]
        prices = xr.concat(parts, dim=INSTRUMENT, join="outer") if len(parts) > 1 else parts[0]
        labels = [str(x) for x in prices[INSTRUMENT].values]
        twice = sorted({x for x in labels if labels.count(x) > 1})
        if twice:
            raise ValidationError([Problem("curve", f"{', '.join(twice)} is given twice; name each curve once")],
                                  "price curve")
        validate_market(prices.to_dataset(name="close"))
        return simple_returns(prices).sel({TIME: slice(start, end)}).rename("returns")

    @staticmethod
    def _curve(curve: Curve, path: str) -> xr.DataArray:
        meta = {"instrument_id": None, "isin": None, "currency": None, "sector": None}
        if isinstance(curve, Mapping):
            try:
                upload = parse_history(dict(curve))
            except ValidationError as exc:
                raise ValidationError([Problem(f"{path}.{p.path}" if p.path else path, p.message)
                                       for p in exc.problems], "price curve") from None
            if upload.timeframe != Timeframe.DAY:
                raise ValidationError([Problem(f"{path}.timeframe", "analytics need daily closes (timeframe 1)")],
                                      "price curve")
            label = upload.symbol or upload.name or upload.isin
            series = upload.frame["close"].rename(label)
            series.index = series.index.normalize()
            meta |= {"isin": upload.isin, "currency": upload.currency, "name": upload.name or label}
            curve = series
        if isinstance(curve, pd.Series):
            curve = curve.to_frame(curve.name if curve.name is not None else "curve")
        if isinstance(curve, pd.DataFrame):
            if not isinstance(curve.index, pd.DatetimeIndex):
                raise DataError(f"{path} needs dates as its index; it has {type(curve.index).__name__}.")
            curve = xr.DataArray(curve.to_numpy(dtype=float).T, dims=(INSTRUMENT, TIME),
                                 coords={INSTRUMENT: [str(c) for c in curve.columns], TIME: curve.index.to_numpy()})
        if not isinstance(curve, xr.DataArray) or TIME not in curve.dims or not set(curve.dims) <= {TIME, INSTRUMENT}:
            raise ValidationError([Problem(path, "expected a history upload payload, a pandas Series or DataFrame of "
                                                 "closes, or a DataArray over time or (instrument, time)")],
                                  "price curve")
        if INSTRUMENT not in curve.dims:
            curve = curve.expand_dims({INSTRUMENT: [str(curve.name) if curve.name is not None else "curve"]})
        labels = [str(x) for x in curve[INSTRUMENT].values]
        extra = {k: (INSTRUMENT, np.array([v] * len(labels), dtype=object)) for k, v in meta.items()
                 if k != "name"}
        names = np.array([meta.get("name") or x for x in labels], dtype=object)
        curve = curve.drop_vars([c for c in curve.coords if c not in curve.dims])
        return curve.assign_coords({INSTRUMENT: labels, "symbol": (INSTRUMENT, np.array(labels, dtype=object)),
                                    "name": (INSTRUMENT, names), **extra}).astype(float).transpose(INSTRUMENT, TIME)

    def _series(self, instruments: str | Sequence[str] | None, curve: Curve | Sequence[Curve] | None,
                start: str | None, end: str | None) -> xr.DataArray:
        start, end = _window(start, end)
        if instruments is None and curve is None:
            raise ValidationError([Problem("instruments", "name at least one instrument, or give a price curve")],
                                  "analytics request")
        parts = []
        if instruments is not None:
            parts.append(self._returns(self._ids(_as_list(instruments)), start, end))
        if curve is not None:
            parts.append(self._curves(curve, start, end))
        if len(parts) == 1:
            return parts[0]
        both = [str(x) for x in parts[0][INSTRUMENT].values if x in set(parts[1][INSTRUMENT].values)]
        if both:
            raise ValidationError([Problem("curve", f"{', '.join(both)} also names an instrument of the request; "
                                                    "give the curve another name")], "analytics request")
        return xr.concat(parts, dim=INSTRUMENT, join="outer", coords="different", compat="equals")

    # ------------------------------------------------------------------ shared parts

    def _shared(self, returns: xr.DataArray, dim: str, subject: str, levels: Sequence[float],
                horizons: Sequence[str], model: Sequence[str] | str, halflife: float, with_factors: bool,
                window: tuple[str | None, str | None]) -> dict:
        """risk, exposures, regression, expected returns and span of every series of ``returns``."""
        risk.require_data(returns)
        parts = {"dim": dim, "risk": risk_cube(returns, levels, horizons, subject), "span": _span(returns)}
        if not with_factors:
            expected = fa.expected_returns(returns, estimators=fa.ESTIMATORS[:2], halflife=halflife)
            return parts | {"exposures": None, "regression": None, "expected_returns": expected.transpose(dim, ...)}
        factors = self.factors(start=window[0], end=window[1])
        model = _as_list(model)
        expected = fa.expected_returns(returns, factors, names=model, halflife=halflife)
        return parts | {"exposures": exposures(returns, factors, dim),
                        "regression": fa.factor_summary(returns, factors, names=model),
                        "expected_returns": expected.transpose(dim, ...)}

    def _benchmark(self, returns: xr.DataArray, benchmark: str | Curve, dim: str, subject: str, level: float,
                   window: tuple[str | None, str | None]) -> BenchmarkAnalytics:
        if isinstance(benchmark, str):
            try:
                ids = self._ids([benchmark])
            except NotFoundError:
                raise NotFoundError(f"Unknown benchmark {benchmark!r}; name an instrument of the workspace by id, "
                                    "ISIN or symbol (e.g. 'SPX'), or pass its price curve.") from None
            bench = self._returns(ids, *window)
        else:
            bench = self._curves(benchmark, *window)
        if bench.sizes[INSTRUMENT] != 1:
            raise ValidationError([Problem("benchmark", "give one benchmark curve")], "benchmark request")
        label = str(bench[INSTRUMENT].values[0])
        x = bench.isel({INSTRUMENT: 0}, drop=True).rename(label)
        risk.tails(level)
        out = fa.benchmark_analytics(returns, x, level=float(level))
        y, x = xr.align(returns, x, join="inner", exclude={d for d in returns.dims if d != TIME})
        both = y.where(x.notnull())
        active = both - x
        tail = out["cvar"].assign_coords({HORIZON: "day"})
        out = out.assign(tracking_error=active.std(TIME, ddof=1) * math.sqrt(risk.PERIODS_PER_YEAR["day"]),
                         cvar_commentary=risk.cvar_commentary(tail, subject),
                         active_commentary=risk.cvar_commentary(out["active_cvar"].assign_coords({HORIZON: "day"}),
                                                                f"{subject} relative to {label}"))
        return BenchmarkAnalytics(dim, label, float(level), xr.merge([out, _span(both)], compat="override"))

    # ------------------------------------------------------------------ the three requests

    def instrument(self, instruments: str | Sequence[str] | None = None, *,
                   curve: Curve | Sequence[Curve] | None = None, start: str | None = None, end: str | None = None,
                   levels: Sequence[float] = risk.LEVELS, horizons: Sequence[str] = risk.HORIZON_NAMES,
                   model: Sequence[str] | str = MODEL, halflife: float = fa.HALFLIFE,
                   with_factors: bool = True) -> InstrumentAnalytics:
        """Analytics of instruments of the workspace and/or price curves, all in one vectorised call:
        historical VaR / CVaR at ``levels`` over ``horizons`` with commentary, volatility and
        average return per horizon, exposures to every factor proxy, the ``model`` regression
        (alpha, R^2, idiosyncratic risk) and expected returns by the four estimators (half-life
        ``halflife`` days). ``with_factors=False`` skips the factor parts (for a curve outside the
        proxies' dates). Too little history for a horizon, an instrument without data in the
        window, or an unknown instrument raise a :class:`toolkit.errors.ToolkitError` naming it."""
        window = _window(start, end)
        returns = self._series(instruments, curve, *window)
        parts = self._shared(returns, INSTRUMENT, "instrument", _as_list(levels), _as_list(horizons), model,
                             halflife, with_factors, window)
        return InstrumentAnalytics(**parts)

    def benchmark(self, instruments: str | Sequence[str] | None = None, benchmark: str | Curve = MARKET, *,
                  curve: Curve | Sequence[Curve] | None = None, start: str | None = None, end: str | None = None,
                  level: float = 0.95) -> BenchmarkAnalytics:
        """One curve (instruments and/or price curves) against a ``benchmark`` (an instrument of the
        workspace, by default the market index, or a price curve), on the dates both have: annualised
        alpha, beta, R^2, idiosyncratic risk and tracking error, CVaR and active CVaR at ``level``
        (daily returns). An unknown benchmark raises :class:`toolkit.errors.NotFoundError`."""
        window = _window(start, end)
        returns = self._series(instruments, curve, *window)
        return self._benchmark(returns, benchmark, INSTRUMENT, "instrument", level, window)

    def portfolio(self, portfolio: PortfolioSpec, *, as_of: str | None = None, start: str | None = None,
                  end: str | None = None, level: float = 0.95, horizon: str = "day",
                  levels: Sequence[float] = risk.LEVELS, horizons: Sequence[str] = risk.HORIZON_NAMES,
                  model: Sequence[str] | str = MODEL, halflife: float = fa.HALFLIFE,
                  benchmark: str | Curve | None = None, with_factors: bool = True) -> PortfolioAnalytics:
        """Analytics of one or many portfolios in one vectorised call, from positions to weights
        (:meth:`weights`): the risk of each portfolio's returns (as :meth:`instrument`, subject
        "portfolio"), per-component risk, Euler contributions to annualised volatility and to CVaR
        at ``level`` over ``horizon`` returns (marginal, absolute, percent: they add up to the
        total), the diversification ratio with its rating, R^2, exposures, factor summary,
        expected returns, and with ``benchmark`` the benchmark analytics. Measured on the dates on
        which every held instrument has a return, within ``start`` .. ``end``."""
        window = _window(start, end)
        problems = Problems()
        if horizon not in risk.PERIODS_PER_YEAR:
            problems.add("horizon", f"{horizon!r} is not one of {', '.join(risk.PERIODS_PER_YEAR)}")
        problems.raise_if_any("portfolio analytics request")
        risk.tails(level)
        weights, sources = self._weights(portfolio, as_of)
        returns = self._returns(list(weights["instrument_id"].values), *window)
        risk.require_data(returns)
        weights = weights.assign_coords({INSTRUMENT: returns[INSTRUMENT].values})
        common = returns.dropna(TIME, how="any")
        if common.sizes[TIME] == 0:
            raise DataError("The instruments of these portfolios have no date with a return for every one of them "
                            "in the window; widen the window or hold instruments with overlapping histories.")
        levels = sorted({*map(float, _as_list(levels)), float(level)})
        horizons = list(dict.fromkeys([*_as_list(horizons), horizon]))
        series = portfolio_returns(common, weights)
        parts = self._shared(series, PORTFOLIO, "portfolio", levels, horizons, model, halflife, with_factors, window)
        vol = volatility_contributions(common, weights, horizon=horizon, annualise=True,
                                       periods_per_year=risk.PERIODS_PER_YEAR[horizon])
        tail = cvar_contributions(common, weights, float(level), horizon=horizon)
        contributions = xr.merge([vol.rename({k: f"volatility_{k}" for k in vol.data_vars}),
                                  tail.rename({k: f"cvar_{k}" for k in tail.data_vars}).drop_vars(LEVEL)])
        held = (weights != 0).any(PORTFOLIO)
        return PortfolioAnalytics(
            **parts, weights=weights, components=risk_cube(common.isel({INSTRUMENT: held.values}), levels, horizons,
                                                           "instrument"),
            contributions=contributions, diversification=diversification_ratio(common, weights, horizon=horizon),
            level=float(level), horizon=horizon, sources=sources,
            benchmark=None if benchmark is None else self._benchmark(series, benchmark, PORTFOLIO, "portfolio",
                                                                     level, window))

    # ------------------------------------------------------------------ from positions to weights

    def weights(self, portfolio: PortfolioSpec, *, as_of: str | None = None) -> xr.DataArray:
        """Weights over ``(portfolio, instrument)`` of uploaded risk-platform portfolios (value weights
        of the positions open on ``as_of``, by default each portfolio's status date), PORTFOLIO
        accounts (value weights of their current holdings at the last close on or before ``as_of``),
        ``{instrument: weight}`` mappings (named by a mapping of them) or a weight DataArray over
        ``instrument`` (and ``portfolio``). Instruments are labelled as in :meth:`returns`."""
        return self._weights(portfolio, as_of)[0]

    def _weights(self, portfolio: PortfolioSpec, as_of: str | None) -> tuple[xr.DataArray, dict]:
        day = _check_as_of(as_of)
        if isinstance(portfolio, xr.DataArray):
            return self._labelled(self._given_array(portfolio)), {}
        specs = self._specs(portfolio)
        problems = Problems()
        labels = [label for label, _ in specs]
        for label in sorted({x for x in labels if labels.count(x) > 1}):
            problems.add("portfolio", f"{label} is given twice")
        problems.raise_if_any("portfolio analytics request")
        rows, sources = [], {}
        named = [(label, spec) for label, spec in specs if isinstance(spec, str)]
        uploaded = set(RiskPortfolioRepository(self._ws.db).portfolios([label for label, _ in named])["id"])
        risk_ids = [label for label, _ in named if label in uploaded]
        accounts = self._accounts([label for label, _ in named if label not in risk_ids])
        if risk_ids:
            rows.append(self._risk_positions(risk_ids, day, sources))
        if accounts:
            rows.append(self._account_positions(accounts, day, sources))
        long = self._valued(pd.concat(rows, ignore_index=True), sources) if rows else None
        mapped = [(label, spec) for label, spec in specs if not isinstance(spec, str)]
        if mapped:
            given = self._given_mappings(mapped)
            sources |= {label: {"source": "WEIGHTS"} for label, _ in mapped}
            long = given if long is None else pd.concat([long, given], ignore_index=True)
        table = long.pivot_table(index="portfolio", columns="instrument_id", values="weight", aggfunc="sum",
                                 fill_value=0.0).reindex(labels)
        array = xr.DataArray(table.to_numpy(dtype=float), dims=(PORTFOLIO, INSTRUMENT),
                             coords={PORTFOLIO: labels, INSTRUMENT: list(table.columns)})
        return self._labelled(array), sources

    def _specs(self, portfolio: PortfolioSpec) -> list[tuple[str, str | Weights]]:
        if isinstance(portfolio, str):
            return [(portfolio, portfolio)]
        if isinstance(portfolio, Mapping):
            if portfolio and all(isinstance(v, Mapping) for v in portfolio.values()):
                return [(str(k), v) for k, v in portfolio.items()]
            return [("weights", portfolio)]
        if isinstance(portfolio, (list, tuple)) and portfolio:
            return [(item, item) if isinstance(item, str) else (f"weights[{n}]", item)
                    for n, item in enumerate(portfolio)]
        raise ValidationError([Problem("portfolio", "expected an uploaded portfolio id, a PORTFOLIO account id, an "
                                                    "{instrument: weight} mapping, a list of these, or a weight "
                                                    "DataArray")], "portfolio analytics request")

    def _accounts(self, ids: list[str]) -> list[str]:
        if not ids:
            return []
        marks = ", ".join("?" * len(ids))
        found = {r[0] for r in self._ws.db.conn.execute(
            f"SELECT id FROM accounts WHERE type = 'PORTFOLIO' AND id IN ({marks})", ids)}
        unknown = [i for i in ids if i not in found]
        if unknown:
            raise NotFoundError(f"No uploaded portfolio or PORTFOLIO account with id {', '.join(map(repr, unknown))}; "
                                "see ws.portfolios.list() and ws.accounts.list(type='PORTFOLIO').")
        return ids

    def _risk_positions(self, ids: list[str], day: str | None, sources: dict) -> pd.DataFrame:
        """Quantities of the positions open on ``day`` (each portfolio's default date when None)."""
        repo = RiskPortfolioRepository(self._ws.db)
        positions = _located(repo.positions(ids), self._ws.instruments.table())
        missing = positions[positions["instrument_id"].isna()]
        if len(missing):
            first = missing.iloc[0]
            where = ", ".join(f"{r.isin} {r.currency} (positions[{r.position}])" for r in missing.itertuples())
            raise DataError(f"Portfolio {first['portfolio_id']} holds instruments without data: {where}; upload "
                            "their history with ws.history.upload().")
        names = repo.portfolios(ids).set_index("id")["name"]
        empty = [i for i in ids if i not in set(positions["portfolio_id"])]
        if empty:
            raise DataError(f"Portfolio {empty[0]} has no positions; upload positions to analyse it.")
        when = (pd.Series(day, index=pd.Index(ids, name="portfolio_id"), dtype=object) if day
                else _status_dates(positions))
        held = _open_on(positions, when)
        idle = [i for i in ids if i not in set(held["portfolio_id"])]
        if idle:
            raise DataError(f"Portfolio {idle[0]} holds no open position on {when[idle[0]]}; choose an as_of within "
                            "its holding periods.")
        sources |= {i: {"source": "RISK_PLATFORM", "name": names.get(i), "asOf": when[i]} for i in ids}
        return pd.DataFrame({"portfolio": held["portfolio_id"], "instrument_id": held["instrument_id"],
                             "quantity": held["quantity"].astype(float), "as_of": held["portfolio_id"].map(when)})

    def _account_positions(self, ids: list[str], day: str | None, sources: dict) -> pd.DataFrame:
        """Current quantities of the accounts (the sum of their fills), valued on ``day``."""
        held = BookRepository(self._ws.db).positions(ids)
        held["quantity"] = held["units"] / 1e10
        empty = [i for i in ids if i not in set(held["account_id"])]
        if empty:
            raise DataError(f"Account {empty[0]} holds no instruments yet; place an order before analysing it.")
        names = dict(self._ws.db.conn.execute(
            f"SELECT id, name FROM accounts WHERE id IN ({', '.join('?' * len(ids))})", ids).fetchall())
        sources |= {i: {"source": "ACCOUNT", "name": names.get(i), "asOf": day} for i in ids}
        return pd.DataFrame({"portfolio": held["account_id"], "instrument_id": held["instrument_id"],
                             "quantity": held["quantity"], "as_of": day})

    def _valued(self, rows: pd.DataFrame, sources: dict) -> pd.DataFrame:
        """Value weights ``q P / sum q P`` per portfolio, ``P`` the last close on or before its ``as_of``
        (by default the last close of the workspace, then noted as the portfolio's ``asOf``)."""
        ids = sorted(set(rows["instrument_id"]))
        close = self._ws.history.prices(ids)["close"].to_series().dropna().rename("close").reset_index()
        close = close.rename(columns={INSTRUMENT: "instrument_id"}).sort_values(TIME)
        close["instrument_id"] = close["instrument_id"].astype(object)
        last = close[TIME].max()
        rows = rows.assign(instrument_id=rows["instrument_id"].astype(object),
                           when=pd.to_datetime(rows["as_of"].fillna(last.date().isoformat()))).sort_values("when")
        rows["when"] = rows["when"].astype(close[TIME].dtype)
        priced = pd.merge_asof(rows, close, left_on="when", right_on=TIME, by="instrument_id", direction="backward")
        unpriced = priced[priced["close"].isna()]
        if len(unpriced):
            raise DataError(f"Instrument {unpriced.iloc[0]['instrument_id']} has no close on or before "
                            f"{unpriced.iloc[0]['when'].date()} to value portfolio {unpriced.iloc[0]['portfolio']}; "
                            "choose a later as_of.")
        for label in set(priced.loc[priced["as_of"].isna(), "portfolio"]):
            sources[label]["asOf"] = last.date().isoformat()
        priced["value"] = priced["quantity"] * priced["close"]
        priced["weight"] = priced["value"] / priced.groupby("portfolio")["value"].transform("sum")
        return priced[["portfolio", "instrument_id", "weight"]]

    def _given_mappings(self, mapped: list[tuple[str, Weights]]) -> pd.DataFrame:
        problems, rows = Problems(), []
        for label, spec in mapped:
            if not isinstance(spec, Mapping) or not spec:
                problems.add(f"weights[{label}]", "expected a non-empty {instrument: weight} mapping")
                continue
            for key, value in spec.items():  # a number, or a decimal string as toolkit.validation reads it
                number = decimal_or_none(value.item() if isinstance(value, np.generic) else value, numbers=True)
                if number is None:
                    problems.add(f"weights[{label}][{key}]", f"{shown(value)} is not a weight such as 0.25 or \"0.25\"")
                rows.append((label, key, None if number is None else float(number)))
        problems.raise_if_any("portfolio analytics request")
        keys = list(dict.fromkeys(str(k) for _, k, _ in rows))
        lookup = dict(zip(keys, self._each_id(keys)))
        return pd.DataFrame([(label, lookup[str(k)], w) for label, k, w in rows],
                            columns=["portfolio", "instrument_id", "weight"])

    def _each_id(self, keys: list[str]) -> list[str]:
        """The id of each key, duplicates allowed (``AAPL`` and its ISIN name one series)."""
        ids = self._ws.instruments.resolve(keys)
        return ids if len(ids) == len(keys) else [self._ws.instruments.resolve([k])[0] for k in keys]

    def _given_array(self, weights: xr.DataArray) -> xr.DataArray:
        if INSTRUMENT not in weights.dims:
            raise ValidationError([Problem("weights", f"needs an {INSTRUMENT!r} dimension; it has "
                                                      f"{list(weights.dims)}")], "portfolio analytics request")
        if PORTFOLIO not in weights.dims:
            weights = weights.expand_dims({PORTFOLIO: ["weights"]})
        keys = [str(k) for k in weights[INSTRUMENT].values]
        ids = self._each_id(keys)
        weights = weights.drop_vars([c for c in weights.coords if c not in weights.dims])
        return weights.assign_coords({INSTRUMENT: ids}).groupby(INSTRUMENT).sum() if len(set(ids)) < len(ids) else \
            weights.assign_coords({INSTRUMENT: ids})

    def _labelled(self, weights: xr.DataArray) -> xr.DataArray:
        """Weights over instrument ids relabelled as :meth:`returns` labels them, with coordinates."""
        ids = [str(i) for i in weights[INSTRUMENT].values]
        table = self._ws.instruments.table().drop_duplicates("instrument_id").set_index("instrument_id")
        symbols = [str(table.at[i, "symbol"]) for i in ids]
        labels = [s if symbols.count(s) == 1 else i for s, i in zip(symbols, ids)]
        return weights.assign_coords({INSTRUMENT: labels, "instrument_id": (INSTRUMENT, ids),
                                      "symbol": (INSTRUMENT, np.array(symbols, dtype=object))}).rename("weights")
