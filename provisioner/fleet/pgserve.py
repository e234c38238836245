"""``serve`` on PostgreSQL: intake commits for many portals at once, its worker is the claim loop.

Intake: each request's records go to their portal (a record's ``portal_id``, else the one in the
path ``/v1/portals/{id}/events``, else the default portal); records that fail the checks become
the default portal's dead letters. A commit groups many requests in ONE transaction over every
portal they touch (portals in order, rows in key order inside each: no deadlock between two
``serve`` processes), each portal's part run by the same ``serve.queue.Queue`` logic as on SQLite.
The guard's events (HubSpot's webhooks) go to the portal of their ``portalId``.

The worker (``ClaimWorker``) is ``pgrun.work`` on a thread, with the few attributes ``serve``'s
handlers read (queue depth, whether the portal answered, the daily limit). Intake never wakes it
(no NOTIFY on the hot path): it polls, at most ``max_delay`` apart when idle.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from provisioner.errors import ConnectionFailed, DailyLimitError
from provisioner.fleet.pgqueue import ClaimQueue
from provisioner.fleet.pgrun import work
from provisioner.fleet.pgstore import PgDatabase, PortalStore
from provisioner.serve.queue import CommitOutcome, GuardPolicy, Job, Queue
from provisioner.serve.tables import PgTables
from provisioner.sync.events import Rules

DEPTH_EVERY_S = 5.0


class PortalQueues:
    """``Queue.commit`` over many portals of one database, in one transaction."""

    def __init__(self, database: PgDatabase, rules: Rules, default_portal: int) -> None:
        self.database = database
        self.rules = rules
        self.default_portal = default_portal
        self._known: set[int] = set()

    def _queue(self, portal: int, conn) -> Queue:
        if portal not in self._known:
            self.database.portal(portal)  # its portal_queue row, so workers claim it
            self._known.add(portal)
        store = PortalStore(self.database, portal, conn)
        return Queue(store, self.rules, tables=PgTables(store))

    def commit(self, jobs: list[Job], policy: GuardPolicy | None = None) -> CommitOutcome:
        policy = policy or GuardPolicy()
        parts: dict[int, list[tuple[Job, Job, list[int], list[int]]]] = {}
        for job in jobs:
            split: dict[int, tuple[Job, list[int], list[int]]] = {}
            for index, record in enumerate(job.records):
                portal = getattr(record.parsed, "portal_id", None) or self.default_portal
                part = split.setdefault(portal, (Job(job.delivery_key), [], []))
                part[0].records.append(record)
                part[1].append(index)
            for index, event in enumerate(job.guard):
                part = split.setdefault(event.portal_id or self.default_portal, (Job(job.delivery_key), [], []))
                part[0].guard.append(event)
                part[2].append(index)
            if not split:
                split[self.default_portal] = (Job(job.delivery_key), [], [])
            for portal, (part, indexes, guard_indexes) in split.items():
                parts.setdefault(portal, []).append((job, part, indexes, guard_indexes))
        outcome = CommitOutcome()
        with self.database.errors(), self.database.pool.connection() as conn, conn.transaction():
            for portal in sorted(parts):
                queue = self._queue(portal, conn)
                got = queue.commit([part for _job, part, _indexes, _guard in parts[portal]], policy)
                outcome.restores += got.restores
                outcome.reported += got.reported
        for portal_parts in parts.values():
            for job, part, indexes, guard_indexes in portal_parts:
                if len(job.results) != len(job.records):
                    job.results = [""] * len(job.records)
                if len(job.guard_results) != len(job.guard):
                    job.guard_results = [""] * len(job.guard)
                for index, result in zip(indexes, part.results, strict=True):
                    job.results[index] = result
                for index, result in zip(guard_indexes, part.guard_results, strict=True):
                    job.guard_results[index] = result
        return outcome

    def writable(self) -> bool:
        try:
            with self.database.pool.connection(timeout=2.0) as conn:
                conn.execute("SELECT 1")
            return True
        except Exception:  # noqa: BLE001 - any failure means: not ready
            return False

    def close(self) -> None:
        """The pool belongs to the database."""


class ClaimWorker:
    """The claim loop on a thread, with what ``serve`` reads of its worker."""

    def __init__(self, database: PgDatabase, rules: Rules, client_for: Callable[[int], object], *,
                 max_delay: float, sends: bool = True) -> None:
        self.sends = sends  # False: intake only (`serve --no-worker`); `sync worker` processes send
        self.queue = ClaimQueue(database, rules, client_for)
        self.database = database
        self.max_delay = max_delay
        self._stop = threading.Event()
        self._depth = (0, 0.0)  # (pending deals, when counted)
        self.has_lock = True  # nothing to wait for: claims serialise the portals
        self.thread = threading.Thread(target=self._run, name="claim-worker", daemon=True)

    @property
    def portal_reachable(self) -> bool | None:
        """Whether the last portal sent to answered (None: nothing sent yet)."""
        last = self.queue.last_step
        if last is None or last.sent is None:
            return None
        return not isinstance(last.sent.error, ConnectionFailed)

    @property
    def daily_limited(self) -> bool:
        last = self.queue.last_step
        return last is not None and last.sent is not None and isinstance(last.sent.error, DailyLimitError)

    def _run(self) -> None:
        if self.sends:
            work(self.queue, self._stop, max_delay=self.max_delay)

    def notify(self, deals, *, urgent: bool = False) -> None:
        """Intake never wakes the worker (it polls): nothing to do."""

    @property
    def pending_deals(self) -> int:
        """Deals pending over every portal (counted at most every ``DEPTH_EVERY_S``)."""
        count, at = self._depth
        if time.monotonic() - at > DEPTH_EVERY_S:
            try:
                with self.database.pool.connection(timeout=2.0) as conn:
                    count = conn.execute("SELECT count(DISTINCT (portal_id, deal_id)) FROM registers"
                                         " WHERE NOT parked AND confirmed IS DISTINCT FROM value").fetchone()[0]
            except Exception:  # noqa: BLE001 - the count is for the 429 bound only: keep the last one
                pass
            self._depth = (count, time.monotonic())
        return count

    def drain(self, deadline: float) -> None:
        """Stop after the current step: what is pending stays for the other workers (or the next start)."""
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()


class FleetParts:
    """What ``serve.service.run_service`` uses on PostgreSQL in place of the SQLite queue and worker."""

    def __init__(self, database: PgDatabase, rules: Rules, default_portal: int, client_for, *, max_delay: float,
                 sends: bool = True) -> None:
        self.database = database
        self.default_portal = default_portal
        self.rules = rules
        self.worker = ClaimWorker(database, rules, client_for, max_delay=max_delay, sends=sends)

    def open_queue(self) -> PortalQueues:
        return PortalQueues(self.database, self.rules, self.default_portal)
