"""Whatever HubSpot (or something pretending to be it) answers, the parsers give the project's types
or an ApiError: never another exception. Hypothesis over arbitrary JSON, plus a corpus of shapes."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from provisioner import errors
from provisioner.hubspot.api_errors import error_from_answer
from provisioner.hubspot.limiter import RateLimiter
from provisioner.hubspot.transport import parse_retry_after
from provisioner.hubspot.wire import (
    account_from_json,
    batch_errors_from_json,
    batch_result_from_json,
    group_from_json,
    live_property_from_json,
    record_from_json,
)
from tests.hubspot.scripted import FakeClock, Scripted, client_for

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
JSON = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(st.text(max_size=12), inner, max_size=5)),
                    max_leaves=25)
KEYS = st.sampled_from(["message", "category", "errorType", "subCategory", "correlationId", "policyName",
                        "context", "errors", "requiredScopes", "requiredGranularScopes", "name", "ids", "id",
                        "results", "numErrors", "status", "properties", "url", "updatedAt", "portalId"])
SHAPED = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(KEYS, inner, max_size=6)), max_leaves=30)
BODIES = st.one_of(JSON, SHAPED)


@settings(max_examples=400, deadline=None)
@given(status=st.integers(400, 599), body=BODIES, reason=st.text(max_size=20))
def test_every_error_answer_becomes_an_api_error(status, body, reason):
    error = error_from_answer("GET", "/x", status, reason, {}, body)
    assert isinstance(error, errors.ApiError) and str(error)
    assert all(isinstance(scope, str) for scope in getattr(error, "required_scopes", []))


@settings(max_examples=400, deadline=None)
@given(body=BODIES)
def test_every_answer_parses_or_is_an_api_error(body):
    for parse in (batch_result_from_json, account_from_json, group_from_json, live_property_from_json):
        try:
            parse(body)
        except errors.ApiError:
            pass
    assert isinstance(batch_errors_from_json(body), list)


@settings(max_examples=300, deadline=None)
@given(headers=st.dictionaries(st.sampled_from(["X-HubSpot-RateLimit-Max", "X-HubSpot-RateLimit-Remaining",
                                                "X-HubSpot-RateLimit-Secondly",
                                                "X-HubSpot-RateLimit-Secondly-Remaining"]),
                               st.one_of(st.text(max_size=30), st.integers(-10**12, 10**12).map(str))),
       retry_after=st.text(max_size=40))
def test_rate_limit_headers_never_break_the_limiter(headers, retry_after):
    clock = FakeClock()
    limiter = RateLimiter(100, 10.0, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        limiter.wait()
        limiter.record(headers)
    assert 1 <= limiter.per_window <= 100 and (limiter.per_second is None or limiter.per_second >= 1)
    delay = parse_retry_after(retry_after)
    assert delay is None or 0 <= delay <= 60


def test_an_answer_nested_deeper_than_json_can_parse_is_an_api_error():
    deep = "[" * 100_000 + "]" * 100_000

    class Raw(Scripted):
        def __call__(self, environ, start_response):
            start_response(self.answers.pop(0), [("Content-Type", "application/json")])
            return [deep.encode()]

    for status in ("200 OK", "500 Internal Server Error"):
        client, _ = client_for(Raw(status), max_retries=0)
        try:
            client.get_account_details()
        except errors.ApiError as exc:
            assert json.dumps(str(exc))
        else:  # pragma: no cover - the assertion says why
            raise AssertionError("a body nested 100,000 deep was accepted")


@settings(max_examples=300)
@given(st.dictionaries(st.text(max_size=8), st.one_of(SCALARS, st.lists(SCALARS, max_size=2)), max_size=6))
def test_a_records_properties_are_texts_or_none_whatever_their_json_types(properties):
    """All strings (kept as they came), or a mix with null, numbers and booleans (each as its text):
    the same values either way; anything else in a value is a malformed answer."""
    item = json.loads(json.dumps({"id": 7, "properties": properties}))
    if any(isinstance(v, list) for v in properties.values()):
        try:
            record_from_json(item)
        except errors.ApiError:
            return
        raise AssertionError("a list accepted as a property's value")
    record = record_from_json(item)
    assert record.id == "7"
    assert record.properties == {k: None if v is None else str(v) for k, v in item["properties"].items()}
    assert all(v is None or type(v) is str for v in record.properties.values())
