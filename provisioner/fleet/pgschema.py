"""The PostgreSQL store's schema: every row keyed by ``portal_id`` (BIGINT), created if missing.

The same tables as the SQLite store (``sync/store.py``) and the service's queue tables
(``serve/queue.py``), plus ``portal_queue``: one row per portal, the unit a worker claims
(``FOR UPDATE SKIP LOCKED``), holding the portal's rate-limit tokens, when they were last
refilled, ``ready_at`` (epoch seconds, the database's clock: when a worker may next send, after
the tokens refill or a pause), the last ``X-HubSpot-RateLimit-*`` headers HubSpot sent for it,
and ``note`` (why it is paused, when it is).

Every text that takes part in the ordering rule or in key order is ``COLLATE "C"``: bytes order,
which for UTF-8 is code-point order, the order Python and SQLite compare texts in. A database
created with another default collation still orders the registers the same way.

Creating the schema takes a transaction-scoped advisory lock, so processes starting together do
not race on ``CREATE TABLE IF NOT EXISTS`` (a session lock would break behind a transaction pooler).
"""

from __future__ import annotations

import psycopg

from provisioner.sync.store import StoreError

SCHEMA_VERSION = "1"
_SCHEMA_LOCK = 0x70726F76  # "prov": the advisory lock held while the schema is created

_SCHEMA = """
CREATE TABLE IF NOT EXISTS store_meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS registers (
    portal_id bigint NOT NULL, deal_id text COLLATE "C" NOT NULL, property text COLLATE "C" NOT NULL,
    value text COLLATE "C" NOT NULL, occurred_at bigint NOT NULL, accord_id text COLLATE "C" NOT NULL,
    event text COLLATE "C" NOT NULL, confirmed text COLLATE "C", parked boolean NOT NULL DEFAULT false,
    confirmed_at bigint, PRIMARY KEY (portal_id, deal_id, property));
CREATE INDEX IF NOT EXISTS registers_pending ON registers (portal_id, deal_id)
    WHERE NOT parked AND confirmed IS DISTINCT FROM value;
CREATE TABLE IF NOT EXISTS dead_letters (
    id bigserial PRIMARY KEY, portal_id bigint NOT NULL, created_at text NOT NULL, origin text NOT NULL,
    accord_id text, deal_id text COLLATE "C", occurred_at bigint, reason text NOT NULL, line text NOT NULL,
    truncated boolean NOT NULL DEFAULT false, digest text NOT NULL, seen integer NOT NULL DEFAULT 1,
    properties text NOT NULL DEFAULT '', resolved_at text, UNIQUE (portal_id, digest));
CREATE INDEX IF NOT EXISTS dead_letters_open ON dead_letters (portal_id, deal_id) WHERE resolved_at IS NULL;
CREATE TABLE IF NOT EXISTS serve_seen (
    portal_id bigint NOT NULL, key text NOT NULL, seen_at double precision NOT NULL, PRIMARY KEY (portal_id, key));
CREATE INDEX IF NOT EXISTS serve_seen_by_time ON serve_seen (seen_at);
CREATE TABLE IF NOT EXISTS guard_edits (
    id bigserial PRIMARY KEY, portal_id bigint NOT NULL, deal_id text NOT NULL, property text, value text,
    change_source text, source_id text, occurred_at text, recorded_at text NOT NULL, action text NOT NULL,
    recorded_s double precision NOT NULL);
CREATE INDEX IF NOT EXISTS guard_edits_by_value ON guard_edits (portal_id, deal_id, property, recorded_s);
CREATE TABLE IF NOT EXISTS deals_gone (
    portal_id bigint NOT NULL, deal_id text NOT NULL, occurred_at text, recorded_at text NOT NULL,
    PRIMARY KEY (portal_id, deal_id));
CREATE TABLE IF NOT EXISTS portal_queue (
    portal_id bigint PRIMARY KEY, per_window integer, window_s double precision NOT NULL DEFAULT 10,
    tokens double precision NOT NULL DEFAULT 0, refilled_at double precision NOT NULL DEFAULT 0,
    ready_at double precision NOT NULL DEFAULT 0, last_sent_at double precision NOT NULL DEFAULT 0,
    requests bigint NOT NULL DEFAULT 0, rate_limited bigint NOT NULL DEFAULT 0, last_headers jsonb,
    note text)
"""


def create_schema(conn: psycopg.Connection, where: str) -> None:
    """Create what is missing (one transaction); refuse a database whose store is of another version."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        found = conn.execute("SELECT to_regclass('store_meta') IS NOT NULL").fetchone()[0]
        if found:
            row = conn.execute("SELECT value FROM store_meta WHERE key = 'schema_version'").fetchone()
            if row is not None and row[0] != SCHEMA_VERSION:
                raise StoreError(f"{where}: the store's schema is version {row[0]}, this provisioner knows "
                                 f"{SCHEMA_VERSION}", hint="use the provisioner release that wrote it")
            if row is not None:
                return
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute("INSERT INTO store_meta VALUES ('schema_version', %s) ON CONFLICT (key) DO NOTHING",
                     (SCHEMA_VERSION,))
