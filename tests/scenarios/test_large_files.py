"""A file with hundreds of new properties: apply sends them in batches of HubSpot's 100-input limit."""

from __future__ import annotations

import yaml

from provisioner.hubspot.batching import BATCH_LIMIT
from tests.scenarios.harness import SHIPPED, run


def test_apply_creates_500_properties_in_batches_of_100(capsys, portal):
    data = yaml.safe_load(SHIPPED.read_text())
    data["properties"] += [{"name": f"accord_extra_{i:03d}", "label": f"Accord extra {i}", "type": "string",
                            "field_type": "text"} for i in range(493)]
    (portal.workdir / "hubspot_schema.yaml").write_text(yaml.safe_dump(data, sort_keys=False))

    applied = run(capsys, "apply", "--auto-approve")
    assert applied.code == 0, applied.err
    assert "Apply complete: 502 change(s)" in applied.out  # the group, 500 properties, the rule
    creates = [w for w in portal.writes() if w["path"].endswith("/batch/create")]
    assert len(creates) == 500 // BATCH_LIMIT and all(w["status"] == 201 for w in creates)

    assert run(capsys, "plan", "--detailed-exitcode").code == 0
    names = {p.property.name for p in portal.client().list_properties()}
    assert {f"accord_extra_{i:03d}" for i in range(493)} <= names
