"""Parsing, checking and normalising trigger events (pure)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import urlsplit

import pytest

from provisioner.sync.events import (
    Ignored,
    Invalid,
    Rules,
    Snapshot,
    format_instant,
    normalise_number,
    parse_instant,
    parse_line,
)
from tests.sync.conftest import event, make_config


@pytest.mark.parametrize(
    ("given", "stored"),
    [(3, "3"), (3.0, "3"), ("3", "3"), (" 3 ", "3"), (45.5, "45.5"), ("45.50", "45.5"), (1e3, "1000"),
     (0.1, "0.1"), (-2, "-2"), ("7.000", "7"), (12.25, "12.25")],
)
def test_numbers_are_normalised_as_hubspot_stores_them(given, stored):
    assert normalise_number(given) == stored


@pytest.mark.parametrize("given", [True, None, "", "abc", "nan", "inf", [1], {}])
def test_non_numbers_are_refused(given):
    with pytest.raises(ValueError):
        normalise_number(given)


def test_times_compare_as_instants():
    assert parse_instant("2026-11-27T11:00:00+01:00") == parse_instant("2026-11-27T10:00:00Z")
    assert parse_instant("2026-11-27T10:00:00.5Z") > parse_instant("2026-11-27T10:00:00Z")
    assert parse_instant("0999-01-01T00:00:00Z") < parse_instant("2026-11-27T10:00:00Z")
    assert parse_instant("1970-01-01T00:00:00Z") == 0
    assert parse_instant("1969-12-31T23:59:59.999999Z") == -1
    with pytest.raises(ValueError):
        parse_instant("2026-11-27T10:00:00")


def test_a_valid_event_maps_fields_to_properties_as_strings(rules):
    snap = parse_line(1, event(PROGRESS=45.0, STAGE_NAME="  Discovery "), rules)
    assert isinstance(snap, Snapshot)
    assert snap.deal_id == "101" and snap.accord_id == "acc_1"
    assert dict(snap.values) == {
        "accord_url": "https://app.accord.example/a/acc_1",
        "accord_status": "On Track",
        "current_stage": "Discovery",
        "number_of_customers_invited": "3",
        "number_of_customers_accepted": "2",
        "accord_progress": "45",
        "accord_execution_score": "78",
    }


def test_missing_key_is_left_out_and_null_clears(rules):
    snap = parse_line(1, event(STAGE_NAME=..., EXECUTION_SCORE=None), rules)
    assert "current_stage" not in snap.values
    assert snap.values["accord_execution_score"] == ""


def test_events_that_are_not_configured_triggers_are_ignored():
    rules = Rules.from_config(make_config(triggers={"step_updated"}))
    assert isinstance(parse_line(3, event(name="accord_viewed"), rules), Ignored)
    assert isinstance(parse_line(3, event(name="step_updated"), rules), Snapshot)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"STATUS": "Done"}, "STATUS must be one of Not Started, On Track, At Risk, Stalled"),
        ({"CUSTOMER_INVITED_COUNT": -1}, "CUSTOMER_INVITED_COUNT must be a whole number >= 0"),
        ({"CUSTOMER_ACCEPTED_COUNT": 2.5}, "CUSTOMER_ACCEPTED_COUNT must be a whole number >= 0"),
        ({"CUSTOMER_ACCEPTED_COUNT": "two"}, "CUSTOMER_ACCEPTED_COUNT must be a number"),
        ({"PROGRESS": 101}, "PROGRESS must be from 0 to 100"),
        ({"PROGRESS": -0.5}, "PROGRESS must be from 0 to 100"),
        ({"EXECUTION_SCORE": "high"}, "EXECUTION_SCORE must be a number"),
        ({"URL": "ftp://x.example/a"}, "URL must be an http(s) URL"),
        ({"URL": "not a url"}, "URL must be an http(s) URL"),
        ({"URL": "https://x.example/" + "a" * 300}, "over the limit of 255 of accord_url"),
        ({"STAGE_NAME": {"a": 1}}, "STAGE_NAME must be a string"),
    ],
)
def test_bad_values_are_refused_with_their_reason(rules, changes, reason):
    result = parse_line(7, event(**changes), rules)
    assert isinstance(result, Invalid)
    assert reason in result.reason
    assert result.deal_id == "101" and result.line_no == 7


def test_the_url_limit_comes_from_the_declared_rule():
    rules = Rules.from_config(make_config(url_limit=30))
    assert isinstance(parse_line(1, event(URL="https://x.example/" + "a" * 20), rules), Invalid)
    assert isinstance(parse_line(1, event(URL="https://x.example/" + "a" * 5), rules), Snapshot)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"occurred_at": "2026-11-27T10:00:00Z"}', "'event' is missing"),
        (event(deal_id=None), "the deal id is missing"),
        (event(deal_id="abc"), "'deal_id' must be a HubSpot record id"),
        (event(accord_id=""), "'accord_id' is missing"),
        (event(at="yesterday"), "'occurred_at' must be an ISO 8601 time"),
        ('{"event": "step_updated", "occurred_at": "2026-11-27T10:00:00Z", "accord_id": "a", "deal_id": "1"}',
         "'data' must be an object"),
    ],
)
def test_malformed_lines_become_invalid_records(rules, line, reason):
    result = parse_line(1, line, rules)
    assert isinstance(result, Invalid)
    assert reason in result.reason


def test_rules_from_the_shipped_file():
    from pathlib import Path

    from provisioner.config import load_config

    shipped = Path(__file__).resolve().parents[2] / "hubspot_schema.yaml"
    rules = Rules.from_config(load_config(str(shipped)))
    assert rules.mapping["URL"] == "accord_url"
    assert rules.max_length == {"accord_url": 255}
    assert "accord_progress" in rules.number_properties and "accord_status" not in rules.number_properties
    assert rules.triggers == frozenset(make_config().sync.triggers)


def _number_by_decimal(value) -> str:
    number = Decimal(str(value).strip())
    if number == number.to_integral_value():
        return str(int(number))
    text = format(number.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


@pytest.mark.parametrize(
    "given",
    [0, -0.0, 0.0, 7, -12, 10**25, 45.5, 45.0, 0.1, 1e-5, 1e15 + 0.5, 2.0**53 - 1, 2.0**53, 1e16, 1e23, -1e23,
     123456789.125, 3.141592653589793, -0.25, 99.99],
)
def test_the_quick_number_forms_match_the_decimal_ones(given):
    assert normalise_number(given) == _number_by_decimal(given)


@pytest.mark.parametrize(
    "given",
    ["2026-11-27T10:00:00Z", "2026-11-27T10:00:00z", "2026-11-27T10:00:00.5Z", "2026-11-27T10:00:00.123456+00:00",
     "2026-11-27T10:00:00.1234567Z", "2026-11-27 10:00:00Z", "2026-11-27T10:00Z", "2026-11-27T10:00:00,5Z",
     "0999-01-01T00:00:00Z", "2026-11-27T11:00:00+01:00", "2026-11-27T10:00:00-00:00", " 2026-11-27T10:00:00Z "],
)
def test_times_agree_with_the_general_conversion(given):
    text = given.strip()
    text = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    moment = datetime.fromisoformat(text).astimezone(timezone.utc)
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    assert parse_instant(given) == (moment - epoch) // timedelta(microseconds=1)
    assert format_instant(parse_instant(given)) == f"{moment.year:04d}" + moment.strftime("-%m-%dT%H:%M:%S.%fZ")


@pytest.mark.parametrize(
    "url",
    ["https://app.accord.example/a/acc_1", "http://x.example", "https://x.example:8443/a?b=c#d", "HTTPS://x.example/a",
     "https://user@x.example/", "https:///path", "https://", "https:x.example", "ftp://x.example/a",
     "https://x.example/a b", "https://[::1]/a", "https://x\u00e9.example/a", "https://x.example/\u00e9",
     "https://x.example/a\tb", "mailto:a@x.example", "//x.example/a", "https://[::1", "http://x.example:99999/",
     "http://x.example:65535/", "http://x.example:8080", "http://u:p@x.example/", "http://x.example:/", "http://x.example:a/"],
)
def test_the_quick_url_check_agrees_with_urlsplit(rules, url):
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.netloc) and " " not in url
        valid = valid and (parts.port is None or parts.port >= 0)
    except ValueError:
        valid = False
    valid = valid and url.isprintable()  # a control character (a tab) is refused before urlsplit drops it
    result = parse_line(1, event(URL=url), rules)
    assert isinstance(result, Snapshot if valid else Invalid), url


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"STAGE_NAME": "a\x00b"}, "STAGE_NAME holds a control character (U+0000 at 2)"),
        ({"STAGE_NAME": "Discovery\n"}, "STAGE_NAME holds a control character (U+000A at 10)"),
        ({"STATUS": "On Track\x85"}, "STATUS holds a control character (U+0085"),
        ({"PROGRESS": "1_0"}, "PROGRESS must be a number"),
        ({"PROGRESS": "\u0665"}, "PROGRESS must be a number"),
        ({"EXECUTION_SCORE": "1e999999999"}, "out of range"),
        ({"EXECUTION_SCORE": "1" * 41}, "out of range"),
        ({"EXECUTION_SCORE": "1." + "1" * 40}, "more than 40 significant digits"),
        ({"EXECUTION_SCORE": "1" * 101}, "longer than 100 characters"),
        ({"CUSTOMER_INVITED_COUNT": True}, "CUSTOMER_INVITED_COUNT must be a number, got true"),
        ({"STAGE_NAME": [[["deep"]]]}, "STAGE_NAME must be a string, got an array"),
        ({"URL": "https://[::1"}, "URL must be an http(s) URL"),
    ],
)
def test_hostile_values_are_refused_with_their_reason(rules, changes, reason):
    result = parse_line(7, event(**changes), rules)
    assert isinstance(result, Invalid)
    assert reason in result.reason


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b'{"a": "\xff"}', "not UTF-8 (byte 0xff at column 8)"),
        ('{"a": "\ud800"}', "holds a lone surrogate (at column 8)"),
        ('{"event": "step_updated", "x": "\\ud800"}', "not JSON (a lone UTF-16 surrogate escape)"),
        ('{"a": ' + "[" * 17 + "]" * 17 + "}", "nested deeper than 16 levels"),
        ("x" * 70_000, "the line is 70000 bytes, over the limit of 65536"),
        ('{"event": "step_updated", "data": NaN}', "not JSON"),
        ('{"event": "step_updated", "data": 1e400}', "not JSON"),
    ],
)
def test_hostile_lines_are_invalid_with_their_reason(rules, line, reason):
    result = parse_line(1, line, rules)
    assert isinstance(result, Invalid)
    assert reason in result.reason
    assert len(result.raw) <= 2049


def test_nesting_within_the_limit_under_an_unmapped_key_is_read(rules):
    deep = json.loads(event())
    deep["context"] = json.loads("[" * 15 + "]" * 15)
    assert isinstance(parse_line(1, json.dumps(deep), rules), Snapshot)


def test_deal_ids_are_digits_without_a_leading_zero(rules):
    assert parse_line(1, event(deal_id="0101"), rules).reason.startswith("'deal_id' must be a HubSpot record id")
    assert parse_line(1, event(deal_id=101), rules).deal_id == "101"


def test_an_accord_id_may_be_a_whole_number(rules):
    assert parse_line(1, event(accord_id=12), rules).accord_id == "12"
    assert "'accord_id' must be a string" in parse_line(1, event(accord_id=1.5), rules).reason
