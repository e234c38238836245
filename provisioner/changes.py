"""The plan's typed changes: one frozen class per kind of write apply makes.

Each change carries the managed fields ``before`` and ``after`` as plain JSON values, so rendering,
saving and applying never need to ask HubSpot again. A class says what the change is (no branch
ever tests ``before is None``); ``rank`` is its place in the one order the plan is sorted in once,
where it is made, and that apply walks as it is: groups, properties (create, restore, update),
rules, archives. ``changed_fields`` and ``diff_options`` are the field comparisons diff, drift and
apply's convergence share.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from deepdiff import DeepDiff
from deepdiff.helper import NotPresent

from provisioner.model import Group, Option, Property, ValidationRule

# Actions and kinds as the JSON plan names them.
CREATE = "create"
RESTORE = "restore"
UPDATE = "update"
SET_RULE = "set_rule"
ARCHIVE = "archive"

GROUP = "group"
PROPERTY = "property"
RULE = "rule"

# What a change counts as in the plan's summary line.
CREATES = "create"
CHANGES = "change"
ARCHIVES = "archive"

GROUP_MANAGED = ("label", "display_order")
PROPERTY_MANAGED = ("label", "description", "type", "field_type", "group_name", "display_order", "options")
# An option's fields, compared per option keyed by its value (HubSpot shows options by display order).
OPTION_FIELDS = ("label", "display_order", "hidden")

ADDED = "added"
REMOVED = "removed"
CHANGED = "changed"


@dataclass(frozen=True)
class OptionChange:
    """One enumeration option that differs: added, removed, or changed in the named fields."""

    value: str
    change: str  # added | removed | changed
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class Change:
    """One write apply will make. ``key`` is the natural key: a name, or 'property/RULE_TYPE'."""

    key: str
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    fields: tuple[str, ...] = ()  # the managed fields an update changes
    note: str = ""
    options: tuple[OptionChange, ...] = ()  # when "options" is among the fields: each option that differs

    kind: ClassVar[str]
    action: ClassVar[str]
    rank: ClassVar[int]
    counts_as: ClassVar[str]
    risky: ClassVar[bool] = False  # HubSpot converts or drops existing values

    @property
    def address(self) -> str:
        return f"{self.kind} {self.key}"


@dataclass(frozen=True)
class CreateGroup(Change):
    kind, action, rank, counts_as = GROUP, CREATE, 0, CREATES


@dataclass(frozen=True)
class UpdateGroup(Change):
    kind, action, rank, counts_as = GROUP, UPDATE, 1, CHANGES


@dataclass(frozen=True)
class CreateProperty(Change):
    kind, action, rank, counts_as = PROPERTY, CREATE, 2, CREATES


@dataclass(frozen=True)
class RestoreProperty(Change):
    """Re-created from HubSpot's recycle bin (with its values); ``before`` is the archived property."""

    kind, action, rank, counts_as = PROPERTY, RESTORE, 3, CREATES


@dataclass(frozen=True)
class UpdateProperty(Change):
    kind, action, rank, counts_as = PROPERTY, UPDATE, 4, CHANGES


@dataclass(frozen=True)
class RetypeProperty(UpdateProperty):
    """An update that changes the property's type: HubSpot converts or clears existing values."""

    risky = True


@dataclass(frozen=True)
class SetRule(Change):
    """A declared validation rule the portal does not have."""

    kind, action, rank, counts_as = RULE, SET_RULE, 5, CREATES


@dataclass(frozen=True)
class ChangeRule(Change):
    """A declared validation rule whose arguments differ in the portal."""

    kind, action, rank, counts_as = RULE, SET_RULE, 5, CHANGES


@dataclass(frozen=True)
class ArchiveProperty(Change):
    """A tombstone still active: it moves to HubSpot's recycle bin; ``before`` is the live property."""

    kind, action, rank, counts_as = PROPERTY, ARCHIVE, 6, ARCHIVES


def in_apply_order(changes: Iterable[Change]) -> tuple[Change, ...]:
    """The one order of a plan (stable: within a rank, the order given, which is by name)."""
    return tuple(sorted(changes, key=lambda change: change.rank))


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


# ---- comparisons ------------------------------------------------------------------------------------
def changed_fields(desired: Mapping[str, Any], live: Mapping[str, Any], managed: Iterable[str]) -> tuple[str, ...]:
    """The managed fields whose declared value differs from the live one (undeclared ones never do)."""
    out = []
    for name in managed:
        if name == "display_order" and desired[name] is None:
            continue  # not declared: whatever the portal has is fine
        if name == "options":
            if not desired["options"] and desired["type"] != "enumeration":
                continue
            if diff_options(live.get("options") or [], desired["options"]):
                out.append(name)
            continue
        if desired[name] != live.get(name):
            out.append(name)
    return tuple(out)


def _keyed(options: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(option["value"]): {name: option.get(name) for name in OPTION_FIELDS} for option in options}


def nested_differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[list[Any], Any, Any]]:
    """(path, old value, new value) for each difference DeepDiff finds between two mappings.

    A path starts with a top-level key: DeepDiff always goes down (threshold 0: never "replaced as a
    whole" because few keys are shared), and what it still reports at the root is split key by key.
    A value absent on one side is None.
    """
    out = []
    found = DeepDiff(old, new, view="tree", ignore_numeric_type_changes=True, threshold_to_diff_deeper=0)
    for levels in found.values():
        for level in levels:
            path = level.path(output_format="list")
            if path:
                out.append((path, _present(level.t1), _present(level.t2)))
                continue
            out += [([key], old.get(key), new.get(key)) for key in sorted(set(old) | set(new), key=str)
                    if old.get(key) != new.get(key)]
    return out


def _present(value: Any) -> Any:
    return None if isinstance(value, NotPresent) else value


def diff_options(before: Iterable[Mapping[str, Any]], after: Iterable[Mapping[str, Any]]) -> tuple[OptionChange, ...]:
    """Options keyed by value: removed ones, then changed and added ones in the order ``after`` lists them.

    DeepDiff compares the two keyed mappings; its paths (``['at_risk', 'label']``) become
    OptionChange records, so what the plan shows never depends on DeepDiff's own output format.
    """
    old, new = _keyed(before), _keyed(after)
    if old == new:  # the common case, and DeepDiff costs far more than an equality test
        return ()
    touched: dict[str, set[str]] = {}
    for path, _, _ in nested_differences(old, new):
        touched.setdefault(str(path[0]), set()).update(str(part) for part in path[1:2])
    out = [OptionChange(value, REMOVED, before=old[value]) for value in old if value in touched and value not in new]
    for value, fields in new.items():
        if value not in touched:
            continue
        if value not in old:
            out.append(OptionChange(value, ADDED, after=fields))
        else:
            differ = tuple(name for name in OPTION_FIELDS if name in touched[value])
            out.append(OptionChange(value, CHANGED, old[value], fields, differ))
    return tuple(out)
