"""Replays of the sync's recorded HubSpot conversations: a change in what is sent fails here."""

from __future__ import annotations

import json

import pytest

from provisioner.hubspot.client import HubSpotClient
from tests.sync.fakes import FakeDeals
from tests.sync.record_cassettes import (
    CASSETTES,
    EVENTS,
    HAND_EDIT,
    read_conversation,
    recorder,
    update_conversation,
)

REPLAY_URL = "http://127.0.0.1:9"

pytestmark = pytest.mark.block_network


def test_batch_update_conversation_replays(store, rules):
    lines = EVENTS.read_text().splitlines()
    client = HubSpotClient(REPLAY_URL, "replay-token", tier="unlimited")
    with recorder("none").use_cassette(str(CASSETTES / "batch_update.yaml"), allow_playback_repeats=False) as cassette:
        first, second = update_conversation(client, store, rules, lines)
        assert cassette.all_played
    assert (first.written, first.requests) == (120, 2)
    assert (second.written, second.requests) == (1, 1)
    last_body = json.loads(cassette.requests[-1].body)
    assert last_body["inputs"] == [{"id": json.loads(lines[3])["deal_id"], "properties": {"accord_status": "At Risk"}}]
    assert all("authorization" not in {k.lower() for k in r.headers} for r in cassette.requests)


def test_batch_read_conversation_replays(store, rules):
    lines = EVENTS.read_text().splitlines()
    ids = [json.loads(line)["deal_id"] for line in lines]
    update_conversation(FakeDeals(ids), store, rules, lines)  # the store as it was when recorded
    client = HubSpotClient(REPLAY_URL, "replay-token", tier="unlimited")
    with recorder("none").use_cassette(str(CASSETTES / "batch_read.yaml"), allow_playback_repeats=False) as cassette:
        report = read_conversation(client, store, rules)
        assert cassette.all_played
    assert report.requests == 2
    assert [(d.deal_id, d.property, d.actual) for d in report.differences] == [
        (ids[5], "accord_status", HAND_EDIT["accord_status"])
    ]
