"""The value sync's local store (SQLite, WAL): what HubSpot confirmed, what Accord wants, dead letters.

Tables:
- ``confirmed``: per deal and property, the value HubSpot last confirmed (200, or success inside
  a 207). Written only after HubSpot's answer, one transaction per answered request.
- ``desired``: per deal and property, the newest value Accord sent (with the snapshot's
  ``occurred_at``, accord and event). A value is *pending* while it differs from ``confirmed``.
- ``watermarks``: per (accord, deal), the newest ``occurred_at`` accepted: an older snapshot is
  stale and never overwrites a newer one, across runs.
- ``dead_letters``: records set aside with their reason (bad input, or rejected by HubSpot),
  each with an event line that ``sync retry`` feeds through the pipeline again.

A run holds an exclusive lock on ``<store>.lock`` so two pushes never interleave.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

from provisioner.errors import ProvisionerError

SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS confirmed (
    deal_id TEXT NOT NULL, property TEXT NOT NULL, value TEXT NOT NULL, confirmed_at TEXT NOT NULL,
    PRIMARY KEY (deal_id, property)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS desired (
    deal_id TEXT NOT NULL, property TEXT NOT NULL, value TEXT NOT NULL,
    occurred_at TEXT NOT NULL, accord_id TEXT NOT NULL, event TEXT NOT NULL,
    PRIMARY KEY (deal_id, property)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS watermarks (
    accord_id TEXT NOT NULL, deal_id TEXT NOT NULL, occurred_at TEXT NOT NULL,
    PRIMARY KEY (accord_id, deal_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL, origin TEXT NOT NULL,
    accord_id TEXT, deal_id TEXT, occurred_at TEXT, reason TEXT NOT NULL, line TEXT NOT NULL);
"""


class StoreError(ProvisionerError):
    """The sync store cannot be opened or is locked by another run."""


class Desired(NamedTuple):
    """A value Accord wants on a deal property (a tuple: one is held per deal and property)."""

    value: str
    occurred_at: str
    accord_id: str
    event: str


@dataclass(frozen=True)
class DeadLetter:
    id: int
    created_at: str
    origin: str  # "input" (failed the checks) or "hubspot" (rejected, or the deal is gone)
    accord_id: str | None
    deal_id: str | None
    occurred_at: str | None
    reason: str
    line: str


@dataclass(frozen=True)
class NewDeadLetter:
    origin: str
    reason: str
    line: str
    accord_id: str | None = None
    deal_id: str | None = None
    occurred_at: str | None = None


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class SyncStore:
    """The SQLite store at ``path`` (created with its directory if missing)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit is on disk before the next request goes out.
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is None:
                self._db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
            elif row[0] != SCHEMA_VERSION:
                raise StoreError(f"{self.path}: sync store version {row[0]} is not supported (expected {SCHEMA_VERSION})")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot open the sync store: {exc}") from None
        self._lock_file = None

    def close(self) -> None:
        self.unlock()
        self._db.close()

    def __enter__(self) -> SyncStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- locking --------------------------------------------------------------------------------
    def lock(self) -> None:
        """Take the run lock; fail at once if another run holds it."""
        handle = open(str(self.path) + ".lock", "a+")  # noqa: SIM115 - held for the run
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise StoreError(
                f"{self.path}: another sync run is using this store", hint="wait for it to finish"
            ) from None
        self._lock_file = handle

    def unlock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # ---- reads ----------------------------------------------------------------------------------
    # SQLite hands out a new string per row and column; the texts that repeat (property names,
    # values, and a deal's time, accord and event) are interned so each is held once.
    def load_confirmed(self) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        intern = sys.intern
        for deal_id, prop, value in self._db.execute("SELECT deal_id, property, value FROM confirmed"):
            held = out.get(deal_id)
            if held is None:
                held = out[deal_id] = {}
            held[intern(prop)] = intern(value)
        return out

    def load_desired(self) -> dict[str, dict[str, Desired]]:
        out: dict[str, dict[str, Desired]] = {}
        intern = sys.intern
        rows = self._db.execute("SELECT deal_id, property, value, occurred_at, accord_id, event FROM desired")
        for deal_id, prop, value, occurred_at, accord_id, event in rows:
            held = out.get(deal_id)
            if held is None:
                held = out[deal_id] = {}
            held[intern(prop)] = Desired(intern(value), intern(occurred_at), intern(accord_id), intern(event))
        return out

    def load_watermarks(self) -> dict[tuple[str, str], str]:
        rows = self._db.execute("SELECT accord_id, deal_id, occurred_at FROM watermarks")
        return {(accord_id, deal_id): occurred_at for accord_id, deal_id, occurred_at in rows}

    def dead_letters(self, ids: Iterable[int] | None = None) -> list[DeadLetter]:
        rows = self._db.execute(
            "SELECT id, created_at, origin, accord_id, deal_id, occurred_at, reason, line FROM dead_letters ORDER BY id"
        ).fetchall()
        wanted = None if ids is None else set(ids)
        return [DeadLetter(*row) for row in rows if wanted is None or row[0] in wanted]

    # ---- writes (each inside a transaction) -------------------------------------------------------
    @staticmethod
    def put_desired(db: sqlite3.Connection, rows: Iterable[tuple[str, str, Desired]]) -> None:
        db.executemany(
            "INSERT OR REPLACE INTO desired VALUES (?, ?, ?, ?, ?, ?)",
            ((deal, prop, d.value, d.occurred_at, d.accord_id, d.event) for deal, prop, d in rows),
        )

    @staticmethod
    def delete_desired(db: sqlite3.Connection, rows: Iterable[tuple[str, str]]) -> None:
        db.executemany("DELETE FROM desired WHERE deal_id = ? AND property = ?", rows)

    @staticmethod
    def put_watermarks(db: sqlite3.Connection, rows: Iterable[tuple[str, str, str]]) -> None:
        db.executemany("INSERT OR REPLACE INTO watermarks VALUES (?, ?, ?)", rows)

    @staticmethod
    def put_confirmed(db: sqlite3.Connection, rows: Iterable[tuple[str, str, str]]) -> None:
        now = _now()
        db.executemany(
            "INSERT OR REPLACE INTO confirmed VALUES (?, ?, ?, ?)",
            ((deal, prop, value, now) for deal, prop, value in rows),
        )

    @staticmethod
    def add_dead_letters(db: sqlite3.Connection, letters: Iterable[NewDeadLetter]) -> None:
        now = _now()
        db.executemany(
            "INSERT INTO dead_letters (created_at, origin, accord_id, deal_id, occurred_at, reason, line)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            ((now, d.origin, d.accord_id, d.deal_id, d.occurred_at, d.reason, d.line) for d in letters),
        )

    @staticmethod
    def delete_dead_letters(db: sqlite3.Connection, ids: Iterable[int]) -> None:
        db.executemany("DELETE FROM dead_letters WHERE id = ?", ((i,) for i in ids))


def event_line(event: str, occurred_at: str, accord_id: str, deal_id: str, data: dict) -> str:
    """An input line for a record set aside after HubSpot rejected it (so retry can re-run it)."""
    return json.dumps(
        {"event": event, "occurred_at": occurred_at, "accord_id": accord_id, "deal_id": deal_id, "data": data},
        separators=(",", ":"),
    )
