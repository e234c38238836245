"""Check the parsed data against the JSON Schema, each error placed at its key or value."""

from __future__ import annotations

import difflib
import json
from functools import lru_cache
from importlib import resources
from typing import Any

import jsonschema

from provisioner.config.loader import Document
from provisioner.errors import Problem

SCHEMA_RESOURCE = "hubspot_schema.schema.json"


@lru_cache(maxsize=1)
def _schema_text() -> str:
    return (resources.files("provisioner") / "schema" / SCHEMA_RESOURCE).read_text(encoding="utf-8")


def config_schema() -> dict:
    """The JSON Schema (Draft 2020-12) of the config file, as shipped in the package."""
    return json.loads(_schema_text())


def _inline_refs(node: Any, defs: dict) -> Any:
    """The schema with every local ``#/$defs/...`` reference replaced by its target.

    Resolving references dominates validation time on big files (a third of it for 20,000
    properties); the schema has no recursive references, so inlining them once is safe.
    """
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            target = _inline_refs(defs[ref.removeprefix("#/$defs/")], defs)
            rest = {key: _inline_refs(value, defs) for key, value in node.items() if key != "$ref"}
            return {**target, **rest}
        return {key: _inline_refs(value, defs) for key, value in node.items() if key != "$defs"}
    if isinstance(node, list):
        return [_inline_refs(item, defs) for item in node]
    return node


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    schema = config_schema()
    return jsonschema.Draft202012Validator(_inline_refs(schema, schema.get("$defs", {})))


def describe(value: Any) -> str:
    """A value as a reviewer would name it: ``a list``, ``the number 5``, ``null``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {shown!r}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def did_you_mean(word: Any, choices: list[str]) -> str:
    """`` (did you mean 'label'?)`` or nothing."""
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not close:
        lowered = word.lower()
        close = [
            c for c in choices if c.lower() == lowered or (len(word) >= 3 and c.lower().startswith(lowered))
        ][:1]
    return f" (did you mean '{close[0]}'?)" if close else ""


def _one_of(values: list[Any]) -> str:
    shown = [json.dumps(value) if not isinstance(value, str) else value for value in values]
    return ", ".join(shown)


def _problems_for(error: jsonschema.ValidationError, doc: Document) -> list[Problem]:
    path = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    keyword = error.validator
    value = error.instance
    if keyword == "additionalProperties" and isinstance(value, dict):
        known = list(schema.get("properties", {}))
        extra = [key for key in value if key not in known]
        return [
            doc.problem(path + (key,), f"unknown key '{key}'{did_you_mean(key, known)}", at_key=True)
            for key in extra
        ]
    if keyword == "required":
        missing = [name for name in error.validator_value if isinstance(value, dict) and name not in value]
        return [doc.problem(path, f"missing required key '{name}'") for name in missing]
    if "errorMessage" in schema and keyword not in ("type",):
        return [doc.problem(path, f"{describe(value)} {schema['errorMessage']}")]
    if keyword == "type":
        expected = error.validator_value
        names = [expected] if isinstance(expected, str) else list(expected)
        wanted = " or ".join(_TYPE_NAMES.get(name, name) for name in names)
        hint = ""
        if "string" in names and isinstance(value, (bool, int, float)):
            hint = " (quote it to make it text)"
        return [doc.problem(path, f"expected {wanted}, got {describe(value)}{hint}")]
    if "propertyNames" in error.relative_schema_path:
        # A mapping's key failed: report it at the key, naming what keys may be.
        key = value
        if keyword == "enum":
            choices = list(error.validator_value)
            what = f"unknown key '{key}': expected one of {_one_of(choices)}{did_you_mean(key, choices)}"
        elif keyword == "pattern":
            what = f"name '{key}' may hold only letters, digits, '_', '.' and '-', starting with a letter or digit"
        else:
            what = f"key '{key}' is not allowed: {error.message}"
        return [doc.problem(path + (key,), what, at_key=True)]
    if keyword == "enum":
        choices = list(error.validator_value)
        text = f"{describe(value)} is not one of: {_one_of(choices)}"
        return [doc.problem(path, text + did_you_mean(value, [c for c in choices if isinstance(c, str)]))]
    if keyword == "const":
        return [
            doc.problem(
                path, f"{describe(value)} is not supported: expected {json.dumps(error.validator_value)}"
            )
        ]
    if keyword in ("minimum", "maximum"):
        word = "at least" if keyword == "minimum" else "at most"
        return [doc.problem(path, f"must be {word} {error.validator_value}, got {value}")]
    if keyword == "minLength" and error.validator_value == 1:
        return [doc.problem(path, "must not be empty")]
    if keyword == "minLength":
        return [doc.problem(path, f"must be at least {error.validator_value} characters long")]
    if keyword == "maxLength":
        return [
            doc.problem(path, f"is {len(value)} characters long; at most {error.validator_value} are allowed")
        ]
    if keyword == "minItems":
        return [doc.problem(path, f"must list at least {error.validator_value} item(s)")]
    if keyword == "pattern":
        return [doc.problem(path, f"{describe(value)} does not match {error.validator_value}")]
    return [doc.problem(path, error.message)]


def _misspelt_required(errors: list[jsonschema.ValidationError]) -> set[tuple[tuple, str]]:
    """(path, key) of required keys that an unknown key in the same mapping looks like a typo of."""
    found = set()
    for error in errors:
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = list(error.schema.get("properties", {}))
            for key in error.instance:
                if key not in known:
                    close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
                    if close and close[0] not in error.instance:
                        found.add((tuple(error.absolute_path), close[0]))
    return found


def check_schema(doc: Document) -> list[Problem]:
    """Every JSON Schema error in ``doc.data``, as problems.

    A missing required key is not reported when an unknown key in the same mapping is its likely
    misspelling: "unknown key 'lable' (did you mean 'label'?)" says it all.
    """
    errors = list(_validator().iter_errors(doc.data))
    misspelt = _misspelt_required(errors)
    problems: list[Problem] = []
    for error in errors:
        for problem in _problems_for(error, doc):
            if error.validator == "required" and any(
                (tuple(error.absolute_path), key) in misspelt and f"'{key}'" in problem.what
                for key in error.validator_value
            ):
                continue
            problems.append(problem)
    return problems
