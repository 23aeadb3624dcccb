"""Schema migrations (``sqlite_utils.migrations``), applied by ``python -m toolkit setup``."""

from __future__ import annotations

import json
from decimal import Decimal

import numpy as np
import sqlite_utils
from sqlite_utils.migrations import Migrations

from toolkit.store import legs
from toolkit.store.db import write
from toolkit.store.indexes import symbol_of

MIGRATIONS = Migrations("toolkit")


@MIGRATIONS()
def m001_market(db: sqlite_utils.Database) -> None:
    _run(db, """
    CREATE TABLE instruments (
        instrument_id TEXT PRIMARY KEY,
        symbol TEXT NOT NULL,
        name TEXT NOT NULL,
        isin TEXT NOT NULL,
        mic TEXT,
        currency TEXT NOT NULL CHECK (length(currency) = 3),
        asset_class TEXT NOT NULL,
        instrument_type TEXT NOT NULL,
        sector TEXT,
        country TEXT,
        tradable INTEGER NOT NULL CHECK (tradable IN (0, 1)),
        source TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX instruments_isin ON instruments (isin, currency);
    CREATE INDEX instruments_symbol ON instruments (symbol);
    CREATE TABLE prices (
        instrument_id TEXT NOT NULL REFERENCES instruments (instrument_id),
        timeframe INTEGER NOT NULL CHECK (timeframe BETWEEN 0 AND 4),
        time TEXT NOT NULL,
        open REAL CHECK (open > 0),
        high REAL CHECK (high > 0),
        low REAL CHECK (low > 0),
        close REAL NOT NULL CHECK (close > 0),
        volume REAL CHECK (volume >= 0),
        PRIMARY KEY (instrument_id, timeframe, time)
    ) WITHOUT ROWID;
    CREATE TABLE history_uploads (
        id INTEGER PRIMARY KEY,
        instrument_id TEXT NOT NULL REFERENCES instruments (instrument_id),
        timeframe INTEGER NOT NULL,
        n_records INTEGER NOT NULL,
        first_time TEXT NOT NULL,
        last_time TEXT NOT NULL,
        uploaded_at TEXT NOT NULL
    );
    CREATE INDEX history_uploads_series ON history_uploads (instrument_id, timeframe);
    CREATE TABLE fx_rates (
        currency TEXT NOT NULL,
        time TEXT NOT NULL,
        rate REAL NOT NULL CHECK (rate > 0),
        PRIMARY KEY (currency, time)
    ) WITHOUT ROWID;
    """)


@MIGRATIONS()
def m002_allocations_events(db: sqlite_utils.Database) -> None:
    _run(db, """
    CREATE TABLE allocations (
        id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        version INTEGER NOT NULL CHECK (version >= 1)
    );
    CREATE TABLE allocation_versions (
        allocation_id TEXT NOT NULL REFERENCES allocations (id),
        version INTEGER NOT NULL,
        name TEXT,
        valid_from TEXT NOT NULL,
        PRIMARY KEY (allocation_id, version)
    );
    CREATE TABLE allocation_weights (
        allocation_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        position INTEGER NOT NULL,
        instrument_id TEXT NOT NULL REFERENCES instruments (instrument_id),
        weight TEXT NOT NULL,
        PRIMARY KEY (allocation_id, version, instrument_id),
        FOREIGN KEY (allocation_id, version) REFERENCES allocation_versions (allocation_id, version)
    );
    CREATE INDEX allocation_weights_instrument ON allocation_weights (instrument_id);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        type TEXT NOT NULL,
        resource_id TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX events_resource ON events (resource_id);
    """)


