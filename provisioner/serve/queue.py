"""The durable queue under ``serve`` and ``sync worker``: the one place that touches the sync store.

The queue is the sync store itself: a deal property is *pending* while its desired value differs
from the value HubSpot last confirmed (no second queue to keep in step). The service needs three
tables of its own beside the store's (their statements, per dialect, in ``serve/tables.py``):
- ``serve_seen``: dedup keys of deliveries (``webhook-id``), records (own id or hash) and HubSpot
  webhook events (``eventId``) with when they were first seen; expired after ``SEEN_TTL_S``
  (7 days, longer than any sender's retry schedule: Svix retries for about 3 days, HubSpot
  for 3 days), so the table stays bounded;
- ``guard_edits``: hand edits the guard saw, what it did (restored, reported, deleted);
- ``deals_gone``: deals HubSpot said were deleted; the worker no longer sends to them, and a new
  event for one is set aside as a dead letter (``deal_deleted``) instead of being accepted.

Every write of a commit (intake, guard) happens in one transaction (SQLite: ``synchronous=FULL``;
PostgreSQL: a synchronous commit), so a request answered after ``commit`` returned is durable.

The same logic runs on both stores: a SQLite ``SyncStore`` with ``SqliteTables``, or one portal's
``fleet.pgstore.PortalStore`` with ``PgTables`` (``fleet.pgserve`` opens those).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from provisioner.serve.tables import GUARD_LOG_COLUMNS, SqliteTables
from provisioner.sync.coalesce import coalesce
from provisioner.sync.engine import PushReport, accept_into, send_pending
from provisioner.sync.events import Invalid, Rules, Snapshot
from provisioner.sync.instant import format_instant
from provisioner.sync.letters import event_line
from provisioner.sync.store import NewDeadLetter, SyncStore

SEEN_TTL_S = 7 * 24 * 3600
_CHUNK = 500  # deals read per statement



def iso(seconds: float) -> str:
    """The store's time format (sorts as text, as ``confirmed_at`` does)."""
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class GuardEvent:
    """One HubSpot webhook event, already checked for shape."""

    key: str  # dedup key
    kind: str  # "change" or "deletion"
    deal_id: str
    occurred_ms: int
    property: str | None = None
    value: str | None = None
    change_source: str = ""
    source_id: str = ""
    portal_id: int | None = None  # HubSpot's portalId (a PostgreSQL store routes the event to it)


@dataclass
class Job:
    """What one request asks the commit to make durable."""

    delivery_key: str | None = None  # webhook-id: a whole redelivery is a duplicate
    records: list = field(default_factory=list)  # intake.Record
    guard: list[GuardEvent] = field(default_factory=list)
    # filled by the commit
    # per record: accepted|duplicate|invalid|ignored|deal_deleted
    results: list[str] = field(default_factory=list)
    guard_results: list[str] = field(default_factory=list)


@dataclass
class CommitOutcome:
    pending_deals: set[str] = field(default_factory=set)  # deals with a value HubSpot does not hold yet
    restored_deals: set[str] = field(default_factory=set)  # of those, deals the guard restores
    restores: int = 0
    reported: int = 0


@dataclass(frozen=True)
class GuardPolicy:
    app_id: str | None = None  # writes whose sourceId is our app are our own echoes
    restores_per_hour: int = 3


