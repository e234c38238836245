"""The shipped file and what load_config builds from a file, with and without environments."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import yaml

from provisioner.config import config_schema, load_config, validate_file
from provisioner.errors import ConfigError
from provisioner.model import TRIGGER_EVENTS

SHIPPED = Path(__file__).resolve().parents[2] / "hubspot_schema.yaml"
SEED_ORDER = (
    "accord_url",
    "accord_status",
    "current_stage",
    "number_of_customers_invited",
    "number_of_customers_accepted",
    "accord_progress",
    "accord_execution_score",
)


def test_shipped_file_is_valid() -> None:
    assert validate_file(SHIPPED) == []


def test_shipped_file_declares_the_seed() -> None:
    config = load_config(SHIPPED)

    desired = config.desired
    assert list(desired.groups) == ["accord_customer_collaboration_data"]
    assert desired.groups["accord_customer_collaboration_data"].label == "Accord Customer Collaboration Data"
    assert tuple(desired.properties) == SEED_ORDER
    url = desired.properties["accord_url"]
    assert (url.label, url.type, url.field_type) == ("Accord URL", "string", "text")
    assert url.description == "Unique URL of your shared Accord workspace."
    assert {p.group_name for p in desired.properties.values()} == {"accord_customer_collaboration_data"}
    assert desired.properties["accord_progress"].type == "number"
    (rule,) = desired.rules.values()
    assert (rule.property_name, rule.rule_type, rule.arguments) == ("accord_url", "MAX_LENGTH", ("255",))
    assert dict(config.access) == dict.fromkeys(SEED_ORDER, "view_only")
    assert config.sidebar is not None
    assert config.sidebar.section == "Accord Customer Collaboration Data"
    assert config.sidebar.properties == SEED_ORDER
    assert config.sync.mapping["URL"] == "accord_url"
    assert config.sync.mapping["CUSTOMER_INVITED_COUNT"] == "number_of_customers_invited"
    assert len(config.sync.mapping) == 7
    assert config.sync.triggers == frozenset(TRIGGER_EVENTS)
    assert config.sync.store_path == str(SHIPPED.parent / ".provisioner" / "sync.sqlite")
    assert (config.portal_id, config.api_version, config.environment) == (None, "2026-03", None)
    assert config.tombstones == ()
    assert config.digest == hashlib.sha256(SHIPPED.read_bytes()).hexdigest()


def test_shipped_file_passes_the_shipped_schema() -> None:
    import jsonschema

    data = yaml.safe_load(SHIPPED.read_text())
    jsonschema.Draft202012Validator.check_schema(config_schema())
    assert list(jsonschema.Draft202012Validator(config_schema()).iter_errors(data)) == []


def test_safe_dump_of_a_plain_dict_validates(tmp_path) -> None:
    data = yaml.safe_load(SHIPPED.read_text())
    data["properties"][0]["label"] = "yes"  # must be written quoted to stay text
    path = tmp_path / "dumped.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))

    config = load_config(path)

    assert config.desired.properties["accord_url"].label == "yes"


RULES_AND_GROUPS = """\
format_version: 1
portal: {id: 12345, api_version: v3}
groups:
  - {name: accord, label: Accord, display_order: 3}
  - {name: accord_extra, label: Accord extra}
properties:
  - name: accord_score
    label: Score
    group: accord_extra
    type: number
    field_type: number
    display_order: -1
    rules: {min_number: 0, max_number: 100.0, decimal: 2}
  - name: accord_code
    label: Code
    group: accord
    type: string
    field_type: text
    rules: {min_length: 3, regex: '^[A-Z]+$', url: false}
  - name: accord_tier
    label: Tier
    group: accord
    type: enumeration
    field_type: select
    options:
      - {label: Gold, value: gold}
      - {label: Silver, value: silver, hidden: true, display_order: 7}
tombstones:
  - old_field
  - {name: older_field, reason: replaced by accord_code}
sync:
  triggers: [accord_viewed]
  store: ~/state/sync.sqlite
