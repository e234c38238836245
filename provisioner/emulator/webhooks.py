"""The emulator's app webhooks: every change of a deal property value is posted as HubSpot would post it.

``emulator serve --webhook-url URL --client-secret S [--app-id N]`` attaches a ``WebhookSender`` to
every portal (``attach_to_every_portal``; each posts its own ``portalId``).
After each request that changed deals, one event per changed value (``deal.propertyChange``)
or deleted deal (``deal.deletion``) is queued; a delivery thread posts them as JSON arrays of
up to 100 events, signed with HubSpot's v3 scheme (base64 HMAC-SHA256 keyed by the client
secret over method + URI + body + X-HubSpot-Request-Timestamp in ms). Like HubSpot, it retries
answers 5xx, timeouts and refused connections with growing delays (``attemptNumber`` counts),
and never retries a 4xx. Targets must be loopback addresses: the emulator never posts elsewhere.

``changeSource``: ``CRM_UI`` with ``sourceId`` ``userId:N`` for a person's edit through
``PATCH /__emulator__/ui/deals/{id}``; ``API`` with the app id as ``sourceId`` for writes through
the API. Creations are not posted (no ``deal.creation`` subscription is emulated).

This module shares no code with the service that checks the signatures (a verifier written from
the sender's code would agree with the sender's mistakes).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import itertools
import json
import logging
import threading
import time
import urllib.error
import urllib.request
import zlib
from collections import deque
from urllib.parse import urlsplit

log = logging.getLogger("provisioner.emulator")
BATCH = 100
TIMEOUT_S = 5.0
MAX_ATTEMPTS = 10
BACKOFF_S = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
MAX_QUEUED = 100_000  # beyond: the oldest events are dropped (and counted), as a full HubSpot queue would


def check_target(url: str) -> str:
    """The URL, when it is http(s) on a loopback address; ValueError otherwise."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        raise ValueError(f"{url!r} is not an http(s) URL")
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"{host!r} is not a loopback address: the emulator posts webhooks to this machine only")
    return url


def sign_v3(secret: bytes, method: str, uri: str, body: bytes, timestamp_ms: int) -> str:
    message = method.encode() + uri.encode() + body + str(timestamp_ms).encode()
    return base64.b64encode(hmac.new(secret, message, hashlib.sha256).digest()).decode()


