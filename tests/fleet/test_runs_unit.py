"""run_fleet itself: at most N portals at once, and a defect in one portal is that portal's failure."""

from __future__ import annotations

import threading
import time

from provisioner.fleet import runs
from provisioner.fleet.registry import Portal


class Registry:
    def get(self, portal_id):
        return Portal(portal_id, "", "starter", "VAR", False, None)


class Config:
    def for_portal(self, portal_id, environment=None):
        return type("C", (), {"environment": None, "api_version": "2026-03"})()


def test_at_most_concurrency_portals_run_at_once(monkeypatch):
    monkeypatch.setattr(runs, "client_for", lambda registry, portal, **options: object())
    lock = threading.Lock()
    state = {"now": 0, "most": 0}

    def work(portal, client, config, plan):
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        time.sleep(0.02)
        with lock:
            state["now"] -= 1
        return runs.PortalRun(portal, runs.NO_CHANGES)

    portals = [Portal(i, "", "starter", "VAR", False, None) for i in range(1, 13)]
    fleet = runs.run_fleet("plan", Registry(), portals, Config(), work, concurrency=3)
    assert [run.portal.portal_id for run in fleet.runs] == list(range(1, 13))
    assert 1 <= state["most"] <= 3


def test_a_defect_in_one_portal_is_its_failure(monkeypatch):
    monkeypatch.setattr(runs, "client_for", lambda registry, portal, **options: object())

    def work(portal, client, config, plan):
        if portal.portal_id == 2:
            raise KeyError("a bug")
        return runs.PortalRun(portal, runs.CHANGED)

    portals = [Portal(i, "", "starter", "VAR", False, None) for i in (1, 2, 3)]
    fleet = runs.run_fleet("plan", Registry(), portals, Config(), work)
    assert [run.result for run in fleet.runs] == ["changes", "failed", "changes"]
    assert "unexpected KeyError" in fleet.runs[1].error
    assert fleet.has_failures and fleet.has_changes


def test_an_interrupt_starts_no_further_portal(monkeypatch):
    import pytest

    monkeypatch.setattr(runs, "client_for", lambda registry, portal, **options: object())
    started = []

    def work(portal, client, config, plan):
        started.append(portal.portal_id)
        if portal.portal_id == 1:
            raise KeyboardInterrupt
        return runs.PortalRun(portal, runs.NO_CHANGES)

    portals = [Portal(i, "", "starter", "VAR", False, None) for i in range(1, 6)]
    with pytest.raises(KeyboardInterrupt):
        runs.run_fleet("apply", Registry(), portals, Config(), work, concurrency=1)
    time.sleep(0.1)
    assert started == [1]
