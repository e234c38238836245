"""The value sync's two steps, and ``push`` built from them.

- ``accept(store, snapshots)``: apply the ordering rule (``coalesce``) to the store in one
  transaction, durable on return. The registers that end up differing from what HubSpot
  confirmed are the queue: nothing else records work to do.
- ``send_pending(store, client)``: send the pending values of up to ``max_deals`` deals (in key
  order, found through the store's partial index), one transaction per HubSpot answer: what it
  confirmed, what it refused (parked, and a dead letter).
- ``push``: read the input in chunks, accept each, then send everything pending.

A run killed anywhere re-sends on the next run only what was not recorded as confirmed, so it
converges on the state of an uninterrupted run, and nothing is recorded that HubSpot did not
confirm. Memory follows the chunk and the batch, never the store.
"""

from __future__ import annotations

import gc
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from provisioner.errors import ApiError, ConnectionFailed, ProvisionerError
from provisioner.hubspot.client import HubSpotClient
from provisioner.sync.coalesce import CHUNK_EVENTS, Chunk, Coalescer, coalesce, read_chunks
from provisioner.sync.events import Invalid, Rules, Snapshot
from provisioner.sync.letters import letters_for
from provisioner.sync.report import MAX_PROBLEMS, Problem, PushReport
from provisioner.sync.sender import FAILED, MISSING, WRITTEN, Outcome, send_updates
from provisioner.sync.store import NewDeadLetter, SyncStore

__all__ = ["AcceptResult", "SendResult", "PushReport", "Problem", "accept", "send_pending", "push"]


@dataclass
class AcceptResult:
    snapshots: int = 0  # valid snapshots taken
    values: int = 0  # (deal, property) writes after coalescing the batch
    superseded: int = 0  # values that lost to a newer value of the same batch
    accepted: int = 0  # registers changed: newer than what the store held
    stale: int = 0  # values carrying nothing newer than the store held
    dead_letters: int = 0  # invalid records set aside


@dataclass
class SendResult:
    deals: int = 0  # deals with pending values taken up
    written: int = 0
    rejected: int = 0
    missing: int = 0
    failed: int = 0
    requests: int = 0
    problems: list[Problem] = field(default_factory=list)
    last_deal: str | None = None  # the cursor: pass as ``after`` to continue in key order
    written_deals: list[str] = field(default_factory=list)
    aborted: str | None = None  # why the step stopped early (the error's line and hint)
    error: ProvisionerError | None = None


def _input_letters(invalid: Iterable[Invalid]) -> list[NewDeadLetter]:
    return [NewDeadLetter("input", bad.reason, bad.raw, bad.accord_id, bad.deal_id, bad.occurred_at)
            for bad in invalid]


def accept_into(db: sqlite3.Connection, merged: Coalescer, invalid: Sequence[Invalid] = (),
                store=SyncStore) -> AcceptResult:
    """``accept`` inside a transaction the caller holds (``store``: the store, or its class, that opened it)."""
    values = len(merged)
    changed = store.accept_coalesced(db, merged)
    store.add_dead_letters(db, _input_letters(invalid))
    return AcceptResult(merged.added, values, merged.superseded, changed, values - changed, len(invalid))


def accept(store: SyncStore, snapshots: Iterable[Snapshot], invalid: Sequence[Invalid] = ()) -> AcceptResult:
    """Take checked snapshots (and set aside invalid records) in one transaction, durable on return."""
    merged = coalesce(snapshots)
    with store.transaction() as db:
        return accept_into(db, merged, invalid, store)


def send_pending(
    store: SyncStore,
    client: HubSpotClient,
    *,
    max_deals: int = 100,
    after: str | None = None,
    only: Sequence[str] | None = None,
    rules: Rules | None = None,
    progress: Callable[[int], None] | None = None,
) -> SendResult:
    """Send the pending values of up to ``max_deals`` deals after ``after`` (or of the ``only`` deals).

    Each HubSpot answer is recorded in its own transaction before the next request. What makes
    going on pointless (daily limit, unreachable portal, a missing property) ends the step with
    ``aborted`` set; what was recorded before stays. ``progress(deals)`` follows each answer.
    """
    result = SendResult()
    deals = store.pending_deals(only=only) if only is not None else store.pending_deals(after, max_deals)
    if not deals:
        return result
    work = store.pending_values(deals)
    result.deals = len(work)
    result.last_deal = deals[-1]
    stamps = {deal: values for deal, values in work}
    fields = {prop: accord_field for accord_field, prop in (rules.mapping.items() if rules else ())}
    stats = getattr(client, "stats", None)
    before = stats.requests if stats is not None else 0
    done = 0
    try:
        sent_at = time.time_ns() // 1000  # no later than the next request leaves
        for outcomes in send_updates(client, [(deal, {p: v.value for p, v in values.items()})
                                              for deal, values in work]):
            _record(store, outcomes, stamps, fields, result, sent_at)
            sent_at = time.time_ns() // 1000
            done += len(outcomes)
            if progress:
                progress(len(outcomes))
    except (ApiError, ConnectionFailed, ProvisionerError) as exc:
        result.aborted = str(exc) + (f" (hint: {exc.hint})" if exc.hint else "")
        result.error = exc
        result.failed += len(work) - done
    result.requests = (stats.requests - before) if stats is not None else 0
    return result


def _note(problems: list[Problem], problem: Problem) -> None:
    if len(problems) < MAX_PROBLEMS:
        problems.append(problem)


