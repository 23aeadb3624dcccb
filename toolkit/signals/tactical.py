"""The risk platform's tactical rules (ids 1-11, and 13) on a whole book of candidate orders in one call.

``evaluate(orders, bars, rules)`` judges every order of ``orders`` (an ``xr.Dataset`` over ``order``)
against the rules of a strategy on the bars of each order's timeframe, and answers an ``xr.Dataset``
over ``order`` (and ``rule`` for the verdicts): the order as the rules left it (defaults filled in),
each rule's PASS (True) or FAIL, and every datapoint the rules report.
:func:`toolkit.signals.commentary.tactical_analysis` turns that answer into the document's
``tactical_analysis`` items (:class:`toolkit.contracts.risk.tactical.TacticalBook`).

Per-instrument indicators are computed once per timeframe on the whole universe (``toolkit.signals``'
ATR, RSI, SuperTrend, trend bias, swing points), then gathered per order by index: no Python loop over
orders or instruments; a loop over the rules and over the (at most five) timeframes.

**An order** (variables over ``order``): ``instrument`` (the bars' ``instrument`` label), ``direction``
(``"Long"``/``"Short"`` or +1/-1), ``level`` (the entry; NaN: a market order), ``stop``, ``limit``,
``size`` (NaN: none), ``funds`` (the capital as the document defines it, "the total value of your
brokerage account prior to and excluding any open position", line 662; a number for every order or one
per order; needed by rules 2 and 13) and ``timeframe`` (the document's id, 0 week .. 4 fifteen minutes;
default 1, day). Prices are in the bars' units.

**Defaults**, filled in this order, each only when its rule is in the set: the entry at the market price,
each instrument's last close on the order's timeframe (rule 1; a market order is always judged at that
price); the stop at ``factor`` ATRs from the entry (rule 3); the limit at the nearest resistance above the
entry, the nearest support below it for a Short (rule 5; none if the lookback has none); the size at the
capital at risk, ``floor(percentage % funds / |entry - stop|)`` whole units (rule 2), or invested,
``floor(percentage % funds / entry)`` (rule 13); the smaller when both run.

**The rules** (the document's names; the toolkit's definitions where it gives none). ``d`` is +1 for a
Long and -1 for a Short, ``L`` the entry, ``S`` the stop, ``T`` the limit, ``P`` the market price,
ATR_n Wilder's average true range of period ``n`` on the last candle (:func:`toolkit.signals.atr`):

1. *Level - Distance to Market Price*: PASS when ``|L - P| <= ATR_14``: an entry within one candle's
   average range of the market is likely to execute within the timeframe.
2. *Size - Capital at Risk (percentage)*: the risk is ``size |L - S|`` (without a stop, ``size L`` for a
   Long, unbounded for a Short, which therefore gets no default size and FAILs); PASS when it is at most
   ``percentage %`` of the funds.
3. *Stop - ATR Based (factor, period)*: PASS when the stop is on the losing side of the entry,
   ``d (L - S) > 0``, at least ``factor ATR_period`` away (Wilder's smoothing; the rule names no method).
4. *Direction - Not Overextended (up, down)*: Wilder's RSI 14 on the last candle; a Long FAILs when the
   RSI is above the overbought limit, a Short when it is below the oversold one. The document's table
   gives ``RSIUpLimit`` 30 and ``RSIDownLimit`` 70 while its strategy text says "Limit Up ... Default is
   70 ... between 50 and 100" and "Limit Down ... Default is 30 ... between 50 and 0", and its example
   PASSes a Long at RSI 37.07 under "(30, 70)": so the overbought limit is the larger of the two values
   and the oversold limit the smaller. The datapoint is the chance of reversal at the current RSI
   (:func:`toolkit.signals.reversal_probability`: 5 candles ahead, +/- 2.5 RSI points, all history); the
   context, as the document's example gives it ("High on 24 Jan 24 ... RSI=60.93"), is the RSI at the last
   two major swing highs of the last 200 candles for a Long (swing lows for a Short), where the price
   changed direction (:mod:`toolkit.signals.levels`, 10 candles each side).
5. *Limit - At Resistance*: the nearest resistance ``R`` is the lowest minor swing high (Williams'
   five-bar fractal, :mod:`toolkit.signals.levels`) above the entry among the last 200 candles (the
   nearest support, the highest swing low below it, for a Short); PASS when the limit is on the winning
   side of the entry and within one ``ATR_14`` of ``R``, or when no level is found (nothing to be close to).
6. *Risk Reward Ratio (reward)*: ``d (T - L) / (d (L - S))``; PASS when the stop and the limit are on
   their sides and the ratio is at least ``reward``.
7. *Direction - Follow The Supertrend (factor, period, method)*: PASS when the SuperTrend's direction on
   the last candle is the order's (:func:`toolkit.signals.supertrend`).
8. *Backtest Over N Candles*: the order's stop and limit replayed from each of the last ``N`` candles
   (:mod:`toolkit.signals.brackets`: probability of success and expected duration in candles); PASS when
   at least one replayed trade closed and the expectancy is not negative,
   ``p |T - L| >= (1 - p) |L - S|``.
9. *Direction - No Short*: the trend bias over the last 200 changes (:func:`toolkit.signals.trend_bias`);
   a Short FAILs when the bias is upward (above 0); a Long always PASSes.
10. *Stop - At Support*: the nearest support below the entry (above it, the nearest resistance, for a
    Short), as in rule 5; PASS when the stop lies beyond it, ``d (support - S) > 0``, or when there is a
    stop and no level; FAIL without a stop.
11. *Minimum Timeframe (t)*: PASS when the order's timeframe id is at most ``t`` (higher ids are shorter
    candles: 0 week, 1 day, 2 two hours, 3 one hour, 4 fifteen minutes).
13. *Size - Capital Invested (percentage)*: PASS when ``size L`` is at most ``percentage %`` of the funds.

Portfolio rules (category Portfolio) in ``rules`` are skipped: they are the optimiser's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import xarray as xr

from toolkit.contracts.base import problems_of
from toolkit.contracts.risk.rules import RULES
from toolkit.contracts.risk.strategy import StrategyRule, check_value
from toolkit.errors import DataError, Problem, Problems, ValidationError
from toolkit.schema import INSTRUMENT, TIME, Timeframe
from toolkit.signals import bars as b
from toolkit.signals.bars import latest
from toolkit.signals.brackets import replay
from toolkit.signals.levels import MAJOR, MINOR, packed_swings
from toolkit.signals.momentum import reversal_probability, rsi
from toolkit.signals.trend import supertrend, trend_bias
from toolkit.signals.volatility import atr

ORDER = "order"
RULE = "rule"
#: the tactical rules the toolkit evaluates (the table's rules outside the Portfolio category)
TACTICAL = tuple(r.rule_id for r in RULES.values() if not r.portfolio)
#: the rules a strategy without tactical rules is judged by: the document's eleven
DEFAULT_RULES = tuple(range(1, 12))
#: Wilder's ATR period of rule 1's distance and rule 5's closeness
ATR_PERIOD = 14
#: Wilder's RSI period of rule 4
RSI_PERIOD = 14
#: candles of history searched for the supports and resistances of rules 5 and 10, and the trend bias of rule 9
LOOKBACK = 200
#: the variables an order may carry, and their defaults
ORDER_FIELDS = {"instrument": None, "direction": None, "level": np.nan, "stop": np.nan, "limit": np.nan,
                "size": np.nan, "funds": np.nan, "timeframe": int(Timeframe.DAY)}
#: how many bad orders an error names
SHOWN = 5


# ------------------------------------------------------------------------------------------------ reading


def _text(value: object) -> object:
    """A parameter value as the document writes it (text); numbers through their shortest form."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return format(Decimal(repr(float(value))), "f") if np.isfinite(value) else repr(float(value))
    return value


