"""plan and apply end to end against the emulator, through the CLI."""

from __future__ import annotations

import json

from provisioner.apply import apply_plan
from provisioner.config import load_config
from provisioner.model import Property
from provisioner.planning import make_plan
from tests.scenarios.harness import run

GROUP = "accord_customer_collaboration_data"
NAMES = ["accord_url", "accord_status", "current_stage", "number_of_customers_invited",
         "number_of_customers_accepted", "accord_progress", "accord_execution_score"]


def apply_shipped(capsys, portal):
    portal.config()
    result = run(capsys, "apply", "--auto-approve")
    assert result.code == 0, result.err
    return result


def test_fresh_portal_plan_apply_converge(capsys, portal):
    portal.config()
    plan = run(capsys, "plan", "--detailed-exitcode")
    assert plan.code == 2, plan.err
    assert "+ group accord_customer_collaboration_data will be created" in plan.out
    for name in NAMES:
        assert f"+ property {name} will be created" in plan.out
    assert "+ rule accord_url/MAX_LENGTH will be set" in plan.out
    assert "Plan: 9 to create, 0 to change, 0 to archive; 9 manual step(s) to do by hand." in plan.out
    reads = portal.requests()
    assert len(reads) == 5 and all(r["method"] == "GET" for r in reads)

    portal.clear_log()
    applied = run(capsys, "apply", "--auto-approve")
    assert applied.code == 0, applied.err
    assert "Apply complete: 9 change(s)" in applied.out
    writes = portal.writes()
    # one group create, one batch create of all seven properties, one rule
    assert [(w["method"], w["path"].rsplit("/", 2)[-2:]) for w in writes] == [
        ("POST", ["deals", "groups"]), ("POST", ["batch", "create"]), ("PUT", ["rule-type", "MAX_LENGTH"])]

    portal.clear_log()
    again = run(capsys, "plan", "--detailed-exitcode")
    assert again.code == 0, again.err
    assert "No changes. The portal matches the file." in again.out
    assert "9 manual step(s) to do by hand" in again.out  # manual steps never count as changes

    live = portal.client().list_properties()
    names = [p.property.name for p in live]
    assert all(names.count(n) == 1 for n in NAMES)
    url = next(p.property for p in live if p.property.name == "accord_url")
    assert (url.label, url.type, url.field_type, url.group_name) == ("Accord URL", "string", "text", GROUP)


def test_second_apply_makes_no_writes(capsys, portal):
    apply_shipped(capsys, portal)
    portal.clear_log()
    second = run(capsys, "apply", "--auto-approve")
    assert second.code == 0 and "No changes" in second.out
    assert portal.writes() == []
    assert len(portal.requests()) == 5


def test_label_edited_in_the_ui_is_restored(capsys, portal):
    apply_shipped(capsys, portal)
    portal.client().update_property("accord_status", {"label": "Status (typed by hand)"})
    plan = run(capsys, "plan", "--detailed-exitcode")
    assert plan.code == 2
    assert "~ property accord_status will be updated" in plan.out
    assert 'label: "Status (typed by hand)" -> "Accord Status"' in plan.out
    portal.clear_log()
    assert run(capsys, "apply", "--auto-approve").code == 0
    patches = [w for w in portal.writes() if w["method"] == "PATCH"]
    assert len(patches) == 1 and patches[0]["path"].endswith("/accord_status")
    assert run(capsys, "plan", "--detailed-exitcode").code == 0


def test_property_archived_by_hand_is_restored(capsys, portal):
    apply_shipped(capsys, portal)
    portal.client().archive_property("accord_progress")
    plan = run(capsys, "plan", "--detailed-exitcode")
    assert plan.code == 2 and "+ property accord_progress will be restored" in plan.out
    assert run(capsys, "apply", "--auto-approve").code == 0
    assert run(capsys, "plan", "--detailed-exitcode").code == 0


EXTRA = """
  - name: accord_region
    label: Accord Region
    description: Sales region of the Accord.
    type: {type}
    field_type: {field_type}
"""


def add_extra_property(config, type_, field_type):
    text = config.read_text()
    if "accord_region" in text:
        text = text.replace(EXTRA.format(type="string", field_type="text"), "")
    head, tail = text.split("\n# Step 4", 1)
    config.write_text(head.rstrip("\n") + "\n" + EXTRA.format(type=type_, field_type=field_type)
                      + "\n# Step 4" + tail)


