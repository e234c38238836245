"""``provisioner validate`` and ``provisioner schema``: the config file's own commands."""

from __future__ import annotations

import json
import os

import click

from provisioner.config import (
    DEFAULT_CONFIG_FILE,
    ENVIRONMENT_VARIABLE,
    config_schema,
    load_config,
)
from provisioner.errors import ProvisionerError
from provisioner.model import Config


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def summarize(config: Config) -> str:
    """One line saying what a valid file declares."""
    desired = config.desired
    manual = (1 if config.access else 0) + (1 if config.sidebar else 0) + (1 if config.crm_card else 0)
    parts = [
        _plural(len(desired.groups), "group"),
        _plural(len(desired.properties), "property").replace("propertys", "properties"),
        _plural(len(desired.rules), "validation rule"),
        _plural(manual, "manual setting"),
        _plural(len(config.sync.mapping), "mapped field"),
    ]
    if config.tombstones:
        parts.append(_plural(len(config.tombstones), "tombstone"))
    where = f" for environment {config.environment}" if config.environment else ""
    return f"{config.path}: valid{where} ({', '.join(parts)})"


@click.command("validate")
@click.option(
    "-f",
    "--file",
    "file",
    default=DEFAULT_CONFIG_FILE,
    show_default=True,
    help="The config file to check.",
)
@click.option(
    "--env",
    "environment",
    envvar=ENVIRONMENT_VARIABLE,
    default=None,
    help=f"Environment declared in the file (default: ${ENVIRONMENT_VARIABLE}, else the top-level values).",
)
def validate_command(file: str, environment: str | None) -> None:
    """Check the file against its JSON Schema and HubSpot's rules.

    Prints every problem as FILE:LINE:COL: where: what and exits 1, or one summary line and
    exits 0.
    """
    if not os.path.lexists(file):
        raise ProvisionerError(f"{file}: no such file", hint="Point to the config file with -f FILE.")
    # An invalid file raises ConfigError: the main group prints each problem and exits 1.
    config = load_config(file, environment or None)
    click.echo(summarize(config))


@click.command("schema")
def schema_command() -> None:
    """Print the config file's JSON Schema (for editors: provisioner schema > schema.json)."""
    click.echo(json.dumps(config_schema(), indent=2))


def register(cli: click.Group) -> None:
    """Add this module's commands to ``cli``."""
    cli.add_command(validate_command)
    cli.add_command(schema_command)
