"""Connecting: the command's deadline from PROVISIONER_TIMEOUT; services (serve, worker) have none."""

from __future__ import annotations

import pytest

from provisioner import errors
from provisioner.cli.common import open_client
from provisioner.hubspot.connect import connect


@pytest.fixture
def portal_env(monkeypatch):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "pat-na1-test")
    monkeypatch.setenv("HUBSPOT_BASE_URL", "http://127.0.0.1:9")
    return monkeypatch


def test_a_command_ends_by_the_default_deadline(portal_env):
    assert connect(local=False).transport.deadline.seconds == 900.0


def test_provisioner_timeout_sets_the_deadline(portal_env):
    portal_env.setenv("PROVISIONER_TIMEOUT", "42.5")
    assert open_client(False).transport.deadline.seconds == 42.5


def test_a_service_has_no_overall_deadline(portal_env):
    portal_env.setenv("PROVISIONER_TIMEOUT", "5")
    client = open_client(False, service=True)
    assert client.transport.deadline.seconds is None and client.transport.deadline.remaining() == float("inf")


def test_a_bad_timeout_is_a_usage_error(portal_env):
    portal_env.setenv("PROVISIONER_TIMEOUT", "-3")
    with pytest.raises(errors.UsageError, match="PROVISIONER_TIMEOUT"):
        connect(local=False)
