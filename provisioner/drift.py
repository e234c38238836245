"""Drift: what differs between the file and the portal, for the nightly check. Pure, no I/O.

A drift report is the plan read the other way round: each planned change is something in the
portal that no longer matches the file, named with the declared and the live value. Manual steps
(view-only access, the sidebar) cannot be read from any HubSpot API; they are listed apart with
when they were last confirmed and never count as drift. The renderers are ``render.drift``'s.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from provisioner.changes import (
    CHANGED as CHANGED_OPTION,
)
from provisioner.changes import (
    GROUP,
    PROPERTY,
    RULE,
    ArchiveProperty,
    Change,
    ChangeRule,
    CreateGroup,
    CreateProperty,
    RestoreProperty,
    RetypeProperty,
    SetRule,
    UpdateGroup,
    UpdateProperty,
)
from provisioner.config import DEFAULT_CONFIG_FILE
from provisioner.plan import Plan

FORMAT_VERSION = 1

# What happened in the portal, per kind of planned change.
CHANGED = "changed"  # a field differs
MISSING = "missing"  # not in the portal at all
ARCHIVED = "archived"  # in HubSpot's recycle bin
STILL_ACTIVE = "still_active"  # a tombstone that is still an active property

ABSENT = "(absent)"
STATE_TEXT = {
    CHANGED: "changed in HubSpot",
    MISSING: "missing from HubSpot",
    ARCHIVED: "archived in HubSpot (recycle bin, values kept)",
    STILL_ACTIVE: "still active (the file archives it)",
}
# The declared fields named for an object missing from the portal: enough to recognise it.
MISSING_SHOWN = {GROUP: ("label",), PROPERTY: ("label", "type", "group_name"), RULE: ("arguments",)}


@dataclass(frozen=True)
class FieldDrift:
    field: str
    declared: Any
    live: Any


@dataclass(frozen=True)
class DriftItem:
    kind: str  # group, property, rule
    key: str
    state: str
    summary: str  # one sentence an on-call engineer reads first
    fields: tuple[FieldDrift, ...] = ()
    risky: bool = False  # restoring it changes a property's type

    @property
    def address(self) -> str:
        return f"{self.kind} {self.key}"


@dataclass(frozen=True)
class ManualCheck:
    """A declared setting no API can read: listed apart, never drift."""

    id: str
    title: str
    declared: dict[str, Any]
    confirmed_at: str | None = None
    confirmed_by: str | None = None

    @property
    def status(self) -> str:
        if self.confirmed_at is None:
            return "never confirmed"
        return f"last confirmed {self.confirmed_at} by {self.confirmed_by or 'unknown'}"


@dataclass(frozen=True)
class ValueDrift:
    """A deal value that differs from what the sync last wrote (someone edited it by hand)."""

    deal_id: str
    property: str
    synced: str  # what the sync wrote and HubSpot confirmed
    live: str | None


@dataclass(frozen=True)
class ValuesChecked:
    """The outcome of `drift --values`: the synced deals read back."""

    deals_checked: int
    edited: tuple[ValueDrift, ...] = ()
    missing_deals: tuple[str, ...] = ()


MAX_VALUES_SHOWN = 50


@dataclass(frozen=True)
class DriftReport:
    portal_id: int
    config_path: str
    config_digest: str
    environment: str | None = None
    checked_at: str = ""
    items: tuple[DriftItem, ...] = ()
    manual_checks: tuple[ManualCheck, ...] = ()
    notes: tuple[str, ...] = ()
    fix_restore: str = ""
    fix_accept: str = ""
    values: ValuesChecked | None = None  # only with `drift --values`
    format_version: int = field(default=FORMAT_VERSION)

    @property
    def has_value_drift(self) -> bool:
        return self.values is not None and bool(self.values.edited or self.values.missing_deals)

    @property
    def has_drift(self) -> bool:
        return bool(self.items) or self.has_value_drift

    def headline(self) -> str:
        where = f"portal {self.portal_id}" + (f" ({self.environment})" if self.environment else "")
        if not self.has_drift:
            return f"No drift: HubSpot {where} matches {self.config_path}"
        parts = []
        if self.items:
            verb = "differs" if len(self.items) == 1 else "differ"
            parts.append(f"{_count(len(self.items), 'object')} {verb} from {self.config_path}")
        if self.has_value_drift:
            values = self.values
            edited = f"{_count(len(values.edited), 'deal value')} edited by hand"
            parts.append(edited + (f", {_count(len(values.missing_deals), 'deal')} gone"
                                   if values.missing_deals else ""))
        return f"Drift in HubSpot {where}: " + "; ".join(parts)


VALUES_FIX = "provisioner sync verify --repair"


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def fix_commands(config_path: str, environment: str | None) -> tuple[str, str]:
    """The two ways out: make the portal match the file again, or take the portal's state into the file."""
    args = []
    if config_path != DEFAULT_CONFIG_FILE:
        args += ["-f", config_path]
    if environment:
        args += ["--env", environment]
    tail = (" " + shlex.join(args)) if args else ""
    restore = f"provisioner plan{tail} && provisioner apply{tail}"
    accept = f"provisioner export{tail} -o {shlex.quote(config_path)} --force"
    return restore, accept


