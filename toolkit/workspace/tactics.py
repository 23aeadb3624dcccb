"""The tactical rules on the book's own orders (``ws.tactics``): a placed portfolio order's child orders
judged by the risk platform's tactical rules with "Include Stop/Limit", and the verdicts kept with the order.

- ``judge(order_id, rules)``: the rules (ids 1-11 and 13, a strategy's rules in the document's schema, or
  ``{rule_id: {key: value}}``; default :data:`RULES`) on each child order of a FILLED or SETTLED portfolio
  order, on the daily candles up to and including its execution date (what was known when it was
  placed: no later candle is read). Each child is the document's order: its instrument, ``Long`` for a
  buy and ``Short`` for a sale (the toolkit is long only: a Short reduces a holding), the entry
  ``level`` its fill price (the close of the execution date), the ``size`` its quantity, and the funds
  the account's NAV at that close. As the optimisation's "Include Stop/Limit" does
  (:mod:`toolkit.workspace.strategies`), rules 3 and 5 always run to set the stop (the ATR factor) and
  the limit (the nearest resistance, the nearest support for a Short; none when the lookback has none);
  they are reported only when ``rules`` lists them. Every verdict, with the stop and the limit and the
  document's ``tactical_analysis`` item, is written with the order (``order_tactics``) in one
  transaction; an order is judged once (a second call is a ``ConflictError``).
- ``list(account_ids=None, order_ids=None)``: the stored verdicts, one row per child order.
- ``analysis(order_id)``: the stored ``tactical_analysis`` items of one order, in child order.

**Real candles only**, as :mod:`toolkit.workspace.rules` says: an instrument whose bars have no highs
and lows, or fewer candles than the rules need, is a :class:`~toolkit.errors.DataError` naming it, and
nothing is written. The stop and limit are the rules' levels; the trading engine fills market orders
at the close and does not execute stops or limits: they are the order's risk plan, as the document's
optimisation answer gives them.
"""

from __future__ import annotations

import builtins
import json
from decimal import Decimal

import numpy as np
import pandas as pd
import xarray as xr

from toolkit.errors import ConflictError, DataError, Problems
from toolkit.market import history
from toolkit.market.instruments import instrument_code
from toolkit.market.providers import apiid_of
from toolkit.schema import INSTRUMENT, TIME, Timeframe
from toolkit.signals.commentary import tactical_analysis
from toolkit.signals.tactical import ORDER, RULE, candles_needed, evaluate, read_rules
from toolkit.store.orders import BookRepository
from toolkit.store.repositories import InstrumentRepository, PriceRepository
from toolkit.store.tactics import OrderTacticsRepository
from toolkit.validation import read_id, texts
from toolkit.workspace.context import Context
from toolkit.workspace.history import PRICE_COORDS
from toolkit.workspace.orders import Orders
from toolkit.workspace.rules import Evaluation

#: the rules judged by default: the size at the capital at risk (2), the stop at the ATR factor (3) and the
#: limit at the nearest resistance (5), with the document's defaults
RULES = (2, 3, 5)
#: the states of an order whose child orders were filled
FILLED = ("FILLED", "SETTLED")
PLACES = Decimal("0.0001")


