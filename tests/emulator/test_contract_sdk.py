"""Every endpoint the official SDK (hubspot-api-client) calls, against the emulator: answers load into its models."""

from __future__ import annotations

import json

import pytest
from hubspot.crm import deals as d
from hubspot.crm import properties as p
from hubspot.crm.deals.exceptions import ApiException as DealsApiException
from hubspot.crm.properties.exceptions import ApiException

from tests.emulator.conftest import sdk_model

GROUP = "accord_customer_collaboration_data"


def _group(sdk, name=GROUP, order=3):
    return sdk.crm.properties.groups_api.create("deals", p.PropertyGroupCreate(name=name, label="Accord", display_order=order))


def _property(name="accord_status", **overrides):
    fields = dict(name=name, label="Accord Status", type="enumeration", field_type="select", group_name=GROUP,
                  description="Status of the Accord", options=[
                      p.OptionInput(label="On Track", value="On Track", display_order=0, hidden=False),
                      p.OptionInput(label="At Risk", value="At Risk", display_order=1, hidden=False)])
    fields.update(overrides)
    return p.PropertyCreate(**fields)


def _error(exc: ApiException, sdk) -> p.Error:
    return sdk_model(sdk, "properties", exc.body, "Error")


def test_groups_list_create_read_update_archive(sdk):
    groups = sdk.crm.properties.groups_api
    created = _group(sdk)
    assert isinstance(created, p.PropertyGroup)
    assert (created.name, created.label, created.display_order, created.archived) == (GROUP, "Accord", 3, False)
    listed = groups.get_all("deals")
    assert GROUP in [g.name for g in listed.results] and "dealinformation" in [g.name for g in listed.results]
    assert groups.get_by_name("deals", GROUP).label == "Accord"
    updated = groups.update("deals", GROUP, p.PropertyGroupUpdate(label="Accord data"))
    assert (updated.label, updated.display_order) == ("Accord data", 3)
    groups.archive("deals", GROUP)
    assert GROUP not in [g.name for g in groups.get_all("deals").results]
    with pytest.raises(ApiException) as caught:
        groups.get_by_name("deals", GROUP)
    assert caught.value.status == 404 and _error(caught.value, sdk).category == "OBJECT_NOT_FOUND"


def test_properties_create_read_update_list_archive(sdk):
    core = sdk.crm.properties.core_api
    _group(sdk)
    created, status, headers = core.create_with_http_info("deals", _property())
    assert status == 201 and headers["Location"].endswith("/crm/v3/properties/deals/accord_status")
    assert isinstance(created, p.ModelProperty)
    assert [o.value for o in created.options] == ["On Track", "At Risk"]
    assert created.modification_metadata.archivable and not created.hubspot_defined
    assert created.created_at is not None and created.updated_at is not None
    read = core.get_by_name("deals", "accord_status")
    assert (read.label, read.type, read.field_type, read.group_name) == (
        "Accord Status", "enumeration", "select", GROUP)
    updated = core.update("deals", "accord_status", p.PropertyUpdate(label="Status"))
    assert (updated.label, updated.description, len(updated.options)) == ("Status", "Status of the Accord", 2)
    listed = core.get_all("deals")
    names = [prop.name for prop in listed.results]
    assert "accord_status" in names and "dealname" in names
    core.archive("deals", "accord_status")
    assert "accord_status" not in [prop.name for prop in core.get_all("deals").results]
    archived = core.get_all("deals", archived=True)
    assert [prop.name for prop in archived.results] == ["accord_status"] and archived.results[0].archived
    assert core.get_by_name("deals", "accord_status", archived=True).archived_at is not None


def test_hubspot_defined_deal_properties_are_listed_like_hubspots(sdk):
    listed = {prop.name: prop for prop in sdk.crm.properties.core_api.get_all("deals").results}
    for name in ("dealname", "amount", "dealstage", "pipeline", "closedate", "hs_lastmodifieddate", "createdate",
                 "hs_object_id"):
        assert listed[name].hubspot_defined is True and listed[name].group_name == "dealinformation"
        assert listed[name].modification_metadata.archivable is False
    assert listed["hs_object_id"].modification_metadata.read_only_value is True


def test_batch_create_read_archive_properties(sdk):
    batch = sdk.crm.properties.batch_api
    _group(sdk)
    created = batch.create("deals", p.BatchInputPropertyCreate(inputs=[
        _property("accord_status"), _property("accord_url", type="string", field_type="text", options=None)]))
    assert isinstance(created, p.BatchResponseProperty) and created.status == "COMPLETE"
    assert sorted(prop.name for prop in created.results) == ["accord_status", "accord_url"]
    read = batch.read("deals", p.BatchReadInputPropertyName(archived=False, inputs=[
        p.PropertyName(name="accord_url"), p.PropertyName(name="accord_nope")]))
    assert isinstance(read, p.BatchResponsePropertyWithErrors)
    assert [prop.name for prop in read.results] == ["accord_url"]
    assert read.num_errors == 1 and read.errors[0].category == "OBJECT_NOT_FOUND"
    assert read.errors[0].context == {"name": ["accord_nope"]}
    batch.archive("deals", p.BatchInputPropertyName(inputs=[p.PropertyName(name="accord_url"),
                                                            p.PropertyName(name="never_there")]))
    names = [prop.name for prop in sdk.crm.properties.core_api.get_all("deals").results]
    assert "accord_url" not in names and "accord_status" in names


