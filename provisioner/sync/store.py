"""The value sync's local store (SQLite, WAL): one row of registers per deal, and dead letters.

Tables (schema version 3; a version-1 or -2 store is migrated in place when opened, see ``migrate``):
- ``deals``: per deal, its registers packed in one value (``packed``): per property, the winning
  write under the ordering rule (``coalesce``): its value, ``occurred_at`` (microseconds since
  the epoch), accord and event, plus ``confirmed``, the value HubSpot last confirmed for it (none,
  or unknown), ``parked`` (HubSpot refused this value, or the deal is gone: a dead letter holds
  it) and ``confirmed_at`` (microseconds since the epoch when that answer was recorded). A value
  is *pending* while it is not parked and not the confirmed one; the row's ``pending`` column
  counts them and ``synced`` counts the confirmed ones. The deals with pending values are the
  queue (a partial index finds them without reading the others).
- ``properties``: the property names the packed registers refer to by number.
- ``dead_letters``: records set aside with their reason, one row per distinct record (pushing the
  same bad input twice counts it twice, it does not copy it), ``resolved_at`` once a later run
  delivered it. Each line is kept up to ``MAX_LETTER_CHARS``.

Every write is key-ordered and grouped: one transaction per accepted chunk, one per answer; a
change to a deal's registers reads its row, applies the change in Python and writes the row back,
inside the caller's transaction. This module is longer than most on purpose: it holds every SQL
statement on the store's tables, so the schema, its partial index and the statements that rely
on them change in one place. ``lock`` serialises whole runs across processes (``<store>.lock``);
SQLite's own lock (with a deadline, ``BUSY_TIMEOUT_MS``) serialises single transactions.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

import msgspec

from provisioner.errors import ProvisionerError
from provisioner.sync.coalesce import Coalescer, Row
from provisioner.sync.packed import (
    CONFIRMED,
    CONFIRMED_AT,
    ENTRY_CONFIRMED,
    ENTRY_CONFIRMED_AT,
    ENTRY_PARKED,
    ENTRY_VALUE,
    OCCURRED_AT,
    PARKED,
    VALUE,
    Fields,
    Packed,
    PropertyIds,
    confirmed_of,
    merge,
    set_confirmed,
    unpack,
)

SCHEMA_VERSION = "3"
BUSY_TIMEOUT_MS = 30_000
CACHE_KIB = 65_536  # SQLite's page cache: filled only by the pages a run touches
# Pages of a new store: a chunk rewrites most pages of a large store, and 16 KiB pages (about 45
# deals each) cost about a quarter less CPU a chunk than SQLite's default 4 KiB (benchmarks/results/store_pages.md).
PAGE_BYTES = 16_384
MAX_LETTER_CHARS = 16_384  # of a dead letter's line; a longer line is kept cut, and cannot be retried
MAX_REASON_CHARS = 2_000
# A value older than any event: the stamp of a confirmed value migrated without its write.
OLDEST = -62_135_596_800_000_000  # 0001-01-01T00:00:00Z

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS properties (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS deals (
    deal_id TEXT PRIMARY KEY, pending INTEGER NOT NULL, synced INTEGER NOT NULL, registers BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS pending_deals ON deals (deal_id, pending) WHERE pending > 0;
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL, origin TEXT NOT NULL,
    accord_id TEXT, deal_id TEXT, occurred_at INTEGER, reason TEXT NOT NULL, line TEXT NOT NULL,
    truncated INTEGER NOT NULL DEFAULT 0, digest TEXT NOT NULL UNIQUE, seen INTEGER NOT NULL DEFAULT 1,
    properties TEXT NOT NULL DEFAULT '', resolved_at TEXT);
CREATE INDEX IF NOT EXISTS open_letters ON dead_letters (deal_id) WHERE resolved_at IS NULL;
"""
_PENDING = "pending > 0"
_BATCH = 10_000  # deals read (and written back) per statement
_READ = "SELECT deal_id, registers FROM deals WHERE deal_id IN (SELECT value FROM json_each(?))"
_UPDATE = "UPDATE deals SET pending = ?2, synced = ?3, registers = ?4 WHERE deal_id = ?1"
_SAVE = ("INSERT INTO deals (deal_id, pending, synced, registers) VALUES (?, ?, ?, ?) ON CONFLICT (deal_id)"
         " DO UPDATE SET pending = excluded.pending, synced = excluded.synced, registers = excluded.registers")
