"""Every wait has an end: connect and read timeouts, a total deadline per request (a server that
trickles its answer cannot hold a command), the command's PROVISIONER_TIMEOUT, and Retry-After
and backoff clamped and validated. Real loopback servers; every test bounded by a thread or
subprocess timeout; no timing assertion beyond "it ended with the right error"."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from provisioner import errors
from provisioner.hubspot.client import HubSpotClient
from provisioner.hubspot.deadline import parse_timeout
from provisioner.hubspot.transport import MAX_RETRY_AFTER_S, parse_retry_after
from tests.hubspot.scripted import ACCOUNT, RATE, FakeClock, Scripted
from tests.hubspot.servers import child_exit_code, hostile_server

ROOT = Path(__file__).resolve().parents[2]
BOUND_S = 60  # no test here may take longer, whatever the code under test does


def ended_with(call, bound_s: float = BOUND_S):
    """Run ``call`` in a thread; it must end within the bound. Returns what it raised."""
    outcome: dict = {}

    def target():
        try:
            outcome["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(bound_s)
    assert not thread.is_alive(), "the call did not end"
    return outcome.get("error")


def quick_client(base_url: str, **kwargs) -> HubSpotClient:
    kwargs.setdefault("timeout", (1.0, 0.5))
    kwargs.setdefault("request_timeout_s", 2.0)
    return HubSpotClient(base_url, "test-token", tier="unlimited", **kwargs)


def test_a_port_that_accepts_and_never_answers_costs_one_timeout():
    with hostile_server("silent") as url:
        client = quick_client(url)
        error = ended_with(client.get_account_details)
    assert isinstance(error, errors.DeadlineExceeded) and "no answer" in str(error)
    assert client.stats.requests == 1  # not retried: another try would cost as much again


@pytest.mark.parametrize("behaviour", ["trickle-headers", "trickle-body"])
def test_a_server_that_trickles_its_answer_is_cut_off(behaviour):
    # Each byte comes well within the read timeout, so only the total deadline can end this.
    with hostile_server(behaviour, byte_every_s=0.05) as url:
        client = quick_client(url, timeout=(1.0, 1.0), request_timeout_s=1.5)
        error = ended_with(client.get_account_details)
    assert isinstance(error, errors.DeadlineExceeded), error
    assert "longer than" in str(error) or "too slowly" in str(error)


def test_a_short_deadline_fires_while_a_longer_one_waits():
    """One watchdog thread serves every request: a request with a short deadline is cut off on
    time even while another request's much longer deadline is already waiting."""
    with hostile_server("silent") as silent, hostile_server("trickle-headers", byte_every_s=0.05) as trickle:
        waiting = quick_client(silent, timeout=(1.0, 60.0), request_timeout_s=45.0)
        threading.Thread(target=lambda: ended_with(waiting.get_account_details), daemon=True).start()
        time.sleep(0.3)  # its watchdog is waiting first
        short = quick_client(trickle, timeout=(1.0, 1.0), request_timeout_s=1.5)
        error = ended_with(short.get_account_details, bound_s=15)
    assert isinstance(error, errors.DeadlineExceeded) and "longer than" in str(error), error


def test_the_command_deadline_bounds_retries():
    clock = FakeClock()
    app = Scripted(*[(503, {"message": "busy"}, {})] * 50)
    client = HubSpotClient("http://p.test", "t", wsgi_app=app, tier="unlimited", max_retries=40,
                           backoff_base_s=1.0, deadline_s=20.0, sleep=clock.sleep, clock=clock)
    with pytest.raises(errors.DeadlineExceeded, match="deadline of 20s"):
        client.get_account_details()
    assert clock.now < 20.0  # never slept past the deadline: gave up before the pause that would


def test_a_retry_after_of_a_day_is_clamped():
    sleeps: list[float] = []
    app = Scripted((429, RATE, {"Retry-After": "86400"}), (200, ACCOUNT, {}))
    client = HubSpotClient("http://p.test", "t", wsgi_app=app, tier="unlimited", sleep=sleeps.append)
    client.get_account_details()
    assert sleeps == [MAX_RETRY_AFTER_S]


def test_a_wait_longer_than_the_deadline_ends_the_command_at_once():
    sleeps: list[float] = []
    app = Scripted((429, RATE, {"Retry-After": "30"}))
    client = HubSpotClient("http://p.test", "t", wsgi_app=app, tier="unlimited", sleep=sleeps.append,
                           deadline_s=5.0)
    with pytest.raises(errors.DeadlineExceeded, match="rate limit"):
        client.get_account_details()
    assert sleeps == []


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "-5", "garbage", "1e999", "", " ", "0x10", "1_0",
                                   "Wed, 21 Oct 2015 07:28:00", "Wed, 32 Oct 2015 07:28:00 GMT", "9" * 400])
def test_a_retry_after_that_means_nothing_is_replaced_by_backoff(value):
    assert parse_retry_after(value) is None
    sleeps: list[float] = []
    app = Scripted((429, RATE, {"Retry-After": value}), (200, ACCOUNT, {}))
    client = HubSpotClient("http://p.test", "t", wsgi_app=app, tier="unlimited", sleep=sleeps.append)
    assert client.get_account_details().portal_id == 42
    assert len(sleeps) == 1 and 0 < sleeps[0] <= 10.25


