"""A push stopped part-way (daily limit, unreachable portal, a missing property): what landed is kept,
the rest is counted as failed and stays pending, and a rerun finishes the work."""

from __future__ import annotations

import pytest

from provisioner.errors import ConnectionFailed, DailyLimitError, RequestValidationError
from provisioner.sync.engine import push
from tests.sync.conftest import event
from tests.sync.fakes import FakeDeals

IDS = [str(1000 + i) for i in range(250)]


def stop(kind: str):
    if kind == "daily":
        return DailyLimitError("daily limit", method="POST", path="/batch/update", status=429, policy="DAILY")
    if kind == "unreachable":
        return ConnectionFailed("cannot reach the portal: connection refused")
    return RequestValidationError(
        "Property values were not valid", method="POST", path="/batch/update", status=400,
        category="VALIDATION_ERROR", body={"errors": [{"message": "Property accord_status does not exist",
                                                       "code": "PROPERTY_DOESNT_EXIST"}]})


@pytest.mark.parametrize(("kind", "says"), [
    ("daily", "daily limit"), ("unreachable", "cannot reach the portal"),
    ("missing_property", "a mapped property does not exist"),
])
def test_a_stopped_push_keeps_what_landed_and_a_rerun_finishes(store, rules, kind, says):
    portal = FakeDeals(IDS, raise_on_call={2: stop(kind)})
    report = push(portal, store, [event(deal_id=d, accord_id=d) for d in IDS], rules)
    assert says in report.aborted and not report.ok
    assert (report.written, report.failed, report.deals_to_write) == (100, 150, 250)
    assert len(portal.calls) == 2  # nothing sent after the stop
    assert sorted(store.load_confirmed()) == IDS[:100]  # only what HubSpot confirmed
    assert store.count_pending() == 150 and store.dead_letters() == []
    if kind == "missing_property":
        assert "provisioner apply" in report.aborted
    again = push(portal, store, [], rules)
    assert (again.written, again.ok) == (150, True)
    assert all(portal.deals[d]["accord_status"] == "On Track" for d in IDS)
