"""Golden tests for the markdown of drift (an issue body) and of a plan (a pull-request comment).

Set UPDATE_GOLDEN=1 to rewrite them after a deliberate change, then review the diff.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from provisioner.diff import diff
from provisioner.drift import drift_report
from provisioner.manual import declared_steps
from provisioner.model import Group, SchemaState, ValidationRule
from provisioner.render.drift import render_error_markdown, render_markdown, render_text
from provisioner.render.plan import render_markdown as render_plan_markdown
from tests import golden
from tests.engine.builders import GROUP, desired_state, make_config, make_live, prop

GOLDEN = Path(__file__).parent / "golden"
CHECKED = "2026-11-27T03:00:00Z"


def drifted_live() -> SchemaState:
    desired = desired_state()
    props = dict(desired.properties)
    props["accord_status"] = replace(props["accord_status"], label="Status | typed by hand")
    archived = {"accord_progress": props.pop("accord_progress")}
    props["accord_notes"] = prop("accord_notes", "Notes")
    rule = ValidationRule("accord_url", "MAX_LENGTH", ("50",))
    extra = ValidationRule("accord_status", "MIN_LENGTH", ("2",))
    return SchemaState(groups={GROUP: Group(GROUP, "Accord (renamed)")}, properties=props,
                       rules={rule.key: rule, extra.key: extra}, archived_properties=archived)


def make_plan(live: SchemaState, environment=None):
    config = make_config(environment=environment, portal_id=12345678 if environment else None)
    steps = declared_steps(config)
    steps = [replace(s, confirmed_at="2026-11-01T10:00:00Z", confirmed_by="dana") if s.id == "sidebar" else s
             for s in steps]
    return diff(config, make_live(live), steps, created_at=CHECKED)


def drifted():
    return drift_report(make_plan(drifted_live(), "production"), checked_at=CHECKED)


def clean():
    desired = desired_state()
    live = SchemaState(groups=desired.groups, properties=desired.properties, rules=desired.rules)
    return drift_report(make_plan(live), checked_at=CHECKED)


def check_golden(name: str, text: str) -> None:
    golden.check_golden(GOLDEN, name, text)


@pytest.mark.parametrize(("name", "make"), [("drift_drifted", drifted), ("drift_clean", clean)])
def test_drift_markdown(name, make):
    check_golden(f"{name}.md", render_markdown(make()))


@pytest.mark.parametrize(("name", "make"), [("drift_drifted", drifted), ("drift_clean", clean)])
def test_drift_text(name, make):
    check_golden(f"{name}.txt", render_text(make()))


def test_drift_error_markdown():
    text = render_error_markdown("could not reach http://127.0.0.1:9 (GET /account-info/2026-03/details): "
                                 "ConnectionError", "check HUBSPOT_BASE_URL and the network", checked_at=CHECKED)
    check_golden("drift_error.md", text)


def test_plan_markdown_for_an_environment():
    """The pull-request comment the plan workflow posts, for one environment."""
    check_golden("plan_production.md", render_plan_markdown(make_plan(drifted_live(), "production")))
