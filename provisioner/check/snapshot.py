"""The check's synthetic Accord snapshot: a value for every mapped field, the URL exactly at its limit."""

from __future__ import annotations

import json
import secrets

from provisioner.sync.events import Rules

URL_PREFIX = "https://app.accord.example/provisioner-check/"
PREFERRED_EVENT = "step_updated"


def synthetic_data(rules: Rules) -> dict[str, object]:
    """A value for every mapped Accord field; the URL exactly at its declared character limit."""
    values: dict[str, object] = {
        "URL": URL_PREFIX + secrets.token_hex(8),
        "STATUS": "On Track",
        "STAGE_NAME": "provisioner check stage",
        "CUSTOMER_INVITED_COUNT": 3,
        "CUSTOMER_ACCEPTED_COUNT": 2,
        "PROGRESS": 45,
        "EXECUTION_SCORE": 78,
    }
    url_property = rules.mapping.get("URL")
    limit = rules.max_length.get(url_property) if url_property else None
    if limit is not None:
        base = str(values["URL"])[:limit]
        values["URL"] = base + "x" * (limit - len(base))
    return {accord_field: values[accord_field] for accord_field in rules.mapping if accord_field in values}


def snapshot_line(rules: Rules, deal_id: str, occurred_at: str, *, accord_id: str | None = None,
                  record_id: str | None = None) -> str:
    """The synthetic Accord snapshot as one input line of the value sync."""
    triggers = sorted(rules.triggers)
    event = PREFERRED_EVENT if PREFERRED_EVENT in rules.triggers else (triggers[0] if triggers else PREFERRED_EVENT)
    record = {"id": record_id} if record_id else {}
    return json.dumps({
        **record, "event": event, "occurred_at": occurred_at,
        "accord_id": accord_id or f"provisioner-check-{secrets.token_hex(4)}", "deal_id": deal_id,
        "data": synthetic_data(rules),
    })
