"""The emulator as one WSGI application: auth, scopes, rate limits, faults, logging, storage.

Which handler answers which path lives in ``routes``. A request's body is read before the portal's
lock is taken, so one slow client never holds up the others.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from http import HTTPStatus
from urllib.parse import parse_qs

from provisioner.emulator import admin_api
from provisioner.emulator.call import Call
from provisioner.emulator.faults import FaultPlan, RateLimits, fault_answer, rate_limited
from provisioner.emulator.persist import Store
from provisioner.emulator.routes import TOKEN_INFO, Unrouted, route
from provisioner.emulator.settings import EmulatorSettings
from provisioner.emulator.state import ACCESS_LEVELS, Portal
from provisioner.emulator.wire import DroppedConnection, HubSpotError, correlation_id, dumps, error

MAX_BODY_BYTES = 16 * 1024 * 1024  # far above any batch of 100 inputs
SCOPES_LINK = "https://developers.hubspot.com/scopes"
AUTH_MESSAGE = ("Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find "
                "more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview")


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
            self.store = Store(self.settings.state_file, self.settings.state_lock_wait_s)
            if not self.store.load_into(self.portal):
                self.store.write_all(self.portal)

    # ---- the WSGI application ------------------------------------------------------------------------
    def app(self, environ, start_response):
        """The WSGI callable: every behaviour lives here, so in-process use sees what a socket would."""
        path = environ.get("PATH_INFO", "") or "/"
        method = environ.get("REQUEST_METHOD", "GET").upper()
        try:
            body = _read_body(environ)  # before any lock: a slow sender holds up only itself
        except HubSpotError as exc:
            return _answer(start_response, exc.status, exc.body, {})
        if path.startswith("/__emulator__/") or path == "/__emulator__":
            status, answer, headers = admin_api.handle(self, method, path, body, environ)
            return _answer(start_response, status, answer, headers)
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
                raise fault_answer(fault, self.settings)
            self._authenticate(environ, path)
            broken = self.limits.admit()
            if broken is not None:
                if self.settings.retry_after_header:
                    headers["Retry-After"] = str(max(1, round(self.limits.seconds_until_free())))
                raise rate_limited(broken, self.settings)
            call, handler, scope, args = self._resolve(environ, method, path)
            self._check_scope(scope)
            try:
                result = handler(call, **args)
            finally:
                self._persist()
                if self.webhooks is not None:
                    self.webhooks.after_request(self.portal)
            status, body = result[0], result[1]
            if len(result) > 2:
                headers.update(result[2])
        except HubSpotError as exc:
            status, body = exc.status, exc.body
            headers.update(exc.headers)
        except Exception as exc:  # a bug in the emulator: answer as HubSpot's own failures look
            bug = error(HTTPStatus.INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", f"internal error: {type(exc).__name__}: {exc}")
            status, body = bug.status, bug.body
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
            raise error(HTTPStatus.UNAUTHORIZED, "INVALID_AUTHENTICATION", AUTH_MESSAGE)

    def _check_scope(self, scope: str | None) -> None:
        """403 as a live portal answers it today: the scopes in the top-level context, no ``errors`` array."""
        if scope is None or scope in self.settings.granted_scopes():
            return
        raise error(HTTPStatus.FORBIDDEN, "MISSING_SCOPES", "One or more of the following scopes are required.",
                    context={"requiredGranularScopes": [scope], "links": [SCOPES_LINK]})

    def _resolve(self, environ, method: str, path: str):
        try:
            handler, scope, version, args = route(path, method)
        except Unrouted as exc:
            if exc.status == HTTPStatus.METHOD_NOT_ALLOWED:
                raise error(exc.status, "METHOD_NOT_ALLOWED", f"{method} is not allowed on {path}") from None
            raise error(exc.status, "OBJECT_NOT_FOUND", f"No API endpoint answers {method} {path}") from None
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "127.0.0.1")
        base = f"{environ.get('wsgi.url_scheme', 'http')}://{host}"
        call = Call(self.portal, self.settings, version, method, path, query, _read_body(environ), base)
        return call, handler, scope, args

    # ---- direct control (what /__emulator__/ does over HTTP) --------------------------------------------
    def reset(self) -> None:
        """An empty portal: HubSpot's own groups and deal properties only; limits and faults cleared."""
        with self._lock:
            self.portal.clear()
            self.portal.dirty.clear()
            limits = self.limits
            limits.configure(limits.burst_limit, limits.burst_window_s, limits.daily_limit, limits.enforce_secondly)
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
                        daily_limit: int | None = None, enforce_secondly: bool = False) -> None:
        with self._lock:
            self.limits.configure(burst_limit, burst_window_s, daily_limit, enforce_secondly)

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


def _read_body(environ) -> bytes:
    """The request body, read once and kept in the environ; over MAX_BODY_BYTES is a 413 (nothing read)."""
    if "emulator.body" in environ:
        return environ["emulator.body"]
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY_BYTES:
        raise error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "VALIDATION_ERROR",
                    f"The request body is {length} bytes; the limit is {MAX_BODY_BYTES}.")
    stream = environ.get("wsgi.input")
    body = stream.read(length) if (stream is not None and length > 0) else b""
    environ["emulator.body"] = body
    return body


def _answer(start_response, status: int, body, headers: dict[str, str]):
    if status == HTTPStatus.NO_CONTENT or body is None:
        data, content_type = b"", None
    elif isinstance(body, str):
        data, content_type = body.encode(), "text/html; charset=utf-8"
    else:
        data, content_type = dumps(body), "application/json;charset=utf-8"
    out = list(headers.items())
    if content_type:
        out.append(("Content-Type", content_type))
    out.append(("Content-Length", str(len(data))))
    start_response(f"{int(status)} {HTTPStatus(status).phrase}", out)
    return [data]
