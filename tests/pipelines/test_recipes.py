"""The pipeline recipes: workflows parse and pass actionlint, and their scripts do what they say."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from provisioner.model import ValidationRule
from tests.scenarios.harness import SHIPPED, run

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
SCRIPTS = ROOT / ".github" / "scripts"
BIN = Path(sys.executable).parent  # where the provisioner console script is installed
ACTIONLINT = shutil.which("actionlint", path=str(BIN)) or shutil.which("actionlint")
RECIPES = ["provisioner-plan.yml", "provisioner-apply.yml", "provisioner-apply-environment.yml",
           "provisioner-drift.yml"]


def workflow(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True)  # YAML 1.1 reads the key `on` as true
    return data


def steps(data: dict) -> list[dict]:
    return [step for job in data["jobs"].values() for step in job.get("steps", [])]


# ---- the workflow files ----------------------------------------------------------------------------
def test_actionlint_passes_on_every_workflow():
    assert ACTIONLINT, "actionlint is part of the test extra"
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    assert len(files) >= len(RECIPES)
    result = subprocess.run([ACTIONLINT, "-no-color", *files], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_actionlint_catches_a_broken_workflow(tmp_path):
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
                      "      - run: echo ${{ secrets.X.y.z( }}\n")
    result = subprocess.run([ACTIONLINT, "-no-color", str(broken)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1


def test_plan_workflow_plans_saves_and_comments_once():
    data = workflow("provisioner-plan.yml")
    assert "pull_request" in data["on"]
    runs = " ".join(step.get("run", "") for step in steps(data))
    assert "provisioner validate" in runs and ".github/scripts/run-plan.sh" in runs
    uploads = [s for s in steps(data) if s.get("uses", "").startswith("actions/upload-artifact")]
    assert uploads and uploads[0]["with"]["name"].startswith("provisioner-plan-")
    comment = data["jobs"]["comment"]
    assert comment["permissions"]["pull-requests"] == "write"
    script = next(s for s in comment["steps"] if s.get("uses", "").startswith("actions/github-script"))
    assert "upsert-comment.js" in script["with"]["script"]
    assert "HUBSPOT_ACCESS_TOKEN" in data["jobs"]["plan"]["env"]


def test_apply_workflow_runs_sandbox_then_production_from_the_saved_plan():
    data = workflow("provisioner-apply.yml")
    assert data["on"]["push"]["branches"] == ["main"]
    assert data["jobs"]["production"]["needs"] == "sandbox"
    assert {j["with"]["environment"] for j in data["jobs"].values()} == {"sandbox", "production"}
    stage = workflow("provisioner-apply-environment.yml")
    assert "workflow_call" in stage["on"]
    job = stage["jobs"]["apply"]
    assert job["environment"] == "${{ inputs.environment }}"
    runs = [s.get("run", "") for s in job["steps"]]
    assert any("fetch-saved-plan.sh" in r for r in runs)
    assert any(r.strip() == "provisioner --log-format json apply saved/plan.json" for r in runs)


def test_drift_workflow_runs_nightly_and_by_hand():
    data = workflow("provisioner-drift.yml")
    assert "workflow_dispatch" in data["on"] and data["on"]["schedule"][0]["cron"]
    assert data["permissions"]["issues"] == "write"
    runs = " ".join(step.get("run", "") for step in steps(data))
    assert ".github/scripts/run-drift.sh" in runs
    scripts = " ".join(s.get("with", {}).get("script", "") for s in steps(data))
    assert "drift-issue.js" in scripts


def test_every_script_a_workflow_names_exists_and_is_executable():
    text = "".join(p.read_text() for p in WORKFLOWS.glob("*.yml"))
    named = set(re.findall(r"\.github/scripts/([\w.-]+)", text))
    assert named >= {"run-plan.sh", "run-drift.sh", "fetch-saved-plan.sh", "upsert-comment.js", "drift-issue.js"}
    for name in named:
        path = SCRIPTS / name
        assert path.exists(), name
        if name.endswith(".sh"):
            assert os.access(path, os.X_OK), name
            assert subprocess.run(["bash", "-n", str(path)]).returncode == 0


# ---- pre-commit ---------------------------------------------------------------------------------------
def hook() -> dict:
    (entry,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    return entry


@pytest.mark.parametrize(("path", "checked"), [
    ("hubspot_schema.yaml", True), ("deploy/hubspot_schema.sandbox.yml", True),
    ("hubspot_schema.confirmations.yaml", False), ("other.yaml", False), ("hubspot_schema.json", False),
])
def test_pre_commit_hook_picks_the_config_files(path, checked):
    entry = hook()
    assert entry["id"] == "provisioner-validate"
    matched = re.search(entry["files"], path) and not re.search(entry["exclude"], path)
    assert bool(matched) == checked


def run_hook(tmp_path, *files):
    command = shlex.split(hook()["entry"]) + list(files)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)


def test_pre_commit_hook_validates_every_file_it_is_given(tmp_path):
    shutil.copy(SHIPPED, tmp_path / "hubspot_schema.yaml")
    (tmp_path / "hubspot_schema.bad.yaml").write_text(SHIPPED.read_text().replace("    label: Accord URL\n",
                                                                                  "    lable: Accord URL\n"))
    good = run_hook(tmp_path, "hubspot_schema.yaml")
    assert good.returncode == 0 and "hubspot_schema.yaml: valid" in good.stdout
    both = run_hook(tmp_path, "hubspot_schema.bad.yaml", "hubspot_schema.yaml")
    assert both.returncode == 1
    assert "hubspot_schema.bad.yaml:" in both.stderr and "unknown key 'lable'" in both.stderr
    assert "hubspot_schema.yaml: valid" in both.stdout  # the second file is still checked


# ---- the shell scripts ---------------------------------------------------------------------------------
def fake_command(directory: Path, name: str, body: str) -> None:
    directory.mkdir(exist_ok=True)
    path = directory / name
    path.write_text("#!/usr/bin/env bash\n" + textwrap.dedent(body))
    path.chmod(0o755)


def run_script(tmp_path, script: str, *args, path_first: Path | None = None, extra_env=None):
    output = tmp_path / "github_output"
    output.write_text("")
    env = {**os.environ, "GITHUB_OUTPUT": str(output), **(extra_env or {})}
    env["PATH"] = os.pathsep.join(str(p) for p in (path_first, BIN) if p) + os.pathsep + os.environ["PATH"]
    result = subprocess.run(["bash", str(SCRIPTS / script), *args], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=120)
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
    return result, outputs


@pytest.mark.parametrize(("code", "status", "exit_code"), [(0, "clean", 0), (2, "drift", 0), (1, "error", 1),
                                                            (130, "error", 1)])
def test_run_drift_maps_exit_codes(tmp_path, code, status, exit_code):
    fake_command(tmp_path / "bin", "provisioner", f"""
        echo "report for $*"
        exit {code}
    """)
    result, outputs = run_script(tmp_path, "run-drift.sh", "out", path_first=tmp_path / "bin")
    assert result.returncode == exit_code, result.stderr
    assert outputs == {"status": status}
    assert (tmp_path / "out" / "drift.md").read_text().startswith("report for --log-format json drift --format markdown")
    if status == "error":
        assert "::error title=Drift check failed::provisioner drift exited" in result.stdout
        assert not (tmp_path / "out" / "drift.json").exists()  # no second wait on a dead portal
    else:
        # the JSON report is written beside it, for alerting
        assert (tmp_path / "out" / "drift.json").read_text().startswith("report for --quiet drift --format json")


def test_run_drift_and_run_plan_against_the_emulator(capsys, portal):
    portal.config()
    env = {"HUBSPOT_ACCESS_TOKEN": "test-token", "HUBSPOT_BASE_URL": portal.base_url}
    result, outputs = run_script(portal.workdir, "run-plan.sh", "plan-out", extra_env=env)
    assert result.returncode == 0, result.stderr
    assert outputs == {"status": "changes"}
    assert (portal.workdir / "plan-out" / "plan.md").read_text().startswith("### provisioner plan: 9 to create")
    assert json.loads((portal.workdir / "plan-out" / "plan.json").read_text())["summary"]["has_changes"]

    assert run(capsys, "apply", "--auto-approve").code == 0
    portal.client().put_validation_rule(ValidationRule("accord_url", "MAX_LENGTH", ("120",)))
    result, outputs = run_script(portal.workdir, "run-drift.sh", "drift-out", extra_env=env)
    assert result.returncode == 0, result.stderr
    assert outputs == {"status": "drift"}
    body = (portal.workdir / "drift-out" / "drift.md").read_text()
    assert body.startswith("### :warning: Drift in HubSpot portal 12345678: 1 object differs")
    assert json.loads((portal.workdir / "drift-out" / "drift.json").read_text())["status"] == "drift"


def test_run_plan_names_the_environment_and_fails_when_no_plan(tmp_path):
    fake_command(tmp_path / "bin", "provisioner", """
        echo "### provisioner plan (production): 1 to create, 0 to change, 0 to archive"
        exit "${FAKE_CODE:-2}"
    """)
    result, outputs = run_script(tmp_path, "run-plan.sh", "out", path_first=tmp_path / "bin",
                                 extra_env={"PROVISIONER_ENV": "production"})
    assert result.returncode == 0 and outputs == {"status": "changes"}
    assert (tmp_path / "out" / "plan.md").read_text().startswith("### provisioner plan (production): 1 to create")
    result, outputs = run_script(tmp_path, "run-plan.sh", "out", path_first=tmp_path / "bin",
                                 extra_env={"PROVISIONER_ENV": "production", "FAKE_CODE": "1"})
    assert result.returncode == 1 and outputs == {"status": "error"}
    assert (tmp_path / "out" / "plan.md").read_text().startswith("### provisioner plan (production) failed")


FAKE_GH = """
    echo "$*" >> "$GH_CALLS"
    case "$1 $2" in
      "api repos/o/r/commits/abc/pulls") [ -n "$NO_PR" ] || echo "headsha" ;;
      "run list") echo "4242" ;;
      "run download") mkdir -p "$9"; echo '{"format_version": 1}' > "$9/plan.json" ;;
    esac
