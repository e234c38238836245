"""Fleet benchmark: P portals on one `emulator serve`, W `provisioner sync worker` processes on PostgreSQL.

    python benchmarks/bench_fleet.py [--portals 4] [--deals 4000] [--workers 1,2,4] [--tier starter]
                                     [--out benchmarks/results/fleet.md]

Everything on 127.0.0.1, bounded in count and time. One ``emulator serve`` process holds P portals
(``POST /__emulator__/portals``), each with its own token and HubSpot's limit for ``--tier``
(starter: 100 requests per 10 s, 429 past it); one PostgreSQL server (tests/pgserver.py), a fresh
database per run, every portal registered with its own token variable (``fleet.registry``). Each
portal holds D deals. Per run: a backlog of one event per deal is accepted into the store, W
worker processes (the real CLI, ``provisioner sync worker``) start, and a stream of newer events
for every deal (plus older stragglers that must lose) is accepted while they work, until nothing
is pending. Printed per run, from the emulator's request log and the store:

- deals confirmed per second (every deal's newest value; from the first batch update's arrival to
  the last one's answer; the processes' start-up before it is shown apart) against the portals'
  summed ceiling (limit / 10 s x 100 deals a request);
- 429s met; write requests (batch updates) against the minimum (ceil(deals / 100) a portal: a
  deal whose newer value arrives after its first was sent needs a second write); order violations
  (a deal not holding its newest value);
- the most workers ever seen on one portal at once: the most batch updates of one portal in
  flight together (arrival to answer, from the request log);
- the emulator's CPU over the run (it must not be the bottleneck), the workers' CPU.

Then W = max with one worker SIGKILLed mid-run (every event must still be confirmed), and one
SQLite process (`provisioner sync push` on a SQLite store, one portal: a SQLite store holds one)
against that portal's ceiling.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.emulator_process import cpu_seconds, emulator_serve  # noqa: E402
from provisioner.config import load_config  # noqa: E402
from provisioner.hubspot.client import HubSpotClient  # noqa: E402
from provisioner.sync.events import Rules  # noqa: E402
from tests.pgserver import PostgresServer  # noqa: E402
from tests.sync.portal import prepare_portal, read_deals, seed_deals  # noqa: E402

TIER_LIMIT = {"starter": 100, "professional": 190, "enterprise": 190, "increase": 250}
FIRST_PORTAL = 880_001
RUN_LIMIT_S = 300.0
BATCH_PATH = "/batch/update"
STREAM_CHUNK = 2_000
EMULATOR_BUSY = 0.5  # the emulator's share of a core above which it could be what limits the rate


def event(deal: str, portal: int | None, at_ms: int, progress: int) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at_ms // 1000)) + f".{at_ms % 1000:03d}Z"
    record = {"event": "step_updated", "occurred_at": stamp, "accord_id": f"acc_{deal}", "deal_id": deal,
              "data": {"PROGRESS": progress, "STATUS": "On Track"}}
    if portal is not None:
        record["portal_id"] = portal
    return json.dumps(record)


def events(deals: dict[int, list[str]], base_ms: int, with_portal: bool = True):
    """(backlog, stream, newest progress per (portal, deal)): the stream is newer, with 1 in 10 stragglers older.

    The portals' events take turns, as events from many portals arrive together in time (fed portal
    after portal, the last portals' newer values would come after their deals were sent).
    """
    backlogs, streams, newest = [], [], {}
    for portal, ids in deals.items():
        tag = portal if with_portal else None
        backlog, stream = [], []
        for n, deal in enumerate(ids):
            backlog.append(event(deal, tag, base_ms + 10, n % 50))
            stream.append(event(deal, tag, base_ms + 30, 50 + n % 50))
            newest[(portal, deal)] = str(50 + n % 50)
            if n % 10 == 0:
                stream.append(event(deal, tag, base_ms + 20, 99))  # older than the newest: must lose
        backlogs.append(backlog)
        streams.append(stream)
    return _in_turn(backlogs), _in_turn(streams), newest


def _in_turn(lists: list[list[str]]) -> list[str]:
    return [item for group in itertools.zip_longest(*lists) for item in group if item is not None]


class Fleet:
    """The emulator with P prepared portals, the config, and where everything lives."""

    def __init__(self, args, workdir: Path, url: str, process) -> None:
        self.args, self.workdir, self.url, self.process = args, workdir, url, process
        self.limit = TIER_LIMIT[args.tier]
        (workdir / "hubspot_schema.yaml").write_text((ROOT / "hubspot_schema.yaml").read_text())
        self.config = load_config(str(workdir / "hubspot_schema.yaml"))
        self.rules = Rules.from_config(self.config)
        self.portals = [FIRST_PORTAL + n for n in range(args.portals)]
        self.deals: dict[int, list[str]] = {}
        for portal in self.portals:
            answer = requests.post(url + "/__emulator__/portals", timeout=10, json={
                "portal_id": portal, "token": self.token(portal), "burst_limit": None, "daily_limit": None})
            answer.raise_for_status()
            client = self.client(portal)
            prepare_portal(client, self.config)
            self.deals[portal] = seed_deals(client, args.deals)

    @staticmethod
    def token(portal: int) -> str:
        return f"fleet-bench-{portal}"

    def client(self, portal: int) -> HubSpotClient:
        return HubSpotClient(self.url, self.token(portal), tier="unlimited")

    def limits(self, burst: int | None) -> None:
        """Every portal's burst limit (None: off), which also starts a fresh window."""
        for portal in self.portals:
            requests.post(f"{self.url}/__emulator__/ratelimit?portal={portal}", timeout=10,
                          json={"burst_limit": burst, "daily_limit": None}).raise_for_status()

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "PROVISIONER_"))}
        env.update({f"FLEET_TOKEN_{p}": self.token(p) for p in self.portals})
        return {**env, "PYTHONPATH": str(ROOT), "HUBSPOT_BASE_URL": self.url, **extra}

    def violations(self, newest: dict[tuple[int, str], str], portals=None) -> int:
        self.limits(None)
        wrong = 0
        for portal in portals or self.portals:
            held = read_deals(self.client(portal), self.deals[portal], ["accord_progress"])
            wrong += sum(1 for deal in self.deals[portal] if held[deal]["accord_progress"] != newest[(portal, deal)])
        return wrong


