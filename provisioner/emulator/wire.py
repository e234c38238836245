"""HubSpot's wire conventions: timestamps, error bodies, the exception that stands for a dropped socket."""

from __future__ import annotations

import functools
import json
import time
import uuid
from datetime import datetime, timezone


class DroppedConnection(Exception):
    """Raised by the WSGI app when a fault says the connection drops without an answer.

    The threaded server closes the socket; an in-process transport maps it to a connection error.
    """


class HubSpotError(Exception):
    """An error answer: status plus HubSpot's error body (the correlation id is added when sent).

    ``body`` may be a string: an HTML page, as the gateways in front of HubSpot answer 502-504.
    """

    def __init__(self, status: int, body: dict | str, headers: dict | None = None) -> None:
        super().__init__(body.get("message", "") if isinstance(body, dict) else body)
        self.status = int(status)
        self.body = body
        self.headers = headers or {}


def now_ms() -> int:
    return int(time.time() * 1000)


@functools.lru_cache(maxsize=65536)
def iso(ms: int) -> str:
    """Milliseconds since the epoch as HubSpot writes timestamps: 2026-11-27T10:00:00.123Z.

    Cached: a batch stamps all its records alike, and answers repeat the same few stamps.
    """
    stamp = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def correlation_id() -> str:
    return str(uuid.uuid4())


def error(status: int, category: str, message: str, *, sub_category: str | None = None,
          errors: list | None = None, context: dict | None = None) -> HubSpotError:
    """An error answer in HubSpot's standard shape (section 6 of the API facts)."""
    body: dict = {"status": "error", "message": message, "correlationId": None, "category": category}
    if sub_category:
        body["subCategory"] = sub_category
    if errors is not None:
        body["errors"] = errors
    if context is not None:
        body["context"] = context
    return HubSpotError(status, body)


def validation_error(message: str, details: list[tuple[str, str, str | None]]) -> HubSpotError:
    """400 VALIDATION_ERROR with ``errors[]`` of (message, code, field)."""
    items = []
    for text, code, field in details:
        item: dict = {"message": text, "code": code}
        if field:
            item["in"] = field
        items.append(item)
    return error(400, "VALIDATION_ERROR", message, errors=items)


def not_found(message: str) -> HubSpotError:
    return error(404, "OBJECT_NOT_FOUND", message)


def batch_error(category: str, message: str, context: dict, *, sub_category: str | None = None) -> dict:
    """One per-input failure inside a 207 answer: status, category, (subCategory,) message, context.

    Recorded answers carry no ``errors`` or ``links`` inside these items (docs/emulator.md, conformance).
    """
    item = {"status": "error", "category": category}
    if sub_category:
        item["subCategory"] = sub_category
    item["message"] = message
    item["context"] = context
    return item


def dumps(body) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()
