"""The emulator as one WSGI application: routing, auth, scopes, rate limits, faults, logging, storage."""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from urllib.parse import parse_qs

from provisioner.emulator import account_api, admin_api, records_api, schema_api
from provisioner.emulator.call import Call
from provisioner.emulator.faults import FaultPlan, RateLimits, fault_answer, rate_limited
from provisioner.emulator.persist import Store
from provisioner.emulator.settings import EmulatorSettings
from provisioner.emulator.state import ACCESS_LEVELS, Portal
from provisioner.emulator.wire import DroppedConnection, HubSpotError, correlation_id, dumps, error

VERSIONS = ("v3", "2025-09", "2026-03", "2026-09")
OBJECT_TYPES = ("deals", "0-3")
TOKEN_INFO = "/oauth/v2/private-apps/get/access-token-info"
_DATED = re.compile(r"^/crm/(properties|objects|property-validations)/(\d{4}-\d{2})/(.*)$")
_V3 = re.compile(r"^/crm/v3/(properties|objects|property-validations)/(.*)$")
_ACCOUNT = re.compile(r"^/account-info/(v3|\d{4}-\d{2})/details/?$")
_STATUS_TEXT = {200: "OK", 201: "Created", 204: "No Content", 207: "Multi-Status", 400: "Bad Request",
                401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
                409: "Conflict", 423: "Locked", 429: "Too Many Requests", 500: "Internal Server Error",
                502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
SCHEMA_READ, SCHEMA_WRITE = "crm.schemas.deals.read", "crm.schemas.deals.write"
OBJECTS_READ, OBJECTS_WRITE = "crm.objects.deals.read", "crm.objects.deals.write"


def _route(family: str, method: str, rest: list[str]):
    """(handler, path arguments, scope) for a request inside a path family, or None."""
    n = len(rest)
    if family == "properties":
        if rest == ["groups"]:
            return {"GET": (schema_api.list_groups, SCHEMA_READ), "POST": (schema_api.create_group, SCHEMA_WRITE)
                    }.get(method), ()
        if n == 2 and rest[0] == "groups":
            return {"GET": (schema_api.get_group, SCHEMA_READ), "PATCH": (schema_api.update_group, SCHEMA_WRITE),
                    "DELETE": (schema_api.archive_group, SCHEMA_WRITE)}.get(method), (rest[1],)
        if n == 2 and rest[0] == "batch" and method == "POST":
            handler = {"create": (schema_api.batch_create_properties, SCHEMA_WRITE),
                       "read": (schema_api.batch_read_properties, SCHEMA_READ),
                       "archive": (schema_api.batch_archive_properties, SCHEMA_WRITE)}.get(rest[1])
            return handler, ()
        if n == 0:
            return {"GET": (schema_api.list_properties, SCHEMA_READ),
                    "POST": (schema_api.create_property, SCHEMA_WRITE)}.get(method), ()
        if n == 1:
            return {"GET": (schema_api.get_property, SCHEMA_READ),
                    "PATCH": (schema_api.update_property, SCHEMA_WRITE),
                    "DELETE": (schema_api.archive_property, SCHEMA_WRITE)}.get(method), (rest[0],)
    elif family == "property-validations":
        if n == 0 and method == "GET":
            return (schema_api.list_rules, SCHEMA_READ), ()
        if n == 1 and method == "GET":
            return (schema_api.get_rules, SCHEMA_READ), (rest[0],)
        if n == 3 and rest[1] == "rule-type" and method == "PUT":
            return (schema_api.put_rule, SCHEMA_WRITE), (rest[0], rest[2])
    elif family == "objects":
        if n == 0:
            return {"GET": (records_api.list_deals, OBJECTS_READ),
                    "POST": (records_api.create_deal, OBJECTS_WRITE)}.get(method), ()
        if n == 2 and rest[0] == "batch" and method == "POST":
            return {"create": (records_api.batch_create_deals, OBJECTS_WRITE),
                    "read": (records_api.batch_read_deals, OBJECTS_READ),
                    "update": (records_api.batch_update_deals, OBJECTS_WRITE)}.get(rest[1]), ()
        if n == 1:
            return {"GET": (records_api.get_deal, OBJECTS_READ), "PATCH": (records_api.update_deal, OBJECTS_WRITE),
                    "DELETE": (records_api.archive_deal, OBJECTS_WRITE)}.get(method), (rest[0],)
    return None, ()


class Emulator:
    """A HubSpot portal on 127.0.0.1 (or in-process through ``app``), speaking HubSpot's wire format."""

    def __init__(self, settings: EmulatorSettings | None = None, *, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings or EmulatorSettings()
        self._sleep = sleep
        self._lock = threading.RLock()
        self.portal = Portal(lag=(self.settings.lag_min_s, max(self.settings.lag_min_s, self.settings.lag_max_s)),
                             seed=self.settings.seed, clock=clock)
        self.faults = FaultPlan(self.settings)
        self.limits = RateLimits(self.settings, clock=clock, wall=wall)
        self.counts: Counter = Counter()
        self._log = None
        if self.settings.request_log:
            self._log = open(self.settings.request_log, "a", encoding="utf-8")  # noqa: SIM115 - lives with the app
        self.webhooks = None  # a webhooks.WebhookSender, when app webhooks are on
        self.store: Store | None = None
        if self.settings.state_file:
            self.store = Store(self.settings.state_file)
            if not self.store.load_into(self.portal):
                self.store.write_all(self.portal)

    # ---- the WSGI application ------------------------------------------------------------------------
    def app(self, environ, start_response):
        """The WSGI callable: every behaviour lives here, so in-process use sees what a socket would."""
        path = environ.get("PATH_INFO", "") or "/"
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if path.startswith("/__emulator__/") or path == "/__emulator__":
            status, body, headers = admin_api.handle(self, method, path, _read_body(environ), environ)
            return _answer(start_response, status, body, headers)
        return self._hubspot(environ, start_response, method, path)

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)

    def _hubspot(self, environ, start_response, method: str, path: str):
        with self._lock:
            self.counts["requests"] += 1
            fault = self.faults.next(method, path)
        if fault == "slow":
            self._sleep(self.faults.slow_s)
            fault = "ok"
        if fault == "drop":
            with self._lock:
                self.counts["dropped"] += 1
            raise DroppedConnection(f"{method} {path}: connection dropped before an answer")
        correlation = correlation_id()
        with self._lock:
            status, body, headers = self._answer_hubspot(environ, method, path, fault)
            if fault == "drop-after":
                self.counts["dropped"] += 1
                raise DroppedConnection(f"{method} {path}: connection dropped after the request was handled")
            headers["X-HubSpot-Correlation-Id"] = correlation
            if isinstance(body, dict) and body.get("status") == "error" and "correlationId" in body:
                body["correlationId"] = correlation
            self.counts[f"status_{status}"] += 1
            if self._log is not None:
                self._log.write(json.dumps({"method": method, "path": path, "status": status}) + "\n")
                self._log.flush()
        return _answer(start_response, status, body, headers)

    def _answer_hubspot(self, environ, method: str, path: str, fault: str):
        """(status, body, headers) for a HubSpot path; the state is written through before answering."""
        headers: dict[str, str] = {}
        try:
            if fault not in ("ok", "drop-after"):
                raise fault_answer(fault)
            self._authenticate(environ, path)
            broken = self.limits.admit()
            if broken is not None:
                if self.settings.retry_after_header:
                    headers["Retry-After"] = str(max(1, round(self.limits.seconds_until_free())))
                raise rate_limited(broken)
            call, handler, scope, args = self._resolve(environ, method, path)
            self._check_scope(scope)
            try:
                result = handler(call, *args)
            finally:
                self._persist()
                if self.webhooks is not None:
                    self.webhooks.after_request(self.portal)
            status, body = result[0], result[1]
            if len(result) > 2:
                headers.update(result[2])
        except HubSpotError as exc:
            status, body = exc.status, (exc.body if not hasattr(exc, "html") else exc.html)
            headers.update(exc.headers)
        except Exception as exc:  # a bug in the emulator: answer as HubSpot's own failures look
            status = 500
            body = error(500, "INTERNAL_ERROR", f"internal error: {type(exc).__name__}: {exc}").body
        headers.update(self.limits.headers())
        return status, body, headers

    def _persist(self) -> None:
        portal = self.portal
        if not portal.dirty:
            return
        dirty, portal.dirty = portal.dirty, set()
        if self.store is not None:
            self.store.write(portal, dirty)

    def _authenticate(self, environ, path: str) -> None:
        auth = environ.get("HTTP_AUTHORIZATION", "")
        if path == TOKEN_INFO:
            return  # the token travels in the body there
        token = auth[len("Bearer "):].strip() if auth.startswith("Bearer ") else ""
        if not token or (self.settings.token is not None and token != self.settings.token):
            raise error(401, "INVALID_AUTHENTICATION",
                        "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
                        "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview")

    def _check_scope(self, scope: str | None) -> None:
        if scope is None or scope in self.settings.granted_scopes():
            return
        raise error(403, "MISSING_SCOPES",
                    "This app hasn't been granted all required scopes to make this call. Read more about required "
                    "scopes here: https://developers.hubspot.com/scopes.",
                    errors=[{"message": "One or more of the following scopes are required.",
                             "context": {"requiredScopes": [scope]}}],
                    links={"scopes": "https://developers.hubspot.com/scopes"})

    def _resolve(self, environ, method: str, path: str):
        args = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "127.0.0.1")
        base = f"{environ.get('wsgi.url_scheme', 'http')}://{host}"

        def call(version: str) -> Call:
            return Call(self.portal, self.settings, version, method, path, args, _read_body(environ), base)

        if path == TOKEN_INFO and method == "POST":
            return call("v1"), account_api.token_info, None, ()
        match = _ACCOUNT.match(path)
        if match:
            if match.group(1) not in VERSIONS:
                raise _unknown_path(method, path)
            if method != "GET":
                raise error(405, "METHOD_NOT_ALLOWED", f"{method} is not allowed on {path}")
            return call(match.group(1)), account_api.account_details, None, ()
        match = _V3.match(path)
        if match:
            family, version, tail = match.group(1), "v3", match.group(2)
        else:
            match = _DATED.match(path)
            if not match or match.group(2) not in VERSIONS:
                raise _unknown_path(method, path)
            family, version, tail = match.group(1), match.group(2), match.group(3)
        parts = [_unquote(p) for p in tail.split("/")] if tail else []
        if parts and parts[-1] == "":
            parts.pop()
        if not parts or parts[0] not in OBJECT_TYPES:
            raise _unknown_path(method, path)
        found, route_args = _route(family, method, parts[1:])
        if found is None:
            raise _unknown_path(method, path)
        handler, scope = found
        return call(version), handler, scope, route_args

    # ---- direct control (what /__emulator__/ does over HTTP) --------------------------------------------
    def reset(self) -> None:
        """An empty portal: HubSpot's own groups and deal properties only; limits and faults cleared."""
        with self._lock:
            self.portal.clear()
            self.portal.dirty.clear()
            self.limits.configure(self.limits.burst_limit, self.limits.burst_window_s, self.limits.daily_limit)
            self.faults.configure(seed=self.settings.seed)
            self.counts.clear()
            if self.store is not None:
                self.store.write_all(self.portal)

    def request_count(self) -> int:
        """HubSpot requests received (answered, failed by a fault, or dropped); /__emulator__/ ones excluded."""
        return self.counts["requests"]

    def set_faults(self, **options) -> None:
        """Replace the fault plan: rate, kinds, sequence, path, methods, slow_s, seed."""
        with self._lock:
            self.faults.configure(**{"seed": self.settings.seed, **options})

    def set_rate_limits(self, burst_limit: int | None, burst_window_s: float = 10.0,
                        daily_limit: int | None = None) -> None:
        with self._lock:
            self.limits.configure(burst_limit, burst_window_s, daily_limit)

    def ui_set_access(self, name: str, level: str) -> None:
        """What a person does in HubSpot's UI: view-only or view-and-edit for a property."""
        if level not in ACCESS_LEVELS:
            raise ValueError(f"access must be one of {', '.join(ACCESS_LEVELS)}, not {level!r}")
        with self._lock:
            prop = self.portal.properties.get(name)
            if prop is None or prop["archived"]:
                raise KeyError(name)
            self.portal.ui_access[name] = level
            self.portal.dirty.add(("meta", "ui_access"))
            self._persist()

    def ui_access(self, name: str | None = None):
        """A property's access level, or every active custom property's when ``name`` is None."""
        with self._lock:
            props = self.portal.properties
            if name is not None:
                if name not in props or props[name]["archived"]:
                    raise KeyError(name)
                return self.portal.ui_access.get(name, "view_and_edit")
            return {n: self.portal.ui_access.get(n, "view_and_edit") for n, p in props.items()
                    if not p["archived"] and not p.get("hubspotDefined")}

    def ui_set_sidebar(self, sections: list[dict]) -> None:
        """Replace the deal record's sidebar sections: [{"title": ..., "properties": [...]}]."""
        checked = admin_api.check_sidebar(self.portal, sections)
        with self._lock:
            self.portal.ui_sidebar = checked
            self.portal.dirty.add(("meta", "ui_sidebar"))
            self._persist()

    def ui_sidebar(self) -> list[dict]:
        with self._lock:
            return json.loads(json.dumps(self.portal.ui_sidebar))

    def deal_count(self) -> int:
        with self._lock:
            return sum(1 for deal in self.portal.deals.values() if not deal.archived)

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.store is not None:
            self.store.close()
            self.store = None


def _unquote(part: str) -> str:
    from urllib.parse import unquote

    return unquote(part)


def _unknown_path(method: str, path: str) -> HubSpotError:
    return error(404, "OBJECT_NOT_FOUND", f"No API endpoint answers {method} {path}")


def _read_body(environ) -> bytes:
    if "emulator.body" in environ:
        return environ["emulator.body"]
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ.get("wsgi.input")
    body = stream.read(length) if (stream is not None and length > 0) else b""
    environ["emulator.body"] = body
    return body


def _answer(start_response, status: int, body, headers: dict[str, str]):
    if status == 204 or body is None:
        data, content_type = b"", None
    elif isinstance(body, str):
        data, content_type = body.encode(), "text/html; charset=utf-8"
    else:
        data, content_type = dumps(body), "application/json;charset=utf-8"
    out = [(k, v) for k, v in headers.items()]
    if content_type:
        out.append(("Content-Type", content_type))
    out.append(("Content-Length", str(len(data))))
    start_response(f"{status} {_STATUS_TEXT.get(status, 'Unknown')}", out)
    return [data]
