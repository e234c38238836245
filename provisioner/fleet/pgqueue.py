"""Workers on PostgreSQL: claim a portal, send one batch, record the answer, commit, in one transaction.

The pending registers are the queue (no second queue). One step:

1. ``SELECT ... FROM portal_queue ... FOR UPDATE OF q SKIP LOCKED LIMIT 1``: a portal whose
   tokens are there (``ready_at <= now``) and that has pending values; another worker skips it
   while this transaction lives, so one portal has one writer at a time, and the portal least
   recently sent to goes first.
2. Read up to ``batch`` (100) pending deals, send them in one request (a 400 splits it, as
   ``sync push`` does), and record HubSpot's answer inside the same transaction: confirmed values
   (a value that changed meanwhile stays pending: ``confirmed`` only ever says what HubSpot holds),
   parked values and dead letters.
3. Spend the portal's tokens (``pgbucket``), corrected from the answer's rate-limit headers; commit.

A worker killed at any instant takes its transaction with it: the row lock goes, nothing it did
not commit is kept, and the next claimer sends the same absolute values again (harmless). The
worker's sessions carry ``idle_in_transaction_session_timeout`` (``IDLE_IN_TX_S``), well above a
request's timeout (``REQUEST_TIMEOUT_S``), so a worker stuck between statements cannot hold a
claim or hold back vacuum for long. No NOTIFY (it serialises commits) and no session advisory
lock (it breaks behind a transaction pooler): idle workers poll.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from provisioner.errors import ConnectionFailed, DailyLimitError, ProvisionerError
from provisioner.fleet.pgbucket import Bucket
from provisioner.fleet.pgstore import PgDatabase, PortalStore
from provisioner.hubspot.batching import BATCH_LIMIT
from provisioner.hubspot.client import HubSpotClient
from provisioner.sync.engine import SendResult, send_pending
from provisioner.sync.events import Rules

log = logging.getLogger("provisioner.fleet")

REQUEST_TIMEOUT_S = 15.0  # one HTTP request of a worker, retries excluded
IDLE_IN_TX_S = 60  # the server ends a worker's transaction idle longer than this (frees its claim)
WORKER_SESSION = {"idle_in_transaction_session_timeout": f"{IDLE_IN_TX_S}s", "lock_timeout": "10s"}
DAILY_LIMIT_PAUSE_S = 300.0
FAILURE_PAUSE_S = 5.0
CLIENT_OPTIONS = {"request_timeout_s": REQUEST_TIMEOUT_S, "max_retries": 1, "backoff_cap_s": 2.0,
                  "deadline_s": None}

_CLAIM = (
    "WITH clock AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now)"
    " SELECT q.portal_id, q.per_window, q.window_s, q.tokens, q.refilled_at, clock.now"
    " FROM portal_queue q, clock WHERE q.ready_at <= clock.now{only}"
    " AND EXISTS (SELECT 1 FROM registers r WHERE r.portal_id = q.portal_id AND NOT r.parked"
    " AND r.confirmed IS DISTINCT FROM r.value)"
    " ORDER BY q.last_sent_at LIMIT 1 FOR UPDATE OF q SKIP LOCKED"
)
_SPENT = (
    "UPDATE portal_queue SET per_window = %(per_window)s, window_s = %(window_s)s, tokens = %(tokens)s,"
    " refilled_at = %(refilled_at)s, ready_at = %(ready_at)s, last_sent_at = %(now)s,"
    " requests = requests + %(requests)s, rate_limited = rate_limited + %(limited)s,"
    " last_headers = coalesce(%(headers)s::jsonb, last_headers), note = %(note)s WHERE portal_id = %(portal)s"
)


class HeaderTap:
    """In place of a worker client's own limiter: the portal's tokens in the store pace every worker
    at once; this keeps the last answer's headers for them."""

    def __init__(self) -> None:
        self.headers: dict[str, str] | None = None

    def wait(self) -> None:
        """Never waits: the claim waited for the portal's tokens."""

    def record(self, headers=None) -> None:
        if headers is not None:
            self.headers = {k: v for k, v in headers.items() if k.lower().startswith("x-hubspot-ratelimit")}


@dataclass
class Step:
    """What one claim did."""

    portal_id: int
    sent: SendResult | None = None
    requests: int = 0
    paused: str | None = None  # why the portal waits before its next claim
    writing: tuple[float, float] = (0.0, 0.0)  # monotonic: from the first request out to the last answer


