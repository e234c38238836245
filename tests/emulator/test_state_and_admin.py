"""State across restarts (and kill -9), reset, the request log, UI-only settings, the serve command."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

import pytest

from provisioner.emulator import Emulator, EmulatorSettings, StateFileError, serve_in_thread
from tests.emulator.conftest import Http, Local

PROPS = "/crm/v3/properties/deals"
DEALS = "/crm/v3/objects/deals"


def _setup(local) -> list[str]:
    local("POST", PROPS + "/groups", {"name": "accord", "label": "Accord"})
    local("POST", PROPS, {"name": "accord_url", "label": "URL", "type": "string", "fieldType": "text",
                          "groupName": "accord"})
    local("PUT", "/crm/v3/property-validations/0-3/accord_url/rule-type/MAX_LENGTH", {"ruleArguments": ["100"]})
    answer = local("POST", DEALS + "/batch/create", {"inputs": [{"properties": {"dealname": f"D{i}"}}
                                                                for i in range(3)]})
    return [r["id"] for r in answer.body["results"]]


def test_the_portal_survives_a_restart(tmp_path):
    state = str(tmp_path / "portal.sqlite")
    first = Emulator(EmulatorSettings(state_file=state))
    ids = _setup(Local(first))
    Local(first)("POST", DEALS + "/batch/update", {"inputs": [{"id": ids[0], "properties": {"accord_url": "u"}}]})
    Local(first)("DELETE", PROPS + "/dealtype")  # refused: HubSpot's own
    first.ui_set_access("accord_url", "view_only")
    first.ui_set_sidebar([{"title": "Accord", "properties": ["accord_url"]}])
    first.close()
    second = Emulator(EmulatorSettings(state_file=state))
    local = Local(second)
    assert local("GET", PROPS + "/accord_url").body["groupName"] == "accord"
    assert local("GET", "/crm/v3/property-validations/0-3/accord_url").body["results"][0]["ruleArguments"] == ["100"]
    read = local("GET", f"{DEALS}/{ids[0]}", properties="accord_url,dealname").body["properties"]
    assert (read["accord_url"], read["dealname"]) == ("u", "D0")
    assert second.ui_access("accord_url") == "view_only" and second.ui_sidebar()[0]["title"] == "Accord"
    new = local("POST", DEALS, {"properties": {"dealname": "next"}}).body["id"]
    assert int(new) == int(ids[-1]) + 1
    second.close()


def test_a_state_file_that_is_not_one_is_refused(tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("not a database at all, just some words to fill a page " * 50)
    with pytest.raises(StateFileError):
        Emulator(EmulatorSettings(state_file=str(bad)))


def test_reset_empties_the_portal_and_its_file(tmp_path):
    state = str(tmp_path / "portal.sqlite")
    emulator = Emulator(EmulatorSettings(state_file=state, burst_limit=None))
    local = Local(emulator)
    _setup(local)
    assert local("POST", "/__emulator__/reset").status_code == 200
    assert local("GET", PROPS + "/accord_url").status_code == 404
    assert local("GET", DEALS).body["results"] == []
    assert "dealname" in [p["name"] for p in local("GET", PROPS).body["results"]]
    emulator.close()
    again = Emulator(EmulatorSettings(state_file=state))
    assert again.deal_count() == 0
    again.close()


def _serve(state: str, log: str):
    process = subprocess.Popen(
        [sys.executable, "-m", "provisioner", "emulator", "serve", "--port", "0", "--state", state,
         "--request-log", log, "--burst-limit", "0"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        # A shell without job control starts background jobs with SIGINT ignored, and a child
        # inherits that; give the server the default disposition, as a terminal would.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    line = process.stderr.readline()
    match = re.search(r"http://127\.0\.0\.1:\d+", line)
    assert match, line
    return process, match.group(0)


def test_kill_9_right_after_an_answer_loses_nothing(tmp_path):
    state, log = str(tmp_path / "portal.sqlite"), str(tmp_path / "requests.jsonl")
    process, url = _serve(state, log)
    try:
        http = Http(url)
        created = http("POST", DEALS + "/batch/create", {"inputs": [{"properties": {"dealname": f"D{i}"}}
                                                                    for i in range(100)]})
        assert created.status_code == 201
        ids = [r["id"] for r in created.json()["results"]]
        updated = http("POST", DEALS + "/batch/update", {"inputs": [{"id": i, "properties": {"amount": "5"}}
                                                                    for i in ids]})
        assert updated.status_code == 200
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    after = Emulator(EmulatorSettings(state_file=state))
    local = Local(after)
    read = local("POST", DEALS + "/batch/read", {"properties": ["amount"], "inputs": [{"id": i} for i in ids]})
    assert [r["properties"]["amount"] for r in read.body["results"]] == ["5"] * 100
    after.close()
    lines = [_logged(json.loads(x)) for x in open(log).read().splitlines()]
    assert lines == [{"method": "POST", "path": DEALS + "/batch/create", "status": 201},
                     {"method": "POST", "path": DEALS + "/batch/update", "status": 200}]


def test_serve_stops_cleanly_on_ctrl_c(tmp_path):
    process, url = _serve(str(tmp_path / "portal.sqlite"), str(tmp_path / "log.jsonl"))
    assert Http(url)("GET", "/account-info/v3/details").json()["portalId"] == 12345678
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=10) == 0
    assert "Stopping the emulator." in process.stderr.read()


def test_serve_stops_cleanly_on_sigterm(tmp_path):
    process, url = _serve(str(tmp_path / "portal.sqlite"), str(tmp_path / "log.jsonl"))
    assert Http(url)("GET", "/account-info/v3/details").status_code == 200
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    assert "Stopping the emulator." in process.stderr.read()


def test_serve_help_documents_every_switch():
    from click.testing import CliRunner

    from provisioner.cli import _register_commands, cli

    _register_commands()
    result = CliRunner().invoke(cli, ["emulator", "serve", "--help"])
    assert result.exit_code == 0
    for switch in ("--host", "--port", "--state", "--request-log", "--token", "--scopes", "--portal-id",
                   "--account-type", "--burst-limit", "--burst-window", "--daily-limit", "--fault-rate",
                   "--fault-kinds", "--fault-sequence", "--fault-path", "--slow", "--seed", "--lag", "--strict",
                   "--retry-after", "--enforce-secondly"):
        assert switch in result.output, switch


@pytest.mark.parametrize("args, message", [
    (["--lag", "fast"], "--lag 'fast': expected MIN-MAX"),
    (["--fault-sequence", "500,teapot"], "unknown fault kind 'teapot'"),
])
def test_serve_bad_switches_are_one_line_errors(args, message):
    result = subprocess.run([sys.executable, "-m", "provisioner", "emulator", "serve", "--port", "0", *args],
                            capture_output=True, text=True, timeout=20)
    assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr


def test_request_log_leaves_out_the_emulators_own_endpoints(tmp_path):
    log = tmp_path / "log.jsonl"
    emulator = Emulator(EmulatorSettings(request_log=str(log), burst_limit=None))
    with serve_in_thread(emulator) as url:
        http = Http(url)
        http("GET", PROPS + "?archived=false")
        http("GET", "/__emulator__/requests")
        http("GET", "/crm/v3/objects/deals/123")
    emulator.close()
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert all(line["portal"] == 12345678 and line["started"] <= line["finished"] for line in lines)
    assert [_logged(line) for line in lines] == [
        {"method": "GET", "path": PROPS, "status": 200}, {"method": "GET", "path": DEALS + "/123", "status": 404}]


def test_ui_only_settings_change_only_through_the_emulator_endpoints(emulator, local):
    _setup(local)
    admin = Local(emulator, token=None)
    assert admin("GET", "/__emulator__/ui/access/accord_url").body == {"property": "accord_url",
                                                                       "access": "view_and_edit"}
    assert admin("PUT", "/__emulator__/ui/access/accord_url", {"access": "view_only"}).status_code == 200
    assert admin("GET", "/__emulator__/ui/access").body == {"results": {"accord_url": "view_only"}}
    assert admin("PUT", "/__emulator__/ui/access/accord_url", {"access": "hidden"}).status_code == 400
    assert admin("PUT", "/__emulator__/ui/access/nope", {"access": "view_only"}).status_code == 404
    sections = [{"title": "Accord", "properties": ["accord_url", "dealname"]}]
    assert admin("PUT", "/__emulator__/ui/sidebar", {"sections": sections}).body == {"sections": sections}
    assert admin("PUT", "/__emulator__/ui/sidebar", {"sections": [{"title": "X", "properties": ["nope"]}]}
                 ).status_code == 400
    assert emulator.ui_sidebar() == sections
    # Nothing on a HubSpot path shows them.
    everything = json.dumps([local("GET", PROPS).body, local("GET", PROPS + "/accord_url").body,
                             local("GET", "/crm/v3/property-validations/0-3").body])
    assert "view_only" not in everything and "Accord\", \"properties" not in everything
    # Archiving a property ends its access setting.
    local("DELETE", PROPS + "/accord_url")
    assert admin("GET", "/__emulator__/ui/access").body == {"results": {}}


def test_loading_a_big_state_file_is_lazy_about_deals(tmp_path):
    state = str(tmp_path / "portal.sqlite")
    emulator = Emulator(EmulatorSettings(state_file=state, burst_limit=None))
    local = Local(emulator)
    for _ in range(20):
        local("POST", DEALS + "/batch/create", {"inputs": [{"properties": {"dealname": "x"}}] * 100})
    emulator.close()
    reopened = Emulator(EmulatorSettings(state_file=state))
    assert Local(reopened)("GET", PROPS).status_code == 200
    assert reopened.portal._deals is None  # schema reads never load the deals
    assert reopened.deal_count() == 2000
    reopened.close()


def _logged(line: dict) -> dict:
    """A request-log line without its portal and times (checked apart)."""
    return {key: line[key] for key in ("method", "path", "status")}
