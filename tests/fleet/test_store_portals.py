"""Records over many portals, in any order and any split into chunks, end in their own portal's
registers exactly as a per-portal oracle says (PostgreSQL push's accept step, Hypothesis)."""

from __future__ import annotations

import itertools
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provisioner.fleet.pgrun import accept_lines
from provisioner.fleet.pgstore import PgDatabase
from provisioner.sync.instant import parse_instant
from provisioner.sync.report import PushReport
from tests.fleet.workers import RULES

DEFAULT = 5
RECORD = st.fixed_dictionaries({
    "portal_id": st.sampled_from([None, 5, 6, "7"]),
    "deal_id": st.sampled_from(["1", "2"]),
    "accord_id": st.sampled_from(["a", "b"]),
    "occurred_at": st.sampled_from(["2026-11-27T10:00:00Z", "2026-11-27T11:00:00+01:00", "2026-11-27T09:00:00Z"]),
    "STATUS": st.sampled_from(["On Track", "At Risk", "Stalled"]),
})
COUNTER = itertools.count()


def line(record: dict) -> str:
    item = {"event": "step_updated", "occurred_at": record["occurred_at"], "accord_id": record["accord_id"],
            "deal_id": record["deal_id"], "data": {"STATUS": record["STATUS"]}}
    if record["portal_id"] is not None:
        item["portal_id"] = record["portal_id"]
    return json.dumps(item)


@given(records=st.lists(RECORD, min_size=1, max_size=12), chunk=st.integers(1, 5))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_each_record_lands_in_its_portal_under_the_ordering_rule(pg_url, records, chunk):
    best: dict[tuple[int, str], tuple] = {}
    base = 1000 * next(COUNTER)  # portals of their own per example: 1005, 1006, 1007, ...
    for record in records:
        portal = base + int(record["portal_id"] or DEFAULT)
        stamp = (parse_instant(record["occurred_at"]), record["accord_id"], record["STATUS"], "step_updated")
        best[(portal, record["deal_id"])] = max(best.get((portal, record["deal_id"]), stamp), stamp)
    lines = []
    for record in records:
        shifted = dict(record, portal_id=None if record["portal_id"] is None else base + int(record["portal_id"]))
        lines.append(line(shifted))
    with PgDatabase(pg_url) as database:
        report = PushReport()
        touched = accept_lines(database, lines, RULES, base + DEFAULT, report, chunk_events=chunk)
        assert touched == {portal for portal, _deal in best}
        held = {(portal, row[0]): (row[3], row[4], row[2], row[5])
                for portal in (base + 5, base + 6, base + 7) for row in database.portal(portal).dump()}
    assert held == best
    assert report.read == len(records) and report.invalid == 0
