"""The Plan: one object that is rendered for people and machines and executed by apply.

A plan is made by ``diff`` and never changes afterwards. Every change carries the managed fields
``before`` and ``after`` as plain JSON values, so rendering, saving and applying need nothing else.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from provisioner.errors import StalePlanError
from provisioner.model import Group, Option, Property, ValidationRule

FORMAT_VERSION = 1

# Actions, in the order apply performs them.
CREATE = "create"
RESTORE = "restore"
UPDATE = "update"
SET_RULE = "set_rule"
ARCHIVE = "archive"

GROUP = "group"
PROPERTY = "property"
RULE = "rule"


@dataclass(frozen=True)
class Change:
    """One write apply will make. ``key`` is the natural key: a name, or 'property/RULE_TYPE'."""

    action: str
    kind: str
    key: str
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    fields: tuple[str, ...] = ()  # the fields an update changes
    risky: bool = False  # a type change: HubSpot converts or drops existing values
    note: str = ""

    @property
    def address(self) -> str:
        return f"{self.kind} {self.key}"


@dataclass(frozen=True)
class ManualStep:
    """Something declared in the file that no HubSpot API can set or read: a person does it."""

    id: str  # "access/accord_url", "sidebar"
    title: str
    instructions: tuple[str, ...]
    desired: Mapping[str, Any]
    digest: str
    confirmed_at: str | None = None
    confirmed_by: str | None = None

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed_at is not None


@dataclass(frozen=True)
class Plan:
    portal_id: int
    config_path: str
    config_digest: str
    api_version: str
    environment: str | None = None
    changes: tuple[Change, ...] = ()
    manual_steps: tuple[ManualStep, ...] = ()
    notes: tuple[str, ...] = ()
    # Live object key ("property/accord_url") -> fingerprint of what the plan was made against.
    fingerprints: Mapping[str, str] = field(default_factory=dict)
    created_at: str = ""
    format_version: int = FORMAT_VERSION

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    @property
    def pending_steps(self) -> tuple[ManualStep, ...]:
        return tuple(step for step in self.manual_steps if not step.is_confirmed)

    def count(self, action: str) -> int:
        return sum(1 for change in self.changes if change.action == action)

    def summary(self) -> str:
        new_rules = sum(1 for c in self.changes if c.action == SET_RULE and c.before is None)
        created = self.count(CREATE) + self.count(RESTORE) + new_rules
        changed = self.count(UPDATE) + self.count(SET_RULE) - new_rules
        text = f"{created} to create, {changed} to change, {self.count(ARCHIVE)} to archive"
        if self.pending_steps:
            text += f"; {len(self.pending_steps)} manual step(s) to do by hand"
        return text

    def to_dict(self) -> dict[str, Any]:
        """The JSON plan (its shape is documented in the README and versioned by format_version)."""
        data = asdict(self)
        data["fingerprints"] = dict(sorted(self.fingerprints.items()))
        data["summary"] = {
            "create": self.count(CREATE),
            "restore": self.count(RESTORE),
            "update": self.count(UPDATE),
            "set_rule": self.count(SET_RULE),
            "archive": self.count(ARCHIVE),
            "manual_pending": len(self.pending_steps),
            "has_changes": self.has_changes,
        }
        order = ["format_version", "summary", "portal_id", "environment", "config_path", "config_digest",
                 "api_version", "created_at", "changes", "manual_steps", "notes", "fingerprints"]
        return {key: data[key] for key in order}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        try:
            if data.get("format_version") != FORMAT_VERSION:
                raise StalePlanError(
                    f"saved plan has format_version {data.get('format_version')!r}; this provisioner "
                    f"reads {FORMAT_VERSION}",
                    hint="make the plan again with this version of provisioner",
                )
            return cls(
                portal_id=int(data["portal_id"]),
                config_path=str(data["config_path"]),
                config_digest=str(data["config_digest"]),
                api_version=str(data["api_version"]),
                environment=data.get("environment"),
                changes=tuple(
                    Change(**{**c, "fields": tuple(c.get("fields") or ())}) for c in data.get("changes") or []
                ),
                manual_steps=tuple(
                    ManualStep(**{**s, "instructions": tuple(s.get("instructions") or ())})
                    for s in data.get("manual_steps") or []
                ),
                notes=tuple(data.get("notes") or ()),
                fingerprints=dict(data.get("fingerprints") or {}),
                created_at=str(data.get("created_at") or ""),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StalePlanError(f"not a saved plan this provisioner can read ({exc})") from None


# ---- plain values for the model's objects (used in before/after and fingerprints) ----------------
def group_fields(group: Group) -> dict[str, Any]:
    return {"name": group.name, "label": group.label, "display_order": group.display_order}


def property_fields(prop: Property) -> dict[str, Any]:
    return {
        "name": prop.name,
        "label": prop.label,
        "description": prop.description,
        "type": prop.type,
        "field_type": prop.field_type,
        "group_name": prop.group_name,
        "display_order": prop.display_order,
        "options": [asdict(option) for option in prop.options],
    }


def rule_fields(rule: ValidationRule) -> dict[str, Any]:
    return {"property_name": rule.property_name, "rule_type": rule.rule_type, "arguments": list(rule.arguments)}


def group_from_fields(data: Mapping[str, Any]) -> Group:
    return Group(name=data["name"], label=data["label"], display_order=data.get("display_order"))


def property_from_fields(data: Mapping[str, Any]) -> Property:
    return Property(
        name=data["name"],
        label=data["label"],
        description=data.get("description") or "",
        type=data["type"],
        field_type=data["field_type"],
        group_name=data["group_name"],
        display_order=data.get("display_order"),
        options=tuple(Option(**option) for option in data.get("options") or ()),
    )


def rule_from_fields(data: Mapping[str, Any]) -> ValidationRule:
    return ValidationRule(data["property_name"], data["rule_type"], tuple(data.get("arguments") or ()))


# ---- which managed fields differ (diff, drift and apply's convergence share this) ----------------
GROUP_MANAGED = ("label", "display_order")
PROPERTY_MANAGED = ("label", "description", "type", "field_type", "group_name", "display_order", "options")


def changed_fields(desired: Mapping[str, Any], live: Mapping[str, Any], managed: Iterable[str]) -> tuple[str, ...]:
    """The managed fields whose declared value differs from the live one (undeclared ones never do)."""
    out = []
    for name in managed:
        if name == "display_order" and desired[name] is None:
            continue  # not declared: whatever the portal has is fine
        if name == "options" and not desired["options"] and desired["type"] != "enumeration":
            continue
        if desired[name] != live[name]:
            out.append(name)
    return tuple(out)


def fingerprint(value: Any) -> str:
    """A short stable hash of a JSON-able value ('absent' for None)."""
    if value is None:
        return "absent"
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
