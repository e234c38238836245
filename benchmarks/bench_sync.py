"""Value-sync benchmark on the emulator with HubSpot's Professional limit (190 requests per 10 s).

    python benchmarks/bench_sync.py [--deals 20000] [--events 100000] [--changed-share 0.25]
                                    [--naive-sample 400] [--out benchmarks/results/sync.md]

1. Seeds the deals, then a first push of one snapshot per deal (every value new).
2. The measured run: EVENTS events for DEALS deals (several per deal, in shuffled order), of
   which CHANGED_SHARE of the deals end with values that differ from the first push.
   Printed: write requests against the minimum ceil(changed / 100), 429s met, deals per second
   against the ceiling of 1,900 per second, and the tool's CPU time and peak memory (the tool
   runs as `python -m provisioner sync push` in a child process, measured with wait4 by a small
   intermediate process: a child started straight from this one would report this process's
   own resident size as its peak, since it is forked from it).
3. The naive way for comparison: one request per deal per event, same client and limiter.
   It would take about EVENTS / 19 seconds, so it runs on the first NAIVE_SAMPLE events and is
   extrapolated linearly (requests are exactly one per event; the time scales with them).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from provisioner.apply import apply_plan  # noqa: E402
from provisioner.config import load_config  # noqa: E402
from provisioner.emulator import Emulator, EmulatorSettings, serve_in_thread  # noqa: E402
from provisioner.hubspot.client import HubSpotClient  # noqa: E402
from provisioner.planning import make_plan  # noqa: E402

STATUSES = ["Not Started", "On Track", "At Risk", "Stalled"]
STAGES = ["Discovery", "Evaluation", "Proposal", "Negotiation", "Closing"]
CEILING = 1900.0


def snapshot(rng: random.Random, deal_id: str) -> dict:
    invited = rng.randint(1, 20)
    return {
        "URL": f"https://app.accord.example/a/{deal_id}",
        "STATUS": rng.choice(STATUSES),
        "STAGE_NAME": rng.choice(STAGES),
        "CUSTOMER_INVITED_COUNT": invited,
        "CUSTOMER_ACCEPTED_COUNT": rng.randint(0, invited),
        "PROGRESS": rng.randint(0, 100),
        "EXECUTION_SCORE": round(rng.uniform(0, 100), 1),
    }


def line(deal_id: str, at: int, data: dict) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1_790_000_000 + at))
    return json.dumps({"event": "step_updated", "occurred_at": stamp, "accord_id": f"acc_{deal_id}",
                       "deal_id": deal_id, "data": data})


def make_events(deal_ids: list[str], events: int, share: float, seed: int):
    """(baseline lines, measured lines, changed deal count)."""
    rng = random.Random(seed)
    base = {d: snapshot(rng, d) for d in deal_ids}
    baseline = [line(d, 0, base[d]) for d in deal_ids]
    changed = set(rng.sample(deal_ids, round(len(deal_ids) * share)))
    per_deal = events // len(deal_ids)
    measured = []
    for d in deal_ids:
        for k in range(1, per_deal + 1):
            last = k == per_deal
            if last:
                data = dict(base[d])
                if d in changed:
                    data["PROGRESS"] = (data["PROGRESS"] + 1) % 101
                    data["EXECUTION_SCORE"] = round(data["EXECUTION_SCORE"] + 0.5, 1)
            else:
                data = snapshot(rng, d)  # intermediate states: coalesced away
            measured.append(line(d, k * 60, data))
    rng.shuffle(measured)
    return baseline, measured, len(changed)


def write_config(directory: Path) -> Path:
    text = (ROOT / "hubspot_schema.yaml").read_text()
    text = text.replace("store: .provisioner/sync.sqlite", f"store: {directory / 'sync.sqlite'}")
    path = directory / "hubspot_schema.yaml"
    path.write_text(text)
    return path


# Runs argv[2:] and writes "exit code, CPU seconds, peak RSS in KiB" of it to argv[1]. It is small, so
# the peak of the process it starts is that process's own (a process forked from this benchmark,
# which holds the emulator and the events, would start with this benchmark's resident size).
_MEASURE = (
    "import os, subprocess, sys\n"
    "proc = subprocess.Popen(sys.argv[2:])\n"
    "_, status, usage = os.wait4(proc.pid, 0)\n"
    "with open(sys.argv[1], 'w') as f:\n"
    "    f.write(f'{os.waitstatus_to_exitcode(status)} {usage.ru_utime + usage.ru_stime} {usage.ru_maxrss}')\n"
)


def run_tool(config: Path, source: Path, base_url: str) -> tuple[dict, float, float]:
    """The push as a child process: (its JSON report, CPU seconds, peak RSS in MB)."""
    env = dict(os.environ, HUBSPOT_ACCESS_TOKEN="bench", HUBSPOT_BASE_URL=base_url, HUBSPOT_API_VERSION="2026-03")
    out_path, err_path = source.with_suffix(".out"), source.with_suffix(".err")
    usage_path = source.with_suffix(".usage")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        subprocess.run(
            [sys.executable, "-c", _MEASURE, str(usage_path),
             sys.executable, "-m", "provisioner", "sync", "push", "-f", str(config), "--source", str(source),
             "--tier", "professional", "--format", "json"],
            stdout=out, stderr=err, env=env, cwd=str(config.parent), check=False,
        )
    try:
        code, cpu, maxrss_kib = usage_path.read_text().split()
    except (OSError, ValueError):
        raise SystemExit(f"push not measured: {err_path.read_text()[-2000:]}") from None
    if int(code) != 0:
        raise SystemExit(f"push failed ({code}): {err_path.read_text()[-2000:]}{out_path.read_text()[-2000:]}")
    return json.loads(out_path.read_text()), float(cpu), int(maxrss_kib) / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--changed-share", type=float, default=0.25)
    parser.add_argument("--naive-sample", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "sync.md"))
    args = parser.parse_args()

    emulator = Emulator(EmulatorSettings(burst_limit=190, burst_window_s=10.0, daily_limit=None))
    with tempfile.TemporaryDirectory() as tmp, serve_in_thread(emulator, host="127.0.0.1", port=0) as base_url:
        tmpdir = Path(tmp)
        config = write_config(tmpdir)
        seeder = HubSpotClient(base_url, "bench", tier="professional")
        apply_plan(seeder, make_plan(seeder, load_config(config))[0])  # the seven properties
        deal_ids: list[str] = []
        for start in range(0, args.deals, 100):
            count = min(100, args.deals - start)
            result = seeder.batch_create_deals([{"dealname": f"Deal {start + i}"} for i in range(count)])
            deal_ids.extend(record.id for record in result.results)
        time.sleep(10.5)  # let the seeding fall out of the rate window
        baseline, measured, changed = make_events(deal_ids, args.events, args.changed_share, args.seed)
        (tmpdir / "baseline.jsonl").write_text("\n".join(baseline) + "\n")
        (tmpdir / "events.jsonl").write_text("\n".join(measured) + "\n")

        first, first_cpu, first_mem = run_tool(config, tmpdir / "baseline.jsonl", base_url)
        time.sleep(10.5)
        report, cpu, mem = run_tool(config, tmpdir / "events.jsonl", base_url)
        time.sleep(10.5)
        again, _, _ = run_tool(config, tmpdir / "events.jsonl", base_url)

        naive = HubSpotClient(base_url, "bench", tier="professional")
        sample = [json.loads(text) for text in measured[: args.naive_sample]]
        fields = {"URL": "accord_url", "STATUS": "accord_status", "STAGE_NAME": "current_stage",
                  "CUSTOMER_INVITED_COUNT": "number_of_customers_invited",
                  "CUSTOMER_ACCEPTED_COUNT": "number_of_customers_accepted", "PROGRESS": "accord_progress",
                  "EXECUTION_SCORE": "accord_execution_score"}
        time.sleep(10.5)
        started = time.monotonic()
        for item in sample:
            values = {fields[k]: str(v) for k, v in item["data"].items()}
            naive.batch_update_deals([(item["deal_id"], values)])
        naive_seconds = time.monotonic() - started

    minimum = math.ceil(changed / 100)
    rows = [
        ("deals / events", f"{args.deals:,} / {len(measured):,}", ""),
        ("first push: deals written, write requests", f"{first['deals_written']:,}, {first['requests']}",
         f"minimum {math.ceil(args.deals / 100)}"),
        ("first push: deals per second", f"{first['deals_written'] / first['seconds']:,.0f}",
         f"ceiling {CEILING:,.0f} ({first['deals_written'] / first['seconds'] / CEILING:.0%})"),
        ("first push: 429s met", str(first["rate_limited"]), "target 0"),
        ("first push: CPU time, peak memory", f"{first_cpu:.1f} s, {first_mem:.0f} MB", "target < 300 MB"),
        ("measured run: deals changed", f"{changed:,} ({args.changed_share:.0%})", ""),
        ("measured run: write requests", str(report["requests"]), f"minimum ceil({changed}/100) = {minimum}"),
        ("measured run: deals written", f"{report['deals_written']:,}", ""),
        ("measured run: 429s met", str(report["rate_limited"]), "target 0"),
        ("measured run: deals per second", f"{report['deals_written'] / report['seconds']:,.0f}",
         f"ceiling {CEILING:,.0f} (below one rate window: not limit-bound)"),
        ("measured run: wall time", f"{report['seconds']:.2f} s", ""),
        ("measured run: CPU time, peak memory", f"{cpu:.1f} s, {mem:.0f} MB", "target < 300 MB"),
        ("same events again: requests", str(again["requests"]), "target 0"),
        ("naive: requests (one per deal per event)", f"{len(measured):,}", f"{len(measured) / max(1, report['requests']):,.0f}x more"),
        ("naive: measured sample", f"{len(sample)} requests in {naive_seconds:.1f} s, "
         f"429s {naive.stats.rate_limited}", ""),
        ("naive: extrapolated wall time",
         f"{max(naive_seconds / len(sample) * len(measured), len(measured) / 19.0) / 60:,.1f} min",
         f"vs {report['seconds']:.1f} s"),
    ]
    text = "\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows)
    document = (
        "# Value sync benchmark\n\n"
        f"`python benchmarks/bench_sync.py` on {os.cpu_count()} cores; emulator on 127.0.0.1 with "
        "burst limit 190 per 10 s; the tool with `--tier professional`.\n\n"
        "| measure | result | reference |\n|---|---|---|\n" + text + "\n\n"
        "The naive run is sampled (the first events of the measured run) and extrapolated linearly: "
        "its requests are exactly one per event, and past one rate window its time is bound by the same limit "
        "(19 requests per second), whichever is slower.\n"
    )
    print(document)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(document)


if __name__ == "__main__":
    main()
