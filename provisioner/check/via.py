"""``check --via URL``: the synthetic snapshot through a running ``provisioner serve``, not ``sync push``.

The snapshot is posted to the service's signed intake (``POST /v1/events``, Standard Webhooks
signature made with the first key of ``PROVISIONER_WEBHOOK_SECRET``, the service's own variable);
the service's worker then writes it to the deal. Event-to-deal latency is the time from the post
to the first read that shows every value.

The service records the snapshot in its sync store (the file's ``sync.store``). Once the values
are on the deal and the service has recorded HubSpot's confirmation, ``forget_test_deal`` removes
exactly what the check added there: the test deal's registers (desired and confirmed values),
any dead letter, and the two dedup keys of the check's delivery, so the store is as if the check
never ran.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from provisioner.errors import ProvisionerError, UsageError
from provisioner.serve.signatures import parse_keys, sign_standard
from provisioner.sync.packed import CONFIRMED
from provisioner.sync.store import read_registers

WEBHOOK_SECRET_VARIABLE = "PROVISIONER_WEBHOOK_SECRET"
INTAKE_PATH = "/v1/events"
POST_TIMEOUT_S = 10.0
VIA_DEADLINE_S = 30.0  # the service sends within --max-delay (1 s by default); HubSpot may be slower
VIA_INTERVAL_S = 0.05
MAX_ANSWER = 1_000_000


class ViaError(ProvisionerError):
    """The service's intake did not take the snapshot (``answered``: it said so, so nothing was queued)."""

    answered = False


class ViaRefused(ViaError):
    answered = True


def intake_url(via: str) -> str:
    """The intake address from --via: the service's base URL, or its full events URL."""
    parts = urlsplit(via.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"--via {via!r}: expected the service's URL, e.g. http://127.0.0.1:8080")
    path = parts.path.rstrip("/")
    if not path.endswith("/events"):
        path += INTAKE_PATH
    return f"{parts.scheme}://{parts.netloc}{path}"


def webhook_key() -> bytes:
    """The key to sign with: the first of PROVISIONER_WEBHOOK_SECRET (never printed)."""
    try:
        keys = parse_keys(os.environ.get(WEBHOOK_SECRET_VARIABLE))
    except ValueError as exc:
        raise UsageError(f"{WEBHOOK_SECRET_VARIABLE}: {exc}") from None
    if not keys:
        raise UsageError(f"--via needs {WEBHOOK_SECRET_VARIABLE}, the key the service checks signatures with")
    return keys[0]


def delivery_id() -> str:
    return f"provisioner-check-{secrets.token_hex(8)}"


def post_snapshot(url: str, line: str, key: bytes, msg_id: str, *, timeout: float = POST_TIMEOUT_S) -> dict:
    """Post one record, signed; returns the service's answer, or raises ViaError saying why not."""
    body = line.encode("utf-8")
    stamp = int(time.time())
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(stamp),
        "webhook-signature": sign_standard(key, msg_id, stamp, body),
    })
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - http(s) only, checked
            status, text = answer.status, answer.read(MAX_ANSWER)
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read(MAX_ANSWER)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ViaError(f"the service at {url} cannot be reached: {reason}") from None
    try:
        data = json.loads(text or b"{}")
    except ValueError:
        data = {}
    data = data if isinstance(data, dict) else {}
    if status != 202:
        message = data.get("message")
        raise ViaRefused(f"the service answered {status}: {message or text[:200].decode('utf-8', 'replace')}")
    results = data.get("results") or [{}]
    if data.get("accepted") != 1:
        result = results[0]
        raise ViaRefused(f"the service did not accept the snapshot: {result.get('result')}"
                       + (f" ({result['reason']})" if result.get("reason") else ""))
    return data


def has_confirmed(store_path: str, deal_id: str, values: dict[str, str]) -> bool:
    """Whether the service's store holds HubSpot's confirmation of every value (read-only)."""
    try:
        with sqlite3.connect(f"file:{store_path}?mode=ro", uri=True, timeout=5) as db:
            held = read_registers(db, [deal_id]).get(deal_id, {})
    except sqlite3.Error:
        return False
    return all(prop in held and held[prop][CONFIRMED] == value for prop, value in values.items())


# Tables of the sync store (and the service's own) whose rows belong to one deal.
_DEAL_TABLES = ("deals", "dead_letters", "guard_edits", "deals_gone")


def read_deal_rows(store_path: str, deal_id: str) -> dict[str, list[tuple]]:
    """Every row the service's store holds for ``deal_id``, table by table (to put back afterwards)."""
    if not os.path.exists(store_path):
        raise ViaError(f"the service's sync store {store_path} does not exist",
                       hint="run check with the same file (and environment) as `provisioner serve`")
    with sqlite3.connect(f"file:{store_path}?mode=ro", uri=True, timeout=5) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return {
            table: db.execute(f"SELECT * FROM {table} WHERE deal_id = ?", (deal_id,)).fetchall()  # noqa: S608
            for table in _DEAL_TABLES if table in tables
        }


def put_back_deal_rows(store_path: str, deal_id: str, rows: dict[str, list[tuple]], dedup_keys: list[str]) -> None:
    """Make the deal's rows what they were before the check, and drop its delivery's dedup keys (one transaction)."""
    with sqlite3.connect(store_path, timeout=10, isolation_level=None) as db:
        db.execute("BEGIN IMMEDIATE")
        try:
            for table, before in rows.items():
                db.execute(f"DELETE FROM {table} WHERE deal_id = ?", (deal_id,))  # noqa: S608 - fixed names
                if before:
                    marks = ", ".join("?" * len(before[0]))
                    db.executemany(f"INSERT INTO {table} VALUES ({marks})", before)  # noqa: S608
            if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'serve_seen'").fetchone():
                db.executemany("DELETE FROM serve_seen WHERE key = ?", ((key,) for key in dedup_keys))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
