"""Intake bodies (shapes, hostile input, dedup keys) and the queue's commit and guard rules, in-process."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provisioner.serve.intake import BodyError, read_body
from provisioner.serve.queue import SEEN_TTL_S, GuardEvent, GuardPolicy, Job, Queue, guard_log
from provisioner.sync.events import Invalid, Rules, Snapshot
from tests.sync.conftest import event, make_config

RULES = Rules.from_config(make_config())


def test_the_three_body_shapes_give_the_same_records():
    lines = [event("101"), event("102", accord_id="acc_2")]
    one = read_body(lines[0].encode(), RULES)
    array = read_body(("[" + ",".join(lines) + "]").encode(), RULES)
    jsonl = read_body("\n".join(lines).encode(), RULES)
    assert len(one) == 1 and len(array) == len(jsonl) == 2
    assert [r.parsed.values for r in array] == [r.parsed.values for r in jsonl]
    assert all(type(r.parsed) is Snapshot for r in array + jsonl)


HOSTILE = [
    b"", b"   ", b"null", b"42", b'"text"', b"[1,", b"{broken", b"\xff\xfe{}", b"<xml/>",
    b'{"a": 1} trailing', b"[" * 100_000,
]


@pytest.mark.parametrize("body", HOSTILE, ids=range(len(HOSTILE)))
def test_bodies_that_are_not_json_are_refused_whole_with_one_line(body):
    with pytest.raises(BodyError) as error:
        read_body(body, RULES)
    assert "\n" not in str(error.value)


def test_bad_records_inside_a_good_body_are_set_aside_one_by_one():
    body = "\n".join([event("101"), '{"event": "step_updated", "deal_id": "x"}', "not json", event("102"),
                      '{"event": "other_event"}']).encode()
    results = [type(r.parsed).__name__ for r in read_body(body, RULES)]
    assert results == ["Snapshot", "Invalid", "Invalid", "Snapshot", "Ignored"]
    array = read_body(b'[1, "x", null, {"event": "step_updated"}]', RULES)
    assert all(type(r.parsed) is Invalid for r in array)


def test_a_record_naming_another_portal_is_invalid():
    record = json.loads(event("101"))
    ours = read_body(json.dumps({**record, "portal_id": 12345678}).encode(), RULES, portal_id=12345678)
    other = read_body(json.dumps({**record, "portal_id": 999}).encode(), RULES, portal_id=12345678)
    assert type(ours[0].parsed) is Snapshot
    assert type(other[0].parsed) is Invalid and "999" in other[0].parsed.reason


@given(st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8), max_size=6))
def test_the_dedup_key_of_an_array_item_ignores_the_spacing_of_the_array(item):
    compact = read_body(json.dumps([item], separators=(",", ":")).encode(), RULES)
    spaced = read_body(json.dumps([item], indent=2).encode(), RULES)
    assert [r.key for r in compact] == [r.key for r in spaced]


def test_a_record_with_its_own_id_is_keyed_by_it():
    first = read_body(b'{"id": "evt_1", "x": 1}', RULES)
    second = read_body(b'{"x": 2, "id": "evt_1"}', RULES)
    assert first[0].key == second[0].key == "r:evt_1"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_no_body_ever_raises_anything_but_a_body_error(body):
    try:
        read_body(body, RULES)
    except BodyError:
        pass


# ---- the queue ------------------------------------------------------------------------------------
@pytest.fixture
def queue(tmp_path):
    opened = Queue(str(tmp_path / "sync.sqlite"), RULES)
    yield opened
    opened.close()


def _job(*lines: str, delivery: str | None = None) -> Job:
    return Job(delivery_key=delivery, records=read_body("\n".join(lines).encode(), RULES))


def test_one_commit_serves_many_requests_and_dedups_across_them(queue):
    jobs = [_job(event("101", STATUS="At Risk"), delivery="w:1"), _job(event("101", STATUS="At Risk")),
            _job(event("102"), delivery="w:1"), _job('{"event": "step_updated"}')]
    outcome = queue.commit(jobs)
    assert [job.results for job in jobs] == [["accepted"], ["duplicate"], ["duplicate"], ["invalid"]]
    assert outcome.pending_deals == {"101"}
    assert [deal for deal, _values in queue.pending(["101", "102"])] == ["101"]
    assert len(queue.store.dead_letters()) == 1


def test_seen_keys_expire_after_the_ttl(tmp_path):
    clock = [1_000_000.0]
    queue = Queue(str(tmp_path / "s.sqlite"), RULES, clock=lambda: clock[0])
    try:
        queue.commit([_job(event("101"), delivery="w:a")])
        clock[0] += SEEN_TTL_S + 1
        for _ in range(100):  # expiry runs every 100 commits
            queue.commit([])
        again = _job(event("101"), delivery="w:a")
        queue.commit([again])
        assert again.results == ["accepted"]
    finally:
        queue.close()


def _confirm(queue: Queue, deal: str, prop: str, value: str) -> None:
    with queue.store.transaction() as db:
        queue.store.record_confirmed(db, [(deal, prop, value)])


def _change(deal: str, value: str, n: int, source: str = "userId:5", at_ms: int | None = None) -> GuardEvent:
    return GuardEvent(key=f"h:{n}", kind="change", deal_id=deal, property="accord_status", value=value,
                      occurred_ms=at_ms if at_ms is not None else int(time.time() * 1000) + 1000,
                      change_source="CRM_UI", source_id=source)


def test_guard_restores_echoes_bounds_and_deletions(queue):
    queue.commit([_job(event("101", STATUS="On Track"))])
    _confirm(queue, "101", "accord_status", "On Track")
    policy = GuardPolicy(app_id="777", restores_per_hour=2)
    results = []
    for n, (value, source) in enumerate([("On Track", "777"), ("Stalled", "userId:5"), ("Stalled", "777"),
                                         ("At Risk", "userId:5")]):
        job = Job(guard=[_change("101", value, n, source)])
        queue.commit([job], policy)
        results.append(job.guard_results[0])
        _confirm(queue, "101", "accord_status", "On Track")  # the worker's restore landed
    assert results == ["echo", "restored", "echo", "restored"]
    third = Job(guard=[_change("101", "Not Started", 9)])
    queue.commit([third], policy)
    assert third.guard_results == ["reported"]
    repeat = Job(guard=[_change("101", "Not Started", 9)])
    queue.commit([repeat], policy)
    assert repeat.guard_results == ["duplicate"]
    stale = Job(guard=[_change("101", "Stalled", 10, at_ms=0)])
    queue.commit([stale], policy)
    assert stale.guard_results == ["stale"]
    gone = Job(guard=[GuardEvent(key="h:11", kind="deletion", deal_id="101", occurred_ms=1)])
    queue.commit([gone], policy)
    assert gone.guard_results == ["deleted"]
    assert queue.pending(["101"]) == []
    assert [e["action"] for e in guard_log(str(queue.store.path))] == ["restored", "restored", "reported", "deleted"]
    later = _job(event("101", at="2026-11-28T10:00:00Z", STATUS="At Risk"), event("102", STATUS="At Risk"))
    outcome = queue.commit([later], policy)
    assert later.results == ["deal_deleted", "accepted"]  # a deleted deal's new value is never accepted
    assert outcome.pending_deals == {"102"} and queue.pending(["101"]) == []
    letters = queue.store.dead_letters()
    assert [(letter.deal_id, letter.origin) for letter in letters] == [("101", "hubspot")]
    assert letters[0].reason.startswith("deal 101 was deleted in HubSpot (deal.deletion at 1970-01-01T00:00:00.001")


def test_guard_ignores_properties_it_does_not_manage_and_deals_it_never_wrote(queue):
    job = Job(guard=[GuardEvent("h:1", "change", "555", 1, "dealname", "x"),
                     GuardEvent("h:2", "change", "555", 1, "accord_status", "x")])
    queue.commit([job])
    assert job.guard_results == ["ignored", "ignored"]


def test_a_deeply_nested_record_is_invalid_and_the_others_go_through():
    body = (event("101") + "\n" + '{"event": ' + "[" * 100_000 + "\n" + event("102")).encode()
    assert [type(r.parsed).__name__ for r in read_body(body, RULES)] == ["Snapshot", "Invalid", "Snapshot"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=20,
)
guard_items = st.fixed_dictionaries({}, optional={
    "eventId": json_values, "subscriptionType": st.sampled_from(["deal.propertyChange", "deal.deletion", "x"]),
    "objectId": json_values | st.just(1e400) | st.just(float("nan")), "occurredAt": json_values | st.just(-1e400),
    "portalId": json_values, "propertyName": json_values, "propertyValue": json_values,
    "changeSource": json_values, "sourceId": json_values,
})


@settings(max_examples=300, deadline=None)
@given(st.lists(guard_items | json_values, max_size=5))
def test_any_signed_hubspot_body_is_read_without_an_error(items):
    from provisioner.serve.app import _guard_events

    chosen, skipped = _guard_events(items, 12345678)
    assert len(chosen) + skipped == len(items)
    assert all(event.deal_id.isdigit() and event.occurred_ms >= 0 for event in chosen)
