"""The error types of the toolkit.

Every error a user can cause is a :class:`ToolkitError`. A :class:`ValidationError`
carries *every* problem found in a request, each named by its field path
(``history[3].high``), so one round trip tells the user everything to fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class ToolkitError(Exception):
    """Base class of every error the toolkit raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request: where (``path``) and what (``message``)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ValidationError(ToolkitError, ValueError):
    """A request was refused; ``problems`` lists every violation by field path."""

    #: how many problems the message spells out; ``problems`` always holds all of them
    shown = 10

    def __init__(self, problems: list[Problem], what: str = "request") -> None:
        self.problems = list(problems)
        self.what = what
        head = ", ".join(str(p) for p in self.problems[: self.shown])
        more = len(self.problems) - self.shown
        tail = f" (and {more} more)" if more > 0 else ""
        noun = "problem" if len(self.problems) == 1 else "problems"
        super().__init__(f"The {what} has {len(self.problems)} {noun}: {head}{tail}. Nothing was saved.")

    @property
    def paths(self) -> list[str]:
        return [p.path for p in self.problems]

    def to_dict(self) -> dict:
        return {"error": "VALIDATION_ERROR", "message": str(self),
                "problems": [{"path": p.path, "message": p.message} for p in self.problems]}


class NotFoundError(ToolkitError, LookupError):
    """A resource named in a request does not exist."""

    def __str__(self) -> str:  # LookupError would quote the message
        return str(self.args[0]) if self.args else ""


class ConflictError(ToolkitError):
    """The request contradicts the current state (duplicate, wrong state, stale version)."""


class DataError(ToolkitError, ValueError):
    """Market data unfit for use: gaps, NaN, non-positive prices, unsorted or duplicate times."""


class Problems:
    """Collects problems while validating; ``raise_if_any`` turns them into one error."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(Problem(path, message))

    def __bool__(self) -> bool:
        return bool(self.items)

    def require_object(self, payload: object, fields: tuple[str, ...] | None, what: str) -> dict[Any, Any]:
        """Refuse at once a payload that is not a JSON object; note every field outside ``fields``.
        Returns the payload (as the dict it is)."""
        if not isinstance(payload, dict):
            self.add("", f"expected a JSON object, got {type(payload).__name__}")
            raise ValidationError(self.items, what)
        if not fields:  # no list of fields: every key is allowed
            return payload
        for key in sorted(set(payload) - set(fields), key=str):
            self.add(key, f"unknown field; {what} has {', '.join(fields)}")
        return payload

    def require_fields(self, item: object, path: str, allowed: tuple[str, ...]) -> dict | None:
        """A nested object of a payload at ``path``: note each unknown field (``path.key``) and
        return it; not an object: note that and return None."""
        if not isinstance(item, dict):
            self.add(path, f"expected an object with {', '.join(allowed)}, got {type(item).__name__}")
            return None
        for key in sorted(set(item) - set(allowed), key=str):
            self.add(f"{path}.{key}", f"unknown field; expected {', '.join(allowed)}")
        return item

    def raise_if_any(self, what: str = "request") -> None:
        if self.items:
            raise ValidationError(self.items, what)