def _record(store: SyncStore, outcomes: list[Outcome], stamps: Mapping, fields: Mapping[str, str],
            result: SendResult, sent_at: int) -> None:
    """Make one answer durable: confirmed values, parked values and their dead letters."""
    confirmed, parked, letters, written = [], [], [], []
    for outcome in outcomes:
        deal = outcome.deal_id
        if outcome.status == WRITTEN:
            result.written += 1
            written.append(deal)
            result.written_deals.append(deal)
            confirmed.extend((deal, prop, value) for prop, value in outcome.values.items())
            continue
        if outcome.status == FAILED:
            result.failed += 1
            _note(result.problems, Problem("failed", outcome.reason, deal))
            continue
        # Rejected, or the deal is missing: stop sending these values until a newer write or a retry.
        if outcome.status == MISSING:
            result.missing += 1
        else:
            result.rejected += 1
        _note(result.problems, Problem(outcome.status, outcome.reason, deal))
        parked.extend((deal, prop, value) for prop, value in outcome.values.items())
        held = stamps.get(deal, {})
        letters.extend(letters_for(deal, {p: held[p] for p in outcome.values if p in held}, fields, outcome.reason))
    with store.transaction(durable=False) as db:
        store.record_confirmed(db, confirmed, at=sent_at)
        store.park(db, parked)
        store.add_dead_letters(db, letters)
        store.resolve_delivered(db, written)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Reading and accepting make millions of small acyclic objects (tuples, strings, dicts): the
    cyclic collector's passes over them cost about a sixth of the CPU and free nothing, so it runs
    once per chunk instead (``release``), which keeps memory bounded by the chunk even for input
    crafted to leave cycles behind. Sending pauses it the same way, with a pass per page of deals
    (about a sixth of the sending step's CPU)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def release(chunk: Chunk, chunk_events: int) -> None:
    """Let go of an accepted chunk's contents, then, after a full chunk, one collection while the
    collector is paused (see ``collector_paused``). The contents go first: freed by their counts,
    they leave the collector only what is still alive or in a cycle to look at (a pass over a
    held chunk of 400,000 events took 0.7 s and freed nothing)."""
    full = chunk.read >= chunk_events
    chunk.merged, chunk.invalid = Coalescer(), []
    if full and not gc.isenabled():
        gc.collect(0)  # what is left of the chunk is all still young: the collector was paused


def push(
    client: HubSpotClient | None,
    store: SyncStore,
    lines: Iterable[str],
    rules: Rules,
    *,
    dry_run: bool = False,
    full_resync: bool = False,
    progress: Callable[[int, int], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    chunk_events: int = CHUNK_EVENTS,
) -> PushReport:
    """Accept the input (in chunks), then send every pending value; ``progress(done, total)`` per answer.

    With ``dry_run`` the same steps run inside a transaction that is rolled back: the report says
    what would be sent, nothing is written anywhere, and ``client`` may be None.
    """
    started = clock()
    report = PushReport(dry_run=dry_run)
    if dry_run:
        with store.trial() as db:
            with collector_paused():
                for chunk in read_chunks(lines, rules, chunk_events):
                    report.add_chunk(chunk, accept_into(db, chunk.merged, chunk.invalid, store))
                    release(chunk, chunk_events)
            if full_resync:
                store.forget_confirmed(db)
            after = None
            while deals := store.pending_deals(after, 1000, db=db):
                for deal, values in store.pending_values(deals, db=db):
                    report.planned[deal] = {p: (v.confirmed, v.value) for p, v in values.items()}
                after = deals[-1]
            report.deals_to_write = len(report.planned)
        report.seconds = clock() - started
        return report
    accept_input(store, lines, rules, report, full_resync=full_resync, chunk_events=chunk_events)
    send_all(client, store, rules, report, progress)
    report.seconds = clock() - started
    return report


def accept_input(store: SyncStore, lines: Iterable[str], rules: Rules, report: PushReport, *,
                 full_resync: bool = False, chunk_events: int = CHUNK_EVENTS) -> None:
    """The accept step over a whole input, into ``report``: each chunk durable when its transaction commits."""
    with collector_paused():
        for chunk in read_chunks(lines, rules, chunk_events):
            with store.transaction() as db:
                report.add_chunk(chunk, accept_into(db, chunk.merged, chunk.invalid, store))
            release(chunk, chunk_events)
    if full_resync:
        with store.transaction() as db:
            store.forget_confirmed(db)


def send_all(client: HubSpotClient, store: SyncStore, rules: Rules, report: PushReport,
             progress: Callable[[int, int], None] | None = None, only: Sequence[str] | None = None) -> None:
    """Send every pending value once, in key order, into ``report`` (stops at an abort)."""
    stats = client.stats
    before = (stats.requests, stats.rate_limited, stats.retries)
    report.deals_to_write += len(only) if only is not None else store.count_pending()
    done = [0]

    def step(n: int) -> None:
        done[0] += n
        if progress:
            progress(done[0], report.deals_to_write)

    after = None
    with collector_paused():  # as while accepting; the answers' parsing and records make no cycles either
        while True:
            if only is not None:
                sent = send_pending(store, client, only=only, rules=rules, progress=step)
            else:
                sent = send_pending(store, client, max_deals=1000, after=after, rules=rules, progress=step)
            report.add_sent(sent)
            if only is not None or not sent.deals or sent.aborted:
                break
            after = sent.last_deal
            gc.collect(1)  # what a page of up to 1,000 deals left behind: little lives on, so it is cheap
    report.requests += stats.requests - before[0]
    report.rate_limited += stats.rate_limited - before[1]
    report.retries += stats.retries - before[2]
