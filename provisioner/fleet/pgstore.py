"""The value sync's store on PostgreSQL: one database for many portals, one portal-scoped view each.

``PgDatabase`` owns a psycopg connection pool over one database (schema in ``pgschema``).
``PortalStore`` is a view of one portal with ``SyncStore``'s method names and signatures, so the
sync's engine (accept, send_pending, push, verify, retry) and serve's queue run on it as they run
on SQLite. Its ``transaction()`` yields a ``Tx`` (the connection and the portal id), which every
statement method takes where SyncStore's take a ``sqlite3.Connection``.

A view may be bound to a connection whose transaction the caller holds (a worker's claim, see
``pgqueue``): its ``transaction()`` then opens a savepoint inside it, so HubSpot's answer, the
dead letters and the portal's spent tokens commit together, with the claim.

Intake writes registers in primary-key order in one statement (unsorted batches deadlock against
each other); the worker's updates go in key order too. Texts are ``COLLATE "C"``: the ordering
rule compares them by code point, as Python and SQLite do.

A little over the usual module size on purpose: like ``sync/store.py`` it holds every statement on
the store's tables, so the schema and the statements relying on it change in one place.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

import psycopg
from psycopg_pool import ConnectionPool

from provisioner.fleet.location import redact_url
from provisioner.fleet.pgschema import create_schema
from provisioner.sync.coalesce import Coalescer, Row
from provisioner.sync.store import (
    MAX_LETTER_CHARS,
    MAX_REASON_CHARS,
    DeadLetter,
    NewDeadLetter,
    Pending,
    Register,
    StoreError,
    _digest,
    _now,
)

CONNECT_TIMEOUT_S = 10
POOL_TIMEOUT_S = 30.0
_PENDING = "NOT parked AND confirmed IS DISTINCT FROM value"
_ACCEPT = (
    "INSERT INTO registers AS r (portal_id, deal_id, property, value, occurred_at, accord_id, event)"
    " SELECT %(portal)s, d, p, v, o, a, e FROM unnest(%(d)s::text[], %(p)s::text[], %(v)s::text[], %(o)s::bigint[],"
    " %(a)s::text[], %(e)s::text[]) AS u(d, p, v, o, a, e) ORDER BY d, p"
    " ON CONFLICT (portal_id, deal_id, property) DO UPDATE SET value = excluded.value,"
    " occurred_at = excluded.occurred_at, accord_id = excluded.accord_id, event = excluded.event, parked = false"
    " WHERE (excluded.occurred_at, excluded.accord_id, excluded.value, excluded.event)"
    " > (r.occurred_at, r.accord_id, r.value, r.event)"
)


def pg_text(text: str | None) -> str | None:
    """A text PostgreSQL can hold: NUL shown as \\x00, a lone surrogate as \\udXXX (dead letters only:
    accepted values never hold either, the event checks refuse them)."""
    if text is None:
        return None
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


class Tx:
    """An open transaction on one portal: what ``PortalStore.transaction()`` yields."""

    __slots__ = ("conn", "portal_id")

    def __init__(self, conn: psycopg.Connection, portal_id: int) -> None:
        self.conn = conn
        self.portal_id = portal_id

    def execute(self, sql: str, params: dict | None = None) -> psycopg.Cursor:
        return self.conn.execute(sql, {**(params or {}), "portal": self.portal_id})

    def executemany(self, sql: str, rows: Iterable[dict]) -> None:
        with self.conn.cursor() as cursor:
            cursor.executemany(sql, [{**row, "portal": self.portal_id} for row in rows])


class PgDatabase:
    """A connection pool over the store's database (schema created if missing)."""

    def __init__(self, url: str, *, max_size: int = 4, session: dict[str, str] | None = None,
                 application_name: str = "provisioner") -> None:
        self.url = url
        self.where = redact_url(url)
        settings = dict(session or {})

        def configure(conn: psycopg.Connection) -> None:
            for name, value in settings.items():
                conn.execute("SELECT set_config(%s, %s, false)", (name, value))

        kwargs = {"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S, "application_name": application_name}
        try:
            self.pool = ConnectionPool(url, min_size=1, max_size=max_size, kwargs=kwargs, configure=configure,
                                       timeout=POOL_TIMEOUT_S, open=False)
            self.pool.open(wait=True, timeout=POOL_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - psycopg's and the pool's errors alike: one clear line
            raise StoreError(f"{self.where}: cannot connect to the PostgreSQL store ({_first_line(exc)})",
                             hint="check PROVISIONER_STORE_URL (or sync.store) and that the server runs") from None
        with self.errors(), self.pool.connection() as conn:
            create_schema(conn, self.where)

    @contextmanager
    def errors(self) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as exc:
            raise StoreError(f"{self.where}: PostgreSQL store error: {_first_line(exc)}") from None

    def portal(self, portal_id: int, per_window: int | None = None) -> PortalStore:
        """The portal's view; the portal gets its ``portal_queue`` row (workers claim it) if it has none.
        ``per_window``: its request limit, when known before HubSpot's first answer says it."""
        with self.errors(), self.pool.connection() as conn:
            conn.execute("INSERT INTO portal_queue (portal_id, per_window) VALUES (%s, %s)"
                         " ON CONFLICT (portal_id) DO NOTHING", (int(portal_id), per_window))
        return PortalStore(self, portal_id)

    def portals_pending(self) -> list[int]:
        """Portals with pending values (from the partial index)."""
        with self.errors(), self.pool.connection() as conn:
            return [p for (p,) in conn.execute(
                "SELECT DISTINCT portal_id FROM registers WHERE " + _PENDING + " ORDER BY portal_id")]

    def close(self) -> None:
        self.pool.close()

    def __enter__(self) -> PgDatabase:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class PortalStore:
    """One portal's view of the PostgreSQL store: SyncStore's methods, every row keyed by the portal."""

    def __init__(self, database: PgDatabase, portal_id: int, conn: psycopg.Connection | None = None) -> None:
        self.database = database
        self.portal_id = int(portal_id)
        self.path = f"{database.where} (portal {self.portal_id})"  # for messages: never a password
        self._conn = conn  # a connection whose transaction the caller holds (a worker's claim)
        self.owns_database = False  # a command's store: closing it closes the database

    def bound(self, conn: psycopg.Connection) -> PortalStore:
        return PortalStore(self.database, self.portal_id, conn)

    def close(self) -> None:
        """The pool belongs to the database, closed here only when this view owns it."""
        if self.owns_database:
            self.database.close()

    def __enter__(self) -> PortalStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- runs: PostgreSQL needs no run lock (workers claim portals, see pgqueue) ---------------------
    def lock(self, wait: float = 0.0) -> None:
        """Nothing to take: on PostgreSQL sends are serialised per portal by the claim."""

    def unlock(self) -> None:
        """Nothing to give back (see ``lock``)."""

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        if self._conn is not None:
            yield self._conn
            return
        with self.database.pool.connection() as conn:
            yield conn

    @contextmanager
    def transaction(self, durable: bool = True) -> Iterator[Tx]:
        """One transaction (a savepoint inside a bound connection's). ``durable=False`` (an answer's
        record) commits without waiting for the disk: lost to a crash, its values are sent again."""
        with self.database.errors(), self._connection() as conn, conn.transaction():
            if not durable and self._conn is None:
                conn.execute("SET LOCAL synchronous_commit = off")
            yield Tx(conn, self.portal_id)

    @contextmanager
    def trial(self) -> Iterator[Tx]:
        """A transaction that is always rolled back: for dry runs."""
        with self.database.errors(), self._connection() as conn, conn.transaction(force_rollback=True):
            yield Tx(conn, self.portal_id)

    def _read(self, sql: str, params: dict | None = None, db: Tx | None = None) -> list[tuple]:
        if db is not None:
            return db.execute(sql, params).fetchall()
        with self.database.errors(), self._connection() as conn:
            return Tx(conn, self.portal_id).execute(sql, params).fetchall()

    # ---- registers ---------------------------------------------------------------------------------
    @staticmethod
    def accept_rows(db: Tx, rows: Iterable[Row]) -> int:
        """The ordering rule, in one statement, rows in key order; how many registers changed."""
        columns: tuple[list, ...] = ([], [], [], [], [], [])
        for row in rows:
            for column, item in zip(columns, row, strict=True):
                column.append(item)
        if not columns[0]:
            return 0
        names = ("d", "p", "v", "o", "a", "e")
        return db.execute(_ACCEPT, dict(zip(names, columns, strict=True))).rowcount

    @staticmethod
    def accept_coalesced(db: Tx, merged: Coalescer) -> int:
        """``accept_rows`` for a chunk's winners as the coalescer holds them (SyncStore's name for it)."""
        return PortalStore.accept_rows(db, merged.rows())

    def pending_deals(self, after: str | None = None, limit: int = 100, db: Tx | None = None,
                      only: Sequence[str] | None = None) -> list[str]:
        """Deals with pending values, in key order, after ``after`` (from the partial index)."""
        if only is not None:
            sql = (f"SELECT DISTINCT deal_id FROM registers WHERE portal_id = %(portal)s AND {_PENDING}"
                   " AND deal_id = ANY(%(only)s) ORDER BY deal_id")
            return [d for (d,) in self._read(sql, {"only": list(only)}, db)]
        sql = (f"SELECT DISTINCT deal_id FROM registers WHERE portal_id = %(portal)s AND {_PENDING}"
               " AND deal_id > %(after)s ORDER BY deal_id LIMIT %(limit)s")
        return [d for (d,) in self._read(sql, {"after": after or "", "limit": limit}, db)]

    def pending_values(self, deal_ids: Sequence[str], db: Tx | None = None) -> list[tuple[str, dict[str, Pending]]]:
        """Per deal (in the order given), its pending values by property."""
        out: dict[str, dict[str, Pending]] = {d: {} for d in deal_ids}
        sql = ("SELECT deal_id, property, confirmed, value, occurred_at, accord_id, event FROM registers"
               f" WHERE portal_id = %(portal)s AND deal_id = ANY(%(deals)s) AND {_PENDING} ORDER BY deal_id, property")
        for deal, prop, *rest in self._read(sql, {"deals": list(deal_ids)}, db):
            out[deal][prop] = Pending(*rest)
        return [(d, values) for d, values in out.items() if values]

    def count_pending(self, values: bool = False) -> int:
        what = "*" if values else "DISTINCT deal_id"
        return self._read(f"SELECT count({what}) FROM registers WHERE portal_id = %(portal)s AND {_PENDING}")[0][0]

    @staticmethod
    def record_confirmed(db: Tx, rows: Iterable[tuple[str, str, str]], at: int | None = None) -> None:
        """HubSpot confirmed (deal, property, value); ``at`` as in SyncStore.record_confirmed."""
        at = time.time_ns() // 1000 if at is None else at
        db.executemany("UPDATE registers SET confirmed = %(v)s, confirmed_at = %(at)s WHERE portal_id = %(portal)s"
                       " AND deal_id = %(d)s AND property = %(p)s",
                       ({"d": d, "p": p, "v": v, "at": at} for d, p, v in sorted(rows)))

    @staticmethod
    def register(db: Tx, deal_id: str, prop: str) -> Register | None:
        row = db.execute("SELECT value, occurred_at, accord_id, event, confirmed, parked, confirmed_at FROM registers"
                         " WHERE portal_id = %(portal)s AND deal_id = %(d)s AND property = %(p)s",
                         {"d": deal_id, "p": prop}).fetchone()
        return None if row is None else Register(*row[:5], bool(row[5]), row[6])

    @staticmethod
    def park(db: Tx, rows: Iterable[tuple[str, str, str]]) -> None:
        db.executemany("UPDATE registers SET parked = true WHERE portal_id = %(portal)s AND deal_id = %(d)s"
                       " AND property = %(p)s AND value = %(v)s", ({"d": d, "p": p, "v": v} for d, p, v in sorted(rows)))

    @staticmethod
    def park_deal(db: Tx, deal_id: str) -> None:
        db.execute("UPDATE registers SET parked = true WHERE portal_id = %(portal)s AND deal_id = %(d)s",
                   {"d": deal_id})

    @staticmethod
    def unpark(db: Tx, deal_ids: Iterable[str]) -> None:
        db.execute("UPDATE registers SET parked = false WHERE portal_id = %(portal)s AND deal_id = ANY(%(deals)s)"
                   " AND parked", {"deals": sorted(set(deal_ids))})

    @staticmethod
    def forget_confirmed(db: Tx) -> None:
        db.execute("UPDATE registers SET confirmed = NULL WHERE portal_id = %(portal)s AND NOT parked")

    def registers(self, deal_ids: Sequence[str]) -> dict[str, dict[str, tuple[str, str | None, bool, int]]]:
        out: dict[str, dict[str, tuple[str, str | None, bool, int]]] = {}
        for deal, prop, value, confirmed, parked, at in self._read(
                "SELECT deal_id, property, value, confirmed, parked, occurred_at FROM registers"
                " WHERE portal_id = %(portal)s AND deal_id = ANY(%(deals)s)", {"deals": list(deal_ids)}):
            out.setdefault(deal, {})[prop] = (value, confirmed, bool(parked), at)
        return out

    def synced_deals(self, after: str | None = None, limit: int = 100) -> list[str]:
        return [d for (d,) in self._read(
            "SELECT DISTINCT deal_id FROM registers WHERE portal_id = %(portal)s AND deal_id > %(after)s"
            " AND confirmed IS NOT NULL ORDER BY deal_id LIMIT %(limit)s", {"after": after or "", "limit": limit})]

    def count_synced(self) -> int:
        return self._read("SELECT count(DISTINCT deal_id) FROM registers WHERE portal_id = %(portal)s"
                          " AND confirmed IS NOT NULL")[0][0]

    @staticmethod
    def requeue(db: Tx, edits: Iterable[tuple[str, str, str, str]]) -> list[tuple[str, str]]:
        """Hand edits (deal, property, expected, actual) become pending again: confirmed := actual
        (only where the register still holds ``expected`` as its value and its confirmed value)."""
        rows = sorted(edits)
        if not rows:
            return []
        found = db.execute(
            "UPDATE registers AS r SET confirmed = u.actual FROM unnest(%(d)s::text[], %(p)s::text[], %(e)s::text[],"
            " %(a)s::text[]) AS u(deal, prop, expected, actual) WHERE r.portal_id = %(portal)s AND r.deal_id = u.deal"
            " AND r.property = u.prop AND r.value = u.expected AND r.confirmed = r.value AND NOT r.parked"
            " RETURNING r.deal_id, r.property",
            {"d": [e[0] for e in rows], "p": [e[1] for e in rows], "e": [e[2] for e in rows],
             "a": [e[3] for e in rows]}).fetchall()
        return sorted(found)

    def load_confirmed(self) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for deal, prop, value in self._read("SELECT deal_id, property, confirmed FROM registers"
                                             " WHERE portal_id = %(portal)s AND confirmed IS NOT NULL"):
            out.setdefault(deal, {})[prop] = value
        return out

    def dump(self) -> list[tuple]:
        return [(*row[:7], int(row[7])) for row in self._read(
            "SELECT deal_id, property, value, occurred_at, accord_id, event, confirmed, parked FROM registers"
            " WHERE portal_id = %(portal)s ORDER BY deal_id, property")]

    # ---- dead letters ------------------------------------------------------------------------------
    def dead_letters(self, ids: Iterable[int] | None = None, include_resolved: bool = True) -> list[DeadLetter]:
        where = ("" if include_resolved else " AND resolved_at IS NULL") + (" AND id = ANY(%(ids)s)" if ids is not None else "")
        return [DeadLetter(*row) for row in self._read(
            "SELECT id, created_at, origin, accord_id, deal_id, occurred_at, reason, line, truncated, seen,"
            f" resolved_at FROM dead_letters WHERE portal_id = %(portal)s{where} ORDER BY id",
            {"ids": None if ids is None else list(ids)})]

    @staticmethod
    def add_dead_letters(db: Tx, letters: Iterable[NewDeadLetter]) -> None:
        """Set records aside; a record already held is counted again (and reopened), not copied."""
        now = _now()
        rows = [{"c": now, "o": d.origin, "a": pg_text(d.accord_id), "d": pg_text(d.deal_id),
                 "at": d.occurred_at, "r": pg_text(d.reason[:MAX_REASON_CHARS]),
                 "l": pg_text(d.line[:MAX_LETTER_CHARS]), "t": len(d.line) > MAX_LETTER_CHARS,
                 "g": _digest(d.origin, d.line), "p": ",".join(d.properties)} for d in letters]
        db.executemany(
            "INSERT INTO dead_letters AS l (portal_id, created_at, origin, accord_id, deal_id, occurred_at, reason,"
            " line, truncated, digest, properties) VALUES (%(portal)s, %(c)s, %(o)s, %(a)s, %(d)s, %(at)s, %(r)s,"
            " %(l)s, %(t)s, %(g)s, %(p)s) ON CONFLICT (portal_id, digest) DO UPDATE SET seen = l.seen + 1,"
            " reason = excluded.reason, resolved_at = NULL, deal_id = coalesce(excluded.deal_id, l.deal_id),"
            " properties = excluded.properties", rows)

    @staticmethod
    def describe_letter(db: Tx, letter_id: int, deal_id: str, occurred_at: int, properties: Iterable[str]) -> None:
        db.execute("UPDATE dead_letters SET deal_id = %(d)s, occurred_at = %(at)s, properties = %(p)s"
                   " WHERE id = %(id)s AND portal_id = %(portal)s",
                   {"d": deal_id, "at": occurred_at, "p": ",".join(sorted(properties)), "id": letter_id})

    @staticmethod
    def resolve_delivered(db: Tx, deal_ids: Sequence[str]) -> int:
        """Resolve the open letters of these deals whose every property is confirmed, not parked, and
        written at least as new as the letter (SyncStore.resolve_delivered's rule, in one statement)."""
        if not deal_ids:
            return 0
        return db.execute(
            "UPDATE dead_letters AS l SET resolved_at = %(now)s WHERE l.portal_id = %(portal)s"
            " AND l.resolved_at IS NULL AND l.deal_id = ANY(%(deals)s) AND l.properties <> ''"
            " AND NOT EXISTS (SELECT 1 FROM unnest(string_to_array(l.properties, ',')) AS p(name)"
            " LEFT JOIN registers r ON r.portal_id = l.portal_id AND r.deal_id = l.deal_id AND r.property = p.name"
            " WHERE r.deal_id IS NULL OR r.parked OR r.confirmed IS DISTINCT FROM r.value"
            " OR (l.occurred_at IS NOT NULL AND r.occurred_at < l.occurred_at))",
            {"now": _now(), "deals": list(deal_ids)}).rowcount