@MIGRATIONS()
def m003_accounts(db: sqlite_utils.Database) -> None:
    _run(db, """
    CREATE TABLE accounts (
        id TEXT PRIMARY KEY,
        type TEXT NOT NULL CHECK (type IN ('PORTFOLIO', 'TRADING')),
        status TEXT NOT NULL,
        currency TEXT NOT NULL CHECK (length(currency) = 3),
        name TEXT,
        created_at TEXT NOT NULL
    );
    CREATE TABLE cash_ledger (
        id INTEGER PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES accounts (id),
        kind TEXT NOT NULL,
        amount TEXT NOT NULL,
        reference TEXT,
        value_date TEXT NOT NULL,
        booked_at TEXT NOT NULL
    );
    CREATE INDEX cash_ledger_account ON cash_ledger (account_id);
    CREATE TABLE configurations (
        id TEXT PRIMARY KEY,
        account_id TEXT NOT NULL UNIQUE REFERENCES accounts (id),
        allocation_id TEXT NOT NULL REFERENCES allocations (id),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX configurations_allocation ON configurations (allocation_id);
    """)


@MIGRATIONS()
def m004_orders(db: sqlite_utils.Database) -> None:
    _run(db, """
    CREATE TABLE portfolio_orders (
        id TEXT PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES accounts (id),
        side TEXT NOT NULL CHECK (side IN ('BUY', 'SELL', 'REBALANCE')),
        cash_amount TEXT NOT NULL,
        currency TEXT NOT NULL,
        state TEXT NOT NULL,
        idempotency_key TEXT,
        execution_date TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (account_id, idempotency_key)
    );
    CREATE TABLE child_orders (
        id TEXT PRIMARY KEY,
        portfolio_order_id TEXT NOT NULL REFERENCES portfolio_orders (id),
        position INTEGER NOT NULL,
        instrument_id TEXT NOT NULL REFERENCES instruments (instrument_id),
        side TEXT NOT NULL CHECK (side IN ('BUY', 'SELL')),
        amount TEXT NOT NULL,
        quantity TEXT NOT NULL,
        price REAL NOT NULL CHECK (price > 0),
        fee TEXT NOT NULL
    );
    CREATE INDEX child_orders_order ON child_orders (portfolio_order_id);
    CREATE TABLE order_transitions (
        id INTEGER PRIMARY KEY,
        portfolio_order_id TEXT NOT NULL REFERENCES portfolio_orders (id),
        from_state TEXT,
        to_state TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE TABLE fills (
        id INTEGER PRIMARY KEY,
        child_order_id TEXT NOT NULL REFERENCES child_orders (id),
        account_id TEXT NOT NULL REFERENCES accounts (id),
        instrument_id TEXT NOT NULL REFERENCES instruments (instrument_id),
        quantity TEXT NOT NULL,
        price REAL NOT NULL,
        executed_on TEXT NOT NULL
    );
    CREATE INDEX fills_account ON fills (account_id, instrument_id);
    """)


@MIGRATIONS()
def m005_rebalancing(db: sqlite_utils.Database) -> None:
    _run(db, """
    CREATE TABLE rebalancings (
        id TEXT PRIMARY KEY,
        request TEXT NOT NULL,
        preview INTEGER NOT NULL CHECK (preview IN (0, 1)),
        created_at TEXT NOT NULL
    );
    CREATE TABLE rebalancing_executions (
        id TEXT PRIMARY KEY,
        rebalancing_id TEXT NOT NULL REFERENCES rebalancings (id),
        account_id TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('EXECUTED', 'PREVIEW', 'CANCELLED')),
        cancellation_reason TEXT,
        portfolio_order_id TEXT REFERENCES portfolio_orders (id),
        trades TEXT NOT NULL
    );
    CREATE INDEX rebalancing_executions_run ON rebalancing_executions (rebalancing_id);
    """)


@MIGRATIONS()
def m006_event_deliveries(db: sqlite_utils.Database) -> None:
    _run(db, """
    CREATE TABLE event_deliveries (
        id INTEGER PRIMARY KEY,
        event_id INTEGER NOT NULL REFERENCES events (id),
        subscriber TEXT NOT NULL,
        attempt INTEGER NOT NULL CHECK (attempt >= 1),
        status TEXT NOT NULL CHECK (status IN ('DELIVERED', 'RETRYING', 'FAILED')),
        http_status INTEGER,
        error TEXT,
        at TEXT NOT NULL
    );
    CREATE INDEX event_deliveries_event ON event_deliveries (event_id);
    """)


