"""Emulator benchmark: a 100-deal batch update in-process and over loopback, and 200,000 deals held.

Run on demand (not a test): ``python benchmarks/bench_emulator.py [--deals 200000] [--rounds 200]
[--baseline REF] [--http-rounds 300] [--portals 4]``. Writes benchmarks/results/emulator.md.

The last part runs ``emulator serve`` as its own process, from this tree and from git revision
``--baseline`` (default: the last single-portal emulator), side by side: the server process's CPU
per 100-deal batch update over HTTP (from /proc), the rate one client and ``--portals`` clients at
once reach, and the server's peak RSS. The old emulator has one portal, so its clients share it.
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
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests  # noqa: E402
from werkzeug.test import Client  # noqa: E402

from benchmarks.emulator_process import cpu_seconds, emulator_serve, rss_bytes, source_tree  # noqa: E402
from provisioner.emulator import Emulator, EmulatorSettings, serve_in_thread  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "emulator.md"
DEALS = "/crm/v3/objects/deals"
HEADERS = {"Authorization": "Bearer bench", "Content-Type": "application/json"}
SINGLE_PORTAL = "712853a"  # the last emulator with one portal under one lock


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


def _over_loopback(base_url: str, token: str = "bench"):
    session = requests.Session()
    headers = {**HEADERS, "Authorization": f"Bearer {token}"}

    def send(method, path, body=None):
        response = session.request(method, base_url + path, data=json.dumps(body) if body is not None else None,
                                   headers=headers, timeout=30)
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


def _server_run(tree: Path, clients: int, rounds: int, portals: bool) -> dict:
    """``clients`` threads each sending ``rounds`` batch updates to one ``emulator serve`` (own portals or one)."""
    with emulator_serve(tree, "--burst-limit", "0", "--daily-limit", "0") as (process, url):
        tokens = ["bench"] + [f"bench-{n}" for n in range(1, clients)]
        if portals:
            for n in range(1, clients):
                added = requests.post(url + "/__emulator__/portals", json={"portal_id": 1000 + n, "token": tokens[n],
                                                                           "burst_limit": None, "daily_limit": None},
                                      timeout=10)
                assert added.status_code == 201, added.text
        else:
            tokens = ["bench"] * clients
        ids: list[list[str]] = []
        for n, token in enumerate(tokens):
            send = _over_loopback(url, token)
            if n == 0 or portals:
                _setup(send)
            ids.append(_seed(send, 2_000))
        latencies: list[list[float]] = [[] for _ in tokens]

        def client(n: int) -> None:
            latencies[n] = _time_updates(_over_loopback(url, tokens[n]), ids[n], rounds)

        threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
        cpu_before, started = cpu_seconds(process.pid), time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)
        wall, cpu = time.perf_counter() - started, cpu_seconds(process.pid) - cpu_before
        updates = clients * rounds
        return {"rate": updates / wall, "cpu_ms": cpu * 1000 / updates, "rss": rss_bytes(process.pid),
                "median": statistics.median([x for row in latencies for x in row])}


def _server_section(args) -> list[str]:
    lines = ["## `emulator serve` as its own process: server CPU per 100-deal batch update over HTTP\n",
             f"Old: git revision `{args.baseline}` (one portal, one lock); new: this tree. Each client sends "
             f"{args.http_rounds} batch updates of 100 deals (3 values each) in turn over a keep-alive session; the "
             "clients run in the benchmark's process on the same cores. CPU is the server process's (user + system, "
             "/proc), divided by the updates.\n",
             "| emulator | clients | portals | batch updates/s | server CPU per update | median latency | server peak RSS |",
             "|---|---|---|---|---|---|---|"]
    runs = [("old", args.baseline, 1, False), ("new", None, 1, False),
            ("old", args.baseline, args.portals, False), ("new", None, args.portals, True)]
    for label, ref, clients, portals in runs:
        with source_tree(ref) as tree:
            result = _server_run(tree, clients, args.http_rounds, portals)
        lines.append(f"| {label} | {clients} | {clients if portals else 1} | {result['rate']:.0f} | "
                     f"{result['cpu_ms']:.2f} ms | {result['median']:.1f} ms | {result['rss'] / 1e6:.0f} MB |")
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--baseline", default=SINGLE_PORTAL, help="git revision of the old emulator")
    parser.add_argument("--http-rounds", type=int, default=300)
    parser.add_argument("--portals", type=int, default=4)
    parser.add_argument("--server-only", action="store_true", help="only the emulator-process comparison")
    args = parser.parse_args()
    if args.server_only:
        lines = ["# Emulator benchmark (server process only)\n",
                 f"`python benchmarks/bench_emulator.py --server-only --http-rounds {args.http_rounds} --portals "
                 f"{args.portals} --baseline {args.baseline}` on {platform.python_implementation()} "
                 f"{platform.python_version()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}.\n",
                 *_server_section(args)]
        print("\n".join(lines))
        out = RESULTS.with_name("emulator_server.md")
        out.write_text("\n".join(lines))
        return
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
    lines += _server_section(args)
    target = "met" if statistics.median(in_process) < 20 and statistics.median(loopback) < 20 else "NOT met"
    lines.append(f"Target (median under 20 ms for a 100-deal batch update, 200,000 deals held): {target}.\n")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
