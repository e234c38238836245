"""What every endpoint module builds on: a transport to send with and the paths of one API version."""

from __future__ import annotations

from typing import Any

from provisioner.hubspot.paths import Paths
from provisioner.hubspot.transport import Transport


class Endpoints:
    """A family of HubSpot endpoints; HubSpotClient combines them over one transport."""

    transport: Transport
    paths: Paths

    def request(self, method: str, path: str, *, params: dict | None = None, body: Any = None) -> Any:
        return self.transport.request(method, path, params=params, body=body)
