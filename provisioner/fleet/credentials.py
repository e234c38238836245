"""A client for a registered portal: its private-app token, or an OAuth access token kept fresh.

A private-app portal's token is read from the environment variable its row names. An OAuth
portal's access token (HubSpot's last 30 minutes) comes from ``OAuthTokens``, which the client's
transport asks before every request: the token it holds while more than ``REFRESH_AHEAD_S`` is
left, else the one the registry holds (another process may have refreshed it), else a new one
from ``POST /oauth/v1/token`` with HUBSPOT_CLIENT_ID / HUBSPOT_CLIENT_SECRET. When HubSpot answers
401 all the same (a clock that runs behind), the transport asks ``renew`` once for another token. That refresh runs
inside ``Registry.locked``, so across every process one refresh happens and the others read its
sealed result; a rotated refresh token replaces the stored one in the same transaction.

A refresh token HubSpot refuses pauses that portal with the reason (``portals list`` shows it) and
raises ``PortalPaused``; a paused portal is never asked for again until it is resumed, so no loop
retries it, and no other portal is touched. A server error or silence while refreshing is not a
refusal: the portal stays active and the caller fails this time only.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

from provisioner.errors import PortalPaused, UsageError
from provisioner.fleet.registry import Portal, Registry, SealedTokens
from provisioner.fleet.sealing import seal, unseal
from provisioner.hubspot.client import DEFAULT_BASE_URL, HubSpotClient
from provisioner.hubspot.connect import connect
from provisioner.hubspot.oauth import RefreshRefused, refresh_access_token

CLIENT_ID_VARIABLE = "HUBSPOT_CLIENT_ID"
CLIENT_SECRET_VARIABLE = "HUBSPOT_CLIENT_SECRET"
# Refresh this long before the access token expires: a request never goes out with a token about to lapse.
REFRESH_AHEAD_S = 300.0


def _app_credentials() -> tuple[str, str]:
    client_id = os.environ.get(CLIENT_ID_VARIABLE, "")
    client_secret = os.environ.get(CLIENT_SECRET_VARIABLE, "")
    if not client_id or not client_secret:
        missing = " and ".join(name for name, value in ((CLIENT_ID_VARIABLE, client_id),
                                                        (CLIENT_SECRET_VARIABLE, client_secret)) if not value)
        raise UsageError(f"{missing} not set: an OAuth portal's access token cannot be refreshed",
                         hint="export your HubSpot app's client id and secret")
    return client_id, client_secret


class OAuthTokens:
    """The token provider of one OAuth portal: a valid access token each time it is called."""

    def __init__(self, registry: Registry, portal_id: int, base_url: str, *,
                 clock: Callable[[], float] = time.time, ahead_s: float = REFRESH_AHEAD_S) -> None:
        self.registry = registry
        self.portal_id = portal_id
        self.base_url = base_url
        self.refreshes = 0  # refreshes this provider made itself
        self._clock = clock
        self._ahead_s = ahead_s
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0

    def __repr__(self) -> str:  # never shows a token
        return f"OAuthTokens(portal {self.portal_id})"

    def __call__(self) -> str:
        with self._lock:
            if self._token is None or not self._fresh(self._expires_at):
                self._token, self._expires_at = self._fetch()
            return self._token

    def renew(self, stale: str | None) -> bool:
        """HubSpot refused ``stale`` (a 401): get another token now, unless another process already
        did; True when the token to use now differs from the refused one."""
        with self._lock:
            self._token, self._expires_at = self._fetch(stale)
            return self._token != stale

    def _fresh(self, expires_at: float | None) -> bool:
        return expires_at is not None and self._clock() < expires_at - self._ahead_s

    def _stored(self, sealed: SealedTokens | None, stale: str | None) -> tuple[str, float] | None:
        """The stored access token while it is fresh (and not the one HubSpot refused), else None."""
        if sealed is None:
            raise UsageError(f"no portal {self.portal_id} is registered", hint="see: provisioner portals list")
        if sealed.paused:
            raise PortalPaused(self.portal_id, sealed.paused)
        if sealed.access_token and self._fresh(sealed.expires_at):
            token = unseal(sealed.access_token, f"portal {self.portal_id}'s access token")
            if token != stale:
                return token, float(sealed.expires_at)
        return None

    def _fetch(self, stale: str | None = None) -> tuple[str, float]:
        stored = self._stored(self.registry.sealed_tokens(self.portal_id), stale)
        if stored is not None:
            return stored
        refused: RefreshRefused | None = None
        with self.registry.locked(self.portal_id) as sealed:
            stored = self._stored(sealed, stale)  # another process may have refreshed while this one waited
            if stored is not None:
                return stored
            if not sealed.refresh_token:
                raise UsageError(f"portal {self.portal_id} has no refresh token stored")
            refresh_token = unseal(sealed.refresh_token, f"portal {self.portal_id}'s refresh token")
            client_id, client_secret = _app_credentials()
            sent_at = self._clock()
            try:
                grant = refresh_access_token(self.base_url, client_id=client_id, client_secret=client_secret,
                                             refresh_token=refresh_token)
            except RefreshRefused as exc:
                refused = exc
                self.registry.pause(self.portal_id, str(exc))
            else:
                expires_at = sent_at + grant.expires_in
                rotated = grant.refresh_token if grant.refresh_token not in (None, refresh_token) else None
                self.registry.store_tokens(self.portal_id, seal(grant.access_token), expires_at,
                                           seal(rotated) if rotated else None)
                self.refreshes += 1
        if refused is not None:
            raise PortalPaused(self.portal_id, str(refused)) from None
        return grant.access_token, expires_at


def client_for(registry: Registry, portal: Portal, *, service: bool = False,
               wall_clock: Callable[[], float] = time.time, **client_options) -> HubSpotClient:
    """A client for the registered ``portal`` (PortalPaused when it is paused or its refresh is refused).

    ``client_options`` are ``connect``'s (api_version, default_api_version, tier) and the client's;
    the portal's tier is the default tier. A ``service`` has no overall deadline.
    """
    current = registry.get(portal.portal_id)
    if current is None:
        raise UsageError(f"no portal {portal.portal_id} is registered", hint="see: provisioner portals list")
    if current.paused:
        raise PortalPaused(current.portal_id, current.paused)
    client_options.setdefault("tier", current.tier)
    if service:
        client_options["deadline_s"] = None
    if current.token_env is not None:
        token = os.environ.get(current.token_env, "")
        if not token:
            raise UsageError(f"portal {current.portal_id}: {current.token_env} is not set",
                             hint="export the portal's private-app token in that variable")
        return connect(local=False, token=token, **client_options)
    base_url = os.environ.get("HUBSPOT_BASE_URL") or DEFAULT_BASE_URL
    tokens = OAuthTokens(registry, current.portal_id, base_url, clock=wall_clock)
    return connect(local=False, token=tokens(), token_provider=tokens, **client_options)
