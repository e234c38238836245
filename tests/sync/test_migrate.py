"""Migrating a version-2 store (one row per deal and property) to version 3 (one packed row per deal).

A version-2 file is written with version 2's own tables and statements, then opened: every
register must come back with the same value, stamp, confirmed value, parked flag and
confirmation time, the queue must hold the same deals and values, and the dead letters stay.
"""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provisioner.sync import migrate
from provisioner.sync.engine import accept, send_pending
from provisioner.sync.events import parse_line
from provisioner.sync.store import OLDEST, SyncStore
from tests.sync.conftest import event
from tests.sync.fakes import FakeDeals

# Version 2 as it was: its registers, the partial index of its queue, and its dead letters.
V2_SCHEMA = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta VALUES ('schema_version', '2');
{migrate.V2_REGISTERS};
CREATE INDEX pending ON registers (deal_id) WHERE parked = 0 AND confirmed IS NOT value;
CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL, origin TEXT NOT NULL,
    accord_id TEXT, deal_id TEXT, occurred_at INTEGER, reason TEXT NOT NULL, line TEXT NOT NULL,
    truncated INTEGER NOT NULL DEFAULT 0, digest TEXT NOT NULL UNIQUE, seen INTEGER NOT NULL DEFAULT 1,
    properties TEXT NOT NULL DEFAULT '', resolved_at TEXT);
CREATE INDEX open_letters ON dead_letters (deal_id) WHERE resolved_at IS NULL;
"""
AT = 1_795_780_800_000_000  # 2026-11-27T12:00:00Z
REGISTERS = [  # deal, property, value, occurred_at, accord_id, event, confirmed, parked, confirmed_at
    ("11", "accord_progress", "50", AT, "acc_1", "step_updated", "50", 0, AT + 5),  # confirmed
    ("11", "accord_status", "At Risk", AT, "acc_1", "step_updated", "On Track", 0, AT + 5),  # pending
    ("11", "accord_url", "", AT + 1, "acc_2", "stage_created", None, 0, None),  # a clear, never confirmed
    ("12", "accord_status", "Stalled", AT, "acc_1", "step_updated", None, 1, None),  # parked
    ("13", "accord_stage_name", "Café ☕", OLDEST, "", "", "Café ☕", 0, AT),  # migrated from version 1
    ("14", "accord_progress", "7", AT, "acc_3", "step_updated", "6", 1, AT - 9),  # parked, confirmed differs
]
LETTER = ("2026-11-27T12:00:00.000000Z", "hubspot", "acc_1", "12", AT, "INVALID_OPTION", '{"deal_id": "12"}', 0,
          "d" * 32, 2, "accord_status", None)


def write_v2(path, registers, letters=()) -> None:
    with sqlite3.connect(path) as db:
        db.executescript(V2_SCHEMA)
        db.executemany("INSERT INTO registers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", registers)
        db.executemany("INSERT INTO dead_letters (created_at, origin, accord_id, deal_id, occurred_at, reason, line,"
                       " truncated, digest, seen, properties, resolved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       letters)


def pending_in_v2(registers) -> tuple[list[str], int]:
    rows = [r for r in registers if not r[7] and r[6] != r[2]]
    return sorted({r[0] for r in rows}), len(rows)


@pytest.mark.parametrize("batch", [2, 50_000])  # deals cut across the migration's batches, and not
def test_a_version_2_store_is_migrated_in_place_and_loses_nothing(tmp_path, monkeypatch, rules, batch):
    monkeypatch.setattr(migrate, "_BATCH", batch)
    path = tmp_path / "v2.sqlite"
    write_v2(path, REGISTERS, [LETTER])
    with SyncStore(path) as store:
        assert store.dump() == [r[:8] for r in sorted(REGISTERS)]
        deals, values = pending_in_v2(REGISTERS)
        assert store.pending_deals(limit=100) == deals == ["11"]
        assert (store.count_pending(), store.count_pending(values=True)) == (1, values) == (1, 2)
        assert store.count_synced() == 3 and store.synced_deals() == ["11", "13", "14"]
        [(deal, pending)] = store.pending_values(["11", "12", "13", "14"])
        assert (deal, sorted(pending)) == ("11", ["accord_status", "accord_url"])
        assert pending["accord_status"].confirmed == "On Track"
        with store.transaction() as db:
            for deal, prop, value, at, accord_id, name, confirmed, parked, confirmed_at in REGISTERS:
                held = store.register(db, deal, prop)
                assert held == (value, at, accord_id, name, confirmed, bool(parked), confirmed_at)
        [letter] = store.dead_letters()
        assert (letter.deal_id, letter.reason, letter.seen, letter.line) == ("12", "INVALID_OPTION", 2, LETTER[6])
        # The migrated store goes on working: a newer write of the parked deal releases it.
        accept(store, [parse_line(1, event(deal_id="12", accord_id="acc_1", at="2026-11-27T13:00:00Z",
                                           STATUS="On Track", PROGRESS=...), rules)])
        assert store.pending_deals() == ["11", "12"]
    with sqlite3.connect(path) as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        version = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    assert "registers" not in tables and version == "3"


def test_a_migrated_store_sends_what_version_2_had_pending(tmp_path, rules):
    path = tmp_path / "v2.sqlite"
    write_v2(path, REGISTERS)
    deals = FakeDeals(["11", "12", "13", "14"])
    with SyncStore(path) as store:
        sent = send_pending(store, deals, rules=rules)
        assert sent.written == 1 and store.count_pending() == 0
    assert deals.calls == [[("11", {"accord_status": "At Risk", "accord_url": ""})]]


text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=6)
register = st.tuples(st.sampled_from(["1", "2", "10", "99"]), st.sampled_from(["p_a", "p_b", "p_c"]), text,
                     st.integers(OLDEST, 2**62), text, text, st.none() | text, st.sampled_from([0, 1]),
                     st.none() | st.integers(0, 2**62))


@settings(deadline=None, max_examples=60)
@given(st.lists(register, max_size=20, unique_by=lambda r: (r[0], r[1])), st.integers(1, 4))
def test_any_version_2_registers_come_back_the_same(tmp_path_factory, registers, batch):
    path = tmp_path_factory.mktemp("v2") / "store.sqlite"
    write_v2(path, registers)
    saved, migrate._BATCH = migrate._BATCH, batch
    try:
        with SyncStore(path) as store:
            assert store.dump() == [r[:8] for r in sorted(registers)]
            deals, values = pending_in_v2(registers)
            assert store.pending_deals(limit=100) == deals and store.count_pending(values=True) == values
            with store.transaction() as db:
                for r in registers:
                    assert store.register(db, r[0], r[1])[6] == r[8]
    finally:
        migrate._BATCH = saved
