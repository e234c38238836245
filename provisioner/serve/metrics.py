"""The service's Prometheus metrics, on a registry of its own (no process-global state).

Labels carry only fixed words (result, status), never an id, a value or a secret.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 300.0)
_BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 75, 100)


class Metrics:
    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.events = Counter("provisioner_events", "Accord events received, by result "
                              "(received, accepted, duplicate, invalid, ignored).", ["result"], registry=registry)
        self.requests = Counter("provisioner_intake_requests", "Intake requests answered, by HTTP status.",
                                ["status"], registry=registry)
        self.queue_depth = Gauge("provisioner_queue_depth", "Deal properties waiting to be sent to HubSpot.",
                                 registry=registry)
        self.pending_deals = Gauge("provisioner_pending_deals", "Deals the worker knows to have pending values.",
                                   registry=registry)
        self.oldest_pending = Gauge("provisioner_oldest_pending_seconds",
                                    "Age of the oldest value not yet confirmed by HubSpot.", registry=registry)
        self.hubspot_requests = Counter("provisioner_hubspot_requests", "Requests sent to HubSpot, by status.",
                                        ["status"], registry=registry)
        self.rate_limited = Counter("provisioner_hubspot_rate_limited", "429 answers met.", registry=registry)
        self.batch_size = Histogram("provisioner_batch_deals", "Deals per batch update sent.",
                                    buckets=_BATCH_BUCKETS, registry=registry)
        self.latency = Histogram("provisioner_event_to_confirmed_seconds",
                                 "From an event's acceptance to HubSpot confirming its values.",
                                 buckets=_LATENCY_BUCKETS, registry=registry)
        self.guard = Counter("provisioner_guard_events", "HubSpot webhook events, by what the guard did "
                             "(restored, reported, echo, deleted, ignored, duplicate, stale).", ["result"],
                             registry=registry)
        self.dead_letters = Counter("provisioner_dead_letters", "Records set aside, by origin.", ["origin"],
                                    registry=registry)

    def count_client(self, before: dict, after: dict, rate_limited: int) -> None:
        """Add the client's requests by status between two snapshots of its stats."""
        for status, count in after.items():
            delta = count - before.get(status, 0)
            if delta:
                self.hubspot_requests.labels(status=str(status)).inc(delta)
        if rate_limited:
            self.rate_limited.inc(rate_limited)

    def render(self) -> bytes:
        return generate_latest(self.registry)