def log_lines(path: Path, offset: int) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        handle.seek(offset)
        return [json.loads(line) for line in handle if line.strip()]


def most_at_once(lines: list[dict]) -> int:
    """The most batch updates of one portal in flight together (arrival to answer)."""
    best = 0
    by_portal: dict[int, list[tuple[float, int]]] = defaultdict(list)
    for line in lines:
        by_portal[line["portal"]] += [(line["started"], 1), (line["finished"], -1)]
    for marks in by_portal.values():
        level = 0
        for _, step in sorted(marks, key=lambda m: (m[0], m[1])):  # an end before a start at the same instant
            level += step
            best = max(best, level)
    return best


def measure(fleet: Fleet, lines: list[dict], started: float, newest: dict, emulator_cpu: float,
            workers_cpu: float) -> dict:
    """The run's figures from its request-log lines; ``newest`` is every (portal, deal)'s newest value."""
    portals = {portal for portal, _ in newest}
    deals = len(newest)
    batches = [line for line in lines if line["path"].endswith(BATCH_PATH)]
    done = [line for line in batches if line["status"] < 300]
    first = min((line["started"] for line in batches), default=started)
    end = max((line["finished"] for line in done), default=started)
    seconds = max(end - first, 1e-9)
    ceiling = len(portals) * fleet.limit / 10.0 * 100
    per_portal = math.ceil(deals / len(portals) / 100)
    return {"seconds": seconds, "rate": deals / seconds, "ceiling": ceiling,
            "limited": sum(1 for line in lines if line["status"] == 429), "writes": len(batches),
            "minimum": per_portal * len(portals), "startup": first - started, "violations": fleet.violations(newest, sorted(portals)),
            "at_once": most_at_once(batches), "emulator_cpu": emulator_cpu / seconds, "workers_cpu": workers_cpu}


