"""OAuth as HubSpot does it: the refresh grant, access tokens that expire, revocation, the app's credentials."""

from __future__ import annotations

import subprocess
import sys
from urllib.parse import urlencode

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

from provisioner.emulator import Emulator, EmulatorSettings
from provisioner.emulator.oauth import parse_form
from provisioner.emulator.wire import HubSpotError
from tests.emulator.conftest import Local

TOKEN_PATH = "/oauth/v1/token"
PROPS = "/crm/v3/properties/deals"
APP = {"client_id": "cid", "client_secret": "csecret"}


class Wall:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def wall():
    return Wall()


@pytest.fixture
def oauth_emulator(wall):
    emu = Emulator(EmulatorSettings(burst_limit=None, daily_limit=None, **APP), wall=wall)
    emu.add_portal(4242, refresh_token="na1-refresh-4242")
    emu.add_portal(5353, refresh_token="na1-refresh-5353")
    yield emu
    emu.close()


def refresh(emulator, refresh_token: str = "na1-refresh-4242", **fields):
    form = {"grant_type": "refresh_token", **APP, "refresh_token": refresh_token, **fields}
    answer = Client(emulator.app).open(TOKEN_PATH, method="POST", data=urlencode(form),
                                       content_type="application/x-www-form-urlencoded")
    return answer.status_code, answer.get_json()


def test_a_refresh_answers_an_access_token_that_acts_on_its_portal(oauth_emulator):
    status, body = refresh(oauth_emulator)
    assert status == 200 and body["expires_in"] == 1800 and body["hub_id"] == 4242
    assert body["refresh_token"] == "na1-refresh-4242" and body["token_type"] == "bearer"
    portal = Local(oauth_emulator, token=body["access_token"])
    assert portal("GET", "/account-info/v3/details").body["portalId"] == 4242
    assert portal("POST", PROPS + "/groups", {"name": "g", "label": "G"}).status_code == 201
    assert "g" in oauth_emulator.tenant(4242).portal.groups and "g" not in oauth_emulator.portal.groups
    _, again = refresh(oauth_emulator)
    assert again["access_token"] != body["access_token"]  # each refresh hands out a new one; both work
    assert Local(oauth_emulator, token=body["access_token"])("GET", PROPS).status_code == 200


def test_an_expired_access_token_is_hubspots_401_naming_when(oauth_emulator, wall):
    _, body = refresh(oauth_emulator)
    wall.now += 1800 + 75
    answer = Local(oauth_emulator, token=body["access_token"])("GET", PROPS)
    assert answer.status_code == 401 and answer.body["category"] == "EXPIRED_AUTHENTICATION"
    assert answer.body["message"] == "The OAuth token used to make this call expired 75 second(s) ago."
    assert answer.body["context"]["expire time"] == ["2027-01-15T08:30:00.000Z"]
    wall.now += 3 * 86400
    later = Local(oauth_emulator, token=body["access_token"])("GET", PROPS).body["message"]
    assert later == "The OAuth token used to make this call expired 3 day(s) ago."
    _, fresh = refresh(oauth_emulator)
    assert Local(oauth_emulator, token=fresh["access_token"])("GET", PROPS).status_code == 200


def test_a_revoked_refresh_token_is_refused_and_only_its_portal_is_touched(oauth_emulator):
    _, issued = refresh(oauth_emulator)
    admin = Local(oauth_emulator, token=None)
    assert admin("POST", "/__emulator__/portals/4242/revoke").status_code == 200
    status, body = refresh(oauth_emulator)
    assert status == 400 and body["status"] == "BAD_REFRESH_TOKEN" and body["error"] == "invalid_grant"
    assert refresh(oauth_emulator, "na1-refresh-5353")[0] == 200  # the other portal refreshes as before
    # Access tokens already issued live out their time, as HubSpot documents for a deleted refresh token.
    assert Local(oauth_emulator, token=issued["access_token"])("GET", PROPS).status_code == 200
    assert admin("GET", "/__emulator__/portals").body["results"][1]["revoked"] is True


def test_revoking_what_cannot_be_revoked(oauth_emulator):
    oauth_emulator.add_portal(77, token="private")
    admin = Local(oauth_emulator, token=None)
    assert admin("POST", "/__emulator__/portals/77/revoke").status_code == 400
    assert admin("POST", "/__emulator__/portals/78/revoke").status_code == 404
    assert admin("GET", "/__emulator__/portals/77/revoke").status_code == 405
    assert admin("POST", "/__emulator__/portals/x/revoke").status_code == 404


@pytest.mark.parametrize("change, status_name", [
    ({"client_id": "wrong"}, "BAD_CLIENT_ID"),
    ({"client_id": ""}, "BAD_CLIENT_ID"),
    ({"client_secret": "wrong"}, "BAD_CLIENT_SECRET"),
    ({"client_id": "wrong", "grant_type": "password"}, "BAD_CLIENT_ID"),  # the client id is checked first
    ({"grant_type": "authorization_code"}, "BAD_GRANT_TYPE"),
    ({"refresh_token": "na1-unknown"}, "BAD_REFRESH_TOKEN"),
    ({"refresh_token": ""}, "BAD_REFRESH_TOKEN"),
])
def test_each_wrong_field_has_its_own_400(oauth_emulator, change, status_name):
    status, body = refresh(oauth_emulator, **change)
    assert status == 400 and body["status"] == status_name and body["message"] == body["error_description"]


