"""The limiter against a fake clock: paced evenly, never over the window's or the second's limit.

Requests are simulated one after another with random latencies; HubSpot counts each at some
instant between its start and its answer. The properties hold for every such instant.
"""

from __future__ import annotations

import bisect
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from provisioner.hubspot.limiter import RateLimiter
from tests.hubspot.scripted import FakeClock


def most_in_any_span(instants: list[float], span: float) -> int:
    """The most instants in any half-open interval [t, t + span)."""
    ordered = sorted(instants)
    return max((bisect.bisect_left(ordered, t + span) - i for i, t in enumerate(ordered)), default=0)


def simulate(limiter: RateLimiter, clock: FakeClock, latencies: list[float], places: list[float],
             headers: dict | None = None) -> tuple[list[float], list[float]]:
    """Send one request per latency; returns the start and the counted instant of each."""
    starts, counted = [], []
    for latency, place in zip(latencies, places, strict=True):
        limiter.wait()
        starts.append(clock.now)
        counted.append(clock.now + place * latency)
        clock.now += latency
        limiter.record(headers)
    return starts, counted


LATENCIES = st.lists(st.floats(0.0, 0.4), min_size=1, max_size=400)


@settings(max_examples=200, deadline=None)
@given(per_window=st.sampled_from([3, 10, 100, 190]), latencies=LATENCIES, data=st.data())
def test_never_more_than_the_window_allows(per_window, latencies, data):
    places = data.draw(st.lists(st.floats(0.0, 1.0), min_size=len(latencies), max_size=len(latencies)))
    clock = FakeClock()
    limiter = RateLimiter(per_window, 10.0, clock=clock, sleep=clock.sleep)
    starts, counted = simulate(limiter, clock, latencies, places)
    assert most_in_any_span(counted, 10.0) <= per_window
    assert most_in_any_span(starts, 10.0) <= per_window


@settings(max_examples=200, deadline=None)
@given(per_window=st.sampled_from([100, 190]), per_second=st.integers(1, 25), latencies=LATENCIES,
       data=st.data())
def test_never_more_than_the_announced_per_second_limit(per_window, per_second, latencies, data):
    places = data.draw(st.lists(st.floats(0.0, 1.0), min_size=len(latencies), max_size=len(latencies)))
    clock = FakeClock()
    limiter = RateLimiter(per_window, 10.0, clock=clock, sleep=clock.sleep)
    headers = {"X-HubSpot-RateLimit-Secondly": str(per_second),
               "X-HubSpot-RateLimit-Secondly-Remaining": str(per_second - 1)}
    # The first answer announces the figure; from then on every second holds at most that many.
    starts, counted = simulate(limiter, clock, latencies, places, headers)
    assert limiter.per_second == per_second
    assert most_in_any_span(counted[1:], 1.0) <= per_second
    assert most_in_any_span(counted, 10.0) <= per_window


def test_paced_evenly_instead_of_a_burst():
    clock = FakeClock()
    limiter = RateLimiter(100, 10.0, clock=clock, sleep=clock.sleep)
    starts, _ = simulate(limiter, clock, [0.0] * 100, [0.0] * 100)
    gaps = [b - a for a, b in pairwise(starts)]
    assert min(gaps) >= 0.1 - 1e-9
    assert most_in_any_span(starts, 1.0) <= 10


def test_pacing_costs_no_throughput_at_100_and_190_per_window():
    for per_window in (100, 190):
        clock = FakeClock()
        limiter = RateLimiter(per_window, 10.0, clock=clock, sleep=clock.sleep)
        starts, _ = simulate(limiter, clock, [0.001] * (per_window * 3), [1.0] * (per_window * 3))
        # Three windows' worth go in about three windows (the answer time of the first request aside).
        assert starts[-1] < 30.0


def test_remaining_headers_count_what_others_spent():
    clock = FakeClock()
    limiter = RateLimiter(100, 10.0, clock=clock, sleep=clock.sleep)
    limiter.wait()
    limiter.record({"X-HubSpot-RateLimit-Max": "100", "X-HubSpot-RateLimit-Remaining": "0"})
    limiter.wait()
    assert clock.now >= 10.0


def test_headers_that_mean_nothing_change_nothing():
    clock = FakeClock()
    limiter = RateLimiter(100, 10.0, clock=clock, sleep=clock.sleep)
    for value in ("-1", "0", "nan", "inf", "1e9", "ten", "", "9" * 40):
        limiter.record({"X-HubSpot-RateLimit-Max": value, "X-HubSpot-RateLimit-Secondly": value})
    assert limiter.per_window == 100 and limiter.per_second is None


def test_a_slow_turn_is_made_up_by_the_next():
    # Answers alternately slower and faster than the pace (0.1 s): the starts keep the pace on average
    # (a late start keeps its place), where pacing from each start would lose 0.05 s every two requests.
    clock = FakeClock()
    limiter = RateLimiter(100, 10.0, clock=clock, sleep=clock.sleep)
    starts, counted = simulate(limiter, clock, [0.15, 0.05] * 50, [1.0] * 100)
    assert starts[-1] < 99 * 0.1 + 0.06
    assert most_in_any_span(counted, 10.0) <= 100
