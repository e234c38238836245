"""The store contract: SQLite's SyncStore and PostgreSQL's PortalStore answer alike (both backends).

The ordering rule is checked for all inputs against a small oracle (Hypothesis): random writes
over a few registers, texts that order differently by code point and by locale, instants that
tie, in random batches; the store must hold exactly the greatest stamp per register.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provisioner.sync.coalesce import coalesce
from provisioner.sync.engine import accept
from provisioner.sync.events import Snapshot
from provisioner.sync.store import MAX_LETTER_CHARS, NewDeadLetter

# Code-point order differs from most locales' order on these ("B" < "a" < "é" < "😀").
TEXTS = ["", "a", "B", "b", "é", "e", "z", "Z", "😀", "\uffff", "a b", "ab"]
WRITE = st.tuples(st.sampled_from(["1", "2", "10"]), st.sampled_from(["p", "q"]), st.sampled_from(TEXTS),
                  st.sampled_from([-5, 0, 7, 7, 1_795_780_800_000_000]), st.sampled_from(["acc", "Acc", "ácc"]),
                  st.sampled_from(["step_updated", "Stage", "é"]))
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def snap(deal: str, values: dict, at: int = 10, accord: str = "acc", event: str = "step_updated") -> Snapshot:
    return Snapshot(1, event, at, accord, deal, values)


def put(store, *snaps: Snapshot) -> int:
    return accept(store, list(snaps)).accepted


@given(batches=st.lists(st.lists(WRITE, min_size=1, max_size=8), min_size=1, max_size=4))
@SETTINGS
def test_the_store_holds_the_greatest_stamp_of_every_register(stores, batches):
    store = stores.new()
    best: dict[tuple[str, str], tuple] = {}
    for batch in batches:
        merged = coalesce(snap(deal, {prop: value}, at, accord, event) for deal, prop, value, at, accord, event in batch)
        with store.transaction() as db:
            store.accept_rows(db, merged.rows())
        for deal, prop, value, at, accord, event in batch:
            stamp = (at, accord, value, event)
            best[(deal, prop)] = max(best.get((deal, prop), stamp), stamp)
    expected = [(deal, prop, s[2], s[0], s[1], s[3], None, 0) for (deal, prop), s in sorted(best.items())]
    assert store.dump() == expected


def test_a_coalescer_and_its_rows_are_the_same_accept(stores):
    merged = coalesce([snap("2", {"p": "b"}), snap("1", {"q": "a", "p": "c"}, at=3), snap("2", {"p": "x"}, at=1)])
    by_rows, by_coalescer = stores.new(), stores.new()
    with by_rows.transaction() as db:
        assert by_rows.accept_rows(db, merged.rows()) == 3
    with by_coalescer.transaction() as db:
        assert by_coalescer.accept_coalesced(db, merged) == 3
    assert by_rows.dump() == by_coalescer.dump()


def test_accept_counts_only_registers_it_changed(store):
    assert put(store, snap("1", {"p": "a", "q": "b"})) == 2
    assert put(store, snap("1", {"p": "a", "q": "b"})) == 0  # the same stamp again: nothing newer
    assert put(store, snap("1", {"p": "old"}, at=5)) == 0
    assert put(store, snap("1", {"p": "new"}, at=11)) == 1


def test_pending_follows_what_hubspot_confirmed(store):
    put(store, snap("2", {"p": "x"}), snap("1", {"p": "a", "q": "b"}), snap("3", {"p": "y"}))
    assert store.pending_deals() == ["1", "2", "3"]
    assert store.pending_deals(after="1", limit=1) == ["2"]
    assert store.pending_deals(only=["3", "9"]) == ["3"]
    assert [(d, sorted(v)) for d, v in store.pending_values(["3", "1"])] == [("3", ["p"]), ("1", ["p", "q"])]
    assert (store.count_pending(), store.count_pending(values=True)) == (3, 4)
    with store.transaction(durable=False) as db:
        store.record_confirmed(db, [("1", "p", "a"), ("1", "q", "b")], at=123)
    assert store.pending_deals() == ["2", "3"]
    assert store.load_confirmed() == {"1": {"p": "a", "q": "b"}}
    assert (store.synced_deals(), store.count_synced()) == (["1"], 1)
    with store.transaction() as db:
        assert store.register(db, "1", "p").confirmed_at == 123
        assert store.register(db, "9", "p") is None


def test_a_confirmation_of_an_older_value_leaves_the_newer_one_pending(store):
    put(store, snap("1", {"p": "a"}))
    sent = store.pending_values(["1"])[0][1]["p"].value
    put(store, snap("1", {"p": "b"}, at=20))  # arrives while "a" is on its way
    with store.transaction() as db:
        store.record_confirmed(db, [("1", "p", sent)])
    [(deal, values)] = store.pending_values(["1"])
    assert (deal, values["p"].confirmed, values["p"].value) == ("1", "a", "b")


def test_parked_values_wait_for_a_newer_write_or_an_unpark(store):
    put(store, snap("1", {"p": "a"}), snap("2", {"p": "b", "q": "c"}))
    with store.transaction() as db:
        store.park(db, [("1", "p", "a"), ("2", "p", "other")])  # a value since replaced is not parked
        store.park_deal(db, "2")
    assert store.pending_deals() == []
    assert [row[7] for row in store.dump()] == [1, 1, 1]
    put(store, snap("1", {"p": "newer"}, at=11))
    assert store.pending_deals() == ["1"]
    with store.transaction() as db:
        store.unpark(db, ["2"])
    assert store.pending_deals() == ["1", "2"]


def test_requeue_and_full_resync(store):
    put(store, snap("1", {"p": "a", "q": "b"}))
    with store.transaction() as db:
        store.record_confirmed(db, [("1", "p", "a"), ("1", "q", "b")])
        assert store.requeue(db, [("1", "p", "a", "hand"), ("1", "q", "not what it holds", "x")]) == [("1", "p")]
    assert store.registers(["1"])["1"]["p"][:3] == ("a", "hand", False)
    assert store.count_pending(values=True) == 1
    with store.transaction() as db:
        store.forget_confirmed(db)
    assert store.count_pending(values=True) == 2


def test_dead_letters_are_counted_not_copied_and_resolved_when_delivered(store):
    bad = NewDeadLetter("input", "not JSON", "{")
    long_line = "x" * (MAX_LETTER_CHARS + 10)
    with store.transaction() as db:
        store.add_dead_letters(db, [bad, NewDeadLetter("input", "too long", long_line)])
        store.add_dead_letters(db, [bad])
    letters = store.dead_letters()
    assert [(d.line[:1], d.seen, d.truncated) for d in letters] == [("{", 2, False), ("x", 1, True)]
    assert len(letters[1].line) == MAX_LETTER_CHARS
    put(store, snap("1", {"p": "a", "q": "b"}))
    refused = NewDeadLetter("hubspot", "INVALID_OPTION", '{"deal":"1"}', "acc", "1", 10, ("p", "q"))
    with store.transaction() as db:
        store.park(db, [("1", "p", "a"), ("1", "q", "b")])
        store.add_dead_letters(db, [refused])
    letter_id = store.dead_letters()[-1].id
    assert store.dead_letters([]) == [] and [d.id for d in store.dead_letters([letter_id])] == [letter_id]
    assert [d.id for d in store.dead_letters(include_resolved=False)][-1] == letter_id
    with store.transaction() as db:
        store.unpark(db, ["1"])
        store.record_confirmed(db, [("1", "p", "a")])
        assert store.resolve_delivered(db, ["1"]) == 0  # q is not confirmed yet
        store.record_confirmed(db, [("1", "q", "b")])
        assert store.resolve_delivered(db, ["1"]) == 1
    assert store.dead_letters([letter_id])[0].resolved_at is not None
    assert letter_id not in [d.id for d in store.dead_letters(include_resolved=False)]
    with store.transaction() as db:
        store.add_dead_letters(db, [refused])  # set aside again: reopened
        store.describe_letter(db, letter_id, "1", 10, ["q", "p"])
    assert store.dead_letters([letter_id])[0].resolved_at is None


def test_a_dead_letter_keeps_any_text_it_was_given(store, backend):
    odd = NewDeadLetter("input", "control character", "{\"a\":\"\x00\"} é")
    with store.transaction() as db:
        store.add_dead_letters(db, [odd, odd])
    [letter] = store.dead_letters()
    assert letter.seen == 2
    # PostgreSQL's texts hold no NUL: it is written \x00 there.
    assert letter.line == ('{"a":"\x00"} é' if backend == "sqlite" else '{"a":"\\x00"} é')


def test_a_trial_leaves_nothing_behind(store):
    with store.trial() as db:
        store.accept_rows(db, coalesce([snap("1", {"p": "a"})]).rows())
        assert store.pending_deals(db=db) == ["1"]
    assert store.dump() == []


def test_each_store_sees_only_its_own_rows(stores):
    one, two = stores.new(), stores.new()
    put(one, snap("1", {"p": "a"}))
    with one.transaction() as db:
        one.add_dead_letters(db, [NewDeadLetter("input", "bad", "{")])
    assert (two.dump(), two.dead_letters(), two.pending_deals()) == ([], [], [])
    put(two, snap("1", {"p": "b"}))
    assert [row[2] for row in one.dump()] == ["a"]
