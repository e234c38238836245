"""Record values checked and normalised as HubSpot does: everything travels and is stored as a string."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal

from provisioner import numbers

DEFAULT_MAX_STRING = 65536
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_intern: dict[str, str] = {}


class ValueProblem(Exception):
    """One value that does not fit its property: HubSpot's error code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def share(value: str) -> str:
    """Keep one copy of short repeated values (statuses, stages): 200,000 deals stay small."""
    if len(value) > 40:
        return value
    found = _intern.get(value)
    if found is None:
        if len(_intern) < 100_000:
            _intern[value] = value
        return value
    return found


def normalise_number(text: str) -> str:
    """"3", 3, "3.0" and "03" are all stored as "3"; "1.50" as "1.5" (bounded: ``provisioner.numbers``)."""
    try:
        return numbers.normalise_number(text)
    except ValueError:
        raise ValueProblem("INVALID_INTEGER", f"{text[:100]} was not a valid number.") from None


def _epoch_ms(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def normalise_date(text: str, with_time: bool) -> str:
    ms = _epoch_ms(text)
    try:
        if ms is not None:
            stamp = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
        elif _DATE.match(text):
            stamp = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=timezone.utc)
        else:
            stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if stamp.tzinfo is None:
                stamp = stamp.replace(tzinfo=timezone.utc)
            stamp = stamp.astimezone(timezone.utc)
    except (ValueError, OverflowError, OSError):
        raise ValueProblem("INVALID_DATE", f"{text} is not a valid date.") from None
    if not with_time:
        if (stamp.hour, stamp.minute, stamp.second, stamp.microsecond) != (0, 0, 0, 0):
            raise ValueProblem("INVALID_DATE", f"{text} is not midnight UTC; a date property takes a day only.")
        return stamp.strftime("%Y-%m-%d")
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def to_text(raw) -> str:
    """JSON values HubSpot accepts in a properties map, as the string it stores."""
    if raw is None:
        return ""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, (int, float)):
        return repr(raw) if isinstance(raw, float) else str(raw)
    if isinstance(raw, str):
        return raw
    raise ValueProblem("INVALID_PROPERTY_VALUE", f"{raw!r} is not a value a property can hold.")


def check_value(prop: dict, raw, rules: dict[str, list[str]] | None, *, enforce_rules: bool) -> str:
    """The stored form of ``raw`` for ``prop``, or ValueProblem. ``""`` clears a value."""
    text = to_text(raw)
    if text == "":
        return ""
    kind = prop["type"]
    if kind == "number":
        text = normalise_number(text)
        if enforce_rules and rules:
            _check_number_rules(prop["name"], text, rules)
        return text
    if kind == "bool":
        lowered = text.lower()
        if lowered not in ("true", "false"):
            raise ValueProblem("INVALID_BOOLEAN", f"{text} is not a valid boolean; use true or false.")
        return lowered
    if kind == "enumeration":
        allowed = [o["value"] for o in prop.get("options") or []]
        chosen = text.split(";") if prop["fieldType"] == "checkbox" else [text]
        for value in chosen:
            if value not in allowed:
                raise ValueProblem(
                    "INVALID_OPTION",
                    f"{value} was not one of the allowed options: [{', '.join(allowed)}]",
                )
        return share(text)
    if kind in ("date", "datetime"):
        return normalise_date(text, kind == "datetime")
    if len(text) > DEFAULT_MAX_STRING:
        raise ValueProblem("INVALID_LENGTH", f"Value is {len(text)} characters long; the limit is {DEFAULT_MAX_STRING}.")
    if enforce_rules and rules:
        _check_string_rules(prop["name"], text, rules)
    return share(text)


def _check_string_rules(name: str, text: str, rules: dict[str, list[str]]) -> None:
    if "MAX_LENGTH" in rules and len(text) > int(rules["MAX_LENGTH"][0]):
        raise ValueProblem(
            "MAX_LENGTH",
            f"Property \"{name}\" value is {len(text)} characters long; its limit is {rules['MAX_LENGTH'][0]}.",
        )
    if "MIN_LENGTH" in rules and len(text) < int(rules["MIN_LENGTH"][0]):
        raise ValueProblem(
            "MIN_LENGTH",
            f"Property \"{name}\" value is {len(text)} characters long; its minimum is {rules['MIN_LENGTH'][0]}.",
        )
    if "REGEX" in rules and not re.fullmatch(rules["REGEX"][0], text):
        raise ValueProblem("REGEX", f"Property \"{name}\" value does not match the pattern {rules['REGEX'][0]}.")
    if "URL" in rules and not _URL.match(text):
        raise ValueProblem("URL", f"Property \"{name}\" value is not a valid URL.")


def _check_number_rules(name: str, text: str, rules: dict[str, list[str]]) -> None:
    number = Decimal(text)
    if "MIN_NUMBER" in rules and number < Decimal(rules["MIN_NUMBER"][0]):
        raise ValueProblem("MIN_NUMBER", f"Property \"{name}\" value {text} is below {rules['MIN_NUMBER'][0]}.")
    if "MAX_NUMBER" in rules and number > Decimal(rules["MAX_NUMBER"][0]):
        raise ValueProblem("MAX_NUMBER", f"Property \"{name}\" value {text} is above {rules['MAX_NUMBER'][0]}.")
    if "DECIMAL" in rules:
        places = -number.as_tuple().exponent if "." in text else 0
        if places > int(rules["DECIMAL"][0]):
            raise ValueProblem(
                "DECIMAL", f"Property \"{name}\" value {text} has more than {rules['DECIMAL'][0]} decimal places."
            )
