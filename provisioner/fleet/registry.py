"""The registry of portals: which portals the fleet serves, how each authenticates, which are paused.

One ``portals`` table, in the store the location names: the SQLite store file (beside the sync's
tables) or the PostgreSQL database. A row holds the portal's id, name and rate-limit tier, and
either the name of the environment variable holding its private-app token (never the token) or,
for an OAuth portal, its refresh token and its current access token, both sealed with
PROVISIONER_SECRET_KEY (``sealing``), plus when that access token expires. ``paused`` says why a
portal is paused (NULL: active).

``locked`` opens a transaction holding the portal's row (``SELECT ... FOR UPDATE`` on PostgreSQL,
``BEGIN IMMEDIATE`` on SQLite), so one process at a time refreshes a portal's access token and the
others read the token it stored. One registry may be used from several threads: its connection
is used by one at a time.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from provisioner.errors import ProvisionerError, UsageError
from provisioner.fleet.location import StoreLocation, redact_url
from provisioner.hubspot.limiter import TIERS

DEFAULT_TIER = "starter"
MAX_NAME_CHARS = 200
MAX_REASON_CHARS = 500
MAX_TOKEN_CHARS = 4096  # HubSpot's tokens are a few hundred characters
_TOKEN = re.compile(r"[!-~]+")
CONNECT_TIMEOUT_S = 10
BUSY_TIMEOUT_MS = 30_000
LOCK_TIMEOUT_S = 30  # PostgreSQL: the longest wait for a portal's row (a refresh holds it 20 s at most)
IDLE_IN_TRANSACTION_S = 60  # PostgreSQL: a transaction left open this long by a stuck process is ended
# The same statement suits both: SQLite takes these type names by affinity.
_SCHEMA = """CREATE TABLE IF NOT EXISTS portals (
    portal_id BIGINT PRIMARY KEY, name TEXT NOT NULL, tier TEXT NOT NULL, token_env TEXT,
    oauth BOOLEAN NOT NULL, refresh_token TEXT, access_token TEXT, access_expires_at DOUBLE PRECISION,
    paused TEXT, added_at TEXT NOT NULL)"""
_COLUMNS = "portal_id, name, tier, token_env, oauth, paused"


class RegistryError(ProvisionerError):
    """The registry's database cannot be used."""


@dataclass(frozen=True)
class Portal:
    """A registered portal. ``paused``: why it is paused, None when active."""

    portal_id: int
    name: str
    tier: str
    token_env: str | None
    oauth: bool
    paused: str | None


@dataclass(frozen=True)
class SealedTokens:
    """An OAuth portal's tokens as stored (sealed), and when the access token expires (epoch seconds)."""

    refresh_token: str | None
    access_token: str | None
    expires_at: float | None
    paused: str | None


def check_portal(portal: Portal) -> None:
    """Refuse a portal no registry row should hold, in one line."""
    if isinstance(portal.portal_id, bool) or not isinstance(portal.portal_id, int) or portal.portal_id <= 0:
        raise UsageError(f"portal id {portal.portal_id!r}: not a positive whole number")
    if portal.tier not in TIERS:
        raise UsageError(f"portal {portal.portal_id}: unknown tier {portal.tier!r}", hint="use one of: " + ", ".join(TIERS))
    if (portal.token_env is None) == (not portal.oauth):
        raise UsageError(f"portal {portal.portal_id}: give a token variable or OAuth, exactly one")
    if len(portal.name) > MAX_NAME_CHARS or not portal.name.isprintable():
        raise UsageError(f"portal {portal.portal_id}: a name is at most {MAX_NAME_CHARS} printable characters")


def check_refresh_token(portal_id: int, token: str) -> None:
    """A refresh token is a printable ASCII word of at most MAX_TOKEN_CHARS (its value is never shown)."""
    if len(token) > MAX_TOKEN_CHARS or not _TOKEN.fullmatch(token):
        raise UsageError(f"portal {portal_id}: the refresh token is not a printable word of at most {MAX_TOKEN_CHARS} "
                         "characters (its value is not shown)",
                         hint="check the variable; a secret file saved with a trailing line break is a common cause")


