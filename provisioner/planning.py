"""Making a plan, shared by the commands: read the portal, check it is the file's, diff.

``make_plan`` reads the portal, stops at once when it is not the portal the file is for (the
portal guard), and diffs. Saved plan files are ``planfile``'s.
"""

from __future__ import annotations

from datetime import datetime, timezone

from provisioner.diff import diff
from provisioner.errors import PortalGuardError
from provisioner.hubspot.client import HubSpotClient
from provisioner.hubspot.live import read_live_state
from provisioner.manual import apply_confirmations, confirmations_path, declared_steps, load_confirmations
from provisioner.model import Config, LiveState
from provisioner.plan import Plan


def utc_now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def check_portal_guard(config: Config, portal_id: int) -> None:
    """Stop before anything else when the file is for another portal."""
    if config.portal_id is not None and config.portal_id != portal_id:
        where = f" (environment {config.environment})" if config.environment else ""
        raise PortalGuardError(
            f"{config.path}{where} is for portal {config.portal_id}, but the token opens portal {portal_id}",
            hint="use the token of the right portal, or pick the right environment with --env",
        )


def make_plan(client: HubSpotClient, config: Config) -> tuple[Plan, LiveState]:
    """Read the portal and diff the file against it."""
    live = read_live_state(client)
    check_portal_guard(config, live.portal_id)
    steps = apply_confirmations(
        declared_steps(config), load_confirmations(confirmations_path(config.path)), live.portal_id
    )
    return diff(config, live, steps, created_at=utc_now()), live
