"""Rendering a drift report: text for a terminal or cron mail, JSON for alerting, markdown for an issue.

The JSON report is versioned by ``drift.FORMAT_VERSION`` (documented in docs/pipelines.md). When the
check itself fails, ``render_error_json`` / ``render_error_markdown`` say so: never "no drift".
"""

from __future__ import annotations

import json
from typing import Any

from provisioner.drift import (
    ABSENT,
    FORMAT_VERSION,
    MAX_VALUES_SHOWN,
    STATE_TEXT,
    VALUES_FIX,
    DriftReport,
    FieldDrift,
    ValuesChecked,
)
from provisioner.render.values import md, value_text


def report_to_dict(report: DriftReport) -> dict[str, Any]:
    """The JSON report (versioned by format_version; documented in docs/pipelines.md)."""
    return {
        "format_version": report.format_version,
        "status": "drift" if report.has_drift else "no_drift",
        "headline": report.headline(),
        "portal_id": report.portal_id,
        "environment": report.environment,
        "config_path": report.config_path,
        "config_digest": report.config_digest,
        "checked_at": report.checked_at,
        "summary": {
            "drifted_objects": len(report.items),
            "drifted_fields": sum(len(item.fields) for item in report.items),
            "manual_checks": len(report.manual_checks),
            "manual_never_confirmed": sum(1 for c in report.manual_checks if c.confirmed_at is None),
        },
        "drift": [
            {
                "kind": item.kind,
                "key": item.key,
                "state": item.state,
                "summary": item.summary,
                "risky": item.risky,
                "fields": [{"field": f.field, "declared": f.declared, "live": f.live} for f in item.fields],
            }
            for item in report.items
        ],
        "manual_checks": [
            {"id": c.id, "title": c.title, "declared": c.declared, "confirmed_at": c.confirmed_at,
             "confirmed_by": c.confirmed_by, "status": c.status}
            for c in report.manual_checks
        ],
        "notes": list(report.notes),
        "fix": {"restore": report.fix_restore, "accept": report.fix_accept} if report.items else None,
        "values": None if report.values is None else {
            "deals_checked": report.values.deals_checked,
            "edited": [{"deal_id": v.deal_id, "property": v.property, "synced": v.synced, "live": v.live}
                       for v in report.values.edited],
            "missing_deals": list(report.values.missing_deals),
            "fix": VALUES_FIX if report.has_value_drift else None,
        },
    }


def _shown(value: Any) -> str:
    return ABSENT if value is None else value_text(value)


def render_text(report: DriftReport) -> str:
    """For a terminal or a cron mail: headline, each drifted field, then what no API can check."""
    lines = [report.headline() + "."]
    if report.checked_at:
        lines.append(f"Checked at {report.checked_at}.")
    if report.items:
        lines.append("")
    for item in report.items:
        lines.append(f"  ! {item.summary}")
        for f in item.fields:
            lines.append(f"      {f.field}: file {_shown(f.declared)}, portal {_shown(f.live)}")
    if report.items:
        lines += ["", "To restore the file's state in the portal:", f"  {report.fix_restore}",
                  "To accept the portal's state into the file (then open a pull request):", f"  {report.fix_accept}"]
    if report.values is not None:
        lines += ["", _values_line(report.values)]
        for v in report.values.edited[:MAX_VALUES_SHOWN]:
            lines.append(f"  ! deal {v.deal_id}: {v.property}: synced {_shown(v.synced)}, portal {_shown(v.live)}")
        lines += _more(len(report.values.edited))
        lines += [f"  ! deal {deal} no longer exists in HubSpot" for deal in report.values.missing_deals]
        if report.has_value_drift:
            lines += ["To restore the synced values:", f"  {VALUES_FIX}"]
    if report.manual_checks:
        lines += ["", "Not checked (no HubSpot API can read these; never counted as drift):"]
        lines += [f"  - {c.id}: {c.title} ({c.status})" for c in report.manual_checks]
    if report.notes:
        lines += ["", "Notes:"] + [f"  - {note}" for note in report.notes]
    return "\n".join(lines) + "\n"


