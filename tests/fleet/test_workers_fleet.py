"""Many portals on one emulator process, registered with their own tokens, drained by two worker
processes on one PostgreSQL store: every portal gets its own values, never from two writers at once
(from the emulator's request log). Bounded waits; everything on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import requests

from provisioner.fleet.pgstore import PgDatabase
from provisioner.hubspot.client import HubSpotClient
from provisioner.sync.engine import accept
from provisioner.sync.events import Snapshot
from tests.serve.conftest import Setup, wait_for
from tests.sync.portal import prepare_portal, read_deals, seed_deals

PORTALS = {111: "pat-na1-one-111", 222: "pat-na1-two-222"}


@pytest.fixture
def setup(tmp_path):
    """Processes started in a test are stopped after it, whatever its outcome."""
    made = Setup(tmp_path)
    yield made
    made.close()


def overlapping(lines: list[dict]) -> list[tuple]:
    spans = sorted((line["portal"], line["started"], line["finished"]) for line in lines
                   if line["path"].endswith("/deals/batch/update"))
    return [(a, b) for a, b in zip(spans, spans[1:], strict=False) if a[0] == b[0] and b[1] < a[2]]


def test_two_workers_drain_many_registered_portals_one_writer_each(setup, pg_url):
    log = setup.dir / "requests.jsonl"
    emu = setup.start(["emulator", "serve", "--port", "0", "--burst-limit", "0", "--request-log", str(log),
                       "--fault-rate", "0.5", "--fault-kinds", "slow", "--slow", "0.05", "--fault-path",
                       "batch/update"], "emulator")
    env = setup.env(PROVISIONER_STORE_URL=pg_url, HUBSPOT_BASE_URL=emu.url,
                    **{f"TOKEN_{p}": token for p, token in PORTALS.items()})
    deals = {}
    for portal, token in PORTALS.items():
        added = requests.post(emu.url + "/__emulator__/portals", json={"portal_id": portal, "token": token}, timeout=10)
        assert added.status_code in (200, 201), added.text
        client = HubSpotClient(emu.url, token, tier="unlimited")
        prepare_portal(client, setup.config)
        deals[portal] = seed_deals(client, 250)
        done = subprocess.run([sys.executable, "-m", "provisioner", "portals", "add", str(portal), "--token-env",
                               f"TOKEN_{portal}"], env=env, cwd=setup.dir, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    with PgDatabase(pg_url) as database:
        for portal in PORTALS:
            accept(database.portal(portal), [Snapshot(1, "step_updated", 10, "acc", deal, {"accord_status": f"P{portal}"})
                                             for deal in deals[portal]])
        for n in range(2):
            setup.start(["sync", "worker", "--max-delay", "0.2"], f"worker{n}", ready="claiming portals",
                        **{k: v for k, v in env.items() if k.startswith(("PROVISIONER_", "HUBSPOT_BASE", "TOKEN_"))})
        wait_for(lambda: all(database.portal(p).count_pending() == 0 for p in PORTALS), timeout=90)
    for portal, token in PORTALS.items():
        held = read_deals(HubSpotClient(emu.url, token, tier="unlimited"), deals[portal], ["accord_status"])
        assert {values["accord_status"] for values in held.values()} == {f"P{portal}"}
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    writes = [line for line in lines if line["path"].endswith("/deals/batch/update")]
    assert {line["portal"] for line in writes} == set(PORTALS)
    assert overlapping(lines) == []
