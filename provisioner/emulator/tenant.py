"""One portal inside the emulator: its data, identity, limits, faults, request counts and lock.

The emulator holds one or more of these (``Emulator.tenants``); a request's bearer token picks
one, and only that portal's lock is taken for it, so requests to different portals never wait
on each other. Each tenant has its own copy of the settings (portal id, token, limits), so every
answer that names a portal (account details, token info, record URLs, 429 group names, value
errors) names its own.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable

from provisioner.emulator.faults import FaultPlan, RateLimits
from provisioner.emulator.persist import Store
from provisioner.emulator.settings import EmulatorSettings
from provisioner.emulator.state import ACCESS_LEVELS, Portal


class Tenant:
    """A portal and everything kept per portal; change it only under ``lock``."""

    def __init__(self, settings: EmulatorSettings, *, tier: str | None = None, refresh_token_sha: str | None = None,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
                 state_file: str | None = None) -> None:
        self.settings = settings
        self.portal_id = settings.portal_id
        self.tier = tier
        self.refresh_token_sha = refresh_token_sha  # sha-256 of the OAuth refresh token; None: a private-app token
        self.revoked = False
        self.lock = threading.RLock()
        self.portal = Portal(lag=(settings.lag_min_s, max(settings.lag_min_s, settings.lag_max_s)),
                             seed=settings.seed, clock=clock)
        self.faults = FaultPlan(settings)
        self.limits = RateLimits(settings, clock=clock, wall=wall)
        self.counts: Counter = Counter()
        self.webhooks = None  # a webhooks.WebhookSender, when app webhooks are on for this portal
        self.store: Store | None = None
        if state_file:
            self.store = Store(state_file, settings.state_lock_wait_s)
            if not self.store.load_into(self.portal):
                self.store.write_all(self.portal)

    def describe(self) -> dict:
        """What ``GET /__emulator__/portals`` shows of it (never a token)."""
        return {"portal_id": self.portal_id, "tier": self.tier, "oauth": self.refresh_token_sha is not None,
                "revoked": self.revoked, "burst_limit": self.limits.burst_limit, "daily_limit": self.limits.daily_limit}

    def persist(self) -> None:
        """Write what the last change touched through to the state file (under ``lock``)."""
        portal = self.portal
        if not portal.dirty:
            return
        dirty, portal.dirty = portal.dirty, set()
        if self.store is not None:
            self.store.write(portal, dirty)

    # ---- direct control (what /__emulator__/ does over HTTP) --------------------------------------------
    def reset(self) -> None:
        """An empty portal: HubSpot's own groups and deal properties only; limits and faults cleared."""
        with self.lock:
            self.portal.clear()
            self.portal.dirty.clear()
            limits = self.limits
            limits.configure(limits.burst_limit, limits.burst_window_s, limits.daily_limit, limits.enforce_secondly)
            self.faults.configure(seed=self.settings.seed)
            self.counts.clear()
            if self.store is not None:
                self.store.write_all(self.portal)

    def set_faults(self, **options) -> None:
        with self.lock:
            self.faults.configure(**{"seed": self.settings.seed, **options})

    def set_rate_limits(self, burst_limit: int | None, burst_window_s: float = 10.0,
                        daily_limit: int | None = None, enforce_secondly: bool = False) -> None:
        with self.lock:
            self.limits.configure(burst_limit, burst_window_s, daily_limit, enforce_secondly)

    def ui_set_access(self, name: str, level: str) -> None:
        if level not in ACCESS_LEVELS:
            raise ValueError(f"access must be one of {', '.join(ACCESS_LEVELS)}, not {level!r}")
        with self.lock:
            prop = self.portal.properties.get(name)
            if prop is None or prop["archived"]:
                raise KeyError(name)
            self.portal.ui_access[name] = level
            self.portal.dirty.add(("meta", "ui_access"))
            self.persist()

    def ui_access(self, name: str | None = None):
        with self.lock:
            props = self.portal.properties
            if name is not None:
                if name not in props or props[name]["archived"]:
                    raise KeyError(name)
                return self.portal.ui_access.get(name, "view_and_edit")
            return {n: self.portal.ui_access.get(n, "view_and_edit") for n, p in props.items()
                    if not p["archived"] and not p.get("hubspotDefined")}

    def ui_set_sidebar(self, checked: list[dict]) -> None:
        with self.lock:
            self.portal.ui_sidebar = checked
            self.portal.dirty.add(("meta", "ui_sidebar"))
            self.persist()

    def ui_sidebar(self) -> list[dict]:
        with self.lock:
            return json.loads(json.dumps(self.portal.ui_sidebar))

    def deal_count(self) -> int:
        with self.lock:
            return sum(1 for deal in self.portal.deals.values() if not deal.archived)

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None
