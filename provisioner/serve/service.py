"""Running ``provisioner serve``: one process, one event loop for HTTP, one commit thread, one worker thread.

Why one process (not uvicorn workers): the store is one SQLite file with one writer at a time.
Several processes would each commit on their own (no shared group commit, so one fsync per
request instead of one per batch of requests) and fight over the write lock, and only one of
them could hold the worker's run lock anyway. Measured on this 2-core machine
(benchmarks/results/serve.md), one process with group commit takes well over the 2,000 signed
events/s the issue asks for.

Stopping (SIGTERM or Ctrl-C): intake answers 503 at once, the listening socket closes, requests
in flight finish (their commit included), then the worker sends what it can until
``drain_timeout`` after the signal; what is left stays pending in the store for the next start.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import uvicorn

from provisioner.serve.app import Service, build_app
from provisioner.serve.committer import Committer
from provisioner.serve.metrics import Metrics
from provisioner.serve.queue import CommitOutcome, GuardPolicy, Queue
from provisioner.serve.worker import Worker
from provisioner.sync.events import Rules

log = logging.getLogger("provisioner.serve")


@dataclass(frozen=True)
class ServeSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    max_delay: float = 1.0
    drain_timeout: float = 30.0
    public_url: str | None = None
    max_body: int = 1_000_000
    max_queue: int = 100_000
    restores_per_hour: int = 3
    app_id: str | None = None
    rescan_s: float = 30.0


class _Server(uvicorn.Server):
    """uvicorn's server with our signal handling: mark the service as stopping, and never re-raise."""

    def __init__(self, config: uvicorn.Config, on_signal: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_signal = on_signal

    def handle_exit(self, sig, frame) -> None:
        self._on_signal()
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        else:
            self.should_exit = True


def _route_server_logs() -> None:
    """uvicorn's own warnings go through our handler: the same format (text or JSON lines), redacted."""
    ours = logging.getLogger("provisioner")
    for name in ("uvicorn", "uvicorn.error"):
        server_log = logging.getLogger(name)
        server_log.handlers = list(ours.handlers)
        server_log.setLevel(logging.WARNING)
        server_log.propagate = False


def bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def run_service(settings: ServeSettings, rules: Rules, store_path: str, client, *, webhook_keys: tuple[bytes, ...],
                client_secret: bytes, announce: Callable[[str], None], fleet=None) -> None:
    """Serve until SIGTERM/SIGINT, then drain; returns normally (exit 0) after the drain.

    ``fleet``: on PostgreSQL, what replaces the SQLite queue and worker (``fleet.pgserve.FleetParts``).
    """
    sock = bind(settings.host, settings.port)
    metrics = Metrics()
    if fleet is not None:
        worker = fleet.worker
    else:
        worker = Worker(lambda: Queue(store_path, rules), client, metrics, max_delay=settings.max_delay,
                        rescan_s=settings.rescan_s)

    def committed(outcome: CommitOutcome) -> None:
        if outcome.pending_deals:
            worker.notify(outcome.pending_deals - outcome.restored_deals)
        if outcome.restored_deals:
            worker.notify(outcome.restored_deals, urgent=True)

    policy = GuardPolicy(app_id=settings.app_id, restores_per_hour=settings.restores_per_hour)
    open_queue = fleet.open_queue if fleet is not None else (lambda: Queue(store_path, rules))
    committer = Committer(open_queue, policy, committed)
    checker = open_queue()  # readiness checks only
    check_lock = threading.Lock()

    def writable() -> bool:
        with check_lock:
            return checker.writable()

    service = Service(rules=rules, committer=committer, worker=worker, metrics=metrics, webhook_keys=webhook_keys,
                      client_secret=client_secret, max_body=settings.max_body, max_queue=settings.max_queue,
                      public_url=settings.public_url, check_writable=writable,
                      many_portals=fleet is not None)
    stopping = {"at": None}

    def on_signal() -> None:
        service.draining = True
        if stopping["at"] is None:
            stopping["at"] = time.monotonic()
            log.warning("Stopping: no new events; finishing requests in flight and sending what is pending")

    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    announce(f"provisioner serve listening on http://{shown}:{port} (SIGTERM or Ctrl-C to stop)")
    if not client_secret:
        log.warning("HUBSPOT_CLIENT_SECRET is not set: the guard (POST /hubspot/webhooks) refuses every request")
    try:
        if fleet is not None:  # the default portal; each portal's client is checked when first claimed
            service.portal_id = fleet.default_portal
        else:
            service.portal_id = client.get_account_details().portal_id
            worker.portal_reachable = True
    except Exception as exc:  # noqa: BLE001 - the service still takes events; readyz says the portal is down
        worker.portal_reachable = False
        log.error("Cannot read the portal's account details yet: %s", exc)
    committer.start()
    worker.thread.start()
    _route_server_logs()
    config = uvicorn.Config(build_app(service), log_config=None, access_log=False, lifespan="off",
                            timeout_graceful_shutdown=max(1, int(settings.drain_timeout)), server_header=False,
                            # The URI HubSpot signed comes from --public-url, never from X-Forwarded-* headers.
                            proxy_headers=False)
    server = _Server(config, on_signal)
    try:
        server.run(sockets=[sock])
    finally:
        on_signal()
        committer.stop(timeout=10.0)
        deadline = (stopping["at"] or time.monotonic()) + settings.drain_timeout
        worker.drain(deadline)
        worker.thread.join(max(0.0, deadline - time.monotonic()) + 1.0)
        left = worker.pending_deals
        if left:
            log.warning("Stopped with %d deal(s) still pending; they are kept for the next start", left)
        checker.close()
        sock.close()
