"""A portal's rate-limit tokens, shared by every worker through its ``portal_queue`` row.

HubSpot counts a portal's requests in a rolling window (``per_window`` per ``window_s``, 100 or
190 per 10 s by tier). A token bucket of capacity ``burst`` refilled at ``(per_window - burst) /
window_s`` never lets more than ``burst + rate * window_s = per_window`` requests start in any
window, whatever the timing, and it keeps ``1 - burst / per_window`` of the ceiling (98%) once
the bucket runs dry. HubSpot's own figures correct the bucket after each answer: ``Max`` and
``Interval-Milliseconds`` set the limit, ``Remaining`` caps the tokens (the server's count wins
when it is lower), a 429 empties it. ``ready_at`` is when the next token is there: the claim
query needs no arithmetic, only ``ready_at <= now``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from provisioner.hubspot.limiter import MAX_HEADER, REMAINING_HEADER, WINDOW_S, int_header
from provisioner.hubspot.transport import RATE_WINDOW_HEADER

BURST_SHARE = 50  # the bucket holds a fiftieth of the window's requests (2 of 100): a steady stream gets 98%
RATE_LIMITED_PAUSE_SHARE = 10  # after a 429, wait a tenth of the window before trying again


def burst(per_window: int) -> float:
    return max(1.0, per_window / BURST_SHARE)


@dataclass(frozen=True)
class Bucket:
    per_window: int | None  # None: no limit known yet (the first answer's headers tell)
    window_s: float = WINDOW_S
    tokens: float = 0.0
    refilled_at: float = 0.0  # epoch seconds when ``tokens`` was counted

    @property
    def rate(self) -> float:
        """Tokens a second."""
        if self.per_window is None:
            return float("inf")
        return (max(2, self.per_window) - burst(self.per_window)) / self.window_s  # HubSpot's least is 10

    def at(self, now: float) -> Bucket:
        """The bucket refilled up to ``now``."""
        if self.per_window is None:
            return replace(self, refilled_at=now)
        elapsed = max(0.0, now - self.refilled_at)
        tokens = min(burst(self.per_window), self.tokens + elapsed * self.rate)
        return replace(self, tokens=tokens, refilled_at=max(now, self.refilled_at))

    def ready_at(self) -> float:
        """When the bucket holds a whole token again."""
        if self.per_window is None or self.tokens >= 1.0:
            return self.refilled_at
        return self.refilled_at + (1.0 - self.tokens) / self.rate

    def spend(self, now: float, requests: int, headers: Mapping[str, str] | None = None,
              rate_limited: bool = False) -> Bucket:
        """After an answer at ``now``: ``requests`` spent, corrected from HubSpot's headers."""
        per_window = int_header(headers, MAX_HEADER) or self.per_window
        interval_ms = int_header(headers, RATE_WINDOW_HEADER)
        window_s = min(interval_ms, 86_400_000) / 1000.0 if interval_ms else self.window_s
        after = replace(self.at(now), per_window=per_window, window_s=window_s)
        if per_window is None:
            return after
        tokens = min(after.tokens, burst(per_window)) - requests
        remaining = int_header(headers, REMAINING_HEADER)
        if remaining is not None:
            tokens = min(tokens, float(remaining))
        if rate_limited:
            tokens = min(tokens, -burst(per_window) - window_s / RATE_LIMITED_PAUSE_SHARE * after.rate)
        return replace(after, tokens=max(tokens, -float(per_window)))
