"""Options shared by the commands that read a config file or talk to a portal."""

from __future__ import annotations

import functools

import click

from provisioner.config import DEFAULT_CONFIG_FILE, ENVIRONMENT_VARIABLE, load_config
from provisioner.hubspot.client import TIERS, HubSpotClient
from provisioner.hubspot.connect import connect
from provisioner.model import API_VERSIONS, DEFAULT_API_VERSION, Config


def config_option(func):
    """-f/--file and --env (environment of the file; PROVISIONER_ENV)."""

    @click.option(
        "-f", "--file", "config_file", default=DEFAULT_CONFIG_FILE, show_default=True,
        type=click.Path(dir_okay=False), help="The declared portal file.",
    )
    @click.option("--env", "environment", envvar=ENVIRONMENT_VARIABLE, default=None,
                  help=f"Environment of the file to use (or {ENVIRONMENT_VARIABLE}).")
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)

    return wrapper


def portal_options(func):
    """--local, --api-version, --tier: which portal and how hard to push it."""

    @click.option("--local", is_flag=True,
                  help="Use the embedded local portal (state in .provisioner/, no account needed).")
    @click.option("--api-version", type=click.Choice(API_VERSIONS), default=None,
                  help="HubSpot API path family (default: HUBSPOT_API_VERSION, else the file's, "
                  f"else {DEFAULT_API_VERSION}).")
    @click.option("--tier", type=click.Choice(list(TIERS)), default=None,
                  help="The portal's rate-limit tier, sizes the request rate (default: HUBSPOT_TIER or starter).")
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)

    return wrapper


def load(config_file: str, environment: str | None) -> Config:
    """The command's config file, for the chosen environment (ConfigError lists every problem)."""
    return load_config(config_file, environment=environment)


def open_client(local: bool, api_version: str | None = None, tier: str | None = None,
                file_api_version: str | None = None, *, service: bool = False, **client_options) -> HubSpotClient:
    """The client for this command: flag, then HUBSPOT_API_VERSION, then the file's api_version.

    A command ends by PROVISIONER_TIMEOUT; a ``service`` (serve, sync worker) runs until stopped, so
    only its requests have deadlines.
    """
    options = {"deadline_s": None, **client_options} if service else client_options
    return connect(local=local, api_version=api_version, tier=tier, default_api_version=file_api_version,
                   **options)
