"""The HTTP face of ``provisioner serve`` (Starlette): intake, the guard's webhooks, health and metrics.

Order of the checks on a POST, cheapest refusal first: stopping (503), size (413), signature
(401), queue over its bound (429 + Retry-After), shape (400); then the request's records are
committed with others (group commit) and only then answered 202 (intake) or 200 (HubSpot, which
expects an answer within 5 s and retries only 5xx and timeouts). Answers never echo a header,
a key or a signature.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from provisioner.serve.committer import Committer
from provisioner.serve.intake import BodyError, read_body
from provisioner.serve.metrics import CONTENT_TYPE, Metrics
from provisioner.serve.queue import GuardEvent, Job
from provisioner.serve.signatures import SignatureError, verify_hubspot_v3, verify_standard
from provisioner.serve.worker import Worker
from provisioner.sync.events import Invalid, Rules, check_portal_id

log = logging.getLogger("provisioner.serve")
COMMIT_TIMEOUT_S = 10.0
GUARD_TYPES = {"deal.propertyChange": "change", "deal.deletion": "deletion"}


@dataclass
class Service:
    """What the handlers share; built by ``serve.service``."""

    rules: Rules
    committer: Committer
    worker: Worker
    metrics: Metrics
    webhook_keys: tuple[bytes, ...]
    client_secret: bytes
    max_body: int
    max_queue: int  # pending deals over which intake answers 429
    public_url: str | None = None
    portal_id: int | None = None
    draining: bool = False
    clock: object = time.time
    readiness: dict = field(default_factory=dict)
    check_writable: object = None  # () -> bool
    many_portals: bool = False  # PostgreSQL: records go to the portal they (or the path) name


def _error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"status": "error", "message": message}, status_code=status, headers=headers)


async def _body(request: Request, limit: int) -> bytes | None:
    """The raw body, or None once it passes ``limit`` bytes (read no further)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _commit(service: Service, job: Job) -> Job | JSONResponse:
    try:
        return await asyncio.wait_for(service.committer.submit(job), COMMIT_TIMEOUT_S)
    except Exception:  # noqa: BLE001 - store failure or timeout: the sender retries, dedup keeps it once
        return _error(503, "the store could not take the events now; retry", {"Retry-After": "5"})


async def events(request: Request) -> Response:
    service: Service = request.app.state.service
    metrics = service.metrics
    response = await _events(request, service)
    metrics.requests.labels(status=str(response.status_code)).inc()
    return response


async def _events(request: Request, service: Service) -> Response:
    if service.draining:
        return _error(503, "the service is stopping; retry", {"Retry-After": "10"})
    body = await _body(request, service.max_body)
    if body is None:
        return _error(413, f"the body is larger than {service.max_body} bytes")
    try:
        delivery = verify_standard(service.webhook_keys, request.headers, body, service.clock())
    except SignatureError as exc:
        return _error(401, f"signature refused: {exc}")
    if service.worker.pending_deals >= service.max_queue or service.committer.backlog >= service.max_queue:
        return _error(429, "the queue is over its bound; retry later", {"Retry-After": "5"})
    path_portal = request.path_params.get("portal_id")
    portal = None if service.many_portals else service.portal_id
    if path_portal is not None:
        named, _reason = check_portal_id(path_portal)
        if named is None or (portal is not None and named != portal):
            return _error(404, f"portal {path_portal[:30]} is not served here")
        portal = named
    try:
        records = read_body(body, service.rules, portal_id=portal)
    except BodyError as exc:
        return _error(400, str(exc))
    job = await _commit(service, Job(delivery_key="w:" + delivery, records=records))
    if isinstance(job, Response):
        return job
    metrics = service.metrics
    results, counts = [], {"accepted": 0, "duplicate": 0, "invalid": 0, "ignored": 0, "deal_deleted": 0}
    for record, result in zip(records, job.results, strict=True):
        counts[result] += 1
        item = {"index": record.index, "result": result}
        if type(record.parsed) is Invalid and result == "invalid":
            item["reason"] = record.parsed.reason
        elif result == "deal_deleted":
            item["reason"] = f"deal {record.parsed.deal_id} was deleted in HubSpot; set aside as a dead letter"
        results.append(item)
    metrics.events.labels(result="received").inc(len(records))
    for result, count in counts.items():
        if count:
            metrics.events.labels(result=result).inc(count)
    if counts["invalid"]:
        metrics.dead_letters.labels(origin="input").inc(counts["invalid"])
    if counts["deal_deleted"]:
        metrics.dead_letters.labels(origin="hubspot").inc(counts["deal_deleted"])
    return JSONResponse({"status": "accepted", **counts, "results": results}, status_code=202)


