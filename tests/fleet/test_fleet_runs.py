"""plan/apply/drift --all-portals: every registered portal, one summary, one failure never stops the rest."""

from __future__ import annotations

import json
import shutil

import pytest

from provisioner.hubspot.client import HubSpotClient
from tests.fleet.portals import hub_fixture  # noqa: F401 - the fixture
from tests.scenarios.harness import SHIPPED, run

A, B, C = 41, 42, 43


@pytest.fixture
def three(hub, capsys, tmp_path, monkeypatch):
    """Three portals in the emulator, each registered with its own token variable, and the shipped file."""
    for portal_id in (A, B, C):
        hub.add_portal(portal_id, token=f"pat-{portal_id}-secret")
        monkeypatch.setenv(f"TOKEN_{portal_id}", f"pat-{portal_id}-secret")
        assert run(capsys, "portals", "add", str(portal_id), "--name", f"client {portal_id}",
                   "--token-env", f"TOKEN_{portal_id}").code == 0
    shutil.copy(SHIPPED, tmp_path / "hubspot_schema.yaml")
    monkeypatch.setenv("PROVISIONER_MAX_RETRIES", "0")
    return hub


def client(hub, portal_id: int) -> HubSpotClient:
    return HubSpotClient(hub.base_url, f"pat-{portal_id}-secret", sleep=lambda s: None)


def summary_rows(out: str) -> dict[str, dict[str, str]]:
    """The summary table by portal id: each column's cell, read at the header's positions."""
    lines = out.splitlines()
    names = ["PORTAL", "NAME", "CREATES", "UPDATES", "MANUAL", "RESULT"]
    assert lines[0].split() == names
    starts = [lines[0].index(name) for name in names] + [None]
    rows = {}
    for line in lines[1:]:
        if not line[:1].isdigit():
            break
        cells = {name.lower(): line[starts[i]:starts[i + 1]].strip() for i, name in enumerate(names)}
        rows[cells["portal"]] = cells
    return rows


def test_plan_all_portals_summary_and_exit_2(three, capsys, tmp_path):
    result = run(capsys, "plan", "--all-portals", "--concurrency", "2", "--out-dir", "docs")
    assert result.code == 2, result.err
    rows = summary_rows(result.out)
    assert set(rows) == {str(A), str(B), str(C)}
    for row in rows.values():
        assert int(row["creates"]) > 0 and row["updates"] == "0" and int(row["manual"]) > 0
        assert row["result"] == "changes"
    assert "In all: 3 portal(s), 3 with changes, 0 failed." in result.out
    for portal_id in (A, B, C):
        document = json.loads((tmp_path / "docs" / f"portal-{portal_id}.json").read_text())
        assert document["portal_id"] == portal_id and document["result"] == "changes"
        assert document["plan"]["portal_id"] == portal_id
        assert (tmp_path / "docs" / f"portal-{portal_id}.md").read_text().startswith(f"## Portal {portal_id}")
    lines = [json.loads(line) for line in three.log.read_text().splitlines()]
    assert {line["portal"] for line in lines} == {A, B, C}  # each portal read with its own token
    assert not [line for line in lines if line["method"] != "GET" and "access-token-info" not in line["path"]]


def test_plan_all_portals_json_is_one_document(three, capsys):
    result = run(capsys, "plan", "--all-portals", "--format", "json")
    assert result.code == 2
    data = json.loads(result.out)
    assert data["command"] == "plan" and data["summary"]["portals"] == 3
    assert [p["portal_id"] for p in data["portals"]] == [A, B, C]
    assert all(p["plan"]["changes"] for p in data["portals"])


def test_apply_all_portals_one_fails_the_others_are_applied(three, capsys):
    failing = three.emulators[B]
    failing.set_faults(rate=1.0, kinds=("500",), methods=("POST",), path="groups")
    result = run(capsys, "apply", "--all-portals", "--auto-approve")
    assert result.code == 1
    rows = summary_rows(result.out)
    assert rows[str(A)]["result"] == "applied" and rows[str(C)]["result"] == "applied"
    assert rows[str(B)]["result"] == "failed"
    assert f"portal {B} failed: apply stopped: HubSpot 500" in result.out
    assert failing.counts["requests"] > 0
    again = run(capsys, "plan", "--all-portals")
    rows = summary_rows(again.out)
    assert rows[str(A)]["result"] == "no changes" and rows[str(C)]["result"] == "no changes"
    assert rows[str(B)]["result"] == "changes"


def test_apply_all_portals_needs_approval_or_a_saved_plan(three, capsys):
    result = run(capsys, "apply", "--all-portals")
    assert result.code == 1 and "apply --all-portals needs --auto-approve" in result.err
    assert all(e.counts["requests"] == 0 for e in three.emulators.values())


