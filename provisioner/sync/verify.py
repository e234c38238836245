"""``verify``: read the deals back and find values someone edited by hand; ``repair`` restores them.

Without HubSpot Enterprise, view-only access cannot be enforced, so this is how users keep the
Accord values on their deals authentic. The reference is what HubSpot last confirmed to the
sync (the store's ``confirmed`` table); values still pending are the next push's business.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from provisioner.errors import NotFoundError
from provisioner.hubspot.client import HubSpotClient
from provisioner.numbers import normalise_number
from provisioner.sync.events import Rules
from provisioner.sync.sender import BATCH_SIZE, WRITTEN, send_updates
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
    repaired: int = 0
    repair_failed: list[str] = field(default_factory=list)
    requests: int = 0
    rate_limited: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {
            "deals_checked": self.deals_checked,
            "differences": [vars(d) for d in self.differences],
            "missing_deals": self.missing,
            "deals_repaired": self.repaired,
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
    progress: Callable[[int, int], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> VerifyReport:
    started = clock()
    before = (client.stats.requests, client.stats.rate_limited)
    report = VerifyReport()
    confirmed = store.load_confirmed()
    managed = set(rules.properties)
    properties = rules.properties
    ids = sorted(confirmed, key=lambda d: (len(d), d))
    for start in range(0, len(ids), BATCH_SIZE):
        chunk = ids[start : start + BATCH_SIZE]
        for deal_id, live in _read(client, chunk, properties):
            report.deals_checked += 1
            if live is None:
                report.missing.append(deal_id)
                continue
            for prop, expected in sorted(confirmed[deal_id].items()):
                if prop not in managed:
                    continue
                actual = live.get(prop)
                if not same_value(expected, actual, prop in rules.number_properties):
                    report.differences.append(Difference(deal_id, prop, expected, actual))
        if progress:
            progress(min(start + BATCH_SIZE, len(ids)), len(ids))
    if repair and report.differences:
        work: dict[str, dict[str, str]] = {}
        for diff in report.differences:
            work.setdefault(diff.deal_id, {})[diff.property] = diff.expected
        for outcomes in send_updates(client, list(work.items())):
            for outcome in outcomes:
                if outcome.status == WRITTEN:
                    report.repaired += 1
                else:
                    report.repair_failed.append(f"{outcome.deal_id}: {outcome.reason}")
    report.requests = client.stats.requests - before[0]
    report.rate_limited = client.stats.rate_limited - before[1]
    report.seconds = clock() - started
    return report
