"""``check``: the seed's Step 5 ("Test, test, test"), an end-to-end round trip through a test deal.

The steps, in order; a failed step stops the ones after it (cleanup always runs):
1. plan: read the portal (read-only) and diff it with the file. Any change (the group, a property
   or the URL's rule missing or not as declared) stops the check before anything is written.
2. manual steps: listed with their confirmation state; no API can check them, so they never fail
   the check (as in ``plan`` and ``drift``).
3. scopes: the token must hold the deal object scopes the value sync needs.
4. deal: a new deal named as a test, or the deal the user gave (``--deal``).
5. push: a synthetic Accord snapshot with a value for every mapped field, the URL exactly at its
   character limit, through the value sync's own path (``sync.engine.push``) with a throwaway
   store, so the user's sync store is never opened and stays as it was.
6. read back: every mapped property as sent, as read, and whether they match (HubSpot's
   read-after-write lag is waited out up to a deadline).
7. URL limit: the URL property holds a value of exactly its declared limit, not cut short.
8. cleanup: the test deal archived (unless ``keep``), or a given deal's previous values restored.

With ``via`` (a running ``provisioner serve``), step 5 posts the snapshot to the service's signed
intake instead, step 6 measures event-to-deal latency, and cleanup puts the service's store back
as it was for the deal (``via``).

The result is a frozen ``CheckReport`` (``report``); ``render`` turns it into text, JSON or markdown.
"""

from __future__ import annotations

import secrets
import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from provisioner.changes import (
    ArchiveProperty,
    Change,
    ChangeRule,
    RestoreProperty,
    UpdateGroup,
    UpdateProperty,
)
from provisioner.check import via as check_via
from provisioner.check.report import FAILED, PASSED, SKIPPED, CheckReport, PropertyCheck, Step
from provisioner.check.snapshot import snapshot_line
from provisioner.errors import MissingScopesError, ProvisionerError
from provisioner.hubspot.client import OBJECT_SCOPES, HubSpotClient
from provisioner.model import Config
from provisioner.plan import ManualStep
from provisioner.planning import make_plan, utc_now
from provisioner.serve.intake import record_key
from provisioner.sync.engine import push
from provisioner.sync.events import Invalid, Rules, Snapshot, parse_line
from provisioner.sync.store import SyncStore
from provisioner.sync.verify import same_value

TEST_DEAL_NAME = "provisioner check: test deal, safe to delete"
READ_BACK_DEADLINE_S = 10.0  # HubSpot's read-after-write lag was seen at 250-700 ms
READ_BACK_INTERVAL_S = 0.25


@dataclass
class _Run:
    """What the check gathers as it goes (frozen into a CheckReport at the end)."""

    steps: list[Step] = field(default_factory=list)
    manual: tuple[ManualStep, ...] = ()
    properties: tuple[PropertyCheck, ...] = ()
    portal_id: int | None = None
    deal_id: str | None = None
    created: bool = False
    pushed: bool = False  # the snapshot may have reached the deal
    previous: dict[str, str | None] | None = None  # a given deal's values before the check
    sent: dict[str, str] = field(default_factory=dict)
    latency: float | None = None
    via: _Via | None = None

    def add(self, name: str, status: str, detail: str) -> bool:
        self.steps.append(Step(name, status, detail))
        return status != FAILED


@dataclass
class _Timing:
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    deadline_s: float
    interval_s: float


@dataclass
class _Via:
    """The snapshot's trip through a running service: where, with which key, and what to put back."""

    url: str
    key: bytes
    store_path: str
    msg_id: str = ""
    record_id: str = ""
    accord_id: str = ""
    rows_before: dict[str, list[tuple]] | None = None
    posted_at: float | None = None

    @property
    def dedup_keys(self) -> list[str]:
        return [f"w:{self.msg_id}", record_key({"id": self.record_id}, "")]


