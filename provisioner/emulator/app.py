"""The emulator as one WSGI application: which portal, auth, scopes, rate limits, faults, logging, storage.

Which handler answers which path lives in ``routes``; what is kept per portal in ``tenant``. A
request's body is read and its portal found before any lock is taken, and then only that
portal's lock is held: one slow client never holds up the others, and portals never wait on
each other.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from urllib.parse import parse_qs

from provisioner.emulator import admin_api, oauth
from provisioner.emulator.call import Call
from provisioner.emulator.faults import fault_answer, rate_limited
from provisioner.emulator.oauth import OAUTH_TOKEN, TokenBook, digest
from provisioner.emulator.portals import Portals
from provisioner.emulator.registry import PortalRegistry
from provisioner.emulator.routes import TOKEN_INFO, Unrouted, route
from provisioner.emulator.settings import EmulatorSettings
from provisioner.emulator.tenant import Tenant
from provisioner.emulator.wire import DroppedConnection, HubSpotError, correlation_id, dumps, error

MAX_BODY_BYTES = 16 * 1024 * 1024  # far above any batch of 100 inputs
SCOPES_LINK = "https://developers.hubspot.com/scopes"
AUTH_MESSAGE = ("Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find "
                "more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview")


class Emulator(Portals):
    """HubSpot portals on 127.0.0.1 (or in-process through ``app``), speaking HubSpot's wire format.

    It starts with one portal (``settings``); ``add_portal`` adds more, each with its own token (or
    OAuth refresh token), data, limits, faults, counts and lock (``tenant.Tenant``). The first stays
    the default: requests whose token no other portal owns act on it (any token, unless
    ``settings.token`` is set), and ``portal``, ``faults``, ``limits``, ``reset()``... are its.
    """

    def __init__(self, settings: EmulatorSettings | None = None, *, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings or EmulatorSettings()
        self._clock, self._wall, self._sleep = clock, wall, sleep
        self._log = None
        self._log_lock = threading.Lock()
        self._add_lock = threading.Lock()
        if self.settings.request_log:
            self._log = open(self.settings.request_log, "a", encoding="utf-8")  # noqa: SIM115 - lives with the app
        self.tokens = TokenBook(wall)
        self.portal_hooks: list[Callable[[Tenant], None]] = []
        self.default = Tenant(self.settings, clock=clock, wall=wall, state_file=self.settings.state_file)
        self.tenants: dict[int, Tenant] = {self.default.portal_id: self.default}
        self.registry: PortalRegistry | None = None
        if self.settings.state_file:
            self.registry = PortalRegistry(self.settings.state_file)
            self._restore(self.registry)

    # ---- the default portal, as the single-portal emulator named it --------------------------------------
    portal = property(lambda self: self.default.portal)
    faults = property(lambda self: self.default.faults)
    limits = property(lambda self: self.default.limits)
    counts = property(lambda self: self.default.counts)
    store = property(lambda self: self.default.store)
    _lock = property(lambda self: self.default.lock)

    @property
    def webhooks(self):
        return self.default.webhooks

    @webhooks.setter
    def webhooks(self, sender) -> None:
        self.default.webhooks = sender

    # ---- the WSGI application ------------------------------------------------------------------------
    def app(self, environ, start_response):
        """The WSGI callable: every behaviour lives here, so in-process use sees what a socket would."""
        path = environ.get("PATH_INFO", "") or "/"
        method = environ.get("REQUEST_METHOD", "GET").upper()
        try:
            body = _read_body(environ)  # before any lock: a slow sender holds up only itself
        except HubSpotError as exc:  # left unread: the server closes the connection after this answer
            return _answer(start_response, exc.status, exc.body, {})
        if path.startswith("/__emulator__/") or path == "/__emulator__":
            status, answer, headers = admin_api.handle(self, method, path, body, environ)
            return _answer(start_response, status, answer, headers)
        return self._hubspot(environ, start_response, method, path, body)

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)

    def _hubspot(self, environ, start_response, method: str, path: str, body: bytes):
        started = self._wall()
        tenant, denied = self._tenant_for(environ, path, body)
        with tenant.lock:
            tenant.counts["requests"] += 1
            fault = tenant.faults.next(method, path)
        if fault == "slow":
            self._sleep(tenant.faults.slow_s)
            fault = "ok"
        if fault == "drop":
            with tenant.lock:
                tenant.counts["dropped"] += 1
            raise DroppedConnection(f"{method} {path}: connection dropped before an answer")
        correlation = correlation_id()
        with tenant.lock:
            if path == OAUTH_TOKEN:
                status, answer, headers = self._answer_token(tenant, environ, method, body, fault)
            else:
                status, answer, headers = self._answer_hubspot(tenant, environ, method, path, fault, denied)
            if fault == "drop-after":
                tenant.counts["dropped"] += 1
                raise DroppedConnection(f"{method} {path}: connection dropped after the request was handled")
            headers["X-HubSpot-Correlation-Id"] = correlation
            if isinstance(answer, dict) and answer.get("status") == "error" and "correlationId" in answer:
                answer["correlationId"] = correlation
            tenant.counts[f"status_{status}"] += 1
        if self._log is not None:
            line = json.dumps({"method": method, "path": path, "status": status, "portal": tenant.portal_id,
                               "started": round(started, 6), "finished": round(self._wall(), 6)})
            with self._log_lock:
                self._log.write(line + "\n")
                self._log.flush()
        return _answer(start_response, status, answer, headers)

    def _tenant_for(self, environ, path: str, body: bytes) -> tuple[Tenant, HubSpotError | None]:
        """The portal a request acts on, and the 401 to answer when its token is not accepted (no lock taken)."""
        if path == TOKEN_INFO:  # the token travels in the body there; the handler checks it
            return self._owner(_token_key(body)), None
        if path == OAUTH_TOKEN:
            refresh = _form_field(body, "refresh_token")
            portal_id = self.tokens.refresh.get(digest(refresh)) if refresh else None
            return self.tenants.get(portal_id, self.default) if portal_id is not None else self.default, None
        auth = environ.get("HTTP_AUTHORIZATION", "")
        token = auth[len("Bearer "):].strip() if auth.startswith("Bearer ") else ""
        if not token:
            return self.default, error(HTTPStatus.UNAUTHORIZED, "INVALID_AUTHENTICATION", AUTH_MESSAGE)
        portal_id, expires = self.tokens.owner(token)
        if portal_id is not None and portal_id in self.tenants:
            now = self._wall()
            return self.tenants[portal_id], (oauth.expired(expires, now) if expires is not None and expires <= now
                                             else None)
        if self.settings.token is not None and token != self.settings.token:
            return self.default, error(HTTPStatus.UNAUTHORIZED, "INVALID_AUTHENTICATION", AUTH_MESSAGE)
        return self.default, None

    def _owner(self, token: str | None) -> Tenant:
        portal_id = self.tokens.owner(token)[0] if token else None
        return self.tenants.get(portal_id, self.default) if portal_id is not None else self.default

    def _answer_token(self, tenant: Tenant, environ, method: str, body: bytes, fault: str):
        """POST /oauth/v1/token: not rate limited per portal; the form is checked as HubSpot checks it."""
        headers: dict[str, str] = {}
        try:
            if fault not in ("ok", "drop-after"):
                raise fault_answer(fault, tenant.settings)
            if method != "POST":
                raise error(HTTPStatus.METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", f"{method} is not allowed on {OAUTH_TOKEN}")
            fields = oauth.parse_form(body, environ.get("CONTENT_TYPE", ""))
            oauth.check_client(fields, self.settings.client_id, self.settings.client_secret)
            refresh = fields.get("refresh_token", "")
            if not refresh or self.tokens.refresh.get(digest(refresh)) != tenant.portal_id:
                raise oauth.bad_refresh_token()
            ttl = self.settings.access_token_ttl_s
            access, sha, expires = self.tokens.issue(tenant.portal_id, ttl)
            if self.registry is not None:
                self.registry.save_access_token(sha, tenant.portal_id, expires, self._wall())
            status, answer = 200, oauth.token_answer(access, refresh, ttl, tenant.portal_id,
                                                     tenant.settings.granted_scopes())
        except HubSpotError as exc:
            status, answer = exc.status, exc.body
        return status, answer, headers

    def _answer_hubspot(self, tenant: Tenant, environ, method: str, path: str, fault: str,
                        denied: HubSpotError | None):
        """(status, body, headers) for a HubSpot path; the state is written through before answering."""
        headers: dict[str, str] = {}
        limits = tenant.limits
        try:
            if fault not in ("ok", "drop-after"):
                raise fault_answer(fault, tenant.settings)
            if denied is not None:
                raise denied
            broken = limits.admit()
            if broken is not None:
                if self.settings.retry_after_header:
                    headers["Retry-After"] = str(max(1, round(limits.seconds_until_free())))
                raise rate_limited(broken, tenant.settings)
            call, handler, scope, args = self._resolve(tenant, environ, method, path)
            _check_scope(tenant.settings, scope)
            try:
                result = handler(call, **args)
            finally:
                tenant.persist()
                if tenant.webhooks is not None:
                    tenant.webhooks.after_request(tenant.portal)
            status, body = result[0], result[1]
            if len(result) > 2:
                headers.update(result[2])
        except HubSpotError as exc:
            status, body = exc.status, exc.body
            headers.update(exc.headers)
        except Exception as exc:  # a bug in the emulator: answer as HubSpot's own failures look
            bug = error(HTTPStatus.INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", f"internal error: {type(exc).__name__}: {exc}")
            status, body = bug.status, bug.body
        headers.update(limits.headers())
        return status, body, headers

    def _resolve(self, tenant: Tenant, environ, method: str, path: str):
        try:
            handler, scope, version, args = route(path, method)
        except Unrouted as exc:
            if exc.status == HTTPStatus.METHOD_NOT_ALLOWED:
                raise error(exc.status, "METHOD_NOT_ALLOWED", f"{method} is not allowed on {path}") from None
            raise error(exc.status, "OBJECT_NOT_FOUND", f"No API endpoint answers {method} {path}") from None
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "127.0.0.1")
        base = f"{environ.get('wsgi.url_scheme', 'http')}://{host}"
        call = Call(tenant.portal, tenant.settings, version, method, path, query, _read_body(environ), base)
        return call, handler, scope, args

    # ---- direct control of the default portal (what /__emulator__/ does over HTTP) ------------------------
    def reset(self) -> None:
        """An empty portal: HubSpot's own groups and deal properties only; limits and faults cleared."""
        self.default.reset()

    def request_count(self, portal_id: int | None = None) -> int:
        """HubSpot requests received (answered, failed by a fault, or dropped) by one portal, or by all (None);
        /__emulator__/ ones excluded."""
        tenants = self.tenants.values() if portal_id is None else [self.tenants[portal_id]]
        return sum(t.counts["requests"] for t in tenants)

    def set_faults(self, **options) -> None:
        """Replace the fault plan: rate, kinds, sequence, path, methods, slow_s, seed."""
        self.default.set_faults(**options)

    def set_rate_limits(self, burst_limit: int | None, burst_window_s: float = 10.0,
                        daily_limit: int | None = None, enforce_secondly: bool = False) -> None:
        self.default.set_rate_limits(burst_limit, burst_window_s, daily_limit, enforce_secondly)

    def ui_set_access(self, name: str, level: str) -> None:
        """What a person does in HubSpot's UI: view-only or view-and-edit for a property."""
        self.default.ui_set_access(name, level)

    def ui_access(self, name: str | None = None):
        """A property's access level, or every active custom property's when ``name`` is None."""
        return self.default.ui_access(name)

    def ui_set_sidebar(self, sections: list[dict]) -> None:
        """Replace the deal record's sidebar sections: [{"title": ..., "properties": [...]}]."""
        self.default.ui_set_sidebar(admin_api.check_sidebar(self.default.portal, sections))

    def ui_sidebar(self) -> list[dict]:
        return self.default.ui_sidebar()

    def deal_count(self) -> int:
        return self.default.deal_count()

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
        for tenant in self.tenants.values():
            tenant.close()
        if self.registry is not None:
            self.registry.close()
            self.registry = None


def _check_scope(settings: EmulatorSettings, scope: str | None) -> None:
    """403 as a live portal answers it today: the scopes in the top-level context, no ``errors`` array."""
    if scope is None or scope in settings.granted_scopes():
        return
    raise error(HTTPStatus.FORBIDDEN, "MISSING_SCOPES", "One or more of the following scopes are required.",
                context={"requiredGranularScopes": [scope], "links": [SCOPES_LINK]})


def _token_key(body: bytes) -> str | None:
    try:
        data = json.loads(body) if body else None
    except (ValueError, RecursionError):
        return None
    token = data.get("tokenKey") if isinstance(data, dict) else None
    return token if isinstance(token, str) else None


def _form_field(body: bytes, name: str) -> str | None:
    try:
        values = parse_qs(body.decode("utf-8"), max_num_fields=oauth.MAX_FIELDS).get(name)
    except (UnicodeDecodeError, ValueError):
        return None
    return values[-1] if values else None


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
