"""The client reads the environment's proxy settings once, for its one address, and every request
follows them; one watchdog thread serves every request of the process. Loopback servers only."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from requests.utils import select_proxy

from provisioner.hubspot.client import HubSpotClient
from tests.hubspot.servers import child_exit_code

BODY = b'{"portalId": 42, "accountType": "STANDARD", "timeZone": "UTC"}'
ANSWER = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(BODY)) + BODY


@contextlib.contextmanager
def recording_server() -> Iterator[tuple[str, list[str]]]:
    """A loopback server answering every GET with an account's details; the request lines it saw."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            seen.append(f"{self.requestline} | {self.headers.get('Authorization')}")
            self.wfile.write(ANSWER)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_proxy_from_the_environment_carries_every_request(monkeypatch):
    with recording_server() as (proxy, seen):
        monkeypatch.setenv("HTTP_PROXY", proxy)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        client = HubSpotClient("http://portal.example.test", "env-proxy-token", tier="unlimited")
        monkeypatch.delenv("HTTP_PROXY")  # read once, when the client was made
        for _ in range(2):
            assert client.get_account_details().portal_id == 42
    assert len(seen) == 2
    assert all(line.startswith("GET http://portal.example.test/") for line in seen)  # the proxy's form


def test_an_address_in_no_proxy_is_reached_directly(monkeypatch):
    with recording_server() as (url, seen):
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        client = HubSpotClient(url, "env-proxy-token", tier="unlimited")
        assert client.get_account_details().portal_id == 42
    assert len(seen) == 1 and seen[0].startswith("GET /")


def test_a_netrc_entry_for_the_portal_never_replaces_the_token(monkeypatch, tmp_path):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password elsewhere\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    with recording_server() as (url, seen):
        HubSpotClient(url, "env-proxy-token", tier="unlimited").get_account_details()
    assert seen[0].endswith("| Bearer env-proxy-token")


def test_one_watchdog_thread_serves_every_request():
    with recording_server() as (url, seen):
        client = HubSpotClient(url, "env-proxy-token", tier="unlimited")
        before = threading.active_count()
        for _ in range(20):
            client.get_account_details()
        watchdogs = [t for t in threading.enumerate() if t.name == "provisioner-watchdog"]
    assert len(seen) == 20
    assert len(watchdogs) == 1
    assert threading.active_count() <= before + 1


def test_a_forked_child_gets_its_own_watchdog_thread():
    with recording_server() as (url, seen):
        client = HubSpotClient(url, "env-proxy-token", tier="unlimited")
        client.get_account_details()  # the parent's watchdog thread is running
        pid = os.fork()
        if pid == 0:  # the child: one request, then out, whatever happens
            code = 1
            try:
                child = HubSpotClient(url, "env-proxy-token", tier="unlimited", request_timeout_s=5.0)
                code = 0 if child.get_account_details().portal_id == 42 else 1
            finally:
                os._exit(code)
        assert child_exit_code(pid) == 0
    assert len(seen) == 2


PROXY_ENVIRONMENTS = [
    {"HTTPS_PROXY": "http://proxy.test:3128", "NO_PROXY": "example.com, .hubapi.com,127.0.0.1:8080"},
    {"HTTP_PROXY": "http://proxy.test:3128", "no_proxy": "localhost,  portal.test:9000 ,10.0.0.0/8"},
    {"ALL_PROXY": "socks5://proxy.test:1080", "HTTP_PROXY": "http://other.test:8080", "NO_PROXY": "*"},
    {"all_proxy": "http://proxy.test:1", "NO_PROXY": "", "REQUESTS_CA_BUNDLE": "/etc/ssl/bundle.pem"},
    {"https_proxy": "http://u:p@proxy.test:3128", "CURL_CA_BUNDLE": "/tmp/curl.pem", "NO_PROXY": "hubapi.com"},
    {"HTTP_PROXY": "http://proxy.test:3128", "NO_PROXY": "xn--bcher-kva.test,münchen.test"},  # hosts as sent: ASCII
]
BASE_URLS = ["https://api.hubapi.com", "https://API.HubApi.com:443", "http://127.0.0.1:8080", "http://127.0.0.1:8081",
             "http://localhost:4010", "http://portal.test:9000", "http://portal.test:9001", "http://10.1.2.3:80",
             "https://www.example.com", "https://notexample.com", "http://bücher.test:9000", "http://münchen.test"]


@pytest.mark.parametrize("environment", PROXY_ENVIRONMENTS)
def test_the_proxy_and_bundle_read_once_are_those_requests_would_pick_for_each_request(monkeypatch, environment):
    """Whatever the proxy variables and NO_PROXY list say, the settings read once when the client is
    made pick, for every request to its address, the proxy and CA bundle requests itself would."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    for base in BASE_URLS:
        session = HubSpotClient(base, "env-proxy-token", tier="unlimited").transport._session
        for path in ("/account-info/v3/details", "/crm/v3/objects/deals/batch/update?x=1"):
            url = requests.Request("GET", base + path).prepare().url  # as requests sends it (an IDN host in ASCII)
            expected = requests.Session().merge_environment_settings(url, {}, None, None, None)
            used = session.merge_environment_settings(url, {}, None, None, None)
            assert select_proxy(url, used["proxies"]) == select_proxy(url, expected["proxies"]), (base, environment)
            assert used["verify"] == expected["verify"], (base, environment)
