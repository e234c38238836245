"""Value-sync benchmark: the whole `sync push` process, this code and an older one side by side.

    python benchmarks/bench_sync.py [--rows rate,small,big] [--old /work/wt/old-sync] [--old-schema 2]
                                    [--big-deals 1000000] [--big-events 2000000] [--old-big]
                                    [--profile DIR] [--steps] [--out benchmarks/results/sync.md]

Every push runs as `python -m provisioner sync push` in a child process, measured from its start to
its exit by a small intermediate process (wall clock, CPU = user + system, peak RSS by wait4 of
that child alone). The emulator runs in this process and is served on 127.0.0.1. The older code
runs from a worktree of it (``--old``, e.g. `git worktree add /work/wt/old-sync bcf7a3c`) through
PYTHONPATH, against its own copy of the same portal and its own store.

Rows:
- rate: the emulator at HubSpot's Professional limit (190 requests per 10 s), a first push of one
  snapshot per deal for 20,000 deals: deals per second against the 1,900 ceiling, 429s met.
- small: limit off, 20,000 deals: a first push (every value new), then 100,000 events of which
  25% of the deals end changed, then the same events again.
- big: limit off, 1,000,000 deals already synced, then 2,000,000 events (25% of the deals end
  changed), then a push of 1,000 events that change nothing. The synced state is seeded directly
  (documented and honest): the emulator's deals are created in its memory with the baseline
  values, and the store is written with SQL as a push of those baseline events leaves it (values
  parsed by the tool's own parser; each value confirmed). The older code's store gets its own
  schema's rows the same way (``--old-schema``: 2, one row per deal and property, 1 for code
  older than that, or 3 for code that packs a deal's registers in one row, as this code does).
  ``--old-big`` also runs the older code's 2M-event push (minutes).
``--profile DIR`` runs each push under cProfile (stats in DIR; its figures are then not comparable).
``--steps`` runs each push through ``sync_steps.py`` (the push's main thread's CPU time per step:
reading and checking, the store, the collector, sending), written beside each row; it takes the
place of ``--profile``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from provisioner.config import load_config  # noqa: E402
from provisioner.emulator import Emulator, EmulatorSettings, serve_in_thread  # noqa: E402
from provisioner.emulator.state import Deal  # noqa: E402
from provisioner.hubspot.client import HubSpotClient  # noqa: E402
from provisioner.sync.events import Rules, parse_line  # noqa: E402
from provisioner.sync.instant import format_instant  # noqa: E402
from provisioner.sync.migrate import V2_REGISTERS  # noqa: E402
from provisioner.sync.packed import PropertyIds, pack  # noqa: E402
from provisioner.sync.store import SyncStore  # noqa: E402

STATUSES = ["Not Started", "On Track", "At Risk", "Stalled"]
STAGES = ["Discovery", "Evaluation", "Proposal", "Negotiation", "Closing"]
CEILING = 1900.0
PROFILE_DIR: Path | None = None
STEPS = False
T0 = 1_790_000_000  # seconds: the baseline events' time; later events are minutes after it

# Runs argv[3:] and writes "exit code, wall seconds, CPU seconds, peak RSS in KiB" of it to argv[1].
_MEASURE = (
    "import os, subprocess, sys, time\n"
    "started = time.monotonic()\n"
    "proc = subprocess.Popen(sys.argv[3:], cwd=sys.argv[2])\n"
    "_, status, usage = os.wait4(proc.pid, 0)\n"
    "wall = time.monotonic() - started\n"
    "with open(sys.argv[1], 'w') as f:\n"
    "    f.write(f'{os.waitstatus_to_exitcode(status)} {wall} {usage.ru_utime + usage.ru_stime} {usage.ru_maxrss}')\n"
)


def snapshot(rng: random.Random, deal_id: str) -> dict:
    invited = rng.randint(1, 20)
    return {"URL": f"https://app.accord.example/a/{deal_id}", "STATUS": rng.choice(STATUSES),
            "STAGE_NAME": rng.choice(STAGES), "CUSTOMER_INVITED_COUNT": invited,
            "CUSTOMER_ACCEPTED_COUNT": rng.randint(0, invited), "PROGRESS": rng.randint(0, 100),
            "EXECUTION_SCORE": round(rng.uniform(0, 100), 1)}


def line(deal_id: str, minute: int, data: dict) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(T0 + minute * 60))
    return json.dumps({"event": "step_updated", "occurred_at": stamp, "accord_id": f"acc_{deal_id}",
                       "deal_id": deal_id, "data": data})


def write_measured(path: Path, deal_ids: list[str], base: dict[str, dict], events: int, share: float,
                   rng: random.Random) -> int:
    """EVENTS events spread over the deals (shuffled); the last of each deal's is its end state."""
    changed = set(rng.sample(deal_ids, round(len(deal_ids) * share)))
    per_deal = max(1, events // len(deal_ids))
    order = [(d, k) for d in deal_ids for k in range(1, per_deal + 1)]
    rng.shuffle(order)
    with open(path, "w") as out:
        for d, k in order:
            if k == per_deal:
                data = dict(base[d])
                if d in changed:
                    data["PROGRESS"] = (data["PROGRESS"] + 1) % 101
                    data["EXECUTION_SCORE"] = round(data["EXECUTION_SCORE"] + 0.5, 1)
            else:
                data = snapshot(rng, d)
            out.write(line(d, k, data) + "\n")
    return len(changed)


def write_config(directory: Path, root: Path) -> Path:
    text = (root / "hubspot_schema.yaml").read_text()
    text = text.replace("store: .provisioner/sync.sqlite", f"store: {directory / 'sync.sqlite'}")
    path = directory / "hubspot_schema.yaml"
    path.write_text(text)
    return path


def run_push(config: Path, source: Path, base_url: str, tier: str, old: Path | None) -> dict:
    """One push as a child process: its JSON report plus wall, cpu, rss_mb."""
    env = dict(os.environ, HUBSPOT_ACCESS_TOKEN="bench", HUBSPOT_BASE_URL=base_url, HUBSPOT_API_VERSION="2026-03")
    if old is not None:
        env["PYTHONPATH"] = str(old)
    usage, out_path, err_path = (source.with_suffix(s) for s in (".usage", ".out", ".err"))
    command = ["-m", "provisioner"]
    if PROFILE_DIR is not None:  # --profile: the push under cProfile (its figures are then not comparable)
        command = ["-m", "cProfile", "-o", str(PROFILE_DIR / f"{config.parent.name}-{source.stem}.prof"), *command]
    steps_path = source.with_suffix(".steps")
    if STEPS:  # --steps: the push through sync_steps.py, which writes each step's CPU time
        command = [str(ROOT / "benchmarks" / "sync_steps.py"), str(steps_path)]
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        subprocess.run([sys.executable, "-c", _MEASURE, str(usage), str(config.parent), sys.executable, *command,
                        "sync", "push", "-f", str(config), "--source", str(source), "--tier", tier,
                        "--format", "json"], stdout=out, stderr=err, env=env, check=False)
    code, wall, cpu, rss = usage.read_text().split()
    if int(code) not in (0, 1):
        raise SystemExit(f"push failed ({code}): {err_path.read_text()[-2000:]}")
    report = json.loads(out_path.read_text())
    report.update(wall=float(wall), cpu=float(cpu), rss_mb=int(rss) / 1024.0, code=int(code))
    if STEPS:
        report["steps"] = json.loads(steps_path.read_text())
    return report


def steps_note(steps: dict) -> str:
    """CPU seconds per step of a push (``--steps``): reading and checking is what accepting spent
    outside the store and the collector."""
    get = lambda name: steps.get(name, 0.0)  # noqa: E731
    read = get("accept (all)") - get("accept (store)") - get("collector")
    return (f"CPU s: read+check {read:.1f}, store {get('accept (store)'):.1f}, collector {get('collector'):.1f}, "
            f"send {get('send (all)'):.1f} (pending values {get('send: pending values'):.1f}, "
            f"HTTP {get('send: HTTP'):.1f}, answers recorded {get('send: record answers'):.1f})")


def prepare(emulator: Emulator) -> None:
    """The group and the seven properties of the shipped file, created through the API (as apply does)."""
    from provisioner.apply import apply_plan
    from provisioner.planning import make_plan

    client = HubSpotClient("http://emulator.bench", "bench", tier="unlimited", wsgi_app=emulator.app)
    apply_plan(client, make_plan(client, load_config(str(ROOT / "hubspot_schema.yaml")))[0])


def seed_deals(emulator: Emulator, count: int, base: dict[str, dict] | None = None,
               rules: Rules | None = None) -> list[str]:
    """COUNT deals straight into the emulator's memory (with the baseline's values, if given)."""
    portal = emulator.portal
    now = int(time.time() * 1000)
    ids = []
    for _ in range(count):
        ids.append(portal.new_deal_id())
    for deal_id in ids:
        props = {"dealname": f"Deal {deal_id}"}
        if base is not None:
            snap = parse_line(0, line(deal_id, 0, base[deal_id]), rules)
            props.update(snap.values)
        portal.add_deal(deal_id, Deal(now, now, props))
    return ids


_V1_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "INSERT INTO meta VALUES ('schema_version', '1');"
    "CREATE TABLE confirmed (deal_id TEXT NOT NULL, property TEXT NOT NULL, value TEXT NOT NULL,"
    " confirmed_at TEXT NOT NULL, PRIMARY KEY (deal_id, property)) WITHOUT ROWID;"
    "CREATE TABLE desired (deal_id TEXT NOT NULL, property TEXT NOT NULL, value TEXT NOT NULL,"
    " occurred_at TEXT NOT NULL, accord_id TEXT NOT NULL, event TEXT NOT NULL,"
    " PRIMARY KEY (deal_id, property)) WITHOUT ROWID;"
    "CREATE TABLE watermarks (accord_id TEXT NOT NULL, deal_id TEXT NOT NULL, occurred_at TEXT NOT NULL,"
    " PRIMARY KEY (accord_id, deal_id)) WITHOUT ROWID;"
    "CREATE TABLE dead_letters (id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL,"
    " origin TEXT NOT NULL, accord_id TEXT, deal_id TEXT, occurred_at TEXT, reason TEXT NOT NULL,"
    " line TEXT NOT NULL);"
)
_V2_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "INSERT INTO meta VALUES ('schema_version', '2');"
    f"{V2_REGISTERS};"
    "CREATE INDEX pending ON registers (deal_id) WHERE parked = 0 AND confirmed IS NOT value;"
)


