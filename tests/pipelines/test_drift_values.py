"""drift --values: the deal values the sync wrote, read back; a hand edit is drift."""

from __future__ import annotations

import json

from tests.scenarios.harness import run


def event(deal_id: str, status: str, at: str) -> str:
    return json.dumps({"event": "step_updated", "occurred_at": at, "accord_id": f"acc_{deal_id}",
                       "deal_id": deal_id, "data": {"STATUS": status, "PROGRESS": 40}})


def test_values_edited_by_hand_are_drift_until_repaired(capsys, portal):
    portal.config()
    assert run(capsys, "apply", "--auto-approve").code == 0
    no_store = run(capsys, "drift", "--values")
    assert no_store.code == 0 and "0 synced deal(s) read back" in no_store.out
    deals = [r.id for r in portal.client().batch_create_deals([{"dealname": f"Deal {i}"} for i in range(3)]).results]
    (portal.workdir / "events.jsonl").write_text(
        "\n".join(event(d, "On Track", "2026-11-27T10:00:00Z") for d in deals) + "\n")
    assert run(capsys, "sync", "push", "--source", "events.jsonl").code == 0

    clean = run(capsys, "drift", "--values")
    assert clean.code == 0, clean.out
    assert "3 synced deal(s) read back, 0 value(s) edited by hand" in clean.out

    portal.client().batch_update_deals([(deals[1], {"accord_status": "Stalled"})])
    drifted = run(capsys, "drift", "--values", "--format", "json")
    assert drifted.code == 2
    report = json.loads(drifted.out)
    assert report["status"] == "drift" and report["drift"] == []
    assert report["values"]["edited"] == [
        {"deal_id": deals[1], "property": "accord_status", "synced": "On Track", "live": "Stalled"}]
    assert report["values"]["fix"] == "provisioner sync verify --repair"
    markdown = run(capsys, "drift", "--values", "--format", "markdown")
    assert "1 deal value edited by hand" in markdown.out
    assert f"| `{deals[1]}` | `accord_status` | `\"On Track\"` | `\"Stalled\"` |" in markdown.out

    without = run(capsys, "drift")
    assert without.code == 0  # values are only read when asked

    assert run(capsys, "sync", "verify", "--repair").code == 0
    assert run(capsys, "drift", "--values").code == 0