def fleet_run(fleet: Fleet, server: PostgresServer, run: int, workers: int, kill: bool = False) -> dict:
    from provisioner.fleet.location import store_location
    from provisioner.fleet.pgrun import accept_lines
    from provisioner.fleet.pgstore import PgDatabase
    from provisioner.fleet.registry import Portal, open_registry
    from provisioner.sync.report import PushReport

    url = server.create_database(f"fleet_run_{run}")
    with open_registry(store_location(None, url)) as registry:
        for portal in fleet.portals:
            registry.add(Portal(portal, f"bench {portal}", fleet.args.tier, f"FLEET_TOKEN_{portal}", False, None))
    backlog, stream, newest = events(fleet.deals, int(time.time() * 1000) + run * 1000)
    database = PgDatabase(url, max_size=2)
    accept_lines(database, backlog, fleet.rules, fleet.portals[0], PushReport())
    fleet.limits(fleet.limit)
    log = fleet.workdir / "requests.jsonl"
    offset = log.stat().st_size if log.exists() else 0
    env = fleet.env(PROVISIONER_STORE_URL=url)
    emulator_before, started = cpu_seconds(fleet.process.pid), time.time()
    procs = [subprocess.Popen([sys.executable, "-m", "provisioner", "sync", "worker", "--max-delay", "0.2"],
                              cwd=fleet.workdir, env=env, stdout=subprocess.DEVNULL,
                              stderr=open(fleet.workdir / f"worker-{run}-{n}.log", "w"))  # noqa: SIM115
             for n in range(workers)]
    fed = threading.Event()

    def feed() -> None:
        for start in range(0, len(stream), STREAM_CHUNK):
            accept_lines(database, stream[start:start + STREAM_CHUNK], fleet.rules, fleet.portals[0], PushReport())
        fed.set()

    threading.Thread(target=feed, daemon=True).start()
    total = len(newest)
    killed = False
    workers_cpu = 0.0
    try:
        deadline = time.monotonic() + RUN_LIMIT_S
        while time.monotonic() < deadline:
            pending = sum(database.portal(p).count_pending() for p in fleet.portals)
            if fed.is_set() and pending == 0:
                break
            if kill and not killed and fed.is_set() and pending < total // 2:
                workers_cpu += cpu_seconds(procs[0].pid)
                procs[0].send_signal(signal.SIGKILL)  # mid-run: its claim, if any, goes with its transaction
                killed = True
            time.sleep(0.1)
        else:
            raise RuntimeError(f"run {run}: still {pending} deal(s) pending after {RUN_LIMIT_S:.0f} s")
    finally:
        for proc in procs:
            if proc.poll() is None:
                workers_cpu += cpu_seconds(proc.pid)
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        database.close()
    emulator_cpu = cpu_seconds(fleet.process.pid) - emulator_before
    lines = [line for line in log_lines(log, offset) if line["portal"] in fleet.portals]
    result = measure(fleet, lines, started, newest, emulator_cpu, workers_cpu)
    result.update(workers=workers, killed=killed)
    return result


def sqlite_run(fleet: Fleet, run: int) -> dict:
    """One `provisioner sync push` process on a SQLite store, for the first portal (a SQLite store holds one)."""
    portal = fleet.portals[0]
    backlog, stream, newest = events({portal: fleet.deals[portal]}, int(time.time() * 1000) + run * 1000,
                                     with_portal=False)
    source = fleet.workdir / "sqlite-events.jsonl"
    source.write_text("\n".join(backlog + stream) + "\n")
    fleet.limits(fleet.limit)
    log = fleet.workdir / "requests.jsonl"
    offset = log.stat().st_size
    env = fleet.env(HUBSPOT_ACCESS_TOKEN=fleet.token(portal), HUBSPOT_TIER=fleet.args.tier)
    emulator_before, started = cpu_seconds(fleet.process.pid), time.time()
    done = subprocess.run([sys.executable, "-m", "provisioner", "sync", "push", "--source", str(source),
                           "--store", str(fleet.workdir / f"sqlite-{run}.sqlite")],
                          cwd=fleet.workdir, env=env, capture_output=True, text=True, timeout=RUN_LIMIT_S)
    if done.returncode != 0:
        raise RuntimeError(f"sync push on SQLite failed: {done.stderr.strip()[-500:]}")
    emulator_cpu = cpu_seconds(fleet.process.pid) - emulator_before
    lines = [line for line in log_lines(log, offset) if line["portal"] == portal]
    result = measure(fleet, lines, started, newest, emulator_cpu, 0.0)
    result.update(workers=1, killed=False)
    return result


