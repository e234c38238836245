"""What plans and drift reports share: how a field's value reads, and escaping for markdown tables."""

from __future__ import annotations

import json
from typing import Any


def value_text(value: Any) -> str:
    """A field's value as the plan and the drift report show it."""
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return "[" + ", ".join(str(item.get("value", item)) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
