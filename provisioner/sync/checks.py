"""The checks of one field of an Accord event, and what a value becomes in HubSpot (pure).

``check_value`` returns (the text HubSpot stores, None) or (None, the reason the value is
refused); ``field_kind`` decides once per mapped field how its values are checked. Reasons show
values bounded (``show``): a long text is cut, a container is named, never printed whole.
``plain`` says the caller knows the line holds no control character (no escape, no DEL, ASCII
only), which spares the search for one.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from provisioner.numbers import MAX_EXPONENT, normalise_number

STATUSES = ("Not Started", "On Track", "At Risk", "Stalled")
COUNT_FIELDS = ("CUSTOMER_INVITED_COUNT", "CUSTOMER_ACCEPTED_COUNT")
MAX_ID_LENGTH = 256  # characters of an accord id
LIMIT = 10 ** (MAX_EXPONENT + 1)  # a whole number's bound (provisioner.numbers)
# How a field's value is checked.
COUNT, PROGRESS, NUMBER, TEXT, STATUS, URL = range(6)

# A URL that urlsplit reads as http(s) with a host and that holds no blank: the common case,
# accepted without splitting it; anything else goes through urlsplit.
_PLAIN_URL = re.compile(r"https?://[A-Za-z0-9.@_~!$&'()*+,;=%-]+(?::[0-9]{1,4})?(?:[/?#][!-~]*)?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SMALL = tuple(str(n) for n in range(1001))  # the texts of the common counts and scores, made once


def field_kind(accord_field: str, prop: str, number_properties: frozenset[str]) -> int:
    if accord_field in COUNT_FIELDS:
        return COUNT
    if accord_field == "PROGRESS":
        return PROGRESS
    if accord_field == "EXECUTION_SCORE" or prop in number_properties:
        return NUMBER
    if accord_field == "STATUS":
        return STATUS
    if accord_field == "URL":
        return URL
    return TEXT


def show(value: object) -> str:
    """A value for a reason, bounded: long texts cut, containers named, never a deep repr."""
    if isinstance(value, str):
        return repr(value) if len(value) <= 80 else repr(value[:80]) + "…"
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if type(value) is int:
        return str(value) if -LIMIT < value < LIMIT else f"a number of about {value.bit_length() * 3 // 10} digits"
    if type(value) is float:
        return repr(value)
    return "an object" if isinstance(value, dict) else "an array" if isinstance(value, list) else type(value).__name__


def check_value(accord_field: str, prop: str, kind: int, limit: int | None, value: object, plain: bool) -> tuple[str | None, str | None]:
    """(the value as HubSpot stores it, None) or (None, the reason it is refused)."""
    if value is None:
        return "", None
    kind_of = type(value)
    if kind == COUNT and kind_of is int and 0 <= value < LIMIT:
        return (_SMALL[value] if value <= 1000 else str(value)), None
    if kind == PROGRESS and kind_of is int and 0 <= value <= 100:
        return _SMALL[value], None
    if kind == COUNT or kind == PROGRESS:
        if kind_of is not int and kind_of is not float and kind_of is not str:
            return None, f"{accord_field} must be a number, got {show(value)}"
        try:
            text = normalise_number(value)
        except ValueError as exc:
            return None, f"{accord_field} must be a number, got {show(value)} ({exc})"
        if kind == COUNT:
            if "." in text or text.startswith("-"):
                return None, f"{accord_field} must be a whole number >= 0, got {show(value)}"
        elif text.startswith("-") or (len(text.partition(".")[0]) > 2 and text != "100"):
            return None, f"PROGRESS must be from 0 to 100, got {show(value)}"
        return text, None
    if kind == NUMBER:
        if kind_of is int and 0 <= value <= 1000:
            return _SMALL[value], None
        if kind_of in (int, float, str):
            try:
                return normalise_number(value), None
            except ValueError as exc:
                return None, f"{accord_field} must be a number, got {show(value)} ({exc})"
        return None, f"{accord_field} must be a number, got {show(value)}"
    if kind_of is str:
        if not plain:
            where = _CONTROL.search(value)
            if where is not None:
                return None, f"{accord_field} holds a control character (U+{ord(where.group()):04X} at {where.start() + 1})"
        text = value.strip()
    elif kind_of is int or kind_of is float:
        try:
            text = normalise_number(value)
        except ValueError as exc:
            return None, f"{accord_field} must be a string, got {show(value)} ({exc})"
    else:
        return None, f"{accord_field} must be a string, got {show(value)}"
    if kind == STATUS:
        if text not in STATUSES:
            return None, f"STATUS must be one of {', '.join(STATUSES)}, got {show(value)}"
        return text, None
    if limit is not None and len(text) > limit:
        return None, f"{accord_field} is {len(text)} characters, over the limit of {limit} of {prop}"
    if kind == URL and text and _PLAIN_URL.fullmatch(text) is None:
        try:
            parts = urlsplit(text)
            ok = parts.scheme in ("http", "https") and bool(parts.netloc) and " " not in text
            ok = ok and (parts.port is None or parts.port >= 0)  # .port refuses a port beyond 65535
        except ValueError:  # an unclosed [ in the host, a port that is not a number: refused
            ok = False
        if not ok:
            return None, f"URL must be an http(s) URL, got {show(text)}"
    return text, None


def check_accord_id(value: object, plain: bool) -> tuple[str | None, str | None]:
    if type(value) is int and -LIMIT < value < LIMIT:
        return str(value), None
    if type(value) is not str:
        return None, "'accord_id' is missing" if value is None else f"'accord_id' must be a string, got {show(value)}"
    if not plain and _CONTROL.search(value) is not None:
        return None, "'accord_id' holds a control character"
    text = value.strip()
    if not text:
        return None, "'accord_id' is missing"
    if len(text) > MAX_ID_LENGTH:
        return None, f"'accord_id' is {len(text)} characters, over the limit of {MAX_ID_LENGTH}"
    return text, None
