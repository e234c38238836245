"""Golden files: compare rendered output with a reviewed file.

With UPDATE_GOLDEN=1 a golden file that differs is rewritten and the test that rewrote it still
fails, naming the file: a run with the variable set can never pass by rewriting what it checks.
Rerun without it (and review `git diff`) once the files are right.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def check_golden(directory: Path, name: str, text: str) -> None:
    path = directory / name
    expected = path.read_text(encoding="utf-8") if path.exists() else None
    if text == expected:
        return
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
        pytest.fail(f"rewrote golden file {path}: review the diff, then run again without UPDATE_GOLDEN")
    if expected is None:
        pytest.fail(f"no golden file {path}: run with UPDATE_GOLDEN=1 to write it, then review it")
    assert text == expected, f"output differs from golden file {path} (UPDATE_GOLDEN=1 rewrites it)"
