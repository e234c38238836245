"""The client reads the environment's proxy settings once, for its one address, and every request
follows them; one watchdog thread serves every request of the process. Loopback servers only."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from provisioner.hubspot.client import HubSpotClient

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
