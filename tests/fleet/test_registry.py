"""The portal registry on both backends: the same contract on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3

import pytest
from cryptography.fernet import Fernet
from hypothesis import given, settings
from hypothesis import strategies as st

from provisioner.errors import UsageError
from provisioner.fleet.registry import Portal, check_portal, open_registry
from provisioner.sync.store import SyncStore
from tests.fleet.portals import at_once, location_fixture  # noqa: F401 - the fixture

REFRESH = "rt-secret-refresh-token-value"


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv("PROVISIONER_SECRET_KEY", Fernet.generate_key().decode())


def _token_portal(portal_id: int, **kw) -> Portal:
    return Portal(portal_id, kw.get("name", ""), kw.get("tier", "starter"), "TOKEN_VAR", False, None)


def _oauth_portal(portal_id: int) -> Portal:
    return Portal(portal_id, "oauth one", "professional", None, True, None)


def _raw_rows(location) -> list[tuple]:
    if location.is_postgres:
        import psycopg

        with psycopg.connect(location.url) as conn:
            return conn.execute("SELECT * FROM portals").fetchall()
    with sqlite3.connect(location.path) as conn:
        return conn.execute("SELECT * FROM portals").fetchall()


def test_add_list_get_remove(location):
    with open_registry(location) as registry:
        registry.add(_token_portal(20, name="Beta"))
        registry.add(_oauth_portal(10), REFRESH)
        assert [p.portal_id for p in registry.list()] == [10, 20]
        assert registry.get(20) == Portal(20, "Beta", "starter", "TOKEN_VAR", False, None)
        assert registry.get(10).oauth is True
        assert registry.get(30) is None
        registry.remove(20)
        assert [p.portal_id for p in registry.list()] == [10]
    with open_registry(location) as again:  # kept, and a second open finds the table
        assert [p.portal_id for p in again.list()] == [10]


def test_duplicate_and_unknown_ids_are_one_line_errors(location):
    with open_registry(location) as registry:
        registry.add(_token_portal(7))
        with pytest.raises(UsageError, match="portal 7 is already registered"):
            registry.add(_token_portal(7))
        with pytest.raises(UsageError, match="no portal 8 is registered"):
            registry.remove(8)
        with pytest.raises(UsageError, match="no portal 8 is registered"):
            registry.pause(8, "why")
        with pytest.raises(UsageError, match="no portal 8 is registered"):
            registry.resume(8)


def test_pause_and_resume_say_why(location):
    with open_registry(location) as registry:
        registry.add(_token_portal(1))
        registry.add(_token_portal(2))
        registry.pause(1, "HubSpot refused the refresh token")
        assert registry.get(1).paused == "HubSpot refused the refresh token"
        assert registry.get(2).paused is None
        registry.resume(1)
        assert registry.get(1).paused is None


def test_refresh_token_is_stored_only_sealed(location):
    with open_registry(location) as registry:
        registry.add(_oauth_portal(5), REFRESH)
        sealed = registry.sealed_tokens(5)
    assert sealed.refresh_token and REFRESH not in sealed.refresh_token
    assert not any(REFRESH in str(cell) for row in _raw_rows(location) for cell in row)


def test_no_refresh_token_without_a_key(location, monkeypatch):
    monkeypatch.delenv("PROVISIONER_SECRET_KEY")
    with open_registry(location) as registry:
        with pytest.raises(UsageError, match="PROVISIONER_SECRET_KEY is not set") as info:
            registry.add(_oauth_portal(5), REFRESH)
        assert "Fernet.generate_key" in info.value.hint
        assert registry.list() == []


def test_a_key_that_is_not_a_fernet_key_is_refused_without_showing_it(location, monkeypatch):
    monkeypatch.setenv("PROVISIONER_SECRET_KEY", "not-a-key-at-all-sekrit")
    with open_registry(location) as registry, pytest.raises(UsageError) as info:
        registry.add(_oauth_portal(5), REFRESH)
    assert "not a Fernet key" in str(info.value) and "sekrit" not in str(info.value)


def test_locked_commits_what_was_stored_and_rolls_back_on_error(location):
    with open_registry(location) as registry:
        registry.add(_oauth_portal(5), REFRESH)
        with registry.locked(5) as sealed:
            assert sealed.access_token is None
            registry.store_tokens(5, "sealed-access", 1234.5, None)
        with pytest.raises(RuntimeError), registry.locked(5):
            registry.store_tokens(5, "other", 99.0, "new-refresh")
            raise RuntimeError("killed mid-refresh")
        after = registry.sealed_tokens(5)
    assert (after.access_token, after.expires_at) == ("sealed-access", 1234.5)
    assert after.refresh_token != "new-refresh"


def test_sqlite_registry_lives_beside_the_sync_store(tmp_path):
    from provisioner.fleet.location import StoreLocation

    path = tmp_path / "sync.sqlite"
    with open_registry(StoreLocation(path=str(path))) as registry:
        registry.add(_token_portal(3))
    with SyncStore(path):  # the sync still opens its store, with the registry's table in it
        pass
    with open_registry(StoreLocation(path=str(path))) as registry:
        assert [p.portal_id for p in registry.list()] == [3]


@given(st.one_of(st.integers(max_value=0), st.booleans(), st.text(max_size=5), st.floats()))
def test_only_positive_whole_numbers_are_portal_ids(bad):
    with pytest.raises(UsageError):
        check_portal(Portal(bad, "", "starter", "VAR", False, None))


@given(st.text(max_size=20).filter(lambda t: t not in ("starter", "professional", "enterprise", "increase",
                                                       "unlimited")))
def test_unknown_tiers_are_refused(tier):
    with pytest.raises(UsageError, match="unknown tier"):
        check_portal(Portal(1, "", tier, "VAR", False, None))


def test_exactly_one_way_to_authenticate():
    with pytest.raises(UsageError, match="exactly one"):
        check_portal(Portal(1, "", "starter", "VAR", True, None))
    with pytest.raises(UsageError, match="exactly one"):
        check_portal(Portal(1, "", "starter", None, False, None))


def test_two_adds_of_one_id_at_once_make_one_row_and_one_refusal(location):
    outcomes = at_once(location, 4, lambda registry: registry.add(_token_portal(12)))
    assert sorted(map(str, outcomes)) == ["None"] + ["portal 12 is already registered"] * 3


OPS = st.lists(st.tuples(st.sampled_from(["add", "remove", "pause", "resume"]), st.integers(1, 4)), max_size=25)


@settings(max_examples=40, deadline=None)
@given(OPS)
def test_any_sequence_of_commands_keeps_the_registry_true_to_a_model(tmp_path_factory, ops):
    from provisioner.fleet.location import StoreLocation

    path = tmp_path_factory.mktemp("model") / "sync.sqlite"
    model: dict[int, str | None] = {}
    with open_registry(StoreLocation(path=str(path))) as registry:
        for op, portal_id in ops:
            known = portal_id in model
            try:
                if op == "add":
                    registry.add(_token_portal(portal_id))
                    model[portal_id] = None
                elif op == "remove":
                    registry.remove(portal_id)
                    del model[portal_id]
                elif op == "pause":
                    registry.pause(portal_id, f"reason {portal_id}")
                    model[portal_id] = f"reason {portal_id}"
                else:
                    registry.resume(portal_id)
                    model[portal_id] = None
                assert known != (op == "add")
            except UsageError:
                assert known == (op == "add")  # refused exactly when the model says so
            assert {p.portal_id: p.paused for p in registry.list()} == model


def test_the_portal_name_is_printable_and_bounded():
    for name in ("a\nb", "x\x1b[31m", "n" * 201):
        with pytest.raises(UsageError, match="printable"):
            check_portal(Portal(1, name, "starter", "VAR", False, None))


def test_a_row_held_too_long_ends_the_wait_on_postgresql(pg_url, monkeypatch):
    from provisioner.fleet import registry as registry_module
    from provisioner.fleet.location import StoreLocation
    from provisioner.fleet.registry import RegistryError

    monkeypatch.setattr(registry_module, "LOCK_TIMEOUT_S", 1)
    location = StoreLocation(url=pg_url)
    with open_registry(location) as holder, open_registry(location) as waiter:
        holder.add(_oauth_portal(5), REFRESH)
        with holder.locked(5):
            with pytest.raises(RegistryError, match="LockNotAvailable"), waiter.locked(5):
                pass
        with waiter.locked(5) as sealed:  # free again once the holder is done
            assert sealed.refresh_token