def read_rules(rules: object = None) -> dict[int, dict[str, Any]]:
    """The tactical rules to run and their parameters, the table's defaults where none is given.

    Parameters
    ----------
    rules : sequence or mapping, optional
        The rule ids (``[1, 3, 4]``); or a strategy's rules in the document's schema (dicts or
        :class:`~toolkit.contracts.risk.strategy.StrategyRule`: ``{"rule_id": 3, "parameters":
        [{"key": "ATRFactor", "value": "2"}]}``); or a mapping ``{rule_id: {key: value}}`` with values
        as numbers or the document's texts (``{3: {"ATRFactor": 2}}``). Default: rules 1 to 11 with
        their defaults. Portfolio rules are skipped.

    Returns
    -------
    dict
        ``{rule_id: {key: value}}`` in rule-id order: numbers as float, whole numbers as int, choices as text.

    Raises
    ------
    ValidationError
        An unknown ``rule_id``, an unknown parameter, or a value outside the document's range, each named
        by its path (``rules[0].parameters[1].value``, ``rules[3].ATRFactor``).
    """
    if rules is None:
        rules = DEFAULT_RULES
    problems = Problems()
    items: list[StrategyRule] = []
    if isinstance(rules, Mapping):
        for rule_id, values in rules.items():
            path = f"rules[{rule_id}]"
            if isinstance(rule_id, bool) or not isinstance(rule_id, (int, np.integer)) or int(rule_id) not in RULES:
                problems.add(path, f"{rule_id!r} is not a rule; the rules are 1 to {len(RULES)} (GET /rules)")
                continue
            rule = RULES[int(rule_id)]
            if not isinstance(values, Mapping):
                problems.add(path, f"expected a mapping of parameter keys to values, got {type(values).__name__}")
                continue
            keys = [p.key for p in rule.parameters]
            given = []
            for key, value in values.items():
                if key not in keys:
                    problems.add(f"{path}.{key}", f"is not a parameter of rule {rule.rule_id} ({rule.title}); it "
                                                  f"takes {', '.join(keys) if keys else 'no parameter'}")
                    continue
                text = _text(value)
                problem = check_value(rule.rule_id, key, text) if isinstance(text, str) or text is None \
                    else f"{value!r} is not a number or text"
                if problem:
                    problems.add(f"{path}.{key}", problem)
                else:
                    given.append({"key": key, "value": text})
            items.append(StrategyRule.model_validate({"rule_id": rule.rule_id, "parameters": given}))
    elif isinstance(rules, Sequence) and not isinstance(rules, str):
        for n, item in enumerate(rules):
            payload: object = {"rule_id": item} if isinstance(item, (int, np.integer)) else item
            if isinstance(payload, StrategyRule):
                items.append(payload)
                continue
            try:
                items.append(StrategyRule.model_validate(payload))
            except Exception as exc:  # pydantic's ValidationError: named by path
                if hasattr(exc, "errors"):
                    problems.items.extend(problems_of(exc, f"rules[{n}]"))  # type: ignore[arg-type]
                else:
                    problems.add(f"rules[{n}]", f"expected a rule id or a strategy rule, got {type(item).__name__}")
    else:
        problems.add("rules", f"expected rule ids, a strategy's rules or a mapping, got {type(rules).__name__}")
    problems.raise_if_any("rule set")
    out: dict[int, dict[str, Any]] = {}
    for item in items:
        if item.rule.portfolio:
            continue
        if item.rule_id in out:
            problems.add(f"rules[{item.rule_id}]", f"rule {item.rule_id} is given twice")
        out[item.rule_id] = {k: float(v) if isinstance(v, Decimal) else v for k, v in item.settings().items()}
    problems.raise_if_any("rule set")
    return dict(sorted(out.items()))


