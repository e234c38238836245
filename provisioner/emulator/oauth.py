"""HubSpot's OAuth for public apps: ``POST /oauth/v1/token`` (refresh grant) and the tokens it hands out.

Every token is kept by its SHA-256 only (in memory and in the state file), never as written.
A refresh answers a new access token that lives ``access_token_ttl_s`` (1800 s, as HubSpot's
do) and the same refresh token (live refreshes are recorded handing it back unchanged). A
revoked refresh token is refused; the access tokens already issued for it keep working until
they expire (HubSpot documents that deleting a refresh token leaves them alone). The answers'
shapes and where each was seen: docs/emulator.md, conformance fixtures ``oauth_*``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable
from urllib.parse import parse_qs

from provisioner.emulator.registry import FORGET_AFTER_S
from provisioner.emulator.wire import HubSpotError, error, iso

OAUTH_TOKEN = "/oauth/v1/token"
FORM = "application/x-www-form-urlencoded"
MAX_FIELDS = 20
MAX_ISSUED = 200_000  # beyond: tokens expired for a day are forgotten first


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _refusal(status_name: str, message: str, rfc_error: str, status: int = 400) -> HubSpotError:
    """The token endpoint's own error body: HubSpot's status/message plus RFC 6749's error/error_description."""
    return HubSpotError(status, {"status": status_name, "message": message, "error": rfc_error,
                                 "error_description": message})


# How "expired N unit(s) ago" picks its unit: recorded answers say "75 second(s)", "6 hour(s)", "20543 day(s)";
# where each unit gives way to the next is the emulator's choice.
_AGO = (("second", 1, 120), ("minute", 60, 120 * 60), ("hour", 3600, 48 * 3600))
BAD_REFRESH_MESSAGE = "refresh token is invalid, expired or revoked"


def expired(expired_at: float, now: float) -> HubSpotError:
    """401 for an access token past its life, with how long ago in HubSpot's words."""
    ago = max(0, int(now - expired_at))
    unit, size = next(((unit, size) for unit, size, below in _AGO if ago < below), ("day", 86400))
    amount = ago // size
    return error(401, "EXPIRED_AUTHENTICATION", f"The OAuth token used to make this call expired {amount} {unit}(s) ago.",
                 context={"expire time": [iso(int(expired_at * 1000))]})


class TokenBook:
    """Which portal a token belongs to: private-app tokens, refresh tokens and issued access tokens."""

    def __init__(self, wall: Callable[[], float]) -> None:
        self._wall = wall
        self._lock = threading.Lock()
        self.private: dict[str, int] = {}  # sha -> portal id
        self.refresh: dict[str, int] = {}  # sha -> portal id (revoked ones are removed)
        self.access: dict[str, tuple[int, float]] = {}  # sha -> (portal id, expires at, wall seconds)

    def owner(self, token: str) -> tuple[int | None, float | None]:
        """(portal id, expiry) of a bearer token: expiry None for a private-app token; (None, None) unknown."""
        sha = digest(token)
        portal_id = self.private.get(sha)
        if portal_id is not None:
            return portal_id, None
        issued = self.access.get(sha)
        if issued is not None:
            return issued
        return None, None

    def issue(self, portal_id: int, ttl_s: float) -> tuple[str, str, float]:
        """A new access token for the portal: (token, its sha, expiry)."""
        token = "emu-" + secrets.token_urlsafe(32)
        sha, expires = digest(token), self._wall() + ttl_s
        with self._lock:
            if len(self.access) >= MAX_ISSUED:
                horizon = self._wall() - FORGET_AFTER_S
                self.access = {k: v for k, v in self.access.items() if v[1] > horizon}
            self.access[sha] = (portal_id, expires)
        return token, sha, expires


def parse_form(raw: bytes, content_type: str) -> dict[str, str]:
    """The token request's form fields (the last value of each); 415 for a body that is not a form."""
    if content_type.split(";")[0].strip().lower() != FORM:
        raise HubSpotError(415, {"status": "error", "message": f"Content type '{content_type or 'none'}' is not "
                                                               f"supported; send {FORM}.", "correlationId": None})
    try:
        fields = parse_qs(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise _refusal("BAD_REQUEST", "the request body is not a valid form", "invalid_request") from None
    return {name: values[-1] for name, values in fields.items()}


def check_client(fields: dict[str, str], client_id: str | None, client_secret: str | None) -> None:
    """The app's credentials, checked before anything else (HubSpot checks the client id before the grant)."""
    sent_id, sent_secret = fields.get("client_id", ""), fields.get("client_secret", "")
    if not sent_id or (client_id is not None and not hmac.compare_digest(sent_id.encode(), client_id.encode())):
        raise _refusal("BAD_CLIENT_ID", "missing or unknown client id", "invalid_request")
    if not sent_secret or (client_secret is not None
                           and not hmac.compare_digest(sent_secret.encode(), client_secret.encode())):
        raise _refusal("BAD_CLIENT_SECRET", "missing or invalid client secret", "invalid_client")
    if fields.get("grant_type") != "refresh_token":
        raise _refusal("BAD_GRANT_TYPE", "unsupported grant type: the emulator answers grant_type=refresh_token only",
                       "unsupported_grant_type")


def bad_refresh_token() -> HubSpotError:
    return _refusal("BAD_REFRESH_TOKEN", BAD_REFRESH_MESSAGE, "invalid_grant")


def token_answer(access_token: str, refresh_token: str, ttl_s: float, portal_id: int, scopes) -> dict:
    return {"token_type": "bearer", "refresh_token": refresh_token, "access_token": access_token,
            "expires_in": int(ttl_s), "hub_id": portal_id, "scopes": sorted(scopes), "token_use": "access_token"}
