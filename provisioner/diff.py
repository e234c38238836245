"""The pure diff: declared state against live state, one Plan. No I/O here.

Set algebra on natural keys (create, restore, archive a tombstone), a field comparison only where
both sides have the object (update). The changes are sorted once, here, into the order apply walks.
"""

from __future__ import annotations

from typing import Any

from provisioner.changes import (
    GROUP,
    GROUP_MANAGED,
    PROPERTY,
    PROPERTY_MANAGED,
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
    changed_fields,
    diff_options,
    group_fields,
    in_apply_order,
    property_fields,
    rule_fields,
)
from provisioner.model import Config, Group, LiveState, Property, SchemaState
from provisioner.plan import ManualStep, Plan, fingerprint


def _diff_groups(desired: SchemaState, live: SchemaState) -> list[Change]:
    changes = []
    for name, group in sorted(desired.groups.items()):
        after = group_fields(group)
        current = live.groups.get(name)
        if current is None:
            changes.append(CreateGroup(name, after=after))
            continue
        before = group_fields(current)
        changed = changed_fields(after, before, GROUP_MANAGED)
        if changed:
            changes.append(UpdateGroup(name, before, after, changed))
    return changes


def _diff_properties(config: Config, live: LiveState) -> tuple[list[Change], list[str]]:
    desired, state = config.desired, live.schema
    changes: list[Change] = []
    notes: list[str] = []
    for name, prop in sorted(desired.properties.items()):
        after = property_fields(prop)
        if name in live.hubspot_defined:
            notes.append(f"Property '{name}' is defined by HubSpot itself and cannot be managed: left alone.")
            continue
        current = state.properties.get(name)
        if current is not None:
            before = property_fields(current)
            changed = changed_fields(after, before, PROPERTY_MANAGED)
            if "type" in changed:
                note = f"type change {current.type} -> {prop.type}: HubSpot converts or clears existing values"
                changes.append(RetypeProperty(name, before, after, changed, note, _options(before, after, changed)))
            elif changed:
                changes.append(UpdateProperty(name, before, after, changed, options=_options(before, after, changed)))
            continue
        archived = state.archived_properties.get(name)
        if archived is not None:
            before = property_fields(archived)
            changed = changed_fields(after, before, PROPERTY_MANAGED)
            note = "restored from HubSpot's recycle bin with its values"
            changes.append(RestoreProperty(name, before, after, changed, note, _options(before, after, changed)))
            continue
        changes.append(CreateProperty(name, after=after, note=_rename_hint(prop, desired, state)))
    for name in sorted(config.tombstones):
        current = state.properties.get(name)
        if current is not None and name not in live.hubspot_defined:
            changes.append(ArchiveProperty(name, before=property_fields(current),
                                           note="moves to HubSpot's recycle bin; its values stay there"))
    managed_groups = set(desired.groups)
    declared = set(desired.properties) | set(config.tombstones)
    for name, prop in sorted(state.properties.items()):
        if prop.group_name in managed_groups and name not in declared and name not in live.hubspot_defined:
            notes.append(
                f"Property '{name}' is in group '{prop.group_name}' but not in the file: left alone "
                "(list it under tombstones to archive it)."
            )
    return changes, notes


def _options(before: dict[str, Any], after: dict[str, Any], changed: tuple[str, ...]) -> tuple[OptionChange, ...]:
    return diff_options(before["options"], after["options"]) if "options" in changed else ()


def _rename_hint(prop: Property, desired: SchemaState, live: SchemaState) -> str:
    for name, other in live.properties.items():
        if name not in desired.properties and other.label == prop.label:
            return (
                f"looks like a rename of '{name}': HubSpot cannot rename, so this is a new property; "
                f"'{name}' and its values stay"
            )
    return ""


def _diff_rules(desired: SchemaState, live: SchemaState) -> tuple[list[Change], list[str]]:
    changes, notes = [], []
    for key, rule in sorted(desired.rules.items()):
        after = rule_fields(rule)
        current = live.rules.get(key)
        if current is None:
            changes.append(SetRule("/".join(key), after=after))
        elif current.arguments != rule.arguments:
            changes.append(ChangeRule("/".join(key), rule_fields(current), after, ("arguments",)))
    for key, rule in sorted(live.rules.items()):
        if key[0] in desired.properties and key not in desired.rules:
            notes.append(
                f"Rule {rule.rule_type} on '{rule.property_name}' is in the portal but not in the file; "
                "HubSpot has no API to remove a rule: remove it in HubSpot's UI or declare it."
            )
    return changes, notes


def _fingerprints(changes: tuple[Change, ...], live: SchemaState) -> dict[str, str]:
    """What each touched object looked like in the portal when the plan was made."""
    prints: dict[str, str] = {}
    for change in changes:
        key = f"{change.kind}/{change.key}"
        if change.kind == GROUP:
            group: Group | None = live.groups.get(change.key)
            prints[key] = fingerprint(group_fields(group) if group else None)
        elif change.kind == PROPERTY:
            current = live.properties.get(change.key) or live.archived_properties.get(change.key)
            state = "archived" if change.key in live.archived_properties else "active"
            prints[key] = fingerprint([state, property_fields(current)] if current else None)
        else:
            prop_name, rule_type = change.key.split("/", 1)
            rule = live.rules.get((prop_name, rule_type))
            prints[key] = fingerprint(rule_fields(rule) if rule else None)
    return prints


def diff(config: Config, live: LiveState, steps: list[ManualStep], *, created_at: str = "") -> Plan:
    """Compare the declared config with the live portal; ``steps`` are the manual steps, confirmed or not."""
    group_changes = _diff_groups(config.desired, live.schema)
    property_changes, property_notes = _diff_properties(config, live)
    rule_changes, rule_notes = _diff_rules(config.desired, live.schema)
    changes = in_apply_order(group_changes + property_changes + rule_changes)
    return Plan(
        portal_id=live.portal_id,
        config_path=config.path,
        config_digest=config.digest,
        api_version=config.api_version,
        environment=config.environment,
        changes=changes,
        manual_steps=tuple(steps),
        notes=tuple(property_notes + rule_notes),
        fingerprints=_fingerprints(changes, live.schema),
        created_at=created_at,
    )
