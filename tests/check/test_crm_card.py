"""The seed's reminder as a manual step: the Accord CRM card on the deal record, declared and removable."""

from __future__ import annotations

import json

import pytest

from provisioner.config import load_config, validate_file
from provisioner.manual import declared_steps
from tests.scenarios.harness import SHIPPED, run

CARD = "crm_card:\n  app: Accord\n  location: right_sidebar   # or middle_column\n"


def write_config(tmp_path, text: str):
    path = tmp_path / "hubspot_schema.yaml"
    path.write_text(text)
    return path


def test_the_shipped_file_declares_the_accord_card_with_its_clicks():
    config = load_config(SHIPPED)
    step = next(s for s in declared_steps(config) if s.id == "crm_card")
    assert step.title == "Add the 'Accord' CRM card to the deal record's right sidebar"
    assert step.desired == {"app": "Accord", "location": "right_sidebar"}
    assert step.instructions[1] == (
        "In HubSpot, open Settings > Objects > Deals > Record Customization and choose the default view.")
    assert any("Add card" in line for line in step.instructions) and step.instructions[-1] == "Click Save and exit."


def test_removing_the_key_removes_the_step(tmp_path):
    text = SHIPPED.read_text()
    assert CARD in text
    path = write_config(tmp_path, text.replace(CARD, ""))
    assert validate_file(path) == []
    assert "crm_card" not in [s.id for s in declared_steps(load_config(path))]


def test_another_location_is_another_digest(tmp_path):
    shipped = next(s for s in declared_steps(load_config(SHIPPED)) if s.id == "crm_card")
    path = write_config(tmp_path, SHIPPED.read_text().replace("location: right_sidebar", "location: middle_column"))
    moved = next(s for s in declared_steps(load_config(path)) if s.id == "crm_card")
    assert moved.digest != shipped.digest and "middle column" in moved.title


@pytest.mark.parametrize("card, problem", [
    ("crm_card:\n  app: '  '\n", "crm_card.app"),
    ("crm_card:\n  app: Accord\n  location: left_sidebar\n", "crm_card.location"),
    ("crm_card:\n  location: right_sidebar\n", "crm_card"),
    ("crm_card:\n  app: Accord\n  colour: blue\n", "crm_card"),
])
def test_a_bad_card_is_a_located_problem(tmp_path, card, problem):
    path = write_config(tmp_path, SHIPPED.read_text().replace(CARD, card))
    problems = validate_file(path)
    assert problems and all(p.where.startswith(problem) for p in problems), problems
    assert all(p.line > 1 for p in problems)


def test_plan_shows_the_card_and_confirm_records_it(capsys, portal):
    portal.config()
    assert run(capsys, "apply", "--auto-approve").code == 0
    plan = run(capsys, "plan")
    assert "[ ] crm_card: Add the 'Accord' CRM card to the deal record's right sidebar" in plan.out
    assert "5. Click Save and exit." in plan.out
    assert run(capsys, "confirm", "crm_card", "--by", "sam").code == 0
    report = json.loads(run(capsys, "check", "--format", "json").out)
    card = next(m for m in report["manual_steps"] if m["id"] == "crm_card")
    assert card["confirmed_by"] == "sam"
    plan = run(capsys, "plan", "--format", "json")
    step = next(s for s in json.loads(plan.out)["manual_steps"] if s["id"] == "crm_card")
    assert step["confirmed_by"] == "sam" and step["desired"] == {"app": "Accord", "location": "right_sidebar"}


def test_export_keeps_the_card_from_the_file(capsys, portal):
    portal.config()
    assert run(capsys, "apply", "--auto-approve").code == 0
    assert run(capsys, "export", "-o", "exported.yaml").code == 0
    assert load_config("exported.yaml").crm_card == load_config("hubspot_schema.yaml").crm_card
