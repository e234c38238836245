"""Invalid config files, each with every problem it must produce: (line, column, where, what).

``where`` and ``what`` are substrings of the reported place and message. A case lists ALL its
problems: a check that reports something unexpected fails too.
"""

from __future__ import annotations

from dataclasses import dataclass
from textwrap import dedent

BASE = """\
format_version: 1
group:
  name: accord
  label: Accord
properties:
  - name: accord_url
    label: Accord URL
    type: string
    field_type: text
"""


@dataclass(frozen=True)
class Case:
    id: str
    text: str
    expected: tuple[tuple[int, int, str, str], ...]
    environment: str | None = None


def case(id: str, text: str, *expected: tuple[int, int, str, str], environment: str | None = None) -> Case:
    return Case(id, dedent(text), tuple(expected), environment)


CASES = [
    case(
        "unknown-top-level-key",
        BASE + "sidebr: {section: S, properties: []}\n",
        (10, 1, "sidebr", "unknown key 'sidebr' (did you mean 'sidebar'?)"),
    ),
    case(
        "unknown-property-key-typo",
        BASE.replace("    label: Accord URL", "    lable: Accord URL"),
        (7, 5, "properties[0].lable", "unknown key 'lable' (did you mean 'label'?)"),
    ),
    case(
        "missing-key-and-unrelated-unknown-key",
        BASE.replace("    label: Accord URL", "    title: Accord URL"),
        (6, 5, "properties[0]", "missing required key 'label'"),
        (7, 5, "properties[0].title", "unknown key 'title'"),
    ),
    case(
        "duplicate-yaml-key-top-level",
        BASE + "group:\n  name: other\n  label: Other\n",
        (10, 1, "group", "duplicate key 'group' (first given on line 2)"),
    ),
    case(
        "duplicate-yaml-key-in-property",
        BASE + "    label: Second label\n",
        (10, 5, "properties[0].label", "duplicate key 'label' (first given on line 7)"),
    ),
    case(
        "duplicate-property-name",
        BASE + "  - name: accord_url\n    label: Again\n    type: string\n    field_type: text\n",
        (10, 11, "properties[1].name", "duplicate property 'accord_url' (first declared on line 6)"),
    ),
    case(
        "property-name-upper-case",
        BASE.replace("name: accord_url", "name: AccordUrl"),
        (6, 11, "properties[0].name", "must be a HubSpot internal name"),
    ),
    case(
        "property-name-starts-with-digit",
        BASE.replace("name: accord_url", "name: 1accord"),
        (6, 11, "properties[0].name", "starting with a letter"),
    ),
    case(
        "property-name-with-hyphen",
        BASE.replace("name: accord_url", "name: accord-url"),
        (6, 11, "properties[0].name", "lower-case letters, digits and underscores"),
    ),
    case(
        "property-name-too-long",
        BASE.replace("name: accord_url", "name: a" + "b" * 100),
        (6, 11, "properties[0].name", "at most 100 characters"),
    ),
    case(
        "property-name-reserved-prefix",
        BASE.replace("name: accord_url", "name: hs_accord_url"),
        (6, 11, "properties[0].name", "starts with 'hs_', which HubSpot keeps for its own propertys"),
    ),
    case(
        "group-name-reserved-prefix",
        BASE.replace("name: accord\n", "name: hs_accord\n"),
        (3, 9, "group.name", "group 'hs_accord' starts with 'hs_'"),
    ),
    case(
        "type-field-type-mismatch",
        BASE.replace("type: string", "type: number"),
        (9, 17, "properties[0].field_type", "field_type 'text' does not fit type 'number' (use one of:"),
    ),
    case(
        "unknown-type-did-you-mean",
        BASE.replace("type: string", "type: strng"),
        (8, 11, "properties[0].type", "'strng' is not one of: string, number"),
    ),
    case(
        "unknown-field-type-did-you-mean",
        BASE.replace("field_type: text", "field_type: txt"),
        (9, 17, "properties[0].field_type", "(did you mean 'text'?)"),
    ),
    case(
        "calculated-field-type-unsupported",
        BASE.replace("field_type: text", "field_type: calculation_equation"),
        (9, 17, "properties[0].field_type", "needs a formula"),
    ),
    case(
        "enumeration-without-options",
        BASE.replace("type: string", "type: enumeration").replace("field_type: text", "field_type: select"),
        (6, 5, "properties[0]", "type enumeration needs at least one option"),
    ),
    case(
        "options-on-a-string-property",
        BASE + "    options:\n      - {label: A, value: a}\n",
        (10, 5, "properties[0].options", "options are only for type enumeration, not 'string'"),
    ),
    case(
        "duplicate-option-value",
        BASE.replace("type: string", "type: enumeration").replace("field_type: text", "field_type: select")
        + "    options:\n      - {label: A, value: a}\n      - {label: B, value: a}\n",
        (12, 27, "properties[0].options[1].value", "duplicate option value 'a'"),
    ),
    case(
        "max-length-on-a-number-property",
        BASE.replace("type: string", "type: number").replace("field_type: text", "field_type: number")
        + "    rules:\n      max_length: 10\n",
        (11, 7, "properties[0].rules.max_length", "rule max_length does not fit a number number property"),
    ),
    case(
        "min-number-on-a-text-property",
        BASE + "    rules:\n      min_number: 0\n",
        (
            11,
            7,
            "properties[0].rules.min_number",
            "does not fit a string text property (it applies to: number number)",
        ),
    ),
    case(
        "min-length-greater-than-max-length",
        BASE + "    rules:\n      min_length: 50\n      max_length: 10\n",
        (11, 19, "properties[0].rules.min_length", "min_length 50 is greater than max_length 10"),
    ),
    case(
        "min-number-greater-than-max-number",
        BASE.replace("type: string", "type: number").replace("field_type: text", "field_type: number")
        + "    rules: {min_number: 5.5, max_number: 1}\n",
        (10, 25, "properties[0].rules.min_number", "min_number 5.5 is greater than max_number 1"),
    ),
    case(
        "max-length-out-of-range",
        BASE + "    rules:\n      max_length: 0\n      min_length: 20000\n",
        (11, 19, "properties[0].rules.max_length", "must be at least 1, got 0"),
        (12, 19, "properties[0].rules.min_length", "must be at most 10000, got 20000"),
        (12, 19, "properties[0].rules.min_length", "min_length 20000 is greater than max_length 0"),
    ),
    case(
        "decimal-out-of-range",
        BASE.replace("type: string", "type: number").replace("field_type: text", "field_type: number")
        + "    rules: {decimal: 25}\n",
        (10, 22, "properties[0].rules.decimal", "must be at most 20, got 25"),
    ),
    case(
        "regex-does-not-compile",
        BASE + "    rules:\n      regex: '[a-z'\n",
        (11, 14, "properties[0].rules.regex", "regex does not compile"),
    ),
    case(
        "unknown-rule-did-you-mean",
        BASE + "    rules:\n      max_lenght: 255\n",
        (11, 7, "properties[0].rules.max_lenght", "unknown key 'max_lenght' (did you mean 'max_length'?)"),
    ),
    case(
        "url-limit-under-100",
        BASE + "    rules: {max_length: 50}\nsync:\n  mapping:\n    URL: accord_url\n",
        (10, 25, "properties[0].rules.max_length", "character limit 50 is under 100"),
    ),
    case(
        "label-is-a-number",
        BASE.replace("label: Accord URL", "label: 123"),
        (7, 12, "properties[0].label", "expected a string, got the number 123 (quote it to make it text)"),
    ),
    case(
        "label-yes-becomes-boolean",
        BASE.replace("label: Accord URL", "label: yes"),
        (7, 12, "properties[0].label", "expected a string, got the boolean true (quote it"),
    ),
    case(
        "label-empty",
        BASE.replace("label: Accord URL", 'label: ""'),
        (7, 12, "properties[0].label", "must not be empty"),
    ),
    case(
        "display-order-not-integer",
        BASE + "    display_order: first\n",
        (10, 20, "properties[0].display_order", "expected an integer, got the string 'first'"),
    ),
    case(
        "access-level-unknown",
        BASE + "    access: read_only\n",
        (10, 13, "properties[0].access", "'read_only' is not one of: view_only, view_and_edit"),
    ),
    case(
        "sidebar-undeclared-and-repeated",
        BASE
        + "sidebar:\n  section: Accord\n  properties:\n    - accord_url\n    - accord_urll\n    - accord_url\n",
        (
            14,
            7,
            "sidebar.properties[1]",
            "'accord_urll' is not a declared property (did you mean 'accord_url'?)",
        ),
        (
            15,
            7,
            "sidebar.properties[2]",
            "'accord_url' appears twice in the sidebar (first at properties[0])",
        ),
    ),
    case(
        "sidebar-section-blank",
        BASE + "sidebar:\n  section: '   '\n  properties: [accord_url]\n",
        (11, 12, "sidebar.section", "the section title must not be blank"),
    ),
    case(
        "sidebar-section-missing",
        BASE + "sidebar:\n  properties: [accord_url]\n",
        (11, 3, "sidebar", "missing required key 'section'"),
    ),
    case(
        "mapping-to-undeclared-property",
        BASE + "sync:\n  mapping:\n    URL: accord_link\n",
        (12, 10, "sync.mapping.URL", "'accord_link' is not a declared property"),
    ),
    case(
        "mapping-from-unknown-accord-field",
        BASE + "sync:\n  mapping:\n    URLS: accord_url\n",
        (12, 5, "sync.mapping.URLS", "unknown key 'URLS': expected one of URL, STATUS"),
    ),
    case(
        "two-fields-mapped-to-one-property",
        BASE + "sync:\n  mapping:\n    URL: accord_url\n    STATUS: accord_url\n",
        (13, 13, "sync.mapping.STATUS", "'accord_url' is already the target of URL"),
    ),
    case(
        "mapping-type-mismatch",
        BASE + "  - name: accord_status\n    label: Status\n    type: number\n    field_type: number\n"
        "sync:\n  mapping:\n    STATUS: accord_status\n",
        (
            16,
            13,
            "sync.mapping.STATUS",
            "Accord's STATUS holds a string, but property 'accord_status' is type number",
        ),
    ),
    case(
        "unknown-and-duplicate-triggers",
        BASE + "sync:\n  triggers: [accord_viewed, accord_view, accord_viewed]\n",
        (11, 29, "sync.triggers[1]", "'accord_view' is not one of:"),
        (11, 42, "sync.triggers[2]", "trigger 'accord_viewed' is listed twice"),
    ),
    case(
        "tombstone-also-declared",
        BASE + "tombstones:\n  - name: accord_url\n    reason: replaced\n",
        (11, 11, "tombstones[0].name", "'accord_url' is declared under properties and listed for archiving"),
    ),
    case(
        "tombstone-wrong-shape",
        BASE + "tombstones:\n  - 42\n",
        (11, 5, "tombstones[0]", "must be a property name or a mapping {name, reason}"),
    ),
    case(
        "portal-id-not-positive",
        BASE + "portal:\n  id: 0\n  api_version: v4\n",
        (11, 7, "portal.id", "must be at least 1, got 0"),
        (12, 16, "portal.api_version", "'v4' is not one of: 2026-03, v3"),
    ),
    case(
        "portal-id-a-string",
        BASE + "portal:\n  id: '12345'\n",
        (11, 7, "portal.id", "expected an integer or null, got the string '12345'"),
    ),
    case(
        "format-version-unsupported",
        BASE.replace("format_version: 1", "format_version: 2"),
        (1, 17, "format_version", "the number 2 is not supported: expected 1"),
    ),
    case(
        "format-version-missing",
        BASE.replace("format_version: 1\n", ""),
        (1, 1, "top level", "missing required key 'format_version'"),
    ),
    case(
        "no-group-declared",
        BASE.replace("group:\n  name: accord\n  label: Accord\n", ""),
        (1, 1, "top level", "missing required key 'group'"),
    ),
    case(
        "group-and-groups",
        BASE + "groups:\n  - {name: other, label: Other}\n",
        (10, 1, "groups", "give either 'group' or 'groups', not both"),
    ),
    case(
        "property-group-undeclared",
        BASE + "    group: acord\n",
        (
            10,
            12,
            "properties[0].group",
            "group 'acord' is not declared (declared: accord) (did you mean 'accord'?)",
        ),
    ),
    case(
        "several-groups-property-without-group",
        """\
        format_version: 1
        groups:
          - {name: accord, label: Accord}
          - {name: accord_extra, label: Accord extra}
        properties:
          - name: accord_url
            label: Accord URL
            type: string
            field_type: text
        """,
        (6, 5, "properties[0]", "with several groups each property names its own"),
    ),
    case(
        "environment-override-unknown-property",
        BASE
        + "environments:\n  sandbox:\n    overrides:\n      properties:\n        accord_ur: {label: X}\n",
        (
            14,
            9,
            "environments.sandbox.overrides.properties.accord_ur",
            "'accord_ur' is not a declared property",
        ),
    ),
    case(
        "environment-override-url-limit",
        BASE + "sync:\n  mapping: {URL: accord_url}\n"
        "environments:\n  production:\n    overrides:\n      properties:\n        accord_url:\n"
        "          rules: {max_length: 10}\n",
        (17, 31, "environments.production.overrides.properties.accord_url.rules.max_length", "under 100"),
    ),
    case(
        "environment-unknown-key-and-bad-portal",
        BASE + "environments:\n  sandbox:\n    portl: {id: 1}\n    portal: {id: -5}\n",
        (12, 5, "environments.sandbox.portl", "unknown key 'portl' (did you mean 'portal'?)"),
        (13, 18, "environments.sandbox.portal.id", "must be at least 1, got -5"),
    ),
    case(
        "environment-name-invalid",
        BASE + "environments:\n  'my sandbox': {}\n",
        (11, 3, "environments.my sandbox", "name 'my sandbox' may hold only letters, digits"),
    ),
    case(
        "unknown-environment-selected",
        BASE + "environments:\n  sandbox: {}\n  production: {}\n",
        (
            10,
            1,
            "environments",
            "unknown environment 'prod' (known: sandbox, production) (did you mean 'production'?)",
        ),
        environment="prod",
    ),
    case(
        "environment-selected-but-none-declared",
        BASE,
        (1, 1, "top level", "environment 'sandbox' was selected, but the file declares no environments"),
        environment="sandbox",
    ),
    case(
        "anchor-and-alias-refused",
        BASE
        + "  - &p\n    name: accord_status\n    label: S\n    type: string\n    field_type: text\n  - *p\n",
        (10, 5, "properties[1]", "anchors (&p) are not supported"),
        (15, 5, "properties[2]", "aliases (*p) are not supported"),
        (15, 5, "properties[2]", "expected a mapping, got null"),
    ),
    case(
        "non-string-key",
        BASE + "sync:\n  mapping:\n    1: accord_url\n",
        (12, 5, "sync.mapping", 'key 1 must be a string (quote it: "1")'),
    ),
    case(
        "custom-tag-refused",
        BASE.replace("label: Accord URL", "label: !!python/name:os.system x"),
        (7, 12, "properties[0].label", "YAML tag tag:yaml.org,2002:python/name:os.system is not supported"),
        (7, 12, "properties[0].label", "expected a string, got null"),
    ),
]
