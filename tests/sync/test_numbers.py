"""One normalise_number for the sync, its verify and the emulator (provisioner.numbers), bounded."""

from __future__ import annotations

import pytest

from provisioner.emulator.values import ValueProblem, check_value
from provisioner.numbers import normalise_number

NUMBER_PROPERTY = {"name": "accord_progress", "type": "number", "fieldType": "number"}


@pytest.mark.parametrize("text", ["1e999999999", "-1e-999999999", "9" * 5000, "1" + "0" * 31, "1_000", "\u0661",
                                  "Infinity", "nan", "0x10", "1e", ".", "+-1", "1." + "1" * 40])
def test_numbers_beyond_what_hubspot_holds_or_not_plain_are_refused_at_once(text):
    with pytest.raises(ValueError):
        normalise_number(text)


@pytest.mark.parametrize(("given", "stored"), [("1e30", "1" + "0" * 30), ("1e-30", "0." + "0" * 29 + "1"),
                                               ("-0", "0"), ("+3", "3"), ("3.", "3"), (".5", "0.5"), ("03", "3"),
                                               ("1.10E+2", "110"), (1e-5, "0.00001"), (2.0**60, "1152921504606847000")])  # a float as its JSON text read
def test_numbers_are_written_out_in_full(given, stored):
    assert normalise_number(given) == stored


def test_the_emulator_uses_the_same_bounded_number_and_answers_in_its_own_terms():
    assert check_value(NUMBER_PROPERTY, "45.50", None, enforce_rules=False) == "45.5"
    with pytest.raises(ValueProblem) as refused:
        check_value(NUMBER_PROPERTY, "1e999999999", None, enforce_rules=False)
    assert refused.value.code == "INVALID_INTEGER"
