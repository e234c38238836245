"""Intake bodies (shapes, hostile input, dedup keys), in-process (the queue's commit and guard rules: tests/store)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provisioner.serve.intake import BodyError, read_body
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