def test_saved_fleet_plan_refuses_only_the_portal_that_moved(three, capsys, tmp_path):
    result = run(capsys, "plan", "--all-portals", "--out", "fleet-plan.json")
    assert result.code == 2 and "Saved 3 portal plan(s) to fleet-plan.json" in result.err
    saved = json.loads((tmp_path / "fleet-plan.json").read_text())
    assert sorted(p["portal_id"] for p in saved["plans"]) == [A, B, C]
    from provisioner.model import Group

    client(three, B).create_group(Group(name="accord_customer_collaboration_data", label="Made by hand"))
    applied = run(capsys, "apply", "fleet-plan.json")
    assert applied.code == 1
    rows = summary_rows(applied.out)
    assert rows[str(A)]["result"] == "applied" and rows[str(C)]["result"] == "applied"
    assert rows[str(B)]["result"] == "refused"
    assert f"portal {B} refused: the portal changed since the plan was made" in applied.out
    names = {portal_id: {p.property.name for p in client(three, portal_id).list_properties()} for portal_id in (A, B)}
    assert "accord_url" in names[A] and "accord_url" not in names[B]  # B: nothing written


def test_each_portal_gets_its_environment_or_the_top_level_with_its_guard(three, capsys, tmp_path):
    text = SHIPPED.read_text() + (
        f"\nenvironments:\n  staging:\n    portal: {{id: {A}}}\n"
        "    overrides:\n      group: {label: Accord (staging)}\n")
    (tmp_path / "hubspot_schema.yaml").write_text(text)
    result = run(capsys, "plan", "--all-portals", "--format", "json")
    data = {p["portal_id"]: p for p in json.loads(result.out)["portals"]}
    assert data[A]["environment"] == "staging" and data[B]["environment"] is None
    group_a = next(c for c in data[A]["plan"]["changes"] if c["kind"] == "group")
    group_b = next(c for c in data[B]["plan"]["changes"] if c["kind"] == "group")
    assert group_a["after"]["label"] == "Accord (staging)" and group_b["after"]["label"] != "Accord (staging)"


def test_the_portal_guard_holds_per_portal(three, capsys, monkeypatch):
    # Portal 99 is registered with portal A's token: the guard refuses it, the others plan.
    monkeypatch.setenv("WRONG_TOKEN", f"pat-{A}-secret")
    assert run(capsys, "portals", "add", "99", "--token-env", "WRONG_TOKEN").code == 0
    result = run(capsys, "plan", "--all-portals")
    assert result.code == 1
    rows = summary_rows(result.out)
    assert rows["99"]["result"] == "refused" and rows[str(A)]["result"] == "changes"
    assert "is for portal 99, but the token opens portal 41" in result.out


def test_a_paused_portal_is_listed_not_run(three, capsys, tmp_path):
    from provisioner.fleet.location import StoreLocation
    from provisioner.fleet.registry import open_registry

    with open_registry(StoreLocation(path=str(tmp_path / ".provisioner" / "sync.sqlite"))) as registry:
        registry.pause(B, "revoked in a test")
    before = three.emulators[B].counts["requests"]
    result = run(capsys, "plan", "--all-portals")
    assert result.code == 2  # the others have changes; a paused portal is not a failure
    assert summary_rows(result.out)[str(B)]["result"] == "paused"
    assert f"portal {B} paused: revoked in a test" in result.out
    assert three.emulators[B].counts["requests"] == before


def test_a_revoked_oauth_portal_fails_alone(three, capsys, monkeypatch):
    three.add_portal(50, refresh_token="rt-50")
    monkeypatch.setenv("REFRESH_50", "rt-50")
    assert run(capsys, "portals", "add", "50", "--oauth-refresh-token-env", "REFRESH_50").code == 0
    three.revoke(50)
    result = run(capsys, "plan", "--all-portals")
    assert result.code == 1
    rows = summary_rows(result.out)
    assert rows["50"]["result"] == "failed" and rows[str(A)]["result"] == "changes"
    listed = run(capsys, "portals", "list")
    assert "paused: HubSpot refused the refresh token (400 BAD_REFRESH_TOKEN" in listed.out
    assert summary_rows(run(capsys, "plan", "--all-portals").out)["50"]["result"] == "paused"


def test_drift_all_portals(three, capsys):
    assert run(capsys, "apply", "--all-portals", "--auto-approve").code == 0
    assert run(capsys, "drift", "--all-portals").code == 0
    client(three, C).update_property("accord_status", {"label": "Edited by hand"})
    result = run(capsys, "drift", "--all-portals", "--format", "json")
    assert result.code == 2
    data = {p["portal_id"]: p for p in json.loads(result.out)["portals"]}
    assert data[C]["result"] == "drift" and data[C]["drift"]["drift"][0]["key"] == "accord_status"
    assert data[A]["result"] == "no drift" and data[B]["result"] == "no drift"


