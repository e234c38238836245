"""Sample deals and Accord events, for trying the value sync on a portal that holds no deals yet.

``emulator seed-deals N`` creates N deals named as samples and writes a matching events file:
per deal one Accord, two to four trigger events whose snapshots move forward in time (more
customers invited and accepted, more progress, a later stage), every event valid for the file's
mapping, triggers and character limit, all of them shuffled (Accord's events arrive in any order,
and the value sync must keep the newest). The values come from a seeded generator: the same seed
and deal ids give the same file.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from provisioner.hubspot.client import HubSpotClient
from provisioner.sync.events import STATUSES, Rules

MAX_SAMPLE_DEALS = 10_000
SAMPLE_DEAL_NAME = "Sample deal {n}: {company} (provisioner emulator seed-deals)"
COMPANIES = ("Acme Corp", "Globex", "Initech", "Umbrella Health", "Stark Logistics", "Wayne Foods",
             "Hooli", "Vandelay Imports", "Soylent Labs", "Tyrell Systems", "Cyberdyne Retail", "Wonka Media")
STAGES = ("Kickoff", "Discovery", "Solution Design", "Business Case", "Security Review", "Negotiation",
          "Signature", "Onboarding")
OPENING_EVENTS = ("accord_created", "accord_duplicated")
LATER_EVENTS = ("accord_viewed", "stage_created", "step_created", "step_updated", "step_deleted",
                "stakeholder_added", "customer_accepted", "member_added", "stage_deleted")
START = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)


@dataclass(frozen=True)
class SampleEvent:
    deal_id: str
    occurred_at: str
    line: str


def create_sample_deals(client: HubSpotClient, count: int) -> list[str]:
    """Create ``count`` deals named as samples (the client sends 100 a request); their ids."""
    if not 1 <= count <= MAX_SAMPLE_DEALS:
        raise ValueError(f"between 1 and {MAX_SAMPLE_DEALS} sample deals, not {count}")
    names = [
        {"dealname": SAMPLE_DEAL_NAME.format(n=n, company=COMPANIES[(n - 1) % len(COMPANIES)])}
        for n in range(1, count + 1)
    ]
    return [record.id for record in client.batch_create_deals(names).results]


def _pick_event(rng: random.Random, choices: tuple[str, ...], triggers: list[str]) -> str:
    allowed = [event for event in choices if event in triggers]
    return rng.choice(allowed or triggers)


def _snapshots(rng: random.Random, accord_id: str, rules: Rules) -> Iterator[dict[str, object]]:
    """An Accord's values moving forward, one dict per event (Accord's field names)."""
    url = f"https://app.accord.example/accords/{accord_id}"
    limit = rules.max_length.get(rules.mapping.get("URL", ""))
    if limit is not None:
        url = url[:limit]
    invited, accepted, progress, stage = rng.randint(1, 3), 0, rng.randint(0, 15), rng.randint(0, 2)
    status = "Not Started"
    while True:
        yield {
            "URL": url, "STATUS": status, "STAGE_NAME": STAGES[stage], "CUSTOMER_INVITED_COUNT": invited,
            "CUSTOMER_ACCEPTED_COUNT": accepted, "PROGRESS": progress,
            "EXECUTION_SCORE": round(40 + progress * 0.5 + rng.uniform(-8, 8), 1),
        }
        invited += rng.randint(0, 2)
        accepted = min(invited, accepted + rng.randint(0, 2))
        progress = min(100, progress + rng.randint(5, 30))
        stage = min(len(STAGES) - 1, stage + rng.randint(0, 1))
        status = rng.choice(STATUSES[1:])


def sample_events(deal_ids: list[str], rules: Rules, *, seed: int = 0) -> list[SampleEvent]:
    """Two to four valid events per deal, newest values last in time, shuffled."""
    rng = random.Random(seed)
    triggers = sorted(rules.triggers)
    if not triggers:
        raise ValueError("the file's sync.triggers is empty: no event would be pushed")
    events: list[SampleEvent] = []
    for index, deal_id in enumerate(deal_ids):
        accord_id = f"acc_sample_{index + 1:05d}"
        at = START + timedelta(minutes=rng.randint(0, 60 * 24 * 14))
        snapshots = _snapshots(rng, accord_id, rules)
        for number in range(rng.randint(2, 4)):
            data = next(snapshots)
            name = _pick_event(rng, OPENING_EVENTS if number == 0 else LATER_EVENTS, triggers)
            stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
            record = {"event": name, "occurred_at": stamp, "accord_id": accord_id, "deal_id": deal_id,
                      "data": {field: data[field] for field in rules.mapping if field in data}}
            events.append(SampleEvent(deal_id, stamp, json.dumps(record)))
            at += timedelta(minutes=rng.randint(3, 60 * 24))
    rng.shuffle(events)
    return events
