"""The one way a request reaches HubSpot (or the emulator): session, limits, retries, deadlines.

Base URL and bearer auth, a paced rate limiter, retries with backoff and jitter, connect and read
timeouts plus a total deadline per request and the command's overall deadline, bounded answers,
and HubSpot's error answers turned into exceptions (api_errors.py). Endpoints (schema.py,
deals.py, account.py) build paths and bodies and call ``Transport.request``; nothing else here
knows what an endpoint means.

Secrets: the token lives only in the session's headers. A ``token_provider`` (an OAuth portal's
access token, refreshed while the client lives) is asked for the token before every attempt, and
once more after a 401 when it can ``renew``; each token it gives is checked and registered for
masking like a fixed one. It must be a printable ASCII word (a line
break or a non-ASCII character is refused as one clear error that never shows it), and it and any
user-info of the base URL are registered with ``logs.redact``, so no message, log line, exception
or repr shows them whatever characters they hold.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import random
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
from urllib3.exceptions import ReadTimeoutError

from provisioner import errors
from provisioner.hubspot.api_errors import error_from_answer, is_retryable
from provisioner.hubspot.deadline import DEFAULT_TIMEOUT_S, SECONDS, Deadline, Watchdog, WatchedAdapter
from provisioner.hubspot.limiter import TIERS, RateLimiter, int_header
from provisioner.hubspot.wsgi import WSGIAdapter
from provisioner.logs import redact, register_secret

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.hubapi.com"
# The embedded local portal's token: no secret (it opens a file the user owns), so never masked.
LOCAL_TOKEN = "local"
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0
# A whole request (connect, send, every byte of the answer), however slowly the answer comes.
REQUEST_TIMEOUT_S = 60.0
# The largest answer read: a portal's full property list is a few MB.
MAX_ANSWER_BYTES = 64 * 1024 * 1024
# Retry-After is honoured up to this (a day is clamped); the rolling window is 10 s.
MAX_RETRY_AFTER_S = 60.0
RATE_WINDOW_HEADER = "X-HubSpot-RateLimit-Interval-Milliseconds"
_TOKEN = re.compile(r"[!-~]+")


@dataclass
class RequestStats:
    """What this client cost: HTTP requests sent (retries included), by status."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    by_status: Counter = field(default_factory=Counter)


def check_token(token: str) -> None:
    """Refuse a token no HTTP header can carry, saying what is wrong without showing it."""
    if _TOKEN.fullmatch(token):
        return
    if any(ch in "\r\n" for ch in token):
        what = "a line break"
    elif any(ch.isspace() for ch in token):
        what = "a space or another blank"
    elif any(ord(ch) < 32 or ord(ch) == 127 for ch in token):
        what = "a control character"
    else:
        what = "a character outside printable ASCII"
    raise errors.UsageError(
        f"the HubSpot access token holds {what}, which no token has (its value is not shown)",
        hint="check HUBSPOT_ACCESS_TOKEN; a secret file saved with a trailing line break is a common cause",
    )


def parse_retry_after(value: str | None, now: Callable[[], datetime] | None = None) -> float | None:
    """Retry-After in seconds (delay or HTTP date), clamped to MAX_RETRY_AFTER_S; None when unusable."""
    if value is None:
        return None
    text = str(value).strip()
    if SECONDS.fullmatch(text):
        seconds = float(text)
    else:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            return None
        seconds = (when - (now or (lambda: datetime.now(timezone.utc)))()).total_seconds()
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return min(seconds, MAX_RETRY_AFTER_S)