def _plain(value: object) -> str:
    """A value as a user wrote it (``'Up'``, ``-3.0``), not numpy's ``np.str_('Up')``."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _named(indices: np.ndarray, values: np.ndarray) -> str:
    shown = ", ".join(f"[{i}] {_plain(values[i])}" for i in indices[:SHOWN])
    return shown + (f" and {len(indices) - SHOWN} more" if len(indices) > SHOWN else "")


def read_orders(orders: xr.Dataset | Mapping[str, Any]) -> xr.Dataset:
    """The book of orders with every variable of :data:`ORDER_FIELDS` (defaults filled), checked.

    Parameters
    ----------
    orders : xr.Dataset or mapping of arrays
        Variables over ``order`` (a scalar applies to every order; a mapping of scalars is one order):
        ``instrument``, ``direction`` and optionally ``level``, ``stop``, ``limit``, ``size``, ``funds``,
        ``timeframe``, ``instrument_code``, ``apiid``.

    Returns
    -------
    xr.Dataset
        Over ``order`` (its coordinate kept): ``instrument``; ``direction`` +1 (Long) / -1 (Short);
        ``level``, ``stop``, ``limit``, ``size``, ``funds`` as float (NaN: none); ``timeframe`` an id 0..4.

    Raises
    ------
    ValidationError
        Each problem named by its path (``orders.level[3]``): a missing ``instrument`` or ``direction``,
        another direction, a level, stop, limit, size or funds that is not above 0, an unknown timeframe id.
    """
    if not isinstance(orders, xr.Dataset):
        if not isinstance(orders, Mapping):
            raise ValidationError([Problem("orders", "expected an xr.Dataset over 'order' or a mapping of "
                                                       f"arrays, got {type(orders).__name__}")], "book of orders")
        single = all(np.ndim(v) == 0 for v in orders.values())  # one order given by scalars
        orders = xr.Dataset({k: ((ORDER,) if np.ndim(v) or single else (),
                                 np.atleast_1d(v) if single else np.asarray(v)) for k, v in orders.items()})
    problems = Problems()
    if ORDER not in orders.dims:
        problems.add("orders", f"has no {ORDER!r} dimension (dimensions {list(orders.dims)})")
        problems.raise_if_any("book of orders")
    size = orders.sizes[ORDER]
    data: dict[str, np.ndarray] = {}
    for name, default in ORDER_FIELDS.items():
        if name in orders:
            values = np.broadcast_to(np.asarray(orders[name].values), (size,))
        elif default is None:
            problems.add(f"orders.{name}", "is required")
            continue
        else:
            values = np.full(size, default)
        data[name] = values
    problems.raise_if_any("book of orders")
    direction = data["direction"]
    if direction.dtype.kind in "OUS":
        text = direction.astype(str)
        sign = np.where(text == "Long", 1.0, np.where(text == "Short", -1.0, np.nan))
    else:
        sign = np.where(direction == 1, 1.0, np.where(direction == -1, -1.0, np.nan))
    bad = np.flatnonzero(np.isnan(sign))
    if bad.size:
        problems.add(f"orders.direction[{bad[0]}]", f"is not Long or Short (+1 or -1): {_named(bad, direction)}")
    numbers = {}
    for name in ("level", "stop", "limit", "size", "funds"):
        try:
            value = data[name].astype(float)
        except (TypeError, ValueError):
            problems.add(f"orders.{name}", "is not a number (NaN: none)")
            continue
        wrong = np.flatnonzero(~np.isnan(value) & ~(np.isfinite(value) & (value > 0)))
        if wrong.size:
            problems.add(f"orders.{name}[{wrong[0]}]", f"must be a number above 0 (NaN: none): {_named(wrong, value)}")
        numbers[name] = value
    frame = np.asarray(data["timeframe"])
    ids = {int(t) for t in Timeframe}
    wrong = np.flatnonzero([not (isinstance(t, (int, np.integer)) and int(t) in ids) for t in frame.tolist()]) \
        if frame.dtype.kind not in "iu" else np.flatnonzero(~np.isin(frame, list(ids)))
    if wrong.size:
        problems.add(f"orders.timeframe[{wrong[0]}]", "is not a timeframe id (0 week, 1 day, 2 two hours, 3 one hour, "
                                                      f"4 fifteen minutes): {_named(wrong, frame)}")
    problems.raise_if_any("book of orders")
    coords = {ORDER: orders[ORDER].values} if ORDER in orders.coords else {}
    out = xr.Dataset({"instrument": ((ORDER,), np.asarray(data["instrument"])), "direction": ((ORDER,), sign),
                      **{k: ((ORDER,), v) for k, v in numbers.items()},
                      "timeframe": ((ORDER,), frame.astype(int))}, coords=coords)
    for extra in ("instrument_code", "apiid"):
        if extra in orders:
            out[extra] = ((ORDER,), np.broadcast_to(np.asarray(orders[extra].values), (size,)))
    return out


def read_bars(bars: xr.Dataset | Mapping[Any, xr.Dataset]) -> dict[int, xr.Dataset]:
    """The bars of each timeframe.

    Parameters
    ----------
    bars : xr.Dataset or mapping
        One OHLCV dataset over ``(instrument, time)`` (its timeframe is ``attrs["timeframe"]``, default 1,
        day), or ``{timeframe: dataset}`` keyed by :class:`~toolkit.schema.Timeframe` or its id.

    Returns
    -------
    dict
        ``{timeframe id: dataset}``.

    Raises
    ------
    DataError
        A key that is no timeframe id, or a value that is no dataset.
    """
    if isinstance(bars, xr.Dataset):
        return {int(bars.attrs.get("timeframe", Timeframe.DAY)): bars}
    if isinstance(bars, Mapping):
        out = {}
        for key, value in bars.items():
            if isinstance(key, bool) or not isinstance(key, (int, np.integer)) or int(key) not in set(Timeframe):
                raise DataError(f"bars[{key!r}]: not a timeframe id; key the bars by 0 (week) .. 4 (15 minutes).")
            if not isinstance(value, xr.Dataset):
                raise DataError(f"bars[{key!r}]: expected an OHLCV xr.Dataset, got {type(value).__name__}.")
            out[int(key)] = value
        return out
    raise DataError(f"bars: expected an OHLCV xr.Dataset or a mapping of timeframe to datasets, got "
                    f"{type(bars).__name__}.")


# ------------------------------------------------------------------------------------------------ kernels


def _tail_kernel(high: np.ndarray, low: np.ndarray, close: np.ndarray, *extra: np.ndarray,
                 n: int) -> tuple[np.ndarray, ...]:
    """Each row's last ``n`` quoted bars (high, low and close all quoted) of ``high, low, close, *extra``,
    NaN-padded in front, then the bars' positions along ``time`` (NaN for the padding) and each row's count."""
    valid = b.valid_values(high, low, close)
    order = b.compact(valid)
    count = b.counts(valid, high.shape)
    steps = high.shape[-1]
    index = (count[..., None] - n + np.arange(n))  # packed positions of the last n bars
    inside = index >= 0
    index = np.clip(index, 0, steps - 1)
    where = np.broadcast_to(np.arange(steps, dtype=float), high.shape)
    outs = []
    for x in (high, low, close, *extra, where):
        taken = np.take_along_axis(b.pack(x, order), index, axis=-1)
        outs.append(np.where(inside, taken, np.nan))
    return (*outs, count.astype(float))


def tails(bars: xr.Dataset, n: int, *extra: xr.DataArray) -> tuple[np.ndarray, ...]:
    """Each instrument's last ``n`` quoted bars: ``high, low, close``, then each of ``extra`` (indicators on
    the bars' ``(instrument, time)``) on the same bars, each ``(instrument, n)`` NaN-padded in front; then the
    bars' positions along ``time`` ``(instrument, n)`` and the count of quoted bars ``(instrument,)``. Small
    arrays, computed (lazy bars are reduced to these)."""
    arrays = [b.core(b.variable(bars, k)) for k in ("high", "low", "close")] + [b.core(x) for x in extra]
    width = len(arrays) + 1
    outs = xr.apply_ufunc(_tail_kernel, *arrays, kwargs={"n": n}, input_core_dims=[[TIME]] * len(arrays),
                          output_core_dims=[["candle"]] * width + [[]], dask="parallelized",
                          output_dtypes=[float] * (width + 1), dask_gufunc_kwargs={"output_sizes": {"candle": n}})
    return tuple(np.asarray(o.transpose(INSTRUMENT, ...).values) for o in outs)


def _nearest(levels: np.ndarray, rows: np.ndarray, price: np.ndarray, above: bool) -> np.ndarray:
    """Per order, the level of its instrument's row nearest to ``price`` above (below) it; NaN if none."""
    chosen = levels[rows]  # (orders, candles)
    with np.errstate(invalid="ignore"):
        if above:
            found = np.where(chosen > price[:, None], chosen, np.inf).min(axis=-1)
        else:
            found = np.where(chosen < price[:, None], chosen, -np.inf).max(axis=-1)
    return np.where(np.isfinite(found), found, np.nan)


