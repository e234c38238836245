"""The portal: groups, deal properties, validation rules, deals, and the settings only a person sets.

Every change marks what it touched in ``dirty`` so the store can write exactly that, and, when
read-after-write lag is on, keeps the previous version visible for a while.
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable

from provisioner.emulator.wire import iso

FIRST_DEAL_ID = 10_000_000_001
READ_ONLY_VALUES = frozenset({"hs_object_id", "hs_lastmodifieddate"})
ALWAYS_RETURNED = ("createdate", "hs_lastmodifieddate", "hs_object_id")
DEFAULT_DEAL_PROPERTIES = ("amount", "closedate", "createdate", "dealname", "dealstage",
                           "hs_lastmodifieddate", "hs_object_id", "pipeline")
ACCESS_LEVELS = ("view_only", "view_and_edit")
_BUILT_AT = "2019-08-06T02:43:01.214Z"


class Deal:
    """A deal record; hs_object_id, createdate and hs_lastmodifieddate are derived, not stored."""

    __slots__ = ("created", "updated", "props", "archived")

    def __init__(self, created: int, updated: int, props: dict[str, str], archived: bool = False) -> None:
        self.created = created
        self.updated = updated
        self.props = props
        self.archived = archived

    def copy(self) -> Deal:
        return Deal(self.created, self.updated, dict(self.props), self.archived)

    def as_json(self, deal_id: str, names) -> dict:
        created, updated, props = iso(self.created), iso(self.updated), self.props
        derived = {"hs_object_id": deal_id, "createdate": created, "hs_lastmodifieddate": updated}
        return {
            "id": deal_id,
            "properties": {name: derived[name] if name in derived else props.get(name) for name in names},
            "createdAt": created,
            "updatedAt": updated,
            "archived": self.archived,
        }


def _hubspot_property(name, label, kind, field_type, group, order, *, options=(), read_only=False,
                      description="") -> dict:
    return {
        "name": name, "label": label, "type": kind, "fieldType": field_type, "description": description,
        "groupName": group, "options": [
            {"label": o_label, "value": value, "displayOrder": i, "hidden": False}
            for i, (o_label, value) in enumerate(options)
        ],
        "displayOrder": order, "calculated": False, "externalOptions": False, "hasUniqueValue": False,
        "hidden": False, "hubspotDefined": True, "formField": False, "archived": False,
        "createdAt": _BUILT_AT, "updatedAt": _BUILT_AT, "dataSensitivity": "non_sensitive",
        "modificationMetadata": {"archivable": False, "readOnlyDefinition": True, "readOnlyValue": read_only},
    }


def default_groups() -> dict[str, dict]:
    return {
        "dealinformation": {"name": "dealinformation", "label": "Deal information", "displayOrder": 0,
                            "archived": False},
        "deal_activity": {"name": "deal_activity", "label": "Deal activity", "displayOrder": 1, "archived": False},
    }


def default_properties() -> dict[str, dict]:
    stages = [("Appointment Scheduled", "appointmentscheduled"), ("Qualified To Buy", "qualifiedtobuy"),
              ("Presentation Scheduled", "presentationscheduled"), ("Decision Maker Bought-In",
              "decisionmakerboughtin"), ("Contract Sent", "contractsent"), ("Closed Won", "closedwon"),
              ("Closed Lost", "closedlost")]
    props = [
        _hubspot_property("dealname", "Deal Name", "string", "text", "dealinformation", 0),
        _hubspot_property("amount", "Amount", "number", "number", "dealinformation", 1),
        _hubspot_property("dealstage", "Deal Stage", "enumeration", "radio", "dealinformation", 2, options=stages),
        _hubspot_property("pipeline", "Pipeline", "enumeration", "select", "dealinformation", 3,
                          options=[("Sales Pipeline", "default")]),
        _hubspot_property("closedate", "Close Date", "datetime", "date", "dealinformation", 4),
        _hubspot_property("createdate", "Create Date", "datetime", "date", "dealinformation", 5),
        _hubspot_property("dealtype", "Deal Type", "enumeration", "radio", "dealinformation", 6,
                          options=[("New Business", "newbusiness"), ("Existing Business", "existingbusiness")]),
        _hubspot_property("description", "Deal Description", "string", "textarea", "dealinformation", 7),
        _hubspot_property("hs_lastmodifieddate", "Last Modified Date", "datetime", "date", "dealinformation", -1,
                          read_only=True),
        _hubspot_property("hs_object_id", "Record ID", "number", "number", "dealinformation", -1, read_only=True),
        _hubspot_property("notes_last_updated", "Last Activity Date", "datetime", "date", "deal_activity", -1,
                          read_only=True),
    ]
    return {p["name"]: p for p in props}


class Portal:
    """The portal's data. ``deals`` is loaded on first use when a store holds many of them."""

    def __init__(self, *, lag: tuple[float, float] = (0.0, 0.0), seed: int = 0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.lag = lag
        self._lag_rng = random.Random(seed + 1)
        self._clock = clock
        self.dirty: set[tuple[str, str]] = set()
        self._deal_loader: Callable[[], tuple[dict[str, Deal], int]] | None = None
        self.clear()

    def clear(self) -> None:
        self.groups: dict[str, dict] = default_groups()
        self.properties: dict[str, dict] = default_properties()
        self.rules: dict[str, dict[str, list[str]]] = {}
        self._deals: dict[str, Deal] | None = {}
        self._deal_order: list[int] | None = []  # ids ascending, for paging without sorting
        self.next_deal_id = FIRST_DEAL_ID
        self.ui_access: dict[str, str] = {}
        self.ui_sidebar: list[dict] = []
        self.stale: dict[tuple[str, str], tuple[object, float]] = {}
        self._deal_loader = None

    # ---- deals, loaded lazily -------------------------------------------------------------------
    def load_deals_with(self, loader: Callable[[], tuple[dict[str, Deal], int]]) -> None:
        self._deals = None
        self._deal_order = None
        self._deal_loader = loader

    @property
    def deals(self) -> dict[str, Deal]:
        if self._deals is None:
            assert self._deal_loader is not None
            self._deals, stored_next = self._deal_loader()
            self._deal_order = sorted(int(deal_id) for deal_id in self._deals)
            self.next_deal_id = max(self.next_deal_id, stored_next)
        return self._deals

    @property
    def deal_order(self) -> list[int]:
        self.deals  # noqa: B018 - loads them (and their order) if needed
        assert self._deal_order is not None
        return self._deal_order

    def add_deal(self, deal_id: str, deal: Deal) -> None:
        self.touch("deal", deal_id, None)
        self.deals[deal_id] = deal
        self.deal_order.append(int(deal_id))  # ids only grow, so the list stays sorted

    def new_deal_id(self) -> str:
        self.deals  # noqa: B018 - make sure the stored counter is known before handing out an id
        deal_id = str(self.next_deal_id)
        self.next_deal_id += 1
        self.dirty.add(("meta", "next_deal_id"))
        return deal_id

    # ---- change tracking and read-after-write lag -----------------------------------------------------
    def touch(self, kind: str, key: str, before: object) -> None:
        """Record that ``kind``/``key`` is about to change from ``before`` (None: did not exist)."""
        self.dirty.add((kind, key))
        if self.lag[1] <= 0:
            return
        if (kind, key) in self.stale and self.stale[(kind, key)][1] > self._clock():
            return  # the version readers see is still the older one
        if isinstance(before, Deal):
            before = before.copy()
        elif before is not None:
            before = copy.deepcopy(before)
        self.stale[(kind, key)] = (before, self._clock() + self._lag_rng.uniform(*self.lag))
        if len(self.stale) > 50_000:
            now = self._clock()
            self.stale = {k: v for k, v in self.stale.items() if v[1] > now}

    def seen(self, kind: str, key: str, current):
        """What a reader sees now: the previous version while the write is still propagating."""
        if not self.stale:
            return current
        entry = self.stale.get((kind, key))
        if entry is None:
            return current
        if entry[1] <= self._clock():
            del self.stale[(kind, key)]
            return current
        return entry[0]

    def seen_keys(self, kind: str, current: dict) -> list[str]:
        keys = list(current)
        if self.stale:
            keys += [k for (stale_kind, k) in self.stale if stale_kind == kind and k not in current]
        return keys
