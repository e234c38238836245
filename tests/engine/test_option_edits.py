"""Enumeration option edits: diffed keyed by value and shown exactly, in the plan and in drift, in every format.

One golden file per kind of edit (label, hidden, order, added, removed) per format, for the plan
and for the drift report (tests/engine/golden/options/).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from provisioner.changes import ADDED, CHANGED, REMOVED, OptionChange, UpdateProperty, diff_options
from provisioner.diff import diff
from provisioner.drift import drift_report
from provisioner.model import Option, SchemaState
from provisioner.render import drift as drift_render
from provisioner.render import plan as plan_render
from tests import golden
from tests.engine.builders import desired_state, make_config, make_live

GOLDEN = Path(__file__).parent / "golden" / "options"
SUFFIX = {"text": "txt", "markdown": "md", "json": "json"}
OPTIONS = (Option("On track", "on_track", 0), Option("At risk", "at_risk", 1), Option("Stalled", "stalled", 2))


CASES = {
    "label": (OPTIONS[0], dataclasses.replace(OPTIONS[1], label="At Risk!"), OPTIONS[2]),
    "hidden": (OPTIONS[0], OPTIONS[1], dataclasses.replace(OPTIONS[2], hidden=True)),
    "order": (dataclasses.replace(OPTIONS[1], display_order=0), dataclasses.replace(OPTIONS[0], display_order=1),
              OPTIONS[2]),
    "added": (OPTIONS[0], OPTIONS[1]),  # the portal lacks 'stalled': the plan adds it
    "removed": OPTIONS + (Option("Paused", "paused", 3),),  # the portal has 'paused': the plan removes it
}
EXPECTED = {
    "label": [OptionChange("at_risk", CHANGED, {"label": "At Risk!", "display_order": 1, "hidden": False},
                           {"label": "At risk", "display_order": 1, "hidden": False}, ("label",))],
    "hidden": [OptionChange("stalled", CHANGED, {"label": "Stalled", "display_order": 2, "hidden": True},
                            {"label": "Stalled", "display_order": 2, "hidden": False}, ("hidden",))],
    "order": [OptionChange("on_track", CHANGED, {"label": "On track", "display_order": 1, "hidden": False},
                           {"label": "On track", "display_order": 0, "hidden": False}, ("display_order",)),
              OptionChange("at_risk", CHANGED, {"label": "At risk", "display_order": 0, "hidden": False},
                           {"label": "At risk", "display_order": 1, "hidden": False}, ("display_order",))],
    "added": [OptionChange("stalled", ADDED, None, {"label": "Stalled", "display_order": 2, "hidden": False})],
    "removed": [OptionChange("paused", REMOVED, {"label": "Paused", "display_order": 3, "hidden": False}, None)],
}


def plan_for(case: str):
    desired = desired_state()
    status = dataclasses.replace(desired.properties["accord_status"], type="enumeration", field_type="select",
                                 options=OPTIONS)
    declared = dataclasses.replace(desired, properties={**desired.properties, "accord_status": status})
    live_status = dataclasses.replace(status, options=CASES[case])
    live = SchemaState(groups=declared.groups, properties={**declared.properties, "accord_status": live_status},
                       rules=declared.rules)
    config = make_config(declared, access={}, sidebar=None)
    return diff(config, make_live(live), [], created_at="2026-11-27T10:00:00Z")


@pytest.mark.parametrize("case", CASES)
def test_options_are_diffed_keyed_by_value(case):
    (change,) = plan_for(case).changes
    assert isinstance(change, UpdateProperty) and change.fields == ("options",)
    assert list(change.options) == EXPECTED[case]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_plan_shows_each_option_edit(case, fmt):
    text = plan_render.RENDERERS[fmt](plan_for(case))
    golden.check_golden(GOLDEN, f"plan_{case}.{SUFFIX[fmt]}", text)
    assert "[on_track, at_risk, stalled] -> [on_track, at_risk, stalled]" not in text
    for option in EXPECTED[case]:
        assert f"options[{option.value}]" in text or f'"value": "{option.value}"' in text


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_drift_shows_each_option_edit(case, fmt):
    report = drift_report(plan_for(case), checked_at="2026-11-27T03:00:00Z")
    text = drift_render.RENDERERS[fmt](report)
    golden.check_golden(GOLDEN, f"drift_{case}.{SUFFIX[fmt]}", text)
    for option in EXPECTED[case]:
        assert f"options[{option.value}]" in text


def test_json_plan_lists_option_changes_with_before_and_after():
    data = json.loads(plan_render.render_json(plan_for("label")))
    (change,) = data["changes"]
    assert change["options"] == [{"value": "at_risk", "change": "changed", "fields": ["label"],
                                  "before": {"label": "At Risk!", "display_order": 1, "hidden": False},
                                  "after": {"label": "At risk", "display_order": 1, "hidden": False}}]


def test_list_position_alone_is_no_change():
    """HubSpot shows options by display order: the same options listed in another order are equal."""
    as_dicts = [dataclasses.asdict(o) for o in OPTIONS]
    assert diff_options(as_dicts, list(reversed(as_dicts))) == ()