def _whole(value) -> int | None:
    """A whole number as HubSpot sends ids and times (an int, or its digits); None for anything else."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
        return int(value)
    return None


def _guard_events(items: list, portal_id: int | None) -> tuple[list[GuardEvent], int]:
    """The events the guard acts on, and how many others were skipped (other types, portals, shapes)."""
    chosen, skipped = [], 0
    for item in items:
        kind = GUARD_TYPES.get(item.get("subscriptionType")) if isinstance(item, dict) else None
        deal = _whole(item.get("objectId")) if kind else None
        event_id = item.get("eventId") if kind else None
        portal = item.get("portalId") if kind else None
        if (kind is None or deal is None or deal <= 0 or not isinstance(event_id, int | str) or event_id == ""
                or (portal_id is not None and portal is not None and _whole(portal) != portal_id)):
            skipped += 1
            continue
        value = item.get("propertyValue")
        name = item.get("propertyName")
        chosen.append(GuardEvent(
            key=f"h:{portal}:{str(event_id)[:100]}", kind=kind, deal_id=str(deal),
            occurred_ms=_whole(item.get("occurredAt")) or 0,
            property=name if kind == "change" and isinstance(name, str) else None,
            value=None if value is None else str(value), change_source=str(item.get("changeSource") or "")[:100],
            source_id=str(item.get("sourceId") or "")[:100], portal_id=_whole(portal) if portal is not None else None,
        ))
    return chosen, skipped


async def hubspot_webhooks(request: Request) -> Response:
    service: Service = request.app.state.service
    if service.draining:
        return _error(503, "the service is stopping; retry")
    body = await _body(request, service.max_body)
    if body is None:
        return _error(413, f"the body is larger than {service.max_body} bytes")
    uri = str(request.url)
    if service.public_url:
        uri = service.public_url.rstrip("/") + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    try:
        verify_hubspot_v3(service.client_secret, request.method, uri, request.headers, body, service.clock())
    except SignatureError as exc:
        return _error(401, f"signature refused: {exc}")
    try:
        items = json.loads(body)
    except ValueError:
        return _error(400, "the body is not JSON")
    if not isinstance(items, list):
        return _error(400, "the body must be a JSON array of events")
    chosen, skipped = _guard_events(items, None if service.many_portals else service.portal_id)
    job = await _commit(service, Job(guard=chosen))
    if isinstance(job, Response):
        return job
    counts: dict[str, int] = {}
    for result in job.guard_results:
        counts[result] = counts.get(result, 0) + 1
        service.metrics.guard.labels(result=result).inc()
    if skipped:
        counts["skipped"] = skipped
    return JSONResponse({"status": "ok", **counts}, status_code=200)


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "alive"})


async def readyz(request: Request) -> Response:
    service: Service = request.app.state.service
    worker = service.worker
    checks = {
        "store_writable": bool(await asyncio.to_thread(service.check_writable)),
        "portal_reachable": worker.portal_reachable is not False,
        "daily_limit_ok": not worker.daily_limited,
        "accepting": not service.draining,
    }
    ready = all(checks.values())
    return JSONResponse({"status": "ready" if ready else "not ready", **checks}, status_code=200 if ready else 503)


async def metrics_text(request: Request) -> Response:
    service: Service = request.app.state.service
    return Response(service.metrics.render(), media_type=CONTENT_TYPE)


def build_app(service: Service) -> Starlette:
    app = Starlette(routes=[
        Route("/v1/events", events, methods=["POST"]),
        Route("/v1/portals/{portal_id}/events", events, methods=["POST"]),
        Route("/hubspot/webhooks", hubspot_webhooks, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_text, methods=["GET"]),
    ])
    app.state.service = service
    return app