@pytest.mark.parametrize("args, message", [
    (["plan", "--all-portals", "--concurrency", "0"], "--concurrency 0: give 1 to 64"),
    (["plan", "--all-portals", "--local"], "--all-portals runs on the registered portals"),
    (["plan", "--all-portals", "--env", "staging"], "--env does not go with --all-portals"),
    (["plan", "--concurrency", "3"], "--concurrency goes with --all-portals"),
    (["drift", "--out-dir", "x"], "--out-dir goes with --all-portals"),
    (["drift", "--all-portals", "--values"], "--values does not go with --all-portals"),
])
def test_fleet_usage_errors(three, capsys, args, message):
    result = run(capsys, *args)
    assert result.code == 1 and message in result.err and "Traceback" not in result.err


def test_two_environments_naming_one_portal_fail_that_portal(three, capsys, tmp_path):
    text = SHIPPED.read_text() + (
        f"\nenvironments:\n  one:\n    portal: {{id: {A}}}\n  two:\n    portal: {{id: {A}}}\n")
    (tmp_path / "hubspot_schema.yaml").write_text(text)
    result = run(capsys, "plan", "--all-portals")
    assert result.code == 1
    rows = summary_rows(result.out)
    assert rows[str(A)]["result"] == "failed" and rows[str(B)]["result"] == "changes"
    assert f"environments one, two all name portal {A}" in result.out


def test_saved_fleet_plan_with_a_portal_removed_since(three, capsys, monkeypatch):
    assert run(capsys, "plan", "--all-portals", "--out", "fleet-plan.json").code == 2
    assert run(capsys, "portals", "remove", str(C)).code == 0
    three.add_portal(60, token="pat-60-secret")
    monkeypatch.setenv("TOKEN_60", "pat-60-secret")
    assert run(capsys, "portals", "add", "60", "--token-env", "TOKEN_60").code == 0
    applied = run(capsys, "apply", "fleet-plan.json")
    assert applied.code == 1
    rows = summary_rows(applied.out)
    assert rows[str(A)]["result"] == "applied" and rows[str(B)]["result"] == "applied"
    assert rows[str(C)]["result"] == "failed" and "60" not in rows  # registered since: not touched
    assert f"portal {C} is in the saved plan but no longer registered" in applied.out
    assert three.emulators[60].counts["requests"] == 0


def test_markdown_has_the_table_and_a_section_per_portal(three, capsys, monkeypatch):
    monkeypatch.delenv(f"TOKEN_{B}")
    result = run(capsys, "plan", "--all-portals", "--format", "markdown")
    assert result.code == 1
    assert "| Portal | Name | Creates | Updates | Manual steps pending | Result |" in result.out
    for portal_id in (A, C):
        assert f"## Portal {portal_id} (client {portal_id}): changes" in result.out
    assert f"## Portal {B} (client {B}): failed" in result.out
    assert f"TOKEN_{B} is not set" in result.out


def test_a_saved_single_plan_is_not_a_fleet_plan(three, capsys, monkeypatch):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", f"pat-{A}-secret")
    assert run(capsys, "plan", "--out", "one.json").code == 0
    result = run(capsys, "apply", "one.json", "--all-portals")
    assert result.code == 1 and "one.json is a single portal's plan" in result.err


def test_confirmations_are_per_portal(three, capsys):
    assert run(capsys, "confirm", "--all", "--portal-id", str(A), "--by", "ops").code == 0
    rows = summary_rows(run(capsys, "plan", "--all-portals").out)
    assert rows[str(A)]["manual"] == "0"
    assert int(rows[str(B)]["manual"]) > 0 and rows[str(B)]["manual"] == rows[str(C)]["manual"]


def test_no_registered_portal_is_an_error_not_nothing_to_do(hub, capsys, tmp_path):
    shutil.copy(SHIPPED, tmp_path / "hubspot_schema.yaml")
    for command in (["plan"], ["drift"], ["apply", "--auto-approve"]):
        result = run(capsys, *command, "--all-portals")
        assert result.code == 1 and "no portals are registered in" in result.err


def test_apply_all_portals_json_says_what_was_done(three, capsys, tmp_path):
    result = run(capsys, "apply", "--all-portals", "--auto-approve", "--format", "json", "--out-dir", "docs")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["command"] == "apply" and data["summary"]["failed"] == 0
    for portal in data["portals"]:
        assert portal["result"] == "applied" and portal["done"] and portal["plan"]["changes"]
    document = json.loads((tmp_path / "docs" / f"portal-{A}.json").read_text())
    assert document["done"] == data["portals"][0]["done"]
    assert "Done:" in (tmp_path / "docs" / f"portal-{A}.md").read_text()
