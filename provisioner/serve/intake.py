"""Reading an intake body into records: one JSON object, a JSON array of objects, or JSON lines.

Pure. Each record is run through the sync's own ``parse_line`` (the same checks as ``sync push``)
and given a dedup key: its ``id`` (or ``event_id``) when it carries one, else a hash of the
record's canonical JSON, so a record redelivered inside another batch is still recognised.
A body that is not JSON at all is refused as a whole (``BodyError``: HTTP 400); a bad record
inside a good body is only that record's problem.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from provisioner.sync.events import Ignored, Invalid, Rules, Snapshot, parse_line

MAX_RECORDS = 10_000  # per request; the body limit keeps it far lower in practice


class BodyError(Exception):
    """The body as a whole is not one of the accepted shapes."""


@dataclass(frozen=True)
class Record:
    index: int
    key: str  # dedup key
    parsed: Snapshot | Ignored | Invalid


def _lines(text: str) -> list[str]:
    stripped = text.strip()
    if not stripped:
        raise BodyError("the body is empty")
    if stripped[0] == "[":
        try:
            items = json.loads(stripped)
        except ValueError as exc:
            raise BodyError(f"the body is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
        except RecursionError:
            raise BodyError("the body is not JSON we read (nested too deeply)") from None
        if not isinstance(items, list):
            raise BodyError("the body is not a JSON object, array or JSON lines")
        return [json.dumps(item, separators=(",", ":"), ensure_ascii=False) for item in items]
    if stripped[0] != "{":
        raise BodyError("the body is not JSON (it must be an object, an array, or JSON lines)")
    try:
        json.loads(stripped)
        return [stripped]
    except (ValueError, RecursionError):
        pass
    lines = [line for line in stripped.splitlines() if line.strip()]
    try:
        json.loads(lines[0])
    except ValueError as exc:
        raise BodyError(f"the body is not JSON ({exc.msg} at line 1 column {exc.colno})") from None
    except RecursionError:
        raise BodyError("the body is not JSON we read (nested too deeply)") from None
    return lines


def record_key(item: object, line: str) -> str:
    """The dedup key of one record: its own id when it has one, else a hash of its text.

    A sender's redelivery repeats a record byte for byte; array items are re-serialised in one
    compact form first, so spacing inside an array does not matter either.
    """
    if isinstance(item, dict):
        own = item.get("id", item.get("event_id"))
        if isinstance(own, str | int) and not isinstance(own, bool) and str(own).strip():
            return "r:" + str(own).strip()[:200]
    return "h:" + hashlib.sha256(line.strip().encode("utf-8", "replace")).hexdigest()


def read_body(body: bytes, rules: Rules, *, portal_id: int | None = None) -> list[Record]:
    """The records of an intake body, each parsed and keyed; ``portal_id`` is the portal served here."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(f"the body is not UTF-8 (byte {exc.start})") from None
    lines = _lines(text)
    if len(lines) > MAX_RECORDS:
        raise BodyError(f"the body holds {len(lines)} records, more than {MAX_RECORDS}")
    records = []
    for index, line in enumerate(lines):
        try:
            parsed = parse_line(index + 1, line, rules)
            if parsed is None:
                continue
            try:
                item = json.loads(line)
            except ValueError:
                item = None
        except RecursionError:
            records.append(Record(index, f"h:deep:{index}", Invalid(index + 1, ("nested too deeply",), line[:1000])))
            continue
        if portal_id is not None and type(parsed) is not Invalid and isinstance(item, dict):
            other = parsed.portal_id if type(parsed) is Snapshot else item.get("portal_id")
            if other is not None and str(other).strip() != str(portal_id):
                parsed = Invalid(index + 1, (f"'portal_id' {other} is not the portal served here ({portal_id})",),
                                 line)
            elif type(parsed) is Snapshot:
                parsed.portal_id = portal_id  # the portal the path (or the service) names
        records.append(Record(index, record_key(item, line), parsed))
    return records
