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

LOGGER = "provisioner"
FORMATS = ("text", "json")
# Anything that looks like a bearer credential, whatever the source of the text.
_BEARER = re.compile(r"(Bearer\s+)[^\s'\",]+", re.IGNORECASE)
_TOKEN_VARIABLES = ("HUBSPOT_ACCESS_TOKEN",)

_state = {"format": "text"}


def redact(text: str) -> str:
    """The text with the access token (from the environment) and any bearer credential masked."""
    text = _BEARER.sub(r"\1***", text)
    for name in _TOKEN_VARIABLES:
        secret = os.environ.get(name)
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


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