def test_batch_create_with_an_existing_name_is_a_207_per_input(sdk):
    _group(sdk)
    sdk.crm.properties.core_api.create("deals", _property("accord_status"))
    answer, status, _ = sdk.crm.properties.batch_api.create_with_http_info("deals", p.BatchInputPropertyCreate(
        inputs=[_property("accord_status"), _property("accord_stage")]))
    assert status == 207 and isinstance(answer, p.BatchResponsePropertyWithErrors)
    assert [prop.name for prop in answer.results] == ["accord_stage"]
    [error] = answer.errors
    assert (error.category, error.sub_category, error.context) == (
        "OBJECT_ALREADY_EXISTS", "Properties.PROPERTY_WITH_NAME_EXISTS", {"name": ["accord_status"]})


def test_deals_create_read_page_batch_read_and_update(sdk):
    basic, batch = sdk.crm.deals.basic_api, sdk.crm.deals.batch_api
    one, status, headers = basic.create_with_http_info(
        d.SimplePublicObjectInputForCreate(properties={"dealname": "First", "amount": "1500.50"}))
    assert status == 201 and headers["Location"].endswith(f"/crm/v3/objects/deals/{one.id}")
    assert isinstance(one, d.SimplePublicObject) and one.properties["amount"] == "1500.5"
    many = batch.create(d.BatchInputSimplePublicObjectBatchInputForCreate(inputs=[
        d.SimplePublicObjectBatchInputForCreate(properties={"dealname": f"Deal {i}"}) for i in range(12)]))
    assert isinstance(many, d.BatchResponseSimplePublicObject) and len(many.results) == 12
    ids = [one.id] + [r.id for r in many.results]
    got = basic.get_by_id(one.id, properties=["dealname", "amount"])
    assert got.properties["dealname"] == "First" and got.properties["hs_object_id"] == one.id
    seen, after = [], None
    while True:
        page = basic.get_page(limit=5, after=after, properties=["dealname"])
        assert isinstance(page, d.CollectionResponseSimplePublicObjectWithAssociationsForwardPaging)
        seen += [r.id for r in page.results]
        if page.paging is None:
            break
        after = page.paging.next.after
    assert seen == ids
    read = batch.read(d.BatchReadInputSimplePublicObjectId(
        properties=["dealname"], properties_with_history=[],
        inputs=[d.SimplePublicObjectId(id=i) for i in ids[:3]]))
    assert [r.properties["dealname"] for r in read.results] == ["First", "Deal 0", "Deal 1"]
    updated = batch.update(d.BatchInputSimplePublicObjectBatchInput(inputs=[
        d.SimplePublicObjectBatchInput(id=ids[1], properties={"amount": 3}),
        d.SimplePublicObjectBatchInput(id=ids[2], properties={"dealname": "Renamed"})]))
    assert isinstance(updated, d.BatchResponseSimplePublicObject) and updated.status == "COMPLETE"
    assert {r.id: r.properties.get("amount") for r in updated.results}[ids[1]] == "3"
    assert basic.get_by_id(ids[2], properties=["dealname"]).properties["dealname"] == "Renamed"


def test_batch_update_with_a_missing_deal_is_a_207_naming_it(sdk):
    batch = sdk.crm.deals.batch_api
    [deal] = batch.create(d.BatchInputSimplePublicObjectBatchInputForCreate(inputs=[
        d.SimplePublicObjectBatchInputForCreate(properties={"dealname": "Kept"})])).results
    answer, status, _ = batch.update_with_http_info(d.BatchInputSimplePublicObjectBatchInput(inputs=[
        d.SimplePublicObjectBatchInput(id=deal.id, properties={"dealname": "Written"}),
        d.SimplePublicObjectBatchInput(id="999", properties={"dealname": "Lost"})]))
    assert status == 207 and isinstance(answer, d.BatchResponseSimplePublicObjectWithErrors)
    assert [r.id for r in answer.results] == [deal.id] and answer.num_errors == 1
    [error] = answer.errors
    assert (error.status, error.category, error.context) == ("error", "OBJECT_NOT_FOUND", {"ids": ["999"]})
    assert error.message == ("Could not get some DEAL objects, they may be deleted or not exist. "
                             "Check that ids are valid.")


