"""One file, several portals: the environment is chosen by --env or PROVISIONER_ENV and recorded in the plan."""

from __future__ import annotations

import json

from tests.scenarios.harness import run

ENVIRONMENTS = """
environments:
  sandbox:
    portal: {id: 12345678}
    overrides:
      properties:
        accord_url: {label: Accord URL (test)}
  production:
    portal: {id: 11111111}
"""


def test_saved_plan_records_its_environment_and_apply_uses_it(capsys, portal, monkeypatch):
    config = portal.config()
    config.write_text(config.read_text() + ENVIRONMENTS)
    monkeypatch.setenv("PROVISIONER_ENV", "sandbox")
    planned = run(capsys, "plan", "--out", "plan.json", "--format", "json")
    assert planned.code == 0, planned.err
    saved = json.loads((portal.workdir / "plan.json").read_text())
    assert saved["environment"] == "sandbox" and saved["portal_id"] == 12345678
    monkeypatch.delenv("PROVISIONER_ENV")
    applied = run(capsys, "apply", "plan.json")
    assert applied.code == 0, applied.err
    assert run(capsys, "drift", "--env", "sandbox").code == 0
    labels = {p.property.name: p.property.label for p in portal.client().list_properties()}
    assert labels["accord_url"] == "Accord URL (test)"


def test_the_flag_wins_over_the_variable_and_the_guard_holds(capsys, portal, monkeypatch):
    config = portal.config()
    config.write_text(config.read_text() + ENVIRONMENTS)
    monkeypatch.setenv("PROVISIONER_ENV", "sandbox")
    refused = run(capsys, "plan", "--env", "production")
    assert refused.code == 1
    assert "(environment production) is for portal 11111111, but the token opens portal 12345678" in refused.err
    unknown = run(capsys, "drift", "--env", "staging", "--format", "json")
    assert unknown.code == 1 and json.loads(unknown.out)["status"] == "error"
    assert "unknown environment 'staging' (known: sandbox, production)" in unknown.err
