"""Fleet runs: plan, apply or drift the same file on every registered portal, a few at a time.

Each registered, active portal gets the file as it applies to it: the environment of the file
whose ``portal.id`` is the portal's id (its overrides and its guard), else the file's top level
with the portal's id as the guard. Portals run on threads, at most ``concurrency`` at once, each
with its own client (its own token and rate limit); the per-portal steps are the single-portal
ones (``make_plan`` with its portal guard and confirmations, ``check_fresh`` for a saved plan,
``apply_plan``), so a fleet run does per portal exactly what one run does.

One portal's failure is that portal's result, never the others': every error (an expected one,
or not) is caught where the portal runs and becomes a ``PortalRun`` with ``result`` "failed" (or
"refused" for a saved plan the portal moved under). A paused portal is listed, not run.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from provisioner.apply import apply_plan, verify_applied
from provisioner.changes import ARCHIVES, CHANGES, CREATES
from provisioner.config import load_config
from provisioner.config.loader import read_document
from provisioner.drift import DriftReport, drift_report
from provisioner.errors import ApplyError, PortalGuardError, ProvisionerError, StalePlanError, UsageError
from provisioner.fleet.credentials import client_for
from provisioner.fleet.registry import Portal, Registry
from provisioner.guards import check_allowed, check_fresh
from provisioner.hubspot.client import SCHEMA_SCOPES, HubSpotClient
from provisioner.logs import redact
from provisioner.model import Config
from provisioner.plan import Plan
from provisioner.planning import make_plan, utc_now

log = logging.getLogger(__name__)

MAX_CONCURRENCY = 64
DEFAULT_CONCURRENCY = 4
# Results: what happened to one portal.
NO_CHANGES, CHANGED, APPLIED, DRIFT, NO_DRIFT = "no changes", "changes", "applied", "drift", "no drift"
FAILED, REFUSED, PAUSED = "failed", "refused", "paused"


@dataclass(frozen=True)
class PortalRun:
    """One portal's part of a fleet run."""

    portal: Portal
    result: str
    environment: str | None = None
    plan: Plan | None = None
    report: DriftReport | None = None
    done: tuple[str, ...] = ()
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.result in (FAILED, REFUSED)

    @property
    def has_changes(self) -> bool:
        return self.result in (CHANGED, DRIFT)

    def tally(self) -> dict[str, int]:
        counts = {CREATES: 0, CHANGES: 0, ARCHIVES: 0}
        for change in self.plan.changes if self.plan else ():
            counts[change.counts_as] += 1
        return {"creates": counts[CREATES], "updates": counts[CHANGES] + counts[ARCHIVES],
                "manual_pending": len(self.plan.pending_steps) if self.plan else 0}


@dataclass(frozen=True)
class FleetRun:
    command: str  # plan, apply or drift
    runs: tuple[PortalRun, ...]
    created_at: str = field(default_factory=utc_now)

    @property
    def has_failures(self) -> bool:
        return any(run.failed for run in self.runs)

    @property
    def has_changes(self) -> bool:
        return any(run.has_changes for run in self.runs)


