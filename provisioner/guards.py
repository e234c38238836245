"""What apply checks before its first write: flags for risky changes, and a saved plan still true.

A saved plan is carried out only when it was made for this portal, from this file, against the
portal as it is now: the fingerprints of the objects it touches are unchanged and its changes are
exactly the ones the file and the portal give now (so a hand-edited plan file is refused too).
When it is refused, ``explain_moves`` says what moved, field by field: a nested comparison of the
saved and the current changes (DeepDiff's job), turned into this project's own lines.
"""

from __future__ import annotations

from typing import Any

from provisioner.changes import ArchiveProperty, Change, nested_differences
from provisioner.errors import PortalGuardError, StalePlanError, UnsafeChangeError
from provisioner.model import Config, LiveState
from provisioner.plan import Plan
from provisioner.planfile import change_to_dict
from provisioner.render.values import value_text

MAX_MOVES_SHOWN = 3
AGAIN = "run plan again and review the new plan"
# Where a difference sits in a change, as a reader says it.
_SIDES = {"before": "in the portal", "after": "in the file"}


def check_allowed(plan: Plan, *, allow_archive: bool, allow_type_change: bool) -> None:
    """Refuse a plan that holds a change needing an explicit flag."""
    risky = [c.key for c in plan.changes if c.risky]
    if risky and not allow_type_change:
        raise UnsafeChangeError(
            "the plan changes the type of " + ", ".join(f"'{k}'" for k in risky) + "; HubSpot converts or "
            "clears existing values",
            hint="review the plan, then apply with --allow-type-change",
        )
    archives = [c.key for c in plan.changes if isinstance(c, ArchiveProperty)]
    if archives and not allow_archive:
        raise UnsafeChangeError(
            "the plan archives " + ", ".join(f"'{k}'" for k in archives),
            hint="review the plan, then apply with --allow-archive",
        )


def _by_object(changes: tuple[Change, ...]) -> dict[str, dict[str, Any]]:
    out = {}
    for change in changes:
        data = change_to_dict(change)
        out[f"{change.kind}/{change.key}"] = {"action": data["action"], "before": data["before"],
                                              "after": data["after"]}
    return out


def _where(path: list[Any]) -> str:
    parts = []
    for part in path:
        parts.append(f"[{part}]" if isinstance(part, int) else ("." if parts else "") + str(part))
    return "".join(parts)


def explain_moves(saved: Plan, current: Plan) -> list[str]:
    """One line per difference between a saved plan's changes and the plan made now, field by field."""
    was, now = _by_object(saved.changes), _by_object(current.changes)
    if was == now:
        return []
    lines: list[str] = []
    for path, old, new in nested_differences(was, now):
        address = str(path[0])
        if len(path) == 1:
            lines.append(f"{address}: no longer differs" if new is None else f"{address}: now differs too")
        elif path[1] == "action":
            lines.append(f"{address}: now to {new} (was to {old})")
        else:
            side = _SIDES.get(str(path[1]), str(path[1]))
            lines.append(f"{address}: {_where(path[2:]) or 'the object'} {side} {_shown(old)} -> {_shown(new)}")
    return sorted(lines)


def _shown(value: Any) -> str:
    if value is None:
        return "(absent)"
    text = value_text(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _summary(lines: list[str]) -> str:
    shown = "; ".join(lines[:MAX_MOVES_SHOWN])
    more = len(lines) - MAX_MOVES_SHOWN
    return shown + (f" (and {more} more)" if more > 0 else "")


def check_fresh(plan: Plan, config: Config, live: LiveState, current: Plan) -> None:
    """Refuse a saved plan made for another portal, from another file, or that no longer matches the portal."""
    if plan.portal_id != live.portal_id:
        raise PortalGuardError(
            f"the saved plan was made for portal {plan.portal_id}, but the token opens portal {live.portal_id}",
            hint="apply it with the credentials of the portal it was made for",
        )
    moves = explain_moves(plan, current)
    if plan.config_digest != config.digest:
        detail = f": {_summary(moves)}" if moves else ""
        raise StalePlanError(f"{config.path} changed since the plan was made{detail}", hint=AGAIN)
    moved = sorted(
        key for key, value in plan.fingerprints.items() if current.fingerprints.get(key, value) != value
    ) + sorted(set(current.fingerprints) - set(plan.fingerprints))
    if moved:
        named = [line for line in moves if line.split(":", 1)[0] in moved]
        rest = [key for key in moved if not any(line.startswith(f"{key}:") for line in named)]
        raise StalePlanError("the portal changed since the plan was made: " + _summary(named + rest), hint=AGAIN)
    if moves:
        raise StalePlanError(
            "the saved plan's changes are not the ones the file and the portal give now (was it edited?): "
            + _summary(moves), hint=AGAIN)
