"""The risk platform's portfolios (``ws.portfolios``): PUT /portfolio (:meth:`Portfolios.upload`),
GET /portfolio (:meth:`~Portfolios.list`, :meth:`~Portfolios.get`), DELETE /portfolio
(:meth:`~Portfolios.delete`) and the constraint universes (GET /constraints/*:
:meth:`~Portfolios.universes`), in the contracts of :mod:`toolkit.contracts.risk.portfolio`
(``risk-platform-api.txt`` lines 199-650).

A portfolio is keyed by its ``client_reference`` ("client side unique identifier for the portfolio",
line 209): PUT creates it or replaces it whole. Its positions and wishlist name instruments by
``instrument_code`` and ``apiid``; they need not have history in the workspace yet: ``data_load``
(``"100%"``) is the share of its instruments whose daily history covers their holding periods, and
``instruments`` says, one by one, which are ``LOADED``, ``PARTIAL`` or ``MISSING``.
"""

from __future__ import annotations

import builtins
import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

import numpy as np
import pandas as pd

from toolkit.contracts.base import payload_of, read
from toolkit.contracts.risk.common import InstrumentRef, rfc3339
from toolkit.contracts.risk.portfolio import (
    CapitalStatus,
    Deleted,
    InstrumentLoad,
    PortfolioDeletion,
    PortfolioReference,
    PortfolioStatus,
    PortfolioUpload,
    PositionStatus,
    UniverseItem,
    Wish,
)
from toolkit.errors import NotFoundError, Problem, Problems, ValidationError
from toolkit.market import providers
from toolkit.market.instruments import current_first, with_codes
from toolkit.market.universes import universe_items
from toolkit.schema import INSTRUMENT, TIME
from toolkit.store.events import EventRepository
from toolkit.store.portfolios import RiskPortfolioRepository
from toolkit.store.repositories import now
from toolkit.validation import not_future, read_date
from toolkit.workspace.context import Context
from toolkit.workspace.history import History
from toolkit.workspace.instruments import Instruments

WHAT = "portfolio"
#: the universes, by the word of their path (GET /constraints/<kind>) and the shipped file's key
UNIVERSES = {"geographies": "geographies", "sectors": "sectors", "currencies": "currencies",
             "assetclasses": "asset_classes", "asset_classes": "asset_classes"}
Universe = list[UniverseItem]
#: the columns that join a position or wish to its series
KEY = ["instrument_code", "apiid"]


