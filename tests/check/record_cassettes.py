"""Record the cassette of the check's deal archive against the emulator on 127.0.0.1.

    python -m tests.check.record_cassettes

Writes cassettes/check/archive_deal.yaml; test_cassettes.py replays it with the network blocked.
Creating the deal happens outside the recording.
"""

from __future__ import annotations

from pathlib import Path

from provisioner.hubspot.client import HubSpotClient
from tests.sync.record_cassettes import recorder

CASSETTES = Path(__file__).resolve().parents[2] / "cassettes" / "check"
DEAL_ID = "10000000001"  # the emulator's first deal id


def archive_conversation(client: HubSpotClient, deal_id: str):
    """Archive a deal, then read it back: HubSpot no longer returns it."""
    client.archive_deal(deal_id)
    return client.batch_read_deals([deal_id], ["dealname"])


def main() -> None:
    from provisioner.emulator import Emulator, EmulatorSettings, serve_in_thread

    CASSETTES.mkdir(parents=True, exist_ok=True)
    emulator = Emulator(EmulatorSettings(burst_limit=None, daily_limit=None))
    with serve_in_thread(emulator, host="127.0.0.1", port=0) as base_url:
        client = HubSpotClient(base_url, "recording-token", tier="unlimited")
        created = client.batch_create_deals([{"dealname": "provisioner check: test deal"}]).results[0].id
        assert created == DEAL_ID, created
        target = CASSETTES / "archive_deal.yaml"
        target.unlink(missing_ok=True)
        with recorder("all").use_cassette(str(target), allow_playback_repeats=False):
            archive_conversation(client, created)
    print(f"recorded {target}")


if __name__ == "__main__":
    main()
