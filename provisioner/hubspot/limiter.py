"""Pacing requests under HubSpot's limits: even within the window, and per second when HubSpot says so.

HubSpot counts requests per app in a rolling window (100 or 190 per 10 s by tier) and, on some
private apps, per second as well: a 2026 answer still carried ``X-HubSpot-RateLimit-Secondly: 10``
beside the documented headers. Letting a whole window's worth go at once meets that per-second
limit with 429s, so requests are paced evenly: starts at least window/limit apart (0.1 s at
100 per 10 s, which costs no throughput: 100 requests still fit each window), and at least
1/per-second apart once an answer announces a per-second figure.

Invariants, for any request latencies: never more than ``per_window`` requests in any window, and
never more than ``per_second`` in any second once one is announced. Requests are counted when
their answer arrives, which is never earlier than HubSpot counted them, so the client's windows
always trail the server's. The limiter is shared safely by threads (a waiting thread holds the
turn, so requests leave in order).
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections import deque
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)

# Requests per 10-second window, per app (hubspot-api-facts section 7); None: no limit (local portal).
TIERS = {"starter": 100, "professional": 190, "enterprise": 190, "increase": 250, "unlimited": None}
WINDOW_S = 10.0
SECOND_S = 1.0
# A wait computed to end exactly at a boundary may land a hair before it in floating point.
_MARGIN_S = 1e-6

_WHOLE = re.compile(r"[0-9]{1,12}")  # ASCII digits only: "²".isdigit() is true
MAX_HEADER = "X-HubSpot-RateLimit-Max"
REMAINING_HEADER = "X-HubSpot-RateLimit-Remaining"
SECONDLY_HEADER = "X-HubSpot-RateLimit-Secondly"
SECONDLY_REMAINING_HEADER = "X-HubSpot-RateLimit-Secondly-Remaining"


def int_header(headers: Mapping[str, str] | None, name: str) -> int | None:
    """A header's whole non-negative number, or None when absent or not such a number."""
    value = (headers or {}).get(name)
    text = str(value).strip() if value is not None else ""
    return int(text) if _WHOLE.fullmatch(text) else None


class RateLimiter:
    """A paced sliding-window limiter sized by the tier and corrected by HubSpot's rate-limit headers."""

    def __init__(self, per_window: int | None, window_s: float = WINDOW_S, *, clock: Callable[[], float],
                 sleep: Callable[[float], None], per_second: int | None = None) -> None:
        self.per_window = per_window
        self.window_s = window_s
        self.per_second = per_second
        self._clock = clock
        self._sleep = sleep
        self._answers: deque[float] = deque()  # when answers arrived, oldest first
        self._slot: float | None = None  # the instant the last start was due (its place in the pace)
        self._lock = threading.Lock()

    @property
    def interval_s(self) -> float:
        """The least time between two request starts."""
        gaps = [0.0]
        if self.per_window:
            gaps.append(self.window_s / self.per_window)
        if self.per_second:
            gaps.append(SECOND_S / self.per_second)
        return max(gaps)

    def delay(self, now: float) -> float:
        """How long from ``now`` until the next request may start (0 when it may start at once)."""
        if self.per_window is None:
            return 0.0
        ready = -math.inf
        if self._slot is not None:
            ready = self._slot + self.interval_s + _MARGIN_S  # the margin keeps n starts beyond n-1 intervals
        ready = max(ready, self._free_at(self.per_window, self.window_s), self._free_at(self.per_second, SECOND_S))
        return max(0.0, ready - now)

    def _free_at(self, limit: int | None, span: float) -> float:
        """When fewer than ``limit`` answers will lie within the last ``span`` seconds."""
        if not limit or len(self._answers) < limit:
            return -math.inf
        return self._answers[-limit] + span

    def wait(self) -> None:
        """Sleep until the next request may start, then count its start."""
        with self._lock:
            if self.per_window is None:
                return
            now = self._clock()
            delay = self.delay(now)
            if delay > 0:
                log.debug("Rate limiter waits %.3fs", delay)
                self._sleep(delay + _MARGIN_S)
            start = self._clock()
            # A start late by up to one interval (the previous answer, or the work between two
            # requests, took longer than the pace) keeps its place in the pace: the next may follow
            # sooner, so slow turns are made up. Later than that, the pace starts again from here.
            due = start if self._slot is None else max(self._slot + self.interval_s + _MARGIN_S,
                                                       start - self.interval_s)
            self._slot = min(due, start)

    def record(self, headers: Mapping[str, str] | None = None) -> None:
        """Count an answer (or a failed attempt) now, and adopt what its rate-limit headers say."""
        with self._lock:
            now = self._clock()
            self._answers.append(now)
            if self.per_window is None:
                return
            self._adopt(headers, now)
            horizon = now - max(self.window_s, SECOND_S)
            keep = max(self.per_window, self.per_second or 0)
            while len(self._answers) > keep and self._answers[0] <= horizon:
                self._answers.popleft()

    def _adopt(self, headers: Mapping[str, str] | None, now: float) -> None:
        if not headers:
            return
        maximum = int_header(headers, MAX_HEADER)
        if maximum and maximum < self.per_window:
            log.info("Detected a lower rate limit from HubSpot: %d per window", maximum)
            self.per_window = maximum
        secondly = int_header(headers, SECONDLY_HEADER)
        # More a second than the window allows would mean nothing (and bounds what is counted).
        if secondly and secondly <= self.per_window and secondly != self.per_second:
            log.info("Detected HubSpot's per-second limit: %d a second; pacing by it", secondly)
            self.per_second = secondly
        self._catch_up(self.per_window, self.window_s, int_header(headers, REMAINING_HEADER), now)
        self._catch_up(self.per_second, SECOND_S, int_header(headers, SECONDLY_REMAINING_HEADER), now)

    def _catch_up(self, limit: int | None, span: float, remaining: int | None, now: float) -> None:
        """Where HubSpot counts more requests in a window than we do (other clients of the same app),
        count as many: the extra ones as old as the oldest we know in that window."""
        if not limit or remaining is None:
            return
        in_window = [stamp for stamp in self._answers if stamp > now - span]
        missing = min(limit, limit - remaining) - len(in_window)
        if missing > 0:
            oldest = in_window[0] if in_window else now
            position = len(self._answers) - len(in_window)
            for _ in range(missing):
                self._answers.insert(position, oldest)
