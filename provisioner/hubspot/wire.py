"""HubSpot's JSON and the project's types: the conversions at the client's edge.

Bodies from HubSpot become the project's types here (and payloads are built from them), so the
core never sees a raw dict from the API. Every field HubSpot documents as required is checked;
a body that lacks one is an ApiError, never a KeyError.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from provisioner import errors
from provisioner.logs import redact
from provisioner.model import Group, Option, Property, ValidationRule


@dataclass(frozen=True)
class Record:
    """A CRM record as HubSpot returned it (values are strings)."""

    id: str
    properties: dict[str, str | None]
    updated_at: str | None = None
    url: str | None = None  # the record's page in HubSpot (object batch answers carry it)


@dataclass(frozen=True)
class BatchError:
    """One failed part of a batch call (207 or 2026-09 style errors).

    Record batches name the failed inputs by id (``context.ids``); property batch create names them by
    property name (``context.name``, a list, as live HubSpot answers).
    """

    status: str
    category: str
    message: str
    ids: tuple[str, ...] = ()
    sub_category: str | None = None
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class BatchResult:
    status: int
    results: list[Record]
    errors: list[BatchError]


@dataclass(frozen=True)
class AccountDetails:
    portal_id: int
    account_type: str
    time_zone: str | None = None


@dataclass(frozen=True)
class LiveProperty:
    """A property as read from the portal, with the facts the diff needs beyond its fields."""

    property: Property
    hubspot_defined: bool = False
    archived: bool = False


GROUP_FIELDS = {"label": "label", "display_order": "displayOrder"}
PROPERTY_FIELDS = {
    "label": "label",
    "description": "description",
    "type": "type",
    "field_type": "fieldType",
    "group_name": "groupName",
    "display_order": "displayOrder",
    "options": "options",
}


def option_payload(option: Option) -> dict[str, Any]:
    return {
        "label": option.label,
        "value": option.value,
        "displayOrder": option.display_order,
        "hidden": option.hidden,
    }


def property_payload(prop: Property) -> dict[str, Any]:
    """The PropertyCreate body for a property."""
    payload: dict[str, Any] = {
        "name": prop.name,
        "label": prop.label,
        "type": prop.type,
        "fieldType": prop.field_type,
        "groupName": prop.group_name,
        "description": prop.description,
    }
    if prop.display_order is not None:
        payload["displayOrder"] = prop.display_order
    if prop.options:
        payload["options"] = [option_payload(option) for option in prop.options]
    return payload


def group_from_json(item: Any) -> Group:
    try:
        order = item.get("displayOrder")
        return Group(name=item["name"], label=item["label"], display_order=None if order is None else int(order))
    except (KeyError, TypeError, ValueError, AttributeError):
        raise malformed("GET", "property group", item) from None


def live_property_from_json(item: Any) -> LiveProperty:
    try:
        order = item.get("displayOrder")
        prop = Property(
            name=item["name"],
            label=item["label"],
            type=item["type"],
            field_type=item["fieldType"],
            group_name=item["groupName"],
            description=item.get("description") or "",
            display_order=None if order is None else int(order),
            options=tuple(
                Option(
                    label=o["label"],
                    value=o["value"],
                    display_order=int(o.get("displayOrder") or 0),
                    hidden=bool(o.get("hidden", False)),
                )
                for o in item.get("options") or []
            ),
        )
        return LiveProperty(prop, bool(item.get("hubspotDefined", False)), bool(item.get("archived", False)))
    except (KeyError, TypeError, ValueError, AttributeError):
        raise malformed("GET", "property", item) from None


def rule_from_json(name: Any, rule: Any) -> ValidationRule:
    try:
        return ValidationRule(
            property_name=str(name),
            rule_type=str(rule["ruleType"]),
            arguments=tuple(str(a) for a in rule.get("ruleArguments") or []),
        )
    except (KeyError, TypeError, AttributeError):
        raise malformed("GET", "validation rule", rule) from None


def record_from_json(item: Any) -> Record:
    """A record of an object batch answer: ``id`` is required, ``properties`` (strings or null) a map
    if present; ``updatedAt`` and ``url`` are read where they are strings, as live answers carry them."""
    record_id = item.get("id") if isinstance(item, dict) else None
    properties = item.get("properties", {}) if isinstance(item, dict) else None
    if not isinstance(record_id, (str, int)) or isinstance(record_id, bool) or not isinstance(properties, dict):
        raise malformed("GET", "record", item)
    if not all(type(value) is str for value in properties.values()):  # else: JSON's keys are text already
        if not all(value is None or isinstance(value, (str, int, float)) for value in properties.values()):
            raise malformed("GET", "record", item)
        properties = {str(k): None if v is None else str(v) for k, v in properties.items()}
    updated, url = item.get("updatedAt"), item.get("url")
    return Record(id=str(record_id), properties=properties,
                  updated_at=updated if isinstance(updated, str) else None, url=url if isinstance(url, str) else None)


def _names(value: Any) -> tuple[str, ...]:
    """A context entry that is one name or a list of them (HubSpot sends both)."""
    if isinstance(value, (str, int)):
        return (str(value),)
    if isinstance(value, list):
        return tuple(str(item) for item in value if isinstance(item, (str, int)))
    return ()


def batch_errors_from_json(body: Any) -> list[BatchError]:
    items = body.get("errors") if isinstance(body, dict) else None
    out = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        context = item.get("context") if isinstance(item.get("context"), dict) else {}
        sub_category = item.get("subCategory")
        out.append(
            BatchError(
                status=str(item.get("status", "error")),
                category=str(item.get("category", "")),
                message=str(item.get("message", "")),
                ids=_names(context.get("ids")) or _names(context.get("id")),
                sub_category=None if sub_category is None else str(sub_category),
                names=_names(context.get("name")) or _names(context.get("names")),
            )
        )
    return out


def account_from_json(body: Any) -> AccountDetails:
    try:
        zone = body.get("timeZone")
        return AccountDetails(portal_id=int(body["portalId"]), account_type=str(body.get("accountType", "")),
                              time_zone=None if zone is None else str(zone))
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError):  # portalId may be 1e400 (inf)
        raise malformed("GET", "account details", body) from None


def batch_result_from_json(body: Any) -> BatchResult:
    failed = isinstance(body, dict) and (body.get("numErrors") or body.get("errors"))
    status = HTTPStatus.MULTI_STATUS if failed else HTTPStatus.OK
    records = [record_from_json(item) for item in results_of(body, "records")]
    return BatchResult(status=status, results=records, errors=batch_errors_from_json(body))


def results_of(body: Any, what: str) -> list:
    results = body.get("results") if isinstance(body, dict) else None
    if not isinstance(results, list):
        raise malformed("GET", what, body)
    return results


def malformed(method: str, what: str, body: Any) -> errors.ApiError:
    try:
        snippet = json.dumps(body)[:200] if body is not None else "nothing"
    except (TypeError, ValueError, RecursionError):
        snippet = type(body).__name__
    return errors.ApiError(f"unexpected {what} in HubSpot's answer: {redact(snippet)}", method=method, path="",
                           status=HTTPStatus.OK)
