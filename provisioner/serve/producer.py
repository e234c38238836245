"""``sync push`` as one more producer into the queue of a running worker (``serve`` or ``sync worker``).

The worker holds the store's run lock for as long as it runs, and also a second lock, the
*worker mark* (``<store>.worker``), so that another command can tell a running worker from another
``sync push``. A push that finds the run lock taken and the mark held does the durable ``accept``
step only (the ordering rule, in short transactions that wait for the intake's group commit
through SQLite's busy timeout) and leaves the sending to the worker, which finds the new pending
values at once: the push *nudges* it (touches the mark file, whose change time the worker
checks on every wake-up, at least once a second) instead of waiting for the periodic scan. A push that finds the run lock taken
by anything else fails as before: two runs that both send would race on the same registers.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

from provisioner.sync.engine import accept_input
from provisioner.sync.events import Rules
from provisioner.sync.report import PushReport
from provisioner.sync.store import StoreError, SyncStore

# Events accepted per transaction next to a running worker: a transaction holds SQLite's write lock,
# and the intake's group commit waits for it, so the chunk stays small (a few ms of work).
QUEUE_CHUNK_EVENTS = 2_000


def mark_path(store_path: str | Path) -> str:
    return str(store_path) + ".worker"


def hold_worker_mark(store_path: str | Path) -> IO:
    """Take the worker mark (the caller already holds the run lock); closing the handle lets it go."""
    handle = open(mark_path(store_path), "a+")  # noqa: SIM115 - held while the worker runs
    fcntl.flock(handle, fcntl.LOCK_EX)  # only a run-lock holder asks: never waits long
    return handle


def worker_running(store_path: str | Path) -> bool:
    """Whether a worker holds the mark of this store now."""
    path = mark_path(store_path)
    if not Path(path).exists():
        return False
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def nudge_worker(store_path: str | Path) -> None:
    """Tell the running worker that values were queued (it scans the store when the mark changes)."""
    try:
        os.utime(mark_path(store_path))
    except OSError:
        pass  # no mark: no worker; the values wait in the store for the next run


def mark_changed_at(store_path: str | Path) -> int:
    """When the mark was last nudged (ns), for the worker; 0 when absent."""
    try:
        return os.stat(mark_path(store_path)).st_mtime_ns
    except OSError:
        return 0


def lock_or_find_worker(store: SyncStore, wait: float) -> bool:
    """Take the run lock (True), or return False when a running worker holds it (queue only).

    Anything else holding the lock (another push) is waited for up to ``wait`` seconds, then
    reported with the usual one-line error.
    """
    try:
        store.lock(0)
        return True
    except StoreError:
        if worker_running(store.path):
            return False
    store.lock(wait)
    return True


def queue_only(store: SyncStore, lines: Iterable[str], rules: Rules, *, full_resync: bool = False,
               clock: Callable[[], float] = time.monotonic, chunk_events: int = QUEUE_CHUNK_EVENTS) -> PushReport:
    """The ``accept`` step of ``push`` without the sending: durable when it returns."""
    started = clock()
    report = PushReport()
    accept_input(store, lines, rules, report, full_resync=full_resync, chunk_events=chunk_events)
    nudge_worker(store.path)
    report.seconds = clock() - started
    return report
