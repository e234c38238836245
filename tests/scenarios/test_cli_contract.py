"""The CLI's contract with scripts: exit codes, and usage errors that never look like "changes"."""

from __future__ import annotations

import click
import pytest

from provisioner.cli import cli
from tests.scenarios.harness import run


@pytest.mark.parametrize("args", [
    ["plan", "--no-such-option"],
    ["no-such-command"],
    ["plan", "--format", "yaml"],
    ["drift", "--tier", "gold"],
    ["apply", "a.json", "b.json"],
])
def test_usage_errors_exit_1_never_2(capsys, args):
    result = run(capsys, *args)
    assert result.code == 1
    assert "Error:" in result.err or "error:" in result.err


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command the CLI offers, sub-commands included, as argument tuples."""
    found = []
    for name, command in sorted(group.commands.items()):
        found.append(prefix + (name,))
        if isinstance(command, click.Group):
            found += all_commands(command, prefix + (name,))
    return found


def test_every_command_has_help(capsys):
    run(capsys, "--version")  # registers the commands
    commands = all_commands(cli)
    for expected in [("plan",), ("apply",), ("drift",), ("export",), ("validate",), ("schema",), ("confirm",),
                     ("sync", "push"), ("sync", "verify"), ("sync", "dead-letters"), ("sync", "retry"),
                     ("emulator", "serve")]:
        assert expected in commands
    for command in commands:
        result = run(capsys, *command, "--help")
        assert result.code == 0 and "Usage: provisioner" in result.out, command


def test_version(capsys):
    result = run(capsys, "--version")
    assert result.code == 0 and result.out.startswith("provisioner, version ")
