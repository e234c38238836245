"""The pure diff: desired and live state in, one Plan out."""

from __future__ import annotations

import dataclasses

import pytest

from provisioner.diff import diff
from provisioner.manual import Confirmation, apply_confirmations, declared_steps
from provisioner.model import Group, Option, SchemaState, ValidationRule
from provisioner.plan import Plan
from provisioner.planfile import plan_from_dict, plan_to_dict
from tests.engine.builders import GROUP, desired_state, make_config, make_live, prop


def plan_for(live_schema: SchemaState, config=None, hubspot_defined=()) -> Plan:
    config = config or make_config()
    return diff(config, make_live(live_schema, hubspot_defined), declared_steps(config))


def summary(plan: Plan) -> list[tuple[str, str, str, tuple[str, ...]]]:
    return [(c.action, c.kind, c.key, c.fields) for c in plan.changes]


def converged() -> SchemaState:
    d = desired_state()
    return SchemaState(groups=d.groups, properties=d.properties, rules=d.rules)


def with_property(schema: SchemaState, **changes) -> SchemaState:
    name = changes.pop("name", "accord_status")
    props = dict(schema.properties)
    props[name] = dataclasses.replace(props[name], **changes)
    return dataclasses.replace(schema, properties=props)


def test_empty_portal_creates_everything_in_order():
    plan = plan_for(SchemaState())
    assert summary(plan) == [
        ("create", "group", GROUP, ()),
        ("create", "property", "accord_progress", ()),
        ("create", "property", "accord_status", ()),
        ("create", "property", "accord_url", ()),
        ("set_rule", "rule", "accord_url/MAX_LENGTH", ()),
    ]
    assert plan.has_changes
    assert plan.fingerprints["property/accord_url"] == "absent"


def test_converged_portal_has_no_changes_but_keeps_manual_steps():
    plan = plan_for(converged())
    assert plan.changes == ()
    assert not plan.has_changes
    assert [s.id for s in plan.manual_steps] == ["access/accord_status", "access/accord_url", "sidebar"]
    assert len(plan.pending_steps) == 3


CASES = [
    ("label edited", with_property(converged(), label="Status (edited)"),
     [("update", "property", "accord_status", ("label",))]),
    ("description edited", with_property(converged(), description="x"),
     [("update", "property", "accord_status", ("description",))]),
    ("moved to another group", with_property(converged(), group_name="dealinformation"),
     [("update", "property", "accord_status", ("group_name",))]),
    ("field type changed within type", with_property(converged(), field_type="textarea"),
     [("update", "property", "accord_status", ("field_type",))]),
    ("live display order is not managed when undeclared", with_property(converged(), display_order=7), []),
    ("group label edited",
     dataclasses.replace(converged(), groups={GROUP: Group(GROUP, "Old label")}),
     [("update", "group", GROUP, ("label",))]),
    ("rule changed",
     dataclasses.replace(converged(), rules={("accord_url", "MAX_LENGTH"):
                                             ValidationRule("accord_url", "MAX_LENGTH", ("100",))}),
     [("set_rule", "rule", "accord_url/MAX_LENGTH", ("arguments",))]),
    ("rule missing", dataclasses.replace(converged(), rules={}),
     [("set_rule", "rule", "accord_url/MAX_LENGTH", ())]),
]


@pytest.mark.parametrize(("name", "live", "expected"), CASES, ids=[c[0] for c in CASES])
def test_field_differences(name, live, expected):
    assert summary(plan_for(live)) == expected


def test_type_change_is_flagged_risky():
    live = with_property(converged(), name="accord_progress", type="string", field_type="text")
    (change,) = plan_for(live).changes
    assert change.action == "update" and change.risky
    assert change.fields == ("type", "field_type")
    assert change.before["type"] == "string" and change.after["type"] == "number"
    assert "type change string -> number" in change.note


def test_archived_property_is_restored_not_created():
    live = converged()
    props = dict(live.properties)
    archived = props.pop("accord_status")
    live = dataclasses.replace(live, properties=props, archived_properties={"accord_status": archived})
    (change,) = plan_for(live).changes
    assert (change.action, change.key) == ("restore", "accord_status")
    assert plan_for(live).fingerprints["property/accord_status"] != "absent"


