"""Which handler answers which HubSpot path: one werkzeug ``routing.Map`` for both path families.

Every CRM route exists twice: ``/crm/v3/{family}/{objectType}...`` and the date-versioned
``/crm/{family}/{version}/{objectType}...``. The object type is ``deals`` or ``0-3``. Each rule's
endpoint is ``(handler, scope)``; the handler is called as ``handler(call, **path_arguments)``.
"""

from __future__ import annotations

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import BaseConverter, Map, Rule

from provisioner.emulator import account_api, groups_api, properties_api, records_api, rules_api

VERSIONS = ("2025-09", "2026-03", "2026-09")
TOKEN_INFO = "/oauth/v2/private-apps/get/access-token-info"
SCHEMA_READ, SCHEMA_WRITE = "crm.schemas.deals.read", "crm.schemas.deals.write"
OBJECTS_READ, OBJECTS_WRITE = "crm.objects.deals.read", "crm.objects.deals.write"

# (family, path after the object type, {method: (handler, scope)})
CRM_ROUTES = (
    ("properties", "/groups", {"GET": (groups_api.list_groups, SCHEMA_READ),
                               "POST": (groups_api.create_group, SCHEMA_WRITE)}),
    ("properties", "/groups/<name>", {"GET": (groups_api.get_group, SCHEMA_READ),
                                      "PATCH": (groups_api.update_group, SCHEMA_WRITE),
                                      "DELETE": (groups_api.archive_group, SCHEMA_WRITE)}),
    ("properties", "/batch/create", {"POST": (properties_api.batch_create_properties, SCHEMA_WRITE)}),
    ("properties", "/batch/read", {"POST": (properties_api.batch_read_properties, SCHEMA_READ)}),
    ("properties", "/batch/archive", {"POST": (properties_api.batch_archive_properties, SCHEMA_WRITE)}),
    ("properties", "", {"GET": (properties_api.list_properties, SCHEMA_READ),
                        "POST": (properties_api.create_property, SCHEMA_WRITE)}),
    ("properties", "/<name>", {"GET": (properties_api.get_property, SCHEMA_READ),
                               "PATCH": (properties_api.update_property, SCHEMA_WRITE),
                               "DELETE": (properties_api.archive_property, SCHEMA_WRITE)}),
    ("property-validations", "", {"GET": (rules_api.list_rules, SCHEMA_READ)}),
    ("property-validations", "/<name>", {"GET": (rules_api.get_rules, SCHEMA_READ)}),
    ("property-validations", "/<name>/rule-type/<rule_type>", {"PUT": (rules_api.put_rule, SCHEMA_WRITE)}),
    ("objects", "", {"GET": (records_api.list_deals, OBJECTS_READ),
                     "POST": (records_api.create_deal, OBJECTS_WRITE)}),
    ("objects", "/batch/create", {"POST": (records_api.batch_create_deals, OBJECTS_WRITE)}),
    ("objects", "/batch/read", {"POST": (records_api.batch_read_deals, OBJECTS_READ)}),
    ("objects", "/batch/update", {"POST": (records_api.batch_update_deals, OBJECTS_WRITE)}),
    ("objects", "/<deal_id>", {"GET": (records_api.get_deal, OBJECTS_READ),
                               "PATCH": (records_api.update_deal, OBJECTS_WRITE),
                               "DELETE": (records_api.archive_deal, OBJECTS_WRITE)}),
)


class _Version(BaseConverter):
    regex = "|".join(VERSIONS)


def _rules():
    object_type = "<any(deals, '0-3'):object_type>"
    yield Rule(TOKEN_INFO, methods=["POST"], endpoint=(account_api.token_info, None))
    yield Rule("/account-info/<any(v3, " + ", ".join(f"'{v}'" for v in VERSIONS) + "):version>/details",
               methods=["GET"], endpoint=(account_api.account_details, None))
    for family, tail, methods in CRM_ROUTES:
        for template in (f"/crm/v3/{family}/{object_type}{tail}", f"/crm/{family}/<version:version>/{object_type}{tail}"):
            for method, endpoint in methods.items():
                yield Rule(template, methods=[method], endpoint=endpoint)


ROUTES = Map(list(_rules()), converters={"version": _Version}, strict_slashes=False, merge_slashes=False)


class Unrouted(Exception):
    """No HubSpot endpoint answers this path (404) or this method on it (405)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def route(path: str, method: str):
    """(handler, scope, version, path arguments) for a HubSpot request, or Unrouted."""
    try:
        (handler, scope), args = ROUTES.bind("hubspot").match(path, method=method)
    except MethodNotAllowed:
        raise Unrouted(405) from None
    except NotFound:
        raise Unrouted(404) from None
    version = args.pop("version", "v3")
    args.pop("object_type", None)
    return handler, scope, version, args
