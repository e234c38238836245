"""Workers on PostgreSQL, in one process: claims, one writer per portal, answers recorded with the claim."""

from __future__ import annotations

import threading
import time

from provisioner.fleet.pgqueue import ClaimQueue, drain
from provisioner.fleet.pgstore import PgDatabase
from provisioner.sync.engine import accept
from provisioner.sync.events import Snapshot
from tests.fleet.workers import RULES, Portals


def snap(deal: str, status: str, at: int = 10) -> Snapshot:
    return Snapshot(1, "step_updated", at, "acc", deal, {"accord_status": status})


def fill(database: PgDatabase, portals: Portals, status: str, at: int = 10) -> None:
    for portal_id, deals in portals.deals.items():
        accept(database.portal(portal_id), [snap(deal, f"{status} {portal_id}", at) for deal in deals])


def test_a_worker_drains_every_portal_and_nothing_stays_pending(pg_url):
    portals = Portals(3, 150)
    with PgDatabase(pg_url) as database:
        fill(database, portals, "On Track")
        steps = drain(ClaimQueue(database, RULES, portals.client_for), deadline=time.monotonic() + 60)
        assert sorted({s.portal_id for s in steps}) == [101, 102, 103]
        assert all(s.requests == 1 for s in steps)  # one request a claim
        assert len(steps) == 6  # 150 deals: two batches of at most 100 per portal
        for portal_id in portals.deals:
            assert set(portals.values(portal_id).values()) == {f"On Track {portal_id}"}
            assert database.portal(portal_id).count_pending() == 0
        [(requests,)] = database.pool.connection().__enter__().execute(
            "SELECT sum(requests) FROM portal_queue").fetchall()
        assert requests == 6


def test_a_value_that_arrives_while_its_batch_is_in_flight_stays_pending(pg_url):
    portals = Portals(1, 3)
    [deal, *_] = portals.deals[101]
    with PgDatabase(pg_url) as database:
        fill(database, portals, "first")

        def newer_value(portal_id: int) -> None:  # another process's intake commits meanwhile
            portals.log.during_batch = None
            accept(database.portal(portal_id), [snap(deal, "second", at=20)])

        portals.log.during_batch = newer_value
        queue = ClaimQueue(database, RULES, portals.client_for)
        first = queue.step()
        assert first.sent.written == 3
        assert database.portal(101).pending_deals() == [deal]  # "first" confirmed, "second" still to send
        drain(queue, deadline=time.monotonic() + 30)
        assert portals.values(101)[deal] == "second"
        assert database.portal(101).count_pending() == 0


def test_two_workers_never_write_to_one_portal_at_once(pg_url):
    portals = Portals(2, 400)
    portals.log.during_batch = lambda portal_id: time.sleep(0.02)  # requests long enough to meet
    with PgDatabase(pg_url, max_size=8) as database:
        fill(database, portals, "On Track")
        done: list = []

        def work() -> None:
            done.extend(drain(ClaimQueue(database, RULES, portals.client_for), deadline=time.monotonic() + 60))

        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(90)
        assert len(done) == 8 and sum(s.sent.written for s in done) == 800
        assert portals.log.overlaps() == []
        spans = sorted((start, end) for _, start, end, path in portals.log.entries if path.endswith("update"))
        assert any(b[0] < a[1] for a, b in zip(spans, spans[1:], strict=False))  # two portals did overlap


def test_a_portal_waits_for_its_tokens(pg_url):
    portals = Portals(1, 300)
    with PgDatabase(pg_url) as database:
        database.portal(101, per_window=20)
        fill(database, portals, "On Track")
        queue = ClaimQueue(database, RULES, portals.client_for, batch=10)
        claimed = 0
        while queue.step() is not None:
            claimed += 1
        assert claimed == 1  # the bucket starts empty and holds one request: the next is not due yet
        assert 0 < queue.next_ready_in() <= 10 / 19 + 0.1
