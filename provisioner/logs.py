"""Logging for terminals and pipelines: everything to stderr, never the token.

Outputs (plans, drift reports, exports, JSON) go to stdout; log lines go to stderr, as text or as
JSON lines (``ts``, ``level``, ``logger``, ``message``) that a log collector can parse.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, quote_plus

LOGGER = "provisioner"
FORMATS = ("text", "json")
# Anything that looks like a bearer credential, whatever the source of the text.
_BEARER = re.compile(r"(Bearer\s+)[^\s'\",]+", re.IGNORECASE)
# A URL's user-info (user:password@), in text that may not even parse as a URL.
_URL_CREDENTIALS = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/?#\s'\"]*@")
_TOKEN_VARIABLES = ("HUBSPOT_ACCESS_TOKEN",)
# Shorter values are not masked: they would garble every message and are no real credential.
MIN_SECRET_LENGTH = 4
MASK = "***"

_state = {"format": "text"}
# Every spelling of every secret registered in this process, longest first when masking.
_masks: set[str] = set()


def register_secret(value: str | None) -> None:
    """Mask this value (and its escaped spellings) in every message from now on, in this process."""
    if value and len(value) >= MIN_SECRET_LENGTH:
        _masks.update(_spellings(value))


def _spellings(secret: str) -> set[str]:
    """The ways a secret can appear in a message: as is, escaped by repr or JSON, percent-encoded."""
    forms = {
        secret,
        secret.strip(),
        repr(secret)[1:-1],
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
        repr(secret.encode("utf-8", "surrogatepass"))[2:-1],
    }
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


def redact(text: str) -> str:
    """The text with every known secret, any bearer credential and any URL user-info masked."""
    masks = set(_masks)
    for name in _TOKEN_VARIABLES:
        secret = os.environ.get(name) or ""
        if len(secret) >= MIN_SECRET_LENGTH:
            masks.update(_spellings(secret))
    for form in sorted(masks, key=len, reverse=True):
        if form in text:
            text = text.replace(form, MASK)
    text = _BEARER.sub(r"\1" + MASK, text)
    return _URL_CREDENTIALS.sub(r"\1" + MASK + "@", text)


def redact_json(value: Any) -> Any:
    """A JSON value (an API error body) with every string in it redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [redact_json(item) for item in value]
    if isinstance(value, dict):
        return {redact(str(key)): redact_json(item) for key, item in value.items()}
    return value


class _Stderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (test capture and redirections included)."""

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler.__init__ assigns it
        pass


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts (UTC, ISO 8601), level, logger, message, and any extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
        data = {
            "ts": ts.replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key in ("hint", "exit_code", "event"):
            if hasattr(record, key):
                value = getattr(record, key)
                data[key] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            data["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(data, ensure_ascii=False)


def level_for(quiet: bool, verbose: int) -> int:
    """--quiet: errors only; default: warnings; -v: findings (info); -vv: debug."""
    if quiet:
        return logging.ERROR
    return {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)


def configure_logging(*, quiet: bool = False, verbose: int = 0, fmt: str = "text") -> logging.Logger:
    """Send the ``provisioner`` logger to stderr at the chosen level and format (idempotent)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown log format {fmt!r}")
    logger = logging.getLogger(LOGGER)
    for handler in [h for h in logger.handlers if isinstance(h, _Stderr)]:
        logger.removeHandler(handler)
    handler = _Stderr()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    logger.addHandler(handler)
    logger.setLevel(level_for(quiet, verbose))
    logger.propagate = False
    _state["format"] = fmt
    return logger


def is_json() -> bool:
    """Whether log lines (and so error lines) are JSON in this run."""
    return _state["format"] == "json"
