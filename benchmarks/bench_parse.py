"""The value sync's input path (read, decode, check, normalise), old and new side by side in one run.

    python benchmarks/bench_parse.py [--events 200000] [--invalid 1000000] [--old /work/wt/old-input]
                                     [--out benchmarks/results/parse.md]

Each case runs as a child process per tree (``--old``: a checkout of the old code, e.g.
``git worktree add /work/wt/old-input bcf7a3c``; new: this tree), reading the same input file the
way that tree's ``sync push`` reads it, and is measured whole: wall and CPU from start to exit and
peak RSS (``wait4`` by a small intermediate process, so the figure is the child's own), plus the
CPU of the parse loop alone. Children run under a 2 GiB address-space cap and a time limit, so a
case that would eat the machine or run for minutes ends as "killed" or "MemoryError".

Cases:
- mix: EVENTS lines of bench_sync's event mix (several snapshots per deal), each through
  ``parse_line``: lines per CPU-second is the input path's own rate;
- mix, coalesced: the same read, checked and coalesced as push does (``parse_lines``, or
  ``coalesce.read_chunks`` where the input is read in chunks);
- invalid: INVALID lines that fail a check, read the same way: peak memory of the records set
  aside;
- hostile: one hostile line followed by a good one, each class of issue 9; ``/dev/zero``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_sync import make_events  # noqa: E402

CAP_BYTES = 2 * 1024**3
GOOD = json.dumps({"event": "step_updated", "occurred_at": "2026-11-27T10:00:00Z", "accord_id": "acc_1",
                   "deal_id": "101", "data": {"STATUS": "On Track", "PROGRESS": 45}})


def _hostile(data: dict, **top) -> str:
    record = {"event": "step_updated", "occurred_at": "2026-11-27T10:00:00Z", "accord_id": "acc_2",
              "deal_id": "102", "data": data}
    record.update(top)
    return json.dumps(record)


HOSTILE = {
    '"1e999999999" as PROGRESS': _hostile({"PROGRESS": "1e999999999"}),
    "nested 100,000 deep": _hostile({"STAGE_NAME": "x"}, extra="@").replace('"@"', "[" * 100_000 + "]" * 100_000),
    "URL https://[::1": _hostile({"URL": "https://[::1"}),
    "lone surrogate": _hostile({"STAGE_NAME": "a"}).replace('"a"', '"\\ud800"'),
    "time 9999-12-31T23:59:59-23:59": _hostile({"STATUS": "On Track"}, occurred_at="9999-12-31T23:59:59-23:59"),
    "a 10 MB line": _hostile({"STAGE_NAME": "x" * 10_000_000}),
}

# The child: reads the file as that tree's `sync push` does and parses every line.
_CHILD = r"""
import json, sys, time
tree, mode, path = sys.argv[1:4]
sys.path.insert(0, tree)
from provisioner.config import load_config
from provisioner.sync import events
rules = events.Rules.from_config(load_config(tree + "/hubspot_schema.yaml"))
try:
    from provisioner.sync.source import read_lines
except ImportError:  # the old tree read text, invalid UTF-8 replaced
    read_lines = None
try:  # the input read in chunks, each coalesced (a run holds one chunk)
    from provisioner.sync.coalesce import read_chunks
except ImportError:  # the whole input coalesced at once
    read_chunks = None
start = time.process_time()
handle = open(path, "rb") if read_lines else open(path, encoding="utf-8", errors="replace")
lines = read_lines(handle) if read_lines else handle
counts = {}
if mode == "parse_line":
    for n, line in enumerate(lines, 1):
        kind = type(events.parse_line(n, line, rules)).__name__
        counts[kind] = counts.get(kind, 0) + 1
elif read_chunks is None:
    parsed = events.parse_lines(lines, rules)
    counts = {"read": parsed.read, "invalid": len(parsed.invalid), "ignored": len(parsed.ignored)}
else:
    counts = {"read": 0, "invalid": 0, "ignored": 0}
    for chunk in read_chunks(lines, rules):
        counts["read"] += chunk.read
        counts["invalid"] += len(chunk.invalid)
        counts["ignored"] += chunk.ignored
print(json.dumps({"loop_cpu": time.process_time() - start, "counts": counts}))
"""

# Runs argv[3:] capped at argv[1] bytes of address space for at most argv[2] seconds; prints what it used.
_MEASURE = r"""
import json, resource, subprocess, sys, time
cap, limit = int(sys.argv[1]), float(sys.argv[2])
def capped():
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
started = time.perf_counter()
proc = subprocess.Popen(sys.argv[3:], preexec_fn=capped, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
try:
    out, err = proc.communicate(timeout=limit)
    killed = False
except subprocess.TimeoutExpired:
    proc.kill()
    out, err = proc.communicate()
    killed = True
wall = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"code": proc.returncode, "killed": killed, "wall": wall,
                  "cpu": usage.ru_utime + usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024,
                  "out": out.decode(errors="replace")[-2000:], "err": err.decode(errors="replace")[-2000:]}))
