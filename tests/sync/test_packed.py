"""The packed store against a plain model of version 2's rows, for any sequence of its writes.

Version 2 kept one row per (deal, property) and changed them with one SQL statement each; version
3 packs a deal's registers in one row and changes them in Python. Random sequences of every write
the store offers (accepting rows, HubSpot's confirmations, parking, releasing, forgetting,
re-queueing hand edits), with few deals, properties, values and instants so that ties and
repeats are common, must leave exactly the registers, the queue and the counts the model says.
"""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provisioner.sync.coalesce import Coalescer
from provisioner.sync.events import Snapshot
from provisioner.sync.store import PAGE_BYTES, SyncStore

DEALS = ["1", "2", "30"]
PROPS = ["p_a", "p_b", "p_c"]
VALUES = ["", "x", "y", "Café"]
deal = st.sampled_from(DEALS)
prop = st.sampled_from(PROPS)
value = st.sampled_from(VALUES)
row = st.tuples(deal, prop, value, st.sampled_from([-5, 0, 7]), st.sampled_from(["a", "b"]),
                st.sampled_from(["e1", "e2"]))
# A snapshot (deal, instant, accord, event, values): accepted whole, as a push accepts its input.
snapshot = st.tuples(deal, st.sampled_from([-5, 0, 7]), st.sampled_from(["a", "b"]), st.sampled_from(["e1", "e2"]),
                     st.dictionaries(prop, value, max_size=3))
op = st.one_of(
    st.tuples(st.just("accept"), st.lists(row, max_size=6)),
    st.tuples(st.just("snapshots"), st.lists(snapshot, max_size=4)),
    st.tuples(st.just("confirm"), st.lists(st.tuples(deal, prop, value), max_size=4), st.integers(0, 9)),
    st.tuples(st.just("park"), st.lists(st.tuples(deal, prop, value), max_size=3)),
    st.tuples(st.just("park_deal"), deal),
    st.tuples(st.just("unpark"), st.lists(deal, max_size=2)),
    st.tuples(st.just("forget")),
    st.tuples(st.just("requeue"), st.lists(st.tuples(deal, prop, value, value), max_size=3)),
)


def apply(model: dict, step: tuple) -> None:
    """Version 2's statements, one row at a time."""
    kind, *args = step
    if kind == "snapshots":
        rows = [(d, p, v, at, accord, event) for d, at, accord, event, values in args[0] for p, v in values.items()]
        apply(model, ("accept", rows))
    elif kind == "accept":
        for d, p, v, at, accord, event in args[0]:
            held = model.get((d, p))
            if held is None:
                model[(d, p)] = [v, at, accord, event, None, 0, None]
            elif (at, accord, v, event) > (held[1], held[2], held[0], held[3]):
                held[:4], held[5] = [v, at, accord, event], 0
    elif kind == "confirm":
        for d, p, v in args[0]:
            if (d, p) in model:
                model[(d, p)][4], model[(d, p)][6] = v, args[1]
    elif kind == "park":
        for d, p, v in args[0]:
            if (d, p) in model and model[(d, p)][0] == v:
                model[(d, p)][5] = 1
    elif kind in ("park_deal", "unpark"):
        for (d, _), held in model.items():
            if d in ([args[0]] if kind == "park_deal" else args[0]):
                held[5] = int(kind == "park_deal")
    elif kind == "forget":
        for held in model.values():
            if not held[5]:
                held[4] = None
    else:
        for d, p, expected, actual in args[0]:
            held = model.get((d, p))
            if held is not None and held[0] == expected and held[4] == expected and not held[5]:
                held[4] = actual


def run(store: SyncStore, step: tuple) -> None:
    kind, *args = step
    with store.transaction() as db:
        if kind == "accept":
            store.accept_rows(db, sorted(args[0], key=lambda r: r[:2]))
        elif kind == "snapshots":
            merged = Coalescer()
            for line_no, (d, at, accord, event, values) in enumerate(args[0]):
                merged.add(Snapshot(line_no, event, at, accord, d, values))
            store.accept_coalesced(db, merged)
        elif kind == "confirm":
            store.record_confirmed(db, args[0], at=args[1])
        elif kind == "park":
            store.park(db, args[0])
        elif kind == "park_deal":
            store.park_deal(db, args[0])
        elif kind == "unpark":
            store.unpark(db, args[0])
        elif kind == "forget":
            store.forget_confirmed(db)
        else:
            store.requeue(db, args[0])


