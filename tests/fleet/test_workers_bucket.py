"""The portal's shared tokens: whatever the timing, no window holds more requests than the portal allows."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from provisioner.fleet.pgbucket import Bucket


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
