"""plan, apply and confirm: reconcile the portal with the file."""

from __future__ import annotations

import getpass
import os
import sys

import click

from provisioner.apply import apply_plan, verify_applied
from provisioner.cli.common import config_option, load, open_client, portal_options
from provisioner.cli.fleet_runs import fleet_options, refuse_fleet_options, run_all_portals
from provisioner.errors import EXIT_CHANGES, ApplyError, StalePlanError, UsageError
from provisioner.fleet.runs import ApplyOptions
from provisioner.fleet.saved import is_fleet_plan
from provisioner.guards import check_allowed, check_fresh
from provisioner.hubspot.client import SCHEMA_SCOPES
from provisioner.manual import confirmations_path, declared_steps, record_confirmations
from provisioner.planfile import load_plan, save_plan
from provisioner.planning import check_portal_guard, make_plan, utc_now
from provisioner.render.plan import RENDERERS, render_text

FORMATS = click.Choice(sorted(RENDERERS))


def use_colour() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def render(plan, fmt: str) -> str:
    if fmt == "text":
        return render_text(plan, colour=use_colour())
    return RENDERERS[fmt](plan)


@click.command("plan")
@config_option
@portal_options
@click.option("--out", "out", type=click.Path(dir_okay=False), help="Save the plan (JSON) for `apply PLANFILE`.")
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True, help="Output format.")
@click.option("--detailed-exitcode", is_flag=True,
              help="Exit 2 when there are changes, 0 when none (manual steps do not count).")
@fleet_options
@click.pass_context
def plan_command(ctx, config_file, environment, local, api_version, tier, out, fmt, detailed_exitcode, all_portals,
                 concurrency, out_dir):
    """Read the live portal and show what apply would do.

    With --all-portals: every registered portal, one summary table; exit 2 when any portal has
    changes, 1 when any failed; --out saves one plan per portal for `apply FILE`.
    """
    refuse_fleet_options(all_portals, concurrency, out_dir, ctx)
    if all_portals:
        return run_all_portals(ctx, "plan", config_file=config_file, environment=environment, local=local,
                               api_version=api_version, tier=tier, fmt=fmt, concurrency=concurrency,
                               out_dir=out_dir, out=out)
    config = load(config_file, environment)
    client = open_client(local, api_version, tier, config.api_version)
    the_plan, _ = make_plan(client, config)
    if out:
        save_plan(the_plan, out)
    click.echo(render(the_plan, fmt), nl=False)
    if out:
        click.echo(f"Saved the plan to {out}; apply it with `provisioner apply {out}`.", err=True)
    if detailed_exitcode and the_plan.has_changes:
        ctx.exit(EXIT_CHANGES)


@click.command("apply")
@click.argument("planfile", required=False, type=click.Path(dir_okay=False))
@config_option
@portal_options
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.option("--allow-archive", is_flag=True, help="Allow archiving properties listed as tombstones.")
@click.option("--allow-type-change", is_flag=True, help="Allow changing the type of an existing property.")
@fleet_options
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True,
              help="With --all-portals or a saved fleet plan: the summary's format.")
