"""Load and validate hubspot_schema.yaml: the declared portal.

``load_config`` returns a ``model.Config`` or raises ``ConfigError`` listing every problem;
``validate_file`` returns the problems; ``config_schema`` is the file's JSON Schema.
"""

from __future__ import annotations

import os

from provisioner.config.build import build_config
from provisioner.config.loader import MAX_FILE_BYTES, Document, read_document
from provisioner.config.schema_check import check_schema, config_schema, did_you_mean
from provisioner.config.semantic import ACCORD_FIELD_TYPES, check_semantics
from provisioner.errors import ConfigError, Problem
from provisioner.model import Config

__all__ = [
    "ACCORD_FIELD_TYPES",
    "DEFAULT_CONFIG_FILE",
    "ENVIRONMENT_VARIABLE",
    "MAX_FILE_BYTES",
    "ConfigError",
    "config_schema",
    "load_config",
    "resolve_environment",
    "validate_file",
]

DEFAULT_CONFIG_FILE = "hubspot_schema.yaml"
# Picks the environment when no --env is given.
ENVIRONMENT_VARIABLE = "PROVISIONER_ENV"


def resolve_environment(environment: str | None) -> str | None:
    """``environment`` if given, else $PROVISIONER_ENV, else None (the top-level values)."""
    if environment:
        return environment
    return os.environ.get(ENVIRONMENT_VARIABLE) or None


def _environment_problems(doc: Document, environment: str | None) -> list[Problem]:
    if environment is None or not isinstance(doc.data, dict):
        return []
    declared = doc.data.get("environments")
    names = [name for name in declared if isinstance(name, str)] if isinstance(declared, dict) else []
    if environment in names:
        return []
    if not names:
        what = f"environment '{environment}' was selected, but the file declares no environments"
        return [doc.problem((), what)]
    what = (
        f"unknown environment '{environment}' (known: {', '.join(names)}){did_you_mean(environment, names)}"
    )
    return [doc.problem(("environments",), what, at_key=True)]


def _check(path: str | os.PathLike, environment: str | None) -> tuple[Document, list[Problem]]:
    doc, problems = read_document(path)
    if doc.data is not None or not problems:
        problems = (
            problems + check_schema(doc) + check_semantics(doc) + _environment_problems(doc, environment)
        )
    unique = list(dict.fromkeys(problems))
    unique.sort(key=lambda p: (p.line, p.column))
    return doc, unique


def validate_file(path: str | os.PathLike, environment: str | None = None) -> list[Problem]:
    """Every problem in the file (sorted by line), or [] when it is valid.

    ``environment`` (or $PROVISIONER_ENV) must name a declared environment; every
    environment's overrides are checked whichever is selected.
    """
    return _check(path, resolve_environment(environment))[1]


def load_config(path: str | os.PathLike, environment: str | None = None) -> Config:
    """The file as a ``Config`` for ``environment`` (or $PROVISIONER_ENV, or the top level).

    Raises ``ConfigError`` carrying every problem when the file is not valid.
    """
    environment = resolve_environment(environment)
    doc, problems = _check(path, environment)
    if problems:
        raise ConfigError(problems)
    return build_config(os.fspath(path), doc.raw, doc.data, environment)
