"""push and verify with exact control over HubSpot's answers (an in-memory stand-in)."""

from __future__ import annotations

import time

import pytest

from provisioner.sync.engine import push
from provisioner.sync.letters import retry
from provisioner.sync.store import SyncStore
from provisioner.sync.verify import verify
from tests.sync.conftest import event
from tests.sync.fakes import Crash, FakeDeals


def run(client, store, rules, lines, **kwargs):
    return push(client, store, lines, rules, **kwargs)


def deal_ids(n, start=1000):
    return [str(start + i) for i in range(n)]


def test_first_push_then_identical_push_sends_nothing(store, rules):
    portal = FakeDeals(deal_ids(3))
    lines = [event(deal_id=d, accord_id=f"acc_{d}") for d in deal_ids(3)]
    first = run(portal, store, rules, lines)
    assert (first.written, first.requests, first.ok) == (3, 1, True)
    assert portal.deals["1000"]["accord_progress"] == "45"
    second = run(portal, store, rules, lines)
    assert (second.written, second.requests, second.accepted, second.stale) == (0, 0, 0, 21)
    assert len(portal.calls) == 1


def test_one_changed_field_sends_only_that_field(store, rules):
    portal = FakeDeals(deal_ids(2))
    run(portal, store, rules, [event(deal_id=d, accord_id=d) for d in deal_ids(2)])
    report = run(portal, store, rules, [event(deal_id="1001", accord_id="1001", at="2026-11-28T00:00:00Z",
                                              PROGRESS=46.0)])
    assert report.written == 1
    assert portal.calls[-1] == [("1001", {"accord_progress": "46"})]


def test_batches_hold_at_most_100_deals(store, rules):
    portal = FakeDeals(deal_ids(250))
    report = run(portal, store, rules, [event(deal_id=d, accord_id=d) for d in deal_ids(250)])
    assert [len(call) for call in portal.calls] == [100, 100, 50]
    assert report.written == 250 and report.requests == 3


def test_older_snapshot_never_overwrites_newer_across_runs(store, rules):
    portal = FakeDeals(["7"])
    run(portal, store, rules, [event(deal_id="7", at="2026-11-27T12:00:00Z", STATUS="At Risk")])
    report = run(portal, store, rules, [event(deal_id="7", at="2026-11-27T11:00:00Z", STATUS="Stalled")])
    assert report.stale == 7 and report.requests == 0
    assert portal.deals["7"]["accord_status"] == "At Risk"


def test_two_accords_on_one_deal_newest_wins_per_property(store, rules):
    portal = FakeDeals(["7"])
    run(portal, store, rules, [
        event(deal_id="7", accord_id="a", at="2026-11-27T12:00:00Z", STATUS="At Risk"),
        event(deal_id="7", accord_id="b", at="2026-11-27T11:00:00Z", STATUS="Stalled", PROGRESS=...),
    ])
    assert portal.deals["7"]["accord_status"] == "At Risk"
    run(portal, store, rules, [event(deal_id="7", accord_id="b", at="2026-11-27T13:00:00Z", STATUS="Stalled")])
    assert portal.deals["7"]["accord_status"] == "Stalled"


def test_invalid_records_are_dead_lettered_and_the_rest_land(store, rules):
    portal = FakeDeals(deal_ids(3))
    report = run(portal, store, rules, [
        event(deal_id="1000"), "{oops", event(deal_id="1001", accord_id="b", STATUS="Done"), event(deal_id="1002")
    ])
    assert (report.written, report.invalid, report.ok) == (2, 2, False)
    letters = store.dead_letters()
    assert [letter.origin for letter in letters] == ["input", "input"]
    assert "STATUS must be one of" in letters[1].reason and letters[1].deal_id == "1001"


def test_a_whole_batch_400_is_split_down_to_the_bad_record(store, rules):
    portal = FakeDeals(deal_ids(8))
    lines = [event(deal_id=d, accord_id=d) for d in deal_ids(8)]
    lines[5] = event(deal_id="1005", accord_id="1005", STAGE_NAME="BAD")
    report = run(portal, store, rules, lines)
    assert (report.written, report.rejected) == (7, 1)
    # 1 whole + 2 halves + 2 quarters of the bad half + 2 single = 7
    assert report.requests == 7
    [letter] = store.dead_letters()
    assert letter.origin == "hubspot" and letter.deal_id == "1005" and "bad value" in letter.reason
    # Not sent again by later runs...
    assert run(portal, store, rules, []).requests == 0
    # ...until retried (here HubSpot still refuses it, so it is set aside again).
    again = retry(portal, store, [letter], rules)
    assert again.rejected == 1 and [(d.deal_id, d.seen) for d in store.dead_letters()] == [("1005", 2)]


