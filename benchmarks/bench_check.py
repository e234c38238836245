"""What `check` and `emulator seed-deals` cost: HTTP requests, wall time, CPU and peak RSS per process.

Runs the emulator on 127.0.0.1 with a request log and each command as its own process (so CPU and
peak RSS are the whole command's), in one run:
- `check` on a converged portal, beside the commands a person would run for a similar round trip
  without it (`plan`, then `sync push` of one snapshot and `sync verify`);
- `emulator seed-deals N` for a few N, and the `sync push` of the events file it wrote.

- `check --via` through a running `provisioner serve` (`--max-delay` as given), a few times: its
  event-to-deal latency beside the direct `check`.

    python benchmarks/bench_check.py [--deals 20,1000,5000] [--via-runs 5] [--max-delay 0.2]
                                     [--out benchmarks/results/check.md]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from provisioner.emulator import Emulator, EmulatorSettings, serve_in_thread  # noqa: E402

TIMEOUT_S = 600


def run(args: list[str], env: dict, cwd: Path, log: Path) -> dict:
    """One command as a child process: exit code, wall, CPU, peak RSS, requests by kind."""
    before_lines = len(log.read_text().splitlines()) if log.exists() else 0
    usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    wrapper = ("import resource, runpy, sys; sys.argv = ['provisioner'] + sys.argv[1:]\n"
               "try:\n    runpy.run_module('provisioner', run_name='__main__')\n"
               "finally:\n    print('MAXRSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", wrapper, *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=TIMEOUT_S)
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    rss_kb = int(next(line.split()[1] for line in done.stderr.splitlines() if line.startswith("MAXRSS")))
    lines = log.read_text().splitlines()[before_lines:]
    new = [json.loads(line) for line in lines if line.strip()]
    reads = sum(1 for r in new if r["method"] == "GET" or r["path"].endswith(("/batch/read", "access-token-info")))
    latency = None
    if "--via" in args:
        try:
            latency = json.loads(done.stdout).get("latency_s")
        except ValueError:
            latency = None
    return {"latency_s": latency, "command": "provisioner " + " ".join(args), "exit": done.returncode, "wall_s": wall,
            "cpu_s": (usage.ru_utime - usage_before.ru_utime) + (usage.ru_stime - usage_before.ru_stime),
            "rss_mb": rss_kb / 1024, "requests": len(new), "reads": reads, "writes": len(new) - reads}


def via_latencies(env: dict, work: Path, log: Path, runs: int, max_delay: str, rows: list) -> list[float]:
    """`check --via` against a real `provisioner serve` process: the latency each run reports."""
    if runs <= 0:
        return []
    key = "bench-webhook-key-0123456789"
    env = {**env, "PROVISIONER_WEBHOOK_SECRET": key}
    errors = work / "serve.log"
    with open(errors, "wb") as handle:
        serve = subprocess.Popen([sys.executable, "-m", "provisioner", "serve", "--port", "0", "--max-delay",
                                  max_delay], env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=handle)
        try:
            deadline = time.monotonic() + 30
            while "http://" not in errors.read_text(errors="replace") and time.monotonic() < deadline:
                time.sleep(0.05)
            first = errors.read_text(errors="replace").splitlines()[0]
            url = first[first.index("http://"):].split()[0]
            latencies = []
            for _ in range(runs):
                row = run(["check", "--via", url, "--format", "json"], env, work, log)
                rows.append(row)
                latencies.append(row.pop("latency_s"))
            return [x for x in latencies if x is not None]
        finally:
            serve.terminate()
            serve.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deals", default="20,1000,5000")
    parser.add_argument("--via-runs", type=int, default=5)
    parser.add_argument("--max-delay", default="0.2")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "check.md"))
    options = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        log = work / "requests.jsonl"
        shutil.copy(ROOT / "hubspot_schema.yaml", work / "hubspot_schema.yaml")
        emulator = Emulator(EmulatorSettings(request_log=str(log), burst_limit=None, daily_limit=None))
        with serve_in_thread(emulator, host="127.0.0.1", port=0) as base_url:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "PROVISIONER_"))}
            env.update(HUBSPOT_BASE_URL=base_url, HUBSPOT_ACCESS_TOKEN="bench-token", PYTHONPATH=str(ROOT))
            assert run(["apply", "--auto-approve"], env, work, log)["exit"] == 0
            rows.append(run(["check"], env, work, log))
            assert run(["emulator", "seed-deals", "1", "--out", "one.jsonl"], env, work, log)["exit"] == 0
            one = json.loads((work / "one.jsonl").read_text().splitlines()[0])
            (work / "one.jsonl").write_text(json.dumps(one) + "\n")
            rows.append(run(["plan"], env, work, log))
            rows.append(run(["sync", "push", "--source", "one.jsonl"], env, work, log))
            rows.append(run(["sync", "verify"], env, work, log))
            for count in [int(n) for n in options.deals.split(",") if n.strip()]:
                name = f"events{count}.jsonl"
                rows.append(run(["emulator", "seed-deals", str(count), "--out", name], env, work, log))
                rows.append(run(["sync", "push", "--source", name, "--store", f"s{count}.sqlite"], env, work, log))
            latencies = via_latencies(env, work, log, options.via_runs, options.max_delay, rows)
    table = ["| command | exit | requests (reads/writes) | wall s | CPU s | peak RSS MB |", "|---|---|---|---|---|---|"]
    for r in rows:
        table.append(f"| `{r['command']}` | {r['exit']} | {r['requests']} ({r['reads']}/{r['writes']}) | "
                     f"{r['wall_s']:.2f} | {r['cpu_s']:.2f} | {r['rss_mb']:.0f} |")
    text = ("# check and seed-deals\n\n`python benchmarks/bench_check.py --deals " + options.deals
            + f" --via-runs {options.via_runs} --max-delay {options.max_delay}` (emulator on "
            "127.0.0.1, no rate limit; each command its own process)\n\n" + "\n".join(table) + "\n")
    text += ("\nThe requests of a `check --via` row include the service's own (its worker's batch update and "
             "its reads), as both talk to the same emulator.\n")
    if latencies:
        ordered = sorted(latencies)
        text += (f"\nEvent-to-deal latency through `provisioner serve --max-delay {options.max_delay}` "
                 f"({len(ordered)} runs of `check --via`): median {ordered[len(ordered) // 2]:.3f} s, "
                 f"min {ordered[0]:.3f} s, max {ordered[-1]:.3f} s.\n")
    Path(options.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
