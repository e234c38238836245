"""Event times as instants: any offset, any year 1..9999, compared as instants; canonical text back."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provisioner.sync.instant import MAX_TIME_LENGTH, format_instant, parse_instant

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def test_the_edges_of_the_calendar_are_instants():
    assert format_instant(parse_instant("0001-01-01T00:00:00Z")) == "0001-01-01T00:00:00.000000Z"
    assert format_instant(parse_instant("0001-01-01T00:30:00+01:00")) == "0000-12-31T23:30:00.000000Z"
    assert format_instant(parse_instant("9999-12-31T23:59:59.999999-23:59")) == "10000-01-01T23:58:59.999999Z"
    assert parse_instant("0001-01-01T00:30:00+01:00") < parse_instant("0001-01-01T00:00:00Z")
    assert parse_instant("0999-12-31T23:59:59Z") < parse_instant("1000-01-01T00:00:00Z")


@pytest.mark.parametrize(
    "text",
    ["0000-01-01T00:00:00Z", "2026-02-29T00:00:00Z", "2026-11-27T24:00:00Z", "2026-12-31T23:59:60Z",
     "2026-11-27T10:00:00+24:00", "2026-11-27T10:00:00+01:60", "2026-11-27T10:00:00", "2026-11-27Z",
     "\u0662026-11-27T10:00:00Z", "2026-11-27T10:00:00.1234567890Z", "10000-01-01T00:00:00Z",
     "2026-11-27T10:00:00 Z", "2026-11-27T10:00:00\x00Z", "", "   ", "2026-11-27T10:00:00Z" + " " * MAX_TIME_LENGTH],
)
def test_times_that_are_not_instants_are_refused(text):
    with pytest.raises(ValueError):
        parse_instant(text)


@pytest.mark.parametrize("value", [None, 1_700_000_000, 1.5, ["2026-11-27T10:00:00Z"], {}])
def test_only_text_is_a_time(value):
    with pytest.raises(ValueError):
        parse_instant(value)


moments = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(timezone.utc)
)
offsets = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1)


@given(moments, offsets)
def test_any_offset_names_the_same_instant(moment, offset_minutes):
    zone = timezone(timedelta(minutes=offset_minutes))
    local = moment.astimezone(zone)
    sign = "-" if offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(offset_minutes), 60)
    text = f"{local.year:04d}" + local.strftime("-%m-%dT%H:%M:%S.%f") + f"{sign}{hours:02d}:{minutes:02d}"
    us = parse_instant(text)
    assert us == (moment - EPOCH) // timedelta(microseconds=1)
    assert format_instant(us) == f"{moment.year:04d}" + moment.strftime("-%m-%dT%H:%M:%S.%fZ")
    assert parse_instant(format_instant(us)) == us


@given(moments, moments)
def test_instants_order_as_the_times_do(a, b):
    text = lambda m: f"{m.year:04d}" + m.strftime("-%m-%dT%H:%M:%S.%fZ")  # noqa: E731
    assert (parse_instant(text(a)) < parse_instant(text(b))) == (a < b)
    assert (format_instant(parse_instant(text(a))) < format_instant(parse_instant(text(b)))) == (a < b)


def test_the_accepted_forms_name_the_same_instant():
    same = ["2026-11-27T11:30:00+01:30", "2026-11-27t11:30:00+0130", "2026-11-27 10:00:00.000000000Z",
            "2026-11-27T10:00Z", "2026-11-27T10:00:00,0z", "2026-11-27T08:00:00-02", " 2026-11-27T10:00:00Z\t"]
    assert {parse_instant(text) for text in same} == {parse_instant("2026-11-27T10:00:00Z")}
    assert parse_instant("2026-11-27T10:00:00.1234569Z") - parse_instant("2026-11-27T10:00:00Z") == 123456
