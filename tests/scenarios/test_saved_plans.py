"""Saved plans through the CLI: another portal, a moved portal explained, damaged files."""

from __future__ import annotations

from provisioner.emulator import Emulator, EmulatorSettings, serve_in_thread
from tests.scenarios.harness import run
from tests.scenarios.test_plan_apply import apply_shipped


def test_a_saved_plan_applied_to_another_portal_is_refused(capsys, portal, monkeypatch, tmp_path):
    portal.config()
    assert run(capsys, "plan", "--out", "plan.json").code == 0
    other_log = tmp_path / "other.jsonl"
    other = Emulator(EmulatorSettings(portal_id=999, request_log=str(other_log), burst_limit=None, daily_limit=None))
    with serve_in_thread(other, host="127.0.0.1", port=0) as other_url:
        monkeypatch.setenv("HUBSPOT_BASE_URL", other_url)
        refused = run(capsys, "apply", "plan.json")
    assert refused.code == 1
    assert "the saved plan was made for portal 12345678, but the token opens portal 999" in refused.err
    assert "Traceback" not in refused.err
    requests = [line for line in other_log.read_text().splitlines() if line.strip()]
    assert requests and all('"method": "GET"' in line for line in requests)  # it read, and wrote nothing


def test_a_stale_plan_says_what_moved(capsys, portal):
    apply_shipped(capsys, portal)
    portal.client().update_property("accord_status", {"label": "Edited"})
    assert run(capsys, "plan", "--out", "plan.json").code == 0
    portal.client().update_property("accord_status", {"label": "Edited again"})
    portal.clear_log()
    refused = run(capsys, "apply", "plan.json")
    assert refused.code == 1
    assert ('the portal changed since the plan was made: property/accord_status: label in the portal "Edited" '
            '-> "Edited again"') in refused.err
    assert portal.writes() == []
