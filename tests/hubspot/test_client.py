"""The HTTP client against a scripted WSGI app: retries, rate limits, error mapping, no token leaks."""

from __future__ import annotations

import json

import pytest

from provisioner import errors
from provisioner.hubspot.client import HubSpotClient, RateLimiter
from tests.hubspot.scripted import ACCOUNT, RATE, FakeClock, Scripted, client_for


def test_paths_follow_the_api_version():
    app = Scripted((200, ACCOUNT, {}), (200, ACCOUNT, {}))
    HubSpotClient("http://p", "t", wsgi_app=app).get_account_details()
    HubSpotClient("http://p", "t", wsgi_app=app, api_version="v3").get_account_details()
    assert [path for _, path, _ in app.seen] == ["/account-info/2026-03/details", "/account-info/v3/details"]


def test_bearer_token_sent_but_never_shown():
    app = Scripted((401, {"status": "error", "message": "Authentication credentials not found.",
                          "category": "INVALID_AUTHENTICATION", "correlationId": "c-9"}, {}))
    client, _ = client_for(app)
    with pytest.raises(errors.AuthError) as caught:
        client.get_account_details()
    assert app.seen[0][2]["auth"] == "Bearer secret-token"
    text = str(caught.value) + repr(client) + repr(caught.value.body)
    assert "secret-token" not in text
    assert "INVALID_AUTHENTICATION" in str(caught.value) and "c-9" in str(caught.value)


def test_retries_5xx_423_and_dropped_connections_with_backoff():
    app = Scripted((502, None, {}), (423, {"message": "locked"}, {}), ("drop", None, {}), (503, None, {}),
                   (200, ACCOUNT, {}))
    client, sleeps = client_for(app)
    assert client.get_account_details().portal_id == 42
    assert client.stats.requests == 5 and client.stats.retries == 4
    assert len(sleeps) == 4
    assert all(0 <= s <= 0.5 * 2**i for i, s in enumerate(sleeps))


def test_gives_up_after_max_retries_with_the_last_error():
    app = Scripted(*[(500, {"message": "boom", "category": "INTERNAL_ERROR"}, {})] * 3)
    client, _ = client_for(app, max_retries=2)
    with pytest.raises(errors.ServerError):
        client.get_account_details()
    assert client.stats.requests == 3


def test_unreachable_portal_is_connection_failed():
    client, _ = client_for(Scripted(*[("drop", None, {})] * 3), max_retries=2)
    with pytest.raises(errors.ConnectionFailed, match="could not reach"):
        client.get_account_details()