def test_a_json_body_is_415_and_other_methods_405(oauth_emulator):
    client = Client(oauth_emulator.app)
    answer = client.open(TOKEN_PATH, method="POST", json={"grant_type": "refresh_token"})
    assert answer.status_code == 415
    assert client.open(TOKEN_PATH, method="GET").status_code == 405


def test_without_app_credentials_any_non_empty_ones_are_accepted():
    emu = Emulator(EmulatorSettings())
    emu.add_portal(1, refresh_token="r1")
    try:
        assert refresh(emu, "r1", client_id="any", client_secret="thing")[0] == 200
        assert refresh(emu, "r1", client_id="any", client_secret="")[1]["status"] == "BAD_CLIENT_SECRET"
    finally:
        emu.close()


def test_issued_access_tokens_survive_a_restart_and_none_is_stored(tmp_path, wall):
    state = str(tmp_path / "s.sqlite")
    first = Emulator(EmulatorSettings(state_file=state, **APP), wall=wall)
    first.add_portal(4242, refresh_token="na1-refresh-4242")
    _, body = refresh(first)
    first.close()
    again = Emulator(EmulatorSettings(state_file=state, **APP), wall=wall)
    try:
        assert Local(again, token=body["access_token"])("GET", "/account-info/v3/details").body["portalId"] == 4242
        assert refresh(again)[0] == 200
    finally:
        again.close()
    for path in tmp_path.iterdir():
        assert body["access_token"].encode() not in path.read_bytes() and b"na1-refresh-4242" not in path.read_bytes()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(["application/x-www-form-urlencoded", "text/plain", "",
                                                 "application/x-www-form-urlencoded; charset=utf-8"]))
def test_any_token_request_body_is_read_or_refused_with_an_answer(raw, content_type):
    try:
        fields = parse_form(raw, content_type)
    except HubSpotError as exc:
        assert exc.status in (400, 415) and exc.body["message"]
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items())


def test_serve_takes_the_app_credentials_and_the_token_lifetime(tmp_path):
    """emulator serve --client-id --client-secret --access-token-ttl, then a portal added and refreshed over HTTP."""
    process = subprocess.Popen([sys.executable, "-m", "provisioner", "emulator", "serve", "--port", "0",
                                "--client-id", "cli-id", "--access-token-ttl", "60"],
                               stderr=subprocess.PIPE, text=True,
                               env={**_env(), "HUBSPOT_CLIENT_SECRET": "from-the-environment"})
    try:
        line = process.stderr.readline()
        url = line.split("listening on ")[1].split()[0]
        assert requests.post(url + "/__emulator__/portals", json={"portal_id": 31, "refresh_token": "r31"},
                             timeout=10).status_code == 201
        form = {"grant_type": "refresh_token", "client_id": "cli-id", "client_secret": "from-the-environment",
                "refresh_token": "r31"}
        answer = requests.post(url + TOKEN_PATH, data=form, timeout=10)
        assert answer.status_code == 200 and answer.json()["expires_in"] == 60
        wrong = requests.post(url + TOKEN_PATH, data={**form, "client_secret": "guess"}, timeout=10)
        assert wrong.json()["status"] == "BAD_CLIENT_SECRET"
        details = requests.get(url + "/account-info/v3/details", timeout=10,
                               headers={"Authorization": "Bearer " + answer.json()["access_token"]})
        assert details.json()["portalId"] == 31
    finally:
        process.terminate()
        process.wait(timeout=20)
        process.stderr.close()


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("HUBSPOT_")}


def test_token_info_names_the_portal_of_an_oauth_access_token(oauth_emulator):
    _, body = refresh(oauth_emulator, "na1-refresh-5353")
    info = Local(oauth_emulator, token=None)("POST", "/oauth/v2/private-apps/get/access-token-info",
                                             {"tokenKey": body["access_token"]})
    assert info.status_code == 200 and info.body["hubId"] == 5353


def test_a_revocation_survives_a_restart(tmp_path):
    state = str(tmp_path / "s.sqlite")
    first = Emulator(EmulatorSettings(state_file=state, **APP))
    first.add_portal(4242, refresh_token="na1-refresh-4242")
    first.revoke(4242)
    first.close()
    again = Emulator(EmulatorSettings(state_file=state, **APP))
    try:
        assert again.tenant(4242).revoked and refresh(again)[1]["status"] == "BAD_REFRESH_TOKEN"
    finally:
        again.close()


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=0, max_value=10**9, allow_nan=False))
def test_an_expiry_is_told_in_one_whole_unit_never_more_than_happened(ago):
    import re

    from provisioner.emulator.oauth import expired

    body = expired(1_000_000.0, 1_000_000.0 + ago).body
    found = re.fullmatch(r"The OAuth token used to make this call expired (\d+) (second|minute|hour|day)\(s\) ago\.",
                         body["message"])
    assert found
    size = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}[found[2]]
    assert int(found[1]) * size <= ago < (int(found[1]) + 1) * size