def describe_change(change: Change) -> str:
    """One line per plan change: how the portal differs from the file."""
    if isinstance(change, ChangeRule):
        before = ", ".join((change.before or {}).get("arguments", []))
        after = ", ".join((change.after or {}).get("arguments", []))
        return f"rule {change.key}: {before} in the portal, {after} in the file"
    if isinstance(change, (UpdateGroup, UpdateProperty)):
        return f"{change.kind} {change.key}: {', '.join(change.fields)} not as declared"
    if isinstance(change, RestoreProperty):
        return f"{change.kind} {change.key}: archived"
    if isinstance(change, ArchiveProperty):
        return f"{change.kind} {change.key}: a tombstone, still active"
    return f"{change.kind} {change.key}: missing"  # CreateGroup, CreateProperty, SetRule


def _read_values(client: HubSpotClient, deal_id: str, properties: list[str]) -> dict[str, str | None] | None:
    result = client.batch_read_deals([deal_id], properties)
    for record in result.results:
        if record.id == deal_id:
            return {prop: record.properties.get(prop) for prop in properties}
    return None


def _parse(rules: Rules, line: str) -> tuple[list[str], dict[str, str]]:
    """The snapshot's line as the sync reads it, and the values it will send (as HubSpot stores them)."""
    parsed = parse_line(1, line, rules)
    if isinstance(parsed, Invalid):
        raise ProvisionerError("the synthetic snapshot failed the sync's checks: " + parsed.reason)
    if not isinstance(parsed, Snapshot):
        raise ProvisionerError("the sync ignored the synthetic snapshot: no trigger event is configured")
    return [line], dict(parsed.values)


def _push(client: HubSpotClient, rules: Rules, run: _Run, line: str) -> bool:
    """The snapshot through the value sync's real path, recorded in a throwaway store."""
    parsed, run.sent = _parse(rules, line)
    run.pushed = True
    with tempfile.TemporaryDirectory(prefix="provisioner-check-") as tmp, SyncStore(Path(tmp) / "sync.sqlite") as store:
        report = push(client, store, parsed, rules)
    if not report.ok or report.written != 1:
        reasons = "; ".join(p.reason for p in report.problems) or report.aborted or "HubSpot did not confirm it"
        return run.add("push", FAILED, f"the value sync did not write deal {run.deal_id}: {reasons}")
    return run.add("push", PASSED, f"{len(run.sent)} value(s) written to deal {run.deal_id} by the value sync "
                                   f"({report.requests} request(s))")


def _post(rules: Rules, run: _Run, timing: _Timing) -> bool:
    """The snapshot through the running service's signed intake; its worker writes the deal."""
    via = run.via
    via.msg_id, via.record_id = check_via.delivery_id(), check_via.delivery_id()
    via.accord_id = f"provisioner-check-{secrets.token_hex(4)}"
    line = snapshot_line(rules, run.deal_id, datetime.now(timezone.utc).isoformat(), accord_id=via.accord_id,
                         record_id=via.record_id)
    _parsed, run.sent = _parse(rules, line)
    via.rows_before = check_via.read_deal_rows(via.store_path, run.deal_id)
    run.pushed, via.posted_at = True, timing.clock()
    try:
        check_via.post_snapshot(via.url, line, via.key, via.msg_id)
    except check_via.ViaError as exc:
        run.pushed = not exc.answered  # a refusal queued nothing; a lost answer may have
        raise
    return run.add("push", PASSED, f"{len(run.sent)} value(s) accepted by the service at {via.url} for deal "
                                   f"{run.deal_id}")


def run_check(
    client: HubSpotClient,
    config: Config,
    *,
    deal_id: str | None = None,
    keep: bool = False,
    via: str | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    read_back_deadline_s: float | None = None,
) -> CheckReport:
    """Run every step against the portal ``client`` talks to; never raises for a failed step.

    ``via``: the URL of a running ``provisioner serve`` (its key from PROVISIONER_WEBHOOK_SECRET).
    """
    started, started_at = clock(), utc_now()
    requests_before = client.stats.requests
    run = _Run()
    if via is not None:
        run.via = _Via(check_via.intake_url(via), check_via.webhook_key(), config.sync.store_path)
    timing = _Timing(clock, sleep, read_back_deadline_s, READ_BACK_INTERVAL_S)
    if timing.deadline_s is None:
        timing.deadline_s = check_via.VIA_DEADLINE_S if via else READ_BACK_DEADLINE_S
    if via is not None:
        timing.interval_s = check_via.VIA_INTERVAL_S
    try:
        _plan_and_round_trip(client, config, run, deal_id, timing)
    finally:
        _clean_up(client, run, keep, timing)
    return CheckReport(
        config_path=config.path, environment=config.environment, portal_id=run.portal_id, steps=tuple(run.steps),
        manual_steps=run.manual, properties=run.properties, deal_id=run.deal_id, deal_created=run.created,
        deal_kept=bool(run.deal_id) and (keep or not run.created), requests=client.stats.requests - requests_before,
        seconds=clock() - started, started_at=started_at, via=run.via.url if run.via else None,
        latency_s=run.latency,
    )