def _portal(row: tuple) -> Portal:
    portal_id, name, tier, token_env, oauth, paused = row
    return Portal(int(portal_id), name, tier, token_env, bool(oauth), paused)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Registry:
    """The ``portals`` table of one store. Use ``open_registry``."""

    def __init__(self, db: Any, where: str, postgres: bool) -> None:
        self._db = db
        self.where = where
        self._postgres = postgres
        self._lock = threading.RLock()
        self._in_transaction = False

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Registry({self.where!r})"

    # ---- the connection ------------------------------------------------------------------------
    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self._postgres else statement

    def _run(self, statement: str, params: tuple = ()) -> list[tuple]:
        """One statement: its own transaction, or part of ``locked``'s."""
        with self._lock, self._errors():
            cursor = self._db.execute(self._sql(statement), params)  # both connections are in autocommit mode
            return cursor.fetchall() if cursor.description else []

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except ProvisionerError:
            raise
        except (sqlite3.Error, OSError) as exc:
            raise RegistryError(f"{self.where}: the portal registry cannot be used ({exc})") from None
        except Exception as exc:
            if type(exc).__module__.startswith("psycopg"):
                raise RegistryError(f"{self.where}: the portal registry cannot be used "
                                    f"({type(exc).__name__}: {redact_url(str(exc))})") from None
            raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ---- the interface -------------------------------------------------------------------------
    def add(self, portal: Portal, refresh_token: str | None = None) -> None:
        """Register a portal; an OAuth portal needs its refresh token (sealed before it is stored)."""
        from provisioner.fleet.sealing import seal

        check_portal(portal)
        if portal.oauth != (refresh_token is not None):
            raise UsageError(f"portal {portal.portal_id}: an OAuth portal, and only one, has a refresh token")
        if refresh_token is not None:
            check_refresh_token(portal.portal_id, refresh_token)
        sealed = seal(refresh_token) if refresh_token is not None else None
        # One statement: two processes adding the same id at once get one row and one clear refusal.
        added = self._run(
            "INSERT INTO portals (portal_id, name, tier, token_env, oauth, refresh_token, paused, added_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (portal_id) DO NOTHING RETURNING portal_id",
            (portal.portal_id, portal.name, portal.tier, portal.token_env, portal.oauth, sealed, portal.paused,
             _now()))
        if not added:
            raise UsageError(f"portal {portal.portal_id} is already registered",
                             hint=f"remove it first: provisioner portals remove {portal.portal_id}")

    def remove(self, portal_id: int) -> None:
        self._changed(self._run("DELETE FROM portals WHERE portal_id = ? RETURNING portal_id", (portal_id,)),
                      portal_id)

    def list(self) -> list[Portal]:
        return [_portal(row) for row in self._run(f"SELECT {_COLUMNS} FROM portals ORDER BY portal_id")]

    def get(self, portal_id: int) -> Portal | None:
        rows = self._run(f"SELECT {_COLUMNS} FROM portals WHERE portal_id = ?", (portal_id,))
        return _portal(rows[0]) if rows else None

    def pause(self, portal_id: int, reason: str) -> None:
        """Pause the portal, saying why (kept to MAX_REASON_CHARS)."""
        self._changed(self._run("UPDATE portals SET paused = ? WHERE portal_id = ? RETURNING portal_id",
                                ((reason or "paused")[:MAX_REASON_CHARS], portal_id)), portal_id)

    def resume(self, portal_id: int, refresh_token: str | None = None) -> None:
        """Make the portal active again; an OAuth portal may get a new refresh token at the same time."""
        from provisioner.fleet.sealing import seal

        if refresh_token is None:
            rows = self._run("UPDATE portals SET paused = NULL WHERE portal_id = ? RETURNING portal_id", (portal_id,))
        else:
            portal = self.get(portal_id)
            if portal is not None and not portal.oauth:
                raise UsageError(f"portal {portal_id} uses a private-app token, not OAuth: it has no refresh token")
            check_refresh_token(portal_id, refresh_token)
            rows = self._run("UPDATE portals SET paused = NULL, refresh_token = ?, access_token = NULL,"
                             " access_expires_at = NULL WHERE portal_id = ? RETURNING portal_id",
                             (seal(refresh_token), portal_id))
        self._changed(rows, portal_id)

    def _changed(self, rows: list[tuple], portal_id: int) -> None:
        if not rows:
            raise UsageError(f"no portal {portal_id} is registered", hint="see: provisioner portals list")

    # ---- OAuth tokens (credentials.py) ---------------------------------------------------------
    def sealed_tokens(self, portal_id: int) -> SealedTokens | None:
        rows = self._run("SELECT refresh_token, access_token, access_expires_at, paused FROM portals"
                         " WHERE portal_id = ?" + (" FOR UPDATE" if self._postgres and self._in_transaction else ""),
                         (portal_id,))
        return SealedTokens(*rows[0]) if rows else None

    def store_tokens(self, portal_id: int, access_token: str, expires_at: float, refresh_token: str | None) -> None:
        """Keep a sealed access token and its expiry (and a rotated refresh token, when one came)."""
        self._run("UPDATE portals SET access_token = ?, access_expires_at = ?,"
                  " refresh_token = COALESCE(?, refresh_token) WHERE portal_id = ?",
                  (access_token, expires_at, refresh_token, portal_id))

    @contextmanager
    def locked(self, portal_id: int) -> Iterator[SealedTokens | None]:
        """A transaction holding the portal's row: yields its tokens; commits what was stored inside."""
        with self._lock:
            with self._errors():
                self._db.execute("BEGIN" if self._postgres else "BEGIN IMMEDIATE")
            self._in_transaction = True
            try:
                yield self.sealed_tokens(portal_id)
            except BaseException:
                self._in_transaction = False
                with self._errors():
                    self._db.execute("ROLLBACK")
                raise
            self._in_transaction = False
            with self._errors():
                self._db.execute("COMMIT")


def open_registry(location: StoreLocation) -> Registry:
    """The registry in the store ``location`` names; its table is created when missing."""
    if location.is_postgres:
        return _open_postgres(location.url)
    return _open_sqlite(location.path)


def _open_sqlite(path: str) -> Registry:
    from provisioner.sync.store import SyncStore

    # The sync store's own tables first: it refuses a new file that holds only others.
    SyncStore(path).close()
    try:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    except sqlite3.Error as exc:
        raise RegistryError(f"{path}: the portal registry cannot be opened ({exc})") from None
    registry = Registry(db, path, postgres=False)
    registry._run(_SCHEMA)
    return registry


def _open_postgres(url: str) -> Registry:
    import psycopg

    where = redact_url(url)
    try:
        db = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.Error as exc:
        raise RegistryError(f"{where}: cannot connect to PostgreSQL ({type(exc).__name__})",
                            hint="check PROVISIONER_STORE_URL or the file's sync.store") from None
    registry = Registry(db, where, postgres=True)
    # Every wait has an end: a row held by a stuck process, or a transaction left open by one.
    registry._run(f"SET lock_timeout = '{LOCK_TIMEOUT_S}s'")
    registry._run(f"SET idle_in_transaction_session_timeout = '{IDLE_IN_TRANSACTION_S}s'")
    registry._run(_SCHEMA)
    return registry
