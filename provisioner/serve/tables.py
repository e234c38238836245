"""The service's own tables, one statement table per dialect, side by side: SQLite and PostgreSQL.

``serve/queue.py`` holds the logic (dedup, deleted deals, the guard) once; it calls these by
name. Tables (SQLite: in the store's file; PostgreSQL: keyed by ``portal_id``, in ``pgschema``):
- ``serve_seen``: dedup keys of deliveries, records and HubSpot events, with when first seen;
- ``guard_edits``: hand edits the guard saw and what it did;
- ``deals_gone``: deals HubSpot said were deleted.
"""

from __future__ import annotations

import sqlite3

from provisioner.sync.store import SyncStore

_PRUNE_ROWS = 5000  # at most this many expired keys are dropped per commit
_CHUNK = 500  # SQLite's variable limit is well above; keeps statements small
GUARD_LOG_COLUMNS = "id, deal_id, property, value, change_source, source_id, occurred_at, recorded_at, action"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS serve_seen (key TEXT PRIMARY KEY, seen_at REAL NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS serve_seen_by_time ON serve_seen (seen_at);
CREATE TABLE IF NOT EXISTS guard_edits (
    id INTEGER PRIMARY KEY AUTOINCREMENT, deal_id TEXT NOT NULL, property TEXT, value TEXT,
    change_source TEXT, source_id TEXT, occurred_at TEXT, recorded_at TEXT NOT NULL, action TEXT NOT NULL,
    recorded_s REAL NOT NULL);
CREATE INDEX IF NOT EXISTS guard_edits_by_value ON guard_edits (deal_id, property, recorded_s);
CREATE TABLE IF NOT EXISTS deals_gone (deal_id TEXT PRIMARY KEY, occurred_at TEXT, recorded_at TEXT NOT NULL)
    WITHOUT ROWID;
"""


class SqliteTables:
    """The service's statements on SQLite (``fleet.pgserve.PgTables`` holds PostgreSQL's, same names)."""

    def __init__(self, store: SyncStore) -> None:
        self._read = sqlite3.connect(str(store.path), isolation_level=None, check_same_thread=False)
        self._read.executescript(_SCHEMA)

    def close(self) -> None:
        self._read.close()

    @staticmethod
    def known(db: sqlite3.Connection, keys: list[str]) -> set[str]:
        """Which of ``keys`` the store has seen (one query a chunk, not one a key)."""
        found: set[str] = set()
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start:start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            found.update(row[0] for row in db.execute(f"SELECT key FROM serve_seen WHERE key IN ({marks})", chunk))
        return found

    @staticmethod
    def gone(db: sqlite3.Connection, deals: set[str]) -> dict[str, str | None]:
        """Which of ``deals`` HubSpot deleted, with when (one query a chunk)."""
        found: dict[str, str | None] = {}
        ordered = sorted(deals)
        for start in range(0, len(ordered), _CHUNK):
            chunk = ordered[start:start + _CHUNK]
            found.update(db.execute(
                f"SELECT deal_id, occurred_at FROM deals_gone WHERE deal_id IN ({','.join('?' * len(chunk))})",
                chunk).fetchall())
        return found

    @staticmethod
    def is_gone(db: sqlite3.Connection, deal_id: str) -> bool:
        return db.execute("SELECT 1 FROM deals_gone WHERE deal_id = ?", (deal_id,)).fetchone() is not None

    @staticmethod
    def mark_gone(db: sqlite3.Connection, deal_id: str, occurred: str, recorded: str) -> None:
        db.execute("INSERT OR REPLACE INTO deals_gone VALUES (?, ?, ?)", (deal_id, occurred, recorded))

    @staticmethod
    def mark_seen(db: sqlite3.Connection, keys: list[str], now: float) -> None:
        db.executemany("INSERT OR IGNORE INTO serve_seen VALUES (?, ?)", ((key, now) for key in sorted(keys)))

    @staticmethod
    def prune_seen(db: sqlite3.Connection, before: float) -> None:
        db.execute("DELETE FROM serve_seen WHERE key IN (SELECT key FROM serve_seen WHERE seen_at < ? LIMIT ?)",
                   (before, _PRUNE_ROWS))

    @staticmethod
    def restores_since(db: sqlite3.Connection, deal_id: str, prop: str, since: float) -> int:
        return db.execute("SELECT COUNT(*) FROM guard_edits WHERE deal_id = ? AND property = ? AND action = 'restored'"
                          " AND recorded_s > ?", (deal_id, prop, since)).fetchone()[0]

    @staticmethod
    def log_edit(db: sqlite3.Connection, row: tuple) -> None:
        db.execute("INSERT INTO guard_edits (deal_id, property, value, change_source, source_id, occurred_at,"
                   " recorded_at, action, recorded_s) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)

    def guard_edits(self) -> list[tuple]:
        return self._read.execute(f"SELECT {GUARD_LOG_COLUMNS} FROM guard_edits ORDER BY id").fetchall()

    def writable(self) -> bool:
        """Whether a write could start now (takes the write lock and lets it go; writes nothing)."""
        try:
            self._read.execute("BEGIN IMMEDIATE")
            self._read.execute("ROLLBACK")
            return True
        except sqlite3.Error:
            return False


GUARD_LOG_COLUMNS = "id, deal_id, property, value, change_source, source_id, occurred_at, recorded_at, action"


class PgTables:
    """The same statements on PostgreSQL, on one portal's rows (``db`` is the portal store's ``Tx``)."""

    def __init__(self, store) -> None:
        self.store = store  # a fleet.pgstore.PortalStore

    def close(self) -> None:
        """The connections belong to the store's pool."""

    @staticmethod
    def known(db, keys: list[str]) -> set[str]:
        return {key for (key,) in db.execute("SELECT key FROM serve_seen WHERE portal_id = %(portal)s"
                                             " AND key = ANY(%(keys)s)", {"keys": keys})}

    @staticmethod
    def gone(db, deals: set[str]) -> dict[str, str | None]:
        return dict(db.execute("SELECT deal_id, occurred_at FROM deals_gone WHERE portal_id = %(portal)s"
                               " AND deal_id = ANY(%(deals)s)", {"deals": sorted(deals)}).fetchall())

    @staticmethod
    def is_gone(db, deal_id: str) -> bool:
        return db.execute("SELECT 1 FROM deals_gone WHERE portal_id = %(portal)s AND deal_id = %(d)s",
                          {"d": deal_id}).fetchone() is not None

    @staticmethod
    def mark_gone(db, deal_id: str, occurred: str, recorded: str) -> None:
        db.execute("INSERT INTO deals_gone VALUES (%(portal)s, %(d)s, %(o)s, %(r)s) ON CONFLICT (portal_id, deal_id)"
                   " DO UPDATE SET occurred_at = excluded.occurred_at, recorded_at = excluded.recorded_at",
                   {"d": deal_id, "o": occurred, "r": recorded})

    @staticmethod
    def mark_seen(db, keys: list[str], now: float) -> None:
        if keys:
            db.execute("INSERT INTO serve_seen SELECT %(portal)s, k, %(now)s FROM unnest(%(keys)s::text[]) AS u(k)"
                       " ORDER BY k ON CONFLICT DO NOTHING", {"keys": sorted(set(keys)), "now": now})

    @staticmethod
    def prune_seen(db, before: float) -> None:
        db.execute("DELETE FROM serve_seen WHERE ctid = ANY(ARRAY(SELECT ctid FROM serve_seen WHERE portal_id ="
                   " %(portal)s AND seen_at < %(before)s LIMIT %(rows)s))", {"before": before, "rows": _PRUNE_ROWS})

    @staticmethod
    def restores_since(db, deal_id: str, prop: str, since: float) -> int:
        return db.execute("SELECT count(*) FROM guard_edits WHERE portal_id = %(portal)s AND deal_id = %(d)s"
                          " AND property = %(p)s AND action = 'restored' AND recorded_s > %(since)s",
                          {"d": deal_id, "p": prop, "since": since}).fetchone()[0]

    @staticmethod
    def log_edit(db, row: tuple) -> None:
        names = ("d", "p", "v", "cs", "si", "o", "ra", "a", "rs")
        db.execute("INSERT INTO guard_edits (portal_id, deal_id, property, value, change_source, source_id,"
                   " occurred_at, recorded_at, action, recorded_s) VALUES (%(portal)s, %(d)s, %(p)s, %(v)s, %(cs)s,"
                   " %(si)s, %(o)s, %(ra)s, %(a)s, %(rs)s)", dict(zip(names, row, strict=True)))

    def guard_edits(self) -> list[tuple]:
        return self.store._read(f"SELECT {GUARD_LOG_COLUMNS} FROM guard_edits WHERE portal_id = %(portal)s"
                                " ORDER BY id")

    def writable(self) -> bool:
        try:
            self.store._read("SELECT 1")
            return True
        except Exception:  # noqa: BLE001 - any failure means: not ready
            return False
