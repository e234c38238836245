"""HTTP requests made by plan and apply, beside a straightforward per-property script using the SDK.

Runs the emulator on 127.0.0.1 with a request log and counts what each approach sends, on a
fresh portal and on a converged one, in the same run. Usage:

    python benchmarks/bench_plan_apply.py [--extra N] [--out benchmarks/results/plan_apply.md]

`--extra N` adds N more declared properties to the shipped seven, to show that plan's reads stay
constant while the per-property script grows with the file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from provisioner.emulator import Emulator, EmulatorSettings, serve_in_thread  # noqa: E402


def declared_file(workdir: Path, extra: int) -> Path:
    data = yaml.safe_load((ROOT / "hubspot_schema.yaml").read_text())
    for i in range(extra):
        data["properties"].append({
            "name": f"accord_extra_{i:03d}", "label": f"Accord extra {i}", "description": "Benchmark field.",
            "type": "string", "field_type": "text",
        })
    path = workdir / "hubspot_schema.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


class Counter:
    def __init__(self, log: Path) -> None:
        self.log = log
        self.mark = 0

    def take(self) -> dict[str, int]:
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        new = [json.loads(line) for line in lines[self.mark:] if line.strip()]
        self.mark = len(lines)
        reads = sum(1 for r in new if r["method"] == "GET" or r["path"].endswith(("/batch/read", "access-token-info")))
        return {"requests": len(new), "reads": reads, "writes": len(new) - reads}


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, float]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "provisioner", *args], env=env, cwd=cwd,
                          capture_output=True, text=True)
    if done.returncode not in (0, 2):
        raise SystemExit(f"provisioner {' '.join(args)} failed: {done.stderr}")
    return done.returncode, time.perf_counter() - started


def sdk_script(base_url: str, config: Path) -> None:
    """What one would write by hand with the official SDK: look each thing up, create or update it."""
    import requests
    from hubspot.crm.properties import (
        ApiClient,
        Configuration,
        CoreApi,
        GroupsApi,
        PropertyCreate,
        PropertyGroupCreate,
        PropertyUpdate,
    )
    from hubspot.crm.properties.exceptions import ApiException

    data = yaml.safe_load(config.read_text())
    configuration = Configuration(host=base_url)
    configuration.access_token = "bench-token"
    api_client = ApiClient(configuration)
    core, groups = CoreApi(api_client), GroupsApi(api_client)
    group = data["group"]
    try:
        groups.get_by_name("deals", group["name"])
    except ApiException:
        groups.create("deals", PropertyGroupCreate(name=group["name"], label=group["label"]))
    for prop in data["properties"]:
        try:
            core.get_by_name("deals", prop["name"])
            core.update("deals", prop["name"], PropertyUpdate(
                label=prop["label"], description=prop.get("description", ""), group_name=group["name"]))
        except ApiException:
            core.create("deals", PropertyCreate(
                name=prop["name"], label=prop["label"], type=prop["type"], field_type=prop["field_type"],
                group_name=group["name"], description=prop.get("description", "")))
        for rule, value in (prop.get("rules") or {}).items():
            requests.put(f"{base_url}/crm/v3/property-validations/0-3/{prop['name']}/rule-type/{rule.upper()}",
                         json={"ruleArguments": [str(value)], "shouldApplyNormalization": False},
                         headers={"Authorization": "Bearer bench-token"}, timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extra", type=int, default=0, help="declared properties beyond the shipped seven")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "plan_apply.md")
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        config = declared_file(workdir, args.extra)
        log = workdir / "requests.jsonl"
        emulator = Emulator(EmulatorSettings(request_log=str(log), burst_limit=None, daily_limit=None))
        with serve_in_thread(emulator, host="127.0.0.1", port=0) as base_url:
            env = {**os.environ, "HUBSPOT_ACCESS_TOKEN": "bench-token", "HUBSPOT_BASE_URL": base_url,
                   "HUBSPOT_TIER": "unlimited"}
            counter = Counter(log)
            for label, command in [
                ("plan, fresh portal", ["plan"]),
                ("apply, fresh portal", ["apply", "--auto-approve"]),
                ("plan, converged portal", ["plan"]),
                ("apply, converged portal", ["apply", "--auto-approve"]),
            ]:
                _, seconds = run_cli(command + ["-f", str(config)], env, workdir)
                rows.append(("provisioner", label, counter.take(), seconds))
            emulator.reset()
            counter.take()
            for label in ("fresh portal", "converged portal"):
                started = time.perf_counter()
                sdk_script(base_url, config)
                rows.append(("per-property SDK script", label, counter.take(), time.perf_counter() - started))

    declared = 7 + args.extra
    lines = [
        f"# plan/apply HTTP requests ({declared} declared properties, 1 group, 1 rule)",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} by `python benchmarks/bench_plan_apply.py"
        + (f" --extra {args.extra}" if args.extra else "") + "` against the emulator on 127.0.0.1.",
        "",
        "| approach | run | requests | reads | writes | seconds |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for who, label, counts, seconds in rows:
        lines.append(f"| {who} | {label} | {counts['requests']} | {counts['reads']} | {counts['writes']} | "
                     f"{seconds:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        mode = "a" if args.out.exists() and args.extra else "w"
        with args.out.open(mode) as handle:
            handle.write(("\n" if mode == "a" else "") + text)


if __name__ == "__main__":
    main()
