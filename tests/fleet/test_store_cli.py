"""The sync's commands on both stores: SQLite holds one portal, PostgreSQL many (CLI, in process)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from provisioner.cli import main, serve_commands, sync_commands
from provisioner.emulator import Emulator, EmulatorSettings
from provisioner.fleet.pgstore import PgDatabase
from provisioner.hubspot.client import HubSpotClient
from tests.sync.conftest import event, make_config
from tests.sync.portal import LOCAL_URL, prepare_portal, read_deals, seed_deals

PORTAL = 12345678
OTHER = 555


def run_cli(capsys, *args) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def with_portal(line: str, portal) -> str:
    record = json.loads(line)
    record["portal_id"] = portal
    return json.dumps(record)


@pytest.fixture
def portal(tmp_path, monkeypatch):
    """The file names portal 12345678; the environment's token reaches an emulated portal of that id."""
    config = dataclasses.replace(make_config(str(tmp_path / "sync.sqlite")), portal_id=PORTAL)
    monkeypatch.setattr(sync_commands, "load", lambda path, env: config)
    monkeypatch.setattr(serve_commands, "load", lambda path, env: config)
    emulator = Emulator(EmulatorSettings(portal_id=PORTAL, burst_limit=None, daily_limit=None))

    def open_client(*args, **options):
        options.pop("service", None)
        return HubSpotClient(LOCAL_URL, "t", tier="unlimited", wsgi_app=emulator.app, **options)

    monkeypatch.setattr(sync_commands, "open_client", open_client)
    client = HubSpotClient(LOCAL_URL, "t", tier="unlimited", wsgi_app=emulator.app)
    prepare_portal(client, config)
    return client, seed_deals(client, 3)


def test_a_sqlite_store_sets_aside_a_record_for_another_portal(tmp_path, portal, capsys):
    _client, deals = portal
    source = tmp_path / "events.jsonl"
    source.write_text("\n".join([event(deal_id=deals[0]), with_portal(event(deal_id=deals[1]), PORTAL),
                                 with_portal(event(deal_id=deals[2]), OTHER)]) + "\n")
    code, out, err = run_cli(capsys, "sync", "push", "--source", str(source))
    assert code == 1
    assert f"'portal_id' {OTHER} is not this store's portal ({PORTAL})" in err
    assert "deals written 2 of 2" in out


def test_push_on_postgresql_sends_through_claims_and_holds_other_portals(tmp_path, portal, capsys, pg_url,
                                                                       monkeypatch):
    client, deals = portal
    monkeypatch.setenv("PROVISIONER_STORE_URL", pg_url)
    source = tmp_path / "events.jsonl"
    source.write_text("\n".join([event(deal_id=deals[0], STATUS="At Risk"), event(deal_id=deals[1]),
                                 with_portal(event(deal_id=deals[2]), PORTAL),
                                 with_portal(event(deal_id="77"), OTHER), "not json"]) + "\n")
    code, out, err = run_cli(capsys, "sync", "push", "--source", str(source))
    assert code == 1  # the bad line, and portal 555's value has no credentials here
    assert "deals written 3 of 4" in out
    assert "1 deal(s) still pending" in err
    held = read_deals(client, deals, ["accord_status"])
    assert [held[d]["accord_status"] for d in deals] == ["At Risk", "On Track", "On Track"]
    with PgDatabase(pg_url) as database:
        assert database.portal(OTHER).pending_deals() == ["77"]  # kept for when the portal is registered
        with database.pool.connection() as conn:
            [(note,)] = conn.execute("SELECT note FROM portal_queue WHERE portal_id = %s", (OTHER,)).fetchall()
        assert f"the environment's token belongs to portal {PORTAL}" in note
    code, out, err = run_cli(capsys, "sync", "dead-letters")
    assert code == 0 and "not JSON" in out and "1 dead letter(s), 1 open" in err
    code, out, err = run_cli(capsys, "sync", "dead-letters", "--portal", str(OTHER))
    assert "0 dead letter(s)" in err
    code, out, _ = run_cli(capsys, "sync", "verify")
    assert code == 0 and "deals checked 3, values edited by hand 0" in out
    client.batch_update_deals([(deals[1], {"accord_status": "Stalled"})])  # a hand edit
    code, out, _ = run_cli(capsys, "sync", "verify", "--repair")
    assert "values edited by hand 1" in out and "repaired deals 1" in out
    assert read_deals(client, [deals[1]], ["accord_status"])[deals[1]]["accord_status"] == "On Track"
    code, out, err = run_cli(capsys, "sync", "guard-log")
    assert code == 0 and "0 guard event(s)" in err