def _plan_and_round_trip(client, config, run: _Run, deal_id, timing: _Timing) -> None:
    rules = Rules.from_config(config)
    try:
        plan, live = make_plan(client, config)
    except MissingScopesError as exc:
        run.add("scopes", FAILED, _scope_text(exc))
        return
    run.portal_id, run.manual = live.portal_id, plan.manual_steps
    if plan.has_changes:
        lines = "; ".join(describe_change(change) for change in plan.changes)
        run.add("plan", FAILED, f"the portal is not as declared ({lines}); run `provisioner apply`, then check again")
        return
    run.add("plan", PASSED, f"{len(config.desired.groups)} group(s), {len(config.desired.properties)} properties "
                            f"and {len(config.desired.rules)} validation rule(s) as declared")
    confirmed = sum(1 for step in plan.manual_steps if step.is_confirmed)
    run.add("manual steps", PASSED if confirmed == len(plan.manual_steps) else SKIPPED,
            f"{confirmed} of {len(plan.manual_steps)} confirmed (no API can check them: "
            "`provisioner confirm` records them)")
    if not rules.mapping:
        run.add("push", FAILED, "sync.mapping is empty: nothing to send")
        return
    try:
        client.preflight_scopes(OBJECT_SCOPES)
    except MissingScopesError as exc:
        run.add("scopes", FAILED, _scope_text(exc))
        return
    run.add("scopes", PASSED, "the token may read and write deals")
    try:
        if not _take_deal(client, run, deal_id, rules.properties):
            return
        if run.via is None:
            if not _push(client, rules, run, snapshot_line(rules, run.deal_id, datetime.now(timezone.utc).isoformat())):
                return
        elif not _post(rules, run, timing):
            return
    except MissingScopesError as exc:
        run.add("scopes", FAILED, _scope_text(exc))
        return
    except ProvisionerError as exc:
        run.add("push", FAILED, str(exc) + (f" ({exc.hint})" if exc.hint else ""))
        return
    try:
        _read_back(client, rules, run, timing)
    except ProvisionerError as exc:
        run.add("read back", FAILED, str(exc))


def _scope_text(exc: MissingScopesError) -> str:
    if exc.required_scopes:
        return "the token lacks " + ", ".join(exc.required_scopes) + ": grant it and check again"
    return f"{exc} (the token lacks a scope)"


def _take_deal(client: HubSpotClient, run: _Run, deal_id: str | None, properties: list[str]) -> bool:
    if deal_id is not None:
        previous = _read_values(client, deal_id, properties)
        if previous is None:
            return run.add("deal", FAILED, f"deal {deal_id} does not exist in portal {run.portal_id}")
        run.deal_id, run.previous = deal_id, previous
        return run.add("deal", PASSED, f"using deal {deal_id} (its values are restored afterwards)")
    name = f"{TEST_DEAL_NAME} ({utc_now()})"
    result = client.batch_create_deals([{"dealname": name}])
    if not result.results:
        return run.add("deal", FAILED, "HubSpot did not create the test deal")
    run.deal_id, run.created = result.results[0].id, True
    return run.add("deal", PASSED, f"created test deal {run.deal_id} '{name}'")


