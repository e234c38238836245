"""Saved fleet plans: one saved plan per portal in one file, written by ``plan --all-portals --out``.

The file is ``{"fleet_plan": FORMAT_VERSION, "created_at": ..., "plans": [<a saved plan>, ...]}``,
each plan exactly what ``plan --out`` saves for one portal (``planfile``), so ``apply FILE`` checks
each against its portal as a single saved plan is checked, and refuses only the portals that moved.
Read within ``planfile``'s size limit; a damaged member is one line naming the file and the member.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from provisioner.errors import PlanFileError, UsageError
from provisioner.files import write_atomic
from provisioner.plan import Plan
from provisioner.planfile import _Bad, plan_from_dict, plan_to_dict, read_plan_text

FLEET_FORMAT_VERSION = 1
KEY = "fleet_plan"


def save_fleet_plan(plans: list[Plan], path: str | os.PathLike, created_at: str) -> None:
    data = {KEY: FLEET_FORMAT_VERSION, "created_at": created_at, "plans": [plan_to_dict(p) for p in plans]}
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise UsageError(f"cannot write the fleet plan to {path}: {exc.strerror or exc}") from None


def _document(path: str | os.PathLike) -> object:
    text = read_plan_text(path)
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None  # not JSON at all: planfile's reader says where


def is_fleet_plan(path: str | os.PathLike) -> bool:
    """Whether the saved plan at ``path`` is a fleet plan (a missing or damaged file is not)."""
    try:
        data = _document(path)
    except PlanFileError:
        return False
    return isinstance(data, dict) and KEY in data


def load_fleet_plan(path: str | os.PathLike) -> dict[int, Plan]:
    """The fleet plan's plans by portal id, or one PlanFileError line saying where it is wrong."""
    data = _document(path)
    if not isinstance(data, dict) or data.get(KEY) != FLEET_FORMAT_VERSION or isinstance(data.get(KEY), bool):
        raise PlanFileError(f"{path}: not a fleet plan this provisioner can read (fleet_plan "
                            f"{data.get(KEY) if isinstance(data, dict) else None!r}; it reads {FLEET_FORMAT_VERSION})",
                            hint="make it again with `provisioner plan --all-portals --out FILE`")
    items = data.get("plans")
    if not isinstance(items, list):
        raise PlanFileError(f"{path}: plans: expected a list")
    if not items:
        raise PlanFileError(f"{path}: holds no portal's plan (no portal planned when it was made)")
    plans: dict[int, Plan] = {}
    for index, item in enumerate(items):
        try:
            plan = plan_from_dict(item)
        except _Bad as exc:
            raise PlanFileError(f"{path}: plans[{index}]: not a saved plan this provisioner can read: {exc}") from None
        if plan.portal_id in plans:
            raise PlanFileError(f"{path}: plans[{index}]: a second plan for portal {plan.portal_id}")
        plans[plan.portal_id] = plan
    return plans
