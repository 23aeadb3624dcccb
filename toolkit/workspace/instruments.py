from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from toolkit.contracts.base import Contract, read
from toolkit.contracts.risk.common import read_code, read_query_int
from toolkit.contracts.risk.history import CoverageAnswer, CoverageQuery, InstrumentInfo, InstrumentQuery, read_pairs
from toolkit.errors import NotFoundError, Problem, Problems, ValidationError
from toolkit.market import coverage as coverage_check
from toolkit.market import history, providers
from toolkit.market.instruments import Instrument, by_code, current_first, describe, near_codes, search, with_codes
from toolkit.schema import Timeframe
from toolkit.store.cache import memo
from toolkit.store.repositories import InstrumentRepository
from toolkit.validation import one, shown, texts
from toolkit.workspace.context import Context


class Instruments:
    """The instrument registry: search, get, coverage, and the risk platform's instrument codes
    (``AAPL_XNGS`` with the ``apiid`` of a data provider: :meth:`by_code`)."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._repo = InstrumentRepository(ctx.db)

    def table(self, timeframe: int = Timeframe.DAY) -> pd.DataFrame:
        """Every series with its identifiers and ``n_records``, ``history_start``, ``history_end``
        (read once per data version: :func:`toolkit.store.cache.memo`)."""
        frame = one(history.read_timeframe, timeframe, "timeframe", "instrument table request")
        return memo(self._ctx.db).get(("instruments.table", int(frame)), lambda: self._repo.table(frame))

    def search(self, text: str | None = None, *, symbol: str | None = None, isin: str | None = None,
               mic: str | None = None, currency: str | None = None, apiid: int | None = None,
               limit: int = 50) -> pd.DataFrame:
        """Search by free text, symbol, ISIN, MIC (an operating MIC finds its segments) or currency, and
        data provider (``apiid``); most likely match first, as a table with each series' ``instrument_code``
        and ``apiid`` (the risk platform's GET /history/instrument, answered as its objects: :meth:`find`)."""
        return with_codes(search(self.table(), text, symbol=symbol, isin=isin, mic=mic, currency=currency,
                                 apiid=apiid, limit=limit))

    def get(self, instrument_id: str) -> Instrument:
        rows = self._repo.by_id([instrument_id])
        if rows.empty:
            raise NotFoundError(f"No instrument with id {instrument_id!r}; search for it with instruments.search().")
        return Instrument.from_row(rows.iloc[0].to_dict())

    def by_code(self, instrument_code: str, apiid: int | str | None = None, path: str = "instrument_code") -> str:
        """The workspace's instrument id of the series the risk platform names by ``instrument_code``
        (``AAPL_XNGS``) and ``apiid`` (its data provider, GET /api; a query string's ``"8"`` is read as 8).
        Without ``apiid``, the current series of that code (its daily history ends latest, then it is the
        longest). A malformed code or apiid is a ``ValidationError`` at ``path`` (``path`` with ``apiid``'s
        name beside it: ``benchmark_instrument_code`` -> ``benchmark_apiid``); an unknown one a
        ``NotFoundError`` naming it, and the codes it may have meant."""
        problems = Problems()
        read_code(instrument_code, path, problems)
        apiid_path = path.replace("instrument_code", "apiid") if "instrument_code" in path else f"{path}.apiid"
        number = None if apiid is None else read_query_int(apiid, apiid_path, problems, low=1)
        problems.raise_if_any("instrument request")
        table = self.table()
        found = by_code(table, instrument_code, number)
        if found.empty:
            where = f" from apiid {number}" if number is not None else ""
            known = by_code(table, instrument_code)
            if number is not None and providers.provider(number) is None:
                hint = f"{number} is no data provider; the providers are {providers.known_ids()} (ws.api.providers())"
            elif number is not None and not known.empty:
                hint = f"it is there from apiid {', '.join(str(a) for a in dict.fromkeys(known['apiid']))}"
            else:
                near = near_codes(table, instrument_code)
                hint = f"did you mean {', '.join(near)}?" if near else "search for it with instruments.find()"
            raise NotFoundError(f"No instrument {shown(instrument_code)}{where} at {path}; {hint}")
        return str(found.iloc[0]["instrument_id"])

    def resolve(self, keys: Sequence[str] | str, path: str = "instruments") -> list[str]:
        """Instrument ids for ids, instrument codes (``AAPL_XNGS``), ISINs or symbols (one, or a list); a
        code, ISIN or symbol names its current series: the one whose daily history ends latest, then the
        longest (as search ranks ties). Unknown keys are a ``NotFoundError`` naming them; ``keys`` neither a
        text nor a list is a ``ValidationError`` at ``path``."""
        keys = texts(keys, path, "instrument request", each=False)
        table = with_codes(current_first(self.table()))
        lookup = dict(zip(table["instrument_id"], table["instrument_id"]))
        for column in ("instrument_code", "symbol", "isin"):
            firsts = table.drop_duplicates(column)
            keyed = zip(firsts[column].str.upper(), firsts["instrument_id"])
            lookup.update({k: v for k, v in keyed if k not in lookup})
        found = [(k, lookup.get(k.strip()) or lookup.get(k.strip().upper()) if isinstance(k, str) else None)
                 for k in keys]
        unknown = [repr(k) for k, iid in found if iid is None]
        if unknown or not keys:
            raise NotFoundError(f"Unknown instrument(s): {', '.join(unknown) or 'none given'}; "
                                "name instruments by id, instrument code, ISIN or symbol (see instruments.search()).")
        return [str(iid) for iid in dict.fromkeys(iid for _, iid in found)]

    def find(self, query: Mapping | str | None = None) -> Answers:
        """GET /history/instrument (``risk-platform-api.txt`` lines 116-150): the instruments matching the
        query (a dict of its texts, :class:`~toolkit.contracts.risk.history.InstrumentQuery`: ``searchstring``,
        ``symbol``, ``mic_code``, ``isin``, ``currency``; added ``apiid`` and ``limit``), the most likely
        first (as :meth:`search` ranks them), each as the platform's instrument object."""
        request = read(InstrumentQuery, {} if query is None else {"searchstring": query} if isinstance(query, str)
                       else query, "instrument search")
        found = search(self.table(), request.searchstring, symbol=request.symbol, isin=request.isin,
                       mic=request.mic_code, currency=request.currency, apiid=request.apiid, limit=request.limit)
        return Answers([InstrumentInfo.model_validate(describe(row)) for row in found.to_dict("records")], found)

    def describe(self, instrument_id: str) -> InstrumentInfo:
        """The platform's instrument object of one series (with its daily history's span)."""
        rows = self.table()
        row = rows[rows["instrument_id"] == instrument_id]
        if row.empty:
            raise NotFoundError(f"No instrument with id {instrument_id!r}; search for it with instruments.find().")
        return InstrumentInfo.model_validate(describe(row.iloc[0].to_dict()))

    def coverage(self, body: object, query: Mapping | None = None) -> Answers | str:
        """POST /history/coverage (lines 152-188): ``body`` is a JSON array of ``{isin, currency}`` (a list,
        or JSON text), or CSV text with ``isin`` and ``currency`` columns when ``query``'s ``format_input`` is
        ``CSV``; ``query`` (:class:`~toolkit.contracts.risk.history.CoverageQuery`) defaults to
        ``{"method": "ISIN_CURRENCY"}``. Answers one :class:`~toolkit.contracts.risk.history.CoverageAnswer`
        per pair (see :mod:`toolkit.market.coverage`), or their CSV text when ``format_output`` is ``CSV``.
        A malformed pair is refused naming it (``[3].isin``)."""
        what = "coverage request"
        request = read(CoverageQuery, {"method": "ISIN_CURRENCY"} if query is None else query, what)
        if request.format_input == "CSV":
            if not isinstance(body, str | bytes):
                raise ValidationError([Problem("", f"expected CSV text, got {type(body).__name__}")], what)
            try:
                body = coverage_check.csv_rows(body)
            except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
                raise ValidationError([Problem("", f"is not readable CSV: {exc}")], what) from None
        pairs = read_pairs(body, what)
        answers = coverage_check.check([(p.isin, p.currency) for p in pairs], self.table())
        if request.format_output == "CSV":
            return coverage_check.to_csv(answers)
        return Answers([CoverageAnswer.model_validate(a) for a in answers], coverage_check.to_table(answers))


class Answers(Sequence):
    """A list answer of the seed's objects: ``to_dict()`` is the JSON array, ``to_pandas()`` a table."""

    def __init__(self, items: Sequence[Contract], table: pd.DataFrame) -> None:
        self._items = list(items)
        self._table = table

    def __getitem__(self, index):  # noqa: ANN001 - as list.__getitem__
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Answers({len(self)} items)"

    def to_dict(self) -> list[dict]:
        return [item.to_dict() for item in self._items]

    def to_pandas(self) -> pd.DataFrame:
        return self._table.reset_index(drop=True)