def test_ten_secondly_429_waits_and_retries():
    app = Scripted((429, RATE, {"X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}), (200, ACCOUNT, {}))
    client, sleeps = client_for(app)
    client.get_account_details()
    assert client.stats.rate_limited == 1 and len(sleeps) == 1 and sleeps[0] >= 1.0


def test_retry_after_header_is_honoured():
    app = Scripted((429, RATE, {"Retry-After": "3"}), (200, ACCOUNT, {}))
    client, sleeps = client_for(app)
    client.get_account_details()
    assert sleeps == [3.0]


def test_daily_429_stops_at_once():
    daily = dict(RATE, message="You have reached your daily limit.", policyName="DAILY")
    client, sleeps = client_for(Scripted((429, daily, {})))
    with pytest.raises(errors.DailyLimitError) as caught:
        client.get_account_details()
    assert sleeps == [] and "midnight" in caught.value.hint


def test_4xx_is_never_retried():
    body = {"status": "error", "message": "Property values were not valid", "category": "VALIDATION_ERROR",
            "correlationId": "c-2", "errors": [{"message": "bad", "code": "INVALID_INTEGER"}]}
    client, _ = client_for(Scripted((400, body, {})))
    with pytest.raises(errors.RequestValidationError) as caught:
        client.batch_update_deals([("1", {"accord_progress": "x"})])
    assert client.stats.requests == 1
    assert caught.value.category == "VALIDATION_ERROR" and caught.value.body["errors"][0]["code"] == "INVALID_INTEGER"


def test_403_names_the_missing_scopes():
    body = {"status": "error", "message": "This app hasn't been granted all required scopes.",
            "category": "MISSING_SCOPES", "correlationId": "c-3",
            "errors": [{"message": "missing", "context": {"requiredScopes": ["crm.schemas.deals.write"]}}]}
    client, _ = client_for(Scripted((403, body, {})))
    with pytest.raises(errors.MissingScopesError) as caught:
        client.list_groups()
    assert caught.value.required_scopes == ["crm.schemas.deals.write"]
    assert "crm.schemas.deals.write" in caught.value.hint


def test_409_is_a_conflict_with_subcategory():
    body = {"status": "error", "message": "A property named 'accord_url' already exists.",
            "category": "OBJECT_ALREADY_EXISTS", "subCategory": "Properties.PROPERTY_WITH_NAME_EXISTS",
            "correlationId": "c-4"}
    client, _ = client_for(Scripted((409, body, {})))
    with pytest.raises(errors.ConflictError) as caught:
        client.archive_property("accord_url")
    assert caught.value.sub_category == "Properties.PROPERTY_WITH_NAME_EXISTS"


def test_batch_207_returns_results_and_errors():
    body = {"status": "COMPLETE", "numErrors": 1,
            "results": [{"id": "1", "properties": {"accord_status": "On Track"}, "updatedAt": "t"}],
            "errors": [{"status": "error", "category": "OBJECT_NOT_FOUND", "message": "gone",
                        "context": {"ids": ["2"]}}]}
    client, _ = client_for(Scripted((207, body, {})))
    result = client.batch_update_deals([("1", {"accord_status": "On Track"}), ("2", {"accord_status": "x"})])
    assert result.status == 207
    assert [r.id for r in result.results] == ["1"] and result.errors[0].ids == ("2",)


def test_malformed_answer_is_an_error_not_a_traceback():
    client, _ = client_for(Scripted((200, {"unexpected": True}, {})))
    with pytest.raises(errors.ApiError, match="unexpected groups"):
        client.list_groups()


def test_rate_limiter_spaces_requests_to_the_tier():
    clock = FakeClock()
    limiter = RateLimiter(3, 10.0, clock=clock, sleep=clock.sleep)
    for _ in range(7):
        limiter.wait()
        limiter.record()
        clock.now += 0.01
    # 7 requests at 3 per 10 s: two full windows waited.
    assert 20.0 <= clock.now < 20.2


def test_rate_limiter_adopts_a_lower_limit_and_an_empty_window_from_headers():
    clock = FakeClock()
    limiter = RateLimiter(190, 10.0, clock=clock, sleep=clock.sleep)
    limiter.wait()
    limiter.record({"X-HubSpot-RateLimit-Max": "100", "X-HubSpot-RateLimit-Remaining": "0"})
    assert limiter.per_window == 100
    limiter.wait()
    assert clock.now >= 10.0


def test_preflight_names_missing_scopes_before_any_write():
    app = Scripted((200, {"hubId": 42, "scopes": ["crm.schemas.deals.read"]}, {}))
    client, _ = client_for(app)
    with pytest.raises(errors.MissingScopesError) as caught:
        client.preflight_scopes(["crm.schemas.deals.read", "crm.schemas.deals.write"])
    assert caught.value.required_scopes == ["crm.schemas.deals.write"]
    method, path, seen = app.seen[0]
    assert (method, path) == ("POST", "/oauth/v2/private-apps/get/access-token-info")
    assert json.loads(seen["body"]) == {"tokenKey": "secret-token"}


def test_preflight_passes_quietly_when_hubspot_cannot_tell():
    app = Scripted((404, {"status": "error", "message": "not found", "category": "OBJECT_NOT_FOUND"}, {}))
    client, _ = client_for(app)
    client.preflight_scopes(["crm.schemas.deals.write"])
    assert client.stats.requests == 1


@pytest.mark.parametrize("url", ["notaurl", "http://", "ftp://x", "http://[::1"])
def test_a_base_url_that_cannot_work_is_a_usage_error(url):
    with pytest.raises(errors.UsageError, match="not an http"):
        HubSpotClient(url, "t")