# ---- which file each portal gets -------------------------------------------------------------------
class FleetConfig:
    """The file, and for each portal the environment of it whose portal.id names that portal."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.base = load_config(path, None)
        doc, _ = read_document(path)  # valid: load_config checked it
        self._environments: dict[int, list[str]] = {}
        for name, env in ((doc.data or {}).get("environments") or {}).items():
            portal_id = ((env or {}).get("portal") or {}).get("id")
            if isinstance(portal_id, int):
                self._environments.setdefault(portal_id, []).append(name)

    def for_portal(self, portal_id: int, environment: str | None = None) -> Config:
        """The Config for ``portal_id`` (``environment``: the one a saved plan was made with)."""
        names = self._environments.get(portal_id, [])
        if environment is None and len(names) > 1:
            raise UsageError(f"{self.path}: environments {', '.join(names)} all name portal {portal_id}",
                             hint="give each environment its own portal.id")
        chosen = environment if environment is not None else (names[0] if names else None)
        if chosen is not None:
            return load_config(self.path, chosen)
        return dataclasses.replace(self.base, portal_id=portal_id)


# ---- one portal --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ApplyOptions:
    allow_archive: bool = False
    allow_type_change: bool = False


Work = Callable[[HubSpotClient, Config, Plan | None], PortalRun]


def plan_portal(portal: Portal, client: HubSpotClient, config: Config) -> PortalRun:
    plan, _ = make_plan(client, config)
    return PortalRun(portal, CHANGED if plan.has_changes else NO_CHANGES, config.environment, plan=plan)


def drift_portal(portal: Portal, client: HubSpotClient, config: Config, checked_at: str) -> PortalRun:
    plan, _ = make_plan(client, config)
    report = drift_report(plan, checked_at=checked_at)
    return PortalRun(portal, DRIFT if report.has_drift else NO_DRIFT, config.environment, plan=plan, report=report)


def apply_portal(portal: Portal, client: HubSpotClient, config: Config, saved: Plan | None,
                 options: ApplyOptions) -> PortalRun:
    """Plan (or check the saved plan against the portal now), then apply and read back."""
    current, live = make_plan(client, config)
    plan = current
    if saved is not None:
        check_fresh(saved, config, live, current)
        plan = saved
    check_allowed(plan, allow_archive=options.allow_archive, allow_type_change=options.allow_type_change)
    if not plan.has_changes:
        return PortalRun(portal, NO_CHANGES, config.environment, plan=plan)
    client.preflight_scopes(SCHEMA_SCOPES)
    done = apply_plan(client, plan)
    missing = verify_applied(client, plan)
    if missing:
        raise ApplyError("the portal does not show every change after apply: " + ", ".join(missing), done, missing)
    return PortalRun(portal, APPLIED, config.environment, plan=plan, done=tuple(done))


def _failure(portal: Portal, error: BaseException, environment: str | None) -> PortalRun:
    refused = isinstance(error, (StalePlanError, PortalGuardError))
    if isinstance(error, ProvisionerError):
        text = str(error)
        if isinstance(error, ApplyError) and error.done:
            text += f" (done: {', '.join(error.done)}; not done: {', '.join(error.not_done)})"
    else:  # a defect, not an answer: this portal fails, the others go on
        log.exception("Portal %s failed unexpectedly", portal.portal_id)
        text = f"unexpected {type(error).__name__}: {error}"
    return PortalRun(portal, REFUSED if refused else FAILED, environment, error=redact(text))


# ---- the fleet ---------------------------------------------------------------------------------------
def run_fleet(command: str, registry: Registry, portals: list[Portal], fleet_config: FleetConfig,
              work: Callable[[Portal, HubSpotClient, Config, Plan | None], PortalRun], *,
              saved: dict[int, Plan] | None = None, concurrency: int = DEFAULT_CONCURRENCY,
              client_options: dict | None = None) -> FleetRun:
    """Run ``work`` on every portal, at most ``concurrency`` at once; results in the portals' order."""
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise UsageError(f"--concurrency {concurrency}: give 1 to {MAX_CONCURRENCY}")
    options = dict(client_options or {})
    stop = threading.Event()  # set by Ctrl-C: no portal starts after it

    def one(portal: Portal) -> PortalRun:
        if stop.is_set():
            return PortalRun(portal, FAILED, error="not run: interrupted")
        if portal.paused:
            return PortalRun(portal, PAUSED, error=portal.paused)
        plan = (saved or {}).get(portal.portal_id)
        environment = plan.environment if plan is not None else None
        try:
            config = fleet_config.for_portal(portal.portal_id, environment)
            environment = config.environment
            client = client_for(registry, portal, default_api_version=config.api_version, **options)
            run = work(portal, client, config, plan)
            log.info("Portal %s: %s", portal.portal_id, run.result)
            return run
        except Exception as error:  # noqa: BLE001 - one portal's failure never stops the rest
            return _failure(portal, error, environment)
        except BaseException:  # an interrupt, not a failure: it stops the run
            stop.set()
            raise

    if not portals:
        return FleetRun(command, ())
    pool = ThreadPoolExecutor(max_workers=min(concurrency, len(portals)), thread_name_prefix="portal")
    try:
        futures = [pool.submit(one, portal) for portal in portals]
        runs = tuple(future.result() for future in futures)
    except BaseException:  # Ctrl-C: no portal not yet started starts; those running end by their deadline
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return FleetRun(command, runs)
