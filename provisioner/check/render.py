"""A ``CheckReport`` as text (people), JSON (scripts, versioned by ``format_version``) or markdown (a comment)."""

from __future__ import annotations

import json
from typing import Any

from provisioner.check.report import FAILED, PASSED, CheckReport

FORMAT_VERSION = 1
_MARK = {PASSED: "ok", FAILED: "FAIL", "skipped": "--"}
_MD_MARK = {PASSED: ":white_check_mark:", FAILED: ":x:", "skipped": ":heavy_minus_sign:"}


def _verdict(report: CheckReport) -> str:
    if report.ok:
        return "PASSED: every step passed"
    failed = [step.name for step in report.steps if step.status == FAILED]
    return "FAILED: " + (", ".join(failed) if failed else "the round trip did not run")


def _short(value: str | None, width: int = 40) -> str:
    if value is None:
        return "(empty)"
    text = value if len(value) <= width else value[: width - 12] + f"... ({len(value)} chars)"
    return repr(text) if text != value or not text else text


def render_text(report: CheckReport) -> str:
    where = f"portal {report.portal_id}" if report.portal_id is not None else "the portal"
    env = f", environment {report.environment}" if report.environment else ""
    lines = [f"provisioner check: {where} ({report.config_path}{env})", ""]
    for step in report.steps:
        lines.append(f"[{_MARK[step.status]:>4}] {step.name}: {step.detail}")
        if step.name == "manual steps":
            for manual in report.manual_steps:
                state = (f"confirmed {manual.confirmed_at} by {manual.confirmed_by}" if manual.is_confirmed
                         else "not confirmed (`provisioner plan` shows the clicks)")
                lines.append(f"         [{'x' if manual.is_confirmed else ' '}] {manual.id}: {state}")
        if step.name == "read back" and report.properties:
            width = max(len(f"{c.property} ({c.field})") for c in report.properties)
            for check in report.properties:
                name = f"{check.property} ({check.field})".ljust(width)
                read = "same" if check.read == check.sent else _short(check.read)
                lines.append(f"         {name}  sent {_short(check.sent)}  read {read}  "
                             + ("match" if check.matches else "DIFFERS"))
    if report.latency_s is not None:
        lines += ["", f"Event-to-deal latency through {report.via}: {report.latency_s:.2f} s"]
    lines += ["", f"{_verdict(report)} ({report.requests} HTTP request(s), {report.seconds:.1f} s)"]
    return "\n".join(lines) + "\n"


def report_dict(report: CheckReport) -> dict[str, Any]:
    """The JSON shape: stable within a ``format_version``."""
    return {
        "format_version": FORMAT_VERSION,
        "ok": report.ok,
        "portal_id": report.portal_id,
        "environment": report.environment,
        "config_path": report.config_path,
        "started_at": report.started_at,
        "deal": {"id": report.deal_id, "created": report.deal_created, "kept": report.deal_kept},
        "steps": [{"name": s.name, "status": s.status, "detail": s.detail} for s in report.steps],
        "manual_steps": [
            {"id": m.id, "title": m.title, "confirmed_at": m.confirmed_at, "confirmed_by": m.confirmed_by}
            for m in report.manual_steps
        ],
        "properties": [
            {"field": c.field, "property": c.property, "sent": c.sent, "read": c.read, "matches": c.matches}
            for c in report.properties
        ],
        "via": report.via,
        "latency_s": None if report.latency_s is None else round(report.latency_s, 3),
        "requests": report.requests,
        "seconds": round(report.seconds, 3),
    }


def render_json(report: CheckReport) -> str:
    return json.dumps(report_dict(report), indent=2, ensure_ascii=False) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: CheckReport) -> str:
    lines = [f"### provisioner check: {_verdict(report)}", ""]
    lines.append(f"Portal `{report.portal_id}`, file `{report.config_path}`"
                 + (f", environment `{report.environment}`" if report.environment else "") + ".")
    if report.latency_s is not None:
        lines += ["", f"Event-to-deal latency through `{report.via}`: {report.latency_s:.2f} s."]
    lines += ["", "| | Step | Detail |", "|---|---|---|"]
    lines += [f"| {_MD_MARK[s.status]} | {s.name} | {_md(s.detail)} |" for s in report.steps]
    if report.properties:
        lines += ["", "| Field | Property | Sent | Read | |", "|---|---|---|---|---|"]
        for c in report.properties:
            lines.append(f"| `{c.field}` | `{c.property}` | {_md(_short(c.sent))} | {_md(_short(c.read))} | "
                         + ("match |" if c.matches else "**differs** |"))
    if report.manual_steps:
        lines += ["", "#### Manual steps (no HubSpot API; confirm with `provisioner confirm`)", ""]
        for m in report.manual_steps:
            lines.append(f"- [{'x' if m.is_confirmed else ' '}] `{m.id}`: {_md(m.title)}")
    return "\n".join(lines) + "\n"


RENDERERS = {"text": render_text, "json": render_json, "markdown": render_markdown}
