"""provisioner export: the portal's state as a file that validate accepts and plan finds nothing to do with."""

from __future__ import annotations

import yaml

from provisioner.config import load_config, validate_file
from provisioner.model import Option, Property, ValidationRule
from tests.scenarios.harness import run

ENVIRONMENTS = """
environments:
  sandbox:
    portal: {id: 12345678}
    overrides:
      group: {label: Accord (sandbox)}
      properties:
        accord_url: {label: Accord URL (test), access: view_and_edit}
  production:
    portal: {id: 11111111}
"""


def apply_shipped(capsys, portal, *args):
    portal.config()
    result = run(capsys, "apply", "--auto-approve", *args)
    assert result.code == 0, result.err


def test_round_trip_export_validate_plan(capsys, portal):
    apply_shipped(capsys, portal)
    result = run(capsys, "export", "-o", "exported.yaml")
    assert result.code == 0, result.err
    assert "Wrote exported.yaml: 1 group(s), 7 properties from portal 12345678" in result.err
    assert validate_file("exported.yaml") == []
    assert run(capsys, "validate", "-f", "exported.yaml").code == 0
    plan = run(capsys, "plan", "-f", "exported.yaml", "--detailed-exitcode")
    assert plan.code == 0, plan.out
    assert "No changes. The portal matches the file." in plan.out
    text = (portal.workdir / "exported.yaml").read_text()
    assert text.startswith("# Exported by `provisioner export` from HubSpot portal 12345678 at ")
    assert "cannot be read from HubSpot" in text
    # What the portal cannot tell is kept from the file: access, sidebar, sync mapping.
    shipped, exported = load_config("hubspot_schema.yaml"), load_config("exported.yaml")
    assert exported.desired == shipped.desired
    assert (exported.access, exported.sidebar, exported.sync.mapping) == (
        shipped.access, shipped.sidebar, shipped.sync.mapping)


def test_export_to_stdout_and_never_overwrite_without_force(capsys, portal):
    apply_shipped(capsys, portal)
    out = run(capsys, "export")
    assert out.code == 0 and yaml.safe_load(out.out)["group"]["name"] == "accord_customer_collaboration_data"
    target = portal.workdir / "hubspot_schema.yaml"
    before = target.read_text()
    portal.clear_log()
    refused = run(capsys, "export", "-o", "hubspot_schema.yaml")
    assert refused.code == 1
    assert "error: hubspot_schema.yaml exists; not overwriting it" in refused.err
    assert "hint: pass --force" in refused.err
    assert target.read_text() == before
    assert portal.requests() == []  # refused before reading the portal
    forced = run(capsys, "export", "-o", "hubspot_schema.yaml", "--force")
    assert forced.code == 0, forced.err
    assert target.read_text() != before and run(capsys, "plan", "--detailed-exitcode").code == 0


def test_accept_a_ui_change_into_the_file(capsys, portal):
    apply_shipped(capsys, portal)
    client = portal.client()
    client.update_property("accord_status", {"label": "Deal health"})
    client.put_validation_rule(ValidationRule("accord_url", "MAX_LENGTH", ("500",)))
    assert run(capsys, "drift").code == 2
    assert run(capsys, "export", "-o", "hubspot_schema.yaml", "--force").code == 0
    assert run(capsys, "drift").code == 0
    data = yaml.safe_load((portal.workdir / "hubspot_schema.yaml").read_text())
    by_name = {p["name"]: p for p in data["properties"]}
    assert by_name["accord_status"]["label"] == "Deal health"
    assert by_name["accord_url"]["rules"] == {"max_length": 500}


def test_a_property_archived_by_hand_leaves_the_file_with_its_mapping(capsys, portal):
    apply_shipped(capsys, portal)
    portal.client().archive_property("accord_progress")
    result = run(capsys, "export", "-o", "hubspot_schema.yaml", "--force")
    assert result.code == 0, result.err
    assert "Property 'accord_progress' is not an active property of the portal" in result.err
    assert "Sync mapping PROGRESS -> 'accord_progress' dropped" in result.err
    config = load_config("hubspot_schema.yaml")
    assert "accord_progress" not in config.desired.properties
    assert "accord_progress" not in config.sidebar.properties and "PROGRESS" not in config.sync.mapping
    assert run(capsys, "drift").code == 0


