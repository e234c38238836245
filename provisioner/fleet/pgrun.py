"""The sync's commands on PostgreSQL: ``sync push`` over many portals, and ``sync worker``'s loop.

``push``: read the input once in chunks; each chunk's snapshots are coalesced per portal (a
record's ``portal_id``, else the default portal) and each portal's winners accepted in its own
transaction (rows in key order); records that fail the checks become the default portal's dead
letters. Then it sends by claiming, like any worker, until its portals are drained: a portal
another worker holds is waited for, never written by two at once. ``--dry-run`` runs the same
accept inside one transaction that is rolled back.

``work``: claim and send until stopped; when nothing can be claimed it polls (every
``idle_s``, at most ``max_delay``), no NOTIFY.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from functools import partial

from provisioner.fleet.pgqueue import ClaimQueue, Step, drain
from provisioner.fleet.pgstore import PgDatabase, PortalStore
from provisioner.sync.coalesce import Chunk, Coalescer, read_chunks
from provisioner.sync.engine import accept_into, collector_paused, release
from provisioner.sync.events import Rules, Snapshot
from provisioner.sync.report import PushReport

log = logging.getLogger("provisioner.fleet")
PUSH_DEADLINE_S = 24 * 3600.0  # a push sends until drained; this only bounds a portal that never answers
# Events per accept transaction on PostgreSQL: a worker recording an answer waits for the row locks
# an open accept holds, and a long transaction holds back vacuum, so commits come often (SQLite's
# single writer prefers the larger CHUNK_EVENTS).
PG_CHUNK_EVENTS = 20_000


class PortalCoalescer(Coalescer):
    """A chunk's coalescer that keeps one ``Coalescer`` per portal (same counts, same rule)."""

    __slots__ = ("default_portal", "portals")

    def __init__(self, default_portal: int) -> None:
        super().__init__()
        self.default_portal = default_portal
        self.portals: dict[int, Coalescer] = {}

    def add(self, snap: Snapshot) -> None:
        self.added += 1
        portal = snap.portal_id or self.default_portal
        merged = self.portals.get(portal)
        if merged is None:
            merged = self.portals[portal] = Coalescer()
        merged.add(snap)

    def __len__(self) -> int:
        return sum(len(merged) for merged in self.portals.values())


def accept_lines(database: PgDatabase, lines: Iterable[str], rules: Rules, default_portal: int, report: PushReport,
                 *, full_resync: bool = False, chunk_events: int = PG_CHUNK_EVENTS, conn=None) -> set[int]:
    """Accept the input into each record's portal; the portals it touched. ``conn``: a connection whose
    transaction the caller holds (a dry run), else one transaction per portal and chunk."""
    touched: set[int] = set()

    def view(portal: int) -> PortalStore:
        store = database.portal(portal)
        return store if conn is None else store.bound(conn)

    def accept_chunk(chunk: Chunk) -> None:
        merged: PortalCoalescer = chunk.merged  # type: ignore[assignment]
        parts = dict(merged.portals)
        parts.setdefault(default_portal, Coalescer())  # the input's dead letters go to the default portal
        for portal, part in sorted(parts.items()):
            store = view(portal)
            invalid = chunk.invalid if portal == default_portal else []
            with store.transaction() as db:
                accepted = accept_into(db, part, invalid, store)
            own = Chunk(part, invalid, chunk.ignored if portal == default_portal else 0,
                        chunk.read if portal == default_portal else 0)
            report.add_chunk(own, accepted)
            if len(part):
                touched.add(portal)

    with collector_paused():
        for chunk in read_chunks(lines, rules, chunk_events, merger=partial(PortalCoalescer, default_portal)):
            accept_chunk(chunk)  # its names for the chunk's parts end here, so ``release`` frees them
            release(chunk, chunk_events)
    if full_resync:
        for portal in sorted(touched | {default_portal}):
            store = view(portal)
            with store.transaction() as db:
                store.forget_confirmed(db)
            touched.add(portal)
    return touched


