"""HubSpot's OAuth token endpoint: a refresh token and the app's credentials in, an access token out.

``POST /oauth/v1/token`` takes a form (grant_type=refresh_token, client_id, client_secret,
refresh_token) and answers ``{"token_type": "bearer", "refresh_token", "access_token",
"expires_in"}`` (seconds, 1800 today). A refresh token HubSpot no longer honours (the app was
uninstalled, the token revoked) is a 400 ``{"status": "BAD_REFRESH_TOKEN", "message": ...}``:
that is ``RefreshRefused``, and asking again will not help. A refused client id or secret is the
app's setting, not the portal's (a ``UsageError``); a server error or no answer is a
``ConnectionFailed`` worth trying again later. One request per call, never retried here: the
caller holds a lock on the portal's row while it waits, and the whole request has a deadline.
Nothing sent or received is logged; every secret is masked from then on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import requests
import urllib3

from provisioner import errors
from provisioner.hubspot.deadline import Watchdog, WatchedAdapter
from provisioner.hubspot.transport import CONNECT_TIMEOUT_S, check_token
from provisioner.logs import redact, register_secret

TOKEN_PATH = "/oauth/v1/token"
REQUEST_TIMEOUT_S = 20.0
MAX_ANSWER_BYTES = 64 * 1024
MAX_EXPIRES_IN_S = 86_400


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    expires_in: float  # seconds from when the request was sent
    refresh_token: str | None  # a new one when HubSpot rotated it


class RefreshRefused(errors.ProvisionerError):
    """HubSpot refused the refresh token (revoked, uninstalled, unknown): asking again will not help."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"HubSpot refused the refresh token ({status} {code}: {message})")
        self.status = status
        self.code = code


def refresh_access_token(base_url: str, *, client_id: str, client_secret: str, refresh_token: str,
                         timeout_s: float = REQUEST_TIMEOUT_S) -> TokenGrant:
    """Trade the refresh token for an access token (one request, within ``timeout_s``)."""
    for secret in (client_secret, refresh_token):
        register_secret(secret)
    url = base_url.rstrip("/") + TOKEN_PATH
    form = {"grant_type": "refresh_token", "client_id": client_id, "client_secret": client_secret,
            "refresh_token": refresh_token}
    session = requests.Session()
    session.mount("http://", WatchedAdapter())
    session.mount("https://", WatchedAdapter())
    where = redact(f"POST {url}")
    try:
        with Watchdog(timeout_s) as watchdog:
            with session.post(url, data=form, timeout=(CONNECT_TIMEOUT_S, timeout_s), stream=True) as answer:
                body = answer.raw.read(MAX_ANSWER_BYTES + 1, decode_content=True)
                status = answer.status_code
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:  # urllib3's: a body cut off
        what = "no answer in time" if isinstance(exc, requests.Timeout) or watchdog.fired else type(exc).__name__
        raise errors.ConnectionFailed(f"could not refresh the access token ({where}): {what}",
                                      hint="the portal is tried again on the next run") from None
    finally:
        session.close()
    data = _json(body)
    if status == 200:
        return _grant(data, where)
    code = str(data.get("status") or data.get("error") or "") if isinstance(data, dict) else ""
    message = str(data.get("message") or data.get("error_description") or "")[:200] if isinstance(data, dict) else ""
    if status in (400, 401) and "CLIENT" in code.upper():
        raise errors.UsageError(redact(f"HubSpot refused the app's credentials ({status} {code}: {message})"),
                                hint="check HUBSPOT_CLIENT_ID and HUBSPOT_CLIENT_SECRET")
    if status in (400, 401, 403):
        raise RefreshRefused(status, code or "refused", redact(message) or "no reason given")
    if status in (404, 405):
        raise errors.UsageError(f"{where} answered {status}: no token endpoint there", hint="check HUBSPOT_BASE_URL")
    raise errors.ConnectionFailed(f"could not refresh the access token ({where}): HubSpot answered {status}",
                                  hint="the portal is tried again on the next run")


def _json(body: bytes) -> object:
    if len(body) > MAX_ANSWER_BYTES:
        return None
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def _grant(data: object, where: str) -> TokenGrant:
    if not isinstance(data, dict):
        raise errors.ConnectionFailed(f"{where}: the token endpoint's answer is not a JSON object")
    access, refresh, expires = data.get("access_token"), data.get("refresh_token"), data.get("expires_in")
    if not isinstance(access, str) or not access:
        raise errors.ConnectionFailed(f"{where}: the token endpoint's answer has no access_token")
    register_secret(access)
    try:
        check_token(access)
    except errors.UsageError:
        raise errors.ConnectionFailed(f"{where}: the access_token sent holds a character no header can carry") from None
    if refresh is not None and (not isinstance(refresh, str) or not refresh):
        raise errors.ConnectionFailed(f"{where}: the token endpoint's refresh_token is not a string")
    register_secret(refresh)
    if isinstance(expires, bool) or not isinstance(expires, (int, float)) or not 0 < expires <= MAX_EXPIRES_IN_S:
        raise errors.ConnectionFailed(f"{where}: the token endpoint's expires_in is not a number of seconds")
    return TokenGrant(access, float(expires), refresh)
