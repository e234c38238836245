"""Reading the live portal into the project's types, in a constant number of requests."""

from __future__ import annotations

from provisioner.hubspot.client import HubSpotClient
from provisioner.model import LiveState, SchemaState


def read_live_state(client: HubSpotClient) -> LiveState:
    """Account details, then the schema: five requests whatever the number of properties."""
    account = client.get_account_details()
    schema, hubspot_defined = read_schema(client)
    return LiveState(account.portal_id, schema, hubspot_defined)


def read_schema(client: HubSpotClient) -> tuple[SchemaState, frozenset[str]]:
    """Groups, active and archived properties, validation rules: four requests."""
    groups = client.list_groups()
    active = client.list_properties(archived=False)
    archived = client.list_properties(archived=True)
    rules = client.list_validation_rules()
    schema = SchemaState(
        groups={group.name: group for group in groups},
        properties={item.property.name: item.property for item in active},
        rules={rule.key: rule for rule in rules},
        archived_properties={item.property.name: item.property for item in archived},
    )
    return schema, frozenset(item.property.name for item in active if item.hubspot_defined)
