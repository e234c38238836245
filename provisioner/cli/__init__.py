"""The command line: the only layer that prints, prompts or exits.

Each command module registers its commands on ``cli``; expected errors are translated to one
message line, a hint and an exit code here, once.
"""

from __future__ import annotations

import sys

import click

from provisioner import __version__
from provisioner.errors import EXIT_ERROR, ApplyError, ConfigError, ProvisionerError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="provisioner")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Keep a HubSpot portal's Accord deal fields true to hubspot_schema.yaml.

    Commands that talk to a portal take --local (the embedded local portal) or read
    HUBSPOT_ACCESS_TOKEN; HUBSPOT_BASE_URL points them elsewhere, HUBSPOT_API_VERSION picks
    2026-03 (default) or v3.

    Exit codes: 0 success and nothing to change, 1 error, 2 changes present
    (plan --detailed-exitcode, drift).
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def _register_commands() -> None:
    from provisioner.cli import config_commands, emulator_commands, engine_commands, sync_commands

    for module in (config_commands, engine_commands, sync_commands, emulator_commands):
        module.register(cli)


def _print_error(error: ProvisionerError) -> None:
    if isinstance(error, ConfigError):
        for problem in error.problems:
            click.echo(str(problem), err=True)
        click.echo(f"error: {len(error.problems)} problem(s) found", err=True)
    else:
        click.echo(f"error: {error}", err=True)
    if isinstance(error, ApplyError):
        for line in error.done:
            click.echo(f"  done:     {line}", err=True)
        for line in error.not_done:
            click.echo(f"  not done: {line}", err=True)
    if error.hint:
        click.echo(f"hint: {error.hint}", err=True)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run a command and exit with its code."""
    _register_commands()
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        code = cli.main(args=argv, prog_name="provisioner", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        code = EXIT_ERROR
    except click.ClickException as error:
        # Usage errors exit 1, never 2: 2 means "changes present".
        error.show()
        code = EXIT_ERROR
    except ProvisionerError as error:
        if debug:
            raise
        _print_error(error)
        code = error.exit_code
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        code = 130
    sys.exit(code if isinstance(code, int) else 0)