"""


def run(tree: Path, mode: str, source: str, limit: float) -> dict:
    child = [sys.executable, "-c", _CHILD, str(tree), mode, source]
    done = subprocess.run([sys.executable, "-c", _MEASURE, str(CAP_BYTES), str(limit), *child],
                          capture_output=True, text=True, check=True, cwd=tempfile.gettempdir(),
                          env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    result = json.loads(done.stdout)
    if result["killed"]:
        result["outcome"] = f"killed after {limit:.0f} s"
    elif result["code"] != 0:
        last = [line for line in result["err"].splitlines() if line.strip()][-1:] or ["?"]
        result["outcome"] = f"exit {result['code']}: {last[0][:90]}"
    else:
        report = json.loads(result["out"].strip().splitlines()[-1])
        result.update(report)
        result["outcome"] = ", ".join(f"{k} {v:,}" for k, v in sorted(report["counts"].items()))
    return result


# Decoders alone on the mix, in a child of the new tree: CPU per line of each candidate (orjson if installed).
_DECODERS = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
lines = open(sys.argv[2], "rb").read().splitlines()
import msgspec
from provisioner.sync.events import _decode_record
candidates = {"json.loads": json.loads, "msgspec untyped": msgspec.json.Decoder().decode,
              "msgspec typed Struct (chosen)": _decode_record}
try:
    import orjson
    candidates["orjson.loads"] = orjson.loads
except ImportError:
    pass
rates = {}
for name, decode in candidates.items():
    best = 0.0
    for _ in range(3):
        start = time.process_time()
        for line in lines:
            decode(line)
        best = max(best, len(lines) / (time.process_time() - start))
    rates[name] = best
print(json.dumps(rates))
"""


def decoder_rates(source: Path) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", _DECODERS, str(ROOT), str(source)], capture_output=True, text=True,
                          check=True, cwd=tempfile.gettempdir())
    return json.loads(done.stdout)


def write_lines(path: Path, lines) -> None:
    with open(path, "w", encoding="utf-8", errors="surrogatepass") as out:
        for text in lines:
            out.write(text + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--invalid", type=int, default=1_000_000)
    parser.add_argument("--old", type=Path, default=Path("/work/wt/old-input"))
    parser.add_argument("--limit", type=float, default=300.0, help="seconds a child may run")
    parser.add_argument("--hostile-limit", type=float, default=20.0, help="seconds a child may run on a hostile line")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "parse.md")
    args = parser.parse_args()
    trees = [("old", args.old.resolve()), ("new", ROOT)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        deal_ids = [str(10**9 + i) for i in range(max(1, args.events // 5))]
        _, mix, _ = make_events(deal_ids, args.events, 0.25, seed=7)
        write_lines(folder / "mix.jsonl", mix)
        # Lines that fail one check (a STATUS that is not one of the four), as many as asked.
        write_lines(folder / "invalid.jsonl", (line.replace('"STATUS": "', '"STATUS": "Done ')
                                               for line in itertools.islice(itertools.cycle(mix), args.invalid)))
        del mix
        rates = decoder_rates(folder / "mix.jsonl")
        for name, rate in rates.items():
            print(f"decoder {name}: {rate:,.0f} lines per CPU-s", flush=True)
        cases = [(f"mix, {args.events:,} lines, parse_line", "parse_line", str(folder / "mix.jsonl")),
                 (f"mix, {args.events:,} lines, coalesced", "coalesced", str(folder / "mix.jsonl")),
                 (f"{args.invalid:,} invalid lines, coalesced", "coalesced", str(folder / "invalid.jsonl"))]
        for index, (name, text) in enumerate(HOSTILE.items()):
            path = folder / f"hostile{index}.jsonl"
            write_lines(path, [text, GOOD])
            cases.append((f"hostile: {name}", "parse_line", str(path)))
        cases.append(("hostile: --source /dev/zero", "parse_line", "/dev/zero"))
        for name, mode, source in cases:
            for label, tree in trees:
                result = run(tree, mode, source, args.hostile_limit if name.startswith("hostile") else args.limit)
                rate = ""
                if "loop_cpu" in result and mode == "parse_line" and name.startswith("mix"):
                    rate = f"{sum(result['counts'].values()) / result['loop_cpu']:,.0f}"
                rows.append((name, label, result["outcome"], f"{result['wall']:.2f}", f"{result['cpu']:.2f}",
                             f"{result['rss_mb']:.0f}", rate))
                print(" | ".join(rows[-1]), flush=True)
    table = ["| case | tree | outcome | wall s | CPU s | peak RSS MB | lines per CPU-s (loop) |",
             "|---|---|---|---|---|---|---|"]
    table += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    table += ["", "Decoding alone, the same mix (best of 3, lines per CPU-second):", "",
              "| decoder | lines per CPU-s |", "|---|---|"]
    table += [f"| {name} | {rate:,.0f} |" for name, rate in sorted(rates.items(), key=lambda item: item[1])]
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    text = (f"# Input path: old ({args.old}) and new, one run\n\n`python benchmarks/bench_parse.py "
            f"--events {args.events} --invalid {args.invalid}` on {stamp}, {os.cpu_count()} cores, "
            f"Python {sys.version.split()[0]}. Whole process per child (start to exit), 2 GiB cap, "
            f"{args.limit:.0f} s limit ({args.hostile_limit:.0f} s on a hostile line).\n\n" + "\n".join(table) + "\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
