"""The bad-input table (issue 17): every kind of bad request across the façade is refused with the
right error type, names the field (or the offending id), and leaves the database byte-for-byte as
it was.

One module-scoped, writable copy of the demo workspace holds real resources (an allocation, a funded
and configured PORTFOLIO account with one filled BUY, a TRADING account, CLOSED and SUSPENDED
accounts, orders in NEW, FILLED and CANCELLED states, an uploaded risk portfolio, an index and a
strategy), so that each case has exactly one thing wrong. Nothing may change, so the cases share it.

"Byte-for-byte" is checked on SQLite's own serialisation of the database (``Connection.serialize``:
every page of the file as this connection sees it, committed WAL frames included), hashed with
SHA-256 before and after each call; the bulk ``prices`` and ``fx_rates`` tables are part of it. When
a case changes the database, the failure names the tables whose rows differ, and the workspace is
restored from a pristine backup so that the next case starts clean.

The error types, decided as a demanding API user would: a malformed field of a payload or keyword
is a ``ValidationError`` naming its path; an id inside a payload that names nothing is a
``ValidationError`` naming the field (``account_id``, ``allocation_ids[0]``), an id given as the
resource itself (``orders.cancel(id)``, ``allocations.replace(id, ...)``) a ``NotFoundError`` quoting
it, whatever its form (as a REST API answers 404 for any path it does not know); a request that
contradicts the state of the book (an overdraft, an order to a CLOSED account, a FILLED order
cancelled, an idempotency key reused) a ``ConflictError`` naming the state or the account; an
amount above what the holdings are worth is a ``ValidationError`` of ``cash_amount``; an analytics
window without prices a ``DataError``. Dates are never in the future where only the past can be
(value dates, periods of returns, as_of, master data); a CLOSED account is never reopened.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _pytest.mark import ParameterSet

from toolkit.errors import ConflictError, DataError, NotFoundError, ToolkitError, ValidationError
from toolkit.workspace import Workspace

AAPL, MSFT, SAP = "US0378331005", "US5949181045", "DE0007164600"
AAPL_ID = "26ea6c48-c8c7-54d4-9cf2-0e441127696d"
SPX_ID = "c0176d44-3023-5662-8431-4c5e9e687001"
UNKNOWN = "00000000-0000-4000-8000-000000000000"
KEY = "bad-input-key-1"
SQL = "5; DROP TABLE accounts"
OR_TRUE = "' OR 1=1 --"
SCRIPT = "<script>alert(1)</script>"
HUGE = "x" * 10_000_000
#: lenient spellings of a number that Python's Decimal() or float() would take, and no API should
LENIENT = {"underscore": "1_000.00", "arabic-indic": "١٠٠.٠٠", "exponent": "1e3", "spaces": " 7 ",
           "nan": "NaN", "infinity": "Infinity"}
#: a webhook URL for each kind of address webhooks may never go to (without allow_private)
FORBIDDEN_URLS = {"metadata-ipv4": "http://169.254.169.254/", "private-10": "http://10.0.0.1/",
                  "metadata-ipv6": "http://[fd00:ec2::254]/", "unspecified": "http://0.0.0.0/",
                  "metadata-name": "http://metadata.google.internal/", "mapped-private": "http://[::ffff:10.0.0.1]/",
                  "shared-cgnat": "http://100.64.0.1/", "multicast": "http://224.0.0.1/"}


# =========================================================================== the workspace


@dataclass
class Ctx:
    """The workspace and the ids of its resources (``ws`` is reopened after a restore)."""

    ws: Workspace
    path: Path
    pristine: Path
    digest: str
    allocation: str
    portfolio: str  # funded, configured, one filled BUY (KEY)
    trading: str
    closed: str
    suspended: str
    bare: str  # a funded PORTFOLIO account without a configuration
    eur: str  # a funded PORTFOLIO account in EUR, no configuration
    filled: str
    new: str
    cancelled: str
    risk: str
    index: str
    strategy: int


def digest(ws: Workspace) -> str:
    """SHA-256 of the database's pages as SQLite serialises them."""
    return hashlib.sha256(ws.db.conn.serialize()).hexdigest()


def tables(ws: Workspace) -> dict[str, int]:
    """A hash of each table's rows (ordered by every column), to name what changed."""
    conn, out = ws.db.conn, {}
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").fetchall():
        width = len(conn.execute(f'SELECT * FROM "{name}" LIMIT 0').description)
        order = ", ".join(str(i + 1) for i in range(width))
        out[name] = hash(tuple(conn.execute(f'SELECT * FROM "{name}" ORDER BY {order}').fetchall()))
    return out


def _order(amount: str = "1000.00", **extra) -> dict:
    return {"cash_amount": amount, "currency": "USD", "side": "BUY", **extra}


def _setup(ws: Workspace) -> dict[str, Any]:
    """The resources the cases name, by the field of :class:`Ctx` that holds each."""
    allocation = ws.allocations.create({"name": "Bad input model", "allocation": [
        {"instrument_id": AAPL, "instrument_id_type": "ISIN", "weight": "0.6"},
        {"instrument_id": MSFT, "instrument_id_type": "ISIN", "weight": "0.4"}]}).id

    def account(kind: str = "PORTFOLIO", currency: str = "USD", configured: bool = False) -> str:
        made = ws.accounts.create({"type": kind, "currency": currency}).id
        ws.accounts.deposit(made, {"amount": "100000.00", "currency": currency, "value_date": "2022-01-03"})
        if configured:
            ws.configurations.create({"account_id": made, "allocation_id": allocation})
        return made

    portfolio = account(configured=True)
    filled = ws.orders.place(portfolio, _order("10000.00", execution_date="2022-01-04", idempotency_key=KEY)).id
    new = ws.orders.place(portfolio, _order(execution_date="2022-06-01"), execute=False).id
    cancelled = ws.orders.place(portfolio, _order(execution_date="2022-06-01"), execute=False).id
    assert filled and new and cancelled  # placed orders have ids
    ws.orders.cancel(cancelled)
    closed, suspended = account(configured=True), account(configured=True)
    ws.accounts.set_status(closed, "CLOSED")
    ws.accounts.set_status(suspended, "SUSPENDED")
    risk = ws.portfolios.upload({**risk_body(), "name": "Bad input book"}, "BAD-INPUT-BOOK").client_reference
    index = ws.attribution.create_index({"name": "Bad input index", "method": "equal", "currency": "USD",
                                         "constituents": [{"symbol": "AAPL"}, {"symbol": "MSFT"}]}).id
    strategy = ws.strategies.create({"name": "Bad input strategy", "rules": [{"rule_id": 14}]}).strategy_id
    return dict(allocation=allocation, portfolio=portfolio, trading=account("TRADING"), closed=closed,
                suspended=suspended, bare=account(), eur=account(currency="EUR"), filled=filled, new=new,
                cancelled=cancelled, risk=risk, index=index, strategy=strategy)


@pytest.fixture(scope="module")
def ctx(demo_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ctx]:
    folder = tmp_path_factory.mktemp("bad_input")
    path, pristine = folder / "bad.db", folder / "pristine.db"
    shutil.copy(demo_path, path)
    ws = Workspace.open(path)
    ids = _setup(ws)
    ws.backup(pristine)
    made = Ctx(ws=ws, path=path, pristine=pristine, digest=digest(ws), **ids)
    yield made
    made.ws.close()


def _restore(ctx: Ctx) -> None:
    """Put the pristine copy back after a case changed the database."""
    ctx.ws.close()
    shutil.copy(ctx.pristine, ctx.path)
    for suffix in ("-wal", "-shm"):
        Path(f"{ctx.path}{suffix}").unlink(missing_ok=True)
    ctx.ws = Workspace.open(ctx.path)
    ctx.digest = digest(ctx.ws)


# =========================================================================== payloads


