"""--quiet, --verbose, --log-format json: outputs on stdout, log lines on stderr, never the token."""

from __future__ import annotations

import json
import logging

from provisioner.logs import JsonFormatter, configure_logging, redact
from provisioner.model import ValidationRule
from tests.scenarios.harness import run

TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def drifted(capsys, portal, monkeypatch):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", TOKEN)
    portal.config()
    assert run(capsys, "apply", "--auto-approve").code == 0
    portal.client().put_validation_rule(ValidationRule("accord_url", "MAX_LENGTH", ("120",)))


def test_json_logs_on_stderr_and_the_report_alone_on_stdout(capsys, portal, monkeypatch):
    drifted(capsys, portal, monkeypatch)
    result = run(capsys, "--log-format", "json", "-v", "drift", "--format", "json")
    assert result.code == 2
    assert json.loads(result.out)["status"] == "drift"  # stdout is exactly one JSON document
    lines = json_lines(result.err)
    assert lines and all(set(line) >= {"ts", "level", "logger", "message"} for line in lines)
    assert all(line["ts"].endswith("Z") and line["logger"].startswith("provisioner") for line in lines)
    messages = [line["message"] for line in lines]
    assert "Detected validation rule 'accord_url/MAX_LENGTH' was changed in HubSpot (arguments)" in messages
    assert TOKEN not in result.out + result.err


def test_default_level_shows_no_findings_and_quiet_shows_no_warnings(capsys, portal, monkeypatch):
    drifted(capsys, portal, monkeypatch)
    assert run(capsys, "drift").err == ""
    portal.client().archive_property("accord_progress")
    warned = run(capsys, "export", "-o", "out.yaml")
    assert "WARNING provisioner.cli.pipeline_commands: Property 'accord_progress'" in warned.err
    quiet = run(capsys, "--quiet", "export", "-o", "out2.yaml")
    assert quiet.code == 0 and "WARNING" not in quiet.err


def test_errors_are_json_lines_with_hint_and_exit_code(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run(capsys, "--log-format", "json", "drift", "-f", "missing.yaml")
    assert result.code == 1 and result.out == ""
    (line,) = json_lines(result.err)
    assert line["level"] == "error" and line["exit_code"] == 1
    assert "missing.yaml" in line["message"]


def test_debug_logs_never_show_the_token(capsys, portal, monkeypatch):
    drifted(capsys, portal, monkeypatch)
    logging.getLogger("provisioner.hubspot.client").debug("header Authorization: Bearer %s", TOKEN)
    result = run(capsys, "-vv", "--log-format", "json", "drift")
    assert result.code == 2
    assert TOKEN not in result.err
    configure_logging(verbose=2, fmt="json")
    logging.getLogger("provisioner.hubspot.client").debug("header Authorization: Bearer %s", TOKEN)
    err = capsys.readouterr().err
    assert TOKEN not in err and "Bearer ***" in err


def test_redact_masks_the_token_and_bearer_values(monkeypatch):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", TOKEN)
    assert redact(f"token={TOKEN}") == "token=***"
    assert redact("Authorization: Bearer abc.def") == "Authorization: Bearer ***"
    record = logging.LogRecord("provisioner.x", logging.INFO, __file__, 1, "sent %s", (TOKEN,), None)
    assert json.loads(JsonFormatter().format(record))["message"] == "sent ***"


def test_log_format_from_the_environment(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROVISIONER_LOG_FORMAT", "json")
    result = run(capsys, "plan", "-f", "missing.yaml")
    assert result.code == 1 and json_lines(result.err)[0]["level"] == "error"
