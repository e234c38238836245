"""Helpers of the worker tests: portals on in-process emulators whose requests are logged in time."""

from __future__ import annotations

import threading
import time
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from provisioner.emulator import Emulator, EmulatorSettings
from provisioner.hubspot.client import HubSpotClient
from provisioner.sync.events import Rules
from tests.sync.conftest import make_config
from tests.sync.portal import LOCAL_URL, prepare_portal, read_deals, seed_deals

CONFIG = make_config()
RULES = Rules.from_config(CONFIG)
BATCH_SUFFIX = "/deals/batch/update"


class RequestLog:
    """WSGI middleware: (portal, start, end, path) of every request, and an optional hook per batch."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: list[tuple[int, float, float, str]] = []
        self.during_batch = None  # called (portal_id) while a batch update is being answered

    def wrap(self, portal_id: int, app):
        def logged(environ, start_response):
            started = time.monotonic()
            path = environ.get("PATH_INFO", "")
            if path.endswith(BATCH_SUFFIX) and self.during_batch is not None:
                self.during_batch(portal_id)
            try:
                return app(environ, start_response)
            finally:
                with self.lock:
                    self.entries.append((portal_id, started, time.monotonic(), path))
        return logged

    def overlaps(self, suffix: str = BATCH_SUFFIX) -> list[tuple]:
        """Pairs of requests to one portal that were in flight at the same time."""
        found = []
        spans = sorted(e for e in self.entries if e[3].endswith(suffix))
        for i, (portal, start, end, _) in enumerate(spans):
            for other, start2, end2, _ in spans[i + 1:]:
                if other == portal and start2 < end:
                    found.append(((portal, start, end), (other, start2, end2)))
        return found


class Portals:
    """``count`` emulated portals (ids 101, 102, ...), each prepared with ``deals`` deals."""

    def __init__(self, count: int, deals: int, log: RequestLog | None = None, **limits) -> None:
        self.log = log or RequestLog()
        self.emulators: dict[int, Emulator] = {}
        self.deals: dict[int, list[str]] = {}
        settings = {"burst_limit": None, "daily_limit": None, **limits}
        for n in range(count):
            portal_id = 101 + n
            emulator = Emulator(EmulatorSettings(portal_id=portal_id, **settings))
            self.emulators[portal_id] = emulator
            setup = HubSpotClient(LOCAL_URL, "t", tier="unlimited", wsgi_app=emulator.app, sleep=lambda s: None)
            prepare_portal(setup, CONFIG)
            self.deals[portal_id] = seed_deals(setup, deals)

    def client_for(self, portal_id: int) -> HubSpotClient:
        app = self.log.wrap(portal_id, self.emulators[portal_id].app)
        return HubSpotClient(LOCAL_URL, "t", tier="unlimited", wsgi_app=app)

    def values(self, portal_id: int, prop: str = "accord_status") -> dict[str, str | None]:
        client = HubSpotClient(LOCAL_URL, "t", tier="unlimited", wsgi_app=self.emulators[portal_id].app)
        return {deal: values[prop] for deal, values in read_deals(client, self.deals[portal_id], [prop]).items()}


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:  # the tests read the request log, not stderr
        pass


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class ServedPortal:
    """One emulated portal served over HTTP on 127.0.0.1 from this process, its requests logged."""

    def __init__(self, deals: int, portal_id: int = 12345678, token: str | None = None, **limits) -> None:
        self.portal_id = portal_id
        self.token = token or "t"
        self.log = RequestLog()
        self.emulator = Emulator(EmulatorSettings(portal_id=portal_id, token=token,
                                                  **{"burst_limit": None, "daily_limit": None, **limits}))
        self.server = make_server("127.0.0.1", 0, self.log.wrap(portal_id, self.emulator.app),
                                  server_class=_Server, handler_class=_QuietHandler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        setup = HubSpotClient(LOCAL_URL, self.token, tier="unlimited", wsgi_app=self.emulator.app)
        prepare_portal(setup, CONFIG)
        self.deals = seed_deals(setup, deals)

    def values(self, prop: str = "accord_status") -> dict[str, str | None]:
        client = HubSpotClient(LOCAL_URL, self.token, tier="unlimited", wsgi_app=self.emulator.app)
        return {deal: values[prop] for deal, values in read_deals(client, self.deals, [prop]).items()}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