_encode_json = msgspec.json.Encoder().encode


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


def read_registers(db: sqlite3.Connection, deal_ids: Sequence[str]) -> dict[str, dict[str, Fields]]:
    """The registers of these deals (those the store holds), unpacked (``packed.Fields``)."""
    return _load(db, deal_ids, PropertyIds(db).names)


def _load(db: sqlite3.Connection, deal_ids: Sequence[str], names: dict[int, str]) -> dict[str, dict[str, Fields]]:
    out = {}
    for start in range(0, len(deal_ids), _BATCH):
        part = _id_list(deal_ids[start:start + _BATCH])
        for deal, blob in db.execute(_READ, (part,)):
            out[deal] = unpack(blob, names)
    return out


def _update(db: sqlite3.Connection, changes: Iterable[tuple[str, str, object]],
            change: Callable[[list, object], bool]) -> None:
    """``change(entry, what)`` for each (deal, property, what) whose register exists, in the order
    given, on the packed entry (``packed.Packed``); the deals it changed (it returns True) are written back."""
    changes = list(changes)
    if not changes:
        return
    held = _decoded(db, sorted({deal for deal, _, _ in changes}))
    touched = set()
    for deal, prop, what in changes:
        registers = held.get(deal)
        entry = None if registers is None else registers.named.get(prop)
        if entry is not None and change(entry, what):
            touched.add(deal)
    _save(db, {deal: held[deal] for deal in touched})


def _update_deals(db: sqlite3.Connection, deal_ids: Sequence[str], change: Callable[[list], bool]) -> None:
    """``change(entry)`` for every register of these deals; the deals it changed are written back."""
    held = _decoded(db, sorted(set(deal_ids)))
    _save(db, {deal: registers for deal, registers in held.items()
               if sum([change(entry) for entry in registers.entries])})


def _decoded(db: sqlite3.Connection, deal_ids: Sequence[str]) -> dict[str, Packed]:
    names = PropertyIds(db).names
    out = {}
    for start in range(0, len(deal_ids), _BATCH):
        for deal, blob in db.execute(_READ, (_id_list(deal_ids[start:start + _BATCH]),)):
            out[deal] = Packed(blob, names)
    return out


def _id_list(deal_ids: Sequence[str]) -> str:
    """Deal ids as the JSON text ``json_each`` reads (msgspec's encoder: a seventh of ``json.dumps``'s time;
    an id no UTF-8 can hold, a lone surrogate, is written escaped by ``json.dumps``: it matches no deal)."""
    try:
        return _encode_json(list(deal_ids)).decode()
    except UnicodeEncodeError:
        return json.dumps(list(deal_ids))


def _save(db: sqlite3.Connection, held: Mapping[str, Packed]) -> None:
    """Write back deals read in this transaction (their rows exist)."""
    db.executemany(_UPDATE, [(deal, *_row(held[deal])) for deal in sorted(held)])


def _row(registers: Packed) -> tuple[int, int, bytes]:
    blob, pending, synced = registers.encode()
    return pending, synced, blob


