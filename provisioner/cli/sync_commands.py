"""sync push / verify / dead-letters / retry: Accord values onto HubSpot deals."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import click

from provisioner.cli.common import config_option, load, open_client, portal_options
from provisioner.errors import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, UsageError

FORMAT = click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
    help="Output format (json: one object on stdout, for pipelines).",
)
STORE = click.option(
    "--store", "store_path", type=click.Path(dir_okay=False), default=None,
    help="The sync store to use instead of PROVISIONER_STORE_URL or the file's sync.store "
    "(a SQLite file, or a postgresql:// URL without a password).",
)
PORTAL = click.option(
    "--portal", "portal", type=click.IntRange(min=1), default=None,
    help="PostgreSQL store: the portal (default: the file's portal.id, else the only one registered).",
)
WAIT = click.option(
    "--wait", "wait", type=click.FloatRange(min=0, max=3600), default=0, show_default=True,
    help="Seconds to wait for another run on the same store to finish (0: fail at once).",
)
MAX_PROBLEM_LINES = 20
PORTAL_FIELD = "{portal}"  # in a SQLite store's path: one file per portal


def _location(config, store_path: str | None):
    from provisioner.fleet.location import store_location

    return store_location(config.sync.store_path, store_path)


def _open_store(config, store_path: str | None, portal: int | None = None):
    """The command's store: SQLite's file, or one portal's view of the PostgreSQL store."""
    from provisioner.sync.store import SyncStore

    location = _location(config, store_path)
    if location.is_postgres:
        from provisioner.fleet.pgopen import open_store

        return open_store(config, location, portal)
    path = location.path
    if PORTAL_FIELD in path:  # a file per portal: the portal picks the file
        chosen = portal or config.portal_id
        if chosen is None:
            raise UsageError(f"the SQLite store {path} is a file per portal: which portal?",
                             hint="pass --portal ID, or set portal.id in the file")
        path = path.replace(PORTAL_FIELD, str(chosen))
    elif portal is not None and config.portal_id is not None and portal != config.portal_id:
        raise UsageError(f"--portal {portal}: this SQLite store is portal {config.portal_id}'s (the file's portal.id)",
                         hint="a SQLite store holds one portal: name a file per portal (sync.store: "
                         "sync-{portal}.sqlite), or use a PostgreSQL store")
    if not Path(path).is_absolute() and store_path is None and path == config.sync.store_path:
        path = str(Path(config.path).resolve().parent / path)
    return SyncStore(path)