def _subject(change: Change) -> str:
    return {GROUP: "Group", PROPERTY: "Property"}.get(change.kind, "Validation rule")


def _field_drifts(change: Change) -> tuple[FieldDrift, ...]:
    """Declared against live for each changed field; an option per field that differs, keyed by value."""
    out: list[FieldDrift] = []
    for name in change.fields:
        if name != "options":
            out.append(FieldDrift(name, change.after[name], change.before.get(name)))
            continue
        for option in change.options:
            where = f"options[{option.value}]"
            if option.change == CHANGED_OPTION:
                out += [FieldDrift(f"{where}.{f}", option.after[f], option.before[f]) for f in option.fields]
            else:  # added: declared, absent from the portal; removed: in the portal, not declared
                out.append(FieldDrift(where, option.after, option.before))
    return tuple(out)


def _changed(change: Change, subject: str) -> DriftItem:
    fields = _field_drifts(change)
    summary = f"{subject} was changed in HubSpot ({', '.join(change.fields)})"
    if change.risky:
        summary += " (its type changed: restoring it converts or clears existing values)"
    return DriftItem(change.kind, change.key, CHANGED, summary, fields, change.risky)


def _archived(change: Change, subject: str) -> DriftItem:
    fields = (FieldDrift("state", "active", "archived"),) + _field_drifts(change)
    summary = f"{subject} was archived in HubSpot (it is in the recycle bin with its values)"
    return DriftItem(change.kind, change.key, ARCHIVED, summary, fields)


def _missing(change: Change, subject: str) -> DriftItem:
    summary = f"{subject} is missing from HubSpot"
    if isinstance(change, SetRule):
        summary += " (the rule was removed or never set)"
    fields = tuple(FieldDrift(k, change.after[k], None) for k in MISSING_SHOWN[change.kind] if k in change.after)
    return DriftItem(change.kind, change.key, MISSING, summary, fields)


def _still_active(change: Change, subject: str) -> DriftItem:
    summary = f"{subject} is listed under tombstones but is still active in HubSpot"
    return DriftItem(change.kind, change.key, STILL_ACTIVE, summary, (FieldDrift("state", "archived", "active"),))


# A planned change read the other way round: what happened in the portal.
ITEMS = {CreateGroup: _missing, UpdateGroup: _changed, CreateProperty: _missing, RestoreProperty: _archived,
         UpdateProperty: _changed, RetypeProperty: _changed, SetRule: _missing, ChangeRule: _changed,
         ArchiveProperty: _still_active}


def _item(change: Change) -> DriftItem:
    return ITEMS[type(change)](change, f"{_subject(change)} '{change.key}'")


def drift_report(plan: Plan, *, checked_at: str | None = None, values: ValuesChecked | None = None) -> DriftReport:
    """The drift between the file and the portal a plan was made against (and, given, the deal values)."""
    restore, accept = fix_commands(plan.config_path, plan.environment)
    return DriftReport(
        portal_id=plan.portal_id,
        config_path=plan.config_path,
        config_digest=plan.config_digest,
        environment=plan.environment,
        checked_at=checked_at if checked_at is not None else plan.created_at,
        items=tuple(_item(change) for change in plan.changes),
        manual_checks=tuple(
            ManualCheck(s.id, s.title, dict(s.desired), s.confirmed_at, s.confirmed_by) for s in plan.manual_steps
        ),
        notes=plan.notes,
        fix_restore=restore,
        fix_accept=accept,
        values=values,
    )
