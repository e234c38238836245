"""Rules of the input path that hold for every line: Hypothesis generates the lines."""

from __future__ import annotations

import json
import re
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from provisioner.numbers import MAX_EXPONENT, normalise_number
from provisioner.sync.events import RAW_KEPT, Ignored, Invalid, Rules, Snapshot, parse_line
from tests.sync.conftest import MAPPING, make_config

RULES = Rules.from_config(make_config())
KINDS = (Snapshot, Ignored, Invalid, type(None))

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.sampled_from(
    ["On Track", "1e999999999", "1_000", "\u0661", "https://[::1", "\ud800", "2026-11-27T10:00:00Z", " 3 ", "-0"])
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner,
                                                                                                   max_size=3),
                           max_leaves=10)
keys = st.sampled_from(["event", "occurred_at", "accord_id", "deal_id", "data"]) | st.text(max_size=5)
data = st.dictionaries(st.sampled_from(list(MAPPING)) | st.text(max_size=5), json_values, max_size=8)
records = st.fixed_dictionaries(
    {},
    optional={"event": st.sampled_from(["step_updated", "accord_created", ""]) | json_values,
              "occurred_at": st.sampled_from(["2026-11-27T10:00:00Z", "0001-01-01T00:00:00+23:59"]) | json_values,
              "accord_id": st.text() | json_values, "deal_id": st.sampled_from(["101", "0101", 7]) | json_values,
              "data": data | json_values},
)


def check(result) -> None:
    assert isinstance(result, KINDS)
    if isinstance(result, Invalid):
        assert result.reasons and len(result.raw) <= RAW_KEPT + 1
    if isinstance(result, Snapshot):
        for value in result.values.values():
            assert isinstance(value, str) and value == value.strip() and value.isprintable() | (value == "")


@settings(max_examples=400)
@given(records, st.booleans())
def test_any_json_record_is_a_snapshot_ignored_or_invalid(record, ascii_only):
    text = json.dumps(record, ensure_ascii=ascii_only, allow_nan=True)
    check(parse_line(1, text, RULES))
    check(parse_line(1, text.encode("utf-8", "surrogatepass"), RULES))


@settings(max_examples=400)
@given(st.binary(max_size=300))
def test_any_bytes_are_a_snapshot_ignored_or_invalid(raw):
    check(parse_line(1, raw, RULES))


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_any_text_is_a_snapshot_ignored_or_invalid(text):
    check(parse_line(1, text, RULES))


@settings(max_examples=200)
@given(records.filter(lambda r: isinstance(r.get("data"), dict)))
def test_both_decoders_apply_the_same_checks(record):
    """A nested value under a key the mapping does not name sends a line to the untyped decoder."""
    typed = parse_line(3, json.dumps(record), RULES)
    untyped = parse_line(3, json.dumps({**record, "data": {**record["data"], "unmapped": [[1]]}}), RULES)
    assert type(typed) is type(untyped)
    if isinstance(typed, Snapshot):
        assert typed == untyped
    if isinstance(typed, Invalid):  # the same reasons; where a JSON error is shifts with the added key
        assert [re.sub(r"byte \d+", "", r) for r in typed.reasons] == [re.sub(r"byte \d+", "", r) for r in untyped.reasons]


numbers_in_range = st.decimals(min_value=Decimal(-(10**MAX_EXPONENT)), max_value=Decimal(10**MAX_EXPONENT),
                               allow_nan=False, allow_infinity=False, places=None).filter(
    lambda d: (d == 0 or d.adjusted() >= -MAX_EXPONENT) and len(str(d)) <= 40)


numeric_texts = st.from_regex(r"\A[+-]?[0-9]{0,45}(\.[0-9]{0,45})?([eE][+-]?[0-9]{1,3})?\Z")


@settings(max_examples=300)
@given(st.one_of(st.integers(), st.floats(), st.text(max_size=70), numbers_in_range.map(str), numeric_texts))
def test_normalisation_is_idempotent(value):
    try:
        text = normalise_number(value)
    except ValueError:
        return
    assert normalise_number(text) == text
    assert "e" not in text and "E" not in text and (text == "0" or not text.startswith(("0", "-0")) or "." in text)


@given(numbers_in_range)
def test_equal_numbers_normalise_equal(number):
    forms = {str(number), format(number, "f"), format(number, "e"), f"+{number}" if number >= 0 else str(number),
             str(number) + ("" if "e" in str(number).lower() else ("0" if "." in str(number) else ".0"))}
    if number == number.to_integral_value():
        forms.add(int(number))
    texts = {normalise_number(form) for form in forms if len(str(form)) <= 64}
    assert len(texts) == 1, (number, forms, texts)
    assert Decimal(texts.pop()) == number  # exact: never rounded


@settings(max_examples=200)
@given(records, st.booleans())
def test_a_line_as_text_and_as_bytes_is_the_same_record(record, ascii_only):
    text = json.dumps(record, ensure_ascii=ascii_only, allow_nan=True)
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: text that no file can hold
        return
    assert parse_line(5, text, RULES) == parse_line(5, raw, RULES)
