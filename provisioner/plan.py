"""The Plan: one object that is rendered for people and machines and executed by apply.

A plan is made by ``diff`` and never changes afterwards; its changes are in the one order apply
walks (see ``changes``). Its JSON form is documented in the README (versioned by
``format_version``, written and read back by ``planfile``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from provisioner.changes import ARCHIVES, CHANGES, CREATES, Change

# 2: each change lists its enumeration options that differ ("options"), keyed by value.
FORMAT_VERSION = 2


@dataclass(frozen=True)
class ManualStep:
    """Something declared in the file that no HubSpot API can set or read: a person does it."""

    id: str  # "access/accord_url", "sidebar"
    title: str
    instructions: tuple[str, ...]
    desired: Mapping[str, Any]
    digest: str
    confirmed_at: str | None = None
    confirmed_by: str | None = None

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed_at is not None


@dataclass(frozen=True)
class Plan:
    portal_id: int
    config_path: str
    config_digest: str
    api_version: str
    environment: str | None = None
    changes: tuple[Change, ...] = ()
    manual_steps: tuple[ManualStep, ...] = ()
    notes: tuple[str, ...] = ()
    # Live object key ("property/accord_url") -> fingerprint of what the plan was made against.
    fingerprints: Mapping[str, str] = field(default_factory=dict)
    created_at: str = ""
    format_version: int = FORMAT_VERSION

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    @property
    def pending_steps(self) -> tuple[ManualStep, ...]:
        return tuple(step for step in self.manual_steps if not step.is_confirmed)

    def count(self, action: str) -> int:
        return sum(1 for change in self.changes if change.action == action)

    def summary(self) -> str:
        tally = {CREATES: 0, CHANGES: 0, ARCHIVES: 0}
        for change in self.changes:
            tally[change.counts_as] += 1
        text = f"{tally[CREATES]} to create, {tally[CHANGES]} to change, {tally[ARCHIVES]} to archive"
        if self.pending_steps:
            text += f"; {len(self.pending_steps)} manual step(s) to do by hand"
        return text


def fingerprint(value: Any) -> str:
    """A short stable hash of a JSON-able value ('absent' for None)."""
    if value is None:
        return "absent"
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
