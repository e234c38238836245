"""HubSpot's answers as public recordings show them, written down as this project's own fixtures.

Each ``*.json`` here is one answer: how to provoke it (settings, setup requests, the request), the
status, the headers that must be there, an example body with our own values, the strings that
must match HubSpot's exactly, and where the facts were seen (``docs/emulator.md`` has the table).
``shape_problems`` compares an answer's shape with a fixture's: the same keys at every level and
the same JSON types, leaving alone the maps whose keys vary (``open`` paths, ``*`` for a list item).
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).parent


def load_fixtures() -> dict[str, dict]:
    return {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted(HERE.glob("*.json"))}


def json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def shape_problems(expected, actual, open_paths=(), path: str = "") -> list[str]:
    """What differs between two JSON values' shapes: keys at every level and types (never values)."""
    where = path or "(body)"
    if json_type(expected) != json_type(actual):
        return [f"{where}: {json_type(actual)} where HubSpot sends {json_type(expected)}"]
    if path in open_paths:
        return []
    problems: list[str] = []
    if isinstance(expected, dict):
        extra, missing = sorted(set(actual) - set(expected)), sorted(set(expected) - set(actual))
        if extra:
            problems.append(f"{where}: keys HubSpot does not send: {extra}")
        if missing:
            problems.append(f"{where}: keys HubSpot sends that are missing: {missing}")
        for key in sorted(set(expected) & set(actual)):
            problems += shape_problems(expected[key], actual[key], open_paths, f"{path}.{key}" if path else key)
    elif isinstance(expected, list) and expected and actual:
        item_path = f"{path}.*" if path else "*"
        pairs = zip(expected, actual, strict=True) if len(expected) == len(actual) else ((expected[0], a) for a in actual)
        for want, got in pairs:
            problems += shape_problems(want, got, open_paths, item_path)
    return problems


def at(body, dotted: str):
    """The value at a dotted path such as ``errors.0.context.ids.0``."""
    value = body
    for part in dotted.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value
