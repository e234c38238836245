"""Making a plan (load -> read -> diff) and saved plan files, shared by the commands.

``make_plan`` reads the portal, stops at once when it is not the portal the file is for, and
diffs. ``save_plan`` / ``load_plan`` write and read the JSON plan that ``apply PLANFILE`` carries out.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

from provisioner.diff import diff
from provisioner.errors import PortalGuardError, StalePlanError, UsageError
from provisioner.files import write_atomic
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


def save_plan(plan: Plan, path: str | os.PathLike) -> None:
    """Write the plan as JSON, atomically. It holds no token, only what the plan shows."""
    path = Path(path)
    text = json.dumps(plan.to_dict(), indent=2, ensure_ascii=False) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text)
    except OSError as exc:
        raise UsageError(f"cannot write the plan to {path}: {exc.strerror or exc}") from None


def load_plan(path: str | os.PathLike) -> Plan:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StalePlanError(f"no saved plan at {path}") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise StalePlanError(f"{path} is not a saved plan ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise StalePlanError(f"{path} is not a saved plan")
    return Plan.from_dict(data)
