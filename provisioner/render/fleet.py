"""Rendering a fleet run: one summary table, and one document per portal in JSON and markdown.

The summary has a row per portal: creates, updates (archives included), manual steps pending and
the result. A portal's document holds what a single run would show for it (the JSON plan, or the
drift report) plus its result and, when it failed, the one-line reason.
"""

from __future__ import annotations

import json
from typing import Any

from provisioner.fleet.runs import FleetRun, PortalRun
from provisioner.planfile import plan_to_dict
from provisioner.render import drift as drift_render
from provisioner.render import plan as plan_render
from provisioner.render.values import md

FLEET_FORMAT_VERSION = 1
_HEAD = ("PORTAL", "NAME", "CREATES", "UPDATES", "MANUAL", "RESULT")


def portal_to_dict(run: PortalRun, command: str) -> dict[str, Any]:
    data: dict[str, Any] = {"portal_id": run.portal.portal_id, "name": run.portal.name,
                            "environment": run.environment, "result": run.result, **run.tally(),
                            "error": run.error}
    if command == "drift":
        data["drift"] = drift_render.report_to_dict(run.report) if run.report else None
    else:
        data["plan"] = plan_to_dict(run.plan) if run.plan else None
    if command == "apply":
        data["done"] = list(run.done)
    return data


def fleet_to_dict(fleet: FleetRun) -> dict[str, Any]:
    results: dict[str, int] = {}
    for run in fleet.runs:
        results[run.result] = results.get(run.result, 0) + 1
    return {"format_version": FLEET_FORMAT_VERSION, "command": fleet.command, "created_at": fleet.created_at,
            "summary": {"portals": len(fleet.runs), "has_changes": fleet.has_changes,
                        "failed": sum(run.failed for run in fleet.runs), "results": dict(sorted(results.items()))},
            "portals": [portal_to_dict(run, fleet.command) for run in fleet.runs]}


def render_json(fleet: FleetRun) -> str:
    return json.dumps(fleet_to_dict(fleet), indent=2, ensure_ascii=False) + "\n"


def _row(run: PortalRun) -> tuple[str, ...]:
    tally = run.tally()
    counted = run.plan is not None
    result = run.result + (f" ({run.environment})" if run.environment else "")
    return (str(run.portal.portal_id), run.portal.name or "-", *(str(tally[k]) if counted else "-" for k in
                                                                  ("creates", "updates", "manual_pending")), result)


def render_text(fleet: FleetRun) -> str:
    """The summary table, then one line per portal that failed, was refused or is paused."""
    rows = [_HEAD] + [_row(run) for run in fleet.runs]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEAD))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    for run in fleet.runs:
        if run.error:
            lines.append(f"portal {run.portal.portal_id} {run.result}: {run.error}")
    failed = sum(run.failed for run in fleet.runs)
    changed = sum(run.has_changes for run in fleet.runs)
    lines.append(f"In all: {len(fleet.runs)} portal(s), {changed} with changes, {failed} failed.")
    return "\n".join(lines) + "\n"


def render_portal_markdown(run: PortalRun, command: str) -> str:
    name = f" ({md(run.portal.name)})" if run.portal.name else ""
    lines = [f"## Portal {run.portal.portal_id}{name}: {run.result}", ""]
    if run.error:
        lines += [f"**{run.result.capitalize()}:** {md(run.error)}", ""]
    if run.done:
        lines += ["Done:", ""] + [f"- {md(line)}" for line in run.done] + [""]
    text = "\n".join(lines)
    if command == "drift" and run.report is not None:
        text += drift_render.render_markdown(run.report)
    elif run.plan is not None:
        text += plan_render.render_markdown(run.plan)
    return text


def render_markdown(fleet: FleetRun) -> str:
    head = ["| Portal | Name | Creates | Updates | Manual steps pending | Result |", "|---|---|---|---|---|---|"]
    rows = [f"| {' | '.join(md(cell) for cell in _row(run))} |" for run in fleet.runs]
    parts = [f"# provisioner {fleet.command} --all-portals\n", "\n".join(head + rows) + "\n"]
    parts += [render_portal_markdown(run, fleet.command) for run in fleet.runs]
    return "\n".join(parts)


RENDERERS = {"text": render_text, "json": render_json, "markdown": render_markdown}
