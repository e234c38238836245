"""Coalescing a run's snapshots: any order gives each property's greatest stamp, and the count of
values that lost, whichever path a pair of snapshots takes (one replacing the other whole, or per property)."""

from __future__ import annotations

import gc
import weakref

from hypothesis import given
from hypothesis import strategies as st

from provisioner.sync.coalesce import Chunk, Coalescer, read_chunks
from provisioner.sync.engine import collector_paused, release
from provisioner.sync.events import Rules, Snapshot
from tests.sync.conftest import event as event_line
from tests.sync.conftest import make_config

PROPS = ["p_status", "p_stage", "p_url"]
snapshots = st.builds(
    lambda line_no, at, accord, deal, event, values: Snapshot(line_no, event, at, accord, deal, values),
    st.integers(1, 99), st.sampled_from([10, 20, 30]), st.sampled_from(["acc_a", "acc_b"]),
    st.sampled_from(["1", "2"]), st.sampled_from(["step_updated", "stage_created"]),
    st.dictionaries(st.sampled_from(PROPS), st.sampled_from(["", "x", "y"]), max_size=3),
)


def model(snaps: list[Snapshot]) -> tuple[dict, int]:
    """Per deal and property the greatest stamp; and how many values met one held before them."""
    best: dict[str, dict[str, tuple]] = {}
    lost = 0
    for s in snaps:
        held = best.setdefault(s.deal_id, {})
        for prop, value in s.values.items():
            stamp = (s.occurred_at, s.accord_id, value, s.event)
            if prop in held:
                lost += 1
            held[prop] = max(held.get(prop, stamp), stamp)
    return best, lost


@given(st.lists(snapshots, max_size=8), st.randoms())
def test_any_order_gives_the_greatest_stamps_and_the_same_count(snaps, rng):
    merged = Coalescer()
    for s in snaps:
        merged.add(s)
    best, lost = model(snaps)
    assert merged.winners == best
    assert merged.superseded == lost
    shuffled = list(snaps)
    rng.shuffle(shuffled)
    again = Coalescer()
    for s in shuffled:
        again.add(s)
    assert again.winners == best and again.superseded == lost
    for deal in merged.held:  # each write's values share its stamp
        for at, accord_id, event, values in merged.writes(deal):
            assert all(best[deal][prop] == (at, accord_id, value, event) for prop, value in values.items())


def test_a_later_snapshot_with_every_property_replaces_the_earlier_whole():
    early = Snapshot(1, "step_updated", 10, "acc_a", "1", {"p_status": "x", "p_stage": "y"})
    late = Snapshot(2, "step_updated", 20, "acc_b", "1", {"p_status": "y", "p_stage": "y", "p_url": "u"})
    for first, second in ((early, late), (late, early)):
        merged = Coalescer()
        merged.add(first)
        merged.add(second)
        assert merged.held["1"] is late
        assert merged.superseded == 2


class Node:
    pass


def test_release_frees_the_chunk_and_collects_its_cycles():
    with collector_paused():
        chunk = Chunk(read=5)
        chunk.merged.add(Snapshot(1, "step_updated", 10, "acc_a", "1", {"p_status": "x"}))
        node = Node()
        node.me = node  # a cycle: only the collector frees it
        chunk.invalid.append(node)
        cycle = weakref.ref(node)
        del node
        release(chunk, chunk_events=10)  # not a full chunk: no collection yet
        assert len(chunk.merged) == 0 and chunk.invalid == []
        assert cycle() is not None
        chunk.invalid.append(cycle())
        release(chunk, chunk_events=5)  # a full chunk: collected
        assert cycle() is None
        assert not gc.isenabled()
    assert gc.isenabled()


class _Traced(Coalescer):
    __slots__ = ("__weakref__",)


def test_release_frees_a_read_chunk_before_the_collectors_pass():
    """A chunk from ``read_chunks`` is let go by ``release`` alone: nothing of the reading still
    holds its coalescer, so the collection after it has none of the chunk's values to look at."""
    lines = [event_line(deal_id=str(101 + i)) for i in range(7)]
    seen = []
    with collector_paused():
        for chunk in read_chunks(lines, Rules.from_config(make_config()), 3, merger=_Traced):
            merged = weakref.ref(chunk.merged)
            release(chunk, chunk_events=3)
            seen.append(merged() is None)
    assert seen == [True, True, True]


def test_accepting_holds_no_chunk_when_the_collector_runs(tmp_path, monkeypatch):
    """Through the engine's own accept step: at each collection after a full chunk, no coalescer
    holding deals is still alive (its values were freed by their counts, not left to the pass)."""
    from types import SimpleNamespace

    from provisioner.sync import engine
    from provisioner.sync.report import PushReport
    from provisioner.sync.store import SyncStore

    held_at_collection: list[int] = []

    def collect(generation: int = 2) -> int:
        held_at_collection.append(sum(1 for o in gc.get_objects() if type(o) is Coalescer and o.held))
        return gc.collect(generation)

    monkeypatch.setattr(engine, "gc", SimpleNamespace(isenabled=gc.isenabled, enable=gc.enable, disable=gc.disable,
                                                      collect=collect))
    lines = [event_line(deal_id=str(101 + i % 4), at=f"2026-11-27T10:00:0{i % 10}Z") for i in range(9)]
    with SyncStore(tmp_path / "sync.sqlite") as store:
        engine.accept_input(store, lines, Rules.from_config(make_config()), PushReport(), chunk_events=2)
    assert held_at_collection == [0, 0, 0, 0]
