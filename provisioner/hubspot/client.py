"""HubSpotClient: every endpoint the project uses, over one transport.

The transport (transport.py) sends, paces, retries and times out; the endpoint modules (account.py,
schema.py, deals.py) build paths and bodies and turn answers into the project's types (wire.py).
HubSpotClient combines them, named after the API, as apply, drift and the value sync call them.
"""

from __future__ import annotations

from typing import Any

from provisioner.hubspot.account import OBJECT_SCOPES, SCHEMA_SCOPES, AccountEndpoints
from provisioner.hubspot.deals import DealEndpoints
from provisioner.hubspot.limiter import TIERS, RateLimiter
from provisioner.hubspot.paths import Paths
from provisioner.hubspot.schema import SchemaEndpoints
from provisioner.hubspot.transport import DEFAULT_BASE_URL, RequestStats, Transport
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
        **transport_options: Any,
    ) -> None:
        """``transport_options`` are Transport's: tier, wsgi_app, timeouts, deadline, retries, clock."""
        self.paths = Paths(api_version)
        self.transport = Transport(base_url, token, **transport_options)

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
