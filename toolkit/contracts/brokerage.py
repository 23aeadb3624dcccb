"""The brokerage's model-portfolio API (``seeds/brokerage-model-portfolios.txt``): its requests and
responses as pydantic models, read by :func:`parse` into one :class:`toolkit.errors.ValidationError`
naming every problem by field path (``allocation[1].weight``).

Endpoints (document line) and models:

- ``POST /portfolios/allocations`` (19) and ``PUT /portfolios/allocations/{allocation_id}`` (127):
  :class:`PortfolioAllocationRequest`; answered as :class:`PortfolioAllocationResponse`.
- ``POST /portfolios/configurations`` (57): :class:`PortfolioConfigurationRequest`;
  ``PATCH /portfolios/configurations/{account_id}`` (174): :class:`PortfolioConfigurationUpdate`;
  both answered as :class:`PortfolioConfigurationResponse`.
- ``POST /portfolios/orders`` (82): :class:`PortfolioOrderRequest`; answered as
  :class:`PortfolioOrderResponse`. The "coming soon" smart order (line 100) gives no shape of its
  own: it takes the same request.
- ``POST /portfolios/rebalancings/executions`` (186): :class:`RebalancingExecutionRequest`; answered
  as :class:`RebalancingRunResponse` (the document shows no response; the toolkit's).
- The document's prerequisites, which it does not spell out (accounts, line 47; funding, line 76):
  :class:`AccountOpening` and :class:`CashMovement`, the toolkit's own.

Decisions where the document is vague, taken as its most demanding integrator would:

- ``instrument_id_type`` takes the document's values, ``ISIN`` and ``UPVEST`` ("a Upvest UUID as
  instrument identifier", line 155): the toolkit plays the Investment API, so an ``UPVEST`` id is
  the UUID of one of the workspace's instruments. ``UUID``, the toolkit's earlier name for it, is
  still read and answered as ``UPVEST``. An ``UPVEST`` id the workspace has no instrument for is
  refused at ``allocation[i].instrument_id`` (never accepted into an allocation it could not price).
- Weights are decimal strings, as the document writes them (``"0.7"``), each in (0, 1] with at most
  8 decimals, summing to exactly 1; an instrument is listed once (line 15).
- Responses name their resource as the document does: ``allocation_id`` (line 39),
  ``account_id`` for a configuration (line 66), ``portfolio_order_id`` (line 94); never ``id``.
- An order's ``account_id`` is required (line 88 writes the key ``"account id"``, with a space: a
  mistake, refused naming the key and the field meant); ``user_id`` is optional (the toolkit has no
  users) but must be a UUID when given, and is answered back.
- The rebalancing request's list is ``accounts`` (line 191); the toolkit adds ``allocation_ids``
  (every account configured with them), ``drift``, ``execution_date`` and ``preview``, and still
  reads ``account_ids``, its earlier name for ``accounts``. Exactly one list is given.
- Amounts are decimal strings to the cent (``"100.00"``), positive, at most 10^12.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

import pydantic
from pydantic import BeforeValidator, Field, PlainSerializer, ValidationInfo, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_core import ValidationError as CoreError

from toolkit.contracts.base import (
    Contract,
    DecimalText,
    Flag,
    IsoDate,
    Uuid,
    message_of,
    payload_of,
    problems_of,
    strict,
)
from toolkit.contracts.codes import Currency, read_currency, read_isin
from toolkit.errors import Problem, Problems, ValidationError
from toolkit.validation import not_future, read_date, read_decimal, read_id, shown

M = TypeVar("M", bound=Contract)

#: the document's instrument identifier types (line 28, line 146)
ID_TYPES = ("ISIN", "UPVEST")
#: the toolkit's earlier names of the document's identifier types
ID_TYPE_SYNONYMS = {"UUID": "UPVEST"}
#: decimals a weight may carry (the order engine's weight unit is 1e-8)
WEIGHT_DECIMALS = 8
#: the longest allocation or account name
MAX_NAME = 100
#: the largest single amount accepted (a guard against typos and overflow)
MAX_AMOUNT = Decimal("1000000000000")
CENT = Decimal("0.01")
#: the most accounts (or allocations) one rebalancing names
MAX_ACCOUNTS = 100_000
#: letters, digits, spaces and the punctuation of fund names; no ; " < > \\ or control characters
_NAME = re.compile(r"^[\w .,&()/+'%:-]+$")

SIDES = ("BUY", "SELL")
ACCOUNT_TYPES = ("PORTFOLIO", "TRADING")
#: the statuses a broker uses; only ACTIVE accounts trade
STATUSES = ("ACTIVE", "PENDING", "SUSPENDED", "BLOCKED", "CLOSED")
DRIFT_TYPES = ("ABSOLUTE", "RELATIVE")
#: the order states, and the side of a rebalancing's order
STATES = ("NEW", "PROCESSING", "FILLED", "SETTLED", "CANCELLED")
#: the reasons a rebalancing execution is cancelled
REASONS = ("ACCOUNT_NOT_FOUND", "INVALID_ACCOUNT_TYPE", "INVALID_ACCOUNT_STATUS", "CONFIGURATION_IS_MISSING",
           "ACCOUNT_IS_EMPTY", "PORTFOLIO_IS_BALANCED")


# ----------------------------------------------------------------------------------------- readers


def read_allocation_name(value: object, path: str, problems: Problems) -> str | None:
    """A name of 1 to :data:`MAX_NAME` characters (surrounding spaces dropped) of letters, digits,
    spaces and the punctuation of fund names."""
    if not isinstance(value, str):
        problems.add(path, f"expected a string, got {type(value).__name__}")
        return None
    name = value.strip()
    if not name or len(name) > MAX_NAME:
        problems.add(path, f"must be 1 to {MAX_NAME} characters")
    elif not _NAME.match(name):
        problems.add(path, "may hold letters, digits, spaces and . , & ( ) / + ' % : - only")
    else:
        return name
    return None


def read_weight(value: object, path: str, problems: Problems) -> Decimal | None:
    """A weight: a decimal string in (0, 1] with at most :data:`WEIGHT_DECIMALS` decimals."""
    weight = read_decimal(value, path, problems, "0.25")
    if weight is None:
        return None
    if weight <= 0 or weight > 1:
        problems.add(path, f"{value} is not in (0, 1]; every weight must be greater than 0")
        return None
    exponent = weight.as_tuple().exponent  # an int: read_decimal reads finite decimals only
    if isinstance(exponent, int) and -exponent > WEIGHT_DECIMALS:
        problems.add(path, f"{value} has more than {WEIGHT_DECIMALS} decimals")
        return None
    return weight


def read_amount(value: object, path: str, problems: Problems) -> Decimal | None:
    """A positive amount given as a decimal string to the cent, at most :data:`MAX_AMOUNT`."""
    amount = read_decimal(value, path, problems, "1000.00")
    if amount is None:
        return None
    if amount <= 0:
        problems.add(path, f"{value} is not a positive amount")
    elif amount > MAX_AMOUNT:
        problems.add(path, f"{value} is above the limit of {MAX_AMOUNT}")
    elif amount != amount.quantize(CENT):
        problems.add(path, f"{value} has fractions of a cent; amounts are booked to the cent")
    else:
        return amount.quantize(CENT)
    return None


def read_id_type(value: object, path: str, problems: Problems) -> str | None:
    """``ISIN`` or ``UPVEST`` (``UUID``, the toolkit's earlier name, reads as ``UPVEST``)."""
    if isinstance(value, str) and value in ID_TYPES:
        return value
    if isinstance(value, str) and value in ID_TYPE_SYNONYMS:
        return ID_TYPE_SYNONYMS[value]
    problems.add(path, f"{shown(value)} is not one of {', '.join(ID_TYPES)}")
    return None


def read_instrument_key(value: object, kind: str, path: str, problems: Problems) -> str | None:
    """An instrument identifier of type ``kind``: an ISIN with its check digit, or (``UPVEST``) a UUID."""
    if not isinstance(value, str):
        problems.add(path, f"expected a string, got {type(value).__name__}")
        return None
    return read_isin(value, path, problems) if kind == "ISIN" else read_id(value, path, problems)


def read_key(value: object, path: str, problems: Problems) -> str | None:
    """An idempotency key: 1 to 100 printable characters, not blank."""
    if isinstance(value, str) and 1 <= len(value) <= 100 and value.strip() and value.isprintable():
        return value
    problems.add(path, "must be a string of 1 to 100 printable characters, not blank")
    return None


def read_threshold(value: object, path: str, problems: Problems) -> Decimal | None:
    """A drift threshold: a decimal string from 0 to 1 (a share, 0.02 is 2%)."""
    drift = read_decimal(value, path, problems, "0.02")
    if drift is not None and not 0 <= drift <= 1:
        problems.add(path, f"{drift} is not between 0 and 1")
        return None
    return drift


def read_past_date(value: object, path: str, problems: Problems) -> Any:
    """An ISO date not later than today (UTC): cash is booked once it has moved."""
    return not_future(read_date(value, path, problems), path, problems)


def read_ids(values: object, path: str, problems: Problems) -> tuple[str, ...] | None:
    """1 to :data:`MAX_ACCOUNTS` UUIDs, each named once; problems at ``path[i]``."""
    if not isinstance(values, list) or not values or len(values) > MAX_ACCOUNTS:
        problems.add(path, f"expected a list of 1 to {MAX_ACCOUNTS:,} UUIDs")
        return None
    found = [read_id(v, f"{path}[{i}]", problems) for i, v in enumerate(values)]
    first: dict[str, int] = {}
    for i, key in enumerate(found):
        if key is not None and first.setdefault(key, i) != i:
            problems.add(f"{path}[{i}]", f"repeats {path}[{first[key]}]; name each once")
    return None if problems else tuple(key for key in found if key is not None)


def _quiet(reader, value: object, *args: object) -> Any:
    """``reader(value, *args, path, problems)``'s value, or None where it notes a problem (not kept)."""
    return reader(value, *args, "", Problems())


def _list_of(reader):
    """A before-validator reading a whole list with ``reader(values, path, problems)``: its problems
    at ``field[i]`` land under the field (``accounts[2]``)."""

    def check(values: object, info: ValidationInfo) -> Any:
        problems = Problems()
        out = reader(values, info.field_name, problems)
        if problems:
            raise _error("list", [(_location(p.path.removeprefix(info.field_name or "")), p.message, values)
                                  for p in problems.items])
        return out

    return check


def _location(path: str) -> tuple:
    """A relative path (``"[2]"``, ``"name"``, ``""``) as a pydantic location."""
    return tuple(int(index) if index else name for index, name in re.findall(r"\[(\d+)\]|([^.\[\]]+)", path))


def _error(title: str, items: list[tuple[tuple, str, object]]) -> CoreError:
    """A pydantic error of ``(location, message, input)`` items, each worded as given."""
    return CoreError.from_exception_data(title, [
        InitErrorDetails(type=PydanticCustomError("toolkit", "{message}", {"message": message}), loc=loc,
                         input=value) for loc, message, value in items])


# ----------------------------------------------------------------------------------------- field types

_AS_TEXT = PlainSerializer(lambda d: format(d, "f"), str)
#: an allocation's (or account's) name: see :func:`read_allocation_name`
AllocationName = Annotated[str, BeforeValidator(strict(read_allocation_name))]
#: a weight: see :func:`read_weight`; answered as the decimal string it was given
Weight = Annotated[Decimal, BeforeValidator(strict(read_weight)), _AS_TEXT]
#: an amount to the cent: see :func:`read_amount`; answered as a decimal string
CashAmount = Annotated[Decimal, BeforeValidator(strict(read_amount)), _AS_TEXT]
#: a drift threshold from 0 to 1
Threshold = Annotated[Decimal, BeforeValidator(strict(read_threshold)), _AS_TEXT]
#: the document's identifier types
IdType = Annotated[Literal["ISIN", "UPVEST"], BeforeValidator(strict(read_id_type))]
IdempotencyKey = Annotated[str, BeforeValidator(strict(read_key))]
#: an ISO date, not later than today (UTC)
PastDate = Annotated[date, BeforeValidator(strict(read_past_date)), PlainSerializer(date.isoformat, str)]
#: 1 to 100,000 UUIDs, each once
IdList = Annotated[tuple[str, ...], BeforeValidator(_list_of(read_ids))]


# ----------------------------------------------------------------------------------------- base


class Checked(Contract):
    """A contract with checks across its fields (:meth:`across`), run on the raw payload whether or
    not the fields read, so one refusal names every problem, in the order of the fields (a list's
    items by index, the list's own problems after them)."""

    @model_validator(mode="wrap")
    @classmethod
    def _whole(cls, data: Any, handler, info: ValidationInfo) -> Any:
        found: list[tuple[tuple, str, object]] = []
        try:
            model = handler(data)
        except CoreError as error:
            model, found = None, [(tuple(e["loc"]), _worded(e), e.get("input")) for e in error.errors()]
        failed = {loc for loc, _, _ in found}
        crossed = cls.across(data, info.context or {}, failed) if isinstance(data, dict) else []
        more: list[tuple[tuple, str, object]] = [(loc, message, data) for loc, message in crossed if loc not in failed]
        if not found and not more:
            return model
        raise _error(cls.__name__, sorted(found + more, key=cls._rank))

    @classmethod
    def across(cls, data: dict, context: dict, failed: set[tuple]) -> list[tuple[tuple, str]]:
        """Problems across fields, as ``(location, message)``; ``failed`` holds the locations whose
        fields did not read."""
        return []

    @classmethod
    def _rank(cls, item: tuple[tuple, str, object]) -> tuple[int, float]:
        loc = item[0]
        names = [f.alias or n for n, f in cls.model_fields.items()]
        first = names.index(loc[0]) if loc and loc[0] in names else len(names)
        index = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else float("inf")
        return first, index


def _worded(error: Mapping[str, Any]) -> str:
    """A pydantic error's message; a nested object of the wrong type names the fields it needs."""
    nested = globals().get((error.get("ctx") or {}).get("class_name", ""))
    if error["type"] == "model_type" and isinstance(nested, type) and issubclass(nested, Contract):
        names = [f.alias or n for n, f in nested.model_fields.items()]
        return f"expected an object with {', '.join(names)}, got {type(error.get('input')).__name__}"
    return message_of(error)


def parse(model: type[M], request: object, what: str = "request", **context: object) -> M:
    """``request`` (a dict, JSON text or bytes, or the model) validated as ``model``, with
    ``context`` for the checks that need the workspace's facts (``currency``: the account's;
    ``account_id``: the account named outside the body); every problem raised at once as a
    :class:`ValidationError` with field paths. An unknown key close to a field's name says which one
    was meant (``"account id"``: ``account_id``)."""
    if isinstance(request, model) and not context:
        return request
    payload = request.to_dict() if isinstance(request, model) else payload_of(request, what)
    if not isinstance(payload, dict):
        raise ValidationError([Problem("", f"expected a JSON object, got {type(payload).__name__}")], what)
    try:
        return model.model_validate(payload, context=context)
    except pydantic.ValidationError as exc:
        problems = problems_of(exc)
    meant = {p.path: _meant(model, p.path) for p in problems if p.message == "unknown field" and "." not in p.path
             and "[" not in p.path}
    missing = {p.path for p in problems if p.message == "is required"} & set(meant.values())
    out = []
    for p in problems:
        if p.path in meant:
            names = [f.alias or n for n, f in model.model_fields.items()]
            hint = (f"did you mean {meant[p.path]}?" + (" (it is required)" if meant[p.path] in missing else "")
                    if meant[p.path] else f"{what} has {', '.join(names)}")
            out.append(Problem(p.path, f"unknown field {p.path!r}; {hint}"))
        elif p.path not in missing:  # a required field written with another key is named once, at that key
            out.append(p)
    raise ValidationError(out, what)


def _meant(model: type[pydantic.BaseModel], key: str) -> str | None:
    """The field of ``model`` an unknown top-level ``key`` is close to (``"account id"``: ``account_id``)."""
    names = [f.alias or n for n, f in model.model_fields.items()]
    guess = key.strip().lower().replace(" ", "_").replace("-", "_")
    close = [guess] if guess in names else difflib.get_close_matches(key, names, n=1, cutoff=0.75)
    return close[0] if close else None


# ----------------------------------------------------------------------------------------- allocations


class AllocationEntry(Contract):
    """One instrument of an allocation (line 26): its identifier, the identifier's type and its
    weight. An ISIN's check digit is verified; an ``UPVEST`` id is a UUID (line 145)."""

    instrument_id: str
    instrument_id_type: IdType
    weight: Weight

    @model_validator(mode="after")
    def _identifier(self) -> AllocationEntry:
        problems = Problems()
        key = read_instrument_key(self.instrument_id, self.instrument_id_type, "", problems)
        if problems:
            raise _error("AllocationEntry", [(("instrument_id",), problems.items[0].message, self.instrument_id)])
        return self if key == self.instrument_id else self.model_copy(update={"instrument_id": key})

    @property
    def key(self) -> tuple[str, str]:
        return self.instrument_id_type, self.instrument_id


def _allocation_list(value: object) -> object:
    if not isinstance(value, list) or not value:
        raise PydanticCustomError("toolkit", "{message}", {
            "message": "needs at least one instrument: a list of {instrument_id, instrument_id_type, weight}"})
    return value


class PortfolioAllocationRequest(Checked):
    """``POST /portfolios/allocations`` (line 19) and ``PUT /portfolios/allocations/{allocation_id}``
    (line 127, the complete new allocation, never a delta): an optional name and at least one
    instrument, each listed once, with weights above 0 summing to exactly 1 (line 15)."""

    name: AllocationName | None = None
    allocation: Annotated[tuple[AllocationEntry, ...], BeforeValidator(_allocation_list)] = \
        Field(default=None, validate_default=True)

    @classmethod
    def across(cls, data: dict, context: dict, failed: set[tuple]) -> list[tuple[tuple, str]]:
        items = data.get("allocation")
        if not isinstance(items, list):
            return []
        found: list[tuple[tuple, str]] = []
        seen: dict[tuple[str, str], int] = {}
        weights: list[Decimal | None] = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                weights.append(None)
                continue
            weights.append(_quiet(read_weight, item.get("weight")))
            kind = _quiet(read_id_type, item.get("instrument_id_type"))
            key = _quiet(read_instrument_key, item.get("instrument_id"), kind) if kind else None
            if key is None:
                continue
            if (kind, key) in seen:
                found.append((("allocation", i, "instrument_id"), f"lists {key} again (already at allocation"
                                                                  f"[{seen[kind, key]}]); name each instrument once"))
            else:
                seen[kind, key] = i
        known = [weight for weight in weights if weight is not None]
        if len(known) == len(weights) and sum(known) != 1:
            found.append((("allocation",), f"weights sum to {format(sum(known), 'f')}; they must sum to exactly 1"))
        return found


class AllocationItemResponse(Contract):
    """One instrument of an answered allocation: the request's three keys (``instrument_id`` the
    workspace's instrument UUID, so ``instrument_id_type`` ``UPVEST``) plus the toolkit's ``isin``
    and ``symbol``."""

    instrument_id: str
    instrument_id_type: Literal["ISIN", "UPVEST"] = "UPVEST"
    weight: DecimalText
    isin: str | None = None
    symbol: str | None = None


class PortfolioAllocationResponse(Contract):
    """An allocation as answered: ``allocation_id`` (line 39) and the request's ``name`` and
    ``allocation``, plus the toolkit's ``version``, ``valid_from``, ``created_at`` and ``updated_at``."""

    allocation_id: str
    name: str | None
    allocation: list[AllocationItemResponse]
    version: int
    valid_from: str
    created_at: str
    updated_at: str


# ----------------------------------------------------------------------------------------- configurations


class PortfolioConfigurationRequest(Contract):
    """``POST /portfolios/configurations`` (line 57): the PORTFOLIO account and the allocation it tracks."""

    account_id: Uuid
    allocation_id: Uuid


class PortfolioConfigurationUpdate(Contract):
    """``PATCH /portfolios/configurations/{account_id}`` (line 174): the account's new allocation
    (the account is the path's); the reallocation waits for the next rebalancing (line 170)."""

    allocation_id: Uuid


class PortfolioConfigurationResponse(Contract):
    """A configuration as answered: ``account_id`` (line 66: "the response returns the account_id")
    and ``allocation_id``, plus the toolkit's ``configuration_id``, ``created_at`` and ``updated_at``."""

    account_id: str
    allocation_id: str
    configuration_id: str
    created_at: str
    updated_at: str


# ----------------------------------------------------------------------------------------- orders


class PortfolioOrderRequest(Checked):
    """``POST /portfolios/orders`` (line 82): an amount in the account's currency to invest (BUY,
    by the allocation's weights) or to raise (SELL, by the current weights). ``account_id`` is
    required unless the account is named outside the body (the façade's argument, ``context
    account_id``), and then must agree with it; ``currency`` must be the account's (``context
    currency``). The toolkit adds ``idempotency_key`` (a retried request never places twice) and
    ``execution_date`` (ISO; the market clock by default)."""

    user_id: Uuid | None = None
    account_id: Uuid | None = None
    cash_amount: CashAmount
    currency: Currency
    side: Literal["BUY", "SELL"]
    idempotency_key: IdempotencyKey | None = None
    execution_date: IsoDate | None = None

    @classmethod
    def across(cls, data: dict, context: dict, failed: set[tuple]) -> list[tuple[tuple, str]]:
        found = []
        named = context.get("account_id")
        given = _quiet(read_id, data.get("account_id")) if ("account_id",) not in failed else None
        if data.get("account_id") is None and not named:
            found.append((("account_id",), "is required"))
        elif isinstance(named, str) and given is not None and given != named:
            found.append((("account_id",), f"{given} is not the account {named} the order is placed for"))
        currency = context.get("currency")
        code = _quiet(read_currency, data.get("currency"))
        if currency and code and code != currency:
            found.append((("currency",), f"{code} is not the account's currency {currency}"))
        return found


class PortfolioOrderResponse(Contract):
    """An order as answered: ``portfolio_order_id`` (line 94) and the request's keys (``user_id``,
    ``account_id``, ``cash_amount``, ``currency``, ``side``), plus the toolkit's ``state``,
    ``idempotency_key``, ``execution_date``, ``created_at``, ``child_orders`` and ``state_history``.
    A preview's ``portfolio_order_id`` is None and its state ``PREVIEW``; a rebalancing's order has
    side ``REBALANCE``."""

    portfolio_order_id: str | None
    user_id: str | None = None
    account_id: str
    cash_amount: str
    currency: str
    side: Literal["BUY", "SELL", "REBALANCE"]
    state: Literal["PREVIEW", "NEW", "PROCESSING", "FILLED", "SETTLED", "CANCELLED"]
    idempotency_key: str | None
    execution_date: str
    created_at: str
    child_orders: list[dict]
    state_history: list[dict]


# ----------------------------------------------------------------------------------------- rebalancings


class Drift(Contract):
    """The toolkit's drift threshold: an account whose every weight is within it is balanced;
    ``ABSOLUTE`` compares weights, ``RELATIVE`` takes a share of each target weight."""

    threshold: Threshold
    type: Literal["ABSOLUTE", "RELATIVE"] = "ABSOLUTE"


class RebalancingExecutionRequest(Checked):
    """``POST /portfolios/rebalancings/executions`` (line 186): ``accounts``, the accounts to
    rebalance (line 191). The toolkit adds ``allocation_ids`` (instead of ``accounts``: every account
    configured with them), ``drift``, ``execution_date`` and ``preview`` (compute the trades, place
    nothing), and still reads ``account_ids``, its earlier name for ``accounts``."""

    accounts: IdList | None = None
    account_ids: IdList | None = None
    allocation_ids: IdList | None = None
    drift: Drift | None = None
    execution_date: IsoDate | None = None
    preview: Flag = False

    @classmethod
    def across(cls, data: dict, context: dict, failed: set[tuple]) -> list[tuple[tuple, str]]:
        given = [k for k in ("accounts", "account_ids", "allocation_ids") if data.get(k) is not None]
        if len(given) == 1:
            return []
        return [((given[0] if given else "accounts",),
                 "give accounts (the account ids) or allocation_ids (every account configured with them), one of them")]

    @property
    def account_list(self) -> tuple[str, ...] | None:
        """The accounts named (``accounts`` or ``account_ids``), None when the request names allocations."""
        return self.accounts if self.accounts is not None else self.account_ids


class RebalancingExecution(Contract):
    """One account's execution in a run: ``EXECUTED`` (its order), ``PREVIEW`` or ``CANCELLED`` with
    the reason, and the trades (sells first)."""

    account_id: str
    status: Literal["EXECUTED", "PREVIEW", "CANCELLED"]
    cancellation_reason: Literal[REASONS] | None  # type: ignore[valid-type]
    portfolio_order_id: str | None
    trades: list[dict]


class RebalancingRunResponse(Contract):
    """A run as answered (the document shows none): its ``id``, ``preview``, ``created_at`` and one
    execution per account, in the request's order."""

    id: str
    preview: bool
    created_at: str
    executions: list[RebalancingExecution]


# ----------------------------------------------------------------------------------------- accounts


class AccountOpening(Contract):
    """The toolkit's account request (the document's prerequisite, line 47): ``type`` PORTFOLIO (the
    only type configured and rebalanced, line 53) or TRADING, ``currency``, optional ``name``, and
    ``status`` (ACTIVE by default; only ACTIVE accounts trade, line 76)."""

    type: Literal["PORTFOLIO", "TRADING"]
    currency: Currency
    name: AllocationName | None = None
    status: Literal["ACTIVE", "PENDING", "SUSPENDED", "BLOCKED", "CLOSED"] = "ACTIVE"


class CashMovement(Checked):
    """The toolkit's deposit or withdrawal (the funding of line 76): an amount to the cent in the
    account's currency (``context currency``), and an optional ISO ``value_date`` not later than
    today (UTC): cash is booked once it has moved."""

    amount: CashAmount
    currency: Currency
    value_date: PastDate | None = None

    @classmethod
    def across(cls, data: dict, context: dict, failed: set[tuple]) -> list[tuple[tuple, str]]:
        currency, code = context.get("currency"), _quiet(read_currency, data.get("currency"))
        if currency and code and code != currency:
            return [(("currency",), f"{code} is not the account's currency {currency}")]
        return []
