"""What a push did, counted: the summary the CLI prints and ``--format json`` returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from provisioner.sync.coalesce import Chunk
    from provisioner.sync.engine import AcceptResult, SendResult

# Records listed one by one in a report; the rest are counted (the dead letters hold them all).
MAX_PROBLEMS = 1_000


@dataclass(frozen=True)
class Problem:
    """A record that did not land, and why (for the per-record report)."""

    kind: str  # invalid | rejected | missing | failed
    reason: str
    deal_id: str | None = None
    accord_id: str | None = None
    line_no: int | None = None


@dataclass
class PushReport:
    read: int = 0
    ignored: int = 0
    invalid: int = 0
    coalesced: int = 0  # values superseded by a newer value of the same run
    accepted: int = 0  # values newer than what the store held: the store changed
    stale: int = 0  # values carrying nothing newer than the store held (older, or already taken)
    deals_to_write: int = 0
    written: int = 0
    rejected: int = 0
    missing: int = 0
    failed: int = 0
    requests: int = 0
    rate_limited: int = 0
    retries: int = 0
    seconds: float = 0.0
    dry_run: bool = False
    aborted: str | None = None
    problems: list[Problem] = field(default_factory=list)
    # deal id -> property -> (confirmed before, value to send); filled on dry runs
    planned: dict[str, dict[str, tuple[str | None, str]]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.invalid or self.rejected or self.missing or self.failed or self.aborted)

    def add_chunk(self, chunk: Chunk, accepted: AcceptResult) -> None:
        self.read += chunk.read
        self.ignored += chunk.ignored
        self.invalid += len(chunk.invalid)
        self.coalesced += accepted.superseded
        self.accepted += accepted.accepted
        self.stale += accepted.stale
        for bad in chunk.invalid:
            if len(self.problems) >= MAX_PROBLEMS:
                break
            self.problems.append(Problem("invalid", bad.reason, bad.deal_id, bad.accord_id, bad.line_no))

    def add_sent(self, sent: SendResult) -> None:
        self.written += sent.written
        self.rejected += sent.rejected
        self.missing += sent.missing
        self.failed += sent.failed
        self.problems.extend(sent.problems[: max(0, MAX_PROBLEMS - len(self.problems))])
        if sent.aborted:
            self.aborted = sent.aborted

    def as_dict(self) -> dict:
        return {
            "events_read": self.read,
            "ignored": self.ignored,
            "invalid": self.invalid,
            "coalesced": self.coalesced,
            "accepted": self.accepted,
            "stale": self.stale,
            "deals_to_write": self.deals_to_write,
            "deals_written": self.written,
            "rejected": self.rejected,
            "missing": self.missing,
            "failed": self.failed,
            "requests": self.requests,
            "rate_limited": self.rate_limited,
            "retries": self.retries,
            "seconds": round(self.seconds, 3),
            "dry_run": self.dry_run,
            "aborted": self.aborted,
            "problems": [{k: v for k, v in vars(p).items() if v is not None} for p in self.problems],
            **({"planned": {
                deal: {prop: {"before": before, "after": after} for prop, (before, after) in changes.items()}
                for deal, changes in self.planned.items()
            }} if self.dry_run else {}),
        }
