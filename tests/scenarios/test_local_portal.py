"""The README's main job: apply the shipped file to the embedded local portal, then plan again."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from tests.scenarios.harness import SHIPPED, run


def test_main_job_on_the_local_portal(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(SHIPPED, tmp_path / "hubspot_schema.yaml")
    first = run(capsys, "apply", "--local", "--auto-approve")
    assert first.code == 0, first.err
    assert "Apply complete: 9 change(s)" in first.out
    assert (tmp_path / ".provisioner").is_dir()
    # a new process reads the same portal back from disk
    again = run(capsys, "plan", "--local", "--detailed-exitcode")
    assert again.code == 0, again.err
    assert "No changes. The portal matches the file." in again.out


def test_local_state_location_is_a_setting(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(SHIPPED, tmp_path / "hubspot_schema.yaml")
    monkeypatch.setenv("PROVISIONER_LOCAL_STATE", str(tmp_path / "elsewhere" / "portal"))
    assert run(capsys, "apply", "--local", "--auto-approve").code == 0
    assert (tmp_path / "elsewhere").is_dir() and not (tmp_path / ".provisioner").exists()


def test_console_script_runs_the_main_job(tmp_path):
    shutil.copy(SHIPPED, tmp_path / "hubspot_schema.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "PROVISIONER_"))}
    for args, code in ((["apply", "--local", "--auto-approve"], 0), (["plan", "--local", "--detailed-exitcode"], 0)):
        done = subprocess.run([sys.executable, "-m", "provisioner", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == code, done.stderr


def test_a_damaged_local_portal_is_one_clear_error(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(SHIPPED, tmp_path / "hubspot_schema.yaml")
    (tmp_path / ".provisioner").mkdir()
    (tmp_path / ".provisioner" / "local-portal").write_text("not a portal")
    result = run(capsys, "plan", "--local")
    assert result.code == 1
    assert "cannot open the local portal" in result.err and "Traceback" not in result.err


def test_plan_out_creates_its_folder_and_reports_an_unwritable_path(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(SHIPPED, tmp_path / "hubspot_schema.yaml")
    saved = run(capsys, "plan", "--local", "--out", "out/plan.json")
    assert saved.code == 0 and (tmp_path / "out" / "plan.json").exists()
    (tmp_path / "blocker").write_text("a file, not a folder")
    refused = run(capsys, "plan", "--local", "--out", "blocker/plan.json")
    assert refused.code == 1 and "cannot write the plan to blocker/plan.json" in refused.err
