"""The plan/apply client's HubSpot conversations, and how their cassettes are recorded.

    python -m tests.engine.conversations            # record against the emulator on 127.0.0.1
    PROVISIONER_RECORD_HUBSPOT=1 HUBSPOT_ACCESS_TOKEN=... python -m tests.engine.conversations plan_empty
                                                    # record one against a HubSpot developer test account

Cassettes go to cassettes/engine/<name>.yaml. The Authorization header is filtered and the
token-info body's tokenKey is scrubbed before anything is written; test_cassettes.py replays
them with the network blocked and fails when the client sends a request it did not send
before, or stops sending one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import vcr

from provisioner.apply import apply_plan, verify_applied
from provisioner.hubspot.client import SCHEMA_SCOPES, HubSpotClient
from provisioner.model import Config, Property, ValidationRule
from provisioner.planfile import load_plan, save_plan
from provisioner.planning import make_plan

ROOT = Path(__file__).resolve().parents[2]
CASSETTES = ROOT / "cassettes" / "engine"
SHIPPED = ROOT / "hubspot_schema.yaml"


def _scrub_request(request):
    if request.body and b"tokenKey" in (request.body if isinstance(request.body, bytes) else request.body.encode()):
        body = json.loads(request.body)
        body["tokenKey"] = "FILTERED"
        request.body = json.dumps(body, separators=(",", ":")).encode()
    return request


def _json_body(r1, r2) -> None:
    def parse(body):
        if not body:
            return None
        try:
            data = json.loads(body)
        except ValueError:
            return body
        if isinstance(data, dict) and "tokenKey" in data:
            data["tokenKey"] = "FILTERED"
        return data

    assert parse(r1.body) == parse(r2.body)


def recorder(mode: str) -> vcr.VCR:
    """vcrpy as the engine's cassettes use it: method, path, query and JSON body must match."""
    my_vcr = vcr.VCR(
        record_mode=mode,
        filter_headers=["authorization"],
        before_record_request=_scrub_request,
        match_on=["method", "path", "query", "json_body"],
        decode_compressed_response=True,
    )
    my_vcr.register_matcher("json_body", _json_body)
    return my_vcr


def cassette(mode: str, name: str):
    """One cassette of cassettes/engine; a recorded request plays at most once."""
    return recorder(mode).use_cassette(str(CASSETTES / f"{name}.yaml"), allow_playback_repeats=False)


def client(base_url: str, token: str = "test-token") -> HubSpotClient:
    return HubSpotClient(base_url, token, sleep=lambda s: None)


def load_shipped() -> Config:
    from provisioner.config import load_config

    return load_config(SHIPPED)


# ---- the conversations: each takes a client and returns what the test asserts on ----------------
def plan_empty(c: HubSpotClient, config: Config):
    plan, _ = make_plan(c, config)
    return plan


def apply_fresh(c: HubSpotClient, config: Config):
    plan, _ = make_plan(c, config)
    c.preflight_scopes(SCHEMA_SCOPES)
    done = apply_plan(c, plan)
    return done, verify_applied(c, plan, sleep=lambda s: None)


def plan_converged(c: HubSpotClient, config: Config):
    plan, _ = make_plan(c, config)
    return plan


RACE_PLAN = CASSETTES / "race_409.plan.json"


def race_409(c: HubSpotClient, config: Config):
    """A plan made on an empty portal (saved beside the cassette), applied after another apply won."""
    return apply_plan(c, load_plan(RACE_PLAN))


def with_tombstone(config: Config) -> Config:
    return dataclasses.replace(config, tombstones=("accord_legacy",))


def apply_changes(c: HubSpotClient, config: Config):
    """A converged portal edited by hand: a label, a group label, a rule, an archived property, and a
    tombstone to archive. Apply updates, restores, re-sets the rule and archives, then reads back."""
    plan, _ = make_plan(c, with_tombstone(config))
    done = apply_plan(c, plan)
    return plan, done, verify_applied(c, plan, sleep=lambda s: None)


def retries(c: HubSpotClient, config: Config):
    plan, _ = make_plan(c, config)
    return plan


def unauthorized(c: HubSpotClient, config: Config):
    return make_plan(c, config)


def missing_scopes(c: HubSpotClient, config: Config):
    """A write without the scope: HubSpot's own 403 names what is required."""
    plan, _ = make_plan(c, config)
    return c.create_group(list(config.desired.groups.values())[0]) if plan.changes else None


