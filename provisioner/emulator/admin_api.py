"""``/__emulator__/``: reset, faults, rate limits, request counts, and the UI-only portal settings.

These paths are never authenticated, rate limited, faulted or written to the request log.
"""

from __future__ import annotations

import json
from urllib.parse import unquote

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
        status, answer = _dispatch(emulator, method, path.rstrip("/"), body)
    except AdminError as exc:
        status, answer = exc.status, {"status": "error", "message": str(exc)}
    except (ValueError, TypeError) as exc:
        status, answer = 400, {"status": "error", "message": str(exc)}
    except KeyError as exc:
        status, answer = 404, {"status": "error", "message": f"no active deal property named {exc.args[0]!r}"}
    return status, answer, {}


def _dispatch(emulator, method: str, path: str, body: bytes):
    rest = path[len(PREFIX):]
    if rest == "/reset" and method == "POST":
        emulator.reset()
        return 200, {"status": "reset"}
    if rest == "/faults":
        if method == "POST":
            options = _json(body)
            allowed = {"rate", "kinds", "sequence", "path", "methods", "slow_s", "seed"}
            unknown = sorted(set(options) - allowed)
            if unknown:
                raise AdminError(400, f"unknown fault option(s) {unknown}: use {sorted(allowed)}")
            emulator.set_faults(**options)
        elif method != "GET":
            raise AdminError(405, f"{method} not allowed on {path}")
        return 200, emulator.faults.describe()
    if rest == "/ratelimit":
        if method == "POST":
            options = _json(body)
            limits = emulator.limits
            emulator.set_rate_limits(options.get("burst_limit", limits.burst_limit),
                                     float(options.get("burst_window_s", limits.burst_window_s)),
                                     options.get("daily_limit", limits.daily_limit),
                                     bool(options.get("enforce_secondly", limits.enforce_secondly)))
        elif method != "GET":
            raise AdminError(405, f"{method} not allowed on {path}")
        return 200, emulator.limits.describe()
    if rest == "/requests" and method == "GET":
        counts = dict(emulator.counts)
        by_status = {k[len("status_"):]: v for k, v in counts.items() if k.startswith("status_")}
        return 200, {"requests": counts.get("requests", 0), "dropped": counts.get("dropped", 0),
                     "by_status": by_status}
    if rest == "/state" and method == "GET":
        portal = emulator.portal
        return 200, {
            "groups": sum(1 for g in portal.groups.values() if not g["archived"]),
            "properties": sum(1 for p in portal.properties.values() if not p["archived"]),
            "archived_properties": sum(1 for p in portal.properties.values() if p["archived"]),
            "rules": sum(len(r) for r in portal.rules.values()),
            "deals": emulator.deal_count(),
        }
    if rest == "/ui/access":
        if method in ("POST", "PUT"):
            data = _json(body)
            emulator.ui_set_access(_name(data.get("property")), _level(data.get("access")))
        elif method != "GET":
            raise AdminError(405, f"{method} not allowed on {path}")
        return 200, {"results": emulator.ui_access()}
    if rest.startswith("/ui/access/"):
        name = unquote(rest[len("/ui/access/"):])
        if method in ("POST", "PUT"):
            emulator.ui_set_access(name, _level(_json(body).get("access")))
        elif method != "GET":
            raise AdminError(405, f"{method} not allowed on {path}")
        return 200, {"property": name, "access": emulator.ui_access(name)}
    if rest == "/ui/sidebar":
        if method in ("POST", "PUT"):
            emulator.ui_set_sidebar(_json(body).get("sections"))
        elif method != "GET":
            raise AdminError(405, f"{method} not allowed on {path}")
        return 200, {"sections": emulator.ui_sidebar()}
    if rest.startswith("/ui/deals/") and method == "PATCH":
        from provisioner.emulator.webhooks import ui_edit_deal

        return ui_edit_deal(emulator, unquote(rest[len("/ui/deals/"):]), _json(body))
    raise AdminError(404, f"no emulator endpoint {method} {path}")


def _name(value) -> str:
    if not isinstance(value, str) or not value:
        raise AdminError(400, "\"property\" must name a deal property")
    return value


def _level(value) -> str:
    if value not in ACCESS_LEVELS:
        raise AdminError(400, f"\"access\" must be one of {list(ACCESS_LEVELS)}, not {value!r}")
    return value
