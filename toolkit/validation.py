"""One strict reader each for the values a request carries: decimals, dates, identifiers, flags,
whole numbers and choices.

Every reader takes the raw value, its field path and a :class:`~toolkit.errors.Problems`
collector; it returns the parsed value, or ``None`` after noting one problem at the path. So a
payload is read field by field and one :class:`~toolkit.errors.ValidationError` names every
problem (``problems.raise_if_any``). :func:`one` reads a single keyword argument of a façade
method and raises at once.

Conventions, decided as the most demanding integrator would:

- **Decimals** are ASCII only: an optional sign, digits, an optional point and digits
  (``"1000.00"``, ``"-0.5"``, ``".25"``). Python's ``Decimal()`` also takes ``"1_000"``,
  ``"١٠٠"`` (Arabic-Indic digits), ``"1e3"``, ``" 7 "``, ``"Infinity"`` and ``"NaN"``; none of
  these is a number a brokerage would book, so each is refused. JSON numbers are accepted only
  where a reader is asked to (``numbers=True``, the risk platform's payloads send them): an int
  exactly, a float through its shortest ``repr`` (``0.1`` is ``Decimal("0.1")``); bool never.
- **Dates** are ISO 8601 calendar dates, ``YYYY-MM-DD`` exactly, that exist (``"2022-02-30"``,
  ``"20220301"``, ``"March 1 2022"`` are refused). Timestamps (:func:`read_timestamp`) are an ISO
  date, optionally followed by ``T`` or a space, ``HH:MM[:SS[.ffffff]]`` and a ``Z`` or ``±HH:MM``
  offset. Dates are bounded to the years 1900–2199 (``9999-12-31`` is a typo, not a date).
- **Identifiers** are UUIDs in their canonical lower-case text.
- **Flags** are JSON booleans, never ``"yes"`` or ``1``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal, TypeVar, overload

from toolkit.errors import Problems, ValidationError

T = TypeVar("T")

_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", re.ASCII)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_TIMESTAMP = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})(?:[T ]([0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?)"
                        r"(Z|[+-][0-9]{2}:[0-9]{2})?)?", re.ASCII)
#: the calendar years a date may fall in
YEARS = (1900, 2199)
#: the longest decimal text read (digits and point); longer is a paste error, not an amount
MAX_DECIMAL_CHARS = 40


def decimal_or_none(value: object, *, numbers: bool = False) -> Decimal | None:
    """``value`` as a finite ``Decimal`` under this module's rules, else None (no problem noted)."""
    if isinstance(value, str):
        if len(value) > MAX_DECIMAL_CHARS or not _DECIMAL.fullmatch(value):
            return None
        return Decimal(value)
    if not numbers or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        number = Decimal(repr(value)) if value == value else None
        return number if number is not None and number.is_finite() else None
    return None


def read_decimal(value: object, path: str, problems: Problems, example: str = "1000.00", *,
                 numbers: bool = False, positive: bool = False, places: int | None = None) -> Decimal | None:
    """A decimal string (or, with ``numbers``, a JSON number) as an exact ``Decimal``.

    ``positive`` refuses zero and negatives; ``places`` refuses more decimals than that (an
    amount in cents has ``places=2``). The problem says what was expected, with ``example``.
    """
    number = decimal_or_none(value, numbers=numbers)
    if number is None:
        if isinstance(value, str):
            shown = value if len(value) <= 60 else value[:57] + "..."
            problems.add(path, f"{shown!r} is not a decimal number; write ASCII digits with an optional "
                               f"sign and point, such as \"{example}\"")
        else:
            kind = "a decimal string or a number" if numbers else "a decimal string"
            problems.add(path, f"expected {kind} such as \"{example}\", got {type(value).__name__}")
        return None
    if positive and number <= 0:
        problems.add(path, f"{value} must be greater than 0")
        return None
    exponent = number.normalize().as_tuple().exponent  # an int: the number is finite
    if places is not None and isinstance(exponent, int) and -min(exponent, 0) > places:
        problems.add(path, f"{value} has more than {places} decimals")
        return None
    return number


