"""emulator serve: a local HubSpot portal speaking HubSpot's wire format on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import threading

import click

from provisioner.cli.common import config_option, load, open_client, portal_options
from provisioner.errors import UsageError


def _faults(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip()) if value else ()


@click.group("emulator")
def emulator_group() -> None:
    """A local HubSpot portal for trying the tool, CI and tests (no account needed)."""


@emulator_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0: any free port).")
@click.option("--state", "state_file", type=click.Path(dir_okay=False), default=None,
              help="Keep the portal in this file across restarts (SQLite; every write is durable before "
                   "its answer). Without it the portal lives in memory.")
@click.option("--request-log", type=click.Path(dir_okay=False), default=None,
              help="Append one JSON line {method, path, status} per answered HubSpot request.")
@click.option("--token", default=None,
              help="Accept only this bearer token (default: any non-empty token).")
@click.option("--scopes", default=None,
              help="Comma-separated scopes granted to the token (default: all); others answer 403 MISSING_SCOPES.")
@click.option("--portal-id", default=12345678, show_default=True, type=int,
              help="The default portal's id (portals added through /__emulator__/portals have their own).")
@click.option("--account-type", default="STANDARD", show_default=True,
              type=click.Choice(["STANDARD", "SANDBOX", "DEVELOPER_TEST", "APP_DEVELOPER"]),
              help="accountType of account details.")
@click.option("--burst-limit", default=100, show_default=True, type=click.IntRange(min=0),
              help="Requests per burst window (0: no limit). Professional/Enterprise: 190.")
@click.option("--burst-window", "burst_window_s", default=10.0, show_default=True, type=click.FloatRange(min=0.001),
              help="Burst window in seconds.")
@click.option("--enforce-secondly", is_flag=True,
              help="Refuse (429) a request over the announced per-second figure, X-HubSpot-RateLimit-Secondly "
                   "(a tenth of the burst limit). Off: HubSpot is not recorded refusing on it.")
@click.option("--daily-limit", default=250_000, show_default=True, type=click.IntRange(min=0),
              help="Requests per day, reset at the portal's midnight (0: no limit).")
@click.option("--fault-rate", default=0.0, show_default=True, type=click.FloatRange(0.0, 1.0),
              help="Share of HubSpot requests that fail with a fault drawn from --fault-kinds.")
@click.option("--fault-kinds", default="429,423,500,502,503,504,drop,slow", show_default=True,
              help="Faults --fault-rate draws from: 429, 429-daily, 423, 500, 502, 503, 504, drop (no answer), "
                   "drop-after (handled, then no answer), slow.")
@click.option("--fault-sequence", default=None,
              help="Exact faults for the next requests, in order, e.g. 'ok,500,drop,ok,429' (before --fault-rate).")
@click.option("--fault-path", default=None, help="Only requests whose path contains this text are faulted.")
@click.option("--slow", "slow_s", default=2.0, show_default=True, type=click.FloatRange(min=0.0),
              help="Delay of a 'slow' fault, in seconds.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the faults and the lag.")
@click.option("--lag", default=None, metavar="MIN-MAX",
              help="Read-after-write lag in seconds, e.g. 0.25-0.7 (HubSpot's observed lag). Default: none.")
@click.option("--strict/--lenient", default=True, show_default=True,
              help="Where HubSpot's behaviour is unconfirmed: --strict refuses (validation rules enforced on "
                   "record writes, unknown body fields rejected, no rule removal); --lenient allows.")
@click.option("--retry-after", is_flag=True, help="Send Retry-After on 429 answers (HubSpot does not document it).")
@click.option("--webhook-url", default=None,
              help="Post deal property changes here as HubSpot's v3-signed app webhooks (loopback only).")
@click.option("--client-id", default=None, envvar="HUBSPOT_CLIENT_ID", show_envvar=True,
              help="The public app's client id that POST /oauth/v1/token accepts (default: any non-empty one).")
@click.option("--client-secret", default=None, envvar="HUBSPOT_CLIENT_SECRET", show_envvar=True,
              help="The app's client secret: POST /oauth/v1/token accepts only it (default: any non-empty one), "
                   "and it signs the webhooks.")
@click.option("--access-token-ttl", "access_token_ttl_s", default=1800, show_default=True, type=click.IntRange(1, 86400),
              help="Seconds an OAuth access token lives (HubSpot: 1800).")
@click.option("--app-id", default=1, show_default=True, type=int, help="appId of the webhooks (sourceId of API writes).")
def serve(host, port, state_file, request_log, token, scopes, portal_id, account_type, burst_limit, burst_window_s,
          enforce_secondly, daily_limit, fault_rate, fault_kinds, fault_sequence, fault_path, slow_s, seed, lag, strict,
          retry_after, webhook_url, client_id, client_secret, access_token_ttl_s, app_id) -> None:
    """Serve an emulated HubSpot portal until Ctrl-C.

    Point any HubSpot client at the printed URL: for this tool, HUBSPOT_BASE_URL=<url> and any
    HUBSPOT_ACCESS_TOKEN. Both path families answer (/crm/v3/... and /crm/.../2026-03/...).
    Emulator-only endpoints live under /__emulator__/ (portals, reset, faults, ratelimit, requests,
    state, ui/access, ui/sidebar; ?portal=N picks a portal). More portals: POST /__emulator__/portals
    {"portal_id": N, "token": T} or {"portal_id": N, "refresh_token": R} (OAuth, refreshed through
    POST /oauth/v1/token with --client-id/--client-secret).
    """
    from provisioner.emulator import Emulator, EmulatorSettings, StateFileError, make_emulator_server

    lag_min = lag_max = 0.0
    if lag:
        try:
            low, _, high = lag.partition("-")
            lag_min, lag_max = float(low), float(high or low)
        except ValueError:
            raise UsageError(f"--lag {lag!r}: expected MIN-MAX in seconds, e.g. 0.25-0.7") from None
        if lag_min < 0 or lag_max < lag_min:
            raise UsageError(f"--lag {lag!r}: expected 0 <= MIN <= MAX")
    settings = EmulatorSettings(
        portal_id=portal_id, app_id=app_id, account_type=account_type, token=token,
        scopes=frozenset(s.strip() for s in scopes.split(",") if s.strip()) if scopes is not None else None,
        burst_limit=burst_limit or None, burst_window_s=burst_window_s, daily_limit=daily_limit or None,
        enforce_secondly_limit=enforce_secondly, seed=seed, fault_rate=fault_rate, fault_kinds=_faults(fault_kinds), fault_sequence=_faults(fault_sequence),
        fault_path=fault_path, slow_s=slow_s, lag_min_s=lag_min, lag_max_s=lag_max, state_file=state_file,
        request_log=request_log, enforce_validation_rules=strict, reject_unknown_fields=strict,
        rule_removal_by_empty_put=not strict, retry_after_header=retry_after,
        client_id=client_id, client_secret=client_secret, access_token_ttl_s=float(access_token_ttl_s),
    )
    try:
        emulator = Emulator(settings)
    except ValueError as exc:
        raise UsageError(f"fault settings: {exc}") from None
    except (StateFileError, OSError) as exc:
        raise UsageError(f"--state/--request-log: {exc}") from None
    senders = []
    if webhook_url:
        from provisioner.emulator.webhooks import attach_to_every_portal

        if not client_secret:
            emulator.close()
            raise UsageError("--webhook-url needs --client-secret (the secret that signs the webhooks)")
        try:
            senders = attach_to_every_portal(emulator, webhook_url, client_secret, app_id=app_id)
        except ValueError as exc:
            emulator.close()
            raise UsageError(f"--webhook-url: {exc}") from None
    try:
        server = make_emulator_server(emulator, host, port)
    except OSError as exc:
        emulator.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    # `kill PID` (SIGTERM, as from a service manager or CI) stops it as cleanly as Ctrl-C; set before
    # the URL is printed, so a caller that stops it as soon as it answers never meets the default.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    url = f"http://{host}:{server.server_address[1]}"
    click.echo(f"HubSpot emulator listening on {url} (portal {portal_id}; Ctrl-C to stop)", err=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(timeout=0.5)
    except KeyboardInterrupt:
        click.echo("Stopping the emulator.", err=True)
    finally:
        server.shutdown()
        server.server_close()
        for sender in senders:
            sender.close()
        emulator.close()


@emulator_group.command("seed-deals")
@click.argument("count", type=click.IntRange(1, 10_000))
@config_option
@portal_options
@click.option("--out", "out", type=click.Path(dir_okay=False, allow_dash=True), default="-", show_default=True,
              help="Write the sample events here (JSON lines); - is standard output.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the sample values.")
def seed_deals(count, config_file, environment, local, api_version, tier, out, seed) -> None:
    """Create COUNT sample deals and write a matching events file for `sync push`.

    Talks to the local portal (--local) or to HUBSPOT_BASE_URL (an emulator, or a test portal);
    it refuses to write sample deals into HubSpot's own address unless HUBSPOT_BASE_URL names it.
    Each deal gets one Accord with two to four events, in mixed order.
    """
    from provisioner.samples import create_sample_deals, sample_events
    from provisioner.sync.events import Rules

    if not local and not os.environ.get("HUBSPOT_BASE_URL"):
        raise UsageError("seed-deals writes sample deals: pass --local, or set HUBSPOT_BASE_URL to the emulator",
                         hint="to seed a real test portal on purpose, set HUBSPOT_BASE_URL=https://api.hubapi.com")
    config = load(config_file, environment)
    rules = Rules.from_config(config)
    client = open_client(local, api_version, tier, config.api_version)
    try:
        # Opened before any deal is created: a bad path costs no sample deals.
        handle = click.open_file(out, "w", encoding="utf-8", atomic=out != "-")
    except OSError as exc:
        raise UsageError(f"cannot write the events to {out}: {exc.strerror or exc}") from None
    with handle:
        try:
            ids = create_sample_deals(client, count)
            events = sample_events(ids, rules, seed=seed)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        handle.write("".join(event.line + "\n" for event in events))
    source = "-" if out == "-" else out
    click.echo(f"Created {len(ids)} sample deal(s) ({ids[0]} to {ids[-1]}) and {len(events)} events; push them with "
               f"`provisioner sync push{' --local' if local else ''} --source {source}`.", err=True)


def register(cli: click.Group) -> None:
    """Add ``emulator serve`` and ``emulator seed-deals`` to ``cli``."""
    cli.add_command(emulator_group)
