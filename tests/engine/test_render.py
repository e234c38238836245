"""Golden tests for the three renderings of one Plan (set UPDATE_GOLDEN=1 to rewrite them)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from provisioner.changes import UpdateProperty
from provisioner.diff import diff
from provisioner.manual import Confirmation, apply_confirmations, declared_steps
from provisioner.model import Group, SchemaState, ValidationRule
from provisioner.render.plan import render_json, render_markdown, render_text
from tests import golden
from tests.engine.builders import GROUP, desired_state, make_config, make_live, prop

GOLDEN = Path(__file__).parent / "golden"


def mixed_plan():
    """A plan with one of each kind of change, a confirmed and a pending manual step, and notes."""
    desired = desired_state()
    live_props = dict(desired.properties)
    live_props["accord_status"] = dataclasses.replace(live_props["accord_status"], label="Status (edited by hand)")
    live_props["accord_progress"] = dataclasses.replace(live_props["accord_progress"], type="string",
                                                        field_type="text")
    archived = live_props.pop("accord_url")
    live_props["accord_legacy"] = prop("accord_legacy", "Legacy field")
    live = SchemaState(
        groups={GROUP: Group(GROUP, "Accord data")},
        properties=live_props,
        rules={("accord_url", "MAX_LENGTH"): ValidationRule("accord_url", "MAX_LENGTH", ("100",))},
        archived_properties={"accord_url": archived},
    )
    config = make_config(tombstones=("accord_legacy",))
    steps = declared_steps(config)
    sidebar = next(s for s in steps if s.id == "sidebar")
    confirmed = {"12345678": {"sidebar": Confirmation(sidebar.digest, "2026-11-20T09:00:00Z", "jane")}}
    plan = diff(config, make_live(live), apply_confirmations(steps, confirmed, 12345678),
                created_at="2026-11-27T10:00:00Z")
    return plan


def empty_plan():
    d = desired_state()
    live = SchemaState(groups=d.groups, properties=d.properties, rules=d.rules)
    config = make_config(access={}, sidebar=None)
    return diff(config, make_live(live), [], created_at="2026-11-27T10:00:00Z")


def check_golden(name: str, text: str) -> None:
    golden.check_golden(GOLDEN, name, text)


@pytest.mark.parametrize(("name", "make"), [("mixed", mixed_plan), ("empty", empty_plan)])
def test_text(name, make):
    check_golden(f"{name}.txt", render_text(make()))


@pytest.mark.parametrize(("name", "make"), [("mixed", mixed_plan), ("empty", empty_plan)])
def test_markdown(name, make):
    check_golden(f"{name}.md", render_markdown(make()))


@pytest.mark.parametrize(("name", "make"), [("mixed", mixed_plan), ("empty", empty_plan)])
def test_json(name, make):
    text = render_json(make())
    check_golden(f"{name}.json", text)
    data = json.loads(text)
    assert data["format_version"] == 2
    assert data["summary"]["has_changes"] is (name == "mixed")


def test_colour_only_when_asked():
    plan = mixed_plan()
    assert "\033[" not in render_text(plan)
    coloured = render_text(plan, colour=True)
    assert "\033[32m" in coloured and "\033[31m" in coloured and "\033[35m" in coloured


def test_markdown_stays_within_githubs_comment_limit():
    plan = mixed_plan()
    update = next(change for change in plan.changes if isinstance(change, UpdateProperty))
    many = tuple(dataclasses.replace(update, key=f"accord_p{i:04d}") for i in range(3000))
    big = dataclasses.replace(plan, changes=many)
    text = render_markdown(big)
    assert len(text) <= 65_536
    assert text.startswith("### provisioner plan: 0 to create, 3000 to change")
    assert "too long for one comment" in text
