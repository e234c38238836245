"""Fixtures of the value-sync tests: a hand-built Config (the shipped file's sync part) and a store."""

from __future__ import annotations

import json

import pytest

from provisioner.model import ACCORD_FIELDS, Config, Property, SchemaState, SyncSettings, ValidationRule
from provisioner.sync.events import Rules
from provisioner.sync.store import SyncStore

MAPPING = {
    "URL": "accord_url",
    "STATUS": "accord_status",
    "STAGE_NAME": "current_stage",
    "CUSTOMER_INVITED_COUNT": "number_of_customers_invited",
    "CUSTOMER_ACCEPTED_COUNT": "number_of_customers_accepted",
    "PROGRESS": "accord_progress",
    "EXECUTION_SCORE": "accord_execution_score",
}
NUMBER_PROPERTIES = {
    "number_of_customers_invited", "number_of_customers_accepted", "accord_progress", "accord_execution_score",
}
GROUP = "accord_customer_collaboration_data"


def make_config(store_path: str = "/tmp/unused.sqlite", triggers=None, url_limit: int = 255) -> Config:
    properties = {
        name: Property(
            name=name, label=name.replace("_", " ").title(),
            type="number" if name in NUMBER_PROPERTIES else "string",
            field_type="number" if name in NUMBER_PROPERTIES else "text",
            group_name=GROUP,
        )
        for name in MAPPING.values()
    }
    rule = ValidationRule("accord_url", "MAX_LENGTH", (str(url_limit),))
    assert set(MAPPING) == set(ACCORD_FIELDS)
    return Config(
        path="/tmp/hubspot_schema.yaml",
        digest="0" * 64,
        desired=SchemaState(properties=properties, rules={rule.key: rule}),
        sync=SyncSettings(
            mapping=MAPPING,
            triggers=frozenset(triggers) if triggers is not None else SyncSettings().triggers,
            store_path=store_path,
        ),
    )


def event(deal_id="101", accord_id="acc_1", at="2026-11-27T10:00:00Z", name="step_updated", **data) -> str:
    values = {
        "URL": f"https://app.accord.example/a/{accord_id}",
        "STATUS": "On Track",
        "STAGE_NAME": "Discovery",
        "CUSTOMER_INVITED_COUNT": 3,
        "CUSTOMER_ACCEPTED_COUNT": 2,
        "PROGRESS": 45,
        "EXECUTION_SCORE": 78,
    }
    values.update(data)
    for key in [k for k, v in values.items() if v is Ellipsis]:
        del values[key]
    return json.dumps(
        {"event": name, "occurred_at": at, "accord_id": accord_id, "deal_id": deal_id, "data": values}
    )


@pytest.fixture
def config(tmp_path) -> Config:
    return make_config(str(tmp_path / "sync.sqlite"))


@pytest.fixture
def rules(config) -> Rules:
    return Rules.from_config(config)


@pytest.fixture
def store(tmp_path):
    with SyncStore(tmp_path / "sync.sqlite") as opened:
        yield opened
