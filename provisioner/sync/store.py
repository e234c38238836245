"""The value sync's local store (SQLite, WAL): one register per deal property, and dead letters.

Tables (schema version 2; a version-1 store is migrated in place when opened, see ``migrate``):
- ``registers``: per (deal, property), the winning write under the ordering rule
  (``coalesce``): its value, ``occurred_at`` (microseconds since the epoch, INTEGER), accord and
  event, plus ``confirmed``, the value HubSpot last confirmed for it (NULL: none, or unknown),
  ``parked`` (1 when HubSpot refused this value, or the deal is gone: a dead letter holds it) and
  ``confirmed_at`` (microseconds since the epoch when that answer was recorded).
  A register is *pending* while it is not parked and its value is not the confirmed one; the
  pending registers are the queue (a partial index finds them without reading the others).
- ``dead_letters``: records set aside with their reason, one row per distinct record (pushing the
  same bad input twice counts it twice, it does not copy it), ``resolved_at`` once a later run
  delivered it. Each line is kept up to ``MAX_LETTER_CHARS``.

Every write is key-ordered and grouped: one transaction per accepted chunk, one per answer.
This module is longer than most on purpose: it holds every SQL statement on the store's tables,
so the schema, its partial index and the statements that rely on them change in one place.
``lock`` serialises whole runs across processes (``<store>.lock``); SQLite's own lock (with a
deadline, ``BUSY_TIMEOUT_MS``) serialises single transactions.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

from provisioner.errors import ProvisionerError
from provisioner.sync.coalesce import Row

SCHEMA_VERSION = "2"
BUSY_TIMEOUT_MS = 30_000
CACHE_KIB = 65_536  # SQLite's page cache: filled only by the pages a run touches
MAX_LETTER_CHARS = 16_384  # of a dead letter's line; a longer line is kept cut, and cannot be retried
MAX_REASON_CHARS = 2_000
# A value older than any event: the stamp of a confirmed value migrated without its write.
OLDEST = -62_135_596_800_000_000  # 0001-01-01T00:00:00Z

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS registers (
    deal_id TEXT NOT NULL, property TEXT NOT NULL, value TEXT NOT NULL, occurred_at INTEGER NOT NULL,
    accord_id TEXT NOT NULL, event TEXT NOT NULL, confirmed TEXT, parked INTEGER NOT NULL DEFAULT 0,
    confirmed_at INTEGER, PRIMARY KEY (deal_id, property)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS pending ON registers (deal_id) WHERE parked = 0 AND confirmed IS NOT value;
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL, origin TEXT NOT NULL,
    accord_id TEXT, deal_id TEXT, occurred_at INTEGER, reason TEXT NOT NULL, line TEXT NOT NULL,
    truncated INTEGER NOT NULL DEFAULT 0, digest TEXT NOT NULL UNIQUE, seen INTEGER NOT NULL DEFAULT 1,
    properties TEXT NOT NULL DEFAULT '', resolved_at TEXT);
CREATE INDEX IF NOT EXISTS open_letters ON dead_letters (deal_id) WHERE resolved_at IS NULL;
"""
_PENDING = "parked = 0 AND confirmed IS NOT value"
_ACCEPT = (
    "INSERT INTO registers (deal_id, property, value, occurred_at, accord_id, event) VALUES (?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (deal_id, property) DO UPDATE SET value = excluded.value, occurred_at = excluded.occurred_at,"
    " accord_id = excluded.accord_id, event = excluded.event, parked = 0"
    " WHERE (excluded.occurred_at, excluded.accord_id, excluded.value, excluded.event)"
    " > (occurred_at, accord_id, value, event)"
)


class StoreError(ProvisionerError):
    """The sync store cannot be used: locked by another run, unreadable, damaged, full disk."""