def allocation(*rows: tuple, **top) -> dict:
    """An allocation payload of ``(instrument_id, type, weight)`` rows (AAPL 0.6, MSFT 0.4 by default)."""
    rows = rows or ((AAPL, "ISIN", "0.6"), (MSFT, "ISIN", "0.4"))
    return {"name": "Model", "allocation": [{"instrument_id": i, "instrument_id_type": t, "weight": w}
                                            for i, t, w in rows], **top}


def weights(first: object, second: object = "0.4") -> dict:
    return allocation((AAPL, "ISIN", first), (MSFT, "ISIN", second))


def money(amount: object = "100.00", **extra) -> dict:
    return {"amount": amount, "currency": "USD", **extra}


def order(**changes) -> dict:
    return {**_order("100.00"), **changes}


def without(payload: dict, key: str) -> dict:
    return {k: v for k, v in payload.items() if k != key}


BARS = [{"timestamp": f"2022-01-0{d}", "open": 100.0, "high": 102.0, "low": 99.0, "close": 101.0, "volume": 1000}
        for d in (3, 4, 5)]


def history(bars: list[dict] | None = None, **top) -> dict:
    """A history upload of a new EUR series (SAP) with three good daily bars unless ``bars``."""
    return {"isin": SAP, "currency": "EUR", "timeframe": 1, "symbol": "SAP", "name": "SAP SE",
            "history": BARS if bars is None else bars, **top}


def bar(n: int, **changes) -> list[dict]:
    """The three good bars with bar ``n`` changed."""
    return [{**b, **changes} if i == n else b for i, b in enumerate(BARS)]


def risk_body(**changes) -> dict:
    """PUT /portfolio's body (risk-platform-api.txt lines 209-241) with ``changes`` at the top."""
    return {"name": "Risk book", "capital": {"currency": "USD", "funds": "100000.00"}, "wishlist": [],
            "positions": [{"instrument_code": "AAPL_XNGS", "apiid": 8, "size": "10", "level": 75.0,
                           "date_open": "2020-01-02T15:00:00Z", "direction": "Long"}], **changes}


def capital(**changes) -> dict:
    return risk_body(capital={**risk_body()["capital"], **changes})


def position(**changes) -> dict:
    return risk_body(positions=[{**risk_body()["positions"][0], **changes}])


def master(**changes) -> dict:
    return {"performanceMeasurementStartDate": "2022-01-04", "dailyPerformanceStartDate": "2022-02-01", **changes}


def returns_request(ctx: Ctx, **changes) -> dict:
    return {"portfolioId": ctx.portfolio, "startDate": "2022-02-01", "endDate": "2022-11-30", **changes}


def instrument_request(**changes) -> dict:
    return {"instrumentIds": ["AAPL"], "startDate": "2022-02-01", "endDate": "2022-11-30", **changes}


def index(**changes) -> dict:
    return {"name": "Another index", "method": "equal", "currency": "USD",
            "constituents": [{"symbol": "AAPL"}, {"symbol": "MSFT"}], **changes}


def attribution(ctx: Ctx, **changes) -> dict:
    return {"portfolio_id": ctx.portfolio, "benchmark": {"index_id": ctx.index}, "start_date": "2022-02-01",
            "end_date": "2022-11-30", **changes}


def optimisation(ctx: Ctx, **changes) -> dict:
    return {"portfolio_id": ctx.portfolio, "rule_name": "Equal Weight", **changes}


def strategy(**changes) -> dict:
    return {"name": "Another strategy", "rules": [{"rule_id": 14}], **changes}


def seed_optimisation(ctx: Ctx, **changes) -> dict:
    return {"client_reference": ctx.portfolio, "strategy_id": str(ctx.strategy), **changes}


def webhook(ctx: Ctx, url: str = "http://127.0.0.1:9/hook", **changes) -> object:
    return ctx.ws.events.subscribe_webhook(**{"name": "bad-input", "url": url, "secret": "s3cret", **changes})


# =========================================================================== the table

V, N, C, D = ValidationError, NotFoundError, ConflictError, DataError
Call = Callable[[Ctx], object]
#: a row of :func:`variants`: the changes to the good request (or a function of ``ctx`` giving them),
#: the error expected, and the field path (or the text) it must name
Row = tuple[dict | Callable[[Ctx], dict], type[ToolkitError], str]


def case(name: str, call: Call, error: type[ToolkitError], where: str) -> ParameterSet:
    return pytest.param(call, error, where, id=name)


def variants(prefix: str, call: Callable[[Ctx, dict], object], rows: dict[str, Row]) -> list:
    """One case per row ``name: (changes, error, where)``: ``call(ctx, changes)`` (a fresh copy each time)."""

    def bound(changes: dict | Callable[[Ctx], dict]) -> Call:  # the row's changes, bound now
        return lambda c: call(c, dict(changes(c) if callable(changes) else changes))

    return [case(f"{prefix}-{name}", bound(changes), error, where) for name, (changes, error, where) in rows.items()]


def lenient(path: str) -> dict[str, Row]:
    """A row per lenient spelling of a number, at ``path``."""
    return {kind: ({path: value}, V, path) for kind, value in LENIENT.items()}