def preflight(c: HubSpotClient, config: Config):
    """The preflight before apply's first write names the missing scopes without writing."""
    make_plan(c, config)
    c.preflight_scopes(SCHEMA_SCOPES)


def seed_deals(c: HubSpotClient, config: Config):
    """The batch create the tests and benchmarks seed deals with."""
    return c.batch_create_deals([{"dealname": f"Deal {i}", "amount": str(100 * i)} for i in range(3)])


def batches(c: HubSpotClient, config: Config):
    """Batch calls split at HubSpot's limit of 100 inputs: 150 deals created and read back, 150 properties
    created and archived, two requests each."""
    created = c.batch_create_deals([{"dealname": f"Deal {i}"} for i in range(150)])
    read = c.batch_read_deals([record.id for record in created.results], ["dealname"])
    group = list(config.desired.groups.values())[0]
    c.create_group(group)
    props = [Property(f"accord_bulk_{i:03d}", f"Bulk {i}", "string", "text", group.name, "") for i in range(150)]
    made, failures = c.batch_create_properties(props)
    c.batch_archive_properties([prop.name for prop in props])
    return created, read, made, failures


CONVERSATIONS: dict[str, Callable] = {
    "plan_empty": plan_empty,
    "apply_fresh": apply_fresh,
    "apply_changes": apply_changes,
    "plan_converged": plan_converged,
    "race_409": race_409,
    "retries": retries,
    "unauthorized": unauthorized,
    "missing_scopes": missing_scopes,
    "preflight": preflight,
    "seed_deals": seed_deals,
    "batches": batches,
}


def _record_on_emulator(name: str) -> None:
    from provisioner.emulator import Emulator, EmulatorSettings, serve_in_thread

    settings = EmulatorSettings(burst_limit=None, daily_limit=None)
    token = "test-token"
    if name == "unauthorized":
        settings = EmulatorSettings(burst_limit=None, daily_limit=None, token="the-right-token")
        token = "a-wrong-token"
    if name in ("missing_scopes", "preflight"):
        settings = EmulatorSettings(burst_limit=None, daily_limit=None, scopes={"crm.schemas.deals.read"})
    if name == "retries":
        settings = EmulatorSettings(burst_limit=None, daily_limit=None,
                                    fault_sequence=("429", "ok", "502", "ok", "503", "500"))
    emulator = Emulator(settings)
    config = load_shipped()
    with serve_in_thread(emulator, host="127.0.0.1", port=0) as base_url:
        if name in ("plan_converged", "apply_changes"):
            apply_plan(client(base_url), make_plan(client(base_url), config)[0])
        if name == "apply_changes":  # what people did in HubSpot's UI since
            hand = client(base_url)
            hand.update_property("accord_status", {"label": "Status (edited by hand)"})
            hand.update_group("accord_customer_collaboration_data", {"label": "Accord data"})
            hand.put_validation_rule(ValidationRule("accord_url", "MAX_LENGTH", ("120",)))
            hand.archive_property("accord_progress")
            hand.create_property(Property("accord_legacy", "Accord legacy", "string", "text",
                                          "accord_customer_collaboration_data", "An old field."))
        if name == "race_409":  # the racing apply happens before the recorded conversation
            plan, _ = make_plan(client(base_url), config)
            save_plan(plan, RACE_PLAN)
            apply_plan(client(base_url), plan)
            client(base_url).update_property("accord_url", {"label": "Changed by the winner"})
        with cassette("all", name):
            try:
                CONVERSATIONS[name](client(base_url, token), config)
            except Exception as exc:  # the error conversations end in an exception on purpose
                print(f"{name}: ended with {type(exc).__name__}: {exc}")


def _record_on_hubspot(name: str) -> None:
    token = os.environ["HUBSPOT_ACCESS_TOKEN"]
    base_url = os.environ.get("HUBSPOT_BASE_URL", "https://api.hubapi.com")
    with cassette("all", name):
        CONVERSATIONS[name](client(base_url, token), load_shipped())


def main(names: list[str]) -> None:
    CASSETTES.mkdir(parents=True, exist_ok=True)
    for name in names or list(CONVERSATIONS):
        (CASSETTES / f"{name}.yaml").unlink(missing_ok=True)  # "all" mode would append to it
        if os.environ.get("PROVISIONER_RECORD_HUBSPOT"):
            _record_on_hubspot(name)
        else:
            _record_on_emulator(name)
        print(f"recorded cassettes/engine/{name}.yaml")


if __name__ == "__main__":
    main(sys.argv[1:])