def row(label: str, r: dict) -> str:
    share = r["rate"] / r["ceiling"] * 100
    return (f"| {label} | {r['rate']:,.0f} of {r['ceiling']:,.0f} ({share:.0f}%) | {r['limited']} | "
            f"{r['writes']} / {r['minimum']} | {r['violations']} | {r['at_once']} | "
            f"{r['emulator_cpu'] * 100:.0f}% | {r['workers_cpu']:.1f} s | {r['seconds']:.1f} s | "
            f"{r['startup']:.1f} s |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--portals", type=int, default=4)
    parser.add_argument("--deals", type=int, default=4000, help="deals per portal")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--tier", default="starter", choices=sorted(TIER_LIMIT))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "fleet.md"))
    parser.add_argument("--keep-log", default=None, help="copy the emulator's request log here (for a closer look)")
    args = parser.parse_args()
    try:
        import provisioner.fleet.pgrun  # noqa: F401
        import provisioner.fleet.registry  # noqa: F401
    except ImportError as exc:
        sys.exit(f"bench_fleet needs the PostgreSQL worker and the portal registry ({exc.name} is missing): "
                 "run it on main once they have landed, or on a merge of the pg and portals branches")
    counts = [int(w) for w in args.workers.split(",")]
    rows, results = [], []
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp, PostgresServer() as server:
        workdir = Path(tmp)
        with emulator_serve(ROOT, "--burst-limit", "0", "--daily-limit", "0",
                            "--request-log", str(workdir / "requests.jsonl")) as (process, url):
            fleet = Fleet(args, workdir, url, process)
            for run, workers in enumerate(counts):
                results.append(fleet_run(fleet, server, run, workers))
                rows.append(row(f"PostgreSQL, {workers} worker(s)", results[-1]))
                print(rows[-1], flush=True)
            several = max(2, *counts)  # one killed, at least one left to finish the work
            results.append(fleet_run(fleet, server, len(counts), several, kill=True))
            rows.append(row(f"PostgreSQL, {several} workers, one SIGKILLed mid-run"
                            f"{'' if results[-1]['killed'] else ' (ended before the kill)'}", results[-1]))
            print(rows[-1], flush=True)
            results.append(sqlite_run(fleet, len(counts) + 1))
            rows.append(row("SQLite, one `sync push` process, one portal", results[-1]))
            print(rows[-1], flush=True)
            if args.keep_log:
                shutil.copyfile(workdir / "requests.jsonl", args.keep_log)
    limit = TIER_LIMIT[args.tier]
    busiest = max(r["emulator_cpu"] for r in results)
    verdict = ("so the emulator is not what limits the rate" if busiest < EMULATOR_BUSY
               else "NOTE: busy enough to limit the rate; choose fewer portals or lower limits")
    text = "\n".join([
        "# Fleet benchmark\n",
        f"`python benchmarks/bench_fleet.py --portals {args.portals} --deals {args.deals} --workers {args.workers} "
        f"--tier {args.tier}` on {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} cores (shared), {time.strftime('%Y-%m-%d')}.\n",
        f"{args.portals} portals on one `emulator serve` process, {limit} requests per 10 s each ({args.tier}): a "
        f"ceiling of {limit * 10:,} deals/s a portal, {args.portals * limit * 10:,} summed. {args.deals:,} deals a "
        "portal; per run a backlog of one event a deal, then a stream of a newer event a deal plus an older "
        "straggler for one deal in ten, accepted while the workers run. The emulator column is its process's CPU "
        f"over the run as a share of one core: at most {busiest * 100:.0f}%, {verdict}.\n",
        "| run | deals confirmed/s of the ceiling | 429s | write requests / minimum | order violations | "
        "most workers on one portal at once | emulator CPU | workers' CPU | sending | start-up |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *rows, ""])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
