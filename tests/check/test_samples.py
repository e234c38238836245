"""Sample deals and events (`emulator seed-deals`): every event valid, several per deal, mixed order."""

from __future__ import annotations

import json
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from provisioner.model import TRIGGER_EVENTS
from provisioner.samples import sample_events
from provisioner.sync.coalesce import newest_values
from provisioner.sync.events import Rules, Snapshot, parse_line
from tests.check.conftest import active_deals, writes
from tests.scenarios.harness import run
from tests.sync.conftest import MAPPING, make_config

RULES = Rules.from_config(make_config())
IDS = [str(10_000_000_001 + i) for i in range(30)]


def test_every_sample_event_is_valid_and_each_deal_has_several_in_mixed_order():
    events = sample_events(IDS, RULES, seed=7)
    parsed = [parse_line(n, e.line, RULES) for n, e in enumerate(events, start=1)]
    assert all(isinstance(p, Snapshot) for p in parsed)
    per_deal = Counter(e.deal_id for e in events)
    assert set(per_deal) == set(IDS) and all(2 <= n <= 4 for n in per_deal.values())
    assert [e.occurred_at for e in events] != sorted(e.occurred_at for e in events)
    assert [e.deal_id for e in events] != sorted(e.deal_id for e in events)
    assert all(len(p.values) == len(MAPPING) for p in parsed)


def test_the_same_seed_gives_the_same_file_and_another_seed_another():
    lines = [e.line for e in sample_events(IDS, RULES, seed=1)]
    assert lines == [e.line for e in sample_events(IDS, RULES, seed=1)]
    assert lines != [e.line for e in sample_events(IDS, RULES, seed=2)]


@settings(max_examples=60, deadline=None)
@given(
    count=st.integers(min_value=1, max_value=40),
    seed=st.integers(min_value=0, max_value=2**32),
    triggers=st.sets(st.sampled_from(TRIGGER_EVENTS), min_size=1),
    fields=st.sets(st.sampled_from(sorted(MAPPING)), min_size=1),
    url_limit=st.integers(min_value=100, max_value=300),
)
def test_sample_events_are_valid_for_any_mapping_triggers_and_limit(count, seed, triggers, fields, url_limit):
    config = make_config(triggers=triggers, url_limit=url_limit)
    rules = Rules(mapping={f: MAPPING[f] for f in sorted(fields)}, triggers=frozenset(triggers),
                  number_properties=Rules.from_config(config).number_properties,
                  max_length=Rules.from_config(config).max_length)
    ids = IDS[:count]
    events = sample_events(ids, rules, seed=seed)
    snapshots = [parse_line(n, e.line, rules) for n, e in enumerate(events, start=1)]
    assert all(isinstance(s, Snapshot) for s in snapshots), [s for s in snapshots if not isinstance(s, Snapshot)]
    assert all(set(json.loads(e.line)["data"]) == fields for e in events)
    # Within one deal the snapshots move forward: no two share a time, counts never go back.
    for deal_id in ids:
        mine = sorted((s for s in snapshots if s.deal_id == deal_id), key=lambda s: s.occurred_at)
        assert len({s.occurred_at for s in mine}) == len(mine) >= 2
        invited = [int(s.values["number_of_customers_invited"]) for s in mine if "number_of_customers_invited" in s.values]
        assert invited == sorted(invited)


def test_seed_deals_creates_the_deals_and_a_matching_events_file(serve, capsys):
    portal = serve()
    portal.config()
    assert run(capsys, "apply", "--auto-approve").code == 0

    result = run(capsys, "emulator", "seed-deals", "12", "--out", "events.jsonl")

    assert result.code == 0, result.err
    deals = active_deals(portal)
    assert len(deals) == 12
    names = [portal.emulator.portal.deals[d].props["dealname"] for d in deals]
    assert all("Sample deal" in name for name in names)
    lines = (portal.workdir / "events.jsonl").read_text().splitlines()
    assert {json.loads(line)["deal_id"] for line in lines} == deals
    assert "push them with `provisioner sync push --source events.jsonl`" in result.err
    push = run(capsys, "sync", "push", "--source", "events.jsonl", "--format", "json")
    assert push.code == 0 and json.loads(push.out)["deals_written"] == 12
    # Each deal holds the values of its Accord's newest event, whatever the order of the file.
    newest = newest_values(parse_line(n, line, RULES) for n, line in enumerate(lines, start=1))
    for deal_id, values in newest.items():
        held = portal.emulator.portal.deals[deal_id].props
        assert {prop: held.get(prop) for prop in values} == values


def test_seed_deals_writes_the_events_to_standard_output(serve, capsys):
    portal = serve()
    portal.config()
    assert run(capsys, "apply", "--auto-approve").code == 0
    result = run(capsys, "emulator", "seed-deals", "2")
    assert result.code == 0
    assert {json.loads(line)["deal_id"] for line in result.out.splitlines()} == active_deals(portal)


def test_seed_deals_refuses_hubspots_own_address_unless_named(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "a-real-token")
    (tmp_path / "hubspot_schema.yaml").write_text((run.__globals__["SHIPPED"]).read_text())
    result = run(capsys, "emulator", "seed-deals", "3")
    assert result.code == 1
    assert result.err.startswith("error: seed-deals writes sample deals: pass --local, or set HUBSPOT_BASE_URL")
    assert "Traceback" not in result.err


def test_seed_deals_bad_count_and_unwritable_out_are_one_line_errors(serve, capsys):
    portal = serve()
    portal.config()
    assert run(capsys, "apply", "--auto-approve").code == 0
    for count in ("0", "10001", "many"):
        result = run(capsys, "emulator", "seed-deals", count)
        assert result.code == 1 and "Traceback" not in result.err
    portal.clear_log()
    bad = run(capsys, "emulator", "seed-deals", "1", "--out", str(portal.workdir / "missing" / "dir" / "e.jsonl"))
    assert bad.code == 1 and bad.err.splitlines()[0].startswith("error: cannot write the events to ")
    assert writes(portal) == []  # the path is checked before any deal is created