@MIGRATIONS()
def m007_performance_master(db: sqlite_utils.Database) -> None:
    _run(db, """
    CREATE TABLE performance_master (
        portfolio_id TEXT PRIMARY KEY REFERENCES accounts (id),
        performance_measurement_start_date TEXT NOT NULL,
        daily_performance_start_date TEXT NOT NULL,
        benchmark_id TEXT,
        annual_fee TEXT NOT NULL DEFAULT '0',
        updated_at TEXT NOT NULL,
        CHECK (daily_performance_start_date >= performance_measurement_start_date)
    )
    """)


@MIGRATIONS()
def m008_risk_portfolios(db: sqlite_utils.Database) -> None:
    _run(db, """
    CREATE TABLE risk_portfolios (
        id TEXT PRIMARY KEY,
        name TEXT,
        capital TEXT NOT NULL,
        currency TEXT NOT NULL CHECK (length(currency) = 3),
        payload TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE risk_portfolio_positions (
        portfolio_id TEXT NOT NULL REFERENCES risk_portfolios (id),
        position INTEGER NOT NULL,
        isin TEXT NOT NULL,
        currency TEXT NOT NULL CHECK (length(currency) = 3),
        quantity TEXT NOT NULL,
        open_date TEXT NOT NULL,
        open_level TEXT NOT NULL,
        close_date TEXT,
        close_level TEXT,
        PRIMARY KEY (portfolio_id, position),
        CHECK (close_date IS NULL OR close_date >= open_date),
        CHECK ((close_date IS NULL) = (close_level IS NULL))
    );
    CREATE INDEX risk_portfolio_positions_isin ON risk_portfolio_positions (isin, currency);
    CREATE TABLE risk_portfolio_wishlist (
        portfolio_id TEXT NOT NULL REFERENCES risk_portfolios (id),
        position INTEGER NOT NULL,
        isin TEXT NOT NULL,
        currency TEXT NOT NULL CHECK (length(currency) = 3),
        PRIMARY KEY (portfolio_id, position)
    )
    """)


@MIGRATIONS()
def m009_indexes(db: sqlite_utils.Database) -> None:
    _run(db, """
    CREATE TABLE indexes (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        method TEXT NOT NULL CHECK (method IN ('cap', 'equal', 'fixed')),
        currency TEXT NOT NULL CHECK (length(currency) = 3),
        description TEXT,
        payload TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE index_constituents (
        index_id TEXT NOT NULL REFERENCES indexes (id),
        position INTEGER NOT NULL,
        instrument_id TEXT NOT NULL REFERENCES instruments (instrument_id),
        shares TEXT,
        weight TEXT,
        PRIMARY KEY (index_id, position),
        UNIQUE (index_id, instrument_id)
    );
    """)


@MIGRATIONS()
def m010_strategies(db: sqlite_utils.Database) -> None:
    _run(db, """
    CREATE TABLE strategies (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        rules TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE strategy_runs (
        id TEXT PRIMARY KEY,
        strategy_id TEXT NOT NULL REFERENCES strategies (id),
        status TEXT NOT NULL CHECK (status IN ('Running', 'Complete', 'Failed')),
        percentage_complete REAL NOT NULL CHECK (percentage_complete BETWEEN 0 AND 100),
        started_at TEXT NOT NULL,
        finished_at TEXT,
        error TEXT
    );
    CREATE INDEX strategy_runs_strategy ON strategy_runs (strategy_id, started_at);
    CREATE TABLE strategy_results (
        run_id TEXT NOT NULL REFERENCES strategy_runs (id),
        account_id TEXT NOT NULL REFERENCES accounts (id),
        rule_name TEXT NOT NULL,
        result TEXT,
        error TEXT,
        PRIMARY KEY (run_id, account_id, rule_name),
        CHECK ((result IS NULL) != (error IS NULL))
    );
    """)


