"""The queue's commit and guard rules on both stores: dedup keys, the guard's tables, deleted deals.

The same tests run on SQLite (``SqliteTables``) and on one portal of PostgreSQL (``PgTables``).
"""

from __future__ import annotations

import time

import pytest

from provisioner.serve.intake import read_body
from provisioner.serve.queue import SEEN_TTL_S, GuardEvent, GuardPolicy, Job, Queue, guard_log_rows
from provisioner.serve.tables import PgTables
from provisioner.sync.events import Rules
from tests.sync.conftest import event, make_config

RULES = Rules.from_config(make_config())


class Queues:
    """New queues over new, empty stores of the backend under test."""

    def __init__(self, stores, backend: str) -> None:
        self.stores = stores
        self.backend = backend
        self.opened: list[Queue] = []

    def new(self, **options) -> Queue:
        store = self.stores.new()
        queue = (Queue(str(store.path), RULES, **options) if self.backend == "sqlite"
                 else Queue(store, RULES, tables=PgTables(store), **options))
        self.opened.append(queue)
        return queue

    def close(self) -> None:
        for queue in self.opened:
            if self.backend == "sqlite":
                queue.close()


@pytest.fixture
def queues(stores, backend):
    made = Queues(stores, backend)
    yield made
    made.close()


@pytest.fixture
def queue(queues):
    return queues.new()


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


def test_seen_keys_expire_after_the_ttl(queues):
    clock = [1_000_000.0]
    queue = queues.new(clock=lambda: clock[0])
    queue.commit([_job(event("101"), delivery="w:a")])
    clock[0] += SEEN_TTL_S + 1
    for _ in range(100):  # expiry runs every 100 commits
        queue.commit([])
    again = _job(event("101"), delivery="w:a")
    queue.commit([again])
    assert again.results == ["accepted"]


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
    assert [e["action"] for e in guard_log_rows(queue.tables)] == ["restored", "restored", "reported", "deleted"]
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
