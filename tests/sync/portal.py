"""Setting up an emulated portal for the sync: the group, the seven properties, their rules, deals."""

from __future__ import annotations

from provisioner.hubspot.client import HubSpotClient
from provisioner.model import Config, Group
from tests.sync.conftest import GROUP

LOCAL_URL = "http://emulator.test"


def prepare_portal(client: HubSpotClient, config: Config) -> None:
    client.create_group(Group(GROUP, "Accord Customer Collaboration Data"))
    for prop in config.desired.properties.values():
        client.create_property(prop)
    for rule in config.desired.rules.values():
        client.put_validation_rule(rule)


def seed_deals(client: HubSpotClient, count: int) -> list[str]:
    ids: list[str] = []
    for start in range(0, count, 100):
        result = client.batch_create_deals([{"dealname": f"Deal {start + i}"} for i in range(min(100, count - start))])
        ids.extend(record.id for record in result.results)
    return sorted(ids, key=lambda d: (len(d), d))


def read_deals(client: HubSpotClient, ids: list[str], properties: list[str]) -> dict[str, dict]:
    out = {}
    for start in range(0, len(ids), 100):
        for record in client.batch_read_deals(ids[start : start + 100], properties).results:
            out[record.id] = {p: record.properties.get(p) for p in properties}
    return out
