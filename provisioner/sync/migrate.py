"""Migrating an older sync store in place (inside the transaction that opens it).

Version 1 kept per (deal, property) the desired value with its ``occurred_at`` as text, the
confirmed value in a table of its own, per (accord, deal) watermarks, and dead letters without
a digest. Version 2 keeps one register per (deal, property) (see ``store``):
- each desired row becomes a register (its time converted to microseconds), with the confirmed
  value of the same deal and property;
- a confirmed value without a desired row becomes a register stamped ``OLDEST`` (any event wins);
- watermarks are dropped: the ordering rule works per field and needs none;
- dead letters are kept, the copies of one record merged into one (``seen`` counts them).
A version this code does not know (a newer tool wrote it) is refused with a clear message.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from provisioner.sync.instant import parse_instant


def _stamp(text: str) -> int:
    from provisioner.sync.store import OLDEST

    try:
        return parse_instant(text)
    except ValueError:
        return OLDEST


def migrate(db: sqlite3.Connection, path: Path, version: str) -> None:
    from provisioner.sync.store import _SCHEMA, OLDEST, StoreError, _digest

    if version != "1":
        raise StoreError(
            f"{path}: sync store version {version} is not supported by this provisioner (it reads 1 and 2)",
            hint="use the provisioner version that wrote it, or move the store away to start a new one",
        )
    db.create_function("v1_stamp", 1, _stamp, deterministic=True)
    db.create_function("v1_digest", 2, _digest, deterministic=True)
    db.execute("ALTER TABLE dead_letters RENAME TO dead_letters_v1")
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)
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
