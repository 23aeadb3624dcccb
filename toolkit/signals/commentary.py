"""The tactical rules' verdicts as the document words them: ``tactical_analysis`` items with datapoints and
commentary (``risk-platform-api.txt`` lines 1279-1300), from the answer of
:func:`toolkit.signals.tactical.evaluate`.

The evaluation is vectorised; this is its presentation, one item per order (a loop over the orders to
build the response objects, as any serialiser does; it is not part of the rule computation). Numbers are
formatted as the document's example formats them: a probability as a percentage with one decimal
("46.8%"), an RSI with two ("37.07"), a time as "15 Mar 24 00:00 UTC" (the bars' times are read as UTC).
Each rule's ``simple_commentary`` is one sentence between the document's blank lines
(``"\\n\\n...\\n"``), its ``commentary`` the context lines before it; the order's ``commentary_simple`` is
"Apple Inc [AAPL]\\nRisk mgt: PASS\\n" followed by every rule's simple commentary.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from toolkit.contracts.risk.tactical import Datapoint, OrderAnalysis, TacticalBook, TacticalOrder, TacticalResult
from toolkit.schema import Timeframe
from toolkit.signals.tactical import LOOKBACK, ORDER, RULE

Row = dict[str, Any]


def _price(v: float) -> str:
    return f"{v:,.2f}"


def _percent(v: float) -> str:
    return f"{100 * v:.1f}%"


FORMATS: dict[str, Callable[[float], str]] = {
    "price": _price,
    "money": _price,
    "percent": _percent,
    "ratio": lambda v: f"{v:.2f}",
    "number": lambda v: f"{v:.2f}",
    "candles": lambda v: f"{v:.1f}",
    "count": lambda v: f"{v:.0f}",
    "direction": lambda v: "Up" if v > 0 else "Down",
    "timeframe": lambda v: Timeframe(int(v)).label,
}

#: each rule's datapoints: (reference, label, variable of the evaluation, format)
DATAPOINTS: dict[int, tuple[tuple[str, str, str, str], ...]] = {
    1: (("market_price", "Market Price", "market_price", "price"),
        ("distance_atr", "Distance to Market (ATR)", "distance_atr", "ratio")),
    2: (("capital_at_risk", "Capital at Risk", "risk", "money"),
        ("percentage_at_risk", "Percentage at Risk", "risk_percentage", "percent")),
    3: (("atr", "ATR", "stop_atr", "price"),
        ("stop_distance_atr", "Stop Distance (ATR)", "stop_distance_atr", "ratio")),
    4: (("percentage_reversal", "Chance of Reversal", "reversal_probability", "percent"),
        ("rsi", "RSI", "reversal_rsi", "number")),
    5: (("closest_level", "Closest Level", "target_level", "price"),
        ("minor_resistance", "Minor Resistance", "minor_resistance", "price"),
        ("major_resistance", "Major Resistance", "major_resistance", "price"),
        ("minor_support", "Minor Support", "minor_support", "price"),
        ("major_support", "Major Support", "major_support", "price")),
    6: (("risk_reward_ratio", "Risk Reward Ratio", "reward_ratio", "ratio"),),
    7: (("supertrend", "SuperTrend", "supertrend", "price"),
        ("supertrend_direction", "SuperTrend Direction", "supertrend_direction", "direction")),
    8: (("probability_success", "Probability of Success", "probability_success", "percent"),
        ("expected_duration", "Expected Duration (candles)", "expected_duration", "candles"),
        ("trades", "Trades Closed", "backtest_trades", "count")),
    9: (("time_up", "Time Going Up", "trend_up", "percent"),
        ("time_down", "Time Going Down", "trend_down", "percent")),
    10: (("closest_level", "Closest Level", "guard_level", "price"),),
    11: (("timeframe", "Timeframe", "timeframe", "timeframe"),),
    13: (("capital_invested", "Capital Invested", "invested", "money"),
         ("percentage_invested", "Percentage Invested", "invested_percentage", "percent")),
}


def _moment(value: Any) -> str:
    return pd.Timestamp(value).strftime("%d %b %y %H:%M UTC") if not pd.isna(value) else "N/A"


def _shown(value: Any, kind: str = "price") -> str:
    return FORMATS[kind](value) if value is not None and np.isfinite(value) else "N/A"


def _sentence(row: Row, rule_id: int, passed: bool, params: dict[str, Any]) -> tuple[str, str]:
    """(context lines, the verdict's sentence) of one rule on one order."""
    side = "Long" if row["direction"] > 0 else "Short"
    ahead, behind = ("resistance", "support") if row["direction"] > 0 else ("support", "resistance")
    level, stop, limit = row["level"], row["stop"], row["limit"]
    context = ""
    if rule_id == 1:
        if row["defaulted_level"]:
            context = f"Entry defaulted to the market price {_shown(level)}\n"
        text = (f"The entry {_shown(level)} is {_shown(row['distance_atr'], 'ratio')} ATR from the market price "
                f"{_shown(row['market_price'])} (ATR {_shown(row['atr'])}): "
                + ("likely to execute" if passed else "unlikely to execute within the timeframe"))
    elif rule_id == 2:
        if row["defaulted_size"]:
            context = f"Size defaulted to {_shown(row['size'], 'count')} to risk {params['Percentage']:g}% of funds\n"
        text = (f"A size of {_shown(row['size'], 'count')} puts {_shown(row['risk'], 'money')} "
                f"({_shown(row['risk_percentage'], 'percent')} of funds) at risk; "
                f"the maximum is {params['Percentage']:g}%")
    elif rule_id == 3:
        if row["defaulted_stop"]:
            context = f"Stop defaulted to {params['ATRFactor']:g} ATR from the entry: {_shown(stop)}\n"
        text = (f"The stop {_shown(stop)} is {_shown(row['stop_distance_atr'], 'ratio')} ATR from the entry "
                f"(ATR {params['Period']} = {_shown(row['stop_atr'])}); the minimum is {params['ATRFactor']:g} ATR")
    elif rule_id == 4:
        turns = "".join(f"{'High' if row['direction'] > 0 else 'Low'} on {_moment(row[f'rsi_swing_{n}_time'])} "
                        f"RSI={row[f'rsi_swing_{n}']:.2f}\n" for n in (1, 2)
                        if np.isfinite(row.get(f"rsi_swing_{n}", np.nan)))
        context = turns + f"Current RSI is {_shown(row['reversal_rsi'], 'number')} for timeframe starting " \
                          f"{_moment(row['market_time'])}\n"
        chance = row["reversal_probability"]
        text = (f"Out of {_shown(row['reversal_events'], 'count')} such past events, a RSI level at "
                f"{_shown(row['reversal_rsi'], 'number')} has a "
                f"{f'{100 * chance:.0f}%' if np.isfinite(chance) else 'N/A'} chance of reversal")
        if not passed:
            text += f"; a {side} is overextended beyond RSI {row['rsi_limit']:g}"
    elif rule_id == 5:
        if row["defaulted_limit"]:
            context = f"Limit defaulted to the closest {ahead}: {_shown(limit)}\n"
        if not np.isfinite(row["target_level"]):
            text = f"No {ahead} beyond the entry in the last {LOOKBACK} candles"
        else:
            gap = abs(row["limit_gap"]) if np.isfinite(row["limit_gap"]) else np.nan
            text = (f"The limit {_shown(limit)} is {_shown(gap)} from the closest {ahead} {_shown(row['target_level'])}"
                    + ("" if passed else f"; set it within one ATR ({_shown(row['atr'])}) of it"))
    elif rule_id == 6:
        text = (f"The risk reward ratio is {_shown(row['reward_ratio'], 'ratio')}; the minimum is "
                f"{params['RewardRatio']:g}")
    elif rule_id == 7:
        text = (f"The SuperTrend ({_shown(row['supertrend'])}) points "
                f"{_shown(row['supertrend_direction'], 'direction').lower()}: "
                + ("aligned with" if passed else "against") + f" a {side}")
    elif rule_id == 8:
        text = (f"Over the last {params['Period']} candles, {_shown(row['backtest_trades'], 'count')} trades closed: "
                f"{_shown(row['probability_success'], 'percent')} chance of success, expected duration "
                f"{_shown(row['expected_duration'], 'candles')} candles")
    elif rule_id == 9:
        text = (f"The instrument went up {_shown(row['trend_up'], 'percent')} and down "
                f"{_shown(row['trend_down'], 'percent')} of the last {LOOKBACK} candles"
                + ("" if passed else ": no Short against an upward bias"))
    elif rule_id == 10:
        if not np.isfinite(stop):
            text = "The order has no stop"
        elif not np.isfinite(row["guard_level"]):
            text = f"The stop {_shown(stop)} is set; no {behind} beyond the entry in the last {LOOKBACK} candles"
        else:
            text = (f"The stop {_shown(stop)} is " + ("beyond" if passed else "before")
                    + f" the closest {behind} {_shown(row['guard_level'])}")
    elif rule_id == 11:
        text = (f"The timeframe is {_shown(row['timeframe'], 'timeframe')}; the smallest allowed is "
                f"{Timeframe(int(params['Timeframe'])).label}")
    else:  # 13
        if row["defaulted_size"]:
            context = f"Size defaulted to {_shown(row['size'], 'count')} to invest {params['Percentage']:g}% of funds\n"
        text = (f"A size of {_shown(row['size'], 'count')} invests {_shown(row['invested'], 'money')} "
                f"({_shown(row['invested_percentage'], 'percent')} of funds); the maximum is {params['Percentage']:g}%")
    return context, f"\n\n{text}\n"


def _value(row: Row, name: str) -> float | None:
    value = row.get(name)
    return None if value is None or not np.isfinite(value) else float(value)


def _print(value: float, *, none: str = "N/A") -> str:
    return none if not np.isfinite(value) else f"{value:,.2f}"


def _order(row: Row) -> TacticalOrder:
    size = row["size"]
    return TacticalOrder(
        direction="Long" if row["direction"] > 0 else "Short", timeframe_id=int(row["timeframe"]),
        level=float(row["level"]), size=_value(row, "size"), stop=_value(row, "stop"), limit=_value(row, "limit"),
        funds=_value(row, "funds"),
        print_level="Market Order" if row["defaulted_level"] else _print(row["level"]),
        print_size="N/A" if not np.isfinite(size) else f"{size:g}", print_stop=_print(row["stop"]),
        print_limit=_print(row["limit"]),
        defaulted=[k for k in ("level", "size", "stop", "limit") if row.get(f"defaulted_{k}", False)])


def tactical_analysis(result: xr.Dataset) -> TacticalBook:
    """The document's ``tactical_analysis`` items of an evaluated book, one per order in its order.

    Parameters
    ----------
    result : xr.Dataset
        The answer of :func:`toolkit.signals.tactical.evaluate` over ``order`` and ``rule``.

    Returns
    -------
    TacticalBook
        ``tactical_analysis``: per order, each rule's verdict (``PASS``/``FAIL``), datapoints and
        commentary, the order's verdict (``PASS`` when every rule passes) and ``commentary_simple``, its
        ``instrument_code`` and ``apiid`` (the bars' or the orders' ``instrument_code`` and ``apiid``; else
        the instrument label and 0), and the ``order`` as the rules filled it in.
    """
    ids = [int(r) for r in result[RULE].values]
    names = [str(n) for n in result["rule_name"].values]
    params = result.attrs.get("parameters", {})
    columns = {k: v.values for k, v in result.data_vars.items() if v.dims == (ORDER,)}
    passed = result["passed"].values
    items = []
    for i in range(result.sizes[ORDER]):
        row: Row = {str(k): v[i] for k, v in columns.items()}
        results = []
        for j, rule_id in enumerate(ids):
            ok = bool(passed[i, j])
            context, simple = _sentence(row, rule_id, ok, params.get(rule_id, {}))
            status = "GOOD" if ok else "BAD"
            points = [Datapoint(reference=ref, label=label, value=_value(row, var), status=status, priority=ref,
                                value_formatted=_shown(_value(row, var), kind) if var in row else "N/A")
                      for ref, label, var, kind in DATAPOINTS[rule_id]]
            results.append(TacticalResult(commentary=context + simple, validated="PASS" if ok else "FAIL",
                                          datapoints=points, simple_commentary=simple, rule_name=names[j],
                                          rule_id=rule_id))
        verdict = "PASS" if all(r.validated == "PASS" for r in results) else "FAIL"
        label = str(row["instrument"])
        name = str(row.get("instrument_name", label))
        symbol = str(row.get("instrument_symbol", label))
        code = row.get("instrument_instrument_code", row.get("instrument_code", label))
        apiid = row.get("instrument_apiid", row.get("apiid", 0))
        items.append(OrderAnalysis(
            results=results, validated=verdict,
            commentary_simple=f"{name} [{symbol}]\nRisk mgt: {verdict}\n" + "".join(r.simple_commentary
                                                                                     for r in results),
            apiid=int(apiid) if apiid is not None and not pd.isna(apiid) else 0, instrument_code=str(code),
            order=_order(row)))
    return TacticalBook(tactical_analysis=items)


__all__ = ["DATAPOINTS", "FORMATS", "tactical_analysis"]
