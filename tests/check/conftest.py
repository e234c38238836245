"""A fresh emulator on 127.0.0.1 per test, the CLI pointed at it, and helpers to read its state."""

from __future__ import annotations

import sqlite3

import pytest

from provisioner.emulator import Emulator, EmulatorSettings, serve_in_thread
from tests.scenarios.harness import Portal, run


@pytest.fixture
def serve(tmp_path, monkeypatch):
    """serve(**settings) -> a Portal on 127.0.0.1 with HUBSPOT_BASE_URL and a token set; cwd is tmp_path."""
    started = []

    def start(**settings) -> Portal:
        log = tmp_path / "requests.jsonl"
        emulator = Emulator(EmulatorSettings(request_log=str(log), burst_limit=None, daily_limit=None, **settings))
        context = serve_in_thread(emulator, host="127.0.0.1", port=0)
        base_url = context.__enter__()
        started.append(context)
        monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "test-token")
        monkeypatch.setenv("HUBSPOT_BASE_URL", base_url)
        monkeypatch.chdir(tmp_path)
        return Portal(emulator, base_url, log, tmp_path)

    yield start
    for context in started:
        context.__exit__(None, None, None)


@pytest.fixture
def applied(serve, capsys) -> Portal:
    """A portal converged with the shipped file."""
    portal = serve()
    portal.config()
    assert run(capsys, "apply", "--auto-approve").code == 0
    portal.clear_log()
    return portal


def active_deals(portal: Portal) -> set[str]:
    return {deal_id for deal_id, deal in portal.emulator.portal.deals.items() if not deal.archived}


def store_rows(path) -> dict[str, list[tuple]]:
    """Every row of every table of a sync store, for comparing before and after."""
    with sqlite3.connect(str(path)) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return {table: sorted(db.execute(f"SELECT * FROM {table}").fetchall()) for table in tables}


def writes(portal: Portal) -> list[dict]:
    """Requests that change the portal (reads by POST, batch read and token info, left out)."""
    return [r for r in portal.writes() if not r["path"].endswith("/batch/read")]


@pytest.fixture
def portal(serve) -> Portal:
    return serve()