def test_retry_after_as_a_delay_or_a_date():
    from datetime import datetime, timezone

    now = datetime(2026, 11, 28, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("2.5") == 2.5
    assert parse_retry_after("Sat, 28 Nov 2026 12:00:07 GMT", now=lambda: now) == 7.0
    assert parse_retry_after("Sun, 29 Nov 2026 12:00:00 GMT", now=lambda: now) == MAX_RETRY_AFTER_S
    assert parse_retry_after("Fri, 27 Nov 2026 12:00:00 GMT", now=lambda: now) is None


def test_a_rate_window_header_that_means_nothing_is_ignored():
    sleeps: list[float] = []
    app = Scripted((429, RATE, {"X-HubSpot-RateLimit-Interval-Milliseconds": "-1"}),
                   (429, RATE, {"X-HubSpot-RateLimit-Interval-Milliseconds": "99999999999999"}), (200, ACCOUNT, {}))
    client = HubSpotClient("http://p.test", "t", wsgi_app=app, tier="unlimited", sleep=sleeps.append)
    client.get_account_details()
    assert len(sleeps) == 2 and all(0 < s <= 60.25 for s in sleeps)


@pytest.mark.parametrize("text", ["abc", "-1", "0", "inf", "nan", "1e999"])
def test_provisioner_timeout_must_be_a_positive_number(text):
    with pytest.raises(errors.UsageError, match="PROVISIONER_TIMEOUT"):
        parse_timeout(text)


def test_provisioner_timeout_defaults_to_900_seconds():
    assert parse_timeout(None) == 900.0 and parse_timeout("2.5") == 2.5


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "PROVISIONER_"))}
    return subprocess.run([sys.executable, "-m", "provisioner", *args], cwd=ROOT, env={**clean, **env},
                          capture_output=True, text=True, timeout=BOUND_S)


def test_plan_against_a_silent_portal_ends_with_one_line():
    with hostile_server("silent") as url:
        result = run_cli("plan", "-f", "hubspot_schema.yaml", HUBSPOT_ACCESS_TOKEN="pat-na1-test",
                         HUBSPOT_BASE_URL=url, PROVISIONER_TIMEOUT="3")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and ("in time" in result.stderr or "deadline" in result.stderr)


def test_plan_with_a_timeout_that_is_no_number_is_one_line():
    result = run_cli("plan", "-f", "hubspot_schema.yaml", HUBSPOT_ACCESS_TOKEN="pat-na1-test",
                     HUBSPOT_BASE_URL="http://127.0.0.1:9", PROVISIONER_TIMEOUT="soon")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "PROVISIONER_TIMEOUT must be a positive number of seconds, not 'soon'" in result.stderr


class _Sock:
    """Stands for a request's socket: records when the watchdog shut it."""

    def __init__(self) -> None:
        self.shut_at: float | None = None

    def shutdown(self, how) -> None:
        self.shut_at = time.monotonic()


class _Connection:
    def __init__(self) -> None:
        self.sock = _Sock()


def test_many_concurrent_deadlines_each_fire_on_time_and_only_while_running():
    """Requests overlapping with deadlines in any order (0 among them) on the one watchdog thread:
    each still running at its deadline is cut off then, not before; none that ended first is."""
    from provisioner.hubspot.deadline import Watchdog

    plans = [(seconds, runs) for seconds in (0.0, 0.05, 0.4, 0.1, 0.25, 0.0, 0.6, 0.15) for runs in (0.02, 2.5)]
    results: list = []
    lock = threading.Lock()

    def one(seconds: float, runs: float) -> None:
        connection = _Connection()
        started = time.monotonic()
        with Watchdog(seconds) as watchdog:
            watchdog.watch(connection)
            time.sleep(runs)
            fired = watchdog.fired
        time.sleep(max(0.0, seconds - runs) + 0.05)  # a deadline passing after the request ended changes nothing
        with lock:
            results.append((seconds, runs, started, fired or watchdog.fired, connection.sock.shut_at))

    # Latest deadline first: each request that follows has the earliest deadline of all waiting.
    threads = [threading.Thread(target=one, args=plan, daemon=True) for plan in sorted(plans, reverse=True)]
    for thread in threads:
        thread.start()
        time.sleep(0.005)
    for thread in threads:
        thread.join(20)
    assert len(results) == len(plans)
    for seconds, runs, started, fired, shut_at in results:
        if seconds + 1.0 < runs:  # still running well past its deadline: cut off, not early and not late
            assert fired and shut_at is not None, (seconds, runs)
            assert seconds <= shut_at - started < seconds + 1.0, (seconds, runs, shut_at - started)
        elif runs + 0.1 < seconds:  # ended well before its deadline: never cut off
            assert not fired and shut_at is None, (seconds, runs)


def test_a_forked_child_never_fires_its_parents_watchdogs():
    """A child's copy of a request the parent had in flight at the fork is not the child's to cut:
    the child's watchdog thread starts empty, and serves only the child's own requests."""
    from provisioner.hubspot.deadline import Watchdog

    parent = Watchdog(0.2)
    with parent:
        pid = os.fork()
        if pid == 0:  # the child: its own short deadline fires; the parent's copy never does
            code = 1
            try:
                mine = _Connection()
                with Watchdog(0.05) as own:
                    own.watch(mine)
                    until = time.monotonic() + 10
                    while not own.fired and time.monotonic() < until:
                        time.sleep(0.01)
                    time.sleep(0.5)  # well past the parent's deadline too
                code = 0 if own.fired and mine.sock.shut_at is not None and not parent.fired else 1
            finally:
                os._exit(code)
        until = time.monotonic() + 10
        while not parent.fired and time.monotonic() < until:
            time.sleep(0.01)
        assert parent.fired
    assert child_exit_code(pid, bound_s=20) == 0
