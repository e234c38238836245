"""serve, sync worker, sync guard-log: the value sync as a long-running service."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time

import click

from provisioner.cli.common import config_option, load, open_client, portal_options
from provisioner.cli.sync_commands import PORTAL, STORE
from provisioner.errors import UsageError

WEBHOOK_SECRET_VARIABLE = "PROVISIONER_WEBHOOK_SECRET"
CLIENT_SECRET_VARIABLE = "HUBSPOT_CLIENT_SECRET"


class Duration(click.ParamType):
    """Seconds, with or without an ``s``: ``0.5``, ``1s``, ``30s``."""

    name = "duration"

    def convert(self, value, param, ctx):
        if isinstance(value, int | float):
            return float(value)
        text = str(value).strip().lower()
        text = text[:-1] if text.endswith("s") else text
        try:
            seconds = float(text)
        except ValueError:
            self.fail(f"{value!r} is not a duration in seconds (e.g. 0.5, 1s, 30s)", param, ctx)
        if not 0 <= seconds <= 86_400:
            self.fail(f"{value!r} must be between 0 and 86400 seconds", param, ctx)
        return seconds


DURATION = Duration()


def _store_path(config, store_path: str | None, portal: int | None = None) -> str:
    from provisioner.cli.sync_commands import _open_store

    with _open_store(config, store_path, portal) as store:
        return str(store.path)


def _announce(line: str) -> None:
    click.echo(line, err=True)
    sys.stderr.flush()


@click.command("serve")
@config_option
@portal_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0: any free port; the first line on stderr names the URL).")
@click.option("--max-delay", default="1s", show_default=True, type=DURATION,
              help="Send a batch when its oldest value has waited this long (or 100 deals are ready).")
@click.option("--drain-timeout", default="30s", show_default=True, type=DURATION,
              help="On SIGTERM, how long to keep sending what is pending before exiting.")
@click.option("--public-url", default=None,
              help="The URL HubSpot calls, when behind a proxy (HubSpot signs the full URI it used).")
@click.option("--max-body", default=1_000_000, show_default=True, type=click.IntRange(1024, 100_000_000),
              help="Largest request body in bytes (larger: 413).")
@click.option("--max-queue", default=100_000, show_default=True, type=click.IntRange(1),
              help="Pending deals over which intake answers 429 with Retry-After.")
@click.option("--restores-per-hour", default=3, show_default=True, type=click.IntRange(0),
              help="Guard: restores per deal property per hour; edits beyond are reported, not fought.")
@click.option("--app-id", default=None, envvar="HUBSPOT_APP_ID",
              help="Your HubSpot app's id (or HUBSPOT_APP_ID): changes it made are never treated as hand edits.")
@click.option("--no-worker", is_flag=True,
              help="PostgreSQL store: take events only; `sync worker` processes send them.")
@STORE
@PORTAL
def serve_command(config_file, environment, local, api_version, tier, host, port, max_delay, drain_timeout,
                  public_url, max_body, max_queue, restores_per_hour, app_id, no_worker, store_path, portal):
    """Take Accord's events as signed webhooks and keep HubSpot's deals true to them, seconds later.

    POST /v1/events and /v1/portals/{id}/events (Standard Webhooks signature, keys in
    PROVISIONER_WEBHOOK_SECRET, several separated by spaces), POST /hubspot/webhooks (HubSpot's v3 signature, HUBSPOT_CLIENT_SECRET:
    the authenticity guard), GET /healthz, /readyz, /metrics. SIGTERM drains and exits 0.
    On a PostgreSQL store, records go to the portal they name, and any number of `serve` and
    `sync worker` processes share the store (each portal has one writer at a time).
    """
    from provisioner.cli.sync_commands import _client_for, _location
    from provisioner.serve.service import ServeSettings
    from provisioner.serve.signatures import parse_keys
    from provisioner.sync.events import Rules

    try:
        keys = parse_keys(os.environ.get(WEBHOOK_SECRET_VARIABLE))
    except ValueError as exc:
        raise UsageError(f"{WEBHOOK_SECRET_VARIABLE}: {exc}") from None
    if not keys:
        raise UsageError(f"{WEBHOOK_SECRET_VARIABLE} is not set: intake would accept no event",
                         hint="export one or more keys separated by spaces (whsec_<base64>, or any text)")
    secret = os.environ.get(CLIENT_SECRET_VARIABLE, "").encode()
    config = load(config_file, environment)
    rules = Rules.from_config(config)
    settings = ServeSettings(host=host, port=port, max_delay=max_delay, drain_timeout=drain_timeout,
                             public_url=public_url, max_body=max_body, max_queue=max_queue,
                             restores_per_hour=restores_per_hour, app_id=app_id)
    location = _location(config, store_path)
    if location.is_postgres:  # intake for every portal; the worker claims portals like `sync worker`
        from provisioner.fleet.pgopen import default_portal, open_database
        from provisioner.fleet.pgserve import FleetParts

        database = open_database(location, worker=True, max_size=6)
        try:
            fleet = FleetParts(database, rules, default_portal(config, database, location, portal),
                               _client_for(config, store_path, local, api_version, tier), max_delay=max_delay,
                               sends=not no_worker)
            _run(settings, rules, str(location), None, keys, secret, host, port, fleet)
        finally:
            database.close()
        return
    if no_worker:
        raise UsageError("--no-worker needs a PostgreSQL store: a SQLite store's serve sends its own events",
                         hint="set PROVISIONER_STORE_URL=postgresql://..., or drop --no-worker")
    path = _store_path(config, store_path, portal)
    client = open_client(local, api_version, tier, config.api_version, service=True)
    _run(settings, rules, path, client, keys, secret, host, port, None)


def _run(settings, rules, path, client, keys, secret, host, port, fleet) -> None:
    from provisioner.serve.service import run_service

    try:
        run_service(settings, rules, path, client, webhook_keys=keys, client_secret=secret, announce=_announce,
                    fleet=fleet)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


@click.command("worker")
@config_option
@portal_options
@click.option("--max-delay", default="1s", show_default=True, type=DURATION,
              help="Look for pending values this often; send as soon as some are found.")
@click.option("--drain-timeout", default="30s", show_default=True, type=DURATION,
              help="On SIGTERM, how long to keep sending what is pending before exiting.")
@STORE
@click.option("--portal", "portal", type=click.IntRange(min=1), default=None,
              help="Only this portal (PostgreSQL: claim no other; SQLite: its file, for a store named per portal).")
def worker_command(config_file, environment, local, api_version, tier, max_delay, drain_timeout, store_path, portal):
    """Drain the store's queue into HubSpot until SIGTERM.

    SQLite: one worker per store (others wait). PostgreSQL: any number, on any machines; each
    claims one portal at a time, so a portal never has two writers.
    """
    from provisioner.cli.sync_commands import _client_for, _location
    from provisioner.serve.metrics import Metrics
    from provisioner.serve.queue import Queue
    from provisioner.serve.worker import Worker
    from provisioner.sync.events import Rules

    config = load(config_file, environment)
    rules = Rules.from_config(config)
    location = _location(config, store_path)
    if location.is_postgres:
        from provisioner.fleet.pgopen import open_database
        from provisioner.fleet.pgqueue import ClaimQueue
        from provisioner.fleet.pgrun import work

        database = open_database(location, worker=True, max_size=2)
        try:
            queue = ClaimQueue(database, rules, _client_for(config, store_path, local, api_version, tier),
                               portals=None if portal is None else [portal])
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            signal.signal(signal.SIGINT, lambda *_: stop.set())
            _announce(f"provisioner sync worker claiming portals in {database.where} (SIGTERM or Ctrl-C to stop)")
            work(queue, stop, max_delay=max_delay)
        finally:
            database.close()
        return
    path = _store_path(config, store_path, portal)
    client = open_client(local, api_version, tier, config.api_version, service=True)
    worker = Worker(lambda: Queue(path, rules), client, Metrics(), max_delay=max_delay,
                    rescan_s=max(max_delay, 0.05))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    _announce(f"provisioner sync worker draining {path} (SIGTERM or Ctrl-C to stop)")
    worker.thread.start()
    while not stop.is_set() and worker.thread.is_alive():
        stop.wait(0.2)
    deadline = time.monotonic() + drain_timeout
    worker.drain(deadline)
    worker.thread.join(max(0.0, deadline - time.monotonic()) + 1.0)
    if worker.pending_deals:
        _announce(f"stopped with {worker.pending_deals} deal(s) still pending; kept for the next run")


@click.command("guard-log")
@config_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Output format (json: one array on stdout).")
@STORE
@PORTAL
def guard_log_command(config_file, environment, fmt, store_path, portal):
    """List the hand edits the guard saw: restored, reported (over the hourly bound), deleted deals."""
    from provisioner.cli.sync_commands import _location, _open_store
    from provisioner.serve.queue import guard_log, guard_log_rows
    from provisioner.serve.tables import PgTables

    config = load(config_file, environment)
    if _location(config, store_path).is_postgres:
        with _open_store(config, store_path, portal) as store:
            edits = guard_log_rows(PgTables(store))
    else:
        edits = guard_log(_store_path(config, store_path, portal))
    if fmt == "json":
        click.echo(json.dumps(edits, indent=2))
        return
    for edit in edits:
        if edit["action"] == "deleted":
            click.echo(f"{edit['recorded_at']} deal {edit['deal_id']}: deleted in HubSpot")
            continue
        click.echo(f"{edit['recorded_at']} deal {edit['deal_id']}: {edit['property']} set to {edit['value']!r} by "
                   f"{edit['source_id'] or edit['change_source'] or 'unknown'} at {edit['occurred_at']}: "
                   f"{edit['action']}")
    click.echo(f"{len(edits)} guard event(s).", err=True)


def register(cli: click.Group) -> None:
    """Add ``serve`` to ``cli`` and ``worker``, ``guard-log`` to its ``sync`` group."""
    from provisioner.cli.sync_commands import sync

    cli.add_command(serve_command)
    sync.add_command(worker_command)
    sync.add_command(guard_log_command)
