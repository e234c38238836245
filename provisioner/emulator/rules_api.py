"""Validation rules: list all, read one property's, PUT one rule type (the only write HubSpot offers)."""

from __future__ import annotations

import re

from provisioner.emulator.call import Call
from provisioner.emulator.properties_api import visible_property
from provisioner.emulator.wire import not_found, validation_error

RULE_TYPES = {
    "MAX_LENGTH": "length", "MIN_LENGTH": "length", "MIN_NUMBER": "number", "MAX_NUMBER": "number",
    "DECIMAL": "decimal", "REGEX": "regex", "URL": "none", "ALPHANUMERIC": "none", "NUMERIC_ONLY": "none",
    "EMAIL": "none", "PHONE_NUMBER_WITH_EXPLICIT_COUNTRY_CODE": "none", "DAYS_OF_WEEK": "none",
}
LENGTH_FIELD_TYPES = {"text", "textarea", "phonenumber"}


def _rule_list(rules: dict[str, list[str]]) -> list[dict]:
    return [{"ruleType": rule_type, "ruleArguments": list(args)} for rule_type, args in rules.items()]


def list_rules(call: Call):
    portal = call.portal
    results = []
    for name in portal.seen_keys("rule", portal.rules):
        rules = portal.seen("rule", name, portal.rules.get(name))
        prop = portal.properties.get(name)
        if rules and prop is not None and not prop["archived"]:
            results.append({"propertyName": name, "propertyValidationRules": _rule_list(rules)})
    return 200, {"results": results}


def get_rules(call: Call, name: str):
    if visible_property(call, name, False) is None:
        raise not_found(f"Unable to find property {name} for object type 0-3")
    return 200, {"results": _rule_list(call.portal.seen("rule", name, call.portal.rules.get(name)) or {})}


def _rule_problem(rule_type: str, args: list, prop: dict) -> str | None:
    shape = RULE_TYPES.get(rule_type)
    if shape is None:
        return f"Unknown rule type {rule_type}: one of {sorted(RULE_TYPES)}"
    if shape in ("length", "regex", "none") and prop["type"] != "string":
        return f"{rule_type} applies to string properties; {prop['name']} is {prop['type']}"
    if shape == "length" and prop["fieldType"] not in LENGTH_FIELD_TYPES:
        return f"{rule_type} applies to text, textarea and phonenumber fields; {prop['name']} is {prop['fieldType']}"
    if shape in ("number", "decimal") and prop["type"] != "number":
        return f"{rule_type} applies to number properties; {prop['name']} is {prop['type']}"
    if shape == "none":
        return None if not args else f"{rule_type} takes no arguments"
    if len(args) != 1:
        return f"{rule_type} takes exactly one argument"
    arg = args[0]
    if shape == "length":
        if not arg.isdigit() or not 1 <= int(arg) <= 10000:
            return f"{rule_type} takes an integer from 1 to 10000, not {arg!r}"
    elif shape == "decimal":
        if not arg.isdigit() or not 0 <= int(arg) <= 20:
            return f"DECIMAL takes an integer from 0 to 20, not {arg!r}"
    elif shape == "number":
        try:
            float(arg)
        except ValueError:
            return f"{rule_type} takes a number, not {arg!r}"
    elif shape == "regex":
        try:
            re.compile(arg)
        except re.error as exc:
            return f"REGEX argument is not a valid pattern: {exc}"
    return None


def put_rule(call: Call, name: str, rule_type: str):
    body = call.json_object()
    portal = call.portal
    prop = portal.properties.get(name)
    if prop is None or prop["archived"]:
        raise not_found(f"Unable to find property {name} for object type 0-3")
    call.reject_unknown(body, {"ruleArguments", "shouldApplyNormalization"}, "PropertyValidationRuleUpdate")
    args = body.get("ruleArguments")
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise validation_error("ruleArguments must be a list of strings",
                               [("ruleArguments must be a list of strings", "INVALID_ARGUMENTS", "ruleArguments")])
    current = dict(portal.rules.get(name) or {})
    if not args and RULE_TYPES.get(rule_type) not in (None, "none"):
        if not call.settings.rule_removal_by_empty_put:
            raise validation_error(f"{rule_type} needs its argument; HubSpot documents no way to remove a rule",
                                   [("ruleArguments must not be empty", "INVALID_ARGUMENTS", "ruleArguments")])
        current.pop(rule_type, None)
    else:
        problem = _rule_problem(rule_type, args, prop)
        if problem:
            raise validation_error(problem, [(problem, "INVALID_VALIDATION_RULE", "ruleArguments")])
        current[rule_type] = list(args)
    portal.touch("rule", name, portal.rules.get(name))
    portal.rules[name] = current
    return 204, None
