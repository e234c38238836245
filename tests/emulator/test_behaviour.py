"""HubSpot's behaviour, not just its shapes: restores, PATCH, checks on names and values, batches, timestamps."""

from __future__ import annotations

import json

import pytest

PROPS = "/crm/v3/properties/deals"
DEALS = "/crm/v3/objects/deals"


@pytest.fixture
def portal(local):
    assert local("POST", PROPS + "/groups", {"name": "accord", "label": "Accord"}).status_code == 201
    return local


def _prop(name="accord_url", **fields):
    return {"name": name, "label": "Accord URL", "type": "string", "fieldType": "text", "groupName": "accord",
            **fields}


def _deals(local, count, **values) -> list[str]:
    answer = local("POST", DEALS + "/batch/create",
                   {"inputs": [{"properties": {"dealname": f"Deal {i}", **values}} for i in range(count)]})
    assert answer.status_code == 201, answer.body
    return [r["id"] for r in answer.body["results"]]


def test_recreating_an_archived_property_restores_it_with_its_values(portal):
    portal("POST", PROPS, _prop())
    [deal] = _deals(portal, 1, accord_url="https://a.example/1")
    created_at = portal("GET", PROPS + "/accord_url").body["createdAt"]
    assert portal("DELETE", PROPS + "/accord_url").status_code == 204
    assert portal("GET", PROPS + "/accord_url").status_code == 404
    assert "accord_url" not in [p["name"] for p in portal("GET", PROPS).body["results"]]
    again = portal("POST", PROPS, _prop(label="Accord link"))
    assert again.status_code == 201 and again.body["label"] == "Accord link" and again.body["archived"] is False
    assert again.body["createdAt"] == created_at
    read = portal("GET", f"{DEALS}/{deal}", properties="accord_url").body
    assert read["properties"]["accord_url"] == "https://a.example/1"


def test_patch_overwrites_only_what_is_sent_and_options_as_a_whole(portal):
    options = [{"label": "A", "value": "a", "displayOrder": 0, "hidden": False},
               {"label": "B", "value": "b", "displayOrder": 1, "hidden": False}]
    portal("POST", PROPS, _prop("accord_status", type="enumeration", fieldType="select", options=options,
                                description="kept"))
    patched = portal("PATCH", PROPS + "/accord_status", {"options": options[:1]}).body
    assert [o["value"] for o in patched["options"]] == ["a"]
    assert (patched["label"], patched["description"]) == ("Accord URL", "kept")
    assert patched["updatedAt"] >= patched["createdAt"]


@pytest.mark.parametrize("field, value", [("name", "other"), ("hasUniqueValue", True),
                                          ("dataSensitivity", "sensitive")])
def test_patch_rejects_immutable_fields(portal, field, value):
    portal("POST", PROPS, _prop())
    answer = portal("PATCH", PROPS + "/accord_url", {field: value})
    assert answer.status_code == 400 and answer.body["category"] == "VALIDATION_ERROR"
    assert [(e["code"], e["in"]) for e in answer.body["errors"]] == [("IMMUTABLE_FIELD", field)]


def test_hubspot_defined_properties_cannot_be_changed_or_archived(portal):
    assert portal("PATCH", PROPS + "/dealname", {"label": "Name"}).status_code == 400
    assert portal("DELETE", PROPS + "/dealname").status_code == 400
    assert portal("GET", PROPS + "/dealname").body["label"] == "Deal Name"


@pytest.mark.parametrize("fields, code", [
    ({"name": "Accord URL"}, "INVALID_PROPERTY_NAME"),
    ({"name": "1st"}, "INVALID_PROPERTY_NAME"),
    ({"name": "hs_accord"}, "INVALID_PROPERTY_NAME"),
    ({"type": "number", "fieldType": "text"}, "INVALID_FIELD_TYPE"),
    ({"type": "bool", "fieldType": "select"}, "INVALID_FIELD_TYPE"),
    ({"type": "text"}, "INVALID_TYPE"),
    ({"groupName": "nowhere"}, "GROUP_NOT_FOUND"),
    ({"type": "enumeration", "fieldType": "select"}, "OPTIONS_REQUIRED"),
    ({"label": ""}, "REQUIRED_FIELD"),
    ({"colour": "red"}, "UNRECOGNIZED_FIELD"),
])
def test_invalid_property_definitions_are_validation_errors(portal, fields, code):
    answer = portal("POST", PROPS, _prop(**fields))
    assert answer.status_code == 400, answer.body
    assert answer.body["category"] == "VALIDATION_ERROR" and answer.body["status"] == "error"
    assert code in [e["code"] for e in answer.body["errors"]]
    assert answer.body["correlationId"] == answer.headers["X-HubSpot-Correlation-Id"]


