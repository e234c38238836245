"""Saved plans: the JSON plan written by ``plan --out`` and read back by ``apply PLANFILE``.

``plan_to_dict`` is the JSON plan (the README documents its shape; ``format_version`` versions
it). ``load_plan`` reads at most ``MAX_PLAN_BYTES`` and checks every member's type before a
``Plan`` is built, so a damaged, truncated or hand-edited file is one ``PlanFileError`` line naming
the file and the member, never a traceback. What the file says is not trusted further: apply
refuses a saved plan whose changes differ from the plan the file and the portal give now.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from provisioner.changes import (
    ARCHIVE,
    CREATE,
    GROUP,
    PROPERTY,
    RESTORE,
    RULE,
    SET_RULE,
    UPDATE,
    ArchiveProperty,
    Change,
    ChangeRule,
    CreateGroup,
    CreateProperty,
    OptionChange,
    RestoreProperty,
    RetypeProperty,
    SetRule,
    UpdateGroup,
    UpdateProperty,
)
from provisioner.errors import PlanFileError, UsageError
from provisioner.files import write_atomic
from provisioner.plan import FORMAT_VERSION, ManualStep, Plan

# A plan of 10,000 properties is about 10 MB; anything bigger is not a plan this tool wrote. json.loads
# needs up to ~20 bytes per byte of input for lists of small numbers: at most some 300 MB here.
MAX_PLAN_BYTES = 16 * 1024 * 1024

_TYPES = {
    (GROUP, CREATE): CreateGroup,
    (GROUP, UPDATE): UpdateGroup,
    (PROPERTY, CREATE): CreateProperty,
    (PROPERTY, RESTORE): RestoreProperty,
    (PROPERTY, ARCHIVE): ArchiveProperty,
}
# Which of before/after each change type carries (None: must be null).
_HAS = {CreateGroup: (False, True), UpdateGroup: (True, True), CreateProperty: (False, True),
        RestoreProperty: (True, True), UpdateProperty: (True, True), RetypeProperty: (True, True),
        SetRule: (False, True), ChangeRule: (True, True), ArchiveProperty: (True, False)}


# ---- writing -----------------------------------------------------------------------------------
def change_to_dict(change: Change) -> dict[str, Any]:
    return {
        "action": change.action,
        "kind": change.kind,
        "key": change.key,
        "before": _plain(change.before),
        "after": _plain(change.after),
        "fields": list(change.fields),
        "risky": change.risky,
        "note": change.note,
        "options": [{"value": o.value, "change": o.change, "fields": list(o.fields), "before": _plain(o.before),
                     "after": _plain(o.after)} for o in change.options],
    }


def step_to_dict(step: ManualStep) -> dict[str, Any]:
    return {"id": step.id, "title": step.title, "instructions": list(step.instructions),
            "desired": _plain(step.desired), "digest": step.digest, "confirmed_at": step.confirmed_at,
            "confirmed_by": step.confirmed_by}


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The JSON plan: what ``--format json`` prints and ``--out`` saves."""
    return {
        "format_version": plan.format_version,
        "summary": {
            "create": plan.count(CREATE),
            "restore": plan.count(RESTORE),
            "update": plan.count(UPDATE),
            "set_rule": plan.count(SET_RULE),
            "archive": plan.count(ARCHIVE),
            "manual_pending": len(plan.pending_steps),
            "has_changes": plan.has_changes,
        },
        "portal_id": plan.portal_id,
        "environment": plan.environment,
        "config_path": plan.config_path,
        "config_digest": plan.config_digest,
        "api_version": plan.api_version,
        "created_at": plan.created_at,
        "changes": [change_to_dict(change) for change in plan.changes],
        "manual_steps": [step_to_dict(step) for step in plan.manual_steps],
        "notes": list(plan.notes),
        "fingerprints": dict(sorted(plan.fingerprints.items())),
    }


def save_plan(plan: Plan, path: str | os.PathLike) -> None:
    """Write the plan as JSON, atomically. It holds no token, only what the plan shows."""
    path = Path(path)
    text = json.dumps(plan_to_dict(plan), indent=2, ensure_ascii=False) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text)
    except OSError as exc:
        raise UsageError(f"cannot write the plan to {path}: {exc.strerror or exc}") from None


# ---- reading -----------------------------------------------------------------------------------
class _Bad(Exception):
    """A member of the plan file that is not what this provisioner writes."""


def _get(data: Mapping[str, Any], name: str, kinds: tuple[type, ...], where: str, *, optional: bool = False) -> Any:
    if name not in data:
        if optional:
            return None
        raise _Bad(f"{where}{name}: missing")
    value = data[name]
    if value is None and optional:
        return None
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        names = " or ".join(_TYPE_NAMES[kind] for kind in kinds)
        raise _Bad(f"{where}{name}: expected {names}, found {_TYPE_NAMES.get(type(value), type(value).__name__)}")
    return value


_TYPE_NAMES = {str: "a string", int: "an integer", bool: "true or false", dict: "an object", list: "a list",
               float: "a number", type(None): "null"}


def _strings(data: Mapping[str, Any], name: str, where: str) -> tuple[str, ...]:
    items = _get(data, name, (list,), where, optional=True) or []
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise _Bad(f"{where}{name}[{index}]: expected a string")
    return tuple(items)