class Tactics:
    """``ws.tactics``: the tactical rules' verdicts on placed orders (module docstring)."""

    def __init__(self, ctx: Context, *, orders: Orders) -> None:
        self._ctx = ctx
        self._orders = orders
        self._repo = OrderTacticsRepository(ctx.db)

    def judge(self, order_id: str, rules: object = RULES) -> Evaluation:
        """Judge a placed order's child orders and keep the verdicts with it (module docstring).

        Parameters
        ----------
        order_id : str
            A FILLED or SETTLED portfolio order.
        rules : optional
            The rules reported (:func:`toolkit.signals.tactical.read_rules`' input); rules 3 and 5 run in
            any case to set the stop and the limit.

        Returns
        -------
        Evaluation
            The verdicts (``to_dict()``: ``{"tactical_analysis": [...]}``, one item per child order) and the
            daily candles judged (``bars[1]``, up to the execution date).

        Raises
        ------
        NotFoundError
            No such order.
        ConflictError
            The order is not filled, has no child order, or was judged already.
        DataError
            A child's instrument has no real candles, or too few, up to the execution date.
        """
        settings = read_rules(rules)
        run = dict(settings)
        for rule_id, values in read_rules([3, 5]).items():
            run.setdefault(rule_id, values)
        order = self._orders.get(order_id)
        if order.state not in FILLED:
            raise ConflictError(f"Order {order_id} is {order.state}; the rules judge filled orders only.")
        children = order.children.reset_index(drop=True)
        if children.empty:
            raise ConflictError(f"Order {order_id} has no child order to judge.")
        if self._repo.judged([str(order_id)]):
            raise ConflictError(f"Order {order_id} was judged already; see tactics.analysis({order_id!r}).")
        day = order.execution_date
        ids = [str(i) for i in children["instrument_id"]]
        fills = BookRepository(self._ctx.db).holdings([order.account_id], dated=True)
        fills = fills[fills["executed_on"] <= day]
        units = fills.groupby("instrument_id", observed=True)["units"].sum()
        held = [str(i) for i, n in units.items() if n != 0]
        every = builtins.list(dict.fromkeys([*ids, *held]))
        registry = InstrumentRepository(self._ctx.db).by_id(every).set_index("instrument_id")
        long = PriceRepository(self._ctx.db).read(every, Timeframe.DAY, None, pd.Timestamp(day))
        bars = history.to_dataset(long, registry.loc[every, [c for c in PRICE_COORDS if c in registry]])
        meta = {i: _described(registry, i) for i in every}
        quoted = (bars["high"].notnull() & bars["low"].notnull() & bars["close"].notnull()).sum(TIME)
        need = max(candles_needed(run), 1)
        for iid in dict.fromkeys(ids):
            found = int(quoted.sel({INSTRUMENT: iid}))
            if found < need:
                raise DataError(f"{meta[iid]['instrument_code']} (apiid {meta[iid]['apiid']}) has {found} daily "
                                f"candles with highs and lows up to {day}; the tactical rules need {need} (real "
                                "candles only).")
        nav = _nav(bars, units, BookRepository(self._ctx.db).cash([order.account_id], dated=True), day)
        bars = bars.sel({INSTRUMENT: builtins.list(dict.fromkeys(ids))})
        book = xr.Dataset({
            "instrument": ((ORDER,), np.array(ids, dtype=object)),
            "direction": ((ORDER,), np.where(children["side"].to_numpy() == "SELL", "Short", "Long").astype(object)),
            "level": ((ORDER,), children["price"].astype(float).to_numpy()),
            "size": ((ORDER,), children["quantity"].astype(float).to_numpy()),
            "funds": ((ORDER,), np.full(len(ids), nav)),
            "timeframe": ((ORDER,), np.full(len(ids), int(Timeframe.DAY))),
            "instrument_code": ((ORDER,), np.array([meta[i]["instrument_code"] for i in ids], dtype=object)),
            "apiid": ((ORDER,), np.array([meta[i]["apiid"] for i in ids])),
        }, coords={ORDER: np.arange(len(ids))})
        result = evaluate(book, {int(Timeframe.DAY): bars}, run)
        shown = result.sel({RULE: [r for r in result[RULE].values if int(r) in settings]})
        items = tactical_analysis(shown).to_dict()["tactical_analysis"]
        rows = []
        for n, item in enumerate(items):
            stop, limit = float(result["stop"].values[n]), float(result["limit"].values[n])
            rows.append((n, ids[n], str(book["direction"].values[n]), _text(children["price"].iloc[n]),
                         str(children["quantity"].iloc[n]), _text(stop), _text(limit), item["validated"],
                         json.dumps(item)))
        with self._ctx.transaction():
            if self._repo.judged([str(order_id)]):  # judged by another connection meanwhile
                raise ConflictError(f"Order {order_id} was judged already; see tactics.analysis({order_id!r}).")
            self._repo.save(str(order_id), rows)
        return Evaluation(tactical_analysis(shown), shown, {int(Timeframe.DAY): bars})

    def list(self, account_ids: object = None, order_ids: object = None) -> pd.DataFrame:
        """The stored verdicts, one row per judged child order, by execution date: ``portfolio_order_id``,
        ``account_id``, ``side``, ``execution_date``, ``position``, ``instrument_id``, ``symbol``,
        ``instrument_code``, ``direction``, ``level``, ``size``, ``stop``, ``limit`` (floats; NaN: none) and
        ``validated``; only those of ``account_ids`` / ``order_ids`` (lists of ids) when given."""
        accounts = None if account_ids is None else texts(account_ids, "account_ids", "tactics query")
        orders = None if order_ids is None else texts(order_ids, "order_ids", "tactics query")
        frame = self._repo.rows(accounts, orders).drop(columns="tactical_analysis")
        every = builtins.list(dict.fromkeys(frame["instrument_id"]))
        registry = InstrumentRepository(self._ctx.db).by_id(every).set_index("instrument_id")
        meta = {i: _described(registry, i) for i in every}
        frame.insert(6, "symbol", [meta[i]["symbol"] for i in frame["instrument_id"]])
        frame.insert(7, "instrument_code", [meta[i]["instrument_code"] for i in frame["instrument_id"]])
        for column in ("level", "stop", "limit"):
            frame[column] = pd.to_numeric(frame[column]).astype(float)
        return frame

    def analysis(self, order_id: str) -> builtins.list[dict]:
        """The stored ``tactical_analysis`` items of one judged order, one per child order, in order."""
        problems = Problems()
        key = read_id(order_id, "order_id", problems)
        problems.raise_if_any("tactics query")
        frame = self._repo.rows(order_ids=[str(key)])
        return [json.loads(text) for text in frame["tactical_analysis"]]


def _described(registry: pd.DataFrame, iid: str) -> dict:
    """The symbol, instrument code (``AAPL_XNGS``) and apiid of a registry row."""
    row = registry.loc[iid]
    code, mic = row.get("code"), row.get("mic")
    text = code if isinstance(code, str) and code else instrument_code(str(row["symbol"]),
                                                                       mic if isinstance(mic, str) else None)
    source = row.get("source")
    return {"symbol": str(row["symbol"]), "instrument_code": text,
            "apiid": int(apiid_of(source if isinstance(source, str) else None) or 0)}


def _nav(bars: xr.Dataset, units: pd.Series, ledger: pd.DataFrame, day: str) -> float:
    """The account's NAV at the close of ``day``: its cash booked by then and its positions (``units`` of
    1e-10 share per instrument) at that close."""
    cash = float(sum((Decimal(a) for a, d in zip(ledger["amount"], ledger["value_date"]) if d <= day), Decimal(0)))
    closes = bars["close"].sel({TIME: slice(None, day)}).ffill(TIME).isel({TIME: -1})
    value = sum(float(n) * 1e-10 * float(closes.sel({INSTRUMENT: str(i)})) for i, n in units.items() if n != 0)
    return cash + value


def _text(value: object) -> str | None:
    """A price as decimal text to 4 places; None for none (NaN)."""
    number = float(value)  # type: ignore[arg-type]
    return None if not np.isfinite(number) else format(Decimal(repr(number)).quantize(PLACES), "f")


__all__ = ["RULES", "Tactics"]
