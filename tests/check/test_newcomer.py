"""The newcomer's five commands of docs/quickstart.md, run exactly as written through the console script."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from provisioner.emulator import Emulator, EmulatorSettings
from provisioner.sync.coalesce import newest_values
from provisioner.sync.events import Rules, parse_line
from tests.scenarios.harness import SHIPPED
from tests.sync.conftest import make_config

QUICKSTART = Path(__file__).resolve().parents[2] / "docs" / "quickstart.md"
EXPECTED = [
    "provisioner apply --local --auto-approve",
    "provisioner emulator seed-deals 20 --local --out events.jsonl",
    "provisioner sync push --local --source events.jsonl",
    "provisioner sync verify --local",
    "provisioner check --local",
]


def newcomer_commands() -> list[str]:
    """The first sh block of the quickstart, one command a line."""
    block = re.search(r"```sh\n(.*?)```", QUICKSTART.read_text(), re.S).group(1)
    return [line.strip() for line in block.splitlines() if line.strip()]


def console_script() -> str:
    beside = Path(sys.executable).parent / "provisioner"
    return str(beside) if beside.exists() else shutil.which("provisioner")


def test_the_quickstart_shows_the_five_commands():
    assert newcomer_commands() == EXPECTED


def test_the_newcomer_commands_run_as_written_on_a_fresh_local_portal(tmp_path):
    shutil.copy(SHIPPED, tmp_path / "hubspot_schema.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "PROVISIONER_"))}
    outputs = []
    for command in newcomer_commands():
        argv = shlex.split(command)
        assert argv[0] == "provisioner"
        done = subprocess.run([console_script(), *argv[1:]], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        outputs.append(done.stdout)
    apply_out, _, push_out, verify_out, check_out = outputs
    assert "Apply complete" in apply_out
    assert "deals written 20 of 20 (rejected 0, missing 0, failed 0); requests 1," in push_out
    assert verify_out.startswith("deals checked 20, values edited by hand 0, missing deals 0")
    assert "PASSED: every step passed" in check_out

    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    rules = Rules.from_config(make_config())
    newest = newest_values(parse_line(n, line, rules) for n, line in enumerate(lines, start=1))
    assert len(newest) == 20 and len(lines) > 40
    portal = Emulator(EmulatorSettings(state_file=str(tmp_path / ".provisioner" / "local-portal")))
    try:
        deals = {d: deal for d, deal in portal.portal.deals.items() if not deal.archived}
        assert set(deals) == set(newest)  # the check's test deal is archived
        for deal_id, values in newest.items():
            assert {p: deals[deal_id].props.get(p) for p in values} == values
    finally:
        portal.close()
