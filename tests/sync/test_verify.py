"""verify and repair never fight the sync: pending values are not hand edits, repair writes the newest value."""

from __future__ import annotations

import pytest

from provisioner.sync.engine import accept, push
from provisioner.sync.events import parse_line
from provisioner.sync.verify import verify
from tests.sync.conftest import event
from tests.sync.fakes import Crash, FakeDeals

LATER = "2026-11-28T00:00:00Z"


def test_a_write_that_landed_without_its_answer_is_pending_and_repair_never_writes_it_back(store, rules):
    portal = FakeDeals(["1"])
    push(portal, store, [event(deal_id="1", STATUS="At Risk")], rules)
    portal.crash_after_call = 2  # HubSpot applies the second write; its answer is lost
    with pytest.raises(Crash):
        push(portal, store, [event(deal_id="1", at=LATER, STATUS="Stalled")], rules)
    assert portal.deals["1"]["accord_status"] == "Stalled"
    report = verify(portal, store, rules)
    assert report.differences == [] and report.pending == 1
    portal.crash_after_call = None
    repaired = verify(portal, store, rules, repair=True)
    assert repaired.repaired == 0 and len(portal.calls) == 2  # nothing written back
    assert portal.deals["1"]["accord_status"] == "Stalled"
    assert push(portal, store, [], rules).written == 1  # the next push confirms it
    assert verify(portal, store, rules).pending == 0


def test_a_push_during_verify_is_not_reported_as_hand_edits(store, rules):
    portal = FakeDeals(["1", "2"])
    push(portal, store, [event(deal_id=d, accord_id=d) for d in ("1", "2")], rules)
    read = portal.batch_read_deals

    def read_while_a_push_runs(ids, properties):
        # Another process accepts and sends newer values between verify's store read and HubSpot's answer.
        newer = [parse_line(1, event(deal_id=d, accord_id=d, at=LATER, STATUS="Stalled"), rules) for d in ids]
        accept(store, newer)
        portal.batch_update_deals([(d, {"accord_status": "Stalled"}) for d in ids])
        return read(ids, properties)

    portal.batch_read_deals = read_while_a_push_runs
    report = verify(portal, store, rules)
    assert report.differences == [] and report.pending == 2


def test_repair_writes_the_newest_desired_value_only_where_someone_else_changed_a_confirmed_one(store, rules):
    portal = FakeDeals(["1", "2"])
    push(portal, store, [event(deal_id=d, accord_id=d) for d in ("1", "2")], rules)
    portal.deals["1"]["accord_status"] = "Stalled"  # a hand edit of a confirmed value
    portal.deals["2"]["accord_status"] = "Stalled"  # a hand edit, but a newer write is already queued
    accept(store, [parse_line(1, event(deal_id="2", accord_id="2", at=LATER, STATUS="At Risk"), rules)])
    report = verify(portal, store, rules, repair=True)
    assert [(d.deal_id, d.property) for d in report.differences] == [("1", "accord_status")]
    assert report.repaired == 1 and portal.calls[-1] == [("1", {"accord_status": "On Track"})]
    assert portal.deals["1"]["accord_status"] == "On Track"
    push(portal, store, [], rules)  # the queued newer value goes out with the next push, not an older one
    assert portal.deals["2"]["accord_status"] == "At Risk"
    assert verify(portal, store, rules).differences == []
