"""What the risk platform's contracts share (``risk-platform-api.txt``): identifiers, the instrument
object, timeframe ids, directions, and readers for the values a query string carries.

**Identifiers** as the document writes them:

- an **instrument code** names a listing: ``SYMBOL_MIC`` (``AAPL_XNGS``, line 1108: "instrument_code=
  AAPL_XNGS"), a symbol and an ISO 10383 MIC joined by ``_``; a code a user gave its own upload may be
  any other text of the same characters (line 194 shows ``IBM.US``). 1 to 45 of ``A-Z a-z 0-9 . _ - /``.
- ``apiid`` is the integer id of a pricing data provider (GET /api, line 109); a whole number >= 1.
  An instrument is named by its code *and* its ``apiid`` (lines 1108-1109).
- a **MIC** is four upper-case letters or digits (ISO 10383, line 119: ``mic_code=XNGS``); an ISIN is
  checked by its check digit (python-stdnum); a currency is an ISO 4217 code of money, upper case.

Each of these is refused in any other form (``"xngs"``, ``" AAPL_XNGS"``, ``"usd"``): a request is
read as written, never guessed at.

**Query strings.** A GET's parameters arrive as texts (``apiid=8`` is ``"8"``): :data:`QueryWhole`,
:data:`QueryApiId`, :data:`QueryTimeframeId` and :data:`QueryFlag` read ASCII digits and ``true`` /
``false`` from text, and the JSON values themselves, strictly (``"8.0"``, ``" 8"``, ``"+8"``,
``"True"`` are refused).

**Times** are RFC 3339 (line 21: "start of the period in RFC 3339 section 5.6 format e.g.
2019-10-12T07:20:50Z"): :data:`Moment` reads an ISO date or date and time (a time without an
offset is taken as UTC, a date as its midnight UTC) and answers ``2019-10-12T07:20:50Z``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BeforeValidator, PlainSerializer
from stdnum import figi as stdnum_figi

from toolkit.contracts import codes
from toolkit.contracts.base import Contract, Name, strict
from toolkit.errors import Problems
from toolkit.schema import Timeframe
from toolkit.validation import read_decimal, read_int, read_timestamp, shown

#: an instrument code: 1 to 45 of ``A-Z a-z 0-9 . _ - /``, starting with a letter or digit
CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,44}", re.ASCII)
#: a symbol: 1 to 20 of ``A-Z a-z 0-9 . _ - /`` (``BRK.B``, ``EUR/USD``)
SYMBOL = re.compile(r"[A-Za-z0-9._/-]{1,20}", re.ASCII)
#: an ISO 10383 market identifier code
MIC = re.compile(r"[A-Z0-9]{4}", re.ASCII)
#: the separator of a ``SYMBOL_MIC`` instrument code
SEPARATOR = "_"
#: the directions of a position or a wish (lines 227, 236)
DIRECTIONS = ("Long", "Short")
#: the seed's asset classes (GET /constraints/assetclasses, line 609)
ASSET_CLASSES = ("Commodity", "Crypto", "Derivative", "Equity", "FixedIncome", "Forex", "Fund", "Index")
#: the seed's names of the timeframes (GET /history, lines 48-63: "15 Minutes", "1 Hour", "Day")
TIMEFRAME_NAMES = {Timeframe.WEEK: "Week", Timeframe.DAY: "Day", Timeframe.TWO_HOURS: "2 Hours",
                   Timeframe.ONE_HOUR: "1 Hour", Timeframe.FIFTEEN_MINUTES: "15 Minutes"}
_DIGITS = re.compile(r"-?[0-9]{1,18}", re.ASCII)


# --------------------------------------------------------------------------- readers


def read_isin(value: object, path: str, problems: Problems) -> str | None:
    """An ISIN (:func:`toolkit.contracts.codes.read_isin`: check digit verified) in its standard form:
    upper case, without spaces (the history upload has always refused ``"us0378331005"``)."""
    normal = codes.read_isin(value, path, problems)
    if normal is not None and normal != value:
        problems.add(path, f"{shown(value)} is not in its standard form; write it as \"US0378331005\" is written: "
                           "upper case, without spaces")
        return None
    return normal


def _matching(pattern: re.Pattern, problem: str, doc: str) -> Callable[[object, str, Problems], str | None]:
    """A reader of the texts that match ``pattern`` whole; anything else is ``problem`` at its path."""

    def reader(value: object, path: str, problems: Problems) -> str | None:
        if isinstance(value, str) and pattern.fullmatch(value):
            return value
        problems.add(path, f"{shown(value)} {problem}")
        return None

    reader.__doc__ = doc
    return reader


read_mic = _matching(MIC, "is not an ISO 10383 MIC; write four capital letters or digits, such as \"XNGS\"",
                     "An ISO 10383 MIC as the standard writes it: four upper-case letters or digits (``XNGS``).")
read_code = _matching(CODE, "is not an instrument code; write SYMBOL_MIC, such as \"AAPL_XNGS\" (1 to 45 of "
                            "A-Z a-z 0-9 . _ - /)",
                      "An instrument code: ``SYMBOL_MIC`` (``AAPL_XNGS``) or the code of a user's own upload.")
read_symbol = _matching(SYMBOL, "is not a symbol; use 1 to 20 letters, digits and . _ - / (such as \"AAPL\" or "
                                "\"BRK.B\")",
                        "A ticker symbol: 1 to 20 of ``A-Z a-z 0-9 . _ - /`` (``AAPL``, ``BRK.B``, ``EUR/USD``).")


def read_figi(value: object, path: str, problems: Problems) -> str | None:
    """A FIGI (``BBG000B9Y5X2``), its check digit verified (python-stdnum)."""
    if isinstance(value, str) and value == value.strip().upper() and stdnum_figi.is_valid(value):
        return value
    problems.add(path, f"{shown(value)} is not a FIGI; write its 12 characters, such as \"BBG000B9Y5X2\"")
    return None


def read_query_int(value: object, path: str, problems: Problems, low: int | None = None,
                   high: int | None = None) -> int | None:
    """A whole number from a query string (ASCII digits, an optional ``-``) or a JSON whole number,
    within ``[low, high]``."""
    if isinstance(value, str):
        if not _DIGITS.fullmatch(value):
            problems.add(path, f"{shown(value)} is not a whole number; write digits only, such as \"8\"")
            return None
        value = int(value)
    return read_int(value, path, problems, low, high)


def read_query_flag(value: object, path: str, problems: Problems) -> bool | None:
    """A flag from a query string (``true`` or ``false``) or a JSON boolean."""
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    problems.add(path, f"{shown(value)} is not true or false")
    return None


def read_timeframe_id(value: object, path: str, problems: Problems) -> Timeframe | None:
    """A timeframe id (line 20: 0 week, 1 day, 2 two hours, 3 one hour, 4 fifteen minutes)."""
    number = read_query_int(value, path, Problems()) if isinstance(value, str) else value
    if isinstance(number, bool) or not isinstance(number, int) or number not in set(Timeframe):
        valid = ", ".join(f"{t.value} ({TIMEFRAME_NAMES[t].lower()})" for t in Timeframe)
        problems.add(path, f"{shown(value)} is not a timeframe id; use one of {valid}")
        return None
    return Timeframe(number)


def read_moment(value: object, path: str, problems: Problems) -> datetime | None:
    """An RFC 3339 time as an aware UTC datetime (see the module docstring)."""
    stamp = value if isinstance(value, datetime) else read_timestamp(value, path, problems)
    if stamp is None:
        return None
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def read_amount(value: object, path: str, problems: Problems, *, signed: bool = False) -> Decimal | None:
    """An amount of money: a JSON number or decimal text, to the cent; >= 0 unless ``signed``."""
    amount = read_decimal(value, path, problems, "100000.00", numbers=True, places=2)
    if amount is not None and not signed and amount < 0:
        problems.add(path, f"{value} is negative; give an amount >= 0")
        return None
    return amount


def read_non_negative(value: object, path: str, problems: Problems) -> Decimal | None:
    """A number >= 0 (a JSON number or decimal text): a price level where 0 means none."""
    number = read_decimal(value, path, problems, "0", numbers=True)
    if number is not None and number < 0:
        problems.add(path, f"{value} is negative; give a number >= 0 (0: none)")
        return None
    return number


def json_number(number: Decimal) -> int | float:
    """A decimal as the seed writes numbers: ``240`` for a whole number, ``395.1`` otherwise."""
    return int(number) if number == number.to_integral_value() else float(number)


def rfc3339(moment: datetime) -> str:
    """``2019-10-12T07:20:50Z`` (with microseconds only when it has some)."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds" if moment.microsecond else "seconds") + "Z"


