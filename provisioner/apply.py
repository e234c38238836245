"""Executing a Plan: exactly its changes, in the order the plan shows them, then a read-back.

The plan was sorted once where it was made (groups, properties, rules, archives); apply never
re-sorts. Consecutive property creates go in one batch request (the client splits it at HubSpot's
limit). A create that meets a 409 lost a race with another apply: it reads the object and updates
what differs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from provisioner.changes import (
    PROPERTY_MANAGED,
    ArchiveProperty,
    Change,
    ChangeRule,
    CreateGroup,
    CreateProperty,
    RestoreProperty,
    RetypeProperty,
    SetRule,
    UpdateGroup,
    UpdateProperty,
    changed_fields,
    group_fields,
    group_from_fields,
    property_fields,
    property_from_fields,
    rule_fields,
    rule_from_fields,
)
from provisioner.errors import ApplyError, ConflictError, ProvisionerError, StalePlanError, UnsafeChangeError
from provisioner.hubspot.client import HubSpotClient
from provisioner.hubspot.live import read_schema
from provisioner.model import Config, LiveState, SchemaState
from provisioner.plan import Plan

log = logging.getLogger(__name__)


def check_allowed(plan: Plan, *, allow_archive: bool, allow_type_change: bool) -> None:
    """Refuse a plan that holds a change needing an explicit flag."""
    risky = [c.key for c in plan.changes if c.risky]
    if risky and not allow_type_change:
        raise UnsafeChangeError(
            "the plan changes the type of " + ", ".join(f"'{k}'" for k in risky) + "; HubSpot converts or "
            "clears existing values",
            hint="review the plan, then apply with --allow-type-change",
        )
    archives = [c.key for c in plan.changes if isinstance(c, ArchiveProperty)]
    if archives and not allow_archive:
        raise UnsafeChangeError(
            "the plan archives " + ", ".join(f"'{k}'" for k in archives),
            hint="review the plan, then apply with --allow-archive",
        )


def check_fresh(plan: Plan, config: Config, live: LiveState, current: Plan) -> None:
    """Refuse a saved plan when the file, the portal or any object it touches moved since."""
    if plan.portal_id != live.portal_id:
        raise StalePlanError(
            f"the saved plan was made for portal {plan.portal_id}, but this is portal {live.portal_id}",
            hint="apply it with the credentials of the portal it was made for",
        )
    if plan.config_digest != config.digest:
        raise StalePlanError(
            f"{config.path} changed since the plan was made", hint="run plan again and review the new plan"
        )
    moved = sorted(
        key for key, value in plan.fingerprints.items() if current.fingerprints.get(key, value) != value
    ) + sorted(set(current.fingerprints) - set(plan.fingerprints))
    if moved:
        raise StalePlanError(
            "the portal changed since the plan was made: " + ", ".join(moved),
            hint="run plan again and review the new plan",
        )


class _Applier:
    """Walks the plan's changes in the order the plan shows them; consecutive creates go in one batch."""

    def __init__(self, client: HubSpotClient) -> None:
        self.client = client
        self.done: list[str] = []

    def run(self, changes: tuple[Change, ...]) -> None:
        index = 0
        while index < len(changes):
            end = index
            while end < len(changes) and isinstance(changes[end], CreateProperty):
                end += 1
            if end > index:
                self._create_properties(changes[index:end])
                index = end
                continue
            change = changes[index]
            _HANDLERS[type(change)](self, change)
            index += 1

    def create_group(self, change: Change) -> None:
        group = group_from_fields(change.after)
        try:
            self.client.create_group(group)
        except ConflictError:  # created meanwhile (a racing apply): converge on it
            self.client.update_group(group.name, {"label": group.label, **_order(group.display_order)})
        self.done.append(f"created group '{change.key}'")

    def update_group(self, change: Change) -> None:
        self.client.update_group(change.key, {name: change.after[name] for name in change.fields})
        self.done.append(f"updated group '{change.key}' ({', '.join(change.fields)})")

    def restore_property(self, change: Change) -> None:
        prop = property_from_fields(change.after)
        restored = self.client.create_property(prop)
        self._converge(prop.name, property_fields(restored.property), change.after)
        self.done.append(f"restored property '{change.key}'")

    def update_property(self, change: Change) -> None:
        self.client.update_property(change.key, _property_changes(change.after, change.fields))
        self.done.append(f"updated property '{change.key}' ({', '.join(change.fields)})")

    def set_rule(self, change: Change) -> None:
        self.client.put_validation_rule(rule_from_fields(change.after))
        self.done.append(f"set rule {change.key} {list(change.after['arguments'])}")

    def archive_property(self, change: Change) -> None:
        self.client.archive_property(change.key)
        self.done.append(f"archived property '{change.key}'")

    def _create_properties(self, creates: tuple[Change, ...]) -> None:
        """New properties in one batch call; what it did not create is created one by one."""
        props = [property_from_fields(c.after) for c in creates]
        created: set[str] = set()
        try:
            results, failures = self.client.batch_create_properties(props)
            created = {item.property.name for item in results}
            for failure in failures:
                log.info("Detected a failed batch input: %s", failure.message)
        except ConflictError:
            log.info("Detected a property that already exists; creating one by one")
        for prop in props:
            if prop.name in created:
                self.done.append(f"created property '{prop.name}'")
                continue
            try:
                self.client.create_property(prop)
            except ConflictError:  # created meanwhile: read it and update what differs
                current = self.client.get_property(prop.name)
                self._converge(prop.name, property_fields(current.property), property_fields(prop))
            self.done.append(f"created property '{prop.name}'")

    def _converge(self, name: str, live: dict[str, Any], desired: dict[str, Any]) -> None:
        """Update what differs from the desired fields (after a restore, or a create that lost a race)."""
        fields = changed_fields(desired, live, PROPERTY_MANAGED)
        if fields:
            self.client.update_property(name, _property_changes(desired, fields))


