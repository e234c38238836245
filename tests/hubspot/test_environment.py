"""The client reads the environment's proxy settings once, for its one address, and every request
follows them; one watchdog thread serves every request of the process. Loopback servers only."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
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
        deadline = time.monotonic() + 30
        while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        if done[0] == 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        assert done[0] == pid and os.waitstatus_to_exitcode(done[1]) == 0
    assert len(seen) == 2
