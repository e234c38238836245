"""The sync store's page size: CPU of one chunk's keyed reads and writes at a million deals.

    python benchmarks/bench_store_pages.py [--deals 1000000] [--chunk-deals 330000] [--sizes 4096,16384,32768]
                                           [--out benchmarks/results/store_pages.md]

A store of DEALS synced deals is seeded as bench_sync.py seeds it (schema 3, packed rows), then
copied into a store of each page size (WAL, synchronous=FULL, the store's cache size). Each
size then takes three chunks of CHUNK_DEALS random deals (what a 400,000-line chunk of
bench_sync's 2,000,000 events touches): the rows read a batch at a time with the store's own
statement, written back with its UPDATE (each row changed), one transaction a chunk, as an
accepted chunk does. The figure is CPU seconds of this process per chunk (the rule applied in
Python is left out: it does not depend on the page size).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_sync import T0, seed_store, snapshot  # noqa: E402
from provisioner.config import load_config  # noqa: E402
from provisioner.sync.events import Rules  # noqa: E402
from provisioner.sync.store import _READ, _SCHEMA, _UPDATE, CACHE_KIB  # noqa: E402


def copy_with_pages(seed: Path, path: Path, page_bytes: int) -> sqlite3.Connection:
    db = sqlite3.connect(str(path), isolation_level=None)
    db.execute(f"PRAGMA page_size={page_bytes}")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    db.executescript(_SCHEMA)
    db.execute("ATTACH ? AS seed", (str(seed),))
    db.execute("BEGIN")
    db.execute("INSERT INTO properties SELECT * FROM seed.properties")
    db.execute("INSERT INTO deals SELECT * FROM seed.deals ORDER BY deal_id")
    db.execute("COMMIT")
    db.execute("DETACH seed")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db


def chunk_cpu(db: sqlite3.Connection, ids: list[str], chunk_deals: int, rng: random.Random) -> float:
    chunk = sorted(rng.sample(ids, chunk_deals))
    started = time.process_time()
    db.execute("BEGIN IMMEDIATE")
    for start in range(0, len(chunk), 10_000):
        rows = db.execute(_READ, (json.dumps(chunk[start:start + 10_000]),)).fetchall()
        db.executemany(_UPDATE, [(deal, 1, 7, blob + b"") for deal, blob in rows])
    db.execute("COMMIT")
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--chunk-deals", type=int, default=330_000)
    parser.add_argument("--sizes", default="4096,16384,32768")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "store_pages.md"))
    args = parser.parse_args()
    rules = Rules.from_config(load_config(str(ROOT / "hubspot_schema.yaml")))
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    ids = [str(T0 + i) for i in range(args.deals)]
    seed_store(tmp / "seed.sqlite", ids, {d: snapshot(rng, d) for d in ids}, rules, 3)
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        path = tmp / f"pages-{size}.sqlite"
        db = copy_with_pages(tmp / "seed.sqlite", path, size)
        chunks = random.Random(args.seed)  # the same three chunks for every size
        cpu = [chunk_cpu(db, ids, args.chunk_deals, chunks) for _ in range(3)]
        db.close()
        rows.append(f"| {size:,} | {min(cpu):.2f} / {sorted(cpu)[1]:.2f} s | {os.path.getsize(path) / 2**20:.0f} MB |")
        print(rows[-1], flush=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    text = ("# Sync store page size\n\n"
            f"`{' '.join(['python', 'benchmarks/bench_store_pages.py', *sys.argv[1:]])}` on {os.cpu_count()} cores "
            f"(shared), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average at the end {load}: "
            f"{args.deals:,} deals, chunks of {args.chunk_deals:,} deals read and written back.\n\n"
            "| page size (bytes) | CPU per chunk, min / median of 3 | store size |\n|---|---|---|\n"
            + "\n".join(rows) + "\n")
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
