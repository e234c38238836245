"""``/__emulator__/``: portals, reset, faults, rate limits, request counts, and the UI-only portal settings.

These paths are never authenticated, rate limited, faulted or written to the request log. Each
acts on the portal named by ``?portal=N`` (the default, first portal without it).
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, unquote

from provisioner.emulator.persist import StateFileError
from provisioner.emulator.registry import PortalConflict
from provisioner.emulator.state import ACCESS_LEVELS, Portal

PREFIX = "/__emulator__"


class AdminError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def check_sidebar(portal: Portal, sections) -> list[dict]:
    """Sidebar sections as a person could set them: titled, naming only active properties."""
    if not isinstance(sections, list):
        raise ValueError("sections must be a list of {\"title\": ..., \"properties\": [...]}")
    checked = []
    for i, section in enumerate(sections):
        if not isinstance(section, dict) or not isinstance(section.get("title"), str) or not section["title"]:
            raise ValueError(f"sections[{i}] needs a non-empty \"title\"")
        names = section.get("properties", [])
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ValueError(f"sections[{i}].properties must be a list of property names")
        for name in names:
            prop = portal.properties.get(name)
            if prop is None or prop["archived"]:
                raise ValueError(f"sections[{i}]: no active deal property named {name!r}")
        checked.append({"title": section["title"], "properties": list(names)})
    return checked


def _json(body: bytes) -> dict:
    if not body:
        return {}
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise AdminError(400, f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise AdminError(400, "body must be a JSON object")
    return data


def handle(emulator, method: str, path: str, body: bytes, environ) -> tuple[int, object, dict]:
    try:
        path = path.rstrip("/")
        if path == PORTALS or path.startswith(PORTALS + "/"):
            status, answer = _portals(emulator, method, path[len(PORTALS):], body)
        else:
            status, answer = _dispatch(emulator, _tenant(emulator, environ), method, path, body)
    except AdminError as exc:
        status, answer = exc.status, {"status": "error", "message": str(exc)}
    except PortalConflict as exc:
        status, answer = 409, {"status": "error", "message": str(exc)}
    except (ValueError, TypeError) as exc:
        status, answer = 400, {"status": "error", "message": str(exc)}
    except KeyError as exc:
        status, answer = 404, {"status": "error", "message": f"no active deal property named {exc.args[0]!r}"}
    except (OSError, StateFileError) as exc:  # a portal's state file could not be opened or written
        status, answer = 500, {"status": "error", "message": f"the state file: {exc}"}
    return status, answer, {}


PORTALS = PREFIX + "/portals"


def _tenant(emulator, environ):
    """The portal ``?portal=N`` names (the default one without it)."""
    values = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).get("portal")
    if not values:
        return emulator.tenant()
    text = values[-1]
    if not text.isascii() or not text.isdigit() or len(text) > 16:
        raise AdminError(400, f"?portal= must be a portal id (digits), not {text[:40]!r}")
    try:
        return emulator.tenant(int(text))
    except KeyError:
        raise AdminError(404, f"no portal {int(text)} in this emulator (POST {PORTALS} adds one)") from None


def _portals(emulator, method: str, rest: str, body: bytes):
    """``GET``/``POST /__emulator__/portals`` and ``POST /__emulator__/portals/{id}/revoke``."""
    if rest == "":
        if method == "POST":
            try:
                data = json.loads(body) if body else None
            except ValueError as exc:
                raise AdminError(400, f"body is not JSON: {exc}") from None
            if not isinstance(data, dict):
                raise AdminError(400, "body must be a JSON object: {\"portal_id\": N, \"token\": T} or "
                                      "{\"portal_id\": N, \"refresh_token\": R}")
            tenant = emulator.add_portal_from(data)
            return 201, tenant.describe()
        if method != "GET":
            raise AdminError(405, f"{method} not allowed on {PORTALS}")
        return 200, {"results": [tenant.describe() for tenant in list(emulator.tenants.values())]}
    number, _, action = rest[1:].partition("/")
    if action != "revoke" or not number.isascii() or not number.isdigit() or len(number) > 16:
        raise AdminError(404, f"no emulator endpoint {method} {PORTALS}{rest}")
    if method != "POST":
        raise AdminError(405, f"{method} not allowed on {PORTALS}{rest}")
    try:
        emulator.revoke(int(number))
    except KeyError:
        raise AdminError(404, f"no portal {int(number)} in this emulator") from None
    return 200, emulator.tenant(int(number)).describe()


def _dispatch(emulator, tenant, method: str, path: str, body: bytes):
    rest = path[len(PREFIX):]
    if rest == "/reset" and method == "POST":
        tenant.reset()
        return 200, {"status": "reset"}
    if rest == "/faults":
        if method == "POST":
            options = _json(body)
            allowed = {"rate", "kinds", "sequence", "path", "methods", "slow_s", "seed"}
            unknown = sorted(set(options) - allowed)
            if unknown:
                raise AdminError(400, f"unknown fault option(s) {unknown}: use {sorted(allowed)}")
            tenant.set_faults(**options)
        elif method != "GET":
            raise AdminError(405, f"{method} not allowed on {path}")
        return 200, tenant.faults.describe()
    if rest == "/ratelimit":
        if method == "POST":
            options = _json(body)
            limits = tenant.limits
            tenant.set_rate_limits(options.get("burst_limit", limits.burst_limit),
                                     float(options.get("burst_window_s", limits.burst_window_s)),
                                     options.get("daily_limit", limits.daily_limit),
                                     bool(options.get("enforce_secondly", limits.enforce_secondly)))
        elif method != "GET":
            raise AdminError(405, f"{method} not allowed on {path}")
        return 200, tenant.limits.describe()
    if rest == "/requests" and method == "GET":
        counts = dict(tenant.counts)
        by_status = {k[len("status_"):]: v for k, v in counts.items() if k.startswith("status_")}
        return 200, {"requests": counts.get("requests", 0), "dropped": counts.get("dropped", 0),
                     "by_status": by_status}
    if rest == "/state" and method == "GET":
        portal = tenant.portal
        return 200, {
            "groups": sum(1 for g in portal.groups.values() if not g["archived"]),
            "properties": sum(1 for p in portal.properties.values() if not p["archived"]),
            "archived_properties": sum(1 for p in portal.properties.values() if p["archived"]),
            "rules": sum(len(r) for r in portal.rules.values()),
            "deals": tenant.deal_count(),
        }
    if rest == "/ui/access":
        if method in ("POST", "PUT"):
            data = _json(body)
            tenant.ui_set_access(_name(data.get("property")), _level(data.get("access")))
        elif method != "GET":
            raise AdminError(405, f"{method} not allowed on {path}")
        return 200, {"results": tenant.ui_access()}
    if rest.startswith("/ui/access/"):
        name = unquote(rest[len("/ui/access/"):])
        if method in ("POST", "PUT"):
            tenant.ui_set_access(name, _level(_json(body).get("access")))
        elif method != "GET":
            raise AdminError(405, f"{method} not allowed on {path}")
        return 200, {"property": name, "access": tenant.ui_access(name)}
    if rest == "/ui/sidebar":
        if method in ("POST", "PUT"):
            tenant.ui_set_sidebar(check_sidebar(tenant.portal, _json(body).get("sections")))
        elif method != "GET":
            raise AdminError(405, f"{method} not allowed on {path}")
        return 200, {"sections": tenant.ui_sidebar()}
    if rest.startswith("/ui/deals/") and method == "PATCH":
        from provisioner.emulator.webhooks import ui_edit_deal

        return ui_edit_deal(tenant, unquote(rest[len("/ui/deals/"):]), _json(body))
    raise AdminError(404, f"no emulator endpoint {method} {path}")


def _name(value) -> str:
    if not isinstance(value, str) or not value:
        raise AdminError(400, "\"property\" must name a deal property")
    return value


def _level(value) -> str:
    if value not in ACCESS_LEVELS:
        raise AdminError(400, f"\"access\" must be one of {list(ACCESS_LEVELS)}, not {value!r}")
    return value
