"""Many portals in one emulator: each token's own data, identity, limits, faults, log lines and lock."""

from __future__ import annotations

import json
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provisioner.emulator import Emulator, EmulatorSettings, serve_in_thread
from provisioner.emulator.registry import PortalConflict, check_new_portal
from tests.emulator.conftest import Http, Local

PROPS = "/crm/v3/properties/deals"
DEALS = "/crm/v3/objects/deals"
GROUP = {"name": "accord", "label": "Accord"}


def _two(emulator: Emulator, **limits):
    emulator.add_portal(222, token="token-b", **limits)
    return Local(emulator, token="token-a"), Local(emulator, token="token-b")


def test_each_token_has_its_own_data_and_identity(emulator):
    a, b = _two(emulator)
    assert b("POST", PROPS + "/groups", GROUP).status_code == 201
    assert b("POST", PROPS + "/groups", GROUP).status_code == 409
    assert a("GET", PROPS + "/groups/accord").status_code == 404  # the default portal never saw it
    assert a("GET", "/account-info/v3/details").body["portalId"] == 12345678
    assert b("GET", "/account-info/v3/details").body["portalId"] == 222
    info = a("POST", "/oauth/v2/private-apps/get/access-token-info", {"tokenKey": "token-b"})
    assert info.body["hubId"] == 222
    created = b("POST", DEALS + "/batch/create", {"inputs": [{"properties": {"dealname": "x"}}]})
    assert "/contacts/222/record/" in created.body["results"][0]["url"]
    assert emulator.tenant(222).deal_count() == 1 and emulator.deal_count() == 0


def test_limits_and_faults_are_per_portal(emulator):
    a, b = _two(emulator, burst_limit=2)
    assert [b("GET", PROPS).status_code for _ in range(3)] == [200, 200, 429]
    refused = b("GET", PROPS).body
    assert refused["groupName"].endswith(":222")
    assert [a("GET", PROPS).status_code for _ in range(3)] == [200, 200, 200]  # the default portal has no limit here
    admin = Local(emulator, token=None)
    assert admin("POST", "/__emulator__/faults?portal=12345678", {"sequence": ["500"]}).status_code == 200
    assert b("GET", PROPS + "/groups").status_code == 429
    assert a("GET", PROPS + "/groups").status_code == 500
    assert admin("GET", "/__emulator__/requests?portal=222").body["by_status"] == {"200": 2, "429": 3}
    assert admin("GET", "/__emulator__/ratelimit?portal=222").body["burst_limit"] == 2
    assert admin("POST", "/__emulator__/reset?portal=222").status_code == 200
    assert b("GET", PROPS).status_code == 200  # the reset cleared its window; the other portal's faults stay
    assert emulator.request_count(222) == 1 and emulator.request_count() == 1 + emulator.request_count(12345678)


def test_a_tier_sizes_the_burst_limit(emulator):
    admin = Local(emulator, token=None)
    made = admin("POST", "/__emulator__/portals", {"portal_id": 5, "token": "t5", "tier": "professional"})
    assert made.status_code == 201 and made.body["burst_limit"] == 190 and made.body["tier"] == "professional"
    assert "t5" not in json.dumps(admin("GET", "/__emulator__/portals").body)  # tokens are never shown


@pytest.mark.parametrize("body, lines", [
    ({}, ["portal_id: must be a whole number", "token / refresh_token: give exactly one"]),
    ({"portal_id": "7", "token": "x", "refresh_token": "y", "colour": 1},
     ["colour: unknown field", "portal_id: must be a whole number", "token / refresh_token: give exactly one"]),
    ({"portal_id": 7, "token": "has space"}, ["token: only printable ASCII"]),
    ({"portal_id": 7, "token": "x" * 513}, ["token: longer than 512"]),
    ({"portal_id": 7, "token": ""}, ["token: must be a non-empty string"]),
    ({"portal_id": True, "token": "x", "burst_limit": 0, "daily_limit": "9", "tier": "gold"},
     ["portal_id: must be", "tier: one of", "burst_limit: must be a whole number", "daily_limit: must be"]),
    ({"portal_id": 0, "refresh_token": 5}, ["portal_id: must be", "refresh_token: must be a non-empty string"]),
])
def test_a_bad_portal_is_refused_with_one_line_per_mistake(emulator, body, lines):
    answer = Local(emulator, token=None)("POST", "/__emulator__/portals", body)
    assert answer.status_code == 400
    got = answer.body["message"].splitlines()
    assert len(got) == len(lines) and all(any(g.startswith(want) for g in got) for want in lines), got
    assert list(emulator.tenants) == [12345678]


@pytest.mark.parametrize("raw", [b"not json", b"[1]", b"null", b"\xff\xfe", b'{"portal_id": 1', b"1e999"])
def test_a_portal_body_that_is_not_an_object_is_one_line(emulator, raw):
    answer = Local(emulator, token=None).client.open("/__emulator__/portals", method="POST", data=raw,
                                                      content_type="application/json")
    assert answer.status_code == 400 and "\n" not in answer.get_json()["message"]


