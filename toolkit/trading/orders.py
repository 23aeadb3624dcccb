"""Portfolio orders: the seed's payload and the child orders it splits into (pure, exact).

Request::

    {"cash_amount": "5000.00", "currency": "USD", "side": "BUY",
     "idempotency_key": "client-ref-42",        # optional: a retried request never places twice
     "execution_date": "2022-12-28"}            # optional: the latest date with prices by default

A BUY splits the cash over the account's target weights (its configuration's allocation); a
SELL goes by the current weights of its holdings and may not exceed 90% of the NAV. Each
instrument gets a child order whose cents come from the largest-remainder split of the amount
(they add up exactly to it), with the quantity the cents buy (or sell) at the execution date's
close, truncated to 10 decimals. Fees are charged per child order on top of a BUY's amount and
out of a SELL's proceeds: ``fee = max(minimum, amount * bps / 10,000)`` rounded half-up to the
cent. Child orders below the minimum order amount are not placed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from toolkit.errors import Problems
from toolkit.market.instruments import check_currency
from toolkit.trading import engine
from toolkit.trading.accounts import CENT, check_amount, iso_date

SIDES = ("BUY", "SELL")
STATES = ("NEW", "PROCESSING", "FILLED", "SETTLED", "CANCELLED")
#: allowed state transitions; FILLED and CANCELLED orders never go back
TRANSITIONS = {"NEW": ("PROCESSING", "CANCELLED"), "PROCESSING": ("FILLED", "CANCELLED"),
               "FILLED": ("SETTLED",), "SETTLED": (), "CANCELLED": ()}
#: the transitions of an order filled at once, from its creation
FILL_STEPS = ((None, "NEW"), ("NEW", "PROCESSING"), ("PROCESSING", "FILLED"))
#: a SELL may not exceed this share of the NAV
MAX_SELL_SHARE = Decimal("0.9")


@dataclass(frozen=True)
class FeeSchedule:
    """Per child order: ``max(minimum, amount * bps / 10,000)``, and the smallest child order placed."""

    bps: Decimal = Decimal("0")
    minimum: Decimal = Decimal("0.00")
    min_order: Decimal = Decimal("0.00")

    def fees(self, cents: np.ndarray) -> np.ndarray:
        """Fees in cents for child orders of ``cents`` (0 where no order is placed)."""
        return engine.fees(cents, self.rate, int(self.minimum / CENT))

    @property
    def rate(self) -> int:
        """The bps in hundredths (units of 1e-6), as :func:`toolkit.trading.engine.fees` takes them."""
        return int(self.bps * 100)


@dataclass(frozen=True)
class OrderRequest:
    side: str
    amount: Decimal
    currency: str
    idempotency_key: str | None
    execution_date: str | None

    def to_dict(self) -> dict:
        body = asdict(self)
        body["amount"] = format(self.amount, "f")
        return body


def parse_order(payload: object, account_currency: str) -> OrderRequest:
    """Validate a portfolio order payload; one ``ValidationError`` names every problem."""
    problems = Problems()
    problems.require_object(payload, ("cash_amount", "currency", "side", "idempotency_key", "execution_date"),
                            "portfolio order")
    amount = check_amount(payload.get("cash_amount"), "cash_amount", problems)
    currency = check_currency(payload.get("currency"), "currency", problems)
    if currency and currency != account_currency:
        problems.add("currency", f"{currency} is not the account's currency {account_currency}")
    side = payload.get("side")
    if side not in SIDES:
        problems.add("side", f"{side!r} is not BUY or SELL")
    key = payload.get("idempotency_key")
    if key is not None and (not isinstance(key, str) or not 1 <= len(key) <= 100 or not key.strip()
                            or not key.isprintable()):
        problems.add("idempotency_key", "must be a string of 1 to 100 printable characters, not blank")
    date = payload.get("execution_date")
    if date is not None:
        date = iso_date(date, "execution_date", problems)
    problems.raise_if_any("portfolio order")
    return OrderRequest(side, amount, currency, key, date)


def child_orders(amount: Decimal, weight_units: np.ndarray, prices: np.ndarray,
                 fees: FeeSchedule) -> dict[str, np.ndarray]:
    """Cents, quantities (units of 1e-10 share) and fees (cents) per instrument for one order."""
    cents = engine.split_cents(int(amount / CENT), weight_units)
    cents = np.where(cents >= int(fees.min_order / CENT), cents, 0)
    qty = engine.quantities(cents, prices, "down")
    return {"cents": cents, "qty": qty, "fee": fees.fees(cents)}


def quantity_text(units: int) -> str:
    """A quantity in units of 1e-10 share as the database's decimal string (10 decimals)."""
    return format(Decimal(int(units)).scaleb(-10), "f")


def decimal_texts(units: np.ndarray, places: int) -> list[str]:
    """Integer ``units`` of ``10**-places`` as decimal strings with exactly ``places`` decimals, for a
    whole array at once (``decimal_texts([-250, 5], 2) == ["-2.50", "0.05"]``); the same text
    :func:`cents_text` and :func:`quantity_text` give one value at a time."""
    units = np.asarray(units, np.int64).ravel()
    whole, part = np.divmod(np.abs(units), 10**places)
    signs = np.where(units < 0, "-", "").tolist()
    return [f"{s}{w}.{p:0{places}d}" for s, w, p in zip(signs, whole.tolist(), part.tolist())]


def cents_text(cents: int) -> str:
    return format((Decimal(int(cents)) * CENT).quantize(CENT, rounding=ROUND_HALF_UP), "f")
