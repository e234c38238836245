"""HubSpot's error answers mapped to the project's exceptions: one table, and two body-aware readers.

The status picks the class (``STATUS_ERRORS``, as hvac's exceptions.py does); two answers say more in
their body: a 403 names the scopes it wants (in either of the two shapes HubSpot sends, see
``required_scopes``) and a 429 names its policy (``DAILY`` means stop until the portal's midnight).
HubSpot asks clients to treat every field of an error body as optional, so every read here is tolerant.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from provisioner import errors
from provisioner.logs import redact, redact_json

STATUS_ERRORS: dict[int, type[errors.ApiError]] = {
    HTTPStatus.BAD_REQUEST: errors.RequestValidationError,
    HTTPStatus.UNAUTHORIZED: errors.AuthError,
    HTTPStatus.FORBIDDEN: errors.MissingScopesError,
    HTTPStatus.NOT_FOUND: errors.NotFoundError,
    HTTPStatus.CONFLICT: errors.ConflictError,
    HTTPStatus.LOCKED: errors.ServerError,  # a short lock (about 2 s): retried like a server error
    HTTPStatus.TOO_MANY_REQUESTS: errors.RateLimitError,
}
# Worth another try after a pause: locks, server errors and Cloudflare's 52x.
RETRYABLE_STATUS = frozenset({
    HTTPStatus.LOCKED, HTTPStatus.INTERNAL_SERVER_ERROR, HTTPStatus.BAD_GATEWAY, HTTPStatus.SERVICE_UNAVAILABLE,
    HTTPStatus.GATEWAY_TIMEOUT, *range(520, 531),
})
DAILY_POLICY = "DAILY"


def error_class(status: int) -> type[errors.ApiError]:
    if status in STATUS_ERRORS:
        return STATUS_ERRORS[status]
    return errors.ServerError if status >= HTTPStatus.INTERNAL_SERVER_ERROR else errors.ApiError


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _strings(value: Any) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _context(item: Any) -> Mapping:
    context = item.get("context") if isinstance(item, Mapping) else None
    return context if isinstance(context, Mapping) else {}


def required_scopes(body: Mapping) -> list[str]:
    """The scopes a 403 asks for, from either shape HubSpot sends.

    Live portals answer ``{"context": {"requiredGranularScopes": [...]}, "category": "MISSING_SCOPES"}``
    with no ``errors`` array; an older shape puts ``requiredScopes`` in ``errors[].context``.
    """
    contexts = [_context(body)]
    errors_list = body.get("errors")
    if isinstance(errors_list, list):
        contexts.extend(_context(item) for item in errors_list)
    scopes = {scope for context in contexts
              for key in ("requiredGranularScopes", "requiredScopes") for scope in _strings(context.get(key))}
    return sorted(scopes)


def is_retryable(error: errors.ApiError) -> bool:
    if isinstance(error, errors.DailyLimitError):
        return False
    return error.status in RETRYABLE_STATUS or isinstance(error, errors.RateLimitError)


def error_from_answer(method: str, path: str, status: int, reason: str, headers: Mapping[str, str],
                      body: Any) -> errors.ApiError:
    """The exception for an error answer; its message and body carry no secret."""
    body = redact_json(body) if isinstance(body, dict) else {}
    message = redact(str(body.get("message") or reason or f"HTTP {status}"))
    kwargs: dict[str, Any] = dict(
        method=method,
        path=redact(path),
        status=status,
        category=_text(body.get("category") or body.get("errorType")),
        sub_category=_text(body.get("subCategory")),
        correlation_id=_text(body.get("correlationId") or headers.get("X-HubSpot-Correlation-Id")),
        body=body,
    )
    cls = error_class(status)
    if cls is errors.MissingScopesError:
        return errors.MissingScopesError(message, required_scopes=required_scopes(body), **kwargs)
    if cls is errors.RateLimitError:
        policy = _text(body.get("policyName"))
        limit_cls = errors.DailyLimitError if policy == DAILY_POLICY else errors.RateLimitError
        return limit_cls(message, policy=policy, **kwargs)
    return cls(message, **kwargs)
