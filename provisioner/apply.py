"""Executing a Plan: exactly its changes, in the order the plan shows them, then a read-back.

The plan was sorted once where it was made (groups, properties, rules, archives); apply never
re-sorts. Consecutive property creates go in one batch request (the client splits it at HubSpot's
limit). A create that meets a 409 lost a race with another apply: it reads the object and updates
what differs.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from provisioner.changes import (
    GROUP_MANAGED,
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
from provisioner.errors import ApplyError, ConflictError, NotFoundError, ProvisionerError
from provisioner.hubspot.client import HubSpotClient
from provisioner.hubspot.live import read_schema
from provisioner.model import SchemaState
from provisioner.plan import Plan

log = logging.getLogger(__name__)
EXISTS = "OBJECT_ALREADY_EXISTS"  # HubSpot's category for an input naming a property that exists
T = TypeVar("T")
# How long an object a 409 says exists may stay invisible (HubSpot's lag is 250-700 ms).
VISIBLE_WITHIN_S = 10.0


class _Applier:
    """Walks the plan's changes in the order the plan shows them; consecutive creates go in one batch."""

    def __init__(self, client: HubSpotClient, *, sleep: Callable[[float], None], clock: Callable[[], float],
                 visible_within_s: float) -> None:
        self.client = client
        self.done: list[str] = []
        self.sleep = sleep
        self.clock = clock
        self.visible_within_s = visible_within_s

    def until_visible(self, call: Callable[[], T], what: str) -> T:
        """``call`` again while it meets a 404: an object another apply just created (its 409 said so)
        takes HubSpot a moment to show (read-after-write lag); after ``visible_within_s``, the 404 stands."""
        deadline = self.clock() + self.visible_within_s
        delay = 0.1
        while True:
            try:
                return call()
            except NotFoundError:
                if self.clock() + delay > deadline:
                    raise
                log.info("Detected %s not visible yet after its 409 (read-after-write lag); reading again", what)
                self.sleep(delay)
                delay = min(delay * 2, 1.0)

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
            changes = {"label": group.label, **_order(group.display_order)}
            self.until_visible(lambda: self.client.update_group(group.name, changes), f"group '{group.name}'")
        self.done.append(f"created group '{change.key}'")

    def update_group(self, change: Change) -> None:
        self.client.update_group(change.key, {name: change.after[name] for name in change.fields})
        self.done.append(f"updated group '{change.key}' ({', '.join(change.fields)})")

    def restore_property(self, change: Change) -> None:
        prop = property_from_fields(change.after)
        try:
            restored = self.client.create_property(prop)
        except ConflictError:  # restored meanwhile (a racing apply): converge on it
            read = functools.partial(self.client.get_property, prop.name)
            restored = self.until_visible(read, f"property '{prop.name}'")
        self._converge(prop.name, property_fields(restored.property), change.after)
        self.done.append(f"restored property '{change.key}'")

    def update_property(self, change: Change) -> None:
        self.client.update_property(change.key, _property_changes(change.after, change.fields))
        self.done.append(f"updated property '{change.key}' ({', '.join(change.fields)})")

    def set_rule(self, change: Change) -> None:
        self.client.put_validation_rule(rule_from_fields(change.after))
        self.done.append(f"set rule {change.key} {list(change.after['arguments'])}")

    def archive_property(self, change: Change) -> None:
        try:
            self.client.archive_property(change.key)
        except NotFoundError:  # archived meanwhile (a racing apply): what the plan wanted holds
            log.info("Detected property '%s' already archived; nothing to do", change.key)
        self.done.append(f"archived property '{change.key}'")

    def _create_properties(self, creates: tuple[Change, ...]) -> None:
        """New properties in batch calls (100 a request); those HubSpot names as existing already are
        read and updated; any other it did not create is created one by one."""
        props = [property_from_fields(c.after) for c in creates]
        created: set[str] = set()
        existing: set[str] = set()
        try:
            results, failures = self.client.batch_create_properties(props)
            created = {item.property.name for item in results}
            existing = {name for failure in failures if failure.category == EXISTS for name in failure.names}
            for failure in failures:
                log.info("Detected a failed batch input %s: %s", ", ".join(failure.names), failure.message)
        except ConflictError:  # a request refused whole: nothing tells which exist
            log.info("Detected a property that already exists; creating one by one")
        for prop in props:
            if prop.name in existing:
                self._adopt(prop)
            elif prop.name not in created:
                try:
                    self.client.create_property(prop)
                except ConflictError:  # created meanwhile
                    self._adopt(prop)
            self.done.append(f"created property '{prop.name}'")

    def _adopt(self, prop) -> None:
        """A property created meanwhile (a racing apply): read it and update what differs."""
        read = functools.partial(self.client.get_property, prop.name)
        current = self.until_visible(read, f"property '{prop.name}'")
        self._converge(prop.name, property_fields(current.property), property_fields(prop))

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


def apply_plan(client: HubSpotClient, plan: Plan, *, sleep: Callable[[float], None] = time.sleep,
               clock: Callable[[], float] = time.monotonic, visible_within_s: float = VISIBLE_WITHIN_S) -> list[str]:
    """Make the plan's writes in the order the plan shows; on a failure, say what was done and what was not."""
    changes = plan.changes
    applier = _Applier(client, sleep=sleep, clock=clock, visible_within_s=visible_within_s)
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


def shows_done(change: Change, schema: SchemaState) -> bool:
    """Whether the portal shows the change done, by the same comparison the plan was made with."""
    if isinstance(change, (CreateGroup, UpdateGroup)):
        group = schema.groups.get(change.key)
        return group is not None and not changed_fields(change.after, group_fields(group), GROUP_MANAGED)
    if isinstance(change, ArchiveProperty):
        return change.key not in schema.properties
    if isinstance(change, (SetRule, ChangeRule)):
        rule = schema.rules.get(tuple(change.key.split("/", 1)))
        return rule is not None and rule_fields(rule) == dict(change.after)
    prop = schema.properties.get(change.key)
    return prop is not None and not changed_fields(change.after, property_fields(prop), PROPERTY_MANAGED)


def verify_applied(
    client: HubSpotClient, plan: Plan, *, attempts: int = 6, delay_s: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Read the portal back until every change shows (HubSpot lags 250-700 ms); return what never did."""
    missing: list[str] = []
    for attempt in range(attempts):
        schema, _ = read_schema(client)
        missing = [change.address for change in plan.changes if not shows_done(change, schema)]
        if not missing:
            return []
        if attempt + 1 < attempts:
            log.info("Read-back does not show %d change(s) yet; reading again", len(missing))
            sleep(delay_s * (attempt + 1))
    return missing
