"""Rendering the one Plan: text for terminals, JSON for machines, markdown for pull-request comments."""

from __future__ import annotations

import json
from collections.abc import Callable

from provisioner.changes import (
    ArchiveProperty,
    Change,
    ChangeRule,
    CreateGroup,
    CreateProperty,
    RestoreProperty,
    RetypeProperty,
    SetRule,
    UpdateGroup,
    UpdateProperty,
)
from provisioner.plan import ManualStep, Plan
from provisioner.planfile import plan_to_dict
from provisioner.render.values import changed_lines, field_change_lines, md, value_text

COLOURS = {"+": "green", "~": "yellow", "-": "red", "-/+": "magenta"}
GITHUB_COMMENT_LIMIT = 65_536
_ANSI = {"green": "\033[32m", "yellow": "\033[33m", "red": "\033[31m", "magenta": "\033[35m", "bold": "\033[1m"}
_RESET = "\033[0m"
# How each type of change reads: its symbol and its verb, the same in every format.
LOOKS: dict[type[Change], tuple[str, str]] = {
    CreateGroup: ("+", "will be created"),
    UpdateGroup: ("~", "will be updated"),
    CreateProperty: ("+", "will be created"),
    RestoreProperty: ("+", "will be restored"),
    UpdateProperty: ("~", "will be updated"),
    RetypeProperty: ("-/+", "changes type (risky)"),
    SetRule: ("+", "will be set"),
    ChangeRule: ("~", "will be changed"),
    ArchiveProperty: ("-", "will be archived"),
}
# Fields never listed for a new object: its key says them.
_KEY_FIELDS = ("name", "property_name", "rule_type")


def _symbol(change: Change) -> str:
    return LOOKS[type(change)][0]


def _verb(change: Change) -> str:
    return LOOKS[type(change)][1]


def _new_object(change: Change) -> list[tuple[str, str]]:
    return [(k, value_text(v)) for k, v in change.after.items() if v not in (None, [], "") and k not in _KEY_FIELDS]


def _restored(change: Change) -> list[tuple[str, str]]:
    """The restored property's fields; those that differ from the archived one as before -> after."""
    lines = []
    for name, value in change.after.items():
        if name in change.fields:
            lines += field_change_lines(change, name)
        elif value not in (None, [], "") and name not in _KEY_FIELDS:
            lines.append((name, value_text(value)))
    return lines


def _nothing(change: Change) -> list[tuple[str, str]]:
    return []


# What each type of change lists under its line: (field, text) pairs.
DETAILS: dict[type[Change], Callable[[Change], list[tuple[str, str]]]] = {
    CreateGroup: _new_object,
    UpdateGroup: changed_lines,
    CreateProperty: _new_object,
    RestoreProperty: _restored,
    UpdateProperty: changed_lines,
    RetypeProperty: changed_lines,
    SetRule: _new_object,
    ChangeRule: changed_lines,
    ArchiveProperty: _nothing,
}


def field_lines(change: Change) -> list[tuple[str, str]]:
    """(field, text) pairs describing a change's fields."""
    return DETAILS[type(change)](change)


def _step_groups(steps: tuple[ManualStep, ...]) -> list[list[ManualStep]]:
    """Consecutive steps that share their clicks (pending ones) or are confirmed, so clicks show once."""
    groups: list[list[ManualStep]] = []
    for step in steps:
        last = groups[-1][-1] if groups else None
        same = last is not None and last.is_confirmed == step.is_confirmed and (
            step.is_confirmed or last.instructions == step.instructions)
        if same:
            groups[-1].append(step)
        else:
            groups.append([step])
    return groups