"""


def test_rules_groups_options_and_tombstones(tmp_path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(RULES_AND_GROUPS)

    config = load_config(path)

    desired = config.desired
    assert desired.groups["accord"].display_order == 3
    assert desired.groups["accord_extra"].display_order is None
    assert desired.properties["accord_score"].group_name == "accord_extra"
    assert desired.properties["accord_score"].display_order == -1
    assert desired.properties["accord_code"].description == ""
    arguments = {key: rule.arguments for key, rule in desired.rules.items()}
    assert arguments == {
        ("accord_score", "MIN_NUMBER"): ("0",),
        ("accord_score", "MAX_NUMBER"): ("100",),
        ("accord_score", "DECIMAL"): ("2",),
        ("accord_code", "MIN_LENGTH"): ("3",),
        ("accord_code", "REGEX"): ("^[A-Z]+$",),
    }
    gold, silver = desired.properties["accord_tier"].options
    assert (gold.value, gold.display_order, gold.hidden) == ("gold", 0, False)
    assert (silver.value, silver.display_order, silver.hidden) == ("silver", 7, True)
    assert config.tombstones == ("old_field", "older_field")
    assert (config.portal_id, config.api_version) == (12345, "v3")
    assert config.access == {}
    assert config.sidebar is None
    assert config.sync.triggers == frozenset({"accord_viewed"})
    assert config.sync.store_path == os.path.expanduser("~/state/sync.sqlite")


ENVIRONMENTS = """\
format_version: 1
portal: {id: 111}
group: {name: accord, label: Accord}
properties:
  - name: accord_url
    label: Accord URL
    type: string
    field_type: text
    rules: {max_length: 255}
    access: view_only
sync:
  mapping: {URL: accord_url}
environments:
  sandbox:
    portal: {id: 222, api_version: v3}
    overrides:
      group: {label: Accord (sandbox)}
      properties:
        accord_url: {label: Accord URL (test), rules: {max_length: 500}, access: view_and_edit}
      sync: {store: sandbox.sqlite}
  production: {}
"""


@pytest.fixture
def environments_file(tmp_path) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(ENVIRONMENTS)
    return path


def test_no_environment_selected_uses_top_level_values(environments_file) -> None:
    config = load_config(environments_file)

    assert (config.environment, config.portal_id, config.api_version) == (None, 111, "2026-03")
    assert config.desired.groups["accord"].label == "Accord"
    assert config.desired.rules[("accord_url", "MAX_LENGTH")].arguments == ("255",)


def test_environment_overrides_apply(environments_file) -> None:
    config = load_config(environments_file, "sandbox")

    assert (config.environment, config.portal_id, config.api_version) == ("sandbox", 222, "v3")
    assert config.desired.groups["accord"].label == "Accord (sandbox)"
    assert config.desired.properties["accord_url"].label == "Accord URL (test)"
    assert config.desired.rules[("accord_url", "MAX_LENGTH")].arguments == ("500",)
    assert config.access == {"accord_url": "view_and_edit"}
    assert config.sync.store_path == str(environments_file.parent / "sandbox.sqlite")


def test_environment_without_overrides_keeps_the_base(environments_file) -> None:
    config = load_config(environments_file, "production")

    assert (config.environment, config.portal_id) == ("production", 111)
    assert config.desired.properties["accord_url"].label == "Accord URL"


def test_environment_variable_selects_the_environment(environments_file, monkeypatch) -> None:
    monkeypatch.setenv("PROVISIONER_ENV", "sandbox")
    assert load_config(environments_file).portal_id == 222
    assert load_config(environments_file, "production").portal_id == 111
    monkeypatch.setenv("PROVISIONER_ENV", "staging")
    with pytest.raises(ConfigError, match="unknown environment 'staging' \\(known: sandbox, production\\)"):
        load_config(environments_file)


def test_config_error_lists_every_problem(tmp_path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("format_version: 2\nproperties: {}\n")

    with pytest.raises(ConfigError) as raised:
        load_config(path)

    assert len(raised.value.problems) == 3
    assert str(raised.value).endswith("(and 2 more)")


def test_shipped_environments_example_works_when_uncommented(tmp_path) -> None:
    text = SHIPPED.read_text()
    start = text.index("# environments:")
    example = "\n".join(line[2:] for line in text[start:].splitlines())
    path = tmp_path / "hubspot_schema.yaml"
    path.write_text(text[:start] + example + "\n")

    config = load_config(path, "sandbox")

    assert config.portal_id == 22222222
    assert config.access["accord_url"] == "view_and_edit"
    assert load_config(path, "production").portal_id == 11111111
