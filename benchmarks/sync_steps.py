"""Run a `provisioner` command in this process and write the CPU time of each step of the value sync.

    python benchmarks/sync_steps.py OUT.json sync push -f hubspot_schema.yaml --source events.jsonl

``bench_sync.py --steps`` runs its pushes through this. Each step's time is the main thread's CPU
time (``time.thread_time``) spent inside it, counted once when steps nest; the file also holds the
whole process's CPU time. The step functions are looked up by name, so an older code (run through
PYTHONPATH) is measured the same way; a step it does not have counts nothing.
"""

from __future__ import annotations

import atexit
import functools
import importlib
import json
import resource
import sys
import time

# step -> (module, attribute path) of the functions whose time it counts
STEPS = {
    "accept (store)": [("provisioner.sync.store", "SyncStore.accept_coalesced")],
    "accept (all)": [("provisioner.sync.engine", "accept_input")],
    "collector": [("provisioner.sync.engine", "release"), ("provisioner.sync.engine", "collect_between")],
    "send (all)": [("provisioner.sync.engine", "send_all")],
    "send: pending values": [("provisioner.sync.store", "SyncStore.pending_values")],
    "send: HTTP": [("provisioner.hubspot.deals", "DealEndpoints.batch_update_deals")],
    "send: record answers": [("provisioner.sync.engine", "_record")],
}


def _count(spent: dict[str, float], step: str, module: str, path: str) -> None:
    owner = importlib.import_module(module)
    *parents, name = path.split(".")
    for parent in parents:
        owner = getattr(owner, parent)
    function = getattr(owner, name, None)
    if function is None:
        return
    inside = [0]

    @functools.wraps(function)
    def counted(*args, **kwargs):
        if inside[0]:
            return function(*args, **kwargs)
        inside[0] += 1
        started = time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            inside[0] -= 1
            spent[step] = spent.get(step, 0.0) + time.thread_time() - started

    if isinstance(owner, type) and isinstance(owner.__dict__.get(name), staticmethod):
        counted = staticmethod(counted)
    setattr(owner, name, counted)


def main() -> None:
    out, argv = sys.argv[1], sys.argv[2:]
    spent: dict[str, float] = {}
    for step, places in STEPS.items():
        for module, path in places:
            _count(spent, step, module, path)

    def write() -> None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        with open(out, "w") as f:
            json.dump({"process": usage.ru_utime + usage.ru_stime, **spent}, f)

    atexit.register(write)
    from provisioner.cli import main as cli

    cli(argv)


if __name__ == "__main__":
    main()