def test_a_taken_id_or_token_is_a_conflict(emulator):
    admin = Local(emulator, token=None)
    assert admin("POST", "/__emulator__/portals", {"portal_id": 8, "token": "t8"}).status_code == 201
    assert admin("POST", "/__emulator__/portals", {"portal_id": 8, "token": "other"}).status_code == 409
    assert admin("POST", "/__emulator__/portals", {"portal_id": 9, "token": "t8"}).status_code == 409
    assert admin("POST", "/__emulator__/portals", {"portal_id": 12345678, "token": "t10"}).status_code == 409
    with pytest.raises(PortalConflict):
        emulator.add_portal(9, refresh_token="t8")


@pytest.mark.parametrize("query, status", [("portal=404", 404), ("portal=abc", 400), ("portal=-1", 400),
                                           ("portal=%C2%B2", 400)])
def test_an_unknown_or_malformed_portal_parameter_is_refused(emulator, query, status):
    assert Local(emulator, token=None)("GET", f"/__emulator__/state?{query}").status_code == status


def test_the_ui_only_settings_are_per_portal(emulator):
    a, b = _two(emulator)
    for side in (a, b):
        side("POST", PROPS + "/groups", GROUP)
        side("POST", PROPS, {"name": "accord_url", "label": "URL", "type": "string", "fieldType": "text",
                             "groupName": "accord"})
    admin = Local(emulator, token=None)
    assert admin("PUT", "/__emulator__/ui/access/accord_url?portal=222", {"access": "view_only"}).status_code == 200
    assert emulator.tenant(222).ui_access("accord_url") == "view_only"
    assert emulator.ui_access("accord_url") == "view_and_edit"
    deal = b("POST", DEALS, {"properties": {"dealname": "d"}}).body["id"]
    edited = admin("PATCH", f"/__emulator__/ui/deals/{deal}?portal=222", {"properties": {"accord_url": "u"}})
    assert edited.status_code == 200 and emulator.tenant(222).portal.deals[deal].props["accord_url"] == "u"


def test_the_request_log_names_each_lines_portal(tmp_path):
    log = tmp_path / "log.jsonl"
    emulator = Emulator(EmulatorSettings(request_log=str(log), burst_limit=None))
    a, b = _two(emulator)
    a("GET", PROPS)
    b("GET", PROPS)
    emulator.close()
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [line["portal"] for line in lines] == [12345678, 222]
    assert all(line["started"] <= line["finished"] for line in lines)
    assert "token-b" not in log.read_text()


def test_the_state_file_keeps_every_portal_and_no_token(tmp_path):
    state = str(tmp_path / "portal.sqlite")
    first = Emulator(EmulatorSettings(state_file=state))
    first.add_portal(222, token="secret-token-b", burst_limit=7)
    first.add_portal(333, refresh_token="secret-refresh-c")
    Local(first, token="secret-token-b")("POST", PROPS + "/groups", GROUP)
    first.close()
    again = Emulator(EmulatorSettings(state_file=state))
    try:
        assert list(again.tenants) == [12345678, 222, 333]
        b = Local(again, token="secret-token-b")
        assert b("GET", PROPS + "/groups/accord").status_code == 200
        assert again.tenant(222).limits.burst_limit == 7 and again.tenant(333).refresh_token_sha is not None
        assert Local(again, token="anything")("GET", PROPS + "/groups/accord").status_code == 404
    finally:
        again.close()
    for path in tmp_path.iterdir():
        data = path.read_bytes()
        assert b"secret-token-b" not in data and b"secret-refresh-c" not in data, path


def test_requests_to_another_portal_never_wait_on_a_held_lock(emulator):
    a, b = _two(emulator)
    done: dict[str, int] = {}
    with emulator.tenant().lock:  # the default portal is busy (held by this thread)
        other = threading.Thread(target=lambda: done.update(b=b("GET", PROPS).status_code))
        other.start()
        other.join(timeout=30)
        assert done == {"b": 200}
        same = threading.Thread(target=lambda: done.update(a=a("GET", PROPS).status_code))
        same.start()
        same.join(timeout=0.2)
        assert "a" not in done  # the default portal's own request waits for its lock
    same.join(timeout=30)
    assert done == {"b": 200, "a": 200}


def test_portals_over_http_from_many_threads(emulator):
    """Several portals written at once over a socket: every portal ends with exactly its own deals."""
    for n in range(4):
        emulator.add_portal(100 + n, token=f"tok-{n}")
    with serve_in_thread(emulator) as url:
        def write(n: int) -> None:
            http = Http(url, token=f"tok-{n}")
            for _ in range(5):
                assert http("POST", DEALS + "/batch/create",
                            {"inputs": [{"properties": {"dealname": f"p{n}"}}] * 10}).status_code == 201
        threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    for n in range(4):
        deals = emulator.tenant(100 + n).portal.deals.values()
        assert len(deals) == 50 and {d.props["dealname"] for d in deals} == {f"p{n}"}


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["portal_id", "token", "refresh_token", "burst_limit", "daily_limit", "tier",
                                        "other"]),
                       st.one_of(st.none(), st.booleans(), st.integers(-5, 2**60), st.text(max_size=30),
                                 st.lists(st.integers(), max_size=2))))