class Portfolios:
    """The risk platform's portfolios: upload, list, get, delete, and the constraint universes."""

    def __init__(self, ctx: Context, *, instruments: Instruments, history: History) -> None:
        self._ctx = ctx
        self._instruments = instruments
        self._history = history
        self._repo = RiskPortfolioRepository(ctx.db)

    def upload(self, body: object, client_reference: str | Mapping | None = None) -> PortfolioStatus:
        """PUT /portfolio: ``body`` (a dict or JSON text, :class:`~toolkit.contracts.risk.portfolio.PortfolioUpload`)
        stored as the portfolio ``client_reference`` (a text, or the query ``{"client_reference": ...}``),
        which is created or replaced whole; without one, a new portfolio under a new UUID. An ``apiid`` that
        names no data provider is refused at its path. Validation happens before any write and the write is
        one transaction: a refused upload changes nothing. ``RISK_PORTFOLIO.UPLOADED`` is recorded. Answers
        the portfolio as GET /portfolio does."""
        reference = self._reference(client_reference, required=False) or str(uuid.uuid4())
        upload = read(PortfolioUpload, body, WHAT)
        problems = upload.problems() + _providers(upload)
        if problems:
            raise ValidationError(problems, WHAT)
        capital = upload.capital
        stamp = now(precise=True)
        rows = [(p.instrument_code, p.apiid, p.direction, _text(p.size), _text(p.level), _rfc(p.date_open),
                 _text(p.close), _rfc(p.date_close), _text(p.limit), _text(p.stop)) for p in upload.positions]
        wishes = [(w.instrument.instrument_code, w.instrument.apiid, w.direction) for w in upload.wishlist]
        with self._ctx.transaction():
            self._repo.save(reference, upload.name, (_text(capital.funds), _text(capital.available),
                                                     _text(capital.equity)),
                            capital.currency, json.dumps(payload_of(body, WHAT)), rows, wishes, stamp)
            EventRepository(self._ctx.db).record("RISK_PORTFOLIO.UPLOADED", reference,
                                                {"positions": len(rows), "wishlist": len(wishes)}, stamp)
        return self.get(reference)

    def list(self, query: Mapping | str | None = None) -> builtins.list[PortfolioStatus]:
        """GET /portfolio: every portfolio, oldest first, or the one of ``query``'s ``client_reference``
        (a dict of the query's texts, or the reference itself)."""
        reference = self._reference(query, required=False)
        if reference is not None:
            return [self.get(reference)]
        return self._load(None)

    def get(self, client_reference: str) -> PortfolioStatus:
        """One portfolio as GET /portfolio answers it; an unknown reference is a ``NotFoundError``."""
        reference = self.by_reference(client_reference)
        return self._load([reference])[0]

    def by_reference(self, client_reference: object, path: str = "client_reference") -> str:
        """The stored id of the portfolio ``client_reference`` (the reference itself: portfolios are
        keyed by it), a ``ValidationError`` at ``path`` for a malformed one and a ``NotFoundError`` naming
        it for an unknown one."""
        reference = self._reference(client_reference, required=True, path=path)
        assert reference is not None  # required: refused above when missing
        if not self._repo.exists(reference):
            raise NotFoundError(f"No portfolio with {path} {reference!r}; upload it with PUT /portfolio "
                                "(ws.portfolios.upload) or see ws.portfolios.list().")
        return reference

    def exists(self, client_reference: object) -> bool:
        return isinstance(client_reference, str) and self._repo.exists(client_reference)

    def capital(self, client_reference: str) -> CapitalStatus:
        """The capital object of a portfolio (``currency``, ``funds``, ``available``, ``equity``)."""
        return self.get(client_reference).capital

    def delete(self, query: Mapping | str | None = None, *, all_data: bool | None = None) -> Deleted:
        """DELETE /portfolio: the portfolio of ``query``'s ``client_reference`` (or the reference itself),
        or with ``all_data=true`` every portfolio (:class:`~toolkit.contracts.risk.portfolio.PortfolioDeletion`).
        An unknown reference is a ``NotFoundError``; ``RISK_PORTFOLIO.DELETED`` is recorded for each."""
        given = dict(query) if isinstance(query, Mapping) else {} if query is None else {"client_reference": query}
        if all_data is not None:
            given["all_data"] = all_data
        request = read(PortfolioDeletion, given, "portfolio deletion")
        if request.problems():
            raise ValidationError(request.problems(), "portfolio deletion")
        stamp = now(precise=True)
        with self._ctx.transaction():
            if request.client_reference is not None:
                self.by_reference(request.client_reference)
            gone = self._repo.delete(None if request.all_data else [str(request.client_reference)])
            events = EventRepository(self._ctx.db)
            for reference in gone:
                events.record("RISK_PORTFOLIO.DELETED", reference, {}, stamp)
        return Deleted(deleted=gone)

    def composition(self, client_reference: str, as_of: str | None = None) -> pd.DataFrame:
        """The positions open on ``as_of`` (an ISO date, not in the future; by default the latest day on
        which every open position's instrument has a close), one row per instrument: ``instrument_code``,
        ``apiid``, ``instrument_id``, ``symbol``, the signed ``quantity`` (negative for a short), the last
        ``close`` on or before that day, ``value`` and value ``weight``."""
        reference = self.by_reference(client_reference)
        day = check_as_of(as_of)
        positions = located(self._repo.positions([reference]), self._instruments.table())
        if day is None and len(positions):
            day = str(status_dates(positions).iloc[0])
        held = open_on(positions, day)
        columns = [*KEY, "instrument_id", "symbol", "quantity", "close", "value", "weight"]
        if held.empty:
            return pd.DataFrame(columns=columns)
        groups = held.groupby(KEY, sort=False)
        frame = groups.agg(instrument_id=("instrument_id", "first"), symbol=("symbol", "first")).reset_index()
        frame["quantity"] = [format(sum(map(Decimal, g["quantity"]), Decimal(0)), "f") for _, g in groups]
        closes = self._closes([i for i in frame["instrument_id"] if isinstance(i, str)], day)
        frame["close"] = frame["instrument_id"].map(closes).astype(float)
        frame["value"] = frame["quantity"].astype(float) * frame["close"]
        frame["weight"] = frame["value"] / frame["value"].sum(min_count=1)
        return frame[columns].assign(as_of=day)

    def universes(self, kind: str | None = None) -> Universe | dict[str, Universe]:
        """GET /constraints/<kind>: ``geographies``, ``sectors``, ``currencies`` or ``assetclasses``
        (``asset_classes`` too), each entry ``{name, type, id, description}`` whose ``id`` a strategy
        constraint names; all four (by kind) when ``kind`` is None. The universes are the shipped ones
        (``data/universes.json``: regions with their ISO countries, GICS sectors, ISO 4217 currencies,
        asset classes): their ids are the codes the optimiser's constraints take."""
        if kind is not None and kind not in UNIVERSES:
            raise ValidationError([Problem("kind", f"{kind!r} is not one of geographies, sectors, currencies, "
                                                   "assetclasses")], "universe request")
        if kind is None:
            return {name: _universe(name) for name in ("geographies", "sectors", "currencies", "assetclasses")}
        return _universe(kind)

    # ------------------------------------------------------------------ reading back

    def _reference(self, given: object, *, required: bool, path: str = "client_reference") -> str | None:
        """``client_reference`` of a query (a dict of its texts) or given as itself, checked; a problem is
        named at ``path``."""
        found = None
        if given is not None:
            query = dict(given) if isinstance(given, Mapping) else {"client_reference": given}
            try:
                found = read(PortfolioReference, query, "portfolio request").client_reference
            except ValidationError as exc:
                raise ValidationError([Problem(path if p.path == "client_reference" else p.path, p.message)
                                       for p in exc.problems], "portfolio request") from None
        if found is None and required:
            raise ValidationError([Problem(path, "is required")], "portfolio request")
        return found

    def _closes(self, ids: builtins.list[str], day: str | None) -> dict[str, float]:
        if not ids:
            return {}
        close = self._history.prices(ids, end=day)["close"]
        return dict(zip(close[INSTRUMENT].values.tolist(), close.ffill(TIME).isel({TIME: -1}).values.tolist()))

    def _load(self, ids: builtins.list[str] | None) -> builtins.list[PortfolioStatus]:
        rows = self._repo.portfolios(ids)
        keys = list(rows["id"])
        table = self._instruments.table()
        positions = located(self._repo.positions(keys), table)
        wishlist = located(self._repo.wishlist(keys), table)
        return [_status(r, positions[positions["portfolio_id"] == r.id], wishlist[wishlist["portfolio_id"] == r.id])
                for r in rows.itertuples(index=False)]


