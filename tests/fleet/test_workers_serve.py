"""serve's intake on PostgreSQL: one commit over many portals; a paused portal never stops the others;
the workers' sessions and the store's messages."""

from __future__ import annotations

import json
import time

import pytest

from provisioner.fleet.location import StoreLocation
from provisioner.fleet.pgopen import open_database
from provisioner.fleet.pgqueue import IDLE_IN_TX_S, ClaimQueue, drain
from provisioner.fleet.pgserve import PortalQueues
from provisioner.fleet.pgstore import PgDatabase
from provisioner.serve.intake import read_body
from provisioner.serve.queue import GuardEvent, Job, guard_log_rows
from provisioner.serve.tables import PgTables
from provisioner.sync.events import Invalid
from provisioner.sync.store import StoreError
from tests.fleet.test_workers_claims import fill
from tests.fleet.workers import RULES, Portals
from tests.sync.conftest import event


def body(*records: dict) -> bytes:
    return json.dumps(list(records)).encode()


def record(deal: str, portal=None, status: str = "On Track") -> dict:
    item = json.loads(event(deal_id=deal, STATUS=status))
    if portal is not None:
        item["portal_id"] = portal
    return item


def test_one_commit_sends_each_record_to_its_portal_and_redeliveries_are_duplicates(pg_url):
    with PgDatabase(pg_url) as database:
        queues = PortalQueues(database, RULES, default_portal=7)
        records = read_body(body(record("11"), record("12", 8), record("13", "9"), {"event": "step_updated"}), RULES)
        job = Job(delivery_key="w:one", records=records)
        path_job = Job(delivery_key="w:two", records=read_body(body(record("14")), RULES, portal_id=9))
        queues.commit([job, path_job])
        assert job.results == ["accepted", "accepted", "accepted", "invalid"]
        assert path_job.results == ["accepted"]
        assert {p: database.portal(p).pending_deals() for p in (7, 8, 9)} == {7: ["11"], 8: ["12"], 9: ["13", "14"]}
        assert len(database.portal(7).dead_letters()) == 1  # the bad record: the default portal's
        again = Job(delivery_key="w:one", records=records)
        queues.commit([again])
        assert again.results == ["duplicate"] * 4
        assert queues.writable()


def test_the_guard_acts_on_the_portal_each_hubspot_event_names(pg_url):
    with PgDatabase(pg_url) as database:
        queues = PortalQueues(database, RULES, default_portal=7)
        queues.commit([Job(records=read_body(body(record("11"), record("11", 8)), RULES))])
        deletion = GuardEvent(key="h:8:1", kind="deletion", deal_id="11", occurred_ms=1, portal_id=8)
        echo = GuardEvent(key="h:7:2", kind="change", deal_id="11", occurred_ms=2, property="accord_status",
                          value="On Track", portal_id=7)
        job = Job(guard=[deletion, echo])
        queues.commit([job])
        assert job.guard_results == ["deleted", "echo"]
        assert database.portal(8).pending_deals() == []  # portal 8's deal is gone: no more sends to it
        assert database.portal(7).pending_deals() == ["11"]  # portal 7's deal 11 is another deal
        assert [e["action"] for e in guard_log_rows(PgTables(database.portal(8)))] == ["deleted"]
        assert guard_log_rows(PgTables(database.portal(7))) == []


def test_a_record_naming_another_portal_than_the_one_served_is_set_aside():
    [parsed] = [r.parsed for r in read_body(body(record("11", 8)), RULES, portal_id=7)]
    assert type(parsed) is Invalid and "is not the portal served here (7)" in parsed.reason


def test_a_portal_out_of_its_daily_limit_waits_and_the_others_go_on(pg_url):
    portals = Portals(2, 150)
    portals.emulators[101].limits.daily_limit = 0  # every request of portal 101 meets its daily limit
    portals.emulators[101].set_rate_limits(None, 10.0, 1, False)
    portals.emulators[101].limits.daily_used = 1
    with PgDatabase(pg_url) as database:
        fill(database, portals, "On Track")
        steps = drain(ClaimQueue(database, RULES, portals.client_for), deadline=time.monotonic() + 60,
                      give_up_after_s=30)
        assert database.portal(102).count_pending() == 0
        assert database.portal(101).count_pending() == 150
        paused = [s for s in steps if s.portal_id == 101]
        assert len(paused) == 1 and "daily limit" in paused[0].paused
        with database.pool.connection() as conn:
            [(note, wait)] = conn.execute("SELECT note, ready_at - extract(epoch FROM clock_timestamp())"
                                          " FROM portal_queue WHERE portal_id = 101").fetchall()
        assert "daily limit" in note and wait > 200
        portals.emulators[101].limits.daily_used = 0  # a new day
        portals.emulators[101].set_rate_limits(None, 10.0, None, False)
        queue = ClaimQueue(database, RULES, portals.client_for, portals=[101])
        assert queue.step() is None  # still paused for the workers
        assert queue.resume_paused() == 1  # a command run by hand tries again at once
        drain(queue, deadline=time.monotonic() + 60)
        assert database.portal(101).count_pending() == 0


def test_workers_sessions_end_an_idle_transaction(pg_url):
    database = open_database(StoreLocation(url=pg_url), worker=True)
    try:
        with database.pool.connection() as conn:
            [(value, source)] = conn.execute("SELECT setting, source FROM pg_settings"
                                             " WHERE name = 'idle_in_transaction_session_timeout'").fetchall()
        assert (int(value), source) == (IDLE_IN_TX_S * 1000, "session")  # set by the worker, not the server
    finally:
        database.close()


def test_a_store_that_cannot_be_reached_is_one_line_without_the_password(postgres_server):
    url = f"postgresql://someone:hunter2secret@127.0.0.1:{postgres_server.port}/no_such_database"
    with pytest.raises(StoreError) as caught:
        PgDatabase(url)
    text = str(caught.value)
    assert "hunter2secret" not in text and "***" in text and "\n" not in text
