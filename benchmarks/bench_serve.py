"""`provisioner serve` on loopback: intake rate, event-to-confirmed latency, restores, kill -9 trials.

    python benchmarks/bench_serve.py [--rates 500,1000,2000,3000] [--seconds 3] [--processes 1]
                                     [--trials 20] [--out benchmarks/results/serve.md]

Every process runs on 127.0.0.1; every phase is bounded in count and time. The emulator runs as
its own process with HubSpot's Professional limit (190 requests per 10 s) and posts its app
webhooks to a small relay in this process, which records each one (time, deal, value, source)
and forwards it unchanged to the service's guard (the service is told the relay's URL with
--public-url, so HubSpot's signature still matches).

1. Intake: signed requests of ``--per-request`` events (1: the worst case for the service) at rising rates
   over 32 keep-alive connections, paced open-loop (latency counted from the scheduled send,
   so a slow answer delays the count, not the schedule): accepted events/s, answer p50/p99.
   ``--processes 2`` runs two services on one store (what uvicorn workers would be).
2. Event-to-confirmed at 150 events/s, one per deal for 1,500 deals (below the ceiling of 190 requests per
   10 s), --max-delay 1s: from the send of an event to the emulator's webhook for its value;
   batch-update requests against the minimum ceil(deal updates / 100).
3. Restores: a person's edit in the emulator's UI to the webhook of the restored value.
4. kill -9 trials: events posted at full speed, the service killed at a random instant; every
   event answered 202 must be in the store (its value, or a newer one of the same deal), and
   after a restart the emulator must hold the store's values.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from provisioner.config import load_config  # noqa: E402
from provisioner.hubspot.client import HubSpotClient  # noqa: E402
from tests.sync.portal import prepare_portal, seed_deals  # noqa: E402

KEY = b"bench-webhook-key"
SECRET = "bench-client-secret"
CONNECTIONS = 32


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def signed(msg_id: str, body: bytes, host: str) -> bytes:
    stamp = str(int(time.time()))
    mac = base64.b64encode(hmac.new(KEY, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()).decode()
    head = (f"POST /v1/events HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nwebhook-id: {msg_id}\r\nwebhook-timestamp: {stamp}\r\n"
            f"webhook-signature: v1,{mac}\r\n\r\n")
    return head.encode() + body


def event(deal: str, seq: int) -> dict:
    at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{seq % 1_000_000:06d}Z"
    return {"event": "step_updated", "occurred_at": at, "accord_id": f"acc_{deal}", "deal_id": deal,
            "data": {"PROGRESS": seq % 101, "EXECUTION_SCORE": seq, "STATUS": "On Track"}}


async def _read_answer(reader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await reader.readexactly(length)
    return status


async def _load(ports: list[int], requests_: list[bytes], rate: float, on_answer) -> list[tuple[int, float]]:
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.2
    results: list[tuple[int, float]] = []

    async def connection(index: int) -> None:
        port = ports[index % len(ports)]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for i in range(index, len(requests_), CONNECTIONS):
                due = start + i / rate
                if due > loop.time():
                    await asyncio.sleep(due - loop.time())
                writer.write(requests_[i])
                status = await asyncio.wait_for(_read_answer(reader), 30)
                results.append((status, loop.time() - due))
                on_answer(i, status)
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError):
            pass
        finally:
            writer.close()

    await asyncio.wait_for(asyncio.gather(*(connection(i) for i in range(CONNECTIONS))), 120)
    return results


class Relay(BaseHTTPRequestHandler):
    """Records the emulator's webhooks, then hands them to the service's guard unchanged."""

    seen: list[tuple[float, dict]] = []
    target = ""

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        now = time.monotonic()
        type(self).seen.extend((now, item) for item in json.loads(body))
        headers = {k: v for k, v in self.headers.items() if k.lower().startswith("x-hubspot")}
        try:
            status = requests.post(type(self).target, data=body, headers=headers, timeout=5).status_code
        except requests.RequestException:
            status = 503
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class Bench:
    def __init__(self, workdir: Path) -> None:
        self.dir = workdir
        (workdir / "hubspot_schema.yaml").write_text((ROOT / "hubspot_schema.yaml").read_text())
        self.config = load_config(str(workdir / "hubspot_schema.yaml"))
        self.store = workdir / ".provisioner" / "sync.sqlite"
        self.relay = ThreadingHTTPServer(("127.0.0.1", 0), Relay)
        threading.Thread(target=self.relay.serve_forever, daemon=True).start()
        self.relay_url = f"http://127.0.0.1:{self.relay.server_address[1]}"
        self.procs: list[subprocess.Popen] = []

    def start(self, args: list[str], env: dict | None = None) -> tuple[subprocess.Popen, str]:
        log = open(self.dir / f"p{len(self.procs)}.log", "wb")  # noqa: SIM115
        full_env = {**{k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "PROVISIONER_"))},
                    "PYTHONPATH": str(ROOT), **(env or {})}
        proc = subprocess.Popen([sys.executable, "-m", "provisioner", *args], cwd=self.dir, env=full_env,
                                stdout=subprocess.DEVNULL, stderr=log)
        self.procs.append(proc)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            text = Path(log.name).read_text(errors="replace")
            if "http://" in text:
                first = text.splitlines()[0]
                return proc, first[first.index("http://"):].split()[0]
            time.sleep(0.05)
        raise SystemExit(f"{args[0]} did not start: {Path(log.name).read_text()}")

    def emulator(self, deals: int) -> None:
        _proc, self.emu = self.start(["emulator", "serve", "--port", "0", "--burst-limit", "190", "--webhook-url",
                                      self.relay_url + "/hubspot/webhooks", "--client-secret", SECRET])
        self.client = HubSpotClient(self.emu, "t", tier="unlimited")
        prepare_portal(self.client, self.config)
        self.deals = seed_deals(self.client, deals)

    def serve(self, *extra: str) -> tuple[subprocess.Popen, str]:
        proc, url = self.start(["serve", "--port", "0", "--tier", "professional", "--public-url", self.relay_url,
                                *extra], {"HUBSPOT_BASE_URL": self.emu, "HUBSPOT_ACCESS_TOKEN": "t",
                                          "PROVISIONER_WEBHOOK_SECRET": KEY.decode(),
                                          "HUBSPOT_CLIENT_SECRET": SECRET})
        Relay.target = url + "/hubspot/webhooks"
        return proc, url

    def updates(self) -> int:
        counts = requests.get(self.emu + "/__emulator__/requests", timeout=5).json()
        return counts["requests"]

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(40)
                except subprocess.TimeoutExpired:
                    proc.kill()
        self.relay.shutdown()


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux /proc), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def intake(bench: Bench, rates: list[int], seconds: float, processes: int, per_request: int) -> list[str]:
    started = [bench.serve() for _ in range(processes)]
    urls = [url for _proc, url in started]
    pids = [proc.pid for proc, _url in started]
    ports = [int(url.rsplit(":", 1)[1]) for url in urls]
    rows = []
    seq = 0
    for rate in rates:
        count = int(rate * seconds / per_request)
        reqs = []
        for _ in range(count):
            items = []
            for _ in range(per_request):
                seq += 1
                items.append(event(bench.deals[seq % len(bench.deals)], seq))
            reqs.append(signed(f"in_{seq}", json.dumps(items).encode(), "127.0.0.1"))
        cpu0 = os.times()
        served0 = sum(cpu_seconds(pid) for pid in pids)
        began = time.monotonic()
        results = asyncio.run(_load(ports, reqs, rate / per_request, lambda i, s: None))
        took = time.monotonic() - began - 0.2
        cpu1 = os.times()
        served = sum(cpu_seconds(pid) for pid in pids) - served0
        ok = [lat for status, lat in results if status == 202]
        rows.append(f"| {processes} | {per_request} | {rate} | {len(results)} | {len(ok)} | "
                    f"{len(ok) * per_request / took:,.0f} | "
                    f"{pct(ok, 0.5) * 1000:.1f} | {pct(ok, 0.99) * 1000:.1f} | "
                    f"{sorted({s for s, _ in results if s != 202}) or '-'} | "
                    f"{(cpu1.user - cpu0.user + cpu1.system - cpu0.system) / took:.2f} | "
                    f"{served / max(1, len(results)) * 1e6:,.0f} |")
        print(rows[-1], flush=True)
        time.sleep(2)
    return rows


def latency(bench: Bench, url: str, events: int = 1500, rate: float = 150.0) -> tuple[str, str]:
    deals = bench.deals[:events]  # one event per deal: each value lands once
    sent: dict[tuple[str, str], float] = {}
    before, Relay.seen[:] = bench.updates(), []
    reqs = []
    base = 10_000_000
    for i in range(events):
        seq = base + i
        deal = deals[i % len(deals)]
        reqs.append(signed(f"lat_{seq}", json.dumps([event(deal, seq)]).encode(), "127.0.0.1"))
    start = time.monotonic() + 0.2
    for i in range(events):
        sent[(deals[i % len(deals)], str(base + i))] = start + i / rate
    asyncio.run(_load([int(url.rsplit(":", 1)[1])], reqs, rate, lambda i, s: None))
    deadline = time.monotonic() + 30
    landed: dict[tuple[str, str], float] = {}
    while time.monotonic() < deadline and len(landed) < len(sent):
        for at, item in list(Relay.seen):
            if item.get("propertyName") == "accord_execution_score":
                key = (str(item["objectId"]), item["propertyValue"])
                if key in sent:
                    landed.setdefault(key, at)
        time.sleep(0.2)
    lat = [landed[k] - sent[k] for k in landed]
    writes = bench.updates() - before
    minimum = -(-events // 100)
    return (f"| {rate:.0f}/s | {events} | {len(landed)} | {pct(lat, 0.5):.2f} | {pct(lat, 0.95):.2f} | "
            f"{pct(lat, 0.99):.2f} |", f"{writes} HubSpot requests for {events} deal updates (minimum {minimum})")


def restores(bench: Bench, url: str, trials: int = 20) -> str:
    lat = []
    for i in range(trials):
        deal = bench.deals[1500 + i]
        body = json.dumps([event(deal, 5_000 + i)]).encode()
        requests.post(url + "/v1/events", data=body, headers={
            "webhook-id": f"r{i}", "webhook-timestamp": str(int(time.time())),
            "webhook-signature": "v1," + base64.b64encode(hmac.new(
                KEY, f"r{i}.{int(time.time())}.".encode() + body, hashlib.sha256).digest()).decode()}, timeout=5)
        time.sleep(2.0)  # let the value land
        Relay.seen[:] = []
        edited = time.monotonic()
        requests.patch(f"{bench.emu}/__emulator__/ui/deals/{deal}",
                       json={"properties": {"accord_execution_score": "1"}, "user_id": 5}, timeout=5)
        deadline = edited + 15
        while time.monotonic() < deadline:
            back = [at for at, item in list(Relay.seen) if str(item.get("objectId")) == deal
                    and item.get("changeSource") == "API" and item.get("propertyValue") == str(5_000 + i)]
            if back:
                lat.append(back[0] - edited)
                break
            time.sleep(0.02)
    return f"| {trials} | {len(lat)} | {pct(lat, 0.5):.2f} | {pct(lat, 0.95):.2f} |"


def kill_trials(bench: Bench, trials: int) -> str:
    lost_total, answered_total = 0, 0
    rng = random.Random(7)
    for trial in range(trials):
        proc, url = bench.serve("--max-delay", "0.2")
        answered: dict[str, int] = {}
        reqs, index = [], []
        for i in range(3000):
            seq = 20_000_000 + trial * 10_000 + i
            deal = bench.deals[rng.randrange(len(bench.deals))]
            reqs.append(signed(f"k{seq}", json.dumps([event(deal, seq)]).encode(), "127.0.0.1"))
            index.append((deal, seq))

        def record(i: int, status: int, index=index, answered=answered) -> None:
            if status == 202:
                deal, seq = index[i]
                answered[deal] = max(answered.get(deal, 0), seq)

        killer = threading.Timer(rng.uniform(0.3, 1.2), lambda p=proc: p.send_signal(signal.SIGKILL))
        killer.start()
        asyncio.run(_load([int(url.rsplit(":", 1)[1])], reqs, 3000.0, record))
        proc.wait(10)
        db = sqlite3.connect(bench.store)
        held = dict(db.execute("SELECT deal_id, value FROM desired WHERE property = 'accord_execution_score'"))
        db.close()
        lost = sum(1 for deal, seq in answered.items() if int(held.get(deal, -1)) < seq)
        lost_total += lost
        answered_total += len(answered)
    proc, _url = bench.serve("--max-delay", "0.2")
    db = sqlite3.connect(bench.store)
    want = dict(db.execute("SELECT deal_id, value FROM desired WHERE property = 'accord_execution_score'"))
    db.close()
    ids = sorted(want)
    deadline = time.monotonic() + 60
    while True:
        time.sleep(3)
        held = {}
        for start in range(0, len(ids), 100):
            for record in bench.client.batch_read_deals(ids[start:start + 100], ["accord_execution_score"]).results:
                held[record.id] = record.properties.get("accord_execution_score")
        converged = sum(1 for deal in ids if held.get(deal) == want[deal])
        if converged == len(ids) or time.monotonic() > deadline:
            break
    return (f"| {trials} | {answered_total} deals with a 202'd event | {lost_total} | "
            f"{converged} of {len(ids)} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rates", default="500,1000,2000,3000")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--per-request", type=int, default=1, help="events in each request")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--phases", default="intake,latency,restore,kill")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    phases = set(args.phases.split(","))
    lines = [f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} cores "
             f"(load average before: {os.getloadavg()[0]:.2f})", ""]
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(Path(tmp))
        try:
            bench.emulator(2000)
            if "intake" in phases:
                lines += ["| processes | events a request | offered events/s | requests answered | 202 | "
                          "accepted events/s | p50 ms | p99 ms | other | load generator CPU | service CPU µs a request |",
                          "|---|---|---|---|---|---|---|---|---|---|---|"]
                lines += intake(bench, [int(r) for r in args.rates.split(",")], args.seconds, args.processes,
                                args.per_request)
                for proc in bench.procs[1:]:
                    proc.send_signal(signal.SIGTERM)
                    proc.wait(60)
                time.sleep(11)
            if "latency" in phases or "restore" in phases:
                _proc, url = bench.serve("--max-delay", "1s")
                time.sleep(11)
                if "latency" in phases:
                    row, writes = latency(bench, url)
                    lines += ["", "| load | events | confirmed | p50 s | p95 s | p99 s |", "|---|---|---|---|---|---|",
                              row, "", writes]
                    print(row, writes, flush=True)
                if "restore" in phases:
                    row = restores(bench, url)
                    lines += ["", "| edits | restored | p50 s | p95 s |", "|---|---|---|---|", row]
                    print(row, flush=True)
                _proc.send_signal(signal.SIGTERM)
                _proc.wait(60)
            if "kill" in phases:
                row = kill_trials(bench, args.trials)
                lines += ["", "| kill -9 trials | answered | lost | deals holding the store's value after a restart |",
                          "|---|---|---|---|", row]
                print(row, flush=True)
        finally:
            bench.close()
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "a", encoding="utf-8") as handle:
            handle.write(text + "\n")


if __name__ == "__main__":
    main()