def _universe(kind: str) -> Universe:
    return [UniverseItem.model_validate(item) for item in universe_items(UNIVERSES[kind])]


def _providers(upload: PortfolioUpload) -> list[Problem]:
    """An ``apiid`` that names no data provider (GET /api), at its path."""
    named = [(f"positions[{n}].apiid", p.apiid) for n, p in enumerate(upload.positions)]
    named += [(f"wishlist[{n}].instrument.apiid", w.instrument.apiid) for n, w in enumerate(upload.wishlist)]
    return [Problem(path, f"{apiid} is not a data provider; the providers are {providers.known_ids()}")
            for path, apiid in named if providers.provider(apiid) is None]


def _text(number: Decimal | None) -> str | None:
    return None if number is None else format(number, "f")


def _rfc(moment: datetime | None) -> str | None:
    return None if moment is None else rfc3339(moment)


def _status(row, positions: pd.DataFrame, wishlist: pd.DataFrame) -> PortfolioStatus:
    """One stored portfolio as GET /portfolio answers it."""
    sent = json.loads(row.payload).get("capital")
    shown = {k: sent.get(k) for k in ("print_equity", "print_funds", "print_available")} \
        if isinstance(sent, dict) else {}
    capital = CapitalStatus(currency=row.currency, funds=row.capital, available=row.available or row.capital,
                            equity=row.equity or row.capital, **shown)
    loads = data_load(positions, wishlist)
    loaded = int((loads["status"] == "LOADED").sum()) if len(loads) else 0
    share = f"{round(100 * loaded / len(loads)) if len(loads) else 100}%"
    return PortfolioStatus(
        capital=capital,
        wishlist=[Wish(instrument=InstrumentRef(instrument_code=w.instrument_code, apiid=int(w.apiid)),
                       direction=w.direction) for w in wishlist.itertuples()],
        positions=[PositionStatus(size=p.size, level=p.level, close=p.close, limit=p.limit or 0, stop=p.stop or 0,
                                  direction=p.direction, date_close=p.date_close, date_open=p.date_open,
                                  instrument_code=p.instrument_code, apiid=int(p.apiid), instrument_id=p.instrument_id)
                   for p in positions.itertuples()],
        data_load=share, client_reference=row.id, name=row.name, created_at=row.created_at,
        updated_at=row.updated_at,
        instruments=[InstrumentLoad.model_validate(r) for r in loads.to_dict("records")])


