"""The one HTTP client: every request to HubSpot (or the emulator) goes through here.

Base URL and API version, bearer auth, timeouts, a proactive rate limiter, retries with backoff
and jitter, HubSpot error bodies mapped to exceptions, and conversion of HubSpot JSON into the
project's own types. The token is held only in the session's headers: it is never logged,
never part of an exception and never written anywhere.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from requests.structures import CaseInsensitiveDict

from provisioner import errors
from provisioner.hubspot.batching import chunks, merge_results
from provisioner.hubspot.wire import (
    GROUP_FIELDS,
    PROPERTY_FIELDS,
    AccountDetails,
    BatchError,
    BatchResult,
    LiveProperty,
    Record,
    batch_errors_from_json,
    batch_result_from_json,
    group_from_json,
    live_property_from_json,
    malformed,
    option_payload,
    property_payload,
    results_of,
    rule_from_json,
)
from provisioner.model import OBJECT_TYPE, OBJECT_TYPE_ID, Group, Property, ValidationRule

# Re-exported: callers of the client use these result types.
__all__ = ["AccountDetails", "BatchError", "BatchResult", "HubSpotClient", "LiveProperty", "Record", "RequestStats"]

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.hubapi.com"
API_VERSIONS = ("2026-03", "v3")
# Requests per 10-second window, per app (hubspot-api-facts section 7).
TIERS = {"starter": 100, "professional": 190, "enterprise": 190, "increase": 250, "unlimited": None}
RETRYABLE_STATUS = frozenset({423, 500, 502, 503, 504, 520, 521, 522, 523, 524, 525, 526, 527, 528, 529, 530})
TOKEN_INFO_PATH = "/oauth/v2/private-apps/get/access-token-info"
SCHEMA_SCOPES = ("crm.schemas.deals.read", "crm.schemas.deals.write")
OBJECT_SCOPES = ("crm.objects.deals.read", "crm.objects.deals.write")


@dataclass
class RequestStats:
    """What this client cost: HTTP requests sent (retries included), by status."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    by_status: Counter = field(default_factory=Counter)


class RateLimiter:
    """A sliding-window limiter sized by the tier and corrected by HubSpot's rate-limit headers.

    Requests are counted when their answer arrives, which is never earlier than HubSpot counted
    them, so the client's window always trails the server's and stays under the limit.
    """

    def __init__(self, per_window: int | None, window_s: float = 10.0, *, clock, sleep) -> None:
        self.per_window = per_window
        self.window_s = window_s
        self._clock = clock
        self._sleep = sleep
        self._stamps: deque[float] = deque()

    def wait(self) -> None:
        if self.per_window is None:
            return
        now = self._clock()
        while self._stamps and now - self._stamps[0] >= self.window_s:
            self._stamps.popleft()
        if len(self._stamps) >= self.per_window:
            delay = self.window_s - (now - self._stamps[0])
            if delay > 0:
                log.debug("Rate limiter waits %.2fs", delay)
                self._sleep(delay)

    def record(self, headers: CaseInsensitiveDict | None = None) -> None:
        self._stamps.append(self._clock())
        if self.per_window is None or not headers:
            return
        maximum = _int_header(headers, "X-HubSpot-RateLimit-Max")
        if maximum is not None and 0 < maximum < self.per_window:
            log.info("Detected a lower rate limit from HubSpot: %d per window", maximum)
            self.per_window = maximum
        remaining = _int_header(headers, "X-HubSpot-RateLimit-Remaining")
        if remaining is not None and remaining <= 0:
            # HubSpot says the window is spent: treat our window as full.
            while len(self._stamps) < self.per_window:
                self._stamps.appendleft(self._stamps[0])


def _int_header(headers, name: str) -> int | None:
    try:
        return int(headers.get(name))
    except (TypeError, ValueError):
        return None


class _WSGIAdapter(requests.adapters.BaseAdapter):
    """Sends requests to a WSGI application in-process (the embedded local portal): no port."""

    def __init__(self, app: Callable) -> None:
        super().__init__()
        self.app = app

    def send(self, request, **kwargs):
        from werkzeug.test import EnvironBuilder, run_wsgi_app

        url = urlsplit(request.url)
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        environ = EnvironBuilder(
            path=url.path,
            query_string=url.query,
            method=request.method,
            headers=dict(request.headers),
            data=body,
            base_url=f"{url.scheme}://{url.netloc}",
        ).get_environ()
        try:
            app_iter, status, headers = run_wsgi_app(self.app, environ)
            try:
                content = b"".join(app_iter)
            finally:
                if hasattr(app_iter, "close"):
                    app_iter.close()
        except Exception as exc:  # the app died mid-answer: to a client that is a dropped connection
            raise requests.ConnectionError(f"connection dropped by the local portal: {exc}") from None
        response = requests.Response()
        response.status_code = int(status.split(" ", 1)[0])
        response.reason = status.split(" ", 1)[1] if " " in status else ""
        response.headers = CaseInsensitiveDict(headers)
        response._content = content
        response.url = request.url
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass


