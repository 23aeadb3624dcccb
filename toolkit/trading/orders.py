"""Portfolio orders: the seed's request and the child orders it splits into (pure, exact).

Request (brokerage document, line 86; read by :class:`toolkit.contracts.brokerage.PortfolioOrderRequest`)::

    {"user_id": "<uuid>",                       # optional
     "account_id": "<uuid>",                    # required unless the façade is given the account
     "cash_amount": "5000.00", "currency": "USD", "side": "BUY",
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

from toolkit.contracts.brokerage import CENT, SIDES, STATES, PortfolioOrderRequest  # noqa: F401
from toolkit.trading import engine

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
    """A validated portfolio order (:class:`~toolkit.contracts.brokerage.PortfolioOrderRequest`) as
    the order code uses it: exact amount, ISO execution date text (None: the market clock)."""

    side: str
    amount: Decimal
    currency: str
    idempotency_key: str | None
    execution_date: str | None
    user_id: str | None = None
    account_id: str | None = None

    @classmethod
    def of(cls, request: PortfolioOrderRequest) -> OrderRequest:
        day = request.execution_date
        return cls(request.side, request.cash_amount, request.currency, request.idempotency_key,
                   None if day is None else day.isoformat(), request.user_id, request.account_id)

    def to_dict(self) -> dict:
        body = asdict(self)
        body["amount"] = format(self.amount, "f")
        return body


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
