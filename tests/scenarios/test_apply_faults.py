"""apply under HubSpot's bad days: faults, read-after-write lag, a failure part-way."""

from __future__ import annotations

import json
import time

import pytest

from provisioner.apply import apply_plan, verify_applied
from provisioner.config import load_config
from provisioner.emulator import Emulator, EmulatorSettings, serve_in_thread
from provisioner.errors import ApplyError
from provisioner.hubspot.client import HubSpotClient
from provisioner.planning import make_plan
from tests.scenarios.harness import SHIPPED, run

NAMES = {"accord_url", "accord_status", "current_stage", "number_of_customers_invited",
         "number_of_customers_accepted", "accord_progress", "accord_execution_score"}
KINDS = ("429", "423", "500", "502", "503", "504", "drop", "drop-after")


def quiet_client(emulator, **kwargs) -> HubSpotClient:
    kwargs.setdefault("sleep", lambda s: None)
    return HubSpotClient("http://portal.test", "test-token", wsgi_app=emulator.app, **kwargs)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_twenty_percent_faults_still_converge_without_duplicates(seed):
    emulator = Emulator(EmulatorSettings(burst_limit=None, daily_limit=None, seed=seed, fault_rate=0.2,
                                         fault_kinds=KINDS))
    config = load_config(SHIPPED)
    client = quiet_client(emulator, max_retries=10)
    plan, _ = make_plan(client, config)
    apply_plan(client, plan)
    assert verify_applied(client, plan, sleep=lambda s: None) == []
    assert client.stats.retries > 0  # faults were met and retried

    emulator.faults.configure(rate=0.0)
    after, _ = make_plan(quiet_client(emulator), config)
    assert after.changes == ()
    groups = [g.name for g in quiet_client(emulator).list_groups()]
    assert groups.count("accord_customer_collaboration_data") == 1
    names = [p.property.name for p in quiet_client(emulator).list_properties()]
    assert {n for n in names if n in NAMES} == NAMES and len(names) == len(set(names))


def test_read_after_write_lag_is_tolerated():
    emulator = Emulator(EmulatorSettings(burst_limit=None, daily_limit=None, lag_min_s=0.25, lag_max_s=0.7))
    config = load_config(SHIPPED)
    slept: list[float] = []
    client = quiet_client(emulator)
    plan, _ = make_plan(client, config)
    apply_plan(client, plan)

    def sleep(seconds):
        slept.append(seconds)
        import time
        time.sleep(seconds)

    assert verify_applied(client, plan, sleep=sleep) == []
    assert slept, "the first read-back should have seen the lag"


def test_partial_failure_says_what_was_done_and_a_rerun_finishes(capsys, tmp_path, monkeypatch):
    # The properties' batch create fails with 503 past every retry: the group exists, the rest does not.
    emulator = Emulator(EmulatorSettings(burst_limit=None, daily_limit=None, fault_rate=1.0, fault_kinds=("503",),
                                         fault_path="/batch/create"))
    (tmp_path / "hubspot_schema.yaml").write_text(SHIPPED.read_text())
    monkeypatch.chdir(tmp_path)
    with serve_in_thread(emulator, host="127.0.0.1", port=0) as base_url:
        monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "test-token")
        monkeypatch.setenv("HUBSPOT_BASE_URL", base_url)
        config = load_config("hubspot_schema.yaml")
        client = quiet_client(emulator, max_retries=2)
        plan, _ = make_plan(client, config)
        with pytest.raises(ApplyError) as caught:
            apply_plan(client, plan)
        assert caught.value.done == ["created group 'accord_customer_collaboration_data'"]
        assert "create property accord_url" in caught.value.not_done
        assert "set_rule rule accord_url/MAX_LENGTH" in caught.value.not_done

        emulator.faults.configure(rate=0.0)
        rerun = run(capsys, "apply", "--auto-approve")
        assert rerun.code == 0, rerun.err
        assert "group accord_customer_collaboration_data" not in rerun.out  # already done
        assert "Apply complete: 8 change(s)" in rerun.out
        assert run(capsys, "plan", "--detailed-exitcode").code == 0


def test_partial_failure_through_the_cli_exits_1_with_done_and_not_done(capsys, tmp_path, monkeypatch):
    emulator = Emulator(EmulatorSettings(burst_limit=None, daily_limit=None, fault_rate=1.0, fault_kinds=("500",),
                                         fault_path="/rule-type/"))
    (tmp_path / "hubspot_schema.yaml").write_text(SHIPPED.read_text())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROVISIONER_MAX_RETRIES", "1")
    with serve_in_thread(emulator, host="127.0.0.1", port=0) as base_url:
        monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "test-token")
        monkeypatch.setenv("HUBSPOT_BASE_URL", base_url)
        failed = run(capsys, "apply", "--auto-approve")
        assert failed.code == 1
        assert "apply stopped" in failed.err
        assert "done:     created property 'accord_url'" in failed.err
        assert "not done: set_rule rule accord_url/MAX_LENGTH" in failed.err
        assert "run apply again" in failed.err


def test_racing_applies_under_read_after_write_lag_converge(tmp_path):
    """The loser's creates meet 409s, and the reads after them 404s while HubSpot catches up: it reads again."""
    log = tmp_path / "requests.jsonl"
    emulator = Emulator(EmulatorSettings(burst_limit=None, daily_limit=None, lag_min_s=0.3, lag_max_s=0.6,
                                         request_log=str(log)))
    config = load_config(SHIPPED)
    plan, _ = make_plan(quiet_client(emulator), config)  # both applies planned against the empty portal
    apply_plan(quiet_client(emulator), plan)  # the winner
    slept: list[float] = []

    def sleep(seconds):
        slept.append(seconds)
        time.sleep(seconds)

    done = apply_plan(quiet_client(emulator), plan, sleep=sleep)  # the loser
    assert len(done) == len(plan.changes)
    requests = [json.loads(line) for line in log.read_text().splitlines()]
    reads = [r["status"] for r in requests if r["method"] == "GET" and "/deals/accord_" in r["path"]]
    assert 404 in reads and reads[-1] == 200  # it met the lag, and read until the property showed
    assert slept and sum(slept) < 10
    assert verify_applied(quiet_client(emulator), plan, sleep=time.sleep) == []
    names = [p.property.name for p in quiet_client(emulator).list_properties()]
    assert sorted(n for n in names if n in NAMES) == sorted(NAMES)


def test_a_404_that_outlasts_the_deadline_stops_apply():
    emulator = Emulator(EmulatorSettings(burst_limit=None, daily_limit=None, lag_min_s=30, lag_max_s=30))
    config = load_config(SHIPPED)
    plan, _ = make_plan(quiet_client(emulator), config)
    apply_plan(quiet_client(emulator), plan)
    clock = iter(range(0, 1000)).__next__  # each look at the clock is one second later
    with pytest.raises(ApplyError) as caught:
        apply_plan(quiet_client(emulator), plan, sleep=lambda s: None, clock=clock, visible_within_s=5)
    assert "404" in str(caught.value) and "run apply again" in caught.value.hint
