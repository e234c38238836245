"""Accord trigger events: read one line, check it, and normalise its values to HubSpot's strings.

Pure: no I/O beyond the line given. A line (bytes as read, or text) becomes a ``Snapshot``
(values keyed by HubSpot property name, already in the form HubSpot stores them), an ``Ignored``
(not a configured trigger) or an ``Invalid`` (every reason found, and a bounded prefix of the line
for the dead-letter store). Any line, however hostile, becomes one of those three, with bounded
work: one bad line never stops a run. The limits and what is invalid are in docs/sync.md (Input).

Decoding: a typed msgspec decoder reads the common record (five keys, flat ``data``) in one pass;
a line it refuses is read again untyped to find every reason. Both apply the same checks.

Normalisation, decided once here so that equal values compare equal:
- numbers travel as HubSpot stores them (``provisioner.numbers``): ``3``, ``3.0`` and ``"3"`` are
  ``"3"``, ``45.50`` is ``"45.5"``; no exponents;
- strings are stripped of surrounding whitespace (an Accord title with a trailing blank is the
  same title);
- times are instants (``provisioner.sync.instant``): microseconds since the epoch, UTC;
- a key missing from ``data`` means "not part of this snapshot": the deal keeps its value;
  an explicit ``null`` clears the value in HubSpot (sent as ``""``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

import msgspec

from provisioner.model import Config
from provisioner.numbers import normalise_number
from provisioner.sync.checks import LIMIT, STATUSES, check_accord_id, check_value, field_kind, show
from provisioner.sync.instant import format_instant, parse_instant
from provisioner.sync.source import MAX_LINE_BYTES, LongLine

__all__ = ["STATUSES", "format_instant", "normalise_number", "parse_instant"]  # re-exported for other modules

# Limits (docs/sync.md, Input); the line limit, MAX_LINE_BYTES, is the reader's (``source``).
MAX_DEPTH = 16  # JSON nesting; an event is two levels deep
RAW_KEPT = 2048  # characters of an invalid line kept for its dead letter
MAX_EVENT_KEPT = 100  # characters of an ignored event's name kept for the report

_DEAL_ID = re.compile(r"[1-9][0-9]{0,19}")
_LONE_SURROGATE = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])|(?<![0-9a-fA-F]{2})\\u[dD][c-fC-F]")
_MEMO_KEPT = 4096  # checked values remembered per field (see ``Rules.fields``)
_ABSENT = object()


class _Record(msgspec.Struct, forbid_unknown_fields=True):
    """The common event record, typed and nothing else: any other line is read untyped, checked key by key."""

    event: str
    occurred_at: str
    accord_id: str | int
    deal_id: str | int
    data: dict[str, str | int | float | None]
    portal_id: int | str | None = None  # the portal the record is for (default: the store's own)


_decode_record = msgspec.json.Decoder(_Record).decode
_decode_any = msgspec.json.Decoder().decode


@dataclass(slots=True)
class Snapshot:
    """One Accord's values when a trigger fired, mapped to deal properties.

    Treated as immutable, but not ``frozen``: a frozen dataclass takes 5 times as long to make
    (0.87 against 0.18 microseconds), and one is made per valid line.
    """

    line_no: int
    event: str
    occurred_at: int  # microseconds since the Unix epoch, UTC (see ``instant``); format_instant for text
    accord_id: str
    deal_id: str
    values: Mapping[str, str]  # property name -> value as HubSpot stores it ("" clears)
    portal_id: int | None = None  # the portal named by the record; None: the default portal


@dataclass(frozen=True, slots=True)
class Ignored:
    line_no: int
    event: str


@dataclass(frozen=True, slots=True)
class Invalid:
    line_no: int
    reasons: tuple[str, ...]
    raw: str  # the line as read, at most RAW_KEPT characters (then marked with a trailing "…")
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
    # A SQLite store holds one portal: a record naming another one is set aside (None: not checked).
    portal_id: int | None = None

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
    def fields(self) -> tuple[tuple[str, str, int, int | None, dict], ...]:
        """Per mapped field, decided once: (Accord field, property, how it is checked, length limit, memo).

        The memo maps values the typed decoder read (str, int, float or None: no two of them equal
        unless they normalise alike) to the text they were accepted as: statuses, stages, counts
        and scores repeat, so most values are checked once a run and their texts shared.
        """
        return tuple(
            (accord_field, prop, field_kind(accord_field, prop, self.number_properties),
             self.max_length.get(prop), {})
            for accord_field, prop in self.mapping.items()
        )


def _kept(raw: bytes) -> str:
    """The line for its dead letter: at most RAW_KEPT characters, invalid UTF-8 shown as \\xNN."""
    text = raw[: RAW_KEPT * 4].decode("utf-8", "backslashreplace")
    return text if len(text) <= RAW_KEPT and len(raw) <= RAW_KEPT * 4 else text[:RAW_KEPT] + "…"


def parse_line(line_no: int, line: bytes | str, rules: Rules) -> Snapshot | Ignored | Invalid | None:
    """One input line to what it is; ``None`` for a blank line."""
    if type(line) is bytes:
        raw = line
    elif type(line) is str:
        try:
            raw = line.encode("utf-8")
        except UnicodeEncodeError as exc:
            raw = line.encode("utf-8", "backslashreplace")
            return Invalid(line_no, (f"holds a lone surrogate (at column {exc.start + 1})",), _kept(raw))
    elif isinstance(line, LongLine):
        return Invalid(line_no, (line.reason,), _kept(line))
    else:
        raise TypeError(f"a line is bytes or str, not {type(line).__name__}")
    if raw[-1:] in (b"\n", b"\r"):
        raw = raw.rstrip(b"\r\n")
    if len(raw) > MAX_LINE_BYTES:
        return Invalid(line_no, (f"the line is {len(raw)} bytes, over the limit of {MAX_LINE_BYTES}",), _kept(raw))
    plain = raw.isascii()
    if not plain:
        try:
            raw.decode("utf-8")  # the decoder checks only the strings it keeps: check them all
        except UnicodeDecodeError as exc:
            return Invalid(line_no, (f"not UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})",), _kept(raw))
    # Without non-ASCII bytes, escapes or DEL, no string of the line can hold a control character.
    plain = plain and b"\\" not in raw and b"\x7f" not in raw
    try:
        record = _decode_record(raw)  # no unknown key, a flat ``data``: at most two levels deep
    except (msgspec.MsgspecError, ValueError, RecursionError):
        record = None
    if record is not None and record.event:
        event = record.event
        if event not in rules.triggers:
            return Ignored(line_no, event[:MAX_EVENT_KEPT])
        return _checked(line_no, raw, event, record.occurred_at, record.accord_id, record.deal_id, record.data,
                        rules, plain, True, record.portal_id)
    if not raw.strip():
        return None
    if raw.count(b"{") + raw.count(b"[") > MAX_DEPTH and _depth(raw) > MAX_DEPTH:
        return Invalid(line_no, (f"nested deeper than {MAX_DEPTH} levels",), _kept(raw))
    return _read_untyped(line_no, raw, rules)


def _read_untyped(line_no: int, raw: bytes, rules: Rules) -> Snapshot | Ignored | Invalid:
    """A line the typed decoder refused (valid UTF-8): every reason it is invalid."""
    try:
        item = _decode_any(raw)
    except RecursionError:
        return Invalid(line_no, (f"nested deeper than {MAX_DEPTH} levels",), _kept(raw))
    except msgspec.DecodeError as exc:
        message = str(exc)
        if "surrogate" in message or ("truncated" in message and _LONE_SURROGATE.search(raw)):
            message = "a lone UTF-16 surrogate escape"
        return Invalid(line_no, (f"not JSON ({message})",), _kept(raw))
    except (msgspec.MsgspecError, ValueError) as exc:  # a number beyond any float: 1e400
        return Invalid(line_no, (f"not JSON ({exc})",), _kept(raw))
    if not isinstance(item, dict):
        return Invalid(line_no, ("not a JSON object",), _kept(raw))
    event = item.get("event")
    if not isinstance(event, str) or not event:
        return Invalid(line_no, ("'event' is missing",), _kept(raw))
    if event not in rules.triggers:
        return Ignored(line_no, event[:MAX_EVENT_KEPT])
    return _checked(line_no, raw, event, item.get("occurred_at"), item.get("accord_id"), item.get("deal_id"),
                    item.get("data"), rules, False, False, item.get("portal_id"))


def check_portal_id(value: object) -> tuple[int | None, str | None]:
    """A record's ``portal_id``: a positive whole number (JSON number or digit string) PostgreSQL's BIGINT holds."""
    text = value.strip() if type(value) is str else str(value) if type(value) is int else ""
    if _DEAL_ID.fullmatch(text) is None or int(text) >= 2**63:
        return None, f"'portal_id' must be a HubSpot portal id (a positive whole number), got {show(value)}"
    return int(text), None


def _depth(raw: bytes) -> int:
    """How deep the brackets of a JSON text nest, outside its strings (linear, no recursion)."""
    depth = deepest = 0
    for token in _BRACKETS.findall(raw):
        if token in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        elif token in (b"]", b"}"):
            depth -= 1
    return deepest


_BRACKETS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _checked(line_no: int, raw: bytes, event: str, occurred_at: object, accord_id: object, deal_id: object,
             data: object, rules: Rules, plain: bool, typed: bool, portal_id: object = None) -> Snapshot | Invalid:
    """The checks of a trigger event's record, the same whichever decoder read it (``typed``: msgspec's)."""
    reasons: list[str] = []
    if portal_id is not None:
        portal_id, reason = check_portal_id(portal_id)
        if reason is None and rules.portal_id is not None and portal_id != rules.portal_id:
            reason = f"'portal_id' {portal_id} is not this store's portal ({rules.portal_id}): a SQLite store holds one"
        if reason is not None:
            reasons.append(reason)
    accord_id, reason = check_accord_id(accord_id, plain)
    if reason is not None:
        reasons.append(reason)
    if deal_id is None or deal_id == "":
        reasons.append("the deal id is missing")
        deal_id = None
    else:
        if type(deal_id) is str:
            text = deal_id.strip()
        elif type(deal_id) is int:
            text = str(deal_id) if 0 < deal_id < LIMIT else ""
        else:
            text = ""
        if _DEAL_ID.fullmatch(text) is None:
            reasons.append(f"'deal_id' must be a HubSpot record id (digits, no leading zero), got {show(deal_id)}")
            deal_id = None
        else:
            deal_id = text
    try:
        at = parse_instant(occurred_at)
    except ValueError as exc:
        reasons.append(f"'occurred_at' must be an ISO 8601 time with a zone ({exc})")
        at = None
    values: dict[str, str] = {}
    if type(data) is not dict:
        reasons.append("'data' must be an object")
    else:
        for accord_field, prop, kind, limit, memo in rules.fields:
            value = data.get(accord_field, _ABSENT)
            if value is _ABSENT:
                continue
            if typed:
                text = memo.get(value)
                if text is not None:
                    values[prop] = text
                    continue
            text, reason = check_value(accord_field, prop, kind, limit, value, plain)
            if reason is not None:
                reasons.append(reason)
                continue
            values[prop] = text
            if typed:
                if len(memo) >= _MEMO_KEPT:
                    memo.clear()
                memo[value] = text
    if reasons:
        return Invalid(line_no, tuple(reasons), _kept(raw), accord_id, deal_id, at)
    return Snapshot(line_no, event, at, accord_id, deal_id, values, portal_id)
