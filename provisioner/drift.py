"""Drift: what differs between the file and the portal, for the nightly check. Pure, no I/O.

A drift report is the plan read the other way round: each planned change is something in the
portal that no longer matches the file, named with the declared and the live value. Manual steps
(view-only access, the sidebar) cannot be read from any HubSpot API; they are listed apart with
when they were last confirmed and never count as drift.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import Any

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
from provisioner.render import _md, value_text

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

    def to_dict(self) -> dict[str, Any]:
        """The JSON report (versioned by format_version; documented in docs/pipelines.md)."""
        return {
            "format_version": self.format_version,
            "status": "drift" if self.has_drift else "no_drift",
            "headline": self.headline(),
            "portal_id": self.portal_id,
            "environment": self.environment,
            "config_path": self.config_path,
            "config_digest": self.config_digest,
            "checked_at": self.checked_at,
            "summary": {
                "drifted_objects": len(self.items),
                "drifted_fields": sum(len(item.fields) for item in self.items),
                "manual_checks": len(self.manual_checks),
                "manual_never_confirmed": sum(1 for c in self.manual_checks if c.confirmed_at is None),
            },
            "drift": [
                {
                    "kind": item.kind,
                    "key": item.key,
                    "state": item.state,
                    "summary": item.summary,
                    "risky": item.risky,
                    "fields": [{"field": f.field, "declared": f.declared, "live": f.live} for f in item.fields],
                }
                for item in self.items
            ],
            "manual_checks": [
                {"id": c.id, "title": c.title, "declared": c.declared, "confirmed_at": c.confirmed_at,
                 "confirmed_by": c.confirmed_by, "status": c.status}
                for c in self.manual_checks
            ],
            "notes": list(self.notes),
            "fix": {"restore": self.fix_restore, "accept": self.fix_accept} if self.items else None,
            "values": None if self.values is None else {
                "deals_checked": self.values.deals_checked,
                "edited": [{"deal_id": v.deal_id, "property": v.property, "synced": v.synced, "live": v.live}
                           for v in self.values.edited],
                "missing_deals": list(self.values.missing_deals),
                "fix": VALUES_FIX if self.has_value_drift else None,
            },
        }


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


def _changed(change: Change, subject: str) -> DriftItem:
    fields = tuple(FieldDrift(f, change.after[f], change.before[f]) for f in change.fields)
    summary = f"{subject} was changed in HubSpot ({', '.join(change.fields)})"
    if change.risky:
        summary += " (its type changed: restoring it converts or clears existing values)"
    return DriftItem(change.kind, change.key, CHANGED, summary, fields, change.risky)


def _archived(change: Change, subject: str) -> DriftItem:
    fields = (FieldDrift("state", "active", "archived"),) + tuple(
        FieldDrift(f, change.after[f], change.before.get(f)) for f in change.fields)
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


# ---- renderers ---------------------------------------------------------------------------------
def _shown(value: Any) -> str:
    return ABSENT if value is None else value_text(value)


def render_text(report: DriftReport) -> str:
    """For a terminal or a cron mail: headline, each drifted field, then what no API can check."""
    lines = [report.headline() + "."]
    if report.checked_at:
        lines.append(f"Checked at {report.checked_at}.")
    if report.items:
        lines.append("")
    for item in report.items:
        lines.append(f"  ! {item.summary}")
        for f in item.fields:
            lines.append(f"      {f.field}: file {_shown(f.declared)}, portal {_shown(f.live)}")
    if report.items:
        lines += ["", "To restore the file's state in the portal:", f"  {report.fix_restore}",
                  "To accept the portal's state into the file (then open a pull request):", f"  {report.fix_accept}"]
    if report.values is not None:
        lines += ["", _values_line(report.values)]
        for v in report.values.edited[:MAX_VALUES_SHOWN]:
            lines.append(f"  ! deal {v.deal_id}: {v.property}: synced {_shown(v.synced)}, portal {_shown(v.live)}")
        lines += _more(len(report.values.edited))
        lines += [f"  ! deal {deal} no longer exists in HubSpot" for deal in report.values.missing_deals]
        if report.has_value_drift:
            lines += ["To restore the synced values:", f"  {VALUES_FIX}"]
    if report.manual_checks:
        lines += ["", "Not checked (no HubSpot API can read these; never counted as drift):"]
        lines += [f"  - {c.id}: {c.title} ({c.status})" for c in report.manual_checks]
    if report.notes:
        lines += ["", "Notes:"] + [f"  - {note}" for note in report.notes]
    return "\n".join(lines) + "\n"


def _values_line(values: ValuesChecked) -> str:
    return (f"Deal values: {values.deals_checked} synced deal(s) read back, {len(values.edited)} value(s) "
            f"edited by hand, {len(values.missing_deals)} deal(s) gone.")


def _more(count: int) -> list[str]:
    hidden = count - MAX_VALUES_SHOWN
    return [f"  ... and {hidden} more (provisioner drift --values --format json lists them all)"] if hidden > 0 else []


def render_json(report: DriftReport) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"


def _code(value: Any) -> str:
    text = _shown(value)
    return "_absent_" if value is None else "`" + _md(text).replace("`", "'") + "`"


def render_markdown(report: DriftReport) -> str:
    """A GitHub issue body or chat message: headline, declared vs live, the exact fix, manual checks apart."""
    icon = ":warning:" if report.has_drift else ":white_check_mark:"
    lines = [f"### {icon} {report.headline()}", ""]
    meta = f"File `{report.config_path}` (`{report.config_digest[:12]}`)"
    if report.checked_at:
        meta += f", checked at {report.checked_at}"
    lines.append(meta + ".")
    if report.items:
        lines += ["", "| Object | What happened | Field | In the file | In HubSpot |", "|---|---|---|---|---|"]
        for item in report.items:
            first = True
            for f in item.fields or (FieldDrift("", None, None),):
                head = f"{item.kind} `{item.key}` | {STATE_TEXT[item.state]}" if first else " | "
                lines.append(f"| {head} | {f.field} | {_code(f.declared)} | {_code(f.live)} |")
                first = False
        lines += [
            "",
            "#### What to do",
            "",
            "If the change in HubSpot was a mistake, restore the file's state (review the plan first):",
            "",
            "```sh",
            report.fix_restore,
            "```",
            "",
            "If the change was intended, accept it into the file and open a pull request:",
            "",
            "```sh",
            report.fix_accept,
            "```",
        ]
        if any(item.risky for item in report.items):
            lines += ["", ":warning: A property's type changed: restoring it makes HubSpot convert or clear "
                          "existing values, and `apply` needs `--allow-type-change`."]
    if report.values is not None:
        lines += ["", "#### Deal values", "", _values_line(report.values)]
        if report.values.edited:
            lines += ["", "| Deal | Property | Synced | In HubSpot |", "|---|---|---|---|"]
            lines += [f"| `{v.deal_id}` | `{v.property}` | {_code(v.synced)} | {_code(v.live)} |"
                      for v in report.values.edited[:MAX_VALUES_SHOWN]]
            lines += _more(len(report.values.edited))
        if report.values.missing_deals:
            lines += ["", "Deals gone from HubSpot: " + ", ".join(f"`{d}`" for d in report.values.missing_deals)]
        if report.has_value_drift:
            lines += ["", "To restore the synced values:", "", "```sh", VALUES_FIX, "```"]
    if report.manual_checks:
        lines += ["", "#### Not checked: no HubSpot API can read these (never counted as drift)", ""]
        for c in report.manual_checks:
            mark = "x" if c.confirmed_at else " "
            lines.append(f"- [{mark}] `{c.id}`: {_md(c.title)} ({_md(c.status)})")
    if report.notes:
        lines += ["", "#### Notes", ""] + [f"- {_md(note)}" for note in report.notes]
    return "\n".join(lines) + "\n"


def render_error_json(message: str, hint: str | None, *, checked_at: str) -> str:
    """What an alert receives when the check itself failed: never mistaken for 'no drift'."""
    data = {"format_version": FORMAT_VERSION, "status": "error", "headline": f"Drift check failed: {message}",
            "error": message, "hint": hint, "checked_at": checked_at}
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def render_error_markdown(message: str, hint: str | None, *, checked_at: str) -> str:
    lines = [f"### :x: Drift check failed: {_md(message)}", "",
             f"Checked at {checked_at}. Nothing is known about drift until the check runs again."]
    if hint:
        lines += ["", f"Hint: {_md(hint)}"]
    return "\n".join(lines) + "\n"


RENDERERS = {"text": render_text, "json": render_json, "markdown": render_markdown}
