"""Shared fixtures: no test can reach a real portal by accident."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _no_real_portal(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("HUBSPOT_") or name.startswith("PROVISIONER_"):
            monkeypatch.delenv(name, raising=False)
