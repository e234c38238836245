"""The store: migration of a version-1 file, locks across processes, one-line errors, dead letters."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provisioner.sync.engine import accept, push
from provisioner.sync.events import parse_line
from provisioner.sync.letters import retry
from provisioner.sync.store import MAX_LETTER_CHARS, NewDeadLetter, StoreError, SyncStore
from tests.sync.conftest import event
from tests.sync.fakes import FakeDeals

V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE confirmed (deal_id TEXT NOT NULL, property TEXT NOT NULL, value TEXT NOT NULL,
    confirmed_at TEXT NOT NULL, PRIMARY KEY (deal_id, property)) WITHOUT ROWID;
CREATE TABLE desired (deal_id TEXT NOT NULL, property TEXT NOT NULL, value TEXT NOT NULL,
    occurred_at TEXT NOT NULL, accord_id TEXT NOT NULL, event TEXT NOT NULL,
    PRIMARY KEY (deal_id, property)) WITHOUT ROWID;
CREATE TABLE watermarks (accord_id TEXT NOT NULL, deal_id TEXT NOT NULL, occurred_at TEXT NOT NULL,
    PRIMARY KEY (accord_id, deal_id)) WITHOUT ROWID;
CREATE TABLE dead_letters (id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL, origin TEXT NOT NULL,
    accord_id TEXT, deal_id TEXT, occurred_at TEXT, reason TEXT NOT NULL, line TEXT NOT NULL);
INSERT INTO meta VALUES ('schema_version', '1');
INSERT INTO desired VALUES ('7', 'accord_status', 'At Risk', '2026-11-27T12:00:00.000000Z', 'a', 'step_updated');
INSERT INTO desired VALUES ('7', 'accord_progress', '50', '2026-11-27T12:00:00.000000Z', 'a', 'step_updated');
INSERT INTO confirmed VALUES ('7', 'accord_status', 'At Risk', '2026-11-27T12:00:01Z');
INSERT INTO confirmed VALUES ('8', 'accord_status', 'Stalled', '2026-11-27T12:00:01Z');
INSERT INTO watermarks VALUES ('a', '7', '2026-11-27T12:00:00.000000Z');
INSERT INTO dead_letters VALUES (1, '2026-11-27T12:00:00Z', 'input', NULL, NULL, NULL, 'not JSON', '{');
INSERT INTO dead_letters VALUES (2, '2026-11-27T12:00:00Z', 'input', NULL, NULL, NULL, 'not JSON', '{');
"""


def test_a_version_1_store_is_migrated_in_place(tmp_path, rules):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as old:
        old.executescript(V1_SCHEMA)
    with SyncStore(path) as store:
        at = 1_795_780_800_000_000  # 2026-11-27T12:00:00Z
        assert store.dump() == [
            ("7", "accord_progress", "50", at, "a", "step_updated", None, 0),
            ("7", "accord_status", "At Risk", at, "a", "step_updated", "At Risk", 0),
            ("8", "accord_status", "Stalled", -62_135_596_800_000_000, "", "", "Stalled", 0),
        ]
        assert store.count_pending() == 1  # 7's progress was never confirmed: it still goes out
        with store.transaction() as db:
            assert store.register(db, "7", "accord_status").confirmed_at == at + 1_000_000
        [letter] = store.dead_letters()
        assert (letter.line, letter.seen) == ("{", 2)
        # An older write of a field the old store held loses; a newer one wins.
        accept(store, [parse_line(1, event(deal_id="7", accord_id="b", at="2026-11-27T11:00:00Z",
                                           STATUS="Stalled", PROGRESS=...), rules)])
        assert store.registers(["7"])["7"]["accord_status"][0] == "At Risk"
    with sqlite3.connect(path) as again:
        tables = {name for (name,) in again.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"desired", "confirmed", "watermarks"}.isdisjoint(tables)


def test_a_store_from_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "new.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT); INSERT INTO meta VALUES "
                         "('schema_version', '9');")
    with pytest.raises(StoreError, match="version 9 is not supported"):
        SyncStore(path)


def test_a_second_run_fails_at_once_or_waits_for_the_lock(tmp_path):
    path = tmp_path / "s.sqlite"
    with SyncStore(path) as first, SyncStore(path) as second:
        first.lock()
        with pytest.raises(StoreError, match="another sync run is using this store; nothing was done"):
            second.lock()
        with pytest.raises(StoreError, match=r"waited 0.2 s"):
            second.lock(wait=0.2)
        threading.Timer(0.2, first.unlock).start()
        second.lock(wait=30)  # taken once the first run lets go


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("full", "the disk is full"),
        ("readonly", "the sync store is read-only"),
    ],
)
def test_write_failures_are_one_clear_error_and_keep_nothing_half_written(store, rules, damage, message):
    accept(store, [parse_line(1, event(deal_id="1"), rules)])
    before = store.dump()
    if damage == "full":
        pages = store._db.execute("PRAGMA page_count").fetchone()[0]
        store._db.execute(f"PRAGMA max_page_count={pages}")  # what SQLite says when the disk is full
        lines = [event(deal_id=str(1000 + i), URL="https://a.example/" + "x" * 200) for i in range(400)]
    else:
        store._db.execute("PRAGMA query_only=1")
        lines = [event(deal_id="2")]
    with pytest.raises(StoreError, match=message):
        push(FakeDeals(), store, lines, rules)
    store._db.execute("PRAGMA query_only=0")
    assert store.dump() == before


