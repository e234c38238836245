"""What plans and drift reports share: how a field's value reads, and escaping for markdown tables."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from provisioner.changes import ADDED, REMOVED, Change, OptionChange


def value_text(value: Any) -> str:
    """A field's value as the plan and the drift report show it."""
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return "[" + ", ".join(str(item.get("value", item)) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def option_field(value: str) -> str:
    """How an enumeration option is named in a plan or drift report: options[value]."""
    return f"options[{value}]"


def _option_fields(fields: Mapping[str, Any]) -> str:
    return ", ".join(f"{name} {value_text(value)}" for name, value in fields.items())


def option_text(change: OptionChange) -> str:
    """What happens to one option: added with its fields, removed, or each changed field before -> after."""
    if change.change == ADDED:
        return f"added ({_option_fields(change.after)})"
    if change.change == REMOVED:
        return f"removed (was {_option_fields(change.before)})"
    return ", ".join(f"{name} {value_text(change.before[name])} -> {value_text(change.after[name])}"
                     for name in change.fields)


def field_change_lines(change: Change, name: str) -> list[tuple[str, str]]:
    """(field, 'before -> after') for one changed field; options one line per option that differs."""
    if name == "options":
        return [(option_field(option.value), option_text(option)) for option in change.options]
    return [(name, f"{value_text(change.before.get(name))} -> {value_text(change.after[name])}")]


def changed_lines(change: Change) -> list[tuple[str, str]]:
    """The lines of every field the change changes."""
    return [line for name in change.fields for line in field_change_lines(change, name)]
