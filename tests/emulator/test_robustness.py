"""Hostile clients and values: a trickling body, a silent socket, numbers built to freeze, deep JSON, huge bodies."""

from __future__ import annotations

import json
import socket

import pytest
import requests

from provisioner.emulator import server as emulator_server
from tests.emulator.conftest import TOKEN, Http, create_group_and_property

DEALS = "/crm/v3/objects/deals"


def _partial_request(base_url: str, path: str, body: bytes, sent: int) -> socket.socket:
    host, port = base_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\n"
                 f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body[:sent])
    return sock


def test_a_client_trickling_its_body_holds_up_no_one_else(http: Http, base_url):
    create_group_and_property(http)
    body = json.dumps({"properties": {"dealname": "slow"}}).encode()
    slow = _partial_request(base_url, DEALS, body, sent=5)
    try:
        # The slow client's request is mid-body: every other request still answers.
        for _ in range(3):
            assert http("GET", "/crm/v3/properties/deals/groups").status_code == 200
        assert http("POST", DEALS, {"properties": {"dealname": "fast"}}).status_code == 201
        slow.sendall(body[5:])
        assert b" 201 " in slow.recv(1024).split(b"\r\n", 1)[0]
    finally:
        slow.close()


def test_a_silent_client_is_dropped(monkeypatch, emulator):
    monkeypatch.setattr(emulator_server, "CLIENT_TIMEOUT_S", 0.3)
    with emulator_server.serve_in_thread(emulator) as base_url:
        silent = _partial_request(base_url, DEALS, b'{"properties": {}}', sent=2)
        try:
            silent.settimeout(20)
            answer = silent.recv(1024)  # the server gives up on us: an error page or a closed socket
            assert answer == b"" or b" 500 " in answer.split(b"\r\n", 1)[0]
        finally:
            silent.close()
        assert requests.get(base_url + "/crm/v3/properties/deals/groups", timeout=10,
                            headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


@pytest.mark.parametrize("value", ["1e999999999", "-1e999999999", "1e-999999999", "9" * 5000, "1" + "0" * 65])
def test_numbers_built_to_freeze_are_refused_at_once(http: Http, value):
    create_group_and_property(http, name="accord_progress", type="number", fieldType="number")
    answer = http("POST", DEALS, {"properties": {"accord_progress": value}})
    assert answer.status_code == 400 and "INVALID_INTEGER" in answer.json()["message"]
    assert http("GET", "/crm/v3/properties/deals/groups").status_code == 200  # and the emulator still answers


def test_numbers_that_fit_still_go_through(http: Http):
    create_group_and_property(http, name="accord_progress", type="number", fieldType="number")
    for sent, stored in (("1e3", "1000"), ("0e9999", "0"), ("-2.50", "-2.5"), ("1.5e30", "15" + "0" * 29)):
        answer = http("POST", DEALS, {"properties": {"accord_progress": sent}})
        assert answer.status_code == 201 and answer.json()["properties"]["accord_progress"] == stored


def test_json_nested_too_deeply_is_a_400(http: Http):
    answer = http.session.post(http.base_url + DEALS, data="[" * 100_000, timeout=10,
                               headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and answer.json()["category"] == "VALIDATION_ERROR"


def test_a_body_over_the_limit_is_413_unread(base_url):
    from provisioner.emulator.app import MAX_BODY_BYTES

    sock = _partial_request(base_url, DEALS, b"x" * (MAX_BODY_BYTES + 1), sent=10)
    try:
        sock.settimeout(20)
        assert b" 413 " in sock.recv(1024).split(b"\r\n", 1)[0]
    finally:
        sock.close()


@pytest.mark.parametrize("method, path, status", [
    ("GET", "/crm/v3/properties/deals/groups/", 200),  # a trailing slash is the same path
    ("GET", "/crm/properties/2026-09/0-3/groups", 200),
    ("GET", "/crm/properties/2024-01/deals/groups", 404),  # not a version HubSpot serves
    ("GET", "/crm/v3/properties/contacts", 404),  # deals only
    ("GET", "/crm/v3/properties/deals/a/b/c", 404),
    ("PUT", "/crm/v3/properties/deals/groups", 405),
    ("POST", "/account-info/v3/details", 405),
])
def test_routing(local, method, path, status):
    answer = local(method, path)
    assert answer.status_code == status
    if status >= 400:
        assert answer.body["category"] in ("OBJECT_NOT_FOUND", "METHOD_NOT_ALLOWED") and answer.body["correlationId"]
