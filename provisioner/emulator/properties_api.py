"""Deal properties, with HubSpot's checks and answers: create (restoring an archived name), read, list,
update, archive, and the batch create, read and archive."""

from __future__ import annotations

from urllib.parse import quote

from provisioner.emulator.call import Call
from provisioner.emulator.groups_api import NAME
from provisioner.emulator.wire import batch_error, error, iso, not_found, now_ms, validation_error

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
NAME_EXISTS = "Properties.PROPERTY_WITH_NAME_EXISTS"
AUDIT_FIELDS = frozenset({"createdAt", "updatedAt", "createdUserId", "updatedUserId"})


def exists_message(name: str) -> str:
    return f"A property named '{name}' already exists."


def _now() -> str:
    return iso(now_ms())


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


def visible_property(call: Call, name: str, archived: bool) -> dict | None:
    prop = call.portal.seen("property", name, call.portal.properties.get(name))
    if prop is None or (prop["archived"] and not archived):
        return None
    return prop


def get_property(call: Call, name: str):
    prop = visible_property(call, name, call.flag("archived"))
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
    call.reject_unknown({k: v for k, v in body.items() if k not in IMMUTABLE}, UPDATE_FIELDS, "PropertyUpdate")
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
        prop = visible_property(call, name, archived) if isinstance(name, str) else None
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