@MIGRATIONS()
def m011_executed_trades_not_copied(db: sqlite_utils.Database) -> None:
    """An EXECUTED rebalancing execution's trades are its order's child orders: the copy on the
    execution row goes (it was half the bytes of a book run), and only previews and
    cancellations keep theirs."""
    _run(db, """
    CREATE TABLE rebalancing_executions_new (
        id TEXT PRIMARY KEY,
        rebalancing_id TEXT NOT NULL REFERENCES rebalancings (id),
        account_id TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('EXECUTED', 'PREVIEW', 'CANCELLED')),
        cancellation_reason TEXT,
        portfolio_order_id TEXT REFERENCES portfolio_orders (id),
        trades TEXT,
        CHECK ((status = 'EXECUTED') = (trades IS NULL))
    );
    INSERT INTO rebalancing_executions_new
        SELECT id, rebalancing_id, account_id, status, cancellation_reason, portfolio_order_id,
               CASE WHEN status = 'EXECUTED' THEN NULL ELSE trades END
        FROM rebalancing_executions;
    DROP TABLE rebalancing_executions;
    ALTER TABLE rebalancing_executions_new RENAME TO rebalancing_executions;
    CREATE INDEX rebalancing_executions_run ON rebalancing_executions (rebalancing_id)
    """)


@MIGRATIONS()
def m012_packed_child_orders(db: sqlite_utils.Database) -> None:
    """Child orders move into their order, packed (``portfolio_orders.legs``, see
    :mod:`toolkit.store.legs`), and the ``fills`` table goes: a fill is the child order of a FILLED
    or SETTLED order. Decimal strings become the same exact integers (cents, 1e-10 share); cash
    bookings that named a child order name its new derived id. ``order_transitions`` becomes a
    view over the ``PORTFOLIO_ORDER.*`` events, which carry the same transitions (one missing is
    written as an event first). The cash ledger's account index also covers the amount, so a
    book's balances are summed from the index alone."""
    _run(db, """
    CREATE TABLE instrument_keys (
        key INTEGER PRIMARY KEY,
        instrument_id TEXT NOT NULL UNIQUE REFERENCES instruments (instrument_id)
    );
    ALTER TABLE portfolio_orders ADD COLUMN legs BLOB NOT NULL DEFAULT x''
    """)
    children = db.conn.execute("SELECT portfolio_order_id, id, instrument_id, side, amount, quantity, price, fee "
                               "FROM child_orders ORDER BY portfolio_order_id, position").fetchall()
    if children:
        orders, old_ids, iids, sides, amounts, qty, prices, fees = zip(*children)
        units = [[int(Decimal(text).scaleb(places)) for text in column]
                 for column, places in ((amounts, 2), (qty, 10), (fees, 2))]
        table = legs.records(legs.InstrumentKeys(db).keys(iids), [s == "SELL" for s in sides], units[0], units[1],
                             prices, units[2])
        owners, counts = np.unique(orders, return_counts=True)
        db.conn.executemany("UPDATE portfolio_orders SET legs = ? WHERE id = ?",
                            zip(legs.split(table, counts), owners.tolist()))
        positions = np.arange(len(orders)) - np.repeat(np.cumsum(counts) - counts, counts)
        db.conn.execute("CREATE TEMP TABLE renamed_children (old TEXT PRIMARY KEY, new TEXT NOT NULL)")
        db.conn.executemany("INSERT INTO renamed_children VALUES (?, ?)",
                            [(old, legs.child_id(o, int(n))) for o, n, old in zip(orders, positions, old_ids)])
        db.conn.execute("UPDATE cash_ledger SET reference = (SELECT new FROM renamed_children WHERE old = reference) "
                        "WHERE reference IN (SELECT old FROM renamed_children)")
        db.conn.execute("DROP TABLE temp.renamed_children")
    _run(db, """
    DROP TABLE fills;
    DROP TABLE child_orders;
    INSERT INTO events (type, resource_id, payload, created_at)
        SELECT 'PORTFOLIO_ORDER.' || t.to_state, t.portfolio_order_id,
               json_object('from', t.from_state, 'to', t.to_state), t.at
        FROM order_transitions t WHERE NOT EXISTS (
            SELECT 1 FROM events e WHERE e.resource_id = t.portfolio_order_id
            AND e.type = 'PORTFOLIO_ORDER.' || t.to_state AND e.created_at = t.at)
        ORDER BY t.id;
    DROP TABLE order_transitions;
    CREATE VIEW order_transitions AS
        SELECT id, resource_id AS portfolio_order_id, json_extract(payload, '$.from') AS from_state,
               json_extract(payload, '$.to') AS to_state, created_at AS at
        FROM events WHERE type GLOB 'PORTFOLIO_ORDER.*';
    DROP INDEX cash_ledger_account;
    CREATE INDEX cash_ledger_account ON cash_ledger (account_id, amount)
    """)


