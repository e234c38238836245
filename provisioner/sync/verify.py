"""``verify``: read the deals back and find values someone edited by hand; ``repair`` restores them.

Without HubSpot Enterprise, view-only access cannot be enforced, so this is how users keep the
Accord values on their deals authentic.

Verify and repair never fight the sync:
- only a register the tool has confirmed and that is not pending (its newest write is the
  confirmed value, not refused) can hold a hand edit; a pending value (about to be sent, or sent
  and its answer lost) is the sync's own and is counted as pending, never as a hand edit;
- a difference stands only if the register is still unchanged when read again after HubSpot's
  answer (a push that ran in between makes it pending, so it is dropped);
- repair re-queues the edited registers (their confirmed value becomes what HubSpot holds) and
  sends them through the sync's own ``send_pending``: it writes the newest desired value, never
  an older one, and records the answer like any push.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from provisioner.errors import NotFoundError
from provisioner.hubspot.client import HubSpotClient
from provisioner.numbers import normalise_number
from provisioner.sync.events import Rules
from provisioner.sync.sender import BATCH_SIZE
from provisioner.sync.store import SyncStore


@dataclass(frozen=True)
class Difference:
    deal_id: str
    property: str
    expected: str
    actual: str | None


@dataclass
class VerifyReport:
    deals_checked: int = 0
    differences: list[Difference] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    pending: int = 0  # values the sync has not had confirmed yet: not hand edits
    repaired: int = 0
    queued_for_worker: int = 0  # deals re-queued for a running worker to send (repair next to `serve`)
    repair_failed: list[str] = field(default_factory=list)
    requests: int = 0
    rate_limited: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {
            "deals_checked": self.deals_checked,
            "differences": [vars(d) for d in self.differences],
            "missing_deals": self.missing,
            "pending_values": self.pending,
            "deals_repaired": self.repaired,
            "deals_queued_for_worker": self.queued_for_worker,
            "repair_failed": self.repair_failed,
            "requests": self.requests,
            "rate_limited": self.rate_limited,
            "seconds": round(self.seconds, 3),
        }


def same_value(expected: str, actual: str | None, is_number: bool) -> bool:
    """HubSpot returns null for a cleared value and may render numbers its own way."""
    actual = "" if actual is None else actual
    if expected == actual:
        return True
    if is_number and expected and actual:
        try:
            return normalise_number(expected) == normalise_number(actual)
        except ValueError:
            return False
    return False


def _read(client: HubSpotClient, ids: list[str], properties: list[str]) -> Iterator[tuple[str, dict | None]]:
    """(deal id, properties or None when the deal does not exist) for each id."""
    try:
        result = client.batch_read_deals(ids, properties)
    except NotFoundError:
        if len(ids) == 1:
            yield ids[0], None
            return
        middle = len(ids) // 2
        yield from _read(client, ids[:middle], properties)
        yield from _read(client, ids[middle:], properties)
        return
    found = {record.id: record.properties for record in result.results}
    for deal_id in ids:
        yield deal_id, found.get(deal_id)


def verify(
    client: HubSpotClient,
    store: SyncStore,
    rules: Rules,
    *,
    repair: bool = False,
    send: bool = True,
    progress: Callable[[int, int], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> VerifyReport:
    """Read every deal the sync confirmed values for (100 a request), in key order, page by page."""
    started = clock()
    before = (client.stats.requests, client.stats.rate_limited)
    report = VerifyReport()
    managed = set(rules.properties)
    properties = rules.properties
    total = store.count_synced()
    after = None
    while chunk := store.synced_deals(after, BATCH_SIZE):
        after = chunk[-1]
        held = store.registers(chunk)
        candidates = []
        for deal_id, live in _read(client, chunk, properties):
            report.deals_checked += 1
            if live is None:
                report.missing.append(deal_id)
                continue
            for prop, (value, confirmed, parked, _) in sorted(held.get(deal_id, {}).items()):
                if prop not in managed or confirmed is None:
                    continue
                if parked or confirmed != value:
                    report.pending += 1
                    continue
                actual = live.get(prop)
                if not same_value(confirmed, actual, prop in rules.number_properties):
                    candidates.append(Difference(deal_id, prop, confirmed, actual))
        # Read the store again: a push that ran meanwhile made its values pending, not hand edits.
        again = store.registers(sorted({d.deal_id for d in candidates}))
        for diff in candidates:
            value, confirmed, parked, _ = again.get(diff.deal_id, {}).get(diff.property, ("", None, True, 0))
            if not parked and confirmed == value == diff.expected:
                report.differences.append(diff)
            else:
                report.pending += 1
        if progress:
            progress(report.deals_checked, total)
    if repair and report.differences:
        _repair(client, store, rules, report, send)
    report.requests = client.stats.requests - before[0]
    report.rate_limited = client.stats.rate_limited - before[1]
    report.seconds = clock() - started
    return report


def _repair(client: HubSpotClient, store: SyncStore, rules: Rules, report: VerifyReport, send: bool) -> None:
    """Re-queue the edited registers, then send them like a push (the caller holds the run lock);
    without ``send`` a running worker holds the lock and sends them."""
    from provisioner.sync.engine import send_pending

    with store.transaction() as db:
        requeued = store.requeue(db, [(d.deal_id, d.property, d.expected, "" if d.actual is None else d.actual)
                                      for d in report.differences])
    deals = sorted({deal for deal, _ in requeued})
    if not send:
        report.queued_for_worker = len(deals)
        return
    for start in range(0, len(deals), BATCH_SIZE):
        sent = send_pending(store, client, only=deals[start:start + BATCH_SIZE], rules=rules)
        report.repaired += sent.written
        report.repair_failed.extend(f"{p.deal_id}: {p.reason}" for p in sent.problems)
        if sent.aborted:
            report.repair_failed.append(f"stopped early: {sent.aborted}")
            break
