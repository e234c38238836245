"""Golden files: compare rendered output with a reviewed file (UPDATE_GOLDEN=1 rewrites it)."""

from __future__ import annotations

import os
from pathlib import Path


def check_golden(directory: Path, name: str, text: str) -> None:
    path = directory / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")