def render_text(plan: Plan, *, colour: bool = False) -> str:
    """Terraform-like text: one block per change, manual steps, notes, a summary line."""

    def paint(text: str, name: str) -> str:
        return f"{_ANSI[name]}{text}{_RESET}" if colour else text

    lines = [f"Portal {plan.portal_id}" + (f" (environment {plan.environment})" if plan.environment else "")
             + f", file {plan.config_path}", ""]
    if not plan.changes:
        lines.append("No changes. The portal matches the file.")
    for change in plan.changes:
        symbol = _symbol(change)
        lines.append(paint(f"  {symbol} {change.address} {_verb(change)}", COLOURS[symbol]))
        for name, text in field_lines(change):
            lines.append(f"      {name}: {text}")
        if change.note:
            lines.append(f"      # {change.note}")
    if plan.manual_steps:
        lines += ["", "Manual steps (HubSpot has no API for these; confirm each with `provisioner confirm`):"]
        for steps in _step_groups(plan.manual_steps):
            for step in steps:
                if step.is_confirmed:
                    lines.append(f"  [x] {step.id}: {step.title} (confirmed {step.confirmed_at} by "
                                 f"{step.confirmed_by})")
                else:
                    lines.append(paint(f"  [ ] {step.id}: {step.title}", "bold"))
            if not steps[0].is_confirmed:
                if len(steps) > 1:
                    lines.append(f"        For each of the {len(steps)} steps above:")
                lines += [f"        {i}. {text}" for i, text in enumerate(steps[0].instructions, start=1)]
    if plan.notes:
        lines += ["", "Notes:"] + [f"  - {note}" for note in plan.notes]
    lines += ["", paint(f"Plan: {plan.summary()}.", "bold")]
    return "\n".join(lines) + "\n"


def render_json(plan: Plan) -> str:
    return json.dumps(plan_to_dict(plan), indent=2, ensure_ascii=False) + "\n"


def render_markdown(plan: Plan, *, limit: int = GITHUB_COMMENT_LIMIT) -> str:
    """A pull-request comment: summary first, a table of changes, manual steps as a checklist."""
    title = "provisioner plan" + (f" ({plan.environment})" if plan.environment else "")
    head = [f"### {title}: {plan.summary()}", ""]
    head.append(f"Portal `{plan.portal_id}`" + (f", environment `{plan.environment}`" if plan.environment else "")
                + f", file `{plan.config_path}` (`{plan.config_digest[:12]}`).")
    head.append("")
    body: list[str] = []
    if plan.changes:
        body += ["| | Object | Change | Details |", "|---|---|---|---|"]
        for change in plan.changes:
            details = "<br>".join(md(f"{name}: {text}") for name, text in field_lines(change))
            if change.note:
                details += ("<br>" if details else "") + f"_{md(change.note)}_"
            risk = " :warning:" if change.risky else ""
            body.append(f"| `{_symbol(change)}` | {change.kind} `{change.key}` | {_verb(change)}{risk} | {details} |")
    else:
        body.append("No changes. The portal matches the file.")
    if plan.manual_steps:
        body += ["", "#### Manual steps (no HubSpot API; confirm with `provisioner confirm`)", ""]
        for steps in _step_groups(plan.manual_steps):
            for step in steps:
                if step.is_confirmed:
                    body.append(f"- [x] `{step.id}`: {md(step.title)} (confirmed {step.confirmed_at} "
                                f"by {md(step.confirmed_by or '')})")
                else:
                    body.append(f"- [ ] `{step.id}`: {md(step.title)}")
            if not steps[0].is_confirmed:
                if len(steps) > 1:
                    body.append(f"\n  For each of the {len(steps)} steps above:")
                body += [f"  {i}. {md(text)}" for i, text in enumerate(steps[0].instructions, start=1)]
    if plan.notes:
        body += ["", "#### Notes", ""] + [f"- {md(note)}" for note in plan.notes]
    text = "\n".join(head + body) + "\n"
    if len(text) <= limit:
        return text
    cut = "\n\n_The plan is too long for one comment; the full plan is in the job's output._\n"
    kept: list[str] = []
    size = len("\n".join(head)) + len(cut) + 1
    for line in body:
        if size + len(line) + 1 > limit:
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join(head + kept) + cut


RENDERERS = {"text": render_text, "json": render_json, "markdown": render_markdown}