CASES = [
    # ------------------------------------------------------------------ allocations
    *variants("allocation", lambda c, ch: c.ws.allocations.create(ch["payload"]), {
        "list-for-object": ({"payload": [allocation()]}, V, ""),
        "object-for-list": ({"payload": {"allocation": allocation()["allocation"][0]}}, V, "allocation"),
        "missing": ({"payload": {"name": "x"}}, V, "allocation"),
        "empty": ({"payload": allocation() | {"allocation": []}}, V, "allocation"),
        "unknown-field": ({"payload": allocation(owner="me")}, V, "owner"),
        "unknown-nested-field": ({"payload": {"allocation": [{**allocation()["allocation"][0], "note": "x"},
                                                             allocation()["allocation"][1]]}}, V, "allocation[0].note"),
        "item-not-object": ({"payload": {"allocation": [AAPL, allocation()["allocation"][1]]}}, V, "allocation[0]"),
        "duplicate-isin": ({"payload": allocation((AAPL, "ISIN", "0.5"), (AAPL, "ISIN", "0.5"))}, V,
                           "allocation[1].instrument_id"),
        "duplicate-across-id-types": ({"payload": allocation((AAPL, "ISIN", "0.5"), (AAPL_ID, "UUID", "0.5"))}, V,
                                      "allocation[1].instrument_id"),
        "unknown-isin": ({"payload": allocation((SAP, "ISIN", "0.6"), (MSFT, "ISIN", "0.4"))}, V,
                         "allocation[0].instrument_id"),
        "bad-isin-check-digit": ({"payload": allocation(("US0378331006", "ISIN", "0.6"), (MSFT, "ISIN", "0.4"))}, V,
                                 "allocation[0].instrument_id"),
        "unknown-uuid": ({"payload": allocation((UNKNOWN, "UUID", "0.6"), (MSFT, "ISIN", "0.4"))}, V,
                         "allocation[0].instrument_id"),
        "not-a-uuid": ({"payload": allocation((SQL, "UUID", "0.6"), (MSFT, "ISIN", "0.4"))}, V,
                       "allocation[0].instrument_id"),
        "id-type-lower-case": ({"payload": allocation((AAPL, "isin", "0.6"), (MSFT, "ISIN", "0.4"))}, V,
                               "allocation[0].instrument_id_type"),
        "not-tradable": ({"payload": allocation((SPX_ID, "UUID", "0.6"), (MSFT, "ISIN", "0.4"))}, V,
                         "allocation[0].instrument_id"),
        "name-markup": ({"payload": allocation(name=SCRIPT)}, V, "name"),
        "name-10mb": ({"payload": allocation(name=HUGE)}, V, "name"),
        "name-sql": ({"payload": allocation(name=SQL)}, V, "name"),
        "name-number": ({"payload": allocation(name=5)}, V, "name"),
    }),
    *variants("weight", lambda c, ch: c.ws.allocations.create(weights(*ch["weights"])), {
        "number-for-string": ({"weights": (0.6,)}, V, "allocation[0].weight"),
        **{kind: ({"weights": (value,)}, V, "allocation[0].weight") for kind, value in LENIENT.items()},
        "negative": ({"weights": ("1.4", "-0.4")}, V, "allocation[1].weight"),
        "zero": ({"weights": ("1", "0")}, V, "allocation[1].weight"),
        "nine-decimals": ({"weights": ("0.600000001",)}, V, "allocation[0].weight"),
    }),
    case("weights-sum-below-one", lambda c: c.ws.allocations.create(weights("0.6", "0.3")), V, "allocation"),
    case("allocation-replace-unknown", lambda c: c.ws.allocations.replace(UNKNOWN, allocation()), N, UNKNOWN),
    case("allocation-replace-sql-id", lambda c: c.ws.allocations.replace(SQL, allocation()), N, SQL),
    case("allocation-replace-bad-weights", lambda c: c.ws.allocations.replace(c.allocation, weights("0.7")), V,
         "allocation"),
    case("allocation-get-impossible-as-of", lambda c: c.ws.allocations.get(c.allocation, as_of="2022-02-30"), V,
         "as_of"),
    case("allocation-get-unknown", lambda c: c.ws.allocations.get(UNKNOWN), N, UNKNOWN),
    *variants("allocation-list", lambda c, ch: c.ws.allocations.list(**ch), {
        "limit-zero": ({"limit": 0}, V, "limit"),
        "limit-text": ({"limit": "10"}, V, "limit"),
        "garbage-date": ({"start_date": "garbage"}, V, "start_date"),
        "start-after-end": ({"start_date": "2022-03-01", "end_date": "2022-02-01"}, V, "end_date"),
        # the seed's query parameter as a query string gives it: comma-separated ids, each named by position
        "ids-as-text-with-a-bad-one": ({"instrument_ids": f"{AAPL},nope"}, V, "instrument_ids[1]"),
        "ids-as-a-mapping": ({"instrument_ids": {"isin": AAPL}}, V, "instrument_ids"),
        "id-neither": ({"instrument_ids": ["nope"]}, V, "instrument_ids[0]"),
    }),
    # ------------------------------------------------------------------ accounts
    case("account-list-for-object", lambda c: c.ws.accounts.create([{"type": "PORTFOLIO"}]), V, ""),
    case("account-type-missing", lambda c: c.ws.accounts.create({"currency": "USD"}), V, "type"),
    *variants("account", lambda c, ch: c.ws.accounts.create({"type": "PORTFOLIO", "currency": "USD", **ch}), {
        "type-lower-case": ({"type": "portfolio"}, V, "type"),
        "currency-lower-case": ({"currency": "usd"}, V, "currency"),
        "currency-xxx": ({"currency": "XXX"}, V, "currency"),
        "currency-number": ({"currency": 840}, V, "currency"),
        "status-unknown": ({"status": "OPEN"}, V, "status"),
        "name-markup": ({"name": SCRIPT}, V, "name"),
        "name-10mb": ({"name": HUGE}, V, "name"),
        "unknown-field": ({"owner": "me"}, V, "owner"),
    }),
    case("account-list-type-lower-case", lambda c: c.ws.accounts.list(type="trading"), V, "type"),
    case("account-list-limit-over-max", lambda c: c.ws.accounts.list(limit=1001), V, "limit"),
    case("account-status-lower-case", lambda c: c.ws.accounts.set_status(c.bare, "closed"), V, "status"),
    case("account-reopen-closed", lambda c: c.ws.accounts.set_status(c.closed, "ACTIVE"), C, "CLOSED"),
    case("account-status-unknown-account", lambda c: c.ws.accounts.set_status(UNKNOWN, "ACTIVE"), N, UNKNOWN),
    case("account-get-or-true", lambda c: c.ws.accounts.get(OR_TRUE), N, OR_TRUE),
    case("holdings-account-id-number", lambda c: c.ws.accounts.holdings([c.portfolio, 5]), V, "account_ids[1]"),  # type: ignore[list-item]
    case("holdings-unknown-account", lambda c: c.ws.accounts.holdings([c.portfolio, UNKNOWN]), N, UNKNOWN),
    case("ledger-unknown-account", lambda c: c.ws.accounts.ledger(UNKNOWN), N, UNKNOWN),
    *variants("deposit", lambda c, ch: c.ws.accounts.deposit(c.bare, money(**ch)), {
        **lenient("amount"),
        "number-for-string": ({"amount": 100}, V, "amount"),
        "negative": ({"amount": "-5.00"}, V, "amount"),
        "zero": ({"amount": "0.00"}, V, "amount"),
        "fraction-of-cent": ({"amount": "0.001"}, V, "amount"),
        "over-maximum": ({"amount": "1000000000000.01"}, V, "amount"),
        "sql-amount": ({"amount": OR_TRUE}, V, "amount"),
        "10mb-amount": ({"amount": "1" * 10_000_000}, V, "amount"),
        "currency-mismatch": ({"currency": "EUR"}, V, "currency"),
        "currency-lower-case": ({"currency": "usd"}, V, "currency"),
        "month-13": ({"value_date": "2022-13-01"}, V, "value_date"),
        "february-30": ({"value_date": "2022-02-30"}, V, "value_date"),
        "garbage-date": ({"value_date": "garbage"}, V, "value_date"),
        "basic-iso-date": ({"value_date": "20220301"}, V, "value_date"),
        "year-9999": ({"value_date": "9999-12-31"}, V, "value_date"),
        "future-value-date": ({"value_date": "2150-01-02"}, V, "value_date"),
        "unknown-field": ({"memo": "x"}, V, "memo"),
    }),
    case("deposit-missing-amount", lambda c: c.ws.accounts.deposit(c.bare, {"currency": "USD"}), V, "amount"),
    case("deposit-list-for-object", lambda c: c.ws.accounts.deposit(c.bare, [money()]), V, ""),  # type: ignore[arg-type]
    case("deposit-closed-account", lambda c: c.ws.accounts.deposit(c.closed, money()), C, "CLOSED"),
    case("deposit-unknown-account", lambda c: c.ws.accounts.deposit(UNKNOWN, money()), N, UNKNOWN),
    case("deposit-sql-account", lambda c: c.ws.accounts.deposit(SQL, money()), N, SQL),
    case("withdraw-above-cash", lambda c: c.ws.accounts.withdraw(c.bare, money("100000.01")), C, "overdraw"),
    case("withdraw-suspended", lambda c: c.ws.accounts.withdraw(c.suspended, money()), C, "SUSPENDED"),
    # ------------------------------------------------------------------ configurations
    case("configuration-list-for-object", lambda c: c.ws.configurations.create([c.bare]), V, ""),
    *variants("configuration", lambda c, ch: c.ws.configurations.create(
        {k: v for k, v in ({"account_id": c.bare, "allocation_id": c.allocation} | ch).items() if v is not None}), {
        "account-not-uuid": ({"account_id": SQL}, V, "account_id"),
        "unknown-account": ({"account_id": UNKNOWN}, V, "account_id"),
        "unknown-allocation": ({"allocation_id": UNKNOWN}, V, "allocation_id"),
        "missing-allocation": ({"allocation_id": None}, V, "allocation_id"),
        "trading-account": (lambda c: {"account_id": c.trading}, V, "account_id"),
        "currency-mismatch": (lambda c: {"account_id": c.eur}, V, "allocation_id"),
        "twice": (lambda c: {"account_id": c.portfolio}, C, "already has a configuration"),
        "unknown-field": ({"drift": "0.02"}, V, "drift"),
    }),
    case("configuration-switch-unconfigured", lambda c: c.ws.configurations.switch(c.bare, c.allocation), N,
         "no configuration"),
    case("configuration-switch-unknown-allocation", lambda c: c.ws.configurations.switch(c.portfolio, UNKNOWN), V,
         "allocation_id"),
    case("configuration-get-unknown", lambda c: c.ws.configurations.get(UNKNOWN), N, UNKNOWN),
    # ------------------------------------------------------------------ orders
    case("order-list-for-object", lambda c: c.ws.orders.place(c.portfolio, [order()]), V, ""),
    *variants("order", lambda c, ch: c.ws.orders.place(c.portfolio, order(**ch)), {
        "amount-number": ({"cash_amount": 100}, V, "cash_amount"),
        **{f"amount-{kind}": row for kind, row in lenient("cash_amount").items()},
        "amount-negative": ({"cash_amount": "-10.00"}, V, "cash_amount"),
        "amount-zero": ({"cash_amount": "0"}, V, "cash_amount"),
        "amount-fraction-of-cent": ({"cash_amount": "10.005"}, V, "cash_amount"),
        "amount-over-maximum": ({"cash_amount": "1000000000000.01"}, V, "cash_amount"),
        "amount-sql": ({"cash_amount": SQL}, V, "cash_amount"),
        "side-lower-case": ({"side": "buy"}, V, "side"),
        "currency-lower-case": ({"currency": "usd"}, V, "currency"),
        "currency-mismatch": ({"currency": "EUR"}, V, "currency"),
        "date-february-30": ({"execution_date": "2022-02-30"}, V, "execution_date"),
        "date-year-9999": ({"execution_date": "9999-12-31"}, V, "execution_date"),
        "date-future": ({"execution_date": "2150-01-02"}, V, "execution_date"),
        "date-sunday": ({"execution_date": "2022-12-25"}, V, "execution_date"),
        "key-too-long": ({"idempotency_key": "k" * 101}, V, "idempotency_key"),
        "key-number": ({"idempotency_key": 42}, V, "idempotency_key"),
        "key-blank": ({"idempotency_key": "   "}, V, "idempotency_key"),
        "key-control-character": ({"idempotency_key": "key\x00"}, V, "idempotency_key"),
        "key-reused": ({"idempotency_key": KEY}, C, KEY),
        "unknown-field": ({"price": "1.00"}, V, "price"),
        "overdraft": ({"cash_amount": "90000.01"}, C, "overdraw"),
        "sell-above-holdings": ({"side": "SELL", "cash_amount": "20000.00"}, V, "cash_amount"),
    }),
    case("order-amount-missing", lambda c: c.ws.orders.place(c.portfolio, without(order(), "cash_amount")), V,
         "cash_amount"),
    case("order-side-missing", lambda c: c.ws.orders.place(c.portfolio, without(order(), "side")), V, "side"),
    *variants("order", lambda c, ch: c.ws.orders.place(ch["account"], order(**ch.get("order", {}))), {
        "sell-nothing-held": (lambda c: {"account": c.bare, "order": {"side": "SELL"}}, C, "nothing to sell"),
        "trading-account": (lambda c: {"account": c.trading}, C, "TRADING"),
        "closed-account": (lambda c: {"account": c.closed}, C, "CLOSED"),
        "suspended-account": (lambda c: {"account": c.suspended}, C, "SUSPENDED"),
        "without-configuration": (lambda c: {"account": c.bare}, C, "no configuration"),
        "unknown-account": ({"account": UNKNOWN}, N, UNKNOWN),
        "sql-account": ({"account": SQL}, N, SQL),
    }),
    case("order-execute-flag-text", lambda c: c.ws.orders.place(c.portfolio, order(), execute="no"), V, "execute"),  # type: ignore[arg-type]
    case("smart-order-amount-exponent", lambda c: c.ws.orders.smart(c.portfolio, order(cash_amount="1e3")), V,
         "cash_amount"),
    case("smart-order-without-configuration", lambda c: c.ws.orders.smart(c.bare, order()), C, "no configuration"),
    case("smart-sell-above-holdings", lambda c: c.ws.orders.smart(
        c.portfolio, order(side="SELL", cash_amount="20000.00")), V, "cash_amount"),
    case("preview-amount-nan", lambda c: c.ws.orders.preview(c.portfolio, order(cash_amount="NaN")), V,
         "cash_amount"),
    case("preview-smart-flag-text", lambda c: c.ws.orders.preview(c.portfolio, order(), smart="yes"), V, "smart"),  # type: ignore[arg-type]
    case("preview-trading-account", lambda c: c.ws.orders.preview(c.trading, order()), C, "TRADING"),
    *variants("order-state", lambda c, ch: getattr(c.ws.orders, ch["move"])(ch["order"]), {
        "execute-filled": (lambda c: {"move": "execute", "order": c.filled}, C, "FILLED"),
        "execute-cancelled": (lambda c: {"move": "execute", "order": c.cancelled}, C, "CANCELLED"),
        "settle-new": (lambda c: {"move": "settle", "order": c.new}, C, "NEW"),
        "cancel-filled": (lambda c: {"move": "cancel", "order": c.filled}, C, "FILLED"),
        "cancel-cancelled": (lambda c: {"move": "cancel", "order": c.cancelled}, C, "CANCELLED"),
        "execute-unknown": ({"move": "execute", "order": UNKNOWN}, N, UNKNOWN),
        "cancel-sql-id": ({"move": "cancel", "order": SQL}, N, SQL),
        "settle-number-id": ({"move": "settle", "order": 42}, N, "42"),
    }),
    # ------------------------------------------------------------------ rebalancings
    case("rebalancing-neither-ids", lambda c: c.ws.rebalancings.execute({"preview": True}), V, "accounts"),
    case("rebalancing-both-ids", lambda c: c.ws.rebalancings.execute(
        {"account_ids": [c.portfolio], "allocation_ids": [c.allocation]}), V, "account_ids"),
    case("rebalancing-unknown-allocation", lambda c: c.ws.rebalancings.execute({"allocation_ids": [UNKNOWN]}), V,
         "allocation_ids[0]"),
    *variants("rebalancing", lambda c, ch: c.ws.rebalancings.execute({"account_ids": [c.portfolio], **ch}), {
        "ids-as-string": (lambda c: {"account_ids": c.portfolio}, V, "account_ids"),
        "ids-empty": ({"account_ids": []}, V, "account_ids"),
        "id-not-uuid": ({"account_ids": [SQL]}, V, "account_ids[0]"),
        "id-repeated": (lambda c: {"account_ids": [c.portfolio, c.bare, c.portfolio]}, V, "account_ids[2]"),
        "drift-above-one": ({"drift": {"threshold": "1.5", "type": "ABSOLUTE"}}, V, "drift.threshold"),
        "drift-negative": ({"drift": {"threshold": "-0.1", "type": "ABSOLUTE"}}, V, "drift.threshold"),
        "drift-nan": ({"drift": {"threshold": "NaN", "type": "ABSOLUTE"}}, V, "drift.threshold"),
        "drift-type-lower-case": ({"drift": {"threshold": "0.02", "type": "absolute"}}, V, "drift.type"),
        "drift-number": ({"drift": 0.02}, V, "drift"),
        "drift-unknown-field": ({"drift": {"threshold": "0.02", "type": "ABSOLUTE", "mode": "x"}}, V, "drift.mode"),
        "preview-text": ({"preview": "yes"}, V, "preview"),
        "month-13": ({"execution_date": "2022-13-01"}, V, "execution_date"),
        "unknown-field": ({"force": True}, V, "force"),
    }),
    case("rebalancing-get-unknown", lambda c: c.ws.rebalancings.get(UNKNOWN), N, UNKNOWN),
    # ------------------------------------------------------------------ events
    *variants("events", lambda c, ch: c.ws.events.list(**ch), {
        "limit-zero": ({"limit": 0}, V, "limit"),
        "limit-negative": ({"limit": -1}, V, "limit"),
        "limit-over-max": ({"limit": 1_000_001}, V, "limit"),
        "limit-text": ({"limit": "10"}, V, "limit"),
        "limit-bool": ({"limit": True}, V, "limit"),
        "limit-float": ({"limit": 1.5}, V, "limit"),
        "after-negative": ({"after": -1}, V, "after"),
        "after-beyond-sqlite": ({"after": 10**30}, V, "after"),
        "type-number": ({"type": 5}, V, "type"),
    }),
    *variants("webhook", lambda c, ch: webhook(c, **ch), {
        **{kind: ({"url": url}, V, "url") for kind, url in FORBIDDEN_URLS.items()},
        "ftp": ({"url": "ftp://example.org/"}, V, "url"),
        "javascript": ({"url": "javascript:alert(1)"}, V, "url"),
        "bad-port": ({"url": "http://127.0.0.1:99999/"}, V, "url"),
        "empty-secret": ({"secret": ""}, V, "secret"),
        "negative-retries": ({"retries": -1}, V, "retries"),
        "zero-timeout": ({"timeout": 0}, V, "timeout"),
        "bad-type-pattern": ({"types": ["no spaces!"]}, V, "types[0]"),
        "empty-name": ({"name": ""}, V, "name"),
        "name-10mb": ({"name": HUGE}, V, "name"),
        "url-line-break": ({"url": "http://127.0.0.1:9/hook\r\nX-Injected: 1"}, V, "url"),
        "url-space": ({"url": "http://127.0.0.1:9/a b"}, V, "url"),
        "url-10mb": ({"url": "http://127.0.0.1:9/" + HUGE}, V, "url"),
        "secret-10mb": ({"secret": HUGE}, V, "secret"),
        "retries-billion": ({"retries": 10**9}, V, "retries"),
        "backoff-huge": ({"backoff": 1e12}, V, "backoff"),
        "timeout-infinite": ({"timeout": float("inf")}, V, "timeout"),
        "timeout-nan": ({"timeout": float("nan")}, V, "timeout"),
    }),
    case("unsubscribe-unknown", lambda c: c.ws.events.unsubscribe("nobody"), N, "nobody"),
    case("deliveries-event-id-text", lambda c: c.ws.events.deliveries(event_id="x"), V, "event_id"),  # type: ignore[arg-type]
    case("callback-not-callable", lambda c: c.ws.events.subscribe_callback("bad-input", 5), V, "callback"),
    # ------------------------------------------------------------------ reports
    case("returns-list-for-object", lambda c: c.ws.reports.portfolio_returns([returns_request(c)]), V, ""),
    case("returns-start-missing", lambda c: c.ws.reports.portfolio_returns(without(returns_request(c), "startDate")),
         V, "startDate"),
    *variants("returns", lambda c, ch: c.ws.reports.portfolio_returns(returns_request(c, **ch)), {
        "february-30": ({"startDate": "2022-02-30"}, V, "startDate"),
        "garbage-end": ({"endDate": "garbage"}, V, "endDate"),
        "start-after-end": ({"startDate": "2022-12-01"}, V, "startDate"),
        "end-in-future": ({"endDate": "2150-01-01"}, V, "endDate"),
        "end-past-data": ({"endDate": "2025-01-02"}, V, "endDate"),
        "before-measurement-start": ({"startDate": "2021-01-04"}, V, "startDate"),
        "portfolio-not-uuid": ({"portfolioId": OR_TRUE}, V, "portfolioId"),
        "unknown-portfolio": ({"portfolioId": UNKNOWN}, N, UNKNOWN),
        "trading-account": (lambda c: {"portfolioId": c.trading}, N, "PORTFOLIO"),
        "flag-text": ({"includeDailyReturns": "yes"}, V, "includeDailyReturns"),  # "true" is the query's text
        "custom-benchmark-without-flag": ({"customBenchmarkId": "SPX"}, V, "customBenchmarkId"),
        "unknown-field": ({"currency": "USD"}, V, "currency"),
    }),
    *variants("instrument-returns", lambda c, ch: c.ws.reports.instrument_returns(instrument_request(**ch)), {
        "ids-number": ({"instrumentIds": 7}, V, "instrumentIds"),  # "AAPL,MSFT" is the seed's form
        "ids-empty": ({"instrumentIds": []}, V, "instrumentIds"),
        "unknown": ({"instrumentIds": ["AAPL", "NOPE"]}, V, "instrumentIds[1]"),
        "duplicate": ({"instrumentIds": ["AAPL", "AAPL"]}, V, "instrumentIds[1]"),
        "id-number": ({"instrumentIds": [5]}, V, "instrumentIds[0]"),
        "basic-iso-date": ({"startDate": "20220301"}, V, "startDate"),
        "future-end": ({"endDate": "2150-01-01"}, V, "endDate"),
    }),
    *variants("portfolio-report", lambda c, ch: c.ws.reports.portfolio_report(ch.pop("id", c.portfolio), **ch), {
        "month-13": ({"start": "2022-13-01"}, V, "start"),
        "garbage-end": ({"end": "garbage"}, V, "end"),
        "frequency-case": ({"frequency": "Monthly"}, V, "frequency"),
        "start-after-end": ({"start": "2022-06-01", "end": "2022-03-01"}, V, "end"),
        "future-end": ({"end": "2150-01-01"}, V, "end"),
        "end-past-data": ({"end": "2025-01-02"}, V, "end"),
        "before-measurement-start": ({"start": "2021-01-04"}, V, "start"),
        "unknown": ({"id": UNKNOWN}, N, UNKNOWN),
    }),
    case("instrument-report-unknown", lambda c: c.ws.reports.instrument_report(["AAPL", "NOPE"]), N, "NOPE"),
    case("instrument-report-end-past-data", lambda c: c.ws.reports.instrument_report(["AAPL"], end="2025-01-02"), V,
         "end"),
    case("instrument-report-year-9999", lambda c: c.ws.reports.instrument_report(["AAPL"], start="9999-12-31"), V,
         "start"),
    case("master-list-for-object", lambda c: c.ws.reports.set_master(c.portfolio, [master()]), V, ""),
    *variants("master",
              lambda c, ch: c.ws.reports.set_master(ch.pop("id", c.portfolio), master(**ch)), {
        "fee-above-one": ({"annualFee": "1.5"}, V, "annualFee"),
        "fee-nan": ({"annualFee": "NaN"}, V, "annualFee"),
        "fee-negative": ({"annualFee": "-0.01"}, V, "annualFee"),
        "february-30": ({"performanceMeasurementStartDate": "2022-02-30"}, V, "performanceMeasurementStartDate"),
        "daily-before-start": ({"dailyPerformanceStartDate": "2021-12-01"}, V, "dailyPerformanceStartDate"),
        "start-in-future": ({"performanceMeasurementStartDate": "2150-01-01",
                             "dailyPerformanceStartDate": "2150-01-01"}, V, "performanceMeasurementStartDate"),
        "unknown-benchmark": ({"benchmarkId": "NOPE"}, V, "benchmarkId"),
        "unknown-field": ({"fee": "0.01"}, V, "fee"),
        "unknown-portfolio": ({"id": UNKNOWN}, N, UNKNOWN),
        "trading-account": (lambda c: {"id": c.trading}, N, "PORTFOLIO"),
    }),
    # ------------------------------------------------------------------ history
    case("history-list-for-object", lambda c: c.ws.history.upload([history()]), V, ""),
    *variants("history", lambda c, ch: c.ws.history.upload(history(ch.pop("bars", None), **ch)), {
        "unsorted": ({"bars": [BARS[1], BARS[0], BARS[2]]}, V, "history[1].timestamp"),
        "duplicate-timestamp": ({"bars": [BARS[0], BARS[0], BARS[2]]}, V, "history[1].timestamp"),
        "high-below-low": ({"bars": bar(1, high=95.0, low=98.0, open=96.0, close=96.0)}, V, "history[1].high"),
        "zero-close": ({"bars": bar(1, close=0.0, open=0.5, low=0.5)}, V, "history[1].close"),
        "negative-open": ({"bars": bar(0, open=-1.0)}, V, "history[0].open"),
        "negative-volume": ({"bars": bar(2, volume=-5)}, V, "history[2].volume"),
        "nan-close": ({"bars": bar(1, close=float("nan"))}, V, "history[1].close"),
        "infinite-volume": ({"bars": bar(1, volume=float("inf"))}, V, "history[1].volume"),
        "close-as-text": ({"bars": bar(0, close="101.0")}, V, "history[0].close"),
        "month-13": ({"bars": bar(0, timestamp="2022-13-01")}, V, "history[0].timestamp"),
        "basic-iso-date": ({"bars": bar(0, timestamp="20220102")}, V, "history[0].timestamp"),
        "future-bar": ({"bars": bar(2, timestamp="2150-01-03")}, V, "history[2].timestamp"),
        "missing-close": ({"bars": [{"timestamp": "2022-01-03"}]}, V, "history[].close"),
        "unknown-record-field": ({"bars": bar(0, price=1.0)}, V, "history[0].price"),
        "object-for-list": ({"bars": BARS[0]}, V, "history"),
        "empty": ({"bars": []}, V, "history"),
        "unknown-field": ({"source": "me"}, V, "source"),
        "isin-lower-case": ({"isin": SAP.lower()}, V, "isin"),
        "currency-lower-case": ({"currency": "eur"}, V, "currency"),
        "timeframe-text": ({"timeframe": "1"}, V, "timeframe"),
        "name-markup": ({"name": SCRIPT}, V, "name"),
        "unknown-instrument": ({"instrument_id": UNKNOWN}, N, UNKNOWN),
        "instrument-of-other-isin": ({"instrument_id": AAPL_ID}, V, "instrument_id"),
    }),
    *variants("prices", lambda c, ch: c.ws.history.prices(ch.pop("instruments", ["AAPL"]), **ch), {
        "month-13": ({"start": "2022-13-01"}, V, "start"),
        "currency-lower-case": ({"currency": "usd"}, V, "currency"),
        "horizon-case": ({"horizon": "Month"}, V, "horizon"),
        "unknown-instrument": ({"instruments": ["NOPE"]}, N, "NOPE"),
        "instruments-number": ({"instruments": 5}, V, "instruments"),
        "instrument-number-in-list": ({"instruments": ["AAPL", 5]}, N, "5"),
    }),
    *variants("closes", lambda c, ch: c.ws.history.closes(ch.pop("instruments", ["AAPL"]), **ch), {
        "garbage-end": ({"end": "garbage"}, V, "end"),
        "start-after-end": ({"start": "2022-06-01", "end": "2022-01-03"}, V, "end"),
        "unknown-instrument": ({"instruments": ["NOPE"]}, N, "NOPE"),
    }),
    case("status-timeframe-99", lambda c: c.ws.history.status(timeframe=99), V, "timeframe"),
    case("status-instrument-number", lambda c: c.ws.history.status(instrument=5), V, "instrument"),  # type: ignore[arg-type]
    case("instrument-get-unknown", lambda c: c.ws.instruments.get(UNKNOWN), N, UNKNOWN),
    case("instrument-search-limit-zero", lambda c: c.ws.instruments.search("apple", limit=0), V, "limit"),
    case("instrument-search-text-number", lambda c: c.ws.instruments.search(5), V, "text"),  # type: ignore[arg-type]
    case("instrument-search-text-10mb", lambda c: c.ws.instruments.search(HUGE), V, "text"),
    case("instrument-search-isin-number", lambda c: c.ws.instruments.search(isin=378331005), V, "isin"),  # type: ignore[arg-type]
    case("coverage-not-a-list", lambda c: c.ws.instruments.coverage({"isin": AAPL}), V, ""),
    case("coverage-answer-format", lambda c: c.ws.instruments.coverage(
        [{"isin": AAPL, "currency": "USD"}], {"method": "ISIN_CURRENCY", "format_output": "XML"}), V, "format_output"),
    case("coverage-lower-case-isin", lambda c: c.ws.instruments.coverage([{"isin": AAPL.lower(), "currency": "USD"}]),
         V, "[0].isin"),
    case("instrument-code-markup", lambda c: c.ws.instruments.by_code(SCRIPT), V, "instrument_code"),
    case("instrument-code-unknown", lambda c: c.ws.instruments.by_code("AAPL_XNAS", 8), N, "AAPL_XNAS"),
    case("instrument-code-apiid-text", lambda c: c.ws.instruments.by_code("AAPL_XNGS", "8.0"), V, "apiid"),
    case("instrument-find-mic-lower-case", lambda c: c.ws.instruments.find({"mic_code": "xngs"}), V, "mic_code"),
    case("history-get-timeframe-text", lambda c: c.ws.history.get({"instrument_code": "AAPL_XNGS",
                                                                   "timeframeid": "day"}), V, "timeframeid"),
    case("history-get-unknown-code", lambda c: c.ws.history.get({"instrument_code": "NOPE_XNYS"}), N, "NOPE_XNYS"),
    case("instrument-table-timeframe-9", lambda c: c.ws.instruments.table(timeframe=9), V, "timeframe"),
    # ------------------------------------------------------------------ risk platform: portfolios
    case("risk-list-for-object", lambda c: c.ws.portfolios.upload([risk_body()]), V, ""),
    *variants("risk", lambda c, ch: c.ws.portfolios.upload(capital(**ch)), {
        "funds-underscore": ({"funds": "100_000.00"}, V, "capital.funds"),
        "funds-nan": ({"funds": float("nan")}, V, "capital.funds"),
        "funds-negative": ({"funds": "-5.00"}, V, "capital.funds"),
        "funds-fraction-of-cent": ({"funds": "100.001"}, V, "capital.funds"),
        "currency-xxx": ({"currency": "XXX"}, V, "capital.currency"),
    }),
    *variants("risk", lambda c, ch: c.ws.portfolios.upload(risk_body(**ch)), {
        "capital-as-a-number": ({"capital": "100000.00"}, V, "capital"),
        "name-markup": ({"name": SCRIPT}, V, "name"),
        "name-control-character": ({"name": "Risk\x00book"}, V, "name"),
        "wishlist-number": ({"wishlist": [5]}, V, "wishlist[0]"),
        "wishlist-missing": ({"wishlist": None}, V, "wishlist"),
    }),
    *variants("risk", lambda c, ch: c.ws.portfolios.upload(position(**ch)), {
        "size-zero": ({"size": "0"}, V, "positions[0].size"),
        "size-arabic": ({"size": "١٠"}, V, "positions[0].size"),
        "date-open-february-30": ({"date_open": "2020-02-30T10:00:00Z"}, V, "positions[0].date_open"),
        "close-before-open": ({"date_close": "2019-01-02T00:00:00Z", "close": 80.0}, V, "positions[0].date_close"),
        "close-without-level": ({"date_close": "2021-01-04T00:00:00Z"}, V, "positions[0].close"),
        "code-markup": ({"instrument_code": SCRIPT}, V, "positions[0].instrument_code"),
        "apiid-text": ({"apiid": "8"}, V, "positions[0].apiid"),
        "apiid-no-provider": ({"apiid": 7}, V, "positions[0].apiid"),
        "direction-lower-case": ({"direction": "long"}, V, "positions[0].direction"),
        "unknown-position-field": ({"price": 1.0}, V, "positions[0].price"),
    }),
    case("risk-reference-markup", lambda c: c.ws.portfolios.upload(risk_body(), SCRIPT), V, "client_reference"),
    case("risk-get-sql", lambda c: c.ws.portfolios.get(SQL), N, SQL),
    case("risk-delete-unknown", lambda c: c.ws.portfolios.delete({"client_reference": "NOPE"}), N, "NOPE"),
    case("risk-delete-nothing-named", lambda c: c.ws.portfolios.delete({}), V, "client_reference"),
    case("risk-composition-impossible-as-of", lambda c: c.ws.portfolios.composition(c.risk, as_of="2020-02-30"), V,
         "as_of"),
    case("risk-composition-future-as-of", lambda c: c.ws.portfolios.composition(c.risk, as_of="2150-01-01"), V,
         "as_of"),
    case("analytics-weights-future-as-of", lambda c: c.ws.analytics.weights(c.risk, as_of="2150-01-01"), V, "as_of"),
    case("risk-get-unknown", lambda c: c.ws.portfolios.get(UNKNOWN), N, UNKNOWN),
    case("risk-universe-case", lambda c: c.ws.portfolios.universes("Sectors"), V, "kind"),
    # ------------------------------------------------------------------ risk platform: analytics
    case("analytics-unknown-instrument", lambda c: c.ws.analytics.instrument(["NOPE"]), N, "NOPE"),
    case("analytics-february-30", lambda c: c.ws.analytics.instrument(["AAPL"], start="2022-02-30"), V, "start"),
    case("analytics-future-start", lambda c: c.ws.analytics.returns(["AAPL"], start="2150-01-01"), D, "2150-01-01"),
    case("analytics-start-after-end", lambda c: c.ws.analytics.returns(["AAPL"], start="2022-06-01", end="2022-01-03"),
         V, "end"),
    case("analytics-halflife-negative", lambda c: c.ws.analytics.instrument(["AAPL"], halflife=-1), V, "halflife"),
    case("analytics-halflife-text", lambda c: c.ws.analytics.instrument(["AAPL"], halflife="30"), V, "halflife"),  # type: ignore[arg-type]
    case("analytics-level-text", lambda c: c.ws.analytics.benchmark(["AAPL"], "SPX", level="high"), V, "level"),  # type: ignore[arg-type]
    case("analytics-unknown-benchmark", lambda c: c.ws.analytics.benchmark(["AAPL"], "NOPE"), N, "NOPE"),
    case("analytics-as-of-garbage", lambda c: c.ws.analytics.weights(c.risk, as_of="garbage"), V, "as_of"),
    *variants("analytics", lambda c, ch: c.ws.analytics.portfolio(ch.pop("portfolio", {"AAPL": 1.0}), **ch), {
        "level-above-one": ({"level": 1.5}, V, "level"),
        "horizon-unknown": ({"horizon": "year"}, V, "horizon"),
        "weight-text": ({"portfolio": {"AAPL": "abc"}}, V, "weights[weights][AAPL]"),
        "weight-nan": ({"portfolio": {"AAPL": float("nan")}}, V, "weights[weights][AAPL]"),
        "weight-arabic": ({"portfolio": {"AAPL": "١"}}, V, "weights[weights][AAPL]"),
        "weight-underscore": ({"portfolio": {"AAPL": "1_0"}}, V, "weights[weights][AAPL]"),
        "weight-exponent": ({"portfolio": {"AAPL": "1e0"}}, V, "weights[weights][AAPL]"),
        "weight-bool": ({"portfolio": {"AAPL": True}}, V, "weights[weights][AAPL]"),
        "sql-portfolio": ({"portfolio": SQL}, N, SQL),
        "trading-account": (lambda c: {"portfolio": c.trading}, N, "PORTFOLIO"),
    }),
    # ------------------------------------------------------------------ strategies
    case("optimise-list-for-object", lambda c: c.ws.strategies.optimise([optimisation(c)]), V, ""),
    *variants("optimise", lambda c, ch: c.ws.strategies.optimise(optimisation(c, **ch)), {
        "unknown-rule": ({"rule_name": "Max Profit"}, V, "rule_name"),
        "unknown-parameter": ({"parameters": {"Leverage": 2}}, V, "parameters.Leverage"),
        "parameter-text": ({"parameters": {"Size Rebalance Trigger": "0.05"}}, V, "parameters.Size Rebalance Trigger"),
        "unknown-field": ({"leverage": 2}, V, "leverage"),
        "portfolio-and-weights": ({"weights": {"AAPL": 1.0}, "capital": "1000.00"}, V, "portfolio_id"),
        "unknown-portfolio": ({"portfolio_id": UNKNOWN}, N, UNKNOWN),
        "trading-account": (lambda c: {"portfolio_id": c.trading}, V, "portfolio_id"),
        "garbage-start": ({"start_date": "garbage"}, V, "start_date"),
        "february-30": ({"end_date": "2022-02-30"}, V, "end_date"),
        "end-in-future": ({"end_date": "2150-01-01"}, V, "end_date"),
        "start-after-end": ({"start_date": "2022-06-01", "end_date": "2022-01-04"}, V, "end_date"),
        "window-without-prices": ({"start_date": "2024-01-02"}, V, "start_date"),
        "capital-negative": ({"capital": "-5.00"}, V, "capital"),
        "constraint-above-one": ({"constraints": {"max_weight": 2}}, V, "constraints.max_weight"),
        "constraint-unknown": ({"constraints": {"leverage": 2}}, V, "constraints.leverage"),
        "universe-string": ({"universe": "AAPL"}, V, "universe"),
        "universe-unknown": ({"universe": ["AAPL", "NOPE"]}, N, "NOPE"),
        "tracking-without-benchmark": ({"rule_name": "Min Tracking Error"}, V, "benchmark"),
    }),
    *variants("optimise", lambda c, ch: c.ws.strategies.optimise(
        {"weights": {"AAPL": 0.5, "MSFT": 0.5}, "capital": "1000.00", "rule_name": "Equal Weight", **ch}), {
        "capital-nan": ({"capital": "NaN"}, V, "capital"),
        "capital-text": ({"capital": "lots"}, V, "capital"),
        "weight-text": ({"weights": {"AAPL": "half", "MSFT": 0.5}}, V, "weights.AAPL"),
    }),
    *variants("strategy", lambda c, ch: c.ws.strategies.create(strategy(**ch)), {
        "empty-name": ({"name": ""}, V, "name"),
        "name-markup": ({"name": SCRIPT}, V, "name"),
        "name-taken": ({"name": "Bad input strategy"}, V, "name"),
        "no-rules": ({"rules": []}, V, "rules"),
        "unknown-rule": ({"rules": [{"rule_id": 99}]}, V, "rules[0].rule_id"),
        "unknown-rule-field": ({"rules": [{"rule_id": 14, "leverage": 2}]}, V, "rules[0].leverage"),
        "rule-id-text": ({"rules": [{"rule_id": "14"}]}, V, "rules[0].rule_id"),
        "trigger-above-100": ({"rules": [{"rule_id": 14, "parameters": [{"key": "RebalanceTrigger", "value": "150"}]}]},
                              V, "rules[0].parameters[0].value"),
        "trigger-number": ({"rules": [{"rule_id": 14, "parameters": [{"key": "RebalanceTrigger", "value": 5}]}]}, V,
                           "rules[0].parameters[0].value"),
        "unknown-parameter": ({"rules": [{"rule_id": 14, "parameters": [{"key": "Leverage", "value": "2"}]}]}, V,
                              "rules[0].parameters[0].key"),
        "constraint-above-one": ({"rules": [{"rule_id": 14, "constraints": [
            {"type": "CurrencyConstraint", "parameter": "USD", "lower_bound": 0, "upper_bound": 2}]}]}, V,
            "rules[0].constraints[0].upper_bound"),
        "constraint-on-tactical-rule": ({"rules": [{"rule_id": 4, "constraints": [
            {"type": "CurrencyConstraint", "parameter": "USD", "lower_bound": 0, "upper_bound": 1}]}]}, V,
            "rules[0].constraints"),
        "two-portfolio-rules": ({"rules": [{"rule_id": 14}, {"rule_id": 18}]}, V, "rules[1].rule_id"),
        "replace-unknown": ({"strategy_id": 999999}, V, "strategy_id"),
        "name-control-character": ({"name": "Strategy\n2"}, V, "name"),
    }),
    *variants("optimise-query", lambda c, ch: c.ws.strategies.optimise(seed_optimisation(c, **ch)), {
        "strategy-text": ({"strategy_id": "first"}, V, "strategy_id"),
        "strategy-unknown": ({"strategy_id": "999999"}, N, "999999"),
        "strategy-float": ({"strategy_id": "100.0"}, V, "strategy_id"),
        "reference-unknown": ({"client_reference": UNKNOWN}, N, "client_reference"),
        "reference-blank": ({"client_reference": " "}, V, "client_reference"),
        "unknown-field": ({"leverage": "2"}, V, "leverage"),
    }),
    case("strategy-run-unknown", lambda c: c.ws.strategies.run(999999), N, "999999"),
    case("strategy-run-text", lambda c: c.ws.strategies.run(UNKNOWN), V, "strategy_id"),
    case("strategy-run-bad-account", lambda c: c.ws.strategies.run(c.strategy, account_ids=[SQL]), V,
         "account_ids[0]"),
    case("strategy-run-accounts-string", lambda c: c.ws.strategies.run(c.strategy, account_ids=c.portfolio), V,  # type: ignore[arg-type]
         "account_ids"),
    case("strategy-run-no-accounts", lambda c: c.ws.strategies.run(c.strategy, account_ids=[]), V, "account_ids"),
    case("strategy-run-unknown-account", lambda c: c.ws.strategies.run(c.strategy, account_ids=[UNKNOWN]), V,
         "account_ids[0]"),
    case("strategy-run-trading-account", lambda c: c.ws.strategies.run(c.strategy, account_ids=[c.trading]), V,
         "account_ids[0]"),
    case("strategy-status-unknown", lambda c: c.ws.strategies.status(UNKNOWN), N, UNKNOWN),
    # ------------------------------------------------------------------ attribution
    case("index-list-for-object", lambda c: c.ws.attribution.create_index([index()]), V, ""),  # type: ignore[arg-type]
    *variants("index", lambda c, ch: c.ws.attribution.create_index(index(**ch)), {
        "empty-name": ({"name": ""}, V, "name"),
        "name-markup": ({"name": SCRIPT}, V, "name"),
        "name-taken": ({"name": "Bad input index"}, V, "name"),
        "name-10mb": ({"name": HUGE}, V, "name"),
        "description-control-character": ({"description": "Index\x07"}, V, "description"),
        "method-case": ({"method": "EQUAL"}, V, "method"),
        "currency-lower-case": ({"currency": "usd"}, V, "currency"),
        "description-10mb": ({"description": HUGE}, V, "description"),
        "no-constituents": ({"constituents": []}, V, "constituents"),
        "unknown-constituent": ({"constituents": [{"symbol": "AAPL"}, {"symbol": "NOPE"}]}, V, "constituents[1]"),
        "duplicate-constituent": ({"constituents": [{"symbol": "AAPL"}, {"isin": AAPL}]}, V, "constituents[1]"),
        "shares-negative": ({"method": "cap", "constituents": [{"symbol": "AAPL", "shares": "-5"}]}, V,
                            "constituents[0].shares"),
        "shares-exponent": ({"method": "cap", "constituents": [{"symbol": "AAPL", "shares": "1e9"}]}, V,
                            "constituents[0].shares"),
        "fixed-weights-sum": ({"method": "fixed", "constituents": [{"symbol": "AAPL", "weight": "0.5"},
                                                                   {"symbol": "MSFT", "weight": "0.4"}]}, V,
                              "constituents"),
        "weight-on-cap": ({"method": "cap", "constituents": [{"symbol": "AAPL", "shares": "5", "weight": "1"}]}, V,
                          "constituents[0].weight"),
    }),
    case("index-get-unknown", lambda c: c.ws.attribution.index("NOPE"), N, "NOPE"),
    case("index-weights-garbage-start", lambda c: c.ws.attribution.index_weights(c.index, start="garbage"), V,
         "start"),
    case("index-weights-month-13", lambda c: c.ws.attribution.index_weights(c.index, end="2022-13"), V, "end"),
    case("index-weights-start-after-end", lambda c: c.ws.attribution.index_weights(
        c.index, start="2022-06-01", end="2022-01-03"), V, "end"),
    case("attribution-weights-garbage-end", lambda c: c.ws.attribution.weights(c.index, "garbage"), V, "end"),
    case("attribution-weights-unknown", lambda c: c.ws.attribution.weights("NOPE", "2022-12-31"), N, "NOPE"),
    case("attribution-list-for-object", lambda c: c.ws.attribution.run([attribution(c)]), V, ""),  # type: ignore[arg-type]
    case("attribution-portfolio-missing", lambda c: c.ws.attribution.run(without(attribution(c), "portfolio_id")),
         V, "portfolio_id"),
    *variants("attribution", lambda c, ch: c.ws.attribution.run(attribution(c, **ch)), {
        "benchmark-string": ({"benchmark": "SPX"}, V, "benchmark"),
        "february-30": ({"start_date": "2022-02-30"}, V, "start_date"),
        "basic-iso-date": ({"start_date": "20220201"}, V, "start_date"),
        "date-in-words": ({"end_date": "March 1 2022"}, V, "end_date"),
        "year-9999": ({"end_date": "9999-12-31"}, V, "end_date"),
        "end-in-future": ({"end_date": "2150-01-01"}, V, "end_date"),
        "start-after-end": ({"start_date": "2022-06-01", "end_date": "2022-03-01"}, V, "end_date"),
        "date-number": ({"start_date": 20220201}, V, "start_date"),
        "horizon-week": ({"horizon": "week"}, V, "horizon"),
        "unknown-dimension": ({"dimensions": ["industry"]}, V, "dimensions[0]"),
        "duplicate-dimension": ({"dimensions": ["sector", "sector"]}, V, "dimensions[1]"),
        "duplicate-level": ({"hierarchy": ["sector", "instrument", "sector"]}, V, "hierarchy[2]"),
        "model-case": ({"model": "BRINSON_FACHLER"}, V, "model"),
        "variant-unknown": ({"variant": "sideways"}, V, "variant"),
        "variant-geometric-bottom-up": ({"variant": "bottom_up", "geometric": True, "linking": "geometric"}, V,
                                        "variant"),
        "linking-unknown": ({"linking": "magic"}, V, "linking"),
        "geometric-text": ({"geometric": "yes"}, V, "geometric"),
        "base-currency-case": ({"base_currency": "usd"}, V, "base_currency"),
        "unknown-portfolio": ({"portfolio_id": UNKNOWN}, N, UNKNOWN),
        "unknown-index": ({"benchmark": {"index_id": "NOPE"}}, N, "NOPE"),
    }),
]


