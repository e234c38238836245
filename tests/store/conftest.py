"""The store contract's two backends: every test here runs on SQLite and on PostgreSQL.

``stores`` makes new, empty stores of the backend under test: a new file each (SQLite), or a new
portal each in one database (PostgreSQL: a portal's view sees none of the other portals' rows).
"""

from __future__ import annotations

import itertools

import pytest

from provisioner.sync.store import SyncStore


class SqliteStores:
    def __init__(self, folder) -> None:
        self.folder = folder
        self.count = itertools.count(1)
        self.opened: list[SyncStore] = []

    def new(self):
        store = SyncStore(self.folder / f"store-{next(self.count)}.sqlite")
        self.opened.append(store)
        return store

    def close(self) -> None:
        for store in self.opened:
            store.close()


class PostgresStores:
    def __init__(self, url: str) -> None:
        from provisioner.fleet.pgstore import PgDatabase

        self.database = PgDatabase(url)
        self.count = itertools.count(1)

    def new(self):
        return self.database.portal(1000 + next(self.count))

    def close(self) -> None:
        self.database.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    return request.param


@pytest.fixture
def stores(backend, tmp_path, request):
    made = SqliteStores(tmp_path) if backend == "sqlite" else PostgresStores(request.getfixturevalue("pg_url"))
    yield made
    made.close()


@pytest.fixture
def store(stores):
    return stores.new()
