"""Numbers as HubSpot stores them, decided in one place for the sync, its verify and the emulator.

A number property holds a decimal written out in full: ``3``, ``3.0`` and ``"3"`` are ``"3"``,
``45.50`` is ``"45.5"``, ``1e3`` is ``"1000"``; never an exponent, never trailing zeros.

The work is bounded before any conversion, whatever the input:
- a numeric text is at most ``MAX_NUMBER_TEXT`` characters of ASCII: an optional sign, digits with
  an optional ``.`` fraction, and an optional exponent. ``1_000``, non-ASCII
  digits, ``nan``, ``Infinity`` and hexadecimal are refused, never read as something else;
- the value's first significant digit lies within ``MAX_EXPONENT`` places of the point on either
  side (below 10^31, and 0 or at least 10^-30), with at most ``MAX_DIGITS`` significant digits:
  HubSpot's numbers hold no more, and written out such a number is at most 73 characters, so a
  normalised number normalises to itself. ``"1e999999999"`` is refused at once instead
  of being expanded into a billion digits.
"""

from __future__ import annotations

import re
from decimal import Context, Decimal

MAX_NUMBER_TEXT = 100
MAX_EXPONENT = 30
MAX_DIGITS = 40  # significant digits: written out, a number stays within MAX_NUMBER_TEXT (idempotent)
_LIMIT = 10 ** (MAX_EXPONENT + 1)
_EXACT_FLOAT = 2.0**53  # below it a whole float and its repr are the same integer
# Precise enough for every digit of a text within MAX_NUMBER_TEXT: nothing is ever rounded.
_EXACT = Context(prec=MAX_NUMBER_TEXT + 2 * MAX_EXPONENT)
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def normalise_number(value: object) -> str:
    """A number (int, float or numeric text) as HubSpot stores it. Raises ValueError with the reason."""
    kind = type(value)
    if kind is int:
        if -_LIMIT < value < _LIMIT:
            return str(value)
        raise ValueError(f"out of range (at most {MAX_EXPONENT + 1} digits before the point)")
    if kind is float:
        if -_EXACT_FLOAT < value < _EXACT_FLOAT:  # false for nan
            if value.is_integer():
                return str(int(value))
            text = repr(value)  # the shortest form that reads back, never with trailing zeros
            if "e" not in text:
                return text
        elif value != value or value in (float("inf"), float("-inf")):
            raise ValueError("not a finite number")
        return _decimal_text(Decimal(repr(value)))
    if kind is not str:
        raise ValueError("not a number")
    text = value.strip()
    if len(text) > MAX_NUMBER_TEXT:
        raise ValueError(f"longer than {MAX_NUMBER_TEXT} characters")
    if _NUMBER.fullmatch(text) is None:
        raise ValueError("not a number")
    return _decimal_text(Decimal(text))


def _decimal_text(number: Decimal) -> str:
    if number and not -MAX_EXPONENT <= number.adjusted() <= MAX_EXPONENT:
        raise ValueError(f"out of range (HubSpot numbers lie within 10^-{MAX_EXPONENT} to 10^{MAX_EXPONENT + 1})")
    number = number.normalize(_EXACT)
    if len(number.as_tuple().digits) > MAX_DIGITS:
        raise ValueError(f"more than {MAX_DIGITS} significant digits")
    if number == number.to_integral_value():
        return str(int(number))
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text