class ClaimQueue:
    """Claims portals of ``database`` and sends their pending values with ``client_for(portal_id)``."""

    def __init__(self, database: PgDatabase, rules: Rules, client_for: Callable[[int], HubSpotClient], *,
                 batch: int = BATCH_LIMIT, portals: Sequence[int] | None = None) -> None:
        self.database = database
        self.rules = rules
        self._client_for = client_for
        self._clients: dict[int, tuple[HubSpotClient, HeaderTap]] = {}
        self.batch = batch
        self.portals = None if portals is None else sorted({int(p) for p in portals})
        self.last_step: Step | None = None

    def clients(self) -> list[HubSpotClient]:
        """The clients made so far (their stats count this queue's requests)."""
        return [client for client, _tap in self._clients.values()]

    def client(self, portal_id: int) -> tuple[HubSpotClient, HeaderTap]:
        held = self._clients.get(portal_id)
        if held is None:
            client = self._client_for(portal_id)
            tap = HeaderTap()
            client.transport.limiter = tap
            held = self._clients[portal_id] = (client, tap)
        return held

    def step(self) -> Step | None:
        """Claim one portal and send one batch; None when no portal can be sent to now."""
        only = "" if self.portals is None else " AND q.portal_id = ANY(%(portals)s)"
        with self.database.errors(), self.database.pool.connection() as conn:
            with conn.transaction():
                row = conn.execute(_CLAIM.format(only=only), {"portals": self.portals}).fetchone()
                if row is None:
                    return None
                step = Step(row[0])
                self._send(conn, step, row)
        self.last_step = step
        return step

    def _send(self, conn, step: Step, row: tuple) -> None:
        portal_id, per_window, window_s, tokens, refilled_at, now = row
        bucket = Bucket(per_window, window_s, tokens, refilled_at).at(now)
        started = time.monotonic()
        try:
            client, tap = self.client(portal_id)
        except ProvisionerError as exc:  # e.g. the portal is paused, or its token is not set
            step.paused = str(exc)
            self._spend(conn, step, bucket, now, now + DAILY_LIMIT_PAUSE_S, {})
            log.error("Portal %s: %s", portal_id, exc)
            return
        stats = client.stats
        before, limited = stats.requests, stats.rate_limited
        tap.headers = None
        store = PortalStore(self.database, portal_id, conn)
        sending = time.monotonic()
        step.sent = send_pending(store, client, max_deals=self.batch, rules=self.rules)
        step.writing = (sending, time.monotonic())
        step.requests = stats.requests - before
        was_limited = stats.rate_limited > limited
        after = bucket.spend(now + (time.monotonic() - started), step.requests, tap.headers, was_limited)
        ready_at = after.ready_at()
        error = step.sent.error
        if isinstance(error, DailyLimitError):
            step.paused = f"HubSpot's daily limit is spent: {error}"
            ready_at = max(ready_at, now + DAILY_LIMIT_PAUSE_S)
        elif error is not None or step.sent.failed:
            step.paused = step.sent.aborted or "a batch did not land"
            ready_at = max(ready_at, now + FAILURE_PAUSE_S)
        if step.paused:
            level = logging.ERROR if isinstance(error, ConnectionFailed | DailyLimitError) else logging.WARNING
            log.log(level, "Portal %s: %s; its values stay pending", portal_id, step.paused)
        self._spend(conn, step, after, now, ready_at, tap.headers, was_limited)

    @staticmethod
    def _spend(conn, step: Step, bucket: Bucket, now: float, ready_at: float, headers, limited: bool = False) -> None:
        conn.execute(_SPENT, {
            "per_window": bucket.per_window, "window_s": bucket.window_s, "tokens": bucket.tokens,
            "refilled_at": bucket.refilled_at, "ready_at": ready_at, "now": now, "requests": step.requests,
            "limited": int(limited), "headers": json.dumps(headers) if headers else None, "note": step.paused,
            "portal": step.portal_id})

    def resume_paused(self) -> int:
        """Let this queue's paused portals be claimed now (a command run by hand tries again at once;
        a portal still failing pauses itself again after one request). How many were paused."""
        only = "" if self.portals is None else " AND portal_id = ANY(%(portals)s)"
        with self.database.errors(), self.database.pool.connection() as conn:
            return conn.execute("UPDATE portal_queue SET ready_at = 0, note = NULL WHERE note IS NOT NULL" + only,
                                {"portals": self.portals}).rowcount

    def next_ready_in(self) -> float | None:
        """Seconds until a portal with pending values may be claimed (None: nothing pending)."""
        only = "" if self.portals is None else " AND q.portal_id = ANY(%(portals)s)"
        with self.database.errors(), self.database.pool.connection() as conn:
            row = conn.execute(
                "SELECT min(q.ready_at) - extract(epoch FROM clock_timestamp())::float8 FROM portal_queue q"
                " WHERE EXISTS (SELECT 1 FROM registers r WHERE r.portal_id = q.portal_id AND NOT r.parked"
                f" AND r.confirmed IS DISTINCT FROM r.value){only}", {"portals": self.portals}).fetchone()
        return None if row[0] is None else max(0.0, row[0])


def drain(queue: ClaimQueue, *, deadline: float, idle_s: float = 0.02, stop: Callable[[], bool] = lambda: False,
          give_up_after_s: float = 60.0, on_step: Callable[[Step], None] | None = None) -> list[Step]:
    """Claim and send until nothing is pending (or only portals paused longer than ``give_up_after_s``),
    ``stop()`` says so, or ``deadline`` (monotonic) passes. What another worker holds is waited for."""
    steps: list[Step] = []
    while time.monotonic() < deadline and not stop():
        step = queue.step()
        if step is not None:
            steps.append(step)
            if on_step is not None:
                on_step(step)
            continue
        wait = queue.next_ready_in()
        if wait is None or wait > give_up_after_s:
            break
        time.sleep(min(max(wait, idle_s), max(0.0, deadline - time.monotonic()), 1.0))
    return steps
