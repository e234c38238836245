"""What a command on PostgreSQL opens: the database, its default portal, a client per portal.

The default portal (records that name none belong to it): ``--portal``, else the file's
``portal.id``, else the only registered portal, else the only portal the store holds; with
several and none chosen the command stops with one line saying so.

Clients: a registered portal's come from the registry (``fleet.credentials.client_for``: its
token variable, or OAuth). A portal that is not registered can still be served with the
environment's token (HUBSPOT_ACCESS_TOKEN, as every single-portal command does), but only after
the token's own portal was read and found to be that portal: a token never writes to a portal
other than the one the values are for.
"""

from __future__ import annotations

from collections.abc import Callable

from provisioner.errors import ProvisionerError, UsageError
from provisioner.fleet.credentials import client_for as registry_client
from provisioner.fleet.location import StoreLocation
from provisioner.fleet.pgqueue import CLIENT_OPTIONS, WORKER_SESSION
from provisioner.fleet.pgstore import PgDatabase
from provisioner.fleet.registry import open_registry
from provisioner.hubspot.client import HubSpotClient
from provisioner.model import Config


class WrongPortal(ProvisionerError):
    """The token at hand belongs to another portal than the one to write to."""


def open_database(location: StoreLocation, *, worker: bool = False, max_size: int = 4) -> PgDatabase:
    """The store's database; a worker's sessions carry the idle-in-transaction timeout."""
    return PgDatabase(location.url, max_size=max_size, session=WORKER_SESSION if worker else None,
                      application_name="provisioner worker" if worker else "provisioner")


def _registered(location: StoreLocation) -> list[int]:
    """The registered portals."""
    with open_registry(location) as registry:
        return [portal.portal_id for portal in registry.list()]


def default_portal(config: Config, database: PgDatabase, location: StoreLocation, requested: int | None = None) -> int:
    if requested is not None:
        return int(requested)
    if config.portal_id is not None:
        return int(config.portal_id)
    registered = _registered(location)
    if len(registered) == 1:
        return registered[0]
    with database.errors(), database.pool.connection() as conn:
        held = [p for (p,) in conn.execute("SELECT portal_id FROM portal_queue ORDER BY portal_id LIMIT 2")]
    if len(held) == 1 and not registered:
        return held[0]
    raise UsageError(f"{database.where} holds several portals (or none): which one do records without a "
                     "portal_id belong to?", hint="set portal.id in the file, or pass --portal ID")


def open_store(config: Config, location: StoreLocation, portal: int | None = None):
    """The default portal's view of the database (closing it closes the database)."""
    database = open_database(location)
    try:
        store = database.portal(default_portal(config, database, location, portal))
    except BaseException:
        database.close()
        raise
    store.owns_database = True
    return store


def client_factory(location: StoreLocation, make_env_client: Callable[..., HubSpotClient]
                   ) -> Callable[[int], HubSpotClient]:
    """``client_for(portal_id)`` for workers: the registry's client, else the environment's, checked."""

    def client_for(portal_id: int) -> HubSpotClient:
        registry = open_registry(location)
        try:
            portal = registry.get(portal_id)
            client = None if portal is None else registry_client(registry, portal, service=True, **CLIENT_OPTIONS)
        except BaseException:
            registry.close()
            raise
        if portal is None or portal.token_env is not None:  # an OAuth client keeps the registry for its refreshes
            registry.close()
        if client is None:
            return checked(make_env_client(**CLIENT_OPTIONS), portal_id, "is not registered, and ")
        return client

    return client_for


def checked(client: HubSpotClient, portal_id: int, why: str = "") -> HubSpotClient:
    """``client``, once its token's own portal was read and found to be ``portal_id`` (else WrongPortal)."""
    owner = client.get_account_details().portal_id
    if owner != portal_id:
        raise WrongPortal(f"portal {portal_id} {why}the environment's token belongs to portal {owner}: "
                          "its values are not sent",
                          hint=f"use that portal's token, or register it: provisioner portals add {portal_id} "
                          "--token-env VAR")
    return client
