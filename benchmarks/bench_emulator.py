"""Emulator benchmark: a 100-deal batch update in-process and over loopback, and 200,000 deals held.

Run on demand (not a test): ``python benchmarks/bench_emulator.py [--deals 200000] [--rounds 200]``.
Writes benchmarks/results/emulator.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests  # noqa: E402
from werkzeug.test import Client  # noqa: E402

from provisioner.emulator import Emulator, EmulatorSettings, serve_in_thread  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "emulator.md"
DEALS = "/crm/v3/objects/deals"
HEADERS = {"Authorization": "Bearer bench", "Content-Type": "application/json"}


def _setup(send) -> None:
    send("POST", "/crm/v3/properties/deals/groups", {"name": "accord", "label": "Accord"})
    for name, kind, field in (("accord_status", "string", "text"), ("accord_progress", "number", "number"),
                              ("accord_url", "string", "text")):
        send("POST", "/crm/v3/properties/deals", {"name": name, "label": name, "type": kind, "fieldType": field,
                                                  "groupName": "accord"})
    send("PUT", "/crm/v3/property-validations/0-3/accord_url/rule-type/MAX_LENGTH", {"ruleArguments": ["255"]})


def _seed(send, count: int) -> list[str]:
    ids: list[str] = []
    for start in range(0, count, 100):
        size = min(100, count - start)
        body = {"inputs": [{"properties": {"dealname": f"Deal {start + i}", "accord_status": "On Track",
                                           "accord_progress": str((start + i) % 101)}} for i in range(size)]}
        ids += [r["id"] for r in send("POST", DEALS + "/batch/create", body)["results"]]
    return ids


def _update_body(ids: list[str], round_no: int) -> dict:
    return {"inputs": [{"id": deal, "properties": {"accord_progress": str((round_no + i) % 101),
                                                   "accord_status": "At Risk" if round_no % 2 else "On Track",
                                                   "accord_url": f"https://app.accord.example/a/{deal}"}}
                       for i, deal in enumerate(ids)]}


def _in_process(emulator: Emulator):
    client = Client(emulator.app)

    def send(method, path, body=None):
        response = client.open(path, method=method, data=json.dumps(body) if body is not None else None,
                               headers=HEADERS)
        assert response.status_code < 300, response.get_data(as_text=True)
        return response.get_json(silent=True)

    return send


def _over_loopback(base_url: str):
    session = requests.Session()

    def send(method, path, body=None):
        response = session.request(method, base_url + path, data=json.dumps(body) if body is not None else None,
                                   headers=HEADERS, timeout=30)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    return send


def _time_updates(send, ids: list[str], rounds: int) -> list[float]:
    samples = []
    for round_no in range(rounds):
        chunk = ids[(round_no * 100) % (len(ids) - 100):][:100]
        body = _update_body(chunk, round_no)
        started = time.perf_counter()
        send("POST", DEALS + "/batch/update", body)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def _rss() -> int:
    """Resident set size of this process, in bytes (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _stats(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return f"median {statistics.median(samples):.2f} ms, p95 {p95:.2f} ms, max {max(samples):.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    lines = ["# Emulator benchmark\n", f"`python benchmarks/bench_emulator.py --deals {args.deals} "
             f"--rounds {args.rounds}` on {platform.python_implementation()} {platform.python_version()}, "
             f"{os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}.\n"]

    # 1. Memory and seeding with the whole population, in process, persistence off.
    gc.collect()
    rss_before = _rss()
    emulator = Emulator(EmulatorSettings(burst_limit=None, daily_limit=None))
    send = _in_process(emulator)
    _setup(send)
    started = time.perf_counter()
    ids = _seed(send, args.deals)
    seeded_s = time.perf_counter() - started
    gc.collect()
    held = _rss() - rss_before
    lines.append(f"## {args.deals:,} deals held\n")
    lines.append(f"- seeded through `batch/create` (100 a call, 3 values each) in {seeded_s:.1f} s")
    lines.append(f"- memory held (growth of the process's resident set): {held / 1e6:.0f} MB "
                 f"({held / args.deals:.0f} bytes a deal)")
    started = time.perf_counter()
    page = send("GET", f"{DEALS}?limit=100&after={ids[-150]}&properties=accord_status")
    lines.append(f"- list page deep in the portal: {(time.perf_counter() - started) * 1000:.1f} ms "
                 f"({len(page['results'])} results)\n")

    # 2. Batch update of 100 deals, in process and over loopback, persistence off.
    lines.append("## Batch update of 100 deals (3 values each, validated, MAX_LENGTH rule on one)\n")
    lines.append("| transport | persistence | latency |\n|---|---|---|")
    in_process = _time_updates(send, ids, args.rounds)
    lines.append(f"| in-process WSGI | off | {_stats(in_process)} |")
    with serve_in_thread(emulator) as base_url:
        loopback = _time_updates(_over_loopback(base_url), ids, args.rounds)
    lines.append(f"| HTTP on 127.0.0.1 | off | {_stats(loopback)} |")
    emulator.close()
    del emulator, send
    gc.collect()

    # 3. The same with the SQLite state file (every answer durable before it leaves), 20,000 deals.
    with tempfile.TemporaryDirectory() as tmp:
        state = str(Path(tmp) / "portal.sqlite")
        persistent = Emulator(EmulatorSettings(state_file=state, burst_limit=None, daily_limit=None))
        send = _in_process(persistent)
        _setup(send)
        small = _seed(send, min(args.deals, 20_000))
        durable = _time_updates(send, small, min(args.rounds, 100))
        lines.append(f"| in-process WSGI | SQLite, synchronous=FULL | {_stats(durable)} |")
        persistent.close()
        started = time.perf_counter()
        reopened = Emulator(EmulatorSettings(state_file=state))
        opened_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        count = reopened.deal_count()
        loaded_ms = (time.perf_counter() - started) * 1000
        reopened.close()
        size_mb = os.path.getsize(state) / 1e6
    lines.append("")
    lines.append(f"## State file\n\n- {count:,} deals: {size_mb:.1f} MB on disk; opening it takes {opened_ms:.0f} ms "
                 f"(schema only), loading the deals on first use {loaded_ms:.0f} ms.\n")
    target = "met" if statistics.median(in_process) < 20 and statistics.median(loopback) < 20 else "NOT met"
    lines.append(f"Target (median under 20 ms for a 100-deal batch update, 200,000 deals held): {target}.\n")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
