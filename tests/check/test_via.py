"""`check --via URL` against a real running `provisioner serve` and emulator, both on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.check.conftest import store_rows
from tests.serve.conftest import Setup, post_events, wait_for
from tests.serve.conftest import event as serve_event


@pytest.fixture
def service(tmp_path):
    made = Setup(tmp_path)
    try:
        yield made
    finally:
        made.close()


def check_via(service: Setup, *args: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "provisioner", "check", "--via", f"http://127.0.0.1:{service.serve_port}", *args],
        env=service.env(HUBSPOT_BASE_URL=service.emu.url, **env), cwd=service.dir, capture_output=True, text=True,
        timeout=120,
    )


def test_via_a_running_serve_passes_measures_latency_and_leaves_its_store_as_it_was(service):
    service.emulator(deals=3)
    service.serve()
    # The service already holds values for a real deal: they must stay.
    assert post_events(f"http://127.0.0.1:{service.serve_port}", [serve_event(service.deals[0])]).status_code == 202
    wait_for(lambda: service.values(service.deals[0])["accord_status"] == "On Track")
    wait_for(lambda: any(row[2] > 0 for row in store_rows(service.store)["deals"]))  # synced values
    before = store_rows(service.store)

    done = check_via(service, "--format", "json")

    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] and report["via"] == f"http://127.0.0.1:{service.serve_port}/v1/events"
    assert report["latency_s"] > 0
    assert [s["name"] for s in report["steps"]] == [
        "plan", "manual steps", "scopes", "deal", "push", "read back", "URL limit", "cleanup"]
    assert len(report["properties"]) == 7 and all(p["matches"] for p in report["properties"])
    assert service.client.batch_read_deals([report["deal"]["id"]], ["dealname"]).results == []  # archived
    after = store_rows(service.store)
    # The names of the file's properties the check wrote stay (the store's vocabulary, no deal's data).
    assert after.pop("properties")[:len(before["properties"])] == before.pop("properties")
    assert after == before
    text = check_via(service)
    assert text.returncode == 0 and "Event-to-deal latency through http://127.0.0.1:" in text.stdout


def test_via_with_a_wrong_key_fails_at_the_push_and_names_the_refusal(service):
    service.emulator(deals=1)
    service.serve()
    before = store_rows(service.store)

    done = check_via(service, PROVISIONER_WEBHOOK_SECRET="not-the-key")

    assert done.returncode == 1, done.stdout
    assert "[FAIL] push: the service answered 401: signature refused" in done.stdout
    assert "not-the-key" not in done.stdout + done.stderr
    assert "[  ok] cleanup: archived test deal" in done.stdout
    assert store_rows(service.store) == before


def test_via_without_a_key_or_with_a_bad_url_is_a_usage_error(service):
    service.emulator(deals=1)
    missing = check_via(service, PROVISIONER_WEBHOOK_SECRET="")
    assert missing.returncode == 1 and missing.stdout == ""
    assert missing.stderr.startswith("error: --via needs PROVISIONER_WEBHOOK_SECRET")
    bad = subprocess.run([sys.executable, "-m", "provisioner", "check", "--via", "ftp://x"],
                         env=service.env(HUBSPOT_BASE_URL=service.emu.url), cwd=service.dir, capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 1 and "expected the service's URL" in bad.stderr


def test_via_with_hubspot_webhooks_the_guard_at_most_logs_the_test_deal_gone(service):
    """HubSpot tells the guard about the test deal's values and archive, before or after the cleanup."""
    service.emulator(deals=1, webhooks=True)
    service.serve("--app-id", "777")
    before = store_rows(service.store)
    done = check_via(service, "--format", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    test_deal = json.loads(done.stdout)["deal"]["id"]
    # Seven value changes and one deletion reach the guard, each with its dedup key.
    wait_for(lambda: len(store_rows(service.store)["serve_seen"]) == len(before["serve_seen"]) + 8, timeout=90)
    after = store_rows(service.store)
    for table in ("deals", "dead_letters"):
        assert after[table] == before[table], table
    assert {row[0] for row in after["deals_gone"]} <= {test_deal}
    assert {row[1] for row in after["guard_edits"]} <= {test_deal}


def test_via_a_serve_on_another_store_fails_before_posting(service):
    service.emulator(deals=1)
    service.serve("--store", str(service.dir / "elsewhere.sqlite"))
    done = check_via(service)
    assert done.returncode == 1
    assert "[FAIL] push: the service's sync store " in done.stdout
    assert "run check with the same file (and environment) as `provisioner serve`" in done.stdout
    assert not service.store.exists()
    assert "[  ok] cleanup: archived test deal" in done.stdout
