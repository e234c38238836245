"""Scenario tests of rate limits, injected faults and read-after-write lag."""

from __future__ import annotations

import pytest
import requests

from provisioner.emulator import DroppedConnection, Emulator, EmulatorSettings
from tests.emulator.conftest import FakeClock, Http, Local

DEALS = "/crm/v3/objects/deals"
PROPS = "/crm/v3/properties/deals"


def _emulator(clock=None, sleeps=None, **settings) -> Emulator:
    kwargs = {"clock": clock} if clock else {}
    if sleeps is not None:
        kwargs["sleep"] = sleeps.append
    return Emulator(EmulatorSettings(**{"burst_limit": None, "daily_limit": None, **settings}), **kwargs)


def test_burst_window_429_and_headers_on_every_answer():
    clock = FakeClock()
    local = Local(_emulator(clock, burst_limit=3, burst_window_s=10.0, daily_limit=1000))
    answers = [local("GET", PROPS + "/groups") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["X-HubSpot-RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    for answer in answers:
        assert answer.headers["X-HubSpot-RateLimit-Max"] == "3"
        assert answer.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
        assert answer.headers["X-HubSpot-RateLimit-Daily"] == "1000"
        assert answer.headers["X-HubSpot-Correlation-Id"]
    assert answers[3].body == {"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
                               "errorType": "RATE_LIMIT", "correlationId": answers[3].headers[
                                   "X-HubSpot-Correlation-Id"], "policyName": "TEN_SECONDLY_ROLLING",
                               "groupName": "publicapi:private_app-api-calls-ten-secondly:1:12345678"}
    assert "Retry-After" not in answers[3].headers
    clock.advance(10.0)
    assert local("GET", PROPS + "/groups").status_code == 200


def test_the_per_second_figure_is_announced_and_enforced_only_when_switched_on():
    clock = FakeClock()
    emulator = _emulator(clock, burst_limit=100, burst_window_s=10.0)
    local = Local(emulator)
    answers = [local("GET", PROPS + "/groups") for _ in range(12)]
    assert [a.status_code for a in answers] == [200] * 12  # live HubSpot is not recorded refusing on it
    assert answers[0].headers["X-HubSpot-RateLimit-Secondly"] == "10"
    assert [a.headers["X-HubSpot-RateLimit-Secondly-Remaining"] for a in answers[:3]] == ["9", "8", "7"]
    assert answers[11].headers["X-HubSpot-RateLimit-Secondly-Remaining"] == "0"
    clock.advance(10.0)
    emulator.set_rate_limits(100, 10.0, None, enforce_secondly=True)
    answers = [local("GET", PROPS + "/groups") for _ in range(11)]
    assert [a.status_code for a in answers] == [200] * 10 + [429]
    assert answers[10].body == {"status": "error", "message": "You have reached your secondly limit.",
                                "errorType": "RATE_LIMIT"}
    clock.advance(1.0)
    assert local("GET", PROPS + "/groups").status_code == 200
    assert emulator.limits.describe()["enforce_secondly"] is True


def test_the_per_second_switch_is_set_over_http(emulator, base_url):
    answer = requests.post(base_url + "/__emulator__/ratelimit", json={"burst_limit": 190, "enforce_secondly": True},
                           timeout=5)
    assert answer.json()["secondly_limit"] == 19 and answer.json()["enforce_secondly"] is True


def test_daily_limit_429_daily_until_midnight():
    clock, day = FakeClock(), [1_800_000_000.0]
    emulator = Emulator(EmulatorSettings(burst_limit=None, daily_limit=2, time_zone="UTC"), clock=clock,
                        wall=lambda: day[0])
    local = Local(emulator)
    statuses = [local("GET", PROPS).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    blocked = local("GET", PROPS)
    assert blocked.body["policyName"] == "DAILY" and blocked.body["message"] == "You have reached your daily limit."
    assert blocked.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"
    day[0] += 86_400
    assert local("GET", PROPS).status_code == 200


def test_retry_after_is_a_switch():
    local = Local(_emulator(FakeClock(), burst_limit=1, retry_after_header=True))
    local("GET", PROPS)
    assert local("GET", PROPS).headers["Retry-After"] == "10"


def test_a_fault_sequence_is_followed_exactly():
    local = Local(_emulator(fault_sequence=("500", "ok", "423", "502", "503", "504", "429", "429-daily")))
    answers = [local("GET", PROPS + "/groups") for _ in range(9)]
    assert [a.status_code for a in answers] == [500, 200, 423, 502, 503, 504, 429, 429, 200]
    assert answers[0].body["category"] == "INTERNAL_ERROR"
    assert answers[3].mimetype == "text/html" and b"Bad Gateway" in answers[3].data
    assert answers[7].body["policyName"] == "DAILY"
    assert all(a.headers["X-HubSpot-Correlation-Id"] for a in answers)


def test_a_fault_share_is_deterministic_from_the_seed():
    def run(seed):
        local = Local(_emulator(seed=seed, fault_rate=0.3, fault_kinds=("500", "503")))
        return [local("GET", PROPS + "/groups").status_code for _ in range(200)]

    first, again, other = run(7), run(7), run(8)
    assert first == again and first != other
    failures = sum(1 for s in first if s != 200)
    assert 30 <= failures <= 90
    assert set(first) == {200, 500, 503}


def test_faults_can_target_a_path_and_method():
    local = Local(_emulator(fault_rate=1.0, fault_kinds=("503",), fault_path="/batch/update", fault_methods=("POST",)))
    assert local("GET", DEALS).status_code == 200
    assert local("POST", DEALS + "/batch/update", {"inputs": []}).status_code == 503


def test_a_dropped_connection_in_process_raises_and_writes_nothing():
    emulator = _emulator(fault_sequence=("drop",))
    local = Local(emulator)
    with pytest.raises(DroppedConnection):
        local("POST", DEALS, {"properties": {"dealname": "lost"}})
    assert emulator.deal_count() == 0 and emulator.request_count() == 1


def test_drop_after_writes_but_never_answers():
    emulator = _emulator(fault_sequence=("drop-after",))
    with pytest.raises(DroppedConnection):
        Local(emulator)("POST", DEALS, {"properties": {"dealname": "landed"}})
    assert emulator.deal_count() == 1


def test_a_dropped_connection_over_the_socket_is_a_connection_error(emulator, base_url):
    emulator.set_faults(sequence=["drop", "ok"])
    http = Http(base_url)
    with pytest.raises(requests.ConnectionError):
        http("GET", PROPS)
    assert http("GET", PROPS).status_code == 200


def test_slow_answers_wait_then_answer():
    sleeps: list[float] = []
    local = Local(_emulator(sleeps=sleeps, fault_sequence=("slow",), slow_s=1.5))
    assert local("GET", PROPS).status_code == 200
    assert sleeps == [1.5]


def test_faults_and_limits_set_over_http(emulator, base_url):
    admin = Http(base_url, token=None)
    http = Http(base_url)
    answer = admin("POST", "/__emulator__/faults", {"sequence": ["503", "ok"], "seed": 3})
    assert answer.status_code == 200 and answer.json()["sequence"] == ["503", "ok"]
    assert [http("GET", PROPS).status_code for _ in range(3)] == [503, 200, 200]
    assert admin("GET", "/__emulator__/faults").json()["injected"] == {"503": 1}
    assert admin("POST", "/__emulator__/faults", {"sequence": ["teapot"]}).status_code == 400
    assert admin("POST", "/__emulator__/ratelimit", {"burst_limit": 1, "burst_window_s": 60}).status_code == 200
    assert [http("GET", PROPS).status_code for _ in range(2)] == [200, 429]
    # The emulator's own endpoints are never limited, faulted or counted.
    assert admin("GET", "/__emulator__/ratelimit").json()["burst_used"] == 1
    counts = admin("GET", "/__emulator__/requests").json()
    assert counts["requests"] == emulator.request_count() == 5
    assert counts["by_status"] == {"503": 1, "200": 3, "429": 1}


def test_read_after_write_lag_shows_the_previous_version_for_a_while():
    clock = FakeClock()
    emulator = _emulator(clock, lag_min_s=0.25, lag_max_s=0.7, seed=1)
    local = Local(emulator)
    local("POST", PROPS + "/groups", {"name": "accord", "label": "Accord"})
    assert local("GET", PROPS + "/groups/accord").status_code == 404  # not visible yet
    clock.advance(0.7)
    assert local("GET", PROPS + "/groups/accord").status_code == 200
    [deal] = [r["id"] for r in local("POST", DEALS + "/batch/create",
                                     {"inputs": [{"properties": {"dealname": "old"}}]}).body["results"]]
    clock.advance(0.7)
    local("POST", DEALS + "/batch/update", {"inputs": [{"id": deal, "properties": {"dealname": "new"}}]})
    assert local("GET", f"{DEALS}/{deal}", properties="dealname").body["properties"]["dealname"] == "old"
    clock.advance(0.2)
    assert local("GET", f"{DEALS}/{deal}", properties="dealname").body["properties"]["dealname"] == "old"
    clock.advance(0.5)
    assert local("GET", f"{DEALS}/{deal}", properties="dealname").body["properties"]["dealname"] == "new"


def test_auth_token_and_scopes():
    emulator = _emulator(token="right", scopes={"crm.objects.deals.read"})
    assert Local(emulator, token="wrong")("GET", DEALS).status_code == 401
    assert Local(emulator, token=None)("GET", DEALS).status_code == 401
    local = Local(emulator, token="right")
    assert local("GET", DEALS).status_code == 200
    denied = local("POST", DEALS, {"properties": {}})
    assert denied.status_code == 403
    assert denied.body["context"]["requiredGranularScopes"] == ["crm.objects.deals.write"]
    info = local("POST", "/oauth/v2/private-apps/get/access-token-info", {"tokenKey": "right"})
    assert info.status_code == 200 and info.body["scopes"] == ["crm.objects.deals.read"]
