"""Event times as instants: microseconds since the Unix epoch, UTC, as an ``int``.

``parse_instant`` reads an ISO 8601 time with a zone (``Z`` or any offset below 24 hours), any
year from 1 to 9999, and returns the instant it names, so times compare as instants whatever
their offset or year (a text form would sort year 999 after 2026). ``format_instant`` writes an
instant back as canonical UTC text (``2026-11-27T10:00:00.000000Z``) for display and dead letters.

Accepted forms, strictly (nothing is guessed): ``YYYY-MM-DD``, then ``T``, ``t`` or a blank, then
``HH:MM``, optionally ``:SS`` and a fraction of 1 to 9 digits after ``.`` or ``,`` (digits past
the sixth are dropped: the precision is one microsecond), then ``Z``/``z``, ``+HH:MM``, ``+HHMM``
or ``+HH`` (or ``-``). Digits are ASCII only. Surrounding whitespace is ignored. A leap second
(``:60``), hour 24 and year 0 are refused. Work is bounded: a value over ``MAX_TIME_LENGTH``
characters is refused before it is read.
"""

from __future__ import annotations

import re
from datetime import date

MAX_TIME_LENGTH = 64
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_MAX_ORDINAL = date.max.toordinal()
_CYCLE_DAYS = 146_097  # days in 400 Gregorian years: the calendar repeats after them
_US_PER_DAY = 86_400_000_000
_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]{1,9}))?)?"
    r"(?:[Zz]|([+-])([0-9]{2})(?::?([0-9]{2}))?)"
)
# Day number (days since 1970-01-01) of recently seen dates: events of a run share few days.
_DAYS: dict[str, int] = {}
_DAYS_KEPT = 4096


def parse_instant(value: object) -> int:
    """An ISO 8601 time with a zone to microseconds since the epoch (UTC). Raises ValueError."""
    if not isinstance(value, str):
        raise ValueError("missing" if value is None else f"not a string, got {type(value).__name__}")
    if len(value) > MAX_TIME_LENGTH:
        raise ValueError(f"longer than {MAX_TIME_LENGTH} characters")
    text = value.strip()
    if not text:
        raise ValueError("missing")
    match = _TIME.fullmatch(text)
    if match is None:
        raise ValueError("not of the form 2026-11-27T10:00:00Z")
    year, month, day, hour, minute, second, fraction, sign, off_hours, off_minutes = match.groups()
    day_text = text[:10]
    days = _DAYS.get(day_text)
    if days is None:
        try:
            days = date(int(year), int(month), int(day)).toordinal() - _EPOCH_ORDINAL
        except ValueError:
            raise ValueError(f"no such date {day_text}") from None
        if len(_DAYS) >= _DAYS_KEPT:
            _DAYS.clear()
        _DAYS[day_text] = days
    hours, minutes, seconds = int(hour), int(minute), int(second) if second else 0
    if hours > 23 or minutes > 59 or seconds > 59:
        raise ValueError(f"no such time of day {text[11:19]}")
    micros = int(fraction[:6].ljust(6, "0")) if fraction else 0
    offset = 0
    if sign is not None:
        off_h, off_m = int(off_hours), int(off_minutes) if off_minutes else 0
        if off_h > 23 or off_m > 59:
            raise ValueError("the offset must be below 24 hours")
        offset = (off_h * 60 + off_m) * 60_000_000
        if sign == "-":
            offset = -offset
    return days * _US_PER_DAY + ((hours * 60 + minutes) * 60 + seconds) * 1_000_000 + micros - offset


def format_instant(us: int) -> str:
    """An instant as canonical UTC text: ``2026-11-27T10:00:00.000000Z`` (years zero-padded to 4).

    Covers every instant ``parse_instant`` returns, including the day before year 1 and after
    year 9999 that an offset can reach (written as year 0000 and 10000). Raises ValueError beyond.
    """
    days, rest = divmod(us, _US_PER_DAY)
    ordinal = days + _EPOCH_ORDINAL
    shift = 0
    if ordinal < 1:
        ordinal, shift = ordinal + _CYCLE_DAYS, -400
    elif ordinal > _MAX_ORDINAL:
        ordinal, shift = ordinal - _CYCLE_DAYS, 400
    if not 1 <= ordinal <= _MAX_ORDINAL:
        raise ValueError(f"instant {us} is out of range")
    day = date.fromordinal(ordinal)
    seconds, micros = divmod(rest, 1_000_000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{day.year + shift:04d}-{day.month:02d}-{day.day:02d}T{hours:02d}:{minutes:02d}:{seconds:02d}.{micros:06d}Z"
