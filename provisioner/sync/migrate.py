"""Migrating an older sync store in place (inside the transaction that opens it).

Version 1 kept per (deal, property) the desired value with its ``occurred_at`` as text, the
confirmed value in a table of its own, per (accord, deal) watermarks, and dead letters without
a digest. Version 2 keeps one register per (deal, property) (see ``store``):
- each desired row becomes a register (its time converted to microseconds), with the confirmed
  value of the same deal and property;
- a confirmed value without a desired row becomes a register stamped ``OLDEST`` (any event wins);
- watermarks are dropped: the ordering rule works per field and needs none;
- dead letters are kept, the copies of one record merged into one (``seen`` counts them).
Version 3 packs a deal's registers in one row (``packed``): version 2's registers are read in
key order, a batch of deals at a time, and written as one row per deal with the same values,
stamps, confirmed values, parked flags and confirmation times; a version-1 store goes through 2.
A version this code does not know (a newer tool wrote it) is refused with a clear message.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from provisioner.sync.instant import parse_instant
from provisioner.sync.packed import PropertyIds, pack


def _stamp(text: str) -> int:
    from provisioner.sync.store import OLDEST

    try:
        return parse_instant(text)
    except ValueError:
        return OLDEST


# Version 2's registers, the table a version-1 store is migrated into on its way to version 3.
V2_REGISTERS = """CREATE TABLE registers (
    deal_id TEXT NOT NULL, property TEXT NOT NULL, value TEXT NOT NULL, occurred_at INTEGER NOT NULL,
    accord_id TEXT NOT NULL, event TEXT NOT NULL, confirmed TEXT, parked INTEGER NOT NULL DEFAULT 0,
    confirmed_at INTEGER, PRIMARY KEY (deal_id, property)) WITHOUT ROWID"""
_BATCH = 50_000  # registers read per step of the migration from version 2


def migrate(db: sqlite3.Connection, path: Path, version: str) -> None:
    from provisioner.sync.store import StoreError

    if version not in ("1", "2"):
        raise StoreError(
            f"{path}: sync store version {version} is not supported by this provisioner (it reads 1 to 3)",
            hint="use the provisioner version that wrote it, or move the store away to start a new one",
        )
    if version == "1":
        _from_1(db)
    _from_2(db)


def _create(db: sqlite3.Connection) -> None:
    from provisioner.sync.store import _SCHEMA

    for statement in _SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)


def _from_2(db: sqlite3.Connection) -> None:
    """Version 2's registers, one row per (deal, property), become one packed row per deal."""
    from provisioner.sync.store import _SAVE

    _create(db)
    ids = PropertyIds(db)
    cursor = db.execute("SELECT deal_id, property, value, occurred_at, accord_id, event, confirmed, parked,"
                        " confirmed_at FROM registers ORDER BY deal_id, property")
    deal, registers = None, {}
    while batch := cursor.fetchmany(_BATCH):
        rows = []
        for deal_id, prop, *fields in batch:
            if deal_id != deal:
                if registers:
                    rows.append((deal, *_packed(registers, ids)))
                deal, registers = deal_id, {}
            registers[prop] = fields
        db.executemany(_SAVE, rows)
    if registers:
        db.execute(_SAVE, (deal, *_packed(registers, ids)))
    db.execute("DROP TABLE registers")


def _packed(registers: dict, ids: PropertyIds) -> tuple[int, int, bytes]:
    blob, pending, synced = pack(registers, ids)
    return pending, synced, blob


def _from_1(db: sqlite3.Connection) -> None:
    from provisioner.sync.store import OLDEST, _digest

    db.create_function("v1_stamp", 1, _stamp, deterministic=True)
    db.create_function("v1_digest", 2, _digest, deterministic=True)
    db.execute("ALTER TABLE dead_letters RENAME TO dead_letters_v1")
    _create(db)
    db.execute(V2_REGISTERS)
    db.execute(
        "INSERT INTO registers (deal_id, property, value, occurred_at, accord_id, event, confirmed, parked,"
        " confirmed_at) SELECT d.deal_id, d.property, d.value, v1_stamp(d.occurred_at), d.accord_id, d.event,"
        " c.value, 0, CASE WHEN c.value IS NULL THEN NULL ELSE v1_stamp(c.confirmed_at) END"
        " FROM desired d LEFT JOIN confirmed c ON c.deal_id = d.deal_id AND c.property = d.property"
        " ORDER BY d.deal_id, d.property"
    )
    db.execute(
        "INSERT INTO registers (deal_id, property, value, occurred_at, accord_id, event, confirmed, parked,"
        " confirmed_at) SELECT c.deal_id, c.property, c.value, ?, '', '', c.value, 0, v1_stamp(c.confirmed_at)"
        " FROM confirmed c"
        " WHERE NOT EXISTS (SELECT 1 FROM desired d WHERE d.deal_id = c.deal_id AND d.property = c.property)"
        " ORDER BY c.deal_id, c.property",
        (OLDEST,),
    )
    db.execute(
        "INSERT INTO dead_letters (created_at, origin, accord_id, deal_id, occurred_at, reason, line, digest)"
        " SELECT created_at, origin, accord_id, deal_id,"
        " CASE WHEN occurred_at IS NULL THEN NULL ELSE v1_stamp(occurred_at) END, reason, line,"
        " v1_digest(origin, line) FROM dead_letters_v1 WHERE true ORDER BY id"
        " ON CONFLICT (digest) DO UPDATE SET seen = seen + 1"
    )
    for table in ("dead_letters_v1", "desired", "confirmed", "watermarks"):
        db.execute(f"DROP TABLE IF EXISTS {table}")
