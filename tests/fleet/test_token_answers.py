"""HubSpot's token endpoint answering anything: each answer is a grant, a refusal or a transient failure."""

from __future__ import annotations

import json

import pytest

from provisioner import errors
from provisioner.emulator import serve_in_thread
from provisioner.hubspot import oauth
from provisioner.hubspot.oauth import RefreshRefused, refresh_access_token
from tests.hubspot.servers import hostile_server

SECRET = "client-secret-do-not-show"
REFRESH = "refresh-token-do-not-show"


class Scripted:
    def __init__(self, status: str, body: bytes) -> None:
        self.status, self.body = status, body

    def app(self, environ, start_response):
        start_response(self.status, [("Content-Type", "application/json"), ("Content-Length", str(len(self.body)))])
        return [self.body]


def ask(status: str, body: object) -> oauth.TokenGrant:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    with serve_in_thread(Scripted(status, raw)) as base_url:
        return refresh_access_token(base_url, client_id="id", client_secret=SECRET, refresh_token=REFRESH)


GOOD = {"token_type": "bearer", "refresh_token": "r2-new", "access_token": "a-new-token", "expires_in": 1800}


def test_a_grant():
    grant = ask("200 OK", GOOD)
    assert (grant.access_token, grant.refresh_token, grant.expires_in) == ("a-new-token", "r2-new", 1800.0)


@pytest.mark.parametrize("body", [
    b"not json", b"[1, 2]", b"", b"[" * 50_000, b'"x"' + b" " * (70 * 1024),
    {**GOOD, "access_token": None}, {**GOOD, "access_token": ""}, {**GOOD, "access_token": 5},
    {**GOOD, "access_token": "line\nbreak-secret"}, {**GOOD, "access_token": "non-ascii-é-secret"},
    {**GOOD, "expires_in": "1800"}, {**GOOD, "expires_in": True}, {**GOOD, "expires_in": -1},
    {**GOOD, "expires_in": 0}, {**GOOD, "expires_in": 10**12}, {**GOOD, "refresh_token": 7},
    {**GOOD, "refresh_token": ""},
])
def test_a_damaged_grant_is_a_transient_failure_that_shows_no_secret(body):
    with pytest.raises(errors.ConnectionFailed) as info:
        ask("200 OK", body)
    text = str(info.value) + (info.value.hint or "")
    assert "\n" not in text and "secret" not in text and REFRESH not in text


@pytest.mark.parametrize("status, body", [
    ("400 Bad Request", {"status": "BAD_REFRESH_TOKEN", "message": "missing or unknown refresh token"}),
    ("400 Bad Request", {"error": "invalid_grant", "error_description": "revoked"}),
    ("401 Unauthorized", b""),
    ("403 Forbidden", b"<html>no</html>"),
])
def test_a_refusal_of_the_refresh_token(status, body):
    with pytest.raises(RefreshRefused):
        ask(status, body)


@pytest.mark.parametrize("status, body, kind, words", [
    ("400 Bad Request", {"status": "BAD_CLIENT_ID", "message": "missing or unknown client id"}, errors.UsageError,
     "HUBSPOT_CLIENT_ID"),
    ("400 Bad Request", {"status": "BAD_CLIENT_SECRET", "message": f"bad {SECRET}"}, errors.UsageError,
     "HUBSPOT_CLIENT_SECRET"),
    ("404 Not Found", b"", errors.UsageError, "HUBSPOT_BASE_URL"),
    ("429 Too Many Requests", b"", errors.ConnectionFailed, "next run"),
    ("503 Service Unavailable", b"", errors.ConnectionFailed, "next run"),
])
def test_app_errors_and_server_errors_do_not_refuse_the_portal(status, body, kind, words):
    with pytest.raises(kind) as info:
        ask(status, body)
    assert not isinstance(info.value, RefreshRefused)
    assert words in str(info.value) + (info.value.hint or "") and SECRET not in str(info.value)


def test_an_answer_that_trickles_ends_at_the_deadline(monkeypatch):
    with hostile_server("trickle-body") as base_url, pytest.raises(errors.ConnectionFailed, match="no answer in time"):
        refresh_access_token(base_url, client_id="id", client_secret=SECRET, refresh_token=REFRESH, timeout_s=0.5)