@click.pass_context
def apply_command(ctx, planfile, config_file, environment, local, api_version, tier, auto_approve, allow_archive,
                  allow_type_change, all_portals, concurrency, out_dir, fmt):
    """Make the portal match the file, or carry out a saved PLANFILE (refused if the portal moved).

    With --all-portals (and --auto-approve), or a saved fleet plan: every portal; a portal that
    moved since its saved plan is refused, the others are applied.
    """
    fleet_plan = bool(planfile) and is_fleet_plan(planfile)
    refuse_fleet_options(all_portals or fleet_plan, concurrency, out_dir, ctx)
    if all_portals or fleet_plan:
        if planfile and not fleet_plan:
            raise UsageError(f"{planfile} is a single portal's plan; apply it without --all-portals")
        if not planfile and not auto_approve:
            raise UsageError("apply --all-portals needs --auto-approve",
                             hint="or review a saved fleet plan: plan --all-portals --out FILE, then apply FILE")
        return run_all_portals(ctx, "apply", config_file=config_file, environment=environment, local=local,
                               api_version=api_version, tier=tier, fmt=fmt, concurrency=concurrency,
                               out_dir=out_dir, planfile=planfile,
                               apply_options=ApplyOptions(allow_archive, allow_type_change))
    if fmt != "text":
        raise UsageError("--format goes with --all-portals or a saved fleet plan")
    saved = load_plan(planfile) if planfile else None
    if saved is not None:
        if ctx.get_parameter_source("config_file") == click.core.ParameterSource.DEFAULT:
            config_file = saved.config_path
        if environment is not None and environment != saved.environment:
            raise StalePlanError(f"the saved plan was made for environment {saved.environment!r}, not {environment!r}")
        environment = saved.environment
    config = load(config_file, environment)
    client = open_client(local, api_version, tier, saved.api_version if saved else config.api_version)
    current, live = make_plan(client, config)
    the_plan = current
    if saved is not None:
        check_fresh(saved, config, live, current)
        the_plan = saved
    click.echo(render_text(the_plan, colour=use_colour()), nl=False)
    check_allowed(the_plan, allow_archive=allow_archive, allow_type_change=allow_type_change)
    if not the_plan.has_changes:
        return
    client.preflight_scopes(SCHEMA_SCOPES)
    if not auto_approve and saved is None:
        if not sys.stdin.isatty():
            raise UsageError("apply needs confirmation", hint="pass --auto-approve, or apply a saved plan file")
        click.confirm("Apply these changes?", abort=True)
    done = apply_plan(client, the_plan)
    missing = verify_applied(client, the_plan)
    for line in done:
        click.echo(f"  {line}")
    if missing:
        raise ApplyError("the portal does not show every change after apply: " + ", ".join(missing), done, missing,
                         hint="HubSpot may still be catching up; run plan again in a minute")
    click.echo(f"Apply complete: {len(done)} change(s), {client.stats.requests} HTTP request(s).")
    pending = the_plan.pending_steps
    if pending:
        click.echo(f"{len(pending)} manual step(s) still to do by hand (see above), then `provisioner confirm`.")


@click.command("confirm")
@click.argument("steps", nargs=-1)
@config_option
@portal_options
@click.option("--all", "confirm_all", is_flag=True, help="Confirm every declared manual step.")
@click.option("--by", "confirmed_by", default=None, help="Who did it (default: the current user).")
@click.option("--portal-id", type=int, default=None, help="The portal the steps were done in (skips reading it).")
def confirm_command(steps, config_file, environment, local, api_version, tier, confirm_all, confirmed_by, portal_id):
    """Record that manual STEPS (e.g. access/accord_url, sidebar) were done in HubSpot's UI.

    The record goes into <file>.confirmations.yaml beside the config, for review in the repository.
    """
    config = load(config_file, environment)
    declared = {step.id: step for step in declared_steps(config)}
    if not steps and not confirm_all:
        raise UsageError("name the steps to confirm, or pass --all", hint="steps: " + ", ".join(declared))
    unknown = [s for s in steps if s not in declared]
    if unknown:
        raise UsageError("no such manual step: " + ", ".join(unknown), hint="steps: " + ", ".join(declared))
    chosen = list(declared.values()) if confirm_all else [declared[s] for s in steps]
    if portal_id is None:
        portal_id = open_client(local, api_version, tier, config.api_version).get_account_details().portal_id
        check_portal_guard(config, portal_id)
    path = confirmations_path(config.path)
    record_confirmations(path, portal_id, chosen, confirmed_by=confirmed_by or getpass.getuser(),
                         confirmed_at=utc_now())
    click.echo(f"Recorded {len(chosen)} manual step(s) as done in portal {portal_id} in {path}.")


def register(cli: click.Group) -> None:
    for command in (plan_command, apply_command, confirm_command):
        cli.add_command(command)

