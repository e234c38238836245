"""``push``: Accord snapshots onto deals, sending only what HubSpot does not already hold.

The steps, in order, each durable before the next starts:
1. accept: take the run's snapshots (coalesced while the input was read, one per accord and
   deal), drop those older than the store's watermark, record the new desired values,
   watermarks and dead letters of bad lines (one transaction);
2. diff: per deal, the desired values that differ from what HubSpot last confirmed
   (previous failures included: they are still pending);
3. send: 100 deals a request; after each answer, one transaction records what HubSpot
   confirmed and sets aside what it rejected.
A run killed anywhere re-sends on the next run only what was not recorded as confirmed, so it
converges on the state of an uninterrupted run, and nothing is recorded that HubSpot did not
confirm.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from provisioner.errors import ApiError, ConnectionFailed, ProvisionerError
from provisioner.hubspot.client import HubSpotClient
from provisioner.sync.events import ParsedInput, Rules, Snapshot, format_instant
from provisioner.sync.sender import FAILED, MISSING, WRITTEN, Outcome, send_updates
from provisioner.sync.store import Desired, NewDeadLetter, SyncStore, event_line


@dataclass(frozen=True)
class Problem:
    """A record that did not land, and why (for the per-record report)."""

    kind: str  # invalid | rejected | missing | failed
    reason: str
    deal_id: str | None = None
    accord_id: str | None = None
    line_no: int | None = None


@dataclass
class PushReport:
    read: int = 0
    ignored: int = 0
    invalid: int = 0
    stale: int = 0  # older than what the store already holds for that accord and deal
    coalesced: int = 0  # merged into a newer event of the same run
    unchanged: int = 0  # HubSpot already holds every value of the snapshot
    deals_to_write: int = 0
    written: int = 0
    rejected: int = 0
    missing: int = 0
    failed: int = 0
    requests: int = 0
    rate_limited: int = 0
    retries: int = 0
    seconds: float = 0.0
    dry_run: bool = False
    aborted: str | None = None
    problems: list[Problem] = field(default_factory=list)
    # deal id -> property -> (confirmed before, value to send); filled on dry runs
    planned: dict[str, dict[str, tuple[str | None, str]]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.invalid or self.rejected or self.missing or self.failed or self.aborted)

    def as_dict(self) -> dict:
        return {
            "events_read": self.read,
            "ignored": self.ignored,
            "invalid": self.invalid,
            "stale": self.stale,
            "coalesced": self.coalesced,
            "unchanged": self.unchanged,
            "deals_to_write": self.deals_to_write,
            "deals_written": self.written,
            "rejected": self.rejected,
            "missing": self.missing,
            "failed": self.failed,
            "requests": self.requests,
            "rate_limited": self.rate_limited,
            "retries": self.retries,
            "seconds": round(self.seconds, 3),
            "dry_run": self.dry_run,
            "aborted": self.aborted,
            "problems": [
                {k: v for k, v in vars(p).items() if v is not None} for p in self.problems
            ],
            **({"planned": {
                deal: {prop: {"before": before, "after": after} for prop, (before, after) in changes.items()}
                for deal, changes in self.planned.items()
            }} if self.dry_run else {}),
        }


def _deal_order(deal_id: str) -> tuple[int, str]:
    return (len(deal_id), deal_id)


def accept(
    snapshots: list[Snapshot],
    desired: dict[str, dict[str, Desired]],
    watermarks: dict[tuple[str, str], str],
) -> tuple[list[Snapshot], int, dict[tuple[str, str], Desired], dict[tuple[str, str], str]]:
    """Apply coalesced snapshots to ``desired`` in place, oldest first.

    A snapshot older than its (accord, deal) watermark is stale. When two Accords feed one deal,
    each property keeps the value of the newest snapshot that carried it (last writer wins by
    ``occurred_at``). Returns (accepted snapshots, stale count, changed desired rows, new watermarks).
    """
    accepted, stale = [], 0
    changed: dict[tuple[str, str], Desired] = {}
    marks: dict[tuple[str, str], str] = {}
    for snap in sorted(snapshots, key=lambda s: (s.occurred_at, s.line_no)):
        # The store keeps times as canonical UTC text (zero-padded years: it sorts as the instants do).
        at, accord_id, deal_id, event = format_instant(snap.occurred_at), snap.accord_id, snap.deal_id, snap.event
        key = (accord_id, deal_id)
        mark = watermarks.get(key)
        if mark is not None and at < mark:
            stale += 1
            continue
        watermarks[key] = marks[key] = at
        values = desired.get(deal_id)
        if values is None:
            values = desired[deal_id] = {}
        for prop, value in snap.values.items():
            current = values.get(prop)
            if current is not None and (
                current.occurred_at > at
                or (current.value == value and current.occurred_at == at and current.accord_id == accord_id
                    and current.event == event)
            ):
                continue
            values[prop] = changed[(deal_id, prop)] = Desired(value, at, accord_id, event)
        accepted.append(snap)
    return accepted, stale, changed, marks


def pending_work(
    desired: Mapping[str, Mapping[str, Desired]],
    confirmed: Mapping[str, Mapping[str, str]],
    full_resync: bool = False,
) -> list[tuple[str, dict[str, str]]]:
    """Per deal, the values HubSpot has not confirmed (all of them with ``full_resync``)."""
    work = []
    for deal_id in sorted(desired, key=_deal_order):
        held = confirmed.get(deal_id, {})
        changes = {
            prop: d.value for prop, d in sorted(desired[deal_id].items()) if full_resync or held.get(prop) != d.value
        }
        if changes:
            work.append((deal_id, changes))
    return work


def push(
    client: HubSpotClient | None,
    store: SyncStore,
    parsed: ParsedInput,
    rules: Rules,
    *,
    dry_run: bool = False,
    full_resync: bool = False,
    retried_dead_letters: tuple[int, ...] = (),
    progress: Callable[[int, int], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> PushReport:
    """Push a run's parsed input; ``progress(done, total)`` is called after each answer.

    With ``dry_run`` nothing is written anywhere and ``client`` may be None.
    """
    started = clock()
    stats = client.stats if client is not None else None
    stats_before = (stats.requests, stats.rate_limited, stats.retries) if stats else (0, 0, 0)
    report = PushReport(read=parsed.read, ignored=len(parsed.ignored), invalid=len(parsed.invalid), dry_run=dry_run)
    for bad in parsed.invalid:
        report.problems.append(Problem("invalid", bad.reason, bad.deal_id, bad.accord_id, bad.line_no))

    desired = store.load_desired()
    confirmed = store.load_confirmed()
    watermarks = store.load_watermarks()
    report.coalesced = parsed.valid - len(parsed.merged)
    accepted, report.stale, changed, marks = accept(list(parsed.merged.values()), desired, watermarks)
    for snap in accepted:
        held = confirmed.get(snap.deal_id, {})
        if not full_resync and all(held.get(prop) == value for prop, value in snap.values.items()):
            report.unchanged += 1
    work = pending_work(desired, confirmed, full_resync)
    report.deals_to_write = len(work)

    if dry_run:
        for deal_id, changes in work:
            held = confirmed.get(deal_id, {})
            report.planned[deal_id] = {prop: (held.get(prop), value) for prop, value in changes.items()}
        report.seconds = clock() - started
        return report

    with store.transaction() as db:
        store.put_desired(db, ((deal, prop, d) for (deal, prop), d in changed.items()))
        store.put_watermarks(db, ((accord, deal, at) for (accord, deal), at in marks.items()))
        store.add_dead_letters(
            db,
            (
                NewDeadLetter(
                    "input", bad.reason, bad.raw, bad.accord_id, bad.deal_id,
                    None if bad.occurred_at is None else format_instant(bad.occurred_at),
                )
                for bad in parsed.invalid
            ),
        )
        store.delete_dead_letters(db, retried_dead_letters)

    fields = {prop: accord_field for accord_field, prop in rules.mapping.items()}
    done = 0
    try:
        for outcomes in send_updates(client, work):
            _record(store, outcomes, desired, confirmed, fields, report)
            done += len(outcomes)
            if progress:
                progress(done, len(work))
    except (ApiError, ConnectionFailed, ProvisionerError) as exc:
        report.aborted = str(exc) + (f" (hint: {exc.hint})" if exc.hint else "")
        report.failed += len(work) - done
    report.requests = stats.requests - stats_before[0]
    report.rate_limited = stats.rate_limited - stats_before[1]
    report.retries = stats.retries - stats_before[2]
    report.seconds = clock() - started
    return report


def _record(
    store: SyncStore,
    outcomes: list[Outcome],
    desired: dict[str, dict[str, Desired]],
    confirmed: dict[str, dict[str, str]],
    fields: Mapping[str, str],
    report: PushReport,
) -> None:
    """Make one answer durable: confirmed values, dead letters, reverted desired values."""
    confirmed_rows, letters, reverts, deletes = [], [], [], []
    for outcome in outcomes:
        deal = outcome.deal_id
        if outcome.status == WRITTEN:
            report.written += 1
            held = confirmed.setdefault(deal, {})
            for prop, value in outcome.values.items():
                confirmed_rows.append((deal, prop, value))
                held[prop] = value
            continue
        if outcome.status == FAILED:
            report.failed += 1
            report.problems.append(Problem("failed", outcome.reason, deal))
            continue
        # Rejected or missing: set aside, and stop wanting the values, so later runs don't resend them.
        if outcome.status == MISSING:
            report.missing += 1
        else:
            report.rejected += 1
        report.problems.append(Problem(outcome.status, outcome.reason, deal))
        rows = {prop: desired[deal][prop] for prop in outcome.values if prop in desired.get(deal, {})}
        newest = max(rows.values(), key=lambda d: d.occurred_at) if rows else Desired("", "", "", "")
        data = {fields.get(prop, prop): (value if value != "" else None) for prop, value in outcome.values.items()}
        letters.append(
            NewDeadLetter(
                "hubspot",
                outcome.reason,
                event_line(newest.event, newest.occurred_at, newest.accord_id, deal, data),
                newest.accord_id or None,
                deal,
                newest.occurred_at or None,
            )
        )
        held = confirmed.get(deal, {})
        for prop, row in rows.items():
            if prop in held:
                reverted = Desired(held[prop], row.occurred_at, row.accord_id, row.event)
                desired[deal][prop] = reverted
                reverts.append((deal, prop, reverted))
            else:
                del desired[deal][prop]
                deletes.append((deal, prop))
    with store.transaction() as db:
        store.put_confirmed(db, confirmed_rows)
        store.add_dead_letters(db, letters)
        store.put_desired(db, reverts)
        store.delete_desired(db, deletes)