def test_type_change_is_refused_without_the_flag(capsys, portal):
    config = portal.config()
    add_extra_property(config, "string", "text")
    assert run(capsys, "apply", "--auto-approve").code == 0
    add_extra_property(config, "number", "number")
    plan = run(capsys, "plan")
    assert "-/+ property accord_region changes type (risky)" in plan.out, plan.err
    assert 'type: "string" -> "number"' in plan.out
    refused = run(capsys, "apply", "--auto-approve")
    assert refused.code == 1
    assert "changes the type of 'accord_region'" in refused.err and "--allow-type-change" in refused.err
    assert run(capsys, "apply", "--auto-approve", "--allow-type-change").code == 0
    assert run(capsys, "plan", "--detailed-exitcode").code == 0


def test_stale_saved_plan_is_refused(capsys, portal):
    apply_shipped(capsys, portal)
    portal.client().update_property("accord_status", {"label": "Edited"})
    assert run(capsys, "plan", "--out", "plan.json").code == 0
    saved = json.loads((portal.workdir / "plan.json").read_text())
    assert saved["portal_id"] and saved["config_digest"] and "property/accord_status" in saved["fingerprints"]
    assert "test-token" not in (portal.workdir / "plan.json").read_text()
    portal.client().update_property("accord_status", {"label": "Edited again"})
    refused = run(capsys, "apply", "plan.json")
    assert refused.code == 1
    assert "the portal changed since the plan was made: property/accord_status" in refused.err
    # a fresh plan applies, without a prompt
    assert run(capsys, "plan", "--out", "plan.json").code == 0
    assert run(capsys, "apply", "plan.json").code == 0
    assert run(capsys, "plan", "--detailed-exitcode").code == 0


def test_saved_plan_refused_when_the_file_changed(capsys, portal):
    portal.config()
    assert run(capsys, "plan", "--out", "plan.json").code == 0
    config = portal.config()
    config.write_text(config.read_text().replace("label: Accord URL", "label: Accord Link"))
    refused = run(capsys, "apply", "plan.json")
    assert refused.code == 1 and "changed since the plan was made" in refused.err
    assert portal.writes() == []


def test_wrong_portal_is_refused(capsys, portal):
    config = portal.config()
    config.write_text(config.read_text().replace("  id: null", "  id: 999"))
    for command in (["plan"], ["apply", "--auto-approve"]):
        result = run(capsys, *command)
        assert result.code == 1
        assert "is for portal 999, but the token opens portal" in result.err
    assert portal.writes() == []


def test_no_token_and_no_local_names_both(capsys, portal, monkeypatch):
    monkeypatch.delenv("HUBSPOT_ACCESS_TOKEN")
    portal.config()
    result = run(capsys, "plan")
    assert result.code == 1
    assert "HUBSPOT_ACCESS_TOKEN" in result.err and "--local" in result.err
    assert portal.requests() == []


def test_racing_apply_converges_through_409(capsys, portal):
    portal.config()
    config = load_config("hubspot_schema.yaml")
    slow_plan, _ = make_plan(portal.client(), config)
    assert run(capsys, "apply", "--auto-approve").code == 0  # the other apply wins the race
    portal.client().update_property("accord_url", {"label": "Changed by the winner"})
    apply_plan(portal.client(), slow_plan)  # every create meets a 409 and converges
    plan, _ = make_plan(portal.client(), config)
    assert plan.changes == ()
    names = [p.property.name for p in portal.client().list_properties()]
    assert all(names.count(n) == 1 for n in NAMES)


def test_confirmed_manual_steps_stop_asking_until_declared_state_changes(capsys, portal):
    apply_shipped(capsys, portal)
    confirmed = run(capsys, "confirm", "--all", "--by", "jane")
    assert confirmed.code == 0, confirmed.err
    record = (portal.workdir / "hubspot_schema.confirmations.yaml").read_text()
    assert "sidebar:" in record and "confirmed_by: jane" in record
    plan = run(capsys, "plan")
    assert "manual step" not in plan.out.splitlines()[-1]
    assert "[x] sidebar" in plan.out
    config = portal.config()
    config.write_text(config.read_text().replace(
        "    - accord_progress\n    - accord_execution_score\n\n# Step 3",
        "    - accord_execution_score\n    - accord_progress\n\n# Step 3"))
    plan = run(capsys, "plan")
    assert "[ ] sidebar" in plan.out and "1 manual step(s) to do by hand" in plan.out


