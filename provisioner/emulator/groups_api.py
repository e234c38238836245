"""Property groups: list, read, create, update, archive (refused while a group holds active properties)."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

from provisioner.emulator.call import Call
from provisioner.emulator.wire import correlation_id, error, not_found, validation_error

NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _display_order(value, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise validation_error(f"{where} must be an integer", [(f"{where} must be an integer", "INVALID_INTEGER",
                                                                 "displayOrder")])
    return value


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


def create_group(call: Call):
    body = call.json_object()
    call.reject_unknown(body, {"name", "label", "displayOrder"}, "PropertyGroupCreate")
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
    call.reject_unknown(body, {"label", "displayOrder", "name"}, "PropertyGroupUpdate")
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
