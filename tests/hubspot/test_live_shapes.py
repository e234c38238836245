"""The client reads the answers live HubSpot portals were recorded sending (hubspot-api-facts,
"Seen in recordings of live portals"), beside the older documented shapes."""

from __future__ import annotations

import pytest

from provisioner import errors
from provisioner.hubspot.api_errors import required_scopes
from provisioner.hubspot.wire import batch_errors_from_json, batch_result_from_json
from provisioner.model import Property
from tests.hubspot.scripted import ACCOUNT, Scripted, client_for

# 403 as a live portal sends it: no errors array, the scopes in context.requiredGranularScopes.
LIVE_403 = {"status": "error", "message": "One or more of the following scopes are required.",
            "correlationId": "2b6e6f4e-0000-4000-8000-000000000000",
            "context": {"requiredGranularScopes": ["crm.schemas.deals.write"],
                        "links": ["https://developers.hubspot.com/scopes"]},
            "category": "MISSING_SCOPES"}
# The older shape: scopes in errors[].context.requiredScopes.
OLD_403 = {"status": "error", "message": "This app hasn't been granted all required scopes to make this call.",
           "correlationId": "c-3", "category": "MISSING_SCOPES",
           "errors": [{"message": "missing", "context": {"requiredScopes": ["crm.schemas.deals.write"]}}]}
TOP_LEVEL_403 = {"status": "error", "message": "m", "category": "MISSING_SCOPES",
                 "context": {"requiredScopes": ["crm.schemas.deals.write"]}}


@pytest.mark.parametrize("body", [LIVE_403, OLD_403, TOP_LEVEL_403], ids=["live", "errors-array", "context"])
def test_403_names_the_scopes_in_every_shape(body):
    client, _ = client_for(Scripted((403, body, {})))
    with pytest.raises(errors.MissingScopesError) as caught:
        client.create_property(Property("accord_x", "X", "string", "text", "g"))
    assert caught.value.required_scopes == ["crm.schemas.deals.write"]
    assert caught.value.hint == "Grant the token these scopes: crm.schemas.deals.write"


@pytest.mark.parametrize("body", [
    {}, {"context": None}, {"context": {"requiredGranularScopes": "crm.x"}}, {"errors": "no"},
    {"errors": [None, 3, {"context": []}]}, {"context": {"requiredScopes": [1, None, {"a": 1}]}},
])
def test_403_bodies_without_usable_scopes_name_none(body):
    assert required_scopes(body) == []


def test_property_batch_create_207_names_the_failed_inputs():
    body = {"status": "COMPLETE", "numErrors": 1,
            "results": [{"name": "accord_a", "label": "A", "type": "string", "fieldType": "text",
                         "groupName": "g", "description": "", "options": []}],
            "errors": [{"status": "error", "category": "OBJECT_ALREADY_EXISTS",
                        "message": "A property named 'accord_b' already exists.",
                        "context": {"name": ["accord_b"]}}],
            "startedAt": "2026-11-28T00:00:00Z", "completedAt": "2026-11-28T00:00:01Z"}
    client, _ = client_for(Scripted((207, body, {})))
    created, failures = client.batch_create_properties(
        [Property("accord_a", "A", "string", "text", "g"), Property("accord_b", "B", "string", "text", "g")])
    assert [p.property.name for p in created] == ["accord_a"]
    assert failures[0].names == ("accord_b",) and failures[0].category == "OBJECT_ALREADY_EXISTS"


@pytest.mark.parametrize("context", [{"name": ["a", "b"]}, {"name": "a"}, {"names": ["a"]}, {"name": None},
                                     {"name": [None, {"x": 1}, "a"]}, None, "text", []])
def test_batch_error_contexts_of_every_shape_are_read(context):
    errors_ = batch_errors_from_json({"errors": [{"status": "error", "category": "VALIDATION_ERROR",
                                                  "message": "bad", "context": context}]})
    assert len(errors_) == 1 and set(errors_[0].names) <= {"a", "b"}


def test_object_batch_records_carry_their_url():
    body = {"status": "COMPLETE", "results": [
        {"id": "101", "properties": {"dealname": "A"}, "createdAt": "t", "updatedAt": "t", "archived": False,
         "url": "https://app.hubspot.com/contacts/12345678/record/0-3/101"},
        {"id": "102", "properties": {"dealname": "B"}, "url": None},
        {"id": "103", "properties": {"dealname": "C"}, "url": 7},
    ], "startedAt": "t", "completedAt": "t"}
    result = batch_result_from_json(body)
    assert [r.url for r in result.results] == ["https://app.hubspot.com/contacts/12345678/record/0-3/101", None, None]


@pytest.mark.parametrize("body", [None, [], "x", {"results": "x"}, {"results": [None]}, {"results": [{"id": {}}]},
                                  {"results": [{"properties": {}}]}])
def test_malformed_batch_answers_are_an_api_error(body):
    with pytest.raises(errors.ApiError, match="unexpected"):
        batch_result_from_json(body)


def test_rate_limit_headers_of_a_live_answer_are_adopted():
    headers = {"X-HubSpot-RateLimit-Daily": "250000", "X-HubSpot-RateLimit-Daily-Remaining": "249990",
               "X-HubSpot-RateLimit-Interval-Milliseconds": "10000", "X-HubSpot-RateLimit-Max": "100",
               "X-HubSpot-RateLimit-Remaining": "99", "X-HubSpot-RateLimit-Secondly": "10",
               "X-HubSpot-RateLimit-Secondly-Remaining": "9"}
    client, _ = client_for(Scripted((200, ACCOUNT, headers)), tier="professional")
    client.get_account_details()
    assert client.limiter.per_window == 100 and client.limiter.per_second == 10
