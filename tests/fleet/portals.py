"""Portals for the fleet tests: the project's multi-portal emulator (``hub``), and a scripted one.

``hub`` is the emulator itself (one ``Emulator``, a portal per ``add_portal``, its OAuth token
endpoint, its clock settable), for whole flows. ``fleet`` is a small scripted stand-in for what the
emulator does not do, so the credential tests can reach every branch: refresh tokens that rotate,
access tokens HubSpot stops taking early, a server that refuses every bearer.

In the scripted one each portal is its own in-process ``Emulator`` (its own state); a request goes to the portal its
bearer token belongs to: a private-app token given when the portal was made, or an access token
this server issued for the portal's refresh token. ``POST /oauth/v1/token`` answers in HubSpot's
documented shapes: 200 ``{"token_type": "bearer", "refresh_token", "access_token", "expires_in"}``,
400 ``{"status": "BAD_REFRESH_TOKEN", "message": "missing or unknown refresh token", ...}``, and
``BAD_CLIENT_ID`` / ``BAD_CLIENT_SECRET`` for the app's credentials. Loopback only.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from cryptography.fernet import Fernet

from provisioner.emulator import Emulator, EmulatorSettings, serve_in_thread
from provisioner.fleet.location import StoreLocation

CLIENT_ID = "test-client-id"
CLIENT_SECRET = "test-client-secret-0123"
TOKEN_TTL_S = 1800


class FleetPortals:
    """The WSGI app (``.app``) holding every portal."""

    def __init__(self, *, rotate_refresh_tokens: bool = False) -> None:
        self.emulators: dict[int, Emulator] = {}
        self.rotate = rotate_refresh_tokens
        self._owner: dict[str, int] = {}  # bearer token -> portal
        self._refresh: dict[str, int] = {}  # live refresh token -> portal
        self._lock = threading.Lock()
        self._serial = itertools.count(1)
        self.token_requests: Counter = Counter()  # by portal (0: unknown refresh token)
        self.bearers_seen: list[tuple[int, str]] = []
        self.refuse_bearers = False  # answer 401 to every API request, whatever its token

    def add_portal(self, portal_id: int, *, token: str | None = None, refresh_token: str | None = None,
                   **settings) -> Emulator:
        settings.setdefault("burst_limit", None)
        settings.setdefault("daily_limit", None)
        emulator = Emulator(EmulatorSettings(portal_id=portal_id, **settings))
        with self._lock:
            self.emulators[portal_id] = emulator
            if token:
                self._owner[token] = portal_id
            if refresh_token:
                self._refresh[refresh_token] = portal_id
        return emulator

    def revoke(self, portal_id: int) -> None:
        with self._lock:
            for token in [t for t, p in self._refresh.items() if p == portal_id]:
                del self._refresh[token]

    def expire_access_tokens(self, portal_id: int) -> None:
        """HubSpot no longer takes the access tokens issued for this portal (its clock ran ahead)."""
        with self._lock:
            for token in [t for t, p in self._owner.items() if p == portal_id and t.startswith("at-")]:
                del self._owner[token]

    def live_refresh_token(self, portal_id: int) -> str | None:
        with self._lock:
            return next((t for t, p in self._refresh.items() if p == portal_id), None)

    # ---- WSGI ----------------------------------------------------------------------------------
    def app(self, environ, start_response):
        if environ.get("PATH_INFO") == "/oauth/v1/token" and environ.get("REQUEST_METHOD") == "POST":
            return self._token(environ, start_response)
        auth = environ.get("HTTP_AUTHORIZATION", "")
        bearer = auth[len("Bearer "):] if auth.startswith("Bearer ") else ""
        with self._lock:
            portal_id = self._owner.get(bearer)
            if portal_id is not None:
                self.bearers_seen.append((portal_id, bearer))
        if portal_id is None or self.refuse_bearers:
            return _json(start_response, "401 Unauthorized", {
                "status": "error", "message": "Authentication credentials not found.", "category": "INVALID_AUTHENTICATION"})
        return self.emulators[portal_id].app(environ, start_response)

    def _token(self, environ, start_response):
        size = int(environ.get("CONTENT_LENGTH") or 0)
        form = {k: v[0] for k, v in parse_qs(environ["wsgi.input"].read(min(size, 65536)).decode()).items()}
        if form.get("client_id") != CLIENT_ID:
            return _bad(start_response, "BAD_CLIENT_ID", "missing or unknown client id")
        if form.get("client_secret") != CLIENT_SECRET:
            return _bad(start_response, "BAD_CLIENT_SECRET", "missing or invalid client secret")
        if form.get("grant_type") != "refresh_token":
            return _bad(start_response, "BAD_GRANT_TYPE", "unsupported grant type")
        refresh = form.get("refresh_token", "")
        with self._lock:
            portal_id = self._refresh.get(refresh)
            self.token_requests[portal_id or 0] += 1
            if portal_id is None:
                return _bad(start_response, "BAD_REFRESH_TOKEN", "missing or unknown refresh token")
            access = f"at-{portal_id}-{next(self._serial)}-{uuid.uuid4().hex}"
            self._owner[access] = portal_id
            if self.rotate:
                del self._refresh[refresh]
                refresh = f"rt-{portal_id}-{uuid.uuid4().hex}"
                self._refresh[refresh] = portal_id
        return _json(start_response, "200 OK", {"token_type": "bearer", "refresh_token": refresh,
                                               "access_token": access, "expires_in": TOKEN_TTL_S})


def _bad(start_response, status: str, message: str):
    return _json(start_response, "400 Bad Request", {
        "status": status, "message": message, "correlationId": str(uuid.uuid4()), "requestId": uuid.uuid4().hex})


def _json(start_response, status: str, body: dict):
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json;charset=utf-8"), ("Content-Length", str(len(data)))])
    return [data]


def at_once(location: StoreLocation, count: int, call) -> list:
    """``call(registry)`` on ``count`` threads, each with its own connection (like processes), started
    together; the results (or the exceptions raised) in no particular order."""
    from provisioner.fleet.registry import open_registry

    registries = [open_registry(location) for _ in range(count)]
    outcomes: list = []
    start = threading.Barrier(count)

    def one(registry) -> None:
        start.wait(timeout=10)
        try:
            outcomes.append(call(registry))
        except Exception as exc:  # noqa: BLE001 - handed to the test
            outcomes.append(exc)

    threads = [threading.Thread(target=one, args=(registry,)) for registry in registries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for registry in registries:
        registry.close()
    return outcomes


class Wall:
    """Wall-clock seconds, moved on at will: the emulator's (HubSpot's) clock, or the client's."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


