"""An option edited in HubSpot's UI: plan names the option and the field, apply puts it back, drift agrees."""

from __future__ import annotations

from provisioner.model import Option
from tests.scenarios.harness import run

REGION = """
  - name: accord_region
    label: Accord Region
    description: Sales region of the Accord.
    type: enumeration
    field_type: select
    options:
      - {label: North, value: north}
      - {label: South, value: south}
      - {label: West, value: west}
"""


def test_option_label_edit_is_shown_and_restored(capsys, portal):
    config = portal.config()
    head, tail = config.read_text().split("\n# Step 4", 1)
    config.write_text(head.rstrip("\n") + "\n" + REGION + "\n# Step 4" + tail)
    assert run(capsys, "apply", "--auto-approve").code == 0
    portal.client().update_property("accord_region", {"options": (
        Option("North", "north", 0), Option("Southern", "south", 1, hidden=True), Option("East", "east", 2))})

    plan = run(capsys, "plan", "--detailed-exitcode")
    assert plan.code == 2, plan.err
    assert "options[east]: removed" in plan.out
    assert 'options[south]: label "Southern" -> "South", hidden true -> false' in plan.out
    assert "options[west]: added (label \"West\", display_order 2, hidden false)" in plan.out
    drift = run(capsys, "drift")
    assert drift.code == 2
    assert 'options[south].label: file "South", portal "Southern"' in drift.out

    assert run(capsys, "apply", "--auto-approve").code == 0
    assert run(capsys, "plan", "--detailed-exitcode").code == 0
    live = portal.client().get_property("accord_region").property
    assert [(o.value, o.label, o.hidden) for o in live.options] == [
        ("north", "North", False), ("south", "South", False), ("west", "West", False)]