def describe(path: Path, exc: BaseException) -> StoreError:
    """One clear line for what SQLite or the file system said."""
    text = str(exc)
    lowered = text.lower()
    if "disk is full" in lowered or getattr(exc, "errno", None) == 28:
        return StoreError(f"{path}: the disk is full, the sync store cannot be written",
                          hint="free some space and run the command again (nothing half-written is kept)")
    if "readonly" in lowered or "read-only" in lowered or isinstance(exc, PermissionError):
        return StoreError(f"{path}: the sync store is read-only", hint="make it and its folder writable")
    if "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        return StoreError(f"{path}: the sync store is damaged ({text})",
                          hint="restore it from a backup, or move it away to start a new one")
    if "locked" in lowered or "busy" in lowered:
        return StoreError(f"{path}: the sync store stayed busy for {BUSY_TIMEOUT_MS // 1000} s",
                          hint="another process holds it; try again when it is done")
    if isinstance(exc, (NotADirectoryError, FileExistsError)) or "unable to open" in lowered:
        return StoreError(f"{path}: cannot open the sync store ({text})",
                          hint="its folder must be a writable directory")
    return StoreError(f"{path}: sync store error: {text}")


@contextmanager
def _errors(path: Path) -> Iterator[None]:
    try:
        yield
    except (sqlite3.Error, OSError) as exc:
        raise describe(path, exc) from None


class Pending(NamedTuple):
    """A value to send, with what HubSpot confirmed before and the stamp of its write."""

    confirmed: str | None
    value: str
    occurred_at: int
    accord_id: str
    event: str


class Register(NamedTuple):
    """A (deal, property) register: its winning write, and what HubSpot confirmed and when."""

    value: str
    occurred_at: int
    accord_id: str
    event: str
    confirmed: str | None
    parked: bool
    confirmed_at: int | None  # microseconds since the epoch


@dataclass(frozen=True)
class DeadLetter:
    id: int
    created_at: str
    origin: str  # "input" (failed the checks) or "hubspot" (rejected, or the deal is gone)
    accord_id: str | None
    deal_id: str | None
    occurred_at: int | None
    reason: str
    line: str
    truncated: bool = False
    seen: int = 1  # how many runs set this same record aside
    resolved_at: str | None = None  # when a later run delivered it


@dataclass(frozen=True)
class NewDeadLetter:
    origin: str
    reason: str
    line: str
    accord_id: str | None = None
    deal_id: str | None = None
    occurred_at: int | None = None
    properties: tuple[str, ...] = ()  # the deal properties it carries (known once it parsed)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _digest(origin: str, line: str) -> str:
    return hashlib.sha256(f"{origin}\n{line}".encode("utf-8", "surrogatepass")).hexdigest()[:32]


