"""Before apply writes: a saved plan must be for this portal, this file, and the portal as it is now."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provisioner.changes import ADDED, CHANGED, OPTION_FIELDS, REMOVED, diff_options
from provisioner.diff import diff
from provisioner.errors import PortalGuardError, StalePlanError
from provisioner.guards import check_fresh, explain_moves
from provisioner.manual import declared_steps
from provisioner.model import SchemaState
from tests.engine.builders import desired_state, make_config, make_live


def live_with(label: str) -> SchemaState:
    desired = desired_state()
    props = dict(desired.properties)
    props["accord_status"] = dataclasses.replace(props["accord_status"], label=label)
    return SchemaState(groups=desired.groups, properties=props, rules=desired.rules)


def plan_against(schema: SchemaState, config=None):
    config = config or make_config()
    live = make_live(schema)
    return diff(config, live, declared_steps(config)), live, config


def test_a_saved_plan_for_another_portal_is_a_portal_guard_error():
    saved, live, config = plan_against(live_with("Edited"))
    other = dataclasses.replace(live, portal_id=999)
    with pytest.raises(PortalGuardError, match="made for portal 12345678, but the token opens portal 999"):
        check_fresh(saved, config, other, saved)


def refusal(saved, config, live, current) -> str:
    with pytest.raises(StalePlanError) as caught:
        check_fresh(saved, config, live, current)
    return str(caught.value)


def test_the_portal_moved_names_the_object_and_the_field():
    saved, _, config = plan_against(live_with("Edited"))
    current, live, _ = plan_against(live_with("Edited again"))
    assert refusal(saved, config, live, current) == ('the portal changed since the plan was made: property/accord_status: '
                                 'label in the portal "Edited" -> "Edited again"')


def test_fixed_by_hand_meanwhile_says_it_no_longer_differs():
    saved, _, config = plan_against(live_with("Edited"))
    current, live, _ = plan_against(live_with("Accord Status"))
    assert current.changes == ()
    with pytest.raises(StalePlanError, match="property/accord_status: no longer differs"):
        check_fresh(saved, config, live, current)


def test_the_file_changed_names_what_it_changes():
    saved, _, config = plan_against(live_with("Edited"))
    desired = desired_state()
    props = dict(desired.properties)
    props["accord_status"] = dataclasses.replace(props["accord_status"], label="Status")
    edited = dataclasses.replace(config, digest="e" * 64, desired=dataclasses.replace(desired, properties=props))
    current, live, _ = plan_against(live_with("Edited"), edited)
    assert refusal(saved, edited, live, current) == ('hubspot_schema.yaml changed since the plan was made: property/accord_status: '
                                 'label in the file "Accord Status" -> "Status"')


def test_a_hand_edited_plan_file_is_refused():
    saved, live, config = plan_against(live_with("Edited"))
    (change,) = saved.changes
    forged = dataclasses.replace(change, after={**change.after, "label": "Something else"})
    tampered = dataclasses.replace(saved, changes=(forged,))
    with pytest.raises(StalePlanError, match="was it edited.*label in the file \"Something else\" -> \"Accord"):
        check_fresh(tampered, config, live, saved)


def test_a_fresh_plan_passes():
    saved, live, config = plan_against(live_with("Edited"))
    current, _, _ = plan_against(live_with("Edited"))
    check_fresh(saved, config, live, current)
    assert explain_moves(saved, current) == []


OPTION = st.fixed_dictionaries({"label": st.sampled_from(["A", "B", "Ä"]), "display_order": st.integers(0, 3),
                                 "hidden": st.booleans()})
OPTIONS = st.dictionaries(st.sampled_from(["a", "b", "c", "d", "e"]), OPTION, max_size=5).map(
    lambda keyed: [{"value": value, **fields} for value, fields in keyed.items()])


@settings(max_examples=300, deadline=None)
@given(OPTIONS, OPTIONS)
def test_option_diff_agrees_with_a_plain_keyed_comparison(before, after):
    """The DeepDiff-made records say exactly what a field-by-field comparison says."""
    old = {o["value"]: o for o in before}
    new = {o["value"]: o for o in after}
    records = diff_options(before, after)
    assert {r.value for r in records if r.change == REMOVED} == set(old) - set(new)
    assert {r.value for r in records if r.change == ADDED} == set(new) - set(old)
    changed = {r.value: set(r.fields) for r in records if r.change == CHANGED}
    assert changed == {v: {f for f in OPTION_FIELDS if old[v][f] != new[v][f]} for v in set(old) & set(new)
                       if any(old[v][f] != new[v][f] for f in OPTION_FIELDS)}
    assert (records == ()) == (old == new)
