"""Export: the portal's current state as a config file, to adopt a portal or accept a change made in the UI.

``export_document`` is pure: live state (and the existing file, when exporting over one) in, the
file's data and a header out. What no API can read (view-only access, the sidebar) and what the
portal does not know (the sync mapping, tombstones, environments, the portal guard) are kept from
the existing file. ``write_export`` writes it, never over a file without ``force``.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from provisioner.config.build import RULE_KEYS
from provisioner.config.semantic import ACCORD_FIELD_TYPES
from provisioner.errors import UsageError
from provisioner.files import write_atomic
from provisioner.model import (
    FIELD_TYPES,
    Config,
    Group,
    LiveState,
    Property,
    ValidationRule,
)

# Fields an environment may override, besides access (which no API can read).
OVERRIDABLE = ("label", "description", "display_order", "options", "rules")
NUMBER_RULES = ("min_number", "max_number")


@dataclass(frozen=True)
class ExistingFile:
    """The file being exported over: its loaded Config (for the chosen environment) and its raw data."""

    config: Config
    data: Mapping[str, Any]


@dataclass(frozen=True)
class Export:
    data: dict[str, Any]
    header: str
    groups: tuple[str, ...]
    properties: tuple[str, ...]
    remarks: tuple[str, ...] = field(default=())

    def to_yaml(self) -> str:
        body = yaml.safe_dump(self.data, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False)
        return self.header + body


# ---- selection -----------------------------------------------------------------------------------
def _select(live: LiveState, groups: Sequence[str], all_custom: bool, existing: ExistingFile | None,
            remarks: list[str]) -> list[Property]:
    custom = {name: prop for name, prop in live.schema.properties.items() if name not in live.hubspot_defined}
    if all_custom:
        chosen = dict(custom)
    else:
        wanted = set(groups) if groups else set(existing.config.desired.groups) if existing else set()
        unknown = sorted(g for g in wanted if g not in live.schema.groups)
        if groups and unknown:
            raise UsageError(f"no deal property group {', '.join(repr(g) for g in unknown)} in portal "
                             f"{live.portal_id}", hint="groups there: " + ", ".join(sorted(live.schema.groups)))
        chosen = {name: prop for name, prop in custom.items() if prop.group_name in wanted}
        if existing and not groups:
            # A declared property moved to another group in the UI is still the file's property.
            chosen.update({n: custom[n] for n in existing.config.desired.properties if n in custom})
    out = []
    for name, prop in sorted(chosen.items()):
        if prop.field_type not in FIELD_TYPES.get(prop.type, ()) or prop.field_type == "calculation_equation":
            remarks.append(f"Property '{name}' ({prop.type}/{prop.field_type}) cannot be declared in this "
                           "format: left out.")
        elif prop.type == "enumeration" and not prop.options:
            remarks.append(f"Property '{name}' is an enumeration without options: left out.")
        else:
            out.append(prop)
    return out


# ---- one object in the file's terms --------------------------------------------------------------
def _rule_value(key: str, rule: ValidationRule) -> Any:
    if key == "url":
        return True
    arg = rule.arguments[0]
    if key == "regex":
        return arg
    number = float(arg)
    if key in NUMBER_RULES and not number.is_integer():
        return number
    return int(number)


def _rules(name: str, live: LiveState, remarks: list[str]) -> dict[str, Any]:
    found = {rule.rule_type: rule for (prop, _), rule in live.schema.rules.items() if prop == name}
    out = {}
    for key, rule_type in RULE_KEYS.items():
        rule = found.pop(rule_type, None)
        if rule is None:
            continue
        try:
            out[key] = _rule_value(key, rule)
        except (IndexError, ValueError):
            remarks.append(f"Rule {rule_type} on '{name}' has arguments {list(rule.arguments)!r}: left out.")
    for rule_type in sorted(found):
        remarks.append(f"Rule {rule_type} on '{name}' is not one this format declares: left out.")
    return out


def _options(prop: Property) -> list[dict[str, Any]]:
    out = []
    for index, option in enumerate(prop.options):
        entry: dict[str, Any] = {"label": option.label, "value": option.value}
        if option.display_order != index:
            entry["display_order"] = option.display_order
        if option.hidden:
            entry["hidden"] = True
        out.append(entry)
    return out


def _property_entry(prop: Property, rules: dict[str, Any], *, with_group: bool, display_order: bool) -> dict:
    entry: dict[str, Any] = {"name": prop.name, "label": prop.label}
    if prop.description:
        entry["description"] = prop.description
    entry["type"] = prop.type
    entry["field_type"] = prop.field_type
    if with_group:
        entry["group"] = prop.group_name
    if display_order and prop.display_order is not None:
        entry["display_order"] = prop.display_order
    if prop.type == "enumeration":
        entry["options"] = _options(prop)
    if rules:
        entry["rules"] = rules
    return entry


def _group_entry(group: Group, display_order: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": group.name, "label": group.label}
    if display_order and group.display_order is not None:
        entry["display_order"] = group.display_order
    return entry


def _blank(name: str) -> Any:
    return {"description": "", "rules": {}, "options": []}.get(name)


# ---- keeping what the portal cannot say -------------------------------------------------------------
def _base_entries(data: Mapping[str, Any]) -> tuple[dict[str, dict], dict[str, dict]]:
    groups = [data["group"]] if data.get("group") else list(data.get("groups") or [])
    return ({g["name"]: dict(g) for g in groups},
            {p["name"]: dict(p) for p in data.get("properties") or []})


def _apply_environment(entry: dict, base: dict | None, overrides: dict, fields: Sequence[str]) -> None:
    """Keep an environment's portal values in its overrides and the base file's values in the base."""
    for name in fields:
        if name not in overrides:
            continue
        overrides[name] = entry.get(name, _blank(name))
        if base is not None and name in base:
            entry[name] = base[name]
        else:
            entry.pop(name, None)


def export_document(
    live: LiveState,
    *,
    exported_at: str,
    api_version: str,
    groups: Sequence[str] = (),
    all_custom: bool = False,
    existing: ExistingFile | None = None,
    source: str = "",
) -> Export:
    """The portal's groups and properties (a named selection) as the data of a config file."""
    if not groups and not all_custom and existing is None:
        raise UsageError("no file to take the managed group from: name one with --group, or pass --all-custom",
                         hint="groups in the portal: " + ", ".join(sorted(live.schema.groups)))
    remarks: list[str] = []
    props = _select(live, groups, all_custom, existing, remarks)
    group_names = sorted({p.group_name for p in props} | ({*groups} if groups else set()))
    if not all_custom and not groups and existing is not None:
        group_names = sorted(set(group_names) | (set(existing.config.desired.groups) & set(live.schema.groups)))
    if not group_names:
        wanted = ", ".join(sorted(existing.config.desired.groups)) if existing else "none"
        raise UsageError(f"nothing to export: portal {live.portal_id} has none of the groups the file manages "
                         f"({wanted})", hint="name a group with --group, or pass --all-custom")
    base = dict(existing.data) if existing else {}
    env = existing.config.environment if existing else None
    base_groups, base_props = _base_entries(base)
    environments = dict(base.get("environments") or {})
    overrides = ((environments.get(env) or {}).get("overrides") or {}) if env else {}

    group_entries = []
    for name in group_names:
        entry = _group_entry(live.schema.groups[name], "display_order" in base_groups.get(name, {}))
        if overrides.get("group") and len(group_names) == 1:
            _apply_environment(entry, base_groups.get(name), overrides["group"], ("label", "display_order"))
        group_entries.append(entry)

    # Keep the file's order for the properties it already has, then the new ones by name.
    order = {name: i for i, name in enumerate(base_props)}
    props.sort(key=lambda p: (order.get(p.name, len(order)), p.name))
    exported = {p.name for p in props}
    prop_entries = []
    for prop in props:
        before = base_props.get(prop.name)
        entry = _property_entry(prop, _rules(prop.name, live, remarks), with_group=len(group_names) > 1,
                                display_order=before is not None and "display_order" in before)
        if prop.name in (overrides.get("properties") or {}):
            _apply_environment(entry, before, overrides["properties"][prop.name], OVERRIDABLE)
        if before is not None and before.get("access"):
            entry["access"] = before["access"]
        prop_entries.append(entry)
    for name in base_props:
        if name not in exported:
            remarks.append(f"Property '{name}' is not an active property of the portal: dropped from the file.")

    data: dict[str, Any] = {"format_version": 1}
    data["portal"] = dict(base.get("portal") or {"id": live.portal_id, "api_version": api_version})
    if len(group_entries) == 1:
        data["group"] = group_entries[0]
    else:
        data["groups"] = group_entries
    data["properties"] = prop_entries
    _keep_sidebar(base, exported, data, remarks)
    if base.get("crm_card"):
        data["crm_card"] = dict(base["crm_card"])  # no API can read it: kept from the file
    _keep_sync(base, {p.name: p.type for p in props}, data, remarks)
    tombstones = []
    for item in base.get("tombstones") or []:
        name = item["name"] if isinstance(item, dict) else item
        if name in exported:
            remarks.append(f"Tombstone '{name}' is an active property of the portal: it is now declared instead.")
        else:
            tombstones.append(item)
    data["tombstones"] = tombstones
    if environments:
        data["environments"] = environments
    header = _header(live, env, exported_at, group_names, source, existing is not None, remarks)
    return Export(data, header, tuple(group_names), tuple(p.name for p in props), tuple(remarks))