def test_a_folder_that_is_a_file_and_a_damaged_store_are_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="cannot open the sync store") as caught:
        SyncStore(tmp_path / "file" / "sync.sqlite")
    assert caught.value.hint == "its folder must be a writable directory"
    damaged = tmp_path / "damaged.sqlite"
    damaged.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError, match="the sync store is damaged"):
        SyncStore(damaged)


def test_the_same_bad_input_twice_does_not_double_the_dead_letters(store, rules):
    portal = FakeDeals(["1"])
    lines = [event(deal_id="1"), "{oops", event(deal_id="1", accord_id="x", STATUS="Done")]
    push(portal, store, lines, rules)
    push(portal, store, lines, rules)
    letters = store.dead_letters()
    assert [(letter.line, letter.seen) for letter in letters] == [("{oops", 2), (lines[2], 2)]


def test_a_dead_letter_a_later_run_delivers_is_marked_resolved(store, rules):
    portal = FakeDeals(["1"])
    report = push(portal, store, [event(deal_id="1"), event(deal_id="2", accord_id="b")], rules)
    assert report.missing == 1
    [letter] = store.dead_letters()
    assert letter.deal_id == "2" and letter.resolved_at is None
    # Not retried by itself...
    assert push(portal, store, [], rules).requests == 0
    # ...the deal appears (created again, say), and a retry delivers it.
    portal.deals["2"] = {}
    again = retry(portal, store, store.dead_letters(include_resolved=False), rules)
    assert (again.written, again.ok) == (1, True)
    [letter] = store.dead_letters()
    assert letter.resolved_at is not None and store.dead_letters(include_resolved=False) == []
    assert portal.deals["2"]["accord_status"] == "On Track"


def test_a_newer_push_delivers_a_parked_deal_and_resolves_its_letter(store, rules):
    portal = FakeDeals(["1"])
    push(portal, store, [event(deal_id="2", STATUS="At Risk")], rules)
    portal.deals["2"] = {}
    push(portal, store, [event(deal_id="2", at="2026-11-28T00:00:00Z", STATUS="Stalled")], rules)
    assert portal.deals["2"]["accord_status"] == "Stalled"
    assert [letter.resolved_at is not None for letter in store.dead_letters()] == [True]


def test_a_dead_letter_line_is_kept_up_to_the_limit_and_then_cannot_be_retried(store, rules):
    huge = "x" * (MAX_LETTER_CHARS + 10)
    with store.transaction() as db:
        store.add_dead_letters(db, [NewDeadLetter("input", "r" * 5000, huge)])
    [letter] = store.dead_letters()
    assert len(letter.line) == MAX_LETTER_CHARS and letter.truncated and len(letter.reason) == 2000
    report = retry(FakeDeals(), store, [letter], rules)
    assert report.invalid == 1 and "cut short" in report.problems[0].reason


def test_a_bad_record_retried_after_the_config_was_fixed_is_delivered_and_resolved(store):
    from provisioner.sync.events import Rules
    from tests.sync.conftest import make_config

    long_url = "https://app.accord.example/a/" + "x" * 60
    strict, fixed = (Rules.from_config(make_config(url_limit=limit)) for limit in (40, 255))
    portal = FakeDeals(["1"])
    report = push(portal, store, [event(deal_id="1", URL=long_url)], strict)
    assert report.invalid == 1 and portal.calls == []
    [letter] = store.dead_letters()
    assert letter.origin == "input" and "over the limit" in letter.reason
    again = retry(portal, store, [letter], fixed)
    assert (again.written, again.ok) == (1, True) and portal.deals["1"]["accord_url"] == long_url
    [letter] = store.dead_letters()
    assert letter.resolved_at is not None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), min_size=1, max_size=6),
                min_size=1, max_size=8, unique=True), st.data())
def test_any_deal_ids_are_read_and_written_back_and_a_lone_surrogate_matches_none(tmp_path_factory, ids, data):
    """Deal ids of any text (quotes, backslashes, controls, non-ASCII) are found by every
    statement that reads deals by id, and written back; an id no UTF-8 can hold matches nothing."""
    with SyncStore(tmp_path_factory.mktemp("ids") / "store.sqlite") as store:
        with store.transaction() as db:
            store.accept_rows(db, sorted((deal, "p_a", "x", 1, "a", "e1") for deal in ids))
        wanted = data.draw(st.lists(st.sampled_from(ids), min_size=1, unique=True))
        lookup = data.draw(st.permutations(wanted + data.draw(st.lists(st.sampled_from(["\ud800", "1\udcff"]),
                                                                          max_size=2, unique=True))))
        assert store.pending_deals(only=lookup) == sorted(wanted)
        assert sorted(store.registers(lookup)) == sorted(wanted)
        with store.transaction() as db:
            store.record_confirmed(db, [(deal, "p_a", "x") for deal in lookup], at=5)
            store.park_deal(db, wanted[0])
            store.park_deal(db, "\udfff")
        assert store.pending_deals(limit=20) == sorted(set(ids) - set(wanted))
        assert store.synced_deals(limit=20) == sorted(wanted)
        assert [deal for deal, *_, parked in store.dump() if parked] == [wanted[0]]