def test_undeclared_property_in_group_is_left_alone_with_a_note():
    live = converged()
    extra = prop("accord_legacy", "Legacy")
    live = dataclasses.replace(live, properties={**live.properties, "accord_legacy": extra})
    plan = plan_for(live)
    assert plan.changes == ()
    assert any("accord_legacy" in note and "left alone" in note for note in plan.notes)


def test_tombstone_archives_only_when_live():
    live = converged()
    extra = prop("accord_legacy", "Legacy")
    live_with = dataclasses.replace(live, properties={**live.properties, "accord_legacy": extra})
    config = make_config(tombstones=("accord_legacy",))
    assert summary(plan_for(live_with, config)) == [("archive", "property", "accord_legacy", ())]
    assert plan_for(live, config).changes == ()


def test_rename_is_shown_as_a_new_property():
    live = converged()
    props = dict(live.properties)
    old = props.pop("accord_status")
    props["accord_state"] = dataclasses.replace(old, name="accord_state")
    plan = plan_for(dataclasses.replace(live, properties=props))
    (change,) = plan.changes
    assert (change.action, change.key) == ("create", "accord_status")
    assert "rename of 'accord_state'" in change.note and "stay" in change.note


def test_hubspot_defined_property_is_never_managed():
    live = with_property(converged(), label="HubSpot's own")
    plan = plan_for(live, hubspot_defined={"accord_status"})
    assert plan.changes == ()
    assert any("defined by HubSpot" in note for note in plan.notes)


def test_undeclared_live_rule_is_a_note_not_a_change():
    live = dataclasses.replace(converged(), rules={
        **converged().rules,
        ("accord_status", "MAX_LENGTH"): ValidationRule("accord_status", "MAX_LENGTH", ("50",)),
    })
    plan = plan_for(live)
    assert plan.changes == ()
    assert any("no API to remove a rule" in note for note in plan.notes)


def test_enumeration_options_compared_in_full():
    option_a, option_b = Option("A", "a", 0), Option("B", "b", 1)
    desired = desired_state()
    status = dataclasses.replace(desired.properties["accord_status"], type="enumeration", field_type="select",
                                 options=(option_a, option_b))
    desired = dataclasses.replace(desired, properties={**desired.properties, "accord_status": status})
    live = dataclasses.replace(converged(), properties={
        **converged().properties, "accord_status": dataclasses.replace(status, options=(option_a,))})
    (change,) = plan_for(live, make_config(desired)).changes
    assert change.fields == ("options",)


def test_confirmed_step_matches_digest_only():
    config = make_config()
    steps = declared_steps(config)
    sidebar = next(s for s in steps if s.id == "sidebar")
    good = {"12345678": {"sidebar": Confirmation(sidebar.digest, "2026-11-27T10:00:00Z", "jane")}}
    stale = {"12345678": {"sidebar": Confirmation("0" * 16, "2026-11-27T10:00:00Z", "jane")}}
    other_portal = {"999": {"sidebar": Confirmation(sidebar.digest, "2026-11-27T10:00:00Z", "jane")}}
    assert next(s for s in apply_confirmations(steps, good, 12345678) if s.id == "sidebar").is_confirmed
    assert not next(s for s in apply_confirmations(steps, stale, 12345678) if s.id == "sidebar").is_confirmed
    assert not next(s for s in apply_confirmations(steps, other_portal, 12345678) if s.id == "sidebar").is_confirmed


def test_step_digest_changes_when_declared_order_changes():
    config = make_config()
    reordered = dataclasses.replace(config, sidebar=dataclasses.replace(
        config.sidebar, properties=tuple(reversed(config.sidebar.properties))))
    digest = {s.id: s.digest for s in declared_steps(config)}
    digest2 = {s.id: s.digest for s in declared_steps(reordered)}
    assert digest["sidebar"] != digest2["sidebar"]
    assert digest["access/accord_url"] == digest2["access/accord_url"]


def test_plan_round_trips_through_json():
    plan = plan_for(SchemaState())
    assert plan_from_dict(plan_to_dict(plan)) == plan
