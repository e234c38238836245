"""What pacing costs and saves: the client's limiter, burst (before) and paced (now), against a portal
that enforces HubSpot's per-second limit as a live private app announced it (10 a second beside
100 per 10 s), and against one that enforces only the 10-second window.

Each variant runs as its own process (wall, CPU and peak RSS are the whole process's) sending the
same N requests (GET account details) to the emulator on 127.0.0.1, wrapped in a small WSGI layer that
announces X-HubSpot-RateLimit-Secondly and answers 429 past it when told to.

    python benchmarks/bench_client.py [--requests 300] [--out benchmarks/results/client.md]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from provisioner.emulator import Emulator, EmulatorSettings  # noqa: E402
from provisioner.hubspot.client import HubSpotClient  # noqa: E402
from provisioner.hubspot.limiter import RateLimiter  # noqa: E402

PER_SECOND = 10
TIMEOUT_S = 900


class PerSecond:
    """Announces the per-second figure on every answer; with ``enforce``, answers 429 past it."""

    def __init__(self, app, enforce: bool) -> None:
        self.app, self.enforce = app, enforce
        self.seen: deque[float] = deque()
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            now = time.monotonic()
            while self.seen and now - self.seen[0] >= 1.0:
                self.seen.popleft()
            over = self.enforce and len(self.seen) >= PER_SECOND
            self.seen.append(now)
            left = max(0, PER_SECOND - len(self.seen))
        extra = [("X-HubSpot-RateLimit-Secondly", str(PER_SECOND)), ("X-HubSpot-RateLimit-Secondly-Remaining", str(left))]
        if over:
            body = json.dumps({"status": "error", "message": "You have reached your secondly limit.",
                               "errorType": "RATE_LIMIT", "correlationId": "bench", "policyName": "SECONDLY"})
            start_response("429 Too Many Requests", [("Content-Type", "application/json"), *extra])
            return [body.encode()]

        def start(status, headers, exc_info=None):
            return start_response(status, [*headers, *extra], exc_info)

        return self.app(environ, start)


class Burst(RateLimiter):
    """The limiter as it was: a whole window's worth at once, no per-second figure."""

    @property
    def interval_s(self) -> float:
        return 0.0

    def _free_at(self, limit, span):
        return super()._free_at(limit, span) if span != 1.0 else float("-inf")


def child(variant: str, requests: int, enforce: bool) -> None:
    from werkzeug.serving import make_server

    emulator = Emulator(EmulatorSettings(burst_limit=100, daily_limit=None))
    server = make_server("127.0.0.1", 0, PerSecond(emulator.app, enforce), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = HubSpotClient(f"http://127.0.0.1:{server.server_port}", "bench", max_retries=20)
    if variant == "burst":
        client.transport.limiter = Burst(100, clock=time.monotonic, sleep=client.transport.pause)
    for _ in range(requests):
        client.get_account_details()
    server.shutdown()
    stats = client.stats
    print(json.dumps({"requests": stats.requests, "rate_limited": stats.rate_limited, "retries": stats.retries}))


def run(variant: str, requests: int, enforce: bool) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--child", variant, "--requests", str(requests),
                           *(["--enforce"] if enforce else [])], capture_output=True, text=True, timeout=TIMEOUT_S)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise SystemExit(done.stderr)
    result = json.loads(done.stdout.splitlines()[-1])
    result.update(variant=variant, enforce=enforce, wall_s=wall,
                  cpu_s=(after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
                  rss_mb=after.ru_maxrss / 1024)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "client.md"))
    parser.add_argument("--child", choices=("burst", "paced"))
    parser.add_argument("--enforce", action="store_true")
    options = parser.parse_args()
    if options.child:
        child(options.child, options.requests, options.enforce)
        return
    rows = [run(variant, options.requests, enforce) for enforce in (True, False) for variant in ("burst", "paced")]
    lines = [
        "# Client pacing", "",
        f"`python benchmarks/bench_client.py --requests {options.requests}` (emulator on 127.0.0.1, 100 per 10 s; "
        f"{PER_SECOND} a second announced on every answer; each variant its own process)", "",
        "| limiter | per-second limit enforced | requests sent | 429s | wall s | CPU s | peak RSS MB (largest child) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(f"| {row['variant']} | {'yes' if row['enforce'] else 'no'} | {row['requests']} | "
                     f"{row['rate_limited']} | {row['wall_s']:.1f} | {row['cpu_s']:.2f} | {row['rss_mb']:.0f} |")
    text = "\n".join(lines) + "\n"
    Path(options.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
