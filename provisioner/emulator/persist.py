"""The portal on disk: SQLite, written through in one transaction per answered request.

Each request's changes (only the rows it touched) commit before its answer leaves, with
``synchronous=FULL``: a kill -9 right after an answer never loses that write, and a crash
mid-write leaves the previous state (SQLite's journal rolls the half-written transaction back).
Deals load lazily, on the first request that needs them, so schema commands start fast.

One process at a time: an exclusive ``flock`` on ``<state>.lock``, taken before the state is read
and held until ``close``. Two commands on one local portal would each load it, change it in memory
and write it back: both would report creating what only one created, and values one wrote would
be lost. Another process waits for the lock up to a deadline and then gets ``StateInUse`` (naming
the holder's pid), having touched nothing. Within one process the lock is re-entrant (a command,
or a test run, may open the portal more than once).
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path

from provisioner.emulator.state import FIRST_DEAL_ID, Deal, Portal

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS groups (name TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS properties (name TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rules (name TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS deals (id INTEGER PRIMARY KEY, created INTEGER NOT NULL, updated INTEGER NOT NULL,
                                  archived INTEGER NOT NULL, props TEXT NOT NULL);
"""
FORMAT = "provisioner-emulator-1"
_TABLES = {"group": ("groups", "groups"), "property": ("properties", "properties"), "rule": ("rules", "rules")}


class StateFileError(Exception):
    """The state file exists but is not a portal this emulator wrote."""


class StateInUse(StateFileError):
    """Another process holds the state file."""


POLL_S = 0.05
_held: dict[str, list] = {}  # lock path -> [open file, holders in this process]
_guard = threading.Lock()


class StateLock:
    """The exclusive, process-wide hold on a state file (see the module's opening comment)."""

    def __init__(self, state: Path, wait_s: float = 0.0, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.path = Path(str(state) + ".lock")
        self._key = str(self.path.resolve())
        self._released = False
        with _guard:
            entry = _held.get(self._key)
            if entry is not None:
                entry[1] += 1
                return
            handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release
            try:
                _acquire(handle, state, wait_s, clock, sleep)
            except BaseException:
                handle.close()
                raise
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            _held[self._key] = [handle, 1]

    def release(self) -> None:
        with _guard:
            entry = _held.get(self._key)
            if entry is None or self._released:
                return
            self._released = True
            entry[1] -= 1
            if entry[1] == 0:
                del _held[self._key]
                entry[0].close()  # closing the file releases the flock


def _acquire(handle, state: Path, wait_s: float, clock, sleep) -> None:
    deadline = clock() + max(0.0, wait_s)
    while True:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if clock() >= deadline:
                handle.seek(0)
                holder = handle.read(32).strip() or "unknown"
                waited = f" after waiting {wait_s:g}s" if wait_s > 0 else ""
                raise StateInUse(f"{state} is in use by another process (pid {holder}){waited}") from None
            sleep(min(POLL_S, max(0.0, deadline - clock())))


class Store:
    def __init__(self, path: str, lock_wait_s: float = 0.0) -> None:
        self.path = Path(path)
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = StateLock(self.path, lock_wait_s)
        # A store dropped without close (a client let go of) still lets go of the file.
        weakref.finalize(self, self.lock.release)
        try:
            self.db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            self.lock.release()
            raise StateFileError(f"{path}: not an emulator state file ({exc})") from None

    def close(self) -> None:
        self.db.close()
        self.lock.release()

    # ---- loading --------------------------------------------------------------------------------
    def load_into(self, portal: Portal) -> bool:
        """Fill ``portal`` from the file; False when the file holds no portal yet."""
        meta = dict(self.db.execute("SELECT key, value FROM meta"))
        if "format" not in meta:
            return False
        if meta["format"] != json.dumps(FORMAT):
            raise StateFileError(f"{self.path}: written by another format ({meta['format']})")
        portal.groups = {name: json.loads(body) for name, body in self.db.execute("SELECT name, body FROM groups")}
        portal.properties = {
            name: json.loads(body) for name, body in self.db.execute("SELECT name, body FROM properties")
        }
        portal.rules = {name: json.loads(body) for name, body in self.db.execute("SELECT name, body FROM rules")}
        portal.ui_access = json.loads(meta.get("ui_access", "{}"))
        portal.ui_sidebar = json.loads(meta.get("ui_sidebar", "[]"))
        portal.next_deal_id = int(json.loads(meta.get("next_deal_id", str(FIRST_DEAL_ID))))
        portal.load_deals_with(self._load_deals)
        return True

    def _load_deals(self) -> tuple[dict[str, Deal], int]:
        deals = {}
        for deal_id, created, updated, archived, props in self.db.execute(
            "SELECT id, created, updated, archived, props FROM deals"
        ):
            deals[str(deal_id)] = Deal(created, updated, json.loads(props), bool(archived))
        meta = self.db.execute("SELECT value FROM meta WHERE key = 'next_deal_id'").fetchone()
        return deals, int(json.loads(meta[0])) if meta else FIRST_DEAL_ID

    # ---- writing --------------------------------------------------------------------------------
    def write_all(self, portal: Portal) -> None:
        """Replace the file's contents with the whole portal (start of a new file, reset)."""
        keys = {("group", n) for n in portal.groups} | {("property", n) for n in portal.properties}
        keys |= {("rule", n) for n in portal.rules} | {("deal", d) for d in portal.deals}
        keys |= {("meta", "ui_access"), ("meta", "ui_sidebar"), ("meta", "next_deal_id")}
        self.write(portal, keys, wipe=True)

    def write(self, portal: Portal, keys: set[tuple[str, str]], wipe: bool = False) -> None:
        """Commit the rows named by ``keys`` as they are now, in one durable transaction."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            if wipe:
                for table in ("meta", "groups", "properties", "rules", "deals"):
                    db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
                db.execute("INSERT INTO meta VALUES ('format', ?)", (json.dumps(FORMAT),))
            deal_rows, deal_gone = [], []
            for kind, key in keys:
                if kind == "deal":
                    deal = portal.deals.get(key)
                    if deal is None:
                        deal_gone.append((int(key),))
                    else:
                        deal_rows.append((int(key), deal.created, deal.updated, int(deal.archived),
                                          json.dumps(deal.props, separators=(",", ":"))))
                elif kind == "meta":
                    value = {"ui_access": portal.ui_access, "ui_sidebar": portal.ui_sidebar,
                             "next_deal_id": portal.next_deal_id}[key]
                    db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))
                else:
                    table, attribute = _TABLES[kind]
                    item = getattr(portal, attribute).get(key)
                    if item is None:
                        db.execute(f"DELETE FROM {table} WHERE name = ?", (key,))  # noqa: S608
                    else:
                        db.execute(f"INSERT OR REPLACE INTO {table} VALUES (?, ?)",  # noqa: S608
                                   (key, json.dumps(item, separators=(",", ":"))))
            if deal_rows:
                db.executemany("INSERT OR REPLACE INTO deals VALUES (?, ?, ?, ?, ?)", deal_rows)
            if deal_gone:
                db.executemany("DELETE FROM deals WHERE id = ?", deal_gone)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
