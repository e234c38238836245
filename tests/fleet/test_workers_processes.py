"""Workers as real processes on one PostgreSQL store: one writer per portal, SIGKILL loses nothing,
intake (``serve``) and workers (``sync worker``) in different processes. Every wait is bounded;
every server listens on 127.0.0.1."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests

from provisioner.fleet.pgstore import PgDatabase
from provisioner.sync.engine import accept
from provisioner.sync.events import Snapshot
from tests.fleet.workers import ServedPortal
from tests.serve.conftest import Setup, post_events, signed_headers, wait_for

PORTAL = 12345678


@pytest.fixture
def setup(tmp_path):
    """Processes started in a test are stopped after it, whatever its outcome (pytest runs the rest)."""
    made = Setup(tmp_path)
    yield made
    made.close()


def fill(database: PgDatabase, deals: list[str], status: str, at: int = 10) -> None:
    accept(database.portal(PORTAL), [Snapshot(1, "step_updated", at, "acc", deal, {"accord_status": status})
                                     for deal in deals])


def worker(setup: Setup, portal: ServedPortal, pg_url: str, name: str = "worker"):
    return setup.start(["sync", "worker", "--max-delay", "0.2"], name, ready="claiming portals",
                       HUBSPOT_BASE_URL=portal.url, PROVISIONER_STORE_URL=pg_url)


def test_two_worker_processes_never_write_to_one_portal_at_once(setup, pg_url):
    portal = ServedPortal(600)
    portal.log.during_batch = lambda _portal: time.sleep(0.03)  # long enough for two writers to meet
    try:
        with PgDatabase(pg_url) as database:
            fill(database, portal.deals, "On Track")
            workers = [worker(setup, portal, pg_url, f"w{n}") for n in range(2)]
            wait_for(lambda: database.portal(PORTAL).count_pending() == 0, timeout=90)
            assert all(w.proc.poll() is None for w in workers)
            assert [w.stop() for w in workers] == [0, 0]  # SIGTERM: the current step ends, then exit 0
        assert set(portal.values().values()) == {"On Track"}
        batches = [e for e in portal.log.entries if e[3].endswith("/batch/update")]
        assert len(batches) >= 6
        assert portal.log.overlaps() == []
    finally:
        portal.close()


def test_a_worker_killed_mid_batch_loses_nothing_and_another_finishes(setup, pg_url):
    portal = ServedPortal(300)
    in_flight = threading.Event()
    release = threading.Event()

    def hold_first(_portal: int) -> None:
        if not in_flight.is_set():
            in_flight.set()
            release.wait(20)  # the first batch is still being answered when its worker dies

    portal.log.during_batch = hold_first
    try:
        with PgDatabase(pg_url) as database:
            fill(database, portal.deals, "At Risk")
            first = worker(setup, portal, pg_url, "doomed")
            assert in_flight.wait(30)
            first.proc.send_signal(signal.SIGKILL)
            first.proc.wait(10)
            second = worker(setup, portal, pg_url, "heir")
            # The dead worker's claim went with its connection: the heir claims the portal and sends it all.
            wait_for(lambda: database.portal(PORTAL).count_pending() == 0, timeout=90)
            release.set()
            assert second.proc.poll() is None
        assert set(portal.values().values()) == {"At Risk"}
    finally:
        release.set()
        portal.close()


def test_intake_and_workers_run_in_different_processes(setup, pg_url):
    portal = ServedPortal(40)
    try:
        serve = setup.start(["serve", "--port", "0", "--max-delay", "0.2", "--drain-timeout", "5", "--no-worker",
                             "--portal", str(PORTAL)], "serve",
                            HUBSPOT_BASE_URL=portal.url, PROVISIONER_STORE_URL=pg_url)
        records = [{"event": "step_updated", "occurred_at": "2026-11-27T10:00:00Z", "accord_id": "acc_1",
                    "deal_id": deal, "data": {"STATUS": "Stalled"}} for deal in portal.deals]
        answer = post_events(serve.url, records[:20])
        assert answer.status_code == 202 and answer.json()["accepted"] == 20
        body = json.dumps(records[20:]).encode()
        answer = requests.post(serve.url + f"/v1/portals/{PORTAL}/events", data=body,
                               headers=signed_headers(body, "msg_path"), timeout=15)
        assert answer.status_code == 202 and answer.json()["accepted"] == 20
        other = requests.post(serve.url + "/v1/portals/0x10/events", data=body,
                              headers=signed_headers(body, "msg_bad"), timeout=15)
        assert other.status_code == 404
        with PgDatabase(pg_url) as database:
            assert database.portal(PORTAL).count_pending() == 40  # taken, durable, not sent by serve
            assert [e for e in portal.log.entries if e[3].endswith("/batch/update")] == []
            worker(setup, portal, pg_url, "w")
            wait_for(lambda: database.portal(PORTAL).count_pending() == 0, timeout=60)
        assert set(portal.values().values()) == {"Stalled"}
        assert serve.stop() == 0
    finally:
        portal.close()


def test_a_worker_sends_with_the_registered_portals_own_token(setup, pg_url):
    portal = ServedPortal(120, token="acme-private-token")  # the environment's token is refused here
    try:
        env = setup.env(PROVISIONER_STORE_URL=pg_url, ACME_TOKEN="acme-private-token")
        added = subprocess.run([sys.executable, "-m", "provisioner", "portals", "add", str(PORTAL), "--name", "Acme",
                                "--token-env", "ACME_TOKEN"], env=env, cwd=setup.dir, capture_output=True, text=True,
                               timeout=60)
        assert added.returncode == 0, added.stderr
        with PgDatabase(pg_url) as database:
            fill(database, portal.deals, "Registered")
            setup.start(["sync", "worker", "--max-delay", "0.2"], "worker", ready="claiming portals",
                        HUBSPOT_BASE_URL=portal.url, PROVISIONER_STORE_URL=pg_url, ACME_TOKEN="acme-private-token")
            wait_for(lambda: database.portal(PORTAL).count_pending() == 0, timeout=60)
        assert set(portal.values().values()) == {"Registered"}
    finally:
        portal.close()
