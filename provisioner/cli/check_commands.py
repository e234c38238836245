"""check: the seed's Step 5, an end-to-end round trip through a test deal (logic in provisioner.check)."""

from __future__ import annotations

import re

import click

from provisioner.cli.common import config_option, load, open_client, portal_options
from provisioner.errors import EXIT_ERROR, EXIT_OK

_DEAL_ID = re.compile(r"^[0-9]{1,20}$")


def _deal_id(ctx, param, value: str | None) -> str | None:
    if value is not None and not _DEAL_ID.match(value):
        raise click.BadParameter(f"{value!r} is not a HubSpot deal id (digits)")
    return value


@click.command()
@config_option
@portal_options
@click.option("--deal", "deal_id", default=None, callback=_deal_id, metavar="ID",
              help="Use this existing deal instead of a new test deal; it is kept, and its values restored.")
@click.option("--keep", is_flag=True, help="Keep the new test deal, with its values, instead of archiving it (a --deal is always kept).")
@click.option("--via", "via", default=None, metavar="URL",
              help="Send the snapshot through a running `provisioner serve` at URL (signed with "
                   "PROVISIONER_WEBHOOK_SECRET) and measure event-to-deal latency.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True,
              help="Output format.")
@click.pass_context
def check(ctx, config_file, environment, local, api_version, tier, deal_id, keep, via, fmt):
    """Prove the portal works end to end: plan, manual steps, a round trip through a test deal.

    Reads the portal first and stops before writing anything when it is not as declared. Then
    pushes a synthetic Accord snapshot (a value for every mapped field, the URL exactly at its
    character limit) through the value sync onto a test deal, reads it back, and archives the
    deal. The sync store is never touched. With --via, the snapshot goes through the service's
    signed intake instead, and the service's store is put back as it was for the deal.
    Exit 0 only when every step passed.
    """
    from provisioner.check import run_check
    from provisioner.check.render import RENDERERS

    config = load(config_file, environment)
    client = open_client(local, api_version, tier, config.api_version)
    report = run_check(client, config, deal_id=deal_id, keep=keep, via=via)
    click.echo(RENDERERS[fmt](report), nl=False)
    ctx.exit(EXIT_OK if report.ok else EXIT_ERROR)


def register(cli: click.Group) -> None:
    cli.add_command(check)