def check_as_of(as_of: object) -> str | None:
    if as_of is None:
        return None
    problems = Problems()
    day = not_future(read_date(as_of, "as_of", problems), "as_of", problems)  # (no status of days to come)
    problems.raise_if_any("status request")
    assert day is not None  # refused above
    return day.isoformat()


def located(rows: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """``rows`` (positions or wishes, with ``instrument_code`` and ``apiid``) joined to the series each
    names (the current one where several series share a code and provider): ``instrument_id``,
    ``symbol``, ``n_records``, ``history_start``, ``history_end`` and, where the rows have none, the
    series' ``isin`` and ``currency`` (None where the workspace has no daily history for it)."""
    series = with_codes(current_first(table[table["n_records"] > 0])).drop_duplicates(KEY)
    cols = ["instrument_id", "symbol", "n_records", "history_start", "history_end"]
    keyed = series[[*KEY, *cols, "isin", "currency"]].rename(columns={"isin": "_isin", "currency": "_currency"})
    keyed = keyed.astype({"apiid": object})
    out = rows.astype({"apiid": object}).merge(keyed, on=KEY, how="left")
    for column in ("isin", "currency"):
        out[column] = out[column].where(out[column].notna(), out[f"_{column}"]) if column in out else out[f"_{column}"]
    out = out.drop(columns=["_isin", "_currency"])
    return out.astype(object).where(out.notna(), None)


def data_load(positions: pd.DataFrame, wishlist: pd.DataFrame) -> pd.DataFrame:
    """Per instrument (code and apiid) of the positions and the wishlist: its series, the days its
    positions need (``needed_from``: the first open; ``needed_to``: the last close when all are closed)
    and ``status`` ``LOADED``, ``PARTIAL`` or ``MISSING``."""
    cols = ["instrument_id", "history_start", "history_end"]
    every = pd.concat([positions[[*KEY, *cols]], wishlist[[*KEY, *cols]]], ignore_index=True)
    if every.empty:
        return pd.DataFrame(columns=[*KEY, *cols, "needed_from", "needed_to", "status"])
    out = every.groupby(KEY, sort=False)[cols].first().reset_index()
    held = positions.groupby(KEY)
    out = out.merge(held["open_date"].min().rename("needed_from"), on=KEY, how="left")
    last_close = held["close_date"].agg(lambda c: None if c.isna().any() else c.max()).rename("needed_to")
    out = out.merge(last_close, on=KEY, how="left")
    out = out.astype(object).where(out.notna(), None)
    missing = out["instrument_id"].isna()
    late = out["needed_from"].notna() & (out["history_start"].fillna("9999") > out["needed_from"].fillna(""))
    short = out["needed_to"].notna() & (out["history_end"].fillna("") < out["needed_to"].fillna(""))
    out["status"] = np.where(missing, "MISSING", np.where(late | short, "PARTIAL", "LOADED"))
    out["apiid"] = [int(a) for a in out["apiid"]]
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