"""


def test_fetch_saved_plan_finds_the_pull_requests_last_plan(tmp_path):
    fake_command(tmp_path / "bin", "gh", FAKE_GH)
    env = {"GITHUB_REPOSITORY": "o/r", "GITHUB_SHA": "abc", "GH_CALLS": str(tmp_path / "calls")}
    result, outputs = run_script(tmp_path, "fetch-saved-plan.sh", "production", "saved",
                                 path_first=tmp_path / "bin", extra_env=env)
    assert result.returncode == 0, result.stderr
    assert outputs == {"saved": "true"} and result.stdout.strip() == "saved/plan.json"
    calls = (tmp_path / "calls").read_text().splitlines()
    assert "--commit headsha --status success" in calls[1]
    assert calls[2].startswith("run download 4242 --repo o/r --name provisioner-plan-production --dir saved")


def test_fetch_saved_plan_without_a_pull_request_plans_again(tmp_path):
    fake_command(tmp_path / "bin", "gh", FAKE_GH)
    env = {"GITHUB_REPOSITORY": "o/r", "GITHUB_SHA": "abc", "GH_CALLS": str(tmp_path / "calls"), "NO_PR": "1"}
    result, outputs = run_script(tmp_path, "fetch-saved-plan.sh", "sandbox", "saved",
                                 path_first=tmp_path / "bin", extra_env=env)
    assert result.returncode == 0 and outputs == {"saved": "false"}
    assert "No saved plan for sandbox: commit abc came from no pull request; planning again." in result.stderr


# ---- the github-script modules -----------------------------------------------------------------------------
NODE = shutil.which("node")

FAKE_GITHUB = """
const fs = require('fs');
const state = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const calls = [];
let next = 100;
const github = {
  paginate: async (fn, args) => fn(args),
  rest: { issues: {
    listComments: async () => state.comments,
    createComment: async (a) => { calls.push(['createComment', a]); return { data: { id: next++ } }; },
    updateComment: async (a) => { calls.push(['updateComment', a]); return { data: {} }; },
    listForRepo: async (a) => state.issues.filter((i) => i.state === a.state),
    create: async (a) => { calls.push(['create', a]); return { data: { number: next++ } }; },
    update: async (a) => { calls.push(['update', a]); return { data: {} }; },
  } },
};
const context = { repo: { owner: 'o', repo: 'r' }, issue: { number: 7 }, serverUrl: 'https://github.com', runId: 9 };
const core = { info: () => {} };
require(process.argv[3])({ github, context, core }, state.args)
  .then((result) => console.log(JSON.stringify({ result, calls })))
  .catch((err) => { console.log(JSON.stringify({ error: err.message, calls })); });