def date_or_none(value: object) -> date | None:
    """``value`` as a date if it is an ISO ``YYYY-MM-DD`` string of a real day in :data:`YEARS`."""
    if isinstance(value, date) and not isinstance(value, datetime):
        day = value
    elif isinstance(value, str) and _DATE.fullmatch(value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return day if YEARS[0] <= day.year <= YEARS[1] else None


def read_date(value: object, path: str, problems: Problems) -> date | None:
    """An ISO 8601 calendar date ``YYYY-MM-DD`` (a ``datetime.date`` is taken as it is)."""
    day = date_or_none(value)
    if day is None:
        problems.add(path, f"{shown(value)} is not a date; write an ISO date such as \"2022-03-31\" "
                           f"(years {YEARS[0]}-{YEARS[1]})")
    return day


def read_timestamp(value: object, path: str, problems: Problems) -> datetime | None:
    """An ISO 8601 date or date and time (``2022-03-31``, ``2022-03-31T15:30:00Z``), as a datetime
    (naive when no offset is given)."""
    match = _TIMESTAMP.fullmatch(value) if isinstance(value, str) else None
    stamp = None
    if match and date_or_none(match.group(1)) is not None:
        try:
            stamp = datetime.fromisoformat(match.group(0).replace("Z", "+00:00"))
        except ValueError:
            stamp = None
    if stamp is None:
        problems.add(path, f"{shown(value)} is not a timestamp; write ISO 8601 such as \"2022-03-31\" or "
                           f"\"2022-03-31T15:30:00Z\" (years {YEARS[0]}-{YEARS[1]})")
    return stamp


def read_id(value: object, path: str, problems: Problems) -> str | None:
    """A UUID, answered in its canonical lower-case text."""
    if isinstance(value, str) and len(value) <= 45:
        try:
            return str(uuid.UUID(value))
        except ValueError:
            pass
    problems.add(path, f"{shown(value)} is not a UUID")
    return None


def read_flag(value: object, path: str, problems: Problems) -> bool | None:
    """A JSON boolean: ``true`` or ``false``."""
    if isinstance(value, bool):
        return value
    problems.add(path, f"{shown(value)} is not true or false")
    return None


def read_int(value: object, path: str, problems: Problems, low: int | None = None,
             high: int | None = None) -> int | None:
    """A whole number (never a bool, a float or a string) within ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int):
        problems.add(path, f"{shown(value)} is not a whole number")
        return None
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"{low} to {high}" if low is not None and high is not None else \
            f"at least {low}" if low is not None else f"at most {high}"
        problems.add(path, f"{value} is out of range; expected {bounds}")
        return None
    return value


def read_choice(value: object, path: str, problems: Problems, choices: Sequence[T]) -> T | None:
    """One of ``choices``, compared exactly (case matters: the seeds' enums are upper case)."""
    try:
        if value in choices:
            return value  # type: ignore[return-value]
    except TypeError:  # an unhashable value against a dict or set
        pass
    problems.add(path, f"{shown(value)} is not one of {', '.join(map(str, choices))}")
    return None


def read_name(value: object, path: str, problems: Problems, longest: int = 200) -> str | None:
    """A display name: a text that is not blank, at most ``longest`` characters, on one line, without
    control characters or markup (``<``, ``>``: a name is shown in pages and reports, never run)."""
    if not isinstance(value, str):
        problems.add(path, f"expected a string, got {type(value).__name__}")
    elif not value.strip() or len(value) > longest:
        problems.add(path, f"must be 1 to {longest} characters, not blank")
    elif not value.isprintable() or "<" in value or ">" in value:
        problems.add(path, "may not hold control characters, line breaks or markup (< >)")
    else:
        return value
    return None


def read_text(value: object, path: str, problems: Problems, longest: int = 2000) -> str | None:
    """A free text (a description): at most ``longest`` characters, lines and tabs allowed, no other
    control characters."""
    if not isinstance(value, str):
        problems.add(path, f"expected a string, got {type(value).__name__}")
    elif len(value) > longest:
        problems.add(path, f"is {len(value):,} characters long; keep it to {longest:,}")
    elif not value.replace("\n", "").replace("\t", "").replace("\r", "").isprintable():
        problems.add(path, "may not hold control characters other than line breaks and tabs")
    else:
        return value
    return None


def one(reader: Callable[..., T | None], value: object, path: str, what: str = "request", **options) -> T:
    """Read a single value (a façade keyword argument) and raise a ``ValidationError`` naming
    ``path`` at once if it is bad: ``one(read_date, start, "start")``."""
    problems = Problems()
    out = reader(value, path, problems, **options)
    problems.raise_if_any(what)
    return out  # type: ignore[return-value]


def optional(reader: Callable[..., T | None], value: object, path: str, what: str = "request",
             **options) -> T | None:
    """:func:`one` that lets ``None`` through (an omitted keyword argument)."""
    return None if value is None else one(reader, value, path, what, **options)


def read_period(start: object, end: object, problems: Problems, paths: tuple[str, str] = ("start", "end"), *,
                past: bool = False) -> tuple[date | None, date | None]:
    """Optional ``start`` and ``end`` ISO dates (None stays None), with ``start <= end``; with
    ``past``, neither may be later than today (:func:`not_future`)."""
    first, last = (None if v is None else read_date(v, p, problems) for v, p in zip((start, end), paths))
    if past:
        first, last = (not_future(d, p, problems) for d, p in zip((first, last), paths))
    if first is not None and last is not None and first > last:
        problems.add(paths[1], f"{last} is before the start {first}; the period must run forwards")
    return first, last


def today() -> date:
    """Today's date in UTC: what "in the future" is measured against."""
    return datetime.now(UTC).date()


def not_future(day: date | None, path: str, problems: Problems) -> date | None:
    """``day`` unless it is later than :func:`today`; then a problem at ``path`` and None. For what
    can only have happened (a value date, the end of a period of returns)."""
    if day is not None and day > today():
        problems.add(path, f"{day} is in the future (today is {today()}, UTC)")
        return None
    return day


def shown(value: object) -> str:
    """A value as a problem quotes it: its repr, cut to 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@overload
def texts(keys: object, path: str, what: str, each: Literal[True] = True) -> list[str]: ...
@overload
def texts(keys: object, path: str, what: str, each: bool) -> list[Any]: ...  # without each: the items as given


def texts(keys: object, path: str, what: str, each: bool = True) -> list[Any]:
    """``keys`` as a list: one text, or a list (any iterable but a mapping) of texts (of anything
    without ``each``); a ``ValidationError`` names ``path`` or ``path[i]`` otherwise (``"AAPL"`` is one
    key, never four)."""
    if isinstance(keys, str):
        return [keys]
    problems = Problems()
    if isinstance(keys, (dict, bytes)) or not isinstance(keys, Iterable):
        problems.add(path, f"{shown(keys)} is not a text or a list of texts")
        raise ValidationError(problems.items, what)
    items = list(keys)
    for n, key in enumerate(items if each else ()):
        if not isinstance(key, str):
            problems.add(f"{path}[{n}]", f"{shown(key)} is not a text")
    problems.raise_if_any(what)
    return items
