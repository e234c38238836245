"""Accord trigger events: parse one JSON line, check it, and normalise its values to HubSpot's strings.

Pure: no I/O beyond the strings given. A line becomes a ``Snapshot`` (values keyed by HubSpot
property name, already in the form HubSpot stores them), an ``Ignored`` (not a configured
trigger) or an ``Invalid`` (with every reason found, and the line itself for the dead-letter
store), so one bad line never stops a run.

``parse_lines`` coalesces while it reads: it keeps one merged snapshot per (accord, deal), never
every event, so a run's memory grows with the deals it touches, not with its events.

Normalisation, decided once here so that equal values compare equal:
- numbers travel as HubSpot stores them: ``3`` and ``3.0`` and ``"3"`` become ``"3"``,
  ``45.50`` becomes ``"45.5"``; no exponents;
- strings are stripped of surrounding whitespace (an Accord title with a trailing blank is the
  same title);
- a key missing from ``data`` means "not part of this snapshot": the deal keeps its value;
  an explicit ``null`` clears the value in HubSpot (sent as ``""``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cached_property
from urllib.parse import urlsplit

from provisioner.model import Config
from provisioner.sync.instant import format_instant, parse_instant

__all__ = ["format_instant", "parse_instant"]  # re-exported: the times of events

STATUSES = ("Not Started", "On Track", "At Risk", "Stalled")
COUNT_FIELDS = ("CUSTOMER_INVITED_COUNT", "CUSTOMER_ACCEPTED_COUNT")
_DEAL_ID = re.compile(r"^[0-9]{1,20}$")
# A URL that urlsplit reads as http(s) with a host and that holds no blank: the common case,
# accepted without splitting it; anything else goes through urlsplit.
_PLAIN_URL = re.compile(r"https?://[A-Za-z0-9.:@_~!$&'()*+,;=%-]+(?:[/?#][!-~]*)?")
_EXACT_FLOAT = 2.0**53  # below it a whole float and its repr are the same integer

# How a field's value is checked (decided once per field, see ``Rules.fields``).
_COUNT, _PROGRESS, _NUMBER, _TEXT = range(4)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One Accord's values when a trigger fired, mapped to deal properties."""

    line_no: int
    event: str
    occurred_at: int  # microseconds since the Unix epoch, UTC (see ``instant``); format_instant for text
    accord_id: str
    deal_id: str
    values: Mapping[str, str]  # property name -> value as HubSpot stores it ("" clears)


@dataclass(frozen=True, slots=True)
class Ignored:
    line_no: int
    event: str


@dataclass(frozen=True, slots=True)
class Invalid:
    line_no: int
    reasons: tuple[str, ...]
    raw: str
    accord_id: str | None = None
    deal_id: str | None = None
    occurred_at: int | None = None

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


@dataclass(frozen=True)
class Rules:
    """What the config says about the values: the mapping, the triggers and per-property limits."""

    mapping: Mapping[str, str]
    triggers: frozenset[str]
    number_properties: frozenset[str] = frozenset()
    max_length: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Config) -> Rules:
        number_properties = frozenset(
            name for name, prop in config.desired.properties.items() if prop.type == "number"
        )
        max_length = {}
        for (name, rule_type), rule in config.desired.rules.items():
            if rule_type == "MAX_LENGTH" and rule.arguments:
                try:
                    max_length[name] = int(rule.arguments[0])
                except ValueError:
                    continue
        return cls(
            mapping=dict(config.sync.mapping),
            triggers=frozenset(config.sync.triggers),
            number_properties=number_properties,
            max_length=max_length,
        )

    @property
    def properties(self) -> list[str]:
        return sorted(self.mapping.values())

    @cached_property
    def fields(self) -> tuple[tuple[str, str, int, int | None], ...]:
        """Per mapped field, decided once: (Accord field, property, how it is checked, length limit)."""
        return tuple(
            (accord_field, prop, _kind(accord_field, prop, self.number_properties), self.max_length.get(prop))
            for accord_field, prop in self.mapping.items()
        )


