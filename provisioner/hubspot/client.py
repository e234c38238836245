"""HubSpotClient: every endpoint the project uses, over one transport.

The transport (transport.py) sends, paces, retries and times out; the endpoint modules (account.py,
schema.py, deals.py) build paths and bodies and turn answers into the project's types (wire.py).
HubSpotClient combines them, named after the API, as apply, drift and the value sync call them.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from provisioner.hubspot.account import OBJECT_SCOPES, SCHEMA_SCOPES, AccountEndpoints
from provisioner.hubspot.deadline import DEFAULT_TIMEOUT_S
from provisioner.hubspot.deals import DealEndpoints
from provisioner.hubspot.limiter import TIERS, RateLimiter
from provisioner.hubspot.paths import Paths
from provisioner.hubspot.schema import SchemaEndpoints
from provisioner.hubspot.transport import (
    CONNECT_TIMEOUT_S,
    DEFAULT_BASE_URL,
    READ_TIMEOUT_S,
    REQUEST_TIMEOUT_S,
    RequestStats,
    Transport,
)
from provisioner.hubspot.wire import AccountDetails, BatchError, BatchResult, LiveProperty, Record
from provisioner.model import API_VERSIONS, DEFAULT_API_VERSION

# Re-exported: callers of the client use these.
__all__ = [
    "API_VERSIONS", "DEFAULT_BASE_URL", "OBJECT_SCOPES", "SCHEMA_SCOPES", "TIERS", "AccountDetails", "BatchError", "BatchResult",
    "HubSpotClient", "LiveProperty", "RateLimiter", "Record", "RequestStats",
]


class HubSpotClient(AccountEndpoints, SchemaEndpoints, DealEndpoints):
    """HubSpot's CRM schema, validation and deal-record APIs, named after the API."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        token: str | None = None,
        *,
        api_version: str = DEFAULT_API_VERSION,
        tier: str = "starter",
        wsgi_app: Callable | None = None,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
        request_timeout_s: float = REQUEST_TIMEOUT_S,
        deadline_s: float | None = DEFAULT_TIMEOUT_S,
        max_retries: int = 6,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.paths = Paths(api_version)
        self.transport = Transport(
            base_url, token, tier=tier, wsgi_app=wsgi_app, timeout=timeout, request_timeout_s=request_timeout_s,
            deadline_s=deadline_s, max_retries=max_retries, backoff_base_s=backoff_base_s,
            backoff_cap_s=backoff_cap_s, sleep=sleep, clock=clock, rng=rng,
        )

    def __repr__(self) -> str:  # never shows the token or the URL's user-info
        return f"HubSpotClient({self.transport.display_url!r}, api_version={self.api_version!r})"

    @property
    def api_version(self) -> str:
        return self.paths.api_version

    @property
    def base_url(self) -> str:
        return self.transport.base_url

    @property
    def stats(self) -> RequestStats:
        return self.transport.stats

    @property
    def limiter(self) -> RateLimiter:
        return self.transport.limiter
