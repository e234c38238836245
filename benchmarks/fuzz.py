"""Fuzzing, run on demand: the event parser, the config loader and the plan-file reader.

    python benchmarks/fuzz.py [--seconds 120] [--target events|config|planfile ...]
                              [--out benchmarks/results/fuzz.md]

Hypothesis drives each target for SECONDS: it mutates valid samples (the benchmark's events, the
shipped hubspot_schema.yaml, a plan saved by ``plan --out``) with byte flips, splices, deletions and
hostile tokens (deep nesting, huge exponents, lone surrogates, NUL, YAML aliases and tags), and
replaces parts of their parsed structure with arbitrary values. A finding is anything but the
target's documented outcome:
- events: ``parse_line`` returns a Snapshot, Ignored, Invalid or None (and an Invalid keeps a
  bounded line), whatever the bytes;
- config: ``load_config`` returns a Config or raises a ProvisionerError (one clear error);
- planfile: ``load_plan`` returns a Plan or raises a ProvisionerError.
An input slower than ``SLOW`` seconds is a finding too. Each target runs in its own process under a
2 GiB address-space cap, writing each input to a file before trying it, so an input that hangs or
eats memory is caught (killed after SECONDS + a grace) and reported. Findings are printed and
written to the --out file with how long each target ran and how many inputs it tried.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGETS = ("events", "config", "planfile")
SLOW = 1.0  # seconds for one input
CAP_BYTES = 2 * 1024**3
GRACE = 60.0
TOKENS = [b"[" * 5000, b"{" * 3000, b'"1e999999999"', b"1e999999999", b"1" * 5000, b'"\\ud800"', b"\x00", b"\xff\xfe",
          b"NaN", b"-Infinity", b"&a [*a, *a, *a]", b"*a", b"!!python/object:os.system", b"<<: *x", b"---\n", b"...\n",
          b"%YAML 1.1\n", b"? ", b"\t", b"\r", b"\n", b"\\u0000", b'"' + b"x" * 70_000 + b'"', b"~", b"null", b"true",
          b"0x1F", b"1_000", "\u0661\u0662".encode(), b"9999-12-31T23:59:59-23:59", b"0000-01-01T00:00:00Z",
          b"https://[::1", b"\xed\xa0\x80", b"'", b"\\", b"#", b"|\n  ", b">-\n  ", b"!!binary AAAA"]


# ---- the targets -------------------------------------------------------------------------------------------------


def _event_samples() -> list[bytes]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_sync import make_events

    _, lines, _ = make_events([str(10**9 + i) for i in range(5)], 20, 0.5, seed=3)
    return [line.encode() for line in lines]


def _plan_sample(folder: Path) -> bytes:
    """A plan saved by the CLI against an empty local portal: every kind of creation."""
    (folder / "hubspot_schema.yaml").write_bytes((ROOT / "hubspot_schema.yaml").read_bytes())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "PROVISIONER_"))}
    env["PROVISIONER_LOCAL_STATE"] = str(folder / "portal")
    subprocess.run([sys.executable, "-m", "provisioner", "plan", "--local", "--out", "plan.json"], cwd=folder,
                   env=env, check=True, capture_output=True, timeout=120)
    return (folder / "plan.json").read_bytes()


def _file_check(load, path: Path):
    """A file reader's check: the bytes written to ``path``, read; only a ProvisionerError may come out."""
    from provisioner.errors import ProvisionerError

    def check(data: bytes) -> None:
        path.write_bytes(data)
        try:
            load(path)
        except ProvisionerError:
            pass

    return check


def make_target(name: str, folder: Path):
    """(samples, check): ``check(data)`` raises on a finding."""
    path = folder / "input"
    if name == "events":
        from provisioner.config import load_config
        from provisioner.sync.events import RAW_KEPT, Ignored, Invalid, Rules, Snapshot, parse_line

        rules = Rules.from_config(load_config(ROOT / "hubspot_schema.yaml"))

        def check(data: bytes) -> None:
            for line in (data, data.decode("utf-8", "replace")):  # as read, and as text (sync retry)
                result = parse_line(1, line, rules)
                assert result is None or type(result) in (Snapshot, Ignored, Invalid), type(result)
                if type(result) is Invalid:
                    assert result.reasons and len(result.raw) <= RAW_KEPT + 1, result

        return _event_samples(), check
    if name == "config":
        from provisioner.config import load_config

        return [(ROOT / "hubspot_schema.yaml").read_bytes()], _file_check(load_config, path)
    if name == "planfile":
        from provisioner.planfile import load_plan

        return [_plan_sample(folder)], _file_check(load_plan, path)
    raise SystemExit(f"unknown target {name}")


# ---- mutations ---------------------------------------------------------------------------------------------------