"""


def run_node(tmp_path, module: str, state: dict) -> dict:
    assert NODE, "node runs the github-script modules"
    harness = tmp_path / "harness.js"
    harness.write_text(FAKE_GITHUB)
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(state))
    result = subprocess.run([NODE, str(harness), str(state_file), str(SCRIPTS / module)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_plan_comment_is_created_once_then_updated_in_place(tmp_path):
    first = run_node(tmp_path, "upsert-comment.js", {"comments": [{"id": 1, "body": "LGTM"}],
                                                      "args": {"body": "### provisioner plan: ..."}})
    assert first["result"] == {"action": "created", "id": 100}
    ((name, args),) = first["calls"]
    assert name == "createComment" and args["issue_number"] == 7
    assert args["body"].startswith("<!-- provisioner-plan -->\n### provisioner plan")
    comments = [{"id": 1, "body": "LGTM"}, {"id": 55, "body": args["body"]}]
    second = run_node(tmp_path, "upsert-comment.js", {"comments": comments, "args": {"body": "new plan"}})
    assert second["result"] == {"action": "updated", "id": 55}
    assert second["calls"] == [["updateComment", {"owner": "o", "repo": "r", "comment_id": 55,
                                                  "body": "<!-- provisioner-plan -->\nnew plan"}]]


def test_plan_comment_is_cut_to_githubs_limit(tmp_path):
    out = run_node(tmp_path, "upsert-comment.js", {"comments": [], "args": {"body": "x" * 70000}})
    body = out["calls"][0][1]["body"]
    assert len(body) <= 65536 and body.endswith("the full plan is in the job's artifacts._\n")


def issue(number, title, state="open"):
    return {"number": number, "title": title, "state": state}


def test_drift_opens_one_issue_then_updates_it(tmp_path):
    opened = run_node(tmp_path, "drift-issue.js", {"issues": [issue(3, "Something else")],
                                                    "args": {"status": "drift", "body": "### drift",
                                                             "environment": "production"}})
    assert opened["result"] == {"action": "opened", "number": 100}
    ((name, args),) = opened["calls"]
    assert name == "create" and args["title"] == "HubSpot portal drift (production)"
    assert args["labels"] == ["drift"] and args["body"].startswith("### drift")
    updated = run_node(tmp_path, "drift-issue.js", {
        "issues": [issue(3, "Something else"), issue(12, "HubSpot portal drift (production)")],
        "args": {"status": "drift", "body": "### drift again", "environment": "production"}})
    assert updated["result"] == {"action": "updated", "number": 12}
    assert [c[0] for c in updated["calls"]] == ["update"]


def test_clean_check_closes_the_issue_and_other_environments_are_left_alone(tmp_path):
    issues = [issue(12, "HubSpot portal drift (production)"), issue(13, "HubSpot portal drift (sandbox)")]
    closed = run_node(tmp_path, "drift-issue.js", {"issues": issues, "args": {
        "status": "clean", "body": "### no drift", "environment": "sandbox"}})
    assert closed["result"] == {"action": "closed", "number": 13}
    assert [c[0] for c in closed["calls"]] == ["createComment", "update"]
    assert closed["calls"][1][1]["state"] == "closed"
    none = run_node(tmp_path, "drift-issue.js", {"issues": [], "args": {"status": "clean", "body": "x"}})
    assert none["result"] == {"action": "none"} and none["calls"] == []
    bad = run_node(tmp_path, "drift-issue.js", {"issues": [], "args": {"status": "error", "body": "x"}})
    assert bad["error"] == 'unknown drift status "error"'