def test_every_valid_type_and_field_type_pair_is_accepted(portal):
    pairs = {"string": ["text", "textarea", "html", "phonenumber", "file"], "number": ["number"],
             "bool": ["booleancheckbox"], "enumeration": ["select", "radio", "checkbox", "booleancheckbox"],
             "date": ["date"], "datetime": ["date"]}
    option = [{"label": "Yes", "value": "true", "displayOrder": 0, "hidden": False}]
    for kind, field_types in pairs.items():
        for field_type in field_types:
            extra = {"options": option} if kind == "enumeration" else {}
            answer = portal("POST", PROPS, _prop(f"p_{kind}_{field_type}", type=kind, fieldType=field_type, **extra))
            assert answer.status_code == 201, (kind, field_type, answer.body)


def test_groups_409_and_restore(portal):
    again = portal("POST", PROPS + "/groups", {"name": "accord", "label": "Accord"})
    assert again.status_code == 409 and again.body["category"] == "OBJECT_ALREADY_EXISTS"
    assert portal("DELETE", PROPS + "/groups/accord").status_code == 204
    assert portal("POST", PROPS + "/groups", {"name": "accord", "label": "Back"}).status_code == 201


@pytest.mark.parametrize("rule, args, problem", [
    ("MAX_LENGTH", ["0"], "1 to 10000"), ("MAX_LENGTH", ["10001"], "1 to 10000"), ("MAX_LENGTH", ["x"], "1 to 10000"),
    ("MIN_NUMBER", ["1"], "number properties"), ("REGEX", ["("], "not a valid pattern"),
    ("NO_SUCH_RULE", ["1"], "Unknown rule type"), ("MAX_LENGTH", [], "no way to remove a rule"),
])
def test_invalid_rules_are_refused(portal, rule, args, problem):
    portal("POST", PROPS, _prop())
    answer = portal("PUT", f"/crm/v3/property-validations/0-3/accord_url/rule-type/{rule}",
                    {"ruleArguments": args, "shouldApplyNormalization": False})
    assert answer.status_code == 400 and problem in answer.body["message"]


# ---- record values ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("sent, stored", [(3, "3"), ("3", "3"), ("3.0", "3"), ("03", "3"), (1.5, "1.5"),
                                          ("1.50", "1.5"), ("-2", "-2"), ("", None)])
def test_number_values_are_stored_as_hubspot_returns_them(portal, sent, stored):
    [deal] = _deals(portal, 1, amount="7")
    portal("POST", DEALS + "/batch/update", {"inputs": [{"id": deal, "properties": {"amount": sent}}]})
    assert portal("GET", f"{DEALS}/{deal}", properties="amount").body["properties"]["amount"] == stored


@pytest.mark.parametrize("name, value, code", [
    ("amount", "twelve", "INVALID_INTEGER"), ("nope", "x", "PROPERTY_DOESNT_EXIST"),
    ("dealstage", "not_a_stage", "INVALID_OPTION"), ("hs_object_id", "1", "READ_ONLY_VALUE"),
    ("closedate", "yesterday", "INVALID_DATE"), ("accord_url", "x" * 101, "MAX_LENGTH"),
])
def test_values_that_do_not_fit_are_rejected_and_nothing_is_written(portal, name, value, code):
    portal("POST", PROPS, _prop())
    portal("PUT", "/crm/v3/property-validations/0-3/accord_url/rule-type/MAX_LENGTH", {"ruleArguments": ["100"]})
    [deal, other] = _deals(portal, 2)
    answer = portal("POST", DEALS + "/batch/update", {"inputs": [
        {"id": other, "properties": {"dealname": "changed"}}, {"id": deal, "properties": {name: value}}]})
    assert answer.status_code == 400 and answer.body["category"] == "VALIDATION_ERROR"
    assert answer.body["message"].startswith("Property values were not valid: ")
    details = json.loads(answer.body["message"][len("Property values were not valid: "):])
    assert [(d["error"], d["name"]) for d in details] == [(code, name)] and "errors" not in answer.body
    assert portal("GET", f"{DEALS}/{other}", properties="dealname").body["properties"]["dealname"] == "Deal 1"


