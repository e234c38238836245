"""Checks beyond the JSON Schema: what HubSpot would reject, or what would surprise a reviewer.

Every check reads the data defensively (the schema may already have failed on the same part),
so one run reports every problem in the file.
"""

from __future__ import annotations

import math
import re
from typing import Any

from provisioner.config.loader import Document, Path
from provisioner.config.schema_check import did_you_mean
from provisioner.errors import Problem
from provisioner.fleet.location import store_url_has_password
from provisioner.model import ACCORD_FIELDS, FIELD_TYPES, RULE_TYPES

# HubSpot reserves this prefix for its own properties and groups.
RESERVED_PREFIX = "hs_"
# The seed: the URL property's character limit should be no less than this.
MIN_URL_LENGTH = 100
# What each Accord field holds, so it lands in a property of a fitting type.
ACCORD_FIELD_TYPES = {
    "URL": "string",
    "STATUS": "string",
    "STAGE_NAME": "string",
    "CUSTOMER_INVITED_COUNT": "number",
    "CUSTOMER_ACCEPTED_COUNT": "number",
    "PROGRESS": "number",
    "EXECUTION_SCORE": "number",
}
assert set(ACCORD_FIELD_TYPES) == set(ACCORD_FIELDS)

ALL_FIELD_TYPES = frozenset(f for fields in FIELD_TYPES.values() for f in fields)
# Calculated properties need a formula this format cannot declare; HubSpot rejects them without.
UNSUPPORTED_FIELD_TYPES = frozenset({"calculation_equation"})


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