def _change(data: Any, where: str) -> Change:
    if not isinstance(data, dict):
        raise _Bad(f"{where}: expected an object")
    where += "."
    kind, action = _get(data, "kind", (str,), where), _get(data, "action", (str,), where)
    key = _get(data, "key", (str,), where)
    before = _get(data, "before", (dict,), where, optional=True)
    after = _get(data, "after", (dict,), where, optional=True)
    risky = bool(_get(data, "risky", (bool,), where, optional=True))
    if (kind, action) == (RULE, SET_RULE):
        cls: type[Change] = SetRule if before is None else ChangeRule
    elif (kind, action) == (PROPERTY, UPDATE):
        cls = RetypeProperty if risky else UpdateProperty
    elif (kind, action) in _TYPES:
        cls = _TYPES[(kind, action)]
    else:
        raise _Bad(f"{where}action: no change '{action}' of a {kind!r}")
    if cls.risky != risky:
        raise _Bad(f"{where}risky: a {kind} {action} cannot be {'risky' if risky else 'safe'}")
    has_before, has_after = _HAS[cls]
    for name, value, wanted in (("before", before, has_before), ("after", after, has_after)):
        if (value is not None) != wanted:
            raise _Bad(f"{where}{name}: " + ("expected an object" if wanted else "expected null"))
    if not key:
        raise _Bad(f"{where}key: empty")
    note = _get(data, "note", (str,), where, optional=True) or ""
    return cls(key=key, before=before, after=after, fields=_strings(data, "fields", where), note=note,
               options=_option_changes(data, where))


def _option_changes(data: Mapping[str, Any], where: str) -> tuple[OptionChange, ...]:
    items = _get(data, "options", (list,), where, optional=True) or []
    out = []
    for index, item in enumerate(items):
        at = f"{where}options[{index}]"
        if not isinstance(item, dict):
            raise _Bad(f"{at}: expected an object")
        at += "."
        out.append(OptionChange(
            value=_get(item, "value", (str,), at), change=_get(item, "change", (str,), at),
            before=_get(item, "before", (dict,), at, optional=True),
            after=_get(item, "after", (dict,), at, optional=True), fields=_strings(item, "fields", at)))
    return tuple(out)


def _step(data: Any, where: str) -> ManualStep:
    if not isinstance(data, dict):
        raise _Bad(f"{where}: expected an object")
    where += "."
    return ManualStep(
        id=_get(data, "id", (str,), where),
        title=_get(data, "title", (str,), where),
        instructions=_strings(data, "instructions", where),
        desired=_get(data, "desired", (dict,), where),
        digest=_get(data, "digest", (str,), where),
        confirmed_at=_get(data, "confirmed_at", (str,), where, optional=True),
        confirmed_by=_get(data, "confirmed_by", (str,), where, optional=True),
    )


def plan_from_dict(data: Any) -> Plan:
    """A Plan from the JSON plan; raises _Bad naming the first member that is wrong."""
    if not isinstance(data, dict):
        raise _Bad("expected a JSON object")
    version = data.get("format_version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise _Bad(f"format_version {version!r}; this provisioner reads {FORMAT_VERSION} "
                   "(make the plan again with this version)")
    fingerprints = _get(data, "fingerprints", (dict,), "", optional=True) or {}
    for key, value in fingerprints.items():
        if not isinstance(value, str):
            raise _Bad(f"fingerprints[{key!r}]: expected a string")  # the key as written: it may hold a line break
    changes = _get(data, "changes", (list,), "", optional=True) or []
    steps = _get(data, "manual_steps", (list,), "", optional=True) or []
    return Plan(
        portal_id=_get(data, "portal_id", (int,), ""),
        config_path=_get(data, "config_path", (str,), ""),
        config_digest=_get(data, "config_digest", (str,), ""),
        api_version=_get(data, "api_version", (str,), ""),
        environment=_get(data, "environment", (str,), "", optional=True),
        changes=tuple(_change(item, f"changes[{index}]") for index, item in enumerate(changes)),
        manual_steps=tuple(_step(item, f"manual_steps[{index}]") for index, item in enumerate(steps)),
        notes=_strings(data, "notes", ""),
        fingerprints=dict(fingerprints),
        created_at=_get(data, "created_at", (str,), "", optional=True) or "",
    )


def read_plan_text(path: str | os.PathLike) -> str:
    """The file's text, at most MAX_PLAN_BYTES (a FIFO or /dev/zero is cut there, not read to the end)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_PLAN_BYTES + 1)
    except FileNotFoundError:
        raise PlanFileError(f"{path}: no such saved plan") from None
    except IsADirectoryError:
        raise PlanFileError(f"{path}: is a directory, not a saved plan") from None
    except OSError as exc:
        raise PlanFileError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if len(raw) > MAX_PLAN_BYTES:
        raise PlanFileError(f"{path}: larger than {MAX_PLAN_BYTES // (1024 * 1024)} MiB: not a saved plan")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanFileError(f"{path}: not UTF-8 at byte {exc.start}: not a saved plan") from None


def load_plan(path: str | os.PathLike) -> Plan:
    """The saved plan at ``path``, or one PlanFileError line saying where it is wrong."""
    text = read_plan_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanFileError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg})") from None
    except (ValueError, RecursionError) as exc:  # 4,300+ digit integers, nesting deeper than Python's stack
        raise PlanFileError(f"{path}: not a saved plan ({type(exc).__name__})") from None
    try:  # a \ud800 escape decodes to a lone surrogate, which no output can print
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise PlanFileError(f"{path}: not a saved plan: it holds a lone surrogate (a \\ud800-style escape)") from None
    try:
        return plan_from_dict(data)
    except _Bad as exc:
        raise PlanFileError(f"{path}: not a saved plan this provisioner can read: {exc}",
                            hint="make the plan again with `provisioner plan --out`") from None
