"""sync push / verify / dead-letters / retry: Accord values onto HubSpot deals."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
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
    help="The sync store (SQLite) to use instead of the file's sync.store.",
)
MAX_PROBLEM_LINES = 20


def _open_store(config, store_path: str | None):
    from provisioner.sync.store import SyncStore

    path = store_path or config.sync.store_path
    if not Path(path).is_absolute() and store_path is None:
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
        f"events read {report.read}, ignored {report.ignored}, invalid {report.invalid}, stale {report.stale}, "
        f"coalesced {report.coalesced}, unchanged {report.unchanged}"
    )
    click.echo(
        f"deals {verb} {report.deals_to_write if report.dry_run else report.written} of {report.deals_to_write}"
        f" (rejected {report.rejected}, missing {report.missing}, failed {report.failed}); "
        f"requests {report.requests}, 429s met {report.rate_limited}, {report.seconds:.1f} s"
    )
    if report.aborted:
        click.echo(f"error: stopped early: {report.aborted}", err=True)


def _run_push(ctx, config_file, environment, local, api_version, tier, store_path, fmt, dry_run, full_resync,
              lines, retried=()):
    from provisioner.sync.engine import push
    from provisioner.sync.events import Rules, parse_lines

    config = load(config_file, environment)
    rules = Rules.from_config(config)
    client = None if dry_run else open_client(local, api_version, tier, config.api_version)
    with _open_store(config, store_path) as store:
        if not dry_run:
            store.lock()
        parsed = parse_lines(lines() if callable(lines) else lines, rules)
        with _progress("Pushing deals") as progress:
            report = push(client, store, parsed, rules, dry_run=dry_run, full_resync=full_resync,
                          retried_dead_letters=tuple(retried), progress=progress)
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
@click.pass_context
def push_command(ctx, config_file, environment, local, api_version, tier, source, dry_run, full_resync, fmt,
                 store_path):
    """Push Accord trigger events onto their deals, sending only values HubSpot does not hold yet."""
    from provisioner.sync.source import read_lines

    # Bytes, read a bounded line at a time: the parser sets aside invalid UTF-8 and over-long lines.
    if source == "-":
        _run_push(ctx, config_file, environment, local, api_version, tier, store_path, fmt, dry_run, full_resync,
                  read_lines(click.get_binary_stream("stdin")))
        return
    try:
        handle = open(source, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise UsageError(f"{source}: cannot read the events: {exc.strerror}") from None
    with handle:
        _run_push(ctx, config_file, environment, local, api_version, tier, store_path, fmt, dry_run, full_resync,
                  read_lines(handle))


@sync.command("verify")
@config_option
@portal_options
@click.option("--repair", is_flag=True, help="Write back the values HubSpot last confirmed where they differ.")
@FORMAT
@STORE
@click.pass_context
def verify_command(ctx, config_file, environment, local, api_version, tier, repair, fmt, store_path):
    """Read the synced deals back and report values someone edited by hand."""
    from provisioner.sync.events import Rules
    from provisioner.sync.verify import verify

    config = load(config_file, environment)
    rules = Rules.from_config(config)
    client = open_client(local, api_version, tier, config.api_version)
    with _open_store(config, store_path) as store:
        if repair:
            store.lock()
        with _progress("Reading deals") as progress:
            report = verify(client, store, rules, repair=repair, progress=progress)
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
            f"missing deals {len(report.missing)}, repaired deals {report.repaired}; "
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
def dead_letters_command(config_file, environment, fmt, store_path):
    """List the records set aside (bad input, or rejected by HubSpot) with their reasons."""
    config = load(config_file, environment)
    with _open_store(config, store_path) as store:
        letters = store.dead_letters()
    if fmt == "json":
        click.echo(json.dumps([vars(letter) for letter in letters], indent=2))
        return
    for letter in letters:
        where = f"deal {letter.deal_id}" if letter.deal_id else "no deal"
        click.echo(f"#{letter.id} {letter.created_at} [{letter.origin}] {where}: {letter.reason}")
    click.echo(f"{len(letters)} dead letter(s); `provisioner sync retry` sends them again.", err=True)


@sync.command("retry")
@config_option
@portal_options
@click.argument("ids", nargs=-1, type=int)
@FORMAT
@STORE
@click.pass_context
def retry_command(ctx, config_file, environment, local, api_version, tier, ids, fmt, store_path):
    """Run dead-lettered records (all, or the given IDS) through push again.

    Those that pass leave the dead-letter list; those that fail again are set aside anew.
    """
    config = load(config_file, environment)
    with _open_store(config, store_path) as store:
        letters = store.dead_letters(ids or None)
    if ids and len(letters) != len(set(ids)):
        known = {letter.id for letter in letters}
        raise UsageError("no dead letter with id " + ", ".join(str(i) for i in sorted(set(ids) - known)))
    _run_push(ctx, config_file, environment, local, api_version, tier, store_path, fmt, False, False,
              [letter.line for letter in letters], retried=[letter.id for letter in letters])


def register(cli: click.Group) -> None:
    """Add the sync group to ``cli``."""
    cli.add_command(sync)