def test_without_a_file_a_group_must_be_named(capsys, portal):
    apply_shipped(capsys, portal)
    (portal.workdir / "hubspot_schema.yaml").unlink()
    asked = run(capsys, "export")
    assert asked.code == 1
    assert "name one with --group, or pass --all-custom" in asked.err
    missing = run(capsys, "export", "--group", "no_such_group")
    assert missing.code == 1 and "no deal property group 'no_such_group' in portal 12345678" in missing.err
    result = run(capsys, "export", "--group", "accord_customer_collaboration_data", "-o", "adopted.yaml")
    assert result.code == 0, result.err
    header = " ".join(line[2:].strip() for line in (portal.workdir / "adopted.yaml").read_text().splitlines()
                      if line.startswith("#"))
    assert "cannot be read from HubSpot: they are left out; declare them by hand" in header
    config = load_config("adopted.yaml")
    assert config.portal_id == 12345678 and config.access == {} and config.sidebar is None
    assert run(capsys, "plan", "-f", "adopted.yaml", "--detailed-exitcode").code == 0


def test_all_custom_properties_with_options_and_rules(capsys, portal):
    client = portal.client()
    client.create_group(__import__("provisioner.model", fromlist=["Group"]).Group("ops", "Ops"))
    client.create_property(Property("deal_tier", "Tier", "enumeration", "select", "ops", options=(
        Option("Gold", "gold", 0), Option("Silver", "silver", 1), Option("Old", "old", 5, hidden=True))))
    client.create_property(Property("deal_score", "Score", "number", "number", "ops", description="0-10"))
    client.put_validation_rule(ValidationRule("deal_score", "MAX_NUMBER", ("10.5",)))
    client.put_validation_rule(ValidationRule("deal_score", "DECIMAL", ("1",)))
    (portal.workdir / "hubspot_schema.yaml").unlink(missing_ok=True)
    result = run(capsys, "export", "--all-custom", "-o", "all.yaml")
    assert result.code == 0, result.err
    data = yaml.safe_load((portal.workdir / "all.yaml").read_text())
    by_name = {p["name"]: p for p in data["properties"]}
    assert by_name["deal_score"]["rules"] == {"max_number": 10.5, "decimal": 1}
    assert by_name["deal_tier"]["options"][2] == {"label": "Old", "value": "old", "display_order": 5,
                                                  "hidden": True}
    plan = run(capsys, "plan", "-f", "all.yaml", "--detailed-exitcode")
    assert plan.code == 0, plan.out


def test_environment_export_keeps_the_base_values(capsys, portal):
    config = portal.config()
    config.write_text(config.read_text() + ENVIRONMENTS)
    apply_shipped(capsys, portal, "--env", "sandbox")
    portal.client().update_property("accord_url", {"label": "Accord link (test)"})
    portal.client().update_property("accord_status", {"label": "Status in sandbox"})
    result = run(capsys, "export", "--env", "sandbox", "-o", "hubspot_schema.yaml", "--force")
    assert result.code == 0, result.err
    data = yaml.safe_load(config.read_text())
    by_name = {p["name"]: p for p in data["properties"]}
    # an overridden field changes in the environment's overrides, the base keeps its value
    assert by_name["accord_url"]["label"] == "Accord URL"
    sandbox = data["environments"]["sandbox"]["overrides"]
    assert sandbox["properties"]["accord_url"] == {"label": "Accord link (test)", "access": "view_and_edit"}
    assert data["group"]["label"] == "Accord Customer Collaboration Data"
    assert sandbox["group"] == {"label": "Accord (sandbox)"}
    # a field without an override changes in the base (the export reflects the portal)
    assert by_name["accord_status"]["label"] == "Status in sandbox"
    assert data["environments"]["production"] == {"portal": {"id": 11111111}}
    assert run(capsys, "drift", "--env", "sandbox").code == 0
    assert validate_file("hubspot_schema.yaml", "production") == []


def test_export_refuses_another_portal(capsys, portal):
    config = portal.config()
    config.write_text(config.read_text().replace("  id: null", "  id: 999"))
    result = run(capsys, "export")
    assert result.code == 1 and "is for portal 999, but the token opens portal 12345678" in result.err


def test_export_that_would_not_validate_is_refused(capsys, portal):
    apply_shipped(capsys, portal)
    portal.client().put_validation_rule(ValidationRule("accord_url", "MAX_LENGTH", ("50",)))
    result = run(capsys, "export", "-o", "out.yaml")
    assert result.code == 1
    assert "error: the portal's state does not pass validate: properties[0].rules.max_length" in result.err
    assert not (portal.workdir / "out.yaml").exists()