class Hub:
    """The project's multi-portal emulator on one loopback address, for whole flows."""

    def __init__(self, emulator: Emulator, base_url: str, wall: Wall, log: Path) -> None:
        self.emulator, self.base_url, self.wall, self.log = emulator, base_url, wall, log

    def add_portal(self, portal_id: int, *, token: str | None = None, refresh_token: str | None = None):
        return self.emulator.add_portal(portal_id, token=token, refresh_token=refresh_token)

    @property
    def emulators(self) -> dict:
        """Each portal's tenant (its counts, faults and data) by portal id."""
        return self.emulator.tenants

    def revoke(self, portal_id: int) -> None:
        self.emulator.revoke(portal_id)

    def token_requests(self, portal_id: int | None = None) -> int:
        """Requests to POST /oauth/v1/token (for one portal; a refused one is the default portal's)."""
        lines = [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()] \
            if self.log.exists() else []
        return sum(1 for line in lines if line["path"] == "/oauth/v1/token"
                   and (portal_id is None or line["portal"] == portal_id))


# ---- fixtures (imported by the test modules that use them) -----------------------------------------
@contextlib.contextmanager
def _served(app, tmp_path, monkeypatch) -> Iterator[str]:
    """``app`` on 127.0.0.1, commands pointed at it with the app's OAuth credentials and a sealing key."""
    with serve_in_thread(app, host="127.0.0.1", port=0) as base_url:
        monkeypatch.setenv("HUBSPOT_BASE_URL", base_url)
        monkeypatch.setenv("HUBSPOT_CLIENT_ID", CLIENT_ID)
        monkeypatch.setenv("HUBSPOT_CLIENT_SECRET", CLIENT_SECRET)
        monkeypatch.setenv("PROVISIONER_SECRET_KEY", Fernet.generate_key().decode())
        monkeypatch.chdir(tmp_path)
        yield base_url


@pytest.fixture(name="fleet")
def fleet_fixture(tmp_path, monkeypatch):
    """Several portals on one loopback address, the app's OAuth credentials and a sealing key set."""
    portals = FleetPortals()
    with _served(portals, tmp_path, monkeypatch) as base_url:
        portals.base_url = base_url
        yield portals


@pytest.fixture(name="hub")
def hub_fixture(tmp_path, monkeypatch):
    """The emulator with portals added as each test needs; a token no portal owns is refused (401)."""
    wall = Wall()
    log = tmp_path / "emulator-requests.jsonl"
    emulator = Emulator(EmulatorSettings(token="the-default-portal-only", client_id=CLIENT_ID,
                                         client_secret=CLIENT_SECRET, burst_limit=None, daily_limit=None,
                                         request_log=str(log)), wall=wall)
    with _served(emulator, tmp_path, monkeypatch) as base_url:
        yield Hub(emulator, base_url, wall, log)


@pytest.fixture(name="location", params=["sqlite", "postgresql"])
def location_fixture(request, tmp_path) -> StoreLocation:
    """The store on each backend: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return StoreLocation(path=str(tmp_path / "store" / "sync.sqlite"))
    return StoreLocation(url=request.getfixturevalue("pg_url"))
