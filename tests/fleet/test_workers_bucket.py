"""The portal's shared tokens: whatever the timing, no window holds more requests than the portal allows;
an idle worker looks again as soon as a portal may be sent to."""

from __future__ import annotations

import threading

from hypothesis import given, settings
from hypothesis import strategies as st

from provisioner.fleet.pgbucket import Bucket
from provisioner.fleet.pgrun import work


@given(per_window=st.sampled_from([2, 10, 100, 190]),
       claims=st.lists(st.tuples(st.floats(0, 3), st.integers(1, 3), st.booleans()), min_size=1, max_size=300))
@settings(max_examples=200, deadline=None)
def test_no_window_holds_more_requests_than_the_limit(per_window, claims):
    bucket = Bucket(per_window, 10.0)
    now = 0.0
    starts: list[float] = []
    for gap, requests, limited in claims:
        now = max(now + gap / 10, bucket.ready_at())  # a claim happens only once the portal is ready
        bucket = bucket.at(now)
        starts.extend([now] * requests)
        bucket = bucket.spend(now, requests, None, rate_limited=limited)
    # Every window that starts at a request: the requests a split batch adds go past the bucket, so
    # at most the two extra of the last claim in it are over.
    for i, start in enumerate(starts):
        inside = sum(1 for t in starts[i:] if t < start + 10.0)
        assert inside <= per_window + 2


def test_the_headers_correct_the_bucket():
    bucket = Bucket(None).spend(100.0, 1, {"X-HubSpot-RateLimit-Max": "190",
                                          "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
                                          "X-HubSpot-RateLimit-Remaining": "0"})
    assert (bucket.per_window, bucket.window_s, bucket.tokens) == (190, 10.0, -1.0)  # none left, one spent
    assert bucket.ready_at() > 100.0
    limited = Bucket(100, 10.0, 5.0, 100.0).spend(100.0, 1, None, rate_limited=True)
    assert limited.ready_at() >= 101.0  # a 429 waits at least a tenth of the window


def test_a_steady_worker_gets_most_of_the_ceiling():
    bucket = Bucket(100, 10.0)
    now, sent = 0.0, 0
    while now < 100.0:
        now = max(now, bucket.ready_at())
        bucket = bucket.at(now).spend(now, 1)
        sent += 1
    assert 0.9 * 1000 <= sent <= 1000


class _Queue:
    """A queue with nothing claimable: its next portal is ready in ``ready_in`` seconds (None: nothing pending)."""

    def __init__(self, ready_in) -> None:
        self.ready_in = ready_in

    def step(self):
        return None

    def next_ready_in(self):
        return self.ready_in


class _Stop(threading.Event):
    """Records each wait instead of sleeping; set after ``times`` waits."""

    def __init__(self, times: int) -> None:
        super().__init__()
        self.waits: list[float] = []
        self.times = times

    def wait(self, timeout=None) -> bool:
        self.waits.append(timeout)
        if len(self.waits) >= self.times:
            self.set()
        return self.is_set()


def test_an_idle_worker_sleeps_only_until_the_next_portal_is_ready():
    stop = _Stop(4)
    work(_Queue(0.03), stop, max_delay=1.0, idle_s=0.01)
    assert stop.waits == [0.03] * 4  # not longer: a portal at its limit is sent to as soon as it may be
    stop = _Stop(3)
    work(_Queue(0.0), stop, max_delay=1.0, idle_s=0.01)
    assert stop.waits == [0.01] * 3  # ready but held by another worker: look again soon
    stop = _Stop(3)
    work(_Queue(50.0), stop, max_delay=1.0, idle_s=0.01)
    assert stop.waits == [1.0] * 3  # a paused portal: new values elsewhere are still found within max_delay


def test_a_worker_with_nothing_pending_backs_off_to_max_delay():
    stop = _Stop(9)
    work(_Queue(None), stop, max_delay=0.5, idle_s=0.01)
    assert stop.waits == [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.5, 0.5, 0.5]
