"""Saved fleet plans: a hostile or damaged file is one line naming the file and the member."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provisioner.errors import PlanFileError
from provisioner.fleet.saved import is_fleet_plan, load_fleet_plan, save_fleet_plan
from provisioner.plan import Plan


def _plan(portal_id: int) -> Plan:
    return Plan(portal_id=portal_id, config_path="hubspot_schema.yaml", config_digest="d" * 64,
                api_version="2026-03", changes=(), manual_steps=())


def test_round_trip(tmp_path):
    path = tmp_path / "fleet.json"
    save_fleet_plan([_plan(1), _plan(2)], path, "2026-01-01T00:00:00Z")
    assert is_fleet_plan(path)
    assert sorted(load_fleet_plan(path)) == [1, 2]
    assert load_fleet_plan(path)[2].portal_id == 2


GOOD = {"fleet_plan": 1, "created_at": "", "plans": []}


@pytest.mark.parametrize("text, message", [
    ("not json", "not a fleet plan this provisioner can read"),
    ("[]", "not a fleet plan"),
    (json.dumps({**GOOD, "fleet_plan": 2}), "fleet_plan 2; it reads 1"),
    (json.dumps({**GOOD, "fleet_plan": True}), "not a fleet plan"),
    (json.dumps({**GOOD, "plans": {}}), "plans: expected a list"),
    (json.dumps(GOOD), "holds no portal's plan"),
    (json.dumps({**GOOD, "plans": [{"format_version": 2}]}), "plans[0]: not a saved plan"),
    (json.dumps({**GOOD, "plans": ["x"]}), "plans[0]: not a saved plan"),
    ("[" * 100_000, "not a fleet plan"),
])
def test_hostile_files_are_one_line(tmp_path, text, message):
    path = tmp_path / "fleet.json"
    path.write_text(text)
    with pytest.raises(PlanFileError, match=message.replace("[", r"\[").replace("(", r"\(")):
        load_fleet_plan(path)


def test_a_second_plan_for_one_portal_is_refused(tmp_path):
    path = tmp_path / "fleet.json"
    save_fleet_plan([_plan(1), _plan(1)], path, "")
    with pytest.raises(PlanFileError, match=r"plans\[1\]: a second plan for portal 1"):
        load_fleet_plan(path)


def test_missing_and_oversized_files(tmp_path):
    assert not is_fleet_plan(tmp_path / "absent.json")
    with pytest.raises(PlanFileError, match="no such saved plan"):
        load_fleet_plan(tmp_path / "absent.json")
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (16 * 1024 * 1024 + 1))
    with pytest.raises(PlanFileError, match="larger than"):
        load_fleet_plan(big)


@settings(max_examples=60, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                    max_leaves=10))
def test_any_json_is_a_fleet_plan_or_one_error(tmp_path_factory, value):
    path = tmp_path_factory.mktemp("any") / "fleet.json"
    path.write_text(json.dumps({"fleet_plan": 1, "plans": [value]}))
    with pytest.raises(PlanFileError):
        load_fleet_plan(path)