@MIGRATIONS()
def m013_event_subscribers(db: sqlite_utils.Database) -> None:
    """Where each event subscriber starts (``start_after``: the last event id before it, 0 for every
    stored event), so that a new subscriber starts from now and a known one resumes. Subscribers
    already in the delivery log were offered every stored event: they keep starting from 0."""
    _run(db, """
    CREATE TABLE event_subscribers (
        name TEXT PRIMARY KEY,
        start_after INTEGER NOT NULL CHECK (start_after >= 0),
        created_at TEXT NOT NULL
    );
    INSERT INTO event_subscribers (name, start_after, created_at)
        SELECT subscriber, 0, MIN(at) FROM event_deliveries GROUP BY subscriber
    """)


@MIGRATIONS()
def m014_performance_reference(db: sqlite_utils.Database) -> None:
    """The id a reported portfolio has in the performance interface's data source (its ``portfolioId``,
    ``E0002``; performance-reporting-interface.txt line 112), unique in a workspace; NULL: the portfolio
    is named by its account id."""
    _run(db, """
    ALTER TABLE performance_master ADD COLUMN reference TEXT;
    CREATE UNIQUE INDEX performance_master_reference ON performance_master (reference) WHERE reference IS NOT NULL
    """)


@MIGRATIONS()
def m015_order_user(db: sqlite_utils.Database) -> None:
    """The ``user_id`` a portfolio order was placed for (brokerage-model-portfolios.txt line 87), as
    the request gave it; NULL when it gave none (the toolkit has no users of its own)."""
    _run(db, "ALTER TABLE portfolio_orders ADD COLUMN user_id TEXT")


@MIGRATIONS()
def m016_strategy_ids_index_symbols(db: sqlite_utils.Database) -> None:
    """The risk platform's names of strategies and indexes (risk-platform-api.txt lines 1049, 1859):
    ``strategies.strategy_id``, a whole number from 100 up, unique, given to the existing strategies in
    the order they were made; ``strategies.rules`` in the document's form (``rule_id`` and a list of
    ``{key, value}`` in its units: a trigger of 0.05 becomes "5"), the rules as first saved kept in
    ``strategies.original`` (NULL for strategies saved in the document's form); ``indexes.symbol``, the
    symbol GET /index lists and ``index_symbol`` names, unique, made from the name of each existing index
    (upper-case letters and digits: "S&P 20 cap-weighted" is SP20CAPWEIGHTED)."""
    _run(db, """
    ALTER TABLE strategies ADD COLUMN strategy_id INTEGER;
    ALTER TABLE strategies ADD COLUMN original TEXT;
    ALTER TABLE indexes ADD COLUMN symbol TEXT
    """)
    rows = db.conn.execute("SELECT id, rules FROM strategies ORDER BY created_at, name").fetchall()
    for number, (key, rules) in enumerate(rows, start=100):
        db.conn.execute("UPDATE strategies SET strategy_id = ?, rules = ?, original = ? WHERE id = ?",
                        (number, json.dumps([_seed_rule(r) for r in json.loads(rules)]), rules, key))
    for key, name in db.conn.execute("SELECT id, name FROM indexes ORDER BY created_at, name").fetchall():
        base = symbol_of(name)
        symbol, n = base, 1
        while db.conn.execute("SELECT 1 FROM indexes WHERE symbol = ?", (symbol,)).fetchone():
            n += 1
            symbol = f"{base}{n}"
        db.conn.execute("UPDATE indexes SET symbol = ? WHERE id = ?", (symbol, key))
    _run(db, """
    CREATE UNIQUE INDEX strategies_strategy_id ON strategies (strategy_id);
    CREATE UNIQUE INDEX indexes_symbol ON indexes (symbol)
    """)