def test_a_dry_run_on_postgresql_writes_nothing(tmp_path, portal, capsys, pg_url, monkeypatch):
    _client, deals = portal
    monkeypatch.setenv("PROVISIONER_STORE_URL", pg_url)
    source = tmp_path / "events.jsonl"
    source.write_text(event(deal_id=deals[0]) + "\n" + with_portal(event(deal_id="77"), OTHER) + "\n")
    code, out, _ = run_cli(capsys, "sync", "push", "--source", str(source), "--dry-run")
    assert code == 0
    assert f"deal {PORTAL}/{deals[0]}: accord_status: None -> 'On Track'" in out
    assert f"deal {OTHER}/77: accord_status" in out
    with PgDatabase(pg_url) as database:
        assert database.portal(PORTAL).dump() == [] and database.portal(OTHER).dump() == []


def test_several_portals_and_none_named_is_one_clear_line(tmp_path, portal, capsys, pg_url, monkeypatch):
    monkeypatch.setattr(sync_commands, "load", lambda path, env: make_config(str(tmp_path / "s.sqlite")))
    monkeypatch.setenv("PROVISIONER_STORE_URL", pg_url)
    with PgDatabase(pg_url) as database:
        database.portal(1)
        database.portal(2)
    code, _, err = run_cli(capsys, "sync", "dead-letters")
    assert code != 0 and "which one do records without a portal_id belong to?" in err and "Traceback" not in err


def test_retry_on_postgresql_sends_by_claiming_and_counts_a_letter_again(tmp_path, portal, capsys, pg_url,
                                                                        monkeypatch):
    monkeypatch.setenv("PROVISIONER_STORE_URL", pg_url)
    source = tmp_path / "events.jsonl"
    source.write_text(event(deal_id="999999") + "\n")  # no such deal in the portal
    code, out, _ = run_cli(capsys, "sync", "push", "--source", str(source))
    assert code == 1 and "missing 1" in out
    with PgDatabase(pg_url) as database:
        [letter] = database.portal(PORTAL).dead_letters()
    assert letter.origin == "hubspot" and letter.deal_id == "999999"
    code, out, _ = run_cli(capsys, "sync", "retry")
    assert code == 1 and "missing 1" in out
    with PgDatabase(pg_url) as database:
        [again] = database.portal(PORTAL).dead_letters()
    assert (again.id, again.seen, again.resolved_at) == (letter.id, 2, None)


def test_serve_without_a_worker_needs_a_postgresql_store(portal, capsys, monkeypatch):
    monkeypatch.setenv("PROVISIONER_WEBHOOK_SECRET", "a-test-key")
    code, _, err = run_cli(capsys, "serve", "--port", "0", "--no-worker")
    assert code == 1 and "--no-worker needs a PostgreSQL store" in err and "Traceback" not in err


def test_a_full_resync_on_postgresql_sends_every_value_again(tmp_path, portal, capsys, pg_url, monkeypatch):
    _client, deals = portal
    monkeypatch.setenv("PROVISIONER_STORE_URL", pg_url)
    source = tmp_path / "events.jsonl"
    source.write_text("\n".join(event(deal_id=deal) for deal in deals) + "\n")
    code, out, _ = run_cli(capsys, "sync", "push", "--source", str(source))
    assert code == 0 and "deals written 3 of 3" in out
    code, out, _ = run_cli(capsys, "sync", "push", "--source", str(source))
    assert code == 0 and "deals written 0 of 0" in out and "requests 0" in out  # nothing new: nothing sent
    code, out, _ = run_cli(capsys, "sync", "push", "--source", str(source), "--full-resync")
    assert code == 0 and "deals written 3 of 3" in out


def test_a_sqlite_store_named_per_portal_is_a_file_for_each(tmp_path, portal, capsys, monkeypatch):
    _client, deals = portal
    config = make_config(str(tmp_path / "sync-{portal}.sqlite"))  # the file names no portal.id
    monkeypatch.setattr(sync_commands, "load", lambda path, env: config)
    source = tmp_path / "events.jsonl"
    source.write_text(event(deal_id=deals[0]) + "\n" + with_portal(event(deal_id=deals[1]), OTHER) + "\n")
    code, _, err = run_cli(capsys, "sync", "dead-letters")
    assert code == 1 and "is a file per portal: which portal?" in err
    code, out, err = run_cli(capsys, "sync", "push", "--source", str(source), "--portal", str(PORTAL))
    assert code == 1 and "deals written 1 of 1" in out
    assert f"'portal_id' {OTHER} is not this store's portal ({PORTAL})" in err
    assert (tmp_path / f"sync-{PORTAL}.sqlite").exists() and not (tmp_path / f"sync-{OTHER}.sqlite").exists()
    code, out, err = run_cli(capsys, "sync", "push", "--source", str(source), "--portal", str(OTHER))
    assert code == 1 and f"the environment's token belongs to portal {PORTAL}" in err and "Traceback" not in err
    code, _, err = run_cli(capsys, "sync", "dead-letters", "--portal", str(PORTAL))
    assert code == 0 and "1 dead letter(s)" in err
