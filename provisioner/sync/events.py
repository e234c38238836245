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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import urlsplit

import msgspec

from provisioner.model import Config
from provisioner.numbers import MAX_EXPONENT, normalise_number
from provisioner.sync.instant import format_instant, parse_instant
from provisioner.sync.source import MAX_LINE_BYTES, LongLine

__all__ = ["format_instant", "normalise_number", "parse_instant"]  # re-exported for the sync's modules

STATUSES = ("Not Started", "On Track", "At Risk", "Stalled")
COUNT_FIELDS = ("CUSTOMER_INVITED_COUNT", "CUSTOMER_ACCEPTED_COUNT")
# Limits (docs/sync.md, Input); the line limit, MAX_LINE_BYTES, is the reader's (``source``).
MAX_DEPTH = 16  # JSON nesting; an event is two levels deep
RAW_KEPT = 2048  # characters of an invalid line kept for its dead letter
MAX_ID_LENGTH = 256  # characters of an accord id
TEXT_LIMIT = 65_536  # HubSpot's limit for a text value, when no MAX_LENGTH rule is stricter
MAX_EVENT_KEPT = 100  # characters of an ignored event's name kept for the report

_DEAL_ID = re.compile(r"[1-9][0-9]{0,19}")
# A URL that urlsplit reads as http(s) with a host and that holds no blank: the common case,
# accepted without splitting it; anything else goes through urlsplit.
_PLAIN_URL = re.compile(r"https?://[A-Za-z0-9.:@_~!$&'()*+,;=%-]+(?:[/?#][!-~]*)?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_LONE_SURROGATE = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])|(?<![0-9a-fA-F]{2})\\u[dD][c-fC-F]")
_LIMIT = 10 ** (MAX_EXPONENT + 1)
_SMALL = tuple(str(n) for n in range(1001))  # the texts of the common counts and scores, made once

# How a field's value is checked (decided once per field, see ``Rules.fields``).
_COUNT, _PROGRESS, _NUMBER, _TEXT, _STATUS, _URL = range(6)


class _Record(msgspec.Struct):
    """The common event record, typed: anything else is read untyped and checked key by key."""

    event: str
    occurred_at: str
    accord_id: str | int
    deal_id: str | int
    data: dict[str, str | int | float | None]


_decode_record = msgspec.json.Decoder(_Record).decode
_decode_any = msgspec.json.Decoder().decode


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
    def fields(self) -> tuple[tuple[str, str, int, int], ...]:
        """Per mapped field, decided once: (Accord field, property, how it is checked, length limit)."""
        return tuple(
            (accord_field, prop, _kind(accord_field, prop, self.number_properties),
             min(self.max_length.get(prop, TEXT_LIMIT), TEXT_LIMIT))
            for accord_field, prop in self.mapping.items()
        )


def _kind(accord_field: str, prop: str, number_properties: frozenset[str]) -> int:
    if accord_field in COUNT_FIELDS:
        return _COUNT
    if accord_field == "PROGRESS":
        return _PROGRESS
    if accord_field == "EXECUTION_SCORE" or prop in number_properties:
        return _NUMBER
    if accord_field == "STATUS":
        return _STATUS
    if accord_field == "URL":
        return _URL
    return _TEXT


def _show(value: object) -> str:
    """A value for a reason, bounded: long texts cut, containers named, never a deep repr."""
    if isinstance(value, str):
        return repr(value) if len(value) <= 80 else repr(value[:80]) + "…"
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if type(value) is int:
        return str(value) if -_LIMIT < value < _LIMIT else f"a number of about {len(str(abs(value)))} digits"
    if type(value) is float:
        return repr(value)
    return "an object" if isinstance(value, dict) else "an array" if isinstance(value, list) else type(value).__name__


