"""The pure drift report: built from a plan, rendered as text, JSON and markdown."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from provisioner.diff import diff
from provisioner.drift import (
    ARCHIVED,
    CHANGED,
    MISSING,
    STILL_ACTIVE,
    drift_report,
    fix_commands,
)
from provisioner.manual import declared_steps
from provisioner.model import Group, SchemaState, ValidationRule
from provisioner.render.drift import render_json, render_markdown, render_text
from tests.engine.builders import GROUP, desired_state, make_config, make_live, prop

CHECKED = "2026-11-27T03:00:00Z"


def live_like(desired: SchemaState, **changes) -> SchemaState:
    values = dict(groups=dict(desired.groups), properties=dict(desired.properties), rules=dict(desired.rules),
                  archived_properties={})
    for key, value in changes.items():
        values[key].update(value) if isinstance(value, dict) else None
    return SchemaState(**values)


def report_for(live_schema: SchemaState, config=None, steps=None):
    config = config or make_config()
    steps = declared_steps(config) if steps is None else steps
    return drift_report(diff(config, make_live(live_schema), steps), checked_at=CHECKED)


def test_no_drift_when_the_portal_matches():
    report = report_for(live_like(desired_state()))
    assert not report.has_drift
    assert report.headline() == "No drift: HubSpot portal 12345678 matches hubspot_schema.yaml"
    data = json.loads(render_json(report))
    assert data["status"] == "no_drift" and data["drift"] == [] and data["fix"] is None
    # Manual settings are listed apart and never make it drift.
    assert [c["id"] for c in data["manual_checks"]] == ["access/accord_status", "access/accord_url", "sidebar"]
    assert {c["status"] for c in data["manual_checks"]} == {"never confirmed"}


def test_label_edited_names_the_declared_and_the_live_value():
    desired = desired_state()
    edited = replace(desired.properties["accord_status"], label="Status (typed by hand)")
    report = report_for(live_like(desired, properties={"accord_status": edited}))
    (item,) = report.items
    assert (item.kind, item.key, item.state) == ("property", "accord_status", CHANGED)
    assert [(f.field, f.declared, f.live) for f in item.fields] == [
        ("label", "Accord Status", "Status (typed by hand)")]
    assert 'label: file "Accord Status", portal "Status (typed by hand)"' in render_text(report)


def test_property_archived_by_hand():
    desired = desired_state()
    props = {k: v for k, v in desired.properties.items() if k != "accord_progress"}
    live = SchemaState(groups=desired.groups, properties=props, rules=desired.rules,
                       archived_properties={"accord_progress": desired.properties["accord_progress"]})
    (item,) = report_for(live).items
    assert (item.key, item.state) == ("accord_progress", ARCHIVED)
    assert [(f.field, f.declared, f.live) for f in item.fields] == [("state", "active", "archived")]


def test_property_deleted_and_purged_is_missing():
    desired = desired_state()
    props = {k: v for k, v in desired.properties.items() if k != "accord_url"}
    rules = {}
    (item, rule) = report_for(SchemaState(groups=desired.groups, properties=props, rules=rules)).items
    assert (item.key, item.state) == ("accord_url", MISSING)
    assert [(f.field, f.declared, f.live) for f in item.fields] == [
        ("label", "Accord URL", None), ("type", "string", None), ("group_name", GROUP, None)]
    assert (rule.kind, rule.key, rule.state) == ("rule", "accord_url/MAX_LENGTH", MISSING)


def test_validation_rule_changed():
    desired = desired_state()
    rule = ValidationRule("accord_url", "MAX_LENGTH", ("50",))
    (item,) = report_for(live_like(desired, rules={rule.key: rule})).items
    assert (item.kind, item.key, item.state) == ("rule", "accord_url/MAX_LENGTH", CHANGED)
    assert [(f.field, f.declared, f.live) for f in item.fields] == [("arguments", ["255"], ["50"])]


def test_group_label_changed_and_tombstone_still_active():
    desired = desired_state()
    old = prop("accord_legacy", "Legacy")
    live = live_like(desired, groups={GROUP: Group(GROUP, "Renamed by hand")}, properties={"accord_legacy": old})
    report = report_for(live, config=make_config(tombstones=("accord_legacy",)))
    states = {(i.kind, i.key): i.state for i in report.items}
    assert states == {("group", GROUP): CHANGED, ("property", "accord_legacy"): STILL_ACTIVE}


def test_type_change_is_flagged_risky():
    desired = desired_state()
    changed = replace(desired.properties["accord_progress"], type="string", field_type="text")
    report = report_for(live_like(desired, properties={"accord_progress": changed}))
    (item,) = report.items
    assert item.risky and "type" in [f.field for f in item.fields]
    assert "--allow-type-change" in render_markdown(report)


def test_confirmed_manual_step_shows_when_and_by_whom():
    config = make_config()
    steps = [replace(s, confirmed_at="2026-11-01T10:00:00Z", confirmed_by="dana") if s.id == "sidebar" else s
             for s in declared_steps(config)]
    report = report_for(live_like(desired_state()), config=config, steps=steps)
    assert "sidebar: Show the sidebar section" in render_text(report)
    assert "(last confirmed 2026-11-01T10:00:00Z by dana)" in render_text(report)
    assert not report.has_drift


@pytest.mark.parametrize(("path", "env", "restore", "accept"), [
    ("hubspot_schema.yaml", None, "provisioner plan && provisioner apply",
     "provisioner export -o hubspot_schema.yaml --force"),
    ("hubspot_schema.yaml", "production", "provisioner plan --env production && provisioner apply --env production",
     "provisioner export --env production -o hubspot_schema.yaml --force"),
    ("conf/my portal.yaml", None, "provisioner plan -f 'conf/my portal.yaml' && provisioner apply -f "
     "'conf/my portal.yaml'", "provisioner export -f 'conf/my portal.yaml' -o 'conf/my portal.yaml' --force"),
])
def test_fix_commands_name_the_file_and_environment(path, env, restore, accept):
    assert fix_commands(path, env) == (restore, accept)


def test_json_report_shape():
    desired = desired_state()
    edited = replace(desired.properties["accord_status"], label="X")
    data = json.loads(render_json(report_for(live_like(desired, properties={"accord_status": edited}))))
    assert data["format_version"] == 1 and data["status"] == "drift"
    assert data["summary"] == {"drifted_objects": 1, "drifted_fields": 1, "manual_checks": 3,
                               "manual_never_confirmed": 3}
    assert data["drift"] == [{"kind": "property", "key": "accord_status", "state": "changed",
                              "summary": "Property 'accord_status' was changed in HubSpot (label)",
                              "risky": False, "fields": [{"field": "label", "declared": "Accord Status",
                                                          "live": "X"}]}]
    assert data["fix"]["restore"].startswith("provisioner plan")
    assert data["checked_at"] == CHECKED and data["portal_id"] == 12345678
