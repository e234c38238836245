"""Both path families (/crm/v3/... and date-versioned 2026-03) for every endpoint, answers in the SDK's models."""

from __future__ import annotations

import json

import pytest

from tests.emulator.conftest import Http, create_group_and_property, sdk_model

FAMILIES = {
    "v3": {"properties": "/crm/v3/properties/deals", "objects": "/crm/v3/objects/deals",
           "rules": "/crm/v3/property-validations/0-3", "account": "/account-info/v3/details"},
    "2026-03": {"properties": "/crm/properties/2026-03/deals", "objects": "/crm/objects/2026-03/deals",
                "rules": "/crm/property-validations/2026-03/0-3", "account": "/account-info/2026-03/details"},
}


@pytest.fixture(params=sorted(FAMILIES))
def family(request) -> dict:
    return FAMILIES[request.param]


def test_account_details(http: Http, family, sdk):
    answer = http("GET", family["account"])
    assert answer.status_code == 200
    body = answer.json()
    assert (body["portalId"], body["accountType"]) == (12345678, "STANDARD")
    assert {"timeZone", "companyCurrency", "uiDomain", "dataHostingLocation"} <= set(body)


def test_groups_every_method(http: Http, family, sdk):
    base = family["properties"] + "/groups"
    created = http("POST", base, {"name": "accord", "label": "Accord", "displayOrder": 2})
    assert created.status_code == 201 and created.headers["Location"].endswith(base + "/accord")
    assert sdk_model(sdk, "properties", created.text, "PropertyGroup").name == "accord"
    listed = http("GET", base)
    assert "accord" in [g.name for g in sdk_model(sdk, "properties", listed.text,
                                                   "CollectionResponsePropertyGroupNoPaging").results]
    patched = http("PATCH", base + "/accord", {"label": "Accord data"})
    assert sdk_model(sdk, "properties", patched.text, "PropertyGroup").label == "Accord data"
    assert http("GET", base + "/accord").json()["label"] == "Accord data"
    assert http("DELETE", base + "/accord").status_code == 204
    assert http("GET", base + "/accord").status_code == 404


def test_properties_every_method(http: Http, family, sdk):
    base = family["properties"]
    created = create_group_and_property(http, base)
    assert sdk_model(sdk, "properties", json.dumps(created), "ModelProperty").name == "accord_url"
    listed = http("GET", base, archived="false")
    assert "accord_url" in [x.name for x in sdk_model(sdk, "properties", listed.text,
                                                      "CollectionResponsePropertyNoPaging").results]
    patched = http("PATCH", base + "/accord_url", {"description": "Link to the Accord"})
    assert sdk_model(sdk, "properties", patched.text, "ModelProperty").description == "Link to the Accord"
    batch = http("POST", base + "/batch/create", {"inputs": [
        {"name": "accord_progress", "label": "Progress", "type": "number", "fieldType": "number",
         "groupName": "accord"}]})
    assert batch.status_code == 201
    assert sdk_model(sdk, "properties", batch.text, "BatchResponseProperty").results[0].type == "number"
    read = http("POST", base + "/batch/read", {"archived": False, "dataSensitivity": "non_sensitive",
                                              "inputs": [{"name": "accord_progress"}]})
    assert read.status_code == 200 and read.json()["results"][0]["name"] == "accord_progress"
    assert http("POST", base + "/batch/archive", {"inputs": [{"name": "accord_progress"}]}).status_code == 204
    assert http("DELETE", base + "/accord_url").status_code == 204
    assert http("GET", base + "/accord_url").status_code == 404
    assert http("GET", base + "/accord_url", archived="true").json()["archived"] is True
    assert sorted(x["name"] for x in http("GET", base, archived="true").json()["results"]) == [
        "accord_progress", "accord_url"]


def test_validation_rules_read_all_read_one_put(http: Http, family):
    create_group_and_property(http, family["properties"])
    rules = family["rules"]
    assert http("GET", rules).json() == {"results": []}
    put = http("PUT", rules + "/accord_url/rule-type/MAX_LENGTH",
               {"ruleArguments": ["100"], "shouldApplyNormalization": False})
    assert put.status_code == 204 and put.content == b""
    assert http("GET", rules + "/accord_url").json() == {"results": [
        {"ruleType": "MAX_LENGTH", "ruleArguments": ["100"]}]}
    # PUT replaces that rule type only.
    http("PUT", rules + "/accord_url/rule-type/URL", {"ruleArguments": [], "shouldApplyNormalization": False})
    http("PUT", rules + "/accord_url/rule-type/MAX_LENGTH", {"ruleArguments": ["255"]})
    assert http("GET", rules).json() == {"results": [{"propertyName": "accord_url", "propertyValidationRules": [
        {"ruleType": "MAX_LENGTH", "ruleArguments": ["255"]}, {"ruleType": "URL", "ruleArguments": []}]}]}
    assert http("GET", rules + "/no_such_property").status_code == 404


