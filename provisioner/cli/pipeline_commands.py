"""drift and export: the nightly check, and taking the portal's state into the file."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import click
import yaml

from provisioner.cli.common import config_option, load, open_client, portal_options
from provisioner.cli.fleet_runs import fleet_options, refuse_fleet_options, run_all_portals
from provisioner.drift import ValueDrift, ValuesChecked, drift_report
from provisioner.errors import EXIT_CHANGES, ProvisionerError, UsageError
from provisioner.export import ExistingFile, export_document, write_export
from provisioner.hubspot.live import read_live_state
from provisioner.planning import check_portal_guard, make_plan, utc_now
from provisioner.render import drift as drift_render

log = logging.getLogger(__name__)


def _read_values(client, config) -> ValuesChecked:
    """The deals the value sync wrote, read back against what HubSpot last confirmed to it."""
    from provisioner.sync.events import Rules
    from provisioner.sync.store import SyncStore
    from provisioner.sync.verify import verify

    if not Path(config.sync.store_path).exists():
        return ValuesChecked(0)  # nothing was ever pushed from here
    with SyncStore(config.sync.store_path) as store:
        report = verify(client, store, Rules.from_config(config))
    edited = tuple(ValueDrift(d.deal_id, d.property, d.expected, d.actual) for d in report.differences)
    return ValuesChecked(report.deals_checked, edited, tuple(report.missing))


@click.command("drift")
@config_option
@portal_options
@click.option("--format", "fmt", type=click.Choice(sorted(drift_render.RENDERERS)), default="text",
              show_default=True, help="text for a terminal, json for alerting, markdown for an issue or chat.")
@click.option("--values", "check_values", is_flag=True,
              help="Also read the synced deals back (100 a request) and report values edited by hand.")
@fleet_options
@click.pass_context
def drift_command(ctx, config_file, environment, local, api_version, tier, fmt, check_values, all_portals,
                  concurrency, out_dir):
    """What differs between the file and the portal, for cron.

    Exit 0: nothing differs. Exit 2: drift (each field with the declared and the live value).
    Exit 1: the check failed (an unreachable portal is never "no drift"). View-only access and the
    sidebar cannot be read from HubSpot: they are listed apart with when they were last confirmed,
    and never count as drift. With --values, the deals the value sync wrote are read back too, and
    a value edited by hand (or a deal gone) is drift. With --all-portals: every registered portal,
    one summary table (exit 2 when any drifted, 1 when any check failed).
    """
    refuse_fleet_options(all_portals, concurrency, out_dir, ctx)
    if all_portals:
        if check_values:
            raise UsageError("--values does not go with --all-portals yet: run drift --values per portal")
        return run_all_portals(ctx, "drift", config_file=config_file, environment=environment, local=local,
                               api_version=api_version, tier=tier, fmt=fmt, concurrency=concurrency,
                               out_dir=out_dir)
    checked_at = utc_now()
    try:
        config = load(config_file, environment)
        client = open_client(local, api_version, tier, config.api_version)
        plan, live = make_plan(client, config)
        values = _read_values(client, config) if check_values else None
    except ProvisionerError as error:
        # The alert must say the check failed; the error line itself goes to stderr as usual.
        if fmt == "json":
            click.echo(drift_render.render_error_json(str(error), error.hint, checked_at=checked_at), nl=False)
        elif fmt == "markdown":
            click.echo(drift_render.render_error_markdown(str(error), error.hint, checked_at=checked_at), nl=False)
        raise
    report = drift_report(plan, checked_at=checked_at, values=values)
    log.info("Read portal %s in %d request(s)", live.portal_id, client.stats.requests)
    for item in report.items:
        log.info("Detected %s", item.summary[0].lower() + item.summary[1:])
    never = [check.id for check in report.manual_checks if check.confirmed_at is None]
    if never:
        log.info("Manual settings never confirmed (not drift): %s", ", ".join(never))
    click.echo(drift_render.RENDERERS[fmt](report), nl=False)
    if report.has_drift:
        ctx.exit(EXIT_CHANGES)


def _existing(config_file: str, environment: str | None, explicit: bool) -> ExistingFile | None:
    if not os.path.exists(config_file):
        if explicit:
            raise UsageError(f"{config_file}: no such file", hint="leave out -f to export without a file")
        if environment:
            raise UsageError(f"--env {environment} needs the file that declares it; {config_file} does not exist")
        return None
    config = load(config_file, environment)
    data = yaml.safe_load(Path(config_file).read_text(encoding="utf-8"))  # already validated by load
    return ExistingFile(config, data)


def _check_export(text: str, name: str, environment: str | None) -> None:
    """The export must pass `validate`; say what fails rather than write a file that does not."""
    from provisioner.config import validate_file

    with tempfile.TemporaryDirectory(prefix="provisioner-export-") as tmp:
        path = Path(tmp) / Path(name).name
        path.write_text(text, encoding="utf-8")
        problems = validate_file(path, environment)
    if problems:
        first = problems[0]
        raise ProvisionerError(
            f"the portal's state does not pass validate: {first.where}: {first.what}"
            + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""),
            hint="fix it in HubSpot, or export with --group to leave the offending properties out",
        )


@click.command("export")
@config_option
@portal_options
@click.option("-o", "--out", type=click.Path(dir_okay=False), default=None,
              help="Write the file here (default: stdout). An existing file needs --force.")
@click.option("--group", "groups", multiple=True, metavar="NAME",
              help="Export this deal property group (repeatable) instead of the file's groups.")
@click.option("--all-custom", is_flag=True, help="Export every custom deal property and its group.")
@click.option("--force", is_flag=True, help="Replace the file given with -o if it exists.")
@click.pass_context
def export_command(ctx, config_file, environment, local, api_version, tier, out, groups, all_custom, force):
    """Write the portal's current deal properties as a config file that `validate` accepts.

    By default exports the groups FILE manages (-f, default hubspot_schema.yaml) and keeps from it
    what HubSpot cannot tell: view-only access, the sidebar, the sync mapping, tombstones,
    environments and the portal guard. Planning the export against the same portal shows nothing
    to do. Use it to adopt an existing portal, or to accept a change made in HubSpot's UI into a
    pull request: provisioner export -o hubspot_schema.yaml --force, then review the diff.
    """
    if groups and all_custom:
        raise UsageError("give --group or --all-custom, not both")
    if out and os.path.exists(out) and not force:
        raise UsageError(f"{out} exists; not overwriting it", hint="pass --force to replace it, or -o another path")
    explicit = ctx.get_parameter_source("config_file") != click.core.ParameterSource.DEFAULT
    existing = _existing(config_file, environment, explicit)
    file_version = existing.config.api_version if existing else None
    client = open_client(local, api_version, tier, file_version)
    live = read_live_state(client)
    if existing is not None:
        check_portal_guard(existing.config, live.portal_id)
    result = export_document(
        live, exported_at=utc_now(), api_version=client.api_version, groups=groups, all_custom=all_custom,
        existing=existing, source=config_file if existing else "",
    )
    text = result.to_yaml()
    _check_export(text, out or config_file, existing.config.environment if existing else None)
    for remark in result.remarks:
        log.warning(remark)
    log.info("Exported %d group(s) and %d propert(ies) from portal %s", len(result.groups),
             len(result.properties), live.portal_id)
    if out:
        write_export(text, out, force=force)
        click.echo(f"Wrote {out}: {len(result.groups)} group(s), {len(result.properties)} properties from portal "
                   f"{live.portal_id}. Check it with `provisioner plan -f {out}` (expect no changes).", err=True)
    else:
        click.echo(text, nl=False)


def register(cli: click.Group) -> None:
    for command in (drift_command, export_command):
        cli.add_command(command)
