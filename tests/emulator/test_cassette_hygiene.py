"""The recorded conversations carry HubSpot's shapes and never a token."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

CASSETTES = sorted((Path(__file__).parents[2] / "cassettes").rglob("*.yaml"))
TOKENS = ("test-token", "the-right-token", "a-wrong-token", "recording-token")


def test_there_are_cassettes():
    assert len(CASSETTES) >= 10


def test_no_cassette_holds_a_token():
    for path in CASSETTES:
        text = path.read_text(encoding="utf-8")
        assert not any(token in text for token in TOKENS), path
        assert not re.search(r"pat-(na|eu)\d-", text), path
        for interaction in yaml.safe_load(text)["interactions"]:
            headers = {k.lower() for k in interaction["request"].get("headers", {})}
            assert "authorization" not in headers, path
            body = interaction["request"].get("body") or ""
            assert "tokenKey" not in body or '"tokenKey":"FILTERED"' in body, path


def test_no_cassette_answer_carries_keys_hubspot_does_not_send():
    """The shapes the conformance suite settled, in every recorded answer."""
    for path in CASSETTES:
        for interaction in yaml.safe_load(path.read_text(encoding="utf-8"))["interactions"]:
            body = interaction["response"]["body"].get("string") or ""
            assert '"requiredScopes"' not in body and '"links":{' not in body, path
            assert '"createdUserId"' not in body or "/batch/create" not in interaction["request"]["uri"] \
                or "/properties/" not in interaction["request"]["uri"], path
