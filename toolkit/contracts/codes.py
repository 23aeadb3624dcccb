"""The standard codes the seeds' payloads carry, read strictly: ISO 4217 currencies (pycountry) and
ISO 6166 ISINs (python-stdnum), as :mod:`toolkit.validation`-style readers (value, path, problems)
and as pydantic field types for the contracts.

Decided as the most demanding integrator would: a code is read as the standard writes it, never
guessed at (``"usd"`` and ``" USD "`` are refused like the seeds' other upper-case words); an ISIN's
check digit is verified, so ``IE00BOM62058`` (the brokerage document's example, with the letter O
for the digit 0) is refused naming it.
"""

from __future__ import annotations

from typing import Annotated

import pycountry
from pydantic import BeforeValidator
from stdnum import isin as stdnum_isin
from stdnum.exceptions import ValidationError as StdnumError

from toolkit.contracts.base import strict
from toolkit.errors import Problems

#: ISO 4217 codes that are no money an account, an order or a price can be in: precious metals,
#: drawing rights and bond-market units, the testing code XTS and XXX ("no currency")
NOT_MONEY = frozenset({"XAU", "XAG", "XPT", "XPD", "XDR", "XBA", "XBB", "XBC", "XBD", "XSU", "XUA", "XTS", "XXX"})


def read_currency(value: object, path: str, problems: Problems) -> str | None:
    """An ISO 4217 currency code exactly as the standard writes it: three upper-case letters,
    known to pycountry, and money (not one of :data:`NOT_MONEY`)."""
    if not isinstance(value, str):
        problems.add(path, f"expected a three-letter currency code, got {type(value).__name__}")
        return None
    if len(value) != 3 or not value.isascii() or not value.isupper() or pycountry.currencies.get(alpha_3=value) is None:
        problems.add(path, f"{value[:20]!r} is not an ISO 4217 currency code; write it in capitals, such as \"USD\"")
        return None
    if value in NOT_MONEY:
        problems.add(path, f"{value!r} is an ISO 4217 code for no currency (metals, units, testing); use a currency "
                           "such as \"USD\"")
        return None
    return value


def read_isin(value: object, path: str, problems: Problems) -> str | None:
    """An ISIN (ISO 6166) with a valid check digit, validated by python-stdnum."""
    if not isinstance(value, str):
        problems.add(path, f"expected an ISIN string, got {type(value).__name__}")
        return None
    try:
        return stdnum_isin.validate(value)
    except StdnumError as exc:
        problems.add(path, f"{value!r} is not a valid ISIN ({getattr(exc, 'message', str(exc)).rstrip('.').lower()})")
        return None


#: an ISO 4217 currency code in capitals (``"EUR"``)
Currency = Annotated[str, BeforeValidator(strict(read_currency))]
#: an ISIN whose check digit is right (``"US0378331005"``)
Isin = Annotated[str, BeforeValidator(strict(read_isin))]
