"""The command line: the only layer that prints, prompts or exits.

Each command module registers its commands on ``cli``; expected errors are translated to one
message line, a hint and an exit code here, once.
"""

from __future__ import annotations

import logging
import sys

import click

from provisioner import __version__, logs
from provisioner.errors import EXIT_ERROR, ApplyError, ConfigError, ProvisionerError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="provisioner")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.option("-q", "--quiet", is_flag=True, help="Log errors only (outputs on stdout are unchanged).")
@click.option("-v", "--verbose", count=True, help="Log findings (-v) or every detail (-vv) to stderr.")
@click.option("--log-format", type=click.Choice(logs.FORMATS), default="text", show_default=True,
              envvar="PROVISIONER_LOG_FORMAT", help="Log lines as text or JSON lines (or PROVISIONER_LOG_FORMAT).")
@click.pass_context
def cli(ctx: click.Context, debug: bool, quiet: bool, verbose: int, log_format: str) -> None:
    """Keep a HubSpot portal's Accord deal fields true to hubspot_schema.yaml.

    Commands that talk to a portal take --local (the embedded local portal) or read
    HUBSPOT_ACCESS_TOKEN; HUBSPOT_BASE_URL points them elsewhere, HUBSPOT_API_VERSION picks
    2026-03 (default) or v3.

    Exit codes: 0 success and nothing to change, 1 error, 2 changes present
    (plan --detailed-exitcode, drift).

    Plans, reports and exports go to stdout; log lines and errors go to stderr.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    logs.configure_logging(quiet=quiet, verbose=verbose, fmt=log_format)


def _register_commands() -> None:
    from provisioner.cli import (
        check_commands,
        config_commands,
        emulator_commands,
        engine_commands,
        pipeline_commands,
        portals_commands,
        serve_commands,
        sync_commands,
    )

    for module in (config_commands, engine_commands, pipeline_commands, sync_commands, serve_commands,
                   emulator_commands, check_commands, portals_commands):
        module.register(cli)


def _log_error(error: ProvisionerError) -> None:
    """The error as JSON log lines on stderr, for pipelines that parse them."""
    log = logging.getLogger(logs.LOGGER)
    lines = [str(problem) for problem in error.problems] if isinstance(error, ConfigError) else [str(error)]
    if isinstance(error, ApplyError):
        lines += [f"done: {line}" for line in error.done] + [f"not done: {line}" for line in error.not_done]
    for line in lines[:-1]:
        log.error(line, extra={"exit_code": error.exit_code})
    extra = {"exit_code": error.exit_code, **({"hint": error.hint} if error.hint else {})}
    log.error(lines[-1] if lines else type(error).__name__, extra=extra)


def _print_error(error: ProvisionerError) -> None:
    if logs.is_json():
        _log_error(error)
        return
    if isinstance(error, ConfigError):
        for problem in error.problems:
            click.echo(str(problem), err=True)
        click.echo(f"error: {len(error.problems)} problem(s) found", err=True)
    else:
        click.echo(logs.redact(f"error: {error}"), err=True)
    if isinstance(error, ApplyError):
        for line in error.done:
            click.echo(f"  done:     {line}", err=True)
        for line in error.not_done:
            click.echo(f"  not done: {line}", err=True)
    if error.hint:
        click.echo(logs.redact(f"hint: {error.hint}"), err=True)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run a command and exit with its code."""
    _register_commands()
    logs.configure_logging()  # until the options are read: warnings, as text
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
