"""Replays of the OAuth token endpoint's recorded answers (``POST /oauth/v1/token``), network blocked.

Re-record with ``python -m tests.hubspot.test_oauth_cassettes`` (against the emulator on
127.0.0.1). The recorded request carries placeholder credentials, and the access token of each
answer is replaced by a placeholder (``ACCESS``) before it is written: no cassette holds a token.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import vcr
import yaml

from provisioner.hubspot.oauth import RefreshRefused, refresh_access_token

CASSETTES = Path(__file__).resolve().parents[2] / "cassettes" / "oauth"
REPLAY_URL = "http://127.0.0.1:9"
CLIENT_ID, CLIENT_SECRET, REFRESH = "client-id-placeholder", "client-secret-placeholder", "refresh-placeholder"
PORTAL = 880_077
# What each recorded access token becomes. Distinctive: the client masks every token it was handed,
# for the rest of the process, so a common word here would be masked in other tests' messages.
ACCESS = "access-token-placeholder-5c1d"


def _scrub_answer(response: dict) -> dict:
    body = response["body"]["string"]
    try:
        data = json.loads(body)
    except ValueError:
        return response
    if isinstance(data, dict) and "access_token" in data:
        data["access_token"] = ACCESS
        response["body"]["string"] = json.dumps(data).encode()
    return response


def _cassette(mode: str, name: str):
    recorder = vcr.VCR(record_mode=mode, match_on=["method", "path", "body"],
                       before_record_response=_scrub_answer, decode_compressed_response=True)
    return recorder.use_cassette(str(CASSETTES / f"{name}.yaml"), allow_playback_repeats=False)


def _refresh(base_url: str):
    return refresh_access_token(base_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, refresh_token=REFRESH)


@pytest.mark.block_network
def test_a_refresh_grant_gives_an_access_token_for_thirty_minutes():
    with _cassette("none", "refresh") as recorded:
        grant = _refresh(REPLAY_URL)
        assert recorded.all_played
    assert grant.access_token == ACCESS and grant.expires_in == 1800
    assert grant.refresh_token in (None, REFRESH)
    request = recorded.requests[0]
    assert (request.method, request.path) == ("POST", "/oauth/v1/token")
    assert b"grant_type=refresh_token" in request.body


@pytest.mark.block_network
def test_a_revoked_refresh_token_is_refused_not_retried():
    with _cassette("none", "revoked") as recorded:
        with pytest.raises(RefreshRefused) as refused:
            _refresh(REPLAY_URL)
        assert recorded.all_played and len(recorded.requests) == 1
    assert refused.value.status == 400 and refused.value.code == "BAD_REFRESH_TOKEN"


def test_no_oauth_cassette_holds_a_token():
    paths = sorted(CASSETTES.glob("*.yaml"))
    assert [p.name for p in paths] == ["refresh.yaml", "revoked.yaml"]
    for path in paths:
        for interaction in yaml.safe_load(path.read_text())["interactions"]:
            body = interaction["request"]["body"]
            assert f"client_secret={CLIENT_SECRET}" in body and f"refresh_token={REFRESH}" in body, path
            answer = json.loads(interaction["response"]["body"]["string"])
            assert answer.get("access_token", ACCESS) == ACCESS, path
            assert "authorization" not in {k.lower() for k in interaction["request"]["headers"]}, path


def _record() -> None:  # pragma: no cover - run by hand to re-record
    import requests

    from provisioner.emulator import Emulator, EmulatorSettings
    from provisioner.emulator.server import serve_in_thread

    emulator = Emulator(EmulatorSettings(client_id=CLIENT_ID, client_secret=CLIENT_SECRET))
    with serve_in_thread(emulator) as url:
        added = requests.post(url + "/__emulator__/portals", json={"portal_id": PORTAL, "refresh_token": REFRESH},
                              timeout=10)
        added.raise_for_status()
        CASSETTES.mkdir(parents=True, exist_ok=True)
        for name in ("refresh", "revoked"):
            (CASSETTES / f"{name}.yaml").unlink(missing_ok=True)
        with _cassette("all", "refresh"):
            _refresh(url)
        requests.post(url + f"/__emulator__/portals/{PORTAL}/revoke", timeout=10).raise_for_status()
        with _cassette("all", "revoked"), pytest.raises(RefreshRefused):
            _refresh(url)
    emulator.close()


if __name__ == "__main__":
    _record()
