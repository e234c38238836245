"""One process at a time on a state file: real processes racing on the local portal."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import pytest
from werkzeug.test import Client

from provisioner.emulator import Emulator, EmulatorSettings, StateInUse
from provisioner.emulator.persist import Store
from tests.scenarios.harness import SHIPPED
from tests.sync.conftest import event

HOLD = textwrap.dedent("""
    import sys
    from provisioner.emulator.persist import Store
    store = Store(sys.argv[1])
    print("held", flush=True)
    sys.stdin.read()  # until the test closes our stdin
    store.close()
""")


def _env(tmp_path, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "PROVISIONER_"))}
    return {**env, "PROVISIONER_LOCAL_STATE": str(tmp_path / "portal"), **extra}


def _holder(path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def _start(tmp_path, env, *args):
    return subprocess.Popen([sys.executable, "-m", "provisioner", *args], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_held_state_file_is_refused_at_once_naming_the_holder(tmp_path):
    holder = _holder(tmp_path / "portal")
    try:
        with pytest.raises(StateInUse) as caught:
            Store(str(tmp_path / "portal"))
        assert f"pid {holder.pid}" in str(caught.value)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    Store(str(tmp_path / "portal")).close()  # free again once the holder is gone


def test_a_waiting_store_gets_the_file_when_the_holder_lets_go(tmp_path):
    holder = _holder(tmp_path / "portal")
    holder.stdin.close()  # lets go at once; the store below waits for that instead of failing
    store = Store(str(tmp_path / "portal"), lock_wait_s=60)
    store.close()
    holder.wait(timeout=30)


def test_within_one_process_the_lock_is_reentrant(tmp_path):
    first = Store(str(tmp_path / "portal"))
    second = Store(str(tmp_path / "portal"))
    second.close()
    second.close()  # a second close of one store releases nothing more
    third = Store(str(tmp_path / "portal"))  # the first still holds it for this process
    first.close()
    third.close()


def test_a_busy_local_portal_is_one_clear_line_and_nothing_is_done(tmp_path):
    shutil.copy(SHIPPED, tmp_path / "hubspot_schema.yaml")
    holder = _holder(tmp_path / "portal")
    try:
        done = subprocess.run([sys.executable, "-m", "provisioner", "apply", "--local", "--auto-approve"],
                              cwd=tmp_path, env=_env(tmp_path, PROVISIONER_LOCAL_WAIT="0"), capture_output=True,
                              text=True, timeout=120)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert done.returncode == 1
    assert "the local portal is busy" in done.stderr and f"pid {holder.pid}" in done.stderr
    assert "Traceback" not in done.stderr and "Apply complete" not in done.stdout
    emulator = Emulator(EmulatorSettings(state_file=str(tmp_path / "portal")))
    try:
        assert "accord_url" not in emulator.portal.properties
    finally:
        emulator.close()


def test_a_bad_wait_setting_is_a_usage_error(tmp_path):
    shutil.copy(SHIPPED, tmp_path / "hubspot_schema.yaml")
    done = subprocess.run([sys.executable, "-m", "provisioner", "plan", "--local"], cwd=tmp_path,
                          env=_env(tmp_path, PROVISIONER_LOCAL_WAIT="nan"), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1 and "PROVISIONER_LOCAL_WAIT" in done.stderr and "Traceback" not in done.stderr


def test_two_applies_at_once_create_everything_once_and_report_it_once(tmp_path):
    shutil.copy(SHIPPED, tmp_path / "hubspot_schema.yaml")
    env = _env(tmp_path, PROVISIONER_LOCAL_WAIT="120")
    runs = [_start(tmp_path, env, "apply", "--local", "--auto-approve") for _ in range(2)]
    outputs = [run.communicate(timeout=180) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    applied = [out for out, _ in outputs if "Apply complete: 9 change(s)" in out]
    unchanged = [out for out, _ in outputs if "No changes" in out]
    assert len(applied) == 1 and len(unchanged) == 1, outputs


def test_two_sync_pushes_at_once_lose_no_value(tmp_path):
    """Different stores, different fields, the same 600 deals: every value of both lands."""
    shutil.copy(SHIPPED, tmp_path / "hubspot_schema.yaml")
    env = _env(tmp_path, PROVISIONER_LOCAL_WAIT="300")
    created = subprocess.run([sys.executable, "-m", "provisioner", "apply", "--local", "--auto-approve"],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert created.returncode == 0, created.stderr
    emulator = Emulator(EmulatorSettings(state_file=str(tmp_path / "portal"), burst_limit=None))
    client, deals = Client(emulator.app), []
    for _ in range(6):
        answer = client.post("/crm/v3/objects/deals/batch/create", headers={"Authorization": "Bearer x"},
                             json={"inputs": [{"properties": {"dealname": "d"}} for _ in range(100)]})
        deals += [record["id"] for record in answer.get_json()["results"]]
    emulator.close()
    only = {key: ... for key in ("URL", "STATUS", "STAGE_NAME", "CUSTOMER_INVITED_COUNT", "CUSTOMER_ACCEPTED_COUNT",
                                 "PROGRESS", "EXECUTION_SCORE")}
    (tmp_path / "a.jsonl").write_text("".join(event(deal_id=d, **{**only, "PROGRESS": 61}) + "\n" for d in deals))
    (tmp_path / "b.jsonl").write_text("".join(event(deal_id=d, accord_id="acc_2", **{**only, "STATUS": "At Risk"})
                                              + "\n" for d in deals))
    runs = [_start(tmp_path, env, "sync", "push", "--local", "--source", f"{name}.jsonl", "--store", f"{name}.sqlite")
            for name in ("a", "b")]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    emulator = Emulator(EmulatorSettings(state_file=str(tmp_path / "portal")))
    try:
        values = {(d.props.get("accord_progress"), d.props.get("accord_status")) for d in emulator.portal.deals.values()}
        assert values == {("61", "At Risk")}
    finally:
        emulator.close()


def test_a_second_emulator_serve_on_a_held_state_file_is_refused_at_once(tmp_path):
    holder = _holder(tmp_path / "portal")
    try:
        done = subprocess.run([sys.executable, "-m", "provisioner", "emulator", "serve", "--port", "0", "--state",
                               str(tmp_path / "portal")], env=_env(tmp_path), capture_output=True, text=True,
                              timeout=60)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert done.returncode == 1 and f"in use by another process (pid {holder.pid})" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_portal_let_go_of_without_close_lets_go_of_the_file(tmp_path):
    emulator = Emulator(EmulatorSettings(state_file=str(tmp_path / "portal")))
    Client(emulator.app).get("/crm/v3/properties/deals/groups", headers={"Authorization": "Bearer x"})
    del emulator  # as a command's client going out of scope: no close() called
    check = subprocess.run([sys.executable, "-c", "import sys\nfrom provisioner.emulator.persist import Store\n"
                            "Store(sys.argv[1]).close()", str(tmp_path / "portal")],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr


def test_a_local_client_let_go_of_lets_go_of_the_portal(tmp_path, monkeypatch):
    from provisioner.hubspot.connect import connect

    monkeypatch.setenv("PROVISIONER_LOCAL_STATE", str(tmp_path / "portal"))
    client = connect(local=True)
    client.list_groups()
    del client  # no close: the client going out of scope is enough
    check = subprocess.run([sys.executable, "-c", "import sys\nfrom provisioner.emulator.persist import Store\n"
                            "Store(sys.argv[1]).close()", str(tmp_path / "portal")],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr
