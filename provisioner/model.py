"""The project's own types for a portal's schema: the same types describe the file and the portal.

Desired state (from hubspot_schema.yaml) and live state (read from HubSpot) are both a
``SchemaState``; ``diff`` compares the two. Only fields this tool manages appear here:
timestamps, user ids and HubSpot's own flags stay at the client's edge.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

# The value sync's store unless the file names one (relative to the config file).
DEFAULT_STORE = ".provisioner/sync.sqlite"

OBJECT_TYPE = "deals"
OBJECT_TYPE_ID = "0-3"
# HubSpot API path families: the date-versioned one and the older /v3/ one. The default, unless a
# flag, HUBSPOT_API_VERSION or the file says otherwise, is the date-versioned one.
API_VERSIONS = ("2026-03", "v3")
DEFAULT_API_VERSION = API_VERSIONS[0]

# HubSpot's valid (type, fieldType) pairs.
FIELD_TYPES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "string": frozenset({"text", "textarea", "html", "phonenumber", "file", "calculation_equation"}),
        "number": frozenset({"number", "calculation_equation"}),
        "bool": frozenset({"booleancheckbox"}),
        "enumeration": frozenset({"select", "radio", "checkbox", "booleancheckbox"}),
        "date": frozenset({"date"}),
        "datetime": frozenset({"date"}),
    }
)

# Validation rule types this tool manages, and which (type, fieldType) they fit.
RULE_TYPES: Mapping[str, frozenset[tuple[str, str]]] = MappingProxyType(
    {
        "MAX_LENGTH": frozenset({("string", "text"), ("string", "textarea"), ("string", "phonenumber")}),
        "MIN_LENGTH": frozenset({("string", "text"), ("string", "textarea"), ("string", "phonenumber")}),
        "MIN_NUMBER": frozenset({("number", "number")}),
        "MAX_NUMBER": frozenset({("number", "number")}),
        "DECIMAL": frozenset({("number", "number")}),
        "REGEX": frozenset({("string", "text"), ("string", "textarea")}),
        "URL": frozenset({("string", "text")}),
    }
)

ACCORD_FIELDS = (
    "URL",
    "STATUS",
    "STAGE_NAME",
    "CUSTOMER_INVITED_COUNT",
    "CUSTOMER_ACCEPTED_COUNT",
    "PROGRESS",
    "EXECUTION_SCORE",
)

TRIGGER_EVENTS = (
    "accord_viewed",
    "accord_created",
    "accord_duplicated",
    "stage_created",
    "stage_deleted",
    "step_created",
    "step_deleted",
    "step_updated",
    "stakeholder_added",
    "customer_accepted",
    "member_added",
)


def _frozen(mapping: Mapping | None) -> Mapping:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Group:
    name: str
    label: str
    # None: not managed (the file does not say, so any live value is fine).
    display_order: int | None = None


@dataclass(frozen=True)
class Option:
    label: str
    value: str
    display_order: int = 0
    hidden: bool = False


@dataclass(frozen=True)
class Property:
    name: str
    label: str
    type: str
    field_type: str
    group_name: str
    description: str = ""
    # None: not managed.
    display_order: int | None = None
    options: tuple[Option, ...] = ()


@dataclass(frozen=True)
class ValidationRule:
    property_name: str
    rule_type: str  # HubSpot's ruleType, e.g. "MAX_LENGTH"
    arguments: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        return (self.property_name, self.rule_type)


@dataclass(frozen=True)
class SchemaState:
    """Groups, properties and validation rules of the deal object, keyed by natural keys."""

    groups: Mapping[str, Group] = field(default_factory=dict)
    properties: Mapping[str, Property] = field(default_factory=dict)
    rules: Mapping[tuple[str, str], ValidationRule] = field(default_factory=dict)
    # Live state only: properties in HubSpot's recycle bin, by name.
    archived_properties: Mapping[str, Property] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("groups", "properties", "rules", "archived_properties"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))


@dataclass(frozen=True)
class LiveState:
    """What was read from the portal: its id and its schema."""

    portal_id: int
    schema: SchemaState
    # Names of properties HubSpot itself defines (never managed, never exported).
    hubspot_defined: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Sidebar:
    """The deal record's left-sidebar section: HubSpot has no API for it."""

    section: str
    properties: tuple[str, ...]


CRM_CARD_LOCATIONS = ("right_sidebar", "middle_column")


@dataclass(frozen=True)
class CrmCard:
    """An app's card on the deal record (record customization): HubSpot has no API for it."""

    app: str  # the card's name in HubSpot's card library, e.g. "Accord"
    location: str = "right_sidebar"  # or "middle_column"


@dataclass(frozen=True)
class SyncSettings:
    # Accord field name (e.g. "URL") -> HubSpot internal property name.
    mapping: Mapping[str, str] = field(default_factory=dict)
    triggers: frozenset[str] = frozenset(TRIGGER_EVENTS)
    # Where the value sync keeps its registers: a SQLite file relative to the config file, or a
    # postgresql:// URL (PROVISIONER_STORE_URL wins over it, see provisioner.fleet.location).
    store_path: str = DEFAULT_STORE

    def __post_init__(self) -> None:
        object.__setattr__(self, "mapping", _frozen(self.mapping))


@dataclass(frozen=True)
class Config:
    """A loaded and validated hubspot_schema.yaml, for one environment."""

    path: str
    digest: str  # sha256 of the file's bytes
    desired: SchemaState
    portal_id: int | None = None
    api_version: str = DEFAULT_API_VERSION
    environment: str | None = None
    # Property names declared for archiving (tombstones); apply needs --allow-archive.
    tombstones: tuple[str, ...] = ()
    # Property name -> "view_only" | "view_and_edit" (no API: a manual step).
    access: Mapping[str, str] = field(default_factory=dict)
    sidebar: Sidebar | None = None
    crm_card: CrmCard | None = None
    sync: SyncSettings = field(default_factory=SyncSettings)

    def __post_init__(self) -> None:
        object.__setattr__(self, "access", _frozen(self.access))
