"""Shared fixtures: no test can reach a real portal by accident."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _no_real_portal(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("HUBSPOT_") or name.startswith("PROVISIONER_"):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def postgres_server():
    """One PostgreSQL server for the whole run, started the first time a test asks for it."""
    from tests.pgserver import PostgresServer

    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def pg_url(postgres_server, request) -> str:
    """A new empty database on the suite's PostgreSQL server, for one test."""
    import re
    import uuid

    name = re.sub(r"[^a-z0-9_]", "_", request.node.name.lower())[:40] + "_" + uuid.uuid4().hex[:8]
    return postgres_server.create_database(name)