def test_a_207_confirms_the_good_deals_and_keeps_failures_pending(store, rules):
    portal = FakeDeals(["1", "2"], fail_ids=["2"])
    report = run(portal, store, rules, [event(deal_id=d, accord_id=d) for d in ["1", "2", "3"]])
    assert (report.written, report.failed, report.missing) == (1, 1, 1)
    assert store.load_confirmed().keys() == {"1"}
    assert [letter.deal_id for letter in store.dead_letters()] == ["3"]
    portal.fail_ids.clear()
    again = run(portal, store, rules, [])
    assert again.written == 1 and portal.calls[-1][0][0] == "2"
    assert run(portal, store, rules, []).requests == 0


def test_server_errors_leave_the_batch_pending_for_the_next_run(store, rules):
    portal = FakeDeals(deal_ids(150), server_error_calls={1})
    report = run(portal, store, rules, [event(deal_id=d, accord_id=d) for d in deal_ids(150)])
    assert (report.written, report.failed) == (50, 100)
    again = run(portal, store, rules, [])
    assert again.written == 100 and again.ok


def test_dry_run_sends_and_records_nothing(store, rules):
    report = run(None, store, rules, [event(deal_id="5")], dry_run=True)
    assert report.planned["5"]["accord_status"] == (None, "On Track")
    assert store.dump() == [] and store.dead_letters() == []


def test_full_resync_sends_everything_again(store, rules):
    portal = FakeDeals(["5"])
    run(portal, store, rules, [event(deal_id="5")])
    report = run(portal, store, rules, [], full_resync=True)
    assert report.written == 1 and len(portal.calls[-1][0][1]) == 7


@pytest.mark.parametrize("crash_at", [1, 2, 3])
def test_a_crash_after_any_answer_converges_on_rerun(tmp_path, rules, crash_at):
    ids = deal_ids(300)
    lines = [event(deal_id=d, accord_id=d, PROGRESS=int(d) % 100) for d in ids]
    reference = FakeDeals(ids)
    with SyncStore(tmp_path / "ref.sqlite") as ref_store:
        run(reference, ref_store, rules, lines)
        expected_confirmed = ref_store.load_confirmed()
    portal = FakeDeals(ids, crash_after_call=crash_at)
    path = tmp_path / "crash.sqlite"
    with SyncStore(path) as store, pytest.raises(Crash):
        run(portal, store, rules, lines)
    with SyncStore(path) as store:
        # HubSpot applied the last batch but its answer was never recorded: nothing claims it.
        assert len(store.load_confirmed()) == 100 * (crash_at - 1)
        portal.crash_after_call = None
        run(portal, store, rules, lines)
        assert store.load_confirmed() == expected_confirmed
    assert portal.deals == reference.deals


def test_verify_finds_hand_edits_and_repair_restores_them(store, rules):
    portal = FakeDeals(["1", "2"])
    run(portal, store, rules, [event(deal_id=d, accord_id=d) for d in ["1", "2"]])
    portal.deals["2"]["accord_status"] = "Stalled"
    portal.deals["1"]["accord_progress"] = "45.0"  # same number, HubSpot's way of writing it
    report = verify(portal, store, rules)
    assert [(d.deal_id, d.property, d.expected, d.actual) for d in report.differences] == [
        ("2", "accord_status", "On Track", "Stalled")
    ]
    repaired = verify(portal, store, rules, repair=True)
    assert repaired.repaired == 1 and portal.deals["2"]["accord_status"] == "On Track"
    assert verify(portal, store, rules).differences == []


def test_a_confirmed_value_is_stamped_when_its_request_left_not_when_the_answer_was_recorded(store, rules):
    """The guard takes a hand edit older than the tool's last write for already overwritten: that
    write's time must not be later than HubSpot took it, or an edit made while the answer was on
    its way would be ignored and never restored."""
    sent: list[int] = []

    class SlowAnswer(FakeDeals):
        def batch_update_deals(self, inputs):
            sent.append(time.time_ns() // 1000)
            result = super().batch_update_deals(inputs)
            time.sleep(0.05)  # the answer is on its way
            return result

    run(SlowAnswer(deal_ids(1)), store, rules, [event(deal_id="1000")])
    with store.transaction() as db:
        register = SyncStore.register(db, "1000", "accord_progress")
    assert register.confirmed == "45"
    assert register.confirmed_at <= sent[0]
