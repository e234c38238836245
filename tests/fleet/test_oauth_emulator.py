"""OAuth portals against the project's emulator: its token endpoint, its expiring access tokens, revocation."""

from __future__ import annotations

import pytest

from provisioner.errors import PortalPaused
from provisioner.fleet.credentials import REFRESH_AHEAD_S, client_for
from provisioner.fleet.registry import Portal, open_registry
from tests.fleet.portals import Wall, hub_fixture, location_fixture  # noqa: F401 - fixtures

TTL_S = 1800  # the emulator's default, HubSpot's


def _oauth(registry, hub, portal_id: int) -> Portal:
    hub.add_portal(portal_id, refresh_token=f"na1-r-{portal_id}")
    portal = Portal(portal_id, "", "starter", None, True, None)
    registry.add(portal, f"na1-r-{portal_id}")
    return portal


def test_refreshed_ahead_of_expiry_while_the_client_lives(hub, location):
    client_wall = Wall()
    with open_registry(location) as registry:
        client = client_for(registry, _oauth(registry, hub, 71), wall_clock=client_wall)
        assert client.get_account_details().portal_id == 71
        first = client.transport.token
        for clock in (client_wall, hub.wall):  # both clocks move on together
            clock.offset = TTL_S - REFRESH_AHEAD_S + 1
        assert client.get_account_details().portal_id == 71
        assert client.transport.token != first and hub.token_requests(71) == 2
        for clock in (client_wall, hub.wall):  # past the first token's life: the new one still works
            clock.offset = TTL_S + 60
        assert client.get_account_details().portal_id == 71 and hub.token_requests(71) == 2


def test_a_clock_behind_the_emulator_meets_expired_authentication_and_renews_once(hub, location):
    with open_registry(location) as registry:
        client = client_for(registry, _oauth(registry, hub, 72))
        client.get_account_details()
        hub.wall.offset = TTL_S + 75  # HubSpot's clock is past the token's life; this machine's is not
        assert client.get_account_details().portal_id == 72  # 401 EXPIRED_AUTHENTICATION, a new token, again
        assert hub.token_requests(72) == 2


def test_a_revoked_portal_is_paused_and_the_others_go_on(hub, location):
    with open_registry(location) as registry:
        revoked = _oauth(registry, hub, 73)
        other = _oauth(registry, hub, 74)
        hub.revoke(73)
        with pytest.raises(PortalPaused, match="BAD_REFRESH_TOKEN"):
            client_for(registry, revoked)
        assert "BAD_REFRESH_TOKEN" in registry.get(73).paused and registry.get(74).paused is None
        assert client_for(registry, other).get_account_details().portal_id == 74
        asked = hub.token_requests()
        for _ in range(3):
            with pytest.raises(PortalPaused):
                client_for(registry, registry.get(73))
        assert hub.token_requests() == asked  # paused: never asked again
