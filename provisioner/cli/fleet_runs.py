"""--all-portals: plan, apply and drift over every registered portal (the options and the printing).

The commands in engine_commands and pipeline_commands hand over here when --all-portals is given
(or apply is given a saved fleet plan); the work itself is ``provisioner.fleet.runs``'s.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import click

from provisioner.errors import EXIT_CHANGES, EXIT_ERROR, UsageError
from provisioner.files import write_atomic
from provisioner.fleet import runs
from provisioner.fleet.location import redact_url, store_location
from provisioner.fleet.registry import Portal, open_registry
from provisioner.fleet.saved import load_fleet_plan, save_fleet_plan
from provisioner.planning import utc_now
from provisioner.render import fleet as fleet_render


def fleet_options(func):
    """--all-portals, --concurrency N, --out-dir DIR."""

    @click.option("--all-portals", "all_portals", is_flag=True,
                  help="Run on every registered portal (see `provisioner portals`), the same file for each.")
    @click.option("--concurrency", type=int, default=runs.DEFAULT_CONCURRENCY, show_default=True,
                  help=f"With --all-portals: portals run at once (1 to {runs.MAX_CONCURRENCY}).")
    @click.option("--out-dir", "out_dir", type=click.Path(file_okay=False), default=None,
                  help="With --all-portals: write one JSON and one markdown document per portal here.")
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)

    return wrapper


def refuse_fleet_options(all_portals: bool, concurrency: int, out_dir: str | None, ctx: click.Context) -> None:
    """--concurrency and --out-dir mean something only with --all-portals."""
    if all_portals:
        return
    given = [name for name in ("concurrency", "out_dir")
             if ctx.get_parameter_source(name) != click.core.ParameterSource.DEFAULT]
    if given:
        raise UsageError(f"--{given[0].replace('_', '-')} goes with --all-portals")


def _write_documents(fleet: runs.FleetRun, out_dir: str) -> None:
    directory = Path(out_dir)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for run in fleet.runs:
            stem = directory / f"portal-{run.portal.portal_id}"
            document = fleet_render.portal_to_dict(run, fleet.command)
            write_atomic(stem.with_suffix(".json"), json.dumps(document, indent=2, ensure_ascii=False)
                         + "\n")
            write_atomic(stem.with_suffix(".md"), fleet_render.render_portal_markdown(run, fleet.command))
    except OSError as exc:
        raise UsageError(f"cannot write the documents to {out_dir}: {exc.strerror or exc}") from None


def run_all_portals(ctx: click.Context, command: str, *, config_file: str, environment: str | None, local: bool,
                    api_version: str | None, tier: str | None, fmt: str, concurrency: int, out_dir: str | None,
                    out: str | None = None, planfile: str | None = None,
                    apply_options: runs.ApplyOptions | None = None) -> None:
    """Run ``command`` on every registered portal; print the summary; exit 1 on a failure, else 2 on changes."""
    if local:
        raise UsageError("--all-portals runs on the registered portals; --local is the one local portal")
    if environment:
        raise UsageError("--env does not go with --all-portals: each portal takes the environment of the file "
                         "whose portal.id is its id", hint="unset PROVISIONER_ENV if it is set")
    saved = load_fleet_plan(planfile) if planfile else None
    if saved:
        config_file = next(iter(saved.values())).config_path if ctx.get_parameter_source(
            "config_file") == click.core.ParameterSource.DEFAULT else config_file
    fleet_config = runs.FleetConfig(config_file)
    checked_at = utc_now()
    work = {
        "plan": lambda portal, client, config, plan: runs.plan_portal(portal, client, config),
        "drift": lambda portal, client, config, plan: runs.drift_portal(portal, client, config, checked_at),
        "apply": lambda portal, client, config, plan: runs.apply_portal(portal, client, config, plan,
                                                                        apply_options or runs.ApplyOptions()),
    }[command]
    client_options = {"api_version": api_version, **({"tier": tier} if tier else {})}
    with open_registry(store_location(fleet_config.base.sync.store_path)) as registry:
        portals = registry.list()
        if not portals:  # a pipeline that lost its registry must not pass as "nothing to do"
            raise UsageError(f"no portals are registered in {redact_url(registry.where)}",
                             hint="add them with `provisioner portals add ID --token-env VAR`")
        missing: list[runs.PortalRun] = []
        if saved is not None:
            known = {portal.portal_id for portal in portals}
            portals = [portal for portal in portals if portal.portal_id in saved]
            missing = [runs.PortalRun(Portal(pid, "", "", None, False, None), runs.FAILED,
                                      error=f"portal {pid} is in the saved plan but no longer registered")
                       for pid in sorted(saved) if pid not in known]
        fleet = runs.run_fleet(command, registry, portals, fleet_config, work, saved=saved,
                               concurrency=concurrency, client_options=client_options)
    fleet = runs.FleetRun(command, fleet.runs + tuple(missing), fleet.created_at)
    if out_dir:
        _write_documents(fleet, out_dir)
    if out:
        plans = [run.plan for run in fleet.runs if run.plan is not None and not run.failed]
        save_fleet_plan(plans, out, fleet.created_at)
    click.echo(fleet_render.RENDERERS[fmt](fleet), nl=False)
    if out:
        click.echo(f"Saved {len(plans)} portal plan(s) to {out}; apply them with `provisioner apply {out}`.",
                   err=True)
    if out_dir:
        click.echo(f"Wrote {len(fleet.runs)} portal document(s) (JSON and markdown) to {os.fspath(out_dir)}.",
                   err=True)
    if fleet.has_failures:
        ctx.exit(EXIT_ERROR)
    if fleet.has_changes:
        ctx.exit(EXIT_CHANGES)
