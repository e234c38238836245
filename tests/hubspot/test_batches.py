"""Every batch endpoint splits its inputs at HubSpot's limit of 100 and merges the answers.

Against the emulator, which refuses a batch of more than 100 inputs with a 400 as HubSpot does.
"""

from __future__ import annotations

import pytest

from provisioner.emulator import Emulator, EmulatorSettings
from provisioner.hubspot.client import HubSpotClient
from provisioner.model import Group, Property

GROUP = "accord_customer_collaboration_data"
COUNT = 250


class Counting:
    """The emulator's WSGI app, counting the batch requests and their sizes."""

    def __init__(self, app):
        self.app = app
        self.batches: list[tuple[str, int]] = []

    def __call__(self, environ, start_response):
        import json

        path = environ["PATH_INFO"]
        if "/batch/" in path:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length)
            self.batches.append((path.rsplit("/", 1)[-1], len(json.loads(raw)["inputs"])))
            import io

            environ["wsgi.input"] = io.BytesIO(raw)
        return self.app(environ, start_response)


@pytest.fixture
def portal():
    app = Counting(Emulator(EmulatorSettings(burst_limit=None, daily_limit=None)).app)
    client = HubSpotClient("http://portal.test", "t", wsgi_app=app, sleep=lambda s: None)
    return client, app


def test_250_properties_are_created_in_three_requests(portal):
    client, app = portal
    client.create_group(Group(GROUP, "Accord"))
    props = [Property(f"accord_p{i:03d}", f"P {i}", "string", "text", GROUP) for i in range(COUNT)]
    created, failures = client.batch_create_properties(props)
    assert failures == []
    assert [item.property.name for item in created] == [p.name for p in props]
    assert app.batches == [("create", 100), ("create", 100), ("create", 50)]
    assert {p.property.name for p in client.list_properties()} >= {p.name for p in props}


def test_250_deals_are_created_updated_and_read_100_a_request(portal):
    client, app = portal
    created = client.batch_create_deals([{"dealname": f"Deal {i}"} for i in range(COUNT)])
    assert created.status == 200 and len(created.results) == COUNT
    ids = [record.id for record in created.results]
    updated = client.batch_update_deals([(deal, {"dealname": f"Renamed {i}"}) for i, deal in enumerate(ids)])
    assert updated.status == 200 and {r.id for r in updated.results} == set(ids)
    read = client.batch_read_deals(ids, ["dealname"])
    assert {r.id: r.properties["dealname"] for r in read.results} == {d: f"Renamed {i}" for i, d in enumerate(ids)}
    assert app.batches == [(verb, size) for verb in ("create", "update", "read") for size in (100, 100, 50)]


def test_failures_of_every_part_are_merged_into_one_207(portal):
    client, app = portal
    ids = [record.id for record in client.batch_create_deals([{"dealname": "d"}] * 150).results]
    missing = [str(90_000_000 + i) for i in range(COUNT - len(ids))]
    result = client.batch_read_deals(ids[:75] + missing + ids[75:], ["dealname"])
    assert result.status == 207
    assert {r.id for r in result.results} == set(ids)
    assert sorted(i for error in result.errors for i in error.ids) == sorted(missing)


def test_no_inputs_send_no_request(portal):
    client, app = portal
    assert client.batch_update_deals([]).results == [] and client.batch_create_properties([]) == ([], [])
    assert app.batches == [] and client.stats.requests == 0
