"""Rules of the pure diff that hold for every declared and live state (Hypothesis).

- The plan is in apply's order (groups, creates, restores, updates, rules, archives), once.
- Carrying out exactly the plan's changes on the live state leaves nothing to do: diff again is empty.
- A saved plan reads back equal to the plan (every change type, option records included).
"""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from provisioner.changes import (
    ArchiveProperty,
    ChangeRule,
    CreateGroup,
    CreateProperty,
    RestoreProperty,
    SetRule,
    UpdateGroup,
    UpdateProperty,
    group_from_fields,
    property_from_fields,
    rule_from_fields,
)
from provisioner.diff import diff
from provisioner.model import Group, Option, Property, SchemaState, ValidationRule
from provisioner.planfile import plan_from_dict, plan_to_dict
from tests.engine.builders import GROUP, make_config, make_live

NAMES = ["p_a", "p_b", "p_c", "p_d"]
LABELS = st.sampled_from(["A", "B", "C"])
OPTIONS = st.dictionaries(st.sampled_from(["x", "y", "z"]), st.tuples(LABELS, st.integers(0, 2), st.booleans()),
                          min_size=1, max_size=3).map(
    lambda keyed: tuple(Option(label, value, order, hidden) for value, (label, order, hidden) in keyed.items()))


@st.composite
def properties(draw, name):
    kind = draw(st.sampled_from(["text", "number", "select"]))
    type_, field_type = {"text": ("string", "text"), "number": ("number", "number"),
                         "select": ("enumeration", "select")}[kind]
    return Property(name, draw(LABELS), type_, field_type, GROUP, draw(st.sampled_from(["", "d"])),
                    draw(st.none() | st.integers(0, 3)), draw(OPTIONS) if kind == "select" else ())


@st.composite
def states(draw):
    declared = {name: draw(properties(name)) for name in draw(st.sets(st.sampled_from(NAMES), min_size=1))}
    rules = {(name, "MAX_LENGTH"): ValidationRule(name, "MAX_LENGTH", (draw(st.sampled_from(["5", "9"])),))
             for name, prop in declared.items() if prop.type == "string" and draw(st.booleans())}
    desired = SchemaState(groups={GROUP: Group(GROUP, draw(LABELS), draw(st.none() | st.integers(0, 2)))},
                          properties=declared, rules=rules)
    live_props, archived = {}, {}
    for name in NAMES:
        where = draw(st.sampled_from(["missing", "active", "archived"]))
        if where != "missing":
            (live_props if where == "active" else archived)[name] = draw(properties(name))
    live_rules = {key: ValidationRule(key[0], "MAX_LENGTH", (draw(st.sampled_from(["5", "9"])),))
                  for key in rules if draw(st.booleans())}
    groups = {GROUP: Group(GROUP, draw(LABELS), draw(st.none() | st.integers(0, 2)))} if draw(st.booleans()) else {}
    live = SchemaState(groups=groups, properties=live_props, rules=live_rules, archived_properties=archived)
    tombstones = tuple(name for name in NAMES if name not in declared and draw(st.booleans()))
    return make_config(desired, access={}, sidebar=None, tombstones=tombstones), live


def carry_out(plan, live: SchemaState) -> SchemaState:
    """What HubSpot holds after the plan's changes, done exactly as apply asks for them."""
    groups, props = dict(live.groups), dict(live.properties)
    rules, archived = dict(live.rules), dict(live.archived_properties)
    for change in plan.changes:
        if isinstance(change, CreateGroup):
            groups[change.key] = group_from_fields(change.after)
        elif isinstance(change, UpdateGroup):
            groups[change.key] = dataclasses.replace(groups[change.key],
                                                     **{f: change.after[f] for f in change.fields})
        elif isinstance(change, (CreateProperty, RestoreProperty)):
            archived.pop(change.key, None)
            props[change.key] = property_from_fields(change.after)
        elif isinstance(change, UpdateProperty):
            wanted = property_from_fields(change.after)
            props[change.key] = dataclasses.replace(props[change.key],
                                                    **{f: getattr(wanted, f) for f in change.fields})
        elif isinstance(change, (SetRule, ChangeRule)):
            rule = rule_from_fields(change.after)
            rules[rule.key] = rule
        else:
            assert isinstance(change, ArchiveProperty)
            archived[change.key] = props.pop(change.key)
    return SchemaState(groups=groups, properties=props, rules=rules, archived_properties=archived)


@settings(max_examples=300, deadline=None)
@given(states())
def test_carrying_out_the_plan_leaves_nothing_to_do(case):
    config, live = case
    plan = diff(config, make_live(live), [])
    ranks = [change.rank for change in plan.changes]
    assert ranks == sorted(ranks)
    again = diff(config, make_live(carry_out(plan, live)), [])
    assert again.changes == (), [c.address for c in again.changes]
    assert plan_from_dict(plan_to_dict(plan)) == plan
