"""What every seed contract shares: the pydantic base model, the strict field types built on
:mod:`toolkit.validation`, and :func:`read`, which turns a request (a dict, or JSON text) into a
model or raises one :class:`toolkit.errors.ValidationError` naming every problem by field path.

Field paths follow the toolkit's convention: ``allocation[1].weight`` (pydantic's location
``('allocation', 1, 'weight')``). The strict types refuse what the seeds do not write: a date is
ISO ``YYYY-MM-DD`` only, a decimal is ASCII digits (a JSON number where ``numbers`` says so), an id
is a UUID, a flag is a JSON boolean. Their messages are the readers' own, so a pydantic model and a
hand-read payload word the same problem the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar

import pydantic
from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer
from pydantic_core import PydanticCustomError

from toolkit.errors import Problem, Problems, ValidationError
from toolkit.validation import (
    read_date,
    read_decimal,
    read_flag,
    read_id,
    read_int,
    read_name,
    read_text,
    read_timestamp,
    shown,
)

M = TypeVar("M", bound=BaseModel)


class Contract(BaseModel):
    """A seed request or response: unknown fields are refused (requests) and named; frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, str_strip_whitespace=False,
                              arbitrary_types_allowed=True)

    def to_dict(self) -> dict:
        """The seed's JSON shape: its keys (aliases), decimals as the seed writes them."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=False)


class Open(Contract):
    """A contract that keeps fields it does not know (a response a peer may extend)."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)


def strict(reader: Callable[..., Any], **options: Any) -> Callable[[object], Any]:
    """A pydantic before-validator running one of :mod:`toolkit.validation`'s readers."""

    def check(value: object) -> Any:
        problems = Problems()
        result = reader(value, "", problems, **options)
        if problems:
            raise PydanticCustomError("toolkit", "{message}", {"message": problems.items[0].message})
        return result

    return check


def _text(value: object) -> str:
    return format(value, "f") if isinstance(value, Decimal) else str(value)


#: an ISO 8601 calendar date, ``YYYY-MM-DD``, serialised the same way
IsoDate = Annotated[date, BeforeValidator(strict(read_date)), PlainSerializer(lambda d: d.isoformat(), str)]
#: an ISO 8601 date or date and time
IsoTimestamp = Annotated[datetime, BeforeValidator(strict(read_timestamp)),
                         PlainSerializer(lambda d: d.isoformat(), str)]
#: a decimal string ("100.50"); serialised as a decimal string
DecimalText = Annotated[Decimal, BeforeValidator(strict(read_decimal)), PlainSerializer(_text, str)]
#: a decimal string or a JSON number (the seeds write both); serialised as a decimal string
DecimalValue = Annotated[Decimal, BeforeValidator(strict(read_decimal, numbers=True)), PlainSerializer(_text, str)]
#: a decimal string or JSON number, answered as a JSON number (analytics, weights in a response)
Number = Annotated[Decimal, BeforeValidator(strict(read_decimal, numbers=True)),
                   PlainSerializer(lambda d: float(d), float)]
#: a UUID, in canonical lower-case text
Uuid = Annotated[str, BeforeValidator(strict(read_id))]
#: a JSON boolean only
Flag = Annotated[bool, BeforeValidator(strict(read_flag))]
#: a whole number (not a bool, a float or a string)
Whole = Annotated[int, BeforeValidator(strict(read_int))]
#: a display name: one line, not blank, at most 200 characters
Name = Annotated[str, BeforeValidator(strict(read_name))]
#: a free text of at most 2000 characters
Text = Annotated[str, BeforeValidator(strict(read_text))]


def path_of(location: tuple[int | str, ...]) -> str:
    """Pydantic's error location as the toolkit's field path: ``('allocation', 1, 'weight')`` ->
    ``allocation[1].weight``."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif str(part).startswith(("function-", "constrained-", "json-or-python")) or part in ("", "[key]"):
            continue
        else:
            path += f".{part}" if path else str(part)
    return path


def message_of(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "is required"
    if kind == "toolkit":
        return error["msg"]
    if kind in ("literal_error", "enum"):
        return f"{shown(error.get('input'))} is not one of {error['ctx'].get('expected', '')}"
    if kind.endswith("_type") or kind.endswith("_parsing"):
        got = type(error.get("input")).__name__
        return f"{error['msg'][0].lower()}{error['msg'][1:]}, got {got}"
    return str(error["msg"]).removeprefix("Value error, ")


def problems_of(error: pydantic.ValidationError, prefix: str = "") -> list[Problem]:
    """Every problem of a pydantic error, by the toolkit's field paths (under ``prefix``)."""
    found = []
    for item in error.errors(include_url=False):
        path = path_of(tuple(item["loc"]))
        if prefix:
            path = f"{prefix}.{path}" if path and not path.startswith("[") else f"{prefix}{path}"
        found.append(Problem(path, message_of(item)))
    return found


def payload_of(request: object, what: str = "request") -> object:
    """A request as sent: JSON text (``str`` or ``bytes``) is parsed; anything else is taken as it is."""
    if isinstance(request, bytes | bytearray):
        try:
            request = request.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValidationError([Problem("", f"the body is not UTF-8 text ({exc.reason})")], what) from None
    if isinstance(request, str):
        try:
            return json.loads(request)
        except json.JSONDecodeError as exc:
            raise ValidationError([Problem("", f"not valid JSON: {exc.msg} at line {exc.lineno} column "
                                               f"{exc.colno}")], what) from None
    return request


def read(model: type[M], request: object, what: str = "request") -> M:
    """``request`` (a dict, a model, or JSON text) validated as ``model``; every problem raised at
    once as a :class:`ValidationError` with field paths."""
    if isinstance(request, model):
        return request
    payload = payload_of(request, what)
    if not isinstance(payload, dict):
        raise ValidationError([Problem("", f"expected a JSON object, got {type(payload).__name__}")], what)
    try:
        return model.model_validate(payload)
    except pydantic.ValidationError as exc:
        raise ValidationError(problems_of(exc), what) from None
