"""Whole flows against the emulator (in-process): what reaches the deals, and how many requests it took."""

from __future__ import annotations

import pytest

from provisioner.emulator import Emulator, EmulatorSettings
from provisioner.hubspot.client import HubSpotClient
from provisioner.model import ValidationRule
from provisioner.sync.engine import push
from provisioner.sync.verify import verify
from tests.sync.conftest import event
from tests.sync.portal import LOCAL_URL, prepare_portal, read_deals, seed_deals


class Portal:
    """An emulated portal, a client counting its calls, and the deals seeded in it."""

    def __init__(self, config, deals: int, wrap=None, **settings) -> None:
        self.emulator = Emulator(EmulatorSettings(**{"burst_limit": None, "daily_limit": None, **settings}))
        self.sleeps: list[float] = []
        app = wrap(self.emulator.app) if wrap else self.emulator.app
        self.client = HubSpotClient(LOCAL_URL, "test-token", tier="unlimited", wsgi_app=app,
                                    sleep=self.sleeps.append)
        prepare_portal(self.client, config)
        self.ids = seed_deals(self.client, deals)
        self.sent: list[list[tuple[str, dict]]] = []
        original = self.client.batch_update_deals

        def spy(inputs):
            self.sent.append(inputs)
            return original(inputs)

        self.client.batch_update_deals = spy

    def requests(self) -> int:
        return self.client.stats.requests

    def deals(self, properties) -> dict[str, dict]:
        return read_deals(self.client, self.ids, properties)


@pytest.fixture
def run(store, rules):
    def _run(portal, lines, **kwargs):
        return push(portal.client, store, lines, rules, **kwargs)

    return _run


def test_first_push_lands_and_an_identical_push_makes_no_request(config, rules, run):
    portal = Portal(config, 150)
    lines = [event(deal_id=d, accord_id=f"acc_{d}", PROGRESS=i % 101) for i, d in enumerate(portal.ids)]
    first = run(portal, lines)
    assert (first.written, first.requests, first.ok) == (150, 2, True)
    live = portal.deals(rules.properties)
    assert live[portal.ids[7]]["accord_progress"] == "7"
    assert live[portal.ids[7]]["accord_status"] == "On Track"
    before = portal.requests()
    second = run(portal, lines)
    assert (second.requests, second.written, second.accepted) == (0, 0, 0)
    assert portal.requests() == before


def test_one_changed_field_is_one_request_with_only_that_field(config, run):
    portal = Portal(config, 3)
    run(portal, [event(deal_id=d, accord_id=d) for d in portal.ids])
    report = run(portal, [event(deal_id=portal.ids[1], accord_id=portal.ids[1], at="2026-11-28T09:00:00Z",
                                STATUS="At Risk")])
    assert report.requests == 1
    assert portal.sent[-1] == [(portal.ids[1], {"accord_status": "At Risk"})]


def test_out_of_order_events_end_with_the_newest(config, rules, run):
    portal = Portal(config, 1)
    deal = portal.ids[0]
    run(portal, [
        event(deal_id=deal, at="2026-11-27T10:02:00Z", STATUS="Stalled"),
        event(deal_id=deal, at="2026-11-27T10:00:00Z", STATUS="On Track"),
        event(deal_id=deal, at="2026-11-27T10:01:00Z", STATUS="At Risk"),
    ])
    late = run(portal, [event(deal_id=deal, at="2026-11-27T09:59:00Z", STATUS="Not Started")])
    assert late.stale == 7 and late.requests == 0
    assert portal.deals(rules.properties)[deal]["accord_status"] == "Stalled"
    assert len(portal.sent) == 1


def test_invalid_records_are_set_aside_while_the_rest_land(config, rules, store, run):
    portal = Portal(config, 3)
    a, b, c = portal.ids
    report = run(portal, [event(deal_id=a), event(deal_id=b, accord_id="x", PROGRESS=140), "{", event(deal_id=c)])
    assert (report.written, report.invalid) == (2, 2)
    live = portal.deals(rules.properties)
    assert live[a]["accord_progress"] == "45" and live[b]["accord_progress"] in (None, "")
    assert [letter.line for letter in store.dead_letters()][1] == "{"