def _check(accord_field: str, prop: str, kind: int, limit: int, value: object, plain: bool) -> tuple[str | None, str | None]:
    """(the value as HubSpot stores it, None) or (None, the reason it is refused)."""
    if value is None:
        return "", None
    kind_of = type(value)
    if kind == _COUNT and kind_of is int and 0 <= value < _LIMIT:
        return (_SMALL[value] if value <= 1000 else str(value)), None
    if kind == _PROGRESS and kind_of is int and 0 <= value <= 100:
        return _SMALL[value], None
    if kind == _COUNT or kind == _PROGRESS:
        if kind_of is not int and kind_of is not float and kind_of is not str:
            return None, f"{accord_field} must be a number, got {_show(value)}"
        try:
            text = normalise_number(value)
        except ValueError as exc:
            return None, f"{accord_field} must be a number, got {_show(value)} ({exc})"
        if kind == _COUNT:
            if "." in text or text.startswith("-"):
                return None, f"{accord_field} must be a whole number >= 0, got {_show(value)}"
        elif text.startswith("-") or (len(text.partition(".")[0]) > 2 and text != "100"):
            return None, f"PROGRESS must be from 0 to 100, got {_show(value)}"
        return text, None
    if kind == _NUMBER:
        if kind_of is int and 0 <= value <= 1000:
            return _SMALL[value], None
        if kind_of in (int, float, str):
            try:
                return normalise_number(value), None
            except ValueError as exc:
                return None, f"{accord_field} must be a number, got {_show(value)} ({exc})"
        return None, f"{accord_field} must be a number, got {_show(value)}"
    if kind_of is str:
        text = value.strip()
        if not plain and _CONTROL.search(text) is not None:
            where = _CONTROL.search(text)
            return None, f"{accord_field} holds a control character (U+{ord(where.group()):04X} at {where.start() + 1})"
    elif kind_of is int or kind_of is float:
        try:
            text = normalise_number(value)
        except ValueError as exc:
            return None, f"{accord_field} must be a string, got {_show(value)} ({exc})"
    else:
        return None, f"{accord_field} must be a string, got {_show(value)}"
    if kind == _STATUS:
        if text not in STATUSES:
            return None, f"STATUS must be one of {', '.join(STATUSES)}, got {_show(value)}"
        return text, None
    if len(text) > limit:
        return None, f"{accord_field} is {len(text)} characters, over the limit of {limit} of {prop}"
    if kind == _URL and text and _PLAIN_URL.fullmatch(text) is None:
        try:
            parts = urlsplit(text)
            ok = parts.scheme in ("http", "https") and bool(parts.netloc) and " " not in text
        except ValueError:  # an unclosed [ in the host, a bad port: urlsplit refuses them
            ok = False
        if not ok:
            return None, f"URL must be an http(s) URL, got {_show(text)}"
    return text, None


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
        record = _decode_record(raw)
    except (msgspec.MsgspecError, ValueError, RecursionError):
        record = None
    if record is not None and record.event:
        event = record.event
        if event not in rules.triggers:
            return Ignored(line_no, event[:MAX_EVENT_KEPT])
        return _checked(line_no, raw, event, record.occurred_at, record.accord_id, record.deal_id, record.data,
                        rules, plain)
    if not raw.strip():
        return None
    return _read_untyped(line_no, raw, rules)


def _read_untyped(line_no: int, raw: bytes, rules: Rules) -> Snapshot | Ignored | Invalid:
    """A line the typed decoder refused (valid UTF-8): every reason it is invalid."""
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and _depth(raw) > MAX_DEPTH:
        return Invalid(line_no, (f"nested deeper than {MAX_DEPTH} levels",), _kept(raw))
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
                    item.get("data"), rules, False)


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


def _accord_id(value: object, plain: bool) -> tuple[str | None, str | None]:
    if type(value) is int and -_LIMIT < value < _LIMIT:
        return str(value), None
    if type(value) is not str:
        return None, "'accord_id' is missing" if value is None else f"'accord_id' must be a string, got {_show(value)}"
    text = value.strip()
    if not text:
        return None, "'accord_id' is missing"
    if len(text) > MAX_ID_LENGTH:
        return None, f"'accord_id' is {len(text)} characters, over the limit of {MAX_ID_LENGTH}"
    if not plain and _CONTROL.search(text) is not None:
        return None, "'accord_id' holds a control character"
    return text, None


def _checked(line_no: int, raw: bytes, event: str, occurred_at: object, accord_id: object, deal_id: object,
             data: object, rules: Rules, plain: bool) -> Snapshot | Invalid:
    """The checks of a trigger event's record, the same whichever decoder read it."""
    reasons: list[str] = []
    accord_id, reason = _accord_id(accord_id, plain)
    if reason is not None:
        reasons.append(reason)
    if deal_id is None or deal_id == "":
        reasons.append("the deal id is missing")
        deal_id = None
    else:
        if type(deal_id) is str:
            text = deal_id.strip()
        elif type(deal_id) is int:
            text = str(deal_id) if 0 < deal_id < _LIMIT else ""
        else:
            text = ""
        if _DEAL_ID.fullmatch(text) is None:
            reasons.append(f"'deal_id' must be a HubSpot record id (digits, no leading zero), got {_show(deal_id)}")
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
        for accord_field, prop, kind, limit in rules.fields:
            if accord_field in data:
                value, reason = _check(accord_field, prop, kind, limit, data[accord_field], plain)
                if reason is None:
                    values[prop] = value
                else:
                    reasons.append(reason)
    if reasons:
        return Invalid(line_no, tuple(reasons), _kept(raw), accord_id, deal_id, at)
    return Snapshot(line_no, event, at, accord_id, deal_id, values)


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
