"""The worker: drains the queue into HubSpot, a batch as soon as it is worth sending.

A batch goes out when 100 deals are pending, or when the oldest pending value has waited
``max_delay`` seconds, or at once for a guard's restore (a hand-edited value should not stay
visible longer than it must), whichever comes first; every request goes through the client's rate
limiter. HubSpot's answer is recorded exactly as ``sync push`` records it (confirmed only after
the answer, split on 400, dead letters, missing deals), so a worker killed at any instant
re-sends on its next start only what was not confirmed.

Only one worker sends from a SQLite store at a time: it holds the store's run lock (the one
``sync push`` takes) and a second worker waits for it. The deals to look at come from the
intake in the same process (``notify``) and from a scan of the store at start and every
``rescan_s`` (values other processes queued: ``sync push`` next to a running worker only accepts,
see ``producer``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

from provisioner.errors import ConnectionFailed, DailyLimitError, ProvisionerError
from provisioner.hubspot.batching import BATCH_LIMIT
from provisioner.serve.metrics import Metrics
from provisioner.serve.producer import hold_worker_mark, mark_changed_at
from provisioner.serve.queue import Queue
from provisioner.sync.store import StoreError

log = logging.getLogger("provisioner.serve")
DAILY_LIMIT_PAUSE_S = 300.0
MAX_BACKOFF_S = 60.0
DEPTH_EVERY_S = 5.0


class Worker:
    def __init__(self, open_queue: Callable[[], Queue], client, metrics: Metrics, *, max_delay: float,
                 rescan_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._open_queue = open_queue
        self.client = client
        self.metrics = metrics
        self.max_delay = max_delay
        self.rescan_s = rescan_s
        self._clock = clock
        self._cond = threading.Condition()
        self._since: OrderedDict[str, float] = OrderedDict()  # deal -> when it became pending (oldest first)
        self._last: dict[str, float] = {}  # deal -> its newest notification
        self._urgent: set[str] = set()  # restores: sent at once, not after max_delay
        self._stop = False
        self._drain_until: float | None = None
        self.paused_until = 0.0  # daily limit or repeated failures
        self.daily_limited = False
        self.portal_reachable: bool | None = None
        self.has_lock = False
        self._mark = None
        self.thread = threading.Thread(target=self._run, name="worker", daemon=True)

    # ---- called from other threads -----------------------------------------------------------------
    def notify(self, deals: Iterable[str], *, urgent: bool = False) -> None:
        now = self._clock()
        with self._cond:
            for deal in deals:
                self._last[deal] = now
                self._since.setdefault(deal, now)
                if urgent:
                    self._urgent.add(deal)
            self._cond.notify()

    @property
    def pending_deals(self) -> int:
        return len(self._since)

    def drain(self, deadline: float) -> None:
        """Send everything pending now, until ``deadline`` (monotonic), then stop."""
        with self._cond:
            self._drain_until = deadline
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()

    # ---- the loop ------------------------------------------------------------------------------------
    def _run(self) -> None:
        queue = self._open_queue()
        try:
            if not self._take_lock(queue):
                return
            self._loop(queue)
        except Exception:
            log.exception("The worker stopped on an unexpected error; pending values stay in the store")
        finally:
            if self._mark is not None:
                self._mark.close()
            queue.close()

    def _take_lock(self, queue: Queue) -> bool:
        waiting = False
        while True:
            try:
                queue.store.lock()
                self._mark = hold_worker_mark(queue.store.path)  # `sync push` now queues for this worker
                self.has_lock = True
                if waiting:
                    log.warning("Took the store's run lock; sending")
                return True
            except StoreError:
                if not waiting:
                    log.warning("Another run holds the store's run lock; waiting for it")
                    waiting = True
            with self._cond:
                if self._stop or self._drain_until is not None:
                    return False
                self._cond.wait(0.5)

    def _loop(self, queue: Queue) -> None:
        next_scan = 0.0
        next_depth = 0.0
        backoff = 0.0
        seen_nudge = mark_changed_at(queue.store.path)
        while True:
            now = self._clock()
            nudged = mark_changed_at(queue.store.path)
            if now >= next_scan or nudged != seen_nudge:  # periodically, or when `sync push` queued values
                seen_nudge = nudged
                self.notify(queue.pending_deal_ids())
                next_scan = now + self.rescan_s
            if now >= next_depth:
                self.metrics.queue_depth.set(queue.depth())
                next_depth = now + DEPTH_EVERY_S
            with self._cond:
                draining = self._drain_until is not None
                if self._stop or (draining and (not self._since or now >= self._drain_until)):
                    return
                oldest = next(iter(self._since.values()), None)
                self.metrics.pending_deals.set(len(self._since))
                self.metrics.oldest_pending.set(0 if oldest is None else now - oldest)
                due = oldest is not None and (draining or len(self._since) >= BATCH_LIMIT or bool(self._urgent)
                                              or now - oldest >= self.max_delay)
                if due and now < self.paused_until:
                    due = False
                if not due:
                    wake = min(next_scan, next_depth)
                    if oldest is not None:
                        wake = min(wake, max(oldest + self.max_delay, self.paused_until))
                    self._cond.wait(max(0.005, min(wake - now, 1.0)))
                    continue
                candidates = list(self._urgent) + [d for d in list(self._since)[: BATCH_LIMIT * 2]
                                                   if d not in self._urgent]
                self._urgent.clear()
            if self._send_one(queue, candidates):
                backoff = 0.0
            else:
                backoff = min(MAX_BACKOFF_S, max(1.0, backoff * 2))
                self.paused_until = max(self.paused_until, self._clock() + backoff)

    def _send_one(self, queue: Queue, candidates: list[str]) -> bool:
        """Send the oldest pending deals; False when the batch did not fully land (back off)."""
        work = queue.pending(candidates, limit=BATCH_LIMIT)
        started = self._clock()
        found = {deal for deal, _values in work}
        with self._cond:
            for deal in candidates:
                if deal not in found and self._last.get(deal, 0.0) <= started:
                    self._forget(deal)
        if not work:
            return True
        stats = self.client.stats
        before, limited = dict(stats.by_status), stats.rate_limited
        self.metrics.batch_size.observe(len(work))
        try:
            report, written = queue.send(self.client, work)
        except DailyLimitError as exc:
            self.daily_limited = True
            self.paused_until = self._clock() + DAILY_LIMIT_PAUSE_S
            log.error("HubSpot's daily limit is spent; sending again in %.0f s: %s", DAILY_LIMIT_PAUSE_S, exc)
            return True
        except ConnectionFailed as exc:
            self.portal_reachable = False
            log.error("Cannot reach HubSpot; the values stay pending: %s", exc)
            return False
        except ProvisionerError as exc:
            log.error("Sending stopped; the values stay pending: %s%s", exc, f" (hint: {exc.hint})" if exc.hint else "")
            return False
        finally:
            self.metrics.count_client(before, dict(stats.by_status), stats.rate_limited - limited)
        self.portal_reachable = True
        self.daily_limited = False
        now = self._clock()
        with self._cond:
            for deal in written:
                since = self._since.get(deal)
                if since is not None:
                    self.metrics.latency.observe(now - since)
                if self._last.get(deal, 0.0) > started:
                    self._since.pop(deal, None)
                    self._since[deal] = self._last[deal]  # a newer value arrived while sending
                else:
                    self._forget(deal)
        if report.rejected or report.missing:
            self.metrics.dead_letters.labels(origin="hubspot").inc(report.rejected + report.missing)
        for problem in report.problems[:20]:
            log.warning("Deal %s %s: %s", problem.deal_id, problem.kind, problem.reason)
        with self._cond:
            for problem in report.problems:
                if problem.kind in ("rejected", "missing") and problem.deal_id:
                    self._forget(problem.deal_id)
        return not report.failed

    def _forget(self, deal: str) -> None:
        self._since.pop(deal, None)
        self._last.pop(deal, None)
        self._urgent.discard(deal)