class Queue:
    """The queue over a sync store: a SQLite file's ``path``, or an open store with its ``tables``
    (PostgreSQL: ``fleet.pgserve``). One instance per thread."""

    def __init__(self, path, rules: Rules, *, clock=time.time, tables=None) -> None:
        self.store = SyncStore(path) if tables is None else path
        self.tables = SqliteTables(self.store) if tables is None else tables
        self.rules = rules
        self._clock = clock
        self._fields = {prop: accord_field for accord_field, prop in rules.mapping.items()}
        self._commits = 0

    def close(self) -> None:
        self.tables.close()
        self.store.close()

    # ---- intake and guard: one transaction for many requests --------------------------------------
    def commit(self, jobs: list[Job], policy: GuardPolicy = GuardPolicy()) -> CommitOutcome:
        """Make every job durable in one transaction; fills each job's per-record results."""
        now = self._clock()
        outcome = CommitOutcome()
        with self.store.transaction() as db:
            snapshots: list[Snapshot] = []
            letters: list[NewDeadLetter] = []
            keys = [job.delivery_key for job in jobs if job.delivery_key is not None]
            keys += [record.key for job in jobs for record in job.records]
            keys += [event.key for job in jobs for event in job.guard]
            taken = self.tables.known(db, keys)  # keys seen before, then also those of this commit
            gone = self.tables.gone(db, {r.parsed.deal_id for job in jobs for r in job.records if type(r.parsed) is Snapshot})
            fresh: list[str] = []
            for job in jobs:
                if job.delivery_key is not None:
                    if job.delivery_key in taken:
                        job.results = ["duplicate"] * len(job.records)
                        job.guard_results = ["duplicate"] * len(job.guard)
                        continue
                    taken.add(job.delivery_key)
                    fresh.append(job.delivery_key)
                for record in job.records:
                    parsed = record.parsed
                    if type(parsed) is Invalid:
                        letters.append(NewDeadLetter(
                            "input", parsed.reason, parsed.raw, parsed.accord_id, parsed.deal_id, parsed.occurred_at))
                        job.results.append("invalid")
                        continue
                    if record.key in taken:
                        job.results.append("duplicate")
                        continue
                    taken.add(record.key)
                    fresh.append(record.key)
                    if type(parsed) is Snapshot and parsed.deal_id in gone:
                        letters.append(self._gone_letter(parsed, gone[parsed.deal_id]))
                        job.results.append("deal_deleted")
                    elif type(parsed) is Snapshot:
                        snapshots.append(parsed)
                        job.results.append("accepted")
                    else:
                        job.results.append("ignored")
            if snapshots:
                outcome.pending_deals |= self._accept(db, snapshots)
            if letters:
                self.store.add_dead_letters(db, letters)
            for job in jobs:
                if not job.guard_results:
                    job.guard_results = [self._guard(db, event, policy, now, taken, fresh, outcome)
                                         for event in job.guard]
            self.tables.mark_seen(db, fresh, now)
            self._commits += 1
            if self._commits % 100 == 1:
                self.tables.prune_seen(db, now - SEEN_TTL_S)
        return outcome

    def _accept(self, db: sqlite3.Connection, snapshots: list[Snapshot]) -> set[str]:
        """Record the snapshots as ``sync push`` does (the ordering rule, per field); the deals now pending."""
        accept_into(db, coalesce(snapshots), (), self.store)
        return set(self.store.pending_deals(only=sorted({s.deal_id for s in snapshots}), db=db))

    def _gone_letter(self, snap: Snapshot, deleted_at: str | None) -> NewDeadLetter:
        """A value for a deal HubSpot deleted: set aside with its reason, never sent (retry can run it again)."""
        data = {self._fields.get(prop, prop): (value if value != "" else None) for prop, value in snap.values.items()}
        line = event_line(snap.event, format_instant(snap.occurred_at), snap.accord_id, snap.deal_id, data)
        when = f" at {deleted_at}" if deleted_at else ""
        return NewDeadLetter("hubspot", f"deal {snap.deal_id} was deleted in HubSpot (deal.deletion{when});"
                             " the value is not sent", line, snap.accord_id or None, snap.deal_id,
                             snap.occurred_at, tuple(sorted(snap.values)))

    def _guard(self, db: sqlite3.Connection, event: GuardEvent, policy: GuardPolicy, now: float,
               taken: set[str], fresh: list[str], outcome: CommitOutcome) -> str:
        """One HubSpot event: duplicate, ignored, echo, restored, reported or deleted."""
        if event.key in taken:
            return "duplicate"
        taken.add(event.key)
        fresh.append(event.key)
        occurred = iso(event.occurred_ms / 1000.0)
        if event.kind == "deletion":
            self.tables.mark_gone(db, event.deal_id, occurred, iso(now))
            self.store.park_deal(db, event.deal_id)  # no more sends to it
            self._log_edit(db, event, occurred, now, "deleted")
            return "deleted"
        if event.property not in self.rules.properties:
            return "ignored"
        if self.tables.is_gone(db, event.deal_id):
            return "ignored"
        value = event.value or ""
        register = self.store.register(db, event.deal_id, event.property)
        # What Accord wants is never a hand edit, even before the tool recorded HubSpot's answer.
        if (register is not None and value == register.value) or (policy.app_id and event.source_id == policy.app_id):
            return "echo"
        if register is None or register.confirmed is None:
            return "ignored"  # the tool never wrote this property of this deal: nothing to defend
        if value == register.confirmed:
            return "echo"
        if register.confirmed_at is not None and event.occurred_ms * 1000 < register.confirmed_at:
            return "stale"  # the tool wrote the property after this change: already overwritten
        restored = self.tables.restores_since(db, event.deal_id, event.property, now - 3600)
        if restored >= policy.restores_per_hour:
            self._log_edit(db, event, occurred, now, "reported")
            outcome.reported += 1
            return "reported"
        # HubSpot now holds the hand-written value: recording that makes the wanted value pending
        # again, and the worker writes it back through the same queue as every other value.
        self.store.record_confirmed(db, [(event.deal_id, event.property, value)], at=event.occurred_ms * 1000)
        self._log_edit(db, event, occurred, now, "restored")
        outcome.restores += 1
        outcome.pending_deals.add(event.deal_id)
        outcome.restored_deals.add(event.deal_id)
        return "restored"

    def _log_edit(self, db, event: GuardEvent, occurred: str, now: float, action: str) -> None:
        self.tables.log_edit(db, (event.deal_id, event.property, event.value, event.change_source, event.source_id,
                                  occurred, iso(now), action, now))

    # ---- the worker's side ------------------------------------------------------------------------
    def pending_deal_ids(self, limit: int = 1_000_000) -> list[str]:
        """Deals with a value HubSpot does not hold (from the store's pending index)."""
        return self.store.pending_deals(None, limit)

    def pending(self, deals: Iterable[str], limit: int = 100) -> list[tuple[str, dict[str, str]]]:
        """Up to ``limit`` of ``deals``, in that order, with the values HubSpot does not hold yet."""
        work: list[tuple[str, dict[str, str]]] = []
        deals = list(deals)
        for start in range(0, len(deals), _CHUNK):
            for deal, values in self.store.pending_values(deals[start:start + _CHUNK]):
                work.append((deal, {prop: pending.value for prop, pending in values.items()}))
                if len(work) >= limit:
                    return work
        return work

    def send(self, client, work: list[tuple[str, dict[str, str]]]) -> tuple[PushReport, set[str]]:
        """Send the pending values of these deals and record HubSpot's answer as ``sync push`` does.

        Raises what stops sending (daily limit, portal unreachable, a mapped property missing):
        nothing unconfirmed is recorded, so the values stay pending.
        """
        report = PushReport(deals_to_write=len(work))
        sent = send_pending(self.store, client, only=[deal for deal, _values in work], rules=self.rules)
        if sent.error is not None:
            raise sent.error
        report.add_sent(sent)
        return report, set(sent.written_deals)

    def depth(self) -> int:
        """Deal properties pending (for the metrics)."""
        return self.store.count_pending(values=True)

    def writable(self) -> bool:
        """Whether a write could start now (writes nothing)."""
        return self.tables.writable()


def guard_log(path: str) -> list[dict]:
    """The guard's record of hand edits of a SQLite store, oldest first (for ``sync guard-log``)."""
    with SyncStore(path) as store:  # a new file becomes a sync store first, as every command makes it
        tables = SqliteTables(store)
        try:
            return guard_log_rows(tables)
        finally:
            tables.close()


def guard_log_rows(tables) -> list[dict]:
    names = [name.strip() for name in GUARD_LOG_COLUMNS.split(",")]
    return [dict(zip(names, row, strict=True)) for row in tables.guard_edits()]

