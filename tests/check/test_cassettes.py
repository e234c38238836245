"""Replay of the deal archive the check sends: a change in what is sent fails here."""

from __future__ import annotations

import pytest

from provisioner.hubspot.client import HubSpotClient
from tests.check.record_cassettes import CASSETTES, DEAL_ID, archive_conversation
from tests.sync.record_cassettes import recorder

pytestmark = pytest.mark.block_network


def test_archive_deal_conversation_replays():
    client = HubSpotClient("http://127.0.0.1:9", "replay-token", tier="unlimited")
    with recorder("none").use_cassette(str(CASSETTES / "archive_deal.yaml"), allow_playback_repeats=False) as cassette:
        result = archive_conversation(client, DEAL_ID)
        assert cassette.all_played
    assert [(r.method, r.path) for r in cassette.requests] == [
        ("DELETE", f"/crm/objects/2026-03/deals/{DEAL_ID}"),
        ("POST", "/crm/objects/2026-03/deals/batch/read"),
    ]
    assert cassette.responses[0]["status"]["code"] == 204
    assert result.results == [] and [list(e.ids) for e in result.errors] == [[DEAL_ID]]
    assert all("authorization" not in {k.lower() for k in r.headers} for r in cassette.requests)
