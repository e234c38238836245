"""Where each endpoint lives, in both of HubSpot's path families (date-versioned and /v3/)."""

from __future__ import annotations

from urllib.parse import quote

from provisioner import errors
from provisioner.model import API_VERSIONS, DEFAULT_API_VERSION, OBJECT_TYPE, OBJECT_TYPE_ID

TOKEN_INFO = "/oauth/v2/private-apps/get/access-token-info"


class Paths:
    """The paths of one API version: ``/crm/properties/2026-03/deals`` or ``/crm/v3/properties/deals``."""

    def __init__(self, api_version: str = DEFAULT_API_VERSION) -> None:
        if api_version not in API_VERSIONS:
            raise errors.UsageError(
                f"unknown HubSpot API version {api_version!r}", hint="use one of: " + ", ".join(API_VERSIONS)
            )
        self.api_version = api_version

    def _family(self, kind: str) -> str:
        if self.api_version == "v3":
            return {"properties": "/crm/v3/properties", "validations": "/crm/v3/property-validations",
                    "objects": "/crm/v3/objects", "account": "/account-info/v3"}[kind]
        return {"properties": "/crm/properties", "validations": "/crm/property-validations",
                "objects": "/crm/objects", "account": "/account-info"}[kind] + f"/{self.api_version}"

    def account(self, suffix: str) -> str:
        return f"{self._family('account')}{suffix}"

    def properties(self, suffix: str = "") -> str:
        return f"{self._family('properties')}/{OBJECT_TYPE}{suffix}"

    def property(self, name: str) -> str:
        return self.properties(f"/{quote(name, safe='')}")

    def rules(self, suffix: str = "") -> str:
        return f"{self._family('validations')}/{OBJECT_TYPE_ID}{suffix}"

    def deals(self, suffix: str = "") -> str:
        return f"{self._family('objects')}/{OBJECT_TYPE}{suffix}"
