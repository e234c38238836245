"""Adding, finding and revoking the emulator's portals (the ``Emulator``'s part that manages them).

The ``Emulator`` keeps ``tenants`` (portal id -> ``Tenant``, the default one first), ``tokens``
(a ``TokenBook``), ``registry`` (the state file's ``portals`` table, or None) and ``settings``;
this mixin adds and restores portals in them. Adding takes ``_add_lock``; finding takes no lock
(a dict read), so a request never waits for a portal being added. ``portal_hooks`` are called
with each portal added (the webhooks attach a sender to it).
"""

from __future__ import annotations

import dataclasses

from provisioner.emulator.oauth import digest
from provisioner.emulator.registry import FORGET_AFTER_S, PortalConflict, PortalRegistry, check_new_portal
from provisioner.emulator.tenant import Tenant


class Portals:
    def tenant(self, portal_id: int | None = None) -> Tenant:
        """The portal with this id (the default one for None); KeyError when there is none."""
        if portal_id is None:
            return self.default
        return self.tenants[portal_id]

    def add_portal(self, portal_id: int, *, token: str | None = None, refresh_token: str | None = None,
                   burst_limit: int | None | object = ..., daily_limit: int | None | object = ...,
                   tier: str | None = None) -> Tenant:
        """Add a portal (checked as ``POST /__emulator__/portals``); ValueError or PortalConflict."""
        data: dict = {"portal_id": portal_id}
        data.update({k: v for k, v in (("token", token), ("refresh_token", refresh_token), ("tier", tier))
                     if v is not None})
        data.update({k: v for k, v in (("burst_limit", burst_limit), ("daily_limit", daily_limit)) if v is not ...})
        return self.add_portal_from(data)

    def add_portal_from(self, data) -> Tenant:
        """Add the portal a ``POST /__emulator__/portals`` body describes; ValueError or PortalConflict."""
        spec = check_new_portal(data, self.settings.burst_limit, self.settings.daily_limit)
        with self._add_lock:
            if spec.portal_id in self.tenants:
                raise PortalConflict(f"portal {spec.portal_id} already exists")
            secret = spec.token or spec.refresh_token
            sha = digest(secret)
            if sha in self.tokens.private or sha in self.tokens.refresh or secret == self.settings.token:
                raise PortalConflict("that token already belongs to another portal")
            row = {"portal_id": spec.portal_id, "tier": spec.tier, "burst_limit": spec.burst_limit,
                   "daily_limit": spec.daily_limit, "token_sha": sha if spec.token else None,
                   "refresh_sha": sha if spec.refresh_token else None, "revoked": False}
            tenant = self._open_tenant(row)
            if self.registry is not None:
                self.registry.save(row)
        return tenant

    def _open_tenant(self, row: dict) -> Tenant:
        settings = dataclasses.replace(self.settings, portal_id=row["portal_id"], token=None,
                                       burst_limit=row["burst_limit"], daily_limit=row["daily_limit"],
                                       state_file=None, request_log=None)
        state_file = f"{self.settings.state_file}.portal-{row['portal_id']}" if self.settings.state_file else None
        tenant = Tenant(settings, tier=row["tier"], refresh_token_sha=row["refresh_sha"], clock=self._clock,
                        wall=self._wall, state_file=state_file)
        tenant.revoked = bool(row["revoked"])
        if row["token_sha"]:
            self.tokens.private[row["token_sha"]] = tenant.portal_id
        if row["refresh_sha"] and not tenant.revoked:
            self.tokens.refresh[row["refresh_sha"]] = tenant.portal_id
        self.tenants[tenant.portal_id] = tenant
        for hook in self.portal_hooks:
            hook(tenant)
        return tenant

    def _restore(self, registry: PortalRegistry) -> None:
        for row in registry.rows():
            if row["portal_id"] not in self.tenants:
                self._open_tenant(row)
        now = self._wall()
        for sha, portal_id, expires in registry.access_tokens():
            if portal_id in self.tenants and expires > now - FORGET_AFTER_S:
                self.tokens.access[sha] = (portal_id, expires)

    def revoke(self, portal_id: int) -> None:
        """Revoke the portal's refresh token (what uninstalling the app does); KeyError, ValueError."""
        tenant = self.tenants[portal_id]
        if tenant.refresh_token_sha is None:
            raise ValueError(f"portal {portal_id} has a private-app token, not an OAuth refresh token")
        with self._add_lock:
            tenant.revoked = True
            self.tokens.refresh.pop(tenant.refresh_token_sha, None)
            if self.registry is not None:
                self.registry.save({**self._row(tenant), "revoked": True})

    def _row(self, tenant: Tenant) -> dict:
        token_sha = next((sha for sha, pid in self.tokens.private.items() if pid == tenant.portal_id), None)
        return {"portal_id": tenant.portal_id, "tier": tenant.tier, "burst_limit": tenant.settings.burst_limit,
                "daily_limit": tenant.settings.daily_limit, "token_sha": token_sha,
                "refresh_sha": tenant.refresh_token_sha, "revoked": tenant.revoked}
