"""Clients for registered portals: private-app tokens, OAuth refresh ahead of expiry, revocation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provisioner import logs
from provisioner.errors import PortalPaused, UsageError
from provisioner.fleet.credentials import REFRESH_AHEAD_S, OAuthTokens, client_for
from provisioner.fleet.registry import Portal, open_registry
from tests.fleet.portals import TOKEN_TTL_S, at_once, fleet_fixture, location_fixture  # noqa: F401 - fixtures


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _oauth(registry, fleet, portal_id: int, refresh: str | None = None) -> Portal:
    refresh = refresh or f"rt-{portal_id}-initial"
    fleet.add_portal(portal_id, refresh_token=refresh)
    portal = Portal(portal_id, "", "starter", None, True, None)
    registry.add(portal, refresh)
    return portal


def test_private_app_token_from_its_variable(fleet, location, monkeypatch):
    fleet.add_portal(11, token="pat-portal-eleven")
    monkeypatch.setenv("PORTAL_11_TOKEN", "pat-portal-eleven")
    with open_registry(location) as registry:
        portal = Portal(11, "", "professional", "PORTAL_11_TOKEN", False, None)
        registry.add(portal)
        client = client_for(registry, portal)
        assert client.get_account_details().portal_id == 11
        assert client.limiter is not None and "pat-portal-eleven" not in repr(client)
        monkeypatch.delenv("PORTAL_11_TOKEN")
        with pytest.raises(UsageError, match="PORTAL_11_TOKEN is not set"):
            client_for(registry, portal)


def test_access_token_is_refreshed_ahead_of_expiry_while_the_client_lives(fleet, location):
    clock = Clock()
    with open_registry(location) as registry:
        portal = _oauth(registry, fleet, 21)
        client = client_for(registry, portal, wall_clock=clock)
        assert client.get_account_details().portal_id == 21
        assert fleet.token_requests[21] == 1
        clock.now += TOKEN_TTL_S - REFRESH_AHEAD_S - 1  # still fresh enough
        client.get_account_details()
        assert fleet.token_requests[21] == 1
        clock.now += 2  # within REFRESH_AHEAD_S of expiry: refreshed before the request goes out
        client.get_account_details()
        assert fleet.token_requests[21] == 2
    bearers = [token for portal_id, token in fleet.bearers_seen if portal_id == 21]
    assert len(set(bearers)) == 2 and bearers[0] == bearers[1] != bearers[2]


def test_every_token_the_client_held_is_masked(fleet, location):
    clock = Clock()
    with open_registry(location) as registry:
        portal = _oauth(registry, fleet, 22)
        client = client_for(registry, portal, wall_clock=clock)
        client.get_account_details()
        clock.now += TOKEN_TTL_S
        client.get_account_details()
    tokens = {token for portal_id, token in fleet.bearers_seen if portal_id == 22}
    assert len(tokens) == 2
    text = logs.redact(" ".join(tokens) + " rt-22-initial")
    assert not any(token in text for token in tokens) and "rt-22-initial" not in text


def test_another_process_uses_the_stored_access_token(fleet, location):
    clock = Clock()
    with open_registry(location) as first, open_registry(location) as second:
        portal = _oauth(first, fleet, 23)
        client_for(first, portal, wall_clock=clock).get_account_details()
        client_for(second, portal, wall_clock=clock).get_account_details()
    assert fleet.token_requests[23] == 1
    assert len({token for portal_id, token in fleet.bearers_seen if portal_id == 23}) == 1


def test_one_refresh_when_many_connections_ask_at_once(fleet, location):
    with open_registry(location) as registry:
        _oauth(registry, fleet, 24)
    tokens = at_once(location, 6, lambda registry: OAuthTokens(registry, 24, fleet.base_url)())
    assert all(isinstance(token, str) for token in tokens), tokens
    assert fleet.token_requests[24] == 1 and len(set(tokens)) == 1 and len(tokens) == 6


def test_a_rotated_refresh_token_replaces_the_stored_one(fleet, location):
    fleet.rotate = True
    clock = Clock()
    with open_registry(location) as registry:
        portal = _oauth(registry, fleet, 25)
        before = registry.sealed_tokens(25).refresh_token
        client = client_for(registry, portal, wall_clock=clock)
        assert registry.sealed_tokens(25).refresh_token != before
        clock.now += TOKEN_TTL_S  # the old refresh token is gone at HubSpot: only the new one works
        client.get_account_details()
        assert fleet.token_requests[25] == 2 and registry.get(25).paused is None


def test_a_revoked_refresh_token_pauses_only_its_portal(fleet, location):
    clock = Clock()
    with open_registry(location) as registry:
        revoked = _oauth(registry, fleet, 31)
        healthy = _oauth(registry, fleet, 32)
        fleet.revoke(31)
        with pytest.raises(PortalPaused, match="portal 31 is paused: .*BAD_REFRESH_TOKEN"):
            client_for(registry, revoked, wall_clock=clock)
        assert "BAD_REFRESH_TOKEN" in registry.get(31).paused
        assert registry.get(32).paused is None
        assert client_for(registry, healthy, wall_clock=clock).get_account_details().portal_id == 32
        # Paused: never asked for again, however often a caller tries.
        for _ in range(3):
            with pytest.raises(PortalPaused):
                client_for(registry, revoked, wall_clock=clock)
        assert fleet.token_requests[0] == 1  # the one refused ask (the revoked token is unknown now)


def test_revoked_while_a_client_lives_pauses_at_its_next_refresh(fleet, location):
    clock = Clock()
    with open_registry(location) as registry:
        portal = _oauth(registry, fleet, 33)
        client = client_for(registry, portal, wall_clock=clock)
        fleet.revoke(33)
        client.get_account_details()  # the access token still holds
        clock.now += TOKEN_TTL_S
        with pytest.raises(PortalPaused):
            client.get_account_details()
        assert registry.get(33).paused
        registry.resume(33, "rt-33-again")
        fleet.add_portal(33, refresh_token="rt-33-again")
        assert client_for(registry, registry.get(33), wall_clock=clock).get_account_details().portal_id == 33


def test_wrong_app_credentials_do_not_pause_the_portal(fleet, location, monkeypatch):
    monkeypatch.setenv("HUBSPOT_CLIENT_SECRET", "wrong-secret-value")
    with open_registry(location) as registry:
        portal = _oauth(registry, fleet, 34)
        with pytest.raises(UsageError, match="BAD_CLIENT_SECRET") as info:
            client_for(registry, portal)
        assert "wrong-secret-value" not in str(info.value)
        assert registry.get(34).paused is None
        monkeypatch.delenv("HUBSPOT_CLIENT_ID")
        with pytest.raises(UsageError, match="HUBSPOT_CLIENT_ID not set"):
            client_for(registry, portal)


def test_a_token_endpoint_that_never_answers_fails_this_time_only(location, monkeypatch, tmp_path):
    import socket

    from cryptography.fernet import Fernet

    from provisioner.errors import ConnectionFailed
    from provisioner.hubspot import oauth

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts, never answers
    monkeypatch.setattr(oauth, "REQUEST_TIMEOUT_S", 0.5)
    monkeypatch.setenv("HUBSPOT_BASE_URL", f"http://127.0.0.1:{silent.getsockname()[1]}")
    monkeypatch.setenv("HUBSPOT_CLIENT_ID", "id")
    monkeypatch.setenv("HUBSPOT_CLIENT_SECRET", "secret-value")
    monkeypatch.setenv("PROVISIONER_SECRET_KEY", Fernet.generate_key().decode())
    try:
        with open_registry(location) as registry:
            portal = Portal(35, "", "starter", None, True, None)
            registry.add(portal, "rt-35")
            with pytest.raises(ConnectionFailed, match="could not refresh"):
                client_for(registry, portal)
            assert registry.get(35).paused is None
    finally:
        silent.close()


def test_a_refresh_token_sealed_under_another_key_is_one_clear_error(fleet, location, monkeypatch):
    from cryptography.fernet import Fernet

    with open_registry(location) as registry:
        portal = _oauth(registry, fleet, 36)
        old_key = __import__("os").environ["PROVISIONER_SECRET_KEY"]
        monkeypatch.setenv("PROVISIONER_SECRET_KEY", Fernet.generate_key().decode())
        with pytest.raises(UsageError, match="cannot be decrypted"):
            client_for(registry, portal)
        # Rotation: the new key first, the old one still opens what it sealed.
        monkeypatch.setenv("PROVISIONER_SECRET_KEY", Fernet.generate_key().decode() + " " + old_key)
        assert client_for(registry, portal).get_account_details().portal_id == 36


def test_a_401_before_the_expected_expiry_renews_once(fleet, location):

    clock = Clock()
    with open_registry(location) as registry:
        portal = _oauth(registry, fleet, 37)
        client = client_for(registry, portal, wall_clock=clock)
        client.get_account_details()
        fleet.expire_access_tokens(37)  # HubSpot's clock runs ahead of this one
        assert client.get_account_details().portal_id == 37  # a 401, a new token, the same request again
        assert fleet.token_requests[37] == 2
        fleet.revoke(37)
        fleet.expire_access_tokens(37)
        with pytest.raises(PortalPaused):  # the renewal itself is refused: paused, no loop
            client.get_account_details()
        assert fleet.token_requests[0] == 1


def test_a_401_that_a_new_token_does_not_cure_is_the_answer(fleet, location):
    from provisioner.errors import AuthError

    with open_registry(location) as registry:
        portal = _oauth(registry, fleet, 38)
        client = client_for(registry, portal)
        fleet.refuse_bearers = True
        with pytest.raises(AuthError):
            client.get_account_details()
        assert fleet.token_requests[38] == 2  # one renewal, then the 401 stands


def test_a_process_killed_while_refreshing_frees_the_portal(fleet, location):
    import signal
    import subprocess
    import sys

    with open_registry(location) as registry:
        _oauth(registry, fleet, 39)
    where = f"StoreLocation(url={location.url!r})" if location.is_postgres else f"StoreLocation(path={location.path!r})"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "from provisioner.fleet.location import StoreLocation\n"
        "from provisioner.fleet.registry import open_registry\n"
        f"registry = open_registry({where})\n"
        "with registry.locked(39):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(60)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        with open_registry(location) as registry:
            token = OAuthTokens(registry, 39, fleet.base_url)()
        assert token.startswith("at-39-") and fleet.token_requests[39] == 1
    finally:
        holder.kill()
        holder.wait(timeout=10)


@settings(max_examples=40, deadline=None)
@given(ttl=st.integers(301, 7200), steps=st.lists(st.floats(0, 4000), min_size=1, max_size=12))
def test_a_token_handed_out_always_has_the_margin_left_and_is_refreshed_only_then(tmp_path_factory, ttl, steps):
    from cryptography.fernet import Fernet

    from provisioner.fleet import credentials
    from provisioner.fleet.location import StoreLocation
    from provisioner.hubspot.oauth import TokenGrant

    clock = Clock()
    issued: list[float] = []  # when each token expires

    def grant(base_url, **form):
        issued.append(clock.now + ttl)
        return TokenGrant(f"access-{len(issued)}", float(ttl), None)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(credentials, "refresh_access_token", grant)
        patch.setenv("PROVISIONER_SECRET_KEY", Fernet.generate_key().decode())
        patch.setenv("HUBSPOT_CLIENT_ID", "id")
        patch.setenv("HUBSPOT_CLIENT_SECRET", "secret-value")
        path = tmp_path_factory.mktemp("margin") / "sync.sqlite"
        with open_registry(StoreLocation(path=str(path))) as registry:
            registry.add(Portal(1, "", "starter", None, True, None), "refresh-1")
            tokens = OAuthTokens(registry, 1, "http://127.0.0.1:9", clock=clock)
            for step in steps:
                clock.now += step
                before = len(issued)
                token = tokens()
                expires = issued[int(token.split("-")[1]) - 1]
                assert expires - clock.now > REFRESH_AHEAD_S  # never a token about to lapse
                if len(issued) > before:  # refreshed: only because the one held had too little left
                    assert before == 0 or issued[before - 1] - clock.now <= REFRESH_AHEAD_S