def test_unknown_manual_step_is_a_usage_error(capsys, portal):
    portal.config()
    result = run(capsys, "confirm", "sidebars")
    assert result.code == 1 and "no such manual step: sidebars" in result.err


def test_property_outside_the_file_is_left_alone(capsys, portal):
    apply_shipped(capsys, portal)
    extra = Property("accord_notes", "Accord notes", "string", "textarea", GROUP, "Someone's own field.")
    portal.client().create_property(extra)
    plan = run(capsys, "plan", "--detailed-exitcode")
    assert plan.code == 0
    assert "Property 'accord_notes' is in group" in plan.out and "left alone" in plan.out


def test_tombstone_needs_allow_archive(capsys, portal):
    apply_shipped(capsys, portal)
    extra = Property("accord_notes", "Accord notes", "string", "textarea", GROUP, "Old field.")
    portal.client().create_property(extra)
    config = portal.config()
    config.write_text(config.read_text().replace("tombstones: []", "tombstones:\n  - accord_notes"))
    plan = run(capsys, "plan")
    assert "- property accord_notes will be archived" in plan.out
    refused = run(capsys, "apply", "--auto-approve")
    assert refused.code == 1 and "--allow-archive" in refused.err
    assert run(capsys, "apply", "--auto-approve", "--allow-archive").code == 0
    assert "accord_notes" not in [p.property.name for p in portal.client().list_properties()]
    assert run(capsys, "plan", "--detailed-exitcode").code == 0


def test_plan_formats(capsys, portal):
    portal.config()
    as_json = run(capsys, "plan", "--format", "json")
    data = json.loads(as_json.out)
    assert data["format_version"] == 2 and data["summary"]["create"] == 8
    markdown = run(capsys, "plan", "--format", "markdown")
    assert markdown.out.startswith("### provisioner plan: 9 to create")
    assert "- [ ] `sidebar`" in markdown.out


def test_v3_paths_work_the_same(capsys, portal, monkeypatch):
    monkeypatch.setenv("HUBSPOT_API_VERSION", "v3")
    apply_shipped(capsys, portal)
    assert all(r["path"].startswith(("/crm/v3/", "/account-info/v3/", "/oauth/")) for r in portal.requests())
    assert run(capsys, "plan", "--detailed-exitcode").code == 0


def test_saved_plan_keeps_its_environment(capsys, portal):
    from tests.pipelines.test_environments import ENVIRONMENTS

    config = portal.config()
    config.write_text(config.read_text() + ENVIRONMENTS)
    assert run(capsys, "plan", "--env", "sandbox", "--out", "plan.json").code == 0
    assert json.loads((portal.workdir / "plan.json").read_text())["environment"] == "sandbox"
    refused = run(capsys, "apply", "plan.json", "--env", "production")
    assert refused.code == 1
    assert "made for environment 'sandbox', not 'production'" in refused.err
    assert portal.writes() == []
    applied = run(capsys, "apply", "plan.json")
    assert applied.code == 0, applied.err
    assert "Accord URL (test)" in applied.out  # the sandbox override


def test_racing_applies_converge_on_restores_and_archives(capsys, portal):
    apply_shipped(capsys, portal)
    client = portal.client()
    client.archive_property("accord_progress")  # to restore
    client.create_property(Property("accord_notes", "Accord notes", "string", "textarea", GROUP, "Old field."))
    config_path = portal.config()
    config_path.write_text(config_path.read_text().replace("tombstones: []", "tombstones:\n  - accord_notes"))
    config = load_config(config_path)
    slow_plan, _ = make_plan(portal.client(), config)
    assert {c.action for c in slow_plan.changes} == {"restore", "archive"}
    assert run(capsys, "apply", "--auto-approve", "--allow-archive").code == 0  # the other apply wins
    done = apply_plan(portal.client(), slow_plan)  # its restore meets a 409, its archive a 404
    assert done == ["restored property 'accord_progress'", "archived property 'accord_notes'"]
    plan, _ = make_plan(portal.client(), config)
    assert plan.changes == ()