def push(database: PgDatabase, lines: Iterable[str], rules: Rules, default_portal: int,
         client_for: Callable[[int], object] | None, *, dry_run: bool = False, full_resync: bool = False,
         chunk_events: int = PG_CHUNK_EVENTS, progress: Callable[[int, int], None] | None = None,
         clock: Callable[[], float] = time.monotonic) -> PushReport:
    """``sync push`` on PostgreSQL: accept, then send by claiming until the touched portals are drained."""
    started = clock()
    report = PushReport(dry_run=dry_run)
    if dry_run:
        with database.errors(), database.pool.connection() as conn, conn.transaction(force_rollback=True):
            touched = accept_lines(database, lines, rules, default_portal, report, full_resync=full_resync,
                                   chunk_events=chunk_events, conn=conn)
            several = len(touched) > 1
            for portal in sorted(touched):
                store = database.portal(portal).bound(conn)
                after = None
                while deals := store.pending_deals(after, 1000):
                    for deal, values in store.pending_values(deals):
                        key = f"{portal}/{deal}" if several else deal
                        report.planned[key] = {p: (v.confirmed, v.value) for p, v in values.items()}
                    after = deals[-1]
        report.deals_to_write = len(report.planned)
        report.seconds = clock() - started
        return report
    touched = accept_lines(database, lines, rules, default_portal, report, full_resync=full_resync,
                           chunk_events=chunk_events)
    report.deals_to_write = sum(database.portal(p).count_pending() for p in touched)
    send_claimed(database, sorted(touched) or [default_portal], rules, client_for, report, progress)
    report.seconds = clock() - started
    return report


def send_claimed(database: PgDatabase, portals: list[int], rules: Rules, client_for, report: PushReport,
                 progress: Callable[[int, int], None] | None = None) -> None:
    """Send what is pending for ``portals`` by claiming them as a worker does (a paused one is tried
    again at once: a command run by hand), until drained; into ``report``."""
    queue = ClaimQueue(database, rules, client_for, portals=portals)
    queue.resume_paused()
    done = [0]

    def count(step: Step) -> None:
        if step.sent is not None:
            report.add_sent(step.sent)
            done[0] += step.sent.deals
            if progress:
                progress(min(done[0], report.deals_to_write), report.deals_to_write)

    drain(queue, deadline=time.monotonic() + PUSH_DEADLINE_S, on_step=count)
    for client in queue.clients():
        report.requests += client.stats.requests
        report.rate_limited += client.stats.rate_limited
        report.retries += client.stats.retries
    left = sum(database.portal(p).count_pending() for p in portals)
    if left and not report.aborted:
        report.aborted = (f"{left} deal(s) still pending: a portal is paused (daily limit, refused token or "
                          "failures); `provisioner sync worker` sends them when it can")


def work(queue: ClaimQueue, stop: threading.Event, *, max_delay: float = 1.0, idle_s: float = 0.02) -> int:
    """Claim and send until ``stop`` is set (the current step finishes first); how many steps were taken.

    Nothing claimable: when a portal's tokens come back in ``wait`` seconds, sleep just that long
    (a portal at its limit is sent to again as soon as it may be); when one is ready but another
    worker holds it, ``idle_s``; when nothing is pending at all, back off from ``idle_s`` to
    ``max_delay`` (new values are found within ``max_delay``).
    """
    steps = 0
    idle = idle_s
    longest = max(max_delay, idle_s)
    while not stop.is_set():
        try:
            step = queue.step()
        except Exception as exc:  # noqa: BLE001 - the database restarted or is unreachable: wait, then go on
            log.error("The store cannot be reached; trying again in %.0f s: %s", max(1.0, max_delay), exc)
            stop.wait(max(1.0, max_delay))
            continue
        if step is not None:
            steps += 1
            idle = idle_s
            continue
        wait = queue.next_ready_in()
        if wait is None:  # nothing pending anywhere
            stop.wait(idle)
            idle = min(idle * 2, longest)
        else:
            idle = idle_s
            stop.wait(min(max(wait, idle_s), longest))
    return steps