@contextmanager
def _progress(label: str):
    """A progress callback drawing a bar on stderr, only when stderr is a terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    state = {"bar": None, "done": 0}

    def update(done: int, total: int) -> None:
        if state["bar"] is None:
            state["bar"] = click.progressbar(length=total, label=label, file=sys.stderr)
            state["bar"].__enter__()
        state["bar"].update(done - state["done"])
        state["done"] = done

    try:
        yield update
    finally:
        if state["bar"] is not None:
            state["bar"].__exit__(None, None, None)


def _echo_push(report, fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(report.as_dict(), indent=2, sort_keys=True))
        return
    if report.dry_run:
        for deal_id, changes in report.planned.items():
            for prop, (before, after) in changes.items():
                click.echo(f"deal {deal_id}: {prop}: {before!r} -> {after!r}")
    for problem in report.problems[:MAX_PROBLEM_LINES]:
        where = f"line {problem.line_no}" if problem.line_no is not None else f"deal {problem.deal_id}"
        click.echo(f"{problem.kind}: {where}: {problem.reason}", err=True)
    if len(report.problems) > MAX_PROBLEM_LINES:
        click.echo(
            f"... and {len(report.problems) - MAX_PROBLEM_LINES} more (provisioner sync dead-letters lists them)",
            err=True,
        )
    verb = "would write" if report.dry_run else "written"
    click.echo(
        f"events read {report.read}, ignored {report.ignored}, invalid {report.invalid}; values coalesced "
        f"{report.coalesced}, accepted {report.accepted}, stale {report.stale}"
    )
    click.echo(
        f"deals {verb} {report.deals_to_write if report.dry_run else report.written} of {report.deals_to_write}"
        f" (rejected {report.rejected}, missing {report.missing}, failed {report.failed}); "
        f"requests {report.requests}, 429s met {report.rate_limited}, {report.seconds:.1f} s"
    )
    if report.aborted:
        click.echo(f"error: stopped early: {report.aborted}", err=True)


def _echo_queued(report, fmt: str) -> None:
    """What a push next to a running worker did: accepted durably, nothing sent by this command."""
    if fmt == "json":
        click.echo(json.dumps({**report.as_dict(), "queued_for_worker": report.accepted}, indent=2, sort_keys=True))
        return
    for problem in report.problems[:MAX_PROBLEM_LINES]:
        click.echo(f"{problem.kind}: line {problem.line_no}: {problem.reason}", err=True)
    if len(report.problems) > MAX_PROBLEM_LINES:
        click.echo(f"... and {len(report.problems) - MAX_PROBLEM_LINES} more (provisioner sync dead-letters "
                   "lists them)", err=True)
    click.echo(
        f"events read {report.read}, ignored {report.ignored}, invalid {report.invalid}; values coalesced "
        f"{report.coalesced}, accepted {report.accepted}, stale {report.stale}"
    )
    click.echo(f"{report.accepted} values queued for the running worker (serve or sync worker holds this store); "
               f"nothing sent by this command, {report.seconds:.1f} s")


def _client_for(config, store_path, local, api_version, tier):
    """Per portal, a worker's client (PostgreSQL store: see fleet.pgopen.client_factory)."""
    from provisioner.fleet.pgopen import client_factory

    def env_client(**options):
        return open_client(local, api_version, tier, config.api_version, service=True, **options)

    return client_factory(_location(config, store_path), env_client)


def _send_claimed(store, config, store_path, local, api_version, tier, rules, report) -> None:
    """PostgreSQL: send what is pending for the store's portal by claiming it, as a worker does."""
    from provisioner.fleet.pgrun import send_claimed

    send_claimed(store.database, [store.portal_id], rules, _client_for(config, store_path, local, api_version, tier),
                 report)


def _run_push(ctx, config_file, environment, local, api_version, tier, store_path, fmt, dry_run, full_resync,
              lines, wait, portal):
    from provisioner.serve.producer import lock_or_find_worker, queue_only
    from provisioner.sync.engine import push
    from provisioner.sync.events import Rules

    config = load(config_file, environment)
    rules = Rules.from_config(config)
    if _location(config, store_path).is_postgres:
        from provisioner.fleet.pgrun import push as push_claiming

        with _open_store(config, store_path, portal) as store, _progress("Pushing deals") as progress:
            report = push_claiming(store.database, lines, rules, store.portal_id,
                                   _client_for(config, store_path, local, api_version, tier), dry_run=dry_run,
                                   full_resync=full_resync, progress=progress)
        _echo_push(report, fmt)
        ctx.exit(EXIT_OK if report.ok else EXIT_ERROR)
    rules = replace(rules, portal_id=portal or config.portal_id)  # one portal per SQLite store
    client = None if dry_run else open_client(local, api_version, tier, config.api_version)
    if client is not None and portal is not None:  # a portal chosen by hand: the token must be its own
        from provisioner.fleet.pgopen import checked

        checked(client, portal)
    with _open_store(config, store_path, portal) as store:
        if not dry_run and not lock_or_find_worker(store, wait):
            # A worker (`serve`, `sync worker`) runs on this store: accept durably, it sends.
            report = queue_only(store, lines, rules, full_resync=full_resync)
            _echo_queued(report, fmt)
            ctx.exit(EXIT_OK if report.ok else EXIT_ERROR)
        if dry_run:
            store.lock(wait)
        with _progress("Pushing deals") as progress:
            report = push(client, store, lines, rules, dry_run=dry_run, full_resync=full_resync, progress=progress)
    _echo_push(report, fmt)
    ctx.exit(EXIT_OK if report.ok else EXIT_ERROR)