def normalise_number(value: object) -> str:
    """A number as HubSpot stores it: no spurious decimals, no exponent. Raises ValueError."""
    kind = type(value)
    if kind is int:
        return str(value)
    if kind is float and -_EXACT_FLOAT < value < _EXACT_FLOAT:  # false for nan
        if value.is_integer():
            return str(int(value))
        text = repr(value)  # the shortest form that reads back, never with trailing zeros
        if "e" not in text:
            return text
    if isinstance(value, bool) or value is None:
        raise ValueError("not a number")
    if isinstance(value, str):
        value = value.strip()
        if not value:
            raise ValueError("not a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError("not a number") from None
    if not number.is_finite():
        raise ValueError("not a finite number")
    if number == number.to_integral_value():
        return str(int(number))
    text = format(number.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _kind(accord_field: str, prop: str, number_properties: frozenset[str]) -> int:
    if accord_field in COUNT_FIELDS:
        return _COUNT
    if accord_field == "PROGRESS":
        return _PROGRESS
    if accord_field == "EXECUTION_SCORE" or prop in number_properties:
        return _NUMBER
    return _TEXT


def _check(accord_field: str, prop: str, kind: int, limit: int | None, value: object) -> tuple[str | None, str | None]:
    if value is None:
        return "", None
    if kind != _TEXT:
        try:
            if kind == _COUNT:
                if type(value) is int:
                    text = str(value)
                    bad = value < 0
                else:
                    text = normalise_number(value)
                    bad = "." in text or text.startswith("-")
                if bad:
                    return None, f"{accord_field} must be a whole number >= 0, got {value!r}"
                return text, None
            if kind == _PROGRESS:
                if type(value) is int:
                    text, bad = str(value), not 0 <= value <= 100
                else:
                    text = normalise_number(value)
                    bad = not Decimal(0) <= Decimal(text) <= Decimal(100)
                if bad:
                    return None, f"PROGRESS must be from 0 to 100, got {value!r}"
                return text, None
            return normalise_number(value), None
        except ValueError:
            return None, f"{accord_field} must be a number, got {value!r}"
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        text = str(value).strip()
    else:
        return None, f"{accord_field} must be a string, got {type(value).__name__}"
    if accord_field == "STATUS" and text not in STATUSES:
        return None, f"STATUS must be one of {', '.join(STATUSES)}, got {value!r}"
    if accord_field == "URL" and text and _PLAIN_URL.fullmatch(text) is None:
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.netloc or " " in text:
            return None, f"URL must be an http(s) URL, got {text[:80]!r}"
    if limit is not None and len(text) > limit:
        return None, f"{accord_field} is {len(text)} characters, over the limit of {limit} of {prop}"
    return text, None


def parse_line(line_no: int, line: str, rules: Rules) -> Snapshot | Ignored | Invalid | None:
    """One input line to what it is; ``None`` for a blank line."""
    raw = line.rstrip("\r\n")
    if not raw.strip():
        return None
    try:
        item = json.loads(raw)
    except ValueError as exc:
        return Invalid(line_no, (f"not JSON ({exc.msg} at column {exc.colno})",), raw)
    if not isinstance(item, dict):
        return Invalid(line_no, ("not a JSON object",), raw)
    event = item.get("event")
    if not isinstance(event, str) or not event:
        return Invalid(line_no, ("'event' is missing",), raw)
    if event not in rules.triggers:
        return Ignored(line_no, event)
    reasons: list[str] = []
    accord_id = item.get("accord_id")
    if not isinstance(accord_id, str | int) or isinstance(accord_id, bool) or not str(accord_id).strip():
        reasons.append("'accord_id' is missing")
        accord_id = None
    else:
        accord_id = accord_id.strip() if type(accord_id) is str else str(accord_id).strip()
    deal_id = item.get("deal_id")
    if deal_id is None or deal_id == "":
        reasons.append("the deal id is missing")
        deal_id = None
    else:
        text = deal_id.strip() if type(deal_id) is str else str(deal_id).strip()
        if isinstance(deal_id, bool) or not _DEAL_ID.match(text):
            reasons.append(f"'deal_id' must be a HubSpot record id (digits), got {deal_id!r}")
            deal_id = None
        else:
            deal_id = text
    try:
        occurred_at = parse_instant(item.get("occurred_at"))
    except ValueError as exc:
        reasons.append(f"'occurred_at' must be an ISO 8601 time with a zone ({exc})")
        occurred_at = None
    data = item.get("data")
    values: dict[str, str] = {}
    if not isinstance(data, dict):
        reasons.append("'data' must be an object")
    else:
        for accord_field, prop, kind, limit in rules.fields:
            if accord_field not in data:
                continue
            value, reason = _check(accord_field, prop, kind, limit, data[accord_field])
            if reason:
                reasons.append(reason)
            else:
                values[prop] = value
    if reasons:
        return Invalid(line_no, tuple(reasons), raw, accord_id, deal_id, occurred_at)
    return Snapshot(line_no, event, occurred_at, accord_id, deal_id, values)


@dataclass
class ParsedInput:
    """A run's input, read: the valid snapshots already coalesced (see ``Coalescer``)."""

    merged: dict[tuple[str, str], Snapshot] = field(default_factory=dict)  # one per (accord, deal)
    valid: int = 0  # valid snapshots read, before coalescing
    ignored: list[Ignored] = field(default_factory=list)
    invalid: list[Invalid] = field(default_factory=list)
    read: int = 0


class Coalescer:
    """One snapshot per (accord, deal), merged as snapshots arrive, in any order.

    Each field keeps the value of the newest snapshot that carried it, newest by
    (``occurred_at``, line number): ties in ``occurred_at`` go to the later line, and on a full
    tie the snapshot added last wins. The merged snapshot carries the line, event and time of
    the newest snapshot. The result equals merging all of them oldest to newest.
    """

    __slots__ = ("merged", "added", "_stamps")

    def __init__(self) -> None:
        self.merged: dict[tuple[str, str], Snapshot] = {}
        self.added = 0
        # Per key merged from two snapshots or more: property -> (occurred_at, line_no) of its value.
        self._stamps: dict[tuple[str, str], dict[str, tuple[int, int]]] = {}

    def add(self, snap: Snapshot) -> None:
        self.added += 1
        key = (snap.accord_id, snap.deal_id)
        held = self.merged.get(key)
        if held is None:
            self.merged[key] = snap
            return
        stamp = (snap.occurred_at, snap.line_no)
        held_stamp = (held.occurred_at, held.line_no)
        stamps = self._stamps.get(key)
        if stamps is None:
            # Every held value still comes from the held snapshot. The common cases need no
            # bookkeeping: a newer snapshot with all the held fields replaces it, an older one
            # with none but those changes nothing.
            if held_stamp <= stamp:
                if snap.values.keys() >= held.values.keys():
                    self.merged[key] = snap
                    return
            elif snap.values.keys() <= held.values.keys():
                return
            # The first merge for this key: from now on its values are a dict of our own.
            stamps = self._stamps[key] = dict.fromkeys(held.values, held_stamp)
            values = dict(held.values)
            held = self.merged[key] = Snapshot(
                held.line_no, held.event, held.occurred_at, held.accord_id, held.deal_id, values
            )
        else:
            values = held.values
        for prop, value in snap.values.items():
            before = stamps.get(prop)
            if before is None or before <= stamp:
                values[prop] = value
                stamps[prop] = stamp
        if held_stamp <= stamp:
            self.merged[key] = Snapshot(snap.line_no, snap.event, snap.occurred_at, snap.accord_id, snap.deal_id, values)


def parse_lines(lines: Iterable[str], rules: Rules, start: int = 1) -> ParsedInput:
    """Every line of an input, coalesced as it is read; counts events read (non-blank lines).

    ``lines`` is consumed once, one line at a time (an open file is read as it goes).
    """
    parsed = ParsedInput()
    merger = Coalescer()
    add = merger.add
    for line_no, line in enumerate(lines, start):
        result = parse_line(line_no, line, rules)
        if result is None:
            continue
        parsed.read += 1
        if type(result) is Snapshot:
            add(result)
        elif type(result) is Ignored:
            parsed.ignored.append(result)
        else:
            parsed.invalid.append(result)
    parsed.merged = merger.merged
    parsed.valid = merger.added
    return parsed


def coalesce(snapshots: Iterable[Snapshot]) -> dict[tuple[str, str], Snapshot]:
    """One snapshot per (accord, deal): fields merged oldest to newest, so the newest value wins.

    Ties in ``occurred_at`` go to the later line.
    """
    merger = Coalescer()
    for snap in snapshots:
        merger.add(snap)
    return merger.merged
