"""The authenticity guard end to end: the emulator posts HubSpot's signed webhooks to a running serve."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import time

import requests

from tests.serve.conftest import CLIENT_SECRET, event, post_events, wait_for


def _ui_edit(setup, deal: str, user_id: int, **values) -> None:
    answer = requests.patch(f"{setup.emu.url}/__emulator__/ui/deals/{deal}",
                            json={"properties": values, "user_id": user_id}, timeout=5)
    assert answer.status_code == 200, answer.text


def _cli_json(setup, *args):
    run = subprocess.run([sys.executable, "-m", "provisioner", *args], cwd=setup.dir, env=setup.env(),
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def _guard_log(setup) -> list[dict]:
    run = subprocess.run([sys.executable, "-m", "provisioner", "sync", "guard-log", "--format", "json"],
                         cwd=setup.dir, env=setup.env(), capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def _metric(url: str, result: str) -> float:
    for line in requests.get(url + "/metrics", timeout=5).text.splitlines():
        if line.startswith(f'provisioner_guard_events_total{{result="{result}"}}'):
            return float(line.split()[-1])
    return 0.0


def test_a_hand_edit_is_restored_and_the_tools_own_echo_is_not(setup):
    setup.emulator(webhooks=True)
    url = setup.serve().url
    deal = setup.deals[0]
    assert post_events(url, [event(deal, STATUS="At Risk")]).status_code == 202
    wait_for(lambda: setup.values(deal)["accord_status"] == "At Risk")
    # the write's own webhook comes back as an echo
    wait_for(lambda: _metric(url, "echo") >= 1)
    assert _guard_log(setup) == []

    _ui_edit(setup, deal, 42, accord_status="Stalled")  # restored at once: reading it back may already see it
    edits = wait_for(lambda: _guard_log(setup))
    wait_for(lambda: setup.values(deal)["accord_status"] == "At Risk")
    assert [(e["deal_id"], e["property"], e["value"], e["source_id"], e["change_source"], e["action"])
            for e in edits] == [(deal, "accord_status", "Stalled", "userId:42", "CRM_UI", "restored")]
    # the restore's own echo does not start another round
    time.sleep(1.0)
    assert len(_guard_log(setup)) == 1
    assert _metric(url, "restored") == 1


def test_repeated_edits_stop_at_the_hourly_bound_and_are_reported(setup):
    setup.emulator(webhooks=True)
    url = setup.serve("--restores-per-hour", "2").url
    deal = setup.deals[1]
    post_events(url, [event(deal, STATUS="On Track")])
    wait_for(lambda: setup.values(deal)["accord_status"] == "On Track")
    for hand_value in ("Stalled", "At Risk"):
        _ui_edit(setup, deal, 7, accord_status=hand_value)
        wait_for(lambda: setup.values(deal)["accord_status"] == "On Track")
    _ui_edit(setup, deal, 7, accord_status="Not Started")
    # each look is a CLI process: on a loaded machine twenty seconds may be only a few looks
    wait_for(lambda: any(e["action"] == "reported" for e in _guard_log(setup)), timeout=60.0)
    time.sleep(1.0)
    assert setup.values(deal)["accord_status"] == "Not Started"  # reported, not fought over
    assert [e["action"] for e in _guard_log(setup)] == ["restored", "restored", "reported"]


def test_a_deleted_deal_is_marked_gone_and_no_longer_written(setup):
    setup.emulator(webhooks=True)
    url = setup.serve().url
    deal = setup.deals[2]
    post_events(url, [event(deal, STATUS="On Track")])
    wait_for(lambda: setup.values(deal)["accord_status"] == "On Track")
    assert requests.delete(f"{setup.emu.url}/crm/v3/objects/deals/{deal}",
                           headers={"Authorization": "Bearer t"}, timeout=5).status_code == 204
    wait_for(lambda: any(e["action"] == "deleted" for e in _guard_log(setup)))
    requests_before = requests.get(setup.emu.url + "/__emulator__/requests", timeout=5).json()["requests"]
    answer = post_events(url, [event(deal, STATUS="Stalled", accord_id="acc_9"), event(setup.deals[3])])
    assert answer.status_code == 202
    assert answer.json()["deal_deleted"] == 1 and answer.json()["accepted"] == 1
    assert answer.json()["results"][0] == {
        "index": 0, "result": "deal_deleted",
        "reason": f"deal {deal} was deleted in HubSpot; set aside as a dead letter"}
    wait_for(lambda: setup.values(setup.deals[3])["accord_status"] == "On Track")
    time.sleep(0.5)
    after = requests.get(setup.emu.url + "/__emulator__/requests", timeout=5).json()["requests"]
    # one write for the live deal and the reads of the wait, nothing to the deal HubSpot deleted
    letters = _cli_json(setup, "sync", "dead-letters", "--format", "json")
    assert [(letter["deal_id"], letter["origin"]) for letter in letters] == [(deal, "hubspot")]
    assert "was deleted in HubSpot (deal.deletion at " in letters[0]["reason"]
    assert '"STATUS":"Stalled"' in letters[0]["line"]  # sync retry can run it again
    assert after > requests_before


def test_guard_refuses_bad_signatures_and_honours_public_url(setup):
    setup.emulator()
    url = setup.serve("--public-url", "https://sync.example.com").url
    body = json.dumps([]).encode()
    stamp = str(int(time.time() * 1000))

    def sign(uri: str, ts: str = stamp, secret: str = CLIENT_SECRET) -> dict:
        digest = hmac.new(secret.encode(), b"POST" + uri.encode() + body + ts.encode(), hashlib.sha256).digest()
        return {"X-HubSpot-Signature-v3": base64.b64encode(digest).decode(), "X-HubSpot-Request-Timestamp": ts}

    hook = url + "/hubspot/webhooks"
    public = "https://sync.example.com/hubspot/webhooks"
    assert requests.post(hook, data=body, headers=sign(public), timeout=5).status_code == 200
    assert requests.post(hook, data=body, headers=sign(hook), timeout=5).status_code == 401  # not the public URI
    assert requests.post(hook, data=body, headers=sign(public, secret="other"), timeout=5).status_code == 401
    old = str(int(time.time() * 1000) - 301_000)
    assert requests.post(hook, data=body, headers=sign(public, ts=old), timeout=5).status_code == 401
    assert requests.post(hook, data=b"{not json", headers={**sign(public)}, timeout=5).status_code == 401
