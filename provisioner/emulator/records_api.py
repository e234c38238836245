"""Deal records: create (and batch create) to seed, read, list with paging, batch read, batch update."""

from __future__ import annotations

import bisect
import json
from urllib.parse import quote

from provisioner.emulator.call import Call
from provisioner.emulator.state import ALWAYS_RETURNED, DEFAULT_DEAL_PROPERTIES, READ_ONLY_VALUES, Deal
from provisioner.emulator.values import ValueProblem, check_value
from provisioner.emulator.wire import batch_error, error, not_found, now_ms

NOT_FOUND_MESSAGE = "Could not get some DEAL objects, they may be deleted or not exist. Check that ids are valid."


def _value_error(call: Call, problems: list[tuple[str, ValueProblem]]):
    """HubSpot's whole-call 400: the per-value details JSON-encoded inside the message."""
    details = [
        {"isValid": False, "message": p.message, "error": p.code, "name": name,
         "localizedErrorMessage": p.message, "portalId": call.settings.portal_id}
        for name, p in problems
    ]
    return error(400, "VALIDATION_ERROR", "Property values were not valid: " + json.dumps(details, separators=(",", ":")))


def _checked(call: Call, properties, problems: list, *, creating: bool,
             seen: dict | None = None) -> dict[str, str]:
    """The values checked and stored as HubSpot stores them; each problem appended to ``problems``.

    ``seen`` keeps (name, text) -> stored value or problem across the records of one batch: a
    value's check depends only on the property and the text, and a batch repeats both.
    """
    if not isinstance(properties, dict):
        raise error(400, "VALIDATION_ERROR", "Invalid input JSON: 'properties' must be an object.")
    portal = call.portal
    enforce = call.settings.enforce_validation_rules
    out = {}
    for name, raw in properties.items():
        key = (name, raw) if seen is not None and type(raw) is str else None
        if key is not None and key in seen:
            known = seen[key]
            if isinstance(known, ValueProblem):
                problems.append((name, known))
            else:
                out[name] = known
            continue
        prop = portal.properties.get(name)
        if prop is None or prop["archived"]:
            problems.append((name, ValueProblem("PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')))
            continue
        if name in READ_ONLY_VALUES:
            problems.append((name, ValueProblem("READ_ONLY_VALUE", f"{name} is a read only property; its value "
                                                                   "cannot be set.")))
            continue
        try:
            out[name] = check_value(prop, raw, portal.rules.get(name), enforce_rules=enforce)
        except ValueProblem as problem:
            problems.append((name, problem))
            if key is not None:
                seen[key] = problem
            continue
        if key is not None:
            seen[key] = out[name]
    if creating:
        out = {k: v for k, v in out.items() if v != ""}
    return out


def _requested(call: Call, names) -> list[str]:
    if not names:
        return list(DEFAULT_DEAL_PROPERTIES)
    wanted = [n for n in names if n]
    for name in ALWAYS_RETURNED:
        if name not in wanted:
            wanted.append(name)
    return wanted


def _names_arg(call: Call) -> list[str]:
    names = []
    for value in call.args.get("properties", []):
        names.extend(part.strip() for part in value.split(","))
    return [n for n in names if n]


def _live_names(call: Call, names: list[str]) -> list[str]:
    """Requested names that are real properties (HubSpot leaves unknown ones out)."""
    props = call.portal.properties
    return [n for n in names if n in props and not props[n]["archived"]]


def _answer_names(call: Call, written, memo: dict) -> list[str]:
    """The names a write answers with, for the names it wrote (the same for most records of a batch)."""
    key = tuple(written)
    names = memo.get(key)
    if names is None:
        names = memo[key] = _live_names(call, _requested(call, list(key)))
    return names


def _batch_record(call: Call, deal_id: str, deal: Deal, names: list[str]) -> dict:
    """A record inside a batch answer: as a single read shows it, plus the record's ``url`` in HubSpot's UI."""
    record = deal.as_json(deal_id, names)
    s = call.settings
    record["url"] = f"https://{s.ui_domain}/contacts/{s.portal_id}/record/0-3/{deal_id}"  # ids are numeric
    return record


def _create(call: Call, values: dict[str, str]) -> tuple[str, Deal]:
    portal = call.portal
    deal_id = portal.new_deal_id()
    stamp = now_ms()
    deal = Deal(stamp, stamp, values)
    portal.add_deal(deal_id, deal)
    return deal_id, deal


def create_deal(call: Call):
    body = call.json_object()
    problems: list = []
    values = _checked(call, body.get("properties", {}), problems, creating=True)
    if problems:
        raise _value_error(call, problems)
    deal_id, deal = _create(call, values)
    names = _live_names(call, _requested(call, list(values)))
    return 201, deal.as_json(deal_id, names), {"Location": f"{call.base_url}{call.path}/{quote(deal_id)}"}


def batch_create_deals(call: Call):
    started = now_ms()
    inputs = call.inputs()
    problems: list = []
    seen: dict = {}
    checked = [_checked(call, item.get("properties", {}), problems, creating=True, seen=seen) for item in inputs]
    if problems:
        raise _value_error(call, problems)
    results, memo = [], {}
    for values in checked:
        deal_id, deal = _create(call, values)
        results.append(_batch_record(call, deal_id, deal, _answer_names(call, values, memo)))
    return call.batch_answer(results, [], started, success=201)


def _visible(call: Call, deal_id: str, archived: bool = False) -> Deal | None:
    portal = call.portal
    deal = portal.seen("deal", deal_id, portal.deals.get(deal_id))
    if deal is None or deal.archived != archived:
        return None
    return deal


def get_deal(call: Call, deal_id: str):
    deal = _visible(call, deal_id, call.flag("archived"))
    if deal is None:
        raise not_found(f"Object not found.  objectId are usually numeric. (deal {deal_id})")
    names = _live_names(call, _requested(call, _names_arg(call)))
    return 200, deal.as_json(deal_id, names)


def list_deals(call: Call):
    limit_arg = call.arg("limit", "10")
    try:
        limit = int(limit_arg)
    except ValueError:
        raise error(400, "VALIDATION_ERROR", f"limit must be an integer, not {limit_arg!r}") from None
    if not 1 <= limit <= 100:
        raise error(400, "VALIDATION_ERROR", f"limit must be between 1 and 100, not {limit}",
                    errors=[{"message": "limit must be between 1 and 100", "code": "INVALID_LIMIT", "in": "limit"}])
    after = call.arg("after")
    try:
        start = int(after) if after else 0
    except ValueError:
        raise error(400, "VALIDATION_ERROR", f"after must be a paging cursor from a previous page, not {after!r}",
                    errors=[{"message": "invalid cursor", "code": "INVALID_CURSOR", "in": "after"}]) from None
    archived = call.flag("archived")
    names = _live_names(call, _requested(call, _names_arg(call)))
    order = call.portal.deal_order
    results, next_after = [], None
    for number in order[bisect.bisect_left(order, start):]:
        deal_id = str(number)
        deal = _visible(call, deal_id, archived)
        if deal is None:
            continue
        if len(results) == limit:
            next_after = deal_id
            break
        results.append(deal.as_json(deal_id, names))
    body: dict = {"results": results}
    if next_after is not None:
        query = f"?after={next_after}&limit={limit}"
        body["paging"] = {"next": {"after": next_after, "link": f"{call.base_url}{call.path}{query}"}}
    return 200, body


def batch_read_deals(call: Call):
    started = now_ms()
    body = call.json_object()
    inputs = call.inputs()
    if body.get("idProperty") not in (None, "hs_object_id"):
        raise error(400, "VALIDATION_ERROR", f"idProperty {body['idProperty']!r} is not a unique property")
    names = _live_names(call, _requested(call, [n for n in body.get("properties") or [] if isinstance(n, str)]))
    archived = bool(body.get("archived", False))
    results, missing, seen = [], [], set()
    for item in inputs:
        deal_id = str(item.get("id", ""))
        if deal_id in seen:
            continue
        seen.add(deal_id)
        deal = _visible(call, deal_id, archived)
        if deal is None:
            missing.append(deal_id)
        else:
            results.append(_batch_record(call, deal_id, deal, names))
    errors = [batch_error("OBJECT_NOT_FOUND", NOT_FOUND_MESSAGE, {"ids": missing})] if missing else []
    return call.batch_answer(results, errors, started)


def _update(call: Call, deal_id: str, deal: Deal, values: dict[str, str], stamp: int) -> Deal:
    call.portal.touch("deal", deal_id, deal)
    props = deal.props
    for name, value in values.items():
        if value == "":
            props.pop(name, None)
        else:
            props[name] = value
    deal.updated = stamp
    return deal


def batch_update_deals(call: Call):
    """All values are checked first: one bad value fails the whole call with 400, as HubSpot does.

    Ids that do not exist come back as a 207 with OBJECT_NOT_FOUND and their ids in the context,
    while the other inputs are written (HubSpot's answer for batch update, per its public traces).
    """
    started = now_ms()
    inputs = call.inputs()
    problems: list = []
    checked, duplicates, seen, values_seen = [], [], set(), {}
    for item in inputs:
        deal_id = str(item.get("id", ""))
        if deal_id in seen:
            duplicates.append(deal_id)
        seen.add(deal_id)
        checked.append((deal_id, _checked(call, item.get("properties", {}), problems, creating=False,
                                          seen=values_seen)))
    if duplicates:
        raise error(400, "VALIDATION_ERROR", f"Duplicate IDs found in batch input: {sorted(set(duplicates))}. "
                    "IDs must be unique", context={"ids": sorted(set(duplicates))})
    if problems:
        raise _value_error(call, problems)
    deals = call.portal.deals
    results, missing, memo = [], [], {}
    for deal_id, values in checked:
        deal = deals.get(deal_id)
        if deal is None or deal.archived:
            missing.append(deal_id)
            continue
        _update(call, deal_id, deal, values, started)
        results.append(_batch_record(call, deal_id, deal, _answer_names(call, values, memo)))
    errors = [batch_error("OBJECT_NOT_FOUND", NOT_FOUND_MESSAGE, {"ids": missing})] if missing else []
    return call.batch_answer(results, errors, started)


def update_deal(call: Call, deal_id: str):
    body = call.json_object()
    deal = call.portal.deals.get(deal_id)
    if deal is None or deal.archived:
        raise not_found(f"Object not found.  objectId are usually numeric. (deal {deal_id})")
    problems: list = []
    values = _checked(call, body.get("properties", {}), problems, creating=False)
    if problems:
        raise _value_error(call, problems)
    _update(call, deal_id, deal, values, now_ms())
    return 200, deal.as_json(deal_id, _live_names(call, _requested(call, list(values))))


def archive_deal(call: Call, deal_id: str):
    deal = call.portal.deals.get(deal_id)
    if deal is not None and not deal.archived:
        call.portal.touch("deal", deal_id, deal)
        deal.archived = True
        deal.updated = now_ms()
    return 204, None