# --------------------------------------------------------------------------- field types

Isin = Annotated[str, BeforeValidator(strict(read_isin))]
Mic = Annotated[str, BeforeValidator(strict(read_mic))]
InstrumentCode = Annotated[str, BeforeValidator(strict(read_code))]
Symbol = Annotated[str, BeforeValidator(strict(read_symbol))]
Figi = Annotated[str, BeforeValidator(strict(read_figi))]
#: a provider id in a JSON body: a whole number >= 1
ApiId = Annotated[int, BeforeValidator(strict(read_int, low=1))]
#: a provider id in a query string (``"8"``) or a body
QueryApiId = Annotated[int, BeforeValidator(strict(read_query_int, low=1))]
#: a whole number in a query string or a body
QueryWhole = Annotated[int, BeforeValidator(strict(read_query_int))]
QueryFlag = Annotated[bool, BeforeValidator(strict(read_query_flag))]
#: a timeframe id in a body: the JSON whole number 0 to 4
TimeframeId = Annotated[Timeframe, BeforeValidator(strict(read_int, low=0, high=4)),
                        PlainSerializer(int, int)]
#: a timeframe id in a query string (``"1"``) or a body
QueryTimeframeId = Annotated[Timeframe, BeforeValidator(strict(read_timeframe_id)), PlainSerializer(int, int)]
#: an RFC 3339 time, answered as ``2019-10-12T07:20:50Z``
Moment = Annotated[datetime, BeforeValidator(strict(read_moment)), PlainSerializer(rfc3339, str)]
#: a number > 0 (JSON number or decimal text), answered as a JSON number
Positive = Annotated[Decimal, BeforeValidator(strict(read_decimal, numbers=True, positive=True)),
                     PlainSerializer(json_number)]
