"""Workers on PostgreSQL: deals confirmed per second by 1, 2 and 4 worker processes (loopback, bounded).

P portals, each its own `provisioner emulator serve` process on 127.0.0.1 with its own rate limit
(``--per-window`` requests per 10 s, 429 past it); one PostgreSQL server (tests/pgserver.py); the
events (one per deal, D deals a portal) accepted into the store first; then W worker processes
run the claim loop (``fleet.pgqueue.ClaimQueue``, the code `sync worker` runs) until nothing is
pending. Until the emulator holds many portals behind one address, each worker process reaches
portal N at its own URL through the ``client_for`` it is given (`sync worker` takes its clients
from the portal registry).

Printed per W: wall seconds of the drain, deals confirmed per second against the portals' summed
ceiling (per_window / 10 s x 100 deals a request; with --per-window 0 there is none, and the
figure shows what the workers themselves drain on this machine), 429s met, write requests against the minimum,
order violations (a deal not holding its newest value), the most workers ever seen writing to one
portal at once (from each step's span between its request leaving and its answer arriving, on
the machine's monotonic clock, which all processes share), the workers' CPU seconds, and how fast
the events were accepted into the store beforehand (one process, one transaction per portal).

    python benchmarks/bench_workers.py [--portals 6] [--deals 1500] [--per-window 100] [--workers 1,2,4]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from provisioner.fleet.pgqueue import ClaimQueue, drain  # noqa: E402
from provisioner.fleet.pgstore import PgDatabase  # noqa: E402
from provisioner.hubspot.client import HubSpotClient  # noqa: E402
from provisioner.sync.engine import accept  # noqa: E402
from provisioner.sync.events import Rules, Snapshot  # noqa: E402
from tests.pgserver import PostgresServer  # noqa: E402
from tests.sync.conftest import make_config  # noqa: E402
from tests.sync.portal import prepare_portal, read_deals, seed_deals  # noqa: E402

TOKEN = "bench-token"
RULES = Rules.from_config(make_config())
DRAIN_LIMIT_S = 300.0


def start_emulator(portal_id: int) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "provisioner", "emulator", "serve", "--port", "0", "--portal-id",
                             str(portal_id), "--burst-limit", "0", "--daily-limit", "0"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()
    if "http://" not in line:
        raise RuntimeError(f"the emulator did not start: {line}")
    return proc, line[line.index("http://"):].split()[0]


def worker_main(url: str, urls: dict[int, str], out) -> None:
    database = PgDatabase(url, max_size=1)
    queue = ClaimQueue(database, RULES, lambda portal: HubSpotClient(urls[portal], TOKEN, tier="unlimited",
                                                                     max_retries=1, deadline_s=None))
    steps = drain(queue, deadline=time.monotonic() + DRAIN_LIMIT_S, idle_s=0.01)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out.put(([(s.portal_id, *s.writing, s.requests) for s in steps],
             usage.ru_utime + usage.ru_stime, usage.ru_maxrss))
    database.close()


def most_at_once(spans: list[tuple[int, float, float, int]]) -> int:
    worst = 0
    by_portal: dict[int, list[tuple[float, int]]] = {}
    for portal, start, end, _requests in spans:
        by_portal.setdefault(portal, []).extend([(start, 1), (end, -1)])
    for marks in by_portal.values():
        level = 0
        for _at, change in sorted(marks, key=lambda m: (m[0], m[1])):
            level += change
            worst = max(worst, level)
    return worst


def run(args) -> None:
    server = PostgresServer().start()
    emulators = {}
    try:
        portals = [201 + n for n in range(args.portals)]
        deals: dict[int, list[str]] = {}
        for portal in portals:
            proc, url = start_emulator(portal)
            emulators[portal] = (proc, url)
            client = HubSpotClient(url, TOKEN, tier="unlimited")
            prepare_portal(client, make_config())
            deals[portal] = seed_deals(client, args.deals)
            requests.post(url + "/__emulator__/ratelimit", json={"burst_limit": args.per_window or None}, timeout=10)
        urls = {portal: url for portal, (_proc, url) in emulators.items()}
        ceiling = len(portals) * args.per_window / 10.0 * 100 or float("inf")  # 0: no limit
        total = len(portals) * args.deals
        minimum = sum(-(-args.deals // 100) for _ in portals)
        limit = (f"each portal {args.per_window} requests / 10 s (ceiling {ceiling:.0f} deals/s summed)"
                 if args.per_window else "no rate limit (no ceiling: the workers' own rate)")
        print(f"{len(portals)} portals x {args.deals} deals = {total} events; {limit}; PostgreSQL {server.bindir};"
              f" {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
        print("| workers | wall s | deals/s | of ceiling | 429s | requests (min) | order violations "
              "| most workers on one portal | worker CPU s | peak RSS MB | accept (events/s) |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for workers in args.workers:
            # Each round starts on a new database (a full bucket): first let HubSpot's window forget the
            # previous round's requests (and the seeding's), as a portal's row would remember them.
            time.sleep(10.5)
            url = server.create_database(f"bench_{workers}_{int(time.time())}")
            status = f"round{workers}"
            with PgDatabase(url) as database:
                accepting = time.monotonic()
                for portal in portals:
                    database.portal(portal, per_window=args.per_window or None)
                    accept(database.portal(portal), [Snapshot(1, "step_updated", workers, "acc", deal,
                                                              {"accord_status": f"{status} {deal}"})
                                                     for deal in deals[portal]])
                accepted_s = time.monotonic() - accepting
            before = {p: requests.get(u + "/__emulator__/requests", timeout=10).json() for p, u in urls.items()}
            out = multiprocessing.Queue()
            started = time.monotonic()
            procs = [multiprocessing.Process(target=worker_main, args=(url, urls, out)) for _ in range(workers)]
            for proc in procs:
                proc.start()
            results = [out.get(timeout=DRAIN_LIMIT_S + 30) for _ in procs]
            wall = time.monotonic() - started
            for proc in procs:
                proc.join(30)
            after = {p: requests.get(u + "/__emulator__/requests", timeout=10).json() for p, u in urls.items()}
            limited = sum(after[p]["by_status"].get("429", 0) - before[p]["by_status"].get("429", 0) for p in urls)
            spans = [span for steps, _cpu, _rss in results for span in steps]
            sent = sum(span[3] for span in spans)
            violations = 0
            for portal, url_ in urls.items():
                held = read_deals(HubSpotClient(url_, TOKEN, tier="unlimited"), deals[portal], ["accord_status"])
                violations += sum(1 for deal, values in held.items()
                                  if values["accord_status"] != f"{status} {deal}")
            with PgDatabase(url) as database:
                left = sum(database.portal(p).count_pending() for p in portals)
            cpu = sum(c for _s, c, _r in results)
            rss = max(r for _s, _c, r in results) / 1024
            share = f"{total / wall / ceiling:.0%}" if args.per_window else "-"
            print(f"| {workers} | {wall:.1f} | {total / wall:.0f} | {share} | {limited} "
                  f"| {sent} ({minimum}) | {violations}{f' ({left} left pending)' if left else ''} "
                  f"| {most_at_once(spans)} | {cpu:.1f} | {rss:.0f} | {total / accepted_s:.0f} |")
    finally:
        for proc, _url in emulators.values():
            proc.terminate()
            proc.wait(10)
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--portals", type=int, default=6)
    parser.add_argument("--deals", type=int, default=1500)
    parser.add_argument("--per-window", type=int, default=100, help="requests per 10 s a portal (0: no limit)")
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args()
    args.workers = [int(w) for w in args.workers.split(",")]
    run(args)


if __name__ == "__main__":
    main()