#: the toolkit's rule names and parameter names before m016, as the document's rule ids and keys
#: (key, scale from a fraction to the document's percent)
_RULE_IDS = {"Min Risk (CVaR)": 12, "Equal Weight": 14, "Diversified Min Risk": 15, "Max Sharpe": 16,
             "Volatility weighted": 17, "Risk Parity": 18, "ATR weighted": 19, "Max Diversification": 20,
             "Min Tracking Error": 21}
_KEYS = {"include stop/limit": ("IncludeStopLimit", 0), "include_stop_limit": ("IncludeStopLimit", 0),
         "size rebalance trigger": ("RebalanceTrigger", 100), "size_rebalance_trigger": ("RebalanceTrigger", 100),
         "covariance": ("Covariance", 0), "level": ("ConfidenceLevel", 1), "risk_free_rate": ("RiskFreeRate", 100),
         "period": ("Period", 1)}


#: the keys each portfolio rule takes beyond IncludeStopLimit and RebalanceTrigger
_EXTRA_KEYS = {12: {"ConfidenceLevel"}, 15: {"Covariance"}, 16: {"Covariance", "RiskFreeRate"}, 18: {"Covariance"},
               19: {"Period"}, 20: {"Covariance"}}


def _seed_rule(rule: dict) -> dict:
    """A rule as saved before m016 (``rule_name``, ``parameters`` by name in fractions) in the
    document's form; parameters the rule has no key for are left out (``original`` keeps them)."""
    values, rule_id = [], _RULE_IDS.get(rule.get("rule_name", ""), 14)
    takes = {"IncludeStopLimit", "RebalanceTrigger", *_EXTRA_KEYS.get(rule_id, ())}
    for name, value in (rule.get("parameters") or {}).items():
        key, scale = _KEYS.get(" ".join(str(name).lower().split()), (None, 0))
        if key not in takes or value is None:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif scale and isinstance(value, (int, float)):
            text = format((Decimal(repr(value)) * scale).normalize(), "f")
        else:
            text = str(value)
        values.append({"key": key, "value": text})
    return {"rule_id": rule_id, "parameters": values, "constraints": []}


