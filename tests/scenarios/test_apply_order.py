"""What the plan shows is what apply does: the writes reach HubSpot in the order the plan lists them."""

from __future__ import annotations

import json

from provisioner.changes import (
    ArchiveProperty,
    ChangeRule,
    CreateGroup,
    CreateProperty,
    RestoreProperty,
    SetRule,
    UpdateGroup,
    UpdateProperty,
)
from provisioner.model import Property, ValidationRule
from provisioner.planfile import load_plan
from tests.scenarios.harness import run
from tests.scenarios.test_plan_apply import GROUP, add_extra_property, apply_shipped


def expected_write(change) -> tuple[str, str]:
    """The request a change makes: (method, the path's tail that names it)."""
    if isinstance(change, CreateGroup):
        return ("POST", "deals/groups")
    if isinstance(change, UpdateGroup):
        return ("PATCH", f"groups/{change.key}")
    if isinstance(change, CreateProperty):
        return ("POST", "batch/create")
    if isinstance(change, RestoreProperty):
        return ("POST", "/deals")
    if isinstance(change, UpdateProperty):
        return ("PATCH", f"deals/{change.key}")
    if isinstance(change, (SetRule, ChangeRule)):
        name, rule_type = change.key.split("/")
        return ("PUT", f"{name}/rule-type/{rule_type}")
    assert isinstance(change, ArchiveProperty)
    return ("DELETE", f"deals/{change.key}")


def test_apply_writes_in_the_order_the_plan_shows(capsys, portal):
    apply_shipped(capsys, portal)
    client = portal.client()
    client.update_group(GROUP, {"label": "Renamed by hand"})
    client.archive_property("accord_progress")
    client.update_property("accord_status", {"label": "Edited by hand"})
    client.put_validation_rule(ValidationRule("accord_url", "MAX_LENGTH", ("100",)))
    client.create_property(Property("accord_notes", "Accord notes", "string", "textarea", GROUP, "Old."))
    config = portal.config()
    config.write_text(config.read_text().replace("tombstones: []", "tombstones:\n  - accord_notes"))
    add_extra_property(config, "string", "text")

    assert run(capsys, "plan", "--out", "plan.json").code == 0
    plan = load_plan(portal.workdir / "plan.json")
    kinds = [type(change) for change in plan.changes]
    assert kinds == [UpdateGroup, CreateProperty, RestoreProperty, UpdateProperty, ChangeRule, ArchiveProperty]
    shown = run(capsys, "plan").out
    positions = [shown.index(f"{change.kind} {change.key} will") for change in plan.changes]
    assert positions == sorted(positions)  # the text lists them in the plan's order too

    portal.clear_log()
    applied = run(capsys, "apply", "plan.json", "--allow-archive")
    assert applied.code == 0, applied.err
    writes = [(w["method"], w["path"]) for w in portal.writes()]
    assert len(writes) == len(plan.changes)
    for (method, path), change in zip(writes, plan.changes, strict=True):
        want_method, want_tail = expected_write(change)
        assert method == want_method and path.endswith(want_tail), (method, path, change.address)
    done = applied.out.split("Apply complete")[0].splitlines()[-len(writes):]  # what apply says it did, in order
    assert all(change.key in line for line, change in zip(done, plan.changes, strict=True)), done
    assert json.loads((portal.workdir / "plan.json").read_text())["changes"][0]["action"] == "update"
    assert run(capsys, "plan", "--detailed-exitcode").code == 0
