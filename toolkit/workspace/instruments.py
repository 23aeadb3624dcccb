from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from toolkit.errors import NotFoundError
from toolkit.market import coverage as coverage_check
from toolkit.market import history
from toolkit.market.instruments import Instrument, current_first, search
from toolkit.schema import Timeframe
from toolkit.store.repositories import InstrumentRepository
from toolkit.validation import one, optional, read_choice, texts
from toolkit.workspace.context import Context


class Instruments:
    """The instrument registry: search, get, coverage."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._repo = InstrumentRepository(ctx.db)

    def table(self, timeframe: int = Timeframe.DAY) -> pd.DataFrame:
        """Every series with its identifiers and ``n_records``, ``history_start``, ``history_end``."""
        return self._repo.table(one(history.read_timeframe, timeframe, "timeframe", "instrument table request"))

    def search(self, text: str | None = None, *, symbol: str | None = None, isin: str | None = None,
               mic: str | None = None, currency: str | None = None, limit: int = 50) -> pd.DataFrame:
        """Search by free text, symbol, ISIN, MIC or currency; most likely match first."""
        return search(self.table(), text, symbol=symbol, isin=isin, mic=mic, currency=currency, limit=limit)

    def get(self, instrument_id: str) -> Instrument:
        rows = self._repo.by_id([instrument_id])
        if rows.empty:
            raise NotFoundError(f"No instrument with id {instrument_id!r}; search for it with instruments.search().")
        return Instrument.from_row(rows.iloc[0].to_dict())

    def resolve(self, keys: Sequence[str] | str, path: str = "instruments") -> list[str]:
        """Instrument ids for ids, ISINs or symbols (one, or a list); an ISIN or symbol names its current
        series: the one whose daily history ends latest, then the longest (as search ranks ties). Unknown keys are a ``NotFoundError`` naming them; ``keys`` neither a text nor a list is
        a ``ValidationError`` at ``path``."""
        keys = texts(keys, path, "instrument request", each=False)
        table = current_first(self.table())
        lookup = dict(zip(table["instrument_id"], table["instrument_id"]))
        for column in ("symbol", "isin"):
            firsts = table.drop_duplicates(column)
            lookup.update(zip(firsts[column].str.upper(), firsts["instrument_id"]))
        found = [(k, lookup.get(k.strip()) or lookup.get(k.strip().upper()) if isinstance(k, str) else None)
                 for k in keys]
        unknown = [repr(k) for k, iid in found if iid is None]
        if unknown or not keys:
            raise NotFoundError(f"Unknown instrument(s): {', '.join(unknown) or 'none given'}; "
                                "name instruments by id, ISIN or symbol (see instruments.search()).")
        return list(dict.fromkeys(iid for _, iid in found))

    def coverage(self, request: object, fmt: str = "json", answer: str | None = None) -> list[dict] | str:
        """Coverage of ISIN + currency pairs (JSON list/text or CSV); answer as dicts, ``"json"`` or ``"csv"``."""
        optional(read_choice, answer, "answer", "coverage request", choices=("json", "csv"))
        answers = coverage_check.check(coverage_check.parse_request(request, fmt), self.table())
        if answer == "csv":
            return coverage_check.to_csv(answers)
        if answer == "json":
            return coverage_check.to_json(answers)
        return answers