@MIGRATIONS()
def m017_risk_codes(db: sqlite_utils.Database) -> None:
    """The risk platform's identifiers (risk-platform-api.txt lines 1108-1109, 206-241).

    - The Nasdaq stocks listed on Nasdaq Global Select (AAPL, AMD, GOOG, MSFT, PEP) carry its segment
      MIC, ``XNGS`` (ISO 10383), as the document's codes do (``AAPL_XNGS``), instead of Nasdaq's
      operating MIC ``XNAS``; indexes (COMP) keep ``XNAS``.
    - Uploaded portfolios name instruments by ``instrument_code`` and ``apiid`` and hold ``Long`` or
      ``Short`` positions of a ``size`` at a ``level``, opened and closed at RFC 3339 times, with
      ``limit`` and ``stop``; the capital object's ``available`` and ``equity`` are kept beside
      ``capital`` (its ``funds``). Existing positions and wishes, named by ISIN and currency, keep
      them and get the code and provider of the current series of that ISIN and currency (the code is
      the ISIN, under the User Feed, where the workspace has none): ``Long``, size = quantity, level =
      open_level, close = close_level, dates at midnight UTC. Nothing is dropped.
    """
    from toolkit.market.instruments import current_first, instrument_code  # noqa: PLC0415
    from toolkit.market.providers import USER_FEED, apiid_of  # noqa: PLC0415
    from toolkit.store.repositories import _frame  # noqa: PLC0415

    db.conn.execute("UPDATE instruments SET mic = 'XNGS' WHERE mic = 'XNAS' AND instrument_type = 'Stock' "
                    "AND symbol IN ('AAPL', 'AMD', 'GOOG', 'MSFT', 'PEP')")
    table = current_first(_frame(db, """
        SELECT i.symbol, i.mic, i.isin, i.currency, i.source, coalesce(s.n, 0) AS n_records, s.last AS history_end
        FROM instruments i LEFT JOIN (SELECT instrument_id, count(*) AS n, max(time) AS last FROM prices
                                      WHERE timeframe = 1 GROUP BY instrument_id) s USING (instrument_id)
        ORDER BY i.symbol""")).drop_duplicates(["isin", "currency"])
    named = {(r.isin, r.currency): (instrument_code(r.symbol, r.mic if isinstance(r.mic, str) else None),
                                    apiid_of(r.source) or USER_FEED) for r in table.itertuples()}

    def code(isin: str, currency: str) -> tuple[str, int]:
        return named.get((isin, currency), (isin, USER_FEED))

    positions = db.conn.execute("SELECT portfolio_id, position, isin, currency, quantity, open_date, open_level, "
                                "close_date, close_level FROM risk_portfolio_positions").fetchall()
    wishes = db.conn.execute("SELECT portfolio_id, position, isin, currency FROM risk_portfolio_wishlist").fetchall()
    _run(db, """
    DROP TABLE risk_portfolio_positions;
    DROP TABLE risk_portfolio_wishlist;
    CREATE TABLE risk_portfolio_positions (
        portfolio_id TEXT NOT NULL REFERENCES risk_portfolios (id),
        position INTEGER NOT NULL,
        instrument_code TEXT NOT NULL,
        apiid INTEGER NOT NULL,
        direction TEXT NOT NULL CHECK (direction IN ('Long', 'Short')),
        size TEXT NOT NULL,
        level TEXT NOT NULL,
        date_open TEXT NOT NULL,
        close TEXT,
        date_close TEXT,
        "limit" TEXT,
        stop TEXT,
        isin TEXT,
        currency TEXT,
        PRIMARY KEY (portfolio_id, position),
        CHECK (date_close IS NULL OR date_close >= date_open),
        CHECK ((date_close IS NULL) = (close IS NULL))
    );
    CREATE INDEX risk_portfolio_positions_code ON risk_portfolio_positions (instrument_code, apiid);
    CREATE TABLE risk_portfolio_wishlist (
        portfolio_id TEXT NOT NULL REFERENCES risk_portfolios (id),
        position INTEGER NOT NULL,
        instrument_code TEXT NOT NULL,
        apiid INTEGER NOT NULL,
        direction TEXT NOT NULL CHECK (direction IN ('Long', 'Short')),
        isin TEXT,
        currency TEXT,
        PRIMARY KEY (portfolio_id, position)
    );
    ALTER TABLE risk_portfolios ADD COLUMN available TEXT;
    ALTER TABLE risk_portfolios ADD COLUMN equity TEXT
    """)
    db.conn.executemany(
        "INSERT INTO risk_portfolio_positions (portfolio_id, position, instrument_code, apiid, direction, size, level, "
        "date_open, close, date_close, isin, currency) VALUES (?, ?, ?, ?, 'Long', ?, ?, ?, ?, ?, ?, ?)",
        [(pid, n, *code(isin, cur), qty, level, f"{opened}T00:00:00Z", close,
          f"{closed}T00:00:00Z" if closed else None, isin, cur)
         for pid, n, isin, cur, qty, opened, level, closed, close in positions])
    db.conn.executemany(
        "INSERT INTO risk_portfolio_wishlist (portfolio_id, position, instrument_code, apiid, direction, isin, "
        "currency) VALUES (?, ?, ?, ?, 'Long', ?, ?)",
        [(pid, n, *code(isin, cur), isin, cur) for pid, n, isin, cur in wishes])


@MIGRATIONS()
def m018_instrument_codes(db: sqlite_utils.Database) -> None:
    """``instruments.code``: the instrument code a user gave its upload (PUT /history) where it is not the
    series' ``SYMBOL_MIC`` (``IBM.US``, risk-platform-api.txt line 194); NULL: the code is ``SYMBOL_MIC``."""
    _run(db, "ALTER TABLE instruments ADD COLUMN code TEXT")


@MIGRATIONS()
def m019_backtests(db: sqlite_utils.Database) -> None:
    """The risk platform's backtest jobs (PUT/GET /portfolio/backtest): the request, the state
    (``Started`` until the run ends ``Completed`` or ``Failed``), the result as the document's JSON."""
    _run(db, """
    CREATE TABLE backtests (
        id TEXT PRIMARY KEY,
        client_reference TEXT NOT NULL,
        strategy_id INTEGER NOT NULL,
        start_date TEXT NOT NULL,
        end_date TEXT NOT NULL,
        spec TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('Started', 'Completed', 'Failed')),
        result TEXT,
        error TEXT,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        CHECK ((status = 'Completed') = (result IS NOT NULL)),
        CHECK ((status = 'Failed') = (error IS NOT NULL))
    );
    CREATE INDEX backtests_pair ON backtests (client_reference, strategy_id, started_at)
    """)