#: a number >= 0 (0: none), answered as a JSON number
NonNegative = Annotated[Decimal, BeforeValidator(strict(read_non_negative)), PlainSerializer(json_number)]
#: money >= 0, to the cent, answered as a JSON number
Amount = Annotated[Decimal, BeforeValidator(strict(read_amount)), PlainSerializer(json_number)]
#: money of either sign, to the cent, answered as a JSON number
SignedAmount = Annotated[Decimal, BeforeValidator(strict(read_amount, signed=True)), PlainSerializer(json_number)]
Direction = Literal["Long", "Short"]
AssetClass = Literal["Commodity", "Crypto", "Derivative", "Equity", "FixedIncome", "Forex", "Fund", "Index"]


# --------------------------------------------------------------------------- the instrument object


class Identifiers(Contract):
    """``identifiers`` of an instrument (lines 45-47, 86-90): symbol, ISIN, FIGI."""

    symbol: Symbol | None = None
    isin: Isin | None = None
    figi: Figi | None = None


class Exchange(Contract):
    """``exchange`` of an instrument (lines 36-43): the listing's market by its MIC, and what the
    platform knows of it. A request need only give ``mic_code`` (line 92)."""

    mic_code: Mic
    name: Name | None = None
    priority: int | None = None
    country: Name | None = None
    timezone: Name | None = None
    exchange_code: Name | None = None
    country_iso: Name | None = None
    operating_mic: Mic | None = None


class Classification(Contract):
    """``classification`` (lines 24-27, 93-96): sector, industry, primary country."""

    sector: Name | None = None
    industry: Name | None = None
    primary_country: Name | None = None


class MarginData(Contract):
    """``margin_data`` (line 31): the share of a position's value held as deposit (1: no leverage)."""

    deposit_factor: Positive


class FeeData(Contract):
    """``fee_data`` (lines 33-35): commissions and spread (0 where the platform charges none)."""

    fixed_commission: NonNegative
    variable_commission: NonNegative
    spread: NonNegative


class InstrumentRef(Contract):
    """An instrument named by its code and provider (``{"instrument_code": "TSLA_XNGS", "apiid": 8}``,
    lines 224-226)."""

    instrument_code: InstrumentCode
    apiid: ApiId