# ---- documented error bodies, field for field -------------------------------------------------------------
def test_409_on_an_existing_property_name(sdk):
    _group(sdk)
    sdk.crm.properties.core_api.create("deals", _property())
    with pytest.raises(ApiException) as caught:
        sdk.crm.properties.core_api.create("deals", _property())
    body = json.loads(caught.value.body)
    assert caught.value.status == 409
    assert set(body) >= {"status", "message", "correlationId", "category", "subCategory"}
    assert (body["status"], body["category"], body["subCategory"], body["message"]) == (
        "error", "OBJECT_ALREADY_EXISTS", "Properties.PROPERTY_WITH_NAME_EXISTS",
        "A property named 'accord_status' already exists.")
    assert body["correlationId"] == caught.value.headers["X-HubSpot-Correlation-Id"]
    assert isinstance(_error(caught.value, sdk), p.Error)


def test_401_without_a_bearer_token(base_url):
    from hubspot import HubSpot

    with pytest.raises(ApiException) as caught:
        HubSpot(host=base_url).crm.properties.core_api.get_all("deals")
    body = json.loads(caught.value.body)
    assert caught.value.status == 401
    assert (body["status"], body["category"]) == ("error", "INVALID_AUTHENTICATION")
    assert body["message"].startswith("Authentication credentials not found.") and body["correlationId"]


@pytest.mark.parametrize("settings", [{"scopes": {"crm.schemas.deals.read"}}], indirect=True)
def test_403_missing_scopes_names_the_required_scope(sdk):
    sdk.crm.properties.core_api.get_all("deals")  # granted
    with pytest.raises(DealsApiException) as caught:
        sdk.crm.deals.basic_api.get_page(limit=1)
    body = json.loads(caught.value.body)
    assert caught.value.status == 403 and body["category"] == "MISSING_SCOPES"
    assert body["message"] == "One or more of the following scopes are required." and "errors" not in body
    assert body["context"] == {"requiredGranularScopes": ["crm.objects.deals.read"],
                               "links": ["https://developers.hubspot.com/scopes"]}
    assert isinstance(_error(caught.value, sdk), p.Error)


def test_group_with_active_properties_cannot_be_archived(sdk):
    _group(sdk)
    sdk.crm.properties.core_api.create("deals", _property())
    with pytest.raises(ApiException) as caught:
        sdk.crm.properties.groups_api.archive("deals", GROUP)
    body = json.loads(caught.value.body)
    assert caught.value.status == 400 and body["category"] == "VALIDATION_ERROR"
    inner = json.loads(body["message"])
    assert (inner["status"], inner["category"], inner["subCategory"]) == (
        "error", "VALIDATION_ERROR", "PropertyGroupError.GROUP_WITH_ACTIVE_PROPERTIES")
    assert "accord_status" in inner["message"] and inner["correlationId"]


def test_invalid_type_and_field_type_is_a_validation_error_with_errors(sdk):
    _group(sdk)
    with pytest.raises(ApiException) as caught:
        sdk.crm.properties.core_api.create("deals", _property(type="string", field_type="select", options=None))
    body = json.loads(caught.value.body)
    assert caught.value.status == 400 and body["category"] == "VALIDATION_ERROR"
    assert [(e["code"], e["in"]) for e in body["errors"]] == [("INVALID_FIELD_TYPE", "fieldType")]
    error = _error(caught.value, sdk)
    assert error.errors[0].message.startswith("fieldType 'select' is not valid for type 'string'")


def test_a_bad_deal_value_fails_the_whole_batch_like_hubspot(sdk):
    batch = sdk.crm.deals.batch_api
    [deal] = batch.create(d.BatchInputSimplePublicObjectBatchInputForCreate(inputs=[
        d.SimplePublicObjectBatchInputForCreate(properties={"dealname": "Kept"})])).results
    with pytest.raises(DealsApiException) as caught:
        batch.update(d.BatchInputSimplePublicObjectBatchInput(inputs=[
            d.SimplePublicObjectBatchInput(id=deal.id, properties={"dealname": "Not written"}),
            d.SimplePublicObjectBatchInput(id=deal.id + "0", properties={"amount": "lots", "nope": "x"})]))
    body = json.loads(caught.value.body)
    assert caught.value.status == 400 and body["category"] == "VALIDATION_ERROR"
    prefix = "Property values were not valid: "
    assert body["message"].startswith(prefix)
    details = json.loads(body["message"][len(prefix):])
    assert [(x["name"], x["error"], x["isValid"]) for x in details] == [
        ("amount", "INVALID_INTEGER", False), ("nope", "PROPERTY_DOESNT_EXIST", False)]
    assert sdk.crm.deals.basic_api.get_by_id(deal.id, properties=["dealname"]).properties["dealname"] == "Kept"
