"""Tokens and URL credentials never show: not in an error, a hint, a log line, a repr or a body kept
on an exception, whatever characters they hold; an unusable token is one clear line."""

from __future__ import annotations

import contextlib
import json
import logging
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provisioner import errors, logs
from provisioner.hubspot.client import HubSpotClient
from tests.scenarios.harness import SHIPPED, run

USABLE_TOKENS = st.from_regex(r"[!-~]{8,60}", fullmatch=True)
ANY_TEXT = st.text(min_size=8, max_size=60)


class Echo:
    """A portal that repeats the credentials it was sent in its 401 answer, everywhere it can."""

    def __init__(self, *secrets: str):
        self.secrets = secrets

    def __call__(self, environ, start_response):
        said = " ".join(self.secrets)
        body = {"status": "error", "message": f"credentials {said} are not valid", "category": said,
                "correlationId": said, "context": {"requiredScopes": [said]},
                "errors": [{"message": said, "context": {"requiredGranularScopes": [said]}}]}
        start_response("401 Unauthorized", [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]


@contextlib.contextmanager
def captured_logs():
    """Every line the provisioner logger writes meanwhile, formatted as text and as JSON."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(logs.TextFormatter().format(record))
            lines.append(logs.JsonFormatter().format(record))

    logger = logging.getLogger(logs.LOGGER)
    handler, level = Collect(level=logging.DEBUG), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    saved = set(logs._masks)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logs._masks.clear()
        logs._masks.update(saved)


def everything_said(attempt) -> list[str]:
    """What a user or a log could see of an attempt: the error, its hint, repr and kept body."""
    try:
        client = attempt()
    except errors.ProvisionerError as exc:
        body = getattr(exc, "body", None)
        return [str(exc), repr(exc), exc.hint or "", repr(body), logs.redact(json.dumps(body))]
    return [repr(client), repr(client.transport)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(token=st.one_of(USABLE_TOKENS, ANY_TEXT), password=ANY_TEXT)
def test_no_message_shows_a_token_or_a_password(token, password):
    base_url = f"http://user:{quote(password, safe='')}@portal.test"
    app = Echo(token, password)
    with captured_logs() as lines:
        def attempt():
            client = HubSpotClient(base_url, token, wsgi_app=app, tier="unlimited", max_retries=0,
                                   sleep=lambda s: None)
            logging.getLogger("provisioner.hubspot").error("sent %s to %s", token, password)
            client.get_account_details()
            return client

        said = everything_said(attempt) + lines
    for text in said:
        assert token not in text and password not in text, text


@settings(max_examples=100, deadline=None)
@given(token=ANY_TEXT.filter(lambda t: any(not "!" <= ch <= "~" for ch in t)))
def test_a_token_no_header_can_carry_is_one_clear_error(token):
    with pytest.raises(errors.UsageError) as caught:
        HubSpotClient("http://portal.test", token)
    assert "access token holds" in str(caught.value) and token not in str(caught.value)


@pytest.mark.parametrize(("token", "what"), [("pat-na1-0123456789abcdef\n", "a line break"),
                                             ("pat-na1-0123456789abcdéf", "outside printable ASCII"),
                                             ("pat-na1-\u20ac0123456789", "outside printable ASCII"),
                                             ("pat-na1 0123456789", "a space")])
def test_plan_with_a_bad_token_is_one_line_without_it(capsys, monkeypatch, tmp_path, token, what):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", token)
    monkeypatch.setenv("HUBSPOT_BASE_URL", "http://127.0.0.1:9")
    result = run(capsys, "plan", "-f", str(SHIPPED))
    assert result.code == 1 and "Traceback" not in result.err
    assert result.err.splitlines()[0].startswith("error: the HubSpot access token holds") and what in result.err
    assert token.strip() not in result.err and "0123456789" not in result.err


def test_a_password_in_the_base_url_never_shows(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "pat-na1-test")
    monkeypatch.setenv("HUBSPOT_BASE_URL", "http://deploy:s3cr3t-pässword@127.0.0.1:9")
    monkeypatch.setenv("PROVISIONER_MAX_RETRIES", "0")
    result = run(capsys, "plan", "-f", str(SHIPPED))
    assert result.code == 1 and "Traceback" not in result.err
    assert "s3cr3t" not in result.err and "deploy" not in result.err and "http://***@127.0.0.1:9" in result.err


def test_a_password_in_a_base_url_that_does_not_parse_never_shows():
    with pytest.raises(errors.UsageError) as caught:
        HubSpotClient("http://deploy:s3cr3t-password@[::1", "t")
    assert "s3cr3t" not in str(caught.value) and "not an http(s) address" in str(caught.value)


@pytest.mark.parametrize("address", ["http://a..b", "http://deploy:s3cr3t@" + "a" * 64 + ".com:9", "http://.hubapi.com"])
def test_a_host_no_connection_could_use_is_one_line(capsys, monkeypatch, tmp_path, address):
    """An empty or over-long label in the host (a typo) is refused before any request, in one line."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "pat-na1-test")
    monkeypatch.setenv("HUBSPOT_BASE_URL", address)
    result = run(capsys, "plan", "-f", str(SHIPPED))
    assert result.code == 1 and "Traceback" not in result.err and "s3cr3t" not in result.err
    assert result.err.splitlines()[0].startswith("error: not an http(s) address"), result.err
