"""Record the vcrpy cassettes of the sync's HubSpot conversations against the emulator on 127.0.0.1.

    python -m tests.sync.record_cassettes

Writes cassettes/sync/{batch_update,batch_read}.yaml and the events they were recorded with
(cassettes/sync/events.jsonl). test_cassettes.py replays them with the network blocked.
Only the conversations are recorded: setting up the portal and seeding deals happen outside.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import vcr

from provisioner.hubspot.client import HubSpotClient
from provisioner.sync.engine import push
from provisioner.sync.events import Rules
from provisioner.sync.store import SyncStore
from provisioner.sync.verify import verify
from tests.sync.conftest import event, make_config

CASSETTES = Path(__file__).resolve().parents[2] / "cassettes" / "sync"
EVENTS = CASSETTES / "events.jsonl"
HAND_EDIT = {"accord_status": "Stalled"}


def recorder(mode: str) -> vcr.VCR:
    return vcr.VCR(
        record_mode=mode,
        filter_headers=["authorization"],
        match_on=["method", "path", "query", "body"],
        decode_compressed_response=True,
    )


def make_events(deal_ids: list[str]) -> list[str]:
    return [event(deal_id=d, accord_id=f"acc_{d}", PROGRESS=i % 101) for i, d in enumerate(deal_ids)]


def update_conversation(client, store, rules, lines):
    """A first push (two batches), then one changed field (one request with only that field)."""
    first = push(client, store, lines, rules)
    changed = json.loads(lines[3])
    changed["occurred_at"] = "2026-11-28T09:00:00Z"
    changed["data"]["STATUS"] = "At Risk"
    second = push(client, store, [json.dumps(changed)], rules)
    return first, second


def read_conversation(client, store, rules):
    return verify(client, store, rules)


def main() -> None:
    from provisioner.emulator import Emulator, EmulatorSettings, serve_in_thread
    from tests.sync.portal import prepare_portal, seed_deals

    CASSETTES.mkdir(parents=True, exist_ok=True)
    config = make_config()
    rules = Rules.from_config(config)
    emulator = Emulator(EmulatorSettings(burst_limit=None, daily_limit=None))
    with serve_in_thread(emulator, host="127.0.0.1", port=0) as base_url, tempfile.TemporaryDirectory() as tmp:
        client = HubSpotClient(base_url, "recording-token", tier="unlimited")
        prepare_portal(client, config)
        ids = seed_deals(client, 120)
        lines = make_events(ids)
        EVENTS.write_text("\n".join(lines) + "\n")
        with SyncStore(Path(tmp) / "sync.sqlite") as store:
            for name in ("batch_update.yaml", "batch_read.yaml"):
                (CASSETTES / name).unlink(missing_ok=True)
            with recorder("all").use_cassette(str(CASSETTES / "batch_update.yaml"), allow_playback_repeats=False):
                update_conversation(client, store, rules, lines)
            client.batch_update_deals([(ids[5], HAND_EDIT)])
            with recorder("all").use_cassette(str(CASSETTES / "batch_read.yaml"), allow_playback_repeats=False):
                report = read_conversation(client, store, rules)
    print(f"recorded; verify saw {len(report.differences)} hand edit(s)")


if __name__ == "__main__":
    main()
