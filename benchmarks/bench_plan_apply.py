"""HTTP requests, wall time, CPU and peak RSS of plan and apply, beside a per-property SDK script.

Runs the emulator on 127.0.0.1 with a request log and measures each approach on a fresh portal and
on a converged one, in the same run, for several file sizes (the shipped seven properties plus
benchmark ones; 500 and 1,000 go through HubSpot's 100-input batch limit). Each provisioner
command is a whole process: wall, CPU (user + system) and peak RSS come from its own rusage.
The SDK script runs in this process, so only its requests and wall time are shown. Usage:

    python benchmarks/bench_plan_apply.py [--properties 7,57,500,1000] [--out benchmarks/results/plan_apply.md]
                                          [--enforce-secondly]

With ``--enforce-secondly`` the emulator holds HubSpot's Professional limit (190 per 10 s) and refuses
a request over its announced per-second figure (19), the tool runs with ``--tier professional``, and
the SDK script is left out (it does not pace); the 429s met are counted.
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
        return {"requests": len(new), "reads": reads, "writes": len(new) - reads,
                "429s": sum(1 for r in new if r.get("status") == 429)}


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> dict[str, float]:
    """One provisioner command as its own process: wall seconds, CPU seconds and peak RSS (MiB)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        process = subprocess.Popen([sys.executable, "-m", "provisioner", *args], env=env, cwd=cwd,
                                   stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        if process.returncode not in (0, 2):
            err.seek(0)
            raise SystemExit(f"provisioner {' '.join(args)} failed: {err.read().decode(errors='replace')}")
    return {"seconds": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mib": usage.ru_maxrss / 1024}


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


def measure(properties: int, limited: bool = False
            ) -> list[tuple[str, str, dict[str, int], dict[str, float] | None, float]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        config = declared_file(workdir, properties - 7)
        log = workdir / "requests.jsonl"
        limits = (dict(burst_limit=190, burst_window_s=10.0, enforce_secondly_limit=True) if limited
                  else dict(burst_limit=None))
        emulator = Emulator(EmulatorSettings(request_log=str(log), daily_limit=None, **limits))
        with serve_in_thread(emulator, host="127.0.0.1", port=0) as base_url:
            env = {**os.environ, "HUBSPOT_ACCESS_TOKEN": "bench-token", "HUBSPOT_BASE_URL": base_url,
                   "HUBSPOT_TIER": "professional" if limited else "unlimited"}
            counter = Counter(log)
            for label, command in [
                ("plan, fresh portal", ["plan"]),
                ("apply, fresh portal", ["apply", "--auto-approve"]),
                ("plan, converged portal", ["plan"]),
                ("apply, converged portal", ["apply", "--auto-approve"]),
            ]:
                usage = run_cli(command + ["-f", str(config)], env, workdir)
                rows.append(("provisioner", label, counter.take(), usage, usage["seconds"]))
            if limited:
                return rows
            emulator.reset()
            counter.take()
            for label in ("fresh portal", "converged portal"):
                started = time.perf_counter()
                sdk_script(base_url, config)
                rows.append(("per-property SDK script", label, counter.take(), None, time.perf_counter() - started))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--properties", default="7,57,500,1000",
                        help="comma-separated numbers of declared properties (at least the shipped 7)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "plan_apply.md")
    parser.add_argument("--enforce-secondly", action="store_true",
                        help="the emulator at 190 per 10 s, refusing requests over its per-second figure")
    args = parser.parse_args()
    sizes = [max(7, int(n)) for n in args.properties.split(",")]

    lines = [
        "# plan/apply: HTTP requests, wall, CPU and peak RSS",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} by `python benchmarks/bench_plan_apply.py --properties "
        f"{','.join(map(str, sizes))}{' --enforce-secondly' if args.enforce_secondly else ''}` against the emulator on 127.0.0.1 ({os.cpu_count()} cores, shared).",
        "Each provisioner row is a whole process; the SDK script runs in the benchmark's process (requests "
        "and wall only).",
    ]
    for properties in sizes:
        lines += [
            "",
            f"## {properties} declared properties, 1 group, 1 rule",
            "",
            "| approach | run | requests | reads | writes | 429s | wall s | CPU s | peak RSS MiB |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for who, label, counts, usage, seconds in measure(properties, args.enforce_secondly):
            cpu, rss = (f"{usage['cpu']:.2f}", f"{usage['rss_mib']:.0f}") if usage else ("", "")
            lines.append(f"| {who} | {label} | {counts['requests']} | {counts['reads']} | {counts['writes']} | "
                         f"{counts['429s']} | {seconds:.2f} | {cpu} | {rss} |")
        print("\n".join(lines[-8:]), flush=True)
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
