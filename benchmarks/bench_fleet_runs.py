"""Fleet runs: apply and plan on P portals, one `--all-portals` process beside a loop of single runs.

P portals, each its own emulator with HubSpot's Starter limit (100 requests per 10 s) behind one
loopback address (tests/fleet/portals.py routes each token to its portal), each registered with its
own token variable. Measured in the same run, on fresh portals each time:

- old: a shell-style loop, one `provisioner apply --auto-approve` process per portal, one after another;
- new: one `provisioner apply --all-portals --auto-approve --concurrency N` process, for several N;

then `plan --all-portals` on the converged portals. Each command is a whole process: wall, CPU (user +
system) and peak RSS from its rusage; HTTP requests and 429s are counted by the emulators. Usage:

    python benchmarks/bench_fleet_runs.py [--portals 8] [--concurrency 1,4,8] [--out benchmarks/results/fleet_runs.md]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from provisioner.emulator import serve_in_thread  # noqa: E402
from tests.fleet.portals import FleetPortals  # noqa: E402

FIRST_PORTAL = 70_000_001
PROCESS_TIMEOUT_S = 600


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> dict[str, float]:
    """One provisioner command as its own process: wall seconds, CPU seconds and peak RSS (MiB)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        process = subprocess.Popen([sys.executable, "-m", "provisioner", *args], env=env, cwd=cwd,
                                   stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + PROCESS_TIMEOUT_S
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                process.kill()
                raise SystemExit(f"provisioner {' '.join(args)} took longer than {PROCESS_TIMEOUT_S} s")
            time.sleep(0.01)
        code = os.waitstatus_to_exitcode(status)
        if code not in (0, 2):
            err.seek(0)
            raise SystemExit(f"provisioner {' '.join(args)} failed: {err.read().decode(errors='replace')}")
    return {"seconds": time.perf_counter() - started, "cpu": usage.ru_utime + usage.ru_stime,
            "rss_mib": usage.ru_maxrss / 1024}


class Fleet:
    """P fresh portals on one address, registered in a fresh work directory."""

    def __init__(self, portals: int) -> None:
        self.ids = [FIRST_PORTAL + i for i in range(portals)]
        self.app = FleetPortals()
        for portal_id in self.ids:
            self.app.add_portal(portal_id, token=f"bench-{portal_id}", burst_limit=100, burst_window_s=10.0)
        self.tmp = tempfile.TemporaryDirectory()
        self.workdir = Path(self.tmp.name)
        shutil.copy(ROOT / "hubspot_schema.yaml", self.workdir / "hubspot_schema.yaml")

    def requests(self) -> tuple[int, int]:
        total = sum(e.counts["requests"] for e in self.app.emulators.values())
        limited = sum(e.counts.get("status_429", 0) for e in self.app.emulators.values())
        return total, limited


def measure(portals: int, concurrencies: list[int]) -> list[tuple[str, dict, int, int]]:
    rows = []
    scenarios = [("old: one `apply` process per portal, in a loop", None)] + [
        (f"new: `apply --all-portals --concurrency {n}`", n) for n in concurrencies]
    for label, concurrency in scenarios:
        fleet = Fleet(portals)
        with serve_in_thread(fleet.app, host="127.0.0.1", port=0) as base_url:
            env = {key: value for key, value in os.environ.items()
                   if not key.startswith(("HUBSPOT_", "PROVISIONER_"))}
            env.update({"HUBSPOT_BASE_URL": base_url, "HUBSPOT_TIER": "starter"})
            env.update({f"TOKEN_{p}": f"bench-{p}" for p in fleet.ids})
            for portal_id in fleet.ids:
                run_cli(["portals", "add", str(portal_id), "--token-env", f"TOKEN_{portal_id}"], env, fleet.workdir)
            before = fleet.requests()
            if concurrency is None:
                usage = {"seconds": 0.0, "cpu": 0.0, "rss_mib": 0.0}
                for portal_id in fleet.ids:
                    one = run_cli(["apply", "--auto-approve"], {**env, "HUBSPOT_ACCESS_TOKEN": f"bench-{portal_id}"},
                                  fleet.workdir)
                    usage = {"seconds": usage["seconds"] + one["seconds"], "cpu": usage["cpu"] + one["cpu"],
                             "rss_mib": max(usage["rss_mib"], one["rss_mib"])}
            else:
                usage = run_cli(["apply", "--all-portals", "--auto-approve", "--concurrency", str(concurrency)],
                                env, fleet.workdir)
            after = fleet.requests()
            rows.append((label, usage, after[0] - before[0], after[1] - before[1]))
            if concurrency == max(concurrencies):
                before = fleet.requests()
                usage = run_cli(["plan", "--all-portals", "--concurrency", str(concurrency)], env, fleet.workdir)
                after = fleet.requests()
                rows.append((f"new: `plan --all-portals --concurrency {concurrency}`, converged", usage,
                             after[0] - before[0], after[1] - before[1]))
        fleet.tmp.cleanup()
    return rows


def table(portals: int, rows) -> str:
    lines = [f"### {portals} portals, Starter limit each (100 requests / 10 s), emulators on 127.0.0.1", "",
             "| run | wall s | CPU s | peak RSS MiB | HTTP requests | 429s |", "|---|---|---|---|---|---|"]
    for label, usage, requests, limited in rows:
        lines.append(f"| {label} | {usage['seconds']:.2f} | {usage['cpu']:.2f} | {usage['rss_mib']:.0f} | "
                     f"{requests} | {limited} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--portals", type=int, default=8)
    parser.add_argument("--concurrency", default="1,4,8")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if not 1 <= args.portals <= 64:
        raise SystemExit("--portals: 1 to 64")
    concurrencies = [int(n) for n in args.concurrency.split(",")]
    text = table(args.portals, measure(args.portals, concurrencies))
    print(text)
    if args.out:
        Path(args.out).write_text(
            "# Fleet runs\n\n`python benchmarks/bench_fleet_runs.py " + " ".join(sys.argv[1:]) + "`\n\n" + text)


if __name__ == "__main__":
    main()
