"""An ``emulator serve`` process for the benchmarks: started from any source tree, its CPU read from /proc.

``source_tree(ref)`` extracts a git revision's ``provisioner`` package to a temporary directory, so
a benchmark can run the old emulator beside the new one in one run. Every server listens on
127.0.0.1 on a free port and is stopped (SIGTERM, then SIGKILL after a deadline) on exit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")
START_TIMEOUT_S = 30.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):  # peak resident set
            return int(line.split()[1]) * 1024
    return 0


@contextmanager
def source_tree(ref: str | None):
    """A directory holding ``provisioner`` as of git revision ``ref`` (None: this working tree)."""
    if ref is None:
        yield ROOT
        return
    with tempfile.TemporaryDirectory(prefix="emulator-src-") as tmp:
        archive = Path(tmp) / "src.tar"
        subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", "-o", str(archive), ref, "provisioner"],
                       check=True, timeout=60)
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        yield Path(tmp)


@contextmanager
def emulator_serve(tree: Path, *args: str, env: dict | None = None):
    """Run ``python -m provisioner emulator serve --port 0 ARGS`` from ``tree``; yields (process, base URL)."""
    environ = {**os.environ, "PYTHONPATH": str(tree), **(env or {})}
    process = subprocess.Popen([sys.executable, "-m", "provisioner", "emulator", "serve", "--port", "0", *args],
                               cwd=str(tree), env=environ, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        line = ""
        while "listening on" not in line:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"emulator serve did not start: {line!r}")
            line = process.stderr.readline()
        url = line.split("listening on ")[1].split()[0]
        yield process, url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        process.stderr.close()
