"""The sandbox's own state: one SQLite file (WAL), opened per operation.

Writers take `BEGIN IMMEDIATE`, so SQLite serialises them across the threads of the
server: two requests can never both see "no payment for this order" or "no request with
this Idempotency-Key" and both go ahead. A partial unique index makes the rule
"one approved payment per orderId" hold even if the code above it were wrong.
Times are stored as ISO 8601 UTC strings.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from datetime import datetime, UTC
from pathlib import Path
from collections.abc import Iterator

# Columns added after a state file may already exist: (table, column, definition).
ADDED_COLUMNS = (
    ("payments", "tax_exemption_amount", "INTEGER NOT NULL DEFAULT 0"),
    ("payments", "installment_months", "INTEGER NOT NULL DEFAULT 0"),
    ("cancels", "tax_exemption_amount", "INTEGER NOT NULL DEFAULT 0"),
    ("payments", "approval_transaction_key", "TEXT"),
    ("payments", "fee_rate", "REAL"),
    ("cancels", "fee_rate", "REAL"),
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS auth_keys (
    auth_key TEXT PRIMARY KEY,
    customer_key TEXT NOT NULL,
    card_number TEXT NOT NULL,
    created_at TEXT NOT NULL,
    used_at TEXT
);
CREATE TABLE IF NOT EXISTS billing_keys (
    billing_key TEXT PRIMARY KEY,
    customer_key TEXT NOT NULL,
    card_number TEXT NOT NULL,
    authenticated_at TEXT NOT NULL,
    deleted_at TEXT,
    override_set INTEGER NOT NULL DEFAULT 0,
    override_code TEXT,
    approved_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS billing_keys_customer ON billing_keys (customer_key);
CREATE TABLE IF NOT EXISTS payments (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    payment_key TEXT NOT NULL UNIQUE,
    order_id TEXT NOT NULL,
    order_name TEXT NOT NULL,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    total_amount INTEGER NOT NULL,
    balance_amount INTEGER NOT NULL,
    tax_free_amount INTEGER NOT NULL DEFAULT 0,
    tax_exemption_amount INTEGER NOT NULL DEFAULT 0,
    installment_months INTEGER NOT NULL DEFAULT 0,
    billing_key TEXT,
    customer_key TEXT,
    card_number TEXT NOT NULL,
    approve_no TEXT,
    customer_email TEXT,
    customer_name TEXT,
    requested_at TEXT NOT NULL,
    approved_at TEXT,
    last_transaction_key TEXT,
    approval_transaction_key TEXT,  -- the approval's own transaction (last_transaction_key moves on)
    fee_rate REAL,  -- the merchant fee rate when it was approved (settlements)
    failure_code TEXT,
    failure_message TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS payments_one_approved_per_order
    ON payments (order_id) WHERE status IN ('DONE', 'CANCELED', 'PARTIAL_CANCELED');
CREATE INDEX IF NOT EXISTS payments_order ON payments (order_id);
CREATE TABLE IF NOT EXISTS cancels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    payment_key TEXT NOT NULL,
    transaction_key TEXT NOT NULL,
    cancel_amount INTEGER NOT NULL,
    cancel_reason TEXT NOT NULL,
    tax_free_amount INTEGER NOT NULL DEFAULT 0,
    tax_exemption_amount INTEGER NOT NULL DEFAULT 0,
    refundable_amount INTEGER NOT NULL,
    canceled_at TEXT NOT NULL,
    fee_rate REAL
);
CREATE INDEX IF NOT EXISTS cancels_payment ON cancels (payment_key);
CREATE TABLE IF NOT EXISTS idempotency (
    scope TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    status INTEGER,
    body TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS webhooks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    transmission_id TEXT NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    url TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    next_attempt_at TEXT
);
CREATE TABLE IF NOT EXISTS webhook_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id INTEGER NOT NULL,
    retried_count INTEGER NOT NULL,
    attempted_at TEXT NOT NULL,
    status_code INTEGER,
    error TEXT
);
"""


class Store:
    """Connections to the sandbox's SQLite file; the schema is created on first use."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)
            for table, column, definition in ADDED_COLUMNS:
                present = {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}
                if column not in present:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")

    def __repr__(self) -> str:
        return f"<Store {self.path}>"

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One serialised write transaction: committed on success, rolled back on error."""
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        conn = self._connect()
        try:
            yield conn
        finally:
            conn.close()


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


def parse_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
