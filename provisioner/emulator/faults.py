"""Injected faults (deterministic from a seed) and HubSpot's rate limits."""

from __future__ import annotations

import random
import time
import uuid
from collections import deque
from collections.abc import Callable
from datetime import datetime
from http import HTTPStatus
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from provisioner.emulator.settings import FAULT_KINDS, EmulatorSettings
from provisioner.emulator.wire import HubSpotError, error

TEN_SECONDLY, DAILY, SECONDLY = "TEN_SECONDLY_ROLLING", "DAILY", "SECONDLY"


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


def fault_answer(kind: str, settings: EmulatorSettings) -> HubSpotError:
    """The error answer for a fault kind that answers (not drops, not slow)."""
    if kind == "429":
        return rate_limited(TEN_SECONDLY, settings)
    if kind == "429-daily":
        return rate_limited(DAILY, settings)
    if kind == "423":
        return error(423, "LOCKED", "The resource is locked by another request; try again in about 2 seconds.")
    if kind == "500":
        return error(500, "INTERNAL_ERROR", "internal error")
    status = int(kind)
    # Gateways in front of HubSpot answer 502/503/504 with an HTML page, not HubSpot's JSON.
    text = HTTPStatus(status).phrase
    return HubSpotError(status, f"<html><head><title>{status} {text}</title></head><body><h1>{status} {text}</h1>"
                                "</body></html>")


def rate_limited(policy: str, settings: EmulatorSettings) -> HubSpotError:
    """HubSpot's 429 bodies, key for key as recorded (docs/emulator.md, conformance fixtures)."""
    if policy == SECONDLY:  # recorded without policyName or correlationId
        body = {"status": "error", "message": "You have reached your secondly limit.", "errorType": "RATE_LIMIT"}
        return HubSpotError(429, body)
    body = {"status": "error", "message": f"You have reached your {policy.lower()} limit.", "errorType": "RATE_LIMIT",
            "correlationId": None, "policyName": policy}
    if policy == DAILY:
        body["requestId"] = str(uuid.uuid4())
    else:
        body["groupName"] = f"publicapi:private_app-api-calls-ten-secondly:{settings.app_id}:{settings.portal_id}"
    return HubSpotError(429, body)


class RateLimits:
    """A rolling burst window per app, its per-second figure, and a daily count reset at the portal's midnight.

    HubSpot announces ``X-HubSpot-RateLimit-Secondly`` (a tenth of a 10-second window's limit) on
    private-app answers; whether it refuses a burst over that figure is not recorded, so refusing is
    a switch (``enforce_secondly``), off by default.
    """

    def __init__(self, settings: EmulatorSettings, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._wall = wall
        try:
            self.zone = ZoneInfo(settings.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            self.zone = ZoneInfo("UTC")
        self.configure(settings.burst_limit, settings.burst_window_s, settings.daily_limit,
                       settings.enforce_secondly_limit)

    def configure(self, burst_limit: int | None, burst_window_s: float, daily_limit: int | None,
                  enforce_secondly: bool = False) -> None:
        if burst_limit is not None and burst_limit < 1 or daily_limit is not None and daily_limit < 1:
            raise ValueError("limits must be at least 1 (or null to switch them off)")
        if burst_window_s <= 0:
            raise ValueError("the burst window must be longer than 0 seconds")
        self.burst_limit = burst_limit
        self.burst_window_s = float(burst_window_s)
        self.daily_limit = daily_limit
        self.enforce_secondly = bool(enforce_secondly)
        self._stamps: deque[float] = deque()
        self._day = self._today()
        self.daily_used = 0

    def describe(self) -> dict:
        self._expire()
        return {"burst_limit": self.burst_limit, "burst_window_s": self.burst_window_s,
                "daily_limit": self.daily_limit, "secondly_limit": self.secondly_limit,
                "enforce_secondly": self.enforce_secondly, "burst_used": len(self._stamps),
                "secondly_used": self._last_second(), "daily_used": self.daily_used}

    @property
    def secondly_limit(self) -> int | None:
        """The per-second figure HubSpot announces: the window's limit spread over its seconds."""
        if self.burst_limit is None:
            return None
        return max(1, int(self.burst_limit / max(1.0, self.burst_window_s)))

    def _last_second(self) -> int:
        now, used = self._clock(), 0
        for stamp in reversed(self._stamps):
            if now - stamp >= 1.0:
                break
            used += 1
        return used

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
            return DAILY
        if self.burst_limit is not None and len(self._stamps) >= self.burst_limit:
            return TEN_SECONDLY
        if self.enforce_secondly and self.burst_limit is not None and self._last_second() >= self.secondly_limit:
            return SECONDLY
        self._stamps.append(self._clock())
        self.daily_used += 1
        return None

    def headers(self) -> dict[str, str]:
        out = {}
        if self.burst_limit is not None:
            out["X-HubSpot-RateLimit-Max"] = str(self.burst_limit)
            out["X-HubSpot-RateLimit-Remaining"] = str(max(0, self.burst_limit - len(self._stamps)))
            out["X-HubSpot-RateLimit-Interval-Milliseconds"] = str(int(self.burst_window_s * 1000))
            out["X-HubSpot-RateLimit-Secondly"] = str(self.secondly_limit)
            out["X-HubSpot-RateLimit-Secondly-Remaining"] = str(max(0, self.secondly_limit - self._last_second()))
        if self.daily_limit is not None:
            out["X-HubSpot-RateLimit-Daily"] = str(self.daily_limit)
            out["X-HubSpot-RateLimit-Daily-Remaining"] = str(max(0, self.daily_limit - self.daily_used))
        return out

    def seconds_until_free(self) -> float:
        if self.burst_limit is None or len(self._stamps) < self.burst_limit:
            return 0.0 if not self.enforce_secondly or self.burst_limit is None else 1.0
        return max(0.0, self.burst_window_s - (self._clock() - self._stamps[0]))