@settings(deadline=None, max_examples=250)
@given(st.lists(op, max_size=12))
def test_any_sequence_of_writes_leaves_what_one_row_per_register_would(tmp_path_factory, steps):
    model: dict = {}
    with SyncStore(tmp_path_factory.mktemp("packed") / "store.sqlite") as store:
        for step in steps:
            apply(model, step)
            run(store, step)
            assert store.dump() == [(d, p, *held[:5], held[5]) for (d, p), held in sorted(model.items())]
            pending = {key: held for key, held in model.items() if not held[5] and held[4] != held[0]}
            assert store.count_pending(values=True) == len(pending)
            assert store.pending_deals(limit=10) == sorted({d for d, _ in pending})
            assert store.synced_deals(limit=10) == sorted({d for (d, _), h in model.items() if h[4] is not None})
            with store.transaction() as db:
                for (d, p), held in model.items():
                    assert store.register(db, d, p).confirmed_at == held[6]


def test_a_value_written_back_to_what_hubspot_holds_is_not_pending(tmp_path):
    with SyncStore(tmp_path / "store.sqlite") as store:
        run(store, ("accept", [("1", "p_a", "x", 1, "a", "e1")]))
        run(store, ("confirm", [("1", "p_a", "x")], 2))
        run(store, ("accept", [("1", "p_a", "y", 3, "a", "e1")]))
        assert store.count_pending(values=True) == 1
        run(store, ("accept", [("1", "p_a", "x", 4, "a", "e1")]))  # back to the confirmed value
        assert (store.count_pending(values=True), store.pending_deals()) == (0, [])
        assert store.dump() == [("1", "p_a", "x", 4, "a", "e1", "x", 0)]


def test_a_new_store_has_large_pages_and_an_older_file_keeps_its_own(tmp_path):
    with SyncStore(tmp_path / "new.sqlite") as store:
        assert store._db.execute("PRAGMA page_size").fetchone()[0] == PAGE_BYTES
    old = tmp_path / "old.sqlite"
    with sqlite3.connect(old) as db:
        db.execute("PRAGMA page_size=4096")
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    with SyncStore(old) as store:
        assert store._db.execute("PRAGMA page_size").fetchone()[0] == 4096
        run(store, ("accept", [("1", "p_a", "x", 1, "a", "e1")]))
        assert store.count_pending() == 1


register = st.tuples(st.sampled_from([-5, 0, 7]), st.sampled_from([("a", "e1"), ("b", "e2")]), value,
                     st.sampled_from([True, None, "x", "zz"]), st.sampled_from([0, 1]), st.sampled_from([None, 3]))


@settings(deadline=None, max_examples=300)
@given(st.dictionaries(prop, register, min_size=1), st.sampled_from([-5, 0, 7, 9]), st.sampled_from(["a", "b"]),
       st.data())
def test_one_newer_write_of_every_property_packs_as_property_by_property(held, at, accord, data):
    """``merge``'s one-pass case gives the same bytes and counts as the general one, or declines."""
    from provisioner.sync import packed

    class Ids:
        names = {i: name for i, name in enumerate(PROPS, 1)}
        ids = {name: i for i, name in names.items()}

        def id_of(self, name: str) -> int:
            return self.ids[name]

    if data.draw(st.booleans()):  # a value for each property held: the one-pass case, when newer
        values = {name: data.draw(value) for name in held}
    else:
        values = data.draw(st.dictionaries(prop, value, min_size=1))
    pairs = [("a", "e1"), ("b", "e2")]
    if data.draw(st.booleans()):  # as the store packs them: only the pairs in use, in order of first use
        pairs = list(dict.fromkeys(pair for _, pair, *_ in held.values()))
    entries = [[Ids.ids[name], held_at, pairs.index(pair), v, confirmed, parked, confirmed_at]
               for name, (held_at, pair, v, confirmed, parked, confirmed_at) in held.items()]
    blob = packed._encode((pairs, entries))
    writes = ((at, accord, data.draw(st.sampled_from(["e1", "e2"])), values),)
    fast = packed.merge(blob, writes, Ids())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(packed, "_replace_all", lambda *args: None)
        assert fast == packed.merge(blob, writes, Ids())
