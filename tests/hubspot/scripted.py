"""A scripted portal (a WSGI app answering from a script) and a fake clock, for the client's tests."""

from __future__ import annotations

import json

from provisioner.hubspot.client import HubSpotClient


class Scripted:
    """A WSGI app answering from a script of (status, body, headers); records what it was sent."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.seen: list[tuple[str, str, dict]] = []

    def __call__(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        self.seen.append((environ["REQUEST_METHOD"], environ["PATH_INFO"],
                          {"auth": environ.get("HTTP_AUTHORIZATION"), "body": body.decode()}))
        status, payload, headers = self.answers.pop(0)
        if status == "drop":
            raise ConnectionResetError("dropped")
        data = b"" if payload is None else json.dumps(payload).encode()
        start_response(f"{status} X", [("Content-Type", "application/json"), *headers.items()])
        return [data]


def client_for(app, **kwargs):
    """A client whose sleeps are recorded, not slept (no pacing: the limiter has its own tests)."""
    sleeps: list[float] = []
    kwargs.setdefault("tier", "unlimited")
    client = HubSpotClient("http://portal.test", "secret-token", wsgi_app=app, sleep=sleeps.append,
                           clock=lambda: 0.0, **kwargs)
    return client, sleeps


ACCOUNT = {"portalId": 42, "accountType": "STANDARD", "timeZone": "UTC"}
RATE = {"status": "error", "message": "You have reached your ten_secondly_rolling limit.", "errorType": "RATE_LIMIT",
        "correlationId": "c-1", "policyName": "TEN_SECONDLY_ROLLING"}


class FakeClock:
    """A clock that moves only when slept on."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        assert seconds >= 0
        self.now += seconds