_HANDLERS: dict[type[Change], Callable[[_Applier, Change], None]] = {
    CreateGroup: _Applier.create_group,
    UpdateGroup: _Applier.update_group,
    RestoreProperty: _Applier.restore_property,
    UpdateProperty: _Applier.update_property,
    RetypeProperty: _Applier.update_property,
    SetRule: _Applier.set_rule,
    ChangeRule: _Applier.set_rule,
    ArchiveProperty: _Applier.archive_property,
}


def _order(value: int | None) -> dict[str, int]:
    return {} if value is None else {"display_order": value}


def _property_changes(after: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    prop = property_from_fields(after)
    return {name: getattr(prop, name) for name in fields}


def apply_plan(client: HubSpotClient, plan: Plan) -> list[str]:
    """Make the plan's writes in the order the plan shows; on a failure, say what was done and what was not."""
    changes = plan.changes
    applier = _Applier(client)
    try:
        applier.run(changes)
    except ProvisionerError as exc:
        finished = len(applier.done)
        remaining = [f"{c.action} {c.address}" for c in changes][finished:]
        raise ApplyError(
            f"apply stopped: {exc}",
            applier.done,
            remaining,
            hint="nothing was rolled back; run apply again to finish (it picks up where this stopped)",
        ) from exc
    return applier.done


def _matches(change: Change, schema: SchemaState) -> bool:
    """Whether the portal shows the change done."""
    if isinstance(change, (CreateGroup, UpdateGroup)):
        group = schema.groups.get(change.key)
        return group is not None and _subset(change.after, group_fields(group))
    if isinstance(change, ArchiveProperty):
        return change.key not in schema.properties
    if isinstance(change, (SetRule, ChangeRule)):
        rule = schema.rules.get(tuple(change.key.split("/", 1)))
        return rule is not None and rule_fields(rule) == change.after
    prop = schema.properties.get(change.key)
    return prop is not None and _subset(change.after, property_fields(prop))


def _subset(desired: dict[str, Any], live: dict[str, Any]) -> bool:
    return all(value == live[key] for key, value in desired.items() if value is not None)


def verify_applied(
    client: HubSpotClient, plan: Plan, *, attempts: int = 6, delay_s: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Read the portal back until every change shows (HubSpot lags 250-700 ms); return what never did."""
    missing: list[str] = []
    for attempt in range(attempts):
        schema, _ = read_schema(client)
        missing = [change.address for change in plan.changes if not _matches(change, schema)]
        if not missing:
            return []
        if attempt + 1 < attempts:
            log.info("Read-back does not show %d change(s) yet; reading again", len(missing))
            sleep(delay_s * (attempt + 1))
    return missing
