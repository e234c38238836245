"""The check's synthetic snapshot: valid for the sync whatever the mapping, the URL exactly at its limit."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from provisioner.check.snapshot import snapshot_line
from provisioner.model import TRIGGER_EVENTS
from provisioner.sync.events import Rules, Snapshot, parse_line
from tests.sync.conftest import MAPPING, make_config


@settings(max_examples=80, deadline=None)
@given(
    fields=st.sets(st.sampled_from(sorted(MAPPING)), min_size=1),
    triggers=st.sets(st.sampled_from(TRIGGER_EVENTS), min_size=1),
    url_limit=st.integers(min_value=100, max_value=10_000),
    deal_id=st.from_regex(r"[1-9][0-9]{0,17}", fullmatch=True),
)
def test_the_snapshot_is_valid_and_the_url_sits_exactly_at_its_limit(fields, triggers, url_limit, deal_id):
    base = Rules.from_config(make_config(url_limit=url_limit))
    rules = Rules(mapping={f: MAPPING[f] for f in sorted(fields)}, triggers=frozenset(triggers),
                  number_properties=base.number_properties, max_length=base.max_length)
    line = snapshot_line(rules, deal_id, "2026-11-28T10:00:00+00:00", record_id="provisioner-check-1")
    parsed = parse_line(1, line, rules)
    assert isinstance(parsed, Snapshot), parsed
    assert set(parsed.values) == {MAPPING[f] for f in fields}
    assert parsed.deal_id == deal_id and json.loads(line)["id"] == "provisioner-check-1"
    if "URL" in fields:
        assert len(parsed.values["accord_url"]) == url_limit


def test_without_a_declared_limit_the_url_is_an_ordinary_one():
    rules = Rules(mapping=dict(MAPPING), triggers=frozenset(TRIGGER_EVENTS))
    parsed = parse_line(1, snapshot_line(rules, "7", "2026-11-28T10:00:00Z"), rules)
    assert isinstance(parsed, Snapshot) and parsed.values["accord_url"].startswith("https://")
    assert parsed.event == "step_updated"