class HubSpotClient:
    """HubSpot's CRM schema, validation and deal-record APIs, named after the API."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        token: str | None = None,
        *,
        api_version: str = "2026-03",
        tier: str = "starter",
        wsgi_app: Callable | None = None,
        timeout: tuple[float, float] = (5.0, 30.0),
        max_retries: int = 6,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        if api_version not in API_VERSIONS:
            raise errors.UsageError(
                f"unknown HubSpot API version {api_version!r}", hint="use one of: " + ", ".join(API_VERSIONS)
            )
        if tier not in TIERS:
            raise errors.UsageError(f"unknown rate-limit tier {tier!r}", hint="use one of: " + ", ".join(TIERS))
        try:
            parts = urlsplit(base_url)
            valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        except ValueError:
            valid = False
        if not valid:
            raise errors.UsageError(
                f"not an http(s) address: {base_url!r}", hint="HUBSPOT_BASE_URL looks like http://127.0.0.1:8765"
            )
        self.base_url = base_url.rstrip("/")
        self.api_version = api_version
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.stats = RequestStats()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.limiter = RateLimiter(TIERS[tier], clock=clock, sleep=sleep)
        self._session = requests.Session()
        self._session.headers["User-Agent"] = "provisioner"
        if token:
            self._session.headers["Authorization"] = f"Bearer {token}"
        if wsgi_app is not None:
            self._session.mount(self.base_url, _WSGIAdapter(wsgi_app))

    def __repr__(self) -> str:  # never shows the token
        return f"HubSpotClient({self.base_url!r}, api_version={self.api_version!r})"

    # ---- paths -------------------------------------------------------------------------------
    def _family(self, kind: str) -> str:
        if self.api_version == "v3":
            return {
                "properties": "/crm/v3/properties",
                "validations": "/crm/v3/property-validations",
                "objects": "/crm/v3/objects",
                "account": "/account-info/v3",
            }[kind]
        return {
            "properties": f"/crm/properties/{self.api_version}",
            "validations": f"/crm/property-validations/{self.api_version}",
            "objects": f"/crm/objects/{self.api_version}",
            "account": f"/account-info/{self.api_version}",
        }[kind]

    def _properties(self, suffix: str = "") -> str:
        return f"{self._family('properties')}/{OBJECT_TYPE}{suffix}"

    def _deals(self, suffix: str = "") -> str:
        return f"{self._family('objects')}/{OBJECT_TYPE}{suffix}"

    # ---- transport ---------------------------------------------------------------------------
    def request(self, method: str, path: str, *, params: dict | None = None, body: Any = None) -> Any:
        """Send one API call (retrying what is worth retrying) and return the parsed JSON body."""
        attempt = 0
        while True:
            self.limiter.wait()
            self.stats.requests += 1
            try:
                response = self._session.request(
                    method,
                    self.base_url + path,
                    params=params,
                    data=None if body is None else json.dumps(body, separators=(",", ":")),
                    headers={"Content-Type": "application/json"} if body is not None else None,
                    timeout=self.timeout,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                self.limiter.record()
                self.stats.by_status["connection"] += 1
                if attempt >= self.max_retries:
                    raise errors.ConnectionFailed(
                        f"could not reach {self.base_url} ({method} {path}): {type(exc).__name__}",
                        hint="check HUBSPOT_BASE_URL and the network; nothing was assumed about the portal",
                    ) from None
                self._backoff(attempt, f"{type(exc).__name__} on {method} {path}")
                attempt += 1
                continue
            except requests.RequestException as exc:  # a request that can never be sent: no retry
                raise errors.ConnectionFailed(f"cannot send {method} {path} to {self.base_url}: {exc}") from None
            self.limiter.record(response.headers)
            status = response.status_code
            self.stats.by_status[status] += 1
            if status < 400:
                return _json(response)
            error = _api_error(method, path, response)
            if isinstance(error, errors.RateLimitError):
                self.stats.rate_limited += 1
            retryable = status in RETRYABLE_STATUS or (
                isinstance(error, errors.RateLimitError) and not isinstance(error, errors.DailyLimitError)
            )
            if not retryable or attempt >= self.max_retries:
                raise error
            if status == 429:
                self._wait_rate_limited(response, attempt)
            else:
                self._backoff(attempt, f"{status} on {method} {path}")
            attempt += 1

    def _backoff(self, attempt: int, why: str) -> None:
        self.stats.retries += 1
        # Full jitter: spreads retries of racing clients apart.
        delay = self._rng.uniform(0, min(self.backoff_cap_s, self.backoff_base_s * 2**attempt))
        log.info("Retrying after %s in %.2fs", why, delay)
        self._sleep(delay)

    def _wait_rate_limited(self, response: requests.Response, attempt: int) -> None:
        self.stats.retries += 1
        retry_after = response.headers.get("Retry-After")
        try:
            delay = float(retry_after) if retry_after is not None else None
        except ValueError:
            delay = None
        if delay is None:
            interval = _int_header(response.headers, "X-HubSpot-RateLimit-Interval-Milliseconds") or 10000
            # The rolling window frees up gradually: wait a slice of it, longer each time.
            delay = min(interval / 1000.0, (interval / 10000.0) * (1 + attempt)) + self._rng.uniform(0, 0.25)
        log.info("Detected HubSpot's ten-second limit; waiting %.2fs", delay)
        self._sleep(delay)

    # ---- account ---------------------------------------------------------------------------------
    def get_account_details(self) -> AccountDetails:
        body = self.request("GET", f"{self._family('account')}/details")
        try:
            return AccountDetails(
                portal_id=int(body["portalId"]), account_type=str(body.get("accountType", "")),
                time_zone=body.get("timeZone"),
            )
        except (KeyError, TypeError, ValueError):
            raise malformed("GET", "account details", body) from None

    def get_token_scopes(self) -> list[str] | None:
        """The scopes granted to this token, or None where HubSpot cannot tell (not a private-app token).

        The token travels in the body here (HubSpot's design); cassettes scrub it like the header.
        """
        auth = self._session.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return None
        try:
            body = self.request("POST", TOKEN_INFO_PATH, body={"tokenKey": auth[len("Bearer "):]})
        except (errors.NotFoundError, errors.RequestValidationError, errors.MissingScopesError):
            return None
        scopes = (body or {}).get("scopes")
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
                required_scopes=missing, method="POST", path=TOKEN_INFO_PATH, status=403,
                category="MISSING_SCOPES",
            )

    # ---- groups ----------------------------------------------------------------------------------
    def list_groups(self) -> list[Group]:
        body = self.request("GET", self._properties("/groups"))
        return [group_from_json(item) for item in results_of(body, "groups")]

    def create_group(self, group: Group) -> Group:
        payload: dict[str, Any] = {"name": group.name, "label": group.label}
        if group.display_order is not None:
            payload["displayOrder"] = group.display_order
        return group_from_json(self.request("POST", self._properties("/groups"), body=payload))

    def update_group(self, name: str, changes: dict[str, Any]) -> Group:
        payload = {GROUP_FIELDS[key]: value for key, value in changes.items()}
        return group_from_json(self.request("PATCH", self._properties(f"/groups/{quote(name)}"), body=payload))

    # ---- properties ------------------------------------------------------------------------------
    def list_properties(self, archived: bool = False) -> list[LiveProperty]:
        body = self.request("GET", self._properties(), params={"archived": "true" if archived else "false"})
        return [live_property_from_json(item) for item in results_of(body, "properties")]

    def get_property(self, name: str, archived: bool = False) -> LiveProperty:
        params = {"archived": "true"} if archived else None
        return live_property_from_json(self.request("GET", self._properties(f"/{quote(name)}"), params=params))

    def create_property(self, prop: Property) -> LiveProperty:
        return live_property_from_json(self.request("POST", self._properties(), body=property_payload(prop)))

    def batch_create_properties(self, props: Iterable[Property]) -> tuple[list[LiveProperty], list[BatchError]]:
        """Create properties, 100 a request; per-input failures (207) come back as BatchErrors."""
        created: list[LiveProperty] = []
        failures: list[BatchError] = []
        for part in chunks(list(props)):
            body = self.request(
                "POST", self._properties("/batch/create"), body={"inputs": [property_payload(p) for p in part]}
            )
            created.extend(live_property_from_json(item) for item in results_of(body, "properties"))
            failures.extend(batch_errors_from_json(body))
        return created, failures

    def update_property(self, name: str, changes: dict[str, Any]) -> LiveProperty:
        """PATCH only the given managed fields (model field names) of a property."""
        payload = {}
        for key, value in changes.items():
            if key == "options":
                value = [option_payload(option) for option in value]
            payload[PROPERTY_FIELDS[key]] = value
        return live_property_from_json(self.request("PATCH", self._properties(f"/{quote(name)}"), body=payload))

    def archive_property(self, name: str) -> None:
        self.request("DELETE", self._properties(f"/{quote(name)}"))

    # ---- validation rules --------------------------------------------------------------------
    def list_validation_rules(self) -> list[ValidationRule]:
        body = self.request("GET", f"{self._family('validations')}/{OBJECT_TYPE_ID}")
        rules = []
        for item in results_of(body, "validation rules"):
            name = item.get("propertyName")
            for rule in item.get("propertyValidationRules") or []:
                rules.append(rule_from_json(name, rule))
        return rules

    def put_validation_rule(self, rule: ValidationRule) -> None:
        path = (
            f"{self._family('validations')}/{OBJECT_TYPE_ID}/{quote(rule.property_name)}"
            f"/rule-type/{quote(rule.rule_type)}"
        )
        self.request("PUT", path, body={"ruleArguments": list(rule.arguments), "shouldApplyNormalization": False})

    # ---- deals -----------------------------------------------------------------------------------
    def batch_update_deals(self, inputs: list[tuple[str, dict[str, str]]]) -> BatchResult:
        """Update deals, 100 a request; 200 and 207 both return a BatchResult."""
        return merge_results([
            batch_result_from_json(self.request(
                "POST", self._deals("/batch/update"),
                body={"inputs": [{"id": str(deal_id), "properties": dict(values)} for deal_id, values in part]},
            ))
            for part in chunks(list(inputs))
        ])

    def batch_read_deals(self, ids: list[str], properties: list[str]) -> BatchResult:
        """Read deals, 100 a request."""
        return merge_results([
            batch_result_from_json(self.request(
                "POST", self._deals("/batch/read"),
                body={"properties": list(properties), "propertiesWithHistory": [],
                      "inputs": [{"id": str(deal_id)} for deal_id in part]},
            ))
            for part in chunks(list(ids))
        ])

    def batch_create_deals(self, values: list[dict[str, str]]) -> BatchResult:
        """Create deals, 100 a request."""
        return merge_results([
            batch_result_from_json(self.request(
                "POST", self._deals("/batch/create"), body={"inputs": [{"properties": dict(v)} for v in part]}
            ))
            for part in chunks(list(values))
        ])

    def archive_deal(self, deal_id: str) -> None:
        """Move a deal to HubSpot's recycle bin (204 whether or not it was there)."""
        self.request("DELETE", self._deals(f"/{quote(str(deal_id))}"))


def _json(response: requests.Response) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise errors.ApiError(
            "HubSpot answered with a body that is not JSON",
            method=response.request.method,
            path=urlsplit(response.url).path,
            status=response.status_code,
        ) from None


def _api_error(method: str, path: str, response: requests.Response) -> errors.ApiError:
    """Map a HubSpot error body to the exception tree (every body field is optional)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {}
    status = response.status_code
    message = str(body.get("message") or response.reason or f"HTTP {status}")
    category = body.get("category") or body.get("errorType")
    kwargs = dict(
        method=method,
        path=path,
        status=status,
        category=category,
        sub_category=body.get("subCategory"),
        correlation_id=body.get("correlationId") or response.headers.get("X-HubSpot-Correlation-Id"),
        body=body,
    )
    if status == 401:
        return errors.AuthError(message, **kwargs)
    if status == 403:
        scopes: list[str] = []
        for item in body.get("errors") or []:
            scopes.extend((item.get("context") or {}).get("requiredScopes") or [])
        scopes.extend((body.get("context") or {}).get("requiredScopes") or [])
        return errors.MissingScopesError(message, required_scopes=sorted(set(scopes)), **kwargs)
    if status == 404:
        return errors.NotFoundError(message, **kwargs)
    if status == 409:
        return errors.ConflictError(message, **kwargs)
    if status == 429:
        policy = body.get("policyName")
        cls = errors.DailyLimitError if policy == "DAILY" else errors.RateLimitError
        return cls(message, policy=policy, **kwargs)
    if status >= 500 or status == 423:
        return errors.ServerError(message, **kwargs)
    if status == 400:
        return errors.RequestValidationError(message, **kwargs)
    return errors.ApiError(message, **kwargs)
