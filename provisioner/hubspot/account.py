"""Account endpoints: which portal answers, and which scopes the token holds."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from provisioner import errors
from provisioner.hubspot.endpoints import Endpoints
from provisioner.hubspot.paths import TOKEN_INFO
from provisioner.hubspot.wire import AccountDetails, account_from_json

log = logging.getLogger(__name__)

SCHEMA_SCOPES = ("crm.schemas.deals.read", "crm.schemas.deals.write")
OBJECT_SCOPES = ("crm.objects.deals.read", "crm.objects.deals.write")


class AccountEndpoints(Endpoints):
    def get_account_details(self) -> AccountDetails:
        return account_from_json(self.request("GET", self.paths.account("/details")))

    def get_token_scopes(self) -> list[str] | None:
        """The scopes granted to this token, or None where HubSpot cannot tell (not a private-app token).

        The token travels in the body here (HubSpot's design); cassettes scrub it like the header.
        """
        token = self.transport.token
        if token is None:
            return None
        try:
            body = self.request("POST", TOKEN_INFO, body={"tokenKey": token})
        except (errors.NotFoundError, errors.RequestValidationError, errors.MissingScopesError):
            return None
        scopes = body.get("scopes") if isinstance(body, dict) else None
        return [str(scope) for scope in scopes] if isinstance(scopes, list) else None

    def preflight_scopes(self, needed: Iterable[str]) -> None:
        """Before any write: name the scopes the token lacks, if HubSpot can tell us."""
        granted = self.get_token_scopes()
        if granted is None:
            log.info("Could not read the token's scopes; a missing one will show as a 403 naming it")
            return
        missing = sorted(set(needed) - set(granted))
        if missing:
            raise errors.MissingScopesError(
                "the token lacks scopes this command needs: " + ", ".join(missing),
                required_scopes=missing, method="POST", path=TOKEN_INFO, status=403, category="MISSING_SCOPES",
            )
