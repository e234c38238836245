"""`provisioner portals`: the command-line contract, on the file's store and on PROVISIONER_STORE_URL."""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet

from tests.scenarios.harness import run as harness_run

SECRET = "pat-na1-very-secret-token"
REFRESH = "rt-very-secret-refresh"


def run(capsys, *args: str) -> tuple[int, str, str]:
    result = harness_run(capsys, *args)
    return result.code, result.out, result.err


@pytest.fixture(autouse=True)
def _workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ACME_TOKEN", SECRET)
    monkeypatch.setenv("BETA_REFRESH", REFRESH)
    monkeypatch.setenv("PROVISIONER_SECRET_KEY", Fernet.generate_key().decode())


def test_add_list_remove(capsys, tmp_path):
    code, out, _ = run(capsys, "portals", "add", "101", "--name", "Acme", "--tier", "professional",
                       "--token-env", "ACME_TOKEN")
    assert code == 0 and "Registered portal 101 (Acme): tier professional, token from ACME_TOKEN" in out
    code, out, _ = run(capsys, "portals", "add", "202", "--oauth-refresh-token-env", "BETA_REFRESH")
    assert code == 0
    code, out, _ = run(capsys, "portals", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["PORTAL", "NAME", "TIER", "AUTH", "STATUS"]
    assert lines[1].split() == ["101", "Acme", "professional", "$ACME_TOKEN", "active"]
    assert lines[2].split() == ["202", "-", "starter", "oauth", "active"]
    code, out, _ = run(capsys, "portals", "list", "--format", "json")
    assert json.loads(out)["portals"][1] == {"portal_id": 202, "name": "", "tier": "starter", "auth": "oauth",
                                             "token_env": None, "paused": None}
    assert run(capsys, "portals", "remove", "101")[:2] == (0, "Removed portal 101.\n")
    assert [p["portal_id"] for p in json.loads(run(capsys, "portals", "list", "--format", "json")[1])["portals"]] \
        == [202]
    store = (tmp_path / ".provisioner" / "sync.sqlite").read_bytes()
    assert SECRET.encode() not in store and REFRESH.encode() not in store


def test_the_file_names_the_store(capsys, tmp_path):
    from tests.scenarios.harness import SHIPPED

    text = SHIPPED.read_text().replace("store: .provisioner/sync.sqlite", "store: elsewhere/fleet.sqlite")
    (tmp_path / "fleet.yaml").write_text(text)
    code, out, err = run(capsys, "portals", "add", "5", "--token-env", "ACME_TOKEN", "-f", "fleet.yaml")
    assert code == 0, err
    assert (tmp_path / "elsewhere" / "fleet.sqlite").exists()


def test_store_url_wins(capsys, pg_url, monkeypatch):
    monkeypatch.setenv("PROVISIONER_STORE_URL", pg_url)
    assert run(capsys, "portals", "add", "9", "--token-env", "ACME_TOKEN")[0] == 0
    code, out, _ = run(capsys, "portals", "list", "--format", "json")
    assert [p["portal_id"] for p in json.loads(out)["portals"]] == [9]
    import psycopg

    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT portal_id FROM portals").fetchall() == [(9,)]


@pytest.mark.parametrize("args, message", [
    (["add", "0", "--token-env", "ACME_TOKEN"], "portal id '0': not a positive whole number"),
    (["add", "--token-env", "ACME_TOKEN", "--", "-3"], "portal id '-3': not a positive whole number"),
    (["add", "12a", "--token-env", "ACME_TOKEN"], "portal id '12a': not a positive whole number"),
    (["add", "١٢", "--token-env", "ACME_TOKEN"], "not a positive whole number"),
    (["add", "99999999999999999999", "--token-env", "ACME_TOKEN"], "not a positive whole number"),
    (["add", "5", "--tier", "gold", "--token-env", "ACME_TOKEN"], "--tier 'gold': no such tier"),
    (["add", "5"], "give exactly one of --token-env VAR and --oauth-refresh-token-env VAR"),
    (["add", "5", "--token-env", "ACME_TOKEN", "--oauth-refresh-token-env", "BETA_REFRESH"], "exactly one"),
    (["add", "5", "--token-env", "UNSET_VAR"], "--token-env UNSET_VAR: that variable is not set"),
    (["add", "5", "--token-env", "A-B;rm"], "not an environment variable name"),
    (["add", "5", "--oauth-refresh-token-env", "UNSET_VAR"], "that variable is not set"),
    (["remove", "77"], "no portal 77 is registered"),
    (["resume", "77"], "no portal 77 is registered"),
])
def test_bad_input_is_one_line_and_exit_1(capsys, args, message):
    code, out, err = run(capsys, "portals", *args)
    assert code == 1
    assert message in err.splitlines()[0] and "Traceback" not in err
    assert out == ""


def test_duplicate_id_is_refused(capsys):
    assert run(capsys, "portals", "add", "5", "--token-env", "ACME_TOKEN")[0] == 0
    code, _, err = run(capsys, "portals", "add", "5", "--token-env", "ACME_TOKEN")
    assert code == 1 and err.splitlines()[0] == "error: portal 5 is already registered"


def test_oauth_needs_the_key_and_never_shows_the_token(capsys, monkeypatch):
    monkeypatch.delenv("PROVISIONER_SECRET_KEY")
    code, out, err = run(capsys, "portals", "add", "5", "--oauth-refresh-token-env", "BETA_REFRESH")
    assert code == 1 and "PROVISIONER_SECRET_KEY is not set" in err and REFRESH not in out + err
    assert "Fernet.generate_key" in err  # how to make one
    code, out, _ = run(capsys, "portals", "list")
    assert "No portals registered" in out


def test_resume_a_paused_portal(capsys, tmp_path):
    from provisioner.fleet.location import StoreLocation
    from provisioner.fleet.registry import open_registry

    run(capsys, "portals", "add", "5", "--oauth-refresh-token-env", "BETA_REFRESH")
    with open_registry(StoreLocation(path=str(tmp_path / ".provisioner" / "sync.sqlite"))) as registry:
        registry.pause(5, "HubSpot refused the refresh token (400 BAD_REFRESH_TOKEN: gone)")
    code, out, _ = run(capsys, "portals", "list")
    assert "paused: HubSpot refused the refresh token (400 BAD_REFRESH_TOKEN: gone)" in out
    code, out, _ = run(capsys, "portals", "resume", "5", "--oauth-refresh-token-env", "BETA_REFRESH")
    assert code == 0 and "Portal 5 is active." in out
    assert "active" in run(capsys, "portals", "list")[1]


@pytest.mark.parametrize("value", ["r" * 4097, "has space", "line\nbreak", "tab\tx", "é-accent"])
def test_a_refresh_token_no_token_could_be_is_refused_without_showing_it(capsys, monkeypatch, value):
    monkeypatch.setenv("ODD_REFRESH", value)
    code, out, err = run(capsys, "portals", "add", "5", "--oauth-refresh-token-env", "ODD_REFRESH")
    assert code == 1 and "the refresh token is not a printable word of at most 4096 characters" in err
    assert value not in out + err
    assert "No portals registered" in run(capsys, "portals", "list")[1]
