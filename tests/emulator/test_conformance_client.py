"""Every recorded HubSpot answer fed to the client: what the tool makes of HubSpot's real shapes.

The client talks to an in-process app that answers every request with the fixture's status,
headers and body, so these tests see exactly what the client would see from HubSpot.
"""

from __future__ import annotations

import json

import pytest

from provisioner import errors
from provisioner.hubspot.client import HubSpotClient
from provisioner.hubspot.wire import record_from_json
from provisioner.model import Group, Option, Property, ValidationRule
from tests.emulator.conformance import load_fixtures

FIXTURES = load_fixtures()
PROGRESS = Property(name="accord_progress", label="Progress", type="number", field_type="number",
                    group_name="accord", description="Share done")
STATUS = Property(name="accord_status", label="Status", type="enumeration", field_type="select", group_name="accord",
                  options=(Option("On track", "on_track", 0, False), Option("At risk", "at_risk", 1, True)))


def replaying(fixture: dict):
    """A WSGI app answering every request with the fixture's recorded answer."""
    status, body = fixture["status"], fixture["body"]
    headers = [("X-HubSpot-Correlation-Id", "7c1d")]
    for name, kind in fixture["headers"].items():
        if name not in ("X-HubSpot-Correlation-Id", "Location"):
            headers.append((name, str(fixture.get("secondly", {}).get(name, 50 if kind == "int" else "x"))))
    data = b"" if body is None else json.dumps(body).encode()
    if body is not None:
        headers.append(("Content-Type", "application/json;charset=utf-8"))

    def app(environ, start_response):
        start_response(f"{status} Recorded", headers)
        return [data]

    return app


def client_for(name: str) -> HubSpotClient:
    return HubSpotClient("http://recorded.test", "t0ken", api_version="v3", wsgi_app=replaying(FIXTURES[name]),
                         max_retries=0, sleep=lambda s: None)


def test_account_details():
    assert client_for("account_details").get_account_details().portal_id == 12345678


def test_token_info():
    assert client_for("token_info").get_token_scopes() == ["crm.objects.deals.read"]


def test_groups():
    assert [g.name for g in client_for("groups_list").list_groups()] == ["accord"]
    assert client_for("group_create").create_group(Group("accord", "Accord", 3)).label == "Accord"
    assert client_for("group_update").update_group("accord", {"label": "Accord sync"}).label == "Accord sync"


@pytest.mark.parametrize("name", ["property_create", "property_get", "property_update"])
def test_a_property_answer(name):
    client = client_for(name)
    live = {"property_create": lambda: client.create_property(PROGRESS),
            "property_get": lambda: client.get_property("accord_progress"),
            "property_update": lambda: client.update_property("accord_progress", {"label": "Progress (%)"})}[name]()
    assert live.property.name == "accord_progress" and live.property.type == "number"
    assert not live.hubspot_defined and not live.archived


def test_an_enumeration_keeps_its_options_hidden_flags_and_order():
    live = client_for("property_create_enumeration").create_property(STATUS)
    assert live.property.options == STATUS.options


def test_property_lists():
    assert [p.property.name for p in client_for("properties_list").list_properties()] == ["accord_progress"]
    [archived] = client_for("properties_list_archived").list_properties(archived=True)
    assert archived.archived


def test_archive():
    assert client_for("property_archive").archive_property("accord_progress") is None


def test_409_is_a_conflict_naming_hubspots_reason():
    with pytest.raises(errors.ConflictError) as caught:
        client_for("property_409").create_property(PROGRESS)
    assert caught.value.sub_category == "Properties.PROPERTY_WITH_NAME_EXISTS"


def test_property_batch_create():
    created, failed = client_for("property_batch_create").batch_create_properties([PROGRESS])
    assert [p.property.name for p in created] == ["accord_progress"] and failed == []


def test_property_batch_create_207_names_the_failed_inputs():
    """HubSpot names failed properties in context.name: the client must not lose them."""
    url = Property(name="accord_url", label="URL", type="string", field_type="text", group_name="accord")
    created, failed = client_for("property_batch_create_207").batch_create_properties([PROGRESS, url])
    assert [p.property.name for p in created] == ["accord_url"]
    [error] = failed
    named = tuple(error.ids) + tuple(getattr(error, "names", ()))
    assert "accord_progress" in named and error.category == "OBJECT_ALREADY_EXISTS"


def test_validation_rules():
    rules = client_for("validation_rules_list").list_validation_rules()
    assert rules == [ValidationRule("accord_note", "MAX_LENGTH", ("200",))]
    assert client_for("validation_rule_put").put_validation_rule(rules[0]) is None


def test_a_single_record():
    record = record_from_json(FIXTURES["deal_create"]["body"])
    assert record.id == "10000000001" and record.properties["dealname"] == "Lighthouse"


@pytest.mark.parametrize("name, call", [
    ("deals_batch_create", lambda c: c.batch_create_deals([{"accord_progress": "40"}])),
    ("deals_batch_read", lambda c: c.batch_read_deals(["10000000001"], ["accord_progress"])),
    ("deals_batch_update", lambda c: c.batch_update_deals([("10000000001", {"accord_progress": "55"})])),
])
def test_object_batches(name, call):
    result = call(client_for(name))
    assert [r.id for r in result.results] == ["10000000001"] and result.errors == []


@pytest.mark.parametrize("name, call", [
    ("deals_batch_read_207", lambda c: c.batch_read_deals(["10000000001", "99"], ["accord_progress"])),
    ("deals_batch_update_207", lambda c: c.batch_update_deals([("10000000001", {"x": "1"}), ("99", {"x": "1"})])),
])
def test_object_batches_207_name_the_missing_ids(name, call):
    result = call(client_for(name))
    assert [r.id for r in result.results] == ["10000000001"]
    [error] = result.errors
    assert error.category == "OBJECT_NOT_FOUND" and tuple(error.ids) == ("99",)


@pytest.mark.parametrize("name", ["deals_400_invalid_value", "deals_400_unknown_property"])
def test_value_errors(name):
    with pytest.raises(errors.RequestValidationError) as caught:
        client_for(name).batch_update_deals([("10000000001", {"accord_progress": "forty"})])
    assert caught.value.category == "VALIDATION_ERROR"
    assert "Property values were not valid" in str(caught.value)


def test_401():
    with pytest.raises(errors.AuthError):
        client_for("unauthorized_401").list_properties()


def test_403_names_the_scopes_in_hubspots_current_shape():
    """A live portal puts the scopes in the top-level context.requiredGranularScopes, with no errors array."""
    with pytest.raises(errors.MissingScopesError) as caught:
        client_for("missing_scopes_403").list_properties()
    assert caught.value.required_scopes == ["crm.objects.deals.read"]


def test_403_names_the_scopes_in_hubspots_older_shape_too():
    with pytest.raises(errors.MissingScopesError) as caught:
        client_for("missing_scopes_403_2022").list_properties()
    assert caught.value.required_scopes == ["crm.objects.deals.read"]


def test_429_ten_secondly_is_a_rate_limit_and_daily_stops():
    with pytest.raises(errors.RateLimitError) as caught:
        client_for("rate_limited_429_ten_secondly").list_groups()
    assert not isinstance(caught.value, errors.DailyLimitError)
    with pytest.raises(errors.DailyLimitError):
        client_for("rate_limited_429_daily").list_groups()


def test_an_answer_with_every_rate_limit_header_is_read():
    client = client_for("rate_limit_headers")
    assert [g.name for g in client.list_groups()] == ["dealinformation"]
    assert client.stats.by_status[200] == 1
