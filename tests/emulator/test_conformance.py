"""The emulator against every recorded HubSpot answer: status, keys at every level, types, exact strings, headers."""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

import pytest
from werkzeug.test import Client

from provisioner.emulator import Emulator, EmulatorSettings
from tests.emulator.conformance import at, load_fixtures, shape_problems

FIXTURES = load_fixtures()
# Older shapes HubSpot no longer sends: only the client must still read them.
EMULATED = sorted(name for name, fixture in FIXTURES.items() if fixture.get("emulator", True))
TOKEN = "test-token"


def answer(fixture: dict):
    """Provoke the fixture's answer from a fresh emulator: its settings, its setup, then its request."""
    settings = {"burst_limit": None, "daily_limit": None, **fixture["settings"]}
    if "scopes" in settings:
        settings["scopes"] = frozenset(settings["scopes"])
    emulator = Emulator(EmulatorSettings(**settings))
    client = Client(emulator.app)
    try:
        answers = []
        for step in fixture["setup"]:
            done = send(client, step, answers)
            assert done.status_code < 400 or fixture["status"] == 429, (step, done.get_data(as_text=True))
            answers.append(done.get_json(silent=True))
        return send(client, fixture["request"], answers)
    finally:
        emulator.close()


def send(client: Client, request: dict, answers: list):
    """One request: a JSON body or a form, with the test token, none, or an access token a setup step got."""
    token = request.get("token", TOKEN)
    if "token_from_setup" in request:
        token = answers[request["token_from_setup"]]["access_token"]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if "form" in request:
        return client.open(request["path"], method=request["method"], data=urlencode(request["form"]),
                           content_type="application/x-www-form-urlencoded", headers=headers)
    return client.open(request["path"], method=request["method"], json=request.get("body"),
                       query_string=request.get("query"), headers=headers)


@pytest.fixture(params=EMULATED, ids=str)
def recorded(request):
    fixture = FIXTURES[request.param]
    return fixture, answer(fixture)


def test_status_and_shape_match_the_recording(recorded):
    fixture, response = recorded
    assert response.status_code == fixture["status"], response.get_data(as_text=True)
    if fixture["body"] is None:
        assert response.get_data() == b""
        return
    body = response.get_json()
    expected = fixture["body"]
    if "pick" in fixture:  # compare only the list items the recording shows (others carry other keys)
        for key, match in fixture["pick"].items():
            body = dict(body, **{key: [item for item in body[key] if all(item.get(k) == v for k, v in match.items())]})
            assert body[key], f"no {match} in {key}"
    assert shape_problems(expected, body, set(fixture["open"])) == []


def test_exact_strings_match_the_recording(recorded):
    fixture, response = recorded
    body = response.get_json(silent=True)
    for dotted, value in fixture["exact"].items():
        assert at(body, dotted) == value, dotted
    if "message_pattern" in fixture:
        assert re.fullmatch(fixture["message_pattern"], body["message"]), body["message"]
    prefix = fixture.get("message_json_prefix")
    if prefix:
        assert body["message"].startswith(prefix)
        details = json.loads(body["message"][len(prefix):])
        recorded_details = json.loads(fixture["body"]["message"][len(prefix):])
        assert [sorted(d) for d in details] == [sorted(d) for d in recorded_details]
        assert [d["error"] for d in details] == [d["error"] for d in recorded_details]
        assert [d["message"] for d in details] == [d["message"] for d in recorded_details]


def test_headers_match_the_recording(recorded):
    fixture, response = recorded
    for name, kind in fixture["headers"].items():
        assert name in response.headers, name
        if kind == "int":
            int(response.headers[name])
    for name, value in fixture.get("secondly", {}).items():
        assert response.headers[name] == str(value), name


def test_every_fixture_says_where_it_was_seen_and_how_sure():
    kinds = {"live capture", "log of a live run", "documentation example"}
    for name, fixture in FIXTURES.items():
        assert fixture["seen"]["how"] in kinds, name
        assert fixture["seen"]["where"], name


def test_the_docs_table_lists_every_fixture():
    from pathlib import Path

    docs = (Path(__file__).parents[2] / "docs" / "emulator.md").read_text(encoding="utf-8")
    missing = [name for name in FIXTURES if f"`{name}`" not in docs]
    assert missing == []


@pytest.mark.parametrize("expected, actual, problem", [
    ({"a": 1}, {"a": 1, "b": 2}, "keys HubSpot does not send: ['b']"),
    ({"a": 1, "b": 2}, {"a": 1}, "keys HubSpot sends that are missing: ['b']"),
    ({"a": "1"}, {"a": 1}, "a: integer where HubSpot sends string"),
    ({"a": True}, {"a": 1}, "a: integer where HubSpot sends boolean"),
    ({"r": [{"x": 1}]}, {"r": [{"x": 1}, {"y": 1}]}, "r.*: keys HubSpot does not send: ['y']"),
    ({"e": [{"c": {"ids": ["1"]}}]}, {"e": [{"c": {"ids": [1]}}]}, "e.*.c.ids.*: integer where HubSpot sends string"),
])
def test_the_shape_comparison_finds_each_kind_of_difference(expected, actual, problem):
    assert any(problem in found for found in shape_problems(expected, actual))


def test_open_maps_are_compared_as_maps_only():
    assert shape_problems({"p": {"a": "1"}}, {"p": {"b": None}}, {"p"}) == []
    assert shape_problems({"p": {"a": "1"}}, {"p": []}, {"p"}) != []