def test_a_whole_batch_400_is_split_down_to_the_bad_record(config, rules, store, run):
    portal = Portal(config, 10)
    # Someone tightened the URL limit in HubSpot: the file still says 255.
    portal.client.put_validation_rule(ValidationRule("accord_url", "MAX_LENGTH", ("60",)))
    lines = [event(deal_id=d, accord_id=d) for d in portal.ids]
    bad = portal.ids[6]
    lines[6] = event(deal_id=bad, accord_id=bad, URL="https://app.accord.example/a/" + "x" * 80)
    report = run(portal, lines)
    assert (report.written, report.rejected) == (9, 1)
    assert report.requests > 2  # the split
    [letter] = store.dead_letters()
    assert letter.deal_id == bad and letter.origin == "hubspot"
    live = portal.deals(rules.properties)
    assert live[portal.ids[5]]["accord_status"] == "On Track"
    assert live[bad]["accord_status"] in (None, "")


def test_a_deal_that_no_longer_exists_is_reported_not_retried_forever(config, store, run):
    portal = Portal(config, 2)
    report = run(portal, [event(deal_id=d, accord_id=d) for d in [*portal.ids, "999999999"]])
    assert (report.written, report.missing) == (2, 1)
    assert [p.deal_id for p in report.problems if p.kind == "missing"] == ["999999999"]
    assert run(portal, []).requests == 0


def test_verify_reports_a_hand_edit_and_repair_restores_it(config, rules, store):
    portal = Portal(config, 2)
    push(portal.client, store, [event(deal_id=d, accord_id=d) for d in portal.ids], rules)
    portal.client.batch_update_deals([(portal.ids[0], {"accord_status": "Stalled", "accord_progress": "99"})])
    report = verify(portal.client, store, rules)
    assert sorted((d.property, d.expected, d.actual) for d in report.differences) == [
        ("accord_progress", "45", "99"), ("accord_status", "On Track", "Stalled")
    ]
    assert report.requests == 1
    repaired = verify(portal.client, store, rules, repair=True)
    assert repaired.repaired == 1
    assert portal.deals(rules.properties)[portal.ids[0]]["accord_status"] == "On Track"
    assert verify(portal.client, store, rules).differences == []


def storm(statuses: list[int]):
    """Answer the next batch updates with these statuses (429 as HubSpot words it), then let them through."""
    bodies = {
        429: b'{"status":"error","message":"You have reached your ten_secondly_rolling limit.",'
             b'"errorType":"RATE_LIMIT","correlationId":"c","policyName":"TEN_SECONDLY_ROLLING"}',
    }
    queue = list(statuses)

    def wrap(app):
        def wrapped(environ, start_response):
            if queue and environ["PATH_INFO"].endswith("/batch/update"):
                status = queue.pop(0)
                start_response(f"{status} Error", [("Content-Type", "application/json")])
                return [bodies.get(status, b'{"status":"error","message":"upstream","category":"INTERNAL"}')]
            return app(environ, start_response)

        return wrapped

    return wrap


def test_429_storms_and_5xx_are_retried_and_everything_lands(config, rules, run):
    portal = Portal(config, 250, wrap=storm([429, 429, 429, 502, 429, 503]))
    report = run(portal, [event(deal_id=d, accord_id=d) for d in portal.ids])
    assert (report.written, report.ok) == (250, True)
    assert report.rate_limited == 4
    assert report.requests == 3 + 6
    assert all(v["accord_status"] == "On Track" for v in portal.deals(rules.properties).values())


def test_5xx_beyond_the_retries_stay_pending_for_the_next_run(config, rules, run):
    portal = Portal(config, 150, wrap=storm([502] * 7))
    report = run(portal, [event(deal_id=d, accord_id=d) for d in portal.ids])
    assert (report.written, report.failed) == (50, 100)
    again = run(portal, [])
    assert (again.written, again.requests, again.ok) == (100, 1, True)