def _inputs(samples: list[bytes]):
    from hypothesis import strategies as st

    json_leaves = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
                   | st.sampled_from(["1e999999999", "\ud800", "1_000", "https://[::1", "", " "]))
    json_values = st.recursive(json_leaves, lambda inner: st.lists(inner, max_size=3)
                               | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)

    @st.composite
    def mutated(draw) -> bytes:
        data = bytearray(draw(st.sampled_from(samples)))
        for _ in range(draw(st.integers(1, 6))):
            op = draw(st.integers(0, 6))
            at = draw(st.integers(0, len(data)))
            if op == 0 and data:  # flip a byte
                at = min(at, len(data) - 1)
                data[at] = draw(st.integers(0, 255))
            elif op == 1:  # insert a hostile token
                data[at:at] = draw(st.sampled_from(TOKENS))
            elif op == 2:  # delete a span
                data[at:at + draw(st.integers(1, 64))] = b""
            elif op == 3:  # duplicate a span
                data[at:at] = data[at:at + draw(st.integers(1, 256))]
            elif op == 4:  # splice in another sample's bytes
                other = draw(st.sampled_from(samples))
                start = draw(st.integers(0, len(other)))
                data[at:at] = other[start:start + draw(st.integers(1, 200))]
            elif op == 5:  # arbitrary bytes
                data[at:at] = draw(st.binary(max_size=16))
            else:  # a structural change: a node of the parsed sample replaced by any JSON value
                try:
                    tree = json.loads(bytes(data))
                    _replace(tree, draw(st.integers(0, 50)), draw(json_values))
                    text = json.dumps(tree, ensure_ascii=draw(st.booleans()))
                except (ValueError, RecursionError):  # not JSON any more, or nested too deep for json
                    continue
                data = bytearray(text.encode("utf-8", "surrogatepass"))
        return bytes(data)

    return mutated()


def _replace(tree, index: int, value) -> None:
    """Replaces the index-th container member (depth first) of ``tree`` with ``value``."""
    stack = [tree]
    seen = 0
    while stack:
        node = stack.pop()
        members = list(node.items()) if isinstance(node, dict) else list(enumerate(node)) if isinstance(node, list) else []
        for key, child in members:
            if seen == index:
                node[key] = value
                return
            seen += 1
            stack.append(child)


# ---- running -----------------------------------------------------------------------------------------------------


def child(name: str, seconds: float, folder: Path, report: Path) -> None:
    """Fuzzes one target until ``seconds`` have passed; findings go to ``report`` (JSON lines)."""
    from hypothesis import HealthCheck, given, settings

    resource.setrlimit(resource.RLIMIT_AS, (CAP_BYTES, CAP_BYTES))
    samples, check = make_target(name, folder)
    current = os.open(folder / "current.bin", os.O_RDWR | os.O_CREAT)
    stats = {"inputs": 0, "slowest": 0.0}
    seen: set[str] = set()

    def record(kind: str, detail: str, data: bytes) -> None:
        key = f"{kind}: {detail.splitlines()[0][:120] if detail else ''}"
        if key not in seen:
            seen.add(key)
            with open(report, "a") as out:
                out.write(json.dumps({"target": name, "kind": kind, "detail": detail[:400],
                                      "input": data[:300].decode("utf-8", "backslashreplace")}) + "\n")

    @settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(_inputs(samples))
    def run(data: bytes) -> None:
        os.lseek(current, 0, 0)
        os.ftruncate(current, 0)
        os.write(current, data)
        stats["inputs"] += 1
        started = time.perf_counter()
        try:
            check(data)
        except BaseException as exc:  # everything else than the documented outcome is a finding
            record(type(exc).__name__, str(exc), data)
        spent = time.perf_counter() - started
        stats["slowest"] = max(stats["slowest"], spent)
        if spent > SLOW:
            record("slow", f"{spent:.2f} s for one input", data)

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run()
    (folder / "stats.json").write_text(json.dumps(stats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="per target")
    parser.add_argument("--target", action="append", choices=TARGETS)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "fuzz.md")
    parser.add_argument("--child", nargs=3, metavar=("TARGET", "FOLDER", "REPORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, folder, report = args.child
        child(name, args.seconds, Path(folder), Path(report))
        return
    rows, findings = [], []
    for name in args.target or TARGETS:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            report = folder / "findings.jsonl"
            started = time.monotonic()
            try:
                done = subprocess.run([sys.executable, __file__, "--seconds", str(args.seconds), "--child", name,
                                       str(folder), str(report)], capture_output=True, text=True,
                                      timeout=args.seconds + GRACE)
                outcome = "ran" if done.returncode == 0 else f"exit {done.returncode}: {done.stderr.strip()[-300:]}"
            except subprocess.TimeoutExpired:
                outcome = "killed: an input hung"
                hung = (folder / "current.bin").read_bytes() if (folder / "current.bin").exists() else b""
                findings.append({"target": name, "kind": "hang", "detail": f"no answer within {GRACE:.0f} s",
                                 "input": hung[:300].decode("utf-8", "backslashreplace")})
            spent = time.monotonic() - started
            stats = json.loads((folder / "stats.json").read_text()) if (folder / "stats.json").exists() else {}
            found = [json.loads(line) for line in report.read_text().splitlines()] if report.exists() else []
            findings.extend(found)
            rows.append((name, f"{spent:.0f}", f"{stats.get('inputs', 0):,}", f"{stats.get('slowest', 0.0):.3f}",
                         str(len([f for f in findings if f["target"] == name])), outcome))
            print(" | ".join(rows[-1]), flush=True)
    lines = [f"# Fuzzing: `python benchmarks/fuzz.py --seconds {args.seconds:.0f}`",
             "", f"Run on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, Hypothesis-driven mutation of valid "
             "samples (see the script's docstring).", "",
             "| target | seconds | inputs tried | slowest input (s) | findings | outcome |", "|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += ["", "## Findings", ""]
    if not findings:
        lines.append("None in this run.")
    for finding in findings:
        lines.append(f"- **{finding['target']}**: {finding['kind']}: {finding['detail'][:200]!r}; "
                     f"input starts {finding['input'][:160]!r}")
    notes = ""  # a "## Notes" section written by hand is kept from run to run
    if args.out.exists() and "\n## Notes" in args.out.read_text():
        notes = "\n## Notes" + args.out.read_text().split("\n## Notes", 1)[1]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n" + notes)
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
