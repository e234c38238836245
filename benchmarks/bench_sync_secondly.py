"""The value-sync benchmark with the emulator refusing bursts over the announced per-second figure.

Run on demand: ``python benchmarks/bench_sync_secondly.py [bench_sync.py's options]``; writes
benchmarks/results/sync_secondly.md unless ``--out`` says otherwise. Everything else is
bench_sync.py's: only the emulator's ``enforce_secondly_limit`` is switched on (19 a second at
190 per 10 s), to show that the client's even pacing meets no 429 and loses no throughput.
"""

from __future__ import annotations

import functools
import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import provisioner.emulator as emulator  # noqa: E402

emulator.EmulatorSettings = functools.partial(emulator.EmulatorSettings, enforce_secondly_limit=True)
if "--out" not in sys.argv:
    sys.argv += ["--out", str(ROOT / "benchmarks" / "results" / "sync_secondly.md")]
sys.argv[0] = str(ROOT / "benchmarks" / "bench_sync.py")
runpy.run_path(sys.argv[0], run_name="__main__")
