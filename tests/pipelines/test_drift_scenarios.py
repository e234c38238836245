"""provisioner drift against the emulator: exit codes and outputs for what people do in HubSpot's UI."""

from __future__ import annotations

import functools
import json
import socket

import pytest

from provisioner.hubspot import connect
from provisioner.hubspot.client import HubSpotClient
from provisioner.model import ValidationRule
from tests.pipelines.test_environments import ENVIRONMENTS
from tests.scenarios.harness import run


@pytest.fixture
def applied(capsys, portal):
    portal.config()
    result = run(capsys, "apply", "--auto-approve")
    assert result.code == 0, result.err
    portal.clear_log()
    return portal


def drift_json(capsys):
    result = run(capsys, "drift", "--format", "json")
    return result, json.loads(result.out)


def test_nothing_differs_exits_0_in_five_reads(capsys, applied):
    result = run(capsys, "drift")
    assert result.code == 0, result.err
    assert result.out.startswith("No drift: HubSpot portal 12345678 matches hubspot_schema.yaml.")
    reads = applied.requests()
    assert len(reads) == 5 and all(r["method"] == "GET" for r in reads)
    _, data = drift_json(capsys)
    assert data["status"] == "no_drift" and data["drift"] == []


def test_label_edited_in_the_ui_exits_2_with_both_values(capsys, applied):
    applied.client().update_property("accord_status", {"label": "Status (typed by hand)"})
    applied.clear_log()
    result = run(capsys, "drift")
    assert result.code == 2
    assert "Drift in HubSpot portal 12345678: 1 object differs from hubspot_schema.yaml." in result.out
    assert "Property 'accord_status' was changed in HubSpot (label)" in result.out
    assert 'label: file "Accord Status", portal "Status (typed by hand)"' in result.out
    assert "provisioner plan && provisioner apply" in result.out
    assert "provisioner export -o hubspot_schema.yaml --force" in result.out
    code, data = drift_json(capsys)
    assert code.code == 2
    assert data["drift"][0]["fields"] == [{"field": "label", "declared": "Accord Status",
                                           "live": "Status (typed by hand)"}]
    markdown = run(capsys, "drift", "--format", "markdown")
    assert markdown.code == 2
    assert '| property `accord_status` | changed in HubSpot | label | `"Accord Status"` | ' \
           '`"Status (typed by hand)"` |' in markdown.out
    assert applied.writes() == []  # drift never writes


def test_property_archived_by_hand_exits_2(capsys, applied):
    applied.client().archive_property("accord_progress")
    result, data = drift_json(capsys)
    assert result.code == 2
    (item,) = data["drift"]
    assert (item["key"], item["state"]) == ("accord_progress", "archived")
    assert item["fields"] == [{"field": "state", "declared": "active", "live": "archived"}]
    # apply restores it from the recycle bin; drift is then clean again
    assert run(capsys, "apply", "--auto-approve").code == 0
    assert run(capsys, "drift").code == 0


def test_validation_rule_changed_exits_2(capsys, applied):
    applied.client().put_validation_rule(ValidationRule("accord_url", "MAX_LENGTH", ("120",)))
    result = run(capsys, "drift")
    assert result.code == 2
    assert "Validation rule 'accord_url/MAX_LENGTH' was changed in HubSpot (arguments)" in result.out
    assert 'arguments: file ["255"], portal ["120"]' in result.out


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_unreachable_portal_is_an_error_never_no_drift(capsys, tmp_path, monkeypatch, portal, fmt):
    portal.config()
    monkeypatch.setenv("HUBSPOT_BASE_URL", f"http://127.0.0.1:{closed_port()}")
    # The client's retries and backoff are real; only the waiting is skipped.
    monkeypatch.setattr(connect, "HubSpotClient", functools.partial(HubSpotClient, sleep=lambda s: None))
    result = run(capsys, "drift", "--format", fmt)
    assert result.code == 1
    assert "error: could not reach http://127.0.0.1:" in result.err
    assert "hint: check HUBSPOT_BASE_URL and the network" in result.err
    assert "No drift" not in result.out
    if fmt == "json":
        data = json.loads(result.out)
        assert data["status"] == "error" and data["error"].startswith("could not reach")
    elif fmt == "markdown":
        assert result.out.startswith("### :x: Drift check failed: could not reach")
    else:
        assert result.out == ""


def test_rejected_token_is_an_error(capsys, tmp_path, monkeypatch):
    from provisioner.emulator import Emulator, EmulatorSettings, serve_in_thread
    from tests.scenarios.harness import SHIPPED

    (tmp_path / "hubspot_schema.yaml").write_bytes(SHIPPED.read_bytes())
    monkeypatch.chdir(tmp_path)
    with serve_in_thread(Emulator(EmulatorSettings(token="the-right-one")), host="127.0.0.1", port=0) as url:
        monkeypatch.setenv("HUBSPOT_BASE_URL", url)
        monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "a-wrong-token")
        result = run(capsys, "drift", "--format", "json")
    assert result.code == 1
    assert json.loads(result.out)["status"] == "error"
    assert "a-wrong-token" not in result.out + result.err


def test_manual_steps_listed_apart_without_failing(capsys, applied):
    result, data = drift_json(capsys)
    assert result.code == 0
    assert len(data["manual_checks"]) == 9  # 7 access steps, the sidebar, the CRM card
    assert all(c["status"] == "never confirmed" for c in data["manual_checks"])
    assert run(capsys, "confirm", "sidebar", "--by", "dana").code == 0
    text = run(capsys, "drift")
    assert text.code == 0
    assert "Not checked (no HubSpot API can read these; never counted as drift):" in text.out
    assert "  - sidebar: Show the sidebar section 'Accord Customer Collaboration Data' on deals with 7 " \
           "properties in order (last confirmed " in text.out
    assert "by dana)" in text.out
    assert "  - access/accord_url: Set access of 'Accord URL' (accord_url) to \"Allow everyone to view\" " \
           "(never confirmed)" in text.out


def test_drift_with_an_environment(capsys, portal):
    config = portal.config()
    config.write_text(config.read_text() + ENVIRONMENTS)
    assert run(capsys, "apply", "--auto-approve", "--env", "sandbox").code == 0
    clean = run(capsys, "drift", "--env", "sandbox", "--format", "json")
    assert clean.code == 0 and json.loads(clean.out)["environment"] == "sandbox"
    # the top-level values differ from what the sandbox holds: that is drift for the top level
    top = run(capsys, "drift")
    assert top.code == 2 and 'label: file "Accord URL", portal "Accord URL (test)"' in top.out
    # the production guard refuses the sandbox portal: an error, not drift
    wrong = run(capsys, "drift", "--env", "production")
    assert wrong.code == 1
    assert "is for portal 11111111, but the token opens portal 12345678" in wrong.err