class WebhookSender:
    def __init__(self, url: str, client_secret: str, *, app_id: int = 1, portal_id: int = 12345678,
                 sleep=time.sleep) -> None:
        self.url = check_target(url)
        self._secret = client_secret.encode()
        self.app_id = app_id
        self.portal_id = portal_id
        self._sleep = sleep
        self._ids = itertools.count(1)
        self._before: dict[str, dict[str, str] | None] = {}  # deal id -> values before this request
        self._queue: deque[dict] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self.delivered = 0
        self.failed = 0
        self.dropped = 0
        self._thread = threading.Thread(target=self._deliver_forever, name="webhooks", daemon=True)
        self._thread.start()

    # ---- change capture (called under the emulator's lock) ---------------------------------------
    def attach(self, emulator) -> None:
        """Watch ``emulator``'s portal (its default one, or a ``Tenant``): every deal about to change is remembered."""
        portal = emulator.portal
        touch = portal.touch

        def watched_touch(kind, key, before):
            if kind == "deal" and key not in self._before:
                self._before[key] = None if before is None else (None if before.archived else dict(before.props))
            return touch(kind, key, before)

        portal.touch = watched_touch
        emulator.webhooks = self

    def after_request(self, portal, change_source: str = "API", source_id: str | None = None) -> None:
        """Queue one event per value the request changed (or deal it deleted)."""
        if not self._before:
            return
        touched, self._before = self._before, {}
        now = int(time.time() * 1000)
        source = source_id if source_id is not None else str(self.app_id)
        events = []
        for deal_id, before in touched.items():
            if before is None:
                continue  # created by this request
            deal = portal.deals.get(deal_id)
            if deal is None or deal.archived:
                events.append(self._event("deal.deletion", deal_id, now, change_source, source))
                continue
            for name in sorted(set(before) | set(deal.props)):
                old, new = before.get(name, ""), deal.props.get(name, "")
                if old != new:
                    events.append(self._event("deal.propertyChange", deal_id, now, change_source, source,
                                              propertyName=name, propertyValue=new))
        if events:
            with self._cond:
                self._queue.extend(events)
                while len(self._queue) > MAX_QUEUED:
                    self._queue.popleft()
                    self.dropped += 1
                self._cond.notify()

    def _event(self, kind: str, deal_id: str, now: int, change_source: str, source_id: str, **extra) -> dict:
        return {"eventId": next(self._ids), "subscriptionId": 1000 + zlib.crc32(extra.get("propertyName", kind).encode()) % 1_000_000,
                "portalId": self.portal_id, "appId": self.app_id, "occurredAt": now, "subscriptionType": kind,
                "attemptNumber": 0, "objectId": int(deal_id), "changeSource": change_source, "sourceId": source_id,
                **extra}

    # ---- delivery ----------------------------------------------------------------------------------
    def close(self, timeout: float = 2.0) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout)

    def _deliver_forever(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue:
                    return
                batch = [self._queue.popleft() for _ in range(min(BATCH, len(self._queue)))]
            self._deliver(batch)

    def _deliver(self, batch: list[dict]) -> None:
        for attempt in range(MAX_ATTEMPTS):
            for item in batch:
                item["attemptNumber"] = attempt
            status = self._post(batch)
            if status is not None and status < 500:
                if status < 300:
                    self.delivered += len(batch)
                else:
                    self.failed += len(batch)
                    log.warning("Webhook target answered %d; not retried (HubSpot never retries 4xx)", status)
                return
            if self._closed and attempt >= 1:
                break
            self._sleep(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
        self.failed += len(batch)
        log.warning("Webhook delivery of %d event(s) failed after retries", len(batch))

    def _post(self, batch: list[dict]) -> int | None:
        body = json.dumps(batch, separators=(",", ":")).encode()
        stamp = int(time.time() * 1000)
        request = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json",
            "X-HubSpot-Signature-v3": sign_v3(self._secret, "POST", self.url, body, stamp),
            "X-HubSpot-Signature-Version": "v3",
            "X-HubSpot-Request-Timestamp": str(stamp),
        })
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:  # noqa: S310 - loopback only
                answer.read()
                return answer.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except (urllib.error.URLError, OSError, TimeoutError):
            return None


def attach_to_every_portal(emulator, url: str, client_secret: str, *, app_id: int = 1) -> list[WebhookSender]:
    """One sender per portal (each posts its own ``portalId``), for the portals there and any added later."""
    senders: list[WebhookSender] = []

    def attach(tenant) -> None:
        sender = WebhookSender(url, client_secret, app_id=app_id, portal_id=tenant.portal_id)
        sender.attach(tenant)
        senders.append(sender)

    for tenant in list(emulator.tenants.values()):
        attach(tenant)
    emulator.portal_hooks.append(attach)
    return senders


def ui_edit_deal(tenant, deal_id: str, body: dict) -> tuple[int, object]:
    """``PATCH /__emulator__/ui/deals/{id}``: a person edits a portal's (``Tenant``'s) values in HubSpot's UI."""
    from provisioner.emulator import records_api
    from provisioner.emulator.call import Call
    from provisioner.emulator.wire import HubSpotError

    properties, user_id = body.get("properties"), body.get("user_id", 1)
    if not isinstance(properties, dict) or not properties:
        raise ValueError('"properties" must be an object of deal property values')
    if not isinstance(user_id, int) or isinstance(user_id, bool) or user_id < 0:
        raise ValueError('"user_id" must be a whole number')
    raw = json.dumps({"properties": properties}).encode()
    with tenant.lock:
        call = Call(tenant.portal, tenant.settings, "v3", "PATCH", f"/__emulator__/ui/deals/{deal_id}", {}, raw,
                    "http://emulator")
        try:
            status, answer = records_api.update_deal(call, deal_id)
        except HubSpotError as exc:
            return exc.status, exc.body
        finally:
            tenant.persist()
        if tenant.webhooks is not None:
            tenant.webhooks.after_request(tenant.portal, "CRM_UI", f"userId:{user_id}")
    return status, answer