def test_the_table_is_large() -> None:
    assert len(CASES) >= 120
    names = [p.id for p in CASES]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize(("call", "error", "where"), CASES)
def test_bad_input_is_refused_by_name_and_changes_nothing(ctx: Ctx, call: Call, error: type[ToolkitError],
                                                          where: str) -> None:
    try:
        call(ctx)
    except Exception as exc:  # noqa: BLE001 - a raw exception is a finding, reported below
        err: Exception | None = exc
    else:
        err = None
    problems = []
    if err is None:
        problems.append(f"accepted, expected {error.__name__}")
    elif type(err) is not error:
        problems.append(f"raised {type(err).__name__}, expected {error.__name__}: {str(err)[:500]}")
    elif isinstance(err, ValidationError):
        if where not in err.paths:
            problems.append(f"the paths {err.paths} do not name {where!r}: {str(err)[:500]}")
    elif where not in str(err):
        problems.append(f"the message does not name {where!r}: {str(err)[:500]}")
    if ctx.ws.db.conn.in_transaction:
        problems.append("a transaction was left open")
    if digest(ctx.ws) != ctx.digest:
        now = tables(ctx.ws)
        _restore(ctx)
        changed = [t for t, h in tables(ctx.ws).items() if now.get(t) != h]
        problems.append(f"the database changed (tables {changed or 'none by rows: pages only'})")
    if problems:
        raise AssertionError("; ".join(problems)) from err
