"""Property groups, deal properties and validation rules, with HubSpot's checks and answers."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

from provisioner.emulator.call import Call
from provisioner.emulator.wire import (
    batch_error,
    correlation_id,
    error,
    iso,
    not_found,
    now_ms,
    validation_error,
)

NAME = re.compile(r"^[a-z][a-z0-9_]*$")
FIELD_TYPES = {
    "string": {"text", "textarea", "html", "phonenumber", "file", "calculation_equation"},
    "number": {"number", "calculation_equation"},
    "bool": {"booleancheckbox"},
    "enumeration": {"select", "radio", "checkbox", "booleancheckbox"},
    "date": {"date"},
    "datetime": {"date"},
}
CREATE_FIELDS = {"name", "label", "type", "fieldType", "groupName", "description", "displayOrder", "hidden",
                 "formField", "hasUniqueValue", "options", "dataSensitivity", "calculationFormula",
                 "externalOptions", "referencedObjectType", "showCurrencySymbol", "numberDisplayHint",
                 "currencyPropertyName", "textDisplayHint"}
UPDATE_FIELDS = {"label", "type", "fieldType", "groupName", "description", "displayOrder", "hidden", "formField",
                 "options", "calculationFormula", "showCurrencySymbol", "numberDisplayHint",
                 "currencyPropertyName", "textDisplayHint"}
IMMUTABLE = ("name", "hasUniqueValue", "dataSensitivity")
SENSITIVITY = ("non_sensitive", "sensitive", "highly_sensitive")
RULE_TYPES = {
    "MAX_LENGTH": "length", "MIN_LENGTH": "length", "MIN_NUMBER": "number", "MAX_NUMBER": "number",
    "DECIMAL": "decimal", "REGEX": "regex", "URL": "none", "ALPHANUMERIC": "none", "NUMERIC_ONLY": "none",
    "EMAIL": "none", "PHONE_NUMBER_WITH_EXPLICIT_COUNTRY_CODE": "none", "DAYS_OF_WEEK": "none",
}
LENGTH_FIELD_TYPES = {"text", "textarea", "phonenumber"}
NAME_EXISTS = "Properties.PROPERTY_WITH_NAME_EXISTS"
AUDIT_FIELDS = frozenset({"createdAt", "updatedAt", "createdUserId", "updatedUserId"})


def exists_message(name: str) -> str:
    return f"A property named '{name}' already exists."


def _now() -> str:
    return iso(now_ms())


# ---- groups ---------------------------------------------------------------------------------------------
def _group_out(group: dict) -> dict:
    return {"name": group["name"], "label": group["label"], "displayOrder": group["displayOrder"],
            "archived": group["archived"]}


def list_groups(call: Call):
    portal = call.portal
    results = []
    for name in portal.seen_keys("group", portal.groups):
        group = portal.seen("group", name, portal.groups.get(name))
        if group is not None and not group["archived"]:
            results.append(_group_out(group))
    return 200, {"results": results}


def _group_or_404(call: Call, name: str) -> dict:
    group = call.portal.seen("group", name, call.portal.groups.get(name))
    if group is None or group["archived"]:
        raise not_found(f"Unable to find property group {name} for object type 0-3")
    return group


def get_group(call: Call, name: str):
    return 200, _group_out(_group_or_404(call, name))


def _check_fields(call: Call, body: dict, allowed: set[str], what: str) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown and call.settings.reject_unknown_fields:
        raise validation_error(
            f"Invalid input JSON: unrecognised field(s) {unknown} in {what}",
            [(f"Unrecognized field \"{key}\"", "UNRECOGNIZED_FIELD", key) for key in unknown],
        )


def _display_order(value, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise validation_error(f"{where} must be an integer", [(f"{where} must be an integer", "INVALID_INTEGER",
                                                                 "displayOrder")])
    return value


def create_group(call: Call):
    body = call.json_object()
    _check_fields(call, body, {"name", "label", "displayOrder"}, "PropertyGroupCreate")
    name, label = body.get("name"), body.get("label")
    problems = []
    if not isinstance(name, str) or not NAME.match(name) or len(name) > 100:
        problems.append((f"Invalid group name {name!r}: use lowercase letters, digits and underscores, "
                         "starting with a letter", "INVALID_NAME", "name"))
    if not isinstance(label, str) or not label.strip():
        problems.append(("label is required", "REQUIRED_FIELD", "label"))
    if problems:
        raise validation_error("Property group is not valid: " + "; ".join(p[0] for p in problems), problems)
    order = _display_order(body["displayOrder"], "displayOrder") if "displayOrder" in body else -1
    portal = call.portal
    existing = portal.groups.get(name)
    if existing is not None and not existing["archived"]:
        raise error(409, "OBJECT_ALREADY_EXISTS", f"A property group named '{name}' already exists.",
                    context={"name": [name]})
    portal.touch("group", name, existing)
    group = {"name": name, "label": label, "displayOrder": order, "archived": False}
    portal.groups[name] = group
    return 201, _group_out(group), {"Location": f"{call.base_url}{call.path}/{quote(name)}"}


def update_group(call: Call, name: str):
    body = call.json_object()
    if "name" in body and body["name"] != name:
        raise validation_error("A property group's name cannot be changed.",
                               [("name cannot be changed", "IMMUTABLE_FIELD", "name")])
    _check_fields(call, body, {"label", "displayOrder", "name"}, "PropertyGroupUpdate")
    portal = call.portal
    group = portal.groups.get(name)
    if group is None or group["archived"]:
        raise not_found(f"Unable to find property group {name} for object type 0-3")
    if "label" in body and (not isinstance(body["label"], str) or not body["label"].strip()):
        raise validation_error("label must be a non-empty string", [("label is required", "REQUIRED_FIELD", "label")])
    order = _display_order(body["displayOrder"], "displayOrder") if "displayOrder" in body else None
    portal.touch("group", name, group)
    updated = dict(group)
    if "label" in body:
        updated["label"] = body["label"]
    if order is not None:
        updated["displayOrder"] = order
    portal.groups[name] = updated
    return 200, _group_out(updated)


def archive_group(call: Call, name: str):
    portal = call.portal
    group = portal.groups.get(name)
    if group is None or group["archived"]:
        raise not_found(f"Unable to find property group {name} for object type 0-3")
    active = sorted(p["name"] for p in portal.properties.values() if p["groupName"] == name and not p["archived"])
    if active:
        inner = {
            "status": "error",
            "message": f"Property group {name} still has active properties: {active}",
            "correlationId": correlation_id(),
            "category": "VALIDATION_ERROR",
            "subCategory": "PropertyGroupError.GROUP_WITH_ACTIVE_PROPERTIES",
        }
        raise error(400, "VALIDATION_ERROR", json.dumps(inner, separators=(",", ":")))
    portal.touch("group", name, group)
    portal.groups[name] = {**group, "archived": True}
    return 204, None


# ---- properties ------------------------------------------------------------------------------------------
def property_out(prop: dict) -> dict:
    out = {key: value for key, value in prop.items() if key != "hubspotDefined" or value}
    out["options"] = [dict(o) for o in prop["options"]]
    out["modificationMetadata"] = dict(prop["modificationMetadata"])
    return out


def _options(call: Call, raw, where: str, problems: list) -> list[dict] | None:
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.append((f"{where} must be a list", "INVALID_OPTIONS", where))
        return None
    out, seen = [], set()
    for i, option in enumerate(raw):
        if not isinstance(option, dict):
            problems.append((f"{where}[{i}] must be an object", "INVALID_OPTIONS", where))
            continue
        unknown = set(option) - {"label", "value", "displayOrder", "hidden", "description"}
        if unknown and call.settings.reject_unknown_fields:
            problems.append((f"{where}[{i}] has unrecognised field(s) {sorted(unknown)}", "UNRECOGNIZED_FIELD", where))
        label, value = option.get("label"), option.get("value")
        if not isinstance(label, str) or not label:
            problems.append((f"{where}[{i}].label is required", "REQUIRED_FIELD", f"{where}[{i}].label"))
        if not isinstance(value, str) or not value:
            problems.append((f"{where}[{i}].value is required", "REQUIRED_FIELD", f"{where}[{i}].value"))
        elif value in seen:
            problems.append((f"Duplicate option value '{value}'", "DUPLICATE_OPTION_VALUE", f"{where}[{i}].value"))
        seen.add(value)
        if "displayOrder" not in option and call.dated:
            # 2026-03 made OptionInput.displayOrder required.
            problems.append((f"{where}[{i}].displayOrder is required", "REQUIRED_FIELD",
                             f"{where}[{i}].displayOrder"))
        order = option.get("displayOrder", i)
        if isinstance(order, bool) or not isinstance(order, int):
            problems.append((f"{where}[{i}].displayOrder must be an integer", "INVALID_INTEGER", where))
            order = i
        hidden = option.get("hidden", False)
        if not isinstance(hidden, bool):
            problems.append((f"{where}[{i}].hidden must be a boolean", "INVALID_BOOLEAN", where))
        entry = {"label": label, "value": value, "displayOrder": order, "hidden": bool(hidden)}
        if option.get("description"):
            entry["description"] = option["description"]
        out.append(entry)
    return out


def _check_definition(call: Call, prop: dict, problems: list) -> None:
    """Checks that hold for a property whatever way it was written (create, PATCH, batch)."""
    kind, field_type = prop.get("type"), prop.get("fieldType")
    if kind not in FIELD_TYPES:
        problems.append((f"Invalid type {kind!r}: one of {sorted(FIELD_TYPES)}", "INVALID_TYPE", "type"))
    elif field_type not in FIELD_TYPES[kind]:
        problems.append((f"fieldType {field_type!r} is not valid for type {kind!r}: use one of "
                         f"{sorted(FIELD_TYPES[kind])}", "INVALID_FIELD_TYPE", "fieldType"))
    if not isinstance(prop.get("label"), str) or not prop["label"].strip():
        problems.append(("label is required", "REQUIRED_FIELD", "label"))
    if not isinstance(prop.get("description", ""), str):
        problems.append(("description must be a string", "INVALID_STRING", "description"))
    group = call.portal.groups.get(prop.get("groupName")) if isinstance(prop.get("groupName"), str) else None
    if group is None or group["archived"]:
        problems.append((f"Property group {prop.get('groupName')!r} does not exist", "GROUP_NOT_FOUND", "groupName"))
    if kind == "enumeration" and field_type != "booleancheckbox" and not prop.get("options"):
        problems.append(("Enumeration properties need at least one option", "OPTIONS_REQUIRED", "options"))
    if kind not in ("enumeration", "bool") and prop.get("options"):
        problems.append((f"A {kind} property cannot have options", "OPTIONS_NOT_ALLOWED", "options"))
    for flag in ("hidden", "formField"):
        if flag in prop and not isinstance(prop[flag], bool):
            problems.append((f"{flag} must be a boolean", "INVALID_BOOLEAN", flag))
    if not isinstance(prop.get("displayOrder", -1), int) or isinstance(prop.get("displayOrder"), bool):
        problems.append(("displayOrder must be an integer", "INVALID_INTEGER", "displayOrder"))


def _new_property(call: Call, body: dict) -> tuple[dict | None, list]:
    problems: list = []
    unknown = sorted(set(body) - CREATE_FIELDS)
    if unknown and call.settings.reject_unknown_fields:
        problems += [(f"Unrecognized field \"{key}\"", "UNRECOGNIZED_FIELD", key) for key in unknown]
    name = body.get("name")
    for required in ("name", "label", "type", "fieldType", "groupName"):
        if body.get(required) in (None, ""):
            problems.append((f"{required} is required", "REQUIRED_FIELD", required))
    if isinstance(name, str) and name and (not NAME.match(name) or len(name) > 100):
        problems.append((f"Invalid property name '{name}': use lowercase letters, digits and underscores, "
                         "starting with a letter, at most 100 characters", "INVALID_PROPERTY_NAME", "name"))
    elif isinstance(name, str) and name.startswith("hs_"):
        problems.append((f"Property name '{name}' uses the reserved prefix hs_", "INVALID_PROPERTY_NAME", "name"))
    if body.get("dataSensitivity", "non_sensitive") not in SENSITIVITY:
        problems.append((f"dataSensitivity must be one of {list(SENSITIVITY)}", "INVALID_ENUM", "dataSensitivity"))
    options = _options(call, body.get("options"), "options", problems)
    now = _now()
    prop = {
        "name": name, "label": body.get("label"), "type": body.get("type"), "fieldType": body.get("fieldType"),
        "description": body.get("description") or "", "groupName": body.get("groupName"),
        "options": options or [], "displayOrder": body.get("displayOrder", -1),
        "calculated": False, "externalOptions": bool(body.get("externalOptions", False)),
        "hasUniqueValue": bool(body.get("hasUniqueValue", False)), "hidden": body.get("hidden", False),
        "formField": body.get("formField", False), "archived": False, "createdAt": now, "updatedAt": now,
        "createdUserId": "0", "updatedUserId": "0", "dataSensitivity": body.get("dataSensitivity", "non_sensitive"),
        "modificationMetadata": {"archivable": True, "readOnlyDefinition": False, "readOnlyValue": False},
    }
    if prop["type"] == "bool" and not prop["options"]:
        prop["options"] = [{"label": "Yes", "value": "true", "displayOrder": 0, "hidden": False},
                           {"label": "No", "value": "false", "displayOrder": 1, "hidden": False}]
    if not problems:
        _check_definition(call, prop, problems)
    return (None if problems else prop), problems


def _exists_error(name: str):
    return error(409, "OBJECT_ALREADY_EXISTS", exists_message(name), sub_category=NAME_EXISTS)


def _store_new(call: Call, prop: dict) -> dict:
    """Create, or restore an archived property of the same name (what HubSpot does)."""
    portal = call.portal
    before = portal.properties.get(prop["name"])
    if before is not None:
        prop["createdAt"] = before["createdAt"]
    portal.touch("property", prop["name"], before)
    portal.properties[prop["name"]] = prop
    return prop


def create_property(call: Call):
    body = call.json_object()
    prop, problems = _new_property(call, body)
    if prop is None:
        raise validation_error("Property is not valid: " + "; ".join(p[0] for p in problems), problems)
    existing = call.portal.properties.get(prop["name"])
    if existing is not None and not existing["archived"]:
        raise _exists_error(prop["name"])
    _store_new(call, prop)
    return 201, property_out(prop), {"Location": f"{call.base_url}{call.path}/{quote(prop['name'])}"}


def list_properties(call: Call):
    archived = call.flag("archived")
    portal = call.portal
    results = []
    for name in portal.seen_keys("property", portal.properties):
        prop = portal.seen("property", name, portal.properties.get(name))
        if prop is not None and prop["archived"] == archived:
            results.append(property_out(prop))
    return 200, {"results": results}


def _visible_property(call: Call, name: str, archived: bool) -> dict | None:
    prop = call.portal.seen("property", name, call.portal.properties.get(name))
    if prop is None or (prop["archived"] and not archived):
        return None
    return prop


def get_property(call: Call, name: str):
    prop = _visible_property(call, name, call.flag("archived"))
    if prop is None:
        raise not_found(f"Unable to find property {name} for object type 0-3")
    return 200, property_out(prop)


def update_property(call: Call, name: str):
    body = call.json_object()
    portal = call.portal
    prop = portal.properties.get(name)
    if prop is None or prop["archived"]:
        raise not_found(f"Unable to find property {name} for object type 0-3")
    immutable = [key for key in IMMUTABLE if key in body and body[key] != prop.get(key)]
    if immutable:
        raise validation_error(
            f"Cannot change {', '.join(immutable)} of property {name}",
            [(f"{key} cannot be changed after creation", "IMMUTABLE_FIELD", key) for key in immutable],
        )
    _check_fields(call, {k: v for k, v in body.items() if k not in IMMUTABLE}, UPDATE_FIELDS, "PropertyUpdate")
    if prop["modificationMetadata"]["readOnlyDefinition"]:
        raise validation_error(f"Property {name} is defined by HubSpot and cannot be changed",
                               [(f"{name} has a read-only definition", "READ_ONLY_DEFINITION", None)])
    problems: list = []
    updated = {**prop, **{k: v for k, v in body.items() if k in UPDATE_FIELDS and k != "options"}}
    if "options" in body:
        updated["options"] = _options(call, body["options"], "options", problems) or []
    if updated.get("description") is None:
        updated["description"] = ""
    _check_definition(call, updated, problems)
    if problems:
        raise validation_error("Property is not valid: " + "; ".join(p[0] for p in problems), problems)
    updated["updatedAt"] = _now()
    portal.touch("property", name, prop)
    portal.properties[name] = updated
    return 200, property_out(updated)


def _archive(call: Call, name: str) -> None:
    portal = call.portal
    prop = portal.properties[name]
    portal.touch("property", name, prop)
    portal.properties[name] = {**prop, "archived": True, "archivedAt": _now()}
    if name in portal.ui_access:
        del portal.ui_access[name]
        portal.dirty.add(("meta", "ui_access"))


def archive_property(call: Call, name: str):
    prop = call.portal.properties.get(name)
    if prop is None or prop["archived"]:
        raise not_found(f"Unable to find property {name} for object type 0-3")
    if not prop["modificationMetadata"]["archivable"]:
        raise validation_error(f"Property {name} is defined by HubSpot and cannot be archived",
                               [(f"{name} is not archivable", "NOT_ARCHIVABLE", None)])
    _archive(call, name)
    return 204, None


def batch_create_properties(call: Call):
    started = now_ms()
    inputs = call.inputs()
    results, errors, names = [], [], set()
    for item in inputs:
        prop, problems = _new_property(call, item)
        name = item.get("name")
        if prop is None:
            errors.append(batch_error("VALIDATION_ERROR", "; ".join(p[0] for p in problems), {"name": [str(name)]}))
            continue
        existing = call.portal.properties.get(name)
        if name in names or (existing is not None and not existing["archived"]):
            errors.append(batch_error("OBJECT_ALREADY_EXISTS", exists_message(name), {"name": [name]},
                                      sub_category=NAME_EXISTS))
            continue
        names.add(name)
        # Batch-create results carry no timestamps or user ids (unlike the single create's answer).
        results.append({k: v for k, v in property_out(_store_new(call, prop)).items() if k not in AUDIT_FIELDS})
    return call.batch_answer(results, errors, started, success=201)


def batch_read_properties(call: Call):
    started = now_ms()
    body = call.json_object()
    archived = bool(body.get("archived", False))
    results, missing = [], []
    for item in call.inputs(limit=None):
        name = item.get("name")
        prop = _visible_property(call, name, archived) if isinstance(name, str) else None
        if prop is None:
            missing.append(str(name))
        else:
            results.append(property_out(prop))
    errors = []
    if missing:
        errors.append(batch_error("OBJECT_NOT_FOUND", f"Unable to find properties {missing} for object type 0-3",
                                  {"name": missing}))
    return call.batch_answer(results, errors, started)


def batch_archive_properties(call: Call):
    for item in call.inputs(limit=None):
        name = item.get("name")
        prop = call.portal.properties.get(name) if isinstance(name, str) else None
        if prop is not None and not prop["archived"] and prop["modificationMetadata"]["archivable"]:
            _archive(call, name)
    return 204, None


# ---- validation rules --------------------------------------------------------------------------------
def _rule_list(rules: dict[str, list[str]]) -> list[dict]:
    return [{"ruleType": rule_type, "ruleArguments": list(args)} for rule_type, args in rules.items()]


def list_rules(call: Call):
    portal = call.portal
    results = []
    for name in portal.seen_keys("rule", portal.rules):
        rules = portal.seen("rule", name, portal.rules.get(name))
        prop = portal.properties.get(name)
        if rules and prop is not None and not prop["archived"]:
            results.append({"propertyName": name, "propertyValidationRules": _rule_list(rules)})
    return 200, {"results": results}


def get_rules(call: Call, name: str):
    if _visible_property(call, name, False) is None:
        raise not_found(f"Unable to find property {name} for object type 0-3")
    return 200, {"results": _rule_list(call.portal.seen("rule", name, call.portal.rules.get(name)) or {})}


def _rule_problem(rule_type: str, args: list, prop: dict) -> str | None:
    shape = RULE_TYPES.get(rule_type)
    if shape is None:
        return f"Unknown rule type {rule_type}: one of {sorted(RULE_TYPES)}"
    if shape in ("length", "regex", "none") and prop["type"] != "string":
        return f"{rule_type} applies to string properties; {prop['name']} is {prop['type']}"
    if shape == "length" and prop["fieldType"] not in LENGTH_FIELD_TYPES:
        return f"{rule_type} applies to text, textarea and phonenumber fields; {prop['name']} is {prop['fieldType']}"
    if shape in ("number", "decimal") and prop["type"] != "number":
        return f"{rule_type} applies to number properties; {prop['name']} is {prop['type']}"
    if shape == "none":
        return None if not args else f"{rule_type} takes no arguments"
    if len(args) != 1:
        return f"{rule_type} takes exactly one argument"
    arg = args[0]
    if shape == "length":
        if not arg.isdigit() or not 1 <= int(arg) <= 10000:
            return f"{rule_type} takes an integer from 1 to 10000, not {arg!r}"
    elif shape == "decimal":
        if not arg.isdigit() or not 0 <= int(arg) <= 20:
            return f"DECIMAL takes an integer from 0 to 20, not {arg!r}"
    elif shape == "number":
        try:
            float(arg)
        except ValueError:
            return f"{rule_type} takes a number, not {arg!r}"
    elif shape == "regex":
        try:
            re.compile(arg)
        except re.error as exc:
            return f"REGEX argument is not a valid pattern: {exc}"
    return None


def put_rule(call: Call, name: str, rule_type: str):
    body = call.json_object()
    portal = call.portal
    prop = portal.properties.get(name)
    if prop is None or prop["archived"]:
        raise not_found(f"Unable to find property {name} for object type 0-3")
    _check_fields(call, body, {"ruleArguments", "shouldApplyNormalization"}, "PropertyValidationRuleUpdate")
    args = body.get("ruleArguments")
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise validation_error("ruleArguments must be a list of strings",
                               [("ruleArguments must be a list of strings", "INVALID_ARGUMENTS", "ruleArguments")])
    current = dict(portal.rules.get(name) or {})
    if not args and RULE_TYPES.get(rule_type) not in (None, "none"):
        if not call.settings.rule_removal_by_empty_put:
            raise validation_error(f"{rule_type} needs its argument; HubSpot documents no way to remove a rule",
                                   [("ruleArguments must not be empty", "INVALID_ARGUMENTS", "ruleArguments")])
        current.pop(rule_type, None)
    else:
        problem = _rule_problem(rule_type, args, prop)
        if problem:
            raise validation_error(problem, [(problem, "INVALID_VALIDATION_RULE", "ruleArguments")])
        current[rule_type] = list(args)
    portal.touch("rule", name, portal.rules.get(name))
    portal.rules[name] = current
    return 204, None