def test_deals_every_method(http: Http, family, sdk):
    base = family["objects"]
    one = http("POST", base, {"properties": {"dealname": "One", "amount": 3}})
    assert one.status_code == 201
    deal = sdk_model(sdk, "deals", one.text, "SimplePublicObject")
    assert deal.properties["amount"] == "3"
    batch = http("POST", base + "/batch/create", {"inputs": [{"properties": {"dealname": f"D{i}"}} for i in range(3)]})
    ids = [deal.id] + [r.id for r in sdk_model(sdk, "deals", batch.text, "BatchResponseSimplePublicObject").results]
    got = http("GET", f"{base}/{ids[1]}", properties="dealname")
    assert sdk_model(sdk, "deals", got.text, "SimplePublicObjectWithAssociations").properties["dealname"] == "D0"
    page = http("GET", base, limit="2", properties="dealname")
    first = sdk_model(sdk, "deals", page.text, "CollectionResponseSimplePublicObjectWithAssociationsForwardPaging")
    assert [r.id for r in first.results] == ids[:2]
    rest = http("GET", base, limit="2", after=first.paging.next.after).json()
    assert [r["id"] for r in rest["results"]] == ids[2:] and "paging" not in rest
    read = http("POST", base + "/batch/read", {"properties": ["dealname"], "propertiesWithHistory": [],
                                              "inputs": [{"id": i} for i in ids]})
    assert [r.properties["dealname"] for r in sdk_model(sdk, "deals", read.text,
                                                        "BatchResponseSimplePublicObject").results] == [
        "One", "D0", "D1", "D2"]
    update = http("POST", base + "/batch/update", {"inputs": [{"id": ids[0], "properties": {"dealname": ""}}]})
    assert update.status_code == 200
    assert sdk_model(sdk, "deals", update.text, "BatchResponseSimplePublicObject").status == "COMPLETE"
    assert http("GET", f"{base}/{ids[0]}", properties="dealname").json()["properties"]["dealname"] is None


def test_both_families_serve_the_same_portal(http: Http):
    create_group_and_property(http, FAMILIES["v3"]["properties"])
    dated = http("GET", FAMILIES["2026-03"]["properties"] + "/accord_url").json()
    legacy = http("GET", FAMILIES["v3"]["properties"] + "/accord_url").json()
    assert dated == legacy


def test_option_display_order_is_required_on_2026_03_only(http: Http):
    for base in (FAMILIES["v3"]["properties"], FAMILIES["2026-03"]["properties"]):
        http("POST", base + "/groups", {"name": "accord", "label": "Accord"})
    body = {"name": "accord_status", "label": "Status", "type": "enumeration", "fieldType": "select",
            "groupName": "accord", "options": [{"label": "On Track", "value": "on_track", "hidden": False}]}
    dated = http("POST", FAMILIES["2026-03"]["properties"], body)
    assert dated.status_code == 400
    assert [e["in"] for e in dated.json()["errors"]] == ["options[0].displayOrder"]
    legacy = http("POST", FAMILIES["v3"]["properties"], body)
    assert legacy.status_code == 201 and legacy.json()["options"][0]["displayOrder"] == 0


def test_object_type_id_and_name_are_both_accepted(http: Http):
    assert http("GET", "/crm/v3/properties/0-3").status_code == 200
    assert http("GET", "/crm/v3/property-validations/deals").status_code == 200
    unknown = http("GET", "/crm/v3/properties/contacts")
    assert unknown.status_code == 404 and unknown.json()["category"] == "OBJECT_NOT_FOUND"
    assert http("GET", "/crm/properties/2019-01/deals").status_code == 404


def test_2026_09_folds_partial_failures_into_200_unless_switched(http: Http, emulator):
    body = {"properties": ["dealname"], "inputs": [{"id": "1"}]}
    assert http("POST", "/crm/objects/2026-03/deals/batch/read", body).status_code == 207
    folded = http("POST", "/crm/objects/2026-09/deals/batch/read", body)
    assert folded.status_code == 200 and folded.json()["numErrors"] == 1
    emulator.settings.batch_207_as_200 = False
    assert http("POST", "/crm/objects/2026-09/deals/batch/read", body).status_code == 207


def test_rule_removal_by_an_empty_put_is_a_switch(http: Http, emulator):
    create_group_and_property(http)
    rule = "/crm/v3/property-validations/0-3/accord_url/rule-type/MAX_LENGTH"
    http("PUT", rule, {"ruleArguments": ["100"]})
    assert http("PUT", rule, {"ruleArguments": []}).status_code == 400
    emulator.settings.rule_removal_by_empty_put = True
    assert http("PUT", rule, {"ruleArguments": []}).status_code == 204
    assert http("GET", "/crm/v3/property-validations/0-3/accord_url").json() == {"results": []}
