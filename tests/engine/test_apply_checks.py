"""apply's read-back uses the plan's own comparison; the atomic write leaves no temporary file behind."""

from __future__ import annotations

import dataclasses
import os

import pytest

from provisioner.apply import shows_done
from provisioner.changes import UpdateProperty, property_fields
from provisioner.files import write_atomic
from provisioner.model import Option, SchemaState
from tests.engine.builders import desired_state

OPTIONS = (Option("On track", "on_track", 0), Option("At risk", "at_risk", 1))


def status_with(options):
    desired = desired_state()
    return dataclasses.replace(desired.properties["accord_status"], type="enumeration", field_type="select",
                               options=options)


def test_read_back_ignores_the_order_options_are_listed_in():
    declared = status_with(OPTIONS)
    change = UpdateProperty("accord_status", property_fields(declared), property_fields(declared), ("options",))
    listed_otherwise = SchemaState(properties={"accord_status": status_with(tuple(reversed(OPTIONS)))})
    assert shows_done(change, listed_otherwise)
    relabelled = status_with((OPTIONS[0], dataclasses.replace(OPTIONS[1], label="At Risk!")))
    assert not shows_done(change, SchemaState(properties={"accord_status": relabelled}))


def test_read_back_ignores_an_undeclared_display_order():
    declared = status_with(OPTIONS)
    change = UpdateProperty("accord_status", property_fields(declared), property_fields(declared), ("label",))
    ordered = dataclasses.replace(declared, display_order=4)
    assert shows_done(change, SchemaState(properties={"accord_status": ordered}))


def test_atomic_write_replaces_the_file(tmp_path):
    target = tmp_path / "plan.json"
    target.write_text("old")
    write_atomic(target, "new")
    assert target.read_text() == "new" and os.listdir(tmp_path) == ["plan.json"]


def test_atomic_write_keeps_the_mode(tmp_path):
    target = tmp_path / "hubspot_schema.yaml"
    target.write_text("old")
    target.chmod(0o640)
    write_atomic(target, "new")
    assert target.stat().st_mode & 0o777 == 0o640
    fresh = tmp_path / "new.yaml"
    umask = os.umask(0o022)
    try:
        write_atomic(fresh, "x")
    finally:
        os.umask(umask)
    assert fresh.stat().st_mode & 0o777 == 0o644


def test_a_failed_atomic_write_keeps_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "plan.json"
    target.write_text("old")

    def disk_full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(target, "new")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["plan.json"]


def test_a_plan_that_cannot_be_saved_is_one_clear_error(tmp_path, monkeypatch):
    from provisioner.errors import UsageError
    from provisioner.plan import Plan
    from provisioner.planfile import save_plan

    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    with pytest.raises(UsageError, match="cannot write the plan to .*plan.json: No space left on device"):
        save_plan(Plan(1, "f.yaml", "d", "v3"), tmp_path / "plan.json")
    assert os.listdir(tmp_path) == []