def seed_store(path: Path, deal_ids: list[str], base: dict[str, dict], rules: Rules, schema: int) -> None:
    """The store a push of the baseline events leaves, every value confirmed, written with SQL in
    the given schema version (3: this code's; 2 or 1: an older code's, which adds what else it needs)."""
    if schema == 3:
        SyncStore(path).close()  # the current schema
    db = sqlite3.connect(str(path), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    if schema < 3:
        db.executescript(_V1_SCHEMA if schema == 1 else _V2_SCHEMA)
    db.execute("BEGIN")
    ids = PropertyIds(db) if schema == 3 else None
    for start in range(0, len(deal_ids), 50_000):
        rows = []
        packed = []
        for deal_id in deal_ids[start:start + 50_000]:
            snap = parse_line(0, line(deal_id, 0, base[deal_id]), rules)
            at = snap.occurred_at
            rows.extend((deal_id, prop, value, at) for prop, value in sorted(snap.values.items()))
            if ids is not None:
                blob, pending, synced = pack({prop: [value, at, f"acc_{deal_id}", "step_updated", value, 0, at]
                                              for prop, value in sorted(snap.values.items())}, ids)
                packed.append((deal_id, pending, synced, blob))
        if schema == 1:
            at = format_instant(T0 * 1_000_000)
            db.executemany("INSERT INTO desired VALUES (?, ?, ?, ?, 'acc_' || ?1, 'step_updated')",
                           [(d, p, v, at) for d, p, v, _ in rows])
            db.executemany("INSERT INTO confirmed VALUES (?, ?, ?, ?)", [(d, p, v, at) for d, p, v, _ in rows])
            db.executemany("INSERT INTO watermarks VALUES ('acc_' || ?1, ?1, ?2)",
                           [(d, at) for d in deal_ids[start:start + 50_000]])
        elif schema == 2:
            db.executemany("INSERT INTO registers VALUES (?1, ?2, ?3, ?4, 'acc_' || ?1, 'step_updated', ?3, 0, ?4)",
                           rows)
        else:
            db.executemany("INSERT INTO deals VALUES (?, ?, ?, ?)", packed)
    db.execute("COMMIT")
    db.close()


class Bench:
    def __init__(self, args) -> None:
        self.args = args
        self.old = Path(args.old) if args.old else None
        self.rows: list[tuple[str, str, str, str]] = []
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-sync-"))
        self.load = " / ".join(f"{x:.2f}" for x in os.getloadavg())

    def old_commit(self) -> str:
        if self.old is None:
            return "(none)"
        out = subprocess.run(["git", "-C", str(self.old), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, check=False)
        return out.stdout.strip() or str(self.old)

    def configs(self, name: str) -> list[tuple[str, Path, Path | None]]:
        """(label, config, old root) for the new code, and the older one when given."""
        out = []
        for label, root, old in (("new", ROOT, None), ("old", self.old, self.old)):
            if root is None:
                continue
            directory = self.tmp / f"{name}-{label}"
            directory.mkdir()
            out.append((label, write_config(directory, root), old))
        return out

    def add(self, what: str, label: str, r: dict, events: int, note: str = "") -> None:
        per_cpu = f"{events / r['cpu']:,.0f}" if events and r["cpu"] else "-"
        if "steps" in r:
            note = f"{note}; {steps_note(r['steps'])}" if note else steps_note(r["steps"])
        self.rows.append((what, label, f"{r['wall']:.2f} s / {r['cpu']:.2f} s / {r['rss_mb']:.0f} MB / {per_cpu}",
                          f"requests {r['requests']}, 429s {r['rate_limited']}, written {r['deals_written']}"
                          + (f"; {note}" if note else "")))

    def rate(self) -> None:
        emulator = Emulator(EmulatorSettings(burst_limit=190, burst_window_s=10.0, daily_limit=None))
        rng = random.Random(self.args.seed)
        prepare(emulator)
        with serve_in_thread(emulator, host="127.0.0.1", port=0) as url:
            for label, config, old in self.configs("rate"):
                ids = seed_deals(emulator, 20_000)
                source = config.parent / "first.jsonl"
                source.write_text("".join(line(d, 0, snapshot(rng, d)) + "\n" for d in ids))
                time.sleep(10.5)  # an empty rate window
                r = run_push(config, source, url, "professional", old)
                rate = r["deals_written"] / r["seconds"]
                self.add("rate: 20,000 deals, first push, limit 190/10 s", label, r, 20_000,
                         f"{rate:,.0f} deals/s in the push ({rate / CEILING:.0%} of 1,900); "
                         f"{r['deals_written'] / r['wall']:,.0f} deals/s whole process")

    def small(self) -> None:
        emulator = Emulator(EmulatorSettings(burst_limit=None, daily_limit=None))
        prepare(emulator)
        with serve_in_thread(emulator, host="127.0.0.1", port=0) as url:
            for label, config, old in self.configs("small"):
                rng = random.Random(self.args.seed)
                ids = seed_deals(emulator, 20_000)
                base = {d: snapshot(rng, d) for d in ids}
                first = config.parent / "first.jsonl"
                first.write_text("".join(line(d, 0, base[d]) + "\n" for d in ids))
                changed = write_measured(config.parent / "events.jsonl", ids, base, 100_000, 0.25, rng)
                self.add("small: first push, 20,000 deals", label, run_push(config, first, url, "unlimited", old),
                         20_000)
                r = run_push(config, config.parent / "events.jsonl", url, "unlimited", old)
                self.add("small: 100,000 events / 20,000 deals, 25% changed", label, r, 100_000,
                         f"minimum requests {math.ceil(changed / 100)}")
                again = run_push(config, config.parent / "events.jsonl", url, "unlimited", old)
                self.add("small: the same 100,000 events again", label, again, 100_000)

    def big(self) -> None:
        deals, events = self.args.big_deals, self.args.big_events
        rules = Rules.from_config(load_config(str(ROOT / "hubspot_schema.yaml")))
        for label, config, old in self.configs("big"):
            emulator = Emulator(EmulatorSettings(burst_limit=None, daily_limit=None))  # one per code: memory
            prepare(emulator)
            with serve_in_thread(emulator, host="127.0.0.1", port=0) as url:
                rng = random.Random(self.args.seed)
                started = time.monotonic()
                ids = [str(emulator.portal.next_deal_id + i) for i in range(deals)]
                base = {d: snapshot(rng, d) for d in ids}
                assert seed_deals(emulator, deals, base, rules) == ids
                seed_store(config.parent / "sync.sqlite", ids, base, rules, 3 if old is None else self.args.old_schema)
                seeded = time.monotonic() - started
                small = config.parent / "small.jsonl"
                sample = rng.sample(ids, 1000)
                small.write_text("".join(line(d, 5, base[d]) + "\n" for d in sample))
                r = run_push(config, small, url, "unlimited", old)
                self.add(f"big: 1,000 events onto {deals:,} synced deals (nothing to send)", label, r, 1000,
                         f"seeded in {seeded:.0f} s")
                if old is not None and not self.args.old_big:
                    continue
                changed = write_measured(config.parent / "events.jsonl", ids, base, events, 0.25, rng)
                r = run_push(config, config.parent / "events.jsonl", url, "unlimited", old)
                self.add(f"big: {events:,} events onto {deals:,} deals, 25% changed", label, r, events,
                         f"minimum requests {math.ceil(changed / 100)}")
                (config.parent / "events.jsonl").unlink()

    def document(self) -> str:
        table = "\n".join(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in self.rows)
        return (
            "# Value sync benchmark\n\n"
            f"`{' '.join(['python', 'benchmarks/bench_sync.py', *sys.argv[1:]])}` on {os.cpu_count()} cores "
            f"(shared), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Each push is the whole process "
            "(`python -m provisioner sync push`), measured from start to exit; events per CPU-second count "
            "the events of the input over the process's CPU time. "
            f"`old` is commit {self.old_commit()}; load average at the start {self.load}.\n\n"
            "| run | code | wall / CPU / peak RSS / events per CPU-s | HubSpot |\n|---|---|---|---|\n"
            + table + "\n"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="rate,small,big")
    parser.add_argument("--old", default=None, help="a worktree of the older code to run beside this one")
    parser.add_argument("--old-big", action="store_true", help="also run the older code's big push (minutes)")
    parser.add_argument("--big-deals", type=int, default=1_000_000)
    parser.add_argument("--big-events", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--old-schema", type=int, choices=(1, 2, 3), default=2,
                        help="the store schema the older code reads (its 1M-deal store is seeded in it)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "sync.md"))
    parser.add_argument("--profile", default=None, help="a folder: run each push under cProfile, its stats there")
    parser.add_argument("--steps", action="store_true",
                        help="run each push through sync_steps.py: the CPU time of each step beside each row")
    args = parser.parse_args()
    if args.steps:
        global STEPS
        STEPS = True
    if args.profile:
        global PROFILE_DIR
        PROFILE_DIR = Path(args.profile).resolve()
        PROFILE_DIR.mkdir(parents=True, exist_ok=True)
    bench = Bench(args)
    for row in args.rows.split(","):
        getattr(bench, row)()
        print(bench.document(), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(bench.document())


if __name__ == "__main__":
    main()