class Transport:
    """Sends API calls to one portal; retries what is worth retrying; raises the project's errors."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        token: str | None = None,
        *,
        tier: str = "starter",
        wsgi_app: Callable | None = None,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
        request_timeout_s: float = REQUEST_TIMEOUT_S,
        deadline_s: float | None = DEFAULT_TIMEOUT_S,
        max_retries: int = 6,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        token_provider: Callable[[], str] | None = None,
    ) -> None:
        self.display_url = redact(base_url)
        try:
            parts = urlsplit(base_url)
            valid = parts.scheme in ("http", "https") and bool(parts.hostname)
            if valid:
                parts.hostname.encode("idna")  # as a connection would: an empty or over-long label is no host
        except (ValueError, UnicodeError):
            valid = False
        if not valid:
            raise errors.UsageError(f"not an http(s) address: {self.display_url!r}",
                                    hint="HUBSPOT_BASE_URL looks like http://127.0.0.1:8765")
        for secret in (parts.username, parts.password):
            register_secret(unquote(secret or ""))
            register_secret(secret)
        if tier not in TIERS:
            raise errors.UsageError(f"unknown rate-limit tier {tier!r}", hint="use one of: " + ", ".join(TIERS))
        self.base_url = base_url.rstrip("/")
        self.display_url = redact(self.base_url)
        self.timeout = timeout
        self.request_timeout_s = request_timeout_s
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.stats = RequestStats()
        self.deadline = Deadline(deadline_s, clock)
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.limiter = RateLimiter(TIERS[tier], clock=clock, sleep=self.pause)
        self._session = requests.Session()
        self._session.headers["User-Agent"] = "provisioner"
        # The environment (HTTP(S)_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE) is read once, for the one
        # address this transport talks to: requests walks it again for every request otherwise, and
        # would let a ~/.netrc entry replace the bearer token.
        address = requests.PreparedRequest()
        try:
            address.prepare_url(self.base_url, None)  # as requests sends it: NO_PROXY meets an IDN host in ASCII
        except (requests.RequestException, UnicodeError):
            address.url = self.base_url  # it cannot be sent at all: each request says so
        settings = self._session.merge_environment_settings(address.url, {}, None, True, None)
        self._session.proxies, self._session.verify = settings["proxies"], settings["verify"]
        self._session.trust_env = False
        adapter = WatchedAdapter()
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._token_provider = token_provider
        if token:
            check_token(token)
            if wsgi_app is None or token != LOCAL_TOKEN:
                register_secret(token)
            self._session.headers["Authorization"] = f"Bearer {token}"
        if wsgi_app is not None:
            self._session.mount(self.base_url, WSGIAdapter(wsgi_app))

    def __repr__(self) -> str:  # never shows the token or the URL's user-info
        return f"Transport({self.display_url!r})"

    @property
    def token(self) -> str | None:
        auth = self._session.headers.get("Authorization", "")
        return auth[len("Bearer "):] if auth.startswith("Bearer ") else None

    def _renew_token(self) -> bool:
        """After a 401, a provider that can renew (an OAuth portal's) gets one chance at a new token."""
        renew = getattr(self._token_provider, "renew", None)
        return renew is not None and renew(self.token)

    def _use_token(self, token: str) -> None:
        if token != self.token:
            register_secret(token)
            check_token(token)
            self._session.headers["Authorization"] = f"Bearer {token}"

    def pause(self, seconds: float, why: str = "waiting for the rate limit") -> None:
        """Sleep, unless the command's deadline would pass first: then end the command now."""
        if seconds >= self.deadline.remaining():
            raise self.deadline.expired(f"{why} ({seconds:.1f}s more)")
        self._sleep(seconds)

    def request(self, method: str, path: str, *, params: dict | None = None, body: Any = None) -> Any:
        """Send one API call (retrying what is worth retrying) and return the parsed JSON body."""
        attempt = 0
        renewed = False
        while True:
            self.limiter.wait()
            left = self.deadline.check(f"{method} {path}")
            if self._token_provider is not None:
                self._use_token(self._token_provider())
            self.stats.requests += 1
            try:
                status, reason, headers, content = self._send(method, path, params, body, left)
            except requests.ConnectionError as exc:  # refused, reset, DNS, or no connection in time
                self.limiter.record()
                self.stats.by_status["connection"] += 1
                if attempt >= self.max_retries:
                    raise errors.ConnectionFailed(
                        f"could not reach {self.display_url} ({method} {path}): {type(exc).__name__}",
                        hint="check HUBSPOT_BASE_URL and the network; nothing was assumed about the portal",
                    ) from None
                self._backoff(attempt, f"{type(exc).__name__} on {method} {path}")
                attempt += 1
                continue
            except requests.Timeout as exc:
                # The server took the request and did not answer in time: a retry would cost as much again.
                self.limiter.record()
                self.stats.by_status["timeout"] += 1
                raise errors.DeadlineExceeded(
                    redact(f"no answer from {self.display_url} in time ({method} {path}): {exc}"),
                    hint="check HUBSPOT_BASE_URL and the portal's health; nothing was assumed about the portal",
                ) from None
            self.limiter.record(headers)
            self.stats.by_status[status] += 1
            if status < HTTPStatus.BAD_REQUEST:
                return _json(method, path, status, content)
            error = error_from_answer(method, path, status, reason, headers, _error_body(content))
            if isinstance(error, errors.RateLimitError):
                self.stats.rate_limited += 1
            if isinstance(error, errors.AuthError) and not renewed and self._renew_token():
                renewed = True  # once: a second 401 is the answer
                continue
            if not is_retryable(error) or attempt >= self.max_retries:
                raise error
            if status == HTTPStatus.TOO_MANY_REQUESTS:
                self._wait_rate_limited(headers, attempt)
            else:
                self._backoff(attempt, f"{status} on {method} {path}")
            attempt += 1

    def _send(self, method: str, path: str, params: dict | None, body: Any,
              left: float) -> tuple[int, str, Any, bytes]:
        """One attempt: the status, reason, headers and whole body, within every timeout."""
        total = min(self.request_timeout_s, left)
        connect, read = (min(t, total) for t in self.timeout)
        started = time.monotonic()
        with Watchdog(total) as watchdog:
            try:
                response = self._session.request(
                    method,
                    self.base_url + path,
                    params=params,
                    data=None if body is None else json.dumps(body, separators=(",", ":")),
                    headers={"Content-Type": "application/json"} if body is not None else None,
                    timeout=(connect, read),
                    stream=True,
                )
                with response:
                    content = _read_body(response, started + total, method, path)
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
                if watchdog.fired:
                    raise requests.ReadTimeout(f"the answer took longer than {total:g}s") from None
                if isinstance(exc, requests.ConnectTimeout):
                    raise requests.ConnectionError("ConnectTimeout") from None
                if isinstance(exc, requests.Timeout) or _is_read_timeout(exc):
                    raise requests.ReadTimeout(f"no byte for {read:g}s") from None
                raise requests.ConnectionError(type(exc).__name__) from None
            except requests.RequestException as exc:  # a request that can never be sent: no retry
                raise errors.ConnectionFailed(
                    redact(f"cannot send {method} {path} to {self.display_url}: {exc}")
                ) from None
            except UnicodeError:  # requests sends a URL's user-info as Basic auth, in Latin-1
                raise errors.UsageError(
                    f"cannot send {method} {path} to {self.display_url}: its user name or password holds a "
                    "character HTTP cannot carry (not shown)", hint="check HUBSPOT_BASE_URL",
                ) from None
            if watchdog.fired:
                raise requests.ReadTimeout(f"the answer took longer than {total:g}s")
        return response.status_code, response.reason or "", response.headers, content

    def _backoff(self, attempt: int, why: str) -> None:
        self.stats.retries += 1
        # Full jitter: spreads retries of racing clients apart.
        delay = self._rng.uniform(0, min(self.backoff_cap_s, self.backoff_base_s * 2**attempt))
        log.info("Retrying after %s in %.2fs", why, delay)
        self.pause(delay, f"retrying after {why}")

    def _wait_rate_limited(self, headers, attempt: int) -> None:
        self.stats.retries += 1
        delay = parse_retry_after(headers.get("Retry-After"))
        if delay is None:
            interval_ms = int_header(headers, RATE_WINDOW_HEADER)
            window = min(interval_ms, 60_000) / 1000.0 if interval_ms else 10.0
            # The rolling window frees up gradually: wait a slice of it, longer each time.
            delay = min(window, (window / 10.0) * (1 + attempt)) + self._rng.uniform(0, 0.25)
        log.info("Detected HubSpot's rate limit; waiting %.2fs", delay)
        self.pause(delay, "waiting out HubSpot's rate limit")


def _is_read_timeout(exc: Exception) -> bool:
    """requests reports a read timeout met while streaming the body as a ConnectionError."""
    cause = exc.args[0] if exc.args else None
    return isinstance(cause, ReadTimeoutError)


def _read_body(response: requests.Response, until: float, method: str, path: str) -> bytes:
    """The whole body, refusing one larger than MAX_ANSWER_BYTES and stopping when time is up."""
    declared = int_header(response.headers, "Content-Length")
    if declared is not None and declared > MAX_ANSWER_BYTES:
        raise _too_large(method, path, response.status_code)
    parts: list[bytes] = []
    size = 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise _too_large(method, path, response.status_code)
        if time.monotonic() > until:
            raise requests.ReadTimeout("the answer came too slowly")
        parts.append(chunk)
    return b"".join(parts)


def _too_large(method: str, path: str, status: int) -> errors.ApiError:
    return errors.ApiError(f"HubSpot's answer is larger than {MAX_ANSWER_BYTES // (1024 * 1024)} MB; not read",
                           method=method, path=path, status=status)


def _error_body(content: bytes) -> Any:
    try:
        return json.loads(content) if content else None
    except (ValueError, RecursionError):
        return None


def _json(method: str, path: str, status: int, content: bytes) -> Any:
    if status == HTTPStatus.NO_CONTENT or not content:
        return None
    try:
        return json.loads(content)
    except (ValueError, RecursionError):
        raise errors.ApiError("HubSpot answered with a body that is not JSON", method=method, path=path,
                              status=status) from None