class SyncStore:
    """The SQLite store at ``path`` (created with its folder if missing, migrated if old)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._lock_file = None
        self._durable = True
        with _errors(self.path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
            try:
                self._db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
                self._db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
                self._db.execute("PRAGMA journal_mode=WAL")
                # FULL: a commit is on disk before the next request goes out.
                self._db.execute("PRAGMA synchronous=FULL")
                self._open_schema()
            except BaseException:
                self._db.close()
                raise

    def _open_schema(self) -> None:
        from provisioner.sync.migrate import migrate

        with self.transaction() as db:
            tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            version = None
            if "meta" in tables:
                row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
                version = row[0] if row else None
            if version is None and tables - {"meta", "sqlite_sequence"}:
                raise StoreError(f"{self.path}: not a sync store (it holds other tables)")
            if version not in (None, SCHEMA_VERSION):
                migrate(db, self.path, version)
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))

    def close(self) -> None:
        self.unlock()
        self._db.close()

    def __enter__(self) -> SyncStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- locking --------------------------------------------------------------------------------
    def lock(self, wait: float = 0.0) -> None:
        """Take the run lock, waiting up to ``wait`` seconds; then fail with one clear line."""
        with _errors(self.path):
            handle = open(str(self.path) + ".lock", "a+")  # noqa: SIM115 - held for the run
        deadline = time.monotonic() + max(0.0, wait)
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() >= deadline:
                    handle.close()
                    waited = f" (waited {wait:g} s)" if wait > 0 else ""
                    raise StoreError(
                        f"{self.path}: another sync run is using this store{waited}; nothing was done",
                        hint="wait for it to finish, or pass --wait SECONDS",
                    ) from None
                time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        self._lock_file = handle

    def unlock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    @contextmanager
    def transaction(self, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One transaction. ``durable=False`` (an answer's record) skips the sync to disk on commit:
        a record lost to a power cut leaves its values pending, so they are sent again (idempotent)."""
        with _errors(self.path):
            if durable != self._durable:
                self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
                self._durable = durable
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def trial(self) -> Iterator[sqlite3.Connection]:
        """A transaction that is always rolled back: for dry runs."""
        with _errors(self.path):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            finally:
                self._db.execute("ROLLBACK")

    def _read(self, sql: str, params: Sequence = ()) -> list[tuple]:
        with _errors(self.path):
            return self._db.execute(sql, params).fetchall()

    # ---- registers ------------------------------------------------------------------------------
    @staticmethod
    def accept_rows(db: sqlite3.Connection, rows: Iterable[Row]) -> int:
        """Apply the ordering rule to the store: each row replaces its register only when newer.

        ``rows`` in key order. Returns how many registers changed (written or created).
        """
        cursor = db.executemany(_ACCEPT, rows)
        return cursor.rowcount

    def pending_deals(self, after: str | None = None, limit: int = 100, db: sqlite3.Connection | None = None,
                      only: Sequence[str] | None = None) -> list[str]:
        """Deals with pending values, in key order, after ``after`` (from the partial index)."""
        if only is not None:
            marks = ",".join("?" * len(only))
            sql = f"SELECT DISTINCT deal_id FROM registers WHERE {_PENDING} AND deal_id IN ({marks}) ORDER BY deal_id"
            with _errors(self.path):
                return [d for (d,) in (db or self._db).execute(sql, list(only)).fetchall()]
        sql = f"SELECT DISTINCT deal_id FROM registers WHERE {_PENDING} AND deal_id > ? ORDER BY deal_id LIMIT ?"
        with _errors(self.path):
            return [d for (d,) in (db or self._db).execute(sql, (after or "", limit)).fetchall()]

    def pending_values(self, deal_ids: Sequence[str], db: sqlite3.Connection | None = None
                       ) -> list[tuple[str, dict[str, Pending]]]:
        """Per deal (in the order given), its pending values by property."""
        out: dict[str, dict[str, Pending]] = {d: {} for d in deal_ids}
        marks = ",".join("?" * len(deal_ids))
        sql = (f"SELECT deal_id, property, confirmed, value, occurred_at, accord_id, event FROM registers"
               f" WHERE deal_id IN ({marks}) AND {_PENDING} ORDER BY deal_id, property")
        with _errors(self.path):
            for deal, prop, *rest in (db or self._db).execute(sql, list(deal_ids)):
                out[deal][prop] = Pending(*rest)
        return [(d, values) for d, values in out.items() if values]

    def count_pending(self, values: bool = False) -> int:
        """How many deals (or values) are pending (reads the partial index only)."""
        what = "*" if values else "DISTINCT deal_id"
        return self._read(f"SELECT count({what}) FROM registers WHERE {_PENDING}")[0][0]

    @staticmethod
    def record_confirmed(db: sqlite3.Connection, rows: Iterable[tuple[str, str, str]], at: int | None = None) -> None:
        """HubSpot confirmed (deal, property, value): what it holds now, whatever the register wants.

        ``at`` (microseconds since the epoch) is no later than the moment HubSpot took the value:
        for the tool's own write, when its request was sent, not when the answer was recorded, so
        a hand edit made while the answer was on its way is never taken for an older one.
        """
        at = time.time_ns() // 1000 if at is None else at
        db.executemany("UPDATE registers SET confirmed = ?3, confirmed_at = ?4 WHERE deal_id = ?1 AND property = ?2",
                       ((deal, prop, value, at) for deal, prop, value in rows))

    @staticmethod
    def register(db: sqlite3.Connection, deal_id: str, prop: str) -> Register | None:
        """One register, read inside the caller's transaction (None: the sync never wrote it)."""
        row = db.execute("SELECT value, occurred_at, accord_id, event, confirmed, parked, confirmed_at FROM registers"
                         " WHERE deal_id = ? AND property = ?", (deal_id, prop)).fetchone()
        return None if row is None else Register(*row[:5], bool(row[5]), row[6])

    @staticmethod
    def park(db: sqlite3.Connection, rows: Iterable[tuple[str, str, str]]) -> None:
        """HubSpot refused (deal, property, value): stop sending it until a newer write or a retry."""
        db.executemany("UPDATE registers SET parked = 1 WHERE deal_id = ?1 AND property = ?2 AND value = ?3", rows)

    @staticmethod
    def park_deal(db: sqlite3.Connection, deal_id: str) -> None:
        """The deal is gone: stop sending any of its values (a newer write releases them again)."""
        db.execute("UPDATE registers SET parked = 1 WHERE deal_id = ?", (deal_id,))

    @staticmethod
    def unpark(db: sqlite3.Connection, deal_ids: Iterable[str]) -> None:
        db.executemany("UPDATE registers SET parked = 0 WHERE deal_id = ? AND parked = 1", ((d,) for d in deal_ids))

    @staticmethod
    def forget_confirmed(db: sqlite3.Connection) -> None:
        """Every register becomes pending (a full resync): HubSpot's values are taken as unknown."""
        db.execute("UPDATE registers SET confirmed = NULL WHERE parked = 0")

    def registers(self, deal_ids: Sequence[str]) -> dict[str, dict[str, tuple[str, str | None, bool, int]]]:
        """Per deal and property: (value, confirmed, parked, occurred_at)."""
        out: dict[str, dict[str, tuple[str, str | None, bool, int]]] = {}
        for start in range(0, len(deal_ids), 500):
            part = list(deal_ids[start:start + 500])
            sql = ("SELECT deal_id, property, value, confirmed, parked, occurred_at FROM registers"
                   f" WHERE deal_id IN ({','.join('?' * len(part))})")
            for deal, prop, value, confirmed, parked, at in self._read(sql, part):
                out.setdefault(deal, {})[prop] = (value, confirmed, bool(parked), at)
        return out

    def synced_deals(self, after: str | None = None, limit: int = 100) -> list[str]:
        """Deals with a confirmed value, in key order, after ``after``."""
        sql = ("SELECT DISTINCT deal_id FROM registers WHERE deal_id > ? AND confirmed IS NOT NULL"
               " ORDER BY deal_id LIMIT ?")
        return [d for (d,) in self._read(sql, (after or "", limit))]

    def count_synced(self) -> int:
        return self._read("SELECT count(DISTINCT deal_id) FROM registers WHERE confirmed IS NOT NULL")[0][0]

    @staticmethod
    def requeue(db: sqlite3.Connection, edits: Iterable[tuple[str, str, str, str]]) -> list[tuple[str, str]]:
        """Hand edits (deal, property, expected, actual) become pending again: confirmed := actual.

        Only where the register still holds ``expected`` as both its value and its confirmed value.
        """
        done = []
        for deal, prop, expected, actual in edits:
            cursor = db.execute(
                "UPDATE registers SET confirmed = ? WHERE deal_id = ? AND property = ? AND value = ?"
                " AND confirmed = value AND parked = 0", (actual, deal, prop, expected))
            if cursor.rowcount:
                done.append((deal, prop))
        return done

    def load_confirmed(self) -> dict[str, dict[str, str]]:
        """Every confirmed value (tests and small stores only: this reads the whole store)."""
        out: dict[str, dict[str, str]] = {}
        for deal, prop, value in self._read("SELECT deal_id, property, confirmed FROM registers"
                                             " WHERE confirmed IS NOT NULL"):
            out.setdefault(deal, {})[prop] = value
        return out

    def dump(self) -> list[tuple]:
        """Every register in key order (tests and small stores only)."""
        return self._read("SELECT deal_id, property, value, occurred_at, accord_id, event, confirmed, parked"
                          " FROM registers ORDER BY deal_id, property")

    # ---- dead letters ---------------------------------------------------------------------------
    def dead_letters(self, ids: Iterable[int] | None = None, include_resolved: bool = True) -> list[DeadLetter]:
        where = "" if include_resolved else " WHERE resolved_at IS NULL"
        rows = self._read(
            "SELECT id, created_at, origin, accord_id, deal_id, occurred_at, reason, line, truncated, seen,"
            f" resolved_at FROM dead_letters{where} ORDER BY id"
        )
        wanted = None if ids is None else set(ids)
        return [DeadLetter(*row[:8], bool(row[8]), row[9], row[10]) for row in rows
                if wanted is None or row[0] in wanted]

    @staticmethod
    def add_dead_letters(db: sqlite3.Connection, letters: Iterable[NewDeadLetter]) -> None:
        """Set records aside; a record already held is counted again (and reopened), not copied."""
        now = _now()
        rows = []
        for d in letters:
            line = d.line
            truncated = len(line) > MAX_LETTER_CHARS
            rows.append((now, d.origin, d.accord_id, d.deal_id, d.occurred_at, d.reason[:MAX_REASON_CHARS],
                         line[:MAX_LETTER_CHARS], int(truncated), _digest(d.origin, line), ",".join(d.properties)))
        db.executemany(
            "INSERT INTO dead_letters (created_at, origin, accord_id, deal_id, occurred_at, reason, line, truncated,"
            " digest, properties) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (digest) DO UPDATE SET"
            " seen = seen + 1, reason = excluded.reason, resolved_at = NULL,"
            " deal_id = coalesce(excluded.deal_id, deal_id), properties = excluded.properties",
            rows,
        )

    @staticmethod
    def describe_letter(db: sqlite3.Connection, letter_id: int, deal_id: str, occurred_at: int,
                        properties: Iterable[str]) -> None:
        """A retried letter that now parses: what it carries, so a delivery can resolve it."""
        db.execute("UPDATE dead_letters SET deal_id = ?, occurred_at = ?, properties = ? WHERE id = ?",
                   (deal_id, occurred_at, ",".join(sorted(properties)), letter_id))

    @staticmethod
    def resolve_delivered(db: sqlite3.Connection, deal_ids: Sequence[str]) -> int:
        """Mark resolved the open letters of these deals whose every value HubSpot now holds.

        A letter is delivered when each property it carries is confirmed, not parked, and its
        register's write is at least as new as the letter (a newer write supersedes it).
        """
        if not deal_ids:
            return 0
        marks = ",".join("?" * len(deal_ids))
        letters = db.execute(
            f"SELECT id, deal_id, occurred_at, properties FROM dead_letters WHERE resolved_at IS NULL"
            f" AND deal_id IN ({marks}) AND properties != ''", list(deal_ids)).fetchall()
        if not letters:
            return 0
        held = {}
        for deal, prop, value, confirmed, parked, at in db.execute(
            "SELECT deal_id, property, value, confirmed, parked, occurred_at FROM registers"
            f" WHERE deal_id IN ({','.join('?' * len({d for _, d, _, _ in letters}))})",
            sorted({d for _, d, _, _ in letters}),
        ):
            held[(deal, prop)] = not parked and confirmed == value, at
        done = []
        for letter_id, deal, at, properties in letters:
            states = [held.get((deal, prop)) for prop in properties.split(",")]
            if all(s is not None and s[0] and (at is None or s[1] >= at) for s in states):
                done.append((letter_id,))
        db.executemany(f"UPDATE dead_letters SET resolved_at = '{_now()}' WHERE id = ?", done)
        return len(done)
