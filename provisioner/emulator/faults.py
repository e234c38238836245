"""Injected faults (deterministic from a seed) and HubSpot's rate limits."""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from provisioner.emulator.settings import FAULT_KINDS, EmulatorSettings
from provisioner.emulator.wire import HubSpotError, error


class FaultPlan:
    """Which HubSpot requests fail and how: an exact sequence first, then a seeded share."""

    def __init__(self, settings: EmulatorSettings) -> None:
        self.configure(
            rate=settings.fault_rate, kinds=settings.fault_kinds, sequence=settings.fault_sequence,
            path=settings.fault_path, methods=settings.fault_methods, slow_s=settings.slow_s, seed=settings.seed,
        )

    def configure(self, *, rate: float = 0.0, kinds=None, sequence=(), path: str | None = None,
                  methods=None, slow_s: float = 2.0, seed: int = 0) -> None:
        kinds = tuple(str(k) for k in (kinds or ("500",)))
        sequence = [str(k) for k in sequence or ()]
        for kind in (*kinds, *sequence):
            if kind not in FAULT_KINDS:
                raise ValueError(f"unknown fault kind {kind!r}: one of {', '.join(FAULT_KINDS)}")
        if not 0.0 <= float(rate) <= 1.0:
            raise ValueError(f"fault rate must be between 0 and 1, not {rate}")
        self.rate = float(rate)
        self.kinds = kinds
        self.sequence = deque(sequence)
        self.path = path
        self.methods = tuple(m.upper() for m in methods) if methods else None
        self.slow_s = float(slow_s)
        self.seed = int(seed)
        self.rng = random.Random(self.seed)
        self.injected: dict[str, int] = {}

    def describe(self) -> dict:
        return {"rate": self.rate, "kinds": list(self.kinds), "sequence": list(self.sequence), "path": self.path,
                "methods": list(self.methods) if self.methods else None, "slow_s": self.slow_s, "seed": self.seed,
                "injected": dict(self.injected)}

    def next(self, method: str, path: str) -> str:
        """The fault for this request ("ok" for none)."""
        if self.path is not None and self.path not in path:
            return "ok"
        if self.methods is not None and method not in self.methods:
            return "ok"
        if self.sequence:
            kind = self.sequence.popleft()
        elif self.rate and self.rng.random() < self.rate:
            kind = self.rng.choice(self.kinds)
        else:
            return "ok"
        if kind != "ok":
            self.injected[kind] = self.injected.get(kind, 0) + 1
        return kind


def fault_answer(kind: str) -> HubSpotError:
    """The error answer for a fault kind that answers (not drops, not slow)."""
    if kind == "429":
        return rate_limited("TEN_SECONDLY_ROLLING")
    if kind == "429-daily":
        return rate_limited("DAILY")
    if kind == "423":
        return error(423, "LOCKED", "The resource is locked by another request; try again in about 2 seconds.")
    if kind == "500":
        return error(500, "INTERNAL_ERROR", "internal error")
    status = int(kind)
    # Gateways in front of HubSpot answer 502/503/504 with an HTML page, not HubSpot's JSON.
    text = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}[status]
    page = HubSpotError(status, {})
    page.html = f"<html><head><title>{status} {text}</title></head><body><h1>{status} {text}</h1></body></html>"
    return page


def rate_limited(policy: str) -> HubSpotError:
    window = "ten_secondly_rolling" if policy == "TEN_SECONDLY_ROLLING" else "daily"
    body = {"status": "error", "message": f"You have reached your {window} limit.", "errorType": "RATE_LIMIT",
            "correlationId": None, "policyName": policy}
    return HubSpotError(429, body)


class RateLimits:
    """A rolling burst window per app and a daily count that resets at the portal's midnight."""

    def __init__(self, settings: EmulatorSettings, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._wall = wall
        try:
            self.zone = ZoneInfo(settings.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            self.zone = ZoneInfo("UTC")
        self.configure(settings.burst_limit, settings.burst_window_s, settings.daily_limit)

    def configure(self, burst_limit: int | None, burst_window_s: float, daily_limit: int | None) -> None:
        if burst_limit is not None and burst_limit < 1 or daily_limit is not None and daily_limit < 1:
            raise ValueError("limits must be at least 1 (or null to switch them off)")
        if burst_window_s <= 0:
            raise ValueError("the burst window must be longer than 0 seconds")
        self.burst_limit = burst_limit
        self.burst_window_s = float(burst_window_s)
        self.daily_limit = daily_limit
        self._stamps: deque[float] = deque()
        self._day = self._today()
        self.daily_used = 0

    def describe(self) -> dict:
        self._expire()
        return {"burst_limit": self.burst_limit, "burst_window_s": self.burst_window_s,
                "daily_limit": self.daily_limit, "burst_used": len(self._stamps), "daily_used": self.daily_used}

    def _today(self):
        return datetime.fromtimestamp(self._wall(), tz=self.zone).date()

    def _expire(self) -> None:
        now = self._clock()
        while self._stamps and now - self._stamps[0] >= self.burst_window_s:
            self._stamps.popleft()
        today = self._today()
        if today != self._day:
            self._day, self.daily_used = today, 0

    def admit(self) -> str | None:
        """Count a request; the policy it broke (then it is not counted), or None."""
        self._expire()
        if self.daily_limit is not None and self.daily_used >= self.daily_limit:
            return "DAILY"
        if self.burst_limit is not None and len(self._stamps) >= self.burst_limit:
            return "TEN_SECONDLY_ROLLING"
        self._stamps.append(self._clock())
        self.daily_used += 1
        return None

    def headers(self) -> dict[str, str]:
        out = {}
        if self.burst_limit is not None:
            out["X-HubSpot-RateLimit-Max"] = str(self.burst_limit)
            out["X-HubSpot-RateLimit-Remaining"] = str(max(0, self.burst_limit - len(self._stamps)))
            out["X-HubSpot-RateLimit-Interval-Milliseconds"] = str(int(self.burst_window_s * 1000))
        if self.daily_limit is not None:
            out["X-HubSpot-RateLimit-Daily"] = str(self.daily_limit)
            out["X-HubSpot-RateLimit-Daily-Remaining"] = str(max(0, self.daily_limit - self.daily_used))
        return out

    def seconds_until_free(self) -> float:
        if self.burst_limit is None or len(self._stamps) < self.burst_limit:
            return 0.0
        return max(0.0, self.burst_window_s - (self._clock() - self._stamps[0]))