class _Checker:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.problems: list[Problem] = []
        self.data = _dict(doc.data)
        self.property_types: dict[str, tuple[str | None, str | None]] = {}
        self.url_property: str | None = None

    def add(self, path: Path, what: str, *, at_key: bool = False) -> None:
        self.problems.append(self.doc.problem(path, what, at_key=at_key))

    def run(self) -> list[Problem]:
        if not isinstance(self.doc.data, dict):
            return self.problems
        mapping = _dict(_dict(self.data.get("sync")).get("mapping"))
        self.url_property = _str(mapping.get("URL"))
        groups = self.check_groups()
        self.check_properties(groups)
        self.check_sidebar()
        self.check_sync()
        self.check_tombstones()
        self.check_environments(groups)
        return self.problems

    # -- names -------------------------------------------------------------------------------

    def check_name(self, path: Path, name: Any, what: str) -> None:
        if isinstance(name, str) and name.startswith(RESERVED_PREFIX):
            self.add(
                path,
                f"{what} '{name}' starts with '{RESERVED_PREFIX}', which HubSpot keeps for its own {what}s",
            )

    # -- groups ------------------------------------------------------------------------------

    def check_groups(self) -> list[str]:
        has_group, has_groups = "group" in self.data, "groups" in self.data
        if has_group and has_groups:
            self.add(("groups",), "give either 'group' or 'groups', not both", at_key=True)
        if not has_group and not has_groups:
            self.add((), "missing required key 'group' (the managed property group; or 'groups' for several)")
        entries: list[tuple[Path, Any]] = []
        if has_group:
            entries.append((("group",), self.data["group"]))
        for index, group in enumerate(_list(self.data.get("groups"))):
            entries.append((("groups", index), group))
        names: list[str] = []
        seen: dict[str, Path] = {}
        for path, group in entries:
            name = _str(_dict(group).get("name"))
            if name is None:
                continue
            self.check_name(path + ("name",), name, "group")
            if name in seen:
                self.add(
                    path + ("name",),
                    f"duplicate group '{name}' (also at line {self.doc.value_at(seen[name])[0]})",
                )
                continue
            seen[name] = path + ("name",)
            names.append(name)
        return names

    # -- properties --------------------------------------------------------------------------

    def check_properties(self, groups: list[str]) -> None:
        several = isinstance(self.data.get("groups"), list) and len(self.data["groups"]) > 1
        seen: dict[str, Path] = {}
        for index, prop in enumerate(_list(self.data.get("properties"))):
            if not isinstance(prop, dict):
                continue
            path: Path = ("properties", index)
            name = _str(prop.get("name"))
            ptype, ftype = _str(prop.get("type")), _str(prop.get("field_type"))
            if name is not None:
                self.check_name(path + ("name",), name, "property")
                if name in seen:
                    first = self.doc.value_at(seen[name])[0]
                    self.add(
                        path + ("name",), f"duplicate property '{name}' (first declared on line {first})"
                    )
                else:
                    seen[name] = path + ("name",)
                    self.property_types[name] = (ptype, ftype)
            self.check_field_type(path, ptype, ftype)
            if "group" in prop:
                group = prop["group"]
                if isinstance(group, str) and groups and group not in groups:
                    self.add(
                        path + ("group",),
                        f"group '{group}' is not declared (declared: {', '.join(groups)}){did_you_mean(group, groups)}",
                    )
            elif several:
                self.add(
                    path, "missing required key 'group': with several groups each property names its own"
                )
            self.check_options(path, prop, ptype)
            self.check_rules(path + ("rules",), prop.get("rules"), ptype, ftype, name)

    def check_field_type(self, path: Path, ptype: str | None, ftype: str | None) -> None:
        if ptype not in FIELD_TYPES or ftype not in ALL_FIELD_TYPES:
            return
        allowed = FIELD_TYPES[ptype]
        if ftype not in allowed:
            choices = ", ".join(sorted(allowed))
            self.add(
                path + ("field_type",),
                f"field_type '{ftype}' does not fit type '{ptype}' (use one of: {choices})",
            )
        elif ftype in UNSUPPORTED_FIELD_TYPES:
            self.add(
                path + ("field_type",),
                f"field_type '{ftype}' is not supported: a calculated property needs a formula this file cannot declare",
            )

    def check_options(self, path: Path, prop: dict, ptype: str | None, *, override: bool = False) -> None:
        options = prop.get("options")
        if ptype == "enumeration":
            if not override and not options:
                where = path + ("options",) if "options" in prop else path
                self.add(where, "type enumeration needs at least one option")
        elif options is not None and ptype in FIELD_TYPES:
            self.add(
                path + ("options",), f"options are only for type enumeration, not '{ptype}'", at_key=True
            )
            return
        seen: dict[str, int] = {}
        for index, option in enumerate(_list(options)):
            value = _str(_dict(option).get("value"))
            if value is None:
                continue
            if value in seen:
                self.add(
                    path + ("options", index, "value"),
                    f"duplicate option value '{value}' (also options[{seen[value]}])",
                )
            else:
                seen[value] = index

    def check_rules(
        self, path: Path, rules: Any, ptype: str | None, ftype: str | None, name: str | None
    ) -> None:
        if not isinstance(rules, dict):
            return
        for key, value in rules.items():
            rule_type = key.upper() if isinstance(key, str) else ""
            if rule_type not in RULE_TYPES or ptype is None or ftype is None:
                continue
            if key == "url" and value is False:
                continue
            fits = RULE_TYPES[rule_type]
            if (ptype, ftype) not in fits:
                targets = ", ".join(sorted(f"{t} {f}" for t, f in fits))
                self.add(
                    path + (key,),
                    f"rule {key} does not fit a {ptype} {ftype} property (it applies to: {targets})",
                    at_key=True,
                )
        for low, high in (("min_length", "max_length"), ("min_number", "max_number")):
            low_value, high_value = _number(rules.get(low)), _number(rules.get(high))
            if low_value is not None and high_value is not None and low_value > high_value:
                self.add(path + (low,), f"{low} {low_value} is greater than {high} {high_value}")
        for key in ("min_number", "max_number"):
            number = _number(rules.get(key))
            if number is not None and isinstance(number, float) and not math.isfinite(number):
                self.add(path + (key,), f"{key} must be a finite number, got {number}")
        regex = _str(rules.get("regex"))
        if regex:
            try:
                re.compile(regex)
            except re.error as error:
                self.add(path + ("regex",), f"regex does not compile: {error}")
        max_length = _number(rules.get("max_length"))
        if (
            name is not None
            and name == self.url_property
            and max_length is not None
            and max_length < MIN_URL_LENGTH
        ):
            self.add(
                path + ("max_length",),
                f"character limit {max_length} is under {MIN_URL_LENGTH}: Accord's URL field maps to '{name}' "
                f"and longer URLs would be rejected",
            )

    # -- sidebar -----------------------------------------------------------------------------

    def check_sidebar(self) -> None:
        sidebar = _dict(self.data.get("sidebar"))
        section = sidebar.get("section")
        if isinstance(section, str) and section and not section.strip():
            self.add(("sidebar", "section"), "the section title must not be blank")
        seen: dict[str, int] = {}
        declared = list(self.property_types)
        for index, name in enumerate(_list(sidebar.get("properties"))):
            if not isinstance(name, str):
                continue
            path = ("sidebar", "properties", index)
            if name in seen:
                self.add(path, f"'{name}' appears twice in the sidebar (first at properties[{seen[name]}])")
                continue
            seen[name] = index
            if name not in self.property_types:
                self.add(path, f"'{name}' is not a declared property{did_you_mean(name, declared)}")

    # -- sync --------------------------------------------------------------------------------

    def check_sync(self) -> None:
        sync = _dict(self.data.get("sync"))
        mapping = _dict(sync.get("mapping"))
        declared = list(self.property_types)
        targets: dict[str, str] = {}
        for field_name, prop in mapping.items():
            if not isinstance(prop, str):
                continue
            path = ("sync", "mapping", field_name)
            if prop not in self.property_types:
                self.add(path, f"'{prop}' is not a declared property{did_you_mean(prop, declared)}")
                continue
            if prop in targets:
                self.add(
                    path, f"'{prop}' is already the target of {targets[prop]}: one property per Accord field"
                )
                continue
            targets[prop] = field_name
            expected = ACCORD_FIELD_TYPES.get(field_name)
            actual = self.property_types[prop][0]
            if expected and actual and actual in FIELD_TYPES and actual != expected:
                self.add(
                    path, f"Accord's {field_name} holds a {expected}, but property '{prop}' is type {actual}"
                )
        store = _str(sync.get("store"))
        if store and store_url_has_password(store):
            self.add(("sync", "store"), "the store URL carries a password, which must never sit in the file: "
                     "remove it and set PROVISIONER_STORE_URL (or ~/.pgpass, or PGPASSWORD) instead")
        seen: dict[str, int] = {}
        for index, trigger in enumerate(_list(sync.get("triggers"))):
            if not isinstance(trigger, str):
                continue
            if trigger in seen:
                self.add(
                    ("sync", "triggers", index),
                    f"trigger '{trigger}' is listed twice (first at triggers[{seen[trigger]}])",
                )
            else:
                seen[trigger] = index

    # -- tombstones --------------------------------------------------------------------------

    def check_tombstones(self) -> None:
        seen: dict[str, int] = {}
        for index, entry in enumerate(_list(self.data.get("tombstones"))):
            path: Path = ("tombstones", index)
            if isinstance(entry, dict):
                path, entry = path + ("name",), entry.get("name")
            if not isinstance(entry, str):
                continue
            self.check_name(path, entry, "property")
            if entry in seen:
                self.add(path, f"'{entry}' is listed twice (first at tombstones[{seen[entry]}])")
                continue
            seen[entry] = index
            if entry in self.property_types:
                self.add(path, f"'{entry}' is declared under properties and listed for archiving: keep one")

    # -- environments ------------------------------------------------------------------------

    def check_environments(self, groups: list[str]) -> None:
        declared = list(self.property_types)
        for env_name, env in _dict(self.data.get("environments")).items():
            overrides = _dict(_dict(env).get("overrides"))
            base: Path = ("environments", env_name, "overrides")
            if "group" in overrides and "group" not in self.data:
                self.add(base + ("group",), "overrides.group needs a single top-level 'group'", at_key=True)
            for prop_name, override in _dict(overrides.get("properties")).items():
                path = base + ("properties", prop_name)
                if prop_name not in self.property_types:
                    self.add(
                        path,
                        f"'{prop_name}' is not a declared property{did_you_mean(prop_name, declared)}",
                        at_key=True,
                    )
                    continue
                if not isinstance(override, dict):
                    continue
                ptype, ftype = self.property_types[prop_name]
                self.check_options(path, override, ptype, override=True)
                if ptype == "enumeration" and "options" in override and not override["options"]:
                    self.add(path + ("options",), "type enumeration needs at least one option")
                self.check_rules(path + ("rules",), override.get("rules"), ptype, ftype, prop_name)


def check_semantics(doc: Document) -> list[Problem]:
    """Every semantic problem of a parsed file (the schema check runs separately)."""
    return _Checker(doc).run()