def _set_parked(entry: list, parked: int) -> bool:
    if entry[ENTRY_PARKED] == parked:
        return False
    entry[ENTRY_PARKED] = parked
    return True


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
                self._db.execute(f"PRAGMA page_size={PAGE_BYTES}")  # a new store's; an existing one keeps its own
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
        merged = Coalescer()
        for row in rows:
            merged.add_row(row)
        return SyncStore.accept_coalesced(db, merged)

    @staticmethod
    def accept_coalesced(db: sqlite3.Connection, merged: Coalescer) -> int:
        """``accept_rows`` for a chunk's winners as the coalescer holds them: the deals read and
        written in key order, a batch at a time, only those that changed."""
        ids = PropertyIds(db)
        deals = sorted(merged.held)
        changed = 0
        for start in range(0, len(deals), _BATCH):
            part = deals[start:start + _BATCH]
            held = dict(db.execute(_READ, (_id_list(part),)))
            updated, created = [], []
            for deal in part:
                before = held.get(deal)
                done = merge(before, merged.writes(deal), ids)
                if done is not None:
                    blob, count, pending, synced = done
                    changed += count
                    (created if before is None else updated).append((deal, pending, synced, blob))
            db.executemany(_UPDATE, updated)  # a plain update of a row known to exist costs less than _SAVE's
            db.executemany(_SAVE, created)
        return changed

    def pending_deals(self, after: str | None = None, limit: int = 100, db: sqlite3.Connection | None = None,
                      only: Sequence[str] | None = None) -> list[str]:
        """Deals with pending values, in key order, after ``after`` (from the partial index)."""
        if only is not None:
            sql = (f"SELECT deal_id FROM deals WHERE {_PENDING} AND deal_id IN (SELECT value FROM json_each(?))"
                   " ORDER BY deal_id")
            params: tuple = (_id_list(only),)
        else:
            sql = f"SELECT deal_id FROM deals WHERE {_PENDING} AND deal_id > ? ORDER BY deal_id LIMIT ?"
            params = (after or "", limit)
        with _errors(self.path):
            return [d for (d,) in (db or self._db).execute(sql, params).fetchall()]

    def pending_values(self, deal_ids: Sequence[str], db: sqlite3.Connection | None = None
                       ) -> list[tuple[str, dict[str, Pending]]]:
        """Per deal (in the order given), its pending values by property."""
        with _errors(self.path):
            held = _decoded(db or self._db, deal_ids)
        out = []
        for deal in deal_ids:
            registers = held.get(deal)
            values = {prop: Pending(*fields) for prop, fields in registers.pending()} if registers else None
            if values:
                out.append((deal, values))
        return out

    def count_pending(self, values: bool = False) -> int:
        """How many deals (or values) are pending (reads the partial index only)."""
        what = "coalesce(sum(pending), 0)" if values else "count(*)"
        return self._read(f"SELECT {what} FROM deals WHERE {_PENDING}")[0][0]

    @staticmethod
    def record_confirmed(db: sqlite3.Connection, rows: Iterable[tuple[str, str, str]], at: int | None = None) -> None:
        """HubSpot confirmed (deal, property, value): what it holds now, whatever the register wants.

        ``at`` (microseconds since the epoch) is no later than the moment HubSpot took the value:
        for the tool's own write, when its request was sent, not when the answer was recorded, so
        a hand edit made while the answer was on its way is never taken for an older one.
        """
        at = time.time_ns() // 1000 if at is None else at

        def confirm(entry: list, value: str) -> bool:
            set_confirmed(entry, value)
            entry[ENTRY_CONFIRMED_AT] = at
            return True

        _update(db, ((deal, prop, value) for deal, prop, value in rows), confirm)

    @staticmethod
    def register(db: sqlite3.Connection, deal_id: str, prop: str) -> Register | None:
        """One register, read inside the caller's transaction (None: the sync never wrote it)."""
        r = read_registers(db, [deal_id]).get(deal_id, {}).get(prop)
        return None if r is None else Register(*r[:5], bool(r[PARKED]), r[CONFIRMED_AT])

    @staticmethod
    def park(db: sqlite3.Connection, rows: Iterable[tuple[str, str, str]]) -> None:
        """HubSpot refused (deal, property, value): stop sending it until a newer write or a retry."""

        def park_value(entry: list, value: str) -> bool:
            return entry[ENTRY_VALUE] == value and _set_parked(entry, 1)

        _update(db, rows, park_value)

    @staticmethod
    def park_deal(db: sqlite3.Connection, deal_id: str) -> None:
        """The deal is gone: stop sending any of its values (a newer write releases them again)."""
        _update_deals(db, [deal_id], lambda entry: _set_parked(entry, 1))

    @staticmethod
    def unpark(db: sqlite3.Connection, deal_ids: Iterable[str]) -> None:
        _update_deals(db, list(deal_ids), lambda entry: _set_parked(entry, 0))

    @staticmethod
    def forget_confirmed(db: sqlite3.Connection) -> None:
        """Every register becomes pending (a full resync): HubSpot's values are taken as unknown."""

        def forget(entry: list) -> bool:
            if entry[ENTRY_PARKED] or entry[ENTRY_CONFIRMED] is None:
                return False
            entry[ENTRY_CONFIRMED] = None
            return True

        after = ""
        while deals := [d for (d,) in db.execute("SELECT deal_id FROM deals WHERE deal_id > ? AND synced > 0"
                                                 " ORDER BY deal_id LIMIT ?", (after, _BATCH))]:
            _update_deals(db, deals, forget)
            after = deals[-1]

    def registers(self, deal_ids: Sequence[str]) -> dict[str, dict[str, tuple[str, str | None, bool, int]]]:
        """Per deal and property: (value, confirmed, parked, occurred_at)."""
        with _errors(self.path):
            held = read_registers(self._db, deal_ids)
        return {deal: {prop: (r[VALUE], r[CONFIRMED], bool(r[PARKED]), r[OCCURRED_AT]) for prop, r in regs.items()}
                for deal, regs in held.items()}

    def synced_deals(self, after: str | None = None, limit: int = 100) -> list[str]:
        """Deals with a confirmed value, in key order, after ``after``."""
        sql = "SELECT deal_id FROM deals WHERE deal_id > ? AND synced > 0 ORDER BY deal_id LIMIT ?"
        return [d for (d,) in self._read(sql, (after or "", limit))]

    def count_synced(self) -> int:
        return self._read("SELECT count(*) FROM deals WHERE synced > 0")[0][0]

    @staticmethod
    def requeue(db: sqlite3.Connection, edits: Iterable[tuple[str, str, str, str]]) -> list[tuple[str, str]]:
        """Hand edits (deal, property, expected, actual) become pending again: confirmed := actual.

        Only where the register still holds ``expected`` as both its value and its confirmed value.
        """
        done = []

        def requeue_one(entry: list, edit: tuple[str, str, str, str]) -> bool:
            deal, prop, expected, actual = edit
            if entry[ENTRY_PARKED] or entry[ENTRY_VALUE] != expected or confirmed_of(entry) != expected:
                return False
            set_confirmed(entry, actual)
            done.append((deal, prop))
            return True

        _update(db, ((deal, prop, (deal, prop, expected, actual)) for deal, prop, expected, actual in edits),
                requeue_one)
        return done

    def load_confirmed(self) -> dict[str, dict[str, str]]:
        """Every confirmed value (tests and small stores only: this reads the whole store)."""
        return {deal: confirmed for deal, regs in self._all().items()
                if (confirmed := {prop: r[CONFIRMED] for prop, r in regs.items() if r[CONFIRMED] is not None})}

    def dump(self) -> list[tuple]:
        """Every register in key order (tests and small stores only)."""
        return [(deal, prop, *r[:CONFIRMED + 1], r[PARKED])
                for deal, regs in self._all().items() for prop, r in sorted(regs.items())]

    def _all(self) -> dict[str, dict[str, Fields]]:
        with _errors(self.path):
            names = PropertyIds(self._db).names
            return {deal: unpack(blob, names)
                    for deal, blob in self._db.execute("SELECT deal_id, registers FROM deals ORDER BY deal_id")}

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
        for deal, registers in read_registers(db, sorted({d for _, d, _, _ in letters})).items():
            for prop, r in registers.items():
                held[(deal, prop)] = not r[PARKED] and r[CONFIRMED] == r[VALUE], r[OCCURRED_AT]
        done = []
        for letter_id, deal, at, properties in letters:
            states = [held.get((deal, prop)) for prop in properties.split(",")]
            if all(s is not None and s[0] and (at is None or s[1] >= at) for s in states):
                done.append((letter_id,))
        db.executemany(f"UPDATE dead_letters SET resolved_at = '{_now()}' WHERE id = ?", done)
        return len(done)