@MIGRATIONS()
def m020_automated_rebalancing(db: sqlite_utils.Database) -> None:
    """Automated rebalancing (brokerage "Setting up automated rebalancings"): a strategy attached to
    an account's portfolio configuration (calendar, drift band, cooldown), and each day it ran."""
    _run(db, """
    CREATE TABLE rebalancing_strategies (
        account_id TEXT PRIMARY KEY REFERENCES accounts (id),
        frequency TEXT CHECK (frequency IN ('monthly', 'quarterly', 'yearly')),
        band REAL CHECK (band > 0),
        band_kind TEXT NOT NULL CHECK (band_kind IN ('relative', 'absolute')),
        band_scope TEXT NOT NULL CHECK (band_scope IN ('line', 'book')),
        cooldown_days INTEGER NOT NULL CHECK (cooldown_days >= 0),
        created_at TEXT NOT NULL,
        CHECK (frequency IS NOT NULL OR band IS NOT NULL)
    );
    CREATE TABLE rebalancing_automated_runs (
        account_id TEXT NOT NULL REFERENCES accounts (id),
        as_of TEXT NOT NULL,
        reason TEXT NOT NULL,
        rebalancing_id TEXT REFERENCES rebalancings (id),
        created_at TEXT NOT NULL,
        PRIMARY KEY (account_id, as_of)
    )
    """)


@MIGRATIONS()
def m023_order_tactics(db: sqlite_utils.Database) -> None:
    """``order_tactics``: the tactical rules' verdict on each child order of a placed portfolio order
    (``ws.tactics``): its direction, entry ``level`` and ``size`` as judged, the ``stop`` and ``limit`` the
    rules set (rules 3 and 5; NULL where a rule found none), the order's verdict (``validated``) and the
    document's ``tactical_analysis`` item (JSON). Numbers as decimal text."""
    _run(db, """
    CREATE TABLE order_tactics (
        portfolio_order_id TEXT NOT NULL REFERENCES portfolio_orders (id),
        position INTEGER NOT NULL,
        instrument_id TEXT NOT NULL REFERENCES instruments (instrument_id),
        direction TEXT NOT NULL CHECK (direction IN ('Long', 'Short')),
        level TEXT NOT NULL,
        size TEXT NOT NULL,
        stop TEXT,
        "limit" TEXT,
        validated TEXT NOT NULL,
        tactical_analysis TEXT NOT NULL,
        PRIMARY KEY (portfolio_order_id, position)
    )
    """)



@MIGRATIONS()
def m025_settings(db: sqlite_utils.Database) -> None:
    """``settings``: the workspace's own settings that outlive a kernel, as JSON text by key (the fee
    schedule ``orders.fees``: a workspace reopened trades at the fees it was given)."""
    _run(db, """
    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL CHECK (json_valid(value))
    )
    """)


@MIGRATIONS()
def m026_backtest_progress(db: sqlite_utils.Database) -> None:
    """``backtests.progress``: how far a ``Started`` job is, a fraction from 0 to 1 (the rebalance dates
    done over those of the period), for the page's progress bar."""
    _run(db, "ALTER TABLE backtests ADD COLUMN progress REAL NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1)")

def _run(db: sqlite_utils.Database, script: str) -> None:
    # not executescript(): it would COMMIT the surrounding BEGIN IMMEDIATE transaction
    for statement in script.split(";"):
        if statement.strip():
            db.conn.execute(statement)


def pending(db: sqlite_utils.Database) -> list[str]:
    return [m.name for m in MIGRATIONS.pending(db)]


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply pending migrations inside one ``BEGIN IMMEDIATE`` transaction; return their names."""
    with write(db):
        names = pending(db)
        MIGRATIONS.apply(db)
    return names