def test_any_portal_request_is_accepted_whole_or_refused_with_named_mistakes(data):
    try:
        spec = check_new_portal(data, 100, None)
    except ValueError as exc:
        lines = str(exc).splitlines()
        assert lines and all(line.split(":")[0] for line in lines)
        return
    assert isinstance(spec.portal_id, int) and spec.portal_id >= 1
    assert (spec.token is None) != (spec.refresh_token is None)
    assert set(data) <= {"portal_id", "token", "refresh_token", "burst_limit", "daily_limit", "tier"}


def test_with_a_default_token_set_any_other_unknown_token_is_401():
    emulator = Emulator(EmulatorSettings(token="only-this", burst_limit=None))
    try:
        emulator.add_portal(9, token="nine")
        assert Local(emulator, token="only-this")("GET", PROPS).status_code == 200
        assert Local(emulator, token="nine")("GET", "/account-info/v3/details").body["portalId"] == 9
        refused = Local(emulator, token="guess")("GET", PROPS)
        assert refused.status_code == 401 and refused.body["category"] == "INVALID_AUTHENTICATION"
        assert emulator.request_count(9) == 1 and emulator.request_count(12345678) == 2
    finally:
        emulator.close()


def test_the_token_endpoint_is_logged_and_counted_under_its_portal_not_rate_limited(tmp_path):
    log = tmp_path / "log.jsonl"
    emulator = Emulator(EmulatorSettings(request_log=str(log)))
    emulator.add_portal(6, refresh_token="r6", burst_limit=1)
    form = "grant_type=refresh_token&client_id=c&client_secret=s&refresh_token=r6"
    client = Local(emulator, token=None).client
    for _ in range(3):
        answer = client.open("/oauth/v1/token", method="POST", data=form,
                             content_type="application/x-www-form-urlencoded")
        assert answer.status_code == 200
    emulator.close()
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(line["path"], line["portal"], line["status"]) for line in lines] == [("/oauth/v1/token", 6, 200)] * 3
    assert "r6" not in log.read_text().replace('"portal": 6', "")


def test_every_portal_posts_its_own_webhooks_even_one_added_later():
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from provisioner.emulator.webhooks import attach_to_every_portal

    received: list[dict] = []

    class Target(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the base class's name
            received.extend(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Target)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    emulator = Emulator(EmulatorSettings(burst_limit=None))
    senders = attach_to_every_portal(emulator, f"http://127.0.0.1:{server.server_address[1]}/hook", "s", app_id=3)
    try:
        a, b = _two(emulator)  # portal 222 is added after the senders were attached
        for side in (a, b):
            deal = side("POST", DEALS, {"properties": {"dealname": "before"}}).body["id"]
            assert side("PATCH", f"{DEALS}/{deal}", {"properties": {"dealname": "after"}}).status_code == 200
        deadline = time.monotonic() + 30
        while len(received) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sorted(event["portalId"] for event in received) == [222, 12345678]
        assert {event["propertyValue"] for event in received} == {"after"}
    finally:
        for sender in senders:
            sender.close()
        server.shutdown()
        server.server_close()
        emulator.close()


def test_a_portal_whose_state_file_cannot_be_opened_is_one_line_and_not_added(tmp_path):
    state = tmp_path / "portal.sqlite"
    emulator = Emulator(EmulatorSettings(state_file=str(state)))
    try:
        (tmp_path / "portal.sqlite.portal-5").write_bytes(b"not a database, " * 100)
        answer = Local(emulator, token=None)("POST", "/__emulator__/portals", {"portal_id": 5, "token": "t5"})
        assert answer.status_code == 500 and "portal.sqlite.portal-5" in answer.body["message"]
        assert 5 not in emulator.tenants
        assert Local(emulator, token=None)("POST", "/__emulator__/portals", {"portal_id": 6, "token": "t5"}).status_code == 201
    finally:
        emulator.close()


def test_daily_and_per_second_limits_are_per_portal_too(emulator):
    a, b = _two(emulator, daily_limit=1)
    assert b("GET", PROPS).status_code == 200
    refused = b("GET", PROPS)
    assert refused.status_code == 429 and refused.body["policyName"] == "DAILY"
    assert a("GET", PROPS).status_code == 200
    admin = Local(emulator, token=None)
    admin("POST", "/__emulator__/ratelimit?portal=12345678", {"burst_limit": 10, "enforce_secondly": True})
    assert [a("GET", PROPS).status_code for _ in range(2)] == [200, 429]  # 10 per 10 s: 1 a second
    assert emulator.tenant(222).limits.enforce_secondly is False