def _last(array: xr.DataArray) -> np.ndarray:
    """Each instrument's last finite value, ``(instrument,)``."""
    return np.asarray(latest(array).transpose(INSTRUMENT, ...).values, dtype=float)


# ------------------------------------------------------------------------------------------------ evaluation


def _needed(rules: Mapping[int, Mapping[str, Any]]) -> dict[int, int]:
    """The candles each rule needs."""
    def period(rule_id: int) -> int:
        return int(rules.get(rule_id, {}).get("Period", 0))

    needs = {1: ATR_PERIOD + 1, 3: period(3) + 1, 4: RSI_PERIOD + 6, 5: 2 * MINOR + 1, 7: period(7) + 1,
             8: period(8) + 1, 9: LOOKBACK + 1, 10: 2 * MINOR + 1}
    return {r: needs[r] for r in rules if r in needs}


def candles_needed(rules: object = None) -> int:
    """The quoted candles an instrument needs for every rule of ``rules`` (:func:`read_rules`'s input) to
    run: fewer makes :func:`evaluate` refuse its orders (a ``DataError``); 0 when no rule needs history."""
    return max(_needed(read_rules(rules)).values(), default=0)


def _locate(orders: xr.Dataset, bars: xr.Dataset, timeframe: int, positions: np.ndarray) -> np.ndarray:
    """Each order's row in ``bars``; refuse bars of another shape and instruments they lack."""
    if INSTRUMENT not in bars.dims:
        raise DataError(f"bars[{timeframe}]: the bars have no {INSTRUMENT!r} dimension (dimensions {list(bars.dims)}).")
    extra = set(bars["close"].dims) - {INSTRUMENT, TIME} if "close" in bars else set()
    if extra:
        raise DataError(f"bars[{timeframe}]: the rules judge orders on (instrument, time) bars; select the extra "
                        f"dimensions {sorted(map(str, extra))} first.")
    labels = np.asarray(orders["instrument"].values)
    rows = bars.indexes[INSTRUMENT].get_indexer(labels)
    missing = np.flatnonzero(rows < 0)
    if missing.size:
        raise DataError(f"orders.instrument[{positions[missing[0]]}]: no bars of timeframe {timeframe} for "
                        f"{_named(missing, labels)}; load its history or drop the order.")
    return rows


