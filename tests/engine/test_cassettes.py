"""Replays of the plan/apply client's recorded conversations, with the network blocked.

Re-record with `python -m tests.engine.conversations` (see that module).
"""

from __future__ import annotations

import json

import pytest

from provisioner import errors
from tests.engine.conversations import CASSETTES, CONVERSATIONS, cassette, client, load_shipped

REPLAY_URL = "http://127.0.0.1:9"

pytestmark = pytest.mark.block_network


def replay(name: str, token: str = "replay-token"):
    """Run one conversation against its cassette; every recorded request must be played."""
    error = None
    with cassette("none", name) as recorded:
        try:
            result = CONVERSATIONS[name](client(REPLAY_URL, token), load_shipped())
        except errors.ProvisionerError as exc:  # the error conversations end here on purpose
            error = exc
        assert recorded.all_played, f"{name}: the client no longer sends every recorded request"
    if error is not None:
        raise error
    return result, recorded


def test_plan_on_an_empty_portal_reads_five_times():
    plan, cassette = replay("plan_empty")
    assert [r.method for r in cassette.requests] == ["GET"] * 5
    assert plan.count("create") == 8 and plan.count("set_rule") == 1


def test_apply_on_an_empty_portal():
    (done, missing), cassette = replay("apply_fresh")
    assert missing == []
    assert len(done) == 9
    writes = [(r.method, r.path.rsplit("/", 2)[-2:]) for r in cassette.requests if r.method != "GET"]
    assert writes == [("POST", ["get", "access-token-info"]), ("POST", ["deals", "groups"]),
                      ("POST", ["batch", "create"]), ("PUT", ["rule-type", "MAX_LENGTH"])]


def test_apply_updates_restores_resets_and_archives():
    (plan, done, missing), cassette = replay("apply_changes")
    assert [(c.action, c.key) for c in plan.changes] == [
        ("update", "accord_customer_collaboration_data"), ("restore", "accord_progress"),
        ("update", "accord_status"), ("set_rule", "accord_url/MAX_LENGTH"), ("archive", "accord_legacy")]
    assert missing == [] and len(done) == 5
    writes = [(r.method, r.path.rsplit("/", 1)[-1]) for r in cassette.requests if r.method != "GET"]
    assert writes == [("PATCH", "accord_customer_collaboration_data"), ("POST", "deals"),
                      ("PATCH", "accord_status"), ("PUT", "MAX_LENGTH"), ("DELETE", "accord_legacy")]


def test_converged_plan_has_nothing_to_do():
    plan, cassette = replay("plan_converged")
    assert not plan.has_changes and len(cassette.requests) == 5


def test_racing_apply_turns_409_into_read_and_update():
    done, cassette = replay("race_409")
    codes = [response["status"]["code"] for response in cassette.responses]
    assert 409 in codes
    assert any(r.method == "PATCH" and r.path.endswith("/accord_url") for r in cassette.requests)
    # The 207 names the inputs that exist (context.name): they are read, never created one by one.
    assert not [r for r in cassette.requests if r.method == "POST" and r.path.endswith("/properties/2026-03/deals")]
    assert len(done) == 9


def test_429_and_5xx_are_retried():
    plan, cassette = replay("retries")
    codes = [response["status"]["code"] for response in cassette.responses]
    assert 429 in codes and 502 in codes and 503 in codes
    assert plan.count("create") == 8


def test_401_is_an_auth_error():
    with pytest.raises(errors.AuthError) as caught:
        replay("unauthorized")
    assert caught.value.status == 401 and caught.value.category == "INVALID_AUTHENTICATION"


def test_403_names_the_required_scopes():
    with pytest.raises(errors.MissingScopesError) as caught:
        replay("missing_scopes")
    assert caught.value.status == 403 and caught.value.category == "MISSING_SCOPES"
    assert "crm.schemas.deals.write" in caught.value.required_scopes


def test_preflight_names_missing_scopes_before_any_write():
    with pytest.raises(errors.MissingScopesError) as caught:
        replay("preflight")
    assert caught.value.required_scopes == ["crm.schemas.deals.write"]


def test_batch_create_of_deals_returns_their_ids():
    result, cassette = replay("seed_deals")
    assert result.status == 200 and len(result.results) == 3
    assert [r.properties["dealname"] for r in result.results] == ["Deal 0", "Deal 1", "Deal 2"]
    assert all(r.id.isdigit() for r in result.results)
    assert [(r.method, r.path.rsplit("/", 2)[-2:]) for r in cassette.requests] == [("POST", ["batch", "create"])]


def test_batches_are_split_at_100_inputs():
    (created, read, made, failures), cassette = replay("batches")
    assert len(created.results) == 150 and {r.properties["dealname"] for r in read.results} == {
        f"Deal {i}" for i in range(150)}
    assert len(made) == 150 and failures == []
    sizes = [(r.path.rsplit("/", 1)[-1], len(json.loads(r.body)["inputs"])) for r in cassette.requests
             if "/batch/" in r.path]
    assert sizes == [("create", 100), ("create", 50), ("read", 100), ("read", 50),
                     ("create", 100), ("create", 50), ("archive", 100), ("archive", 50)]


def test_no_cassette_holds_a_token():
    for path in CASSETTES.glob("*.yaml"):
        text = path.read_text()
        assert "Bearer" not in text and "test-token" not in text and "the-right-token" not in text, path