def _values_line(values: ValuesChecked) -> str:
    return (f"Deal values: {values.deals_checked} synced deal(s) read back, {len(values.edited)} value(s) "
            f"edited by hand, {len(values.missing_deals)} deal(s) gone.")


def _more(count: int) -> list[str]:
    hidden = count - MAX_VALUES_SHOWN
    return [f"  ... and {hidden} more (provisioner drift --values --format json lists them all)"] if hidden > 0 else []


def render_json(report: DriftReport) -> str:
    return json.dumps(report_to_dict(report), indent=2, ensure_ascii=False) + "\n"


def _code(value: Any) -> str:
    text = _shown(value)
    return "_absent_" if value is None else "`" + md(text).replace("`", "'") + "`"


def render_markdown(report: DriftReport) -> str:
    """A GitHub issue body or chat message: headline, declared vs live, the exact fix, manual checks apart."""
    icon = ":warning:" if report.has_drift else ":white_check_mark:"
    lines = [f"### {icon} {report.headline()}", ""]
    meta = f"File `{report.config_path}` (`{report.config_digest[:12]}`)"
    if report.checked_at:
        meta += f", checked at {report.checked_at}"
    lines.append(meta + ".")
    if report.items:
        lines += ["", "| Object | What happened | Field | In the file | In HubSpot |", "|---|---|---|---|---|"]
        for item in report.items:
            first = True
            for f in item.fields or (FieldDrift("", None, None),):
                head = f"{item.kind} `{item.key}` | {STATE_TEXT[item.state]}" if first else " | "
                lines.append(f"| {head} | {f.field} | {_code(f.declared)} | {_code(f.live)} |")
                first = False
        lines += [
            "",
            "#### What to do",
            "",
            "If the change in HubSpot was a mistake, restore the file's state (review the plan first):",
            "",
            "```sh",
            report.fix_restore,
            "```",
            "",
            "If the change was intended, accept it into the file and open a pull request:",
            "",
            "```sh",
            report.fix_accept,
            "```",
        ]
        if any(item.risky for item in report.items):
            lines += ["", ":warning: A property's type changed: restoring it makes HubSpot convert or clear "
                          "existing values, and `apply` needs `--allow-type-change`."]
    if report.values is not None:
        lines += ["", "#### Deal values", "", _values_line(report.values)]
        if report.values.edited:
            lines += ["", "| Deal | Property | Synced | In HubSpot |", "|---|---|---|---|"]
            lines += [f"| `{v.deal_id}` | `{v.property}` | {_code(v.synced)} | {_code(v.live)} |"
                      for v in report.values.edited[:MAX_VALUES_SHOWN]]
            lines += _more(len(report.values.edited))
        if report.values.missing_deals:
            lines += ["", "Deals gone from HubSpot: " + ", ".join(f"`{d}`" for d in report.values.missing_deals)]
        if report.has_value_drift:
            lines += ["", "To restore the synced values:", "", "```sh", VALUES_FIX, "```"]
    if report.manual_checks:
        lines += ["", "#### Not checked: no HubSpot API can read these (never counted as drift)", ""]
        for c in report.manual_checks:
            mark = "x" if c.confirmed_at else " "
            lines.append(f"- [{mark}] `{c.id}`: {md(c.title)} ({md(c.status)})")
    if report.notes:
        lines += ["", "#### Notes", ""] + [f"- {md(note)}" for note in report.notes]
    return "\n".join(lines) + "\n"


def render_error_json(message: str, hint: str | None, *, checked_at: str) -> str:
    """What an alert receives when the check itself failed: never mistaken for 'no drift'."""
    data = {"format_version": FORMAT_VERSION, "status": "error", "headline": f"Drift check failed: {message}",
            "error": message, "hint": hint, "checked_at": checked_at}
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def render_error_markdown(message: str, hint: str | None, *, checked_at: str) -> str:
    lines = [f"### :x: Drift check failed: {md(message)}", "",
             f"Checked at {checked_at}. Nothing is known about drift until the check runs again."]
    if hint:
        lines += ["", f"Hint: {md(hint)}"]
    return "\n".join(lines) + "\n"


RENDERERS = {"text": render_text, "json": render_json, "markdown": render_markdown}