def _check_candles(rules: Mapping[int, Mapping[str, Any]], count: np.ndarray, rows: np.ndarray,
                   labels: np.ndarray, timeframe: int, positions: np.ndarray) -> None:
    """Refuse an order whose instrument has fewer quoted candles than the most demanding rule needs."""
    needs = _needed(rules)
    if not needs:
        return
    rule_id, need = max(needs.items(), key=lambda kv: kv[1])
    short = np.flatnonzero(count[rows] < need)
    if short.size:
        i = short[0]
        title = RULES[rule_id].title.replace("{}", "N")
        raise DataError(f"orders.instrument[{positions[i]}]: {_plain(labels[i])} has {int(count[rows[i]])} candles of "
                        f"timeframe {timeframe}, but rule {rule_id} ({title}) needs at least {need}; "
                        "pass a longer history (or drop the rule).")


def _last_two(mask: np.ndarray) -> np.ndarray:
    """The positions of each row's last two True values along the last axis, latest first; -1 where none."""
    index = np.where(mask, np.arange(mask.shape[-1]), -1)
    last = index.max(axis=-1)
    before = np.where(index < last[:, None], index, -1).max(axis=-1)
    return np.stack([last, before], axis=-1)


def _levels(window: dict[str, np.ndarray], rows: np.ndarray, entry: np.ndarray, long: np.ndarray,
            times: np.ndarray, out: dict[str, np.ndarray]) -> None:
    """The supports and resistances around each entry (rules 5 and 10) and, where the RSI is in ``window``,
    the RSI at the last two major swing highs (a Long) or lows (a Short) with their times (rule 4's context)."""
    candles = window["close"].shape[-1]
    valid = np.isfinite(window["close"])
    first = np.argsort(~valid, axis=-1, kind="stable")  # the windows are NaN-padded in front: quoted bars first
    packed = {k: np.take_along_axis(v, first, axis=-1) for k, v in window.items()}
    quoted = valid.sum(axis=-1)
    recent = np.arange(candles) >= (quoted - LOOKBACK)[:, None]
    for name, k in (("minor", MINOR), ("major", MAJOR)):
        top, bottom = packed_swings(packed["high"], packed["low"], k, quoted)
        top, bottom = np.where(recent, top, np.nan), np.where(recent, bottom, np.nan)
        out[f"{name}_resistance"] = _nearest(top, rows, entry, above=True)
        out[f"{name}_support"] = _nearest(bottom, rows, entry, above=False)
        if name == "major" and "rsi" in packed:
            for side, swing in (("high", top), ("low", bottom)):
                where = _last_two(np.isfinite(swing))  # (instrument, 2)
                found = where >= 0
                spot = np.maximum(where, 0)
                value = np.where(found, np.take_along_axis(packed["rsi"], spot, axis=-1), np.nan)
                moment = np.take_along_axis(packed["where"], spot, axis=-1)
                stamp = times[np.where(found, moment, 0).astype(int)]
                out[f"rsi_swing_{side}"] = value[rows]
                out[f"rsi_swing_{side}_time"] = np.where(found, stamp, np.datetime64("NaT"))[rows]
    # the level ahead of the trade (rule 5) and behind it (rule 10): by direction
    out["target_level"] = np.where(long, out["minor_resistance"], out["minor_support"])
    out["guard_level"] = np.where(long, out["minor_support"], out["minor_resistance"])
    if "rsi_swing_high" in out:
        for n in (0, 1):
            out[f"rsi_swing_{n + 1}"] = np.where(long, out["rsi_swing_high"][:, n], out["rsi_swing_low"][:, n])
            out[f"rsi_swing_{n + 1}_time"] = np.where(long, out["rsi_swing_high_time"][:, n],
                                                      out["rsi_swing_low_time"][:, n])
        for key in ("rsi_swing_high", "rsi_swing_low", "rsi_swing_high_time", "rsi_swing_low_time"):
            del out[key]


