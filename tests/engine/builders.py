"""Builders for desired and live state, shared by the engine's pure tests."""

from __future__ import annotations

from provisioner.model import Config, Group, LiveState, Property, SchemaState, Sidebar, ValidationRule

GROUP = "accord_customer_collaboration_data"


def prop(name: str, label: str, type_: str = "string", field_type: str = "text", **extra) -> Property:
    return Property(name=name, label=label, type=type_, field_type=field_type, group_name=GROUP,
                    description=extra.pop("description", f"{label}."), **extra)


def desired_state() -> SchemaState:
    props = [
        prop("accord_url", "Accord URL"),
        prop("accord_status", "Accord Status"),
        prop("accord_progress", "Accord Progress", "number", "number"),
    ]
    return SchemaState(
        groups={GROUP: Group(GROUP, "Accord Customer Collaboration Data")},
        properties={p.name: p for p in props},
        rules={("accord_url", "MAX_LENGTH"): ValidationRule("accord_url", "MAX_LENGTH", ("255",))},
    )


def make_config(desired: SchemaState | None = None, **overrides) -> Config:
    values = dict(
        path="hubspot_schema.yaml",
        digest="d" * 64,
        desired=desired or desired_state(),
        access={"accord_url": "view_only", "accord_status": "view_only"},
        sidebar=Sidebar("Accord Customer Collaboration Data", ("accord_url", "accord_status", "accord_progress")),
    )
    values.update(overrides)
    return Config(**values)


def make_live(schema: SchemaState | None = None, hubspot_defined=frozenset()) -> LiveState:
    return LiveState(portal_id=12345678, schema=schema or SchemaState(),
                     hubspot_defined=frozenset(hubspot_defined))
