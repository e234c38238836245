"""Dead letters of values HubSpot refused, and ``retry``: running dead letters through the sync again.

A refused value becomes an input line again (so ``sync retry`` can feed it back), one line per
write it came from: values of one deal written at different instants or by different Accords
make separate lines, each with its own stamp, so a retry competes under the ordering rule exactly
as the original writes did.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence

from provisioner.hubspot.client import HubSpotClient
from provisioner.sync.coalesce import Coalescer
from provisioner.sync.events import Invalid, Rules, Snapshot, parse_line
from provisioner.sync.instant import format_instant
from provisioner.sync.report import MAX_PROBLEMS, Problem, PushReport
from provisioner.sync.store import DeadLetter, NewDeadLetter, Pending, SyncStore


def event_line(event: str, occurred_at: str, accord_id: str, deal_id: str, data: dict) -> str:
    """An input line for a record set aside after HubSpot rejected it (so retry can re-run it)."""
    return json.dumps(
        {"event": event, "occurred_at": occurred_at, "accord_id": accord_id, "deal_id": deal_id, "data": data},
        separators=(",", ":"),
    )


def letters_for(deal_id: str, values: Mapping[str, Pending], fields: Mapping[str, str],
                reason: str) -> list[NewDeadLetter]:
    """The dead letters of a deal's refused values: one per (instant, accord, event) they were written at."""
    groups: dict[tuple[int, str, str], dict[str, str | None]] = {}
    props: dict[tuple[int, str, str], list[str]] = {}
    for prop, pending in sorted(values.items()):
        key = (pending.occurred_at, pending.accord_id, pending.event)
        groups.setdefault(key, {})[fields.get(prop, prop)] = pending.value if pending.value != "" else None
        props.setdefault(key, []).append(prop)
    return [
        NewDeadLetter("hubspot", reason, event_line(event, format_instant(at), accord_id, deal_id, data),
                      accord_id or None, deal_id, at, tuple(props[(at, accord_id, event)]))
        for (at, accord_id, event), data in groups.items()
    ]


def retry(
    client: HubSpotClient,
    store: SyncStore,
    letters: Sequence[DeadLetter],
    rules: Rules,
    *,
    send: bool = True,
    progress: Callable[[int, int], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> PushReport:
    """Feed dead letters through the sync again; those delivered are marked resolved.

    Without ``send`` (a running worker holds the store) the letters are accepted and released
    only; the worker sends them and marks them resolved when HubSpot confirms.

    A letter whose line now passes the checks is accepted under the ordering rule and its deal's
    parked values are released, so they go out again; one still invalid is counted again in place
    (never copied); one kept cut short cannot be retried and is reported.
    """
    from provisioner.sync.engine import accept_into, send_all

    started = clock()
    report = PushReport()
    merged = Coalescer()
    invalid: list[Invalid] = []
    described: list[tuple[int, Snapshot]] = []
    for letter in letters:
        report.read += 1
        if letter.truncated:
            report.invalid += 1
            _problem(report, Problem("invalid", f"dead letter #{letter.id} was kept cut short and cannot be "
                                     "retried", letter.deal_id, letter.accord_id))
            continue
        parsed = parse_line(letter.id, letter.line, rules)
        if type(parsed) is Snapshot:
            merged.add(parsed)
            described.append((letter.id, parsed))
        elif type(parsed) is Invalid:
            invalid.append(parsed)
            report.invalid += 1
            _problem(report, Problem("invalid", parsed.reason, parsed.deal_id, parsed.accord_id))
        else:
            report.ignored += 1
    deals = sorted({snap.deal_id for _, snap in described})
    with store.transaction() as db:
        for letter_id, snap in described:
            store.describe_letter(db, letter_id, snap.deal_id, snap.occurred_at, snap.values)
        store.unpark(db, deals)
        accepted = accept_into(db, merged, invalid, store)
        report.coalesced += accepted.superseded
        report.accepted += accepted.accepted
        report.stale += accepted.stale
        store.resolve_delivered(db, deals)  # already held by HubSpot: delivered without a request
    if send:
        send_all(client, store, rules, report, progress)
    report.seconds = clock() - started
    return report


def _problem(report: PushReport, problem: Problem) -> None:
    if len(report.problems) < MAX_PROBLEMS:
        report.problems.append(problem)