def _sizes(rules: Mapping[int, Mapping[str, Any]], size: np.ndarray, unit: np.ndarray, entry: np.ndarray,
           funds: np.ndarray) -> np.ndarray:
    """The size rules 2 and 13 fill in where the order has none (the smaller when both run)."""
    candidates = []
    with np.errstate(invalid="ignore", divide="ignore"):
        if 2 in rules:
            # an unbounded risk (a Short without a stop) has no size at risk: none is filled in
            at_risk = float(rules[2]["Percentage"]) / 100.0 * funds
            candidates.append(np.where(np.isfinite(unit), np.floor(at_risk / unit), np.nan))
        if 13 in rules:
            candidates.append(np.floor(float(rules[13]["Percentage"]) / 100.0 * funds / entry))
    filled = np.fmin.reduce(candidates) if len(candidates) > 1 else candidates[0]
    return np.where(np.isnan(size) & np.isfinite(filled), filled, size)


def _frame(orders: xr.Dataset, bars: xr.Dataset, rules: Mapping[int, Mapping[str, Any]], timeframe: int,
           positions: np.ndarray) -> dict[str, np.ndarray]:
    """Every rule on the orders of one timeframe: filled orders, verdicts and datapoints as numpy arrays."""
    rows = _locate(orders, bars, timeframe, positions)
    labels = np.asarray(orders["instrument"].values)
    extra = [rsi(bars, RSI_PERIOD)] if 4 in rules else []
    outs = tails(bars, max(LOOKBACK + MAJOR, int(rules.get(8, {}).get("Period", 0)) + 1), *extra)
    window = dict(zip(["high", "low", "close", *(["rsi"] if extra else []), "where"], outs[:-1], strict=True))
    count = outs[-1]
    _check_candles(rules, count, rows, labels, timeframe, positions)
    high, low, close = window["high"], window["low"], window["close"]
    times = np.asarray(bars[TIME].values)
    last = latest(b.variable(bars, "close")).transpose(INSTRUMENT, ...)
    d = orders["direction"].values
    long = d > 0
    market = np.asarray(last.values, dtype=float)[rows]
    out: dict[str, np.ndarray] = {"market_price": market, "market_time": np.asarray(last[TIME].values)[rows]}
    level = orders["level"].values
    entry = np.where(np.isnan(level), market, level)
    stop, limit, size = (orders[k].values.copy() for k in ("stop", "limit", "size"))
    funds = orders["funds"].values
    out["defaulted_level"] = np.isnan(level)
    wide = _last(atr(bars, ATR_PERIOD, "Smoothed"))[rows] if {1, 5} & set(rules) else np.full(len(d), np.nan)
    out["atr"] = wide
    if 3 in rules:
        out["stop_atr"] = _last(atr(bars, int(rules[3]["Period"]), "Smoothed"))[rows]
        stop = np.where(np.isnan(stop), entry - d * float(rules[3]["ATRFactor"]) * out["stop_atr"], stop)
    out["defaulted_stop"] = np.isnan(orders["stop"].values) & np.isfinite(stop)
    if {4, 5, 10} & set(rules):
        _levels(window, rows, entry, long, times, out)
        if 5 in rules:
            limit = np.where(np.isnan(limit), out["target_level"], limit)
    out["defaulted_limit"] = np.isnan(orders["limit"].values) & np.isfinite(limit)
    unit = np.where(np.isfinite(stop), np.abs(entry - stop), np.where(long, entry, np.inf))
    if {2, 13} & set(rules):
        size = _sizes(rules, size, unit, entry, funds)
    out["defaulted_size"] = np.isnan(orders["size"].values) & np.isfinite(size)

    passed: dict[int, np.ndarray] = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        risk_distance = d * (entry - stop)  # > 0: the stop is on the losing side
        reward_distance = d * (limit - entry)  # > 0: the limit is on the winning side
        if 1 in rules:
            out["distance"] = np.abs(entry - market)
            out["distance_atr"] = out["distance"] / wide
            passed[1] = out["distance"] <= wide
        if 2 in rules:
            out["risk"] = size * unit
            out["risk_percentage"] = out["risk"] / funds
            passed[2] = out["risk"] <= float(rules[2]["Percentage"]) / 100.0 * funds * (1 + 1e-12)
        if 3 in rules:
            out["stop_distance"] = risk_distance
            out["stop_distance_atr"] = risk_distance / out["stop_atr"]
            out["stop_minimum"] = float(rules[3]["ATRFactor"]) * out["stop_atr"]
            passed[3] = (risk_distance > 0) & (risk_distance >= out["stop_minimum"] * (1 - 1e-12))
        if 4 in rules:
            limits = (float(rules[4]["RSIUpLimit"]), float(rules[4]["RSIDownLimit"]))
            stats = reversal_probability(bars, period=RSI_PERIOD)
            for key in ("rsi", "events", "probability"):
                out[f"reversal_{key}"] = np.asarray(stats[key].transpose(INSTRUMENT, ...).values, dtype=float)[rows]
            value = out["reversal_rsi"]
            passed[4] = np.where(long, value <= max(limits), value >= min(limits)) & np.isfinite(value)
            out["rsi_limit"] = np.where(long, max(limits), min(limits))
        if 5 in rules:
            target = out["target_level"]
            near = np.abs(limit - target) <= wide
            passed[5] = np.where(np.isfinite(target), (reward_distance > 0) & near, True)
            out["limit_gap"] = limit - target
        if 6 in rules:
            out["reward_ratio"] = np.where((risk_distance > 0) & (reward_distance > 0),
                                           reward_distance / risk_distance, np.nan)
            passed[6] = out["reward_ratio"] >= float(rules[6]["RewardRatio"]) * (1 - 1e-12)
        if 7 in rules:
            trend = supertrend(bars, float(rules[7]["ATRFactor"]), int(rules[7]["Period"]), str(rules[7]["Method"]))
            out["supertrend"] = _last(trend["supertrend"])[rows]
            out["supertrend_direction"] = _last(trend["direction"])[rows]
            passed[7] = out["supertrend_direction"] == d
        if 8 in rules:
            n = int(rules[8]["Period"])
            s = np.where(risk_distance > 0, risk_distance / entry, np.inf)
            r = np.where(reward_distance > 0, reward_distance / entry, np.inf)
            stats8 = replay(high[:, -(n + 1):], low[:, -(n + 1):], close[:, -(n + 1):], rows, d, s, r)
            p = stats8["probability"]
            out["probability_success"], out["expected_duration"] = p, stats8["duration"]
            out["backtest_trades"] = stats8["trades"]
            gain = np.where(np.isfinite(r), p * r, np.where(p > 0, np.inf, 0.0))
            loss = np.where(p >= 1, 0.0, (1 - p) * s)
            passed[8] = (stats8["trades"] > 0) & (gain >= loss)
        if 9 in rules:
            bias = trend_bias(bars, LOOKBACK)
            for key in ("up", "down", "bias"):
                out[f"trend_{key}"] = _last(bias[key])[rows]
            passed[9] = long | (out["trend_bias"] <= 0)
        if 10 in rules:
            guard = out["guard_level"]
            beyond = d * (guard - stop) > 0
            passed[10] = np.isfinite(stop) & np.where(np.isfinite(guard), beyond, True)
        if 11 in rules:
            passed[11] = orders["timeframe"].values <= int(rules[11]["Timeframe"])
        if 13 in rules:
            out["invested"] = size * entry
            out["invested_percentage"] = out["invested"] / funds
            passed[13] = out["invested"] <= float(rules[13]["Percentage"]) / 100.0 * funds * (1 + 1e-12)
    out.update({"level": entry, "stop": stop, "limit": limit, "size": size})
    out["passed"] = np.stack([passed[r] for r in rules], axis=-1) if rules else np.zeros((len(d), 0), dtype=bool)
    for coord in ("name", "symbol", "instrument_code", "apiid"):
        if coord in bars.coords and bars[coord].dims == (INSTRUMENT,):
            out[f"instrument_{coord}"] = np.asarray(bars[coord].values)[rows]
    return out


