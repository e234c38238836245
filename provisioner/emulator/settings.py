"""Everything the emulated portal can be told at start-up."""

from __future__ import annotations

from dataclasses import dataclass

ALL_SCOPES = frozenset({
    "crm.schemas.deals.read", "crm.schemas.deals.write", "crm.objects.deals.read", "crm.objects.deals.write",
})
FAULT_KINDS = ("429", "429-daily", "423", "500", "502", "503", "504", "drop", "drop-after", "slow", "ok")
DEFAULT_FAULT_KINDS = ("429", "423", "500", "502", "503", "504", "drop", "slow")


@dataclass
class EmulatorSettings:
    """The portal's identity, auth, limits, faults and storage.

    UNCONFIRMED HubSpot behaviours default to the stricter choice and each has a switch here.
    """

    portal_id: int = 12345678
    app_id: int = 1
    account_type: str = "STANDARD"
    time_zone: str = "US/Eastern"
    company_currency: str = "USD"
    ui_domain: str = "app.hubspot.com"
    data_hosting_location: str = "na1"
    # Auth: None accepts any non-empty bearer token; scopes None grants every scope.
    token: str | None = None
    scopes: frozenset[str] | set[str] | None = None
    # The public app behind OAuth portals (POST /oauth/v1/token): None accepts any non-empty value.
    # The client secret also signs the app's webhooks.
    client_id: str | None = None
    client_secret: str | None = None
    access_token_ttl_s: float = 1800.0  # HubSpot's access tokens live 30 minutes
    # Rate limits (None disables each); the daily count resets at the portal's midnight.
    burst_limit: int | None = 100
    burst_window_s: float = 10.0
    daily_limit: int | None = 250_000
    # Refuse a burst over the announced per-second figure (a tenth of the window's): not what live
    # answers are recorded doing, so off by default (docs/emulator.md).
    enforce_secondly_limit: bool = False
    # Faults, deterministic from the seed.
    seed: int = 0
    fault_rate: float = 0.0
    fault_kinds: tuple[str, ...] = DEFAULT_FAULT_KINDS
    fault_sequence: tuple[str, ...] = ()
    fault_path: str | None = None  # only requests whose path contains this are faulted
    fault_methods: tuple[str, ...] | None = None  # only these methods are faulted
    slow_s: float = 2.0
    # Read-after-write lag: a read sees the previous version for a seeded time in [min, max].
    lag_min_s: float = 0.0
    lag_max_s: float = 0.0
    # Storage and logs.
    state_file: str | None = None
    state_lock_wait_s: float = 0.0  # how long to wait for another process holding the state file
    request_log: str | None = None
    # Strictness switches for behaviour HubSpot has not confirmed.
    enforce_validation_rules: bool = True  # rules apply to record writes (HubSpot says: from 2026-09)
    retry_after_header: bool = False  # no Retry-After on 429 (documented for 477 only)
    rule_removal_by_empty_put: bool = False  # no documented way to remove a rule: refuse empty arguments
    reject_unknown_fields: bool = True  # unknown fields in schema bodies are a 400, not ignored
    batch_207_as_200: bool | None = None  # None: only on the 2026-09 paths (draft behaviour)

    def granted_scopes(self) -> frozenset[str]:
        return ALL_SCOPES if self.scopes is None else frozenset(self.scopes)
