"""Turn a validated file's data into ``model.Config`` for one environment."""

from __future__ import annotations

import copy
import hashlib
import os
from typing import Any

from provisioner.fleet.location import is_postgres_url
from provisioner.model import (
    DEFAULT_API_VERSION,
    DEFAULT_STORE,
    TRIGGER_EVENTS,
    Config,
    CrmCard,
    Group,
    Option,
    Property,
    SchemaState,
    Sidebar,
    SyncSettings,
    ValidationRule,
)

# File key -> HubSpot ruleType, in the order rules are listed.
RULE_KEYS = {
    "max_length": "MAX_LENGTH",
    "min_length": "MIN_LENGTH",
    "min_number": "MIN_NUMBER",
    "max_number": "MAX_NUMBER",
    "decimal": "DECIMAL",
    "regex": "REGEX",
    "url": "URL",
}


def rule_arguments(key: str, value: Any) -> tuple[str, ...]:
    """Arguments as HubSpot returns them: strings, whole numbers without decimals."""
    if key == "url":
        return ()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return (str(value),)


def apply_environment(data: dict, environment: str | None) -> dict:
    """The data with ``environment``'s portal and overrides merged in (a copy)."""
    if environment is None:
        return data
    env = data["environments"][environment] or {}
    merged = copy.deepcopy(data)
    portal = dict(merged.get("portal") or {})
    portal.update(env.get("portal") or {})
    merged["portal"] = portal
    overrides = env.get("overrides") or {}
    if overrides.get("group"):
        merged["group"] = {**merged["group"], **overrides["group"]}
    by_name = overrides.get("properties") or {}
    for prop in merged.get("properties") or []:
        prop.update(by_name.get(prop["name"]) or {})
    if (overrides.get("sync") or {}).get("store"):
        merged["sync"] = {**(merged.get("sync") or {}), "store": overrides["sync"]["store"]}
    return merged


def build_config(path: str, raw: bytes, data: dict, environment: str | None) -> Config:
    """A ``Config`` from data that passed every check."""
    data = apply_environment(data, environment)
    group_list = [data["group"]] if "group" in data else list(data["groups"])
    groups = {
        g["name"]: Group(name=g["name"], label=g["label"], display_order=g.get("display_order"))
        for g in group_list
    }
    default_group = group_list[0]["name"]
    properties: dict[str, Property] = {}
    rules: dict[tuple[str, str], ValidationRule] = {}
    access: dict[str, str] = {}
    for prop in data.get("properties") or []:
        name = prop["name"]
        options = tuple(
            Option(
                label=o["label"],
                value=o["value"],
                display_order=o.get("display_order", index),
                hidden=bool(o.get("hidden", False)),
            )
            for index, o in enumerate(prop.get("options") or [])
        )
        properties[name] = Property(
            name=name,
            label=prop["label"],
            type=prop["type"],
            field_type=prop["field_type"],
            group_name=prop.get("group") or default_group,
            description=prop.get("description") or "",
            display_order=prop.get("display_order"),
            options=options,
        )
        for key, value in (prop.get("rules") or {}).items():
            if key == "url" and value is False:
                continue
            rule = ValidationRule(name, RULE_KEYS[key], rule_arguments(key, value))
            rules[rule.key] = rule
        if prop.get("access"):
            access[name] = prop["access"]
    sidebar = None
    if data.get("sidebar"):
        sidebar = Sidebar(section=data["sidebar"]["section"], properties=tuple(data["sidebar"]["properties"]))
    crm_card = None
    if data.get("crm_card"):
        card = data["crm_card"]
        crm_card = CrmCard(app=card["app"], location=card.get("location") or "right_sidebar")
    sync = data.get("sync") or {}
    store = sync.get("store") or DEFAULT_STORE
    base_dir = os.path.dirname(os.path.abspath(path))
    triggers = sync.get("triggers")
    settings = SyncSettings(
        mapping=dict(sync.get("mapping") or {}),
        triggers=frozenset(TRIGGER_EVENTS if triggers is None else triggers),
        store_path=store if is_postgres_url(store) else os.path.normpath(os.path.join(base_dir, os.path.expanduser(store))),
    )
    tombstones = tuple(t["name"] if isinstance(t, dict) else t for t in data.get("tombstones") or [])
    portal = data.get("portal") or {}
    return Config(
        path=path,
        digest=hashlib.sha256(raw).hexdigest(),
        desired=SchemaState(groups=groups, properties=properties, rules=rules),
        portal_id=portal.get("id"),
        api_version=portal.get("api_version") or DEFAULT_API_VERSION,
        environment=environment,
        tombstones=tombstones,
        access=access,
        sidebar=sidebar,
        crm_card=crm_card,
        sync=settings,
    )
