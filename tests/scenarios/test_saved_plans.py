"""Saved plans through the CLI: another portal, a moved portal explained, damaged files."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provisioner.emulator import Emulator, EmulatorSettings, serve_in_thread
from provisioner.errors import PlanFileError
from provisioner.planfile import MAX_PLAN_BYTES, load_plan
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


def valid_plan(capsys, portal) -> dict:
    portal.config()
    assert run(capsys, "plan", "--out", "good.json").code == 0
    return json.loads((portal.workdir / "good.json").read_text())


def edited(plan: dict, path: tuple, value) -> str:
    data = copy.deepcopy(plan)
    target = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return json.dumps(data)


# (name, how to make the file's bytes from a valid plan's dict, what the error line says)
CORPUS = [
    ("empty", lambda p: b"", "not valid JSON"),
    ("not json", lambda p: b"{", "not valid JSON"),
    ("truncated", lambda p: json.dumps(p).encode()[:200], "not valid JSON"),
    ("a list", lambda p: b"[]", "expected a JSON object"),
    ("null", lambda p: b"null", "expected a JSON object"),
    ("bom", lambda p: b"\xef\xbb\xbf" + json.dumps(p).encode(), "not valid JSON"),
    ("latin-1", lambda p: json.dumps(p).encode().replace(b"Accord URL", b"Acc\xf6rd URL"), "not UTF-8 at byte"),
    ("format 1", lambda p: edited(p, ("format_version",), 1).encode(), "format_version 1"),
    ("format as text", lambda p: edited(p, ("format_version",), "2").encode(), "format_version '2'"),
    ("format as true", lambda p: edited(p, ("format_version",), True).encode(), "format_version True"),
    ("no portal", lambda p: json.dumps({k: v for k, v in p.items() if k != "portal_id"}).encode(),
     "portal_id: missing"),
    ("portal as text", lambda p: edited(p, ("portal_id",), "12345678").encode(), "portal_id: expected an integer"),
    ("portal as float", lambda p: edited(p, ("portal_id",), 1e300).encode(), "portal_id: expected an integer"),
    ("portal nan", lambda p: edited(p, ("portal_id",), float("nan")).encode(), "portal_id: expected an integer"),
    ("changes as text", lambda p: edited(p, ("changes",), "x" * 100_000).encode(), "changes: expected a list"),
    ("change as number", lambda p: edited(p, ("changes", 0), 7).encode(), "changes[0]: expected an object"),
    ("unknown action", lambda p: edited(p, ("changes", 0, "action"), "explode").encode(),
     "changes[0].action: no change 'explode'"),
    ("before as number", lambda p: edited(p, ("changes", 1, "before"), 5).encode(),
     "changes[1].before: expected an object"),
    ("create with a before", lambda p: edited(p, ("changes", 1, "before"), {}).encode(),
     "changes[1].before: expected null"),
    ("fields as text", lambda p: edited(p, ("changes", 0, "fields"), "l" * 1_000_000).encode(),
     "changes[0].fields: expected a list"),
    ("risky create", lambda p: edited(p, ("changes", 1, "risky"), True).encode(), "changes[1].risky"),
    ("empty key", lambda p: edited(p, ("changes", 1, "key"), "").encode(), "changes[1].key: empty"),
    ("step without id", lambda p: edited(p, ("manual_steps", 0), {"title": "x"}).encode(),
     "manual_steps[0].id: missing"),
    ("fingerprint as list", lambda p: edited(p, ("fingerprints", "group/accord_customer_collaboration_data"),
                                             [1]).encode(), "expected a string"),
    ("huge integer", lambda p: json.dumps(p).replace('"portal_id": 12345678', '"portal_id": ' + "9" * 5000).encode(),
     "not a saved plan"),
    ("deep nesting", lambda p: b"[" * 200_000 + b"]" * 200_000, "not a saved plan"),
    ("lone surrogate", lambda p: json.dumps(p).replace('"Accord URL"', '"\\ud800"').encode(),
     "not a saved plan"),
]


@pytest.mark.parametrize(("name", "make", "says"), CORPUS, ids=[case[0] for case in CORPUS])
def test_a_damaged_plan_file_is_one_clear_line(capsys, portal, name, make, says):
    plan = valid_plan(capsys, portal)
    (portal.workdir / "plan.json").write_bytes(make(plan))
    portal.clear_log()
    result = run(capsys, "apply", "plan.json")
    assert result.code == 1, result.out
    assert "Traceback" not in result.err
    first = result.err.splitlines()[0]
    assert first.startswith("error: ") and says in first, result.err
    assert len(first) < 400
    assert portal.writes() == []


def test_a_plan_file_over_the_size_limit_is_refused_unread(capsys, portal):
    path = portal.workdir / "big.json"
    with open(path, "wb") as handle:
        handle.truncate(MAX_PLAN_BYTES + 1)  # sparse: no disk used
    result = run(capsys, "apply", "big.json")
    assert result.code == 1 and "larger than 16 MiB: not a saved plan" in result.err
    assert portal.requests() == []


@pytest.mark.parametrize("path", ["/dev/zero", ".", "no-such-plan.json"])
def test_odd_plan_paths_are_one_clear_line(capsys, portal, path):
    result = run(capsys, "apply", path)
    assert result.code == 1 and "rror: " in result.err.splitlines()[-1] and "Traceback" not in result.err


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)
GOOD = {"format_version": 2, "portal_id": 1, "config_path": "f.yaml", "config_digest": "d", "api_version": "v3",
        "changes": [{"action": "update", "kind": "property", "key": "p", "before": {}, "after": {}, "fields": [],
                     "risky": False, "note": "", "options": []}],
        "manual_steps": [{"id": "s", "title": "t", "instructions": [], "desired": {}, "digest": "d"}],
        "fingerprints": {"property/p": "x"}}
PATHS = [("format_version",), ("portal_id",), ("changes",), ("changes", 0), ("changes", 0, "action"),
         ("changes", 0, "before"), ("changes", 0, "fields"), ("changes", 0, "options"), ("manual_steps", 0),
         ("manual_steps", 0, "instructions"), ("fingerprints",), ("notes",), ("environment",)]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(PATHS), JSON_VALUES)
def test_any_member_replaced_by_any_json_is_a_plan_or_one_plan_file_error(tmp_path, path, value):
    text = edited(GOOD, path, value)
    target = tmp_path / "plan.json"
    target.write_text(text)
    try:
        load_plan(target)
    except PlanFileError as error:
        assert "\n" not in str(error)
