"""The sync commands: output, formats, exit codes, clear errors (config built by hand)."""

from __future__ import annotations

import json

import pytest

from provisioner.cli import main, sync_commands
from tests.sync.conftest import event, make_config
from tests.sync.fakes import FakeDeals


@pytest.fixture
def cli_config(tmp_path, monkeypatch):
    config = make_config(str(tmp_path / "store" / "sync.sqlite"))
    monkeypatch.setattr(sync_commands, "load", lambda path, env: config)
    return config


def run_cli(capsys, *args) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def test_dry_run_needs_no_token_and_shows_each_change(tmp_path, cli_config, capsys):
    source = tmp_path / "events.jsonl"
    source.write_text(event(deal_id="42") + "\n")
    code, out, _ = run_cli(capsys, "sync", "push", "--source", str(source), "--dry-run")
    assert code == 0
    assert "deal 42: accord_status: None -> 'On Track'" in out
    assert "deals would write 1 of 1" in out


def test_dry_run_json_and_invalid_lines_exit_1(tmp_path, cli_config, capsys):
    source = tmp_path / "events.jsonl"
    source.write_text(event(deal_id="42") + "\nnot json\n" + event(name="something_else") + "\n")
    code, out, err = run_cli(capsys, "sync", "push", "--source", str(source), "--dry-run", "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert (report["events_read"], report["ignored"], report["invalid"]) == (3, 1, 1)
    assert report["planned"]["42"]["accord_progress"] == {"before": None, "after": "45"}
    assert report["problems"][0]["line_no"] == 2


def test_push_without_token_or_local_fails_naming_both(tmp_path, cli_config, capsys):
    source = tmp_path / "events.jsonl"
    source.write_text(event() + "\n")
    code, _, err = run_cli(capsys, "sync", "push", "--source", str(source))
    assert code == 1
    assert "HUBSPOT_ACCESS_TOKEN" in err and "--local" in err
    assert "Traceback" not in err


def test_unreadable_source_is_one_clear_line(tmp_path, cli_config, capsys):
    code, _, err = run_cli(capsys, "sync", "push", "--source", str(tmp_path / "nope.jsonl"), "--dry-run")
    assert code == 1
    assert err.startswith("error: ") and "nope.jsonl" in err and "Traceback" not in err


def test_dead_letters_lists_what_was_set_aside(tmp_path, cli_config, capsys):
    from provisioner.sync.engine import push
    from provisioner.sync.events import Rules
    from provisioner.sync.store import SyncStore

    rules = Rules.from_config(cli_config)
    with SyncStore(cli_config.sync.store_path) as store:
        push(FakeDeals(), store, [event(deal_id="9", STATUS="Finished")], rules)
    code, out, err = run_cli(capsys, "sync", "dead-letters")
    assert code == 0
    assert "#1" in out and "[input] open deal 9: STATUS must be one of" in out
    code, out, _ = run_cli(capsys, "sync", "dead-letters", "--format", "json")
    assert json.loads(out)[0]["deal_id"] == "9"
    code, _, err = run_cli(capsys, "sync", "retry", "5", "--local")
    assert code == 1 and "no dead letter with id 5" in err


@pytest.fixture
def fake_portal(monkeypatch):
    portal = FakeDeals(["1", "2"])
    monkeypatch.setattr(sync_commands, "open_client", lambda *args: portal)
    return portal


def test_a_second_push_on_a_locked_store_fails_at_once_and_sends_nothing(tmp_path, cli_config, fake_portal, capsys):
    from provisioner.sync.store import SyncStore

    source = tmp_path / "events.jsonl"
    source.write_text(event(deal_id="1") + "\n")
    with SyncStore(cli_config.sync.store_path) as running:
        running.lock()
        code, out, err = run_cli(capsys, "sync", "push", "--source", str(source))
        assert code == 1 and out == "" and "Traceback" not in err
        assert "another sync run is using this store; nothing was done" in err
        code, _, err = run_cli(capsys, "sync", "push", "--source", str(source), "--wait", "0.1")
        assert code == 1 and "waited 0.1 s" in err
        assert fake_portal.calls == [] and running.dump() == []
    code, out, _ = run_cli(capsys, "sync", "push", "--source", str(source))
    assert code == 0 and "deals written 1 of 1" in out


@pytest.mark.parametrize("damage", ["folder_is_a_file", "corrupt"])
def test_an_unusable_store_is_one_line(tmp_path, cli_config, fake_portal, capsys, damage):
    source = tmp_path / "events.jsonl"
    source.write_text(event(deal_id="1") + "\n")
    if damage == "folder_is_a_file":
        (tmp_path / "store").write_text("not a folder")
        expected = "cannot open the sync store"
    else:
        (tmp_path / "store").mkdir()
        (tmp_path / "store" / "sync.sqlite").write_bytes(b"\x00garbage" * 512)
        expected = "the sync store is damaged"
    code, out, err = run_cli(capsys, "sync", "push", "--source", str(source))
    assert code == 1 and expected in err and "Traceback" not in err
    assert len(err.strip().splitlines()) <= 2  # the error and its hint
    assert fake_portal.calls == []


def test_dead_letters_show_repeats_and_resolution(tmp_path, cli_config, fake_portal, capsys):
    source = tmp_path / "events.jsonl"
    source.write_text(event(deal_id="1") + "\n" + event(deal_id="3", accord_id="b") + "\n")
    code, _, _ = run_cli(capsys, "sync", "push", "--source", str(source))
    assert code == 1  # deal 3 does not exist
    code, _, _ = run_cli(capsys, "sync", "push", "--source", str(source))
    assert code == 0 and len(fake_portal.calls) == 1  # the same input again: nothing to send, nothing new
    code, out, _ = run_cli(capsys, "sync", "dead-letters")
    assert out.count("\n") == 1 and "[hubspot] open" in out and "deal 3" in out
    fake_portal.deals["3"] = {}
    code, out, _ = run_cli(capsys, "sync", "retry", "--format", "json")
    assert code == 0 and json.loads(out)["deals_written"] == 1
    code, out, _ = run_cli(capsys, "sync", "dead-letters")
    assert "[hubspot] resolved" in out
    code, out, _ = run_cli(capsys, "sync", "dead-letters", "--open")
    assert out == ""
