"""portals add/list/remove/resume: the registry of portals a fleet run or a worker serves.

The registry lives in the store: PROVISIONER_STORE_URL when set, else the file's ``sync.store``
(-f), else the default store beside the current directory's file. Tokens never pass on the
command line: a private-app portal names the variable holding its token, an OAuth portal the
variable holding its refresh token, which is stored encrypted with PROVISIONER_SECRET_KEY.
"""

from __future__ import annotations

import json
import os
import re

import click

from provisioner.cli.common import config_option, load
from provisioner.errors import UsageError
from provisioner.fleet.location import STORE_URL_VARIABLE, StoreLocation, redact_url, store_location
from provisioner.fleet.registry import DEFAULT_TIER, Portal, Registry, open_registry
from provisioner.hubspot.limiter import TIERS
from provisioner.model import DEFAULT_STORE

_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_PORTAL_ID = re.compile(r"[0-9]{1,18}")


def registry_location(config_file: str, environment: str | None) -> StoreLocation:
    """The store holding the registry: PROVISIONER_STORE_URL, else the file's sync.store, else the default."""
    if os.environ.get(STORE_URL_VARIABLE):
        return store_location("")
    if os.path.exists(config_file):
        return store_location(load(config_file, environment).sync.store_path)
    return store_location(os.path.abspath(DEFAULT_STORE))


def open_command_registry(config_file: str, environment: str | None) -> Registry:
    return open_registry(registry_location(config_file, environment))


def parse_portal_id(text: str) -> int:
    """A portal id as typed: a positive whole number in ASCII digits."""
    if not _PORTAL_ID.fullmatch(text.strip()) or int(text) <= 0:
        raise UsageError(f"portal id {text!r}: not a positive whole number")
    return int(text)


def _variable(option: str, name: str) -> str:
    """The value of the environment variable ``name`` (its name checked, its value never shown)."""
    if not _VARIABLE.fullmatch(name):
        raise UsageError(f"{option} {name!r}: not an environment variable name")
    value = os.environ.get(name, "")
    if not value:
        raise UsageError(f"{option} {name}: that variable is not set (or empty)",
                         hint=f"export {name} first; its value is read, never shown or stored in the clear")
    return value


def _where(registry: Registry) -> str:
    return redact_url(registry.where)


@click.group("portals")
def portals_group() -> None:
    """The registry of portals: add, list, remove and resume the portals --all-portals runs cover."""


@portals_group.command("add")
@click.argument("portal_id", metavar="ID")
@config_option
@click.option("--name", default="", help="A name for people (default: none).")
@click.option("--tier", default=DEFAULT_TIER, show_default=True,
              help="The portal's rate-limit tier: " + ", ".join(TIERS) + ".")
@click.option("--token-env", "token_env", metavar="VAR", default=None,
              help="The environment variable that holds the portal's private-app token.")
@click.option("--oauth-refresh-token-env", "refresh_env", metavar="VAR", default=None,
              help="The environment variable that holds the portal's OAuth refresh token (stored encrypted).")
def add_command(portal_id, config_file, environment, name, tier, token_env, refresh_env):
    """Register portal ID with its token variable or its OAuth refresh token."""
    number = parse_portal_id(portal_id)
    if tier not in TIERS:
        raise UsageError(f"--tier {tier!r}: no such tier", hint="use one of: " + ", ".join(TIERS))
    if (token_env is None) == (refresh_env is None):
        raise UsageError("give exactly one of --token-env VAR and --oauth-refresh-token-env VAR")
    if token_env is not None:
        _variable("--token-env", token_env)
        refresh_token = None
    else:
        refresh_token = _variable("--oauth-refresh-token-env", refresh_env)
    portal = Portal(number, name, tier, token_env, token_env is None, None)
    with open_command_registry(config_file, environment) as registry:
        registry.add(portal, refresh_token)
        where = _where(registry)
    how = f"token from {token_env}" if token_env else "OAuth, refresh token stored encrypted"
    click.echo(f"Registered portal {number}{f' ({name})' if name else ''}: tier {tier}, {how}, in {where}.")


def _portal_dict(portal: Portal) -> dict:
    return {"portal_id": portal.portal_id, "name": portal.name, "tier": portal.tier,
            "auth": "oauth" if portal.oauth else "token_env", "token_env": portal.token_env,
            "paused": portal.paused}


def render_portals_text(portals: list[Portal]) -> str:
    if not portals:
        return "No portals registered; add one with `provisioner portals add ID --token-env VAR`.\n"
    rows = [("PORTAL", "NAME", "TIER", "AUTH", "STATUS")]
    for p in portals:
        auth = "oauth" if p.oauth else f"${p.token_env}"
        rows.append((str(p.portal_id), p.name or "-", p.tier, auth, f"paused: {p.paused}" if p.paused else "active"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "".join("  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True)) + "  " + row[4] + "\n"
                   for row in rows)


@portals_group.command("list")
@config_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def list_command(config_file, environment, fmt):
    """The registered portals, with their tier, how they authenticate, and why any is paused."""
    with open_command_registry(config_file, environment) as registry:
        portals = registry.list()
    if fmt == "json":
        click.echo(json.dumps({"portals": [_portal_dict(p) for p in portals]}, indent=2, ensure_ascii=False))
    else:
        click.echo(render_portals_text(portals), nl=False)


@portals_group.command("remove")
@click.argument("portal_id", metavar="ID")
@config_option
def remove_command(portal_id, config_file, environment):
    """Forget portal ID (and its stored tokens)."""
    number = parse_portal_id(portal_id)
    with open_command_registry(config_file, environment) as registry:
        registry.remove(number)
    click.echo(f"Removed portal {number}.")


@portals_group.command("resume")
@click.argument("portal_id", metavar="ID")
@config_option
@click.option("--oauth-refresh-token-env", "refresh_env", metavar="VAR", default=None,
              help="A new refresh token for an OAuth portal (after the app was installed again).")
def resume_command(portal_id, config_file, environment, refresh_env):
    """Make a paused portal active again, optionally with a new OAuth refresh token."""
    number = parse_portal_id(portal_id)
    refresh_token = _variable("--oauth-refresh-token-env", refresh_env) if refresh_env else None
    with open_command_registry(config_file, environment) as registry:
        registry.resume(number, refresh_token)
    click.echo(f"Portal {number} is active.")


def register(cli: click.Group) -> None:
    cli.add_command(portals_group)
