"""A fresh emulator on 127.0.0.1 for each scenario, with the CLI pointed at it."""

from __future__ import annotations

import pytest

from provisioner.emulator import Emulator, EmulatorSettings, serve_in_thread
from tests.scenarios.harness import Portal


@pytest.fixture
def portal(tmp_path, monkeypatch):
    log = tmp_path / "requests.jsonl"
    emulator = Emulator(EmulatorSettings(request_log=str(log), burst_limit=None, daily_limit=None))
    with serve_in_thread(emulator, host="127.0.0.1", port=0) as base_url:
        monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "test-token")
        monkeypatch.setenv("HUBSPOT_BASE_URL", base_url)
        monkeypatch.chdir(tmp_path)
        yield Portal(emulator, base_url, log, tmp_path)
