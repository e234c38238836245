"""Account details and the token-info lookup (what a client reads to know whose portal, which scopes)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from provisioner.emulator.call import Call
from provisioner.emulator.wire import error


def account_details(call: Call):
    s = call.settings
    try:
        offset = datetime.now(tz=ZoneInfo(s.time_zone)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError):
        offset = None
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "-" if minutes < 0 else "+"
    return 200, {
        "portalId": s.portal_id, "accountType": s.account_type, "timeZone": s.time_zone,
        "companyCurrency": s.company_currency, "additionalCurrencies": [], "utcOffset": f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}",
        "utcOffsetMilliseconds": minutes * 60_000, "uiDomain": s.ui_domain, "dataHostingLocation": s.data_hosting_location,
    }


def token_info(call: Call):
    """POST /oauth/v2/private-apps/get/access-token-info {"tokenKey": ...}: the token's scopes."""
    body = call.json_object()
    token = body.get("tokenKey")
    s = call.settings
    if not isinstance(token, str) or not token or (s.token is not None and token != s.token):
        raise error(404, "OBJECT_NOT_FOUND", "The access token was not found.")
    return 200, {"userId": 1, "hubId": s.portal_id, "appId": s.app_id, "scopes": sorted(s.granted_scopes())}
