"""Events name their portal; a store URL in the file never carries a password."""

from __future__ import annotations

import json

import pytest
import yaml

from provisioner.config import load_config
from provisioner.errors import ConfigError
from provisioner.sync.events import Invalid, Rules, Snapshot, parse_line
from tests.sync.conftest import event, make_config

RULES = Rules.from_config(make_config())
SHIPPED = __import__("pathlib").Path(__file__).resolve().parents[2] / "hubspot_schema.yaml"


def with_portal(value) -> str:
    record = json.loads(event())
    record["portal_id"] = value
    return json.dumps(record)


@pytest.mark.parametrize(("value", "portal"), [(5, 5), ("77", 77), (" 9 ", 9), (2**63 - 1, 2**63 - 1), (None, None)])
def test_a_record_names_its_portal(value, portal):
    parsed = parse_line(1, with_portal(value), RULES)
    assert type(parsed) is Snapshot and parsed.portal_id == portal


@pytest.mark.parametrize("value", [0, -1, "012", "", "1e3", 2**63, True, 1.5, [], {}, "٣", "1 2", "0x10"])
def test_a_bad_portal_id_sets_the_record_aside_with_its_reason(value):
    parsed = parse_line(1, with_portal(value), RULES)
    assert type(parsed) is Invalid and "'portal_id' must be a HubSpot portal id" in parsed.reason


def test_a_record_without_a_portal_belongs_to_the_default_one():
    assert parse_line(1, event(), RULES).portal_id is None


@pytest.mark.parametrize("url", ["postgresql://me:secret@db.example/prov", "postgres://db.example/prov?password=s3"])
def test_a_store_url_with_a_password_is_refused_in_the_file(tmp_path, url):
    data = yaml.safe_load(SHIPPED.read_text())
    data.setdefault("sync", {})["store"] = url
    path = tmp_path / "hubspot_schema.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = str(caught.value) + " ".join(str(p) for p in getattr(caught.value, "problems", []))
    assert "sync.store" in text.replace("/", ".") or "store" in text
    assert "password" in text and "secret" not in text and "s3" not in text


def test_a_store_url_without_a_password_is_kept_as_written(tmp_path):
    data = yaml.safe_load(SHIPPED.read_text())
    data.setdefault("sync", {})["store"] = "postgresql://prov@db.example:5432/prov"
    path = tmp_path / "hubspot_schema.yaml"
    path.write_text(yaml.safe_dump(data))
    assert load_config(path).sync.store_path == "postgresql://prov@db.example:5432/prov"