def evaluate(orders: xr.Dataset | Mapping[str, Any], bars: xr.Dataset | Mapping[Any, xr.Dataset],
             rules: object = None) -> xr.Dataset:
    """Every tactical rule of a strategy on every order of a book, in one call.

    Parameters
    ----------
    orders : xr.Dataset or mapping of arrays
        The book over ``order`` (see the module): ``instrument``, ``direction``, and optionally ``level``,
        ``stop``, ``limit``, ``size``, ``funds``, ``timeframe``, ``instrument_code``, ``apiid``.
    bars : xr.Dataset or mapping
        OHLCV bars over ``(instrument, time)``: one dataset (its ``attrs["timeframe"]``, default 1, day)
        or ``{timeframe id: dataset}``. Instrument metadata coordinates (``name``, ``symbol``,
        ``instrument_code``, ``apiid``) are carried to the answer.
    rules : optional
        The strategy's rules (:func:`read_rules`); default the document's eleven with their defaults.

    Returns
    -------
    xr.Dataset
        Over ``order`` (the orders' coordinate kept): ``instrument``, ``direction`` (+1/-1),
        ``timeframe``, ``funds``; the filled ``level``, ``stop``, ``limit``, ``size`` and
        ``defaulted_level`` .. ``defaulted_size`` (bool); ``market_price`` and ``market_time`` (the last
        candle); each rule's datapoints (``distance_atr``, ``risk_percentage``, ``stop_atr``,
        ``reversal_probability``, ``minor_resistance``, ``reward_ratio``, ``supertrend_direction``,
        ``probability_success``, ``expected_duration``, ``trend_bias``, ...; NaN where not computed);
        ``passed`` over ``(order, rule)`` (True: PASS) with ``rule_name`` and ``category`` on ``rule``; ``validated``
        (every rule passed). ``attrs["parameters"]`` holds the rules' parameters.

    Raises
    ------
    ValidationError
        A bad rule id or parameter (:func:`read_rules`), a bad order field (:func:`read_orders`), or no
        ``funds`` for rules 2 or 13; each named by its path.
    DataError
        A timeframe or instrument the bars lack, too few candles for a rule, bad bars.
    """
    settings = read_rules(rules)
    book = read_orders(orders)
    frames = read_bars(bars)
    if {2, 13} & set(settings):
        missing = np.flatnonzero(np.isnan(book["funds"].values))
        if missing.size:
            rule_id = min({2, 13} & set(settings))
            raise ValidationError([Problem(f"orders.funds[{missing[0]}]", f"is required by rule {rule_id} "
                                             f"({RULES[rule_id].title}): give the account's funds "
                                             f"({len(missing)} orders have none)")], "book of orders")
    timeframes = book["timeframe"].values
    lacking = np.flatnonzero(~np.isin(timeframes, list(frames)))
    if lacking.size:
        have = ", ".join(f"{t} ({Timeframe(t).label})" for t in sorted(frames))
        raise DataError(f"orders.timeframe[{lacking[0]}]: the bars have no timeframe {timeframes[lacking[0]]} "
                        f"({Timeframe(int(timeframes[lacking[0]])).label}); they have {have}. Load that "
                        "history or change the order's timeframe.")
    size = book.sizes[ORDER]
    results: dict[str, np.ndarray] = {}
    for timeframe in np.unique(timeframes):
        positions = np.flatnonzero(timeframes == timeframe)
        part = _frame(book.isel({ORDER: positions}), frames[int(timeframe)], settings, int(timeframe), positions)
        for key, value in part.items():
            if key not in results:
                shape = (size,) + value.shape[1:]
                results[key] = np.zeros(shape, dtype=bool) if value.dtype == bool else \
                    np.full(shape, np.datetime64("NaT"), dtype=value.dtype) if value.dtype.kind == "M" else \
                    np.full(shape, np.nan) if value.dtype.kind in "fiu" else np.full(shape, None, dtype=object)
            results[key][positions] = value
    ids = list(settings)
    names = [RULES[r].name_for({k: _shown(v) for k, v in settings[r].items()}) for r in ids]
    variables: dict[str, Any] = {k: ((ORDER, RULE), v) if k == "passed" else ((ORDER,), v)
                                 for k, v in results.items()}
    out = xr.Dataset(variables, coords={RULE: ids, "rule_name": ((RULE,), names),
                                        "category": ((RULE,), [RULES[r].category for r in ids])})
    for key in ("instrument", "direction", "timeframe", "funds", "instrument_code", "apiid"):
        if key in book and f"instrument_{key}" not in out:
            out[key] = book[key]
    if ORDER in book.coords:
        out = out.assign_coords({ORDER: book[ORDER].values})
    out["validated"] = out["passed"].all(RULE)
    out.attrs["parameters"] = settings
    return out


def _shown(value: Any) -> str | None:
    """A parameter value as a rule's name shows it (``"1"``, ``"2.5"``, ``"SMA"``)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    number = Decimal(repr(float(value)))
    return format(number.normalize(), "f") if number == number.to_integral_value() else format(number, "f")


__all__ = ["DEFAULT_RULES", "ORDER", "RULE", "TACTICAL", "candles_needed", "evaluate", "read_bars", "read_orders",
           "read_rules", "tails"]