def _keep_sidebar(base: Mapping, exported: set[str], data: dict, remarks: list[str]) -> None:
    sidebar = base.get("sidebar")
    if not sidebar:
        return
    kept = [name for name in sidebar.get("properties") or [] if name in exported]
    for name in sidebar.get("properties") or []:
        if name not in exported:
            remarks.append(f"Sidebar entry '{name}' is not exported: dropped from the sidebar.")
    if kept:
        data["sidebar"] = {"section": sidebar["section"], "properties": kept}


def _keep_sync(base: Mapping, types: Mapping[str, str], data: dict, remarks: list[str]) -> None:
    sync = dict(base.get("sync") or {})
    if not sync:
        return
    mapping = {}
    for accord_field, name in (sync.get("mapping") or {}).items():
        if types.get(name) == ACCORD_FIELD_TYPES.get(accord_field):
            mapping[accord_field] = name
        else:
            why = "is not exported" if name not in types else f"is now of type {types[name]}"
            remarks.append(f"Sync mapping {accord_field} -> '{name}' dropped: the property {why}.")
    if "mapping" in sync:
        sync["mapping"] = mapping
    data["sync"] = sync


def _header(live: LiveState, env: str | None, exported_at: str, groups: Sequence[str], source: str,
            had_file: bool, remarks: Sequence[str]) -> str:
    where = f"HubSpot portal {live.portal_id}" + (f" (environment {env})" if env else "")
    lines = [
        f"Exported by `provisioner export` from {where} at {exported_at}.",
        f"Group(s): {', '.join(groups)}.",
        "View-only access and the deal sidebar cannot be read from HubSpot: "
        + (f"they are kept from {source or 'the previous file'}, as are the sync mapping and tombstones."
           if had_file else "they are left out; declare them by hand if you manage them."),
        "Review the difference before committing: comments of an earlier file are not kept.",
    ]
    lines += [f"Note: {remark}" for remark in remarks]
    wrapped = [part for line in lines for part in textwrap.wrap(line, 98, subsequent_indent="  ")]
    return "".join(f"# {line}\n" for line in wrapped) + "\n"


def write_export(text: str, path: str | os.PathLike, *, force: bool) -> None:
    """Write the export atomically; an existing file is replaced only with ``force``."""
    path = Path(path)
    if path.exists() and not force:
        raise UsageError(f"{path} exists; not overwriting it", hint="pass --force to replace it, or -o another path")
    if path.is_dir():
        raise UsageError(f"{path} is a directory")
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise UsageError(f"cannot write {path}: no directory {directory}")
    try:
        write_atomic(path, text)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