@click.group()
def sync() -> None:
    """Push Accord values onto HubSpot deals (only what changed) and keep them authentic.

    Exit codes: 0 everything landed; 1 a record was invalid, rejected, missing or failed
    (see `sync dead-letters`) or the run stopped early; `verify` exits 2 when it found
    values edited by hand and did not repair them.
    """


@sync.command("push")
@config_option
@portal_options
@click.option("--source", required=True, type=click.Path(dir_okay=False, allow_dash=True),
              help="Trigger events, one JSON object a line; - reads standard input.")
@click.option("--dry-run", is_flag=True, help="Show what would be sent; send and record nothing.")
@click.option("--full-resync", is_flag=True, help="Ignore what HubSpot confirmed before: send every value again.")
@FORMAT
@STORE
@PORTAL
@WAIT
@click.pass_context
def push_command(ctx, config_file, environment, local, api_version, tier, source, dry_run, full_resync, fmt,
                 store_path, portal, wait):
    """Push Accord trigger events onto their deals, sending only values HubSpot does not hold yet."""
    from provisioner.sync.source import read_lines

    # Bytes, read a bounded line at a time: the parser sets aside invalid UTF-8 and over-long lines.
    if source == "-":
        _run_push(ctx, config_file, environment, local, api_version, tier, store_path, fmt, dry_run, full_resync,
                  read_lines(click.get_binary_stream("stdin")), wait, portal)
        return
    try:
        handle = open(source, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise UsageError(f"{source}: cannot read the events: {exc.strerror}") from None
    with handle:
        _run_push(ctx, config_file, environment, local, api_version, tier, store_path, fmt, dry_run, full_resync,
                  read_lines(handle), wait, portal)


@sync.command("verify")
@config_option
@portal_options
@click.option("--repair", is_flag=True, help="Write back the values HubSpot last confirmed where they differ.")
@FORMAT
@STORE
@PORTAL
@WAIT
@click.pass_context
def verify_command(ctx, config_file, environment, local, api_version, tier, repair, fmt, store_path, portal, wait):
    """Read the synced deals back and report values someone edited by hand."""
    from provisioner.serve.producer import lock_or_find_worker, nudge_worker
    from provisioner.sync.events import Rules
    from provisioner.sync.verify import verify

    config = load(config_file, environment)
    rules = Rules.from_config(config)
    with _open_store(config, store_path, portal) as store:
        postgres = _location(config, store_path).is_postgres
        if postgres:  # repairs are queued, then sent by claiming the portal like any worker
            client = _client_for(config, store_path, local, api_version, tier)(store.portal_id)
            send = False
        else:
            client = open_client(local, api_version, tier, config.api_version)
            send = not repair or lock_or_find_worker(store, wait)
        with _progress("Reading deals") as progress:
            report = verify(client, store, rules, repair=repair, send=send, progress=progress)
        if postgres and repair:
            from provisioner.sync.report import PushReport

            sent = PushReport()
            _send_claimed(store, config, store_path, local, api_version, tier, rules, sent)
            report.repaired, report.queued_for_worker = sent.written, 0
        elif not send:
            nudge_worker(store.path)
    if fmt == "json":
        click.echo(json.dumps(report.as_dict(), indent=2, sort_keys=True))
    else:
        for diff in report.differences:
            click.echo(
                f"Detected hand edit on deal {diff.deal_id}: {diff.property} is {diff.actual!r}, "
                f"the sync wrote {diff.expected!r}"
            )
        for deal_id in report.missing:
            click.echo(f"Deal {deal_id} no longer exists in HubSpot")
        for failure in report.repair_failed:
            click.echo(f"error: repair failed: {failure}", err=True)
        click.echo(
            f"deals checked {report.deals_checked}, values edited by hand {len(report.differences)}, "
            f"missing deals {len(report.missing)}, pending values {report.pending} (not hand edits), "
            f"repaired deals {report.repaired}"
            + (f", {report.queued_for_worker} deals queued for the running worker" if report.queued_for_worker else "")
            + "; "
            f"requests {report.requests}, 429s met {report.rate_limited}, {report.seconds:.1f} s"
        )
    if report.repair_failed:
        ctx.exit(EXIT_ERROR)
    if (report.differences and not repair) or report.missing:
        ctx.exit(EXIT_CHANGES)
    ctx.exit(EXIT_OK)


@sync.command("dead-letters")
@config_option
@FORMAT
@STORE
@PORTAL
@click.option("--open", "only_open", is_flag=True, help="Only those not delivered yet.")
def dead_letters_command(config_file, environment, fmt, store_path, portal, only_open):
    """List the records set aside (bad input, or rejected by HubSpot) with their reasons.

    A record set aside again by a later run is counted (seen N times), not copied; one that a
    later run delivered is shown as resolved.
    """
    config = load(config_file, environment)
    with _open_store(config, store_path, portal) as store:
        letters = store.dead_letters(include_resolved=not only_open)
    if fmt == "json":
        click.echo(json.dumps([vars(letter) for letter in letters], indent=2))
        return
    for letter in letters:
        where = f"deal {letter.deal_id}" if letter.deal_id else "no deal"
        state = f"resolved {letter.resolved_at}" if letter.resolved_at else "open"
        seen = f", seen {letter.seen} times" if letter.seen > 1 else ""
        cut = ", line cut short" if letter.truncated else ""
        click.echo(f"#{letter.id} {letter.created_at} [{letter.origin}] {state}{seen}{cut} {where}: {letter.reason}")
    still = sum(1 for letter in letters if not letter.resolved_at)
    click.echo(f"{len(letters)} dead letter(s), {still} open; `provisioner sync retry` sends the open ones again.",
               err=True)


@sync.command("retry")
@config_option
@portal_options
@click.argument("ids", nargs=-1, type=int)
@FORMAT
@STORE
@PORTAL
@WAIT
@click.pass_context
def retry_command(ctx, config_file, environment, local, api_version, tier, ids, fmt, store_path, portal, wait):
    """Run dead-lettered records (all open ones, or the given IDS) through the sync again.

    Those delivered are marked resolved; those that fail again are counted again, not copied.
    """
    from provisioner.serve.producer import lock_or_find_worker, nudge_worker
    from provisioner.sync.events import Rules
    from provisioner.sync.letters import retry

    config = load(config_file, environment)
    rules = Rules.from_config(config)
    with _open_store(config, store_path, portal) as store:
        letters = store.dead_letters(ids or None, include_resolved=bool(ids))
        if ids and len(letters) != len(set(ids)):
            known = {letter.id for letter in letters}
            raise UsageError("no dead letter with id " + ", ".join(str(i) for i in sorted(set(ids) - known)))
        postgres = _location(config, store_path).is_postgres
        client = None if postgres else open_client(local, api_version, tier, config.api_version)
        send = False if postgres else lock_or_find_worker(store, wait)
        with _progress("Pushing deals") as progress:
            report = retry(client, store, letters, rules, send=send, progress=progress)
        if postgres:  # released, then sent by claiming the portal like any worker
            _send_claimed(store, config, store_path, local, api_version, tier, rules, report)
            send = True
        elif not send:
            nudge_worker(store.path)
    if send:
        _echo_push(report, fmt)
    else:
        _echo_queued(report, fmt)
    ctx.exit(EXIT_OK if report.ok else EXIT_ERROR)


def register(cli: click.Group) -> None:
    """Add the sync group to ``cli``."""
    cli.add_command(sync)
