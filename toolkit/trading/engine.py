"""The order engine: exact order math for a whole book at once.

Pure functions over numpy arrays (and one xarray wrapper), vectorised over any number of
portfolios: no database, and no Python loop over portfolios, instruments or days.

Conventions (every array is ``int64`` unless said otherwise):

- **money** in integer cents;
- **weights** in integer units of 1e-8: ``WEIGHT_SCALE = 10**8``, so ``"0.25"`` is ``25_000_000``
  (:func:`weights_to_units` converts decimal strings exactly); a row of target weights sums to
  exactly ``WEIGHT_SCALE``;
- **quantities** in integer units of 1e-10 share: ``QTY_SCALE = 10**10``;
- **prices** are ``float64`` per share. They are read to 8 decimals (``PRICE_SCALE = 10**8`` ticks
  per currency unit, nearest tick), which is exact for any price quoted with up to 8 decimals; all
  the math after that read is integer arithmetic with 128-bit-safe products (:func:`_muldiv`), so
  every cent is exact and no result depends on float rounding;
- **shapes**: per-instrument arrays are ``(..., instrument)``, per-portfolio arrays ``(...)``; leading
  dimensions broadcast, so the same call serves one portfolio or 100,000.

Limits: amounts up to 9e16 cents; prices from 1e-8 to 9e6 per share; a position up to 9.2e8
shares (the int64 range of quantity units).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Literal, cast

import numpy as np
import xarray as xr

from toolkit.errors import DataError, Problem, Problems, ValidationError
from toolkit.schema import INSTRUMENT
from toolkit.validation import decimal_or_none

WEIGHT_SCALE = 10**8
QTY_SCALE = 10**10
PRICE_SCALE = 10**8
#: a quantity in units times a price in ticks is a value in 1e-16 cent
_VALUE_DIV = QTY_SCALE * PRICE_SCALE // 100
MAX_PRICE = 9_000_000
MAX_AMOUNT = 9 * 10**16
_INT64_MAX = 2**63 - 1
_SHOWN = 10  # offending rows an error names

Rounding = Literal["down", "up", "nearest"]
#: per (portfolio, instrument) outputs of :func:`rebalance`, then per portfolio
ORDER_KEYS = ("sell_cents", "buy_cents", "sell_qty", "buy_qty", "fee_cents")
PORTFOLIO_KEYS = ("balanced", "nav_cents", "cash_after_cents")


# =========================================================================== conversions


def weights_to_units(weights: Iterable[str | Decimal | int | float]) -> np.ndarray:
    """Decimal weights (strings such as ``"0.25"``, ``Decimal``, ``int``) as int64 units of 1e-8.

    Exact: ``units = weight * WEIGHT_SCALE``, which must be a whole number, so a weight with more
    than 8 decimals (after dropping trailing zeros) is refused with a ``ValueError``, as are
    negative, infinite and non-numeric weights. A ``float`` is read through its shortest repr
    (``0.1`` is ``"0.1"``). Nested sequences keep their shape.
    """
    array = np.asarray(weights, dtype=object)
    problems = Problems()
    units = np.zeros(array.shape, dtype=np.int64)
    for index, value in np.ndenumerate(array):
        path = "weights" + "".join(f"[{i}]" for i in index)
        unit = _decimal_units(value, path, problems)
        if unit is not None:
            units[index] = unit
    problems.raise_if_any("weight list")
    return units


def _decimal_units(value: object, path: str, problems: Problems) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (str, Decimal, int, float, np.integer, np.floating)):
        problems.add(path, f"expected a decimal string such as \"0.25\", got {type(value).__name__}")
        return None
    number: Decimal | None
    if isinstance(value, Decimal):
        number = value
    else:  # strings strictly (ASCII digits, surrounding spaces ignored), floats through their shortest repr
        number = decimal_or_none(float(value) if isinstance(value, np.floating) else
                                 int(value) if isinstance(value, np.integer) else
                                 value.strip(" ") if isinstance(value, str) else value, numbers=True)
    if number is None:
        problems.add(path, f"{value!r} is not a decimal number >= 0")
        return None
    if not number.is_finite() or number < 0:
        problems.add(path, f"{value} is not a finite number >= 0")
        return None
    scaled = number.scaleb(8)
    if scaled != scaled.to_integral_value():
        problems.add(path, f"{value} has more than 8 decimals; weights are in units of 1e-8")
        return None
    if scaled > _INT64_MAX:
        problems.add(path, f"{value} is too large")
        return None
    return int(scaled)


def _ints(values: object, name: str, *, negative: bool = False) -> np.ndarray:
    """``values`` as int64 (whole cents or units); refuses floats and, unless allowed, negatives."""
    array = np.asarray(values)
    if array.dtype.kind not in "iu":
        hint = ("whole cents, e.g. int(Decimal('12.34') * 100)" if "cents" in name else
                "whole units of 1e-10 share, e.g. int(Decimal('1.5') * QTY_SCALE)")
        raise _one(name, f"must be an integer array of {hint}; got {array.dtype}")
    array = array.astype(np.int64)
    if not negative and (array < 0).any():
        raise _one(name, f"{_where(array < 0)} negative; must be >= 0")
    if (np.abs(array) > MAX_AMOUNT).any() and "cents" in name:
        raise _one(name, f"{_where(np.abs(array) > MAX_AMOUNT)} beyond {MAX_AMOUNT:.0e} cents")
    return array


def _price_ticks(price: object) -> np.ndarray:
    """Prices per share (float64) as int64 ticks of 1e-8, the nearest tick; refuses bad prices."""
    array = np.asarray(price, dtype=np.float64)
    bad = ~np.isfinite(array) | (array <= 0) | (array > MAX_PRICE)
    if bad.any():
        raise DataError(f"price: {_where(bad)} not a finite price in (0, {MAX_PRICE:,}] per share; "
                        f"prices must be > 0 (first bad value {float(array[bad].flat[0])!r}).")
    ticks = np.rint(array * PRICE_SCALE).astype(np.int64)
    if (ticks == 0).any():
        raise DataError(f"price: {_where(ticks == 0)} below 0.5e-8 per share, the engine's price tick.")
    return ticks


def _weights(units: object, name: str) -> np.ndarray:
    """Weight units (..., instrument): int64, each >= 0, each row summing to ``WEIGHT_SCALE``."""
    array = np.asarray(units)
    if array.dtype.kind not in "iu" or array.ndim == 0:
        raise _one(name, f"must be integer weight units over (..., instrument) (1e-8 each, "
                         f"\"0.25\" is 25_000_000), got {array.dtype} of shape {array.shape}; "
                         f"use weights_to_units")
    array = array.astype(np.int64)
    if (array < 0).any():
        raise _one(name, f"{_where(array < 0)} negative; a weight must be >= 0")
    if (array > WEIGHT_SCALE).any():
        raise _one(name, f"{_where(array > WEIGHT_SCALE)} above 1 ({WEIGHT_SCALE:_} units)")
    totals = array.sum(axis=-1)
    off = totals != WEIGHT_SCALE
    if off.any():
        problems = Problems()
        rows = np.argwhere(off) if off.ndim else np.zeros((1, 0), dtype=int)
        for row in rows[:_SHOWN]:
            index = "".join(f"[{i}]" for i in row)
            total = Decimal(int(totals[tuple(row)])).scaleb(-8).normalize()
            problems.add(f"{name}{index}", f"the weights sum to {total:f}, not 1 ({WEIGHT_SCALE:_} units)")
        if len(rows) > _SHOWN:
            problems.add(name, f"and {len(rows) - _SHOWN} more rows")
        problems.raise_if_any("weight list")
    return array


def _one(path: str, message: str) -> ValidationError:
    return ValidationError([Problem(path, message)], "order request")


def _where(mask: np.ndarray) -> str:
    """'entry [i, j] is' / 'N entries (first [i, j]) are' for an error message."""
    first = tuple(int(i) for i in np.argwhere(mask)[0]) if mask.ndim else ()
    count = int(mask.sum())
    return f"entry {list(first)} is" if count == 1 else f"{count} entries (first {list(first)}) are"


# =========================================================================== exact integer kernels


def _muldiv(x: np.ndarray, y: np.ndarray | int, d: np.ndarray | int) -> tuple[np.ndarray, np.ndarray]:
    """``(floor(x*y/d), x*y mod d)`` exactly, for int64 ``x, y >= 0`` and ``0 < d < 2**61``.

    The product ``x*y`` may pass 2**63; only the quotient must fit int64. Fast path: a float64
    estimate ``e`` of the quotient is off by less than ``6*2**-53*e + 2``, so the exact rest
    ``x*y - e*d`` fits int64 whenever that error times ``d`` is below 2**62; int64 arithmetic
    wraps modulo 2**64, which leaves a rest that fits exact, and one floor division corrects
    ``e``. Outside that range, :func:`_muldiv_digits` does long division.
    """
    x, y, d = (np.asarray(a, dtype=np.int64) for a in (x, y, d))
    estimate = np.floor(x.astype(np.float64) * y.astype(np.float64) / d)
    top = float(np.max(estimate, initial=0.0))
    if top >= 2.0**63 - 4096 or (top * 6 * 2.0**-53 + 3) * float(np.max(d, initial=1)) >= 2.0**62:
        return _muldiv_digits(x, y, d)
    quotient = estimate.astype(np.int64)
    with np.errstate(over="ignore"):
        rest = x * y - quotient * d  # exact: the true rest fits int64
    fix = rest // d
    return quotient + fix, rest - fix * d


def _muldiv_digits(x: np.ndarray, y: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_muldiv` by long division, for any quotient that fits int64.

    With ``x = qx*d + rx``, ``x*y/d = qx*y + rx*y/d``, and ``rx*y/d`` is long division over the
    base-``2**k`` digits of ``y`` (``k = 62 - bits(d)``, so every partial numerator
    ``2**k*r + rx*digit < 2**63``); the loop is over those few digits, never over data. For
    ``d = WEIGHT_SCALE`` it is one digit: ``x = a1*d + a0``, ``x*w/d = a1*w + (a0*w)//d``.
    """
    qx = x // d
    rx = x - qx * d
    k = 62 - int(np.max(d, initial=1)).bit_length()
    digits = max(1, -(-int(np.max(y, initial=0)).bit_length() // k))
    mask = np.int64((1 << k) - 1)
    quotient = np.zeros(np.broadcast_shapes(x.shape, y.shape, d.shape), dtype=np.int64)
    rest = np.zeros_like(quotient)
    for digit in range(digits - 1, -1, -1):
        numerator = (rest << k) + rx * ((y >> (digit * k)) & mask)
        step = numerator // d
        rest = numerator - step * d
        quotient = (quotient << k) + step
    return qx * y + quotient, rest


def _round(quotient: np.ndarray, rest: np.ndarray, d: np.ndarray | int, rounding: Rounding) -> np.ndarray:
    """``quotient + rest/d`` to an integer: down (truncate), up (ceiling) or nearest (half-even)."""
    if rounding == "down":
        return quotient
    if rounding == "up":
        return quotient + (rest > 0)
    twice = rest * 2  # rest < d < 2**61
    return quotient + ((twice > d) | ((twice == d) & (quotient % 2 == 1)))


def _largest(key: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Mask of the ``count[...]`` largest keys along the last axis; ties go to the lower index."""
    n = key.shape[-1]
    count = np.asarray(count)[..., None]
    index = np.arange(n, dtype=np.int64)
    if key.dtype.kind == "i" and int(np.max(key, initial=0)) < (_INT64_MAX - n) // max(n, 1):
        # one unique integer key per entry: the remainder, then the lower index
        unique = key * n + (n - 1 - index)
        threshold = np.take_along_axis(np.sort(unique, axis=-1), np.clip(n - count, 0, n - 1), axis=-1)
        return (unique >= threshold) & (count > 0)
    order = np.argsort(-key, axis=-1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(index, order.shape), axis=-1)
    return rank < count


def _apportion(amount: np.ndarray, shares: np.ndarray, total: np.ndarray | int) -> np.ndarray:
    """Largest-remainder split of ``amount >= 0`` in proportion to ``shares`` (rows sum to ``total``)."""
    total = np.asarray(total, dtype=np.int64)
    base, rest = _muldiv(amount[..., None], shares, total[..., None] if total.ndim else total)
    leftover = amount - base.sum(axis=-1)  # < number of instruments
    return base + _largest(rest, leftover)


def _values(qty: np.ndarray, ticks: np.ndarray) -> np.ndarray:
    quotient, rest = _muldiv(qty, ticks, _VALUE_DIV)
    return _round(quotient, rest, _VALUE_DIV, "nearest")


def _quantities(cents: np.ndarray, ticks: np.ndarray, rounding: Rounding) -> np.ndarray:
    if (np.asarray(cents, dtype=np.float64) / ticks > (_INT64_MAX - 2 * _VALUE_DIV) / _VALUE_DIV).any():
        raise _one("amount_cents", f"buys more than {_INT64_MAX / QTY_SCALE:.3g} shares of one instrument, "
                                   f"beyond int64 quantity units of 1e-10 share")
    quotient, rest = _muldiv(cents, _VALUE_DIV, ticks)
    return _round(quotient, rest, ticks, rounding)


# =========================================================================== public functions


def split_cents(amount_cents: object, weight_units: object) -> np.ndarray:
    """Split amounts over instruments in proportion to weights, to the cent, by largest remainder.

    Hamilton's method (largest remainder; M. L. Balinski and H. P. Young, *Fair Representation*,
    2nd ed., Brookings, 2001): with quotas ``amount * w_i / WEIGHT_SCALE``, every part gets the
    floor of its quota, and the ``amount - sum(floors)`` leftover cents (fewer than the number of
    instruments) go one each to the largest remainders, ties to the lower instrument index.
    Exact integer arithmetic for ``|amount| <= 9e16`` cents: ``amount = a1*WEIGHT_SCALE + a0``, so
    ``a1*w_i`` and ``a0*w_i`` stay below 2**63. A negative amount is split as ``-split(-amount)``.

    ``amount_cents`` is ``(...)``, ``weight_units`` ``(..., instrument)`` (broadcast); each row of
    weights must be >= 0 and sum to ``WEIGHT_SCALE`` (``ValueError`` otherwise). The parts add up
    exactly to the amount in every row; an instrument of weight 0 never gets a cent.
    """
    amount = _ints(amount_cents, "amount_cents", negative=True)
    weights = _weights(weight_units, "weight_units")
    shape = np.broadcast_shapes(amount.shape + (1,), weights.shape)
    amount = np.broadcast_to(amount, shape[:-1])
    parts = _apportion(np.abs(amount), np.broadcast_to(weights, shape), WEIGHT_SCALE)
    return np.where(amount[..., None] < 0, -parts, parts)


def apportion(amount_cents: object, shares: object) -> np.ndarray:
    """Split amounts in proportion to any non-negative integer shares (e.g. market values in cents),
    by the same largest-remainder rule as :func:`split_cents`; every row of shares must be positive
    in total. ``apportion(WEIGHT_SCALE, values)`` gives the current weights in weight units."""
    amount = _ints(amount_cents, "amount_cents")
    shares = _ints(shares, "shares")
    total = shares.sum(axis=-1)
    if (total <= 0).any():
        raise _one("shares", "every row of shares needs a positive total")
    shape = np.broadcast_shapes(amount.shape + (1,), shares.shape)
    return _apportion(np.broadcast_to(amount, shape[:-1]), np.broadcast_to(shares, shape),
                      np.broadcast_to(total, shape[:-1]))


def quantities(amount_cents: object, price: object, rounding: Rounding = "down") -> np.ndarray:
    """The quantity (int64 units of 1e-10 share) that ``amount_cents`` buys at ``price`` per share.

    ``units = amount_cents * 10**16 / price_ticks`` (``= amount/100/price * QTY_SCALE``), exact,
    then rounded on its magnitude: ``"down"`` truncates to 10 decimals, so the quantity is never
    worth more than the amount (``values_cents(quantities(a, p), p) <= a``); ``"up"`` takes the
    ceiling, ``"nearest"`` rounds half-even. Broadcasts ``amount (...)`` with ``price``.
    """
    if rounding not in ("down", "up", "nearest"):
        raise _one("rounding", f"{rounding!r} is not one of down, up, nearest")
    amount = _ints(amount_cents, "amount_cents", negative=True)
    units = _quantities(np.abs(amount), _price_ticks(price), rounding)
    return np.where(amount < 0, -units, units)


def values_cents(qty_units: object, price: object) -> np.ndarray:
    """Market value in int64 cents of quantities (units of 1e-10 share) at ``price`` per share.

    ``value = qty_units * price_ticks / 10**16`` cents, exact, rounded half-even to the cent
    (IEEE 754 ``roundTiesToEven``, Python's ``decimal.ROUND_HALF_EVEN``). Broadcasts.
    """
    qty = _ints(qty_units, "qty_units", negative=True)
    value = _values(np.abs(qty), _price_ticks(price))
    return np.where(qty < 0, -value, value)


def rebalance(qty_units: object, cash_cents: object, price: object, target_units: object, *,
              drift: str | Decimal | float = 0, drift_mode: Literal["absolute", "relative"] = "absolute",
              min_order_cents: object = 0, fee_rate: int = 0, fee_min_cents: int = 0) -> dict[str, np.ndarray]:
    """The orders that bring every portfolio of a book back to its target weights.

    Inputs: ``qty_units (..., instrument)`` held (units of 1e-10 share, >= 0), ``cash_cents (...)``
    (>= 0), ``price`` per share (broadcast to ``(..., instrument)``), ``target_units (...,
    instrument)`` (weights in 1e-8, rows summing to ``WEIGHT_SCALE``), ``drift`` as a decimal
    (8 decimals at most), ``min_order_cents`` (scalar or ``(...)``).

    Rules, in integer cents throughout:

    1. ``V_i = values_cents(qty_i, price_i)``, ``NAV = cash + sum(V)``.
    2. A portfolio is *balanced*, and gets no order, when every ``|V_i/NAV - w_i| <= b_i`` with
       ``b_i = drift`` (``drift_mode="absolute"``) or ``drift * w_i`` (``"relative"``), tested
       exactly in integers as ``ceil(NAV*(w_i - b_i)) <= V_i <= floor(NAV*(w_i + b_i))``. A
       portfolio with a NAV of 0 is balanced.
    3. Target values ``T = split_cents(NAV, target)``; only the net difference ``T_i - V_i`` is traded.
    4. Sells first: ``V_i - T_i`` cents, quantity ``quantities(.., "down")``, which is less than the
       position; a target of 0 sells the whole position, exactly ``qty_i``, for ``V_i`` (also a
       position worth less than half a cent, for 0 cents, when there is no minimum).
    5. Buys ``T_i - V_i``, funded by ``cash + sum(sells)``. Only when sells are dropped (rule 6) can
       they exceed it: then they are scaled to the available cash by largest remainder in
       proportion to the wanted buys, and never overdraw. Buy quantities round down.
    6. A sell or buy below ``min_order_cents`` is not done (also after scaling).
    7. Fees (:func:`fees`: ``max(fee_min_cents, amount * fee_rate / 1e6)`` per trade, ``fee_rate``
       in hundredths of a basis point) come out of the cash. Sells pay theirs from their proceeds,
       and a sell smaller than its fee plus a cent is not done. Buys are funded net of an upper
       bound on their own fees: with ``n`` wanted buys the budget is
       ``floor((available - n * (fee_min_cents + 1)) / (1 + fee_rate / 1e6))``, so they never overdraw
       and leave at most a few cents per trade uninvested.

    Cash moves by the order amounts and fees:
    ``cash_after = cash + sum(sell_cents) - sum(buy_cents) - sum(fee_cents) >= 0``.

    Tolerance (proved in tests/test_trading_engine.py): after the orders, with ``d_i`` the value
    of one quantity unit in cents (``price_i * 1e-8``), ``|V'_i - T_i| <= 1 + d_i`` cents for
    every instrument when ``min_order_cents = 0``; with a minimum ``m`` it is
    ``< 2 + d_i + n*m`` (``n`` instruments).

    Returns int64 arrays ``sell_cents, buy_cents, sell_qty, buy_qty, fee_cents`` over ``(..., instrument)``
    and, over ``(...)``, ``balanced`` (bool), ``nav_cents`` and ``cash_after_cents``.
    """
    if drift_mode not in ("absolute", "relative"):
        raise _one("drift_mode", f"{drift_mode!r} is not one of absolute, relative")
    problems = Problems()
    drift_units = _decimal_units(drift, "drift", problems)
    problems.raise_if_any("order request")
    assert drift_units is not None  # refused above
    qty, cash, ticks, weights, minimum, lead = _book(qty_units, cash_cents, "cash_cents", price, target_units,
                                                     min_order_cents)
    parts = [_rebalance_rows(qty[rows], cash[rows], ticks[rows], weights[rows], minimum[rows], drift_units,
                             drift_mode == "relative", fee_rate, fee_min_cents) for rows in _blocks(len(qty))]
    return _unflatten({key: np.concatenate([part[key] for part in parts]) for key in parts[0]}, lead)


#: portfolios per block of :func:`rebalance`: the few dozen temporaries of a block (block x
#: instruments each) stay in the CPU cache and reuse the same memory, instead of faulting in new
#: pages for every one (measured on 100,000 x 20: 0.28 s in one block, 0.15 s in blocks of 8,192;
#: inside a book run, where page faults cost more, 0.6-1.1 s in one block)
BLOCK = 8192


def _blocks(n: int) -> list[slice]:
    """Consecutive row slices of at most :data:`BLOCK` rows (one, maybe empty, when ``n`` is small)."""
    return [slice(start, start + BLOCK) for start in range(0, max(n, 1), BLOCK)]


def _rebalance_rows(qty: np.ndarray, cash: np.ndarray, ticks: np.ndarray, weights: np.ndarray, minimum: np.ndarray,
                    drift_units: int, relative: bool, fee_rate: int, fee_min_cents: int) -> dict[str, np.ndarray]:
    """:func:`rebalance`'s rules on validated ``(portfolios, instruments)`` rows."""
    value = _values(qty, ticks)
    nav = cash + value.sum(axis=-1)
    if ((nav < 0) | (nav > MAX_AMOUNT)).any():
        raise _one("cash_cents", f"a NAV beyond {MAX_AMOUNT:.0e} cents, the engine's limit")
    balanced = _balanced(value, nav, weights, drift_units, relative)
    trade = ~balanced[:, None]
    target = _apportion(nav, weights, WEIGHT_SCALE)
    excess = value - target

    if fee_rate or fee_min_cents:  # rule 7: a sell must be worth more than its fee
        minimum = np.maximum(minimum, fee_min_cents + 1)
    whole = trade & (target == 0) & (qty > 0) & (value >= minimum)
    sell = np.where(whole | (trade & (excess > 0) & (excess >= minimum)), excess, 0)
    wanted = np.where(trade & (excess < 0) & (-excess >= minimum), -excess, 0)
    sell_fee = fees(sell, fee_rate, fee_min_cents)
    available = cash + sell.sum(axis=-1) - sell_fee.sum(axis=-1)
    budget = available
    if fee_rate or fee_min_cents:
        reserve = (wanted > 0).sum(axis=-1) * (fee_min_cents + 1)
        budget = _muldiv(np.maximum(available - reserve, 0), 1_000_000, 1_000_000 + fee_rate)[0]
    buy = _fund(wanted, budget, minimum)
    fee = sell_fee + fees(buy, fee_rate, fee_min_cents)
    units = _quantities(sell + buy, ticks, "down")  # an instrument is sold or bought, never both
    return {"sell_cents": sell, "buy_cents": buy, "sell_qty": np.where(whole, qty, np.where(sell > 0, units, 0)),
            "buy_qty": np.where(buy > 0, units, 0), "fee_cents": fee, "balanced": balanced, "nav_cents": nav,
            "cash_after_cents": cash + sell.sum(axis=-1) - buy.sum(axis=-1) - fee.sum(axis=-1)}


def _book(qty_units: object, money: object, money_name: str, price: object, target_units: object,
          min_order_cents: object
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple[int, ...]]:
    """Validated inputs broadcast and flattened to ``(portfolios, instruments)`` rows, and the
    leading shape to restore; money may be negative only when it is a cash flow."""
    qty = _ints(qty_units, "qty_units")
    money = _ints(money, money_name, negative=money_name == "cash_flow_cents")
    ticks = _price_ticks(price)
    weights = _weights(target_units, "target_units")
    minimum = _ints(min_order_cents, "min_order_cents")
    shape = np.broadcast_shapes(qty.shape, ticks.shape, weights.shape, money.shape + (1,), minimum.shape + (1,))
    n = shape[-1]
    rows = [np.broadcast_to(a, shape).reshape(-1, n) for a in (qty, ticks, weights)]
    money = np.broadcast_to(money, shape[:-1]).reshape(-1)
    minimum = np.broadcast_to(minimum, shape[:-1]).reshape(-1, 1)
    return rows[0], money, rows[1], rows[2], minimum, shape[:-1]


def _unflatten(out: dict[str, np.ndarray], lead: tuple[int, ...]) -> dict[str, np.ndarray]:
    return {key: array.reshape(lead + array.shape[1:]) for key, array in out.items()}


def _balanced(value: np.ndarray, nav: np.ndarray, weights: np.ndarray, drift: int, relative: bool) -> np.ndarray:
    """True where every value lies in its exact drift band (see :func:`rebalance`, rule 2)."""
    if relative:  # a drift of 1e8 already puts every upper band at the NAV
        scale = WEIGHT_SCALE**2
        step = WEIGHT_SCALE + min(drift, scale)
        with np.errstate(over="ignore"):  # the product is only used where it fits
            upper = np.where(weights > scale // step, scale, weights * step)
        lower = weights * max(WEIGHT_SCALE - drift, 0)
    else:  # a value never exceeds the NAV
        scale = WEIGHT_SCALE
        upper = np.minimum(weights + min(drift, WEIGHT_SCALE), WEIGHT_SCALE)
        lower = np.maximum(weights - drift, 0)
    high, _ = _muldiv(nav[..., None], upper, scale)
    low = _round(*_muldiv(nav[..., None], lower, scale), scale, "up")
    return cast(np.ndarray, ((value >= low) & (value <= high)).all(axis=-1))  # rows: an array (stubs: or a bool)


def fees(cents: np.ndarray, rate: int = 0, minimum: int = 0) -> np.ndarray:
    """Fee cents per trade of ``cents``: ``max(minimum, cents * rate / 1e6)`` rounded half-up,
    ``rate`` in hundredths of a basis point (1e-6); 0 where no trade is done."""
    cents = np.asarray(cents, np.int64)
    quotient, rest = _muldiv(np.maximum(cents, 0), rate, 1_000_000)  # exact past 2**63
    return np.where(cents > 0, np.maximum(quotient + (rest * 2 >= 1_000_000), minimum), 0)


def _fund(wanted: np.ndarray, available: np.ndarray, minimum: np.ndarray) -> np.ndarray:
    """Buys scaled down to the available cash where they exceed it (rule 5), then rule 6 again."""
    total = wanted.sum(axis=-1)
    short = total > available
    if not short.any():
        return wanted
    rows = np.flatnonzero(short)
    scaled = _apportion(available[rows], wanted[rows], total[rows])
    funded = wanted.copy()
    funded[rows] = np.where(scaled >= minimum[rows], scaled, 0)
    return funded


def rebalance_book(holdings: xr.DataArray, cash: xr.DataArray, prices: xr.DataArray, targets: xr.DataArray,
                   **kw) -> xr.Dataset:
    """:func:`rebalance` on labelled arrays; keeps every label and extra dimension.

    ``holdings`` (portfolio, instrument) in quantity units, ``cash`` (portfolio,) in cents,
    ``prices`` (instrument,) per share, ``targets`` (portfolio, instrument) in weight units; the
    instrument labels must match exactly. Works on dask-backed arrays chunked over portfolios
    (``dask="parallelized"``). Returns a Dataset of the arrays :func:`rebalance` returns.
    """
    def run(qty, money, price, weights):
        out = rebalance(qty, money, price, weights, **kw)
        return tuple(out[key] for key in ORDER_KEYS + PORTFOLIO_KEYS)

    try:
        xr.align(holdings, cash, prices, targets, join="exact")
    except ValueError as error:
        raise _one(INSTRUMENT, "holdings, prices and targets must list the same instruments in the same "
                               "order, and cash the same portfolios as holdings; reindex them first") from error
    outputs = xr.apply_ufunc(
        run, holdings, cash, prices, targets,
        input_core_dims=[[INSTRUMENT], [], [INSTRUMENT], [INSTRUMENT]],
        output_core_dims=[[INSTRUMENT]] * len(ORDER_KEYS) + [[]] * len(PORTFOLIO_KEYS),
        dask="parallelized", output_dtypes=[np.int64] * len(ORDER_KEYS) + [bool, np.int64, np.int64])
    book = xr.Dataset(dict(zip(ORDER_KEYS + PORTFOLIO_KEYS, outputs)))
    for key, unit in (("sell_cents", "cents"), ("buy_cents", "cents"), ("nav_cents", "cents"),
                      ("cash_after_cents", "cents"), ("fee_cents", "cents"), ("sell_qty", "1e-10 share"),
                      ("buy_qty", "1e-10 share")):
        book[key].attrs["units"] = unit
    return book


def water_fill(qty_units: object, cash_flow_cents: object, price: object, target_units: object,
               min_order_cents: object = 0) -> dict[str, np.ndarray]:
    """A "smart order": place a cash flow so that the holdings end as close as possible to target.

    An inflow (``cash_flow_cents > 0``) is spent only on buys, an outflow (``< 0``) raised only by
    sells. With ``V_i`` the current values and ``N = sum(V) + flow`` the value after, the final
    values ``v`` solve the quadratic program

        minimise  sum_i (v_i - t_i)**2,   t_i = w_i * N,
        subject to  sum_i v_i = N,   lo_i <= v_i <= hi_i,

    with ``[lo, hi] = [V_i, V_i + flow]`` for an inflow and ``[0, V_i]`` for an outflow. Its KKT
    conditions give ``v_i = clip(t_i + c, lo_i, hi_i)`` with one common level ``c``: water-filling
    (S. Boyd and L. Vandenberghe, *Convex Optimization*, Cambridge University Press, 2004,
    §5.5.3, Example 5.2), where each instrument's ground is its deviation ``V_i - t_i``. For an
    inflow the buys are ``max(0, c - (V_i - t_i))``: the most under-weight instruments (in cents)
    are bought first, up to a common deviation ``c`` from their targets; an outflow is the
    mirror image. ``c`` is found by sorting the ``2n`` breakpoints of the piecewise-linear
    ``sum_i clip(t_i + c, lo_i, hi_i)`` and solving on the segment that holds ``N`` (R. Helgason,
    J. Kennington and H. Lall, "A polynomially bounded algorithm for a singly constrained
    quadratic program", *Mathematical Programming* 18, 1980, 338-343), a sort per row, vectorised.
    Cents are made exact by flooring ``v`` and giving the leftover cents to the largest
    fractional parts (ties to the lower index), so ``sum(buys) - sum(sells) = flow`` exactly and
    every ``v_i`` is within a cent of the real optimum.

    The proportional rule ``v_i = max(V_i, w_i*L)`` would instead solve the weighted objective
    ``sum_i (v_i - t_i)**2 / w_i``; it is not what this function does.

    A trade below ``min_order_cents`` is not done: that instrument is held fixed and the flow is
    placed again over the others (a fixed point, reached in at most ``n`` rounds; a heuristic, as
    a minimum order makes the problem combinatorial). What cannot be
    placed (an outflow beyond what the free positions hold, or a flow below the minimum) is
    returned as ``unplaced_cents``. Quantities round down; selling to 0 sells exactly ``qty``.

    Returns int64 ``buy_cents, sell_cents, buy_qty, sell_qty`` over ``(..., instrument)`` and
    ``unplaced_cents`` over ``(...)``.
    """
    qty, flow, ticks, weights, minimum, lead = _book(qty_units, cash_flow_cents, "cash_flow_cents", price,
                                                     target_units, min_order_cents)
    value = _values(qty, ticks)
    after = value.sum(axis=-1) + flow
    target = weights / WEIGHT_SCALE * after[:, None].astype(np.float64)
    low = np.where(flow[:, None] < 0, 0, value)
    high = np.where(flow[:, None] > 0, value + flow[:, None], value)
    fixed = np.zeros(value.shape, dtype=bool)
    for _ in range(value.shape[-1] + 1):  # rounds of the fixed point, not instruments
        new = _level(target, np.where(fixed, value, low), np.where(fixed, value, high), after)
        change = new - value
        small = (change != 0) & (np.abs(change) < minimum)
        if not small.any():
            break
        fixed |= small
    units = _quantities(np.abs(change), ticks, "down")
    out = {"buy_cents": np.maximum(change, 0), "sell_cents": np.maximum(-change, 0),
           "buy_qty": np.where(change > 0, units, 0),
           "sell_qty": np.where(change < 0, np.where(new == 0, qty, units), 0),
           "unplaced_cents": flow - change.sum(axis=-1)}
    return _unflatten(out, lead)


def _level(target: np.ndarray, low: np.ndarray, high: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """Integer ``v`` with ``sum(v) = clip(goal, sum(low), sum(high))`` nearest to ``clip(target + c)``."""
    goal = np.clip(goal, low.sum(axis=-1), high.sum(axis=-1))
    n = target.shape[-1]
    events = np.concatenate([low - target, high - target], axis=-1)
    steps = np.concatenate([np.ones(n), -np.ones(n)])
    order = np.argsort(events, axis=-1, kind="stable")
    events = np.take_along_axis(events, order, axis=-1)
    steps = steps[order]
    slope = np.cumsum(steps, axis=-1)
    before = slope - steps
    # sum_i clip(target_i + e, low_i, high_i) at each breakpoint e
    total = low.sum(axis=-1)[..., None] + events * before - (np.cumsum(steps * events, axis=-1) - steps * events)
    at = np.clip((total <= goal[..., None]).sum(axis=-1) - 1, 0, 2 * n - 1)[..., None]
    rise = np.take_along_axis(slope, at, axis=-1)
    gap = goal[..., None] - np.take_along_axis(total, at, axis=-1)
    level = np.take_along_axis(events, at, axis=-1) + np.where(rise > 0, gap / np.where(rise > 0, rise, 1), 0)
    exact = np.clip(target + level, low, high)
    floor = np.clip(np.floor(exact).astype(np.int64), low, high)
    key = np.where(floor < high, exact - floor, -1.0)
    return floor + _largest(key, goal - floor.sum(axis=-1))
