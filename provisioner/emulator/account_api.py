"""Account details and the token-info lookup (what a client reads to know whose portal, which scopes)."""

from __future__ import annotations

from provisioner.emulator.call import Call
from provisioner.emulator.wire import error


def account_details(call: Call):
    s = call.settings
    return 200, {
        "portalId": s.portal_id, "accountType": s.account_type, "timeZone": s.time_zone,
        "companyCurrency": s.company_currency, "additionalCurrencies": [], "utcOffset": "-05:00",
        "utcOffsetMilliseconds": -18000000, "uiDomain": s.ui_domain, "dataHostingLocation": s.data_hosting_location,
    }


def token_info(call: Call):
    """POST /oauth/v2/private-apps/get/access-token-info {"tokenKey": ...}: the token's scopes."""
    body = call.json_object()
    token = body.get("tokenKey")
    s = call.settings
    if not isinstance(token, str) or not token or (s.token is not None and token != s.token):
        raise error(404, "OBJECT_NOT_FOUND", "The access token was not found.")
    return 200, {"userId": 1, "hubId": s.portal_id, "appId": 1, "scopes": sorted(s.granted_scopes())}
