"""Hostile input through the real CLI: every line stands alone, the good records of the run land.

Each case runs ``provisioner sync push --local --source FILE`` as a separate process against a
local portal that ``apply --local`` set up and where two deals were seeded: the file holds good
lines for the first deal (a stage name naming the case) and the hostile lines. Asserted: the
exit code, no traceback, what was set aside and why, that the good values reached the deal, and
a time bound (a subprocess timeout, never a timing assertion).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from provisioner.emulator import Emulator, EmulatorSettings
from provisioner.hubspot.client import HubSpotClient
from provisioner.hubspot.connect import LOCAL_BASE_URL
from tests.scenarios.harness import SHIPPED

TIMEOUT = 60  # seconds a push of a few hostile lines may take, with the interpreter's start


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    """A folder with the shipped file applied to its own local portal, and two seeded deals."""
    folder = tmp_path_factory.mktemp("hostile")
    shutil.copy(SHIPPED, folder / "hubspot_schema.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "PROVISIONER_"))}
    env["PROVISIONER_LOCAL_STATE"] = str(folder / "portal" / "state")
    done = subprocess.run([sys.executable, "-m", "provisioner", "apply", "--local", "--auto-approve"],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr
    with local_portal(env) as client:
        deals = [r.id for r in client.batch_create_deals([{"dealname": "Good"}, {"dealname": "Other"}]).results]
    return folder, env, deals


@contextmanager
def local_portal(env: dict) -> Iterator[HubSpotClient]:
    """A client of the same local portal the CLI uses, in this process; closed (unlocked) after use."""
    emulator = Emulator(EmulatorSettings(state_file=env["PROVISIONER_LOCAL_STATE"], burst_limit=None,
                                         daily_limit=None, state_lock_wait_s=TIMEOUT))
    try:
        yield HubSpotClient(LOCAL_BASE_URL, "local", tier="unlimited", wsgi_app=emulator.app)
    finally:
        emulator.close()


def read_deal(env: dict, deal_id: str) -> dict:
    with local_portal(env) as client:
        record = client.batch_read_deals([deal_id], ["current_stage", "accord_progress"]).results[0]
    return {name: record.properties.get(name) for name in ("current_stage", "accord_progress")}


def line(deal_id: str, at: str = "2026-11-27T10:00:00Z", **data) -> bytes:
    return json.dumps({"event": "step_updated", "occurred_at": at, "accord_id": f"acc_{deal_id}",
                       "deal_id": deal_id, "data": data}).encode()


def push(folder: Path, env: dict, name: str, source: str, stdin: bytes | None = None) -> tuple[int, dict, str]:
    done = subprocess.run(
        [sys.executable, "-m", "provisioner", "sync", "push", "--local", "--source", source,
         "--store", str(folder / "stores" / f"{name}.sqlite"), "--format", "json"],
        cwd=folder, env=env, capture_output=True, timeout=TIMEOUT, input=stdin,
    )
    err = done.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err, err
    assert done.stdout.strip(), f"exit {done.returncode}, no report: {err}"
    return done.returncode, json.loads(done.stdout), err


def good(deal_id: str, case: str) -> bytes:
    return line(deal_id, STAGE_NAME=f"stage {case}", PROGRESS=50)


def hostile(deal: str, data: str) -> bytes:
    """A line for the other deal whose ``data`` holds the raw JSON text given."""
    return line(deal, STAGE_NAME="@").replace(b'{"STAGE_NAME": "@"}', data.encode())


CASES = {
    # name: (hostile lines given the other deal's id, what each line's reason says)
    "huge exponent as text": (lambda d: [hostile(d, '{"PROGRESS": "1e999999999"}')], "out of range"),
    "huge exponent as number": (lambda d: [hostile(d, '{"PROGRESS": 1e999999999}')], "not JSON"),
    "5000-digit number": (lambda d: [hostile(d, '{"EXECUTION_SCORE": 1' + "0" * 5000 + "}")], "not JSON"),
    "40-digit number": (lambda d: [hostile(d, '{"EXECUTION_SCORE": "1' + "0" * 40 + '"}')], "out of range"),
    "long numeric text": (lambda d: [hostile(d, '{"EXECUTION_SCORE": "0.' + "1" * 100 + '"}')], "longer than 100"),
    "deep nesting": (lambda d: [hostile(d, '{"STAGE_NAME": ' + "[" * 30_000 + "]" * 30_000 + "}")],
                     "nested deeper than 16"),
    "deep nesting in an unknown key": (lambda d: [hostile(d, '{"X": ' + "{\"a\":" * 5000 + "1" + "}" * 5000 + "}")],
                                       "nested deeper than 16"),
    "url urlsplit refuses": (lambda d: [hostile(d, '{"URL": "https://[::1"}'),
                                        hostile(d, '{"URL": "http://x.example:99999999/"}')], "URL must be an http(s) URL"),
    "lone surrogate": (lambda d: [hostile(d, '{"STAGE_NAME": "a\\ud800"}'), hostile(d, '{"STAGE_NAME": "\\udc00"}')],
                       "surrogate"),
    "invalid utf-8": (lambda d: [line(d, STAGE_NAME="x").replace(b'"x"', b'"\xff\xfe"'),
                                 line(d, STAGE_NAME="x").replace(b'"x"', b'"\xed\xa0\x80"')], "not UTF-8"),
    "nul in a value": (lambda d: [hostile(d, '{"STAGE_NAME": "a\\u0000b"}')], "control character (U+0000"),
    "control characters": (lambda d: [hostile(d, '{"STAGE_NAME": "a\\nb"}'), hostile(d, '{"STATUS": "On Track\\u0085"}'),
                                      line(d, STAGE_NAME="x").replace(b'"x"', b'"a\x7fb"'),
                                      line(d).replace(b'"acc_', b'"acc\\u001b_')], "control character"),
    "times at the edges of the calendar": (
        lambda d: [line(d, at=at, PROGRESS=1) for at in
                   ("0000-01-01T00:00:00Z", "10000-01-01T00:00:00Z", "2026-02-29T00:00:00Z", "2026-12-31T23:59:60Z",
                    "2026-11-27T24:00:00Z", "2026-11-27T10:00:00+24:00", "2026-11-27T10:00:00")],
        "'occurred_at' must be an ISO 8601 time"),
    "underscores and non-ascii digits": (
        lambda d: [hostile(d, '{"PROGRESS": "1_0"}'), hostile(d, '{"EXECUTION_SCORE": "\\u0661\\u0662"}'),
                   hostile(d, '{"CUSTOMER_INVITED_COUNT": "\uff13"}'), hostile(d, '{"PROGRESS": "0x10"}')],
        "must be a number"),
    "nan and infinity": (lambda d: [hostile(d, '{"PROGRESS": NaN}'), hostile(d, '{"PROGRESS": Infinity}'),
                                    hostile(d, '{"PROGRESS": "nan"}'), hostile(d, '{"PROGRESS": "-Infinity"}')],
                         "not"),
    "line over 64 KiB": (lambda d: [line(d, STAGE_NAME="x" * 70_000)], "over the limit of 65536"),
    "not objects": (lambda d: [b"[]", b"null", b"42", b'"text"', b"{", b"\x00\x01\x02", b"\xef\xbb\xbf{}"], "not"),
    "bad ids": (lambda d: [line("0" + d), line("-" + d), line("1" * 30), line(d).replace(b'"acc_', b'"' + b"a" * 300),
                           line(d).replace(f'"deal_id": "{d}"'.encode(), b'"deal_id": true')],
                "id"),
    "bad types": (lambda d: [hostile(d, '{"STATUS": ["On Track"]}'), hostile(d, '{"PROGRESS": true}'),
                             hostile(d, '{"STAGE_NAME": {"a": 1}}'), line(d).replace(b'"data": {}', b'"data": []')],
                  "must be"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_hostile_line_is_set_aside_and_the_good_ones_land(portal, case):
    folder, env, (deal, other) = portal
    make, reason = CASES[case]
    bad = make(other)
    source = folder / f"{case.replace(' ', '-')}.jsonl"
    source.write_bytes(b"\n".join([good(deal, case), *bad, line(deal, at="2026-11-27T09:00:00Z", PROGRESS=7)]) + b"\n")
    code, report, err = push(folder, env, case.replace(" ", "-"), str(source))
    assert code == 1, err
    assert report["invalid"] == len(bad), report["problems"]
    assert [p["line_no"] for p in report["problems"]] == list(range(2, 2 + len(bad)))
    assert all(reason in p["reason"] for p in report["problems"]), report["problems"]
    assert report["deals_written"] == 1
    assert read_deal(env, deal) == {"current_stage": f"stage {case}", "accord_progress": "50"}


def test_dev_zero_ends_with_a_reason_not_memory_error(portal):
    folder, env, _ = portal
    code, report, err = push(folder, env, "dev-zero", "/dev/zero")
    assert code == 1
    assert report["invalid"] == 1 and "no line break within" in report["problems"][0]["reason"]


def test_standard_input_is_read_the_same_way(portal):
    folder, env, (deal, other) = portal
    data = b"\n".join([good(deal, "stdin"), b"\xff" * 10, hostile(other, '{"PROGRESS": "1e999999999"}')]) + b"\n"
    code, report, _ = push(folder, env, "stdin", "-", stdin=data)
    assert code == 1 and report["invalid"] == 2 and report["deals_written"] == 1
    assert read_deal(env, deal)["current_stage"] == "stage stdin"


def test_a_dead_letter_keeps_a_bounded_prefix_of_its_line(portal):
    folder, env, (deal, other) = portal
    source = folder / "long-invalid.jsonl"
    source.write_bytes(b"\n".join([good(deal, "prefix"), line(other, STATUS="Done", STAGE_NAME="y" * 60_000)]) + b"\n")
    code, report, _ = push(folder, env, "prefix", str(source))
    assert code == 1 and report["invalid"] == 1
    letters = subprocess.run(
        [sys.executable, "-m", "provisioner", "sync", "dead-letters", "--format", "json",
         "--store", str(folder / "stores" / "prefix.sqlite")],
        cwd=folder, env=env, capture_output=True, text=True, timeout=TIMEOUT,
    )
    (letter,) = json.loads(letters.stdout)
    assert letter["line"].endswith("…") and len(letter["line"]) == 2049
    assert letter["line"].startswith('{"event": "step_updated"')


def test_odd_but_valid_input_is_accepted_as_documented(portal):
    """CRLF, blank and blank-looking lines, a key given twice (the last counts), thousands of unknown keys."""
    folder, env, (deal, other) = portal
    twice = line(other, at="2026-11-27T12:00:00Z", PROGRESS=1).replace(b'"PROGRESS": 1', b'"PROGRESS": 1, "PROGRESS": 2')
    crowded = json.loads(line(other, at="2026-11-27T11:00:00Z", STAGE_NAME="crowded"))
    crowded["data"].update({f"unknown_{i}": i for i in range(2000)})
    crowded["context"] = {f"k{i}": [i] for i in range(500)}
    source = folder / "odd-valid.jsonl"
    source.write_bytes(b"\r\n".join([good(deal, "odd"), b"", b"   \t ", twice, json.dumps(crowded).encode()]) + b"\r\n")
    code, report, err = push(folder, env, "odd-valid", str(source))
    assert code == 0, report["problems"]
    assert (report["events_read"], report["invalid"], report["deals_written"]) == (3, 0, 2)
    assert read_deal(env, deal) == {"current_stage": "stage odd", "accord_progress": "50"}
    assert read_deal(env, other) == {"current_stage": "crowded", "accord_progress": "2"}