def test_rules_on_record_writes_can_be_switched_off(emulator, portal):
    emulator.settings.enforce_validation_rules = False
    portal("POST", PROPS, _prop())
    portal("PUT", "/crm/v3/property-validations/0-3/accord_url/rule-type/MAX_LENGTH", {"ruleArguments": ["10"]})
    [deal] = _deals(portal, 1)
    answer = portal("POST", DEALS + "/batch/update", {"inputs": [{"id": deal, "properties": {"accord_url": "x" * 50}}]})
    assert answer.status_code == 200


def test_batch_update_over_100_inputs_is_refused(portal):
    ids = _deals(portal, 100) + _deals(portal, 1)
    answer = portal("POST", DEALS + "/batch/update",
                    {"inputs": [{"id": i, "properties": {"dealname": "x"}} for i in ids]})
    assert answer.status_code == 400 and answer.body["category"] == "VALIDATION_ERROR"
    assert "limited to 100" in answer.body["message"]
    assert portal("POST", DEALS + "/batch/read", {"properties": [], "inputs": [{"id": i} for i in ids]}).status_code == 400


def test_duplicate_ids_in_a_batch_update_are_refused(portal):
    [deal] = _deals(portal, 1)
    answer = portal("POST", DEALS + "/batch/update", {"inputs": [
        {"id": deal, "properties": {"dealname": "a"}}, {"id": deal, "properties": {"dealname": "b"}}]})
    assert answer.status_code == 400 and deal in answer.body["message"]


def test_timestamps_are_kept(portal):
    [deal] = _deals(portal, 1)
    before = portal("GET", f"{DEALS}/{deal}").body
    assert before["properties"]["createdate"] == before["createdAt"]
    assert before["properties"]["hs_lastmodifieddate"] == before["updatedAt"]
    import time

    time.sleep(0.002)
    portal("POST", DEALS + "/batch/update", {"inputs": [{"id": deal, "properties": {"dealname": "new"}}]})
    after = portal("GET", f"{DEALS}/{deal}").body
    assert after["createdAt"] == before["createdAt"] and after["updatedAt"] > before["updatedAt"]
    assert after["properties"]["hs_lastmodifieddate"] == after["updatedAt"]


def test_values_travel_as_strings_and_empty_clears(portal):
    portal("POST", PROPS, _prop("accord_flag", type="bool", fieldType="booleancheckbox"))
    [deal] = _deals(portal, 1, accord_flag=True, amount=12)
    read = portal("GET", f"{DEALS}/{deal}", properties="accord_flag,amount").body["properties"]
    assert (read["accord_flag"], read["amount"]) == ("true", "12")
    portal("POST", DEALS + "/batch/update", {"inputs": [{"id": deal, "properties": {"accord_flag": ""}}]})
    assert portal("GET", f"{DEALS}/{deal}", properties="accord_flag").body["properties"]["accord_flag"] is None


def test_list_paging_walks_every_deal_once(portal):
    ids = _deals(portal, 100) + _deals(portal, 37)
    seen, after = [], None
    while True:
        params = {"limit": "50", **({"after": after} if after else {})}
        page = portal("GET", DEALS, **params).body
        seen += [r["id"] for r in page["results"]]
        after = page.get("paging", {}).get("next", {}).get("after")
        if not after:
            break
    assert seen == ids
    assert portal("GET", DEALS, limit="101").status_code == 400
    assert portal("GET", DEALS, after="garbage").status_code == 400
