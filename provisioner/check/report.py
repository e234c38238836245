"""The check's result: its steps, the round trip property by property, frozen once the check is done."""

from __future__ import annotations

from dataclasses import dataclass

from provisioner.plan import ManualStep

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"


@dataclass(frozen=True)
class Step:
    """One step of the check and how it went."""

    name: str
    status: str  # passed | failed | skipped
    detail: str

    @property
    def passed(self) -> bool:
        return self.status == PASSED


@dataclass(frozen=True)
class PropertyCheck:
    """One mapped property of the round trip: the value sent and the value read back."""

    field: str  # Accord's field name, e.g. "URL"
    property: str  # HubSpot internal name
    sent: str
    read: str | None
    matches: bool


@dataclass(frozen=True)
class CheckReport:
    config_path: str
    environment: str | None
    portal_id: int | None
    steps: tuple[Step, ...]
    manual_steps: tuple[ManualStep, ...] = ()
    properties: tuple[PropertyCheck, ...] = ()
    deal_id: str | None = None
    deal_created: bool = False
    deal_kept: bool = False
    requests: int = 0
    seconds: float = 0.0
    started_at: str = ""
    via: str | None = None  # the service's intake, when the snapshot went through `serve`
    latency_s: float | None = None  # event-to-deal latency through the service

    @property
    def ok(self) -> bool:
        """True only when no step failed and the round trip ran to its end."""
        names = {step.name for step in self.steps if step.passed}
        return not any(step.status == FAILED for step in self.steps) and {"push", "read back"} <= names