def _read_back(client, rules: Rules, run: _Run, timing: _Timing) -> None:
    """Read the deal until it shows every value sent, or the deadline passes."""
    fields = {prop: accord_field for accord_field, prop in rules.mapping.items()}
    sent, deadline_s = run.sent, timing.deadline_s
    deadline = timing.clock() + deadline_s
    order = list(rules.mapping.values())
    while True:
        read = _read_values(client, run.deal_id, sorted(sent))
        checks = tuple(
            PropertyCheck(fields[prop], prop, value, read.get(prop),
                          same_value(value, read.get(prop), prop in rules.number_properties))
            for prop, value in sorted(sent.items(), key=lambda item: order.index(item[0]))
        ) if read is not None else ()
        if read is not None and all(check.matches for check in checks):
            if run.via is not None:
                run.latency = timing.clock() - run.via.posted_at
            break
        if timing.clock() >= deadline:
            break
        timing.sleep(timing.interval_s)  # HubSpot's read-after-write lag, the service's batching delay
    if read is None:
        run.add("read back", FAILED, f"deal {run.deal_id} cannot be read back (waited {deadline_s:g} s)")
        return
    run.properties = checks
    wrong = [check.property for check in checks if not check.matches]
    if wrong:
        run.add("read back", FAILED, f"{len(wrong)} of {len(checks)} properties differ: {', '.join(wrong)}")
    else:
        latency = f" {run.latency:.2f} s after the event was posted" if run.latency is not None else ""
        run.add("read back", PASSED, f"{len(checks)} of {len(checks)} properties read back as sent{latency}")
    _check_url_limit(rules, run, checks)


def _check_url_limit(rules: Rules, run: _Run, checks: tuple[PropertyCheck, ...]) -> None:
    url_property = rules.mapping.get("URL")
    limit = rules.max_length.get(url_property) if url_property else None
    if limit is None:
        run.add("URL limit", SKIPPED, "no character limit declared for the URL property")
        return
    check = next((c for c in checks if c.property == url_property), None)
    held = len(check.read or "") if check else 0
    if check is not None and check.matches and held == limit:
        run.add("URL limit", PASSED, f"{url_property} holds a value of exactly {limit} characters, its limit")
    else:
        run.add("URL limit", FAILED, f"{url_property} holds {held} of the {limit} characters sent: "
                                     "the value was cut short (is the portal's character limit smaller?)")


def _clean_up(client: HubSpotClient, run: _Run, keep: bool, timing: _Timing) -> None:
    if run.deal_id is None:
        return
    store = "the sync store was not touched"
    try:
        settled = run.via is None or not run.pushed or _settle_service(run, timing)
        if run.created and not keep:
            client.archive_deal(run.deal_id)
            done = f"archived test deal {run.deal_id}"
        elif run.created:
            done = f"kept test deal {run.deal_id} (--keep)"
        elif run.previous is not None and run.pushed:
            values = {prop: "" if value is None else value for prop, value in run.previous.items()}
            client.batch_update_deals([(run.deal_id, values)])
            done = f"restored the previous values of deal {run.deal_id}"
        else:
            done = f"deal {run.deal_id} unchanged"
        if run.via is not None and run.via.rows_before is not None:
            check_via.put_back_deal_rows(run.via.store_path, run.deal_id, run.via.rows_before, run.via.dedup_keys)
            store = "the service's sync store holds for the deal what it held before"
        if not settled:
            run.add("cleanup", FAILED, f"{done}; the service did not record HubSpot's confirmation in "
                                       f"{run.via.store_path} within {timing.deadline_s:g} s: is it the store "
                                       "`provisioner serve` uses (same file and environment)?")
            return
        run.add("cleanup", PASSED, f"{done}; {store}")
    except (ProvisionerError, OSError, sqlite3.Error) as exc:
        what = "archive test deal" if run.created else "restore the values of deal"
        run.add("cleanup", FAILED, f"could not {what} {run.deal_id} or put the store back: {exc}")


def _settle_service(run: _Run, timing: _Timing) -> bool:
    """Wait (bounded) until the service has recorded HubSpot's confirmation, so nothing lands after cleanup."""
    deadline = timing.clock() + timing.deadline_s
    while not check_via.has_confirmed(run.via.store_path, run.deal_id, run.sent):
        if timing.clock() >= deadline:
            return False
        timing.sleep(timing.interval_s)
    return True
