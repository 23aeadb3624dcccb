from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd

from toolkit.errors import NotFoundError, Problem, Problems, ValidationError
from toolkit.market.instruments import check_currency, check_isin
from toolkit.market.universes import universes as shipped_universes
from toolkit.reporting.formatting import json_number, json_records
from toolkit.schema import INSTRUMENT, TIME
from toolkit.store.events import EventRepository
from toolkit.store.portfolios import RiskPortfolioRepository
from toolkit.store.repositories import now
from toolkit.validation import not_future, read_date, read_decimal, read_name
from toolkit.workspace.context import Context
from toolkit.workspace.history import History
from toolkit.workspace.instruments import Instruments

PORTFOLIO_FIELDS = ("name", "capital", "currency", "wishlist", "positions")


POSITION_FIELDS = ("isin", "currency", "quantity", "open_date", "open_level", "close_date", "close_level")


WISHLIST_FIELDS = ("isin", "currency")


#: the universes of :func:`toolkit.market.universes.universes`
UNIVERSES = ("geographies", "sectors", "currencies", "asset_classes")


CENT = Decimal("0.01")


MAX_NAME = 200


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
                "market_value": json_number(self.market_value), "nav": json_number(self.market_value + float(self.cash)),
                "composition": json_records(self.composition),
                "data_load": {"status": "COMPLETE" if loaded == len(self.data_load) else "INCOMPLETE",
                              "loaded": loaded, "total": int(len(self.data_load)),
                              "instruments": json_records(self.data_load)}}

    def to_pandas(self) -> pd.DataFrame:
        return self.composition


class Portfolios:
    """The risk platform's portfolios: upload (verbatim), get, list, status, and the constraint universes."""

    def __init__(self, ctx: Context, *, instruments: Instruments, history: History) -> None:
        self._ctx = ctx
        self._instruments = instruments
        self._history = history
        self._repo = RiskPortfolioRepository(ctx.db)

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
        with self._ctx.transaction():
            if replacing and not self._repo.exists(portfolio_id):
                raise NotFoundError(f"No uploaded portfolio with id {portfolio_id!r} to replace; upload without an id "
                                    "to create one (see portfolios.list()).")
            self._repo.save(portfolio_id, request.name, format(request.capital, "f"), request.currency,
                            json.dumps(payload, default=str), (p.row() for p in request.positions),
                            request.wishlist, stamp)
            EventRepository(self._ctx.db).record("RISK_PORTFOLIO.UPLOADED", portfolio_id,
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
        day = check_as_of(as_of)
        table = self._instruments.table()
        positions = located(portfolio.positions, table)
        loads = _data_load(positions, located(portfolio.wishlist, table))
        if day is None and len(positions):
            day = str(status_dates(positions).iloc[0])
        held = open_on(positions, day)
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
        close = self._history.prices(ids, end=day)["close"]
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


def check_as_of(as_of: object) -> str | None:
    if as_of is None:
        return None
    problems = Problems()
    day = not_future(read_date(as_of, "as_of", problems), "as_of", problems)  # (no status of days to come)
    problems.raise_if_any("status request")
    return day.isoformat()


def located(rows: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
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


def status_dates(positions: pd.DataFrame) -> pd.Series:
    """The default status date of each portfolio (indexed by ``portfolio_id``): the latest date on
    which every instrument of its still-open positions has a close; its last open or close date
    when every position is closed."""
    latest = positions.groupby("portfolio_id")[["open_date", "close_date"]].max().fillna("").max(axis=1)
    still = positions[positions["close_date"].isna() & positions["history_end"].notna()]
    dates = still.groupby("portfolio_id")["history_end"].min().reindex(latest.index)
    return dates.where(dates.notna(), latest).astype(object)


def open_on(positions: pd.DataFrame, day: str | pd.Series | None) -> pd.DataFrame:
    """The positions open on ``day`` (a date, or one per ``portfolio_id``): ``open_date <= day < close_date``."""
    if day is None or positions.empty:
        return positions.iloc[0:0]
    day = positions["portfolio_id"].map(day) if isinstance(day, pd.Series) else day
    still = positions["close_date"].isna() | (positions["close_date"] > day)
    return positions[(positions["open_date"] <= day) & still]
