"""Soak: `sync push` killed with SIGKILL at random moments, under faults and lag, must still end exactly right.

    python benchmarks/soak_sync.py [--trials 20] [--deals 600] [--events 4000] [--seed 1]
                                   [--out benchmarks/results/soak_sync.md]

Each seeded trial: an emulator on 127.0.0.1 with faults on the batch updates (429, 5xx, dropped
connections, and answers lost after the write landed) and read-after-write lag; DEALS deals fed by
two Accords each; EVENTS random events (random fields, explicit nulls, instants that tie and
offsets that name the same instant) in random order, cut into 1 to 3 runs. Each run is started as
`python -m provisioner sync push` and killed with SIGKILL after a random delay (if it is still
running), then run again until it exits 0. At the end HubSpot's values (the emulator's memory) and
the store are compared with the oracle: per (deal, property) the value of the greatest stamp
(instant, accord, value, event) among the events that carried it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_sync import prepare, seed_deals, write_config  # noqa: E402
from provisioner.config import load_config  # noqa: E402
from provisioner.emulator import Emulator, EmulatorSettings, serve_in_thread  # noqa: E402
from provisioner.sync.events import Rules, Snapshot, parse_line  # noqa: E402
from provisioner.sync.store import SyncStore  # noqa: E402

FIELDS = {"STATUS": ["On Track", "At Risk", "Stalled", None], "PROGRESS": [0, 10, 50, 99, None],
          "STAGE_NAME": ["Discovery", "Close", None], "CUSTOMER_INVITED_COUNT": [1, 2, 3]}
TIMES = ["2026-11-27T00:10:00Z", "2026-11-27T00:50:00Z", "2026-11-27T01:40:00+01:00", "2026-11-27T00:40:00Z",
         "2026-11-27T02:00:00Z", "0999-06-01T00:00:00Z"]
RUN_DEADLINE_S = 120


def oracle(lines: list[str], rules: Rules) -> dict[tuple[str, str], str]:
    best: dict[tuple[str, str], tuple] = {}
    for n, text in enumerate(lines):
        snap = parse_line(n, text, rules)
        assert isinstance(snap, Snapshot), text
        for prop, value in snap.values.items():
            stamp = (snap.occurred_at, snap.accord_id, value, snap.event)
            best[(snap.deal_id, prop)] = max(best.get((snap.deal_id, prop), stamp), stamp)
    return {key: stamp[2] for key, stamp in best.items()}


def make_events(rng: random.Random, deal_ids: list[str], count: int) -> list[str]:
    lines = []
    for _ in range(count):
        deal = rng.choice(deal_ids)
        data = {name: rng.choice(values) for name, values in FIELDS.items() if rng.random() < 0.6}
        lines.append(json.dumps({"event": rng.choice(["step_updated", "stage_created"]),
                                 "occurred_at": rng.choice(TIMES), "accord_id": f"acc_{deal}_{rng.choice('ab')}",
                                 "deal_id": deal, "data": data}))
    return lines


def push(config: Path, source: Path, url: str, kill_after: float | None) -> tuple[int | None, bool]:
    """(exit code, killed) of one push; killed when still running after ``kill_after`` seconds."""
    env = dict(os.environ, HUBSPOT_ACCESS_TOKEN="soak", HUBSPOT_BASE_URL=url, HUBSPOT_API_VERSION="2026-03")
    proc = subprocess.Popen([sys.executable, "-m", "provisioner", "sync", "push", "-f", str(config), "--source",
                             str(source), "--tier", "unlimited", "--format", "json"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=str(config.parent))
    try:
        proc.wait(timeout=kill_after if kill_after is not None else RUN_DEADLINE_S)
        return proc.returncode, False
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return None, kill_after is not None


def trial(seed: int, args, tmp: Path, rules: Rules) -> dict:
    rng = random.Random(seed)
    emulator = Emulator(EmulatorSettings(
        burst_limit=None, daily_limit=None, seed=seed, fault_rate=0.15, fault_path="/batch/update",
        fault_kinds=("429", "500", "502", "503", "drop", "drop-after", "slow"), slow_s=0.3,
        lag_min_s=0.0, lag_max_s=0.2))
    prepare(emulator)
    directory = tmp / f"trial-{seed}"
    directory.mkdir()
    config = write_config(directory, ROOT)
    ids = seed_deals(emulator, args.deals)
    lines = make_events(rng, ids, args.events)
    cuts = sorted(rng.sample(range(1, len(lines)), rng.randint(0, 2)))
    runs = [lines[a:b] for a, b in zip([0, *cuts], [*cuts, len(lines)], strict=True)]
    counts = {"runs": len(runs), "kills": 0, "reruns": 0}
    with serve_in_thread(emulator, host="127.0.0.1", port=0) as url:
        for number, run in enumerate(runs):
            source = directory / f"run-{number}.jsonl"
            source.write_text("\n".join(run) + "\n")
            _, killed = push(config, source, url, rng.uniform(0.3, 2.5))
            counts["kills"] += killed
            for _ in range(10):
                code, _ = push(config, source, url, None)
                counts["reruns"] += 1
                if code == 0:
                    break
            else:
                raise SystemExit(f"trial {seed}: run {number} never finished cleanly")
    expected = oracle(lines, rules)
    live = {(d, p): (emulator.portal.deals[d].props.get(p) or "") for d in ids for p in rules.properties}
    wrong_hubspot = sum(1 for key, value in live.items() if value != expected.get(key, ""))
    with SyncStore(directory / "sync.sqlite") as store:
        dump = store.dump()
        pending = store.count_pending()
    wrong_store = sum(1 for deal, prop, value, _, _, _, confirmed, parked in dump
                      if value != expected.get((deal, prop)) or confirmed != value or parked)
    wrong_store += abs(len(dump) - len(expected))
    return {**counts, "values": len(expected), "wrong_hubspot": wrong_hubspot, "wrong_store": wrong_store,
            "pending": pending}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--deals", type=int, default=600)
    parser.add_argument("--events", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "soak_sync.md"))
    args = parser.parse_args()
    rules = Rules.from_config(load_config(str(ROOT / "hubspot_schema.yaml")))
    started = time.monotonic()
    results = []
    with tempfile.TemporaryDirectory(prefix="soak-sync-") as tmp:
        for number in range(args.trials):
            result = trial(args.seed + number, args, Path(tmp), rules)
            results.append(result)
            print(f"trial {args.seed + number}: {result}", flush=True)
    total = {key: sum(r[key] or 0 for r in results) for key in results[0]}
    rows = "\n".join(
        f"| {args.seed + i} | {r['runs']} | {r['kills']} | {r['reruns']} | {r['values']} | {r['wrong_hubspot']} "
        f"| {r['wrong_store']} | {r['pending']} |" for i, r in enumerate(results))
    document = (
        "# Value sync soak: kill -9 under faults and lag\n\n"
        f"`{' '.join(['python', 'benchmarks/soak_sync.py', *sys.argv[1:]])}`, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {time.monotonic() - started:.0f} s. "
        f"{args.deals} deals fed by two Accords each, {args.events} events a trial cut into 1 to 3 runs; "
        "each run killed with SIGKILL after 0.3 to 2.5 s if still running, then rerun until it exits 0. "
        "Faults on 15% of the batch updates (429, 500, 502, 503, dropped connection, answer lost after the "
        "write landed, slow), read-after-write lag up to 0.2 s.\n\n"
        "| seed | runs | killed | reruns | values | wrong in HubSpot | wrong in the store | pending |\n"
        "|---|---|---|---|---|---|---|---|\n" + rows + "\n"
        f"| total | {total['runs']} | {total['kills']} | {total['reruns']} | {total['values']} "
        f"| {total['wrong_hubspot']} | {total['wrong_store']} | {total['pending']} |\n"
    )
    print(document)
    Path(args.out).write_text(document)
    if total["wrong_hubspot"] or total["wrong_store"] or total["pending"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
