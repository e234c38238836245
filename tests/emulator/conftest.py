"""Fixtures of the emulator tests: a fresh emulator, served on 127.0.0.1, and the official SDK pointed at it."""

from __future__ import annotations

import json

import pytest
import requests
from hubspot import HubSpot

from provisioner.emulator import Emulator, EmulatorSettings, serve_in_thread

TOKEN = "test-token"


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Http:
    """Plain HTTP to the emulator, for the paths the SDK does not call (date-versioned, account, rules)."""

    def __init__(self, base_url: str, token: str | None = TOKEN) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def __call__(self, method: str, path: str, body=None, **params) -> requests.Response:
        return self.session.request(method, self.base_url + path, params=params or None,
                                    data=None if body is None else json.dumps(body),
                                    headers={"Content-Type": "application/json"} if body is not None else None,
                                    timeout=10)


@pytest.fixture
def settings(request) -> EmulatorSettings:
    """No rate limits unless a test passes its own settings (``indirect`` parametrisation with a dict)."""
    return EmulatorSettings(**{"burst_limit": None, "daily_limit": None, **getattr(request, "param", {})})


@pytest.fixture
def emulator(settings):
    emu = Emulator(settings)
    yield emu
    emu.close()


@pytest.fixture
def base_url(emulator):
    with serve_in_thread(emulator, host="127.0.0.1", port=0) as url:
        yield url


@pytest.fixture
def sdk(base_url) -> HubSpot:
    return HubSpot(access_token=TOKEN, host=base_url)


@pytest.fixture
def http(base_url) -> Http:
    return Http(base_url)


class _Raw:
    def __init__(self, data: str) -> None:
        self.data = data


def sdk_model(sdk: HubSpot, area: str, text: str, model: str):
    """Deserialise ``text`` into the SDK's model ``model`` of ``area`` ("properties" or "deals")."""
    api = sdk.crm.properties.core_api if area == "properties" else sdk.crm.deals.basic_api
    return api.api_client.deserialize(_Raw(text), model)


def create_group_and_property(http: Http, prefix: str = "/crm/v3/properties/deals", name: str = "accord_url",
                              **fields) -> dict:
    group = http("POST", f"{prefix}/groups", {"name": "accord", "label": "Accord", "displayOrder": 1})
    assert group.status_code in (201, 409), group.text
    body = {"name": name, "label": "Accord URL", "type": "string", "fieldType": "text", "groupName": "accord",
            **fields}
    created = http("POST", prefix, body)
    assert created.status_code == 201, created.text
    return created.json()


class Local:
    """The emulator's WSGI app called in-process (no socket), as ``--local`` uses it."""

    def __init__(self, emulator, token: str | None = TOKEN) -> None:
        from werkzeug.test import Client

        self.emulator = emulator
        self.client = Client(emulator.app)
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def __call__(self, method: str, path: str, body=None, **params):
        response = self.client.open(path, method=method, json=body, query_string=params or None,
                                    headers=self.headers)
        response.body = response.get_json(silent=True)
        return response


@pytest.fixture
def local(emulator) -> Local:
    return Local(emulator)
