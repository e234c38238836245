"""Schema endpoints: deal property groups, properties and their validation rules."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from provisioner import errors
from provisioner.hubspot.batching import chunks
from provisioner.hubspot.endpoints import Endpoints
from provisioner.hubspot.wire import (
    GROUP_FIELDS,
    PROPERTY_FIELDS,
    BatchError,
    LiveProperty,
    batch_errors_from_json,
    group_from_json,
    live_property_from_json,
    option_payload,
    property_payload,
    results_of,
    rule_from_json,
)
from provisioner.model import Group, Property, ValidationRule


class SchemaEndpoints(Endpoints):
    # ---- groups ----------------------------------------------------------------------------------
    def list_groups(self) -> list[Group]:
        body = self.request("GET", self.paths.properties("/groups"))
        return [group_from_json(item) for item in results_of(body, "groups")]

    def create_group(self, group: Group) -> Group:
        payload: dict[str, Any] = {"name": group.name, "label": group.label}
        if group.display_order is not None:
            payload["displayOrder"] = group.display_order
        return group_from_json(self.request("POST", self.paths.properties("/groups"), body=payload))

    def update_group(self, name: str, changes: dict[str, Any]) -> Group:
        payload = {GROUP_FIELDS[key]: value for key, value in changes.items()}
        path = self.paths.properties(f"/groups/{quote(name, safe='')}")
        return group_from_json(self.request("PATCH", path, body=payload))

    # ---- properties ------------------------------------------------------------------------------
    def list_properties(self, archived: bool = False) -> list[LiveProperty]:
        body = self.request("GET", self.paths.properties(), params={"archived": "true" if archived else "false"})
        return [live_property_from_json(item) for item in results_of(body, "properties")]

    def get_property(self, name: str, archived: bool = False) -> LiveProperty:
        params = {"archived": "true"} if archived else None
        return live_property_from_json(self.request("GET", self.paths.property(name), params=params))

    def create_property(self, prop: Property) -> LiveProperty:
        return live_property_from_json(self.request("POST", self.paths.properties(), body=property_payload(prop)))

    def batch_create_properties(self, props: Iterable[Property]) -> tuple[list[LiveProperty], list[BatchError]]:
        """Create properties, 100 a request; per-input failures (207) come back as BatchErrors naming them
        (``names``, from HubSpot's ``context.name``)."""
        created: list[LiveProperty] = []
        failures: list[BatchError] = []
        for part in chunks(list(props)):
            body = self.request("POST", self.paths.properties("/batch/create"),
                                body={"inputs": [property_payload(p) for p in part]})
            created.extend(live_property_from_json(item) for item in results_of(body, "properties"))
            failures.extend(batch_errors_from_json(body))
        return created, failures

    def update_property(self, name: str, changes: dict[str, Any]) -> LiveProperty:
        """PATCH only the given managed fields (model field names) of a property."""
        payload = {}
        for key, value in changes.items():
            if key == "options":
                value = [option_payload(option) for option in value]
            payload[PROPERTY_FIELDS[key]] = value
        return live_property_from_json(self.request("PATCH", self.paths.property(name), body=payload))

    def archive_property(self, name: str) -> None:
        self.request("DELETE", self.paths.property(name))

    def batch_archive_properties(self, names: Iterable[str]) -> None:
        """Archive properties, 100 a request (HubSpot answers 204, whatever was already archived)."""
        for part in chunks(list(names)):
            self.request("POST", self.paths.properties("/batch/archive"),
                         body={"inputs": [{"name": name} for name in part]})

    # ---- validation rules --------------------------------------------------------------------
    def list_validation_rules(self) -> list[ValidationRule]:
        rules = []
        for item in results_of(self.request("GET", self.paths.rules()), "validation rules"):
            if not isinstance(item, dict):
                raise errors.ApiError(f"unexpected validation rule entry {type(item).__name__}",
                                      method="GET", path=self.paths.rules(), status=200)
            for rule in item.get("propertyValidationRules") or []:
                rules.append(rule_from_json(item.get("propertyName"), rule))
        return rules

    def put_validation_rule(self, rule: ValidationRule) -> None:
        path = self.paths.rules(f"/{quote(rule.property_name, safe='')}/rule-type/{quote(rule.rule_type, safe='')}")
        self.request("PUT", path, body={"ruleArguments": list(rule.arguments), "shouldApplyNormalization": False})
